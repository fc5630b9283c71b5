//! # planning — urban planning
//!
//! Owns the `planning` schema: planning zones (planned land-use function, building density,
//! floors, height, setback, approving decision), red lines (chỉ giới đường đỏ) and building lines
//! (chỉ giới xây dựng), described in [`tables`] for the importers; and the planning report of a
//! parcel ([`report`]: zones, red and building lines overlaid in the parcel's TM-3 zone, over
//! the plans in force, with drafts, or as of a date); plans as objects with versions
//! ([`plans`]: drafts, approval superseding the replaced plan, documents, comparison); a
//! parcel's information sheet ([`sheet`]: public parcel data, land use, the report over the plans
//! in force, the data date — what the portal shows and prints).
//! The planned functions of zones are data ([`functions`]: the TT 04/2022 working list with
//! titles and the planning palette). Migrations 2001–2999 ([`MIGRATIONS`]). Knows nothing of HTTP.
#![deny(missing_docs)]

pub mod documents;
pub mod functions;
pub mod plans;
pub mod plugin;
pub mod report;
pub mod sheet;
pub mod tables;

/// Planning's embedded migrations (versions 2001–2999).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
