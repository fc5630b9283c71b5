//! Split and merge of parcels and their lineage (LADM: a parent's lifespan ends, its children
//! begin; `land.parcel_lineage` links them, migration 1008), and the lineage tree of a parcel.
//!
//! Both operations run in one transaction with the same locking, scope and rules as
//! [`crate::edit`]: every parent is locked and its entity tag compared (412 when stale), the
//! parents' numbers are retired, the children get the next free numbers of the sheet (above
//! every number the sheet's living parcels, retired numbers and history ever held; the sheet
//! is locked for the transaction so two operations never hand out the same number), and each
//! child passes [`crate::edit`]'s rules (inside its commune, no overlap).
//!
//! - **Split** cuts the parent with a line in its native TM-3 zone (`ST_Split`); each child is
//!   snapped to the parcels around it like any written parcel (which may move its outer
//!   boundary by up to the snapping tolerance, reported per child), and then the stored
//!   children's areas must add up to the parent's within [`AREA_TOLERANCE_M2`]: a parent lying
//!   off its neighbours by more than snapping may move without changing the legal area is
//!   refused (snap the parent first with a PATCH of its geometry, then split it).
//! - **Merge** joins parcels of one sheet that form one connected group: each shares a
//!   boundary stretch of at least [`MIN_SHARED_M`] with another (within [`SNAP_M`]; touching
//!   at a point is not adjacency). Boundaries within the snapping tolerance are snapped
//!   together before the union; a gap between parents wider than that but narrower than the
//!   sliver width ([`Tolerances::sliver_m`]) is refused with the gap (it would stay a sliver
//!   hole or notch in the child, and closing it silently would change the legal area), a wider
//!   one is deliberate and stays.
//!
//! Children inherit the attributes all their parents agree on, except the areas and the
//! certificate: a new parcel is measured anew and needs its own certificate.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool, Row};

use crate::edit::{self, rule, Edit, EditError, Tolerances, ETAG_SQL};

/// Largest difference between a parent's area and the sum of its children's, m².
pub const AREA_TOLERANCE_M2: f64 = 0.1;
/// Smallest part a split may leave, m² (a smaller one is a sliver from a misplaced line).
pub const MIN_PART_M2: f64 = 1.0;
/// Boundaries closer than this are one boundary when deciding adjacency, metres (the default
/// of [`Tolerances::snap_m`]).
pub const SNAP_M: f64 = 0.05;
/// Shortest shared boundary that makes two parcels adjacent, metres.
pub const MIN_SHARED_M: f64 = 0.5;
/// Most parcels one merge takes.
pub const MAX_MERGE: usize = 50;

/// Not carried to children: measured or issued per parcel.
const NOT_INHERITED: [&str; 3] = ["declared_area_m2", "legal_area_m2", "certificate_issued"];

/// A parcel made by a split or a merge.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Child {
    /// Parcel id.
    pub id: i64,
    /// Commune (pre-merger code).
    pub commune_code: String,
    /// Map sheet.
    pub sheet_number: i64,
    /// The number it was given.
    pub parcel_number: i64,
    /// Its entity tag (quoted).
    pub etag: String,
    /// Its area in its TM-3 zone, m².
    pub area_m2: f64,
    /// What snapping to the neighbours outside the operation moved ([`crate::snap`]).
    pub snapped: Vec<crate::snap::Snapped>,
    /// The neighbours that got its vertices lying on their edges (`snap::share`).
    pub neighbours: Vec<crate::snap::Shared>,
}

/// A committed split or merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Reshaped {
    /// `split` or `merge`.
    pub operation: &'static str,
    /// The parents, whose lifespans ended.
    pub parents: Vec<i64>,
    /// The children, in number order.
    pub children: Vec<Child>,
    /// The area touched (parents and the neighbours given vertices), EPSG:3857 `[xmin, ymin,
    /// xmax, ymax]`.
    pub bbox_3857: [f64; 4],
}

