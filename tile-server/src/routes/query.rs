//! bando's own spatial queries: identify, nearest, within, parcel search, planning report,
//! measure. Handlers check parameters and shape answers; the queries live in
//! `gis_core::query` (generic, any layer), `land::lookup` (parcels by identity, the native
//! zone of a point) and `planning::report` (the overlay of a parcel with the plan).
//!
//! Points are given as `x`, `y` in `crs` (default CRS84 longitude/latitude) and must lie in
//! Viet Nam; answers are GeoJSON in CRS84, or in `crs` with a `Content-Crs` header. Distances,
//! lengths and areas are metres of the VN-2000 TM-3 zone of the point (EPSG:9212 west of
//! 107° E, EPSG:5899 east, by the commune the point falls in where known).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gis_core::crs::{CrsInfo, LonLatBox, WGS84};
use gis_core::layer::Layer;
use gis_core::query::{self as q, FoundFeature, GeometryText, Output, QueryError};
use land::lookup::{LookupError, Parcel, ParcelQuery};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::{problem_with_extensions, AppError};
use crate::params::{LayerList, XyCrs};
use crate::reader::Reader;

/// Most features an identify answers with.
pub const IDENTIFY_MAX: u32 = 50;
/// Largest identify tolerance, pixels.
pub const TOLERANCE_MAX: f64 = 50.0;
/// Largest `limit` of nearest and within.
pub const LIMIT_MAX: u32 = 1000;
/// Largest `distance` of within, metres.
pub const DISTANCE_MAX_M: f64 = 10_000.0;
/// Most parcels a parcel search answers with.
pub const PARCELS_MAX: u32 = 100;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/query/identify", get(identify))
        .route("/query/nearest", get(nearest))
        .route("/query/within", get(within))
        .route("/query/parcels", get(parcels))
        .route("/query/planning-report", get(planning_report))
        .route("/query/measure", get(measure_wkt).post(measure_geojson))
}

type Params = Query<HashMap<String, String>>;

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn number(p: &HashMap<String, String>, name: &str) -> Result<Option<f64>, AppError> {
    match param(p, name) {
        None => Ok(None),
        Some(t) => match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(AppError::BadRequest(format!(
                "{name} must be a finite number, not \"{t}\""
            ))),
        },
    }
}

fn required_number(p: &HashMap<String, String>, name: &str) -> Result<f64, AppError> {
    number(p, name)?.ok_or_else(|| AppError::BadRequest(format!("{name} is required")))
}

fn integer(
    p: &HashMap<String, String>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, AppError> {
    match param(p, name) {
        None => Ok(None),
        Some(t) => match t.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(AppError::BadRequest(format!(
                "{name} must be a whole number from {min} to {max}, not \"{t}\""
            ))),
        },
    }
}

fn limit(p: &HashMap<String, String>, default: u32, max: u32) -> Result<u32, AppError> {
    Ok(integer(p, "limit", 1, i64::from(max))?
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(default))
}

/// The point (`x`, `y` in `crs`) as WGS84 longitude/latitude, checked to lie in Viet Nam.
fn point_lonlat(p: &HashMap<String, String>, crs: &CrsInfo) -> Result<(f64, f64), AppError> {
    let x = required_number(p, "x")?;
    let y = required_number(p, "y")?;
    let (lon, lat) = if crs.epsg == WGS84 {
        (x, y)
    } else {
        gis_core::crs::with_transformer(crs.epsg, WGS84, |t| t.transform(x, y))
            .and_then(|r| r)
            .map_err(|e| AppError::BadRequest(e.to_string()))?
    };
    if !LonLatBox::VIETNAM.contains(lon, lat) {
        let b = LonLatBox::VIETNAM;
        return Err(AppError::BadRequest(format!(
            "the point ({x}, {y}) in {} is at longitude {lon:.5}, latitude {lat:.5}, outside Viet Nam \
             ({}–{} E, {}–{} N); check the axis order (x = easting or longitude) and crs",
            crs.epsg_ref(),
            b.west,
            b.east,
            b.south,
            b.north
        )));
    }
    Ok((lon, lat))
}

fn query_error(e: QueryError) -> AppError {
    match e {
        QueryError::InvalidGeometry(_) | QueryError::UnknownSrid(_) => {
            AppError::BadRequest(e.to_string())
        }
        QueryError::Db(e) => AppError::from(e),
        other => AppError::internal(other),
    }
}

