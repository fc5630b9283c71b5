//! The planning report of a parcel: its overlay with the planning zones (area and percent per
//! planned land-use function with the zone's limits), with the red and building lines, and the
//! buildings standing or planned on it (floors, height, the part of the footprint on the
//! parcel), all measured in the parcel's own VN-2000 TM-3 zone (planning geometry is
//! transformed into it).
//!
//! **Area cut by a line** (red line: the road boundary; building line: where building may
//! start). Lines are digitised with the block on their left and the road on their right (the
//! convention of bando's planning data, see the sample generator). Only lines whose interior
//! runs through the parcel's interior count (a parcel that merely fronts the road loses
//! nothing). The cut is the part of the parcel on the right (road) side of such a line, minus
//! what lies on the left (block) side of another such line: a parcel split by one red line
//! loses the piece on the road side; a parcel spanning the whole road corridor loses the
//! strip between the two opposite red lines, not the block beyond. Sides reach as far as the
//! parcel extends, alongside the line only (flat ends).

use serde::Serialize;
use sqlx::PgConnection;

/// Errors of the planning report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The database failed.
    #[error("planning overlay failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// A zone's share of the parcel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneShare {
    /// The plan version the zone belongs to (`None`: imported before plans existed).
    pub plan_id: Option<i64>,
    /// Zone code (ký hiệu ô quy hoạch).
    pub zone_code: String,
    /// Zone name, if any.
    pub zone_name: Option<String>,
    /// Planned function as recorded (a code of the function list, or a land-use code such as
    /// ODT that the list maps).
    pub function_code: Option<String>,
    /// The function of the list it names (`planning.zone_functions`), `None` when it names none.
    pub planned_function: Option<String>,
    /// Vietnamese title of that function; for a recorded code the list does not know, the
    /// title of that case ([`crate::functions::UNKNOWN_VI`]).
    pub function_name_vi: Option<String>,
    /// English title of that function (or [`crate::functions::UNKNOWN_EN`]).
    pub function_name_en: Option<String>,
    /// The planning palette's colour of the function (grey when unknown).
    pub function_colour: Option<String>,
    /// Area of the parcel inside the zone, m² (parcel's TM-3 zone).
    pub area_m2: f64,
    /// That area as a percentage of the parcel's area.
    pub percent: f64,
    /// Maximum building density, %.
    pub density_pct: Option<f64>,
    /// Maximum floors.
    pub max_floors: Option<i64>,
    /// Maximum height, m.
    pub max_height_m: Option<f64>,
    /// Setback, m.
    pub setback_m: Option<f64>,
    /// Floor area ratio (hệ số sử dụng đất).
    pub far: Option<f64>,
    /// Approving decision.
    pub decision_number: Option<String>,
    /// Date of the decision (ISO 8601).
    pub decision_date: Option<String>,
}

/// The parcel against one kind of line (red lines or building lines).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineCut {
    /// A line runs through the parcel's interior.
    pub crosses: bool,
    /// A line touches or runs along the parcel (within 5 cm), crossing or not.
    pub fronts: bool,
    /// Area on the road side of the crossing lines (see the module doc), m².
    pub cut_area_m2: f64,
    /// Length of the lines inside the parcel (not along its boundary), m.
    pub length_inside_m: f64,
    /// Names of the roads of the lines that touch or cross it.
    pub roads: Vec<String>,
}

/// A building on the parcel (existing, or planned by a plan the report reads).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BuildingOnParcel {
    /// The plan a planned building belongs to (`None`: existing, or imported before plans).
    pub plan_id: Option<i64>,
    /// Building code (mã công trình).
    pub building_code: String,
    /// Name, if any.
    pub name: Option<String>,
    /// `existing` or `planned` (`None` when the delivery did not say).
    pub status: Option<String>,
    /// Floors above ground.
    pub floors: Option<i64>,
    /// Height, m.
    pub height_m: Option<f64>,
    /// The footprint's whole area, m² (parcel's TM-3 zone).
    pub footprint_m2: f64,
    /// The part of the footprint on the parcel, m² (footprints need not follow parcel
    /// boundaries).
    pub on_parcel_m2: f64,
}

