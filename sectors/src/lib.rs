//! # sectors — sector assets
//!
//! Owns the `sectors` schema: transport infrastructure (roads, street lights, traffic lights,
//! cameras, bus stops and routes) and environment monitoring stations, described in [`tables`]
//! for the importers. Health, education and tourism assets will live here too. Migrations
//! 5001–5999 ([`MIGRATIONS`]). Knows nothing of HTTP.
#![deny(missing_docs)]

pub mod plugin;
pub mod tables;

/// The sectors' embedded migrations (versions 5001–5999).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
