//! Shared state and the router: `fn app(state) -> Router`, separate from `main`, so tests drive
//! it with `tower::ServiceExt::oneshot` and the binary only binds it to a socket.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use axum::Router;
use gis_core::crs::CrsRegistry;
use sqlx::PgPool;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::edge::EdgeLayer;
use crate::error::AppError;
use crate::load::{ClientLimiter, LoadSettings, Pools};
use crate::{metrics, routes};
use tiles::{TileService, TileSettings};

/// What handlers share: one `Arc`, so the clone axum makes for every request is a single
/// reference count (cloning the parts — pool, cache, registries — showed up in warm-tile
/// profiles).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

/// The parts of [`AppState`] (reached through `Deref`: `state.pools`, `state.tiles`, …).
pub struct SharedState {
    /// One database pool per work class ([`crate::load`]).
    pub pools: Pools,
    /// Per-client limits of the expensive routes.
    pub limiter: Arc<ClientLimiter>,
    /// Largest planner cost of a filtered or sorted items query (0: no guard).
    pub feature_cost_budget: f64,
    /// Registered layers (replaced when a layer definition changes).
    pub layers: Arc<tiles::live::LiveLayers>,
    /// Accepted CRSs.
    pub crs: Arc<CrsRegistry>,
    /// Prometheus renderer.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Vector tiles and their cache.
    pub tiles: TileService,
    /// Remembered `numberMatched` of feature queries.
    pub match_counts: ogc_features::counts::MatchCounts,
    /// Verifies bearer tokens; unset when no sign-in is configured ([`crate::reader`]).
    pub verifier: std::sync::OnceLock<auth::Verifier>,
    /// Land officers' commune scopes, expanded through the crosswalk ([`crate::reader`]).
    pub scopes: crate::reader::SharedScopes,
    /// Readers of recently verified tokens ([`crate::reader::ReaderCache`]).
    pub readers: crate::reader::ReaderCache,
    /// The audit log's queue ([`crate::audit`]).
    pub audit: crate::audit::Audit,
    /// The IOC's observation ingest ([`ioc::ingest`]): the MQTT subscriber and `POST`s feed it.
    pub ingest: ioc::ingest::Ingest,
    /// The IOC's live feed (`/feeds/stream`, [`ioc::feeds`]).
    pub feeds: ioc::feeds::Feeds,
    /// Browser sign-in (`/auth/config`); unset when no sign-in is configured.
    pub sign_in: std::sync::OnceLock<crate::routes::signin::BrowserSignIn>,
    /// Origins whose pages may call the token endpoints ([`crate::security`]); unset: none.
    pub cors_origins: std::sync::OnceLock<Vec<String>>,
    /// Tolerances of the cadastral rules on writes (`[land]`); unset: the defaults.
    pub land: std::sync::OnceLock<land::edit::Tolerances>,
    /// The plan documents directory (`[planning] documents_dir`); unset: documents kept as
    /// files cannot be served (503).
    pub plan_documents: std::sync::OnceLock<planning::documents::DocumentsDir>,
    /// The water network graph, kept current from change notifications
    /// ([`utilities::network::live`]); built with the first trace.
    pub networks: Arc<utilities::network::live::LiveNetwork>,
    /// The power network graph, the same way.
    pub power: Arc<utilities::network::live::LiveNetwork>,
    /// Downloads whose features are being read now (their reading tasks).
    pub downloads_streaming: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State over the database `pool` connects to, with the standard layer and CRS registries
    /// and default load settings.
    pub fn new(pool: PgPool) -> Result<Self, AppError> {
        Self::with_tiles(pool, TileSettings::default())
    }

    /// State with explicit tile settings.
    pub fn with_tiles(pool: PgPool, tiles: TileSettings) -> Result<Self, AppError> {
        Self::with_settings(pool, tiles, LoadSettings::default())
    }

    /// State with explicit tile and load settings. The work classes get pools of their own
    /// over `pool`'s connection options (connecting lazily); `pool` itself is not used.
    pub fn with_settings(
        pool: PgPool,
        tiles: TileSettings,
        load: LoadSettings,
    ) -> Result<Self, AppError> {
        Self::with_replica(pool, None, tiles, load)
    }

    /// State whose read classes (tiles, features, downloads) use a streaming replica when
    /// `replica` is given; writes, the audit log and the change listener use `pool`'s server,
    /// the primary ([`crate::load::Pools::with_replica`], [`crate::consistency`]).
    pub fn with_replica(
        pool: PgPool,
        replica: Option<sqlx::postgres::PgConnectOptions>,
        tiles: TileSettings,
        load: LoadSettings,
    ) -> Result<Self, AppError> {
        let named: Vec<_> = replica
            .map(|r| (crate::load::describe(&r), r))
            .into_iter()
            .collect();
        Self::with_replicas(pool, named, tiles, load)
    }

