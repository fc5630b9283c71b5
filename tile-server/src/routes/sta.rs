//! `/sta/v1.1`: the OGC SensorThings API (issue 14). Reads are `ioc::sta`'s; observations are
//! created by `POST /sta/v1.1/Observations` or `/sta/v1.1/Datastreams(ID)/Observations` by IOC
//! operators and administrators, or by a device with its Thing's token (`ioc::devices`,
//! `Authorization: Bearer bdt_…`, to that Thing's datastreams only — 403 for another's, 401
//! for an unknown or revoked token), stored through the same ingest as MQTT readings
//! (`ioc::ingest`). Malformed bodies are 400, unknown datastreams 404, out-of-range times 422,
//! parts of the standard not implemented 501 naming them.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ioc::ingest::{parse_observation, Rejected};
use ioc::sta::{Options, Reach, StaError};

use crate::app::AppState;
use crate::audit::{self, RequestFacts};
use crate::error::AppError;
use crate::reader::Reader;

/// The SensorThings routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sta/v1.1", get(root))
        .route("/sta/v1.1/", get(root))
        .route("/sta/v1.1/{*path}", get(read).post(create))
        .route("/admin/device-tokens", get(tokens).post(issue_token))
        .route(
            "/admin/device-tokens/{id}",
            axum::routing::delete(revoke_token),
        )
}

fn sta_error(e: StaError) -> AppError {
    match e {
        StaError::BadRequest(m) => AppError::BadRequest(m),
        StaError::NotFound(m) => AppError::NotFound(m),
        StaError::NotImplemented(m) => AppError::NotImplemented(m),
        StaError::Db(db) => AppError::from(db),
    }
}

fn service_root(headers: &HeaderMap) -> String {
    format!("{}/sta/v1.1", super::base_url(headers))
}

async fn root(headers: HeaderMap) -> Json<serde_json::Value> {
    Json(ioc::sta::root(&service_root(&headers)))
}

async fn read(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    headers: HeaderMap,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| AppError::BadRequest(format!("the query string is not readable: {e}")))?;
    let opts = Options::parse(&pairs).map_err(sta_error)?;
    // Private datastreams (and their observations) are for IOC operators and administrators.
    let operator = reader?
        .principal
        .as_ref()
        .is_some_and(|p| p.has_role(auth::Role::IocOperator) || p.has_role(auth::Role::Admin));
    let reach = if operator { Reach::All } else { Reach::Public };
    let value = ioc::sta::read(
        state.pools.features(),
        &service_root(&headers),
        &path,
        &opts,
        reach,
    )
    .await
    .map_err(sta_error)?;
    Ok(Json(value).into_response())
}

