//! Spatial queries over any registered feature-table layer: identify at a point, nearest
//! features, features within a distance, and measuring a geometry in metres.
//!
//! Candidates are always found through the GiST index on the Web Mercator serving column
//! `geom_3857`; distances, lengths and areas are then computed exactly on the legal geometry
//! transformed into one VN-2000 TM-3 zone (`zone_srid`), which the caller chooses (the cadastre
//! owns that rule: `land.native_srid`). The query point is given in WGS84 longitude/latitude;
//! callers transform other CRSs first ([`crate::crs::Transformer`]).
//!
//! Properties: only those the reader's [`Access`] permits are selected at all, so restricted
//! ones (owner names) never leave the database for anonymous readers. Every value bound from a
//! request is a parameter; table and column names come from the layer registry, quoted.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::db::quote_ident;
use crate::layer::{Access, GeometryKind, Layer, Viewer};

/// Size of one pixel at zoom 0 in Web Mercator units (metres at the equator), 256-pixel tiles.
pub const PIXEL_AT_ZOOM0: f64 = 2.0 * crate::tile::EARTH_HALF_CIRCUMFERENCE / 256.0;

/// Errors of spatial queries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The geometry text could not be read or is not usable (the message says why).
    #[error("the geometry is not usable: {0}")]
    InvalidGeometry(String),
    /// The database has no definition for this SRID, so it cannot transform to or from it.
    #[error("EPSG:{0} is not available for geometry output or input in this database")]
    UnknownSrid(u32),
    /// The query failed.
    #[error("spatial query failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// One feature found by a query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoundFeature {
    /// Layer id.
    pub layer: String,
    /// Feature id.
    pub id: i64,
    /// GeoJSON geometry in the requested output CRS.
    pub geometry: Value,
    /// Permitted properties.
    pub properties: Value,
    /// 0 points, 1 lines, 2 polygons.
    pub dimension: i32,
    /// Area in the zone's metres (0 for points and lines); orders identify answers.
    pub area_m2: f64,
    /// Distance from the query point in TM-3 metres (nearest/within), else `None`.
    pub distance_m: Option<f64>,
}

/// How a query answers: output CRS and the reader's rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// EPSG code of output geometry (4326 = CRS84 longitude/latitude).
    pub srid: u32,
    /// Who reads (what each layer shows them: [`Viewer::sight`]).
    pub viewer: Viewer,
}

/// Web Mercator search radius of `tolerance_px` pixels at `zoom` (256-pixel tiles). Screen
/// pixels are uniform in Web Mercator units, so no latitude factor applies here; see
/// [`ground_metres`] for the radius on the ground.
pub fn pixel_radius_3857(zoom: u8, tolerance_px: f64) -> f64 {
    PIXEL_AT_ZOOM0 / f64::from(1u32 << zoom.min(24)) * tolerance_px
}

/// Ground metres of a Web Mercator length at latitude `lat` (Mercator stretches by 1/cos(lat)).
pub fn ground_metres(length_3857: f64, lat: f64) -> f64 {
    length_3857 * lat.to_radians().cos()
}

/// The select list of a layer's permitted properties as one jsonb value (alias `t`); a land
/// officer's restricted properties read as null outside their communes.
fn properties_sql(layer: &dyn Layer, viewer: &Viewer) -> String {
    let sight = viewer.sight(layer);
    let columns: Vec<String> = layer
        .properties()
        .iter()
        .filter(|p| p.access <= sight.access)
        .map(|p| {
            let col = format!("t.{}", quote_ident(&p.name));
            match &sight.scope {
                Some(scope) if p.access == Access::Restricted => format!(
                    "CASE WHEN {} THEN {col} END AS {}",
                    scope.condition("t"),
                    quote_ident(&p.name)
                ),
                _ => col,
            }
        })
        .collect();
    if columns.is_empty() {
        "'{}'::jsonb".to_string()
    } else {
        format!(
            "(SELECT to_jsonb(p) FROM (SELECT {}) p)",
            columns.join(", ")
        )
    }
}

/// ` AND <condition>` on the rows of `layer` (alias `t`) the viewer reads, or nothing.
fn rows_sql(layer: &dyn Layer, viewer: &Viewer) -> String {
    viewer
        .sight(layer)
        .rows(layer, "t")
        .map(|c| format!(" AND {c}"))
        .unwrap_or_default()
}

fn dimension_of(kind: GeometryKind) -> i32 {
    match kind {
        GeometryKind::Point | GeometryKind::MultiPoint => 0,
        GeometryKind::LineString | GeometryKind::MultiLineString => 1,
        GeometryKind::Polygon | GeometryKind::MultiPolygon => 2,
    }
}

type Row = (i64, Value, Value, f64, Option<f64>);

