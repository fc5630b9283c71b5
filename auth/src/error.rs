//! [`AuthError`]: why a bearer token was refused, one variant per failed check.
//!
//! Messages are for people (logs, problem details) and never contain the token. Values taken
//! from an untrusted token (its `alg`, `kid`, `iss`, `typ`) are shortened to printable ASCII
//! before they are shown. [`AuthError::www_authenticate`] gives the RFC 6750 challenge, whose
//! description is a fixed text per variant.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a token (or the attempt to check one) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The resource needs a signed-in user and the request carries no token.
    #[error(
        "this resource needs sign-in: send an access token as `Authorization: Bearer <token>`"
    )]
    Missing,
    /// The `Authorization` header is present but is not `Bearer <token>`.
    #[error("the Authorization header is not of the form `Bearer <token>`")]
    NotBearer,
    /// Not a JWT of three base64url parts with JSON header and claims, or a required claim is
    /// missing or of the wrong type.
    #[error("the token is not a well-formed JWT: {reason}")]
    Malformed {
        /// What is wrong (bando's own words, no token content).
        reason: String,
    },
    /// The header's `alg` is not one bando accepts (RS256, ES256, EdDSA), or not the algorithm
    /// of the key the `kid` names. Covers `alg: none` and the HS* family.
    #[error("{}", alg_message(alg, key_alg))]
    AlgorithmNotAllowed {
        /// The token's `alg`, shortened.
        alg: String,
        /// The algorithm the named key is pinned to, when that was the mismatch.
        key_alg: Option<&'static str>,
    },
    /// No key of the provider's key set has the token's `kid` (after one refetch, unless a
    /// refetch happened too recently).
    #[error("the token is signed with a key the identity provider does not publish (kid {})", kid.as_deref().unwrap_or("absent"))]
    UnknownKey {
        /// The token's `kid`, shortened; `None` if the header has none.
        kid: Option<String>,
    },
    /// The signature does not match header and claims under the named key.
    #[error("the token's signature is not valid (was it altered?)")]
    BadSignature,
    /// `exp` is in the past by more than the leeway.
    #[error("the token expired at {} (UTC)", unix_text(*expired_at))]
    Expired {
        /// `exp`, seconds since 1970.
        expired_at: u64,
    },
    /// `nbf` is in the future by more than the leeway.
    #[error("the token is not valid before {} (UTC)", unix_text(*not_before))]
    NotYetValid {
        /// `nbf`, seconds since 1970.
        not_before: u64,
    },
    /// `iss` is absent or not the configured issuer.
    #[error("the token was issued by {} instead of {expected}", found.as_deref().unwrap_or("nobody (no iss claim)"))]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`, shortened.
        found: Option<String>,
    },
    /// Neither `aud` contains the configured audience nor (when allowed) `azp` equals it.
    #[error("the token is not meant for {expected} (aud/azp)")]
    WrongAudience {
        /// The configured audience.
        expected: String,
    },
    /// The claims' `typ` says this is not an access token (e.g. a Keycloak ID or refresh token).
    #[error("the token is a {typ} token, not an access token (typ Bearer)")]
    NotAnAccessToken {
        /// The token's `typ` claim, shortened.
        typ: String,
    },
    /// Discovery or the key set could not be fetched or read; the token could not be checked.
    #[error("the identity provider's keys could not be fetched from {url}: {reason}")]
    JwksUnreachable {
        /// The address tried (discovery document or JWKS).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The verifier or issuer is misconfigured (bad setting, no crypto backend, no TLS).
    #[error("authentication is misconfigured: {reason}")]
    Setup {
        /// What is wrong.
        reason: String,
    },
}

fn alg_message(alg: &str, key_alg: &Option<&'static str>) -> String {
    match key_alg {
        Some(key_alg) => format!(
            "the token's algorithm {alg} is not the algorithm of its signing key ({key_alg})"
        ),
        None => format!("the signing algorithm {alg} is not accepted (only RS256, ES256, EdDSA)"),
    }
}

fn unix_text(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| format!("{secs} s after 1970"))
}

/// Shortens an untrusted value for messages: printable ASCII only, at most 64 characters.
pub(crate) fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if value.chars().count() > 64 {
        out.push('…');
    }
    out
}