/// `POST …/Observations`: one observation, stored before answering (201 with `Location`) —
/// through the ingest queue and its own connections, so a flood of posts waits on ingest's
/// share of the database, never the readers'; a full queue is a 503 with `Retry-After`.
async fn create(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    headers: HeaderMap,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    // A device's own token (its Thing's), or a person's sign-in.
    let device = match device_token(&headers) {
        Some(token) => match ioc::devices::thing_of(&state.pools.writes, token).await? {
            Some(thing) => Some(thing),
            None => return Ok(invalid_device_token()),
        },
        None => {
            let reader = reader?;
            let Some(principal) = &reader.principal else {
                return Err(AppError::Unauthenticated(auth::AuthError::Missing));
            };
            if !principal.has_role(auth::Role::IocOperator)
                && !principal.has_role(auth::Role::Admin)
            {
                return Err(AppError::Forbidden(
                    "observations are created by devices with their token, IOC operators (role ioc_operator) or administrators"
                        .into(),
                ));
            }
            None
        }
    };
    let datastream = match path.trim_end_matches('/') {
        "Observations" => None,
        p => Some(
            p.strip_prefix("Datastreams(")
                .and_then(|r| r.strip_suffix(")/Observations"))
                .and_then(|id| id.parse::<i64>().ok())
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    AppError::NotImplemented(
                        "this server creates Observations only (POST /sta/v1.1/Observations or /sta/v1.1/Datastreams(ID)/Observations)".into(),
                    )
                })?,
        ),
    };
    let obs = parse_observation(datastream, &body, chrono::Utc::now(), state.ingest.limits())
        .map_err(|why| {
            state.ingest.stats().drop_one(&why, "http");
            rejected(why)
        })?;
    if let Some(thing) = device {
        let owner =
            ioc::devices::thing_of_datastream(&state.pools.writes, obs.datastream_id).await?;
        // An unknown datastream is the ingest's 404; another Thing's is refused.
        if owner.is_some_and(|o| o != thing) {
            return Err(AppError::Forbidden(format!(
                "this device token posts to the datastreams of Thing {thing} only, and Datastream {} is another Thing's",
                obs.datastream_id
            )));
        }
    }
    let id = state.ingest.store_one(obs).await.map_err(rejected)?;
    let location = format!("{}/Observations({id})", service_root(&headers));
    let entity = ioc::sta::read(
        &state.pools.writes,
        &service_root(&headers),
        &format!("Observations({id})"),
        &Options::default(),
        Reach::All,
    )
    .await
    .map_err(sta_error)?;
    let mut response = (StatusCode::CREATED, Json(entity)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

fn rejected(why: Rejected) -> AppError {
    match why {
        Rejected::Malformed(m) => AppError::BadRequest(m),
        e @ (Rejected::UnknownDatastream(_) | Rejected::UnknownFeatureOfInterest(_)) => {
            AppError::NotFound(e.to_string())
        }
        e @ Rejected::TimeOutOfRange { .. } => AppError::Unprocessable(e.to_string()),
        Rejected::Overloaded => AppError::Unavailable("ingest is overloaded; retry shortly".into()),
        Rejected::Database(m) => AppError::internal(m),
        other => AppError::internal(other),
    }
}

/// The bearer token of the request when it is a device token (`bdt_…`).
fn device_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| t.starts_with(ioc::devices::PREFIX))
}

/// 401 for a device token that is unknown or revoked.
fn invalid_device_token() -> Response {
    let mut r = crate::error::problem_response(
        StatusCode::UNAUTHORIZED,
        Some("the device token is unknown or revoked".into()),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(
            "Bearer error=\"invalid_token\", error_description=\"unknown or revoked device token\"",
        ),
    );
    r
}

/// The administrator behind a request, or 401/403.
fn admin(reader: Result<Reader, AppError>) -> Result<Reader, AppError> {
    let reader = reader?;
    let Some(principal) = &reader.principal else {
        return Err(AppError::Unauthenticated(auth::AuthError::Missing));
    };
    if !principal.has_role(auth::Role::Admin) {
        return Err(AppError::Forbidden(
            "device tokens are managed by administrators".into(),
        ));
    }
    Ok(reader)
}

fn device_error(e: ioc::devices::DeviceError) -> AppError {
    use ioc::devices::DeviceError;
    match e {
        e @ DeviceError::NoThing(_) => AppError::Unprocessable(e.to_string()),
        e @ DeviceError::NotFound(_) => AppError::NotFound(e.to_string()),
        DeviceError::Invalid(m) => AppError::Unprocessable(m),
        DeviceError::Db(db) => AppError::from(db),
        other => AppError::internal(other),
    }
}

