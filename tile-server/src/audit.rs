//! The audit log, written off the request path (issue 10): every refused request (401/403) and
//! every write, stored in `platform.audit_log` ([`gis_core::audit`]).
//!
//! Handlers never wait for the database: [`record`] puts an entry on a bounded channel and a
//! background task writes whatever has queued in one statement. When the channel is full the
//! entry is dropped and counted (`bando_audit_dropped_total`, [`Audit::dropped`]) — a flood of
//! refused requests must not slow down or block the requests being served.
//!
//! Refusals are recorded by [`record_denial`] (called from [`crate::edge`]); future write handlers call
//! [`record`] with [`AuditEvent::Write`] and the request's [`RequestFacts`] (an extractor).
//! No token is ever stored: the principal's names come from the verified token, paths lose the
//! values of token-like query parameters ([`clean_path`]), details are the server's own words.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::Utc;
use gis_core::audit::{AuditEntry, AuditEvent};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::app::AppState;

/// Entries the channel holds before new ones are dropped.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Most entries written by one statement.
const BATCH: usize = 500;

/// Why a response refused the request: the problem's detail, attached by
/// [`crate::error::problem_response`] to every 401/403 so the audit need not parse bodies.
#[derive(Debug, Clone)]
pub struct DeniedBecause(pub Option<String>);

enum Message {
    Entry(Box<AuditEntry>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of the audit log (cheap to clone; shared by every request).
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl Audit {
    /// Starts the background writer over `pool` with room for `capacity` queued entries.
    /// Outside a Tokio runtime no writer runs and every entry is counted as dropped.
    pub fn start(pool: PgPool, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(write_loop(pool, rx));
        }
        Audit {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queues an entry; never waits. A full channel drops it and counts it.
    pub fn send(&self, entry: AuditEntry) {
        if self.tx.try_send(Message::Entry(Box::new(entry))).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("bando_audit_dropped_total").increment(1);
            tracing::warn!("audit entry dropped: the audit queue is full or its writer stopped");
        }
    }

    /// Waits until everything queued before this call is written (at shutdown, in tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Entries dropped since start because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes what has queued, up to [`BATCH`] entries per statement, until every sender is gone.
async fn write_loop(pool: PgPool, mut rx: mpsc::Receiver<Message>) {
    let mut batch: Vec<AuditEntry> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Entry(e) => batch.push(*e),
                Message::Flush(done) => waiting.push(done),
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            if let Err(e) = gis_core::audit::insert_batch(&pool, &batch).await {
                // Lost, not retried: a database that refuses the log must not grow memory.
                metrics::counter!("bando_audit_write_failures_total").increment(1);
                tracing::error!(error = %e, entries = batch.len(), "audit entries not written");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Deletes entries older than `retention` now and then once a day.
pub fn spawn_retention(pool: PgPool, retention: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every_day = tokio::time::interval(Duration::from_secs(24 * 3600));
        loop {
            every_day.tick().await;
            let Ok(age) = chrono::Duration::from_std(retention) else {
                return;
            };
            match gis_core::audit::purge_before(&pool, Utc::now() - age).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "audit entries past retention deleted"),
                Err(e) => tracing::warn!(error = %e, "audit retention failed"),
            }
        }
    })
}

/// What the audit keeps of a request: method, path without secrets, client, request id.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// HTTP method.
    pub method: Method,
    /// Path and query with token-like values removed ([`clean_path`]).
    pub path: String,
    /// The client (the peer, or what a trusted proxy forwarded); `None` without a socket.
    pub client: Option<IpAddr>,
    /// `x-request-id`.
    pub request_id: Option<String>,
}

impl RequestFacts {
    fn read(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        state: &AppState,
    ) -> Self {
        RequestFacts {
            method: method.clone(),
            path: clean_path(uri),
            client: peer.map(|p| {
                crate::load::client_ip(Some(p), headers, &state.limiter.settings().trusted_proxies)
            }),
            request_id: headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }
}

impl FromRequestParts<AppState> for RequestFacts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(RequestFacts::read(
            &parts.method,
            &parts.uri,
            &parts.headers,
            peer,
            state,
        ))
    }
}

/// Records one event: who (`None`: anonymous), the request, the status answered, and why it
/// was refused or what was written. Never waits (see [`Audit::send`]).
pub fn record(
    audit: &Audit,
    event: AuditEvent,
    who: Option<&auth::Principal>,
    request: &RequestFacts,
    status: StatusCode,
    detail: Option<String>,
) {
    audit.send(AuditEntry {
        occurred_at: Utc::now(),
        actor: who.map_or_else(|| "anonymous".to_string(), |p| p.username.clone()),
        subject: who.map(|p| p.subject.clone()),
        roles: who
            .map(|p| p.roles.iter().map(|r| r.as_str().to_string()).collect())
            .unwrap_or_default(),
        event,
        method: request.method.as_str().to_string(),
        path: request.path.clone(),
        status: status.as_u16(),
        detail: detail.map(|d| redact_tokens(&d)),
        client_addr: request.client,
        request_id: request.request_id.clone(),
    });
}

