//! Edits of parcels (land officers' writes): replace or patch a parcel's attributes and
//! geometry, create and delete parcels — each in one transaction with the cadastral rules and
//! a new version in the history (`land.parcel_versions`, migration 1007).
//!
//! - **Optimistic locking**: a parcel's entity tag is the MD5 of its whole row, so any change
//!   (an edit, a re-import) makes an earlier tag stale. A write names the tag it read; the row
//!   is locked (`FOR UPDATE`) and compared, so of two concurrent writers exactly one wins and
//!   the other learns who changed the parcel when.
//! - **Rules**, checked after the write inside the transaction (a refusal rolls it back): a
//!   valid polygonal geometry (never repaired silently), its vertices snapped to the
//!   neighbours' boundaries within [`Tolerances::snap_m`] first ([`crate::snap`], reported in
//!   [`Saved::snapped`]), inside its commune (when communes are
//!   loaded) and overlapping no neighbour by more than [`Tolerances::overlap_m2`] (configurable,
//!   [`OVERLAP_TOLERANCE_M2`] by default); opening no gap narrower than
//!   [`Tolerances::sliver_m`] ([`SLIVER_WIDTH_M`] by default) along a boundary it shared before
//!   the write (`check_gap`: a piece of the ground it gave up, along a neighbour, narrower
//!   than that everywhere; the gap is the 422's `part`); the neighbours whose edges its
//!   vertices landed on get those vertices (`snap::share`, shape unchanged, a version
//!   each, reported in [`Saved::neighbours`]); the area is the
//!   table's own (`area_m2`, measured in the parcel's TM-3 zone); land-use codes valid on the
//!   day of the edit (TT 27/2018 before 2024-08-01, TT 08/2024 after); identity columns change
//!   only by split or merge; numbers of deleted parcels are never given again.
//! - **History**: a parcel's first edit records its imported state as version 1; each write
//!   closes the living version (`end_lifespan`) and opens the next with who, why and the
//!   decision; a delete adds a closed tombstone version. Nothing is physically lost.
//! - **Scope**: a land officer writes only parcels of their communes (before and after).
//!
//! The columns a write may set come from the parcels' declaration ([`crate::tables::PARCELS`]).

use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool, Row};

use crate::tables::PARCELS;

/// Largest overlap with a neighbour an edit may leave, m² (slivers from digitising).
pub const OVERLAP_TOLERANCE_M2: f64 = 1.0;
/// Largest part of a parcel an edit may leave outside its commune, m².
pub const OUTSIDE_COMMUNE_TOLERANCE_M2: f64 = 1.0;
/// Narrowest gap an edit may open between a parcel and a neighbour it shared a boundary with,
/// metres (narrower is a sliver: refused). 0.3 m: twice the 0.15 m a boundary point of a
/// 1:1000 cadastral sheet (the usual scale of residential land) may be off, so two surveys
/// of one boundary never open it, six times the snapping tolerance (gaps under that are closed
/// by snapping), and narrower than anything that really separates two parcels (the narrowest
/// footpath or ditch is a parcel of its own, half a metre and more).
pub const SLIVER_WIDTH_M: f64 = 0.3;

/// The tolerances of the cadastral rules, from the `[land]` section of the configuration
/// (defaults: [`OVERLAP_TOLERANCE_M2`] and [`crate::lineage::SNAP_M`]); every write is checked
/// under them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// Largest overlap with a neighbour a write may leave, m².
    pub overlap_m2: f64,
    /// Boundaries closer than this are one boundary, metres: a written parcel's vertices are
    /// snapped to its neighbours' boundaries within it ([`crate::snap`]), and a merge's parents
    /// are adjacent and snapped to each other before the union within it.
    pub snap_m: f64,
    /// Gaps narrower than this between a written parcel and a neighbour it shared a boundary
    /// with, or between the parents of a merge, are slivers: refused (0 turns the rule off).
    pub sliver_m: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            overlap_m2: OVERLAP_TOLERANCE_M2,
            snap_m: crate::lineage::SNAP_M,
            sliver_m: SLIVER_WIDTH_M,
        }
    }
}

impl Tolerances {
    /// Largest accepted overlap tolerance, m² (beyond, overlaps are errors, not slivers).
    pub const MAX_OVERLAP_M2: f64 = 100.0;
    /// Largest accepted snapping tolerance, metres (beyond, distinct boundaries would merge).
    pub const MAX_SNAP_M: f64 = 1.0;

