//! Device tokens: a sensor posts observations (`POST /sta/v1.1/…/Observations`) with a bearer
//! token of its Thing instead of a person's sign-in. A token is 256 random bits
//! (`bdt_` + base64url), shown once when an administrator makes it; only its SHA-256 is stored
//! (`ioc.device_tokens`, migration 6005). It is scoped to its Thing: it posts to that Thing's
//! datastreams only. Revoked tokens are refused.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use unicode_normalization::UnicodeNormalization as _;

/// What every device token starts with (what tells it from a JWT).
pub const PREFIX: &str = "bdt_";

/// Why a device token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// No such Thing.
    #[error("there is no Thing {0}")]
    NoThing(i64),
    /// No such token.
    #[error("there is no device token {0}")]
    NotFound(i64),
    /// Input out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// The random source failed.
    #[error("no random bytes for a token: {0}")]
    Random(String),
    /// The database failed.
    #[error("device tokens: {0}")]
    Db(#[from] sqlx::Error),
}

/// A token just made: the secret (shown once) and its record.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The bearer token.
    pub token: String,
    /// Its record as JSON (id, thing, hint, label, created…), without the secret.
    pub record: Value,
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

const TOKEN_JSON: &str = "json_build_object('id', t.id, 'thing_id', t.thing_id,
    'thing', th.name, 'hint', t.hint, 'label', t.label, 'created_by', t.created_by,
    'created_at', t.created_at, 'revoked_at', t.revoked_at, 'last_used_at', t.last_used_at)";

/// Makes a token for Thing `thing` (with a label ≤ 200 characters) by `actor`.
pub async fn issue(
    pool: &PgPool,
    thing: i64,
    label: &str,
    actor: &str,
) -> Result<Issued, DeviceError> {
    // Stored as NFC whoever typed it (a terminal or a browser may send either form).
    let label: String = label.trim().nfc().collect();
    if label.chars().count() > 200 {
        return Err(DeviceError::Invalid(
            "a label has at most 200 characters".into(),
        ));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DeviceError::Random(e.to_string()))?;
    let token = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hint: String = token.chars().take(PREFIX.len() + 6).collect();
    let record: Option<Value> = sqlx::query_scalar(&format!(
        "WITH t AS (
             INSERT INTO ioc.device_tokens (thing_id, token_sha256, hint, label, created_by)
             SELECT th.id, $2, $3, $4, $5 FROM ioc.things th WHERE th.id = $1
             RETURNING *
         )
         SELECT {TOKEN_JSON} FROM t JOIN ioc.things th ON th.id = t.thing_id"
    ))
    .bind(thing)
    .bind(digest(&token))
    .bind(&hint)
    .bind(&label)
    .bind(actor)
    .fetch_optional(pool)
    .await?;
    let record = record.ok_or(DeviceError::NoThing(thing))?;
    Ok(Issued { token, record })
}

/// Every token (no secrets), newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<Value>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT {TOKEN_JSON} FROM ioc.device_tokens t JOIN ioc.things th ON th.id = t.thing_id
         ORDER BY t.id DESC LIMIT 1000"
    ))
    .fetch_all(pool)
    .await
}

/// Revokes a token (kept for the record).
pub async fn revoke(pool: &PgPool, id: i64) -> Result<(), DeviceError> {
    let done = sqlx::query(
        "UPDATE ioc.device_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DeviceError::NotFound(id));
    }
    Ok(())
}

/// The Thing a live (not revoked) token belongs to, or `None`. Its last use is noted (at most
/// once a minute, so a device posting every second writes no row per post).
pub async fn thing_of(pool: &PgPool, token: &str) -> Result<Option<i64>, sqlx::Error> {
    if !token.starts_with(PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    sqlx::query_scalar(
        "WITH t AS (
             SELECT id, thing_id FROM ioc.device_tokens
             WHERE token_sha256 = $1 AND revoked_at IS NULL
         ), used AS (
             UPDATE ioc.device_tokens d SET last_used_at = now() FROM t
             WHERE d.id = t.id
               AND (d.last_used_at IS NULL OR d.last_used_at < now() - interval '1 minute')
         )
         SELECT thing_id FROM t",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await
}

/// The Thing of a datastream, or `None` when there is no such datastream.
pub async fn thing_of_datastream(
    pool: &PgPool,
    datastream: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT thing_id FROM ioc.datastreams WHERE id = $1")
        .bind(datastream)
        .fetch_optional(pool)
        .await
}
