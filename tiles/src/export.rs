//! Offline packs: `bando export` renders the tiles of an area through the same [`TileService`]
//! (and so the same `gis_core::mvt` SQL) the server uses and writes them, gzip-compressed and
//! without empty tiles, to an MBTiles 1.3 file ([`mbtiles`]) or a PMTiles v3 archive
//! ([`pmtiles`]).
//!
//! A pack is written under a temporary name beside the target and renamed when complete, so a
//! failed or interrupted export never leaves a half-written file under the requested name.
//! Packs are for anonymous use: restricted properties (owner names) are never rendered into
//! them.
//!
//! With the instance's tile store ([`crate::store`]), an export reads the stored tiles instead
//! of rendering them — the same bytes — once the store is checked against the database
//! ([`TileService::open_store`]: layers changed since it was written are dropped first), and
//! stores what it renders; a change notified during the export drops its tiles as in a
//! server.

pub mod mbtiles;
pub mod pmtiles;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use gis_core::layer::{LayerRegistry, Viewer};
use gis_core::tile::{tiles_covering, Bounds, TileCoord, MAX_LATITUDE, MAX_ZOOM};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{TileService, TileSettings};

/// Largest pack written without `--force`.
pub const MAX_TILES: u64 = 500_000;

/// Tiles rendered at once (the database pool bounds it too).
const CONCURRENCY: usize = 4;

/// Why an export was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The arguments do not describe a pack bando can write.
    #[error("{0}")]
    Invalid(String),
    /// Rendering a tile failed.
    #[error("rendering tile {tile} failed: {source}")]
    Render {
        /// The tile.
        tile: String,
        /// The cause.
        source: Arc<crate::TileError>,
    },
    /// Writing the pack failed.
    #[error("writing {path} failed: {reason}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
}

/// The container format of a pack, chosen by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackFormat {
    /// MBTiles 1.3 (SQLite).
    MbTiles,
    /// PMTiles v3.
    PmTiles,
}

impl PackFormat {
    /// The format for `path`'s extension.
    pub fn for_path(path: &Path) -> Result<PackFormat, ExportError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("mbtiles") => Ok(PackFormat::MbTiles),
            Some("pmtiles") => Ok(PackFormat::PmTiles),
            other => Err(ExportError::Invalid(format!(
                "{}: bando writes .mbtiles or .pmtiles packs, not {}",
                path.display(),
                other.map_or("a file without extension".to_string(), |e| format!(".{e}"))
            ))),
        }
    }
}

/// A checked export request.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Area in WGS84 longitude/latitude (west, south, east, north).
    pub bounds: Bounds,
    /// Lowest zoom.
    pub minzoom: u8,
    /// Highest zoom.
    pub maxzoom: u8,
    /// Layer ids, in the order given.
    pub layers: Vec<String>,
    /// Target file.
    pub out: PathBuf,
    /// Container format.
    pub format: PackFormat,
}

impl ExportRequest {
    /// Checks the command-line arguments: `bbox` is `W,S,E,N` in `bbox_crs` (an EPSG
    /// reference; CRS84 when `None`), zooms within 0–24 and ordered, layers registered, the
    /// extension known, and at most [`MAX_TILES`] tiles unless `force`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        registry: &LayerRegistry,
        bbox: &str,
        bbox_crs: Option<&str>,
        minzoom: u8,
        maxzoom: u8,
        layers: &str,
        out: &Path,
        force: bool,
    ) -> Result<ExportRequest, ExportError> {
        let format = PackFormat::for_path(out)?;
        if minzoom > maxzoom {
            return Err(ExportError::Invalid(format!(
                "--minzoom {minzoom} is above --maxzoom {maxzoom}"
            )));
        }
        if maxzoom > MAX_ZOOM {
            return Err(ExportError::Invalid(format!(
                "--maxzoom {maxzoom} is beyond the deepest zoom, {MAX_ZOOM}"
            )));
        }
        // Exports are published files: the layers anonymous readers see, public properties.
        let ids: Vec<String> = registry
            .resolve(layers, &gis_core::layer::Viewer::anonymous())
            .map_err(|e| ExportError::Invalid(format!("--layers: {e}")))?
            .iter()
            .map(|l| l.id().to_string())
            .collect();
        let bounds = parse_bbox(bbox, bbox_crs)?;
        if !force && count_tiles(&bounds, minzoom, maxzoom, MAX_TILES) > MAX_TILES {
            return Err(ExportError::Invalid(format!(
                "the area covers more than {MAX_TILES} tiles at zooms {minzoom}–{maxzoom}: \
                 narrow the area or the zooms, or add --force"
            )));
        }
        Ok(ExportRequest {
            bounds,
            minzoom,
            maxzoom,
            layers: ids,
            out: out.to_path_buf(),
            format,
        })
    }
}

