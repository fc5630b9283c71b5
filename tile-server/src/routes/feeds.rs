//! The IOC's live feed and its events (issue 14).
//!
//! - `GET /feeds/stream[?layers=readings,events&bbox=w,s,e,n]`: Server-Sent Events
//!   ([`ioc::feeds`]): a `snapshot` (latest readings
//!   as a FeatureCollection, and open events), then `reading` and `event` messages as they are
//!   stored, `heartbeat`s; `Last-Event-ID` resumes. IOC operators and administrators get every
//!   reading and the events. Everyone else gets the readings of public datastreams only — the
//!   same rows the public latest-value layer serves in tiles, so hiding them here would protect
//!   nothing — and no events: incidents are operational information (unconfirmed, may name
//!   people or places at risk) that operators release through other channels.
//! - `GET /feeds/events[?all=true&limit=N]`, `GET /feeds/events/{id}` (with its history),
//!   `POST /feeds/events` (an incident an operator reports), `POST
//!   /feeds/events/{id}/acknowledge` and `/close` (`{"note": …}` optional), the alert rules
//!   `GET|POST /feeds/rules`, `GET|PUT|DELETE /feeds/rules/{id}` (`ioc::alerts::RuleSpec`;
//!   422 for a rule that breaks the rules of rules, 409 for a second rule of one property,
//!   kind, severity and direction): operators and administrators only. The rules' paths are
//!   in `/api` ([`openapi_paths`]).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc::alerts::{RuleError, RuleSpec};
use ioc::events::{Action, EventError, NewEvent, Which};
use ioc::feeds::{Audience, FeedError};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::audit::{self, RequestFacts};
use crate::error::AppError;
use crate::reader::Reader;

/// The feed routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feeds/stream", get(stream))
        .route("/feeds/events", get(list).post(create))
        .route("/feeds/events/{id}", get(one))
        .route("/feeds/events/{id}/{action}", post(act))
        .route("/feeds/rules", get(rules).post(create_rule))
        .route(
            "/feeds/rules/{id}",
            get(one_rule).put(update_rule).delete(delete_rule),
        )
}

fn is_operator(reader: &Reader) -> bool {
    reader
        .principal
        .as_ref()
        .is_some_and(|p| p.has_role(auth::Role::IocOperator) || p.has_role(auth::Role::Admin))
}

/// The operator behind a request, or 401/403.
pub(crate) fn operator(reader: Result<Reader, AppError>) -> Result<Reader, AppError> {
    let reader = reader?;
    if reader.principal.is_none() {
        return Err(AppError::Unauthenticated(auth::AuthError::Missing));
    }
    if !is_operator(&reader) {
        return Err(AppError::Forbidden(
            "events are for IOC operators (role ioc_operator) and administrators".into(),
        ));
    }
    Ok(reader)
}

pub(crate) fn event_error(e: EventError) -> AppError {
    match e {
        EventError::NotFound(_) => AppError::NotFound(e.to_string()),
        EventError::Conflict { .. } => AppError::Conflict(e.to_string()),
        EventError::Invalid(m) => AppError::Unprocessable(m),
        EventError::Db(db) => AppError::from(db),
        other => AppError::internal(other),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    layers: Option<String>,
    bbox: Option<String>,
}

async fn stream(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(q) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let filter = ioc::feeds::Filter::parse(q.layers.as_deref(), q.bbox.as_deref())
        .map_err(AppError::BadRequest)?;
    let audience = if is_operator(&reader?) {
        Audience::Operator
    } else {
        Audience::Public
    };
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "Last-Event-ID must be the id of a message of this feed (a number)".into(),
                    )
                })?,
        ),
    };
    // Streams per client address (behind trusted proxies, the forwarded one); the router
    // driven in-process has none.
    let client = peer.map(|axum::Extension(p)| {
        crate::load::client_ip(
            Some(p.0.ip()),
            &headers,
            &state.limiter.settings().trusted_proxies,
        )
    });
    let subscription = match state
        .feeds
        .subscribe(audience, filter, last_event_id, client)
        .await
    {
        Ok(s) => s,
        Err(e @ FeedError::TooManyFromClient(_)) => {
            let mut r =
                crate::error::problem_response(StatusCode::TOO_MANY_REQUESTS, Some(e.to_string()));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            return Ok(r);
        }
        Err(e @ FeedError::Full(_)) => return Err(AppError::Unavailable(e.to_string())),
        Err(FeedError::Db(db)) => return Err(AppError::from(db)),
        Err(FeedError::Snapshot(db)) => {
            // Shared by the clients that waited for it: told to come back, the cause logged.
            tracing::warn!(error = %db, "live feed snapshot failed");
            return Err(AppError::Unavailable(
                "the live feed could not read its snapshot; retry shortly".into(),
            ));
        }
        Err(other) => return Err(AppError::internal(other)),
    };
    // Each wake-up sends what is queued as one chunk: an ingest batch's readings arrive
    // together, and a write per message per client was most of a busy feed's cost.
    let chunks = futures_util::stream::unfold(subscription, |mut s| async move {
        let first = s.next().await?;
        let mut chunk = Vec::with_capacity(first.data.len() + 64);
        sse_frame(&mut chunk, &first);
        for _ in 1..MAX_MESSAGES_PER_CHUNK {
            let Some(m) = s.try_next() else { break };
            sse_frame(&mut chunk, &m);
        }
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), s))
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // nginx would otherwise buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// At most this many messages go into one write of a stream.
const MAX_MESSAGES_PER_CHUNK: usize = 256;

