//! `/networks/water/isolate`: the valves to close for a break on a water pipe, and what goes
//! dry (the rules are `utilities::network`'s). The handler parses the query, decides from the
//! meters layer's declaration what the reader may see of the meters, and maps errors. The
//! traces, upstream/downstream, the power outage (customers from the power customers layer's
//! declaration) and the quality reports of both networks likewise; `POST …/event` publishes an isolation or
//! outage as an IOC event (`ioc::events`) for operators.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc::events::NewEvent;
use serde_json::{json, Value};
use utilities::network::answer::{Disclosure, Shape};
use utilities::network::event::{self, Published};
use utilities::network::live::LiveNetwork;
use utilities::network::load::Kind;
use utilities::network::request::{
    power_outage, water_isolation, water_trace, BreakAt, Direction, OutageAt, TraceError,
};

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::{vary, Reader};

/// The network routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/networks/water/isolate", get(isolate))
        .route("/networks/water/check", get(check_water))
        .route("/networks/power/check", get(check_power))
        .route("/networks/water/upstream", get(upstream))
        .route("/networks/water/downstream", get(downstream))
        .route("/networks/power/outage", get(outage))
        .route("/networks/water/isolate/event", post(publish_isolation))
        .route("/networks/power/outage/event", post(publish_outage))
}