/// A parcel of a lineage tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Parcel id.
    pub id: i64,
    /// `self`, `ancestor` or `descendant`.
    pub relation: String,
    /// Steps from the asked parcel (0 for itself).
    pub depth: i32,
    /// For an ancestor the operation that ended it, for a descendant the one that made it.
    pub operation: Option<String>,
    /// When that operation happened (RFC 3339).
    pub at: Option<String>,
    /// Whether the parcel is living.
    pub living: bool,
    /// Its parents and children ids.
    pub parents: Vec<i64>,
    /// Its children.
    pub children: Vec<i64>,
    /// Attributes of its last version (every column; callers remove what the reader may not
    /// see).
    pub attributes: Map<String, Value>,
    /// Geometry of its last version, CRS84 GeoJSON.
    pub geometry: Value,
}

/// PostGIS refusing the given geometry (unreadable, not transformable: data exceptions and
/// its internal errors) is the writer's mistake; anything else (a deadline) stays a database
/// error.
fn refused(e: sqlx::Error, what: &str) -> EditError {
    if let sqlx::Error::Database(db) = &e {
        let code = db.code().map(|c| c.to_string()).unwrap_or_default();
        if code.starts_with("22") || code == "XX000" {
            return rule(format!("{what}: {}", db.message()));
        }
    }
    EditError::Db(e)
}

/// Locks the sheet's numbering for the transaction and returns its next free number.
async fn next_number(
    conn: &mut PgConnection,
    commune: &str,
    sheet: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('land.sheet ' || $1 || ' ' || $2::text, 0))",
    )
    .bind(commune)
    .bind(sheet)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "SELECT greatest(
             (SELECT max(parcel_number) FROM land.parcels WHERE commune_code = $1 AND sheet_number = $2),
             (SELECT max(parcel_number) FROM land.retired_parcel_numbers WHERE commune_code = $1 AND sheet_number = $2),
             (SELECT max(parcel_number) FROM land.parcel_versions WHERE commune_code = $1 AND sheet_number = $2),
             0) + 1",
    )
    .bind(commune)
    .bind(sheet)
    .fetch_one(&mut *conn)
    .await
}

