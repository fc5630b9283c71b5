//! Administration: `GET /admin/audit`, the audit log for administrators (newest first, paged,
//! filtered by status, user and time). Never cached (`Cache-Control: no-store`), including its
//! refusals; anonymous readers get 401, signed-in non-administrators 403 — and both refusals
//! are audited like any other.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use gis_core::audit::AuditQuery;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::Reader;

/// Largest page of `/admin/audit`.
pub const MAX_LIMIT: i64 = 1000;
const DEFAULT_LIMIT: i64 = 100;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(audit_log))
}

/// `GET /admin/audit`: entries newest first; `limit` (1–1000, default 100), `offset`,
/// `before` (the cursor: entries with a smaller id), `status`, `user` (username or
/// `anonymous`), `since` (RFC 3339). The answer's `next` is the next page's address.
pub async fn audit_log(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let mut response = match answer(&state, reader, &params).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn answer(
    state: &AppState,
    reader: Result<Reader, AppError>,
    params: &[(String, String)],
) -> Result<Response, AppError> {
    let reader = reader?;
    let Some(principal) = &reader.principal else {
        return Err(AppError::Unauthenticated(auth::AuthError::Missing));
    };
    if !principal.has_role(auth::Role::Admin) {
        return Err(AppError::Forbidden(
            "the audit log is for administrators (role admin)".into(),
        ));
    }
    let q = parse(params)?;
    let entries = gis_core::audit::page(&state.pools.admin, &q)
        .await
        .map_err(|e| match e {
            gis_core::db::DbError::Query(db) => AppError::from(db),
            other => AppError::internal(other),
        })?;
    // The cursor keeps the filters and moves past the last entry; a full page may have more.
    let next = (entries.len() as i64 == q.limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten()
        .map(|last| {
            let mut pairs: Vec<(&str, String)> =
                vec![("limit", q.limit.to_string()), ("before", last.to_string())];
            if let Some(s) = q.status {
                pairs.push(("status", s.to_string()));
            }
            if let Some(u) = &q.actor {
                pairs.push(("user", u.clone()));
            }
            if let Some(t) = q.since {
                pairs.push(("since", t.to_rfc3339()));
            }
            format!(
                "/admin/audit?{}",
                serde_urlencoded::to_string(&pairs).unwrap_or_default()
            )
        });
    Ok(Json(json!({
        "entries": entries,
        "limit": q.limit,
        "offset": q.offset,
        "next": next,
    }))
    .into_response())
}

fn parse(params: &[(String, String)]) -> Result<AuditQuery, AppError> {
    let mut q = AuditQuery {
        limit: DEFAULT_LIMIT,
        ..AuditQuery::default()
    };
    let int = |name: &str, v: &str, min: i64, max: i64| -> Result<i64, AppError> {
        v.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "{name} must be an integer from {min} to {max}, not '{}'",
                    shown(v)
                ))
            })
    };
    for (k, v) in params {
        match k.as_str() {
            "limit" => q.limit = int("limit", v, 1, MAX_LIMIT)?,
            "offset" => q.offset = int("offset", v, 0, 1_000_000)?,
            "before" => q.before = Some(int("before", v, 1, i64::MAX)?),
            "status" => {
                q.status = Some(int("status", v, 100, 599)? as i16);
            }
            "user" => {
                if v.is_empty() || v.chars().count() > 256 {
                    return Err(AppError::BadRequest(
                        "user must be a username of 1 to 256 characters".into(),
                    ));
                }
                q.actor = Some(v.clone());
            }
            "since" => {
                let t = DateTime::parse_from_rfc3339(v.trim()).map_err(|_| {
                    AppError::BadRequest(format!(
                        "since must be an RFC 3339 time such as 2025-01-31T08:00:00Z, not '{}'",
                        shown(v)
                    ))
                })?;
                q.since = Some(t.with_timezone(&Utc));
            }
            other => {
                return Err(AppError::BadRequest(format!(
                    "unknown parameter '{}'; /admin/audit accepts limit, offset, before, status, user, since",
                    shown(other)
                )))
            }
        }
    }
    Ok(q)
}

fn shown(v: &str) -> String {
    v.chars().take(40).collect()
}

/// The OpenAPI path of `/admin/audit` (merged into `/api`).
pub fn openapi_paths() -> Value {
    let problem = |what: &str| {
        json!({"description": what, "content": {"application/problem+json": {"schema": {
            "type": "object", "required": ["type", "title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "request_id": {"type": "string"}}}}}})
    };
    let param = |name: &str, schema: Value, description: &str| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema});
    let nullable = |t: &str| json!({"type": t, "nullable": true});
    json!({
        "/admin/audit": {"get": {
            "operationId": "getAuditLog",
            "summary": "The audit log: refused requests (401/403) and writes, newest first (administrators only)",
            "tags": ["Administration"],
            "security": [{"bearer": []}],
            "parameters": [
                param("limit", json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}), "Entries per page"),
                param("offset", json!({"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0}), "Entries skipped"),
                param("before", json!({"type": "integer", "minimum": 1}), "Cursor: only entries with a smaller id (the `next` link sets it)"),
                param("status", json!({"type": "integer", "minimum": 100, "maximum": 599}), "Only this HTTP status"),
                param("user", json!({"type": "string", "minLength": 1, "maxLength": 256}), "Only this username (or `anonymous`)"),
                param("since", json!({"type": "string", "format": "date-time"}), "Only entries at or after this time (RFC 3339)")
            ],
            "responses": {
                "200": {"description": "A page of the log", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["entries", "limit", "offset"],
                    "properties": {
                        "entries": {"type": "array", "items": {"type": "object",
                            "required": ["id", "occurred_at", "actor", "event", "method", "path", "status"],
                            "properties": {
                                "id": {"type": "integer"},
                                "occurred_at": {"type": "string", "format": "date-time"},
                                "actor": {"type": "string"},
                                "subject": nullable("string"),
                                "roles": {"type": "array", "items": {"type": "string"}},
                                "event": {"type": "string", "enum": ["denied", "write"]},
                                "method": {"type": "string"},
                                "path": {"type": "string"},
                                "status": {"type": "integer"},
                                "detail": nullable("string"),
                                "client_addr": nullable("string"),
                                "request_id": nullable("string")}}},
                        "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "next": nullable("string")}}}}},
                "400": problem("Invalid parameter"),
                "401": problem("No valid access token"),
                "403": problem("Not an administrator"),
                "503": problem("The database is not answering")
            }
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameters_are_checked() {
        let q = parse(&p(&[
            ("limit", "1000"),
            ("status", "403"),
            ("user", "quan_tri"),
        ]))
        .expect("valid");
        assert_eq!(
            (q.limit, q.status, q.actor.as_deref()),
            (1000, Some(403), Some("quan_tri"))
        );
        for bad in [
            ("limit", "1001"),
            ("limit", "0"),
            ("offset", "-1"),
            ("status", "abc"),
            ("since", "yesterday"),
            ("token", "x"),
        ] {
            assert!(
                matches!(parse(&p(&[bad])), Err(AppError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }
}