    /// Checked tolerances: finite, not negative, at most [`Self::MAX_OVERLAP_M2`] and
    /// [`Self::MAX_SNAP_M`]; the error says which and why.
    pub fn new(overlap_m2: f64, snap_m: f64) -> Result<Tolerances, String> {
        if !(overlap_m2.is_finite() && (0.0..=Self::MAX_OVERLAP_M2).contains(&overlap_m2)) {
            return Err(format!(
                "the overlap tolerance is from 0 to {} m², not {overlap_m2}",
                Self::MAX_OVERLAP_M2
            ));
        }
        if !(snap_m.is_finite() && (0.0..=Self::MAX_SNAP_M).contains(&snap_m)) {
            return Err(format!(
                "the snapping tolerance is from 0 to {} m, not {snap_m}",
                Self::MAX_SNAP_M
            ));
        }
        Ok(Tolerances {
            overlap_m2,
            snap_m,
            sliver_m: SLIVER_WIDTH_M,
        })
    }

    /// Largest accepted sliver width, metres (beyond, deliberate gaps such as paths would be
    /// refused).
    pub const MAX_SLIVER_M: f64 = 2.0;

    /// These tolerances with gaps narrower than `sliver_m` refused: from 0 (no gap rule) to
    /// [`Self::MAX_SLIVER_M`].
    pub fn with_sliver_width(self, sliver_m: f64) -> Result<Tolerances, String> {
        if !(sliver_m.is_finite() && (0.0..=Self::MAX_SLIVER_M).contains(&sliver_m)) {
            return Err(format!(
                "the sliver width is from 0 to {} m, not {sliver_m}",
                Self::MAX_SLIVER_M
            ));
        }
        Ok(Tolerances { sliver_m, ..self })
    }
}

/// The identity of a parcel: set when it is created, changed only by split or merge.
pub const IDENTITY: [&str; 3] = ["commune_code", "sheet_number", "parcel_number"];

/// Who writes, why, and on which decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// User name of the editor.
    pub editor: String,
    /// Why (free text).
    pub reason: String,
    /// The decision or document the change rests on (number and date).
    pub document: String,
}

impl Edit {
    /// An edit; the reason and the document are required (a cadastral change rests on one).
    pub fn new(editor: &str, reason: &str, document: &str) -> Result<Edit, EditError> {
        let reason = reason.trim();
        let document = document.trim();
        if reason.is_empty() || document.is_empty() {
            return Err(EditError::Missing(
                "every change needs a reason and the decision it rests on (number and date)".into(),
            ));
        }
        if reason.chars().count() > 500 || document.chars().count() > 200 {
            return Err(EditError::Missing(
                "the reason is at most 500 characters and the document reference 200".into(),
            ));
        }
        Ok(Edit {
            editor: editor.to_string(),
            reason: reason.to_string(),
            document: document.to_string(),
        })
    }
}

/// What a write changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// Properties to set (JSON values; `null` clears).
    pub properties: Map<String, Value>,
    /// New geometry as GeoJSON in CRS84, when it changes.
    pub geometry: Option<Value>,
    /// Replace every attribute (PUT): properties not given are cleared.
    pub replace: bool,
}

/// A committed write.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// Parcel id.
    pub id: i64,
    /// The parcel's new entity tag (quoted); empty after a delete.
    pub etag: String,
    /// Version number in the history.
    pub version: i32,
    /// The area touched (old and new geometry), EPSG:3857 `[xmin, ymin, xmax, ymax]`.
    pub bbox_3857: [f64; 4],
    /// What snapping to the neighbours moved ([`crate::snap`]); empty when the write stored no
    /// geometry or nothing was within the snapping tolerance.
    pub snapped: Vec<crate::snap::Snapped>,
    /// The neighbours that got the parcel's vertices lying on their edges ([`crate::snap`]:
    /// shape unchanged, a new version and tag each).
    pub neighbours: Vec<crate::snap::Shared>,
}

