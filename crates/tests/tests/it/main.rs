//! bando's integration tests, one binary (see the `tests` crate doc for the harness).

mod architecture;
mod binary;
mod crs;
mod db;
mod import;
mod server;
mod tiles;