fn lookup_error(e: LookupError) -> AppError {
    match e {
        LookupError::BadCommuneCode(_) => AppError::BadRequest(e.to_string()),
        LookupError::Db(e) => AppError::from(e),
        other => AppError::internal(other),
    }
}

fn layer_by_id(
    state: &AppState,
    id: &str,
    reader: &Reader,
) -> Result<std::sync::Arc<dyn Layer>, AppError> {
    match state.layers.get(id) {
        Some(l) if reader.sees(l.as_ref()) => Ok(l),
        _ => {
            let registry = state.layers.snapshot();
            let known: Vec<&str> = registry
                .iter()
                .filter(|l| reader.sees(l.as_ref()))
                .map(|l| l.id())
                .collect();
            Err(AppError::NotFound(format!(
                "there is no layer \"{id}\"; layers: {}",
                known.join(", ")
            )))
        }
    }
}

fn required_layer(
    state: &AppState,
    p: &HashMap<String, String>,
    reader: &Reader,
) -> Result<std::sync::Arc<dyn Layer>, AppError> {
    let id = param(p, "layer").ok_or_else(|| {
        AppError::BadRequest("layer is required (a layer id, see /layers)".into())
    })?;
    layer_by_id(state, id, reader)
}

/// A GeoJSON FeatureCollection of found features, with `Content-Crs` when not CRS84.
fn feature_collection(
    state: &AppState,
    found: Vec<FoundFeature>,
    crs: &CrsInfo,
    extra: Value,
) -> Response {
    let features: Vec<Value> = found
        .into_iter()
        .map(|f| {
            let (title_vi, title_en) = state
                .layers
                .get(&f.layer)
                .map(|l| (l.title_vi().to_string(), l.title_en().to_string()))
                .unwrap_or_default();
            let mut feature = json!({
                "type": "Feature",
                "id": f.id,
                "geometry": f.geometry,
                "properties": f.properties,
                "layer": f.layer,
                "layer_title_vi": title_vi,
                "layer_title_en": title_en,
            });
            if let (Some(d), Some(obj)) = (f.distance_m, feature.as_object_mut()) {
                obj.insert("distance_m".into(), json!(d));
            }
            feature
        })
        .collect();
    let mut body = json!({
        "type": "FeatureCollection",
        "numberReturned": features.len(),
        "features": features,
    });
    if let (Some(obj), Some(more)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    with_crs(geojson(&body), crs)
}

/// A GeoJSON document (`application/geo+json`).
fn geojson(body: &Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    response
}

fn with_crs(mut response: Response, crs: &CrsInfo) -> Response {
    if crs.epsg != WGS84 {
        if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.ogc_uri())) {
            response.headers_mut().insert("content-crs", v);
        }
    } else {
        response.headers_mut().insert(
            "content-crs",
            HeaderValue::from_static("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"),
        );
    }
    response
}

fn output(crs: &CrsInfo, reader: &Reader) -> Output {
    Output {
        srid: crs.epsg,
        viewer: reader.viewer().clone(),
    }
}

/// `GET /query/identify`
pub async fn identify(
    State(state): State<AppState>,
    reader: Reader,
    XyCrs(crs): XyCrs,
    LayerList(asked): LayerList,
    Query(p): Params,
) -> Result<Response, AppError> {
    let zoom = integer(&p, "zoom", 0, 24)?.ok_or_else(|| {
        AppError::BadRequest("zoom is required: the map's zoom level, 0 to 24".into())
    })?;
    let zoom = u8::try_from(zoom).unwrap_or(24);
    let tolerance = number(&p, "tolerance")?.unwrap_or(4.0);
    if !(tolerance > 0.0 && tolerance <= TOLERANCE_MAX) {
        return Err(AppError::BadRequest(format!(
            "tolerance is in pixels, more than 0 and at most {TOLERANCE_MAX}"
        )));
    }
    let (lon, lat) = point_lonlat(&p, &crs)?;
    let layers: Vec<std::sync::Arc<dyn Layer>> = match asked {
        Some(list) => list,
        None => state
            .layers
            .snapshot()
            .iter()
            .filter(|l| reader.sees(l.as_ref()))
            .filter(|l| {
                let (min, max) = l.zoom_range();
                (min..=max).contains(&zoom)
            })
            .cloned()
            .collect(),
    };
    let dyn_layers: Vec<&dyn Layer> = layers.iter().map(|l| l.as_ref()).collect();
    let zone = land::lookup::native_srid(state.pools.features(), lon, lat)
        .await
        .map_err(lookup_error)?;
    let radius = q::pixel_radius_3857(zoom, tolerance);
    let found = q::identify(
        state.pools.features(),
        &dyn_layers,
        lon,
        lat,
        zone,
        radius,
        zoom,
        output(&crs, &reader),
        IDENTIFY_MAX,
    )
    .await
    .map_err(query_error)?;
    Ok(feature_collection(
        &state,
        found,
        &crs,
        json!({"search_radius_m": q::ground_metres(radius, lat)}),
    ))
}