/// Appends `m` as a Server-Sent Event (`id`, `event`, one `data:` line per line of its data).
fn sse_frame(out: &mut Vec<u8>, m: &ioc::feeds::Message) {
    if let Some(id) = m.id {
        out.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(m.event.as_bytes());
    out.push(b'\n');
    for line in m.data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.trim_end_matches('\r').as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    all: Option<bool>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, AppError> {
    operator(reader)?;
    let Query(q) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::BadRequest("limit is 1 to 1000".into()));
    }
    let which = if q.all.unwrap_or(false) {
        Which::All
    } else {
        Which::Current
    };
    let events = ioc::events::list(&state.pools.admin, which, limit).await?;
    Ok(Json(serde_json::json!({ "events": events })))
}

fn event_id(id: &str) -> Result<i64, AppError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::BadRequest(format!("\"{id}\" is not an event id")))
}

async fn one(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    operator(reader)?;
    let event = ioc::events::get(&state.pools.admin, event_id(&id)?)
        .await
        .map_err(event_error)?;
    Ok(Json(event))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActBody {
    note: Option<String>,
}

async fn act(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    let reader = operator(reader)?;
    let action = match action.as_str() {
        "acknowledge" => Action::Acknowledge,
        "close" => Action::Close,
        other => {
            return Err(AppError::NotFound(format!(
                "no action \"{other}\" on events: acknowledge or close"
            )))
        }
    };
    let body: ActBody = if body.is_empty() {
        ActBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::BadRequest(format!("the body is not {{\"note\": …}}: {e}")))?
    };
    // Writes to the feed log and the events layer wait for ingest's batches: on ingest's
    // connections, never the admin class's.
    let event = ioc::events::act(
        state.ingest.pool(),
        event_id(&id)?,
        action,
        reader.name(),
        body.note.as_deref().unwrap_or(""),
    )
    .await
    .map_err(event_error)?;
    Ok(Json(event))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    kind: String,
    severity: String,
    title: String,
    location: Option<[f64; 2]>,
}

async fn create(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let reader = operator(reader)?;
    let b: CreateBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body is not {{\"kind\", \"severity\", \"title\", \"location\": [lon, lat]}}: {e}"
        ))
    })?;
    let id = ioc::events::create(
        state.ingest.pool(),
        &NewEvent {
            kind: b.kind,
            severity: b.severity,
            title: b.title,
            lon_lat: b.location.map(|[x, y]| (x, y)),
            area: None,
        },
        reader.name(),
    )
    .await
    .map_err(event_error)?;
    let event = ioc::events::get(&state.pools.admin, id)
        .await
        .map_err(event_error)?;
    Ok((StatusCode::CREATED, Json(event)).into_response())
}

async fn rules(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
) -> Result<Json<Value>, AppError> {
    operator(reader)?;
    let rules = ioc::events::rules(&state.pools.admin).await?;
    Ok(Json(serde_json::json!({ "rules": rules })))
}

fn rule_error(e: RuleError) -> AppError {
    match e {
        RuleError::NotFound(_) => AppError::NotFound(e.to_string()),
        RuleError::Invalid(m) => AppError::Unprocessable(m),
        e @ RuleError::Duplicate { .. } => AppError::Conflict(e.to_string()),
        RuleError::Db(db) => AppError::from(db),
        other => AppError::internal(other),
    }
}

