//! Load isolation: a connection pool per work class with its own statement deadline, and
//! per-client limits on the expensive endpoints.
//!
//! Work classes ([`Pools`]): tiles, features (OGC items and `/query`), downloads (GeoPackage,
//! CSV), admin (landing page, catalog, collection metadata) and health, plus a one-connection
//! `control` pool that cancels the queries of dropped requests. Each is a
//! [`gis_core::db::class_pool`]: bounded, its sessions carry `statement_timeout` (shorter than
//! the HTTP time limit) and `application_name` `bando-<class>`. A flood of one class waits for
//! that class's connections only; `/health` answers from a connection of its own.
//!
//! Expensive routes (items, single features, `/query/*`) pass [`guard_expensive`]: a per-client
//! limit of concurrent requests and a token-bucket rate ([`ClientLimiter`], 429 with
//! `Retry-After`; the 429 is held for [`ClientSettings::refusal_delay`] first — a tarpit, so a
//! client that ignores `Retry-After` cannot make the refusals themselves cost the cores —
//! from a bounded set of held refusals, past which it is sent at once and the connection
//! closed), and [`gis_core::db::cancel_on_drop`], so a request dropped by its time limit
//! or by its client cancels its queries instead of leaving them running. Tiles pass neither:
//! the warm path does no extra work, and a tile render is shared by concurrent requests, so
//! one leaving must not cancel it (tile statements have the shortest deadline instead).
//!
//! The client is the TCP peer; `X-Forwarded-For` is read only when the peer is one of the
//! configured trusted proxies (then the right-most address that is not a trusted proxy).
//! Requests without a peer address (the router driven in-process, as tests do) are not
//! limited; `bando serve` always has one.
//!
//! With a read replica ([`Pools::with_replica`], `[database] read_urls`) the read classes —
//! tiles, features, downloads, and the `control` pool that cancels their queries — connect to
//! the replica; admin (which writes the audit log), health and `writes` (edits, plan
//! approvals, observations) stay on the primary. Without one, `writes` is the features pool.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::Response;
use gis_core::db::{class_pool, PoolClass};
use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;

use crate::app::AppState;
use crate::error::problem_response;

/// Connections and statement deadline of one work class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassSettings {
    /// Most connections the class holds.
    pub connections: u32,
    /// `statement_timeout` of its statements.
    pub statement_timeout: Duration,
}

/// Per-client limits on the expensive endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Requests one client may have in progress at once (0: no limit).
    pub max_concurrent: u32,
    /// Requests one client may start per minute, on average (0: no limit).
    pub per_minute: u32,
    /// Requests one client may start at once before the rate applies.
    pub burst: u32,
    /// Peers whose `X-Forwarded-For` names the client (addresses or CIDR blocks).
    pub trusted_proxies: Vec<IpBlock>,
    /// How long a refused request is held before its 429 is sent (zero: at once). A client
    /// that ignores `Retry-After` and asks again as soon as it is answered then makes one
    /// request a second per connection instead of thousands.
    pub refusal_delay: Duration,
    /// Refused requests held at once, over all clients; when full, a refusal is answered at
    /// once and its connection closed.
    pub held_refusals: u32,
    /// Refused requests of one client held at once (then likewise answered and closed).
    pub held_refusals_per_client: u32,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            max_concurrent: 8,
            per_minute: 600,
            burst: 60,
            trusted_proxies: Vec::new(),
            refusal_delay: Duration::from_secs(1),
            held_refusals: 1024,
            held_refusals_per_client: 64,
        }
    }
}

/// Everything load isolation is configured by.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSettings {
    /// Tile rendering, TileJSON.
    pub tiles: ClassSettings,
    /// OGC items and single features, spatial queries.
    pub features: ClassSettings,
    /// GeoPackage and CSV downloads.
    pub downloads: ClassSettings,
    /// Landing page, layer catalog, collection metadata.
    pub admin: ClassSettings,
    /// `/health` (one dedicated connection).
    pub health: ClassSettings,
    /// Per-client limits.
    pub clients: ClientSettings,
    /// Largest planner cost (`EXPLAIN`, PostgreSQL units) of a filtered or sorted items query;
    /// costlier ones are refused with 422 naming what makes them costly (0: no guard).
    pub feature_cost_budget: f64,
}

