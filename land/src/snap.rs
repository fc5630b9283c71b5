//! Vertex snapping of a written parcel to its neighbours' boundaries (issue 11): vertices
//! drawn within the snapping tolerance ([`crate::edit::Tolerances::snap_m`], `[land]
//! snap_tolerance_m`, 0.05 m by default) of a neighbour's boundary are put on it, so two
//! parcels digitised a few centimetres apart share one boundary instead of leaving a sliver gap
//! or overlap. It runs in the parcel's native TM-3 zone (metres), inside the write's
//! transaction, before the overlap check, on every geometry a write stores: POST, PUT and
//! PATCH of parcels and the children of a split or a merge.
//!
//! [`snap`] is the rule itself, pure:
//! 1. each vertex within the tolerance of a neighbour's **vertex** takes that vertex's exact
//!    coordinates (the nearest one);
//! 2. otherwise, within the tolerance of a neighbour's **edge**, it moves to the nearest point
//!    of that edge;
//! 3. then each neighbour vertex lying within the tolerance of one of the parcel's edges
//!    (strictly between its ends) is **inserted** into that edge, so the shared boundary
//!    follows the neighbour's bends too.
//!
//! Repeated vertices that snapping makes are dropped; whether the result is still a valid
//! polygon is checked by [`to_neighbours`] (a refusal, never a silent repair). Every move of
//! more than [`LISTED_FROM_M`] is reported ([`Snapped`]); smaller ones — the round-off of
//! coordinates sent in CRS84 onto a vertex the writer drew on the neighbour's — are applied
//! but not listed.

use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree, AABB};
use sqlx::PgConnection;

use crate::edit::{EditError, Tolerances};

/// A ring of `[x, y]` vertices, closed (the last vertex repeats the first).
pub type Ring = Vec<[f64; 2]>;
/// A polygon: its exterior ring, then its holes.
pub type Polygon = Vec<Ring>;

/// Moves shorter than this (metres) are applied but not listed.
pub const LISTED_FROM_M: f64 = 0.001;

/// How a vertex met a neighbour's boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Moved onto a neighbour's vertex.
    Vertex,
    /// Moved onto a neighbour's edge.
    Edge,
    /// A neighbour's vertex added to one of the parcel's edges.
    Inserted,
}

/// One change snapping made, in the parcel's projected coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// Where the vertex was drawn (for an inserted vertex: its foot on the drawn edge).
    pub from: [f64; 2],
    /// Where it is stored.
    pub to: [f64; 2],
    /// Vertex, edge or inserted.
    pub kind: Kind,
    /// The neighbour whose boundary it met (parcel id).
    pub neighbour: i64,
}

impl Move {
    /// How far the boundary moved, in the projection's units (TM-3 metres).
    pub fn distance(&self) -> f64 {
        (self.to[0] - self.from[0]).hypot(self.to[1] - self.from[1])
    }
}

/// A neighbour's rings (exteriors and holes alike: each is boundary).
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    /// Parcel id.
    pub id: i64,
    /// Its rings, closed, in the snapped parcel's coordinates.
    pub rings: Vec<Ring>,
}

type Vertex = GeomWithData<[f64; 2], i64>;
type Edge = GeomWithData<Line<[f64; 2]>, i64>;