impl AuthError {
    /// The HTTP status this error calls for: 400 for a header that is not `Bearer`, 401 for a
    /// token that failed a check, 503 when the provider's keys could not be fetched, 500 for
    /// misconfiguration.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::NotBearer => 400,
            AuthError::JwksUnreachable { .. } => 503,
            AuthError::Setup { .. } => 500,
            _ => 401,
        }
    }

    /// The RFC 6750 OAuth error code: `invalid_request`, `invalid_token`, or `None` when the
    /// fault is on the server's side.
    pub fn oauth_error(&self) -> Option<&'static str> {
        match self {
            AuthError::NotBearer => Some("invalid_request"),
            // RFC 6750 §3.1: a request without credentials gets a challenge with no error.
            AuthError::Missing | AuthError::JwksUnreachable { .. } | AuthError::Setup { .. } => {
                None
            }
            _ => Some("invalid_token"),
        }
    }

    /// A short fixed description of the failed check, safe for a header (no quotes, no token
    /// content).
    pub fn description(&self) -> &'static str {
        match self {
            AuthError::Missing => "sign-in needed",
            AuthError::NotBearer => "the Authorization header must be Bearer <token>",
            AuthError::Malformed { .. } => "the token is not a well-formed JWT",
            AuthError::AlgorithmNotAllowed { .. } => {
                "the token's signing algorithm is not accepted"
            }
            AuthError::UnknownKey { .. } => "the token is signed with an unknown key",
            AuthError::BadSignature => "the token's signature is not valid",
            AuthError::Expired { .. } => "the token has expired",
            AuthError::NotYetValid { .. } => "the token is not valid yet",
            AuthError::WrongIssuer { .. } => "the token was issued by another issuer",
            AuthError::WrongAudience { .. } => "the token is meant for another audience",
            AuthError::NotAnAccessToken { .. } => "the token is not an access token",
            AuthError::JwksUnreachable { .. } => "the identity provider cannot be reached",
            AuthError::Setup { .. } => "authentication is misconfigured",
        }
    }

    /// The `WWW-Authenticate` header value for this error, e.g.
    /// `Bearer error="invalid_token", error_description="the token has expired"`; just `Bearer`
    /// when the fault is the server's.
    pub fn www_authenticate(&self) -> String {
        match self.oauth_error() {
            Some(code) => format!(
                "Bearer error=\"{code}\", error_description=\"{}\"",
                self.description()
            ),
            None => "Bearer".to_string(),
        }
    }
}

/// `exp` as a time.
pub(crate) fn unix_time(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_names_the_check_and_has_no_quotes_inside() {
        let err = AuthError::Expired {
            expired_at: 1_700_000_000,
        };
        assert_eq!(
            err.www_authenticate(),
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        );
        assert_eq!(
            err.to_string(),
            "the token expired at 2023-11-14 22:13:20 (UTC)"
        );
        let all = [
            AuthError::NotBearer,
            AuthError::Malformed { reason: "x".into() },
            AuthError::AlgorithmNotAllowed {
                alg: "none".into(),
                key_alg: None,
            },
            AuthError::UnknownKey { kid: None },
            AuthError::BadSignature,
            err,
            AuthError::NotYetValid { not_before: 0 },
            AuthError::WrongIssuer {
                expected: "a".into(),
                found: None,
            },
            AuthError::WrongAudience {
                expected: "a".into(),
            },
            AuthError::NotAnAccessToken { typ: "ID".into() },
            AuthError::JwksUnreachable {
                url: "u".into(),
                reason: "r".into(),
            },
            AuthError::Setup { reason: "r".into() },
        ];
        for e in &all {
            assert!(!e.description().contains(['"', '\\']), "{e:?}");
        }
        assert_eq!(all[10].www_authenticate(), "Bearer");
        assert_eq!(all[10].status(), 503);
        assert_eq!(all[0].status(), 400);
        assert_eq!(all[4].status(), 401);
    }

    #[test]
    fn untrusted_values_are_shortened_to_printable_ascii() {
        assert_eq!(shown("RS256"), "RS256");
        assert_eq!(shown("a\"b\nc"), "a\"b?c");
        let long = "x".repeat(100);
        assert_eq!(shown(&long).chars().count(), 65);
    }
}
