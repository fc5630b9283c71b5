//! # sample — the sample data generator
//!
//! Owns the synthetic deliveries of the province: every layer bando imports, written in the
//! legacy formats the province's departments deliver, for the demo, the tests and the
//! benchmarks (`bando sample`). It writes files only (no database); the importers read them
//! like any delivery.
//!
//! The name of every field a layer declares comes from the owner's declaration of that layer
//! (the `FeatureTable` of `land::tables`, `planning::tables`, `utilities::tables`,
//! `sectors::tables` that each `plugin::layers()` declares): a column's first legacy name, or
//! the one the delivery spells it by, or the layer's id field, read in const evaluation, so a
//! declaration that drops it fails the build. The generator keeps only each field's type and
//! width in the file, and the values. Fields a layer does not declare (a remark, the commune
//! code on a layer without one) are written as such deliveries carry them; the importer keeps
//! them in `extra`.
//!
//! The deterministic sample data set: realistic-looking Binh Phuoc and Dong Nai
//! data written as real files through GDAL, so that the demo and the tests exercise the same
//! import paths as real deliveries — including their quirks (legacy DBF encodings, no `.cpg`,
//! hand-written `.prj` files, a wrong TOWGS84 sign convention, northing-first CSV columns).
//!
//! Everything hangs off one jittered vertex lattice per region (module `region`): communes, map
//! sheets and planning zones walk its points, parcels subdivide its quads in bilinear
//! parameter space (`parcels`), and roads and networks follow the road strips the parcels
//! leave (`network`). Neighbours therefore share their vertices exactly: no gaps, no overlaps,
//! no clipping. Every value is a pure function of the seed ([`SampleRng`]): the same seed gives
//! the same attribute values and coordinates, byte for byte (GeoPackages also record the time
//! they were written; the legacy DBFs carry a fixed date).
//!
//! Files (in `out`):
//!
//! | file | layers | CRS | text |
//! |---|---|---|---|
//! | `communes.gpkg` | `communes` (12) | 9212 | UTF-8 |
//! | `communes_dongnai.gpkg` | `communes` (4) | 5899 | UTF-8 |
//! | `map_sheets.gpkg`, `map_sheets_dongnai.gpkg` | `map_sheets` | 9212, 5899 | UTF-8 |
//! | `parcels_binhphuoc.shp` | parcels of the 12 communes | 9212 (.prj) | TCVN3, no .cpg |
//! | `parcels_dongnai.shp` | parcels of the 4 communes | 5899 (.prj, verbatim signs) | VNI, no .cpg |
//! | `parcels_sample.geojson` | first 200 Binh Phuoc parcels | 4326 | UTF-8 |
//! | `roads`, `red_lines`, `building_lines`, `planning_zones`, `buildings` `.gpkg` | `<kind>`, Binh Phuoc | 9212 | UTF-8 |
//! | the same with `_dongnai.gpkg` | `<kind>`, Dong Nai | 5899 | UTF-8 |
//! | `street_lights.shp` | Binh Phuoc | 9212 (.prj) | VNI, no .cpg |
//! | `traffic_lights`, `cameras`, `bus_stops`, `bus_routes` `.geojson` | both regions | 4326 | UTF-8 |
//! | `water.gpkg`, `drains.gpkg`, `power.gpkg` | networks, Binh Phuoc | 9212 | UTF-8 |
//! | `env_stations.csv` | X = northing, Y = easting | 9212 | UTF-8 |
//! | `formats/` | 50 parcels as DXF, KML, DGN, FileGDB, GPKG, CSV+WKT | 9212 / 4326 | UTF-8 |
//!
//! Names are real place names of the area; the administrative codes are sample codes.

#![deny(missing_docs)]

mod formats;
mod gdalio;
mod names;
mod network;
mod parcels;
mod region;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use gdal::vector::OGRwkbGeometryType;
use land::tables::{COMMUNES, MAP_SHEETS};

use self::gdalio::{Field, Geom, LayerSpec, LayerWriter, Text, Ty, Val};
use self::region::{Region, BINH_PHUOC, DONG_NAI, SHEET_QUADS, STEPS};

/// Errors of writing the sample. Every variant names the file it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// The file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// GDAL could not write the file.
    #[error("{path}: GDAL could not write it: {message}")]
    Gdal {
        /// The file.
        path: PathBuf,
        /// GDAL's message.
        message: String,
    },
    /// A generated value does not fit its field (text its legacy encoding cannot hold, an
    /// integer over 32 bits).
    #[error("{path}: feature {index}: {reason}")]
    Feature {
        /// The file.
        path: PathBuf,
        /// 0-based feature index.
        index: u64,
        /// Why.
        reason: String,
    },
    /// The number of parcels asked for is outside what the sample holds.
    #[error("{path}: cannot write {asked} sample parcels: the sample holds {min} to {max}")]
    ParcelCount {
        /// The output directory.
        path: PathBuf,
        /// Parcels asked for.
        asked: u64,
        /// [`SampleOptions::MIN_PARCELS`].
        min: u64,
        /// [`SampleOptions::MAX_PARCELS`].
        max: u64,
    },
}

