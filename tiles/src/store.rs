//! The persistent tile store of one instance (issue 17): public tiles of seedable layers kept
//! on local disk, so a restarted server is warm at once.
//!
//! One SQLite file in WAL mode (`<data_dir>/tiles/store.sqlite` by default), one row per tile
//! keyed by (layer list, z, x, y) holding both compressed forms, the ETag and the WAL position
//! the tile was rendered at, and its last use. Beside the tiles it records what it is current
//! with: the database it was written against, each layer's tile SQL (a hash) and each feature
//! table's change count (`platform.table_changes`, gis-core migration 10) as last heard from a
//! change notification.
//!
//! Reads use a small pool of read connections on `spawn_blocking`. Every write goes through
//! one writer thread: stored tiles (a bounded queue: when it is full a tile is simply not
//! stored) and drops (never lost), applied in batches, one transaction each. A drop is
//! registered as pending before it is queued, and a read that meets a pending drop of its tile
//! is a miss, so a dropped tile is never served even before the writer deleted it. A tile is
//! stored with the change generation its render started at; the writer discards a tile
//! rendered before a drop it already applied, so a tile rendered across a change is never kept
//! as fresh.
//!
//! Byte budget: above `max_bytes` the writer evicts the highest zooms first, least recently
//! used first within a zoom, down to 90 % of the budget.
//!
//! The tiles a change dropped (by area) are listed for the server's seeder ([`crate::seeder`],
//! [`TileStore::take_dropped`]), which renders them again in the background.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use bytes::Bytes;
use gis_core::mvt::{BUFFER, EXTENT};
use gis_core::tile::{Bounds, TileCoord, EARTH_HALF_CIRCUMFERENCE};
use rusqlite::{params, Connection, OptionalExtension};

use crate::RenderedTile;

/// Where the store lives and how big it may grow.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The SQLite file.
    pub path: PathBuf,
    /// Byte budget of the stored tiles (both encodings); 0: unlimited.
    pub max_bytes: u64,
    /// Tiles waiting to be written at most; beyond it a rendered tile is not stored.
    pub queue: usize,
    /// Read connections kept open.
    pub readers: usize,
}

impl StoreSettings {
    /// The default store of a data directory: `<data_dir>/tiles/store.sqlite`, 1 GiB.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        StoreSettings {
            path: data_dir.join("tiles").join("store.sqlite"),
            max_bytes: 1 << 30,
            queue: 4096,
            readers: 4,
        }
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("tile store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file or its directory could not be made.
    #[error("tile store directory: {0}")]
    Io(#[from] std::io::Error),
    /// The database's change counts could not be read.
    #[error("tile store: reading the database's change counts failed: {0}")]
    Db(#[from] sqlx::Error),
    /// The writer thread is gone.
    #[error("tile store: the writer stopped")]
    Stopped,
}

/// What the store records it is current with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// `platform.database_identity` of the database written against.
    pub database: Option<String>,
    /// Change count per feature table (`schema.table`).
    pub changes: HashMap<String, i64>,
    /// Hash of each stored layer's tile SQL.
    pub layer_sql: HashMap<String, i64>,
}

/// Tiles and bytes of one layer list at one zoom ([`TileStore::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoomStatus {
    /// Layer list (comma-joined ids).
    pub layers: String,
    /// Zoom.
    pub z: u8,
    /// Stored tiles.
    pub tiles: u64,
    /// Their bytes (both encodings).
    pub bytes: u64,
}

/// Counters of the store since it was opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreCounters {
    /// Lookups answered from the store.
    pub hits: u64,
    /// Lookups not answered.
    pub misses: u64,
    /// Tiles written.
    pub written: u64,
    /// Tiles not stored: queue full, or rendered before a drop.
    pub discarded: u64,
    /// Tiles dropped by changes.
    pub dropped: u64,
    /// Tiles evicted by the byte budget.
    pub evicted: u64,
    /// Bytes stored now.
    pub bytes: u64,
}

/// A drop queued or being applied: tiles of any of `layers` (all layers when `None`) whose
/// buffered bounds meet `area` (every tile when `None`).
#[derive(Debug, Clone)]
struct Dropping {
    id: u64,
    layers: Option<Vec<Arc<str>>>,
    area: Option<Bounds>,
}

impl Dropping {
    fn covers(&self, key_layers: &str, tile: TileCoord) -> bool {
        if let Some(layers) = &self.layers {
            if !key_layers
                .split(',')
                .any(|id| layers.iter().any(|l| &**l == id))
            {
                return false;
            }
        }
        match &self.area {
            None => true,
            Some(area) => meets(tile, area),
        }
    }
}

/// The memory cache's rule: the tile's bounds, buffered as its features are, meet the area.
pub(crate) fn meets(tile: TileCoord, area: &Bounds) -> bool {
    let b = tile.mercator_bounds();
    let margin = b.width() * f64::from(BUFFER) / f64::from(EXTENT);
    b.buffered(margin).intersects(area)
}