/// `GET /query/nearest`
pub async fn nearest(
    State(state): State<AppState>,
    reader: Reader,
    XyCrs(crs): XyCrs,
    Query(p): Params,
) -> Result<Response, AppError> {
    let layer = required_layer(&state, &p, &reader)?;
    let limit = limit(&p, 10, LIMIT_MAX)?;
    let (lon, lat) = point_lonlat(&p, &crs)?;
    let zone = land::lookup::native_srid(state.pools.features(), lon, lat)
        .await
        .map_err(lookup_error)?;
    let found = q::nearest(
        state.pools.features(),
        layer.as_ref(),
        lon,
        lat,
        zone,
        output(&crs, &reader),
        limit,
    )
    .await
    .map_err(query_error)?;
    Ok(feature_collection(
        &state,
        found,
        &crs,
        json!({"computed_in": format!("EPSG:{zone}")}),
    ))
}

/// `GET /query/within`
pub async fn within(
    State(state): State<AppState>,
    reader: Reader,
    XyCrs(crs): XyCrs,
    Query(p): Params,
) -> Result<Response, AppError> {
    let layer = required_layer(&state, &p, &reader)?;
    let distance = required_number(&p, "distance")?;
    if !(0.0..=DISTANCE_MAX_M).contains(&distance) {
        return Err(AppError::BadRequest(format!(
            "distance is in metres, from 0 to {DISTANCE_MAX_M}"
        )));
    }
    let limit = limit(&p, LIMIT_MAX, LIMIT_MAX)?;
    let (lon, lat) = point_lonlat(&p, &crs)?;
    let zone = land::lookup::native_srid(state.pools.features(), lon, lat)
        .await
        .map_err(lookup_error)?;
    let found = q::within(
        state.pools.features(),
        layer.as_ref(),
        lon,
        lat,
        zone,
        distance,
        output(&crs, &reader),
        limit,
    )
    .await
    .map_err(query_error)?;
    Ok(feature_collection(
        &state,
        found,
        &crs,
        json!({"computed_in": format!("EPSG:{zone}")}),
    ))
}

fn parcel_query(p: &HashMap<String, String>) -> Result<ParcelQuery, AppError> {
    let commune = param(p, "commune").ok_or_else(|| {
        AppError::BadRequest(
            "commune is required: a five-digit commune code, pre- or post-merger".into(),
        )
    })?;
    land::lookup::check_commune_code(commune).map_err(lookup_error)?;
    Ok(ParcelQuery {
        commune: commune.to_string(),
        sheet: integer(p, "sheet", 1, i64::from(i32::MAX))?,
        number: integer(p, "number", 1, i64::from(i32::MAX))?,
    })
}

/// A parcel's public properties as JSON.
fn parcel_json(parcel: &Parcel) -> Value {
    serde_json::to_value(parcel).unwrap_or_else(|_| json!({}))
}

