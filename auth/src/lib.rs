//! bando identity: who is asking. The central type is [`Verifier`], which checks a bearer
//! access token from an OpenID Connect provider (Keycloak in production) and yields a
//! [`Principal`] — subject, username, [`Role`]s, the communes the user's work is limited to,
//! expiry — or an [`AuthError`] naming the check that failed, with the `WWW-Authenticate`
//! value to answer. A request without a token is anonymous: no principal.
//!
//! Flow: [`VerifierConfig`] (issuer, audience, claim paths) → [`Verifier::new`] → on the first
//! token, discovery (`{issuer}/.well-known/openid-configuration`) gives the `jwks_uri`, the
//! key set is fetched and cached; each token's `kid` picks a key whose algorithm (RS256, ES256
//! or EdDSA) is pinned from the JWK; an unknown `kid` refetches the set at most once per 30 s.
//!
//! [`DevIssuer`] is a built-in issuer for development and demos (refused with
//! `BANDO_ENV=production`): its own Ed25519 key kept in a directory, Keycloak-shaped tokens for
//! the [`dev_issuer::DEMO_USERS`] (one per role), and the authorization-code flow with PKCE.
//! [`dev_routes`] serves it under `/dev-auth/`; it is the only part that knows axum.
//!
//! ```
//! use auth::{DevIssuer, DevIssuerConfig, Role, Verifier};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let config = DevIssuerConfig::new("http://127.0.0.1:8080/dev-auth", dir.path());
//! let issuer = DevIssuer::open_with_env(config, |_| None)?;
//! let token = issuer.issue("can_bo_dia_chinh")?;
//!
//! // In the same process the issuer's keys can be given directly; a Keycloak realm would be
//! // `Verifier::new(VerifierConfig::new(realm_url, "bando"))`.
//! let verifier = Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())?;
//! let principal = verifier
//!     .authenticate(Some(&format!("Bearer {token}")))
//!     .await?
//!     .expect("a token was given");
//! assert_eq!(principal.roles, vec![Role::LandOfficer]);
//! assert_eq!(principal.communes, ["25195", "25198", "25201"]);
//!
//! let err = verifier.verify("not-a-token").await.unwrap_err();
//! assert_eq!(err.status(), 401);
//! assert_eq!(
//!     err.www_authenticate(),
//!     "Bearer error=\"invalid_token\", error_description=\"the token is not a well-formed JWT\""
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

pub mod dev_issuer;
mod error;
mod principal;
mod routes;
mod verifier;

pub use dev_issuer::{DevIssuer, DevIssuerConfig, DevIssuerError};
pub use error::AuthError;
pub use principal::{Principal, Role};
pub use routes::{dev_routes, escape_html};
pub use verifier::{
    bearer_token, check_crypto_provider, Verifier, VerifierConfig, ACCEPTED_ALGORITHMS,
};
