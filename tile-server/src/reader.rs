//! Who is asking: the [`Reader`] extractor every handler that depends on the reader takes.
//!
//! No `Authorization` header is an anonymous reader. A bearer token is verified by the
//! configured [`auth::Verifier`] (an OpenID Connect provider's JWKS, or the development
//! issuer's keys); a refused token is 401 with `WWW-Authenticate: Bearer error="invalid_token"`
//! and a problem saying which check failed. A token sent to a server with no sign-in
//! configured is refused the same way, never silently read as anonymous.
//!
//! What a reader may see is [`Reader::access`]: restricted properties (personal data) for land
//! officers and administrators, public ones for everyone else.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gis_core::layer::Access;

use crate::app::AppState;
use crate::error::AppError;

/// The reader of a request.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    /// The signed-in user, `None` for anonymous readers.
    pub principal: Option<auth::Principal>,
}

impl Reader {
    /// An anonymous reader.
    pub fn anonymous() -> Self {
        Reader::default()
    }

    /// What the reader may read: personal data only for land officers and administrators.
    pub fn access(&self) -> Access {
        match &self.principal {
            Some(p) if p.has_role(auth::Role::LandOfficer) || p.has_role(auth::Role::Admin) => {
                Access::Restricted
            }
            _ => Access::Public,
        }
    }

    /// Whether someone signed in.
    pub fn is_signed_in(&self) -> bool {
        self.principal.is_some()
    }
}

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
        let principal = verifier.authenticate(Some(text)).await?;
        Ok(Reader { principal })
    }
}

/// Answers depend on the reader: every answer varies on `Authorization`, and one given to a
/// signed-in reader is `private` (a shared cache must never hand owner names to the next
/// anonymous visitor).
pub async fn vary_on_reader(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    let signed_in = request.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(request).await;
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
    response
}