fn to_found(layer: &dyn Layer, rows: Vec<Row>) -> Vec<FoundFeature> {
    let dimension = dimension_of(layer.geometry_kind());
    rows.into_iter()
        .map(
            |(id, geometry, properties, area_m2, distance_m)| FoundFeature {
                layer: layer.id().to_string(),
                id,
                geometry,
                properties,
                dimension,
                area_m2,
                distance_m,
            },
        )
        .collect()
}

/// The common head of every point query: `q.p3857` the point in Web Mercator, `q.pz` in the
/// zone. Binds `$1` lon, `$2` lat, `$3` zone SRID. Not materialised: the planner must see the
/// point as a constant, or a KNN `ORDER BY geom_3857 <-> point` cannot use the GiST index.
const POINT_CTE: &str = "WITH q AS NOT MATERIALIZED (
    SELECT ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 3857) AS p3857,
           ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), $3::integer) AS pz)";

/// Layers an identify asks at once.
pub const IDENTIFY_FANOUT: usize = 4;

/// Features of `layers` within `radius_3857` Web Mercator units of (lon, lat) and drawn at
/// `zoom`, ordered points first, then lines, then polygons by ascending area (what a user
/// clicked "on top" first), at most `limit`.
#[allow(clippy::too_many_arguments)]
pub async fn identify(
    pool: &PgPool,
    layers: &[&dyn Layer],
    lon: f64,
    lat: f64,
    zone_srid: u32,
    radius_3857: f64,
    zoom: u8,
    out: Output,
    limit: u32,
) -> Result<Vec<FoundFeature>, QueryError> {
    // One query per layer, run together: a click on the map asks every visible layer.
    let out = &out;
    let per_layer = layers.iter().map(|layer| async move {
        let storage = layer.storage();
        let sql = format!(
            "{POINT_CTE}
             SELECT t.id, ST_AsGeoJSON(ST_Transform(t.geom, $5::integer), 9)::json,
                    {props}, ST_Area(ST_Transform(t.geom, $3::integer)), NULL::float8
             FROM {table} t, q
             WHERE ST_DWithin(t.geom_3857, q.p3857, $4) AND t.min_zoom <= $6{rows}
             ORDER BY ST_Area(t.geom), t.id
             LIMIT $7",
            props = properties_sql(*layer, &out.viewer),
            rows = rows_sql(*layer, &out.viewer),
            table = storage.qualified(),
        );
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(lon)
            .bind(lat)
            .bind(srid_param(zone_srid))
            .bind(radius_3857)
            .bind(srid_param(out.srid))
            .bind(i16::from(zoom))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
        Ok::<_, QueryError>(to_found(*layer, rows))
    });
    // At most IDENTIFY_FANOUT at once: one click must not take every connection of its pool
    // (there are some 25 layers and a pool of a few connections shared with other requests).
    use futures_util::{StreamExt, TryStreamExt};
    // Collected first: a lazy `map` over the borrowed layers would not be `Send` for every
    // lifetime the router needs.
    let per_layer: Vec<_> = per_layer.collect();
    let mut all: Vec<FoundFeature> = futures_util::stream::iter(per_layer)
        .buffer_unordered(IDENTIFY_FANOUT)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .collect();
    all.sort_by(|a, b| {
        a.dimension
            .cmp(&b.dimension)
            .then(a.area_m2.total_cmp(&b.area_m2))
            .then(a.layer.cmp(&b.layer))
            .then(a.id.cmp(&b.id))
    });
    all.truncate(limit as usize);
    Ok(all)
}

fn srid_param(srid: u32) -> i32 {
    i32::try_from(srid).unwrap_or(i32::MAX)
}