fn rule_id(id: &str) -> Result<i64, AppError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::BadRequest(format!("\"{id}\" is not a rule id")))
}

fn rule_body(body: &[u8]) -> Result<RuleSpec, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body is not a rule {{\"observed_property\", \"datastream_id\", \"kind\", \"severity\", \"direction\", \"raise_at\", \"clear_at\", \"title\", \"title_en\", \"enabled\"}}: {e}"
        ))
    })
}

async fn one_rule(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    operator(reader)?;
    let rule = ioc::alerts::get_rule(&state.pools.admin, rule_id(&id)?)
        .await
        .map_err(rule_error)?;
    Ok(Json(rule))
}

/// Records a change of the rules in the audit log.
fn audit_rule(
    state: &AppState,
    reader: &Reader,
    facts: &RequestFacts,
    status: StatusCode,
    what: String,
) {
    audit::record(
        &state.audit,
        gis_core::audit::AuditEvent::Write,
        reader.principal.as_ref(),
        facts,
        status,
        Some(what),
    );
}

async fn create_rule(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    facts: RequestFacts,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let reader = operator(reader)?;
    let spec = rule_body(&body)?;
    let id = ioc::alerts::create_rule(state.ingest.pool(), &spec)
        .await
        .map_err(rule_error)?;
    audit_rule(
        &state,
        &reader,
        &facts,
        StatusCode::CREATED,
        format!(
            "alert rule {id} created: {} {} {} {} at {} (clear at {})",
            spec.observed_property,
            spec.kind,
            spec.severity,
            spec.direction,
            spec.raise_at,
            spec.clear_at
        ),
    );
    let rule = ioc::alerts::get_rule(&state.pools.admin, id)
        .await
        .map_err(rule_error)?;
    let mut r = (StatusCode::CREATED, Json(rule)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{}/feeds/rules/{id}", super::base_url(&headers)))
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

async fn update_rule(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    facts: RequestFacts,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    let reader = operator(reader)?;
    let id = rule_id(&id)?;
    let spec = rule_body(&body)?;
    ioc::alerts::update_rule(state.ingest.pool(), id, &spec)
        .await
        .map_err(rule_error)?;
    audit_rule(
        &state,
        &reader,
        &facts,
        StatusCode::OK,
        format!(
            "alert rule {id} replaced: {} {} {} {} at {} (clear at {}), {}",
            spec.observed_property,
            spec.kind,
            spec.severity,
            spec.direction,
            spec.raise_at,
            spec.clear_at,
            if spec.enabled { "enabled" } else { "disabled" }
        ),
    );
    let rule = ioc::alerts::get_rule(&state.pools.admin, id)
        .await
        .map_err(rule_error)?;
    Ok(Json(rule))
}

async fn delete_rule(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    facts: RequestFacts,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let reader = operator(reader)?;
    let id = rule_id(&id)?;
    ioc::alerts::delete_rule(state.ingest.pool(), id)
        .await
        .map_err(rule_error)?;
    audit_rule(
        &state,
        &reader,
        &facts,
        StatusCode::NO_CONTENT,
        format!("alert rule {id} deleted"),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// The alert rules' paths for `/api` (operators and administrators, bearer token).
pub fn openapi_paths() -> Value {
    let problem = |what: &str| {
        serde_json::json!({"description": what, "content": {"application/problem+json": {"schema": {
            "type": "object", "required": ["type", "title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "request_id": {"type": "string"}}}}}})
    };
    let rule = serde_json::json!({"type": "object",
        "required": ["id", "observed_property", "kind", "severity", "direction", "raise_at",
                     "clear_at", "title", "title_en", "enabled"],
        "properties": {
            "id": {"type": "integer"},
            "observed_property": {"type": "string"},
            "datastream_id": {"type": "integer", "nullable": true,
                              "description": "The one datastream the rule is for (null: every datastream of the property)"},
            "kind": {"type": "string", "enum": ["threshold", "rate", "missing"]},
            "severity": {"type": "string", "enum": ["warning", "alarm"]},
            "direction": {"type": "string", "enum": ["above", "below"]},
            "raise_at": {"type": "number"},
            "clear_at": {"type": "number"},
            "title": {"type": "string"},
            "title_en": {"type": "string"},
            "enabled": {"type": "boolean"}}});
    let spec = serde_json::json!({"type": "object", "additionalProperties": false,
        "required": ["observed_property", "severity", "raise_at", "clear_at", "title"],
        "properties": {
            "observed_property": {"type": "string", "description": "The observed property's name (PM2.5, Water level, Rainfall, …)"},
            "datastream_id": {"type": "integer", "minimum": 1, "nullable": true,
                              "description": "One datastream of the property: for it the rule replaces the property's rule of the same kind, severity and direction (default: none, every datastream)"},
            "kind": {"type": "string", "enum": ["threshold", "rate", "missing"], "default": "threshold",
                     "description": "What the levels measure: the value, its change per hour, or minutes without data"},
            "severity": {"type": "string", "enum": ["warning", "alarm"]},
            "direction": {"type": "string", "enum": ["above", "below"], "default": "above"},
            "raise_at": {"type": "number", "description": "Reaching it starts an episode (one event)"},
            "clear_at": {"type": "number", "description": "Getting back past it ends the episode"},
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "title_en": {"type": "string", "maxLength": 200, "default": ""},
            "enabled": {"type": "boolean", "default": true}}});
    let id = serde_json::json!({"name": "id", "in": "path", "required": true,
        "schema": {"type": "integer", "minimum": 1}});
    let body =
        serde_json::json!({"required": true, "content": {"application/json": {"schema": spec}}});
    let common = |mut responses: Value| {
        for (code, what) in [
            ("401", "No valid access token"),
            ("403", "Not an IOC operator or administrator"),
            ("503", "The database is not answering"),
        ] {
            responses[code] = problem(what);
        }
        responses
    };
    let ok = |what: &str| serde_json::json!({"description": what, "content": {"application/json": {"schema": rule}}});
    serde_json::json!({
        "/feeds/rules": {
            "get": {
                "operationId": "listAlertRules",
                "summary": "The IOC's alert rules (IOC operators and administrators)",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "responses": common(serde_json::json!({
                    "200": {"description": "Every rule", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["rules"],
                        "properties": {"rules": {"type": "array", "items": rule}}}}}}}))
            },
            "post": {
                "operationId": "createAlertRule",
                "summary": "Adds an alert rule (threshold, rate of change or missing data, with hysteresis)",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "requestBody": body,
                "responses": common(serde_json::json!({
                    "201": ok("The rule"),
                    "400": problem("The body is not a rule"),
                    "409": problem("A rule of this property, kind, severity and direction exists"),
                    "422": problem("The rule's levels, kind or titles do not hold together")}))
            }
        },
        "/feeds/rules/{id}": {
            "get": {
                "operationId": "getAlertRule",
                "summary": "One alert rule",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "parameters": [id],
                "responses": common(serde_json::json!({
                    "200": ok("The rule"),
                    "400": problem("Not a rule id"),
                    "404": problem("No such rule")}))
            },
            "put": {
                "operationId": "replaceAlertRule",
                "summary": "Replaces an alert rule (episodes in progress go on unless it is disabled or watches something else)",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "parameters": [id],
                "requestBody": body,
                "responses": common(serde_json::json!({
                    "200": ok("The rule as stored"),
                    "400": problem("Not a rule id, or the body is not a rule"),
                    "404": problem("No such rule"),
                    "409": problem("Another rule of this property, kind, severity and direction exists"),
                    "422": problem("The rule's levels, kind or titles do not hold together")}))
            },
            "delete": {
                "operationId": "deleteAlertRule",
                "summary": "Deletes an alert rule (its events stay)",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "parameters": [id],
                "responses": common(serde_json::json!({
                    "204": {"description": "Deleted"},
                    "400": problem("Not a rule id"),
                    "404": problem("No such rule")}))
            }
        }
    })
}

#[cfg(test)]
mod sse_tests {
    use super::sse_frame;
    use ioc::feeds::Message;

    #[test]
    fn messages_are_framed_as_server_sent_events_one_data_line_per_line() {
        let mut out = Vec::new();
        let reading = Message {
            id: Some(7),
            event: "reading",
            data: r#"{"value":1}"#.into(),
        };
        let beat = Message {
            id: None,
            event: "heartbeat",
            data: "a\nb\r\nc".into(),
        };
        sse_frame(&mut out, &reading);
        sse_frame(&mut out, &beat);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "id: 7\nevent: reading\ndata: {\"value\":1}\n\nevent: heartbeat\ndata: a\ndata: b\ndata: c\n\n"
        );
    }
}
