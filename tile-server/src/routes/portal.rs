//! The public planning portal's API (`/portal/api/…`; the page is `web/portal`, served by
//! `routes::web`): one search over the three ways citizens name a place, and a parcel's
//! information sheet, as JSON or as the printable PDF (`sheet` crate). Public data only, plans
//! in force only; all pass `guard_expensive` (per-client limits, 429 with `Retry-After`). The
//! rules are `land::portal`, `land::lookup` and `planning`'s (`planning::sheet`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use land::lookup::{LookupError, Parcel, ParcelQuery};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::AppError;

/// Parcels a search answers at most.
const MAX_PARCELS: u32 = 20;

/// The portal's API routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/portal/api/search", get(search))
        .route("/portal/api/sheet/{id}", get(sheet))
        .route("/portal/api/sheet/{id}/pdf", get(sheet_pdf))
}

/// The sheet of the parcel a path names: 400 when it names none, 404 when there is none.
async fn load_sheet(state: &AppState, id: &str) -> Result<planning::sheet::InfoSheet, AppError> {
    let id = id.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        AppError::BadRequest("the sheet names a parcel id (a positive whole number)".into())
    })?;
    planning::sheet::load(state.pools.features(), id)
        .await
        .map_err(|e| match e {
            planning::sheet::SheetError::Parcel(l) => lookup_error(l),
            planning::sheet::SheetError::Report(planning::report::ReportError::Db(db)) => {
                AppError::from(db)
            }
            other => AppError::internal(other),
        })?
        .ok_or_else(|| AppError::NotFound(format!("there is no parcel {id}")))
}

/// The sheet's typesetter, made once (fonts read once) from the server's font directory.
static PRINTER: OnceLock<Arc<sheet::Printer>> = OnceLock::new();

/// The sheet's typesetter; an error naming the missing font (`bando serve` makes it at start
/// and warns, so a missing font package is seen before the first citizen asks).
pub fn printer() -> Result<Arc<sheet::Printer>, sheet::SheetError> {
    if let Some(p) = PRINTER.get() {
        return Ok(p.clone());
    }
    let made = Arc::new(sheet::Printer::with_fonts(&crate::glyphs::font_dir())?);
    Ok(PRINTER.get_or_init(|| made).clone())
}

/// `GET /portal/api/sheet/{id}/pdf`: the printable sheet (A4 PDF, Vietnamese): the JSON
/// sheet's content, a location map drawn from the public layers' tiles, and a QR code of the
/// shareable link (`/portal#parcel=ID`).
pub async fn sheet_pdf(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    let info = load_sheet(&state, &id).await?;
    let file = format!(
        "phieu-thong-tin-quy-hoach-{}-to{}-thua{}.pdf",
        info.parcel.commune_code, info.parcel.sheet_number, info.parcel.parcel_number
    );
    let link = format!(
        "{}/portal#parcel={}",
        crate::routes::base_url(&headers),
        info.parcel.id
    );
    let layers: Vec<_> = state.layers.snapshot().iter().cloned().collect();
    let printer = printer().map_err(AppError::internal)?;
    let pdf = sheet::print(printer, &state.tiles, &layers, info, link)
        .await
        .map_err(|e| match e {
            sheet::SheetError::Map(sheet::map::MapError::Tile { error, .. }) => {
                AppError::from_tile_error(&error)
            }
            other => AppError::internal(other),
        })?;
    let mut r = pdf.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(r)
}

fn lookup_error(e: LookupError) -> AppError {
    match e {
        LookupError::VagueAddress => AppError::BadRequest(e.to_string()),
        LookupError::Db(db) => AppError::from(db),
        LookupError::BadCommuneCode(code) => AppError::BadRequest(format!(
            "commune {:?} is neither a five-digit code nor a commune name",
            code.chars().take(40).collect::<String>()
        )),
        other => AppError::internal(other),
    }
}

fn text<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn number(p: &HashMap<String, String>, name: &str) -> Result<Option<f64>, AppError> {
    text(p, name)
        .map(|t| {
            t.replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| AppError::BadRequest(format!("{name} must be a number, not {t:?}")))
        })
        .transpose()
}

fn whole(p: &HashMap<String, String>, name: &str) -> Result<Option<i64>, AppError> {
    text(p, name)
        .map(|t| {
            t.parse::<i64>()
                .ok()
                .filter(|v| (1..=i64::from(i32::MAX)).contains(v))
                .ok_or_else(|| {
                    AppError::BadRequest(format!("{name} must be a whole number, not {t:?}"))
                })
        })
        .transpose()
}