/// `GET /admin/device-tokens`: every token, without secrets.
async fn tokens(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
) -> Result<Json<serde_json::Value>, AppError> {
    admin(reader)?;
    let tokens = ioc::devices::list(&state.pools.admin).await?;
    Ok(Json(serde_json::json!({ "tokens": tokens })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    thing: i64,
    #[serde(default)]
    label: String,
}

/// `POST /admin/device-tokens` `{"thing": ID, "label": …}`: a new token, shown this once.
async fn issue_token(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    facts: RequestFacts,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let reader = admin(reader)?;
    let b: IssueBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body is not {{\"thing\": ID, \"label\": \"…\"}}: {e}"
        ))
    })?;
    let issued = ioc::devices::issue(&state.pools.admin, b.thing, &b.label, reader.name())
        .await
        .map_err(device_error)?;
    audit::record(
        &state.audit,
        gis_core::audit::AuditEvent::Write,
        reader.principal.as_ref(),
        &facts,
        StatusCode::CREATED,
        Some(format!(
            "device token {} ({}) issued for Thing {}",
            issued.record["id"], issued.record["hint"], b.thing
        )),
    );
    let mut record = issued.record;
    record["token"] = serde_json::json!(issued.token);
    let mut r = (StatusCode::CREATED, Json(record)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

/// `DELETE /admin/device-tokens/{id}`: the token is refused from now on.
async fn revoke_token(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    facts: RequestFacts,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let reader = admin(reader)?;
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::BadRequest(format!("\"{id}\" is not a token id")))?;
    ioc::devices::revoke(&state.pools.admin, id)
        .await
        .map_err(device_error)?;
    audit::record(
        &state.audit,
        gis_core::audit::AuditEvent::Write,
        reader.principal.as_ref(),
        &facts,
        StatusCode::NO_CONTENT,
        Some(format!("device token {id} revoked")),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// The device tokens' paths for `/api` (administrators, bearer token).
pub fn openapi_paths() -> serde_json::Value {
    use serde_json::json;
    let problem = |what: &str| {
        json!({"description": what, "content": {"application/problem+json": {"schema": {
            "type": "object", "required": ["type", "title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "request_id": {"type": "string"}}}}}})
    };
    let nullable = |t: &str| json!({"type": t, "nullable": true});
    let token = json!({"type": "object",
        "required": ["id", "thing_id", "thing", "hint", "label", "created_by", "created_at"],
        "properties": {
            "id": {"type": "integer"}, "thing_id": {"type": "integer"}, "thing": {"type": "string"},
            "hint": {"type": "string"}, "label": {"type": "string"},
            "created_by": {"type": "string"}, "created_at": {"type": "string"},
            "revoked_at": nullable("string"), "last_used_at": nullable("string"),
            "token": {"type": "string", "description": "The bearer token (only in the answer that made it)"}}});
    let auth = |mut responses: serde_json::Value| {
        responses["401"] = problem("No valid access token");
        responses["403"] = problem("Not an administrator");
        responses["503"] = problem("The database is not answering");
        responses
    };
    json!({
        "/admin/device-tokens": {
            "get": {
                "operationId": "listDeviceTokens",
                "summary": "Device tokens (without their secrets), newest first (administrators only)",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "responses": auth(json!({"200": {"description": "The tokens", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["tokens"],
                    "properties": {"tokens": {"type": "array", "items": token}}}}}}}))
            },
            "post": {
                "operationId": "issueDeviceToken",
                "summary": "A new device token for a Thing: it posts Observations to that Thing's Datastreams (shown once)",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "required": ["thing"],
                    "properties": {"thing": {"type": "integer", "description": "The Thing's id"},
                                   "label": {"type": "string", "maxLength": 200}}}}}},
                "responses": auth(json!({
                    "201": {"description": "The token and its record", "content": {"application/json": {"schema": token}}},
                    "400": problem("The body is not {thing, label}"),
                    "422": problem("No such Thing, or the label is too long")}))
            }
        },
        "/admin/device-tokens/{id}": {
            "delete": {
                "operationId": "revokeDeviceToken",
                "summary": "Revokes a device token",
                "tags": ["IOC"], "security": [{"bearer": []}],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
                "responses": auth(json!({
                    "204": {"description": "Revoked"},
                    "400": problem("Not a token id"),
                    "404": problem("No such token")}))
            }
        }
    })
}
