//! OGC API – Features items over a layer's feature table: the request as typed values
//! ([`ItemsQuery`]), the SQL built from it, and the page of GeoJSON features PostgreSQL
//! assembles (`json_build_object` + `ST_AsGeoJSON`).
//!
//! - **Properties** come from the layer registry ([`PropertyDef`]); a caller reading as
//!   [`Access::Public`] never sees, selects, sorts or filters on a restricted one.
//! - **bbox** is transformed once into Web Mercator and tested against the indexed
//!   `geom_3857` (`&&`, then `ST_Intersects`); the box is densified first so that a box in a
//!   projected CRS keeps its shape.
//! - **CRS** (OGC API – Features Part 2): output in any EPSG code PostGIS knows
//!   (`ST_Transform(geom, srid)` per row, since rows carry their own TM-3 SRID). Axis order
//!   follows the CRS definition: CRS84 is longitude/latitude; EPSG:4326 and EPSG:4756 named
//!   explicitly are latitude/longitude (their EPSG axis order), which is why
//!   [`OutputCrs::lat_first`] exists; the projected TM-3 and UTM codes are easting/northing.
//!   The same rule applies to `bbox` in `bbox-crs` and to CQL2 literals in `filter-crs`
//!   ([`ItemsQuery::filter_crs`]).
//! - **Paging** is keyset paging: pages are ordered by the sort keys then `id`, and the
//!   `next`/`prev` links carry an opaque [`Cursor`] with the last (first) row's key values, so
//!   rows inserted or deleted between requests never shift a page.
//! - **numberMatched** is an exact `count(*)` under the same conditions.
//! - **Filters** are CQL2 compiled by [`cql2::compile`] against [`queryables`];
//!   every user value reaches PostgreSQL as a bind parameter.

use serde_json::value::RawValue;
use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::{PgPool, Row as _};

use crate::db::quote_ident;
use crate::layer::{Access, Layer, PropertyDef, PropertyKind, Scope, Sight};
use cql2::{self, Cql2Error, Expr, FilterContext, Queryable, QueryableType, SqlParam};

/// Page size when the request names none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size; larger `limit`s are refused.
pub const MAX_LIMIT: u32 = 10_000;
/// Most features one download (GeoPackage, CSV) may hold.
pub const MAX_DOWNLOAD: u32 = 100_000;
/// Name of the geometry in queryables and filters.
pub const GEOMETRY_QUERYABLE: &str = "geometry";

/// Why an items request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeaturesError {
    /// A parameter is malformed or names something unknown (HTTP 400).
    #[error("parameter '{param}': {reason}")]
    Invalid {
        /// The query parameter at fault.
        param: &'static str,
        /// Why, for a person.
        reason: String,
    },
    /// The request uses a property the caller may not read (HTTP 403).
    #[error("parameter '{param}': property \"{property}\" is not available to this user")]
    Forbidden {
        /// The query parameter at fault.
        param: &'static str,
        /// The property as written.
        property: String,
    },
    /// The CQL2 filter is refused ([`Cql2Error::Forbidden`] is 403, [`Cql2Error::Context`]
    /// a server bug, the rest 400).
    #[error("parameter 'filter': {0}")]
    Filter(#[from] Cql2Error),
    /// A value the database could not read (a date, a number in a cursor…) (HTTP 400).
    #[error("a value in the request is not valid: {0}")]
    BadValue(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for FeaturesError {
    fn from(e: sqlx::Error) -> Self {
        // SQLSTATE class 22 (data exception): a value the user wrote that the cast refused.
        if let sqlx::Error::Database(db) = &e {
            if db.code().is_some_and(|c| c.starts_with("22")) {
                return FeaturesError::BadValue(db.message().to_string());
            }
        }
        if crate::db::is_transform_error(&e) {
            let reason = match &e {
                sqlx::Error::Database(db) => db.message().to_string(),
                other => other.to_string(),
            };
            return FeaturesError::BadValue(format!(
                "a coordinate lies outside the area its CRS covers (check bbox, bbox-crs, \
                 filter-crs and the axis order): {reason}"
            ));
        }
        FeaturesError::Db(e)
    }
}

fn invalid(param: &'static str, reason: impl Into<String>) -> FeaturesError {
    FeaturesError::Invalid {
        param,
        reason: reason.into(),
    }
}

/// The properties of `layer` that a caller with `access` may read, in registry order.
pub fn visible_properties(layer: &dyn Layer, access: Access) -> Vec<PropertyDef> {
    layer
        .properties()
        .into_iter()
        .filter(|p| p.access <= access)
        .collect()
}

fn restricted_names(layer: &dyn Layer, access: Access) -> Vec<String> {
    layer
        .properties()
        .into_iter()
        .filter(|p| p.access > access)
        .map(|p| p.name)
        .collect()
}

fn column(name: &str) -> String {
    format!("t.{}", quote_ident(name))
}

fn queryable_type(kind: PropertyKind) -> QueryableType {
    match kind {
        PropertyKind::String => QueryableType::String,
        PropertyKind::Integer => QueryableType::Integer,
        PropertyKind::Number => QueryableType::Number,
        PropertyKind::Boolean => QueryableType::Boolean,
        PropertyKind::Date => QueryableType::Date,
        PropertyKind::DateTime => QueryableType::Timestamp,
    }
}

fn sql_type(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::String => "text",
        PropertyKind::Integer => "bigint",
        PropertyKind::Number => "float8",
        PropertyKind::Boolean => "boolean",
        PropertyKind::Date => "date",
        PropertyKind::DateTime => "timestamptz",
    }
}

/// What filters may use: `id`, the geometry (read in Web Mercator from the indexed serving
/// column, so literals are transformed there), `updated_at` (every feature table has it) and
/// every visible property.
pub fn queryables(layer: &dyn Layer, access: Access) -> Vec<Queryable> {
    let mut out = vec![
        Queryable::new("id", QueryableType::Integer, "t.id"),
        Queryable::new(GEOMETRY_QUERYABLE, QueryableType::Geometry, "t.geom_3857"),
        Queryable::new("updated_at", QueryableType::Timestamp, "t.updated_at"),
    ];
    for p in visible_properties(layer, access) {
        out.push(Queryable::new(
            p.name.clone(),
            queryable_type(p.kind),
            column(&p.name),
        ));
    }
    out
}

/// The property `datetime` filters on: the layer's first date property, else `updated_at`
/// (every feature table has it). Returns the column name and whether it is a `date`.
pub fn temporal_property(layer: &dyn Layer, access: Access) -> (String, bool) {
    visible_properties(layer, access)
        .into_iter()
        .find(|p| matches!(p.kind, PropertyKind::Date | PropertyKind::DateTime))
        .map(|p| (p.name, p.kind == PropertyKind::Date))
        .unwrap_or_else(|| ("updated_at".to_string(), false))
}

/// The CRS features are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCrs {
    /// EPSG code.
    pub srid: u32,
    /// Write latitude (northing) first: EPSG:4326 or EPSG:4756 named explicitly.
    pub lat_first: bool,
    /// Geographic (degrees: 9 decimals) rather than projected (metres: 4 decimals).
    pub geographic: bool,
}