/// Parses `W,S,E,N` in `crs` into a WGS84 box inside the Web Mercator world.
fn parse_bbox(text: &str, crs: Option<&str>) -> Result<Bounds, ExportError> {
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ExportError::Invalid(format!(
                "--bbox \"{text}\" is not four numbers W,S,E,N (e.g. 106.8,11.4,107.0,11.6)"
            ))
        })?;
    let [w, s, e, n] = values[..] else {
        return Err(ExportError::Invalid(format!(
            "--bbox \"{text}\" has {} numbers; give four: W,S,E,N",
            values.len()
        )));
    };
    if values.iter().any(|v| !v.is_finite()) || w >= e || s >= n {
        return Err(ExportError::Invalid(format!(
            "--bbox {text}: west must be less than east and south less than north"
        )));
    }
    let epsg = match crs {
        None => gis_core::crs::WGS84,
        Some(c) => gis_core::crs::parse_crs_ref(c)
            .map_err(|err| ExportError::Invalid(format!("--bbox-crs: {err}")))?,
    };
    let (w, s, e, n) = if epsg == gis_core::crs::WGS84 {
        (w, s, e, n)
    } else {
        // A projected box is not a lon/lat box: take the extent of its densified outline.
        let t = gis_core::crs::Transformer::new(epsg, gis_core::crs::WGS84)
            .map_err(|err| ExportError::Invalid(format!("--bbox-crs: {err}")))?;
        let (mut a, mut b, mut c, mut d) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for i in 0..=16 {
            let f = f64::from(i) / 16.0;
            for (x, y) in [
                (w + (e - w) * f, s),
                (w + (e - w) * f, n),
                (w, s + (n - s) * f),
                (e, s + (n - s) * f),
            ] {
                let (lon, lat) = t
                    .transform(x, y)
                    .map_err(|err| ExportError::Invalid(format!("--bbox in EPSG:{epsg}: {err}")))?;
                (a, b, c, d) = (a.min(lon), b.min(lat), c.max(lon), d.max(lat));
            }
        }
        (a, b, c, d)
    };
    if w < -180.0 || e > 180.0 || s < -MAX_LATITUDE || n > MAX_LATITUDE {
        return Err(ExportError::Invalid(format!(
            "--bbox {w},{s},{e},{n} reaches outside the world: longitudes must be within \
             -180..180 and latitudes within ±{MAX_LATITUDE} (Web Mercator)"
        )));
    }
    Ok(Bounds::new(w, s, e, n))
}

/// Tiles `bounds` covers at zooms `minzoom..=maxzoom`, counted up to `limit + 1` (enough to
/// refuse; listing billions of deep tiles just to count them would take minutes).
fn count_tiles(bounds: &Bounds, minzoom: u8, maxzoom: u8, limit: u64) -> u64 {
    let mut count = 0u64;
    for z in minzoom..=maxzoom {
        let room = (limit + 1).saturating_sub(count);
        count += tiles_covering(bounds, z)
            .take(usize::try_from(room).unwrap_or(usize::MAX))
            .count() as u64;
        if count > limit {
            break;
        }
    }
    count
}

/// What a pack contains, for its metadata.
#[derive(Debug, Clone)]
pub struct PackInfo {
    /// Pack name (the layer ids).
    pub name: String,
    /// Area (WGS84).
    pub bounds: Bounds,
    /// Lowest zoom.
    pub minzoom: u8,
    /// Highest zoom.
    pub maxzoom: u8,
    /// TileJSON-style `vector_layers`.
    pub vector_layers: Vec<Value>,
}

impl PackInfo {
    /// `[lon, lat, zoom]` of the pack's centre, at its lowest zoom.
    pub fn center(&self) -> (f64, f64, u8) {
        (
            (self.bounds.min_x + self.bounds.max_x) / 2.0,
            (self.bounds.min_y + self.bounds.max_y) / 2.0,
            self.minzoom,
        )
    }

    /// The `json` metadata both formats carry.
    pub fn json(&self) -> Value {
        json!({ "vector_layers": self.vector_layers })
    }
}

/// A pack being written.
pub trait PackWriter {
    /// Adds one tile's gzip-compressed MVT.
    fn add(&mut self, tile: TileCoord, gzip: &[u8]) -> Result<(), ExportError>;
    /// Writes the metadata and completes the file at its temporary path.
    fn finish(self: Box<Self>, info: &PackInfo) -> Result<(), ExportError>;
}

/// The result of an export.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    /// The written file.
    pub path: PathBuf,
    /// Tiles addressed by the area and zooms.
    pub addressed: u64,
    /// Tiles written (the non-empty ones).
    pub written: u64,
    /// Bytes of tile data (gzip).
    pub tile_bytes: u64,
    /// Tiles read from the tile store instead of rendered.
    pub from_store: u64,
}

/// The temporary name a pack is written under before the rename.
fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

