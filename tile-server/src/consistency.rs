//! Read-your-writes across instances and replicas, by WAL position.
//!
//! bando runs as N stateless instances reading from streaming replicas; a write goes to the
//! primary and a replica replays it a little later, and another instance's tile cache drops
//! the tiles it touched only when the change notification reaches it. So that a writer's next
//! reads see its write whichever instance and replica answer them:
//!
//! - Every successful write (`POST`, `PUT`, `PATCH`, `DELETE`, except the read-only `/query/*`)
//!   answers with the primary's WAL position after it (at or past its commit) in the header
//!   `Bando-Lsn: X/Y` (exposed to cross-origin pages) and the cookie `bando_lsn` (`Max-Age=60`,
//!   `HttpOnly`, `SameSite=Lax`, and `Secure` when `server.public_url` is https).
//! - A read (`GET`, `HEAD`) carrying `Bando-Min-Lsn: X/Y` (API clients copy it from the
//!   write's answer) or the cookie (browsers send it back) waits until its replica has
//!   replayed that position — at most [`WAIT`]; past it (or when the replica does not answer)
//!   the read goes to the primary ([`target_for`]), never an answer without the write. The
//!   request then runs inside
//!   [`gis_core::db::lsn::with_min_lsn`], so the tile cache takes no tile drawn before the
//!   write ([`tiles::TileService`]). A malformed header is 400; a malformed cookie is ignored.
//! - Without a replica the primary answers reads and only the tile-cache rule applies.
//!
//! Readers that never wrote carry nothing and pay nothing; a replica that has caught up costs
//! one `pg_last_wal_replay_lsn()` per read that carries a position.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request};
use axum::response::Response;
use gis_core::db::lsn;

use crate::app::AppState;
use crate::error::AppError;

/// The header a write's answer carries its position in.
pub const LSN_HEADER: &str = "bando-lsn";
/// The header a reader asks for a position with.
pub const MIN_LSN_HEADER: &str = "bando-min-lsn";
/// The cookie carrying the position of the browser's last write.
pub const LSN_COOKIE: &str = "bando_lsn";
/// Longest wait for a replica to replay a reader's write.
pub const WAIT: Duration = Duration::from_secs(2);
/// Seconds the cookie lasts: replicas lag by milliseconds to seconds, not minutes.
const COOKIE_MAX_AGE: u32 = 60;

/// What a request needs for read-your-writes, known before it is handled.
pub enum Need {
    /// Nothing (a read without a position, or neither a read nor a write).
    Nothing,
    /// A read that must see the write at this position.
    Read(u64),
    /// A write: its answer is stamped with the primary's position.
    Write,
}

/// What `request` needs ([`Need`]); a malformed `Bando-Min-Lsn` is 400.
pub fn need(request: &Request<Body>) -> Result<Need, AppError> {
    let method = request.method();
    if method == Method::GET || method == Method::HEAD {
        return Ok(asked_position(request.headers())?.map_or(Need::Nothing, Need::Read));
    }
    let is_write = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
        && !request.uri().path().starts_with("/query/");
    Ok(if is_write { Need::Write } else { Need::Nothing })
}

/// The read target a read asking for `min` uses: `target` once that replica has replayed
/// `min` (waiting at most [`WAIT`]), otherwise — still behind, or not answering — the
/// primary, which has every committed write. Without replicas, `target` itself.
pub async fn target_for(state: &AppState, target: usize, min: u64) -> usize {
    let replicas = &state.pools.replicas;
    if !state.pools.replica || target >= replicas.len() {
        return target;
    }
    match lsn::wait_for(&state.pools.target(target).control, min, WAIT).await {
        Ok(at) if at >= min => target,
        behind => {
            if let Err(e) = behind {
                tracing::warn!(error = %e, "replica position not read; reading from the primary");
            }
            replicas.count_primary_fallback();
            replicas.len()
        }
    }
}

/// The `bando_lsn` cookie for position `text`; `Secure` when the server's public address
/// is https (`server.public_url`), so it never travels over plain HTTP there.
pub fn cookie(text: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{LSN_COOKIE}={text}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax{secure}")
}

/// Stamps a successful write's answer with the primary's position (read after the handler
/// committed, so at or past the commit).
pub async fn stamp(state: &AppState, response: &mut Response) {
    if !response.status().is_success() {
        return;
    }
    match lsn::primary_position(&state.pools.writes).await {
        Ok(at) => {
            let text = lsn::format(at);
            let secure = crate::routes::public_url()
                .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"));
            let cookie = cookie(&text, secure);
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&text) {
                headers.insert(LSN_HEADER, v);
            }
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                headers.append(header::SET_COOKIE, v);
            }
        }
        // The write is done; only the hint for the next reads is missing.
        Err(e) => tracing::warn!(error = %e, "WAL position of a write not read"),
    }
}

/// The position a read asks for: the header (400 when malformed), else the cookie.
fn asked_position(headers: &HeaderMap) -> Result<Option<u64>, AppError> {
    if let Some(v) = headers.get(MIN_LSN_HEADER) {
        return v
            .to_str()
            .ok()
            .and_then(lsn::parse)
            .map(Some)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "{MIN_LSN_HEADER} must be a WAL position X/Y in hex, as given in {LSN_HEADER}"
                ))
            });
    }
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == LSN_COOKIE)
        .filter_map(|(_, value)| lsn::parse(value))
        .max();
    Ok(from_cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_come_from_the_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(asked_position(&h).ok(), Some(None));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; bando_lsn=0/3000060; c=d"),
        );
        assert_eq!(asked_position(&h).ok(), Some(Some(0x300_0060)));
        h.insert(header::COOKIE, HeaderValue::from_static("bando_lsn=junk"));
        assert_eq!(asked_position(&h).ok(), Some(None));
        h.insert(MIN_LSN_HEADER, HeaderValue::from_static("1/0"));
        assert_eq!(asked_position(&h).ok(), Some(Some(1 << 32)));
        h.insert(MIN_LSN_HEADER, HeaderValue::from_static("soon"));
        assert!(matches!(asked_position(&h), Err(AppError::BadRequest(_))));
    }

    #[test]
    fn the_cookie_is_secure_behind_https() {
        let plain = cookie("0/3000060", false);
        assert_eq!(
            plain,
            "bando_lsn=0/3000060; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        assert!(cookie("0/3000060", true).ends_with("; HttpOnly; SameSite=Lax; Secure"));
    }
}