impl From<&crate::crs::RequestCrs> for OutputCrs {
    fn from(c: &crate::crs::RequestCrs) -> Self {
        OutputCrs {
            srid: c.info.epsg,
            lat_first: c.lat_first,
            geographic: !c.info.projected,
        }
    }
}

impl OutputCrs {
    /// CRS84: WGS84 longitude/latitude, the default of OGC API – Features.
    pub const CRS84: OutputCrs = OutputCrs {
        srid: 4326,
        lat_first: false,
        geographic: true,
    };

    fn digits(&self) -> u32 {
        if self.geographic {
            9
        } else {
            4
        }
    }

    fn geometry_sql(&self) -> String {
        let g = if self.srid == 3857 {
            "t.geom_3857".to_string()
        } else {
            format!("ST_Transform(t.geom, {})", self.srid)
        };
        if self.lat_first {
            format!("ST_FlipCoordinates({g})")
        } else {
            g
        }
    }
}

/// A `bbox` in its CRS, as x/y (easting/longitude first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// West, south, east, north (x/y order).
    pub coords: [f64; 4],
    /// SRID of the coordinates.
    pub srid: u32,
    /// Geographic CRS (latitudes are clamped to Web Mercator's ±85.0511°).
    pub geographic: bool,
}

/// Parses a `bbox` value: 4 or 6 comma-separated numbers (the heights of a 6-number box are
/// ignored). `lat_first` swaps the pairs into x/y order (EPSG:4326 named explicitly).
pub fn parse_bbox(
    text: &str,
    srid: u32,
    lat_first: bool,
    geographic: bool,
) -> Result<Bbox, FeaturesError> {
    let nums: Result<Vec<f64>, _> = text.split(',').map(|s| s.trim().parse::<f64>()).collect();
    let nums = nums.map_err(|_| {
        invalid(
            "bbox",
            "expected 4 comma-separated numbers: minx,miny,maxx,maxy",
        )
    })?;
    let mut c = match nums.len() {
        4 => [nums[0], nums[1], nums[2], nums[3]],
        6 => [nums[0], nums[1], nums[3], nums[4]],
        n => {
            return Err(invalid(
                "bbox",
                format!("expected 4 or 6 numbers, found {n}"),
            ))
        }
    };
    if c.iter().any(|v| !v.is_finite()) {
        return Err(invalid("bbox", "coordinates must be finite numbers"));
    }
    if lat_first {
        c = [c[1], c[0], c[3], c[2]];
    }
    if c[0] > c[2] || c[1] > c[3] {
        return Err(invalid(
            "bbox",
            "the lower corner must not exceed the upper corner (boxes across the antimeridian are not supported)",
        ));
    }
    if geographic {
        if c[1] < -90.0 || c[3] > 90.0 || c[0] < -180.0 || c[2] > 180.0 {
            return Err(invalid(
                "bbox",
                "longitudes must lie in -180..180 and latitudes in -90..90",
            ));
        }
        c[1] = c[1].max(-85.0511);
        c[3] = c[3].min(85.0511);
        if c[1] > c[3] {
            return Err(invalid(
                "bbox",
                "the box lies outside Web Mercator's latitudes",
            ));
        }
    }
    Ok(Bbox {
        coords: c,
        srid,
        geographic,
    })
}

/// A `datetime` instant or interval; `None` ends are open (`..` or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// Start (a date `YYYY-MM-DD` or an RFC 3339 timestamp).
    pub start: Option<String>,
    /// End.
    pub end: Option<String>,
}

fn looks_temporal(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || matches!(b[10], b'T' | b't' | b' '))
}

/// Whether a date or timestamp shaped text names a real instant (`2024-02-30` does not):
/// PostgreSQL would refuse it inside the query, which must not be a server error.
fn real_instant(s: &str) -> bool {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok();
    }
    let t = s.replacen([' ', 't'], "T", 1);
    DateTime::parse_from_rfc3339(&t).is_ok()
        || NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M").is_ok()
}

/// Parses `datetime`: `2024-05-01`, `2024-05-01T10:00:00Z`, `start/end`, `../end`, `start/..`.
pub fn parse_datetime(text: &str) -> Result<Interval, FeaturesError> {
    let bound = |s: &str| -> Result<Option<String>, FeaturesError> {
        let s = s.trim();
        if s.is_empty() || s == ".." {
            return Ok(None);
        }
        if !looks_temporal(s) || !real_instant(s) {
            return Err(invalid(
                "datetime",
                format!(
                    "\"{}\" is not a date (YYYY-MM-DD) or an RFC 3339 timestamp",
                    s.chars().take(40).collect::<String>()
                ),
            ));
        }
        Ok(Some(s.to_string()))
    };
    match text.split_once('/') {
        None => {
            let b = bound(text)?.ok_or_else(|| invalid("datetime", "an instant cannot be open"))?;
            Ok(Interval {
                start: Some(b.clone()),
                end: Some(b),
            })
        }
        Some((s, e)) => {
            let (start, end) = (bound(s)?, bound(e)?);
            if start.is_none() && end.is_none() {
                return Err(invalid("datetime", "at least one end must be given"));
            }
            Ok(Interval { start, end })
        }
    }
}

/// One `sortby` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Property name (or `id`).
    pub property: String,
    /// Descending.
    pub descending: bool,
}

/// Parses `sortby`: `name,-area,+id` (a leading `+` or none is ascending).
pub fn parse_sortby(text: &str) -> Result<Vec<SortKey>, FeaturesError> {
    let mut keys = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (descending, name) = match part.as_bytes().first() {
            Some(b'-') => (true, &part[1..]),
            Some(b'+') => (false, &part[1..]),
            _ => (false, part),
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid("sortby", "empty sort key"));
        }
        if keys.iter().any(|k: &SortKey| k.property == name) {
            return Err(invalid("sortby", format!("\"{name}\" is named twice")));
        }
        keys.push(SortKey {
            property: name.to_string(),
            descending,
        });
    }
    if keys.len() > 8 {
        return Err(invalid("sortby", "at most 8 sort keys"));
    }
    Ok(keys)
}

