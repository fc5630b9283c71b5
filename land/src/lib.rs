//! # land — the cadastre
//!
//! Owns the cadastral tables in the `land` schema and the rules on them: communes (pre-merger
//! units with the post-merger code each now belongs to), map sheets and parcels, described for the
//! importers in [`tables`] with their row rules; the official land-use codes ([`land_use`]: the
//! TT 27/2018 and TT 08/2024 lists and which is in force when); and the parcel checks run on a
//! staged delivery ([`parcels`]); parcels by identity, pre- or post-merger commune code
//! ([`lookup`]); land officers' edits with the cadastral rules and the parcels' history
//! ([`edit`]), snapped to their neighbours' boundaries ([`snap`]); split, merge and lineage
//! ([`lineage`]); what the public portal asks
//! ([`portal`]); the cadastre's layers, declared once ([`plugin::layers`]). Migrations
//! 1001–1999 ([`MIGRATIONS`]).
//!
//! It knows nothing of HTTP or tiles; importers hand it decoded rows, the server reads it
//! through layer plugins.
#![deny(missing_docs)]

pub mod communes;
pub mod edit;
pub mod land_use;
pub mod lineage;
pub mod lookup;
pub mod overlaps;
pub mod overview;
mod packed;
pub mod parcels;
pub mod plugin;
pub mod portal;
pub mod snap;
pub mod tables;

/// The cadastre's embedded migrations (versions 1001–1999).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
