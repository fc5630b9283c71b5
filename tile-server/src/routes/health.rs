//! `/health` (is the database answering, with PostGIS?) and `/metrics` (Prometheus).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;

/// Health report.
#[derive(Debug, Serialize)]
pub struct Health {
    /// "ok".
    pub status: &'static str,
    /// PostGIS version of the database.
    pub postgis: String,
    /// Layers registered.
    pub layers: usize,
}

/// `GET /health`: 200 when the database answers with PostGIS, 503 otherwise. It asks on the
/// health class's own connection, so a flood of other work cannot make it wait.
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    let postgis: String = sqlx::query_scalar("SELECT postgis_lib_version()")
        .fetch_one(&state.pools.health)
        .await
        .map_err(|e| {
            // The driver's words can name sockets, hosts or users: the log gets them, the
            // (anonymous) caller does not.
            tracing::warn!(error = %e, "health check failed");
            AppError::Unavailable("the database is not answering".into())
        })?;
    Ok(Json(Health {
        status: "ok",
        postgis,
        layers: state.layers.len(),
    }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    for (class, pool) in state.pools.all() {
        ::metrics::gauge!("bando_db_pool_connections", "class" => class)
            .set(f64::from(pool.size()));
        ::metrics::gauge!("bando_db_pool_idle_connections", "class" => class)
            .set(pool.num_idle() as f64);
    }
    ::metrics::gauge!("bando_layers_registered").set(state.layers.len() as f64);
    ::metrics::gauge!("bando_tile_renders").set(state.tiles.renders() as f64);
    if let Some(store) = state.tiles.store() {
        // The persistent tile store (issue 17): its size and what it answered since start.
        let c = store.counters();
        ::metrics::gauge!("bando_tile_store_bytes").set(c.bytes as f64);
        for (what, n) in [
            ("hit", c.hits),
            ("miss", c.misses),
            ("written", c.written),
            ("discarded", c.discarded),
            ("dropped", c.dropped),
            ("evicted", c.evicted),
        ] {
            ::metrics::gauge!("bando_tile_store_tiles", "event" => what).set(n as f64);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