/// Where a page starts: after (`next`) or before (`prev`) a row's sort values and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `true` for a `prev` cursor (rows before the key).
    pub backward: bool,
    /// Values of the sort keys as PostgreSQL text (`None` for NULL).
    pub keys: Vec<Option<String>>,
    /// The row's id.
    pub id: i64,
}

impl Cursor {
    /// The opaque token carried in links (hex of a small JSON array).
    pub fn encode(&self) -> String {
        let json = serde_json::json!([if self.backward { "p" } else { "n" }, self.id, self.keys]);
        json.to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Reads a token written by [`Cursor::encode`].
    pub fn decode(token: &str) -> Result<Cursor, FeaturesError> {
        let bad = || {
            invalid(
                "cursor",
                "not a cursor from a next or prev link of this server",
            )
        };
        if !token.len().is_multiple_of(2) || token.len() > 16_384 {
            return Err(bad());
        }
        let bytes: Result<Vec<u8>, _> = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16))
            .collect();
        let bytes = bytes.map_err(|_| bad())?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let arr = value.as_array().ok_or_else(bad)?;
        let backward = match arr.first().and_then(Value::as_str) {
            Some("p") => true,
            Some("n") => false,
            _ => return Err(bad()),
        };
        let id = arr.get(1).and_then(Value::as_i64).ok_or_else(bad)?;
        let keys = arr
            .get(2)
            .and_then(Value::as_array)
            .ok_or_else(bad)?
            .iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cursor { backward, keys, id })
    }
}

/// How geometry is written in each feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryFormat {
    /// GeoJSON geometry object.
    GeoJson,
    /// Well-known text (a string), for downloads.
    Wkt,
}

/// A parsed items request.
#[derive(Debug, Clone)]
pub struct ItemsQuery {
    /// Spatial filter.
    pub bbox: Option<Bbox>,
    /// Temporal filter (see [`temporal_property`]).
    pub datetime: Option<Interval>,
    /// The instant whose state is read (a date `YYYY-MM-DD`: the end of that day), on a
    /// layer with history ([`Layer::as_of_function`]); `None` reads the living features.
    pub as_of: Option<String>,
    /// CQL2 filter.
    pub filter: Option<Expr>,
    /// CRS of the filter's geometry literals (`filter-crs`): SRID, axis order (a geographic
    /// CRS named by EPSG code is latitude first, as for [`ItemsQuery::crs`]; CRS84 and
    /// projected CRSs are x/y) and whether it is in degrees.
    pub filter_crs: OutputCrs,
    /// Equality filters from queryables used as query parameters (`land_use_code=ONT`).
    pub equals: Vec<(String, String)>,
    /// Property selection; `None` for all visible properties.
    pub properties: Option<Vec<String>>,
    /// Sort keys (before the `id` tiebreaker).
    pub sortby: Vec<SortKey>,
    /// Page size.
    pub limit: u32,
    /// Where the page starts.
    pub cursor: Option<Cursor>,
    /// Output CRS.
    pub crs: OutputCrs,
    /// Geometry encoding.
    pub geometry: GeometryFormat,
    /// The caller's access level.
    pub access: Access,
    /// Where `access` applies when it is limited to some communes (a land officer): restricted
    /// properties of other rows read as null, and a query that filters or sorts on one is
    /// confined to the scope (it must not reveal, by what it matches, data it may not show).
    pub scope: Option<Scope>,
}

impl ItemsQuery {
    /// The first page of everything, 100 features in CRS84, as an anonymous reader.
    pub fn new() -> Self {
        ItemsQuery {
            bbox: None,
            datetime: None,
            as_of: None,
            filter: None,
            filter_crs: OutputCrs::CRS84,
            equals: Vec::new(),
            properties: None,
            sortby: Vec::new(),
            limit: DEFAULT_LIMIT,
            cursor: None,
            crs: OutputCrs::CRS84,
            geometry: GeometryFormat::GeoJson,
            access: Access::Public,
            scope: None,
        }
    }
}

impl Default for ItemsQuery {
    fn default() -> Self {
        Self::new()
    }
}

/// A page of features.
#[derive(Debug, Clone)]
pub struct Page {
    /// GeoJSON features as PostgreSQL wrote them (`geometry` is a WKT string with
    /// [`GeometryFormat::Wkt`]): kept as raw JSON text so a GeoJSON answer is written without
    /// parsing and re-serialising every feature; [`Page::values`] parses them when needed.
    pub features: Vec<Box<RawValue>>,
    /// Features matching the request's conditions, over all pages.
    pub number_matched: i64,
    /// Cursor of the next page, if there is one.
    pub next: Option<Cursor>,
    /// Cursor of the previous page, if there is one.
    pub prev: Option<Cursor>,
    /// The properties written, in order (for tabular downloads).
    pub properties: Vec<PropertyDef>,
}

impl Page {
    /// The features parsed (HTML and tabular downloads read their members).
    pub fn values(&self) -> Vec<Value> {
        self.features
            .iter()
            .map(|f| serde_json::from_str(f.get()).unwrap_or(Value::Null))
            .collect()
    }
}

/// SQL under construction: text plus parameters in placeholder order.
#[derive(Debug, Clone, Default)]
struct Sql {
    /// The relation read: the layer's table, or its state at an instant.
    from: String,
    conditions: Vec<String>,
    params: Vec<SqlParam>,
}

impl Sql {
    fn bind(&mut self, p: SqlParam) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    fn args(&self) -> Result<PgArguments, FeaturesError> {
        let mut args = PgArguments::default();
        for p in &self.params {
            p.add_to(&mut args)
                .map_err(|e| FeaturesError::Db(sqlx::Error::Encode(e)))?;
        }
        Ok(args)
    }
}

/// A resolved sort key: SQL expression and type.
struct Key {
    sql: String,
    ty: &'static str,
    descending: bool,
}

fn property_of<'a>(
    visible: &'a [PropertyDef],
    restricted: &[String],
    name: &str,
    param: &'static str,
) -> Result<&'a PropertyDef, FeaturesError> {
    if let Some(p) = visible.iter().find(|p| p.name == name) {
        return Ok(p);
    }
    if restricted.iter().any(|r| r == name) {
        return Err(FeaturesError::Forbidden {
            param,
            property: name.to_string(),
        });
    }
    let names: Vec<&str> = visible.iter().map(|p| p.name.as_str()).collect();
    Err(invalid(
        param,
        format!(
            "unknown property \"{}\"; the properties are: {}",
            name.chars().take(60).collect::<String>(),
            names.join(", ")
        ),
    ))
}