enum Control {
    Drop {
        drop: Dropping,
        generation: u64,
        /// The table's change count the drop answers (recorded once applied).
        record: Option<(String, i64)>,
    },
    /// Tiles rendered before `generation` are not stored (the memory cache was cleared).
    Barrier(u64),
    /// Replace what the store records (after a reconciliation's drops).
    Record(Recorded),
    /// Keep a note in the store's `meta` table (the seeder's progress, for `bando tiles
    /// status` in another process).
    Note(String, String),
    /// Answered once everything queued before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

struct Put {
    layers: String,
    tile: TileCoord,
    rendered: RenderedTile,
    generation: u64,
}

enum Data {
    Put(Box<Put>),
    Touch(String, TileCoord, i64),
}

#[derive(Default)]
struct Queue {
    control: VecDeque<Control>,
    data: VecDeque<Data>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    capacity: usize,
    pending: Mutex<Vec<Dropping>>,
    pending_n: AtomicUsize,
    next_drop: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    written: AtomicU64,
    discarded: AtomicU64,
    dropped: AtomicU64,
    evicted: AtomicU64,
    bytes: AtomicU64,
    /// Tiles dropped by an area drop, waiting to be rendered again ([`TileStore::take_dropped`]).
    redo: Mutex<VecDeque<(String, TileCoord)>>,
    /// Told when `redo` grows.
    redo_ready: tokio::sync::Notify,
}

/// Dropped tiles listed for re-rendering at most; beyond it (a huge import) the rest are
/// rendered on request, or by the seeder's walk of the import's area.
const REDO_MAX: usize = 100_000;

impl Shared {
    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<Dropping>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn pending_covers(&self, layers: &str, tile: TileCoord) -> bool {
        if self.pending_n.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.lock_pending().iter().any(|d| d.covers(layers, tile))
    }
    fn control(&self, c: Control) {
        let mut q = self.lock_queue();
        q.control.push_back(c);
        drop(q);
        self.ready.notify_one();
    }
}

struct Inner {
    shared: Arc<Shared>,
    readers: Mutex<Vec<Connection>>,
    settings: StoreSettings,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.lock_queue().closed = true;
        self.shared.ready.notify_all();
    }
}

/// The persistent tile store (cheap to clone).
#[derive(Clone)]
pub struct TileStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileStore")
            .field("path", &self.inner.settings.path)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tiles (
    layers TEXT NOT NULL, z INTEGER NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL,
    gzip BLOB NOT NULL, br BLOB NOT NULL, features INTEGER NOT NULL, etag INTEGER NOT NULL,
    tile_limit TEXT, lsn INTEGER NOT NULL, bytes INTEGER NOT NULL, used INTEGER NOT NULL,
    PRIMARY KEY (layers, z, x, y));
CREATE INDEX IF NOT EXISTS tiles_eviction ON tiles (z DESC, used);
CREATE TABLE IF NOT EXISTS table_changes (table_name TEXT PRIMARY KEY, changes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS layer_sql (layer TEXT PRIMARY KEY, hash INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// u64 values (ETags, WAL positions) kept bit for bit in SQLite's signed integers.
fn to_i64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}
fn to_u64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

fn limit_name(limit: Option<&str>) -> Option<&'static str> {
    match limit {
        Some("bytes") => Some("bytes"),
        Some("features") => Some("features"),
        _ => None,
    }
}

