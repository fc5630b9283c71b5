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
//!
//! **Shared, not just coincident**: a vertex put on a neighbour's *edge* (2.) lies on it only
//! to the last bit of a double; so that the stretch the two parcels share is the same vertices
//! in both, that vertex is also inserted into the neighbour's edge ([`snap_sharing`] says
//! where, [`insert_on_edges`] does it, `share` stores it in the write's transaction). The
//! neighbour's shape does not change (by at most 1e-9 m, checked); it gets a version saying
//! so, its tiles are dropped, and the answer lists it ([`Shared`]). Only neighbours in the
//! writer's communes and in the written parcel's own TM-3 zone get vertices (a neighbour in
//! another zone would move by the round trip of its coordinates through this one).

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

/// Where a written vertex landed on a neighbour's edge (step 2, moved or already there): the
/// neighbour (index in the slice given to [`snap_sharing`]), the ring (index among its rings),
/// the edge (index of its first vertex in that ring) and the point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnEdge {
    /// Index of the neighbour in the slice snapped to.
    pub neighbour: usize,
    /// Index of the ring in [`Neighbour::rings`].
    pub ring: usize,
    /// Index of the edge's first vertex in that ring.
    pub edge: usize,
    /// The written vertex, on that edge.
    pub at: [f64; 2],
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct EdgeRef {
    id: i64,
    neighbour: usize,
    ring: usize,
    edge: usize,
}

type Vertex = GeomWithData<[f64; 2], i64>;
type Edge = GeomWithData<Line<[f64; 2]>, EdgeRef>;

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
    snap_sharing(polygons, neighbours, tolerance).0
}

