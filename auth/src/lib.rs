//! bando identity: bearer-token verification against an OpenID Connect provider ([`Verifier`]) and the development issuer.
#![deny(missing_docs)]

pub mod dev_issuer;
mod error;
mod principal;
mod routes;
mod verifier;

pub use dev_issuer::{DevIssuer, DevIssuerConfig, DevIssuerError};
pub use error::AuthError;
pub use principal::{Principal, Role};
pub use routes::dev_routes;
pub use verifier::{
    bearer_token, check_crypto_provider, Verifier, VerifierConfig, ACCEPTED_ALGORITHMS,
};
