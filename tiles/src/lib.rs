//! # tiles — vector tiles without HTTP
//!
//! The central type is [`TileService`]: it renders a layer's tile through PostGIS
//! ([`gis_core::mvt`]), keeps it in an in-memory cache with a byte budget, and drops cached
//! tiles at row level from the feature tables' change notifications. The layers it serves are
//! the [`live::LiveLayers`] of the running server, rebuilt from [`layers::added`] when a
//! definition changes. [`export`] renders an area through the same service into offline packs
//! (MBTiles, PMTiles); [`tilejson`] describes a layer's fields for TileJSON and those packs.
//! Behind the memory cache, an instance may keep a persistent tile store on local disk
//! ([`store`], [`TileService::open_store`]): public tiles of seedable layers, read on a memory
//! miss, dropped per area with the memory cache, checked at start against the database's
//! per-table change counts, and filled ahead of requests by [`TileService::seed`] (the
//! `bando tiles seed` command) or, in a server, by its background [`seeder`]
//! ([`TileService::spawn_seeder`]): after every import, at start, and for dropped tiles; a
//! restarted server puts its most used stored tiles back in memory before serving
//! ([`TileService::warm_from_store`]). Past a layer's highest zoom a tile is cut from its tile
//! at that zoom, never rendered ([`overzoom`]); a composite is made in one order of its layers.
//! HTTP (content negotiation, ETag checks, `Cache-Control`) belongs to `tile-server`'s
//! `routes/tiles.rs`; this crate knows no HTTP framework.
//!
//! A cached tile is kept gzip-compressed with its ETag; its brotli bytes are made from them the
//! first time a reader asks for brotli and then kept with it ([`Brotli`]); plain bytes are
//! produced only for the rare client that accepts neither. Every bando instance listens on
//! `bando_layer_changes`: a notification names a table and the Web Mercator box its changed rows
//! (old and new geometry) covered, and every cached tile of a layer over that table whose
//! buffered bounds meet the box is dropped — at every zoom, in every instance.
//!
//! Scale-out on streaming replicas: tiles may be rendered from a replica while the change
//! listener, the layer catalog and the WAL position of changes are the primary's
//! ([`TileService::with_primary`]). Each render first reads where its server is
//! ([`gis_core::db::lsn::position`]; the tile's [`RenderedTile::lsn`]). On a notification the
//! listener reads the primary's position (at or past the notifying commit, since a
//! notification is delivered after its commit) and raises the service's required position
//! before dropping tiles. A render from a server behind the required position waits for it
//! (at most [`TileSettings::replica_wait`]); if still behind, the tile is served but not
//! cached, so a lagging replica never leaves a stale tile in the cache. A request that must
//! read its own write ([`gis_core::db::lsn::min_lsn`]) takes no cached tile older than it.
#![deny(missing_docs)]

pub mod export;
pub mod live;
pub mod overzoom;
pub mod seeder;
pub mod store;
pub mod tilejson;

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use gis_core::layer::{Access, Layer, Readers, Viewer};
use gis_core::mvt::{tile_sql, tile_sql_as_of, BUFFER, EXTENT};
use gis_core::tile::{Bounds, TileCoord};
use moka::future::Cache;
use sqlx::PgPool;

/// Cache key: one layer's tile for one access class.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// Layer id.
    pub layer: Arc<str>,
    /// Tile.
    pub tile: TileCoord,
    /// Access class of the reader.
    pub access: Access,
}

/// A rendered tile of one layer.
#[derive(Debug, Clone)]
pub struct RenderedTile {
    /// gzip-compressed MVT (empty when the tile has no features).
    pub gzip: Bytes,
    /// brotli-compressed MVT, made when first asked for ([`RenderedTile::brotli`]).
    pub br: Brotli,
    /// Features in the tile.
    pub features: i64,
    /// FNV-1a hash of the compressed bytes (the ETag).
    pub etag: u64,
    /// The feature limit was reached.
    pub truncated: bool,
    /// Which limit the tile hit, if any: `"bytes"` (drawn again coarser, see
    /// [`TileSettings::max_bytes`]) or `"features"`; sent as `x-bando-tile-limit`.
    pub limit: Option<&'static str>,
    /// The WAL position its data includes (the rendering server's position before the render;
    /// a composite: the lowest of its layers'). 0: nothing to compare (empty below min zoom).
    pub lsn: u64,
}

/// A tile's brotli bytes, made from its gzip bytes by the first request that asks for brotli
/// and then shared by every clone of the tile (the cache's, the store writer's).
///
/// Why not at render time, as before: a tile rendered for a gzip-only reader (QGIS, GDAL,
/// mobile HTTP stacks, exports, the parts of a composite) paid ~1.6 ms of brotli at z14 and a
/// fixed set-up cost on small tiles that nobody read; a browser's first request now pays it
/// instead, once, and a warm hit is still a copy of kept bytes.
#[derive(Debug, Clone, Default)]
pub struct Brotli(Arc<OnceLock<Bytes>>);

impl Brotli {
    /// Bytes already made (read back from the tile store).
    pub fn ready(bytes: Bytes) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(bytes);
        Brotli(Arc::new(cell))
    }

    /// The bytes, if they were made.
    pub fn get(&self) -> Option<&Bytes> {
        self.0.get()
    }
}

impl RenderedTile {
    /// The brotli bytes (empty for an empty tile), made from the gzip bytes and kept on the
    /// first call. Two concurrent first calls may both compress; one result is kept.
    pub fn brotli(&self) -> Result<Bytes, std::io::Error> {
        if let Some(b) = self.br.get() {
            return Ok(b.clone());
        }
        let made = if self.gzip.is_empty() {
            Bytes::new()
        } else {
            brotli(&gunzip(&self.gzip)?)?
        };
        Ok(self.br.0.get_or_init(|| made).clone())
    }

    /// Bytes the tile holds or will hold once brotli is asked for (its brotli bytes are about
    /// 0.85× the gzip ones; counted as 1× until they exist).
    pub fn weight(&self) -> usize {
        self.gzip.len() + self.br.get().map_or(self.gzip.len(), Bytes::len)
    }
}

