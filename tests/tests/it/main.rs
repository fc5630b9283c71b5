//! bando's integration tests, one binary (see the `tests` crate doc for the harness).

mod architecture;
mod audit;
mod binary;
mod crs;
mod db;
mod edit;
mod export;
mod faults;
mod faults_edit;
mod faults_import;
mod features;
mod import;
mod ioc;
mod lineage;
mod load;
mod lowzoom;
mod plans;
mod plugins;
mod query;
mod redelivery;
mod security;
mod server;
mod signin;
mod style;
mod tiles;