/// `GET /query/parcels`
pub async fn parcels(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Response, AppError> {
    let query = parcel_query(&p)?;
    let limit = limit(&p, PARCELS_MAX, PARCELS_MAX)?;
    let found = land::lookup::find(state.pools.features(), &query, limit)
        .await
        .map_err(lookup_error)?;
    let features: Vec<Value> = found
        .iter()
        .map(|parcel| {
            json!({
                "type": "Feature",
                "id": parcel.id,
                "bbox": parcel.bbox,
                "geometry": parcel.geometry,
                "properties": parcel_json(parcel),
                "layer": "parcels",
            })
        })
        .collect();
    Ok(geojson(&json!({
        "type": "FeatureCollection",
        "numberReturned": features.len(),
        "features": features,
    })))
}

/// Which plans a planning report reads: `as_of=YYYY-MM-DD` the plans in force that day;
/// otherwise today's, with drafts for planners (and administrators) unless they ask
/// `drafts=false`.
pub fn report_plans(
    reader: &Reader,
    p: &HashMap<String, String>,
) -> Result<planning::report::Plans, AppError> {
    use planning::report::Plans;
    if let Some(day) = param(p, "as_of") {
        let day =
            planning::plans::parse_day(day).map_err(|e| AppError::BadRequest(e.to_string()))?;
        return Ok(Plans::AsOf(day));
    }
    let insider = reader.viewer().whole_access() >= gis_core::layer::Access::Internal;
    match param(p, "drafts") {
        Some("false") => Ok(Plans::InForce),
        None if insider => Ok(Plans::WithDrafts),
        None => Ok(Plans::InForce),
        Some("true") if insider => Ok(Plans::WithDrafts),
        Some("true") => Err(AppError::Forbidden(
            "drafts of plans are read by planners and administrators only".into(),
        )),
        Some(other) => Err(AppError::BadRequest(format!(
            "drafts must be true or false, not \"{}\"",
            other.chars().take(20).collect::<String>()
        ))),
    }
}

/// `GET /query/planning-report`
pub async fn planning_report(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Params,
) -> Result<Response, AppError> {
    let plans = report_plans(&reader, &p)?;
    let parcel = if let Some(id) = integer(&p, "parcel", 1, i64::MAX)? {
        land::lookup::by_id(state.pools.features(), id)
            .await
            .map_err(lookup_error)?
            .ok_or_else(|| AppError::NotFound(format!("there is no parcel with id {id}")))?
    } else {
        let query = parcel_query(&p).map_err(|_| {
            AppError::BadRequest(
                "name the parcel: parcel=<id>, or commune (five digits, pre- or post-merger), sheet and number"
                    .into(),
            )
        })?;
        let (Some(sheet), Some(number)) = (query.sheet, query.number) else {
            return Err(AppError::BadRequest(
                "with commune, give sheet and number too (or parcel=<id>)".into(),
            ));
        };
        match land::lookup::identify(
            state.pools.features(),
            &query.commune,
            sheet,
            number,
            PARCELS_MAX,
        )
        .await
        .map_err(lookup_error)?
        {
            land::lookup::Identified::One(parcel) => *parcel,
            land::lookup::Identified::Nothing => {
                return Err(AppError::NotFound(format!(
                    "no parcel {number} on sheet {sheet} of commune {}",
                    query.commune
                )))
            }
            land::lookup::Identified::Several(found) => {
                let candidates: Vec<String> = found
                    .iter()
                    .map(|c| {
                        format!(
                            "parcel={} (old commune {} {})",
                            c.id,
                            c.commune_code,
                            c.commune_name.as_deref().unwrap_or("")
                        )
                    })
                    .collect();
                let mut members = serde_json::Map::new();
                members.insert(
                    "candidates".into(),
                    found
                        .iter()
                        .map(|c| {
                            json!({
                                "parcel": c.id,
                                "commune_code": c.commune_code,
                                "commune_name": c.commune_name,
                                "href": format!("/query/planning-report?parcel={}", c.id),
                            })
                        })
                        .collect(),
                );
                return Ok(problem_with_extensions(
                    StatusCode::CONFLICT,
                    Some(format!(
                        "commune {} merged several old communes, and {} of them have a parcel {number} on sheet {sheet}; \
                         ask again with the old commune code or one of: {}",
                        query.commune,
                        found.len(),
                        candidates.join(", ")
                    )),
                    members,
                ));
            }
        }
    };
    let report = async {
        let mut tx = planning::report::read_transaction(state.pools.features()).await?;
        let report = planning::report::overlay(&mut tx, &parcel.ewkb, plans).await?;
        tx.commit().await?;
        Ok(report)
    }
    .await
    .map_err(|e| match e {
        planning::report::ReportError::Db(e) => AppError::from(e),
        other => AppError::internal(other),
    })?;
    let mut parcel_value = parcel_json(&parcel);
    if let Some(obj) = parcel_value.as_object_mut() {
        obj.insert("bbox".into(), json!(parcel.bbox));
    }
    Ok(Json(json!({
        "parcel": parcel_value,
        "srid": report.srid,
        "computed_in": format!("EPSG:{}", report.srid),
        "parcel_area_m2": report.parcel_area_m2,
        "zones": report.zones,
        "unplanned_area_m2": report.unplanned_area_m2,
        "red_lines": report.red_lines,
        "building_lines": report.building_lines,
        "buildings": report.buildings,
        "plans": report.plans,
        "as_of": match plans {
            planning::report::Plans::AsOf(day) => Some(day.to_string()),
            _ => None,
        },
        "drafts": plans == planning::report::Plans::WithDrafts,
    }))
    .into_response())
}

async fn measure(
    state: &AppState,
    crs: &CrsInfo,
    text: GeometryText<'_>,
) -> Result<Response, AppError> {
    let parsed = q::parse_geometry(state.pools.features(), text, crs.epsg)
        .await
        .map_err(query_error)?;
    if !LonLatBox::VIETNAM.contains(parsed.centroid_lon, parsed.centroid_lat) {
        return Err(AppError::BadRequest(format!(
            "the geometry's centroid (longitude {:.5}, latitude {:.5}) is outside Viet Nam; check the axis order and crs",
            parsed.centroid_lon, parsed.centroid_lat
        )));
    }
    let zone = land::lookup::native_srid(
        state.pools.features(),
        parsed.centroid_lon,
        parsed.centroid_lat,
    )
    .await
    .map_err(lookup_error)?;
    let m = q::measure(state.pools.features(), &parsed, zone)
        .await
        .map_err(query_error)?;
    let zone_name = state
        .crs
        .get(zone)
        .map(|c| c.name)
        .unwrap_or_else(|_| format!("EPSG:{zone}"));
    Ok(Json(json!({
        "srid": zone,
        "zone": zone_name,
        "computed_in": format!("EPSG:{zone}"),
        "geometry_type": parsed.kind,
        "length_m": m.length_m,
        "area_m2": m.area_m2,
        "perimeter_m": m.perimeter_m,
    }))
    .into_response())
}

/// `GET /query/measure?wkt=…`
pub async fn measure_wkt(
    State(state): State<AppState>,
    XyCrs(crs): XyCrs,
    Query(p): Params,
) -> Result<Response, AppError> {
    let wkt = param(&p, "wkt").ok_or_else(|| {
        AppError::BadRequest("wkt is required, e.g. LINESTRING(106.88 11.53, 106.89 11.54)".into())
    })?;
    measure(&state, &crs, GeometryText::Wkt(wkt)).await
}

/// `POST /query/measure` with a GeoJSON geometry (or Feature) as body.
pub async fn measure_geojson(
    State(state): State<AppState>,
    XyCrs(crs): XyCrs,
    body: Bytes,
) -> Result<Response, AppError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("the body must be a GeoJSON geometry: {e}")))?;
    let geometry = match value.get("type").and_then(Value::as_str) {
        Some("Feature") => value.get("geometry").cloned().unwrap_or(Value::Null),
        Some(_) => value,
        None => Value::Null,
    };
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or("");
    const TYPES: [&str; 6] = [
        "Point",
        "LineString",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
    ];
    if !TYPES.contains(&kind) {
        return Err(AppError::BadRequest(
            "the body must be a GeoJSON geometry (Point, LineString, Polygon or Multi*) or a Feature with one"
                .into(),
        ));
    }
    let text = geometry.to_string();
    measure(&state, &crs, GeometryText::GeoJson(&text)).await
}