impl TileStore {
    /// Opens (or makes) the store; starts its writer thread.
    pub async fn open(settings: StoreSettings) -> Result<TileStore, StoreError> {
        let path = settings.path.clone();
        let (conn, known, bytes) = tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let conn = open_connection(&path)?;
            conn.execute_batch(SCHEMA)?;
            let mut known: HashMap<String, BTreeSet<u8>> = HashMap::new();
            {
                let mut stmt = conn.prepare("SELECT DISTINCT layers, z FROM tiles")?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                for row in rows {
                    let (layers, z) = row?;
                    known
                        .entry(layers)
                        .or_default()
                        .insert(u8::try_from(z).unwrap_or(u8::MAX));
                }
            }
            let bytes: i64 =
                conn.query_row("SELECT coalesce(sum(bytes), 0) FROM tiles", [], |r| {
                    r.get(0)
                })?;
            Ok::<_, StoreError>((conn, known, bytes))
        })
        .await
        .map_err(|_| StoreError::Stopped)??;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            capacity: settings.queue.max(1),
            pending: Mutex::new(Vec::new()),
            pending_n: AtomicUsize::new(0),
            next_drop: AtomicU64::new(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            written: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            bytes: AtomicU64::new(u64::try_from(bytes).unwrap_or(0)),
            redo: Mutex::new(VecDeque::new()),
            redo_ready: tokio::sync::Notify::new(),
        });
        let writer = Writer {
            conn,
            shared: shared.clone(),
            known,
            last_drop: 0,
            max_bytes: settings.max_bytes,
        };
        std::thread::Builder::new()
            .name("bando-tile-store".into())
            .spawn(move || writer.run())?;
        Ok(TileStore {
            inner: Arc::new(Inner {
                shared,
                readers: Mutex::new(Vec::new()),
                settings,
            }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.settings.path
    }

    fn reader(&self) -> Result<Connection, rusqlite::Error> {
        let pooled = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match pooled {
            Some(c) => Ok(c),
            None => {
                let c = open_connection(&self.inner.settings.path)?;
                c.pragma_update(None, "query_only", true)?;
                Ok(c)
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut readers = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() < self.inner.settings.readers.max(1) {
            readers.push(conn);
        }
    }

    /// The stored tile of `layers` (comma-joined ids), unless missing or dropped.
    pub async fn get(&self, layers: &str, tile: TileCoord) -> Option<RenderedTile> {
        let shared = &self.inner.shared;
        if shared.pending_covers(layers, tile) {
            shared.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let store = self.clone();
        let key = layers.to_string();
        let found = tokio::task::spawn_blocking(move || {
            let conn = store.reader().ok()?;
            let row = conn
                .query_row(
                    &format!(
                        "SELECT {TILE_COLUMNS} FROM tiles
                         WHERE layers = ?1 AND z = ?2 AND x = ?3 AND y = ?4"
                    ),
                    params![key, tile.z, tile.x, tile.y],
                    stored_tile,
                )
                .optional();
            store.give_back(conn);
            found_or_log(row)
        })
        .await
        .ok()
        .flatten();
        // A drop queued while reading: the row may have been read before it was deleted.
        let found = found.filter(|_| !shared.pending_covers(layers, tile));
        match &found {
            Some(_) => {
                shared.hits.fetch_add(1, Ordering::Relaxed);
                let mut q = shared.lock_queue();
                if q.data.len() < shared.capacity {
                    q.data
                        .push_back(Data::Touch(layers.to_string(), tile, now_ms()));
                }
            }
            None => {
                shared.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        found
    }

    /// Queues a rendered tile for storing; `generation`: the change generation its render
    /// started at. Not stored when the queue is full or a drop came after that generation.
    pub fn put(&self, layers: &str, tile: TileCoord, rendered: &RenderedTile, generation: u64) {
        let shared = &self.inner.shared;
        let mut q = shared.lock_queue();
        if q.data.len() >= shared.capacity {
            drop(q);
            shared.discarded.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.data.push_back(Data::Put(Box::new(Put {
            layers: layers.to_string(),
            tile,
            rendered: rendered.clone(),
            generation,
        })));
        drop(q);
        shared.ready.notify_one();
    }

    /// Drops the stored tiles of `layers` (all layers: `None`) whose buffered bounds meet
    /// `area` (all tiles: `None`) — at once for readers, on disk by the writer. `generation`:
    /// the change generation after the change; `record`: the table's change count to record
    /// once dropped.
    pub fn drop_tiles(
        &self,
        layers: Option<Vec<Arc<str>>>,
        area: Option<Bounds>,
        generation: u64,
        record: Option<(String, i64)>,
    ) {
        let shared = &self.inner.shared;
        let drop = Dropping {
            id: shared.next_drop.fetch_add(1, Ordering::Relaxed),
            layers,
            area,
        };
        {
            let mut pending = shared.lock_pending();
            pending.push(drop.clone());
            shared.pending_n.store(pending.len(), Ordering::Release);
        }
        shared.control(Control::Drop {
            drop,
            generation,
            record,
        });
    }

    /// Tiles rendered before `generation` are not stored.
    pub fn barrier(&self, generation: u64) {
        self.inner.shared.control(Control::Barrier(generation));
    }

    /// Replaces what the store records it is current with.
    pub fn record(&self, recorded: Recorded) {
        self.inner.shared.control(Control::Record(recorded));
    }

    /// Keeps `value` under `key` in the store's notes (read by [`TileStore::note`], from any
    /// process).
    pub fn set_note(&self, key: &str, value: &str) {
        self.inner
            .shared
            .control(Control::Note(key.to_string(), value.to_string()));
    }

    /// The note kept under `key`, if any.
    pub async fn note(&self, key: &str) -> Result<Option<String>, StoreError> {
        let store = self.clone();
        let key = format!("note:{key}");
        tokio::task::spawn_blocking(move || {
            let conn = store.reader()?;
            let out = conn
                .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                    r.get::<_, String>(0)
                })
                .optional();
            store.give_back(conn);
            Ok(out?)
        })
        .await
        .map_err(|_| StoreError::Stopped)?
    }

    /// Takes up to `n` of the tiles that changes dropped (layer list, tile), oldest first.
    pub fn take_dropped(&self, n: usize) -> Vec<(String, TileCoord)> {
        let mut redo = self
            .inner
            .shared
            .redo
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let n = n.min(redo.len());
        redo.drain(..n).collect()
    }

    /// Dropped tiles waiting to be rendered again.
    pub fn dropped_waiting(&self) -> usize {
        self.inner
            .shared
            .redo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Resolves once dropped tiles were listed since the last call (or ever, the first time).
    pub async fn dropped_ready(&self) {
        self.inner.shared.redo_ready.notified().await;
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.shared.control(Control::Flush(tx));
        rx.await.map_err(|_| StoreError::Stopped)
    }

    /// What the store records it is current with.
    pub async fn recorded(&self) -> Result<Recorded, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = store.reader()?;
            let out = read_recorded(&conn);
            store.give_back(conn);
            Ok(out?)
        })
        .await
        .map_err(|_| StoreError::Stopped)?
    }

    /// Tiles and bytes per layer list and zoom.
    pub async fn status(&self) -> Result<Vec<ZoomStatus>, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = store.reader()?;
            let out = (|| {
                let mut stmt = conn.prepare(
                    "SELECT layers, z, count(*), sum(bytes) FROM tiles GROUP BY layers, z
                     ORDER BY layers, z",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok(ZoomStatus {
                        layers: r.get(0)?,
                        z: u8::try_from(r.get::<_, i64>(1)?).unwrap_or(u8::MAX),
                        tiles: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        bytes: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                    })
                })?;
                rows.collect::<Result<Vec<_>, _>>()
            })();
            store.give_back(conn);
            Ok(out?)
        })
        .await
        .map_err(|_| StoreError::Stopped)?
    }

    /// Whether a tile is stored now (read from disk, ignoring pending drops; for tests and
    /// `bando tiles status`).
    pub async fn contains(&self, layers: &str, tile: TileCoord) -> Result<bool, StoreError> {
        let store = self.clone();
        let key = layers.to_string();
        tokio::task::spawn_blocking(move || {
            let conn = store.reader()?;
            let out = conn
                .query_row(
                    "SELECT 1 FROM tiles WHERE layers = ?1 AND z = ?2 AND x = ?3 AND y = ?4",
                    params![key, tile.z, tile.x, tile.y],
                    |_| Ok(()),
                )
                .optional();
            store.give_back(conn);
            Ok(out?.is_some())
        })
        .await
        .map_err(|_| StoreError::Stopped)?
    }

    /// The stored tiles, most recently used first, until `max_bytes` of them (gzip and brotli)
    /// are read: what a restarted server puts back in its memory cache
    /// ([`crate::TileService::warm_from_store`]). Tiles a queued drop covers are left out.
    pub async fn most_used(
        &self,
        max_bytes: u64,
    ) -> Result<Vec<(String, TileCoord, RenderedTile)>, StoreError> {
        let store = self.clone();
        let out = tokio::task::spawn_blocking(move || {
            let conn = store.reader()?;
            let read = (|| {
                // The order first, without the tiles' bytes (a sort of the whole store's
                // blobs would spill to disk), then each tile by its row.
                let mut order =
                    conn.prepare("SELECT rowid, bytes FROM tiles ORDER BY used DESC, z")?;
                let mut rows = order.query([])?;
                let (mut picked, mut bytes) = (Vec::new(), 0u64);
                while let Some(r) = rows.next()? {
                    let size = to_u64(r.get(1)?);
                    if bytes + size > max_bytes {
                        break;
                    }
                    bytes += size;
                    picked.push(r.get::<_, i64>(0)?);
                }
                let mut one = conn.prepare(&format!(
                    "SELECT layers, z, x, y, {TILE_COLUMNS} FROM tiles WHERE rowid = ?1"
                ))?;
                let mut out = Vec::with_capacity(picked.len());
                for rowid in picked {
                    let found = one
                        .query_row([rowid], |r| {
                            let tile = TileCoord {
                                z: r.get(1)?,
                                x: r.get(2)?,
                                y: r.get(3)?,
                            };
                            // The tile's columns follow the four of its address.
                            Ok((r.get::<_, String>(0)?, tile, stored_tile_at(r, 4)?))
                        })
                        .optional()?;
                    // A row evicted since the first query is simply not put back.
                    out.extend(found);
                }
                Ok::<_, rusqlite::Error>(out)
            })();
            store.give_back(conn);
            Ok::<_, StoreError>(read?)
        })
        .await
        .map_err(|_| StoreError::Stopped)??;
        let shared = &self.inner.shared;
        Ok(out
            .into_iter()
            .filter(|(layers, tile, _)| !shared.pending_covers(layers, *tile))
            .collect())
    }

    /// Counters since the store was opened, and its size now.
    pub fn counters(&self) -> StoreCounters {
        let s = &self.inner.shared;
        StoreCounters {
            hits: s.hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            written: s.written.load(Ordering::Relaxed),
            discarded: s.discarded.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            evicted: s.evicted.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
        }
    }
}

