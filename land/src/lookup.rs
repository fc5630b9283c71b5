//! Finding parcels by their identity (commune + map sheet + parcel number) with either the
//! pre-merger or the post-merger commune code, or by row id; and the native TM-3 zone of a
//! point (the `land.native_srid` rule, so callers never repeat it).
//!
//! Since 2025-07-01 several old communes form one new one, and map sheets were numbered per
//! old commune, so a post-merger code with a sheet and parcel number can match one parcel in
//! each old commune: every match comes back with its old commune code and the caller lets the
//! user pick. Owner names are never selected here: these answers are public.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

/// Errors of parcel lookups.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// A commune code is five digits.
    #[error("commune code \"{0}\" is not a commune code: commune codes are five digits, e.g. 25252 (pre- or post-merger)")]
    BadCommuneCode(String),
    /// An address search names no word of three letters or more (a house number alone would
    /// read every parcel).
    #[error("an address search needs a street or place name (a word of at least 3 letters), not only numbers or short words")]
    VagueAddress,
    /// The database failed.
    #[error("parcel lookup failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// What identifies the parcels searched for. `commune` is a pre- or post-merger code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelQuery {
    /// Commune code, pre- or post-merger (five digits).
    pub commune: String,
    /// Map sheet number, if known.
    pub sheet: Option<i64>,
    /// Parcel number, if known.
    pub number: Option<i64>,
}

/// A parcel's public description (never the owner).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parcel {
    /// Row id.
    pub id: i64,
    /// Pre-merger commune code (the code the parcel is numbered in).
    pub commune_code: String,
    /// Pre-merger commune name, when the commune is known.
    pub commune_name: Option<String>,
    /// Post-merger commune code.
    pub commune_code_new: Option<String>,
    /// Post-merger commune name.
    pub commune_name_new: Option<String>,
    /// Map sheet number.
    pub sheet_number: i64,
    /// Parcel number.
    pub parcel_number: i64,
    /// Area measured in the parcel's native TM-3 zone, m².
    pub area_m2: f64,
    /// The parcel's other public properties, by name: every column the parcels' declaration
    /// ([`crate::tables::PARCELS`]) calls public, so a column added there is published here
    /// and a restricted one never is.
    #[serde(flatten)]
    pub properties: serde_json::Map<String, Value>,
    /// EPSG code of the parcel's native zone.
    pub srid: i32,
    /// Geometry as GeoJSON in CRS84.
    #[serde(skip)]
    pub geometry: Value,
    /// Bounding box in CRS84: west, south, east, north.
    #[serde(skip)]
    pub bbox: [f64; 4],
    /// Native geometry as EWKB (for overlays computed in its zone).
    #[serde(skip)]
    pub ewkb: Vec<u8>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    id: i64,
    commune_code: String,
    commune_name: Option<String>,
    commune_code_new: Option<String>,
    commune_name_new: Option<String>,
    sheet_number: i64,
    parcel_number: i64,
    area_m2: f64,
    properties: Value,
    srid: i32,
    geometry: Value,
    west: f64,
    south: f64,
    east: f64,
    north: f64,
    ewkb: Vec<u8>,
}

/// The identity columns, named by the struct itself; the rest comes from the declaration.
const IDENTITY: [&str; 3] = ["commune_code", "sheet_number", "parcel_number"];

/// The select of `Row`, from `land.parcels p` joined to its commune `c`: the public columns of
/// the declaration gathered into `properties`.
pub(crate) fn select() -> &'static str {
    static SELECT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SELECT.get_or_init(|| {
        let pairs: Vec<String> = crate::tables::PARCELS
            .columns
            .iter()
            .filter(|c| c.access == gis_core::layer::Access::Public)
            .filter(|c| !IDENTITY.contains(&c.name))
            .map(|c| format!("'{0}', p.{0}", c.name))
            .collect();
        format!(
            "SELECT p.id, p.commune_code, c.legacy_name AS commune_name,
                c.code AS commune_code_new, c.name AS commune_name_new, p.sheet_number,
                p.parcel_number, p.area_m2, jsonb_build_object({}) AS properties,
                ST_SRID(p.geom) AS srid,
                ST_AsGeoJSON(ST_Transform(p.geom, 4326), 9)::json AS geometry,
                ST_XMin(bb.b) AS west, ST_YMin(bb.b) AS south, ST_XMax(bb.b) AS east,
                ST_YMax(bb.b) AS north, ST_AsEWKB(p.geom) AS ewkb
            FROM land.parcels p
            LEFT JOIN land.communes c ON c.legacy_code = p.commune_code
            CROSS JOIN LATERAL (SELECT ST_Transform(p.geom_3857, 4326)::box2d AS b) bb",
            pairs.join(", ")
        )
    })
}

