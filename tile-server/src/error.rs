//! The server's one error type and its RFC 9457 problem-JSON form.
//!
//! Input errors explain themselves in `detail`; internal errors say only "internal error" and
//! carry the request id, while the cause goes to the log. [`problem_for_bare`] gives the
//! same shape to errors produced outside handlers (unknown route, wrong method, timeout, body too
//! large), so a client never sees an error that is not problem JSON.

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a 503 asks the client to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: &str = "5";

const OUT_OF_TIME: &str = "the database query ran out of time (each kind of request has a statement time limit); narrow the request (bbox, filter, limit) or retry later";

/// A problem document (RFC 9457).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong with this request, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Request id, for matching the server log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extension members (RFC 9457 §3.2) a handler adds, e.g. the candidates of an ambiguous
    /// parcel identity.
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// Marks an answer that failed because a database server could not be reached.
#[derive(Debug, Clone, Copy)]
pub struct DbUnreachable;

/// Errors a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing is at this address.
    #[error("{0}")]
    NotFound(String),
    /// A dependency (the database) is down; try later.
    #[error("{0}")]
    Unavailable(String),
    /// The database server a query went to could not be reached (503); the answer carries
    /// [`DbUnreachable`], so the edge can try a read on another replica.
    #[error("the database is not answering; try again shortly")]
    Unreachable,
    /// A bug or an unexpected failure; details are logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
    /// The bearer token was refused; the message says which check failed (never the token).
    #[error("{0}")]
    Unauthenticated(#[from] auth::AuthError),
    /// The reader may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the resource's state (approving a plan that is no draft).
    #[error("{0}")]
    Conflict(String),
    /// A part of a standard this server does not implement (the message names it).
    #[error("{0}")]
    NotImplemented(String),
    /// The request is well-formed but its content cannot be processed (422).
    #[error("{0}")]
    Unprocessable(String),
}

impl AppError {
    /// An internal error from anything displayable (logged in full when answered).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl AppError {
    /// A tile rendering failure: the database being unreachable is 503, the rest internal.
    pub fn from_tile_error(e: &tiles::TileError) -> Self {
        match e {
            tiles::TileError::Db(db) if gis_core::db::class::is_unreachable(db) => {
                AppError::Unreachable
            }
            tiles::TileError::Db(db) if gis_core::db::class::is_timeout(db) => {
                AppError::Unavailable(OUT_OF_TIME.into())
            }
            tiles::TileError::NoHistory(_) => AppError::BadRequest(e.to_string()),
            other => AppError::internal(other),
        }
    }
}

impl From<gis_core::layer::LayerError> for AppError {
    fn from(e: gis_core::layer::LayerError) -> Self {
        match e {
            // Out of time or connections is 503 like any other query's.
            gis_core::layer::LayerError::Db(gis_core::db::DbError::Query(db)) => AppError::from(db),
            other => AppError::internal(other),
        }
    }
}

impl From<gis_core::layer::LayerListError> for AppError {
    /// An empty list is malformed (400); a name the reader cannot see is not found (404).
    fn from(e: gis_core::layer::LayerListError) -> Self {
        match e {
            gis_core::layer::LayerListError::Empty => AppError::BadRequest(e.to_string()),
            gis_core::layer::LayerListError::Unknown { .. } => AppError::NotFound(e.to_string()),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            e if gis_core::db::class::is_unreachable(&e) => AppError::Unreachable,
            e if gis_core::db::class::is_timeout(&e) => AppError::Unavailable(OUT_OF_TIME.into()),
            other => AppError::internal(other),
        }
    }
}

/// Builds a problem response.
pub fn problem_response(status: StatusCode, detail: Option<String>) -> Response {
    problem_with_extensions(status, detail, serde_json::Map::new())
}

/// A problem JSON response with extension members (names other than the standard ones).
pub fn problem_with_extensions(
    status: StatusCode,
    detail: Option<String>,
    extensions: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let problem = Problem {
        extensions,
        ..bare_problem(status, detail)
    };
    let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    // The audit log records why a request was refused (crate::audit::record_denials).
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        response
            .extensions_mut()
            .insert(crate::audit::DeniedBecause(problem.detail));
    }
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, Some(m.clone())),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, Some(m.clone())),
            AppError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, Some(m.clone())),
            AppError::Unreachable => {
                let mut response =
                    problem_response(StatusCode::SERVICE_UNAVAILABLE, Some(self.to_string()));
                response.extensions_mut().insert(DbUnreachable);
                return response;
            }
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, Some(m.clone())),
            AppError::Conflict(m) => (StatusCode::CONFLICT, Some(m.clone())),
            AppError::NotImplemented(m) => (StatusCode::NOT_IMPLEMENTED, Some(m.clone())),
            AppError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, Some(m.clone())),
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
            AppError::Unauthenticated(e) => {
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
                let mut response = problem_response(status, Some(e.to_string()));
                if let Ok(challenge) = HeaderValue::from_str(&e.www_authenticate()) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, challenge);
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    response.headers_mut().insert(
                        header::RETRY_AFTER,
                        HeaderValue::from_static(RETRY_AFTER_SECS),
                    );
                }
                return response;
            }
        };
        problem_response(status, detail)
    }
}

/// Turns an error response that is not yet problem JSON into one (keeping a
/// plain-text message as the detail), stamps the request id into every problem, and gives
/// every 503 a `Retry-After`.
pub async fn problem_for_bare(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // The id the request-id layer gave the answer.
    let request_id = response.headers().get("x-request-id").cloned();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut problem: Problem = if is_problem {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| bare_problem(status, None))
    } else {
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        let detail = if status.is_server_error() || text.is_empty() {
            default_detail(status)
        } else {
            Some(text)
        };
        bare_problem(status, detail)
    };
    problem.request_id = request_id.and_then(|v| v.to_str().ok().map(str::to_string));
    let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::from_parts(parts, Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response.headers_mut().remove(header::CONTENT_LENGTH);
    if status == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    response
}

fn bare_problem(status: StatusCode, detail: Option<String>) -> Problem {
    Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        request_id: None,
        extensions: serde_json::Map::new(),
    }
}

fn default_detail(status: StatusCode) -> Option<String> {
    let text = match status {
        StatusCode::NOT_FOUND => {
            "there is nothing at this address; see / for what the server offers"
        }
        StatusCode::METHOD_NOT_ALLOWED => "this address does not accept that HTTP method",
        StatusCode::REQUEST_TIMEOUT => "the request took longer than the server's time limit",
        StatusCode::SERVICE_UNAVAILABLE => {
            "the server could not answer in time; retry after the seconds given in Retry-After"
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than the server accepts",
        StatusCode::INTERNAL_SERVER_ERROR => {
            "internal error; quote the request id when reporting it"
        }
        _ => return None,
    };
    Some(text.to_string())
}

impl<'de> serde::Deserialize<'de> for Problem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(rename = "type", default)]
            kind: Option<String>,
            title: Option<String>,
            status: Option<u16>,
            detail: Option<String>,
            #[serde(flatten)]
            extensions: serde_json::Map<String, serde_json::Value>,
        }
        let mut raw = Raw::deserialize(d)?;
        // The middleware sets the request id itself.
        raw.extensions.remove("request_id");
        Ok(Problem {
            kind: raw.kind.unwrap_or_else(|| "about:blank".into()),
            title: raw.title.unwrap_or_default(),
            status: raw.status.unwrap_or(500),
            detail: raw.detail,
            request_id: None,
            extensions: raw.extensions,
        })
    }
}