/// Errors of tile rendering.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// The database failed.
    #[error("rendering the tile failed: {0}")]
    Db(#[from] sqlx::Error),
    /// Compression failed (out of memory).
    #[error("compressing the tile failed: {0}")]
    Compress(#[from] std::io::Error),
    /// A tile as of an instant of a layer that keeps no history.
    #[error("layer {0} keeps no history: its tiles have no datetime")]
    NoHistory(String),
    /// The tile at a layer's highest zoom could not be read to make a deeper one.
    #[error(transparent)]
    Overzoom(#[from] overzoom::Malformed),
}

/// Renders and caches tiles.
#[derive(Clone)]
pub struct TileService {
    pool: PgPool,
    /// Pools of the read targets ([`gis_core::db::route`]): a request reading from target `i`
    /// renders on `read_pools[i]`; empty, or outside a request, `pool`.
    read_pools: Arc<[PgPool]>,
    /// The primary: change listener, layer registry and catalog, positions of changes.
    primary: PgPool,
    /// Highest primary WAL position known from change notifications: a render from a server
    /// behind it may miss a change and is not cached.
    required_lsn: Arc<AtomicU64>,
    /// How long a render waits for its server to reach the required position.
    replica_wait: Duration,
    layers: Arc<crate::live::LiveLayers>,
    cache: Option<Cache<TileKey, RenderedTile>>,
    max_features: u32,
    max_bytes: usize,
    /// Incremented when an invalidation starts: a render that sees it move is not cached.
    generation: Arc<AtomicU64>,
    /// Incremented when an invalidation is in force (after the cache registered it), so a
    /// waiter on [`TileService::generation`] never fetches in between.
    applied: Arc<AtomicU64>,
    /// A change listener runs, so [`TileService::generation`] moves with every change.
    listening: Arc<std::sync::atomic::AtomicBool>,
    /// Layer tiles rendered from the database (not answered from the cache) since start.
    renders: Arc<AtomicU64>,
    /// Tiles beyond a layer's highest zoom made from their ancestor ([`overzoom`]) since start.
    overzoomed: Arc<AtomicU64>,
    /// The persistent tile store, once opened ([`TileService::open_store`]).
    store: Arc<std::sync::OnceLock<store::TileStore>>,
    /// The store's background seeder, once started ([`TileService::spawn_seeder`]).
    seeder: Arc<std::sync::OnceLock<Arc<seeder::Seeder>>>,
    /// Tile requests in flight: the seeder yields to them.
    live: Arc<AtomicUsize>,
}

impl std::fmt::Debug for TileService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileService")
            .field("cached", &self.cache.as_ref().map(|c| c.entry_count()))
            .finish()
    }
}

/// Tile settings.
#[derive(Debug, Clone, Copy)]
pub struct TileSettings {
    /// Cache budget in bytes; 0 disables the cache.
    pub cache_bytes: u64,
    /// Features per layer per tile.
    pub max_features: u32,
    /// Uncompressed bytes per layer per tile above which the tile is rendered again coarser
    /// (the layer's generalised form; see [`gis_core::mvt::tile_sql`]) and marked truncated.
    pub max_bytes: usize,
    /// How long a render waits for a replica behind the last notified change before drawing
    /// anyway, uncached.
    pub replica_wait: Duration,
}

impl Default for TileSettings {
    fn default() -> Self {
        TileSettings {
            cache_bytes: 256 << 20,
            max_features: 20_000,
            max_bytes: 2 << 20,
            replica_wait: Duration::from_secs(1),
        }
    }
}

