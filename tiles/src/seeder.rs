//! The server's background seeder of its tile store (issue 17): one per store
//! ([`crate::TileService::spawn_seeder`]).
//!
//! It renders, in this order: the tiles a change dropped (row level: exactly the dropped ones,
//! [`crate::store::TileStore::take_dropped`]); the tiles with data of an import's touched area
//! (its notification says `"op": "import"`); and every tile with data of each seedable layer up
//! to its seed zoom ([`gis_core::layer::Layer::seed_zoom`]) — at start, and for the layers a
//! reconciliation dropped. Tiles stored already are skipped, so a warm store costs one index
//! probe and one lookup per tile.
//!
//! Low priority: one tile at a time (one connection of the tile pool at most), and before each
//! render it waits while live tile requests are in flight (at most
//! [`SeedSettings::patience`], so it still finishes under a steady load). Its progress is read
//! by `/metrics` and the landing page ([`SeedProgress`]) and kept in the store as a note for
//! `bando tiles status` in another process.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gis_core::tile::Bounds;
use serde::{Deserialize, Serialize};

/// How the background seeder works.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedSettings {
    /// Highest zoom seeded whatever the layers declare; `None`: each layer's seed zoom.
    pub max_zoom: Option<u8>,
    /// How long a render waits for live tile requests in flight before going ahead anyway.
    pub patience: Duration,
}

impl Default for SeedSettings {
    fn default() -> Self {
        SeedSettings {
            max_zoom: None,
            patience: Duration::from_secs(1),
        }
    }
}

/// What the seeder has done since the server started and is doing now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedProgress {
    /// Working (not idle).
    pub running: bool,
    /// The layer being walked.
    pub layer: Option<String>,
    /// The zoom being walked.
    pub zoom: Option<u8>,
    /// Tiles with data rendered and stored by walks.
    pub rendered: u64,
    /// Tiles with data found stored already by walks.
    pub already: u64,
    /// Dropped tiles rendered again.
    pub rerendered: u64,
    /// Layers, areas and dropped tiles waiting.
    pub waiting: u64,
    /// Walks finished (a layer, or a layer over an import's area).
    pub walks: u64,
    /// Renders or walks that failed (logged; a request renders the tile instead).
    pub failures: u64,
}

pub(crate) enum Job {
    Layer(String),
    Area(Vec<Arc<str>>, Bounds),
}

#[derive(Default)]
struct Work {
    layers: BTreeSet<String>,
    areas: VecDeque<(Vec<Arc<str>>, Bounds)>,
}

/// The seeder's queue and counters, shared by the service's clones.
pub(crate) struct Seeder {
    pub(crate) settings: SeedSettings,
    work: Mutex<Work>,
    pub(crate) wake: tokio::sync::Notify,
    running: AtomicBool,
    layer: Mutex<Option<String>>,
    /// `u8::MAX`: none.
    zoom: AtomicU8,
    pub(crate) rendered: AtomicU64,
    pub(crate) already: AtomicU64,
    pub(crate) rerendered: AtomicU64,
    walks: AtomicU64,
    pub(crate) failures: AtomicU64,
}

impl Seeder {
    pub(crate) fn new(settings: SeedSettings) -> Seeder {
        Seeder {
            settings,
            work: Mutex::new(Work::default()),
            wake: tokio::sync::Notify::new(),
            running: AtomicBool::new(false),
            layer: Mutex::new(None),
            zoom: AtomicU8::new(u8::MAX),
            rendered: AtomicU64::new(0),
            already: AtomicU64::new(0),
            rerendered: AtomicU64::new(0),
            walks: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Walks these layers whole.
    pub(crate) fn request_layers(&self, ids: impl IntoIterator<Item = String>) {
        self.lock().layers.extend(ids);
        self.wake.notify_one();
    }

    /// Walks the tiles of `layers` meeting `area`.
    pub(crate) fn request_area(&self, layers: Vec<Arc<str>>, area: Bounds) {
        if layers.is_empty() {
            return;
        }
        self.lock().areas.push_back((layers, area));
        self.wake.notify_one();
    }

    /// The next walk: imports' areas first (new data people wait for), then whole layers.
    pub(crate) fn next_job(&self) -> Option<Job> {
        let mut work = self.lock();
        if let Some((layers, area)) = work.areas.pop_front() {
            return Some(Job::Area(layers, area));
        }
        work.layers.pop_first().map(Job::Layer)
    }

    fn waiting_jobs(&self) -> usize {
        let work = self.lock();
        work.layers.len() + work.areas.len()
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Release);
        if !running {
            *self.layer.lock().unwrap_or_else(|p| p.into_inner()) = None;
            self.zoom.store(u8::MAX, Ordering::Release);
        }
    }

    pub(crate) fn at(&self, layer: &str, zoom: u8) {
        let mut l = self.layer.lock().unwrap_or_else(|p| p.into_inner());
        if l.as_deref() != Some(layer) {
            *l = Some(layer.to_string());
        }
        self.zoom.store(zoom, Ordering::Release);
    }

    pub(crate) fn walked(&self) {
        self.walks.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits while live tile requests are in flight, at most the patience.
    pub(crate) async fn wait_quiet(&self, live: &AtomicUsize) {
        let deadline = std::time::Instant::now() + self.settings.patience;
        while live.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub(crate) fn progress(&self, dropped_waiting: usize) -> SeedProgress {
        let zoom = self.zoom.load(Ordering::Acquire);
        SeedProgress {
            running: self.running.load(Ordering::Acquire),
            layer: self.layer.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            zoom: (zoom != u8::MAX).then_some(zoom),
            rendered: self.rendered.load(Ordering::Relaxed),
            already: self.already.load(Ordering::Relaxed),
            rerendered: self.rerendered.load(Ordering::Relaxed),
            waiting: u64::try_from(self.waiting_jobs() + dropped_waiting).unwrap_or(u64::MAX),
            walks: self.walks.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// Counts a live tile request in flight while it lives.
pub(crate) struct Live<'a>(&'a AtomicUsize);

impl<'a> Live<'a> {
    pub(crate) fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        Live(n)
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