pub(crate) fn write_error(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Renders the request's tiles (or reads them from the tile store at `store`, when given and
/// current) and writes the pack.
pub async fn export(
    pool: &PgPool,
    registry: Arc<LayerRegistry>,
    request: &ExportRequest,
    store: Option<crate::store::StoreSettings>,
) -> Result<ExportSummary, ExportError> {
    let tmp = temp_path(&request.out);
    let result = write_pack(pool, registry, request, &tmp, store).await;
    match result {
        Ok(mut summary) => {
            std::fs::rename(&tmp, &request.out).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                write_error(&request.out, e)
            })?;
            summary.path = request.out.clone();
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

async fn write_pack(
    pool: &PgPool,
    registry: Arc<LayerRegistry>,
    request: &ExportRequest,
    tmp: &Path,
    store: Option<crate::store::StoreSettings>,
) -> Result<ExportSummary, ExportError> {
    let mut writer: Box<dyn PackWriter + Send> = match request.format {
        PackFormat::MbTiles => Box::new(mbtiles::MbTilesWriter::create(tmp)?),
        PackFormat::PmTiles => Box::new(pmtiles::PmTilesWriter::create(tmp)?),
    };
    // No cache: every tile is rendered once, and a cache would only hold memory.
    let service = TileService::new(
        pool.clone(),
        Arc::new(crate::live::LiveLayers::new((*registry).clone())),
        TileSettings {
            cache_bytes: 0,
            ..Default::default()
        },
    );
    // The store is read only once checked; a change during the export drops its tiles.
    let _listener = match store {
        Some(settings) => match service.open_store(settings).await {
            Ok(_) => Some(AbortOnDrop(service.spawn_invalidation_listener())),
            Err(e) => {
                tracing::warn!(%e, "the tile store is not read: every tile is rendered");
                None
            }
        },
        None => None,
    };
    let hits_before = service.store().map_or(0, |s| s.counters().hits);
    let layers: Arc<[String]> = request.layers.clone().into();
    let mut summary = ExportSummary {
        path: tmp.to_path_buf(),
        addressed: 0,
        written: 0,
        tile_bytes: 0,
        from_store: 0,
    };
    let bounds = request.bounds;
    let tiles = (request.minzoom..=request.maxzoom).flat_map(move |z| tiles_covering(&bounds, z));
    let mut batch = Vec::with_capacity(CONCURRENCY);
    let mut tiles = tiles.peekable();
    let mut last_report = std::time::Instant::now();
    while tiles.peek().is_some() {
        if last_report.elapsed() >= std::time::Duration::from_secs(10) {
            last_report = std::time::Instant::now();
            tracing::info!(
                rendered = summary.addressed,
                written = summary.written,
                "exporting"
            );
        }
        batch.clear();
        batch.extend(tiles.by_ref().take(CONCURRENCY * 8));
        summary.addressed += batch.len() as u64;
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        for (i, tile) in batch.iter().copied().enumerate() {
            let (service, layers, sem) = (service.clone(), layers.clone(), sem.clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, tile, pack_tile(&service, &layers, tile).await)
            });
        }
        let mut done: Vec<(usize, TileCoord, Result<Option<Bytes>, ExportError>)> =
            Vec::with_capacity(batch.len());
        while let Some(joined) = set.join_next().await {
            done.push(joined.map_err(|e| write_error(tmp, e))?);
        }
        // Written in the order listed, so a pack's layout does not depend on timing.
        done.sort_by_key(|(i, _, _)| *i);
        for (_, tile, gzip) in done {
            if let Some(gzip) = gzip? {
                writer.add(tile, &gzip)?;
                summary.written += 1;
                summary.tile_bytes += gzip.len() as u64;
            }
        }
    }
    let info = PackInfo {
        name: request.layers.join(","),
        bounds: request.bounds,
        minzoom: request.minzoom,
        maxzoom: request.maxzoom,
        vector_layers: request
            .layers
            .iter()
            .filter_map(|id| registry.get(id))
            .map(|l| crate::tilejson::vector_layer(l.as_ref()))
            .collect(),
    };
    writer.finish(&info)?;
    if let Some(store) = service.store() {
        summary.from_store = store.counters().hits - hits_before;
        // What it rendered is kept for the server.
        if let Err(e) = store.flush().await {
            tracing::warn!(%e, "the exported renders were not all stored");
        }
    }
    Ok(summary)
}

/// Stops a task when the export ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One tile of the pack: the layers' MVT messages together, gzip-compressed, exactly as the
/// server composes them; `None` when empty.
async fn pack_tile(
    service: &TileService,
    layers: &[String],
    tile: TileCoord,
) -> Result<Option<Bytes>, ExportError> {
    match service.tile(layers, tile, &Viewer::anonymous()).await {
        Ok(Some(t)) if !t.gzip.is_empty() => Ok(Some(t.gzip)),
        Ok(_) => Ok(None),
        Err(source) => Err(ExportError::Render {
            tile: format!("{}/{}/{}", tile.z, tile.x, tile.y),
            source,
        }),
    }
}