/// OpenAPI 3.0 `paths` of these routes, merged into the service description. Self-contained:
/// every schema is inline.
pub fn openapi_paths() -> Value {
    let problem = json!({
        "description": "Problem (RFC 9457)",
        "content": {"application/problem+json": {"schema": {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "request_id": {"type": "string"}
            }
        }}}
    });
    let number = |name: &str, required: bool, description: &str| {
        json!({"name": name, "in": "query", "required": required, "description": description,
               "schema": {"type": "number"}})
    };
    let integer = |name: &str, required: bool, min: i64, max: i64, description: &str| {
        json!({"name": name, "in": "query", "required": required, "description": description,
               "schema": {"type": "integer", "minimum": min, "maximum": max}})
    };
    let string = |name: &str, required: bool, description: &str| {
        json!({"name": name, "in": "query", "required": required, "description": description,
               "schema": {"type": "string"}})
    };
    let crs = string(
        "crs",
        false,
        "CRS of x/y and of output geometry: http://www.opengis.net/def/crs/OGC/1.3/CRS84 (default), \
         http://www.opengis.net/def/crs/EPSG/0/N or EPSG:N",
    );
    let x = number("x", true, "Easting or longitude of the point in `crs`");
    let y = number("y", true, "Northing or latitude of the point in `crs`");
    let geometry = json!({"type": "object", "nullable": true, "description": "GeoJSON geometry",
        "required": ["type"], "properties": {"type": {"type": "string"}}});
    let feature = json!({
        "type": "object",
        "required": ["type", "id", "geometry", "properties", "layer"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": geometry,
            "properties": {"type": "object", "description": "Permitted properties only (never owner names for anonymous readers)"},
            "layer": {"type": "string"},
            "layer_title_vi": {"type": "string"},
            "layer_title_en": {"type": "string"},
            "distance_m": {"type": "number", "description": "Metres in the TM-3 zone of the point"}
        }
    });
    let collection = |description: &str| {
        json!({
            "description": description,
            "headers": {"Content-Crs": {"schema": {"type": "string"}, "description": "CRS of the geometry, <URI>"}},
            "content": {"application/geo+json": {"schema": {
                "type": "object",
                "required": ["type", "features", "numberReturned"],
                "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "numberReturned": {"type": "integer", "minimum": 0},
                    "search_radius_m": {"type": "number"},
                    "computed_in": {"type": "string"},
                    "features": {"type": "array", "items": feature.clone()}
                }
            }}}
        })
    };
    let line_cut = json!({
        "type": "object",
        "required": ["crosses", "fronts", "cut_area_m2", "length_inside_m", "roads"],
        "properties": {
            "crosses": {"type": "boolean", "description": "A line runs through the parcel's interior"},
            "fronts": {"type": "boolean", "description": "A line touches or runs along the parcel (5 cm)"},
            "cut_area_m2": {"type": "number", "description": "Parcel area on the road side (right of the line as digitised) of the crossing lines, minus what lies on the block side of another crossing line: for one line the piece split off on the road side, for a parcel spanning the road the strip between opposite red lines"},
            "length_inside_m": {"type": "number"},
            "roads": {"type": "array", "items": {"type": "string"}}
        }
    });
    let parcel_props = json!({
        "type": "object",
        "required": ["id", "commune_code", "sheet_number", "parcel_number", "area_m2", "srid"],
        "properties": {
            "id": {"type": "integer"},
            "commune_code": {"type": "string", "description": "Pre-merger commune code the parcel is numbered in"},
            "commune_name": {"type": "string", "nullable": true},
            "commune_code_new": {"type": "string", "nullable": true, "description": "Post-merger commune code"},
            "commune_name_new": {"type": "string", "nullable": true},
            "sheet_number": {"type": "integer"},
            "parcel_number": {"type": "integer"},
            "land_use_code": {"type": "string", "nullable": true},
            "area_m2": {"type": "number", "description": "Measured in the parcel's native TM-3 zone"},
            "legal_area_m2": {"type": "number", "nullable": true},
            "declared_area_m2": {"type": "number", "nullable": true},
            "place_name": {"type": "string", "nullable": true},
            "certificate_issued": {"type": "boolean", "nullable": true},
            "srid": {"type": "integer"},
            "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
        }
    });
    let measures = json!({
        "description": "Measures in the TM-3 zone of the geometry's centroid",
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["srid", "zone", "length_m", "area_m2", "perimeter_m"],
            "properties": {
                "srid": {"type": "integer"}, "zone": {"type": "string"},
                "computed_in": {"type": "string"}, "geometry_type": {"type": "string"},
                "length_m": {"type": "number"}, "area_m2": {"type": "number"},
                "perimeter_m": {"type": "number"}
            }
        }}}
    });
    let commune = string(
        "commune",
        false,
        "Commune code, five digits, pre-merger or post-merger (2025-07-01)",
    );
    let p0 = json!({"get": {
        "tags": ["query"],
        "summary": "Features at a point (xác định đối tượng tại điểm)",
        "description": "Features of the chosen layers drawn at `zoom` within `tolerance` pixels of the point: the radius is tolerance × the Web Mercator pixel size at that zoom (on the ground × cos(latitude), answered as `search_radius_m`). Points first, then lines, then polygons by ascending area; at most 50.",
        "operationId": "identify",
        "parameters": [x, y, crs,
            integer("zoom", true, 0, 24, "Zoom level of the map"),
            {"name": "tolerance", "in": "query", "required": false, "description": "Search radius in pixels (default 4)",
             "schema": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 50, "default": 4}},
            string("layers", false, "Comma-separated layer ids; default every public layer drawn at `zoom`")],
        "responses": {"200": collection("Features found"), "400": problem, "404": problem}
    }});
    let p1 = json!({"get": {
        "tags": ["query"],
        "summary": "Nearest features of a layer (đối tượng gần nhất)",
        "operationId": "nearest",
        "parameters": [string("layer", true, "Layer id"), x, y, crs,
            integer("limit", false, 1, 1000, "Number of features (default 10)")],
        "responses": {"200": collection("Features by distance, `distance_m` each"), "400": problem, "404": problem}
    }});
    let p2 = json!({"get": {
        "tags": ["query"],
        "summary": "Features within a distance (đối tượng trong bán kính)",
        "operationId": "within",
        "parameters": [string("layer", true, "Layer id"), x, y, crs,
            {"name": "distance", "in": "query", "required": true, "description": "Metres in the TM-3 zone of the point",
             "schema": {"type": "number", "minimum": 0, "maximum": 10000}},
            integer("limit", false, 1, 1000, "Most features (default 1000)")],
        "responses": {"200": collection("Features by distance, `distance_m` each"), "400": problem, "404": problem}
    }});
    let p3 = json!({"get": {
        "tags": ["query"],
        "summary": "Find parcels by commune, map sheet and parcel number (tìm thửa đất)",
        "description": "A post-merger commune code finds the parcels of all its old communes; sheet numbers restart per old commune, so each parcel carries its old commune code.",
        "operationId": "parcels",
        "parameters": [
            {"name": "commune", "in": "query", "required": true, "description": "Commune code, five digits, pre-merger or post-merger",
             "schema": {"type": "string", "pattern": "^[0-9]{5}$"}},
            integer("sheet", false, 1, 2147483647, "Map sheet number"),
            integer("number", false, 1, 2147483647, "Parcel number"),
            integer("limit", false, 1, 100, "Most parcels (default 100)")],
        "responses": {
            "200": {"description": "Parcels in CRS84, each with a bbox",
                "content": {"application/geo+json": {"schema": {
                    "type": "object", "required": ["type", "features"],
                    "properties": {
                        "type": {"type": "string", "enum": ["FeatureCollection"]},
                        "numberReturned": {"type": "integer"},
                        "features": {"type": "array", "items": {
                            "type": "object", "required": ["type", "id", "geometry", "properties", "bbox"],
                            "properties": {
                                "type": {"type": "string"}, "id": {"type": "integer"},
                                "bbox": {"type": "array", "items": {"type": "number"}},
                                "geometry": geometry, "properties": parcel_props.clone(),
                                "layer": {"type": "string"}
                            }}}
                    }}}}},
            "400": problem}
    }});
    let zone_list = json!({"type": "array", "items": {"type": "object",
    "required": ["zone_code", "area_m2", "percent"],
    "properties": {
        "zone_code": {"type": "string"},
        "zone_name": {"type": "string", "nullable": true},
        "function_code": {"type": "string", "nullable": true},
        "function_name_vi": {"type": "string", "nullable": true},
        "function_name_en": {"type": "string", "nullable": true},
        "area_m2": {"type": "number"}, "percent": {"type": "number"},
        "density_pct": {"type": "number", "nullable": true},
        "max_floors": {"type": "integer", "nullable": true},
        "max_height_m": {"type": "number", "nullable": true},
        "setback_m": {"type": "number", "nullable": true},
        "decision_number": {"type": "string", "nullable": true},
        "decision_date": {"type": "string", "nullable": true}
    }}});
    let p4 = json!({"get": {
        "tags": ["query"],
        "summary": "Planning report of a parcel (thông tin quy hoạch thửa đất)",
        "description": "The parcel's overlay with planning zones (area and percent per planned function, density, floors, height, setback, decision), its unplanned area, red and building lines, and the buildings on it (existing and planned: floors, height, footprint on the parcel), measured in the parcel's native TM-3 zone. Name the parcel by `parcel` id, or by `commune` + `sheet` + `number`.",
        "operationId": "planningReport",
        "parameters": [integer("parcel", false, 1, 9223372036854775807, "Parcel id"), commune,
            integer("sheet", false, 1, 2147483647, "Map sheet number"),
            integer("number", false, 1, 2147483647, "Parcel number"),
            {"name": "as_of", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "example": "2026-01-01",
             "description": "The plans in force on this day (history); default today's"},
            {"name": "drafts", "in": "query", "required": false, "schema": {"type": "boolean"}, "example": false,
             "description": "Planners and administrators read drafts too unless `false`; `true` is refused (403) to others"}],
        "responses": {
            "200": {"description": "The report", "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["parcel", "srid", "zones", "unplanned_area_m2", "red_lines", "building_lines", "computed_in"],
                "properties": {
                    "parcel": parcel_props,
                    "srid": {"type": "integer"},
                    "computed_in": {"type": "string"},
                    "parcel_area_m2": {"type": "number"},
                    "zones": zone_list,
                    "unplanned_area_m2": {"type": "number"},
                    "red_lines": line_cut.clone(),
                    "building_lines": line_cut,
                    "plans": {"type": "array", "items": {"type": "object"}},
                    "as_of": {"type": "string", "format": "date", "nullable": true},
                    "drafts": {"type": "boolean"}
                }
            }}}},
            "400": problem, "403": problem, "404": problem,
            "409": {"description": "A post-merger code matches several parcels; the detail and the `candidates` member (parcel, commune_code, commune_name, href) list them", "content": problem["content"].clone()}
        }
    }});
    let p5 = json!({
        "get": {
            "tags": ["query"],
            "summary": "Measure a WKT geometry in TM-3 metres (đo đạc)",
            "operationId": "measureWkt",
            "parameters": [string("wkt", true, "Point, LineString, Polygon or Multi* in WKT"), crs],
            "responses": {"200": measures.clone(), "400": problem}
        },
        "post": {
            "tags": ["query"],
            "summary": "Measure a GeoJSON geometry in TM-3 metres (đo đạc)",
            "operationId": "measureGeoJson",
            "parameters": [crs],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["type"],
                "properties": {"type": {"type": "string", "enum": ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "Feature"]},
                               "coordinates": {"type": "array"}}
            }}}},
            "responses": {"200": measures, "400": problem}
        }
    });
    let mut paths = serde_json::Map::new();
    paths.insert("/query/identify".into(), p0);
    paths.insert("/query/nearest".into(), p1);
    paths.insert("/query/within".into(), p2);
    paths.insert("/query/parcels".into(), p3);
    paths.insert("/query/planning-report".into(), p4);
    paths.insert("/query/measure".into(), p5);
    add_examples(&mut paths);
    Value::Object(paths)
}

