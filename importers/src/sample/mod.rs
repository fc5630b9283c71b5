//! The deterministic sample data set (`bando sample`): realistic-looking Binh Phuoc and Dong Nai
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
//! | `roads`, `red_lines`, `building_lines`, `planning_zones` `.gpkg` | `<kind>`, Binh Phuoc | 9212 | UTF-8 |
//! | the same with `_dongnai.gpkg` | `<kind>`, Dong Nai | 5899 | UTF-8 |
//! | `street_lights.shp` | Binh Phuoc | 9212 (.prj) | VNI, no .cpg |
//! | `traffic_lights`, `cameras`, `bus_stops`, `bus_routes` `.geojson` | both regions | 4326 | UTF-8 |
//! | `water.gpkg`, `drains.gpkg`, `power.gpkg` | networks, Binh Phuoc | 9212 | UTF-8 |
//! | `env_stations.csv` | X = northing, Y = easting | 9212 | UTF-8 |
//! | `formats/` | 50 parcels as DXF, KML, DGN, FileGDB, GPKG, CSV+WKT | 9212 / 4326 | UTF-8 |
//!
//! Names are real place names of the area; the administrative codes are sample codes.

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

use self::gdalio::{f, Field, Geom, LayerSpec, LayerWriter, Text, Ty, Val};
use self::region::{Region, BINH_PHUOC, DONG_NAI, SHEET_QUADS, STEPS};
use crate::ImportError;

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

/// One layer written by [`write_sample_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleFile {
    /// The file (for a multi-layer GeoPackage, the `.gpkg`; for OpenFileGDB, the `.gdb` folder).
    pub path: PathBuf,
    /// Canonical layer kind: communes, map_sheets, parcels, roads, red_lines, building_lines,
    /// planning_zones, street_lights, traffic_lights, cameras, bus_stops, bus_routes,
    /// water_pipes, water_valves, water_meters, hydrants, drains, manholes, power_lines,
    /// power_poles, substations or env_stations.
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
    f("MAXA", Ty::Str(0)),
    f("TENXA", Ty::Str(0)),
    f("HUYEN", Ty::Str(0)),
    f("MAXA_2025", Ty::Str(0)),
    f("TENXA_2025", Ty::Str(0)),
    f("MATINH", Ty::Str(0)),
];

/// Writes a region's communes (layer `communes`) to `path`; returns how many.
fn write_communes(path: &Path, region: &Region, seed: u64) -> Result<u64, ImportError> {
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
    ds.close().map_err(|e| ImportError::gdal(path, e))?;
    Ok(n)
}

const SHEET_FIELDS: &[Field] = &[
    f("MAXA", Ty::Str(0)),
    f("SHBANDO", Ty::Int(0)),
    f("TYLE", Ty::Int(0)),
];

/// Scale denominator of the sample cadastral sheets (urban 1:2000 maps).
const SHEET_SCALE: i64 = 2000;

/// Writes a region's map sheets: 2 × 2 per commune, each the outline of 4 × 4 quads, numbered
/// 1 (north-west), 2 (north-east), 3 (south-west), 4 (south-east), restarting per commune.
fn write_sheets(path: &Path, region: &Region, seed: u64) -> Result<u64, ImportError> {
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
    ds.close().map_err(|e| ImportError::gdal(path, e))?;
    Ok(n)
}

/// Writes the sample set into `out` (created if missing) with the default number of parcels;
/// existing sample files are replaced.
pub fn write_sample(out: &Path, seed: u64) -> Result<SampleSet, ImportError> {
    write_sample_with(
        out,
        &SampleOptions {
            seed,
            ..SampleOptions::default()
        },
    )
}

/// Writes the sample set into `out` (created if missing); existing sample files are replaced.
pub fn write_sample_with(out: &Path, opts: &SampleOptions) -> Result<SampleSet, ImportError> {
    let range = SampleOptions::MIN_PARCELS..=SampleOptions::MAX_PARCELS;
    if !range.contains(&opts.parcels) {
        return Err(ImportError::Io {
            path: out.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "cannot write {} sample parcels: the sample holds {} to {}",
                    opts.parcels,
                    range.start(),
                    range.end()
                ),
            ),
        });
    }
    debug_assert!(parcels::Plan::min_parcels() <= SampleOptions::MIN_PARCELS);
    std::fs::create_dir_all(out).map_err(|e| ImportError::io(out, e))?;
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
    network::write(out, seed, &mut files)?;

    Ok(SampleSet {
        communes,
        commune_count,
        files,
        parcel_count,
    })
}
