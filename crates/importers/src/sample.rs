//! The deterministic sample data set (`bando sample`): small, realistic-looking Binh Phuoc data
//! written as real files through GDAL, so that the demo and the tests exercise the same import
//! path as real deliveries.
//!
//! Today it writes the communes: a 4 × 3 block of pre-merger units around Đồng Xoài in
//! EPSG:9212, each with the post-merger unit it now belongs to. Boundaries follow a shared,
//! jittered vertex lattice, so neighbours share their edges exactly: no gaps, no overlaps.
//! Names are real place names of the area; the codes are sample codes, not official ones.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;

use crate::ImportError;

/// Sample communes: (pre-merger code, pre-merger name, district, post-merger code, post-merger name).
const COMMUNES: [(&str, &str, &str, &str, &str); 12] = [
    (
        "25195",
        "Phường Tân Phú",
        "Thành phố Đồng Xoài",
        "25200",
        "Phường Đồng Xoài",
    ),
    (
        "25198",
        "Phường Tân Đồng",
        "Thành phố Đồng Xoài",
        "25200",
        "Phường Đồng Xoài",
    ),
    (
        "25201",
        "Phường Tân Bình",
        "Thành phố Đồng Xoài",
        "25200",
        "Phường Đồng Xoài",
    ),
    (
        "25204",
        "Phường Tân Xuân",
        "Thành phố Đồng Xoài",
        "25210",
        "Phường Bình Phước",
    ),
    (
        "25207",
        "Phường Tân Thiện",
        "Thành phố Đồng Xoài",
        "25210",
        "Phường Bình Phước",
    ),
    (
        "25210",
        "Xã Tân Thành",
        "Thành phố Đồng Xoài",
        "25210",
        "Phường Bình Phước",
    ),
    (
        "25213",
        "Xã Tiến Thành",
        "Thành phố Đồng Xoài",
        "25220",
        "Xã Tiến Hưng",
    ),
    (
        "25216",
        "Xã Tiến Hưng",
        "Thành phố Đồng Xoài",
        "25220",
        "Xã Tiến Hưng",
    ),
    (
        "25219",
        "Xã Thuận Lợi",
        "Huyện Đồng Phú",
        "25230",
        "Xã Đồng Phú",
    ),
    (
        "25222",
        "Xã Tân Lập",
        "Huyện Đồng Phú",
        "25230",
        "Xã Đồng Phú",
    ),
    (
        "25225",
        "Xã Tân Hưng",
        "Huyện Đồng Phú",
        "25230",
        "Xã Đồng Phú",
    ),
    (
        "25228",
        "Xã Tân Tiến",
        "Huyện Đồng Phú",
        "25220",
        "Xã Tiến Hưng",
    ),
];

/// Province code after the 2025 merger (Dong Nai).
pub const PROVINCE_CODE: &str = "75";