/// The overlay of one parcel with the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// EPSG code everything was measured in (the parcel's native zone).
    pub srid: i32,
    /// The parcel's area in that zone, m².
    pub parcel_area_m2: f64,
    /// Zones the parcel lies in, largest share first.
    pub zones: Vec<ZoneShare>,
    /// Area in no zone, m².
    pub unplanned_area_m2: f64,
    /// Red lines (chỉ giới đường đỏ).
    pub red_lines: LineCut,
    /// Building lines (chỉ giới xây dựng).
    pub building_lines: LineCut,
    /// Buildings on the parcel (sharing at least [`MIN_BUILDING_SHARE_M2`] with it), existing
    /// first, then by the part on the parcel, largest first.
    pub buildings: Vec<BuildingOnParcel>,
    /// The plans of the zones the parcel lies in, with their decisions and documents.
    pub plans: Vec<crate::plans::Plan>,
}

/// Area a footprint shares with the parcel for it to count as on it, m² (a footprint drawn
/// along the boundary would otherwise touch both neighbours).
pub const MIN_BUILDING_SHARE_M2: f64 = 0.5;

#[derive(sqlx::FromRow)]
struct ZoneRow {
    plan_id: Option<i64>,
    zone_code: String,
    name: Option<String>,
    land_use_function: Option<String>,
    density_pct: Option<f64>,
    max_floors: Option<i64>,
    max_height_m: Option<f64>,
    setback_m: Option<f64>,
    far: Option<f64>,
    decision_number: Option<String>,
    decision_date: Option<String>,
    area: f64,
    fn_code: Option<String>,
    fn_title_vi: Option<String>,
    fn_title_en: Option<String>,
    fn_colour: Option<String>,
}

/// Which plans a report reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plans {
    /// Approved plans in force today (everyone).
    InForce,
    /// Approved plans and drafts (planners).
    WithDrafts,
    /// The plans in force on that day (history).
    AsOf(chrono::NaiveDate),
}

impl Plans {
    /// SQL condition on the rows of alias `t` (a planning table) these plans hold.
    pub fn condition(self, alias: &str) -> String {
        let template = match self {
            Plans::InForce => crate::plugin::IN_FORCE.to_string(),
            Plans::WithDrafts => crate::plugin::WITH_DRAFTS.to_string(),
            // A date printed by chrono: digits and dashes only.
            Plans::AsOf(day) => format!(
                "{{t}}plan_id IS NULL OR {{t}}plan_id IN (SELECT planning.plans_in_force('{}'::date))",
                day.format("%Y-%m-%d")
            ),
        };
        format!("({})", template.replace("{t}", &format!("{alias}.")))
    }
}