impl TileService {
    /// A service over the registry's layers.
    pub fn new(pool: PgPool, layers: Arc<crate::live::LiveLayers>, settings: TileSettings) -> Self {
        let cache = (settings.cache_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(settings.cache_bytes)
                .weigher(|k: &TileKey, v: &RenderedTile| {
                    (v.weight() + k.layer.len() + 64)
                        .try_into()
                        .unwrap_or(u32::MAX)
                })
                .support_invalidation_closures()
                .build()
        });
        TileService {
            primary: pool.clone(),
            pool,
            read_pools: Arc::from(Vec::new()),
            required_lsn: Arc::new(AtomicU64::new(0)),
            replica_wait: settings.replica_wait,
            layers,
            cache,
            max_features: settings.max_features,
            max_bytes: settings.max_bytes,
            generation: Arc::new(AtomicU64::new(0)),
            applied: Arc::new(AtomicU64::new(0)),
            listening: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            renders: Arc::new(AtomicU64::new(0)),
            overzoomed: Arc::new(AtomicU64::new(0)),
            store: Arc::new(std::sync::OnceLock::new()),
            seeder: Arc::new(std::sync::OnceLock::new()),
            live: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The same service with `primary` for the change listener, the layer registry and the
    /// positions of changes, while tiles render from the service's own pool (a replica's).
    pub fn with_primary(mut self, primary: PgPool) -> Self {
        self.primary = primary;
        self
    }

    /// The same service rendering on `pools[i]` for a request reading from target `i`
    /// ([`gis_core::db::route::read_target`]): several replicas and the primary behind them.
    pub fn with_read_pools(mut self, pools: Vec<PgPool>) -> Self {
        self.read_pools = Arc::from(pools);
        self
    }

    /// The pool a render of the current request uses.
    fn render_pool(&self) -> &PgPool {
        gis_core::db::route::read_target()
            .and_then(|i| self.read_pools.get(i))
            .unwrap_or(&self.pool)
    }

    /// One layer's tile, from the cache or rendered. `None` when the layer does not exist.
    pub async fn layer_tile(
        &self,
        layer_id: &str,
        tile: TileCoord,
        access: Access,
    ) -> Result<Option<RenderedTile>, Arc<TileError>> {
        let Some(layer) = self.layers.get(layer_id) else {
            return Ok(None);
        };
        let _live = seeder::Live::new(&self.live);
        let (min, max) = layer.zoom_range();
        if tile.z < min {
            return Ok(Some(empty_tile()));
        }
        // Planners' class differs from the public one only on layers with a row filter:
        // elsewhere they share the public tiles.
        let access = if access == Access::Internal && layer.row_filter().is_none() {
            Access::Public
        } else {
            access
        };
        let key = TileKey {
            layer: Arc::from(layer_id),
            tile,
            access,
        };
        // Beyond the layer's highest zoom a tile is made from its ancestor there ([`overzoom`]):
        // MapLibre stops asking at the TileJSON `maxzoom`, but other clients ask on, and a
        // client walking deep zooms must not cost a render per tile.
        if tile.z > max {
            return self.overzoomed_tile(key, max).await;
        }
        let Some(cache) = &self.cache else {
            // Without a memory cache (an export), the store still answers and keeps renders.
            let generation = self.generation.load(Ordering::Acquire);
            let store = self.store_for(layer.as_ref(), access);
            if let Some(store) = store {
                if let Some(t) = store.get(layer_id, tile).await {
                    if t.lsn >= gis_core::db::lsn::min_lsn()
                        && self.generation.load(Ordering::Acquire) == generation
                    {
                        return Ok(Some(t));
                    }
                }
            }
            let (t, fresh) = self
                .render_layer(layer.as_ref(), tile, access, None)
                .await
                .map_err(Arc::new)?;
            if let Some(store) = store {
                if fresh && self.generation.load(Ordering::Acquire) == generation {
                    store.put(layer_id, tile, &t, generation);
                }
            }
            return Ok(Some(t));
        };
        // A reader of its own write takes nothing older than that write.
        let min = gis_core::db::lsn::min_lsn();
        if let Some(hit) = cache.get(&key).await {
            if hit.lsn >= min {
                return Ok(Some(hit));
            }
        } else {
            let generation = self.generation.load(Ordering::Acquire);
            let behind = Arc::new(std::sync::atomic::AtomicBool::new(false));
            // Only public tiles of seedable layers for everyone go to the persistent store;
            // it is read only when the memory cache missed.
            let store = self.store_for(layer.as_ref(), access);
            let render = {
                let behind = behind.clone();
                let layer = layer.clone();
                async move {
                    if let Some(store) = store {
                        if let Some(t) = store.get(layer_id, tile).await {
                            if self.generation.load(Ordering::Acquire) == generation {
                                return Ok(t);
                            }
                        }
                    }
                    let (t, fresh) = self
                        .render_layer(layer.as_ref(), tile, access, None)
                        .await?;
                    behind.store(!fresh, Ordering::Release);
                    if let Some(store) = store {
                        if fresh && self.generation.load(Ordering::Acquire) == generation {
                            store.put(layer_id, tile, &t, generation);
                        }
                    }
                    Ok::<_, TileError>(t)
                }
            };
            // Concurrent misses of one tile (a crowd opening the same view) share one render:
            // moka runs one initialisation per key and the other requests wait for its result.
            let rendered = cache.try_get_with(key.clone(), render).await?;
            // A change notified while this tile was rendering may not be in what was read, and
            // a server behind the last notified change missed it: such a tile is served but not
            // kept. (A change notified after the insert drops it anyway.)
            if self.generation.load(Ordering::Acquire) != generation
                || behind.load(Ordering::Acquire)
            {
                cache.invalidate(&key).await;
            }
            if rendered.lsn >= min {
                return Ok(Some(rendered));
            }
        }
        // The cached tile predates this reader's write: draw it again and keep the newer one.
        let generation = self.generation.load(Ordering::Acquire);
        let (t, fresh) = self
            .render_layer(layer.as_ref(), tile, access, None)
            .await
            .map_err(Arc::new)?;
        if fresh && self.generation.load(Ordering::Acquire) == generation {
            cache.insert(key, t.clone()).await;
        }
        Ok(Some(t))
    }

    /// The tile of `key` beyond its layer's highest zoom `max`: its ancestor's tile at `max`
    /// (cached, or rendered and cached as any other) clipped and scaled, kept in the memory
    /// cache like a render (never in the persistent store, which holds seeded zooms only).
    async fn overzoomed_tile(
        &self,
        key: TileKey,
        max: u8,
    ) -> Result<Option<RenderedTile>, Arc<TileError>> {
        let min = gis_core::db::lsn::min_lsn();
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.get(&key).await {
                if hit.lsn >= min {
                    return Ok(Some(hit));
                }
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let from = overzoom::ancestor(key.tile, max);
        let Some(parent) = Box::pin(self.layer_tile(&key.layer, from, key.access)).await? else {
            return Ok(None);
        };
        let t = derive(&parent, from, key.tile).map_err(Arc::new)?;
        self.overzoomed.fetch_add(1, Ordering::Relaxed);
        // Kept when its ancestor would be (drawn from a server that was not behind), and not
        // across a change.
        let fresh = parent.lsn >= self.required_lsn.load(Ordering::Acquire);
        if let Some(cache) = &self.cache {
            if fresh && self.generation.load(Ordering::Acquire) == generation {
                cache.insert(key.clone(), t.clone()).await;
                if self.generation.load(Ordering::Acquire) != generation {
                    cache.invalidate(&key).await;
                }
            }
        }
        Ok(Some(t))
    }

    /// One layer's tile as it was at an instant (`at`: a date or an RFC 3339 timestamp the
    /// caller checked), for a time slider: rendered through the owner's as-of function
    /// ([`gis_core::mvt::tile_sql_as_of`]) and never cached — the past of every instant would
    /// fill the cache, and the instant need not be in the past. `None` when the layer does not
    /// exist; [`TileError::NoHistory`] when it keeps no history.
    pub async fn layer_tile_as_of(
        &self,
        layer_id: &str,
        tile: TileCoord,
        access: Access,
        at: &str,
    ) -> Result<Option<RenderedTile>, TileError> {
        let Some(layer) = self.layers.get(layer_id) else {
            return Ok(None);
        };
        if layer.as_of_function().is_none() {
            return Err(TileError::NoHistory(layer_id.to_string()));
        }
        let (min, max) = layer.zoom_range();
        if tile.z < min {
            return Ok(Some(empty_tile()));
        }
        if tile.z > max {
            let from = overzoom::ancestor(tile, max);
            let Some(parent) = Box::pin(self.layer_tile_as_of(layer_id, from, access, at)).await?
            else {
                return Ok(None);
            };
            return Ok(Some(derive(&parent, from, tile)?));
        }
        let access = if access == Access::Internal && layer.row_filter().is_none() {
            Access::Public
        } else {
            access
        };
        let (t, _) = self
            .render_layer(layer.as_ref(), tile, access, Some(at))
            .await?;
        Ok(Some(t))
    }

    /// The tile of `ids` together as they were at `at` ([`TileService::layer_tile_as_of`]
    /// per layer, concatenated as [`TileService::tile`] does), never cached.
    /// Each layer is drawn in the reader's class for it ([`Viewer::tile_access`]).
    pub async fn tile_as_of(
        &self,
        ids: &[String],
        tile: TileCoord,
        viewer: &Viewer,
        at: &str,
    ) -> Result<Option<RenderedTile>, TileError> {
        let classes = self.classes(ids, viewer);
        if let ([id], [access]) = (ids, classes.as_slice()) {
            return self.layer_tile_as_of(id, tile, *access, at).await;
        }
        let mut parts = Vec::with_capacity(ids.len());
        for (id, access) in ids.iter().zip(classes) {
            match self.layer_tile_as_of(id, tile, access, at).await? {
                Some(p) => parts.push(p),
                None => return Ok(None),
            }
        }
        Ok(Some(compose(&parts)?))
    }

    /// Renders one layer's tile (as of `at` when given); `false` when its server was behind
    /// the last notified change (not to be cached).
    async fn render_layer(
        &self,
        layer: &dyn Layer,
        tile: TileCoord,
        access: Access,
        at: Option<&str>,
    ) -> Result<(RenderedTile, bool), TileError> {
        let (mvt, features, limit, lsn) = self.render_mvt(layer, tile, access, at).await?;
        let gzip = encode(&mvt)?;
        let fresh = lsn >= self.required_lsn.load(Ordering::Acquire);
        Ok((
            RenderedTile {
                etag: fnv1a(&gzip),
                gzip,
                br: Brotli::default(),
                features,
                truncated: limit.is_some(),
                limit,
                lsn,
            },
            fresh,
        ))
    }

    /// Renders one layer's MVT: (bytes, features, limit hit, the server's WAL position before
    /// the render). A tile over the byte cap is rendered once more coarser (limit `"bytes"`);
    /// if even that is over, it is served as it is (a client gets a heavy tile rather than
    /// none) and logged.
    async fn render_mvt(
        &self,
        layer: &dyn Layer,
        tile: TileCoord,
        access: Access,
        at: Option<&str>,
    ) -> Result<(Vec<u8>, i64, Option<&'static str>, u64), TileError> {
        self.renders.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.render_pool().acquire().await?;
        // The position is read before the render's own statement, whose snapshot then holds
        // everything up to it. A server behind what must be read is given a moment to catch up.
        let needed = self
            .required_lsn
            .load(Ordering::Acquire)
            .max(gis_core::db::lsn::min_lsn());
        let deadline = std::time::Instant::now() + self.replica_wait;
        let lsn = loop {
            let at = gis_core::db::lsn::position(&mut conn).await?;
            if at >= needed || std::time::Instant::now() >= deadline {
                break at;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let mut coarse = false;
        loop {
            let sql = match at {
                None => tile_sql(layer, tile.z, access, self.max_features, coarse),
                Some(at) => tile_sql_as_of(
                    layer,
                    tile.z,
                    access,
                    self.max_features,
                    coarse,
                    at.len() == 10,
                )
                .ok_or_else(|| TileError::NoHistory(layer.id().to_string()))?,
            };
            let mut query = sqlx::query_as(&sql.sql)
                .bind(i32::from(tile.z))
                .bind(tile.x as i32)
                .bind(tile.y as i32);
            if let Some(at) = at {
                query = query.bind(at);
            }
            let (mvt, features): (Vec<u8>, i64) = query.fetch_one(&mut *conn).await?;
            if mvt.len() <= self.max_bytes || coarse {
                if mvt.len() > self.max_bytes {
                    tracing::warn!(
                        layer = layer.id(),
                        z = tile.z,
                        x = tile.x,
                        y = tile.y,
                        bytes = mvt.len(),
                        "tile over the byte cap even when coarse"
                    );
                }
                let limit = if coarse {
                    Some("bytes")
                } else {
                    (features >= i64::from(sql.max_features)).then_some("features")
                };
                return Ok((mvt, features, limit, lsn));
            }
            coarse = true;
        }
    }

    /// The tile of `ids` together — one layer, or a composite — from the cache or made. `None`
    /// when a layer does not exist.
    ///
    /// A composite is its layers' MVT messages concatenated (a tile is a repeated `layers`
    /// field), built from the layers' own (cached) tiles and cached itself under the
    /// comma-joined ids, so a warm composite is a copy of bytes like a single layer, not a
    /// decompression and two compressions per request. It is dropped with any of its layers.
    ///
    /// Each layer is drawn in the reader's class for it ([`Viewer::tile_access`]): a planner
    /// is an insider of the planning layers and not of the IOC's, an operator the other way
    /// round, so a composite's key names each part's class (`id@internal`), never one class
    /// for the whole.
    ///
    /// The order of `ids` changes nothing a client draws (a style orders layers by name, not
    /// by their place in the tile), so a composite is made, cached and stored in one order —
    /// its ids sorted, repeats dropped: every permutation of a list shares one entry and one
    /// ETag, and a client cannot fill the cache with the orderings of the same layers.
    pub async fn tile(
        &self,
        ids: &[String],
        tile: TileCoord,
        viewer: &Viewer,
    ) -> Result<Option<RenderedTile>, Arc<TileError>> {
        // Already in order (a single layer, a client's usual list): no copy on the warm path.
        let sorted: std::borrow::Cow<'_, [String]> = if ids.windows(2).all(|w| w[0] < w[1]) {
            std::borrow::Cow::Borrowed(ids)
        } else {
            let mut v = ids.to_vec();
            v.sort_unstable();
            v.dedup();
            std::borrow::Cow::Owned(v)
        };
        let ids = &*sorted;
        let classes = self.classes(ids, viewer);
        if let ([id], [access]) = (ids, classes.as_slice()) {
            return self.layer_tile(id, tile, *access).await;
        }
        let named: Vec<String> = ids
            .iter()
            .zip(&classes)
            .map(|(id, access)| match access {
                Access::Public => id.clone(),
                other => format!("{id}@{}", other.as_str()),
            })
            .collect();
        let key = TileKey {
            layer: Arc::from(named.join(",")),
            tile,
            access: classes.iter().copied().max().unwrap_or(Access::Public),
        };
        let min = gis_core::db::lsn::min_lsn();
        if let Some(hit) = match &self.cache {
            Some(cache) => cache.get(&key).await,
            None => None,
        } {
            if hit.lsn >= min {
                return Ok(Some(hit));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        // A composite of layers that are all stored (each in the reader's class) is stored too.
        let store = self.store.get().filter(|_| {
            ids.iter().zip(&classes).all(|(id, access)| {
                self.layers
                    .get(id)
                    .is_some_and(|l| self.store_for(l.as_ref(), *access).is_some())
            })
        });
        if let Some(store) = store {
            if let Some(t) = store.get(&key.layer, tile).await {
                if t.lsn >= min && self.generation.load(Ordering::Acquire) == generation {
                    if let Some(cache) = &self.cache {
                        cache.insert(key, t.clone()).await;
                    }
                    return Ok(Some(t));
                }
            }
        }
        let mut parts = Vec::with_capacity(ids.len());
        for (id, access) in ids.iter().zip(classes) {
            match self.layer_tile(id, tile, access).await? {
                Some(p) => parts.push(p),
                None => return Ok(None),
            }
        }
        let out = compose(&parts).map_err(Arc::new)?;
        // Kept only when each part would be (empty parts below a layer's zooms carry 0).
        let required = self.required_lsn.load(Ordering::Acquire);
        let fresh = parts.iter().all(|p| p.lsn >= required || p.gzip.is_empty());
        if fresh && self.generation.load(Ordering::Acquire) == generation {
            if let Some(store) = store {
                store.put(&key.layer, tile, &out, generation);
            }
            if let Some(cache) = &self.cache {
                cache.insert(key, out.clone()).await;
            }
        }
        Ok(Some(out))
    }

    /// The reader's tile class for each of `ids` (public for ids that are no layer).
    fn classes(&self, ids: &[String], viewer: &Viewer) -> Vec<Access> {
        ids.iter()
            .map(|id| {
                self.layers
                    .get(id)
                    .map_or(Access::Public, |l| viewer.tile_access(l.as_ref()))
            })
            .collect()
    }

    /// Drops every cached tile of the layers over `table` whose buffered bounds meet `bbox`
    /// (EPSG:3857). Returns the number of layers affected.
    pub fn invalidate(&self, table: &str, bbox: [f64; 4]) -> usize {
        self.invalidate_counted(table, bbox, None)
    }

    /// [`TileService::invalidate`] for a change that the table's change count `changes`
    /// numbers (gis-core migration 10): the persistent store records it once its tiles of
    /// the area are dropped. The stored tiles are dropped (for readers at once) before the
    /// memory cache's.
    pub fn invalidate_counted(&self, table: &str, bbox: [f64; 4], changes: Option<i64>) -> usize {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let layers = self.layers.ids_over(table);
        let changed = Bounds {
            min_x: bbox[0],
            min_y: bbox[1],
            max_x: bbox[2],
            max_y: bbox[3],
        };
        if let Some(store) = self.store.get() {
            store.drop_tiles(
                Some(layers.clone()),
                Some(changed),
                generation,
                changes.map(|c| (table.to_string(), c)),
            );
        }
        let Some(cache) = self.cache.as_ref().filter(|_| !layers.is_empty()) else {
            self.applied.fetch_add(1, Ordering::AcqRel);
            return 0;
        };
        let count = layers.len();
        let result = cache.invalidate_entries_if(move |key, _| {
            // A composite's key names its layers joined by commas (each with its class).
            if !key
                .layer
                .split(',')
                .map(|part| part.split('@').next().unwrap_or(part))
                .any(|id| layers.iter().any(|l| &**l == id))
            {
                return false;
            }
            let b = key.tile.mercator_bounds();
            let margin = b.width() * f64::from(BUFFER) / f64::from(EXTENT);
            b.buffered(margin).intersects(&changed)
        });
        if let Err(e) = result {
            // Only possible when closures are unsupported, which the builder enables; fall back
            // to dropping everything rather than serving stale tiles.
            tracing::error!(%e, "selective invalidation failed; clearing the tile cache");
            cache.invalidate_all();
        }
        self.applied.fetch_add(1, Ordering::AcqRel);
        count
    }

    /// Drops every cached tile.
    ///
    /// The persistent store keeps its tiles (a reconnect or a layer reload checks them against
    /// the database's change counts instead, [`TileService::reconcile_store`]), but no tile
    /// rendered before this is stored.
    pub fn invalidate_all(&self) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if let Some(store) = self.store.get() {
            store.barrier(generation);
        }
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
        self.applied.fetch_add(1, Ordering::AcqRel);
    }

    /// Listens for change notifications until the process ends, reconnecting after failures.
    /// After a reconnect the whole cache is dropped, since notifications may have been missed.
    pub fn spawn_invalidation_listener(&self) -> tokio::task::JoinHandle<()> {
        self.listening.store(true, Ordering::Release);
        let service = self.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                match service.listen_once(first).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(%e, "tile invalidation listener lost its connection"),
                }
                first = false;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn listen_once(&self, first: bool) -> Result<(), sqlx::Error> {
        // A standby cannot LISTEN: notifications come from the primary.
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.primary).await?;
        listener
            .listen_all([
                gis_core::bulk::CHANGES_CHANNEL,
                layers::added::CATALOG_CHANNEL,
            ])
            .await?;
        if !first {
            self.invalidate_all();
            self.reload_layers().await;
        } else {
            // Listening now: a change from here on is heard; one before is in the counts.
            self.reconcile_store().await;
        }
        loop {
            // Not `recv`: it reconnects silently and the notifications sent while the connection
            // was down are lost. `try_recv` answers `None` once it has reconnected and listens
            // again (or fails, and the caller retries); then nothing cached can be trusted.
            let Some(note) = listener.try_recv().await? else {
                tracing::warn!("tile invalidation listener reconnected; clearing the tile cache");
                self.invalidate_all();
                self.reload_layers().await;
                continue;
            };
            if note.channel() == layers::added::CATALOG_CHANNEL {
                self.reload_layers().await;
            } else {
                // The primary's position now is at or past the notifying commit (notifications
                // are delivered after it); the in-transaction position would not be (the commit
                // record comes later). Raised before the tiles are dropped, so no render that
                // starts after the drop is cached from a server that has not replayed it.
                match gis_core::db::lsn::primary_position(&self.primary).await {
                    Ok(lsn) => {
                        self.required_lsn.fetch_max(lsn, Ordering::AcqRel);
                    }
                    Err(e) => tracing::warn!(%e, "primary WAL position not read for a change"),
                }
                self.apply_notification(note.payload());
            }
        }
    }

    /// Rebuilds the registry from the built-in and added layers' definitions, publishes it to
    /// the catalog, and drops cached tiles (a layer's style or columns may have changed). A
    /// failure keeps the registry as it was.
    pub async fn reload_layers(&self) {
        match layers::added::registry(&self.primary).await {
            Ok(registry) => {
                if let Err(e) = gis_core::layer::publish(&registry, &self.primary).await {
                    tracing::warn!(%e, "layer catalog not republished");
                }
                tracing::info!(layers = registry.len(), "layer registry reloaded");
                self.layers.replace(registry);
                self.invalidate_all();
                self.reconcile_store().await;
            }
            Err(e) => tracing::error!(%e, "layer registry not reloaded; keeping the current one"),
        }
    }

    /// Applies one `bando_layer_changes` payload.
    pub fn apply_notification(&self, payload: &str) {
        #[derive(serde::Deserialize)]
        struct Change {
            table: String,
            bbox_3857: [f64; 4],
            #[serde(default)]
            changes: Option<i64>,
            #[serde(default)]
            op: Option<String>,
        }
        match serde_json::from_str::<Change>(payload) {
            Ok(change) => {
                let n = self.invalidate_counted(&change.table, change.bbox_3857, change.changes);
                tracing::debug!(table = %change.table, layers = n, "tiles invalidated");
                // An import brings new tiles besides the dropped ones: its area is walked.
                if let (Some(seeder), Some("import")) = (self.seeder.get(), change.op.as_deref()) {
                    let [min_x, min_y, max_x, max_y] = change.bbox_3857;
                    seeder.request_area(
                        self.layers.ids_over(&change.table),
                        Bounds {
                            min_x,
                            min_y,
                            max_x,
                            max_y,
                        },
                    );
                }
            }
            Err(e) => {
                tracing::warn!(%e, payload, "unreadable change notification; clearing the tile cache");
                self.invalidate_all();
            }
        }
    }

    /// Whether a change listener was started: only then does [`TileService::generation`] tell
    /// that data changed (other caches keyed by it, such as feature counts, check this first).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// The change generation to key other caches by (feature counts), or `None` when no change
    /// listener runs and so the generation would not move when data changes.
    pub fn change_generation(&self) -> Option<u64> {
        self.is_listening().then(|| self.generation())
    }

    /// The highest primary WAL position known from change notifications (0: none yet).
    pub fn required_lsn(&self) -> u64 {
        self.required_lsn.load(Ordering::Acquire)
    }

    /// How many layer tiles were rendered from the database since start (cache misses).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// Tiles beyond a layer's highest zoom made from their ancestor's since start (no render).
    pub fn overzoomed(&self) -> u64 {
        self.overzoomed.load(Ordering::Relaxed)
    }

    /// How many invalidations are in force (tests wait on it).
    pub fn generation(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Opens the persistent tile store ([`store`]) and checks it against the database
    /// ([`TileService::reconcile_store`]); from then on the memory cache's misses of public
    /// tiles of seedable layers are looked up in it and rendered tiles are stored. Once per
    /// service.
    pub async fn open_store(
        &self,
        settings: store::StoreSettings,
    ) -> Result<store::TileStore, store::StoreError> {
        let opened = store::TileStore::open(settings).await?;
        // Nothing is served from it before it is checked.
        let checked = self.reconcile(&opened).await;
        if self.store.set(opened.clone()).is_err() {
            tracing::warn!("a tile store was already open; the new one is not used");
        }
        checked?;
        Ok(self.store.get().cloned().unwrap_or(opened))
    }

    /// Puts the persistent store's most recently used tiles back in the memory cache (up to
    /// half its budget), so a restarted server answers its first requests as a warm one instead
    /// of reading each tile from disk. Returns how many were put back. A change notified
    /// meanwhile ends it (a tile put back across a change is taken out again), and a tile a
    /// request cached first is left as it is.
    pub async fn warm_from_store(&self) -> usize {
        let (Some(store), Some(cache)) = (self.store.get(), &self.cache) else {
            return 0;
        };
        let budget = cache.policy().max_capacity().unwrap_or(0) / 2;
        let generation = self.generation.load(Ordering::Acquire);
        let tiles = match store.most_used(budget).await {
            Ok(tiles) => tiles,
            Err(e) => {
                tracing::warn!(%e, "the memory cache was not warmed from the tile store");
                return 0;
            }
        };
        let mut warmed = 0;
        for (layers, tile, t) in tiles {
            if self.generation.load(Ordering::Acquire) != generation {
                break;
            }
            let key = TileKey {
                layer: Arc::from(layers),
                tile,
                access: Access::Public,
            };
            cache.entry(key.clone()).or_insert(t).await;
            if self.generation.load(Ordering::Acquire) != generation {
                cache.invalidate(&key).await;
                break;
            }
            warmed += 1;
        }
        warmed
    }

    /// The persistent tile store, when open.
    pub fn store(&self) -> Option<&store::TileStore> {
        self.store.get()
    }

    /// The store when tiles of `layer` for `access` belong in it: public tiles of a seedable
    /// layer everyone reads.
    fn store_for(&self, layer: &dyn Layer, access: Access) -> Option<&store::TileStore> {
        self.store.get().filter(|_| {
            access == Access::Public && layer.seedable() && layer.readers() == Readers::Everyone
        })
    }

    /// Drops from the persistent store what the database changed without this server
    /// hearing it: everything when it was written against another database, a layer whose
    /// tile SQL changed (a definition or a new bando), and the layers over every table whose
    /// change count differs from the one the store recorded. Then records the database's
    /// counts. Called when the store opens, when the change listener (re)connects (after
    /// `LISTEN`, so later changes are heard) and when the layers are reloaded. A failure drops
    /// the whole store.
    pub async fn reconcile_store(&self) {
        if let Some(store) = self.store.get() {
            if let Err(e) = self.reconcile(store).await {
                tracing::warn!(%e, "tile store not checked against the database");
            }
        }
    }

    async fn reconcile(&self, store: &store::TileStore) -> Result<(), store::StoreError> {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let read = async {
            // With the database's oid: a database made from a template (or restored from a
            // dump) carries its identity row along, yet is another database.
            let database: Option<String> = sqlx::query_scalar(
                "SELECT i.id || ':' || d.oid::text FROM platform.database_identity i, pg_database d
                 WHERE d.datname = current_database() LIMIT 1",
            )
            .fetch_optional(&self.primary)
            .await?;
            let changes: Vec<(String, i64)> =
                sqlx::query_as("SELECT table_name, changes FROM platform.table_changes")
                    .fetch_all(&self.primary)
                    .await?;
            Ok::<_, sqlx::Error>((database, changes))
        };
        let (database, changes) = match read.await {
            Ok(v) => v,
            Err(e) => {
                store.drop_tiles(None, None, generation, None);
                store.flush().await?;
                return Err(e.into());
            }
        };
        let recorded = store.recorded().await?;
        let now = store::Recorded {
            database,
            changes: changes.into_iter().collect(),
            layer_sql: self
                .layers
                .snapshot()
                .iter()
                .map(|l| (l.id().to_string(), self.sql_fingerprint(l.as_ref())))
                .collect(),
        };
        let mut reseed = Vec::new();
        if recorded.database != now.database {
            store.drop_tiles(None, None, generation, None);
            reseed = self.seedable_layers();
        } else {
            let mut stale: Vec<Arc<str>> = Vec::new();
            for (layer, hash) in &recorded.layer_sql {
                if now.layer_sql.get(layer) != Some(hash) {
                    stale.push(Arc::from(layer.as_str()));
                }
            }
            for (layer, hash) in &now.layer_sql {
                if recorded.layer_sql.get(layer) != Some(hash) {
                    stale.push(Arc::from(layer.as_str()));
                }
            }
            let tables: std::collections::BTreeSet<&String> =
                recorded.changes.keys().chain(now.changes.keys()).collect();
            for table in tables {
                if recorded.changes.get(table) != now.changes.get(table) {
                    stale.extend(self.layers.ids_over(table));
                }
            }
            if !stale.is_empty() {
                stale.sort();
                stale.dedup();
                tracing::info!(layers = ?stale, "stored tiles changed meanwhile; dropped");
                reseed = stale.iter().map(|l| l.to_string()).collect();
                store.drop_tiles(Some(stale), None, generation, None);
            }
        }
        store.record(now);
        store.flush().await?;
        // Walked again once their tiles are gone from disk (a walk skips stored tiles).
        if let (Some(seeder), false) = (self.seeder.get(), reseed.is_empty()) {
            seeder.request_layers(reseed);
        }
        Ok(())
    }

    /// A hash of everything a layer's stored tile depends on besides its rows: its tile SQL
    /// at every zoom (both forms) and the limits.
    fn sql_fingerprint(&self, layer: &dyn Layer) -> i64 {
        let mut text = format!("{} {}\n", self.max_features, self.max_bytes);
        for z in 0..=gis_core::tile::MAX_ZOOM.min(24) {
            for coarse in [false, true] {
                text.push_str(&tile_sql(layer, z, Access::Public, self.max_features, coarse).sql);
            }
        }
        i64::from_ne_bytes(fnv1a(text.as_bytes()).to_ne_bytes())
    }

    /// Seeds the persistent store with `layer_id`'s public tiles from `min_zoom` to
    /// `max_zoom`: descending from z0 into the children of every tile whose buffered box holds
    /// a row (an index probe), rendering those not stored yet, at most `jobs` at a time (the
    /// share of the tile connections the seeding may take). Not through the memory cache.
    /// `progress` is told each zoom's tiles with data as it finishes.
    pub async fn seed(
        &self,
        layer_id: &str,
        min_zoom: u8,
        max_zoom: u8,
        jobs: usize,
        progress: impl Fn(u8, &SeedReport),
    ) -> Result<SeedReport, SeedError> {
        self.seed_walk(layer_id, min_zoom, max_zoom, jobs, None, None, progress)
            .await
    }

    /// [`TileService::seed`] over the tiles meeting `area` only (all: `None`); with `seeder`,
    /// in the background: counted there, each render after live requests.
    #[allow(clippy::too_many_arguments)]
    async fn seed_walk(
        &self,
        layer_id: &str,
        min_zoom: u8,
        max_zoom: u8,
        jobs: usize,
        area: Option<Bounds>,
        seeder: Option<Arc<seeder::Seeder>>,
        progress: impl Fn(u8, &SeedReport),
    ) -> Result<SeedReport, SeedError> {
        let layer = self
            .layers
            .get(layer_id)
            .ok_or_else(|| SeedError::Layer(layer_id.to_string(), "no such layer"))?;
        let store = self
            .store_for(layer.as_ref(), Access::Public)
            .ok_or_else(|| SeedError::Layer(layer_id.to_string(), "not kept in the tile store"))?
            .clone();
        let max_zoom = max_zoom.min(gis_core::tile::MAX_ZOOM);
        let probe = Arc::new(probe_sql(layer.as_ref()));
        let jobs = jobs.max(1);
        let mut report = SeedReport::default();
        let mut frontier = vec![TileCoord { z: 0, x: 0, y: 0 }];
        for z in 0..=max_zoom {
            if let Some(s) = &seeder {
                s.at(layer_id, z);
            }
            let mut next = Vec::new();
            let mut set = tokio::task::JoinSet::new();
            let mut tiles = frontier.into_iter();
            loop {
                // In the background, an edit's dropped tiles go before the rest of a walk.
                if let (Some(s), true) = (&seeder, set.is_empty()) {
                    if store.dropped_waiting() > 0 {
                        self.redo_dropped(&store, s).await;
                        s.at(layer_id, z);
                    }
                }
                while set.len() < jobs {
                    let Some(tile) = tiles.next() else { break };
                    if area.as_ref().is_some_and(|a| !store::meets(tile, a)) {
                        continue;
                    }
                    let (service, store, probe, layer, seeder) = (
                        self.clone(),
                        store.clone(),
                        probe.clone(),
                        layer.clone(),
                        seeder.clone(),
                    );
                    let id = layer_id.to_string();
                    let render = z >= min_zoom;
                    set.spawn(async move {
                        service
                            .seed_one(&store, &probe, layer.as_ref(), &id, tile, render, seeder)
                            .await
                            .map(|o| (tile, o))
                    });
                }
                let Some(done) = set.join_next().await else {
                    break;
                };
                let (tile, outcome) = done.map_err(|e| SeedError::Task(e.to_string()))??;
                match outcome {
                    Seeded::Empty => continue,
                    Seeded::Stored => report.already += 1,
                    Seeded::Rendered => report.rendered += 1,
                    Seeded::Skipped => {}
                }
                report.with_data += 1;
                if z < max_zoom {
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        next.push(TileCoord {
                            z: z + 1,
                            x: tile.x * 2 + dx,
                            y: tile.y * 2 + dy,
                        });
                    }
                }
            }
            progress(z, &report);
            frontier = next;
        }
        store.flush().await.map_err(SeedError::Store)?;
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    async fn seed_one(
        &self,
        store: &store::TileStore,
        probe: &str,
        layer: &dyn Layer,
        layer_id: &str,
        tile: TileCoord,
        render: bool,
        seeder: Option<Arc<seeder::Seeder>>,
    ) -> Result<Seeded, SeedError> {
        let has_data: bool = sqlx::query_scalar(probe)
            .bind(i32::from(tile.z))
            .bind(tile.x as i32)
            .bind(tile.y as i32)
            .fetch_one(&self.pool)
            .await
            .map_err(TileError::Db)?;
        if !has_data {
            return Ok(Seeded::Empty);
        }
        if !render || tile.z < layer.zoom_range().0 {
            return Ok(Seeded::Skipped);
        }
        if store
            .contains(layer_id, tile)
            .await
            .map_err(SeedError::Store)?
        {
            if let Some(s) = &seeder {
                s.already.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(Seeded::Stored);
        }
        if let Some(s) = &seeder {
            s.wait_quiet(&self.live).await;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let (t, fresh) = self.render_layer(layer, tile, Access::Public, None).await?;
        if fresh && self.generation.load(Ordering::Acquire) == generation {
            store.put(layer_id, tile, &t, generation);
        }
        if let Some(s) = &seeder {
            s.rendered.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Seeded::Rendered)
    }

    /// Starts the store's background seeder ([`seeder`]): it walks every seedable layer now
    /// (first start on existing data; stored tiles are skipped), then each import's area, the
    /// layers a reconciliation drops and the tiles changes drop. Once per service; `None`
    /// when no store is open or a seeder runs already.
    pub fn spawn_seeder(
        &self,
        settings: seeder::SeedSettings,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let store = self.store.get()?.clone();
        let seeder = Arc::new(seeder::Seeder::new(settings));
        self.seeder.set(seeder.clone()).ok()?;
        seeder.request_layers(self.seedable_layers());
        let service = self.clone();
        Some(tokio::spawn(async move {
            service.run_seeder(seeder, store).await
        }))
    }

    /// The seeder's progress, when one runs.
    pub fn seed_progress(&self) -> Option<seeder::SeedProgress> {
        let seeder = self.seeder.get()?;
        let waiting = self.store.get().map_or(0, |s| s.dropped_waiting());
        Some(seeder.progress(waiting))
    }

    /// Ids of the layers whose tiles the store keeps and seeds.
    fn seedable_layers(&self) -> Vec<String> {
        self.layers
            .snapshot()
            .iter()
            .filter(|l| {
                l.seed_zoom().is_some() && self.store_for(l.as_ref(), Access::Public).is_some()
            })
            .map(|l| l.id().to_string())
            .collect()
    }

    async fn run_seeder(self, seeder: Arc<seeder::Seeder>, store: store::TileStore) {
        let note = |seeder: &seeder::Seeder| {
            let progress = seeder.progress(store.dropped_waiting());
            if let Ok(text) = serde_json::to_string(&progress) {
                store.set_note("seeder", &text);
            }
        };
        loop {
            // Dropped tiles first: they were stored because someone asked for them.
            if self.redo_dropped(&store, &seeder).await {
                continue;
            }
            let Some(job) = seeder.next_job() else {
                seeder.set_running(false);
                note(&seeder);
                tokio::select! {
                    _ = seeder.wake.notified() => {}
                    _ = store.dropped_ready() => {}
                }
                continue;
            };
            seeder.set_running(true);
            let (ids, area) = match job {
                seeder::Job::Layer(id) => (vec![Arc::<str>::from(id)], None),
                seeder::Job::Area(ids, area) => (ids, Some(area)),
            };
            for id in ids {
                let Some(layer) = self.layers.get(&id) else {
                    continue;
                };
                let Some(zoom) = layer.seed_zoom() else {
                    continue;
                };
                if self.store_for(layer.as_ref(), Access::Public).is_none() {
                    continue;
                }
                let zoom = seeder.settings.max_zoom.map_or(zoom, |m| zoom.min(m));
                let walked = self
                    .seed_walk(&id, 0, zoom, 1, area, Some(seeder.clone()), |_, _| {
                        note(&seeder)
                    })
                    .await;
                match walked {
                    Ok(_) => seeder.walked(),
                    Err(e) => {
                        tracing::warn!(%e, layer = &*id, "seeding stopped; requests render the rest");
                        seeder.failures.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }

    /// Renders again the tiles changes dropped, until none waits; whether there were any.
    async fn redo_dropped(&self, store: &store::TileStore, seeder: &seeder::Seeder) -> bool {
        let mut any = false;
        loop {
            let dropped = store.take_dropped(64);
            if dropped.is_empty() {
                return any;
            }
            any = true;
            seeder.set_running(true);
            for (layers, tile) in dropped {
                match self.reseed_tile(store, seeder, &layers, tile).await {
                    Ok(true) => {
                        seeder.rerendered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(%e, layers, z = tile.z, x = tile.x, y = tile.y,
                            "a dropped tile was not rendered again");
                        seeder.failures.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }

    /// Renders a dropped tile again (a layer or a composite of layers, public) unless it is
    /// stored again already; `true` when rendered. A tile whose rows all went comes back
    /// empty: it was stored because someone asked for it.
    async fn reseed_tile(
        &self,
        store: &store::TileStore,
        seeder: &seeder::Seeder,
        key: &str,
        tile: TileCoord,
    ) -> Result<bool, SeedError> {
        let mut layers = Vec::new();
        for id in key.split(',') {
            match self.layers.get(id) {
                Some(l) if self.store_for(l.as_ref(), Access::Public).is_some() => layers.push(l),
                // Gone or no longer kept: nothing to keep warm.
                _ => return Ok(false),
            }
        }
        if store.contains(key, tile).await.map_err(SeedError::Store)? {
            return Ok(false);
        }
        seeder.wait_quiet(&self.live).await;
        let generation = self.generation.load(Ordering::Acquire);
        let mut parts = Vec::with_capacity(layers.len());
        let mut fresh = true;
        for l in &layers {
            if tile.z < l.zoom_range().0 {
                parts.push(empty_tile());
                continue;
            }
            let (t, f) = self
                .render_layer(l.as_ref(), tile, Access::Public, None)
                .await?;
            fresh &= f;
            parts.push(t);
        }
        let out = match parts.len() {
            1 => parts.pop().unwrap_or_else(empty_tile),
            _ => compose(&parts)?,
        };
        if fresh && self.generation.load(Ordering::Acquire) == generation {
            store.put(key, tile, &out, generation);
        }
        Ok(true)
    }

    /// Runs pending cache maintenance (tests use it to make invalidation visible at once).
    pub async fn sync(&self) {
        if let Some(cache) = &self.cache {
            cache.run_pending_tasks().await;
        }
    }
}

/// What a seeding did ([`TileService::seed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Tiles whose buffered box holds rows (every zoom walked).
    pub with_data: u64,
    /// Of them, rendered and stored now.
    pub rendered: u64,
    /// Of them, stored already.
    pub already: u64,
}

enum Seeded {
    Empty,
    Skipped,
    Stored,
    Rendered,
}

/// Errors of seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The layer cannot be seeded.
    #[error("layer {0}: {1}")]
    Layer(String, &'static str),
    /// A render failed.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// The store failed.
    #[error(transparent)]
    Store(store::StoreError),
    /// A seeding task failed.
    #[error("seeding task failed: {0}")]
    Task(String),
}

/// Whether a layer has rows in a tile's buffered box (an index probe).
fn probe_sql(layer: &dyn Layer) -> String {
    let storage = layer.storage();
    format!(
        "SELECT EXISTS (SELECT 1 FROM {}.{} WHERE geom_3857 && ST_TileEnvelope($1, $2, $3, margin => {}))",
        gis_core::db::quote_ident(&storage.schema),
        gis_core::db::quote_ident(&storage.table),
        f64::from(BUFFER) / f64::from(EXTENT)
    )
}

/// brotli quality for tiles. Measured on 60 z14 parcel tiles of the sample (28.8 KB MVT on
/// average, release build): q4 1.0 ms → 15.1 KB, q5 1.6 ms → 13.9 KB, q6 3.1 ms → 13.9 KB,
/// q11 58 ms → 13.1 KB; gzip (fast) 0.27 ms → 16.7 KB.
pub const BROTLI_QUALITY: u32 = 5;

/// A tile with no feature (below a layer's zooms).
fn empty_tile() -> RenderedTile {
    RenderedTile {
        gzip: Bytes::new(),
        br: Brotli::ready(Bytes::new()),
        features: 0,
        etag: 0,
        truncated: false,
        limit: None,
        lsn: 0,
    }
}

/// The tile `tile` made from `parent`, its ancestor `from` ([`overzoom`]): the same limits and
/// WAL position, the features that fall in it.
fn derive(
    parent: &RenderedTile,
    from: TileCoord,
    tile: TileCoord,
) -> Result<RenderedTile, TileError> {
    if parent.gzip.is_empty() {
        return Ok(RenderedTile {
            lsn: parent.lsn,
            ..empty_tile()
        });
    }
    let (mvt, features) = overzoom::overzoom(&gunzip(&parent.gzip)?, from, tile)?;
    let gzip = encode(&mvt)?;
    Ok(RenderedTile {
        etag: if gzip.is_empty() { 0 } else { fnv1a(&gzip) },
        gzip,
        br: Brotli::default(),
        features,
        truncated: parent.truncated,
        limit: parent.limit,
        lsn: parent.lsn,
    })
}

/// Layers' tiles as one: their MVT messages concatenated (a tile is a repeated `layers`
/// field).
fn compose(parts: &[RenderedTile]) -> Result<RenderedTile, TileError> {
    let mut raw = Vec::new();
    for p in parts.iter().filter(|p| !p.gzip.is_empty()) {
        raw.extend_from_slice(&gunzip(&p.gzip)?);
    }
    let gzip = encode(&raw)?;
    Ok(RenderedTile {
        etag: if gzip.is_empty() { 0 } else { fnv1a(&gzip) },
        gzip,
        br: Brotli::default(),
        features: parts.iter().map(|p| p.features).sum(),
        truncated: parts.iter().any(|p| p.truncated),
        // "bytes" (drawn generalised to fit) says more than "features".
        limit: parts
            .iter()
            .filter_map(|p| p.limit)
            .max_by_key(|l| *l == "bytes"),
        lsn: parts.iter().map(|p| p.lsn).min().unwrap_or(0),
    })
}

/// The gzip bytes of an MVT (empty for an empty tile): what every tile is kept as. brotli is
/// made later, if asked for ([`RenderedTile::brotli`]).
pub fn encode(mvt: &[u8]) -> Result<Bytes, std::io::Error> {
    if mvt.is_empty() {
        return Ok(Bytes::new());
    }
    gzip(mvt)
}

/// gzip (fast level) of `raw`.
pub fn gzip(raw: &[u8]) -> Result<Bytes, std::io::Error> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 2),
        flate2::Compression::fast(),
    );
    enc.write_all(raw)?;
    Ok(Bytes::from(enc.finish()?))
}

/// brotli ([`BROTLI_QUALITY`]) of `raw`.
pub fn brotli(raw: &[u8]) -> Result<Bytes, std::io::Error> {
    let mut out = Vec::with_capacity(raw.len() / 2);
    // A window no larger than the tile: the encoder's tables are sized by it, and a 22-bit
    // window's set-up dominated the cost of a 6 KB tile.
    let bits = usize::BITS - raw.len().max(1).leading_zeros();
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY as i32,
        lgwin: bits.clamp(10, 22) as i32,
        size_hint: raw.len(),
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params)?;
    Ok(Bytes::from(out))
}

/// The MVT inside gzip bytes.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)?;
    Ok(out)
}

/// FNV-1a, 64 bit: a stable content hash for ETags (not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unbrotli(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &bytes[..], &mut out).expect("brotli");
        out
    }

    #[test]
    fn brotli_is_made_on_the_first_ask_and_shared_by_the_tiles_clones() {
        // Two "layers" of a composite: neither part nor the whole is brotli-compressed until
        // a reader asks for brotli.
        let layer = |n: u8| RenderedTile {
            gzip: encode(&vec![n; 5000]).expect("gzip"),
            ..empty_tile()
        };
        let whole = compose(&[layer(1), layer(2)]).expect("compose");
        assert!(whole.br.get().is_none(), "no brotli before it is asked for");
        let cached = whole.clone();
        let br = whole.brotli().expect("brotli");
        let mut raw = vec![1u8; 5000];
        raw.extend(vec![2u8; 5000]);
        assert_eq!(unbrotli(&br), raw);
        assert_eq!(
            cached.br.get(),
            Some(&br),
            "the clone holds the bytes made once"
        );
        assert_eq!(cached.weight(), whole.gzip.len() + br.len());
        assert!(empty_tile().brotli().expect("empty").is_empty());
    }

    #[test]
    fn small_and_large_tiles_round_trip_through_brotli_with_a_window_their_size() {
        for len in [1usize, 700, 6_500, 120_000, 5_000_000] {
            let raw: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            assert_eq!(unbrotli(&brotli(&raw).expect("brotli")), raw, "{len} bytes");
        }
    }
}
