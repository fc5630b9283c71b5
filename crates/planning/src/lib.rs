//! # planning — urban planning
//!
//! Will own the `planning` schema: approved plans (decision number and date, status), planning
//! zones with their land-use function, density and height limits, red lines and building lines,
//! and the parcel ↔ zone overlay report. Nothing is implemented yet: the crate exists so the
//! workspace's dependency direction (gis-core ← planning ← layers ← tile-server) is fixed from
//! the start. Its migrations will take versions 2001–2999.
#![deny(missing_docs)]