    /// State whose read classes are spread over `replicas` (name, connection options), with
    /// failover to another replica or the primary ([`crate::load::Replicas`]).
    pub fn with_replicas(
        pool: PgPool,
        replicas: Vec<(String, sqlx::postgres::PgConnectOptions)>,
        tiles: TileSettings,
        load: LoadSettings,
    ) -> Result<Self, AppError> {
        let layers = Arc::new(tiles::live::LiveLayers::new(layers::registry()?));
        let pools = Pools::with_replicas(&pool.connect_options(), &replicas, &load);
        let audit = crate::audit::Audit::start(pools.admin.clone(), crate::audit::DEFAULT_CAPACITY);
        // Ingest writes through a work class of its own, so readers never wait behind it: the
        // writer (HTTP posts are queued to it too), and what waits for the same locks as the
        // writer's batches (the feed log's, the latest-value layer's): the missing-data check,
        // the purges, the operators' event actions and rule changes.
        let ingest_pool = gis_core::db::class::class_pool(
            &pool.connect_options(),
            &gis_core::db::class::PoolClass {
                name: "bando-ingest",
                max_connections: 4,
                min_connections: 0,
                statement_timeout: Duration::from_secs(30),
                acquire_timeout: Duration::from_secs(10),
                cancel_on_drop: false,
            },
        );
        let (ingest, _writer) = ioc::ingest::Ingest::start(
            ingest_pool,
            INGEST_SETTINGS.get().copied().unwrap_or_default(),
        );
        // The feed's hub (its listener and log reads) and the clients' snapshots on small
        // pools of their own (started with the first client): subscribers arriving in a crowd
        // never delay the live entries.
        let feeds = ioc::feeds::Feeds::with_pools(
            gis_core::db::class::class_pool(
                &pool.connect_options(),
                &gis_core::db::class::PoolClass {
                    name: "bando-feed-hub",
                    max_connections: 2,
                    min_connections: 0,
                    statement_timeout: Duration::from_secs(10),
                    acquire_timeout: Duration::from_secs(10),
                    cancel_on_drop: false,
                },
            ),
            gis_core::db::class::class_pool(
                &pool.connect_options(),
                &gis_core::db::class::PoolClass {
                    name: "bando-feeds",
                    max_connections: 4,
                    min_connections: 0,
                    statement_timeout: Duration::from_secs(10),
                    acquire_timeout: Duration::from_secs(10),
                    cancel_on_drop: false,
                },
            ),
            ioc::feeds::FeedSettings::default(),
        );
        // On the primary: the listener and the read after a notification must see one server.
        // A small pool of their own: each network's listener keeps one connection for good
        // (on the admin pool, two of them took every connection the landing page and the
        // audit writer had).
        let network_pool = gis_core::db::class::class_pool(
            &pool.connect_options(),
            &gis_core::db::class::PoolClass {
                name: "bando-networks",
                max_connections: 4,
                min_connections: 0,
                statement_timeout: Duration::from_secs(10),
                acquire_timeout: Duration::from_secs(10),
                cancel_on_drop: false,
            },
        );
        let networks = utilities::network::live::LiveNetwork::new(
            network_pool.clone(),
            NETWORK_SETTINGS.get().copied().unwrap_or_default(),
        );
        let power = utilities::network::live::LiveNetwork::of(
            utilities::network::load::Kind::Power,
            network_pool,
            NETWORK_SETTINGS.get().copied().unwrap_or_default(),
        );
        // The tile cache's change listener, and the WAL position it reads for every change, on
        // connections of their own on the primary: on the tiles pool (or the admin pool, with
        // replicas) they waited behind renders — under a flood of ingest, which drops
        // latest-value tiles every batch, long enough to time out — and the listener held one
        // of the renders' connections for good. Also the registry reloads and the tile store's
        // reconciliation (rare).
        let listen_pool = gis_core::db::class::class_pool(
            &pool.connect_options(),
            &gis_core::db::class::PoolClass {
                name: "bando-listen",
                max_connections: 3,
                min_connections: 0,
                statement_timeout: Duration::from_secs(10),
                acquire_timeout: Duration::from_secs(10),
                cancel_on_drop: false,
            },
        );
        Ok(AppState(Arc::new(SharedState {
            networks,
            power,
            downloads_streaming: Default::default(),
            audit,
            ingest,
            feeds,
            sign_in: std::sync::OnceLock::new(),
            cors_origins: std::sync::OnceLock::new(),
            land: std::sync::OnceLock::new(),
            plan_documents: std::sync::OnceLock::new(),
            tiles: match replicas.is_empty() {
                true => TileService::new(pools.target(0).tiles.clone(), layers.clone(), tiles)
                    .with_primary(listen_pool),
                false => TileService::new(pools.target(0).tiles.clone(), layers.clone(), tiles)
                    .with_primary(listen_pool)
                    .with_read_pools(
                        pools
                            .read_targets()
                            .iter()
                            .map(|r| r.tiles.clone())
                            .collect(),
                    ),
            },
            pools,
            limiter: ClientLimiter::new(load.clients),
            feature_cost_budget: load.feature_cost_budget,
            layers,
            crs: Arc::new(CrsRegistry::standard().map_err(AppError::internal)?),
            metrics: metrics::handle(),
            match_counts: ogc_features::counts::MatchCounts::new(),
            verifier: std::sync::OnceLock::new(),
            scopes: Default::default(),
            readers: Default::default(),
        })))
    }
}