/// Snaps `polygons` to `neighbours` within `tolerance` (see the module doc); returns every
/// move longer than [`LISTED_FROM_M`], in ring order.
///
/// ```
/// use land::snap::{snap, Kind, Neighbour};
///
/// let square = |x: f64, y: f64, side: f64| {
///     vec![[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]
/// };
/// // The neighbour is 0–10 m; the parcel was drawn from 10.03 m, 3 cm off its edge.
/// let neighbour = Neighbour { id: 7, rings: vec![square(0.0, 0.0, 10.0)] };
/// let mut parcel = vec![vec![square(10.03, 0.0, 10.0)]];
/// let moves = snap(&mut parcel, &[neighbour], 0.05);
/// assert_eq!(moves.len(), 2);
/// assert!(moves.iter().all(|m| m.kind == Kind::Vertex && m.neighbour == 7));
/// assert_eq!(parcel[0][0][0], [10.0, 0.0]);
/// assert_eq!(parcel[0][0][3], [10.0, 10.0]);
/// ```
pub fn snap(polygons: &mut [Polygon], neighbours: &[Neighbour], tolerance: f64) -> Vec<Move> {
    let mut moves = Vec::new();
    if tolerance.is_nan() || tolerance <= 0.0 || neighbours.is_empty() {
        return moves;
    }
    let mut vertices: Vec<Vertex> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    for n in neighbours {
        for ring in &n.rings {
            for (i, p) in ring.iter().enumerate() {
                // The closing vertex repeats the first.
                if i + 1 < ring.len() || ring.first() != Some(p) {
                    vertices.push(GeomWithData::new(*p, n.id));
                }
            }
            for pair in ring.windows(2) {
                if pair[0] != pair[1] {
                    edges.push(GeomWithData::new(Line::new(pair[0], pair[1]), n.id));
                }
            }
        }
    }
    let vertices = RTree::bulk_load(vertices);
    let edges = RTree::bulk_load(edges);
    let reach = tolerance * tolerance;
    for ring in polygons.iter_mut().flatten() {
        // 1 and 2: vertices onto neighbours' vertices, else onto their edges.
        let open = ring.len().saturating_sub(1);
        for p in ring.iter_mut().take(open) {
            let on_vertex = vertices
                .nearest_neighbor(p)
                .filter(|v| v.distance_2(p) <= reach)
                .map(|v| (*v.geom(), Kind::Vertex, v.data));
            let target = on_vertex.or_else(|| {
                edges
                    .nearest_neighbor(p)
                    .filter(|e| e.distance_2(p) <= reach)
                    .map(|e| (e.geom().nearest_point(p), Kind::Edge, e.data))
            });
            if let Some((to, kind, neighbour)) = target {
                if to != *p {
                    let m = Move {
                        from: *p,
                        to,
                        kind,
                        neighbour,
                    };
                    if m.distance() > LISTED_FROM_M {
                        moves.push(m);
                    }
                    *p = to;
                }
            }
        }
        if open > 0 {
            ring[open] = ring[0];
        }
        // 3: neighbours' vertices along the parcel's edges become its vertices too.
        let mut out: Ring = Vec::with_capacity(ring.len());
        for pair in ring.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            out.push(a);
            let d = [b[0] - a[0], b[1] - a[1]];
            let length2 = d[0] * d[0] + d[1] * d[1];
            if length2 == 0.0 {
                continue;
            }
            let area = AABB::from_corners(
                [a[0].min(b[0]) - tolerance, a[1].min(b[1]) - tolerance],
                [a[0].max(b[0]) + tolerance, a[1].max(b[1]) + tolerance],
            );
            let mut along: Vec<(f64, [f64; 2], i64)> = vertices
                .locate_in_envelope_intersecting(&area)
                .filter_map(|v| {
                    let q = *v.geom();
                    let t = ((q[0] - a[0]) * d[0] + (q[1] - a[1]) * d[1]) / length2;
                    let foot = [a[0] + t * d[0], a[1] + t * d[1]];
                    let off = (q[0] - foot[0]).powi(2) + (q[1] - foot[1]).powi(2);
                    (t > 0.0 && t < 1.0 && off <= reach && q != a && q != b)
                        .then_some((t, q, v.data))
                })
                .collect();
            along.sort_by(|x, y| x.0.total_cmp(&y.0));
            along.dedup_by(|x, y| x.1 == y.1);
            for (t, q, neighbour) in along {
                let m = Move {
                    from: [a[0] + t * d[0], a[1] + t * d[1]],
                    to: q,
                    kind: Kind::Inserted,
                    neighbour,
                };
                if m.distance() > LISTED_FROM_M {
                    moves.push(m);
                }
                out.push(q);
            }
        }
        if let Some(last) = ring.last() {
            out.push(*last);
        }
        // Two vertices snapped to one point are one vertex.
        out.dedup();
        *ring = out;
    }
    moves
}