/// A parcel as the portal lists it: identity, area, crosswalk, where it lies (`place_name`);
/// no owner, no owner's address.
fn parcel_item(p: &Parcel) -> Value {
    let property = |name: &str| p.properties.get(name).cloned().unwrap_or(Value::Null);
    let land_use = property("land_use_code");
    json!({
        "id": p.id,
        "commune_code": p.commune_code,
        "commune_name": p.commune_name,
        "commune_code_new": p.commune_code_new,
        "commune_name_new": p.commune_name_new,
        "sheet_number": p.sheet_number,
        "parcel_number": p.parcel_number,
        "area_m2": p.area_m2,
        "land_use_code": land_use,
        "place_name": property("place_name"),
        "bbox": p.bbox,
        "href": format!("/portal#parcel={}", p.id),
    })
}

/// `GET /portal/api/search`: `commune` (code or name, pre- or post-merger) + `sheet` +
/// `number`; or `place` (a commune's name, accent- and case-insensitive); or `address` (where
/// a parcel lies: words of its `place_name`, accents and case ignored, partial); or `lon` + `lat`
/// (WGS84 degrees); or `x` + `y` (VN-2000 TM-3 metres, x = northing; the zone is guessed).
pub async fn search(
    State(state): State<AppState>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let pool = state.pools.features();
    let answer = if let Some(commune) = text(&p, "commune") {
        let code = land::portal::commune_code(pool, commune)
            .await
            .map_err(lookup_error)?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "no single commune is named {:?}; search by place to see the candidates",
                    commune.chars().take(60).collect::<String>()
                ))
            })?;
        let query = ParcelQuery {
            commune: code,
            sheet: whole(&p, "sheet")?,
            number: whole(&p, "number")?,
        };
        let found = land::lookup::find(pool, &query, MAX_PARCELS)
            .await
            .map_err(lookup_error)?;
        json!({"kind": "parcel", "parcels": found.iter().map(parcel_item).collect::<Vec<_>>()})
    } else if let Some(place) = text(&p, "place") {
        if place.chars().count() > 100 {
            return Err(AppError::BadRequest("place: at most 100 characters".into()));
        }
        let communes = land::portal::communes_named(pool, place, 50)
            .await
            .map_err(lookup_error)?;
        json!({"kind": "place", "communes": communes})
    } else if let Some(address) = text(&p, "address") {
        if address.chars().count() > 100 {
            return Err(AppError::BadRequest(
                "address: at most 100 characters".into(),
            ));
        }
        let found = land::portal::parcels_at_address(pool, address, MAX_PARCELS)
            .await
            .map_err(lookup_error)?;
        json!({"kind": "address", "parcels": found.iter().map(parcel_item).collect::<Vec<_>>()})
    } else if let (Some(lon), Some(lat)) = (number(&p, "lon")?, number(&p, "lat")?) {
        if !(100.0..=112.0).contains(&lon) || !(6.0..=24.0).contains(&lat) {
            return Err(AppError::BadRequest(format!(
                "({lon}, {lat}) is not in Viet Nam: give longitude 100–112 and latitude 6–24 degrees"
            )));
        }
        let found = land::portal::parcel_at(pool, lon, lat)
            .await
            .map_err(lookup_error)?;
        json!({"kind": "point", "lon": lon, "lat": lat,
               "parcels": found.iter().map(parcel_item).collect::<Vec<_>>()})
    } else if let (Some(x), Some(y)) = (number(&p, "x")?, number(&p, "y")?) {
        let guess = land::portal::guess_zone(pool, x, y)
            .await
            .map_err(lookup_error)?
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "X {x} / Y {y} are not VN-2000 TM-3 metres of Viet Nam (X = northing 800,000–2,600,000, Y = easting 100,000–900,000)"
                ))
            })?;
        let found = land::portal::parcel_at(pool, guess.lon, guess.lat)
            .await
            .map_err(lookup_error)?;
        json!({"kind": "vn2000", "x": x, "y": y, "zone": guess,
               "parcels": found.iter().map(parcel_item).collect::<Vec<_>>()})
    } else {
        return Err(AppError::BadRequest(
            "search by commune (+ sheet + number), place, address, lon + lat, or x + y (VN-2000)"
                .into(),
        ));
    };
    let mut r = Json(answer).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(r)
}

