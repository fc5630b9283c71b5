//! A network (water or power) of a running server, kept current from the change notifications.
//!
//! Every edit or import of a water table commits with `NOTIFY bando_layer_changes` naming the
//! table and the Web Mercator box of what changed ([`gis_core::bulk::CHANGES_CHANNEL`]). The
//! listener queues the change and brings the network up to date in the background; a trace
//! that finds changes queued applies them first (one update at a time; the others wait for
//! it), so an answer never predates a change it was told of.
//!
//! A change is **patched** in: the changed table's rows whose box meets the notified box are
//! read again (one query) and [`Network::patch`] rebuilds only the pipes and devices around
//! them. The whole graph is **rebuilt** instead when a notification has no readable box, when
//! more than [`MAX_PATCH_ROWS`] rows lie in the box (a large import; a `TRUNCATE` names the
//! whole world), when more than [`MAX_PENDING`] changes are queued, or when there is no graph
//! yet. The listener is started with the first trace, before the first build, so no change
//! between the build's read and the listening is missed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::load::{self, Boxes, Kind, LoadError};
use super::{Network, Settings};

/// More rows than this of the changed table in a notified box: rebuild instead of patching.
pub const MAX_PATCH_ROWS: usize = 2_000;

/// More queued changes than this: rebuild instead of patching each.
pub const MAX_PENDING: usize = 32;

/// A change noted and not yet applied.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    /// Rows of `table` in a Web Mercator box.
    Area {
        /// Schema-qualified table.
        table: String,
        /// The box.
        bbox: [f64; 4],
    },
    /// Anything, anywhere: rebuild.
    Whole,
}

/// The water network of a server (cheap to share: keep it in an `Arc`).
pub struct LiveNetwork {
    kind: Kind,
    pool: PgPool,
    settings: Settings,
    current: RwLock<Option<Arc<Network>>>,
    stale: AtomicBool,
    pending: std::sync::Mutex<Vec<Pending>>,
    boxes: std::sync::Mutex<Boxes>,
    patches: AtomicU64,
    copies: AtomicU64,
    last_patch: RwLock<Duration>,
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
            pending: std::sync::Mutex::new(vec![Pending::Whole]),
            boxes: std::sync::Mutex::new(Boxes::new()),
            patches: AtomicU64::new(0),
            copies: AtomicU64::new(0),
            last_patch: RwLock::new(Duration::ZERO),
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

    /// How many changes were patched in (tests and logs).
    pub fn patches(&self) -> u64 {
        self.patches.load(Ordering::Acquire)
    }

    /// How many patches had to copy the graph because a trace still held it past the wait
    /// (tests and logs: traces let go of it before their answer's queries).
    pub fn copies(&self) -> u64 {
        self.copies.load(Ordering::Acquire)
    }

    /// How long the last patch took (read and patch).
    pub fn last_patch(&self) -> Duration {
        self.last_patch.read().map(|d| *d).unwrap_or_default()
    }

    /// Queues a change when `payload` (a change notification) names one of its tables; an
    /// unreadable payload, or one without a box, queues a rebuild. Returns whether it did.
    pub fn note_change(&self, payload: &str) -> bool {
        let v = serde_json::from_str::<serde_json::Value>(payload).ok();
        let table = v
            .as_ref()
            .and_then(|v| v.get("table").and_then(|t| t.as_str()).map(str::to_string));
        let hit = table
            .as_ref()
            .is_none_or(|t| self.kind.tables().contains(&t.as_str()));
        if !hit {
            return false;
        }
        let bbox = v
            .as_ref()
            .and_then(|v| serde_json::from_value::<[f64; 4]>(v.get("bbox_3857")?.clone()).ok())
            .filter(|b| b.iter().all(|c| c.is_finite()) && b[0] <= b[2] && b[1] <= b[3]);
        let change = match (table, bbox) {
            (Some(table), Some(bbox)) => Pending::Area { table, bbox },
            _ => Pending::Whole,
        };
        self.queue(change);
        true
    }

    fn queue(&self, change: Pending) {
        match self.pending.lock() {
            Ok(mut p) => p.push(change),
            // A poisoned queue cannot be trusted: rebuild.
            Err(e) => {
                let mut p = e.into_inner();
                p.clear();
                p.push(Pending::Whole);
            }
        }
        self.stale.store(true, Ordering::Release);
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
        self.refresh_locked().await
    }

