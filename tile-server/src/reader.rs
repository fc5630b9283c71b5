//! Who is asking: the [`Reader`] extractor every handler that depends on the reader takes.
//!
//! No `Authorization` header is an anonymous reader. A bearer token is verified by the
//! configured [`auth::Verifier`] (an OpenID Connect provider's JWKS, or the development
//! issuer's keys); a refused token is 401 with `WWW-Authenticate: Bearer error="invalid_token"`
//! and a problem saying which check failed. A token sent to a server with no sign-in
//! configured is refused the same way, never silently read as anonymous.
//!
//! What a reader may see is decided by the domain's rules ([`gis_core::layer::Viewer`]): which
//! layers ([`Reader::sees`], from each layer's declared readers) and which properties of which
//! rows ([`Reader::sight`]: personal data for administrators, and for land officers in the
//! communes of their token — post-merger codes expanded to the pre-merger communes parcels
//! carry).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gis_core::layer::{Layer, Roles, Sight, Viewer};

use crate::app::AppState;
use crate::error::AppError;

/// The reader of a request.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    /// The signed-in user, `None` for anonymous readers.
    pub principal: Option<auth::Principal>,
    viewer: Viewer,
}

impl Reader {
    /// An anonymous reader.
    pub fn anonymous() -> Self {
        Reader::default()
    }

    /// The reader as the domain rules see it.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    /// Whether the reader sees `layer` at all (its declared readers).
    pub fn sees(&self, layer: &dyn Layer) -> bool {
        self.viewer.sees(layer)
    }

    /// What the reader reads of `layer`.
    pub fn sight(&self, layer: &dyn Layer) -> Sight {
        self.viewer.sight(layer)
    }

    /// Whether someone signed in.
    pub fn is_signed_in(&self) -> bool {
        self.principal.is_some()
    }

    /// The user name for logs and the audit (`anonymous` without a token).
    pub fn name(&self) -> &str {
        self.principal
            .as_ref()
            .map_or("anonymous", |p| p.username.as_str())
    }
}

/// The domain's roles of a verified user.
fn roles_of(principal: &auth::Principal) -> Roles {
    principal
        .roles
        .iter()
        .filter_map(|r| Roles::named(r.as_str()))
        .fold(Roles::NONE, Roles::with)
}

/// Land officers' scopes expanded through the commune crosswalk, remembered for a few minutes
/// (a token's commune list is the key; communes change only when they are re-imported).
#[derive(Default)]
pub struct ScopeCache {
    entries: Mutex<HashMap<Vec<String>, Expanded>>,
}

/// When a scope was expanded, and to what.
type Expanded = (Instant, Vec<String>);

const SCOPE_TTL: Duration = Duration::from_secs(300);
const SCOPE_ENTRIES: usize = 4096;

impl ScopeCache {
    async fn expand(&self, state: &AppState, listed: &[String]) -> Result<Vec<String>, AppError> {
        if listed.is_empty() {
            return Ok(Vec::new());
        }
        if let Ok(map) = self.entries.lock() {
            if let Some((at, codes)) = map.get(listed) {
                if at.elapsed() < SCOPE_TTL {
                    return Ok(codes.clone());
                }
            }
        }
        let codes = land::communes::scope_codes(state.pools.features(), listed).await?;
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= SCOPE_ENTRIES {
                map.clear();
            }
            map.insert(listed.to_vec(), (Instant::now(), codes.clone()));
        }
        Ok(codes)
    }
}

/// Kept in the state so every request shares it.
pub type SharedScopes = Arc<ScopeCache>;

impl FromRequestParts<AppState> for Reader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Reader::anonymous());
        };
        let text = value.to_str().map_err(|_| {
            AppError::Unauthenticated(auth::AuthError::Malformed {
                reason: "the Authorization header is not ASCII".into(),
            })
        })?;
        let Some(verifier) = state.verifier.get() else {
            return Err(AppError::Unauthenticated(auth::AuthError::Malformed {
                reason: "this server has no sign-in configured ([auth] issuer or dev_issuer); send requests without a token".into(),
            }));
        };
        if let Some(known) = state.readers.get(text) {
            return Ok(known);
        }
        let principal = verifier.authenticate(Some(text)).await?;
        let viewer = match &principal {
            None => Viewer::anonymous(),
            Some(p) => {
                let roles = roles_of(p);
                let communes = if roles.contains(Roles::LAND_OFFICER) {
                    state.scopes.expand(state, &p.communes).await?
                } else {
                    Vec::new()
                };
                Viewer::new(roles, communes).map_err(|e| {
                    AppError::Unauthenticated(auth::AuthError::Malformed {
                        reason: e.to_string(),
                    })
                })?
            }
        };
        let reader = Reader { principal, viewer };
        state.readers.remember(text, &reader);
        Ok(reader)
    }
}

/// Readers of verified tokens, by the exact `Authorization` value, for up to a minute and
/// never past the token's expiry: a map or a tile client sends the same token with every
/// request, and checking its signature each time halved the warm tile rate
/// (bench/tiles-token.sh). A changed token is a different key, so it is verified anew.
pub struct ReaderCache {
    cache: moka::sync::Cache<String, Reader>,
}

impl Default for ReaderCache {
    fn default() -> Self {
        ReaderCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        }
    }
}

impl ReaderCache {
    fn get(&self, authorization: &str) -> Option<Reader> {
        let reader = self.cache.get(authorization)?;
        let fresh = reader
            .principal
            .as_ref()
            .is_some_and(|p| p.expires_at > std::time::SystemTime::now());
        if fresh {
            Some(reader)
        } else {
            self.cache.invalidate(authorization);
            None
        }
    }

    fn remember(&self, authorization: &str, reader: &Reader) {
        if reader.principal.is_some() {
            self.cache.insert(authorization.to_string(), reader.clone());
        }
    }
}

/// Answers depend on the reader: every answer varies on `Authorization`, and one given to a
/// signed-in reader is `private` (a shared cache must never hand owner names to the next
/// anonymous visitor).
pub fn vary(signed_in: bool, response: &mut axum::response::Response) {
    use axum::http::HeaderValue;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Authorization"));
    if signed_in {
        let private = match headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
        {
            Some(v) if v.contains("private") || v.contains("no-store") => None,
            Some(v) if v.contains("public") => Some(v.replace("public", "private")),
            Some(v) => Some(format!("private, {v}")),
            None => Some("private, no-cache".to_string()),
        };
        if let Some(value) = private.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
}