static INGEST_SETTINGS: std::sync::OnceLock<ioc::ingest::IngestSettings> =
    std::sync::OnceLock::new();

/// Sets the ingest settings (`[ioc]` in the config) of the states made afterwards; once per
/// process, before the first [`AppState`].
pub fn set_ingest_settings(settings: ioc::ingest::IngestSettings) {
    let _ = INGEST_SETTINGS.set(settings);
}

static NETWORK_SETTINGS: std::sync::OnceLock<utilities::network::Settings> =
    std::sync::OnceLock::new();

/// Sets how network graphs are joined (`[networks]` in the config) for the states made
/// afterwards; once per process, before the first [`AppState`].
pub fn set_network_settings(settings: utilities::network::Settings) {
    let _ = NETWORK_SETTINGS.set(settings);
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time limit per request (503 with `Retry-After` after it; the request's queries are
    /// cancelled).
    pub request_timeout: Duration,
    /// Largest request body (413 above it).
    pub body_limit_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The whole HTTP surface.
pub fn app(state: AppState, limits: Limits) -> Router {
    app_with_dev_issuer(state, limits, None)
}

/// The whole HTTP surface with the development issuer's own routes under `/dev-auth` when
/// given; the security headers and CORS ([`crate::security`]) wrap both.
pub fn app_with_dev_issuer(
    state: AppState,
    limits: Limits,
    dev_issuer: Option<Arc<auth::DevIssuer>>,
) -> Router {
    // Per-client limits and cancellation of dropped requests' queries; tiles stay out of it.
    let expensive = Router::new()
        .merge(routes::features::expensive_router())
        .merge(routes::query::router())
        .merge(routes::plans::router())
        .merge(routes::portal::router())
        .merge(routes::edit::router())
        .merge(routes::networks::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::load::guard_expensive,
        ));
    let routes = Router::new()
        .route("/", get(routes::landing::page))
        .route("/health", get(routes::health::health))
        .route("/metrics", get(routes::health::metrics))
        .route("/layers", get(routes::landing::layers_json))
        .route("/crs", get(routes::landing::crs_json))
        .merge(routes::tiles::router())
        .merge(routes::features::router())
        .merge(expensive)
        .merge(routes::openapi::router())
        .merge(routes::style::router())
        .merge(routes::web::router())
        .merge(routes::admin::router())
        .merge(routes::signin::router())
        .merge(routes::sta::router())
        .merge(routes::feeds::router())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state.clone());
    let router = edge_stack(routes, limits, EdgeLayer::full(state.clone()));
    match dev_issuer {
        // Without the other duties: OAuth clients expect RFC 6749 error JSON from /token,
        // which the problem-JSON rewrite would wrap.
        Some(issuer) => router.merge(
            auth::dev_routes(issuer)
                .layer(TraceLayer::new_for_http())
                .layer(EdgeLayer::security_only(state)),
        ),
        None => router,
    }
}

/// The middleware every route gets: request id, tracing, metrics, problem JSON for every error,
/// the time limit and the body size limit ([`crate::edge`] without a server state: no CORS,
/// security headers, banner or audit).
pub fn with_edge_layers(routes: Router, limits: Limits) -> Router {
    edge_stack(routes, limits, EdgeLayer::stateless())
}

/// One `Router::layer` call (each call boxes every route once more): [`EdgeLayer`] outermost,
/// then request ids, tracing, the time limit and the body limit.
fn edge_stack(routes: Router, limits: Limits, edge: EdgeLayer) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    routes.layer(
        ServiceBuilder::new()
            .layer(edge)
            .layer(SetRequestIdLayer::new(
                request_id.clone(),
                SequentialRequestId,
            ))
            .layer(TraceLayer::new_for_http())
            .layer(PropagateRequestIdLayer::new(request_id))
            // Out of time is the server's fault, not the client's: 503 (with `Retry-After`,
            // added by the problem rewrite), not 408.
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                limits.request_timeout,
            ))
            .layer(DefaultBodyLimit::max(limits.body_limit_bytes))
            .layer(RequestBodyLimitLayer::new(limits.body_limit_bytes)),
    )
}

/// Request ids `<process prefix>-<counter>`: unique per process and across restarts (random
/// prefix), without a random-number syscall per request as UUIDs need.
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialRequestId;

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::OnceLock;
        static PREFIX: OnceLock<String> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{prefix}-{n}"))
            .ok()
            .map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_with_one_process_prefix() {
        let request = axum::http::Request::new(());
        let mut make = SequentialRequestId;
        let a = make.make_request_id(&request).expect("id");
        let b = make.make_request_id(&request).expect("id");
        let (a, b) = (
            a.header_value().to_str().expect("ascii").to_string(),
            b.header_value().to_str().expect("ascii").to_string(),
        );
        assert_ne!(a, b);
        let prefix = |s: &str| s.rsplit_once('-').map(|(p, _)| p.to_string());
        assert_eq!(prefix(&a), prefix(&b));
        assert!(a.len() >= 34, "{a}");
    }
}