impl SampleError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        SampleError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn gdal(path: &Path, e: gdal::errors::GdalError) -> Self {
        SampleError::Gdal {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// Province code after the 2025 merger (Dong Nai).
pub const PROVINCE_CODE: &str = "75";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Exact number of parcels over both regions, from [`SampleOptions::MIN_PARCELS`] to
    /// [`SampleOptions::MAX_PARCELS`].
    pub parcels: u64,
}

impl SampleOptions {
    /// Fewest parcels: every 4-quad unit of the 16 communes needs a road and one lot.
    pub const MIN_PARCELS: u64 = 512;
    /// Most parcels: keeps the Binh Phuoc DBF well under the 2 GB a DBF can address.
    pub const MAX_PARCELS: u64 = 5_000_000;
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            seed: 2025,
            parcels: 20_000,
        }
    }
}

/// Next year's delivery of the sample parcels ([`write_next_year`]): the same parcels with some
/// changed, some re-surveyed under new numbers and some no longer delivered. Which parcels is
/// a pure function of the seed and each parcel's identity.
#[derive(Debug, Clone, PartialEq)]
pub struct NextYear {
    /// Share of parcels changed: half of them in geometry (a vertex added at the middle of the
    /// longest edge: same shape, new digitisation), half in attributes (certificate flag).
    pub changed: f64,
    /// Share of parcels re-surveyed under a new number (+500,000): each is one removed and one
    /// new feature for an import.
    pub renumbered: f64,
    /// Share of parcels no longer delivered.
    pub dropped: f64,
    /// Only parcels of this (pre-merger) commune change; `None`: every commune.
    pub commune: Option<String>,
}

impl Default for NextYear {
    /// 1 % changed, 0.5 % new and 0.5 % gone (the renumbered ones).
    fn default() -> Self {
        NextYear {
            changed: 0.01,
            renumbered: 0.005,
            dropped: 0.0,
            commune: None,
        }
    }
}

/// What next year's delivery holds, as an import of it over this year's parcels must count it
/// (written beside the files as `parcels_next_year.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NextYearCounts {
    /// Parcels in the delivery.
    pub delivered: u64,
    /// Parcels whose geometry or attributes changed (`updated` in an import summary).
    pub changed: u64,
    /// … of which in geometry.
    pub changed_geometry: u64,
    /// … of which in attributes.
    pub changed_attributes: u64,
    /// Parcels new to the delivery (`inserted`).
    pub new: u64,
    /// This year's parcels the delivery no longer has (`deleted` by a replace,
    /// `not_delivered` by both modes).
    pub gone: u64,
    /// Parcels delivered as this year (`unchanged`).
    pub unchanged: u64,
}

/// The file [`write_next_year`] writes its counts to, inside its output directory.
pub const NEXT_YEAR_COUNTS_FILE: &str = "parcels_next_year.json";