/// Realistic parameter values (Đồng Xoài, the sample data's first commune), so generated
/// clients and the HTML documentation start from a request that finds something.
fn add_examples(paths: &mut serde_json::Map<String, Value>) {
    let example = |name: &str| -> Option<Value> {
        Some(match name {
            "x" => json!(106.883),
            "y" => json!(11.535),
            "crs" => json!("http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
            "zoom" => json!(17),
            "tolerance" => json!(4),
            "layers" => json!("parcels,red_lines"),
            "layer" => json!("parcels"),
            "limit" => json!(5),
            "distance" => json!(200),
            "commune" => json!("25195"),
            "sheet" | "number" | "parcel" => json!(1),
            "wkt" => json!(
                "POLYGON((106.883 11.535,106.884 11.535,106.884 11.536,106.883 11.536,106.883 11.535))"
            ),
            _ => return None,
        })
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for param in params.iter_mut().filter_map(Value::as_object_mut) {
                let name = param.get("name").and_then(Value::as_str).unwrap_or("");
                if let Some(v) = example(name) {
                    param.insert("example".into(), v);
                }
            }
        }
    }
    if let Some(body) = paths
        .get_mut("/query/measure")
        .and_then(|m| m.pointer_mut("/post/requestBody/content/application~1json"))
        .and_then(Value::as_object_mut)
    {
        body.insert(
            "example".into(),
            json!({"type": "LineString", "coordinates": [[106.883, 11.535], [106.884, 11.536]]}),
        );
    }
}