/// A change snapping made, as a write reports it: where the vertex was drawn and where it is
/// stored, in CRS84 (longitude, latitude), and the distance in the parcel's TM-3 metres.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Snapped {
    /// Vertex, edge or inserted.
    pub kind: Kind,
    /// The neighbour parcel's id.
    pub neighbour: i64,
    /// How far the boundary moved there, metres (TM-3).
    pub distance_m: f64,
    /// Where it was drawn (CRS84).
    pub from: [f64; 2],
    /// Where it is stored (CRS84).
    pub to: [f64; 2],
}

/// Snaps `wkb` (a Polygon or MultiPolygon in EPSG `srid`, a parcel's native zone) to the living
/// parcels near it other than `exclude`, under `tolerances`; answers the geometry to store
/// (MultiPolygon WKB, same SRID) and what moved. Refuses (a rule) when snapping would make the
/// parcel invalid.
pub(crate) async fn to_neighbours(
    conn: &mut PgConnection,
    wkb: Vec<u8>,
    srid: i32,
    exclude: &[i64],
    tolerances: &Tolerances,
) -> Result<(Vec<u8>, Vec<Snapped>), EditError> {
    let tolerance = tolerances.snap_m;
    if tolerance.is_nan() || tolerance <= 0.0 {
        return Ok((wkb, Vec::new()));
    }
    let mut polygons = read_wkb(&wkb).map_err(|e| crate::edit::rule(format!("geometry: {e}")))?;
    // The GiST index on geom_3857 finds the candidates (Web Mercator stretches distances by
    // 1/cos(latitude): 4 × covers every latitude up to 75°), the native zone decides.
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "WITH g AS (SELECT ST_GeomFromWKB($1, $2) AS g)
         SELECT n.id, ST_AsBinary(ST_Transform(n.geom, $2))
         FROM g, land.parcels n
         WHERE n.geom_3857 && ST_Expand(ST_Transform(g.g, 3857), $3 * 4)
           AND n.id <> ALL($4)
           AND ST_DWithin(ST_Transform(n.geom, $2), g.g, $3)
         ORDER BY n.id",
    )
    .bind(&wkb)
    .bind(srid)
    .bind(tolerance)
    .bind(exclude)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok((wkb, Vec::new()));
    }
    let mut neighbours = Vec::with_capacity(rows.len());
    for (id, bytes) in rows {
        let rings = read_wkb(&bytes)
            .map_err(|e| crate::edit::rule(format!("parcel {id}'s geometry: {e}")))?
            .into_iter()
            .flatten()
            .collect();
        neighbours.push(Neighbour { id, rings });
    }
    let before = polygons.clone();
    let moves = snap(&mut polygons, &neighbours, tolerance);
    if polygons == before {
        return Ok((wkb, Vec::new()));
    }
    let snapped = write_multipolygon(&polygons);
    let (valid, why, spot): (bool, String, Option<serde_json::Value>) = sqlx::query_as(
        "SELECT ST_IsValid(g), ST_IsValidReason(g),
                ST_AsGeoJSON(ST_Transform((ST_IsValidDetail(g)).location, 4326), 7)::json
         FROM (SELECT ST_GeomFromWKB($1, $2) AS g) x",
    )
    .bind(&snapped)
    .bind(srid)
    .fetch_one(&mut *conn)
    .await?;
    if !valid {
        return Err(EditError::Rule {
            reason: format!(
                "snapping the vertices to the neighbours' boundaries (within {tolerance} m) would make the parcel invalid ({why}); move the vertices there apart or onto the neighbour's boundary"
            ),
            part: spot,
        });
    }
    Ok((snapped, in_crs84(conn, &moves, srid).await?))
}