/// The columns [`stored_tile`] reads, in its order.
const TILE_COLUMNS: &str = "gzip, br, features, etag, tile_limit, lsn";

/// A stored tile from a row of [`TILE_COLUMNS`].
fn stored_tile(r: &rusqlite::Row<'_>) -> Result<RenderedTile, rusqlite::Error> {
    stored_tile_at(r, 0)
}

/// A stored tile from a row whose [`TILE_COLUMNS`] start at column `at`.
fn stored_tile_at(r: &rusqlite::Row<'_>, at: usize) -> Result<RenderedTile, rusqlite::Error> {
    let limit = limit_name(r.get::<_, Option<String>>(at + 4)?.as_deref());
    Ok(RenderedTile {
        gzip: Bytes::from(r.get::<_, Vec<u8>>(at)?),
        br: crate::Brotli::ready(Bytes::from(r.get::<_, Vec<u8>>(at + 1)?)),
        features: r.get(at + 2)?,
        etag: to_u64(r.get(at + 3)?),
        truncated: limit.is_some(),
        limit,
        lsn: to_u64(r.get(at + 5)?),
    })
}

fn found_or_log(row: Result<Option<RenderedTile>, rusqlite::Error>) -> Option<RenderedTile> {
    match row {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(%e, "tile store read failed; rendering instead");
            None
        }
    }
}