/// What the record of a refusal needs from a request, read before it is handled: a clone of
/// the method, the URI and a few header values (reference counts; nothing is allocated for an
/// anonymous request without forwarding headers). The principal of a 403 is read again from
/// its token afterwards (verified tokens are remembered), so the way in stores no principal.
pub struct Pending {
    method: Method,
    uri: Uri,
    kept: Vec<(&'static str, axum::http::HeaderValue)>,
    peer: Option<IpAddr>,
}

impl Pending {
    /// Reads the request's facts.
    pub fn read(request: &axum::extract::Request) -> Self {
        let names = [header::AUTHORIZATION.as_str(), "x-forwarded-for"];
        let kept = names
            .iter()
            .flat_map(|name| {
                request
                    .headers()
                    .get_all(*name)
                    .iter()
                    .map(move |v| (*name, v.clone()))
            })
            .collect();
        Pending {
            method: request.method().clone(),
            uri: request.uri().clone(),
            kept,
            peer: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        }
    }
}

/// Whether `status` is a refusal the audit log records (401, 403).
pub fn is_denial(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

/// Records a refused request ([`is_denial`]); the request id is the answer's.
pub fn record_denial(
    state: &AppState,
    pending: Pending,
    response: &Response,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let state = state.clone();
    let status = response.status();
    let mut headers = HeaderMap::new();
    for (name, value) in pending.kept {
        headers.append(name, value);
    }
    if let Some(id) = response.headers().get("x-request-id") {
        headers.insert("x-request-id", id.clone());
    }
    let detail = response
        .extensions()
        .get::<DeniedBecause>()
        .and_then(|d| d.0.clone());
    let (method, uri, peer) = (pending.method, pending.uri, pending.peer);
    async move { record_denied(&state, status, headers, detail, &method, &uri, peer).await }
}

async fn record_denied(
    state: &AppState,
    status: StatusCode,
    headers: HeaderMap,
    detail: Option<String>,
    method: &Method,
    uri: &Uri,
    peer: Option<IpAddr>,
) {
    // A 401 means the token was refused: the request is anonymous, whatever it claimed.
    let who = match (
        status,
        state.verifier.get(),
        headers.get(header::AUTHORIZATION),
    ) {
        (StatusCode::FORBIDDEN, Some(verifier), Some(value)) => match value.to_str() {
            Ok(text) => verifier.authenticate(Some(text)).await.ok().flatten(),
            Err(_) => None,
        },
        _ => None,
    };
    let facts = RequestFacts::read(method, uri, &headers, peer, state);
    record(
        &state.audit,
        AuditEvent::Denied,
        who.as_ref(),
        &facts,
        status,
        detail,
    );
}

/// Query parameters whose values are secrets (OAuth tokens, codes, passwords, keys).
fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "apikey",
        "api_key",
        "session",
        "jwt",
        "assertion",
        "signature",
        "credential",
    ]
    .iter()
    .any(|s| n.contains(s))
        || matches!(
            n.as_str(),
            "code" | "code_verifier" | "key" | "auth" | "authorization"
        )
}

/// The path and query of `uri` with the values of secret-looking parameters replaced by
/// `[removed]` and anything shaped like a JWT anywhere redacted.
pub fn clean_path(uri: &Uri) -> String {
    let path = redact_tokens(uri.path());
    let Some(query) = uri.query() else {
        return path;
    };
    let cleaned: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = percent_decoded(name);
            if is_secret_name(&decoded) {
                format!("{name}=[removed]")
            } else {
                let value = if looks_like_jwt(&percent_decoded(value)) {
                    "[removed]".to_string()
                } else {
                    value.to_string()
                };
                format!("{name}={value}")
            }
        })
        .collect();
    if cleaned.is_empty() {
        path
    } else {
        format!("{path}?{}", redact_tokens(&cleaned.join("&")))
    }
}

fn percent_decoded(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("x={s}"))
        .ok()
        .and_then(|v| v.into_iter().next().map(|(_, v)| v))
        .unwrap_or_else(|| s.to_string())
}

/// A JWT (JWS compact form): three base64url parts, the first a JSON header (`eyJ`).
fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[..2].iter().all(|p| p.len() >= 4)
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

/// Replaces every JWT-shaped word of `text` (split on characters a JWT cannot contain).
pub fn redact_tokens(text: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_like_jwt(word) {
            out.push_str("[removed]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

    fn clean(s: &str) -> String {
        clean_path(&s.parse::<Uri>().expect("uri"))
    }

    #[test]
    fn secret_query_values_are_removed() {
        assert_eq!(
            clean(&format!("/map?access_token={JWT}&x=1")),
            "/map?access_token=[removed]&x=1"
        );
        assert_eq!(
            clean("/cb?code=abc&state=s1&ID_TOKEN=q"),
            "/cb?code=[removed]&state=s1&ID_TOKEN=[removed]"
        );
        assert_eq!(clean(&format!("/a?t={JWT}")), "/a?t=[removed]");
        assert_eq!(clean(&format!("/a/{JWT}/b")), "/a/[removed]/b");
        assert_eq!(
            clean("/collections/parcels/items?limit=5&properties=owner_name"),
            "/collections/parcels/items?limit=5&properties=owner_name"
        );
        assert_eq!(clean("/tiles/a/1/2/3.mvt"), "/tiles/a/1/2/3.mvt");
    }

    #[test]
    fn jwt_shaped_words_are_redacted_in_text() {
        assert_eq!(
            redact_tokens(&format!("bad token {JWT}, sorry")),
            "bad token [removed], sorry"
        );
        assert_eq!(redact_tokens("parcel 1.2.3"), "parcel 1.2.3");
    }
}