    /// Applies the queued changes: patched in, or a rebuild (see the module doc). Called
    /// with the build lock held.
    async fn refresh_locked(&self) -> Result<Arc<Network>, LoadError> {
        // Taken before reading: a change that commits during the read queues again.
        self.stale.store(false, Ordering::Release);
        let pending = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(e) => {
                let mut p = e.into_inner();
                p.clear();
                vec![Pending::Whole]
            }
        };
        let current = self.current.read().ok().and_then(|c| c.clone());
        let patchable = pending.len() <= MAX_PENDING
            && !pending.contains(&Pending::Whole)
            && current.as_ref().is_some_and(|n| n.srid != 0);
        if let (true, Some(net)) = (patchable, current) {
            if pending.is_empty() {
                return Ok(net);
            }
            match self.patch_locked(net, &pending).await {
                Ok(Some(net)) => return Ok(net),
                Ok(None) => {}
                Err(e) => {
                    self.queue(Pending::Whole);
                    return Err(e);
                }
            }
        }
        self.rebuild_locked().await
    }

    /// Patches `pending` into `net`; `None` when a change is too large (rebuild instead).
    async fn patch_locked(
        &self,
        net: Arc<Network>,
        pending: &[Pending],
    ) -> Result<Option<Arc<Network>>, LoadError> {
        let started = Instant::now();
        let mut boxes = match self.boxes.lock() {
            Ok(mut b) => std::mem::take(&mut *b),
            Err(_) => return Ok(None),
        };
        for p in pending {
            if let Pending::Area { table, bbox } = p {
                if load::rows_meeting(&boxes, table, *bbox) > MAX_PATCH_ROWS {
                    return Ok(None);
                }
            }
        }
        // New traces wait for the patch (no current graph); those in flight hold the graph
        // only while they search it (they let go before their answer's queries, and over a
        // point's transform). Waiting up to 100 ms for them to let go is cheaper than copying
        // the graph (0.3 s at 100,000 pipes), which happens only past that.
        if let Ok(mut c) = self.current.write() {
            *c = None;
        }
        let mut net = net;
        let deadline = Instant::now() + Duration::from_millis(100);
        while Arc::strong_count(&net) > 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if Arc::strong_count(&net) > 1 {
            self.copies.fetch_add(1, Ordering::AcqRel);
            tracing::info!("a trace still holds the network: the patch copies it");
        }
        let mut touched = (0, 0);
        for p in pending {
            let Pending::Area { table, bbox } = p else {
                return Ok(None);
            };
            let change =
                match load::change_in(&self.pool, self.kind, table, *bbox, net.srid, &mut boxes)
                    .await?
                {
                    Some(c) => c,
                    None => continue,
                };
            let rows = match &change.rows {
                super::Rows::Pipes(r) => r.len(),
                super::Rows::Valves(r) => r.len(),
                super::Rows::Points(_, r) => r.len(),
            };
            if rows > MAX_PATCH_ROWS {
                return Ok(None);
            }
            let done = Arc::make_mut(&mut net).patch(&change);
            touched.0 += done.pipes;
            touched.1 += done.devices;
        }
        if let Ok(mut b) = self.boxes.lock() {
            *b = boxes;
        }
        let took = started.elapsed();
        if let Ok(mut d) = self.last_patch.write() {
            *d = took;
        }
        self.patches.fetch_add(1, Ordering::AcqRel);
        tracing::info!(
            changes = pending.len(),
            pipes = touched.0,
            devices = touched.1,
            us = took.as_micros() as u64,
            kind = ?self.kind,
            "network patched"
        );
        if let Ok(mut c) = self.current.write() {
            *c = Some(net.clone());
        }
        Ok(Some(net))
    }

    async fn rebuild_locked(&self) -> Result<Arc<Network>, LoadError> {
        self.stale.store(false, Ordering::Release);
        if let Ok(mut p) = self.pending.lock() {
            p.clear();
        }
        let started = Instant::now();
        let (inputs, boxes) = match load::snapshot_of(&self.pool, self.kind).await {
            Ok(i) => i,
            Err(e) => {
                self.queue(Pending::Whole);
                return Err(e);
            }
        };
        if let Ok(mut b) = self.boxes.lock() {
            *b = boxes;
        }
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
            self.queue(Pending::Whole);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(
        self: &Arc<Self>,
        listening: &tokio::sync::watch::Sender<bool>,
    ) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(gis_core::bulk::CHANGES_CHANNEL).await?;
        // Changes before the listening began are not known: rebuild once.
        self.queue(Pending::Whole);
        listening.send_replace(true);
        loop {
            let Some(note) = listener.try_recv().await? else {
                self.queue(Pending::Whole);
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
                        if let Err(e) = me.refresh_locked().await {
                            tracing::warn!(%e, "network not brought up to date");
                        }
                    }
                });
            }
        }
    }
}