/// Writes next year's delivery of the parcels of [`write_sample_with`] (same options) into
/// `out`: `parcels_binhphuoc.shp` and `parcels_dongnai.shp` as this year's, edited as `next`
/// says, and the exact counts in [`NEXT_YEAR_COUNTS_FILE`]. Writes no other layer.
pub fn write_next_year(
    out: &Path,
    opts: &SampleOptions,
    next: &NextYear,
) -> Result<NextYearCounts, SampleError> {
    check_parcel_count(out, opts)?;
    std::fs::create_dir_all(out).map_err(|e| SampleError::io(out, e))?;
    let mut counts = NextYearCounts::default();
    let mut files = Vec::new();
    parcels::write_edited(out, opts, &mut files, |p| {
        let edit = parcels::next_year_edit(opts.seed, next, p);
        match edit {
            parcels::Edit::Keep => counts.unchanged += 1,
            parcels::Edit::Geometry => counts.changed_geometry += 1,
            parcels::Edit::Attributes => counts.changed_attributes += 1,
            parcels::Edit::Renumber => {
                counts.new += 1;
                counts.gone += 1;
            }
            parcels::Edit::Drop => counts.gone += 1,
        }
        edit
    })?;
    counts.changed = counts.changed_geometry + counts.changed_attributes;
    counts.delivered = files.iter().map(|f| f.features).sum();
    let path = out.join(NEXT_YEAR_COUNTS_FILE);
    let text = serde_json::to_string_pretty(&counts).map_err(|e| {
        SampleError::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    std::fs::write(&path, text).map_err(|e| SampleError::io(&path, e))?;
    Ok(counts)
}

/// One layer written by [`write_sample_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleFile {
    /// The file (for a multi-layer GeoPackage, the `.gpkg`; for OpenFileGDB, the `.gdb` folder).
    pub path: PathBuf,
    /// Canonical layer kind: communes, map_sheets, parcels, roads, red_lines, building_lines,
    /// planning_zones, street_lights, traffic_lights, cameras, bus_stops, bus_routes,
    /// water_pipes, water_valves, water_meters, hydrants, water_sources, drains, manholes,
    /// power_lines, power_poles, substations, power_switches, power_customers or
    /// env_stations.
    pub layer: &'static str,
    /// The layer's name as GDAL reports it when reading the file.
    pub gdal_layer: String,
    /// Features in the layer.
    pub features: u64,
    /// EPSG code of the coordinates (also where the format cannot carry a CRS: DXF, DGN, CSV).
    pub srid: u32,
    /// Text encoding of attribute values: "utf8", "tcvn3" or "vni".
    pub encoding: &'static str,
    /// The same features as another sample file, in another format (for format tests): not
    /// imported by `bando sample --import`.
    pub copy: bool,
}

/// What `bando sample` wrote.
#[derive(Debug, Clone)]
pub struct SampleSet {
    /// The Binh Phuoc communes GeoPackage (layer `communes`, EPSG:9212).
    pub communes: PathBuf,
    /// Communes in [`SampleSet::communes`] (the Dong Nai ones are in `communes_dongnai.gpkg`).
    pub commune_count: usize,
    /// Every layer written, in writing order.
    pub files: Vec<SampleFile>,
    /// Parcels written over both parcel shapefiles.
    pub parcel_count: u64,
}

/// A small deterministic generator (SplitMix64): same seed, same data, no dependency.
#[derive(Debug, Clone)]
pub struct SampleRng(u64);

impl SampleRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SampleRng(seed)
    }

    /// The value for a lattice position, independent of call order.
    pub fn at(seed: u64, i: i64, j: i64) -> f64 {
        let mut r = SampleRng(
            seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
        );
        r.next_f64()
    }

    /// Next value in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Boundary of commune (col, row) of a region: it walks the shared lattice. The coordinates
/// are exactly those of the first version of this generator, which wrote `{:.3}` WKT.
fn commune_ring(region: &Region, seed: u64, col: i64, row: i64) -> Vec<(f64, f64)> {
    region.block_ring(seed, col * STEPS, row * STEPS, STEPS, STEPS)
}

const COMMUNE_FIELDS: &[Field] = &[
    Field::column(&COMMUNES, "legacy_code", Ty::Str(0)),
    Field::column(&COMMUNES, "legacy_name", Ty::Str(0)),
    Field::column(&COMMUNES, "legacy_district", Ty::Str(0)),
    Field::column(&COMMUNES, "code", Ty::Str(0)),
    Field::column(&COMMUNES, "name", Ty::Str(0)),
    Field::column(&COMMUNES, "province_code", Ty::Str(0)),
];

/// Writes a region's communes (layer `communes`) to `path`; returns how many.
fn write_communes(path: &Path, region: &Region, seed: u64) -> Result<u64, SampleError> {
    let srs = gdalio::srs(region.srid, path)?;
    let mut ds = gdalio::create("GPKG", path)?;
    let mut w = LayerWriter::create(
        &mut ds,
        path,
        LayerSpec {
            name: "communes",
            srs: Some(&srs),
            geom: OGRwkbGeometryType::wkbMultiPolygon,
            fields: COMMUNE_FIELDS,
            options: &[],
            text: Text::Utf8,
        },
    )?;
    for (idx, c) in region.communes.iter().enumerate() {
        let idx = idx as i64;
        let (col, row) = (idx % region.cols, idx / region.cols);
        debug_assert!(row < region.rows);
        let ring = commune_ring(region, seed, col, row);
        w.add(
            Geom::MultiPolygon(&ring),
            &[
                Val::S(c.code),
                Val::S(c.name),
                Val::S(c.district),
                Val::S(c.code_2025),
                Val::S(c.name_2025),
                Val::S(PROVINCE_CODE),
            ],
        )?;
    }
    let n = w.count();
    drop(w);
    ds.close().map_err(|e| SampleError::gdal(path, e))?;
    Ok(n)
}

const SHEET_FIELDS: &[Field] = &[
    Field::column(&MAP_SHEETS, "commune_code", Ty::Str(0)),
    Field::column(&MAP_SHEETS, "sheet_number", Ty::Int(0)),
    Field::column(&MAP_SHEETS, "scale", Ty::Int(0)),
];

/// Scale denominator of the sample cadastral sheets (urban 1:2000 maps).
const SHEET_SCALE: i64 = 2000;

