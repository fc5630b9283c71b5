//! The audit log's table, `platform.audit_log` (migration 9): every refused request and every
//! write, who asked and why it was refused.
//!
//! The server queues [`AuditEntry`]s and a background task writes them with [`insert_batch`]
//! (one statement per batch); admins read them with [`page`]; [`purge_before`] applies the
//! retention. Entries carry no token: the caller strips token-like query values from paths
//! (`tile_server::audit::clean_path`) and details are the server's own problem texts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::db::DbError;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditEvent {
    /// A request refused with 401 or 403.
    Denied,
    /// A change made to data.
    Write,
}

impl AuditEvent {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::Denied => "denied",
            AuditEvent::Write => "write",
        }
    }
}

/// One entry of the audit log, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When the request arrived.
    pub occurred_at: DateTime<Utc>,
    /// The username, or `anonymous`.
    pub actor: String,
    /// The provider's stable user id (`sub`), when signed in.
    pub subject: Option<String>,
    /// The roles of the signed-in user (names as `auth::Role::as_str` gives them).
    pub roles: Vec<String>,
    /// Refusal or write.
    pub event: AuditEvent,
    /// HTTP method.
    pub method: String,
    /// Path and query, token-like query values removed.
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
    /// Why it was refused (the problem's detail), or what a write changed.
    pub detail: Option<String>,
    /// The client's address (the peer, or what a trusted proxy forwarded).
    pub client_addr: Option<std::net::IpAddr>,
    /// The request id (`x-request-id`), to match the server log.
    pub request_id: Option<String>,
}

/// One entry as read back.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    /// Increasing with the order entries were written.
    pub id: i64,
    /// When the request arrived.
    pub occurred_at: DateTime<Utc>,
    /// The username, or `anonymous`.
    pub actor: String,
    /// The provider's stable user id.
    pub subject: Option<String>,
    /// Roles of the user.
    pub roles: Vec<String>,
    /// `denied` or `write`.
    pub event: String,
    /// HTTP method.
    pub method: String,
    /// Path and query (no token values).
    pub path: String,
    /// HTTP status.
    pub status: i16,
    /// Why it was refused, or what was written.
    pub detail: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

/// Filters and position of a page of the log (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Entries per page.
    pub limit: i64,
    /// Entries skipped (after the cursor, if any).
    pub offset: i64,
    /// Only entries older than this id (the cursor of the next page).
    pub before: Option<i64>,
    /// Only this status.
    pub status: Option<i16>,
    /// Only this actor (username or `anonymous`).
    pub actor: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// Writes `entries` in one statement; returns the rows written.
pub async fn insert_batch(pool: &PgPool, entries: &[AuditEntry]) -> Result<u64, DbError> {
    if entries.is_empty() {
        return Ok(0);
    }
    let mut at = Vec::with_capacity(entries.len());
    let mut actor = Vec::with_capacity(entries.len());
    let mut subject = Vec::with_capacity(entries.len());
    let mut roles = Vec::with_capacity(entries.len());
    let mut event = Vec::with_capacity(entries.len());
    let mut method = Vec::with_capacity(entries.len());
    let mut path = Vec::with_capacity(entries.len());
    let mut status = Vec::with_capacity(entries.len());
    let mut detail = Vec::with_capacity(entries.len());
    let mut client = Vec::with_capacity(entries.len());
    let mut request_id = Vec::with_capacity(entries.len());
    for e in entries {
        at.push(e.occurred_at);
        actor.push(e.actor.clone());
        subject.push(e.subject.clone());
        // Role names are fixed words without commas; one text per row keeps UNNEST flat.
        roles.push(e.roles.join(","));
        event.push(e.event.as_str());
        method.push(e.method.clone());
        path.push(e.path.clone());
        status.push(i16::try_from(e.status).unwrap_or(i16::MAX));
        detail.push(e.detail.clone());
        client.push(e.client_addr.map(|a| a.to_string()));
        request_id.push(e.request_id.clone());
    }
    let written = sqlx::query(
        "INSERT INTO platform.audit_log
             (occurred_at, actor, subject, roles, event, method, path, status, detail,
              client_addr, request_id)
         SELECT at, actor, subject, COALESCE(string_to_array(NULLIF(roles, ''), ','), '{}'),
                event, method, path, status, detail, client::inet, request_id
         FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::smallint[], $9::text[], $10::text[],
                     $11::text[])
              AS e(at, actor, subject, roles, event, method, path, status, detail, client,
                   request_id)",
    )
    .bind(at)
    .bind(actor)
    .bind(subject)
    .bind(roles)
    .bind(event)
    .bind(method)
    .bind(path)
    .bind(status)
    .bind(detail)
    .bind(client)
    .bind(request_id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(written)
}

/// A page of the log, newest first.
pub async fn page(pool: &PgPool, q: &AuditQuery) -> Result<Vec<AuditRecord>, DbError> {
    let rows = sqlx::query_as::<_, AuditRecord>(
        "SELECT id, occurred_at, actor, subject, roles, event, method, path, status, detail,
                host(client_addr) AS client_addr, request_id
         FROM platform.audit_log
         WHERE ($1::bigint IS NULL OR id < $1)
           AND ($2::smallint IS NULL OR status = $2)
           AND ($3::text IS NULL OR actor = $3)
           AND ($4::timestamptz IS NULL OR occurred_at >= $4)
         ORDER BY id DESC
         LIMIT $5 OFFSET $6",
    )
    .bind(q.before)
    .bind(q.status)
    .bind(q.actor.as_deref())
    .bind(q.since)
    .bind(q.limit)
    .bind(q.offset)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// Deletes entries that occurred before `cutoff` (the retention); returns how many.
pub async fn purge_before(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<u64, DbError> {
    let deleted = sqlx::query("DELETE FROM platform.audit_log WHERE occurred_at < $1")
        .bind(cutoff)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(deleted)
}
