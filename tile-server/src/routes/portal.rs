//! The public planning portal's API (`/portal/api/…`; the page is `web/portal`, served by
//! `routes::web`): one search over the three ways citizens name a place, and a parcel's
//! information sheet. Public data only, plans in force only; both pass `guard_expensive`
//! (per-client limits, 429 with `Retry-After`). The rules are `land::portal`, `land::lookup`
//! and `planning`'s.

use std::collections::HashMap;

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
}

fn lookup_error(e: LookupError) -> AppError {
    match e {
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

/// A parcel as the portal lists it: identity, area, crosswalk; no owner, no address.
fn parcel_item(p: &Parcel) -> Value {
    let land_use = p
        .properties
        .get("land_use_code")
        .cloned()
        .unwrap_or(Value::Null);
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
        "bbox": p.bbox,
        "href": format!("/portal#parcel={}", p.id),
    })
}

/// `GET /portal/api/search`: `commune` (code or name, pre- or post-merger) + `sheet` +
/// `number`; or `place` (a commune's name, accent- and case-insensitive); or `lon` + `lat`
/// (WGS84 degrees); or `x` + `y` (VN-2000 TM-3 metres, x = northing; the zone is guessed).
pub async fn search(
    State(state): State<AppState>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let pool = &state.pools.features;
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
            "search by commune (+ sheet + number), place, lon + lat, or x + y (VN-2000)".into(),
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
/// area and percent, limits, red and building line cuts, the data date. Public only.
pub async fn sheet(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let pool = &state.pools.features;
    let id = id.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        AppError::BadRequest("the sheet names a parcel id (a positive whole number)".into())
    })?;
    let parcel = land::lookup::by_id(pool, id)
        .await
        .map_err(lookup_error)?
        .ok_or_else(|| AppError::NotFound(format!("there is no parcel {id}")))?;
    let report = planning::report::overlay(pool, &parcel.ewkb, planning::report::Plans::InForce)
        .await
        .map_err(|e| match e {
            planning::report::ReportError::Db(db) => AppError::from(db),
            other => AppError::internal(other),
        })?;
    let data_date = land::portal::data_date(pool).await.map_err(lookup_error)?;
    let land_use = parcel
        .properties
        .get("land_use_code")
        .and_then(Value::as_str)
        .and_then(|c| land::land_use::validate(c, None).ok())
        .map(|c| json!({"code": c.code, "name_vi": c.name_vi, "name_en": c.name_en}));
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