/// One version of a parcel.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Version {
    /// Version number (1 = as imported, or as created).
    pub version: i32,
    /// `import`, `create`, `update`, `delete`, `split` or `merge`.
    pub action: String,
    /// Start of the version's lifespan (RFC 3339).
    pub begin_lifespan: String,
    /// End of its lifespan; `None` while it is the living version.
    pub end_lifespan: Option<String>,
    /// Who made it.
    pub editor: String,
    /// Why.
    pub reason: String,
    /// On which decision.
    pub document: String,
    /// The parcel's attributes in that version (every column; callers remove what the reader
    /// may not see).
    pub attributes: Map<String, Value>,
    /// Geometry in CRS84 (GeoJSON).
    pub geometry: Value,
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// No living parcel has this id.
    #[error("there is no parcel {0}")]
    NotFound(i64),
    /// Someone changed the parcel since the writer read it.
    #[error("parcel {id} was changed by {by} at {at} since you read it (its tag is now {current}); reload it and apply your change again")]
    Stale {
        /// Parcel id.
        id: i64,
        /// Who made the current version.
        by: String,
        /// When.
        at: String,
        /// The current entity tag.
        current: String,
    },
    /// A cadastral rule refuses the result; `part` shows where (GeoJSON, CRS84).
    #[error("{reason}")]
    Rule {
        /// What is wrong, in a sentence.
        reason: String,
        /// The offending part (overlap, part outside the commune, invalid spot).
        part: Option<Value>,
    },
    /// The request lacks what every write needs (reason, document) or names an unknown
    /// property.
    #[error("{0}")]
    Missing(String),
    /// The parcel (or the one being created) lies in a commune outside the editor's scope.
    #[error(
        "parcel of commune {commune} is outside your communes ({scope}); you may edit only there"
    )]
    OutsideScope {
        /// The parcel's commune.
        commune: String,
        /// The editor's communes.
        scope: String,
    },
    /// Concurrent edits of the same or neighbouring parcels kept aborting this one.
    #[error(
        "other edits of these or neighbouring parcels are being saved at this moment; try again"
    )]
    Busy,
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

pub(crate) fn rule(reason: impl Into<String>) -> EditError {
    EditError::Rule {
        reason: reason.into(),
        part: None,
    }
}

/// A database refusal of the values themselves (wrong type, constraint) is the writer's
/// mistake, reported as a rule; anything else stays a database error.
pub(crate) fn classify(e: sqlx::Error) -> EditError {
    if let sqlx::Error::Database(db) = &e {
        let code = db.code().map(|c| c.to_string()).unwrap_or_default();
        if code == "23505" {
            return rule("a living parcel already has this commune, sheet and number");
        }
        if code.starts_with("22") || code.starts_with("23") || code == "XX000" {
            return rule(format!("the values are refused: {}", db.message()));
        }
    }
    EditError::Db(e)
}

/// Begins an edit's transaction, SERIALIZABLE: two concurrent edits of neighbouring parcels
/// each check the other's old geometry, and under weaker isolation both could commit an
/// overlap (write skew); PostgreSQL's predicate locks (GiST included) make one of them fail
/// instead, and [`retrying`] runs it again against the other's result.
pub(crate) async fn begin(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// How many times an edit aborted by a concurrent one is run again.
const CONFLICT_RETRIES: u32 = 5;

fn is_conflict(e: &sqlx::Error) -> bool {
    // 40001 serialization failure, 40P01 deadlock.
    matches!(e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40001") | Some("40P01")))
}

/// A random pause of up to 5 ms · 2ⁿ before retry `n`: edits that aborted each other (on a
/// small table PostgreSQL's predicate locks cover the whole relation, so any two concurrent
/// edits can) would otherwise run again in lockstep and abort each other again.
fn conflict_pause(tries: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let ceiling_us = 5_000u64 << tries.min(8);
    std::time::Duration::from_micros(random % ceiling_us)
}

/// Runs an edit, again when PostgreSQL aborted it for a conflict with a concurrent edit (the
/// retry sees that edit's result: its tag check or its rules decide), after a random pause;
/// after [`CONFLICT_RETRIES`] it gives up with [`EditError::Busy`].
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, EditError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EditError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(EditError::Db(e)) if is_conflict(&e) => {
                tries += 1;
                if tries > CONFLICT_RETRIES {
                    return Err(EditError::Busy);
                }
                tokio::time::sleep(conflict_pause(tries)).await;
            }
            other => return other,
        }
    }
}

/// The columns a write may set (declared, not identity).
pub(crate) fn editable() -> Vec<&'static str> {
    PARCELS
        .columns
        .iter()
        .map(|c| c.name)
        .filter(|n| !IDENTITY.contains(n))
        .collect()
}

