//! # tile-server — the `bando` binary
//!
//! Owns HTTP and the command line, nothing else: it opens the database ([`gis_core::db`]),
//! applies every crate's migrations ([`migrations`]), publishes the layer registry
//! ([`layers::registry`]) to the database's catalog, and serves the router built by
//! [`app::app`]. Handlers are thin; domain rules and their SQL live in the domain crates.
//!
//! Entry points: `main.rs` (commands), [`app`] (the router), [`edge`] (what every answer
//! passes: CORS and security headers, metrics, problem JSON, audit of refusals, read-your-writes,
//! `Vary`), [`error`] (the one error type and RFC 9457 problem JSON), [`config`] (two-stage
//! configuration).
#![deny(missing_docs)]

pub mod app;
pub mod audit;
pub mod config;
pub mod consistency;
pub mod edge;
pub mod error;
pub mod glyphs;
pub mod load;
pub mod metrics;
pub mod params;
pub mod reader;
pub mod routes;
pub mod security;
pub mod sprites;

use gis_core::db::Migrations;

/// Every crate's migrations, merged in version order.
pub fn migrations() -> Migrations {
    Migrations::new(&layers::schema_migrations())
}

/// Brings a database up to date: every crate's migrations, then every declared table and
/// column ([`layers::sync_schema`]).
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    migrations().run(pool).await?;
    let added = layers::sync_schema(pool).await?;
    if !added.is_empty() {
        tracing::info!(columns = ?added, "declared columns added");
    }
    Ok(())
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}
