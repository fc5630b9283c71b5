//! # utilities — utility networks
//!
//! Owns the `utilities` schema: the water supply and drainage network (pipes, valves, meters,
//! hydrants, drains, manholes) and the power grid (lines, poles, substations), described in
//! [`tables`] for the importers. Not a helpers crate. Migrations 3001–3999 ([`MIGRATIONS`]).
#![deny(missing_docs)]

pub mod plugin;
pub mod tables;

/// The networks' embedded migrations (versions 3001–3999).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