fn check_names(properties: &Map<String, Value>, creating: bool) -> Result<(), EditError> {
    let editable = editable();
    for name in properties.keys() {
        if IDENTITY.contains(&name.as_str()) {
            if creating {
                continue;
            }
            return Err(rule(format!(
                "{name} is part of the parcel's identity: it changes only by a split or a merge"
            )));
        }
        if !editable.contains(&name.as_str()) {
            return Err(EditError::Missing(format!(
                "unknown property \"{}\"; parcels have {}",
                name.chars().take(60).collect::<String>(),
                editable.join(", ")
            )));
        }
    }
    if let Some(Value::String(code)) = properties.get("land_use_code") {
        let today = chrono::Utc::now().date_naive();
        use chrono::Datelike;
        let ymd = (today.year(), today.month(), today.day());
        crate::land_use::validate(code, Some(ymd)).map_err(|e| rule(e.to_string()))?;
    }
    Ok(())
}

pub(crate) fn in_scope(scope: Option<&[String]>, commune: &str) -> Result<(), EditError> {
    match scope {
        Some(list) if !list.iter().any(|c| c == commune) => Err(EditError::OutsideScope {
            commune: commune.to_string(),
            scope: list.join(", "),
        }),
        _ => Ok(()),
    }
}

pub(crate) const ETAG_SQL: &str = "'\"' || md5(p::text) || '\"'";

/// The entity tag of parcel `id` (quoted), `None` when no living parcel has it; on a pool or
/// inside an edit's transaction.
pub async fn etag<'e, E>(executor: E, id: i64) -> Result<Option<String>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    sqlx::query_scalar(&format!(
        "SELECT {ETAG_SQL} FROM land.parcels p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// The tag of a parcel the transaction just wrote (it exists).
async fn written_tag(conn: &mut PgConnection, id: i64) -> Result<String, EditError> {
    etag(&mut *conn, id).await?.ok_or(EditError::NotFound(id))
}

