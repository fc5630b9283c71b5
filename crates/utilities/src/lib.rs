//! # utilities — utility networks
//!
//! Will own the `utilities` schema: the water supply and drainage network (pipes, valves,
//! hydrants, meters, drains, manholes) and the power grid (substations, lines, poles), with
//! connectivity rules. Not a helpers crate. Nothing is implemented yet; its migrations will take
//! versions 3001–3999.
#![deny(missing_docs)]
