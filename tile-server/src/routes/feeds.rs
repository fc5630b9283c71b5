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
//!   /feeds/events/{id}/acknowledge` and `/close` (`{"note": …}` optional), `GET /feeds/rules`:
//!   operators and administrators only.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc::events::{Action, EventError, NewEvent, Which};
use ioc::feeds::{Audience, FeedError};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::Reader;

/// The feed routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feeds/stream", get(stream))
        .route("/feeds/events", get(list).post(create))
        .route("/feeds/events/{id}", get(one))
        .route("/feeds/events/{id}/{action}", post(act))
        .route("/feeds/rules", get(rules))
}

fn is_operator(reader: &Reader) -> bool {
    reader
        .principal
        .as_ref()
        .is_some_and(|p| p.has_role(auth::Role::IocOperator) || p.has_role(auth::Role::Admin))
}

/// The operator behind a request, or 401/403.
fn operator(reader: Result<Reader, AppError>) -> Result<Reader, AppError> {
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

fn event_error(e: EventError) -> AppError {
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
        Err(other) => return Err(AppError::internal(other)),
    };
    let events = futures_util::stream::unfold(subscription, |mut s| async move {
        let m = s.next().await?;
        let mut event = Event::default().event(m.event).data(m.data);
        if let Some(id) = m.id {
            event = event.id(id.to_string());
        }
        Some((Ok::<_, Infallible>(event), s))
    });
    let mut response = Sse::new(events).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // nginx would otherwise buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
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
    let event = ioc::events::act(
        &state.pools.admin,
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
        &state.pools.admin,
        &NewEvent {
            kind: b.kind,
            severity: b.severity,
            title: b.title,
            lon_lat: b.location.map(|[x, y]| (x, y)),
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