/// The default [`LoadSettings::feature_cost_budget`]: a sequential scan of about a million
/// parcels with cheap conditions passes; one computing `ACCENTI` and a leading-wildcard
/// `LIKE` on every row does not.
pub const DEFAULT_COST_BUDGET: f64 = 250_000.0;

impl LoadSettings {
    /// Defaults for a connection budget and an HTTP time limit: tiles half the connections,
    /// features a quarter, downloads and admin an eighth each (at least one); statements may
    /// run for 80% of the time limit (tiles at most 10 s, health at most 2 s).
    pub fn new(max_connections: u32, request_timeout: Duration) -> Self {
        let share = |d: u32| (max_connections / d).max(1);
        let deadline = request_timeout.mul_f64(0.8).max(Duration::from_millis(100));
        let class = |connections, cap: Duration| ClassSettings {
            connections,
            statement_timeout: deadline.min(cap),
        };
        let long = Duration::from_secs(3600);
        LoadSettings {
            tiles: class(share(2), Duration::from_secs(10)),
            features: class(share(4), long),
            downloads: class(share(8), long),
            admin: class(share(8), long),
            health: class(1, Duration::from_secs(2)),
            clients: ClientSettings::default(),
            feature_cost_budget: DEFAULT_COST_BUDGET,
        }
    }
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings::new(16, Duration::from_secs(30))
    }
}

/// The pools of the read classes on one server (a replica, or the primary).
#[derive(Debug, Clone)]
pub struct ReadPools {
    /// Tiles.
    pub tiles: PgPool,
    /// Features and spatial queries (queries cancelled when their request is dropped).
    pub features: PgPool,
    /// Downloads (cancelled likewise).
    pub downloads: PgPool,
    /// Cancels the queries of dropped requests (`pg_cancel_backend` acts on its own server).
    pub control: PgPool,
}

/// One pool per work class.
#[derive(Debug, Clone)]
pub struct Pools {
    /// The read classes per read target: the replicas in `read_urls` order, then the
    /// primary (the only one without replicas). A request's target is chosen by the edge
    /// ([`Replicas::pick`], [`gis_core::db::route`]).
    reads: Arc<[ReadPools]>,
    /// Landing page, catalog, metadata.
    pub admin: PgPool,
    /// `/health`: one connection kept open.
    pub health: PgPool,
    /// Writes (edits, plan approvals, observations): always the primary.
    pub writes: PgPool,
    /// The read classes use replicas.
    pub replica: bool,
    /// The replicas' state: up or down, replay position, requests sent to each.
    pub replicas: Arc<Replicas>,
}

impl Pools {
    /// Lazily connecting pools over the connection options of `base`.
    pub fn new(base: &PgConnectOptions, s: &LoadSettings) -> Self {
        Self::with_replicas(base, &[], s)
    }

    /// Pools whose read classes use `replica` when given (see the module doc).
    pub fn with_replica(
        base: &PgConnectOptions,
        replica: Option<&PgConnectOptions>,
        s: &LoadSettings,
    ) -> Self {
        let named: Vec<(String, PgConnectOptions)> = replica
            .map(|r| (describe(r), r.clone()))
            .into_iter()
            .collect();
        Self::with_replicas(base, &named, s)
    }