/// The instant of `datetime=<instant>` as SQL, from the bound parameter `p` holding a date
/// (`date_only`) or an RFC 3339 timestamp (checked by [`parse_datetime`]): a date is its last
/// instant, the state once that day's changes were made. Tiles as of an instant read it the
/// same way.
pub fn as_of_instant(p: &str, date_only: bool) -> String {
    if date_only {
        format!("(({p})::date + 1)::timestamptz - interval '1 microsecond'")
    } else {
        format!("({p})::timestamptz")
    }
}

/// The conditions every query of `q` shares (everything except the cursor).
fn conditions(layer: &dyn Layer, q: &ItemsQuery) -> Result<Sql, FeaturesError> {
    let visible = visible_properties(layer, q.access);
    let restricted = restricted_names(layer, q.access);
    let mut sql = Sql {
        from: layer.storage().qualified(),
        ..Sql::default()
    };
    let mut as_of = None;
    if let Some(at) = &q.as_of {
        let Some(function) = layer.as_of_function() else {
            return Err(invalid(
                "datetime",
                "this collection keeps no history: datetime filters on its temporal property",
            ));
        };
        if !looks_temporal(at) {
            return Err(invalid(
                "datetime",
                "the instant is a date (YYYY-MM-DD) or an RFC 3339 timestamp",
            ));
        }
        let p = sql.bind(SqlParam::Text(at.clone()));
        let instant = as_of_instant(&p, at.len() == 10);
        sql.from = format!("{function}({instant})");
        as_of = Some((function, instant));
    }
    if let Some(b) = &q.bbox {
        let [a, s, c, d] = b.coords;
        let seg = ((c - a).max(d - s) / 16.0).max(1e-9);
        let env = format!(
            "ST_Transform(ST_Segmentize(ST_MakeEnvelope({}, {}, {}, {}, {}), {}), 3857)",
            sql.bind(SqlParam::Float(a)),
            sql.bind(SqlParam::Float(s)),
            sql.bind(SqlParam::Float(c)),
            sql.bind(SqlParam::Float(d)),
            b.srid,
            sql.bind(SqlParam::Float(seg)),
        );
        // The state at an instant in a box: the owner's function applies the box where its
        // history is indexed (Layer::as_of_function).
        if let Some((function, instant)) = &as_of {
            sql.from = format!("{function}({instant}, {env})");
        }
        sql.conditions.push(format!(
            "t.geom_3857 && {env} AND ST_Intersects(t.geom_3857, {env})"
        ));
    }
    if let Some(iv) = &q.datetime {
        let (name, is_date) = temporal_property(layer, q.access);
        let col = column(&name);
        if let Some(s) = &iv.start {
            let cond = if is_date {
                format!(
                    "{col} >= {}::date",
                    sql.bind(SqlParam::Text(s[..10].into()))
                )
            } else {
                format!(
                    "{col} >= {}::timestamptz",
                    sql.bind(SqlParam::Text(s.clone()))
                )
            };
            sql.conditions.push(cond);
        }
        if let Some(e) = &iv.end {
            let cond = if is_date {
                format!(
                    "{col} <= {}::date",
                    sql.bind(SqlParam::Text(e[..10].into()))
                )
            } else if e.len() == 10 {
                // A date as the end includes that whole day.
                format!(
                    "{col} < ({}::date + 1)::timestamptz",
                    sql.bind(SqlParam::Text(e.clone()))
                )
            } else {
                format!(
                    "{col} <= {}::timestamptz",
                    sql.bind(SqlParam::Text(e.clone()))
                )
            };
            sql.conditions.push(cond);
        }
    }
    for (name, value) in &q.equals {
        let cond = if name == "id" {
            let id: i64 = value
                .parse()
                .map_err(|_| invalid("id", "feature ids are whole numbers"))?;
            format!("t.id = {}", sql.bind(SqlParam::Int(id)))
        } else if name == "updated_at" {
            format!(
                "t.updated_at = {}::timestamptz",
                sql.bind(SqlParam::Text(value.clone()))
            )
        } else {
            let p = property_of(&visible, &restricted, name, "queryable")?;
            format!(
                "{} = {}::{}",
                column(&p.name),
                sql.bind(SqlParam::Text(value.clone())),
                sql_type(p.kind)
            )
        };
        sql.conditions.push(cond);
    }
    if let Some(expr) = &q.filter {
        let qs = queryables(layer, q.access);
        let forbidden: Vec<&str> = restricted.iter().map(String::as_str).collect();
        let ctx = FilterContext {
            queryables: &qs,
            forbidden: &forbidden,
            filter_srid: q.filter_crs.srid,
            filter_lat_first: q.filter_crs.lat_first,
            filter_geographic: q.filter_crs.geographic,
            geometry_srid: 3857,
            first_param: sql.params.len() + 1,
        };
        let compiled = cql2::compile(expr, &ctx)?;
        sql.conditions.push(compiled.sql);
        sql.params.extend(compiled.params);
    }
    if let Some(scope) = &q.scope {
        if uses_restricted(layer, q) {
            sql.conditions.push(scope.condition("t"));
        }
    }
    let sight = Sight {
        access: q.access,
        scope: q.scope.clone(),
    };
    if let Some(rows) = sight.rows(layer, "t") {
        sql.conditions.push(rows);
    }
    Ok(sql)
}

/// Whether `q` reads restricted properties by name: selects one in `properties`, or selects
/// rows by one (in `equals`, `sortby` or `filter`).
pub fn asks_restricted(layer: &dyn Layer, q: &ItemsQuery) -> bool {
    let selected = q.properties.as_ref().is_some_and(|names| {
        let personal = restricted_names(layer, Access::Public);
        names.iter().any(|n| personal.contains(n))
    });
    selected || uses_restricted(layer, q)
}

/// Whether `q` selects rows by a restricted property (in `equals`, `sortby` or `filter`).
fn uses_restricted(layer: &dyn Layer, q: &ItemsQuery) -> bool {
    let personal = restricted_names(layer, Access::Public);
    if personal.is_empty() {
        return false;
    }
    let named = |n: &str| personal.iter().any(|p| p == n);
    if q.equals.iter().any(|(n, _)| named(n)) || q.sortby.iter().any(|k| named(&k.property)) {
        return true;
    }
    let Some(expr) = &q.filter else {
        return false;
    };
    // The filter is compiled once more with the restricted names forbidden: refused means it
    // reads one (the compiler is the one place that resolves property references).
    let qs = queryables(layer, q.access);
    let forbidden: Vec<&str> = personal.iter().map(String::as_str).collect();
    let ctx = FilterContext {
        queryables: &qs,
        forbidden: &forbidden,
        filter_srid: q.filter_crs.srid,
        filter_lat_first: q.filter_crs.lat_first,
        filter_geographic: q.filter_crs.geographic,
        geometry_srid: 3857,
        first_param: 1,
    };
    matches!(
        cql2::compile(expr, &ctx),
        Err(cql2::Cql2Error::Forbidden { .. })
    )
}