/// `moves` (in EPSG `srid`) as [`Snapped`] in CRS84, in one statement.
async fn in_crs84(
    conn: &mut PgConnection,
    moves: &[Move],
    srid: i32,
) -> Result<Vec<Snapped>, sqlx::Error> {
    if moves.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&Move) -> f64| moves.iter().map(f).collect::<Vec<f64>>();
    let rows: Vec<(f64, f64, f64, f64)> = sqlx::query_as(
        "SELECT ST_X(a), ST_Y(a), ST_X(b), ST_Y(b)
         FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) WITH ORDINALITY
              AS u(x1, y1, x2, y2, i),
         LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(x1, y1), $5), 4326) AS a,
                         ST_Transform(ST_SetSRID(ST_MakePoint(x2, y2), $5), 4326) AS b) t
         ORDER BY i",
    )
    .bind(column(|m| m.from[0]))
    .bind(column(|m| m.from[1]))
    .bind(column(|m| m.to[0]))
    .bind(column(|m| m.to[1]))
    .bind(srid)
    .fetch_all(&mut *conn)
    .await?;
    Ok(moves
        .iter()
        .zip(rows)
        .map(|(m, (x1, y1, x2, y2))| Snapped {
            kind: m.kind,
            neighbour: m.neighbour,
            distance_m: m.distance(),
            from: [x1, y1],
            to: [x2, y2],
        })
        .collect())
}

/// The polygons of a Polygon or MultiPolygon WKB (2D; Z and M read and dropped, an EWKB SRID
/// skipped).
pub fn read_wkb(wkb: &[u8]) -> Result<Vec<Polygon>, String> {
    let mut r = crate::overlaps::Reader::new(wkb);
    let (kind, dims) = r.header()?;
    let mut out = Vec::new();
    match kind {
        3 => out.push(read_polygon(&mut r, dims)?),
        6 => {
            for _ in 0..r.count(9)? {
                let (kind, dims) = r.header()?;
                if kind != 3 {
                    return Err(format!("a MultiPolygon member of WKB type {kind}"));
                }
                out.push(read_polygon(&mut r, dims)?);
            }
        }
        other => return Err(format!("WKB type {other}, not a Polygon or MultiPolygon")),
    }
    if !r.at_end() {
        return Err("bytes after the end of the WKB geometry".into());
    }
    Ok(out)
}

fn read_polygon(r: &mut crate::overlaps::Reader<'_>, dims: usize) -> Result<Polygon, String> {
    let mut rings = Vec::new();
    for _ in 0..r.count(4)? {
        let n = r.count(8 * dims)?;
        let mut ring = Vec::with_capacity(n);
        for _ in 0..n {
            let (x, y) = (r.f64()?, r.f64()?);
            for _ in 2..dims {
                r.f64()?;
            }
            ring.push([x, y]);
        }
        rings.push(ring);
    }
    Ok(rings)
}