    /// Pools whose read classes are spread over `replicas` (each named for `/health`, its
    /// URL without password), with the primary as the read target of last resort.
    pub fn with_replicas(
        base: &PgConnectOptions,
        replicas: &[(String, PgConnectOptions)],
        s: &LoadSettings,
    ) -> Self {
        let pool = |on: &PgConnectOptions, name, c: &ClassSettings, cancel_on_drop| {
            class_pool(
                on,
                &PoolClass {
                    name,
                    max_connections: c.connections,
                    min_connections: 0,
                    statement_timeout: c.statement_timeout,
                    acquire_timeout: c.statement_timeout.min(Duration::from_secs(5)),
                    cancel_on_drop,
                },
            )
        };
        let control = ClassSettings {
            connections: 1,
            statement_timeout: Duration::from_secs(5),
        };
        let reads_on = |on: &PgConnectOptions| ReadPools {
            tiles: pool(on, "bando-tiles", &s.tiles, false),
            features: pool(on, "bando-features", &s.features, true),
            downloads: pool(on, "bando-downloads", &s.downloads, true),
            control: pool(on, "bando-control", &control, false),
        };
        let mut reads: Vec<ReadPools> = replicas.iter().map(|(_, on)| reads_on(on)).collect();
        reads.push(reads_on(base));
        let health = class_pool(
            base,
            &PoolClass {
                name: "bando-health",
                max_connections: 1,
                min_connections: 1,
                statement_timeout: s.health.statement_timeout,
                acquire_timeout: s.health.statement_timeout,
                cancel_on_drop: false,
            },
        );
        let writes = match replicas.is_empty() {
            true => reads[0].features.clone(),
            false => pool(base, "bando-writes", &s.features, false),
        };
        Pools {
            reads: Arc::from(reads),
            admin: pool(base, "bando-admin", &s.admin, false),
            health,
            writes,
            replica: !replicas.is_empty(),
            replicas: Replicas::start(replicas),
        }
    }

    /// The read pools of the current request's target ([`gis_core::db::route::read_target`]);
    /// outside a request, a target picked now.
    pub fn reads(&self) -> &ReadPools {
        let i = gis_core::db::route::read_target().unwrap_or_else(|| self.replicas.pick());
        self.target(i)
    }

    /// The read pools of target `i` (past the last: the primary's).
    pub fn target(&self, i: usize) -> &ReadPools {
        let last = self.reads.len() - 1;
        &self.reads[i.min(last)]
    }

    /// Every read target's pools, the primary's last.
    pub fn read_targets(&self) -> &[ReadPools] {
        &self.reads
    }

    /// Tiles of the current read target.
    pub fn tiles(&self) -> &PgPool {
        &self.reads().tiles
    }

    /// Features and spatial queries of the current read target.
    pub fn features(&self) -> &PgPool {
        &self.reads().features
    }

    /// Downloads of the current read target.
    pub fn downloads(&self) -> &PgPool {
        &self.reads().downloads
    }

    /// The cancelling connection of the current read target.
    pub fn control(&self) -> &PgPool {
        &self.reads().control
    }

    /// Every pool with its class name (for metrics; the read classes summed over their
    /// targets; `writes` only when it is a pool of its own).
    pub fn all(&self) -> Vec<(&'static str, Vec<&PgPool>)> {
        let each = |f: fn(&ReadPools) -> &PgPool| self.reads.iter().map(f).collect::<Vec<_>>();
        let mut all = vec![
            ("tiles", each(|r| &r.tiles)),
            ("features", each(|r| &r.features)),
            ("downloads", each(|r| &r.downloads)),
            ("admin", vec![&self.admin]),
            ("health", vec![&self.health]),
            ("control", each(|r| &r.control)),
        ];
        if self.replica {
            all.push(("writes", vec![&self.writes]));
        }
        all
    }
}

/// A server's address for `/health` and the log: host and port, never the password.
pub fn describe(o: &PgConnectOptions) -> String {
    format!("{}:{}", o.get_host(), o.get_port())
}