pub(crate) fn to_parcel(r: Row) -> Parcel {
    Parcel {
        id: r.id,
        commune_code: r.commune_code,
        commune_name: r.commune_name,
        commune_code_new: r.commune_code_new,
        commune_name_new: r.commune_name_new,
        sheet_number: r.sheet_number,
        parcel_number: r.parcel_number,
        area_m2: r.area_m2,
        properties: crate::edit::members(r.properties),
        srid: r.srid,
        geometry: r.geometry,
        bbox: [r.west, r.south, r.east, r.north],
        ewkb: r.ewkb,
    }
}

/// Checks the form of a commune code (five ASCII digits).
pub fn check_commune_code(code: &str) -> Result<(), LookupError> {
    if code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(LookupError::BadCommuneCode(code.to_string()))
    }
}

/// Parcels matching `query` (the commune as pre-merger code, or every old commune of a
/// post-merger code), ordered by old commune, sheet and number, at most `limit`. The codes are
/// resolved first, so the parcels' identity index answers.
pub async fn find(
    pool: &PgPool,
    query: &ParcelQuery,
    limit: u32,
) -> Result<Vec<Parcel>, LookupError> {
    check_commune_code(&query.commune)?;
    let sql = format!(
        "{}
         WHERE p.commune_code = ANY (ARRAY(
                 SELECT $1::text UNION SELECT legacy_code FROM land.communes WHERE code = $1))
           AND ($2::bigint IS NULL OR p.sheet_number = $2)
           AND ($3::bigint IS NULL OR p.parcel_number = $3)
         ORDER BY p.commune_code, p.sheet_number, p.parcel_number
         LIMIT $4",
        select()
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(&query.commune)
        .bind(query.sheet)
        .bind(query.number)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(to_parcel).collect())
}

/// What a commune code, sheet and parcel number name ([`identify`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Identified {
    /// Exactly one parcel.
    One(Box<Parcel>),
    /// No parcel.
    Nothing,
    /// A post-merger commune code whose old communes each have a parcel of that sheet and
    /// number (each old commune numbered its own): the reader must name the old commune or the
    /// parcel's id. The candidates, in old commune order.
    Several(Vec<Parcel>),
}

/// The parcel `commune` (pre- or post-merger code), `sheet` and `number` identify. A parcel's
/// identity is its old commune, sheet and number, so a pre-merger code names at most one; a
/// post-merger code covers several old communes and may name one parcel in each
/// ([`Identified::Several`], at most `limit` listed).
pub async fn identify(
    pool: &PgPool,
    commune: &str,
    sheet: i64,
    number: i64,
    limit: u32,
) -> Result<Identified, LookupError> {
    let query = ParcelQuery {
        commune: commune.to_string(),
        sheet: Some(sheet),
        number: Some(number),
    };
    let mut found = find(pool, &query, limit).await?;
    Ok(match found.len() {
        0 => Identified::Nothing,
        1 => Identified::One(Box::new(found.remove(0))),
        _ => Identified::Several(found),
    })
}

/// The parcel with this row id.
pub async fn by_id<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: i64,
) -> Result<Option<Parcel>, LookupError> {
    let sql = format!("{} WHERE p.id = $1", select());
    let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(db).await?;
    Ok(row.map(to_parcel))
}

/// The native VN-2000 TM-3 zone (EPSG code) of a WGS84 point: the zone of the commune it falls
/// in, else by longitude (`land.native_srid`, migration 1001).
pub async fn native_srid(pool: &PgPool, lon: f64, lat: f64) -> Result<u32, LookupError> {
    let srid: i32 =
        sqlx::query_scalar("SELECT land.native_srid(ST_SetSRID(ST_MakePoint($1, $2), 4326))")
            .bind(lon)
            .bind(lat)
            .fetch_one(pool)
            .await?;
    Ok(u32::try_from(srid).unwrap_or(gis_core::crs::VN2000_TM3_106_15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commune_codes_are_five_digits() {
        assert!(check_commune_code("25252").is_ok());
        for bad in ["", "2525", "252520", "2525a", "25 52", "２５２５２"] {
            assert!(check_commune_code(bad).is_err(), "{bad}");
        }
    }
}