/// A read-only transaction for a report's statements (one connection, one snapshot of the data)
/// with the plans PostgreSQL caches per connection: given the parcel's geometry as a bound
/// value, it otherwise planned each statement anew at every report (a custom plan looks
/// cheaper with the geometry known) — 1.7 ms of the ~3 ms an information sheet cost the
/// database at 1,000,000 parcels, where the cached plans are as good (bench/portal.sh).
pub async fn read_transaction(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ReportError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The planning report of a parcel given as EWKB in its native TM-3 zone, over `plans`; its
/// statements run on `conn`, one after the other.
pub async fn overlay(
    conn: &mut PgConnection,
    parcel_ewkb: &[u8],
    plans: Plans,
) -> Result<Report, ReportError> {
    let rows_z = plans.condition("z");
    let (srid, parcel_area_m2): (i32, f64) =
        sqlx::query_as("SELECT ST_SRID(g), ST_Area(g) FROM (SELECT ST_GeomFromEWKB($1) AS g) p")
            .bind(parcel_ewkb)
            .fetch_one(&mut *conn)
            .await?;
    let rows: Vec<ZoneRow> = sqlx::query_as(&format!(
        "WITH p AS (SELECT ST_GeomFromEWKB($1) AS g)
         SELECT z.plan_id, z.zone_code, z.name, z.land_use_function, z.density_pct, z.max_floors,
                z.max_height_m, z.setback_m, z.far, z.decision_number, z.decision_date::text,
                ST_Area(ST_Intersection(ST_Transform(z.geom, ST_SRID(p.g)), p.g)) AS area,
                f.code AS fn_code, f.title_vi AS fn_title_vi, f.title_en AS fn_title_en,
                f.colour AS fn_colour
         FROM p, planning.zones z
         LEFT JOIN LATERAL (
             SELECT f.code, f.title_vi, f.title_en, f.colour FROM planning.zone_functions f
             WHERE f.code = upper(btrim(z.land_use_function))
                OR upper(btrim(z.land_use_function)) = ANY (f.land_use_codes)
             ORDER BY f.code = upper(btrim(z.land_use_function)) DESC LIMIT 1) f ON true
         WHERE z.geom_3857 && ST_Transform(p.g, 3857)
           AND ST_Intersects(ST_Transform(z.geom, ST_SRID(p.g)), p.g) AND {rows_z}
         ORDER BY area DESC, z.zone_code"
    ))
    .bind(parcel_ewkb)
    .fetch_all(&mut *conn)
    .await?;
    // Zones may overlap (plans of different dates): the planned area is that of their union.
    let planned: f64 = sqlx::query_scalar(&format!(
        "WITH p AS (SELECT ST_GeomFromEWKB($1) AS g)
         SELECT coalesce(ST_Area(ST_Intersection(ST_Union(ST_Transform(z.geom, ST_SRID(p.g))), p.g)), 0)
         FROM planning.zones z, p
         WHERE z.geom_3857 && ST_Transform(p.g, 3857)
           AND ST_Intersects(ST_Transform(z.geom, ST_SRID(p.g)), p.g) AND {rows_z}
         GROUP BY p.g"
    ))
    .bind(parcel_ewkb)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(0.0);
    let mut plan_ids: Vec<i64> = rows
        .iter()
        .filter(|r| r.area > 0.0)
        .filter_map(|r| r.plan_id)
        .collect();
    plan_ids.sort_unstable();
    plan_ids.dedup();
    let plan_list = crate::plans::summaries(&mut *conn, &plan_ids, plans == Plans::WithDrafts)
        .await
        .map_err(|e| match e {
            crate::plans::PlanError::Db(e) => ReportError::Db(e),
            other => ReportError::Db(sqlx::Error::Protocol(other.to_string())),
        })?;
    let zones = rows
        .into_iter()
        .filter(|r| r.area > 0.0)
        .map(|r| {
            // A recorded function the list does not know says so (grey on the map too).
            let unknown = r.fn_code.is_none()
                && r.land_use_function
                    .as_deref()
                    .is_some_and(|c| !c.trim().is_empty());
            let (name_vi, name_en, colour) = if unknown {
                (
                    Some(crate::functions::UNKNOWN_VI.to_string()),
                    Some(crate::functions::UNKNOWN_EN.to_string()),
                    Some(crate::functions::UNKNOWN_COLOUR.to_string()),
                )
            } else {
                (r.fn_title_vi, r.fn_title_en, r.fn_colour)
            };
            ZoneShare {
                plan_id: r.plan_id,
                percent: if parcel_area_m2 > 0.0 {
                    r.area / parcel_area_m2 * 100.0
                } else {
                    0.0
                },
                zone_code: r.zone_code,
                zone_name: r.name,
                function_code: r.land_use_function,
                planned_function: r.fn_code,
                function_name_vi: name_vi,
                function_name_en: name_en,
                function_colour: colour,
                area_m2: r.area,
                density_pct: r.density_pct,
                max_floors: r.max_floors,
                max_height_m: r.max_height_m,
                setback_m: r.setback_m,
                far: r.far,
                decision_number: r.decision_number,
                decision_date: r.decision_date,
            }
        })
        .collect();
    Ok(Report {
        srid,
        parcel_area_m2,
        zones,
        unplanned_area_m2: (parcel_area_m2 - planned).max(0.0),
        red_lines: line_cut(&mut *conn, parcel_ewkb, "red_lines", plans).await?,
        building_lines: line_cut(&mut *conn, parcel_ewkb, "building_lines", plans).await?,
        buildings: buildings_on(&mut *conn, parcel_ewkb, plans).await?,
        plans: plan_list,
    })
}

/// The buildings on the parcel in the rows `plans` holds (drafts' planned buildings only for
/// planners), measured in the parcel's zone.
async fn buildings_on(
    conn: &mut PgConnection,
    parcel_ewkb: &[u8],
    plans: Plans,
) -> Result<Vec<BuildingOnParcel>, ReportError> {
    let sql = format!(
        "WITH p AS (SELECT ST_GeomFromEWKB($1) AS g)
         SELECT * FROM (
             SELECT b.plan_id, b.building_code, b.name, b.status, b.floors, b.height_m,
                    ST_Area(ST_Transform(b.geom, ST_SRID(p.g))) AS footprint_m2,
                    ST_Area(ST_Intersection(ST_Transform(b.geom, ST_SRID(p.g)), p.g)) AS on_parcel_m2
             FROM p, planning.buildings b
             WHERE b.geom_3857 && ST_Transform(p.g, 3857)
               AND ST_Intersects(ST_Transform(b.geom, ST_SRID(p.g)), p.g) AND {rows}) s
         WHERE on_parcel_m2 >= $2
         ORDER BY status IS DISTINCT FROM 'existing', on_parcel_m2 DESC, building_code",
        rows = plans.condition("b")
    );
    Ok(sqlx::query_as(&sql)
        .bind(parcel_ewkb)
        .bind(MIN_BUILDING_SHARE_M2)
        .fetch_all(&mut *conn)
        .await?)
}

/// The parcel against `planning.<table>` (a line table of this crate; see the module doc).
async fn line_cut(
    conn: &mut PgConnection,
    parcel_ewkb: &[u8],
    table: &str,
    plans: Plans,
) -> Result<LineCut, ReportError> {
    let table = match table {
        "red_lines" => "planning.red_lines",
        _ => "planning.building_lines",
    };
    let sql = format!(
        "WITH p AS (SELECT g, ST_Transform(g, 3857) AS g3857,
                           2 * greatest(ST_XMax(g) - ST_XMin(g), ST_YMax(g) - ST_YMin(g)) + 1 AS reach
                    FROM (SELECT ST_GeomFromEWKB($1) AS g) s),
         near AS (SELECT r.road_name, (ST_Dump(ST_Transform(r.geom, ST_SRID(p.g)))).geom AS g
                  FROM {table} r, p
                  WHERE r.geom_3857 && ST_Expand(p.g3857, 1) AND {rows}),
         touching AS (SELECT near.* FROM near, p WHERE ST_DWithin(near.g, p.g, 0.05)),
         x AS (SELECT touching.g FROM touching, p WHERE ST_Relate(touching.g, p.g, '1********')),
         road AS (SELECT ST_Union(ST_Buffer(x.g, p.reach, 'side=right')) AS g FROM x, p),
         block AS (SELECT ST_Union(ST_Buffer(x.g, p.reach, 'side=left')) AS g FROM x, p)
         SELECT (SELECT count(*) FROM x),
                (SELECT count(*) FROM touching),
                (SELECT coalesce(sum(ST_Length(ST_Intersection(x.g, p.g))
                                     - ST_Length(ST_Intersection(x.g, ST_Boundary(p.g)))), 0)
                 FROM x, p),
                (SELECT coalesce(ST_Area(ST_Intersection(p.g, ST_Difference(road.g, block.g))), 0)
                 FROM p, road, block),
                (SELECT coalesce(array_agg(DISTINCT road_name ORDER BY road_name)
                                 FILTER (WHERE road_name IS NOT NULL), '{{}}')
                 FROM touching)",
        rows = plans.condition("r")
    );
    let (crossing, touching, length, area, roads): (i64, i64, f64, f64, Vec<String>) =
        sqlx::query_as(&sql)
            .bind(parcel_ewkb)
            .fetch_one(&mut *conn)
            .await?;
    Ok(LineCut {
        crosses: crossing > 0,
        fronts: touching > 0,
        cut_area_m2: area.max(0.0),
        length_inside_m: length.max(0.0),
        roads,
    })
}