fn read_recorded(conn: &Connection) -> Result<Recorded, rusqlite::Error> {
    let database = conn
        .query_row("SELECT value FROM meta WHERE key = 'database'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?;
    let mut changes = HashMap::new();
    let mut stmt = conn.prepare("SELECT table_name, changes FROM table_changes")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (t, c) = row?;
        changes.insert(t, c);
    }
    let mut layer_sql = HashMap::new();
    let mut stmt = conn.prepare("SELECT layer, hash FROM layer_sql")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (l, h) = row?;
        layer_sql.insert(l, h);
    }
    Ok(Recorded {
        database,
        changes,
        layer_sql,
    })
}

struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    /// Zooms stored per layer list.
    known: HashMap<String, BTreeSet<u8>>,
    /// Generation of the last drop or barrier applied.
    last_drop: u64,
    max_bytes: u64,
}

impl Writer {
    fn run(mut self) {
        loop {
            let (control, data, closed) = {
                let mut q = self.shared.lock_queue();
                while q.control.is_empty() && q.data.is_empty() && !q.closed {
                    q = self.shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
                }
                (
                    std::mem::take(&mut q.control),
                    std::mem::take(&mut q.data),
                    q.closed,
                )
            };
            if let Err(e) = self.batch(control, data) {
                tracing::error!(%e, "tile store write failed");
            }
            // Closed only when the last handle is gone: nothing is queued after that.
            if closed {
                return;
            }
        }
    }