/// The attributes of parcel `id` as a JSON object (every column but the geometry).
async fn attributes(conn: &mut PgConnection, id: i64) -> Result<Map<String, Value>, sqlx::Error> {
    let v: Value = sqlx::query_scalar(
        "SELECT to_jsonb(p) - 'geom' - 'geom_3857' - 'place_fold' FROM land.parcels p WHERE p.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(edit::members(v))
}

/// What every parent agrees on, among the columns children inherit.
fn agreed(parents: &[Map<String, Value>]) -> Map<String, Value> {
    let mut out = Map::new();
    for name in edit::editable() {
        if NOT_INHERITED.contains(&name) {
            continue;
        }
        let mut values = parents.iter().map(|p| p.get(name).unwrap_or(&Value::Null));
        if let Some(first) = values.next() {
            if values.all(|v| v == first) {
                out.insert(name.to_string(), first.clone());
            }
        }
    }
    out
}

/// Inserts a child with `geom` (hex EWKB in its TM-3 zone) snapped to the living parcels
/// around it ([`crate::snap`]: the parents are gone by then, earlier siblings are neighbours),
/// checks the rules, records its first version and its lineage; returns it.
#[allow(clippy::too_many_arguments)]
async fn make_child(
    conn: &mut PgConnection,
    commune: &str,
    sheet: i64,
    number: i64,
    inherited: &Map<String, Value>,
    geom: &str,
    parents: &[i64],
    operation: &'static str,
    edit: &Edit,
    tolerances: &Tolerances,
    scope: Option<&[String]>,
) -> Result<(Child, Option<[f64; 4]>), EditError> {
    let columns: Vec<&str> = edit::editable()
        .into_iter()
        .filter(|c| !NOT_INHERITED.contains(c))
        .collect();
    let (wkb, srid): (Vec<u8>, i32) =
        sqlx::query_as("SELECT ST_AsBinary($1::geometry), ST_SRID($1::geometry)")
            .bind(geom)
            .fetch_one(&mut *conn)
            .await?;
    let crate::snap::Snapping {
        wkb,
        snapped,
        pending,
    } = crate::snap::to_neighbours(conn, wkb, srid, &[], tolerances, scope).await?;
    let sql = format!(
        "INSERT INTO land.parcels (source_id, commune_code, sheet_number, parcel_number, {cols}, geom)
         SELECT 'bando/' || $1 || '-' || $2::text || '-' || $3::text, $1, $2, $3, {values},
                ST_Multi(ST_GeomFromWKB($5, $6))
         FROM jsonb_populate_record(NULL::land.parcels, $4) r
         RETURNING id",
        cols = columns.join(", "),
        values = columns
            .iter()
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let id: i64 = sqlx::query_scalar(&sql)
        .bind(commune)
        .bind(sheet)
        .bind(number)
        .bind(Value::Object(inherited.clone()))
        .bind(wkb)
        .bind(srid)
        .fetch_one(&mut *conn)
        .await
        .map_err(edit::classify)?;
    // A cut or a snapped union can in rare shapes come out invalid: refused, never stored.
    let invalid: Option<String> = sqlx::query_scalar(
        "SELECT ST_IsValidReason(geom) FROM land.parcels WHERE id = $1 AND NOT ST_IsValid(geom)",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(why) = invalid {
        return Err(rule(format!(
            "the {operation} would make parcel {number} an invalid polygon ({why}); adjust the parcels or the line"
        )));
    }
    edit::check_rules(conn, id, tolerances).await?;
    edit::record(conn, id, operation, false, edit).await?;
    let (neighbours, touched) = crate::snap::share(conn, &pending, srid, id, edit).await?;
    sqlx::query(
        "INSERT INTO land.parcel_lineage (parent_id, child_id, operation, at)
         SELECT parent, $2, $3, now() FROM unnest($1::bigint[]) parent",
    )
    .bind(parents)
    .bind(id)
    .bind(operation)
    .execute(&mut *conn)
    .await?;
    let (etag, area): (String, f64) = sqlx::query_as(&format!(
        "SELECT {ETAG_SQL}, area_m2 FROM land.parcels p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        Child {
            id,
            commune_code: commune.to_string(),
            sheet_number: sheet,
            parcel_number: number,
            etag,
            area_m2: area,
            snapped,
            neighbours,
        },
        touched,
    ))
}

/// The children's tags and areas as stored at the end of the operation (a later sibling may
/// have given an earlier one vertices, which changes its tag).
async fn settle(conn: &mut PgConnection, children: &mut [Child]) -> Result<(), sqlx::Error> {
    for c in children {
        let (etag, area): (String, f64) = sqlx::query_as(&format!(
            "SELECT {ETAG_SQL}, area_m2 FROM land.parcels p WHERE p.id = $1"
        ))
        .bind(c.id)
        .fetch_one(&mut *conn)
        .await?;
        c.etag = etag;
        c.area_m2 = area;
    }
    Ok(())
}

/// Ends parent `id`'s lifespan by `operation` and retires its number.
async fn end_parent(
    conn: &mut PgConnection,
    id: i64,
    operation: &str,
    edit: &Edit,
) -> Result<(), sqlx::Error> {
    edit::ensure_history(conn, id).await?;
    edit::record(conn, id, operation, true, edit).await?;
    edit::retire(conn, id).await
}

async fn identity(conn: &mut PgConnection, id: i64) -> Result<(String, i64), sqlx::Error> {
    sqlx::query_as("SELECT commune_code, sheet_number FROM land.parcels WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// One attempt of [`split`].
#[allow(clippy::too_many_arguments)]
async fn split_once(
    pool: &PgPool,
    id: i64,
    if_match: &str,
    line: &Value,
    line_srid: i32,
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Reshaped, EditError> {
    let mut tx = edit::begin(pool).await?;
    let (commune, srid) = edit::lock(&mut tx, id, if_match, scope).await?;
    let (_, sheet) = identity(&mut tx, id).await?;
    let kind: String = sqlx::query_scalar("SELECT GeometryType(ST_GeomFromGeoJSON($1))")
        .bind(line.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| refused(e, "the cutting line is not GeoJSON PostGIS can read"))?;
    if !matches!(kind.as_str(), "LINESTRING" | "MULTILINESTRING") {
        return Err(rule(format!(
            "the cutting line must be a LineString; this is a {}",
            kind.to_lowercase()
        )));
    }
    // Cut in the parcel's own zone, so the parts' areas are the legal measure; parts are
    // numbered north to south, then west to east (metres rounded, so a straight cut ties).
    let rows = sqlx::query(
        "WITH p AS (SELECT geom FROM land.parcels WHERE id = $1),
              l AS (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($2), $3), $4) AS g)
         SELECT d.geom::text, ST_Area(d.geom), ST_Area(p.geom), ST_NumGeometries(p.geom)
         FROM p, l, ST_Dump(ST_Split(p.geom, l.g)) d
         ORDER BY round(ST_Y(ST_Centroid(d.geom))) DESC, ST_X(ST_Centroid(d.geom))",
    )
    .bind(id)
    .bind(line.to_string())
    .bind(line_srid)
    .bind(srid)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| refused(e, "the parcel cannot be cut with this line"))?;
    let mut parts: Vec<(String, f64)> = Vec::with_capacity(rows.len());
    let (mut parent_area, mut pieces) = (0.0, 0);
    for r in &rows {
        parts.push((r.try_get(0)?, r.try_get(1)?));
        parent_area = r.try_get(2)?;
        pieces = r.try_get(3)?;
    }
    // A parcel of several pieces is several parts before any cut.
    if parts.len() <= pieces.max(1) as usize {
        return Err(rule(
            "the line does not cut the parcel in two or more parts: it must cross the parcel from one edge to another (check its coordinates and crs)",
        ));
    }
    if let Some((_, small)) = parts.iter().find(|(_, a)| *a < MIN_PART_M2) {
        return Err(rule(format!(
            "the line cuts off a part of only {small:.2} m²; parts under {MIN_PART_M2} m² are slivers from a misplaced line"
        )));
    }
    let cut: f64 = parts.iter().map(|(_, a)| a).sum();
    let mut bbox = edit::bbox_of(&mut tx, id).await?;
    let inherited = agreed(&[attributes(&mut tx, id).await?]);
    let first = next_number(&mut tx, &commune, sheet).await?;
    end_parent(&mut tx, id, "split", edit).await?;
    let mut children = Vec::with_capacity(parts.len());
    for (i, (geom, _)) in parts.iter().enumerate() {
        let (child, touched) = make_child(
            &mut tx,
            &commune,
            sheet,
            first + i as i64,
            &inherited,
            geom,
            &[id],
            "split",
            edit,
            tolerances,
            scope,
        )
        .await?;
        children.push(child);
        if let Some(t) = touched {
            bbox = edit::union(bbox, t);
        }
    }
    // The areas add up as stored, after snapping (which may move each child's outer boundary
    // by up to the tolerance), not only as cut.
    let ids: Vec<i64> = children.iter().map(|c| c.id).collect();
    let total: f64 = sqlx::query_scalar(
        "SELECT coalesce(sum(ST_Area(geom)), 0) FROM land.parcels WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_one(&mut *tx)
    .await?;
    if (total - parent_area).abs() > AREA_TOLERANCE_M2 {
        let snapping = if (cut - parent_area).abs() <= AREA_TOLERANCE_M2 {
            format!(
                " (as cut {cut:.2} m²: snapping the children to the parcels around them, within {} m, moved the parent's boundary, which lies off its neighbours'; snap the parent first — a PATCH of its geometry — then split it)",
                tolerances.snap_m
            )
        } else {
            String::new()
        };
        return Err(rule(format!(
            "the parts measure {total:.2} m² together but the parcel {parent_area:.2} m², more than {AREA_TOLERANCE_M2} m² apart{snapping}; the split is refused"
        )));
    }
    settle(&mut tx, &mut children).await?;
    tx.commit().await?;
    Ok(Reshaped {
        operation: "split",
        parents: vec![id],
        children,
        bbox_3857: bbox,
    })
}

/// One attempt of [`merge`].
async fn merge_once(
    pool: &PgPool,
    parents: &[(i64, String)],
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Reshaped, EditError> {
    let tags: BTreeMap<i64, &str> = parents.iter().map(|(i, t)| (*i, t.as_str())).collect();
    if tags.len() < 2 {
        return Err(EditError::Missing(
            "a merge takes at least two different parcels".into(),
        ));
    }
    if tags.len() > MAX_MERGE {
        return Err(EditError::Missing(format!(
            "a merge takes at most {MAX_MERGE} parcels"
        )));
    }
    let ids: Vec<i64> = tags.keys().copied().collect();
    let mut tx = edit::begin(pool).await?;
    // Locked in id order, so two merges sharing parcels never deadlock.
    for (id, tag) in &tags {
        edit::lock(&mut tx, *id, tag, scope).await?;
    }
    let places: Vec<(String, i64)> = sqlx::query_as(
        "SELECT DISTINCT commune_code, sheet_number FROM land.parcels WHERE id = ANY($1)
         ORDER BY 1, 2",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let [(commune, sheet)] = places.as_slice() else {
        let list: Vec<String> = places
            .iter()
            .map(|(c, s)| format!("sheet {s} of commune {c}"))
            .collect();
        return Err(rule(format!(
            "only parcels of one sheet merge; these lie on {}",
            list.join(", ")
        )));
    };
    let (commune, sheet) = (commune.clone(), *sheet);
    let pairs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.id, b.id FROM land.parcels a
         JOIN land.parcels b ON a.id < b.id AND b.id = ANY($1)
              AND ST_DWithin(a.geom, ST_Transform(b.geom, ST_SRID(a.geom)), $2)
         WHERE a.id = ANY($1)
           AND ST_Length(ST_Intersection(ST_Boundary(a.geom),
                   ST_Buffer(ST_Boundary(ST_Transform(b.geom, ST_SRID(a.geom))), $2))) >= $3",
    )
    .bind(&ids)
    .bind(tolerances.snap_m)
    .bind(MIN_SHARED_M)
    .fetch_all(&mut *tx)
    .await?;
    let groups = components(&ids, &pairs);
    if groups.len() > 1 {
        let list: Vec<String> = groups
            .iter()
            .map(|g| g.iter().map(i64::to_string).collect::<Vec<_>>().join(" + "))
            .collect();
        return Err(rule(format!(
            "the parcels are not adjacent: they fall apart into {} groups sharing no boundary ({}); parcels touching at a point only are not adjacent",
            groups.len(),
            list.join("; ")
        )));
    }
    // Boundaries digitised apart by less than the snapping tolerance are one boundary: each
    // parent is snapped to the others first, so the union leaves no sliver gap between them.
    let geom: String = sqlx::query_scalar(
        "WITH g AS (SELECT id, geom FROM land.parcels WHERE id = ANY($1))
         SELECT ST_Multi(ST_UnaryUnion(ST_Collect(
                    ST_Snap(a.geom, (SELECT ST_Collect(b.geom) FROM g b WHERE b.id <> a.id), $2))))::text
         FROM g a",
    )
    .bind(&ids)
    .bind(tolerances.snap_m)
    .fetch_one(&mut *tx)
    .await?;
    merge_gap(&mut tx, &ids, &geom, tolerances).await?;
    let mut bbox: Option<[f64; 4]> = None;
    let mut attrs = Vec::with_capacity(ids.len());
    for id in &ids {
        let b = edit::bbox_of(&mut tx, *id).await?;
        bbox = Some(bbox.map_or(b, |a| edit::union(a, b)));
        attrs.push(attributes(&mut tx, *id).await?);
    }
    let inherited = agreed(&attrs);
    let number = next_number(&mut tx, &commune, sheet).await?;
    for id in &ids {
        end_parent(&mut tx, *id, "merge", edit).await?;
    }
    let (child, touched) = make_child(
        &mut tx, &commune, sheet, number, &inherited, &geom, &ids, "merge", edit, tolerances, scope,
    )
    .await?;
    tx.commit().await?;
    let bbox = bbox.unwrap_or([0.0; 4]);
    Ok(Reshaped {
        operation: "merge",
        parents: ids,
        children: vec![child],
        bbox_3857: touched.map_or(bbox, |t| edit::union(bbox, t)),
    })
}

/// A merge's gap rule: the union `geom` (hex EWKB, the parents snapped together) may not
/// keep a gap between two parents narrower than [`Tolerances::sliver_m`] everywhere (its
/// largest inscribed circle is): a piece of the union's convex hull outside the union (a hole
/// or a notch) within the snapping tolerance of two parents or more. A wider gap, or one
/// tapering from a wide opening, is deliberate. Pieces under (width/2)² m² are round-off.
async fn merge_gap(
    conn: &mut PgConnection,
    ids: &[i64],
    geom: &str,
    tolerances: &Tolerances,
) -> Result<(), EditError> {
    let width = tolerances.sliver_m;
    if width.is_nan() || width <= 0.0 {
        return Ok(());
    }
    let gap: Option<(f64, f64, Option<Value>)> = sqlx::query_as(
        "WITH u AS (SELECT $2::geometry AS u),
              piece AS (SELECT (ST_Dump(ST_Difference(ST_ConvexHull(u), u))).geom AS g FROM u),
              gap AS (SELECT g, ST_Area(g) AS area, 2 * (ST_MaximumInscribedCircle(g)).radius AS width
                      FROM piece
                      WHERE ST_Area(g) >= ($3 / 2) ^ 2
                        AND (SELECT count(*) FROM land.parcels p
                             WHERE p.id = ANY($1)
                               AND ST_DWithin(ST_Transform(p.geom, ST_SRID(g)), g, $4)) >= 2)
         SELECT sum(area), max(width), ST_AsGeoJSON(ST_Transform(ST_Collect(g), 4326), 7)::json
         FROM gap
         WHERE width < $3
         HAVING count(*) > 0",
    )
    .bind(ids)
    .bind(geom)
    .bind(width)
    .bind(tolerances.snap_m.max(1e-6))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((area, widest, part)) = gap {
        return Err(EditError::Rule {
            reason: format!(
                "the parcels leave a gap of {area:.2} m², up to {widest:.2} m wide, between them: narrower than {width} m, it would stay a sliver in the merged parcel; draw their shared boundary as one first (vertices within {} m are snapped), or merge parcels a gap of at least {width} m apart",
                tolerances.snap_m
            ),
            part,
        });
    }
    Ok(())
}

/// The connected groups of `ids` joined by `pairs` (union–find).
fn components(ids: &[i64], pairs: &[(i64, i64)]) -> Vec<Vec<i64>> {
    let mut root: BTreeMap<i64, i64> = ids.iter().map(|i| (*i, *i)).collect();
    fn find(root: &mut BTreeMap<i64, i64>, i: i64) -> i64 {
        let mut r = i;
        while let Some(&p) = root.get(&r) {
            if p == r {
                break;
            }
            r = p;
        }
        root.insert(i, r);
        r
    }
    for (a, b) in pairs {
        let (ra, rb) = (find(&mut root, *a), find(&mut root, *b));
        if ra != rb {
            root.insert(ra.max(rb), ra.min(rb));
        }
    }
    let mut groups: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for id in ids {
        let r = find(&mut root, *id);
        groups.entry(r).or_default().push(*id);
    }
    groups.into_values().collect()
}

/// The lineage tree of parcel `id`: itself, its ancestors and descendants (recursively), each
/// with its last version; `None` when no parcel ever had this id.
pub async fn lineage(pool: &PgPool, id: i64) -> Result<Option<Vec<Node>>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH RECURSIVE
         up(id, depth, operation, at) AS (
             SELECT parent_id, 1, operation, at FROM land.parcel_lineage WHERE child_id = $1
             UNION
             SELECT l.parent_id, u.depth + 1, l.operation, l.at
             FROM land.parcel_lineage l JOIN up u ON l.child_id = u.id),
         down(id, depth, operation, at) AS (
             SELECT child_id, 1, operation, at FROM land.parcel_lineage WHERE parent_id = $1
             UNION
             SELECT l.child_id, d.depth + 1, l.operation, l.at
             FROM land.parcel_lineage l JOIN down d ON l.parent_id = d.id),
         nodes AS (
             SELECT $1::bigint AS id, 'self' AS relation, 0 AS depth, NULL::text AS operation,
                    NULL::timestamptz AS at
             UNION ALL
             (SELECT DISTINCT ON (id) id, 'ancestor', depth, operation, at FROM up
              ORDER BY id, depth)
             UNION ALL
             (SELECT DISTINCT ON (id) id, 'descendant', depth, operation, at FROM down
              ORDER BY id, depth))
         SELECT n.id, n.relation, n.depth, n.operation, to_json(n.at)#>>'{}',
                p.id IS NOT NULL,
                coalesce((SELECT array_agg(parent_id ORDER BY parent_id) FROM land.parcel_lineage
                          WHERE child_id = n.id), '{}'),
                coalesce((SELECT array_agg(child_id ORDER BY child_id) FROM land.parcel_lineage
                          WHERE parent_id = n.id), '{}'),
                coalesce(to_jsonb(p) - 'geom' - 'geom_3857' - 'place_fold', v.attributes),
                ST_AsGeoJSON(ST_Transform(coalesce(p.geom, v.geom), 4326), 9)::json
         FROM nodes n
         LEFT JOIN land.parcels p ON p.id = n.id
         LEFT JOIN LATERAL (SELECT attributes, geom FROM land.parcel_versions
                            WHERE parcel_id = n.id ORDER BY version DESC LIMIT 1) v ON true
         WHERE p.id IS NOT NULL OR v.geom IS NOT NULL
         ORDER BY CASE n.relation WHEN 'ancestor' THEN -n.depth WHEN 'self' THEN 0 ELSE n.depth END,
                  n.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let attributes: Value = r.try_get(8)?;
        out.push(Node {
            id: r.try_get(0)?,
            relation: r.try_get(1)?,
            depth: r.try_get(2)?,
            operation: r.try_get(3)?,
            at: r.try_get(4)?,
            living: r.try_get(5)?,
            parents: r.try_get(6)?,
            children: r.try_get(7)?,
            attributes: edit::members(attributes),
            geometry: r.try_get(9)?,
        });
    }
    if !out.iter().any(|n| n.relation == "self") {
        return Ok(None);
    }
    Ok(Some(out))
}

/// Splits parcel `id` (if its tag is still `if_match`) along `line`: a GeoJSON LineString or
/// MultiLineString with x/y (easting or longitude first) in EPSG `line_srid`; the children are
/// checked under `tolerances`.
#[allow(clippy::too_many_arguments)]
pub async fn split(
    pool: &PgPool,
    id: i64,
    if_match: &str,
    line: &Value,
    line_srid: i32,
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Reshaped, EditError> {
    edit::retrying(|| split_once(pool, id, if_match, line, line_srid, edit, scope, tolerances))
        .await
}

/// Merges the parcels `parents` (id and the tag the writer read) into one: adjacent within
/// the snapping tolerance of `tolerances`, snapped to each other before the union.
pub async fn merge(
    pool: &PgPool,
    parents: &[(i64, String)],
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Reshaped, EditError> {
    edit::retrying(|| merge_once(pool, parents, edit, scope, tolerances)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_are_what_shared_boundaries_connect() {
        assert_eq!(
            components(&[1, 2, 3], &[(1, 2), (2, 3)]),
            vec![vec![1, 2, 3]]
        );
        assert_eq!(
            components(&[1, 2, 3, 4], &[(1, 3)]),
            vec![vec![1, 3], vec![2], vec![4]]
        );
        assert_eq!(
            components(&[5, 6, 7], &[(6, 7), (5, 7)]),
            vec![vec![5, 6, 7]]
        );
    }

    #[test]
    fn children_keep_what_every_parent_agrees_on() {
        let a = json!({"land_use_code": "ONT", "place_name": "Xứ A", "owner_name": "X", "legal_area_m2": 10.0});
        let b = json!({"land_use_code": "ONT", "place_name": "Xứ B", "owner_name": "X", "legal_area_m2": 10.0});
        let parents: Vec<Map<String, Value>> = [a, b]
            .iter()
            .map(|v| v.as_object().cloned().expect("an object"))
            .collect();
        let got = agreed(&parents);
        assert_eq!(got.get("land_use_code"), Some(&json!("ONT")));
        assert_eq!(got.get("owner_name"), Some(&json!("X")));
        assert!(!got.contains_key("place_name"), "they differ");
        assert!(
            !got.contains_key("legal_area_m2"),
            "areas are measured anew"
        );
    }
}