/// A JSON object's members (`{}` for anything else): jsonb attributes read back.
pub(crate) fn members(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Locks the parcel, checks scope and tag; returns its commune and SRID.
pub(crate) async fn lock(
    conn: &mut PgConnection,
    id: i64,
    if_match: &str,
    scope: Option<&[String]>,
) -> Result<(String, i32), EditError> {
    let row = sqlx::query(&format!(
        "SELECT {ETAG_SQL}, commune_code, ST_SRID(geom), updated_at::text
         FROM land.parcels p WHERE p.id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(EditError::NotFound(id))?;
    let (current, commune, srid, updated): (String, String, i32, String) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    );
    in_scope(scope, &commune)?;
    // If-Match is a list (RFC 9110 §13.1.1): any listed tag may be the current one, which is
    // how one header carries the tags of every parent of a merge.
    if !if_match
        .split(',')
        .map(str::trim)
        .any(|t| t == current || t == "*")
    {
        let last: Option<(String, String)> = sqlx::query_as(
            "SELECT editor, begin_lifespan::text FROM land.parcel_versions
             WHERE parcel_id = $1 AND end_lifespan IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let (by, at) = last.unwrap_or_else(|| ("a delivery (import)".into(), updated));
        return Err(EditError::Stale {
            id,
            by,
            at,
            current,
        });
    }
    Ok((commune, srid))
}

/// Records the parcel's imported state as version 1 the first time it is edited.
pub(crate) async fn ensure_history(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO land.parcel_versions (parcel_id, version, commune_code, sheet_number,
             parcel_number, attributes, geom, begin_lifespan, action, editor, reason, document)
         SELECT p.id, 1, p.commune_code, p.sheet_number, p.parcel_number,
                to_jsonb(p) - 'geom' - 'geom_3857' - 'place_fold', p.geom, p.updated_at, 'import', 'import',
                'as delivered', coalesce('import ' || p.import_id::text, 'delivery')
         FROM land.parcels p
         WHERE p.id = $1
           AND NOT EXISTS (SELECT 1 FROM land.parcel_versions v WHERE v.parcel_id = p.id)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Closes the living version and opens the next from the parcel's row as it is now; a
/// `closing` version (delete, the parent of a split or merge) ends when it begins.
pub(crate) async fn record(
    conn: &mut PgConnection,
    id: i64,
    action: &str,
    closing: bool,
    edit: &Edit,
) -> Result<i32, sqlx::Error> {
    sqlx::query(
        "UPDATE land.parcel_versions SET end_lifespan = now()
         WHERE parcel_id = $1 AND end_lifespan IS NULL",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "INSERT INTO land.parcel_versions (parcel_id, version, commune_code, sheet_number,
             parcel_number, attributes, geom, begin_lifespan, end_lifespan, action, editor,
             reason, document)
         SELECT p.id,
                (SELECT coalesce(max(version), 0) + 1 FROM land.parcel_versions WHERE parcel_id = p.id),
                p.commune_code, p.sheet_number, p.parcel_number,
                to_jsonb(p) - 'geom' - 'geom_3857' - 'place_fold', p.geom, now(),
                CASE WHEN $6 THEN now() END, $2, $3, $4, $5
         FROM land.parcels p WHERE p.id = $1
         RETURNING version",
    )
    .bind(id)
    .bind(action)
    .bind(&edit.editor)
    .bind(&edit.reason)
    .bind(&edit.document)
    .bind(closing)
    .fetch_one(&mut *conn)
    .await
}

/// The geometry expression of a GeoJSON parameter `$n` in `srid`, after checking it: valid,
/// polygonal, not empty.
async fn check_geometry(
    conn: &mut PgConnection,
    geometry: &Value,
    srid: Option<i32>,
) -> Result<i32, EditError> {
    let text = geometry.to_string();
    let row = sqlx::query(
        "SELECT ST_IsValid(g), ST_IsValidReason(g), GeometryType(g), ST_IsEmpty(g),
                coalesce($2, platform.native_srid(g)),
                ST_AsGeoJSON((ST_IsValidDetail(g)).location, 7)::json
         FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) x",
    )
    .bind(&text)
    .bind(srid)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(db) => rule(format!(
            "the geometry is not GeoJSON PostGIS can read: {}",
            db.message()
        )),
        other => EditError::Db(other),
    })?;
    let valid: bool = row.try_get(0)?;
    let why: String = row.try_get(1)?;
    let kind: String = row.try_get(2)?;
    let empty: bool = row.try_get(3)?;
    let native: i32 = row.try_get(4)?;
    let spot: Option<Value> = row.try_get(5)?;
    if !matches!(kind.as_str(), "POLYGON" | "MULTIPOLYGON") || empty {
        return Err(rule(format!(
            "a parcel is a polygon; this geometry is {}",
            if empty {
                "empty".to_string()
            } else {
                kind.to_lowercase()
            }
        )));
    }
    if !valid {
        return Err(EditError::Rule {
            reason: format!(
                "the geometry is not valid ({why}); it is not repaired silently: correct it"
            ),
            part: spot,
        });
    }
    Ok(native)
}

fn geometry_sql(param: usize, srid: i32) -> String {
    format!("ST_Multi(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(${param}), 4326), {srid}))")
}

/// The drawn `geometry` (checked CRS84 GeoJSON) in EPSG `srid`, its vertices snapped to the
/// boundaries of the living parcels near it other than `exclude` ([`crate::snap`]): the
/// MultiPolygon to store (WKB), what moved and the neighbours to give vertices to.
async fn snapped_geometry(
    conn: &mut PgConnection,
    geometry: &Value,
    srid: i32,
    exclude: &[i64],
    tolerances: &Tolerances,
    scope: Option<&[String]>,
) -> Result<crate::snap::Snapping, EditError> {
    let wkb: Vec<u8> =
        sqlx::query_scalar(&format!("SELECT ST_AsBinary({})", geometry_sql(1, srid)))
            .bind(geometry.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(classify)?;
    crate::snap::to_neighbours(conn, wkb, srid, exclude, tolerances, scope).await
}

/// The gap rule: parcel `id` as written may not open a gap narrower than
/// [`Tolerances::sliver_m`] between itself and a neighbour it shared a boundary with as `old`
/// (its WKB before the write, same SRID). The gaps are the pieces of the ground the parcel
/// gave up (`old` minus the parcel as written minus every other living parcel), in its TM-3
/// zone, lying along a neighbour for at least [`crate::lineage::MIN_SHARED_M`] (within the
/// snapping tolerance); a piece is a sliver when it is narrower than the width everywhere (its
/// largest inscribed circle is), so a wide gap tapering to a point at its ends is deliberate,
/// not a sliver. Pieces under (width/2)² m² are round-off, not gaps.
pub(crate) async fn check_gap(
    conn: &mut PgConnection,
    id: i64,
    old: &[u8],
    tolerances: &Tolerances,
) -> Result<(), EditError> {
    let width = tolerances.sliver_m;
    if width.is_nan() || width <= 0.0 {
        return Ok(());
    }
    let gap: Option<(i64, i64, f64, f64, Option<Value>)> = sqlx::query_as(
        "WITH p AS (SELECT geom, ST_SRID(geom) AS s FROM land.parcels WHERE id = $1),
              o AS (SELECT ST_GeomFromWKB($2, p.s) AS g FROM p),
              n AS (SELECT n.sheet_number, n.parcel_number, ST_Transform(n.geom, p.s) AS g
                    FROM p, o, land.parcels n
                    WHERE n.id <> $1
                      AND n.geom_3857 && ST_Expand(ST_Transform(o.g, 3857), $4 * 4)
                      AND ST_DWithin(ST_Transform(n.geom, p.s), o.g, $4)),
              given AS (SELECT (ST_Dump(ST_Difference(ST_Difference(o.g, p.geom),
                                   coalesce((SELECT ST_Union(g) FROM n),
                                            ST_SetSRID('POLYGON EMPTY'::geometry, p.s))))).geom AS g
                        FROM p, o),
              gap AS (SELECT given.g, ST_Area(given.g) AS area,
                             2 * (ST_MaximumInscribedCircle(given.g)).radius AS width
                      FROM given
                      WHERE ST_Area(given.g) >= ($3 / 2) ^ 2)
         SELECT n.sheet_number, n.parcel_number, gap.area, gap.width,
                ST_AsGeoJSON(ST_Transform(gap.g, 4326), 7)::json
         FROM gap JOIN n ON ST_DWithin(gap.g, n.g, $4)
              AND ST_Length(ST_Intersection(ST_Boundary(gap.g), ST_Buffer(ST_Boundary(n.g), $4))) >= $5
         WHERE gap.width < $3
         ORDER BY gap.area DESC, n.parcel_number LIMIT 1",
    )
    .bind(id)
    .bind(old)
    .bind(width)
    .bind(tolerances.snap_m.max(1e-6))
    .bind(crate::lineage::MIN_SHARED_M)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((sheet, number, area, widest, part)) = gap {
        return Err(EditError::Rule {
            reason: format!(
                "the parcel would open a gap of {area:.2} m², up to {widest:.2} m wide, along the boundary it shared with parcel {number} of sheet {sheet}; a gap narrower than {width} m is a sliver: draw the boundary on the neighbour's (vertices within {} m are snapped to it) or leave a gap of at least {width} m",
                tolerances.snap_m
            ),
            part,
        });
    }
    Ok(())
}

/// The cadastral rules on parcel `id` as written (inside its commune, no overlap).
pub(crate) async fn check_rules(
    conn: &mut PgConnection,
    id: i64,
    tolerances: &Tolerances,
) -> Result<(), EditError> {
    let outside: Option<(f64, Option<Value>, String)> = sqlx::query_as(
        "SELECT ST_Area(d), ST_AsGeoJSON(ST_Transform(d, 4326), 7)::json, c.legacy_name
         FROM land.parcels p
         JOIN land.communes c ON c.legacy_code = p.commune_code,
         LATERAL (SELECT ST_Difference(p.geom, ST_Transform(c.geom, ST_SRID(p.geom))) AS d) x
         WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((area, part, name)) = outside {
        if area > OUTSIDE_COMMUNE_TOLERANCE_M2 {
            return Err(EditError::Rule {
                reason: format!(
                    "{area:.1} m² of the parcel lie outside its commune ({name}); at most {OUTSIDE_COMMUNE_TOLERANCE_M2} m² may"
                ),
                part,
            });
        }
    }
    let overlap: Option<(f64, i64, i64, Option<Value>)> = sqlx::query_as(
        "SELECT ST_Area(i), n.sheet_number, n.parcel_number,
                ST_AsGeoJSON(ST_Transform(i, 4326), 7)::json
         FROM land.parcels p
         JOIN land.parcels n ON n.geom_3857 && p.geom_3857 AND n.id <> p.id
                            AND ST_Intersects(n.geom_3857, p.geom_3857),
         LATERAL (SELECT ST_Intersection(p.geom, ST_Transform(n.geom, ST_SRID(p.geom))) AS i) x
         WHERE p.id = $1
         ORDER BY ST_Area(i) DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((area, sheet, number, part)) = overlap {
        if area > tolerances.overlap_m2 {
            return Err(EditError::Rule {
                reason: format!(
                    "the parcel overlaps parcel {number} of sheet {sheet} by {area:.1} m²; at most {} m² may",
                    tolerances.overlap_m2
                ),
                part,
            });
        }
    }
    Ok(())
}

pub(crate) async fn bbox_of(conn: &mut PgConnection, id: i64) -> Result<[f64; 4], sqlx::Error> {
    let (a, b, c, d): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(geom_3857), ST_YMin(geom_3857), ST_XMax(geom_3857), ST_YMax(geom_3857)
         FROM land.parcels WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok([a, b, c, d])
}

pub(crate) fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// One attempt of [`update`].
async fn update_once(
    pool: &PgPool,
    id: i64,
    if_match: &str,
    change: &Change,
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Saved, EditError> {
    check_names(&change.properties, false)?;
    let mut tx = begin(pool).await?;
    let (_, srid) = lock(&mut tx, id, if_match, scope).await?;
    let before = bbox_of(&mut tx, id).await?;
    ensure_history(&mut tx, id).await?;
    let mut sets: Vec<String> = Vec::new();
    for name in editable() {
        if change.replace || change.properties.contains_key(name) {
            sets.push(format!("{name} = r.{name}"));
        }
    }
    let mut geometry = None;
    let mut snapping = None;
    let mut old: Option<Vec<u8>> = None;
    if let Some(g) = &change.geometry {
        check_geometry(&mut tx, g, Some(srid)).await?;
        let s = snapped_geometry(&mut tx, g, srid, &[id], tolerances, scope).await?;
        geometry = Some(s.wkb.clone());
        snapping = Some(s);
        old = sqlx::query_scalar("SELECT ST_AsBinary(geom) FROM land.parcels WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        sets.push(format!("geom = ST_Multi(ST_GeomFromWKB($3, {srid}))"));
    }
    if sets.is_empty() {
        return Err(EditError::Missing(
            "the change sets nothing: give properties or a geometry".into(),
        ));
    }
    sets.push("updated_at = now()".into());
    let sql = format!(
        "UPDATE land.parcels p SET {} FROM jsonb_populate_record(NULL::land.parcels, $2) r WHERE p.id = $1",
        sets.join(", ")
    );
    sqlx::query(&sql)
        .bind(id)
        .bind(Value::Object(change.properties.clone()))
        .bind(geometry)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    check_rules(&mut tx, id, tolerances).await?;
    if let Some(old) = &old {
        check_gap(&mut tx, id, old, tolerances).await?;
    }
    let (snapped, pending) = snapping.map_or((Vec::new(), Vec::new()), |s| (s.snapped, s.pending));
    let (neighbours, touched) = crate::snap::share(&mut tx, &pending, srid, id, edit).await?;
    let version = record(&mut tx, id, "update", false, edit).await?;
    let after = bbox_of(&mut tx, id).await?;
    let etag = written_tag(&mut tx, id).await?;
    tx.commit().await?;
    let bbox = union(before, after);
    Ok(Saved {
        id,
        etag,
        version,
        bbox_3857: touched.map_or(bbox, |t| union(bbox, t)),
        snapped,
        neighbours,
    })
}

/// One attempt of [`delete`].
async fn delete_once(
    pool: &PgPool,
    id: i64,
    if_match: &str,
    edit: &Edit,
    scope: Option<&[String]>,
) -> Result<Saved, EditError> {
    let mut tx = begin(pool).await?;
    lock(&mut tx, id, if_match, scope).await?;
    let bbox = bbox_of(&mut tx, id).await?;
    ensure_history(&mut tx, id).await?;
    let version = record(&mut tx, id, "delete", true, edit).await?;
    retire(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Saved {
        id,
        etag: String::new(),
        version,
        bbox_3857: bbox,
        snapped: Vec::new(),
        neighbours: Vec::new(),
    })
}

/// Removes parcel `id` from the living parcels and retires its number (its history stays).
pub(crate) async fn retire(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (DELETE FROM land.parcels WHERE id = $1
                       RETURNING commune_code, sheet_number, parcel_number)
         INSERT INTO land.retired_parcel_numbers (commune_code, sheet_number, parcel_number)
         SELECT * FROM gone ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One attempt of [`create`].
async fn create_once(
    pool: &PgPool,
    change: &Change,
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Saved, EditError> {
    check_names(&change.properties, true)?;
    let text = |n: &str| match change.properties.get(n) {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(x)) => Some(x.to_string()),
        _ => None,
    };
    let (Some(commune), Some(sheet), Some(number)) = (
        text("commune_code"),
        text("sheet_number"),
        text("parcel_number"),
    ) else {
        return Err(EditError::Missing(
            "a new parcel needs commune_code, sheet_number and parcel_number".into(),
        ));
    };
    in_scope(scope, &commune)?;
    let Some(geometry) = &change.geometry else {
        return Err(EditError::Missing("a new parcel needs a geometry".into()));
    };
    let mut tx = begin(pool).await?;
    let srid = check_geometry(&mut tx, geometry, None).await?;
    let retired: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM land.retired_parcel_numbers
                        WHERE commune_code = $1 AND sheet_number::text = $2 AND parcel_number::text = $3)",
    )
    .bind(&commune)
    .bind(&sheet)
    .bind(&number)
    .fetch_one(&mut *tx)
    .await?;
    if retired {
        return Err(rule(format!(
            "parcel number {number} of sheet {sheet} in commune {commune} belonged to a parcel that no longer exists; numbers are never given again"
        )));
    }
    let crate::snap::Snapping {
        wkb,
        snapped,
        pending,
    } = snapped_geometry(&mut tx, geometry, srid, &[], tolerances, scope).await?;
    let columns: Vec<&str> = IDENTITY.iter().copied().chain(editable()).collect();
    let sql = format!(
        "INSERT INTO land.parcels (source_id, {cols}, geom)
         SELECT 'bando/' || r.commune_code || '-' || r.sheet_number || '-' || r.parcel_number,
                {values}, ST_Multi(ST_GeomFromWKB($2, {srid}))
         FROM jsonb_populate_record(NULL::land.parcels, $1) r
         RETURNING id",
        cols = columns.join(", "),
        values = columns
            .iter()
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let id: i64 = sqlx::query_scalar(&sql)
        .bind(Value::Object(change.properties.clone()))
        .bind(wkb)
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
    check_rules(&mut tx, id, tolerances).await?;
    let (neighbours, touched) = crate::snap::share(&mut tx, &pending, srid, id, edit).await?;
    let version = record(&mut tx, id, "create", false, edit).await?;
    let bbox = bbox_of(&mut tx, id).await?;
    let etag = written_tag(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Saved {
        id,
        etag,
        version,
        bbox_3857: touched.map_or(bbox, |t| union(bbox, t)),
        snapped,
        neighbours,
    })
}

/// Changes parcel `id` (PATCH, or PUT with [`Change::replace`]) if its tag is still `if_match`,
/// checking the rules under `tolerances`.
pub async fn update(
    pool: &PgPool,
    id: i64,
    if_match: &str,
    change: &Change,
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Saved, EditError> {
    retrying(|| update_once(pool, id, if_match, change, edit, scope, tolerances)).await
}

/// Deletes parcel `id` (its lifespan ends; its number is retired) if its tag is `if_match`.
pub async fn delete(
    pool: &PgPool,
    id: i64,
    if_match: &str,
    edit: &Edit,
    scope: Option<&[String]>,
) -> Result<Saved, EditError> {
    retrying(|| delete_once(pool, id, if_match, edit, scope)).await
}

/// Creates a parcel from its identity, properties and geometry (CRS84 GeoJSON), checking the
/// rules under `tolerances`.
pub async fn create(
    pool: &PgPool,
    change: &Change,
    edit: &Edit,
    scope: Option<&[String]>,
    tolerances: &Tolerances,
) -> Result<Saved, EditError> {
    retrying(|| create_once(pool, change, edit, scope, tolerances)).await
}

/// Every version of parcel `id`, oldest first; empty when no parcel ever had this id. A
/// parcel never edited since its delivery has its delivered state as its only version (1,
/// `import`, living) — exactly the version its first edit records ([`ensure_history`]), so a
/// client sees the same first version before and after that edit.
pub async fn versions(pool: &PgPool, id: i64) -> Result<Vec<Version>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT version, action, to_json(begin_lifespan)#>>'{}', to_json(end_lifespan)#>>'{}',
                editor, reason, document, attributes,
                ST_AsGeoJSON(ST_Transform(geom, 4326), 9)::json
         FROM land.parcel_versions WHERE parcel_id = $1
         UNION ALL
         SELECT 1, 'import', to_json(p.updated_at)#>>'{}', NULL, 'import', 'as delivered',
                coalesce('import ' || p.import_id::text, 'delivery'),
                to_jsonb(p) - 'geom' - 'geom_3857' - 'place_fold',
                ST_AsGeoJSON(ST_Transform(p.geom, 4326), 9)::json
         FROM land.parcels p
         WHERE p.id = $1
           AND NOT EXISTS (SELECT 1 FROM land.parcel_versions v WHERE v.parcel_id = p.id)
         ORDER BY 1",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let attributes: Value = r.try_get(7)?;
        out.push(Version {
            version: r.try_get(0)?,
            action: r.try_get(1)?,
            begin_lifespan: r.try_get(2)?,
            end_lifespan: r.try_get(3)?,
            editor: r.try_get(4)?,
            reason: r.try_get(5)?,
            document: r.try_get(6)?,
            attributes: members(attributes),
            geometry: r.try_get(8)?,
        });
    }
    Ok(out)
}
