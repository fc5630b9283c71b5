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
    /// "ok", or "degraded" when a read replica is down (reads then go to the other replicas
    /// or the primary; the instance still answers).
    pub status: &'static str,
    /// PostGIS version of the database.
    pub postgis: String,
    /// Layers registered.
    pub layers: usize,
    /// The read replicas (`[database] read_urls`, numbered from 1 in that order; absent
    /// without replicas).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaHealth>,
    /// Reads sent to the primary because no replica was up or none had replayed the
    /// reader's write in time (absent without replicas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_reads: Option<u64>,
}

/// One read replica in the health report (its address is not published; the log has it).
#[derive(Debug, Serialize)]
pub struct ReplicaHealth {
    /// Its place in `read_urls`, from 1.
    pub replica: usize,
    /// "up" (reads go to it) or "down" (left out until it answers again).
    pub status: &'static str,
    /// WAL position replayed at its last probe (`X/Y`).
    pub replayed_lsn: Option<String>,
    /// Bytes of the primary's WAL it had not replayed at its last probe.
    pub lag_bytes: Option<u64>,
    /// Seconds since its last replayed transaction while it has WAL left to replay (0 when
    /// it has replayed everything it received).
    pub lag_seconds: Option<f64>,
    /// Requests given to it since the instance started.
    pub requests: u64,
}

/// The primary's position (or the server's own, on a standby used as the only database).
const HEALTH_SQL: &str = "SELECT postgis_lib_version(), (CASE WHEN pg_is_in_recovery() \
     THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::bigint";

/// `GET /health`: 200 when the database answers with PostGIS, 503 otherwise. It asks on the
/// health class's own connection, so a flood of other work cannot make it wait. With read
/// replicas it reports each (up or down, replay lag, from the prober's last look, at most a
/// second old); a replica down makes the status "degraded", still 200: reads go elsewhere.
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    let (postgis, primary): (String, Option<i64>) = sqlx::query_as(HEALTH_SQL)
        .fetch_one(&state.pools.health)
        .await
        .map_err(|e| {
            // The driver's words can name sockets, hosts or users: the log gets them, the
            // (anonymous) caller does not.
            tracing::warn!(error = %e, "health check failed");
            AppError::Unavailable("the database is not answering".into())
        })?;
    let primary = primary.and_then(|v| u64::try_from(v).ok());
    let replicas: Vec<ReplicaHealth> = state
        .pools
        .replicas
        .report()
        .into_iter()
        .enumerate()
        .map(|(i, r)| ReplicaHealth {
            replica: i + 1,
            status: if r.up { "up" } else { "down" },
            replayed_lsn: r.replayed.map(gis_core::db::lsn::format),
            lag_bytes: r.replayed.zip(primary).map(|(at, p)| p.saturating_sub(at)),
            lag_seconds: r.lag_seconds,
            requests: r.requests,
        })
        .collect();
    let degraded = replicas.iter().any(|r| r.status != "up");
    Ok(Json(Health {
        status: if degraded { "degraded" } else { "ok" },
        postgis,
        layers: state.layers.len(),
        primary_reads: state
            .pools
            .replica
            .then(|| state.pools.replicas.primary_fallbacks()),
        replicas,
    }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    for (class, pools) in state.pools.all() {
        ::metrics::gauge!("bando_db_pool_connections", "class" => class)
            .set(pools.iter().map(|p| f64::from(p.size())).sum::<f64>());
        ::metrics::gauge!("bando_db_pool_idle_connections", "class" => class)
            .set(pools.iter().map(|p| p.num_idle() as f64).sum::<f64>());
    }
    for (i, r) in state.pools.replicas.report().into_iter().enumerate() {
        let replica = (i + 1).to_string();
        ::metrics::gauge!("bando_read_replica_up", "replica" => replica.clone()).set(if r.up {
            1.0
        } else {
            0.0
        });
        ::metrics::gauge!("bando_read_replica_requests", "replica" => replica)
            .set(r.requests as f64);
    }
    ::metrics::gauge!("bando_layers_registered").set(state.layers.len() as f64);
    ::metrics::gauge!("bando_tile_renders").set(state.tiles.renders() as f64);
    // Tiles past a layer's highest zoom, made from their ancestor instead of rendered.
    ::metrics::gauge!("bando_tile_overzoomed").set(state.tiles.overzoomed() as f64);
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
    if let Some(p) = state.tiles.seed_progress() {
        // The store's background seeder: what it rendered and what waits.
        ::metrics::gauge!("bando_tile_seed_running").set(if p.running { 1.0 } else { 0.0 });
        ::metrics::gauge!("bando_tile_seed_zoom").set(p.zoom.map_or(-1.0, f64::from));
        ::metrics::gauge!("bando_tile_seed_waiting").set(p.waiting as f64);
        ::metrics::gauge!("bando_tile_seed_walks").set(p.walks as f64);
        for (what, n) in [
            ("rendered", p.rendered),
            ("already", p.already),
            ("rerendered", p.rerendered),
            ("failed", p.failures),
        ] {
            ::metrics::gauge!("bando_tile_seed_tiles", "event" => what).set(n as f64);
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