    fn batch(
        &mut self,
        control: VecDeque<Control>,
        data: VecDeque<Data>,
    ) -> Result<(), rusqlite::Error> {
        let mut flushes = Vec::new();
        let mut applied = Vec::new();
        let tx = self.conn.transaction()?;
        let mut dropped = 0u64;
        let mut freed = 0i64;
        let mut redo = Vec::new();
        for c in control {
            match c {
                Control::Drop {
                    drop,
                    generation,
                    record,
                } => {
                    self.last_drop = self.last_drop.max(generation);
                    let (n, b) = apply_drop(&tx, &self.known, &drop, &mut redo)?;
                    dropped += n;
                    freed += b;
                    if let Some((table, changes)) = record {
                        tx.execute(
                            "INSERT INTO table_changes (table_name, changes) VALUES (?1, ?2)
                             ON CONFLICT (table_name) DO UPDATE
                             SET changes = max(changes, excluded.changes)",
                            params![table, changes],
                        )?;
                    }
                    applied.push(drop.id);
                }
                Control::Barrier(generation) => {
                    self.last_drop = self.last_drop.max(generation);
                }
                Control::Record(r) => {
                    tx.execute("DELETE FROM table_changes", [])?;
                    tx.execute("DELETE FROM layer_sql", [])?;
                    for (t, c) in &r.changes {
                        tx.execute(
                            "INSERT INTO table_changes (table_name, changes) VALUES (?1, ?2)",
                            params![t, c],
                        )?;
                    }
                    for (l, h) in &r.layer_sql {
                        tx.execute(
                            "INSERT INTO layer_sql (layer, hash) VALUES (?1, ?2)",
                            params![l, h],
                        )?;
                    }
                    if let Some(db) = &r.database {
                        tx.execute(
                            "INSERT INTO meta (key, value) VALUES ('database', ?1)
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            params![db],
                        )?;
                    }
                }
                Control::Note(key, value) => {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        params![format!("note:{key}"), value],
                    )?;
                }
                Control::Flush(done) => flushes.push(done),
            }
        }
        let mut written = 0u64;
        let mut discarded = 0u64;
        let mut added = 0i64;
        for d in data {
            match d {
                Data::Put(p) if p.generation < self.last_drop => discarded += 1,
                Data::Put(p) => {
                    let t = &p.rendered;
                    // Stored tiles are whole: brotli is made here, off the request path (and
                    // kept in the memory cache's copy too, which shares it).
                    let Ok(br) = t.brotli() else {
                        discarded += 1;
                        continue;
                    };
                    let bytes = i64::try_from(t.gzip.len() + br.len() + 64).unwrap_or(i64::MAX);
                    let old: Option<i64> = tx
                        .query_row(
                            "SELECT bytes FROM tiles WHERE layers = ?1 AND z = ?2 AND x = ?3
                             AND y = ?4",
                            params![p.layers, p.tile.z, p.tile.x, p.tile.y],
                            |r| r.get(0),
                        )
                        .optional()?;
                    tx.execute(
                        "INSERT OR REPLACE INTO tiles
                         (layers, z, x, y, gzip, br, features, etag, tile_limit, lsn, bytes, used)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        params![
                            p.layers,
                            p.tile.z,
                            p.tile.x,
                            p.tile.y,
                            &t.gzip[..],
                            &br[..],
                            t.features,
                            to_i64(t.etag),
                            t.limit,
                            to_i64(t.lsn),
                            bytes,
                            now_ms()
                        ],
                    )?;
                    added += bytes - old.unwrap_or(0);
                    self.known
                        .entry(p.layers.clone())
                        .or_default()
                        .insert(p.tile.z);
                    written += 1;
                }
                Data::Touch(layers, tile, at) => {
                    tx.execute(
                        "UPDATE tiles SET used = ?5 WHERE layers = ?1 AND z = ?2 AND x = ?3
                         AND y = ?4",
                        params![layers, tile.z, tile.x, tile.y, at],
                    )?;
                }
            }
        }
        tx.commit()?;
        let s = self.shared.clone();
        let now = i64::try_from(s.bytes.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let mut total = (now - freed + added).max(0);
        s.dropped.fetch_add(dropped, Ordering::Relaxed);
        s.written.fetch_add(written, Ordering::Relaxed);
        s.discarded.fetch_add(discarded, Ordering::Relaxed);
        if self.max_bytes > 0 && u64::try_from(total).unwrap_or(0) > self.max_bytes {
            total -= self.evict(total)?;
        }
        s.bytes
            .store(u64::try_from(total).unwrap_or(0), Ordering::Relaxed);
        if !applied.is_empty() {
            let mut pending = s.lock_pending();
            pending.retain(|d| !applied.contains(&d.id));
            s.pending_n.store(pending.len(), Ordering::Release);
        }
        // Listed once gone from disk and from the pending drops, so a re-render finds them
        // missing.
        if !redo.is_empty() {
            let mut list = s.redo.lock().unwrap_or_else(|p| p.into_inner());
            let room = REDO_MAX.saturating_sub(list.len());
            list.extend(redo.into_iter().take(room));
            drop(list);
            s.redo_ready.notify_one();
        }
        for f in flushes {
            let _ = f.send(());
        }
        Ok(())
    }

