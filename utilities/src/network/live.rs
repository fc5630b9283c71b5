//! A network (water or power) of a running server, kept current from the change notifications.
//!
//! Every edit or import of a water table commits with `NOTIFY bando_layer_changes` naming the
//! table ([`gis_core::bulk::CHANGES_CHANNEL`]). The listener marks the network stale and
//! rebuilds it in the background; a trace that finds it stale rebuilds first (one build at a
//! time; the others wait for it), so an answer never predates a change it was told of. The
//! whole graph is rebuilt rather than patched: at the sample's size a build takes a few
//! milliseconds plus the read (bench/network.sh), and a rebuild cannot drift from the tables.
//! The listener is started with the first trace, before the first build, so no change between
//! the build's read and the listening is missed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::load::{self, Kind, LoadError};
use super::{Network, Settings};

/// The water network of a server (cheap to share: keep it in an `Arc`).
pub struct LiveNetwork {
    kind: Kind,
    pool: PgPool,
    settings: Settings,
    current: RwLock<Option<Arc<Network>>>,
    stale: AtomicBool,
    build: tokio::sync::Mutex<()>,
    builds: AtomicU64,
    last_build: RwLock<Duration>,
    listener: OnceLock<tokio::sync::watch::Receiver<bool>>,
    waited: AtomicBool,
}

impl std::fmt::Debug for LiveNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveNetwork")
            .field("settings", &self.settings)
            .field("builds", &self.builds.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl LiveNetwork {
    /// A network over `pool` (the primary: notifications and the read after them must come
    /// from the same server), built on first use.
    pub fn new(pool: PgPool, settings: Settings) -> Arc<Self> {
        Self::of(Kind::Water, pool, settings)
    }

    /// [`LiveNetwork::new`] of either network.
    pub fn of(kind: Kind, pool: PgPool, settings: Settings) -> Arc<Self> {
        Arc::new(LiveNetwork {
            kind,
            pool,
            settings,
            current: RwLock::new(None),
            stale: AtomicBool::new(true),
            build: tokio::sync::Mutex::new(()),
            builds: AtomicU64::new(0),
            last_build: RwLock::new(Duration::ZERO),
            listener: OnceLock::new(),
            waited: AtomicBool::new(false),
        })
    }

    /// The pool it reads.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The settings it is built with.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// How many builds ran (tests and logs).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Acquire)
    }

    /// How long the last build took (read and join).
    pub fn last_build(&self) -> Duration {
        self.last_build.read().map(|d| *d).unwrap_or_default()
    }

    /// Marks the network stale when `payload` (a change notification) names one of its tables;
    /// an unreadable payload marks it stale too. Returns whether it did.
    pub fn note_change(&self, payload: &str) -> bool {
        let table = serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("table").and_then(|t| t.as_str()).map(str::to_string));
        let hit = table.is_none_or(|t| self.kind.tables().contains(&t.as_str()));
        if hit {
            self.stale.store(true, Ordering::Release);
        }
        hit
    }

    /// The current network, rebuilt first when a change was noted since the last build.
    pub async fn get(self: &Arc<Self>) -> Result<Arc<Network>, LoadError> {
        self.ensure_listener().await;
        if !self.stale.load(Ordering::Acquire) {
            if let Some(net) = self.current.read().ok().and_then(|c| c.clone()) {
                return Ok(net);
            }
        }
        let _one = self.build.lock().await;
        // Another caller may have rebuilt while this one waited.
        if !self.stale.load(Ordering::Acquire) {
            if let Some(net) = self.current.read().ok().and_then(|c| c.clone()) {
                return Ok(net);
            }
        }
        self.rebuild_locked().await
    }

    async fn rebuild_locked(&self) -> Result<Arc<Network>, LoadError> {
        // Cleared before reading: a change that commits during the read marks it again.
        self.stale.store(false, Ordering::Release);
        let started = Instant::now();
        let inputs = match load::inputs_of(&self.pool, self.kind).await {
            Ok(i) => i,
            Err(e) => {
                self.stale.store(true, Ordering::Release);
                return Err(e);
            }
        };
        let settings = self.settings;
        let net = tokio::task::spawn_blocking(move || Network::build(&inputs, settings))
            .await
            .map_err(|e| LoadError::Db {
                what: "the network build",
                source: sqlx::Error::Protocol(e.to_string()),
            })?;
        let net = Arc::new(net);
        let took = started.elapsed();
        if let Ok(mut d) = self.last_build.write() {
            *d = took;
        }
        self.builds.fetch_add(1, Ordering::AcqRel);
        tracing::info!(
            pipes = net.pipe_count(),
            nodes = net.graph.node_count(),
            unconnected = net.unconnected.len(),
            ms = took.as_millis() as u64,
            kind = ?self.kind,
            "network built"
        );
        if let Ok(mut c) = self.current.write() {
            *c = Some(net.clone());
        }
        Ok(net)
    }

    /// Starts the change listener once and waits (up to 5 s) until it listens.
    async fn ensure_listener(self: &Arc<Self>) {
        let mut rx = self
            .listener
            .get_or_init(|| {
                let (tx, rx) = tokio::sync::watch::channel(false);
                let me = self.clone();
                tokio::spawn(async move { me.listen(tx).await });
                rx
            })
            .clone();
        if *rx.borrow() {
            return;
        }
        // Only the first callers wait: a listener that cannot connect (database down) must
        // not add seconds to every trace; the graph is rebuilt per trace meanwhile (stale).
        let wait = if self.waited.swap(true, Ordering::AcqRel) {
            Duration::ZERO
        } else {
            Duration::from_secs(5)
        };
        let _ = tokio::time::timeout(wait, rx.wait_for(|l| *l)).await;
    }

    async fn listen(self: Arc<Self>, listening: tokio::sync::watch::Sender<bool>) {
        loop {
            match self.listen_once(&listening).await {
                Ok(()) => {}
                Err(e) => tracing::warn!(%e, "water network listener lost its connection"),
            }
            // Changes may have been missed while the connection was down.
            self.stale.store(true, Ordering::Release);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(
        self: &Arc<Self>,
        listening: &tokio::sync::watch::Sender<bool>,
    ) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(gis_core::bulk::CHANGES_CHANNEL).await?;
        self.stale.store(true, Ordering::Release);
        listening.send_replace(true);
        loop {
            let Some(note) = listener.try_recv().await? else {
                self.stale.store(true, Ordering::Release);
                continue;
            };
            if self.note_change(note.payload()) {
                // Rebuilt in the background so the next trace finds it ready; a trace that
                // comes first rebuilds itself and this one finds nothing left to do.
                let me = self.clone();
                tokio::spawn(async move {
                    // An import notifies once per area: let a burst pass, build once.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _one = me.build.lock().await;
                    if me.stale.load(Ordering::Acquire) {
                        if let Err(e) = me.rebuild_locked().await {
                            tracing::warn!(%e, "water network not rebuilt");
                        }
                    }
                });
            }
        }
    }
}