/// How long a replica that failed is left out before it is tried again (the prober brings it
/// back sooner when it answers).
pub const BACKOFF: Duration = Duration::from_secs(3);
/// How often each replica is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a probe may take before the replica counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The replicas of an instance: which are up, how far each has replayed, how many requests
/// each was given. Reads are spread round-robin over the replicas that are up; a replica
/// that fails a probe or a request's connection is left out for [`BACKOFF`] (or until the
/// next probe finds it answering); with none up, reads go to the primary (target
/// `replicas.len()`). A background task probes every replica each [`PROBE_EVERY`].
#[derive(Debug)]
pub struct Replicas {
    names: Vec<String>,
    probes: Vec<PgPool>,
    state: Mutex<Vec<ReplicaState>>,
    next: std::sync::atomic::AtomicUsize,
    /// Reads sent to the primary because no replica was up.
    primary_fallbacks: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct ReplicaState {
    down_until: Option<Instant>,
    last: Option<Probe>,
    requests: u64,
}

/// What the last probe of a replica found.
#[derive(Debug, Clone)]
pub struct Probe {
    /// When it was made.
    pub at: Instant,
    /// Replayed WAL position (`None`: the probe failed).
    pub replayed: Option<u64>,
    /// Seconds since the last replayed transaction while WAL waits to be replayed (0 when
    /// everything received is replayed).
    pub lag_seconds: Option<f64>,
}

/// A replica as `/health` reports it.
#[derive(Debug, Clone)]
pub struct ReplicaReport {
    /// Host and port.
    pub name: String,
    /// Reads are sent to it.
    pub up: bool,
    /// Replayed WAL position at the last probe.
    pub replayed: Option<u64>,
    /// Lag in seconds at the last probe.
    pub lag_seconds: Option<f64>,
    /// Requests sent to it since start.
    pub requests: u64,
}

/// The probe: replayed position and lag (a server that is not a standby reports its own
/// position and no lag).
const PROBE_SQL: &str = "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
     ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::bigint, \
     CASE WHEN NOT pg_is_in_recovery() \
       OR pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0::float8 \
     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END";

impl Replicas {
    /// The state of `replicas`, and its prober started (when a runtime runs; it ends when
    /// the state is dropped).
    pub fn start(replicas: &[(String, PgConnectOptions)]) -> Arc<Self> {
        let probes = replicas
            .iter()
            .map(|(_, on)| {
                class_pool(
                    on,
                    &PoolClass {
                        name: "bando-probe",
                        max_connections: 1,
                        min_connections: 0,
                        statement_timeout: PROBE_TIMEOUT,
                        acquire_timeout: PROBE_TIMEOUT,
                        cancel_on_drop: false,
                    },
                )
            })
            .collect();
        let this = Arc::new(Replicas {
            names: replicas.iter().map(|(n, _)| n.clone()).collect(),
            probes,
            state: Mutex::new(vec![ReplicaState::default(); replicas.len()]),
            next: Default::default(),
            primary_fallbacks: Default::default(),
        });
        if !replicas.is_empty() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let weak = Arc::downgrade(&this);
                rt.spawn(async move {
                    loop {
                        let Some(me) = weak.upgrade() else { return };
                        for i in 0..me.names.len() {
                            me.probe(i).await;
                        }
                        drop(me);
                        tokio::time::sleep(PROBE_EVERY).await;
                    }
                });
            }
        }
        this
    }

    /// How many replicas there are (the primary's target index).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The read target of a new request: the next replica that is up, or the primary.
    pub fn pick(&self) -> usize {
        let n = self.names.len();
        if n == 0 {
            return 0;
        }
        let now = Instant::now();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut state) = self.state.lock() {
            for k in 0..n {
                let i = (start + k) % n;
                if state[i].down_until.is_none_or(|t| now >= t) {
                    state[i].requests += 1;
                    return i;
                }
            }
        }
        self.primary_fallbacks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        n
    }

    /// Leaves replica `i` out for [`BACKOFF`].
    pub fn mark_down(&self, i: usize) {
        if let Ok(mut state) = self.state.lock() {
            if let Some(s) = state.get_mut(i) {
                if s.down_until.is_none() {
                    tracing::warn!(replica = %self.names[i], "read replica down; reads go elsewhere");
                }
                s.down_until = Some(Instant::now() + BACKOFF);
            }
        }
    }

    /// Probes replica `i` (at most [`PROBE_TIMEOUT`]), records what it found and marks it up
    /// or down; true when it answered.
    pub async fn probe(&self, i: usize) -> bool {
        let Some(pool) = self.probes.get(i) else {
            return false;
        };
        let asked = tokio::time::timeout(
            PROBE_TIMEOUT,
            sqlx::query_as::<_, (Option<i64>, Option<f64>)>(PROBE_SQL).fetch_one(pool),
        )
        .await;
        let found = match asked {
            Ok(Ok((lsn, lag))) => Some((lsn.map_or(0, |v| u64::try_from(v).unwrap_or(0)), lag)),
            Ok(Err(e)) => {
                tracing::debug!(replica = %self.names[i], error = %e, "replica probe failed");
                None
            }
            Err(_) => None,
        };
        if found.is_none() {
            self.mark_down(i);
        }
        if let Ok(mut state) = self.state.lock() {
            if let Some(s) = state.get_mut(i) {
                s.last = Some(Probe {
                    at: Instant::now(),
                    replayed: found.map(|f| f.0),
                    lag_seconds: found.and_then(|f| f.1),
                });
                if found.is_some() && s.down_until.take().is_some() {
                    tracing::info!(replica = %self.names[i], "read replica up again");
                }
            }
        }
        found.is_some()
    }

    /// Each replica as `/health` reports it.
    pub fn report(&self) -> Vec<ReplicaReport> {
        let now = Instant::now();
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        self.names
            .iter()
            .zip(state.iter())
            .map(|(name, s)| {
                let probed = s.last.as_ref();
                ReplicaReport {
                    name: name.clone(),
                    up: s.down_until.is_none_or(|t| now >= t)
                        && probed.is_none_or(|p| p.replayed.is_some()),
                    replayed: probed.and_then(|p| p.replayed),
                    lag_seconds: probed.and_then(|p| p.lag_seconds),
                    requests: s.requests,
                }
            })
            .collect()
    }

    /// Reads sent to the primary because no replica was up (or none had replayed a
    /// reader's write in time).
    pub fn primary_fallbacks(&self) -> u64 {
        self.primary_fallbacks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts a read sent to the primary for read-your-writes.
    pub fn count_primary_fallback(&self) {
        self.primary_fallbacks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An IP address or CIDR block (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpBlock {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(IpBlock { addr, prefix })
    }
}

impl IpBlock {
    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// Who is asking: the peer, or the address a trusted proxy forwarded.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpBlock]) -> IpAddr {
    let unknown = IpAddr::from([0, 0, 0, 0]);
    let Some(peer) = peer else {
        return unknown;
    };
    if !trusted.iter().any(|b| b.contains(peer)) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().parse::<IpAddr>())
        .collect::<Vec<_>>();
    // Right to left: the first address no trusted proxy added is the client's; an
    // unparsable entry ends the walk (what lies left of it cannot be trusted).
    let mut client = peer;
    for entry in forwarded.into_iter().rev() {
        match entry {
            Ok(ip) => {
                client = ip;
                if !trusted.iter().any(|b| b.contains(ip)) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Counts each client's requests in progress, its rate and its refusals being held.
#[derive(Debug)]
pub struct ClientLimiter {
    settings: ClientSettings,
    clients: Mutex<Clients>,
}

#[derive(Debug, Default)]
struct Clients {
    buckets: HashMap<IpAddr, Bucket>,
    /// Refusals held over all clients.
    held: u32,
}

#[derive(Debug)]
struct Bucket {
    in_flight: u32,
    /// Its refusals being held.
    held: u32,
    tokens: f64,
    refilled: Instant,
}

/// Clients remembered before idle ones are forgotten.
const MAX_CLIENTS: usize = 10_000;

impl ClientLimiter {
    /// A limiter with these settings.
    pub fn new(settings: ClientSettings) -> Arc<Self> {
        Arc::new(ClientLimiter {
            settings,
            clients: Mutex::new(Clients::default()),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Starts a request of `ip`, or says how long it should wait.
    pub fn start(self: &Arc<Self>, ip: IpAddr) -> Result<ClientPermit, Refusal> {
        let s = &self.settings;
        let rate = f64::from(s.per_minute) / 60.0;
        let burst = f64::from(s.burst.max(1));
        let now = Instant::now();
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Refusal::Busy(Duration::from_secs(1)))?;
        let clients = &mut clients.buckets;
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&ip) {
            clients.retain(|_, b| {
                b.in_flight > 0
                    || b.held > 0
                    || b.tokens + rate * now.duration_since(b.refilled).as_secs_f64() < burst
            });
        }
        let bucket = clients.entry(ip).or_insert(Bucket {
            in_flight: 0,
            held: 0,
            tokens: burst,
            refilled: now,
        });
        if s.max_concurrent > 0 && bucket.in_flight >= s.max_concurrent {
            return Err(Refusal::Busy(Duration::from_secs(1)));
        }
        if s.per_minute > 0 {
            let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
            bucket.refilled = now;
            if bucket.tokens < 1.0 {
                let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0);
                return Err(Refusal::Rate(Duration::from_secs_f64(wait)));
            }
            bucket.tokens -= 1.0;
        }
        bucket.in_flight += 1;
        Ok(ClientPermit {
            limiter: self.clone(),
            ip,
        })
    }

    /// A place among the held refusals for a refused request of `ip`, or `None` when the
    /// tarpit is off or full (for everyone or for this client).
    pub fn hold(self: &Arc<Self>, ip: IpAddr) -> Option<HeldRefusal> {
        let s = &self.settings;
        if s.refusal_delay.is_zero() {
            return None;
        }
        let mut clients = self.clients.lock().ok()?;
        if clients.held >= s.held_refusals {
            return None;
        }
        // `start` made the bucket of every refused client.
        let bucket = clients.buckets.get_mut(&ip)?;
        if bucket.held >= s.held_refusals_per_client {
            return None;
        }
        bucket.held += 1;
        clients.held += 1;
        Some(HeldRefusal {
            limiter: self.clone(),
            ip,
        })
    }

    /// Refusals being held now (all clients).
    pub fn held(&self) -> u32 {
        self.clients.lock().map_or(0, |c| c.held)
    }
}

/// A refused request being held; dropping it frees its place.
#[derive(Debug)]
pub struct HeldRefusal {
    limiter: Arc<ClientLimiter>,
    ip: IpAddr,
}

impl Drop for HeldRefusal {
    fn drop(&mut self) {
        if let Ok(mut clients) = self.limiter.clients.lock() {
            clients.held = clients.held.saturating_sub(1);
            if let Some(b) = clients.buckets.get_mut(&self.ip) {
                b.held = b.held.saturating_sub(1);
            }
        }
    }
}

/// Why a client must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many of its requests are in progress.
    Busy(Duration),
    /// It asked too often.
    Rate(Duration),
}

/// A request in progress; dropping it ends it.
#[derive(Debug)]
pub struct ClientPermit {
    limiter: Arc<ClientLimiter>,
    ip: IpAddr,
}

impl Drop for ClientPermit {
    fn drop(&mut self) {
        if let Ok(mut clients) = self.limiter.clients.lock() {
            if let Some(b) = clients.buckets.get_mut(&self.ip) {
                b.in_flight = b.in_flight.saturating_sub(1);
            }
        }
    }
}

/// Middleware of the expensive routes: the client's limits (429 with `Retry-After`), then the
/// handler inside a [`gis_core::db::cancel_on_drop`] scope.
pub async fn guard_expensive(
    State(state): State<AppState>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // Without a peer address (the router driven in-process, not over TCP) there is no
    // client to limit; `bando serve` always has one.
    let _permit = match peer {
        None => None,
        Some(peer) => {
            let ip = client_ip(
                Some(peer),
                request.headers(),
                &state.limiter.settings().trusted_proxies,
            );
            match state.limiter.start(ip) {
                Ok(permit) => Some(permit),
                Err(refusal) => return refuse(&state.limiter, ip, refusal).await,
            }
        }
    };
    gis_core::db::cancel_on_drop(state.pools.control(), next.run(request)).await
}

/// The 429 of a refused request: held for the refusal delay when there is room among the
/// held refusals, otherwise at once with the connection closed (the client must connect
/// again, which costs it a round trip, before it can be refused again).
async fn refuse(limiter: &Arc<ClientLimiter>, ip: IpAddr, refusal: Refusal) -> Response {
    if limiter.settings().refusal_delay.is_zero() {
        return too_many(refusal);
    }
    match limiter.hold(ip) {
        Some(_held) => {
            metrics::counter!("bando_client_refusals_total", "answer" => "held").increment(1);
            tokio::time::sleep(limiter.settings().refusal_delay).await;
            too_many(refusal)
        }
        None => {
            metrics::counter!("bando_client_refusals_total", "answer" => "closed").increment(1);
            let mut response = too_many(refusal);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

fn too_many(refusal: Refusal) -> Response {
    let (wait, detail) = match refusal {
        Refusal::Busy(wait) => (
            wait,
            "too many of your requests are in progress; wait for one to finish",
        ),
        Refusal::Rate(wait) => (
            wait,
            "too many requests from your address; slow down and retry after the time given",
        ),
    };
    let mut response = problem_response(StatusCode::TOO_MANY_REQUESTS, Some(detail.to_string()));
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_blocks_match_addresses_and_prefixes() {
        let b: IpBlock = "10.1.0.0/16".parse().expect("block");
        assert!(b.contains("10.1.200.3".parse().expect("ip")));
        assert!(!b.contains("10.2.0.1".parse().expect("ip")));
        assert!(b.contains("::ffff:10.1.0.9".parse().expect("ip")));
        let one: IpBlock = "::1".parse().expect("block");
        assert!(one.contains("::1".parse().expect("ip")));
        assert!(!one.contains("::2".parse().expect("ip")));
        let all: IpBlock = "0.0.0.0/0".parse().expect("block");
        assert!(all.contains("203.0.113.9".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<IpBlock>().is_err());
        assert!("proxy.local".parse::<IpBlock>().is_err());
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.7, 10.0.0.2"),
        );
        let peer: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(client_ip(Some(peer), &h, &[]), peer);
        let trusted = ["10.0.0.0/8".parse().expect("block")];
        assert_eq!(
            client_ip(Some(peer), &h, &trusted),
            "198.51.100.7".parse::<IpAddr>().expect("ip")
        );
        let outsider: IpAddr = "203.0.113.5".parse().expect("ip");
        assert_eq!(client_ip(Some(outsider), &h, &trusted), outsider);
    }

    #[test]
    fn limiter_counts_concurrency_and_rate_per_client() {
        let limiter = ClientLimiter::new(ClientSettings {
            max_concurrent: 2,
            per_minute: 60,
            burst: 3,
            ..ClientSettings::default()
        });
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let p1 = limiter.start(a).expect("first");
        let _p2 = limiter.start(a).expect("second");
        assert!(matches!(limiter.start(a), Err(Refusal::Busy(_))));
        let _other = limiter.start(b).expect("another client is not limited");
        drop(p1);
        let p3 = limiter.start(a).expect("third after one ended");
        drop(p3);
        assert!(matches!(limiter.start(a), Err(Refusal::Rate(w)) if w >= Duration::from_secs(1)));
    }

    #[test]
    fn refusals_are_held_up_to_the_bounds_and_freed_when_answered() {
        let limiter = ClientLimiter::new(ClientSettings {
            max_concurrent: 0,
            per_minute: 1,
            burst: 1,
            held_refusals: 3,
            held_refusals_per_client: 2,
            ..ClientSettings::default()
        });
        let ips: Vec<IpAddr> = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            .iter()
            .map(|a| a.parse().expect("ip"))
            .collect();
        for &ip in &ips {
            let _first = limiter.start(ip).expect("within the burst");
            assert!(limiter.start(ip).is_err(), "over the rate");
        }
        // One client: two held, the third refused at once.
        let a1 = limiter.hold(ips[0]).expect("held");
        let _a2 = limiter.hold(ips[0]).expect("held");
        assert!(limiter.hold(ips[0]).is_none(), "per-client bound");
        // All clients: three held in all.
        let _b1 = limiter.hold(ips[1]).expect("held");
        assert!(limiter.hold(ips[2]).is_none(), "overall bound");
        assert_eq!(limiter.held(), 3);
        drop(a1);
        assert_eq!(limiter.held(), 2);
        let _c1 = limiter.hold(ips[2]).expect("a place was freed");
        // An unknown client (never refused) is not held; nor anyone with the tarpit off.
        assert!(limiter.hold("192.0.2.9".parse().expect("ip")).is_none());
        let off = ClientLimiter::new(ClientSettings {
            refusal_delay: Duration::ZERO,
            per_minute: 1,
            burst: 1,
            ..ClientSettings::default()
        });
        let _p = off.start(ips[0]).expect("first");
        assert!(off.start(ips[0]).is_err());
        assert!(off.hold(ips[0]).is_none());
    }
}