/// Little-endian 2D MultiPolygon WKB of `polygons`.
pub fn write_multipolygon(polygons: &[Polygon]) -> Vec<u8> {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let mut out = vec![1u8];
    out.extend(6u32.to_le_bytes());
    out.extend(count(polygons.len()));
    for polygon in polygons {
        out.push(1);
        out.extend(3u32.to_le_bytes());
        out.extend(count(polygon.len()));
        for ring in polygon {
            out.extend(count(ring.len()));
            for [x, y] in ring {
                out.extend(x.to_le_bytes());
                out.extend(y.to_le_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Ring {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    }

    fn neighbour(id: i64, ring: Ring) -> Neighbour {
        Neighbour {
            id,
            rings: vec![ring],
        }
    }

    #[test]
    fn a_vertex_takes_the_nearest_neighbour_vertex_before_any_edge() {
        // The corner (10.03, 0.02) is 0.036 m from the neighbour's corner (10, 0) and 0.03 m
        // from its right edge: the vertex wins.
        let mut parcel = vec![vec![rect(10.03, 0.02, 20.0, 10.0)]];
        let moves = snap(
            &mut parcel,
            &[neighbour(1, rect(0.0, 0.0, 10.0, 10.0))],
            0.05,
        );
        assert_eq!(parcel[0][0][0], [10.0, 0.0]);
        assert_eq!(parcel[0][0][4], [10.0, 0.0], "the ring stays closed");
        assert_eq!(moves[0].kind, Kind::Vertex);
        assert!((moves[0].distance() - 0.02f64.hypot(0.03)).abs() < 1e-12);
    }

    #[test]
    fn a_vertex_beside_an_edge_moves_onto_it_and_the_edge_gets_the_neighbours_vertices() {
        // The parcel's left edge runs 0.03 m right of the neighbour's right edge, from y = 2
        // to y = 8: its ends move onto that edge; the neighbour has a vertex at (10, 5)
        // (a bend of 0.02 m), which is inserted.
        let bent = vec![
            [0.0, 0.0],
            [10.0, 0.0],
            [10.02, 5.0],
            [10.0, 10.0],
            [0.0, 10.0],
            [0.0, 0.0],
        ];
        let mut parcel = vec![vec![rect(10.03, 2.0, 20.0, 8.0)]];
        let moves = snap(&mut parcel, &[neighbour(4, bent)], 0.05);
        let ring = &parcel[0][0];
        assert_eq!(ring.len(), 6, "{ring:?}");
        assert_eq!(
            moves.iter().map(|m| m.kind).collect::<Vec<_>>(),
            vec![Kind::Edge, Kind::Edge, Kind::Inserted]
        );
        // (10.03, 2) onto the edge (10,0)–(10.02,5).
        assert!(
            (ring[0][0] - (10.0 + 0.02 * 2.0 / 5.0)).abs() < 0.001,
            "{ring:?}"
        );
        assert!(ring.contains(&[10.02, 5.0]));
        assert_eq!(ring.first(), ring.last());
    }

    #[test]
    fn nothing_beyond_the_tolerance_moves() {
        let mut parcel = vec![vec![rect(10.2, 0.0, 20.0, 10.0)]];
        let before = parcel.clone();
        let moves = snap(
            &mut parcel,
            &[neighbour(1, rect(0.0, 0.0, 10.0, 10.0))],
            0.05,
        );
        assert!(moves.is_empty());
        assert_eq!(parcel, before);
        // A larger tolerance reaches it.
        let moves = snap(
            &mut parcel,
            &[neighbour(1, rect(0.0, 0.0, 10.0, 10.0))],
            0.25,
        );
        assert_eq!(moves.len(), 2);
        assert_eq!(parcel[0][0][0], [10.0, 0.0]);
    }

    #[test]
    fn tiny_moves_are_applied_but_not_listed() {
        let mut parcel = vec![vec![rect(10.0004, 0.0, 20.0, 10.0)]];
        let moves = snap(
            &mut parcel,
            &[neighbour(1, rect(0.0, 0.0, 10.0, 10.0))],
            0.05,
        );
        assert!(moves.is_empty());
        assert_eq!(parcel[0][0][0], [10.0, 0.0]);
    }

    #[test]
    fn two_vertices_snapped_to_one_point_become_one() {
        let mut parcel = vec![vec![vec![
            [10.01, 0.0],
            [10.02, 0.01],
            [20.0, 0.0],
            [20.0, 10.0],
            [10.0, 10.0],
            [10.01, 0.0],
        ]]];
        snap(
            &mut parcel,
            &[neighbour(1, rect(0.0, 0.0, 10.0, 10.0))],
            0.05,
        );
        assert_eq!(
            parcel[0][0],
            vec![
                [10.0, 0.0],
                [20.0, 0.0],
                [20.0, 10.0],
                [10.0, 10.0],
                [10.0, 0.0]
            ]
        );
    }

    #[test]
    fn wkb_round_trips() {
        let polygons = vec![vec![rect(0.5, 1.5, 2.0, 3.0), rect(1.0, 2.0, 1.5, 2.5)]];
        let wkb = write_multipolygon(&polygons);
        assert_eq!(read_wkb(&wkb).expect("wkb"), polygons);
        assert!(read_wkb(&wkb[..wkb.len() - 1]).is_err());
    }
}