/// `GET /portal/api/sheet/{id}`: a parcel's information sheet — identity and area, current land
/// use, the plans in force with their decisions and documents, planned function per zone with
/// area and percent, limits, red and building line cuts, the buildings on the parcel (existing
/// and planned: floors, height, footprint), the data date. Public only.
pub async fn sheet(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let planning::sheet::InfoSheet {
        parcel,
        land_use,
        report,
        data_date,
    } = load_sheet(&state, &id).await?;
    let land_use =
        land_use.map(|c| json!({"code": c.code, "name_vi": c.name_vi, "name_en": c.name_en}));
    let plans: Vec<Value> = report
        .plans
        .iter()
        .map(|p| {
            json!({"id": p.id, "name": p.name, "level": p.level, "decision_number": p.decision_number,
                   "decision_date": p.decision_date, "authority": p.authority,
                   "documents": p.documents.iter().map(|d| json!({"title": d.title, "media_type": d.media_type,
                        "href": format!("/plans/{}/documents/{}", p.id, d.id)})).collect::<Vec<_>>()})
        })
        .collect();
    let mut item = parcel_item(&parcel);
    if let Some(o) = item.as_object_mut() {
        o.insert("geometry".into(), parcel.geometry.clone());
        o.insert("land_use".into(), land_use.unwrap_or(Value::Null));
        o.insert(
            "pdf_href".into(),
            json!(format!("/portal/api/sheet/{}/pdf", parcel.id)),
        );
        o.insert(
            "map_href".into(),
            json!(format!(
                "/map#map=18/{:.6}/{:.6}",
                (parcel.bbox[1] + parcel.bbox[3]) / 2.0,
                (parcel.bbox[0] + parcel.bbox[2]) / 2.0
            )),
        );
    }
    let mut r = Json(json!({
        "parcel": item,
        "computed_in": format!("EPSG:{}", report.srid),
        "parcel_area_m2": report.parcel_area_m2,
        "zones": report.zones,
        "unplanned_area_m2": report.unplanned_area_m2,
        "red_lines": report.red_lines,
        "building_lines": report.building_lines,
        "buildings": report.buildings,
        "plans": plans,
        "data_date": data_date,
    }))
    .into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(r)
}

/// The portal's operations for the OpenAPI document.
pub fn openapi_paths() -> Value {
    let problem = |what: &str| {
        json!({"description": what, "content": {"application/problem+json": {"schema": {
            "type": "object", "required": ["type", "title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"}}}}}})
    };
    let limited = problem("Too many requests from this client (see `Retry-After`)");
    let id = json!({"name": "id", "in": "path", "required": true, "description": "The parcel",
        "schema": {"type": "integer", "minimum": 1}});
    let param = |name: &str, what: &str, schema: Value| {
        json!({"name": name, "in": "query", "required": false,
        "description": what, "schema": schema})
    };
    let text = json!({"type": "string", "maxLength": 100});
    let whole = json!({"type": "integer", "minimum": 1, "maximum": i32::MAX});
    let number = json!({"type": "number"});
    json!({
        "/portal/api/search": {"get": {
            "operationId": "portalSearch",
            "summary": "Find parcels by commune (+ sheet + number), communes by place name (accents and case ignored), parcels by address (words of where the parcel lies, accents and case ignored, partial, best first), or the parcel at a point (WGS84 `lon`/`lat`, or VN-2000 `x`/`y` with the zone guessed)",
            "tags": ["Portal"],
            "parameters": [param("commune", "Commune code or name, pre- or post-merger", text.clone()),
                param("sheet", "Map sheet number", whole.clone()),
                param("number", "Parcel number", whole),
                param("place", "A commune's name", text.clone()),
                param("address", "Where a parcel lies, e.g. `12 phu rieng do` (house number, street, ward; at least one word of 3 letters)", text),
                param("lon", "Longitude (degrees, 100–112)", number.clone()),
                param("lat", "Latitude (degrees, 6–24)", number.clone()),
                param("x", "VN-2000 X (northing, metres)", number.clone()),
                param("y", "VN-2000 Y (easting, metres)", number)],
            "responses": {"200": {"description": "What was found", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}}}}},
                "400": problem("No search or a malformed one"),
                "404": problem("No single commune by that name"),
                "429": limited.clone()}
        }},
        "/portal/api/sheet/{id}": {"get": {
            "operationId": "portalSheet",
            "summary": "A parcel's planning information sheet: public parcel data, land use, plans in force with their decisions, planned function per zone, limits, red and building line cuts, data date",
            "tags": ["Portal"],
            "parameters": [id.clone()],
            "responses": {"200": {"description": "The sheet", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["parcel", "zones", "plans"]}}}},
                "400": problem("Not a parcel id"), "404": problem("No such parcel"),
                "429": limited.clone()}
        }},
        "/portal/api/sheet/{id}/pdf": {"get": {
            "operationId": "portalSheetPdf",
            "summary": "The printable sheet: A4 PDF in Vietnamese with a location map drawn from the public layers' tiles and a QR code of the online sheet",
            "tags": ["Portal"],
            "parameters": [id],
            "responses": {"200": {"description": "The PDF (`Content-Disposition: attachment`)",
                    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                "400": problem("Not a parcel id"), "404": problem("No such parcel"),
                "429": limited}
        }},
    })
}