fn sort_keys(layer: &dyn Layer, q: &ItemsQuery) -> Result<Vec<Key>, FeaturesError> {
    let visible = visible_properties(layer, q.access);
    let restricted = restricted_names(layer, q.access);
    q.sortby
        .iter()
        .map(|k| {
            if k.property == "id" {
                return Ok(Key {
                    sql: "t.id".into(),
                    ty: "bigint",
                    descending: k.descending,
                });
            }
            let p = property_of(&visible, &restricted, &k.property, "sortby")?;
            Ok(Key {
                sql: column(&p.name),
                ty: sql_type(p.kind),
                descending: k.descending,
            })
        })
        .collect()
}

/// The keyset condition: rows after (or before) the cursor in the page order, where NULLs sort
/// last under every key and `id` breaks ties.
fn keyset(keys: &[Key], cursor: &Cursor, sql: &mut Sql) -> String {
    let id = sql.bind(SqlParam::Int(cursor.id));
    let mut cond = if cursor.backward {
        format!("t.id < {id}")
    } else {
        format!("t.id > {id}")
    };
    for (k, v) in keys.iter().zip(&cursor.keys).rev() {
        let (strict, equal) = match v {
            None if cursor.backward => (
                format!("{} IS NOT NULL", k.sql),
                format!("{} IS NULL", k.sql),
            ),
            None => ("FALSE".to_string(), format!("{} IS NULL", k.sql)),
            Some(v) => {
                let p = format!("{}::{}", sql.bind(SqlParam::Text(v.clone())), k.ty);
                let later = if k.descending { "<" } else { ">" };
                let earlier = if k.descending { ">" } else { "<" };
                let strict = if cursor.backward {
                    format!("({0} IS NOT NULL AND {0} {earlier} {p})", k.sql)
                } else {
                    format!("({0} IS NULL OR {0} {later} {p})", k.sql)
                };
                (strict, format!("{} = {p}", k.sql))
            }
        };
        cond = format!("({strict} OR ({equal} AND {cond}))");
    }
    cond
}

fn order_by(keys: &[Key], backward: bool) -> String {
    let mut parts = Vec::new();
    for k in keys {
        let desc = k.descending != backward;
        parts.push(format!(
            "({} IS NULL) {}",
            k.sql,
            if backward { "DESC" } else { "ASC" }
        ));
        parts.push(format!("{} {}", k.sql, if desc { "DESC" } else { "ASC" }));
    }
    parts.push(format!("t.id {}", if backward { "DESC" } else { "ASC" }));
    parts.join(", ")
}

/// The `properties` object expression (json keeps the column order; chunks of 50 pairs are
/// merged as jsonb because `json_build_object` takes at most 100 arguments).
fn properties_sql(props: &[PropertyDef], scope: Option<&Scope>) -> String {
    if props.is_empty() {
        return "'{}'::json".into();
    }
    let pairs: Vec<String> = props
        .iter()
        .map(|p| {
            let value = match scope {
                Some(s) if p.access == Access::Restricted => {
                    format!(
                        "CASE WHEN {} THEN {} END",
                        s.condition("t"),
                        column(&p.name)
                    )
                }
                _ => column(&p.name),
            };
            format!("'{}', {value}", p.name.replace('\'', "''"))
        })
        .collect();
    if pairs.len() <= 50 {
        format!("json_build_object({})", pairs.join(", "))
    } else {
        let chunks: Vec<String> = pairs
            .chunks(50)
            .map(|c| format!("jsonb_build_object({})", c.join(", ")))
            .collect();
        format!("({})::json", chunks.join(" || "))
    }
}

fn feature_sql(
    props: &[PropertyDef],
    scope: Option<&Scope>,
    crs: OutputCrs,
    format: GeometryFormat,
) -> String {
    let g = crs.geometry_sql();
    let geometry = match format {
        GeometryFormat::GeoJson => format!("ST_AsGeoJSON({g}, {})::json", crs.digits()),
        GeometryFormat::Wkt => format!("to_json(ST_AsText({g}, {}))", crs.digits()),
    };
    format!(
        "json_build_object('type', 'Feature', 'id', t.id, 'geometry', {geometry}, 'properties', {})::text",
        properties_sql(props, scope)
    )
}

fn selected_properties(
    layer: &dyn Layer,
    q: &ItemsQuery,
) -> Result<Vec<PropertyDef>, FeaturesError> {
    let visible = visible_properties(layer, q.access);
    match &q.properties {
        None => Ok(visible),
        Some(names) => {
            let restricted = restricted_names(layer, q.access);
            let mut out: Vec<PropertyDef> = Vec::new();
            for n in names {
                let p = property_of(&visible, &restricted, n, "properties")?;
                if !out.iter().any(|o| o.name == p.name) {
                    out.push(p.clone());
                }
            }
            Ok(out)
        }
    }
}

/// Checks everything in `q` against the layer without running it (unknown or restricted
/// properties, the filter), so callers can refuse a request before streaming anything.
pub fn validate(layer: &dyn Layer, q: &ItemsQuery) -> Result<(), FeaturesError> {
    selected_properties(layer, q)?;
    sort_keys(layer, q)?;
    conditions(layer, q)?;
    if let Some(c) = &q.cursor {
        if c.keys.len() != q.sortby.len() {
            return Err(invalid(
                "cursor",
                "the cursor belongs to a different sortby; follow the links of the same request",
            ));
        }
    }
    if q.limit == 0 {
        return Err(invalid("limit", "must be at least 1"));
    }
    Ok(())
}

/// Counts the features matching `q`'s conditions (all pages).
pub async fn count(pool: &PgPool, layer: &dyn Layer, q: &ItemsQuery) -> Result<i64, FeaturesError> {
    let sql = conditions(layer, q)?;
    let text = format!("SELECT count(*) FROM {} t{}", sql.from, sql.where_clause());
    Ok(sqlx::query_scalar_with(&text, sql.args()?)
        .fetch_one(pool)
        .await?)
}

/// A key naming the set of features `q` matches (its conditions and their values, without
/// cursor, order, limit or output form): equal keys of one layer have equal `numberMatched`
/// while the layer's rows do not change, so a server may remember counts by it.
pub fn match_key(layer: &dyn Layer, q: &ItemsQuery) -> Result<String, FeaturesError> {
    let sql = conditions(layer, q)?;
    Ok(format!(
        "{}|{}|{:?}",
        layer.id(),
        sql.where_clause(),
        sql.params
    ))
}