fn trace_error(e: TraceError) -> AppError {
    match e {
        // Out of connections or time, or the database down: 503 like any other query's.
        TraceError::Load(utilities::network::load::LoadError::Db { source, .. }) => {
            AppError::from(source)
        }
        TraceError::Load(e) => AppError::internal(e),
        e @ (TraceError::NoNetwork
        | TraceError::NoPipeNear { .. }
        | TraceError::UnknownPipe(_)
        | TraceError::UnknownDevice { .. }) => AppError::NotFound(e.to_string()),
        e @ (TraceError::UnknownValve(_) | TraceError::Invalid(_)) => {
            AppError::BadRequest(e.to_string())
        }
        other => AppError::internal(other),
    }
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, AppError> {
    text.trim().parse::<T>().map_err(|_| {
        AppError::BadRequest(format!(
            "{what} must be a number, not \"{}\"",
            text.chars().take(30).collect::<String>()
        ))
    })
}

const PARAMS: &str =
    "point=LON,LAT or pipe=ID&at=0..1, and optionally failed=VALVE_ID[,…] and lines=false";

fn break_at(p: &HashMap<String, String>) -> Result<BreakAt, AppError> {
    match (p.get("point"), p.get("pipe")) {
        (Some(point), None) => {
            let (lon, lat) = lon_lat(point)?;
            Ok(BreakAt::Point { lon, lat })
        }
        (None, Some(pipe)) => {
            let id = number::<i64>(pipe, "pipe")?;
            let fraction = match p.get("at") {
                Some(at) => number::<f64>(at, "at")?,
                None => 0.5,
            };
            if !fraction.is_finite() {
                return Err(AppError::BadRequest("at must be between 0 and 1".into()));
            }
            Ok(BreakAt::Pipe { id, fraction })
        }
        (Some(_), Some(_)) => Err(AppError::BadRequest(format!(
            "name the break once: either point or pipe ({PARAMS})"
        ))),
        (None, None) => Err(AppError::BadRequest(format!(
            "where is the break? {PARAMS}"
        ))),
    }
}

/// `lines=true|false` (default true): whether the answer draws the trace's pipes or lines.
fn shape(p: &HashMap<String, String>) -> Result<Shape, AppError> {
    match p.get("lines").map(|v| v.trim()) {
        None | Some("true") => Ok(Shape { lines: true }),
        Some("false") => Ok(Shape { lines: false }),
        Some(other) => Err(AppError::BadRequest(format!(
            "lines is true or false, not \"{}\"",
            other.chars().take(20).collect::<String>()
        ))),
    }
}

/// The break and the failed valves of an isolation's query; `more` names the route's other
/// parameters.
fn isolation_params(
    p: &HashMap<String, String>,
    more: &[&str],
) -> Result<(BreakAt, Vec<i64>), AppError> {
    if let Some(k) = p.keys().find(|k| {
        !["point", "pipe", "at", "failed"].contains(&k.as_str()) && !more.contains(&k.as_str())
    }) {
        return Err(AppError::BadRequest(format!(
            "unknown parameter '{}'; {PARAMS}",
            k.chars().take(40).collect::<String>()
        )));
    }
    let at = break_at(p)?;
    let failed: Vec<i64> = match p.get("failed").map(|f| f.trim()) {
        None | Some("") => Vec::new(),
        Some(f) => f
            .split(',')
            .map(|v| number::<i64>(v, "failed (valve ids)"))
            .collect::<Result<_, _>>()?,
    };
    Ok((at, failed))
}

/// `GET /networks/water/isolate?point=LON,LAT[&failed=ID,…]` (or `pipe=ID&at=F`).
pub async fn isolate(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let (at, failed) = isolation_params(&p, &["lines"])?;
    let shape = shape(&p)?;
    let disclosure = disclosure(&state, &reader, utilities::tables::WATER_METERS.kind);
    let fc = water_isolation(&state.networks, at, &failed, disclosure, shape)
        .await
        .map_err(trace_error)?;
    Ok(geojson(fc, Some(reader.is_signed_in())))
}

/// `GET /networks/water/upstream?point=LON,LAT` (or `pipe=ID&at=F`): the way from the nearest
/// source to the point through open valves.
pub async fn upstream(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    trace(state, reader, p, Direction::Upstream).await
}

/// `GET /networks/water/downstream?point=LON,LAT` (or `pipe=ID&at=F`): what the pipe at the
/// point feeds.
pub async fn downstream(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    trace(state, reader, p, Direction::Downstream).await
}

async fn trace(
    state: AppState,
    reader: Reader,
    p: HashMap<String, String>,
    direction: Direction,
) -> Result<Response, AppError> {
    if let Some(k) = p
        .keys()
        .find(|k| !["point", "pipe", "at"].contains(&k.as_str()))
    {
        return Err(AppError::BadRequest(format!(
            "unknown parameter '{}'; point=LON,LAT or pipe=ID&at=0..1",
            k.chars().take(40).collect::<String>()
        )));
    }
    let at = break_at(&p)?;
    let meters = state.layers.get(utilities::tables::WATER_METERS.kind);
    let disclosure = Disclosure {
        meters: meters.is_some_and(|layer| reader.sees(layer.as_ref())),
        customer_refs: false,
    };
    let fc = water_trace(&state.networks, at, direction, disclosure)
        .await
        .map_err(trace_error)?;
    Ok(geojson(fc, Some(reader.is_signed_in())))
}

/// A trace's answer: GeoJSON, revalidated on every use; `per_reader` (signed in or not) when
/// what it shows depends on the reader.
fn geojson(fc: impl serde::Serialize, per_reader: Option<bool>) -> Response {
    let mut r = Json(fc).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(signed_in) = per_reader {
        vary(signed_in, &mut r);
    }
    r
}

fn lon_lat(point: &str) -> Result<(f64, f64), AppError> {
    let Some((lon, lat)) = point.split_once(',') else {
        return Err(AppError::BadRequest(format!(
            "point must be LON,LAT (WGS 84), not \"{}\"",
            point.chars().take(40).collect::<String>()
        )));
    };
    let (lon, lat): (f64, f64) = (
        number(lon, "the point's longitude")?,
        number(lat, "the point's latitude")?,
    );
    if !lon.is_finite() || !lat.is_finite() {
        return Err(AppError::BadRequest("point must be finite".into()));
    }
    Ok((lon, lat))
}

/// What `reader` may see of a layer of customers (water meters, power customers): the
/// features when it reads the layer, the references when its sight is province-wide.
fn disclosure(state: &AppState, reader: &Reader, kind: &str) -> Disclosure {
    match state.layers.get(kind) {
        Some(layer) if reader.sees(layer.as_ref()) => Disclosure {
            meters: true,
            customer_refs: reader.sight(layer.as_ref()).province_wide(),
        },
        _ => Disclosure::default(),
    }
}

/// The failed element of an outage's query.
fn outage_at(p: &HashMap<String, String>) -> Result<OutageAt, AppError> {
    const ONE: &str = "name one failed element: point=LON,LAT (a line), pole=ID or substation=ID";
    if p.len() != 1 {
        return Err(AppError::BadRequest(ONE.into()));
    }
    match p.iter().next() {
        Some((k, v)) if k == "point" => {
            let (lon, lat) = lon_lat(v)?;
            Ok(OutageAt::Point { lon, lat })
        }
        Some((k, v)) if k == "pole" => Ok(OutageAt::Pole(number(v, "pole")?)),
        Some((k, v)) if k == "substation" => Ok(OutageAt::Substation(number(v, "substation")?)),
        _ => Err(AppError::BadRequest(ONE.into())),
    }
}

/// Records a published trace as an IOC event by `reader` (an operator): 201 with the event;
/// 422 when the trace took nothing out of service.
async fn publish(
    state: &AppState,
    reader: &Reader,
    published: Option<Published>,
) -> Result<Response, AppError> {
    let Some(published) = published else {
        return Err(AppError::Unprocessable(
            "the trace cuts no pipe or line off there: there is no outage to publish".into(),
        ));
    };
    let pool = &state.pools.admin;
    let id = ioc::events::create(
        pool,
        &NewEvent {
            kind: published.kind.into(),
            severity: published.severity.into(),
            title: published.title,
            lon_lat: published.at,
            area: Some(published.area),
        },
        reader.name(),
    )
    .await
    .map_err(crate::routes::feeds::event_error)?;
    let event = ioc::events::get(pool, id)
        .await
        .map_err(crate::routes::feeds::event_error)?;
    Ok((StatusCode::CREATED, Json(event)).into_response())
}

/// `POST /networks/water/isolate/event?point=LON,LAT[&failed=ID,…]` (or `pipe=ID&at=F`): the
/// isolation published as an IOC event whose area is the pipes out of service (operators).
pub async fn publish_isolation(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let reader = crate::routes::feeds::operator(reader)?;
    let (at, failed) = isolation_params(&p, &[])?;
    // As anyone reads it: counts, no meter or customer goes into the event.
    let fc = water_isolation(
        &state.networks,
        at,
        &failed,
        Disclosure::default(),
        Shape::default(),
    )
    .await
    .map_err(trace_error)?;
    publish(&state, &reader, event::of_isolation(&fc)).await
}

/// `POST /networks/power/outage/event?point=LON,LAT` (or `pole=ID`, `substation=ID`): the
/// outage published as an IOC event whose area is the lines cut off (operators).
pub async fn publish_outage(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let reader = crate::routes::feeds::operator(reader)?;
    let at = outage_at(&p)?;
    let fc = power_outage(&state.power, at, Disclosure::default())
        .await
        .map_err(trace_error)?;
    publish(&state, &reader, event::of_outage(&fc)).await
}

/// `GET /networks/power/outage?point=LON,LAT` (a line), `pole=ID` or `substation=ID`.
pub async fn outage(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let at = outage_at(&p)?;
    let disclosure = disclosure(&state, &reader, utilities::tables::POWER_CUSTOMERS.kind);
    let fc = power_outage(&state.power, at, disclosure)
        .await
        .map_err(trace_error)?;
    Ok(geojson(fc, Some(reader.is_signed_in())))
}

/// `GET /networks/water/check`: the quality report of the live water network (dangles,
/// unconnected devices, valves off their pipe, islands without a source) as GeoJSON, for the
/// readers of the meters layer (its findings place meters).
pub async fn check_water(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    check(&state, &state.networks, Kind::Water, &reader, &p).await
}

/// `GET /networks/power/check`: the same report of the live power network (lines for pipes,
/// switches for valves, substations for sources), for the readers of the customers layer.
pub async fn check_power(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    check(&state, &state.power, Kind::Power, &reader, &p).await
}

async fn check(
    state: &AppState,
    live: &Arc<LiveNetwork>,
    kind: Kind,
    reader: &Reader,
    p: &HashMap<String, String>,
) -> Result<Response, AppError> {
    let (name, customers) = match kind {
        Kind::Water => ("water", utilities::tables::WATER_METERS.kind),
        Kind::Power => ("power", utilities::tables::POWER_CUSTOMERS.kind),
    };
    if let Some(k) = p.keys().next() {
        return Err(AppError::BadRequest(format!(
            "unknown parameter '{}'; /networks/{name}/check takes none",
            k.chars().take(40).collect::<String>()
        )));
    }
    let layer = state.layers.get(customers);
    if !layer.is_some_and(|l| reader.sees(l.as_ref())) {
        return Err(match reader.principal {
            None => AppError::Unauthenticated(auth::AuthError::Missing),
            Some(_) => AppError::Forbidden(
                "the network's quality report is for staff (it places customers' connections)"
                    .into(),
            ),
        });
    }
    let net = live
        .get()
        .await
        .map_err(|e| trace_error(TraceError::Load(e)))?;
    let report = utilities::network::check::check(&net);
    let fc = utilities::network::check::report_geojson(live.pool(), &net, &report, kind)
        .await
        .map_err(|e| trace_error(TraceError::Load(e)))?;
    Ok(geojson(fc, Some(true)))
}

/// The OpenAPI paths of `/networks`.
pub fn openapi_paths() -> Value {
    let problem = |what: &str| {
        json!({"description": what, "content": {"application/problem+json": {"schema": {
            "type": "object", "required": ["type", "title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"}}}}}})
    };
    json!({
        "/networks/water/isolate": {"get": {
            "operationId": "isolateWaterBreak",
            "summary": "The valves to close for a break on a water pipe, the pipes isolated (one geometry), the meters and hydrants out of service, and what else loses its source",
            "description": "Closed valves bound the search; inoperable valves and those named in `failed` cannot close, so the boundary moves past them (the answer's `without_failure` summary shows the growth). Meters are listed for staff only, customer references for administrators only.",
            "tags": ["Networks"],
            "parameters": [
                {"name": "point", "in": "query", "required": false, "description": "The break: LON,LAT in WGS 84 (the nearest pipe within 50 m)", "schema": {"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"}},
                {"name": "pipe", "in": "query", "required": false, "description": "The break: a pipe id (instead of point)", "schema": {"type": "integer"}},
                {"name": "at", "in": "query", "required": false, "description": "With pipe: position along it, 0 to 1 (default 0.5)", "schema": {"type": "number", "minimum": 0, "maximum": 1}},
                {"name": "failed", "in": "query", "required": false, "description": "Valve ids that failed to close, comma-separated", "schema": {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"}},
                {"name": "lines", "in": "query", "required": false, "description": "false: the isolated and cut-off pipes without their geometry (ids, lengths and counts only: a small answer for clients that list or count)", "schema": {"type": "boolean", "default": true}}
            ],
            "responses": {
                "200": {"description": "A FeatureCollection; each feature's `part` is break, valve, pipe, meter or hydrant and its `role` says what happens to it (close, already_closed, inoperable, failed; isolated, cut_off; out_of_service)",
                    "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "summary", "valves_to_close"],
                        "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"type": "object"}},
                            "summary": {"type": "object"},
                            "valves_to_close": {"type": "array", "items": {"type": "integer"}},
                            "without_failure": {"type": "object"}}}}}},
                "400": problem("No break named, a bad number, or an unknown failed valve"),
                "404": problem("No pipe near the point, no such pipe, or no network imported")
            }
        }},
        "/networks/water/upstream": {"get": {
            "operationId": "traceWaterUpstream",
            "summary": "The way the water takes from the nearest source (by pipe length) to a point, through open valves: one line from the source to the point, the pipes and valves passed",
            "description": "Closed valves block the way. `reached` is false (and only the point is answered) when no source reaches the point as the valves stand.",
            "tags": ["Networks"],
            "parameters": [
                {"name": "point", "in": "query", "required": false, "description": "LON,LAT in WGS 84 (the nearest pipe within 50 m)", "schema": {"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"}},
                {"name": "pipe", "in": "query", "required": false, "description": "A pipe id (instead of point)", "schema": {"type": "integer"}},
                {"name": "at", "in": "query", "required": false, "description": "With pipe: position along it, 0 to 1 (default 0.5)", "schema": {"type": "number", "minimum": 0, "maximum": 1}}
            ],
            "responses": {
                "200": {"description": "A FeatureCollection; each feature's `part` is point, path or source",
                    "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "reached"],
                        "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"type": "object"}},
                            "reached": {"type": "boolean"},
                            "source": {"type": "integer"},
                            "length_m": {"type": "number"},
                            "valves": {"type": "array", "items": {"type": "integer"}},
                            "pipes": {"type": "array", "items": {"type": "integer"}}}}}}},
                "400": problem("No point or pipe named, or a bad number"),
                "404": problem("No pipe near the point, no such pipe, or no network imported")
            }
        }},
        "/networks/water/downstream": {"get": {
            "operationId": "traceWaterDownstream",
            "summary": "What the pipe at a point feeds: the pipes, hydrants and meters some source reaches now and none reaches once that piece of pipe is cut",
            "description": "Meter ids are listed for staff only (their count for everyone). `supplied` is false when no source reaches the point now (then nothing is downstream).",
            "tags": ["Networks"],
            "parameters": [
                {"name": "point", "in": "query", "required": false, "description": "LON,LAT in WGS 84 (the nearest pipe within 50 m)", "schema": {"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"}},
                {"name": "pipe", "in": "query", "required": false, "description": "A pipe id (instead of point)", "schema": {"type": "integer"}},
                {"name": "at", "in": "query", "required": false, "description": "With pipe: position along it, 0 to 1 (default 0.5)", "schema": {"type": "number", "minimum": 0, "maximum": 1}}
            ],
            "responses": {
                "200": {"description": "A FeatureCollection; each feature's `part` is point, pipe or hydrant",
                    "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "supplied", "summary"],
                        "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"type": "object"}},
                            "supplied": {"type": "boolean"},
                            "summary": {"type": "object"},
                            "meter_ids": {"type": "array", "items": {"type": "integer"}}}}}}},
                "400": problem("No point or pipe named, or a bad number"),
                "404": problem("No pipe near the point, no such pipe, or no network imported")
            }
        }},
        "/networks/power/outage": {"get": {
            "operationId": "powerOutage",
            "summary": "What a failed line, pole or substation cuts off downstream: the lines (one geometry), poles and customers no substation reaches any more through closed switches",
            "description": "Open switches stop the current: what they already kept dark is not counted, and those at the edge of what is cut off are listed (`part` switch). Customers are counted for everyone, listed for staff, their references for administrators only.",
            "tags": ["Networks"],
            "parameters": [
                {"name": "point", "in": "query", "required": false, "description": "A failed line: LON,LAT in WGS 84 (the nearest line within 50 m)", "schema": {"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"}},
                {"name": "pole", "in": "query", "required": false, "description": "A failed pole id", "schema": {"type": "integer"}},
                {"name": "substation", "in": "query", "required": false, "description": "A failed substation id", "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": {"description": "A FeatureCollection; each feature's `part` is outage, line, pole, switch or customer", "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "summary"]}}}},
                "400": problem("Not exactly one failed element, or a bad number"),
                "404": problem("No line near the point, no such pole or substation, or no power network imported")
            }
        }},
        "/networks/water/isolate/event": {"post": {
            "operationId": "publishWaterIsolation",
            "summary": "Publishes a water isolation as an IOC event (kind water_isolation) whose area is the pipes out of service; IOC operators and administrators",
            "tags": ["Networks"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "point", "in": "query", "required": false, "description": "The break: LON,LAT in WGS 84", "schema": {"type": "string"}},
                {"name": "pipe", "in": "query", "required": false, "description": "The break: a pipe id", "schema": {"type": "integer"}},
                {"name": "at", "in": "query", "required": false, "description": "With pipe: 0 to 1", "schema": {"type": "number"}},
                {"name": "failed", "in": "query", "required": false, "description": "Valve ids that failed to close", "schema": {"type": "string"}}
            ],
            "responses": {
                "201": {"description": "The event, with `area` (GeoJSON MultiLineString) and `location`", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": problem("No break named or a bad number"),
                "401": problem("Not signed in"),
                "403": problem("Not an IOC operator or administrator"),
                "404": problem("No pipe there")
            }
        }},
        "/networks/power/outage/event": {"post": {
            "operationId": "publishPowerOutage",
            "summary": "Publishes a power outage as an IOC event (kind power_outage) whose area is the lines cut off; IOC operators and administrators",
            "tags": ["Networks"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "point", "in": "query", "required": false, "description": "A failed line: LON,LAT in WGS 84", "schema": {"type": "string"}},
                {"name": "pole", "in": "query", "required": false, "description": "A failed pole id", "schema": {"type": "integer"}},
                {"name": "substation", "in": "query", "required": false, "description": "A failed substation id", "schema": {"type": "integer"}}
            ],
            "responses": {
                "201": {"description": "The event, with `area` (GeoJSON MultiLineString) and `location`", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": problem("Not exactly one failed element, or a bad number"),
                "401": problem("Not signed in"),
                "403": problem("Not an IOC operator or administrator"),
                "404": problem("No such line, pole or substation"),
                "422": problem("Nothing is cut off: no event")
            }
        }},
        "/networks/water/check": {"get": {
            "operationId": "checkWaterNetwork",
            "summary": "The water network's quality report: dangles, unconnected devices, valves off their pipe, islands without a source (staff)",
            "tags": ["Networks"],
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "A FeatureCollection; each feature's `finding` is crossing, dangle, unconnected, valve_off_pipe or island", "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "summary"]}}}},
                "400": problem("A parameter was given"),
                "401": problem("Not signed in"),
                "403": problem("Not staff")
            }
        }},
        "/networks/power/check": {"get": {
            "operationId": "checkPowerNetwork",
            "summary": "The power network's quality report: dangles, unconnected poles, switches, substations and customers, switches off their line, lines crossing without a pole, islands no substation feeds (staff)",
            "tags": ["Networks"],
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "A FeatureCollection; each feature's `finding` is crossing, dangle, unconnected, switch_off_line or island", "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "summary"]}}}},
                "400": problem("A parameter was given"),
                "401": problem("Not signed in"),
                "403": problem("Not staff")
            }
        }}
    })
}
