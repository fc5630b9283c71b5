//! # utilities — utility networks
//!
//! Owns the `utilities` schema: the water supply and drainage network (pipes, valves, meters,
//! hydrants, drains, manholes) and the power grid (lines, poles, substations), described in
//! [`tables`] for the importers. Not a helpers crate. Migrations 3001–3999 ([`MIGRATIONS`]).
//!
//! [`network`] makes a graph of the water layers (and, the same way, of the power layers) (pipes as edges; junctions, valves, hydrants,
//! meters and sources as nodes, joined within a snapping tolerance) and answers traces over it:
//! a water isolation (the valves to close for a break, what goes dry), a power outage (what
//! no substation reaches any more) and each network's quality report (water and power). It knows no HTTP; the
//! server's `/networks/…` handlers only parse and map errors.
#![deny(missing_docs)]

pub mod network;
pub mod plugin;
pub mod tables;

/// The networks' embedded migrations (versions 3001–3999).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