/// Runs an items request: one page of features, the exact number matched and the cursors of
/// the neighbouring pages.
pub async fn items(
    pool: &PgPool,
    layer: &dyn Layer,
    q: &ItemsQuery,
) -> Result<Page, FeaturesError> {
    items_with_count(pool, layer, q, None).await
}

/// [`items`] with the number matched already known (`Some`, e.g. remembered by
/// [`match_key`]); otherwise it is counted on a second connection while the page is read.
pub async fn items_with_count(
    pool: &PgPool,
    layer: &dyn Layer,
    q: &ItemsQuery,
    known_count: Option<i64>,
) -> Result<Page, FeaturesError> {
    validate(layer, q)?;
    let counting = async {
        match known_count {
            Some(n) => Ok(n),
            None => count(pool, layer, q).await,
        }
    };
    let (number_matched, page) = tokio::try_join!(counting, page_of(pool, layer, q))?;
    Ok(Page {
        number_matched,
        ..page
    })
}

/// The statement of a page of `q`: its text and arguments, the properties written, the sort
/// keys; `limit` rows at most.
fn page_query(
    layer: &dyn Layer,
    q: &ItemsQuery,
    limit: u64,
) -> Result<(String, Sql, Vec<PropertyDef>, Vec<Key>), FeaturesError> {
    let props = selected_properties(layer, q)?;
    let keys = sort_keys(layer, q)?;
    let mut sql = conditions(layer, q)?;
    let backward = q.cursor.as_ref().is_some_and(|c| c.backward);
    if let Some(c) = &q.cursor {
        let cond = keyset(&keys, c, &mut sql);
        sql.conditions.push(cond);
    }
    let key_cols: String = keys.iter().map(|k| format!(", {}::text", k.sql)).collect();
    let text = format!(
        "SELECT {} AS feature, t.id{key_cols} FROM {} t{} ORDER BY {} LIMIT {limit}",
        feature_sql(&props, q.scope.as_ref(), q.crs, q.geometry),
        sql.from,
        sql.where_clause(),
        order_by(&keys, backward),
    );
    Ok((text, sql, props, keys))
}

/// The properties a download of `q` writes, in order (its header or fields).
pub fn download_properties(
    layer: &dyn Layer,
    q: &ItemsQuery,
) -> Result<Vec<PropertyDef>, FeaturesError> {
    selected_properties(layer, q)
}

/// Features a download sends at once.
pub const DOWNLOAD_BATCH: usize = 256;

/// The features of `q` (at most `q.limit`, in the page's order; no count, no cursors) sent to
/// `tx` in batches of [`DOWNLOAD_BATCH`] as PostgreSQL writes them, never all held: a download
/// of 100,000 parcels takes a few batches of memory, and PostgreSQL waits while the client
/// reads. Ends early, without error, when the receiver is gone (the caller cancels the query).
pub async fn send_features(
    pool: &PgPool,
    layer: &dyn Layer,
    q: &ItemsQuery,
    tx: &tokio::sync::mpsc::Sender<Vec<Box<RawValue>>>,
) -> Result<(), FeaturesError> {
    use futures_util::TryStreamExt;
    let (text, sql, _, _) = page_query(layer, q, u64::from(q.limit))?;
    let mut rows = sqlx::query_with(&text, sql.args()?).fetch(pool);
    let mut batch = Vec::with_capacity(DOWNLOAD_BATCH);
    while let Some(row) = rows.try_next().await? {
        let feature: String = row.try_get(0)?;
        batch.push(
            RawValue::from_string(feature)
                .map_err(|e| FeaturesError::Db(sqlx::Error::Decode(Box::new(e))))?,
        );
        if batch.len() == DOWNLOAD_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(DOWNLOAD_BATCH));
            if tx.send(full).await.is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    Ok(())
}

/// One page of features and its cursors (`number_matched` left 0).
async fn page_of(pool: &PgPool, layer: &dyn Layer, q: &ItemsQuery) -> Result<Page, FeaturesError> {
    let (text, sql, props, keys) = page_query(layer, q, u64::from(q.limit) + 1)?;
    let backward = q.cursor.as_ref().is_some_and(|c| c.backward);
    let rows = sqlx::query_with(&text, sql.args()?).fetch_all(pool).await?;
    let more = rows.len() > q.limit as usize;
    let mut page: Vec<(Box<RawValue>, Cursor)> = Vec::with_capacity(rows.len());
    for row in rows.iter().take(q.limit as usize) {
        let feature: String = row.try_get(0)?;
        let id: i64 = row.try_get(1)?;
        let mut values = Vec::with_capacity(keys.len());
        for i in 0..keys.len() {
            values.push(row.try_get::<Option<String>, _>(i + 2)?);
        }
        let value = RawValue::from_string(feature)
            .map_err(|e| FeaturesError::Db(sqlx::Error::Decode(Box::new(e))))?;
        page.push((
            value,
            Cursor {
                backward: false,
                keys: values,
                id,
            },
        ));
    }
    if backward {
        page.reverse();
    }
    let first = page.first().map(|(_, c)| Cursor {
        backward: true,
        ..c.clone()
    });
    let last = page.last().map(|(_, c)| c.clone());
    let (next, prev) = if backward {
        (last, if more { first } else { None })
    } else {
        (
            if more { last } else { None },
            if q.cursor.is_some() { first } else { None },
        )
    };
    Ok(Page {
        features: page.into_iter().map(|(f, _)| f).collect(),
        number_matched: 0,
        next,
        prev,
        properties: props,
    })
}

/// One feature by id, or `None`.
pub async fn item(
    pool: &PgPool,
    layer: &dyn Layer,
    id: i64,
    crs: OutputCrs,
    sight: &Sight,
) -> Result<Option<Value>, FeaturesError> {
    let props = visible_properties(layer, sight.access);
    let text = format!(
        "SELECT {} FROM {} t WHERE t.id = $1{}",
        feature_sql(&props, sight.scope.as_ref(), crs, GeometryFormat::GeoJson),
        layer.storage().qualified(),
        sight
            .rows(layer, "t")
            .map(|c| format!(" AND {c}"))
            .unwrap_or_default()
    );
    let row: Option<String> = sqlx::query_scalar(&text)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|s| {
        serde_json::from_str(&s).map_err(|e| FeaturesError::Db(sqlx::Error::Decode(Box::new(e))))
    })
    .transpose()
}