/// The `limit` features of `layer` nearest to (lon, lat), with their distance in metres of the
/// `zone_srid` TM-3 zone, nearest first (ties by id). Candidates come from a KNN scan of the
/// Web Mercator index (`<->`); the zone distances then re-sort them. Mercator's scale varies by
/// well under 0.1 % across a few kilometres, so a candidate pool of 2 × limit + 32 contains the
/// true nearest ones except in near-ties at that scale.
pub async fn nearest(
    pool: &PgPool,
    layer: &dyn Layer,
    lon: f64,
    lat: f64,
    zone_srid: u32,
    out: Output,
    limit: u32,
) -> Result<Vec<FoundFeature>, QueryError> {
    let candidates = i64::from(limit) * 2 + 32;
    let sql = format!(
        "{POINT_CTE},
         c AS (SELECT t.* FROM {table} t, q WHERE true{rows}
               ORDER BY t.geom_3857 <-> q.p3857 LIMIT $4)
         SELECT t.id, ST_AsGeoJSON(ST_Transform(t.geom, $5::integer), 9)::json, {props},
                ST_Area(ST_Transform(t.geom, $3::integer)),
                ST_Distance(ST_Transform(t.geom, $3::integer), q.pz) AS d
         FROM c t, q
         ORDER BY d, t.id
         LIMIT $6",
        props = properties_sql(layer, &out.viewer),
        rows = rows_sql(layer, &out.viewer),
        table = layer.storage().qualified(),
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(lon)
        .bind(lat)
        .bind(srid_param(zone_srid))
        .bind(candidates)
        .bind(srid_param(out.srid))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    Ok(to_found(layer, rows))
}

/// Features of `layer` within `distance_m` metres (of the `zone_srid` TM-3 zone) of (lon, lat),
/// nearest first, at most `limit`. The index pre-filter is a Web Mercator box widened for the
/// latitude's stretch and a margin for the zone's scale; the exact test is `ST_DWithin` in the
/// zone.
#[allow(clippy::too_many_arguments)]
pub async fn within(
    pool: &PgPool,
    layer: &dyn Layer,
    lon: f64,
    lat: f64,
    zone_srid: u32,
    distance_m: f64,
    out: Output,
    limit: u32,
) -> Result<Vec<FoundFeature>, QueryError> {
    let cos = lat.to_radians().cos().max(0.05);
    let box_3857 = distance_m / cos * 1.01 + 5.0;
    let sql = format!(
        "{POINT_CTE}
         SELECT t.id, ST_AsGeoJSON(ST_Transform(t.geom, $6::integer), 9)::json, {props},
                ST_Area(ST_Transform(t.geom, $3::integer)),
                ST_Distance(ST_Transform(t.geom, $3::integer), q.pz) AS d
         FROM {table} t, q
         WHERE t.geom_3857 && ST_Expand(q.p3857, $4)
           AND ST_DWithin(ST_Transform(t.geom, $3::integer), q.pz, $5){rows}
         ORDER BY d, t.id
         LIMIT $7",
        props = properties_sql(layer, &out.viewer),
        rows = rows_sql(layer, &out.viewer),
        table = layer.storage().qualified(),
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(lon)
        .bind(lat)
        .bind(srid_param(zone_srid))
        .bind(box_3857)
        .bind(distance_m)
        .bind(srid_param(out.srid))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    Ok(to_found(layer, rows))
}

/// A geometry given by a client, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryText<'a> {
    /// A GeoJSON geometry object.
    GeoJson(&'a str),
    /// Well-known text.
    Wkt(&'a str),
}

/// A client geometry read by PostGIS: EWKB with its SRID, and its centroid in WGS84.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedGeometry {
    /// EWKB (with the input SRID).
    pub ewkb: Vec<u8>,
    /// OGC type name (`POINT`, `LINESTRING`, …).
    pub kind: String,
    /// Centroid longitude (WGS84).
    pub centroid_lon: f64,
    /// Centroid latitude (WGS84).
    pub centroid_lat: f64,
}

/// Geometry types [`parse_geometry`] accepts.
pub const MEASURABLE: [&str; 6] = [
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
];

/// Most vertices of a geometry to measure: a drawn or pasted outline has hundreds; more is
/// refused before PostGIS spends time on it (validity is checked in n log n).
pub const MAX_VERTICES: usize = 20_000;

/// An upper bound of the vertices in a WKT or GeoJSON geometry: half its numbers (each vertex
/// has at least two), counted without parsing.
pub fn vertex_bound(text: &str) -> usize {
    let mut numbers: usize = 0;
    let mut in_number = false;
    for c in text.chars() {
        let part = c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E');
        if part && !in_number && (c.is_ascii_digit() || c == '.' || c == '-' || c == '+') {
            numbers += 1;
        }
        in_number = part && (in_number || c != 'e' && c != 'E');
    }
    numbers.div_ceil(2)
}

/// Reads a client geometry in `srid` with PostGIS, checking that it is a simple type, valid,
/// non-empty and lies where the Earth is, with at most [`MAX_VERTICES`] vertices; the error
/// says what is wrong.
pub async fn parse_geometry(
    pool: &PgPool,
    text: GeometryText<'_>,
    srid: u32,
) -> Result<ParsedGeometry, QueryError> {
    let t = match &text {
        GeometryText::GeoJson(t) | GeometryText::Wkt(t) => *t,
    };
    let vertices = vertex_bound(t);
    if vertices > MAX_VERTICES {
        return Err(QueryError::InvalidGeometry(format!(
            "the geometry has about {vertices} vertices; at most {MAX_VERTICES} are measured — simplify it first"
        )));
    }
    // The SRID was checked by the caller's CRS resolution (`CrsRegistry::in_database`).
    let (reader, body) = match text {
        GeometryText::GeoJson(t) => ("ST_GeomFromGeoJSON($1)", t),
        GeometryText::Wkt(t) => ("ST_GeomFromText($1)", t),
    };
    // PostGIS reports unreadable text as an SQL error: that error is the client's.
    let read = format!(
        "SELECT ST_AsEWKB(g), GeometryType(g), ST_IsEmpty(g), ST_IsValid(g),
                ST_IsValidReason(g),
                ST_X(ST_Transform(ST_Centroid(g), 4326)), ST_Y(ST_Transform(ST_Centroid(g), 4326))
         FROM (SELECT ST_SetSRID(ST_Force2D({reader}), $2) AS g) x"
    );
    type Parsed = (
        Vec<u8>,
        String,
        bool,
        bool,
        String,
        Option<f64>,
        Option<f64>,
    );
    let row: Result<Parsed, sqlx::Error> = sqlx::query_as(&read)
        .bind(body)
        .bind(srid_param(srid))
        .fetch_one(pool)
        .await;
    let (ewkb, kind, empty, valid, reason, lon, lat) = match row {
        Ok(r) => r,
        Err(sqlx::Error::Database(e)) => return Err(QueryError::InvalidGeometry(e.to_string())),
        Err(e) => return Err(QueryError::Db(e)),
    };
    if !MEASURABLE.contains(&kind.as_str()) {
        return Err(QueryError::InvalidGeometry(format!(
            "{kind} is not measured; send a Point, LineString, Polygon or their Multi* forms"
        )));
    }
    if empty {
        return Err(QueryError::InvalidGeometry("the geometry is empty".into()));
    }
    if !valid {
        return Err(QueryError::InvalidGeometry(reason));
    }
    match (lon, lat) {
        (Some(lon), Some(lat))
            if lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0 =>
        {
            Ok(ParsedGeometry {
                ewkb,
                kind,
                centroid_lon: lon,
                centroid_lat: lat,
            })
        }
        _ => Err(QueryError::InvalidGeometry(
            "the coordinates do not lie on the Earth in the given CRS".into(),
        )),
    }
}

/// Lengths and areas of a geometry in one TM-3 zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measures {
    /// Length of lines (0 for points and polygons), metres.
    pub length_m: f64,
    /// Area of polygons (0 otherwise), square metres.
    pub area_m2: f64,
    /// Perimeter of polygons (0 otherwise), metres.
    pub perimeter_m: f64,
}

/// Measures a parsed geometry in `zone_srid` (planar metres of that projection).
pub async fn measure(
    pool: &PgPool,
    geometry: &ParsedGeometry,
    zone_srid: u32,
) -> Result<Measures, QueryError> {
    let row: Result<(f64, f64, f64), sqlx::Error> = sqlx::query_as(
        "SELECT ST_Length(g), ST_Area(g), ST_Perimeter(g)
         FROM (SELECT ST_Transform(ST_GeomFromEWKB($1), $2::integer) AS g) x",
    )
    .bind(&geometry.ewkb)
    .bind(srid_param(zone_srid))
    .fetch_one(pool)
    .await;
    match row {
        Ok((length_m, area_m2, perimeter_m)) => Ok(Measures {
            length_m,
            area_m2,
            perimeter_m,
        }),
        // Coordinates PROJ cannot carry into the zone (far outside it) are the client's.
        Err(sqlx::Error::Database(e)) => Err(QueryError::InvalidGeometry(e.to_string())),
        Err(e) => Err(QueryError::Db(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertex_bound_counts_coordinate_pairs_without_parsing() {
        assert_eq!(vertex_bound("POINT(1 2)"), 1);
        assert_eq!(
            vertex_bound("LINESTRING(106.5 11.2, 107 -11.9e1, .5 +3)"),
            3
        );
        assert_eq!(
            vertex_bound(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#),
            4
        );
        // Letters in type names and exponents are not numbers of their own.
        assert_eq!(vertex_bound("MULTIPOLYGON EMPTY"), 0);
        assert_eq!(vertex_bound("POINT(1e5 2E-3)"), 1);
        let many: Vec<String> = (0..30_000).map(|i| format!("{i} {i}")).collect();
        assert_eq!(
            vertex_bound(&format!("LINESTRING({})", many.join(","))),
            30_000
        );
    }

    #[test]
    fn pixel_radius_halves_per_zoom() {
        let z0 = pixel_radius_3857(0, 1.0);
        assert!((z0 - 156_543.033_928).abs() < 1e-3);
        assert!((pixel_radius_3857(1, 1.0) - z0 / 2.0).abs() < 1e-9);
        assert!((pixel_radius_3857(18, 4.0) - 4.0 * z0 / 262_144.0).abs() < 1e-9);
        assert!((ground_metres(100.0, 60.0) - 50.0).abs() < 1e-9);
    }
}