/// What `bando sample` wrote.
#[derive(Debug, Clone)]
pub struct SampleSet {
    /// The communes GeoPackage (layer `communes`, EPSG:9212).
    pub communes: PathBuf,
    /// Number of communes written.
    pub commune_count: usize,
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

const COLS: i64 = 4;
const ROWS: i64 = 3;
const CELL_M: f64 = 4000.0;
const STEPS: i64 = 8; // lattice points per cell edge
const ORIGIN_E: f64 = 560_000.0;
const ORIGIN_N: f64 = 1_268_000.0;
const JITTER_M: f64 = 120.0;

/// The lattice point (i, j) in EPSG:9212 metres, jittered except on the outer frame's corners.
fn lattice(seed: u64, i: i64, j: i64) -> (f64, f64) {
    let step = CELL_M / STEPS as f64;
    let e = ORIGIN_E + i as f64 * step + (SampleRng::at(seed, i, j) - 0.5) * 2.0 * JITTER_M;
    let n =
        ORIGIN_N + j as f64 * step + (SampleRng::at(seed ^ 0xA5A5, i, j) - 0.5) * 2.0 * JITTER_M;
    (e, n)
}

/// WKT of the commune cell (col, row): its boundary walks the shared lattice.
fn cell_wkt(seed: u64, col: i64, row: i64) -> String {
    let (i0, j0) = (col * STEPS, row * STEPS);
    let (i1, j1) = (i0 + STEPS, j0 + STEPS);
    let mut ring = Vec::new();
    ring.extend((i0..i1).map(|i| (i, j0)));
    ring.extend((j0..j1).map(|j| (i1, j)));
    ring.extend((i0 + 1..=i1).rev().map(|i| (i, j1)));
    ring.extend((j0 + 1..=j1).rev().map(|j| (i0, j)));
    ring.push((i0, j0));
    let coords: Vec<String> = ring
        .into_iter()
        .map(|(i, j)| {
            let (e, n) = lattice(seed, i, j);
            format!("{e:.3} {n:.3}")
        })
        .collect();
    format!("MULTIPOLYGON((({})))", coords.join(", "))
}

/// Writes the sample set into `out` (created if missing); existing sample files are replaced.
pub fn write_sample(out: &Path, seed: u64) -> Result<SampleSet, ImportError> {
    std::fs::create_dir_all(out).map_err(|e| ImportError::io(out, e))?;
    let communes = out.join("communes.gpkg");
    if communes.exists() {
        std::fs::remove_file(&communes).map_err(|e| ImportError::io(&communes, e))?;
    }
    let gdal_err = |e: gdal::errors::GdalError| ImportError::gdal(&communes, e);
    let driver = DriverManager::get_driver_by_name("GPKG").map_err(gdal_err)?;
    let mut ds = driver.create_vector_only(&communes).map_err(gdal_err)?;
    let srs = SpatialRef::from_epsg(gis_core::crs::VN2000_TM3_106_15).map_err(gdal_err)?;
    let layer = ds
        .create_layer(LayerOptions {
            name: "communes",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbMultiPolygon,
            options: None,
        })
        .map_err(gdal_err)?;
    let fields = [
        ("MAXA", OGRFieldType::OFTString),
        ("TENXA", OGRFieldType::OFTString),
        ("HUYEN", OGRFieldType::OFTString),
        ("MAXA_2025", OGRFieldType::OFTString),
        ("TENXA_2025", OGRFieldType::OFTString),
        ("MATINH", OGRFieldType::OFTString),
    ];
    layer.create_defn_fields(&fields).map_err(gdal_err)?;
    for (idx, (legacy_code, legacy_name, district, code, name)) in COMMUNES.iter().enumerate() {
        let idx = idx as i64;
        let (col, row) = (idx % COLS, idx / COLS);
        debug_assert!(row < ROWS);
        let geom = Geometry::from_wkt(&cell_wkt(seed, col, row)).map_err(gdal_err)?;
        let mut feature = Feature::new(layer.defn()).map_err(gdal_err)?;
        let values = [
            legacy_code,
            legacy_name,
            district,
            code,
            name,
            &PROVINCE_CODE,
        ];
        for ((field, _), value) in fields.iter().zip(values) {
            let i = feature.field_index(field).map_err(gdal_err)?;
            feature
                .set_field(i, &FieldValue::StringValue((*value).to_string()))
                .map_err(gdal_err)?;
        }
        feature.set_geometry(geom).map_err(gdal_err)?;
        feature.create(&layer).map_err(gdal_err)?;
    }
    ds.close().map_err(gdal_err)?;
    Ok(SampleSet {
        communes,
        commune_count: COMMUNES.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let a: Vec<f64> = (0..100).map(|i| SampleRng::at(7, i, 3)).collect();
        let b: Vec<f64> = (0..100).map(|i| SampleRng::at(7, i, 3)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (0.0..1.0).contains(v)));
        assert_ne!(SampleRng::at(7, 1, 2), SampleRng::at(8, 1, 2));
    }

    #[test]
    fn neighbours_share_their_edge() {
        // The right edge of cell (0,0) is the left edge of cell (1,0), point for point.
        let left = cell_wkt(1, 0, 0);
        let right = cell_wkt(1, 1, 0);
        let (e, n) = lattice(1, STEPS, 3);
        let p = format!("{e:.3} {n:.3}");
        assert!(left.contains(&p) && right.contains(&p));
    }
}
