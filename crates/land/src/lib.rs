//! # land — the cadastre
//!
//! Owns the cadastral tables in the `land` schema and the rules on them. Today that is the
//! administrative units: [`communes`] (pre-merger units with the post-merger code each now belongs
//! to). Its migrations are versions 1001–1999 ([`MIGRATIONS`]).
//!
//! It knows nothing of HTTP or tiles; importers hand it decoded rows, the server reads it
//! through layer plugins.
#![deny(missing_docs)]

pub mod communes;

/// The cadastre's embedded migrations (versions 1001–1999).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