/// The layer's extent in `srid` (x/y order), measured from its WGS84 extent; `None` when empty.
pub async fn extent_in(
    pool: &PgPool,
    lonlat: [f64; 4],
    srid: u32,
) -> Result<Option<[f64; 4]>, FeaturesError> {
    type Row = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);
    let srid = i32::try_from(srid).map_err(|_| invalid("crs", "the EPSG code is too large"))?;
    let row: Row = sqlx::query_as(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
           SELECT ST_Transform(ST_Segmentize(ST_MakeEnvelope($1, $2, $3, $4, 4326), 0.01), $5)::box2d AS e) x",
    )
    .bind(lonlat[0])
    .bind(lonlat[1])
    .bind(lonlat[2])
    .bind(lonlat[3])
    .bind(srid)
    .fetch_one(pool)
    .await?;
    Ok(match row {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_parsing_swaps_latitude_first_pairs_and_refuses_nonsense() {
        let b = parse_bbox("11.5,106.8,11.6,106.9", 4326, true, true).expect("bbox");
        assert_eq!(b.coords, [106.8, 11.5, 106.9, 11.6]);
        let b = parse_bbox("1,2,0,3,4,9", 9212, false, false).expect("6 numbers");
        assert_eq!(b.coords, [1.0, 2.0, 3.0, 4.0]);
        assert!(parse_bbox("1,2,3", 4326, false, true).is_err());
        assert!(parse_bbox("3,2,1,4", 4326, false, true).is_err());
        assert!(parse_bbox("a,b,c,d", 4326, false, true).is_err());
        assert!(parse_bbox("0,0,1,NaN", 4326, false, true).is_err());
        let b = parse_bbox("-180,-90,180,90", 4326, false, true).expect("world");
        assert!(b.coords[3] < 85.06);
    }

    #[test]
    fn datetime_instants_and_open_intervals() {
        assert_eq!(
            parse_datetime("2024-05-01").expect("instant"),
            Interval {
                start: Some("2024-05-01".into()),
                end: Some("2024-05-01".into())
            }
        );
        let iv = parse_datetime("../2024-05-01T10:00:00Z").expect("open start");
        assert_eq!(iv.start, None);
        assert!(parse_datetime("../..").is_err());
        assert!(parse_datetime("yesterday").is_err());
        // Shaped like dates, but no such instant: refused here, not by PostgreSQL.
        assert!(parse_datetime("2024-13-45").is_err());
        assert!(parse_datetime("2024-02-30/..").is_err());
        assert!(parse_datetime("2024-05-01T25:00:00Z").is_err());
        assert!(parse_datetime("2024-05-01 10:00:00+07:00").is_ok());
        assert!(parse_datetime("2024-05-01t10:00:00.123Z").is_ok());
        assert!(parse_datetime("2024-05-01T10:00:00").is_ok());
    }

    #[test]
    fn sortby_directions_and_duplicates() {
        let k = parse_sortby("a,-b,+c").expect("keys");
        assert_eq!(
            k.iter().map(|k| k.descending).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert!(parse_sortby("a,a").is_err());
        assert!(parse_sortby("a,,b").is_err());
    }

    #[test]
    fn fold_calls_count_accenti_and_casei_wherever_they_are() {
        let count = |text: &str| fold_calls(&cql2::parse_text(text).expect("cql2"));
        assert_eq!(count("name LIKE '%a%'"), 0);
        assert_eq!(count("ACCENTI(name) LIKE ACCENTI('%a%')"), 2);
        assert_eq!(
            count("CASEI(name) = CASEI('x') OR NOT (ACCENTI(place) LIKE 'a%' AND area > 5)"),
            3
        );
    }

    #[test]
    fn folds_are_priced_over_the_rows_the_terms_beside_them_leave() {
        let rest = |text: &str| {
            without_folds(&cql2::parse_text(text).expect("cql2"))
                .map(|e| e == cql2::parse_text("code = 'x'").expect("cql2"))
        };
        assert_eq!(rest("ACCENTI(name) LIKE '%a%' AND code = 'x'"), Some(true));
        assert_eq!(
            rest("code = 'x' AND CASEI(name) = 'a' AND ACCENTI(n) LIKE 'b'"),
            Some(true)
        );
        // An OR or a NOT reaches every row: nothing narrows it.
        assert_eq!(rest("ACCENTI(name) LIKE '%a%' OR code = 'x'"), None);
        assert_eq!(rest("NOT (ACCENTI(name) LIKE '%a%' AND code = 'x')"), None);
        assert_eq!(rest("code = 'x'"), Some(true));
    }

    #[test]
    fn keyset_sql_puts_nulls_last_and_breaks_ties_by_id() {
        let keys = [Key {
            sql: "t.\"name\"".into(),
            ty: "text",
            descending: true,
        }];
        let mut sql = Sql::default();
        let after = Cursor {
            backward: false,
            keys: vec![Some("Bình".into())],
            id: 7,
        };
        assert_eq!(
            keyset(&keys, &after, &mut sql),
            r#"((t."name" IS NULL OR t."name" < $2::text) OR (t."name" = $2::text AND t.id > $1))"#
        );
        assert_eq!(
            sql.params,
            [SqlParam::Int(7), SqlParam::Text("Bình".into())]
        );
        assert_eq!(
            order_by(&keys, false),
            r#"(t."name" IS NULL) ASC, t."name" DESC, t.id ASC"#
        );
        assert_eq!(
            order_by(&keys, true),
            r#"(t."name" IS NULL) DESC, t."name" ASC, t.id DESC"#
        );
        let mut sql = Sql::default();
        let before_null = Cursor {
            backward: true,
            keys: vec![None],
            id: 3,
        };
        assert_eq!(
            keyset(&keys, &before_null, &mut sql),
            r#"(t."name" IS NOT NULL OR (t."name" IS NULL AND t.id < $1))"#
        );
    }

    #[test]
    fn cursors_round_trip_and_tampering_is_refused() {
        let c = Cursor {
            backward: true,
            keys: vec![Some("Nguyễn".into()), None],
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()).expect("decode"), c);
        assert!(Cursor::decode("zz").is_err());
        assert!(Cursor::decode("7b7d").is_err());
        assert!(Cursor::decode("abc").is_err());
    }
}

/// The planner's estimate of an items query, read with `EXPLAIN` (nothing is run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Total cost of counting the matching features, in PostgreSQL planner units (the page
    /// costs about as much again, plus its sort).
    pub cost: f64,
    /// Rows the planner expects to match.
    pub rows: f64,
}

