//! `/sta/v1.1`: the OGC SensorThings API (issue 14). Reads are `ioc::sta`'s; observations are
//! created by `POST /sta/v1.1/Observations` or `/sta/v1.1/Datastreams(ID)/Observations` by IOC
//! operators and administrators, stored through the same ingest as MQTT readings
//! (`ioc::ingest`). Malformed bodies are 400, unknown datastreams 404, out-of-range times 422,
//! parts of the standard not implemented 501 naming them.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ioc::ingest::{parse_observation, Rejected};
use ioc::sta::{Options, StaError};

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::Reader;

/// The SensorThings routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sta/v1.1", get(root))
        .route("/sta/v1.1/", get(root))
        .route("/sta/v1.1/{*path}", get(read).post(create))
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
    headers: HeaderMap,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| AppError::BadRequest(format!("the query string is not readable: {e}")))?;
    let opts = Options::parse(&pairs).map_err(sta_error)?;
    let value = ioc::sta::read(
        state.pools.features(),
        &service_root(&headers),
        &path,
        &opts,
    )
    .await
    .map_err(sta_error)?;
    Ok(Json(value).into_response())
}

/// `POST …/Observations`: one observation, stored before answering (201 with `Location`).
async fn create(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    headers: HeaderMap,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let reader = reader?;
    let Some(principal) = &reader.principal else {
        return Err(AppError::Unauthenticated(auth::AuthError::Missing));
    };
    if !principal.has_role(auth::Role::IocOperator) && !principal.has_role(auth::Role::Admin) {
        return Err(AppError::Forbidden(
            "observations are created by IOC operators (role ioc_operator) or administrators"
                .into(),
        ));
    }
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
    let id = state
        .ingest
        .store_one(&state.pools.writes, obs)
        .await
        .map_err(rejected)?;
    let location = format!("{}/Observations({id})", service_root(&headers));
    let entity = ioc::sta::read(
        &state.pools.writes,
        &service_root(&headers),
        &format!("Observations({id})"),
        &Options::default(),
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
