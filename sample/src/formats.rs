//! Small parcel samples in other formats, for the importers' format tests: the first Binh Phuoc
//! parcels as RFC 7946 GeoJSON, and 50 of them in each of DXF, KML, DGN v7, OpenFileGDB,
//! GeoPackage and CSV with WKT geometry (`formats/`).

use std::path::Path;

use gdal::vector::OGRwkbGeometryType;

use super::gdalio::{self, Geom, LayerSpec, LayerWriter, Text};
use super::parcels::{Parcel, PARCEL_FIELDS};
use super::region::BINH_PHUOC;
use super::SampleFile;
use crate::SampleError;

/// Parcels in each `formats/` file.
pub(super) const FORMAT_PARCELS: usize = 50;

/// One output format.
struct Format {
    driver: &'static str,
    file: &'static str,
    /// The layer name GDAL reports when reading the file back (DXF and DGN have fixed names).
    read_as: &'static str,
    /// False where the driver has a fixed schema (DXF, DGN): no attribute fields.
    fields: bool,
    wgs84: bool,
    /// False where the driver cannot store a CRS.
    crs: bool,
    /// Layer creation options.
    options: &'static [&'static str],
    /// Dataset creation options.
    dataset: &'static [&'static str],
}

const FORMATS: [Format; 6] = [
    Format {
        driver: "DXF",
        file: "parcels.dxf",
        read_as: "entities",
        fields: false,
        wgs84: false,
        crs: false,
        options: &[],
        dataset: &[],
    },
    Format {
        driver: "KML",
        file: "parcels.kml",
        read_as: "parcels",
        fields: true,
        wgs84: true,
        crs: true,
        options: &[],
        dataset: &[],
    },
    Format {
        driver: "DGN",
        file: "parcels.dgn",
        read_as: "elements",
        fields: false,
        wgs84: false,
        crs: false,
        options: &[],
        // DGN v7 stores 32-bit integer "units of resolution": with the seed file's default
        // (1 cm, origin far off) TM-3 coordinates lose precision; 1 UOR = 1 mm from origin
        // 0,0 keeps them (GDAL truncates, so a coordinate may read back 1 mm low).
        dataset: &[
            "UOR_PER_SUB_UNIT=1",
            "SUB_UNITS_PER_MASTER_UNIT=1000",
            "MASTER_UNIT_NAME=m",
            "SUB_UNIT_NAME=mm",
            "ORIGIN=0,0,0",
        ],
    },
    Format {
        driver: "OpenFileGDB",
        file: "parcels.gdb",
        read_as: "parcels",
        fields: true,
        wgs84: false,
        crs: true,
        options: &[],
        dataset: &[],
    },
    Format {
        driver: "GPKG",
        file: "parcels.gpkg",
        read_as: "parcels",
        fields: true,
        wgs84: false,
        crs: true,
        options: &[],
        dataset: &[],
    },
    Format {
        driver: "CSV",
        file: "parcels_wkt.csv",
        read_as: "parcels_wkt",
        fields: true,
        wgs84: false,
        crs: false,
        options: &["GEOMETRY=AS_WKT"],
        dataset: &[],
    },
];

/// Writes one layer of `parcels` to a new file with `driver`; returns the feature count.
fn write_one(
    path: &Path,
    driver: &str,
    name: &str,
    fmt: (bool, bool, bool, &[&str], &[&str]),
    parcels: &[Parcel],
) -> Result<u64, SampleError> {
    let (fields, wgs84, crs, options, dataset) = fmt;
    let srid = if wgs84 {
        gis_core::crs::WGS84
    } else {
        BINH_PHUOC.srid
    };
    let srs = gdalio::srs(srid, path)?;
    let transform = if wgs84 {
        Some(gdalio::to_wgs84(BINH_PHUOC.srid, path)?)
    } else {
        None
    };
    let mut ds = gdalio::create_with(driver, path, dataset)?;
    let mut w = LayerWriter::create(
        &mut ds,
        path,
        LayerSpec {
            name,
            srs: crs.then_some(&srs),
            geom: OGRwkbGeometryType::wkbPolygon,
            fields: if fields { PARCEL_FIELDS } else { &[] },
            options,
            text: Text::Utf8,
        },
    )?;
    for p in parcels {
        let values = p.values();
        let vals = if fields { &values[..] } else { &[] };
        match &transform {
            Some(t) => w.add_transformed(Geom::Polygon(&p.ring), vals, t)?,
            None => w.add(Geom::Polygon(&p.ring), vals)?,
        }
    }
    let n = w.count();
    drop(w);
    ds.close().map_err(|e| SampleError::gdal(path, e))?;
    Ok(n)
}

/// Writes `parcels_sample.geojson` and the `formats/` folder from the first Binh Phuoc parcels.
pub(super) fn write(
    out: &Path,
    parcels: &[Parcel],
    files: &mut Vec<SampleFile>,
) -> Result<(), SampleError> {
    let path = out.join("parcels_sample.geojson");
    let n = write_one(
        &path,
        "GeoJSON",
        "parcels_sample",
        (true, true, true, &["RFC7946=YES"], &[]),
        parcels,
    )?;
    files.push(SampleFile {
        path,
        layer: "parcels",
        gdal_layer: "parcels_sample".into(),
        features: n,
        srid: gis_core::crs::WGS84,
        encoding: Text::Utf8.name(),
        copy: true,
    });

    let dir = out.join("formats");
    std::fs::create_dir_all(&dir).map_err(|e| SampleError::io(&dir, e))?;
    let some = &parcels[..FORMAT_PARCELS.min(parcels.len())];
    for fmt in &FORMATS {
        let path = dir.join(fmt.file);
        let name = fmt.file.split('.').next().unwrap_or(fmt.file);
        let n = write_one(
            &path,
            fmt.driver,
            name,
            (fmt.fields, fmt.wgs84, fmt.crs, fmt.options, fmt.dataset),
            some,
        )?;
        files.push(SampleFile {
            path,
            layer: "parcels",
            gdal_layer: fmt.read_as.into(),
            features: n,
            srid: if fmt.wgs84 {
                gis_core::crs::WGS84
            } else {
                BINH_PHUOC.srid
            },
            encoding: Text::Utf8.name(),
            copy: true,
        });
    }
    Ok(())
}