    /// Evicts the highest zooms first, least recently used first, down to 90 % of the
    /// budget; the bytes freed.
    fn evict(&mut self, total: i64) -> Result<i64, rusqlite::Error> {
        let target = i64::try_from(self.max_bytes / 10 * 9).unwrap_or(i64::MAX);
        let mut freed = 0i64;
        let tx = self.conn.transaction()?;
        let mut evicted = 0u64;
        while total - freed > target {
            let victims: Vec<(String, i64, i64, i64, i64)> = {
                let mut stmt = tx.prepare(
                    "SELECT layers, z, x, y, bytes FROM tiles ORDER BY z DESC, used LIMIT 256",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            if victims.is_empty() {
                break;
            }
            for (layers, z, x, y, bytes) in victims {
                if total - freed <= target {
                    break;
                }
                tx.execute(
                    "DELETE FROM tiles WHERE layers = ?1 AND z = ?2 AND x = ?3 AND y = ?4",
                    params![layers, z, x, y],
                )?;
                freed += bytes;
                evicted += 1;
            }
        }
        tx.commit()?;
        self.shared.evicted.fetch_add(evicted, Ordering::Relaxed);
        Ok(freed)
    }
}

/// Deletes the tiles a drop covers; (tiles, bytes) deleted. The tiles of an area drop are
/// added to `redo` (a whole layer's are not: its seeding walks it again).
fn apply_drop(
    tx: &rusqlite::Transaction<'_>,
    known: &HashMap<String, BTreeSet<u8>>,
    drop: &Dropping,
    redo: &mut Vec<(String, TileCoord)>,
) -> Result<(u64, i64), rusqlite::Error> {
    let mut n = 0u64;
    let mut bytes = 0i64;
    for (layers, zooms) in known {
        let hit = match &drop.layers {
            None => true,
            Some(ids) => layers.split(',').any(|id| ids.iter().any(|l| &**l == id)),
        };
        if !hit {
            continue;
        }
        let Some(area) = &drop.area else {
            bytes += tx.query_row(
                "SELECT coalesce(sum(bytes), 0) FROM tiles WHERE layers = ?1",
                params![layers],
                |r| r.get::<_, i64>(0),
            )?;
            n += u64::try_from(tx.execute("DELETE FROM tiles WHERE layers = ?1", params![layers])?)
                .unwrap_or(0);
            continue;
        };
        for &z in zooms {
            let Some((x0, x1, y0, y1)) = candidate_range(z, area) else {
                continue;
            };
            let found: Vec<(i64, i64, i64)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT x, y, bytes FROM tiles WHERE layers = ?1 AND z = ?2
                     AND x BETWEEN ?3 AND ?4 AND y BETWEEN ?5 AND ?6",
                )?;
                let rows = stmt.query_map(params![layers, z, x0, x1, y0, y1], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            for (x, y, b) in found {
                let (Ok(xu), Ok(yu)) = (u32::try_from(x), u32::try_from(y)) else {
                    continue;
                };
                let Ok(tile) = TileCoord::new(z, xu, yu) else {
                    continue;
                };
                if meets(tile, area) {
                    tx.execute(
                        "DELETE FROM tiles WHERE layers = ?1 AND z = ?2 AND x = ?3 AND y = ?4",
                        params![layers, z, x, y],
                    )?;
                    n += 1;
                    bytes += b;
                    if redo.len() < REDO_MAX {
                        redo.push((layers.clone(), tile));
                    }
                }
            }
        }
    }
    Ok((n, bytes))
}

/// Columns and rows of zoom `z` that may meet `area` once buffered (one tile of slack each
/// side; [`meets`] decides exactly).
fn candidate_range(z: u8, area: &Bounds) -> Option<(i64, i64, i64, i64)> {
    let n = 2f64.powi(i32::from(z));
    let h = EARTH_HALF_CIRCUMFERENCE;
    let size = 2.0 * h / n;
    let last = n - 1.0;
    let col = |v: f64| ((v + h) / size).floor().clamp(0.0, last);
    let row = |v: f64| ((h - v) / size).floor().clamp(0.0, last);
    if !(area.min_x.is_finite()
        && area.max_x.is_finite()
        && area.min_y.is_finite()
        && area.max_y.is_finite())
    {
        return Some((0, n as i64 - 1, 0, n as i64 - 1));
    }
    let x0 = (col(area.min_x) - 1.0).max(0.0);
    let x1 = (col(area.max_x) + 1.0).min(last);
    let y0 = (row(area.max_y) - 1.0).max(0.0);
    let y1 = (row(area.min_y) + 1.0).min(last);
    Some((x0 as i64, x1 as i64, y0 as i64, y1 as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(bytes: usize, etag: u64) -> RenderedTile {
        RenderedTile {
            gzip: Bytes::from(vec![1u8; bytes]),
            br: crate::Brotli::ready(Bytes::from(vec![2u8; bytes])),
            features: 1,
            etag,
            truncated: false,
            limit: None,
            lsn: 7,
        }
    }

    async fn open(dir: &Path, max_bytes: u64) -> TileStore {
        TileStore::open(StoreSettings {
            path: dir.join("store.sqlite"),
            max_bytes,
            queue: 64,
            readers: 2,
        })
        .await
        .expect("open")
    }

    #[tokio::test]
    async fn a_tile_rendered_before_a_drop_is_not_stored_and_a_pending_drop_hides_its_tiles() {
        let dir = tempfile::tempdir().expect("dir");
        let store = open(dir.path(), 0).await;
        let t = TileCoord::new(14, 13_056, 7_672).expect("tile");
        let far = TileCoord::new(14, 100, 100).expect("tile");
        store.put("communes", t, &tile(100, 1), 3);
        store.put("communes", far, &tile(100, 2), 3);
        store.flush().await.expect("flush");
        let got = store.get("communes", t).await.expect("stored");
        assert_eq!((got.etag, got.lsn, got.gzip.len()), (1, 7, 100));
        // A change over t at generation 5: t is gone, far stays; a tile rendered at
        // generation 4 (before the change) is not kept, one rendered at 5 is.
        let area = t.mercator_bounds();
        store.drop_tiles(
            Some(vec![Arc::from("parcels"), Arc::from("communes")]),
            Some(area),
            5,
            Some(("land.communes".into(), 9)),
        );
        assert!(store.get("communes", t).await.is_none(), "pending drop");
        store.flush().await.expect("flush");
        assert!(!store.contains("communes", t).await.expect("read"));
        assert!(store.contains("communes", far).await.expect("read"));
        // The dropped tile, and only it, is listed for the seeder.
        assert_eq!(store.take_dropped(10), vec![("communes".to_string(), t)]);
        assert!(store.take_dropped(10).is_empty());
        store.put("communes", t, &tile(100, 3), 4);
        store.flush().await.expect("flush");
        assert!(
            !store.contains("communes", t).await.expect("read"),
            "stale render kept"
        );
        store.put("communes", t, &tile(100, 4), 5);
        store.flush().await.expect("flush");
        assert_eq!(store.get("communes", t).await.expect("stored").etag, 4);
        let recorded = store.recorded().await.expect("recorded");
        assert_eq!(recorded.changes.get("land.communes"), Some(&9));
        // A composite holding a dropped layer goes with it.
        store.put("communes,parcels", far, &tile(10, 5), 5);
        store.flush().await.expect("flush");
        store.drop_tiles(Some(vec![Arc::from("parcels")]), None, 6, None);
        store.flush().await.expect("flush");
        assert!(!store.contains("communes,parcels", far).await.expect("read"));
        assert!(store.contains("communes", far).await.expect("read"));
        // A whole layer's drop is not listed (the seeder walks the layer again).
        assert!(store.take_dropped(10).is_empty());
    }

    #[tokio::test]
    async fn over_its_budget_the_store_evicts_the_highest_zooms_least_recently_used_first() {
        let dir = tempfile::tempdir().expect("dir");
        // Each tile weighs 2 × 1000 + 64 bytes; the budget holds four.
        let store = open(dir.path(), 4 * 2064 + 100).await;
        let z10 = TileCoord::new(10, 800, 480).expect("tile");
        let z12a = TileCoord::new(12, 3200, 1920).expect("tile");
        let z12b = TileCoord::new(12, 3201, 1920).expect("tile");
        let z14 = TileCoord::new(14, 12_800, 7_680).expect("tile");
        for (t, etag) in [(z10, 1), (z12a, 2), (z12b, 3)] {
            store.put("communes", t, &tile(1000, etag), 0);
            store.flush().await.expect("flush");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // z12a is used again: z12b is now the least recently used of z12.
        assert!(store.get("communes", z12a).await.is_some());
        store.flush().await.expect("flush");
        store.put("communes", z14, &tile(1000, 4), 0);
        store.flush().await.expect("flush");
        assert_eq!(store.counters().evicted, 0, "four fit");
        assert_eq!(store.counters().bytes, 4 * 2064);
        // A fifth: over the budget, down to 90 % of it: the z14 tile and the older z12 go.
        let z11 = TileCoord::new(11, 1600, 960).expect("tile");
        store.put("communes", z11, &tile(1000, 5), 0);
        store.flush().await.expect("flush");
        let kept = [
            store.contains("communes", z10).await.expect("read"),
            store.contains("communes", z11).await.expect("read"),
            store.contains("communes", z12a).await.expect("read"),
            store.contains("communes", z12b).await.expect("read"),
            store.contains("communes", z14).await.expect("read"),
        ];
        assert_eq!(kept, [true, true, true, false, false]);
        assert_eq!(store.counters().evicted, 2);
        assert_eq!(store.counters().bytes, 3 * 2064);
        let status = store.status().await.expect("status");
        assert_eq!(status.iter().map(|s| s.tiles).sum::<u64>(), 3);
        // Reopened, it knows its size.
        drop(store);
        let again = open(dir.path(), 4 * 2064 + 100).await;
        assert_eq!(again.counters().bytes, 3 * 2064);
    }

    #[test]
    fn candidate_ranges_hold_every_tile_the_rule_drops() {
        let area = Bounds {
            min_x: 11_900_000.0,
            min_y: 1_300_000.0,
            max_x: 11_900_500.0,
            max_y: 1_300_400.0,
        };
        for z in [0u8, 5, 10, 14, 16] {
            let (x0, x1, y0, y1) = candidate_range(z, &area).expect("range");
            let n = 1u32 << z;
            // Every tile around the range that the rule drops lies inside it.
            let (lo_x, hi_x) = ((x0 - 3).max(0), (x1 + 3).min(i64::from(n) - 1));
            let (lo_y, hi_y) = ((y0 - 3).max(0), (y1 + 3).min(i64::from(n) - 1));
            for x in lo_x..=hi_x {
                for y in lo_y..=hi_y {
                    let t = TileCoord::new(z, x as u32, y as u32).expect("tile");
                    if meets(t, &area) {
                        assert!(x0 <= x && x <= x1 && y0 <= y && y <= y1, "z{z} {x}/{y}");
                    }
                }
            }
        }
    }
}