/// [`snap`], also answering where the parcel's vertices lie on the neighbours' edges (not on
/// their vertices): the vertices to insert into the neighbours ([`insert_on_edges`]) so the
/// boundary is shared.
pub fn snap_sharing(
    polygons: &mut [Polygon],
    neighbours: &[Neighbour],
    tolerance: f64,
) -> (Vec<Move>, Vec<OnEdge>) {
    let mut moves = Vec::new();
    let mut on_edges = Vec::new();
    if tolerance.is_nan() || tolerance <= 0.0 || neighbours.is_empty() {
        return (moves, on_edges);
    }
    let mut vertices: Vec<Vertex> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    for (index, n) in neighbours.iter().enumerate() {
        for (r, ring) in n.rings.iter().enumerate() {
            for (i, p) in ring.iter().enumerate() {
                // The closing vertex repeats the first.
                if i + 1 < ring.len() || ring.first() != Some(p) {
                    vertices.push(GeomWithData::new(*p, n.id));
                }
            }
            for (i, pair) in ring.windows(2).enumerate() {
                if pair[0] != pair[1] {
                    let at = EdgeRef {
                        id: n.id,
                        neighbour: index,
                        ring: r,
                        edge: i,
                    };
                    edges.push(GeomWithData::new(Line::new(pair[0], pair[1]), at));
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
                    .map(|e| {
                        let to = e.geom().nearest_point(p);
                        on_edges.push(OnEdge {
                            neighbour: e.data.neighbour,
                            ring: e.data.ring,
                            edge: e.data.edge,
                            at: to,
                        });
                        (to, Kind::Edge, e.data.id)
                    })
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
    (moves, on_edges)
}

/// Inserts each point of `on` into the ring and edge it names (rings counted across
/// `polygons` in order: exteriors and holes alike, as [`Neighbour::rings`]); points equal to
/// an edge's ends or repeated are skipped; several on one edge go in order along it. Answers
/// the points inserted.
pub fn insert_on_edges(polygons: &mut [Polygon], on: &[OnEdge]) -> Vec<[f64; 2]> {
    let mut inserted = Vec::new();
    for (r, ring) in polygons.iter_mut().flatten().enumerate() {
        let mut here: Vec<(usize, f64, [f64; 2])> = on
            .iter()
            .filter(|o| o.ring == r && o.edge + 1 < ring.len())
            .filter_map(|o| {
                let (a, b) = (ring[o.edge], ring[o.edge + 1]);
                let d = [b[0] - a[0], b[1] - a[1]];
                let length2 = d[0] * d[0] + d[1] * d[1];
                (o.at != a && o.at != b && length2 > 0.0).then(|| {
                    let t = ((o.at[0] - a[0]) * d[0] + (o.at[1] - a[1]) * d[1]) / length2;
                    (o.edge, t, o.at)
                })
            })
            .collect();
        if here.is_empty() {
            continue;
        }
        here.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        here.dedup_by(|x, y| x.2 == y.2);
        let mut out: Ring = Vec::with_capacity(ring.len() + here.len());
        let mut next = here.iter().peekable();
        for (i, p) in ring.iter().enumerate() {
            out.push(*p);
            while let Some((_, _, q)) = next.next_if(|(edge, _, _)| *edge == i) {
                out.push(*q);
                inserted.push(*q);
            }
        }
        *ring = out;
    }
    inserted
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

/// A neighbour a write gave vertices to, as the write reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shared {
    /// The neighbour's id.
    pub id: i64,
    /// Its sheet.
    pub sheet_number: i64,
    /// Its number.
    pub parcel_number: i64,
    /// Its new version (an `update` whose reason says its shape did not change).
    pub version: i32,
    /// Its new entity tag (quoted): a writer holding the old one gets 412.
    pub etag: String,
    /// The vertices inserted, CRS84.
    pub vertices: Vec<[f64; 2]>,
}

/// A neighbour's geometry with the written parcel's vertices inserted, to store once the
/// written parcel has its id ([`share`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    id: i64,
    wkb: Vec<u8>,
    vertices: Vec<[f64; 2]>,
}

/// What snapping a written geometry gives: the geometry to store (MultiPolygon WKB, the
/// parcel's SRID), what moved, and the neighbours to give vertices to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapping {
    pub wkb: Vec<u8>,
    pub snapped: Vec<Snapped>,
    pub pending: Vec<Pending>,
}

/// Snaps `wkb` (a Polygon or MultiPolygon in EPSG `srid`, a parcel's native zone) to the living
/// parcels near it other than `exclude`, under `tolerances`; answers the geometry to store
/// (MultiPolygon WKB, same SRID), what moved, and the neighbours (in `scope` when given, and in
/// the same zone) whose edges its vertices landed on. Refuses (a rule) when snapping would make
/// the parcel invalid.
pub(crate) async fn to_neighbours(
    conn: &mut PgConnection,
    wkb: Vec<u8>,
    srid: i32,
    exclude: &[i64],
    tolerances: &Tolerances,
    scope: Option<&[String]>,
) -> Result<Snapping, EditError> {
    let tolerance = tolerances.snap_m;
    let unchanged = |wkb: Vec<u8>| Snapping {
        wkb,
        snapped: Vec::new(),
        pending: Vec::new(),
    };
    if tolerance.is_nan() || tolerance <= 0.0 {
        return Ok(unchanged(wkb));
    }
    let mut polygons = read_wkb(&wkb).map_err(|e| crate::edit::rule(format!("geometry: {e}")))?;
    // The GiST index on geom_3857 finds the candidates (Web Mercator stretches distances by
    // 1/cos(latitude): 4 × covers every latitude up to 75°), the native zone decides.
    let rows: Vec<(i64, Vec<u8>, bool, String)> = sqlx::query_as(
        "WITH g AS (SELECT ST_GeomFromWKB($1, $2) AS g)
         SELECT n.id, ST_AsBinary(ST_Transform(n.geom, $2)), ST_SRID(n.geom) = $2, n.commune_code
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
        return Ok(unchanged(wkb));
    }
    let mut neighbours = Vec::with_capacity(rows.len());
    let mut shapes = Vec::with_capacity(rows.len());
    for (id, bytes, same_zone, commune) in rows {
        let shape = read_wkb(&bytes)
            .map_err(|e| crate::edit::rule(format!("parcel {id}'s geometry: {e}")))?;
        let rings = shape.iter().flatten().cloned().collect();
        neighbours.push(Neighbour { id, rings });
        let writable = same_zone && scope.is_none_or(|s| s.contains(&commune));
        shapes.push(writable.then_some(shape));
    }
    let before = polygons.clone();
    let (moves, on_edges) = snap_sharing(&mut polygons, &neighbours, tolerance);
    let mut pending = Vec::new();
    for (index, (n, shape)) in neighbours.iter().zip(shapes).enumerate() {
        let Some(mut shape) = shape else { continue };
        let here: Vec<OnEdge> = on_edges
            .iter()
            .filter(|o| o.neighbour == index)
            .copied()
            .collect();
        let vertices = insert_on_edges(&mut shape, &here);
        if !vertices.is_empty() {
            pending.push(Pending {
                id: n.id,
                wkb: write_multipolygon(&shape),
                vertices,
            });
        }
    }
    if polygons == before {
        return Ok(Snapping {
            wkb,
            snapped: Vec::new(),
            pending,
        });
    }
    let snapped = write_multipolygon(&polygons);
    // ST_IsValidDetail's location carries no SRID: set it, or the transform fails (a 500
    // instead of this 422; seen at 1M parcels in bench/edit.sh's splits).
    let (valid, why, spot): (bool, String, Option<serde_json::Value>) = sqlx::query_as(
        "SELECT ST_IsValid(g), ST_IsValidReason(g),
                ST_AsGeoJSON(ST_Transform(ST_SetSRID((ST_IsValidDetail(g)).location, ST_SRID(g)),
                                          4326), 7)::json
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
    Ok(Snapping {
        wkb: snapped,
        snapped: in_crs84(conn, &moves, srid).await?,
        pending,
    })
}

/// Largest change of a neighbour's shape that giving it vertices may make, metres (the
/// vertices lie on its edges up to the round-off of a double).
pub const SHARED_SHAPE_M: f64 = 1e-9;

/// Stores the neighbours' geometries with the vertices parcel `written` (stored in this
/// transaction, in EPSG `srid`) put on their edges: each only when it stays valid and its
/// shape moves by at most [`SHARED_SHAPE_M`], with a version (by `edit`'s editor, on its
/// document, the reason saying why) — or, for a parcel made earlier in this same transaction
/// (a sibling of a split), into that version. Answers the neighbours and the area their tiles
/// cover (EPSG:3857).
pub(crate) async fn share(
    conn: &mut PgConnection,
    pending: &[Pending],
    srid: i32,
    written: i64,
    edit: &crate::edit::Edit,
) -> Result<(Vec<Shared>, Option<[f64; 4]>), EditError> {
    let mut out = Vec::new();
    let mut bbox: Option<[f64; 4]> = None;
    if pending.is_empty() {
        return Ok((out, bbox));
    }
    let (sheet, number): (i64, i64) =
        sqlx::query_as("SELECT sheet_number, parcel_number FROM land.parcels WHERE id = $1")
            .bind(written)
            .fetch_one(&mut *conn)
            .await?;
    for p in pending {
        crate::edit::ensure_history(conn, p.id).await?;
        let stored: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE land.parcels n SET geom = g.g, updated_at = now()
             FROM (SELECT ST_Multi(ST_GeomFromWKB($2, $3)) AS g) g
             WHERE n.id = $1 AND ST_SRID(n.geom) = $3 AND ST_IsValid(g.g)
               AND ST_HausdorffDistance(n.geom, g.g) <= $4
             RETURNING n.sheet_number, n.parcel_number",
        )
        .bind(p.id)
        .bind(&p.wkb)
        .bind(srid)
        .bind(SHARED_SHAPE_M)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((n_sheet, n_number)) = stored else {
            continue;
        };
        // A child made earlier in this transaction: its first version takes the vertices
        // (a second version at the same instant would say nothing).
        let same: Option<i32> = sqlx::query_scalar(
            "UPDATE land.parcel_versions v SET geom = p.geom,
                    attributes = to_jsonb(p) - 'geom' - 'geom_3857' - 'place_fold'
             FROM land.parcels p
             WHERE p.id = $1 AND v.parcel_id = $1 AND v.end_lifespan IS NULL
               AND v.begin_lifespan = now() AND v.action <> 'import'
             RETURNING v.version",
        )
        .bind(p.id)
        .fetch_optional(&mut *conn)
        .await?;
        let version = match same {
            Some(v) => v,
            None => {
                let why = crate::edit::Edit {
                    editor: edit.editor.clone(),
                    reason: format!(
                        "{} vertex(es) added where parcel {number} of sheet {sheet} meets its boundary, so both share it (shape unchanged): {}",
                        p.vertices.len(),
                        edit.reason
                    ),
                    document: edit.document.clone(),
                };
                crate::edit::record(conn, p.id, "update", false, &why).await?
            }
        };
        let etag = crate::edit::etag(&mut *conn, p.id)
            .await?
            .unwrap_or_default();
        let b = crate::edit::bbox_of(conn, p.id).await?;
        bbox = Some(bbox.map_or(b, |a| crate::edit::union(a, b)));
        out.push(Shared {
            id: p.id,
            sheet_number: n_sheet,
            parcel_number: n_number,
            version,
            etag,
            vertices: points_crs84(conn, &p.vertices, srid).await?,
        });
    }
    Ok((out, bbox))
}

/// `points` (EPSG `srid`) in CRS84.
async fn points_crs84(
    conn: &mut PgConnection,
    points: &[[f64; 2]],
    srid: i32,
) -> Result<Vec<[f64; 2]>, sqlx::Error> {
    let rows: Vec<(f64, f64)> = sqlx::query_as(
        "SELECT ST_X(a), ST_Y(a)
         FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS u(x, y, i),
         LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(x, y), $3), 4326) AS a) t
         ORDER BY i",
    )
    .bind(points.iter().map(|p| p[0]).collect::<Vec<f64>>())
    .bind(points.iter().map(|p| p[1]).collect::<Vec<f64>>())
    .bind(srid)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(x, y)| [x, y]).collect())
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
    fn a_vertex_put_on_a_neighbours_edge_is_inserted_into_that_edge() {
        // The parcel's west side runs 0.03 m inside the neighbour from y = 2 to y = 8: both
        // ends land on the neighbour's east edge (10, 0)–(10, 10), in order along it.
        let n = neighbour(4, rect(0.0, 0.0, 10.0, 10.0));
        let mut parcel = vec![vec![rect(9.97, 2.0, 20.0, 8.0)]];
        let (moves, on) = snap_sharing(&mut parcel, std::slice::from_ref(&n), 0.05);
        assert_eq!(moves.len(), 2);
        assert_eq!(on.len(), 2);
        assert!(on
            .iter()
            .all(|o| o.neighbour == 0 && o.ring == 0 && o.edge == 1));
        let mut shape = vec![n.rings.clone()];
        let inserted = insert_on_edges(&mut shape, &on);
        assert_eq!(inserted, vec![[10.0, 2.0], [10.0, 8.0]]);
        assert_eq!(
            shape[0][0],
            vec![
                [0.0, 0.0],
                [10.0, 0.0],
                [10.0, 2.0],
                [10.0, 8.0],
                [10.0, 10.0],
                [0.0, 10.0],
                [0.0, 0.0]
            ]
        );
        // The written vertices are the inserted ones, bit for bit.
        assert!(parcel[0][0].contains(&[10.0, 2.0]) && parcel[0][0].contains(&[10.0, 8.0]));
        // A vertex snapped onto a neighbour's vertex inserts nothing.
        let mut parcel = vec![vec![rect(10.03, 0.0, 20.0, 10.0)]];
        let (_, on) = snap_sharing(&mut parcel, std::slice::from_ref(&n), 0.05);
        assert!(on.is_empty(), "{on:?}");
    }

    #[test]
    fn wkb_round_trips() {
        let polygons = vec![vec![rect(0.5, 1.5, 2.0, 3.0), rect(1.0, 2.0, 1.5, 2.5)]];
        let wkb = write_multipolygon(&polygons);
        assert_eq!(read_wkb(&wkb).expect("wkb"), polygons);
        assert!(read_wkb(&wkb[..wkb.len() - 1]).is_err());
    }
}