/// Writes a region's map sheets: 2 × 2 per commune, each the outline of 4 × 4 quads, numbered
/// 1 (north-west), 2 (north-east), 3 (south-west), 4 (south-east), restarting per commune.
fn write_sheets(path: &Path, region: &Region, seed: u64) -> Result<u64, SampleError> {
    let srs = gdalio::srs(region.srid, path)?;
    let mut ds = gdalio::create("GPKG", path)?;
    let mut w = LayerWriter::create(
        &mut ds,
        path,
        LayerSpec {
            name: "map_sheets",
            srs: Some(&srs),
            geom: OGRwkbGeometryType::wkbPolygon,
            fields: SHEET_FIELDS,
            options: &[],
            text: Text::Utf8,
        },
    )?;
    for (idx, c) in region.communes.iter().enumerate() {
        let (ci, cj) = region.commune_origin(idx);
        for sheet in 0..4_i64 {
            let (sc, from_top) = (sheet % 2, sheet / 2);
            let (i0, j0) = (ci + sc * SHEET_QUADS, cj + (1 - from_top) * SHEET_QUADS);
            let ring = region.block_ring(seed, i0, j0, SHEET_QUADS, SHEET_QUADS);
            w.add(
                Geom::Polygon(&ring),
                &[Val::S(c.code), Val::I(sheet + 1), Val::I(SHEET_SCALE)],
            )?;
        }
    }
    let n = w.count();
    drop(w);
    ds.close().map_err(|e| SampleError::gdal(path, e))?;
    Ok(n)
}

/// Writes the sample set into `out` (created if missing) with the default number of parcels;
/// existing sample files are replaced.
pub fn write_sample(out: &Path, seed: u64) -> Result<SampleSet, SampleError> {
    write_sample_with(
        out,
        &SampleOptions {
            seed,
            ..SampleOptions::default()
        },
    )
}

fn check_parcel_count(out: &Path, opts: &SampleOptions) -> Result<(), SampleError> {
    let range = SampleOptions::MIN_PARCELS..=SampleOptions::MAX_PARCELS;
    if range.contains(&opts.parcels) {
        return Ok(());
    }
    Err(SampleError::ParcelCount {
        path: out.to_path_buf(),
        asked: opts.parcels,
        min: *range.start(),
        max: *range.end(),
    })
}

/// How large the sample's water network is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaterOptions {
    /// About how many water pipes (mains and branches split at every valve and tap, plus a
    /// service line per meter): meters are spaced along the streets to reach it (at least 4 m
    /// apart, so about 100,000 at most). `None`: a meter every 100 m (about 8,000 pipes).
    pub pipes: Option<u64>,
}

/// Writes the sample set into `out` (created if missing); existing sample files are replaced.
pub fn write_sample_with(out: &Path, opts: &SampleOptions) -> Result<SampleSet, SampleError> {
    write_sample_sized(out, opts, &WaterOptions::default())
}

/// [`write_sample_with`] with a water network of the size `water` asks for.
pub fn write_sample_sized(
    out: &Path,
    opts: &SampleOptions,
    water: &WaterOptions,
) -> Result<SampleSet, SampleError> {
    check_parcel_count(out, opts)?;
    debug_assert!(parcels::Plan::min_parcels() <= SampleOptions::MIN_PARCELS);
    std::fs::create_dir_all(out).map_err(|e| SampleError::io(out, e))?;
    let seed = opts.seed;
    let mut files = Vec::new();

    let communes = out.join("communes.gpkg");
    let mut commune_count = 0;
    for (region, file) in [
        (&BINH_PHUOC, "communes.gpkg"),
        (&DONG_NAI, "communes_dongnai.gpkg"),
    ] {
        let path = out.join(file);
        let n = write_communes(&path, region, seed)?;
        if region.key == BINH_PHUOC.key {
            commune_count = n as usize;
        }
        files.push(SampleFile {
            path,
            layer: "communes",
            gdal_layer: "communes".into(),
            features: n,
            srid: region.srid,
            encoding: Text::Utf8.name(),
            copy: false,
        });
    }
    for (region, file) in [
        (&BINH_PHUOC, "map_sheets.gpkg"),
        (&DONG_NAI, "map_sheets_dongnai.gpkg"),
    ] {
        let path = out.join(file);
        let n = write_sheets(&path, region, seed)?;
        files.push(SampleFile {
            path,
            layer: "map_sheets",
            gdal_layer: "map_sheets".into(),
            features: n,
            srid: region.srid,
            encoding: Text::Utf8.name(),
            copy: false,
        });
    }

    let first = parcels::write(out, opts, &mut files)?;
    let parcel_count = files
        .iter()
        .filter(|f| f.layer == "parcels")
        .map(|f| f.features)
        .sum();
    formats::write(out, &first, &mut files)?;
    network::write(out, seed, water.pipes, &mut files)?;

    Ok(SampleSet {
        communes,
        commune_count,
        files,
        parcel_count,
    })
}
