//! bando's integration tests, one binary (see the `tests` crate doc for the harness).

mod architecture;
mod binary;
mod crs;
mod db;
mod export;
mod features;
mod import;
mod lowzoom;
mod query;
mod redelivery;
mod server;
mod style;
mod tiles;