/// Estimates what `q` costs: `EXPLAIN (FORMAT JSON)` of its count statement, which examines
/// every candidate row the page query examines too.
pub async fn estimate(
    pool: &PgPool,
    layer: &dyn Layer,
    q: &ItemsQuery,
) -> Result<Estimate, FeaturesError> {
    let plan = explain_count(pool, layer, q).await?;
    let top = &plan[0]["Plan"];
    let scan = top["Plans"][0]["Plan Rows"].as_f64();
    let mut cost = top["Total Cost"].as_f64().unwrap_or(0.0);
    // ACCENTI and CASEI are computed for every row that reaches them: the rows the other
    // conditions AND-ed beside them (bbox, datetime, AND-ed terms) leave, or every row of the
    // table when nothing does. The planner prices them as cheap built-ins, so they are added
    // here, over the rows of the same query without the terms that fold.
    let folds = q.filter.as_ref().map_or(0, fold_calls);
    if folds > 0 {
        let rest = ItemsQuery {
            filter: q.filter.as_ref().and_then(without_folds),
            ..q.clone()
        };
        let plan = explain_count(pool, layer, &rest).await?;
        let top = &plan[0]["Plan"];
        let examined = top["Plans"][0]["Plan Rows"]
            .as_f64()
            .or_else(|| top["Plan Rows"].as_f64())
            .unwrap_or(0.0);
        cost += folds as f64 * examined.max(0.0) * FOLD_COST_PER_ROW;
    }
    Ok(Estimate {
        cost,
        rows: scan.or_else(|| top["Plan Rows"].as_f64()).unwrap_or(0.0),
    })
}

/// The planner's JSON plan of `q`'s count statement (`EXPLAIN`, nothing is run).
async fn explain_count(
    pool: &PgPool,
    layer: &dyn Layer,
    q: &ItemsQuery,
) -> Result<Value, FeaturesError> {
    let sql = conditions(layer, q)?;
    let text = format!(
        "EXPLAIN (FORMAT JSON) SELECT count(*) FROM {} t{}",
        sql.from,
        sql.where_clause()
    );
    Ok(sqlx::query_scalar_with(&text, sql.args()?)
        .fetch_one(pool)
        .await?)
}

/// The top-level terms of `filter` that call no ACCENTI or CASEI (what narrows the rows those
/// are computed on); `None` when no term is left.
fn without_folds(filter: &cql2::Expr) -> Option<cql2::Expr> {
    match filter {
        cql2::Expr::And(terms) => {
            let mut kept: Vec<cql2::Expr> = terms
                .iter()
                .filter(|t| fold_calls(t) == 0)
                .cloned()
                .collect();
            match kept.len() {
                0 => None,
                1 => kept.pop(),
                _ => Some(cql2::Expr::And(kept)),
            }
        }
        other => (fold_calls(other) == 0).then(|| other.clone()),
    }
}

/// What one ACCENTI or CASEI costs a row, in planner units. They compile to `translate` and
/// `lower`, which PostgreSQL prices as cheap built-ins, but ACCENTI took ~14 µs a row on the
/// 1M-parcel bench, where a planner unit was ~5.6 µs (bench/RESULTS.md, "Cost guard").
pub const FOLD_COST_PER_ROW: f64 = 2.5;

/// How many ACCENTI and CASEI calls a filter makes per row.
pub fn fold_calls(e: &cql2::Expr) -> usize {
    use cql2::Expr;
    match e {
        Expr::CaseI(x) | Expr::AccentI(x) => 1 + fold_calls(x),
        Expr::Like { value, pattern } => fold_calls(value) + fold_calls(pattern),
        Expr::Spatial { left, right, .. }
        | Expr::Compare { left, right, .. }
        | Expr::Arithmetic { left, right, .. }
        | Expr::Temporal { left, right, .. } => fold_calls(left) + fold_calls(right),
        Expr::Or(v) | Expr::And(v) => v.iter().map(fold_calls).sum(),
        Expr::Not(x) | Expr::IsNull(x) => fold_calls(x),
        Expr::Between { value, low, high } => {
            fold_calls(value) + fold_calls(low) + fold_calls(high)
        }
        Expr::In { value, list } => fold_calls(value) + list.iter().map(fold_calls).sum::<usize>(),
        _ => 0,
    }
}

/// What in `q` makes it costly, for a person: each trait of the request that forces
/// PostgreSQL to examine or compute more than an index lookup would.
pub fn cost_reasons(q: &ItemsQuery) -> Vec<String> {
    fn walk(e: &cql2::Expr, out: &mut Vec<String>) {
        use cql2::Expr;
        let mut note = |s: String| {
            if !out.contains(&s) {
                out.push(s);
            }
        };
        match e {
            Expr::Like { value, pattern } => {
                let mut p = pattern.as_ref();
                while let Expr::CaseI(inner) | Expr::AccentI(inner) = p {
                    p = inner;
                }
                if let Expr::String(text) = p {
                    if text.starts_with('%') || text.starts_with('_') {
                        note(format!(
                            "LIKE '{}' starts with a wildcard, so no index can narrow it: every row is matched against it",
                            text.chars().take(40).collect::<String>()
                        ));
                    }
                }
                walk(value, out);
                walk(pattern, out);
            }
            Expr::CaseI(_) => note("CASEI() is computed for every row examined".into()),
            Expr::AccentI(_) => note("ACCENTI() is computed for every row examined".into()),
            Expr::Spatial { op, left, right } => {
                if matches!(op, cql2::SpatialOp::Disjoint) {
                    note(
                        "S_DISJOINT matches nearly everything and cannot use the spatial index"
                            .into(),
                    );
                }
                walk(left, out);
                walk(right, out);
            }
            Expr::Or(v) => {
                note("OR of conditions: one of them without an index makes the whole scan".into());
                v.iter().for_each(|x| walk(x, out));
            }
            Expr::And(v) => v.iter().for_each(|x| walk(x, out)),
            Expr::Not(x) | Expr::IsNull(x) => walk(x, out),
            Expr::Compare { left, right, .. }
            | Expr::Arithmetic { left, right, .. }
            | Expr::Temporal { left, right, .. } => {
                walk(left, out);
                walk(right, out);
            }
            Expr::Between { value, low, high } => {
                walk(value, out);
                walk(low, out);
                walk(high, out);
            }
            Expr::In { value, list } => {
                walk(value, out);
                list.iter().for_each(|x| walk(x, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if q.bbox.is_none() {
        out.push("no bbox: every feature of the collection is a candidate".to_string());
    }
    if let Some(f) = &q.filter {
        walk(f, &mut out);
    }
    if !q.sortby.is_empty() {
        out.push("sortby orders every matching feature before the page is cut".to_string());
    }
    out
}
