//! Items as files for planners: GeoPackage (written through GDAL) and CSV (UTF-8 with a byte
//! order mark so that Excel shows Vietnamese, geometry as WKT).
//!
//! Both take features read with [`GeometryFormat::Wkt`](gis_core::features::GeometryFormat)
//! whose geometry is in x/y order (longitude or easting first) in `srid`, batch by batch as a
//! download streams them ([`csv_header`] + [`csv_rows`], [`write_gpkg`] into a [`GpkgFile`]).

use gis_core::layer::{PropertyDef, PropertyKind};
use serde_json::value::RawValue;
use serde_json::Value;

/// Why a download could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// GDAL refused something.
    #[error("writing the GeoPackage: {0}")]
    Gdal(#[from] gdal::errors::GdalError),
    /// The temporary file.
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        // Text that a spreadsheet would read as a formula (the BOM is there so Excel opens the
        // file) is written with a leading apostrophe, as OWASP advises; numbers stay numbers.
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The start of a CSV download: the byte order mark and the header (`id`, the properties in
/// order, `wkt`).
pub fn csv_header(properties: &[PropertyDef]) -> String {
    let mut header = vec!["id".to_string()];
    header.extend(properties.iter().map(|p| csv_field(&p.name)));
    header.push("wkt".into());
    format!("\u{feff}{}\r\n", header.join(","))
}

/// Features (GeoJSON with WKT geometry, as PostgreSQL wrote them) as CSV rows.
pub fn csv_rows(properties: &[PropertyDef], features: &[Box<RawValue>]) -> String {
    let mut out = String::new();
    for f in features {
        let f: Value = serde_json::from_str(f.get()).unwrap_or(Value::Null);
        let mut row = vec![cell(&f["id"])];
        for p in properties {
            row.push(csv_field(&cell(&f["properties"][&p.name])));
        }
        row.push(csv_field(&cell(&f["geometry"])));
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A temporary GeoPackage's path, the file removed when this is dropped (however a download
/// ends: written, failed, or its client gone).
#[derive(Debug)]
pub struct GpkgFile(std::path::PathBuf);

impl GpkgFile {
    /// A new name in the temporary directory (nothing created yet).
    pub fn new() -> Self {
        GpkgFile(std::env::temp_dir().join(format!("bando-{}.gpkg", uuid::Uuid::new_v4())))
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Default for GpkgFile {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for GpkgFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes the features of `batches` (GeoJSON with WKT geometry, as PostgreSQL wrote them) as
/// a GeoPackage at `path` with one layer named `layer` in EPSG:`srid`, one batch at a time
/// (the batches are not held). Stops at the first batch the iterator does not give. Blocking
/// (GDAL): call from `spawn_blocking`.
pub fn write_gpkg(
    path: &std::path::Path,
    batches: impl IntoIterator<Item = Vec<Box<RawValue>>>,
    properties: &[PropertyDef],
    layer: &str,
    srid: u32,
) -> Result<(), DownloadError> {
    use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
    use gdal::vector::{
        Feature, FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
    };

    let driver = gdal::DriverManager::get_driver_by_name("GPKG")?;
    let mut ds = driver.create_vector_only(path)?;
    let mut srs = SpatialRef::from_epsg(srid)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut tx = ds.start_transaction()?;
    let lyr = tx.create_layer(LayerOptions {
        name: layer,
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbUnknown,
        options: None,
    })?;
    for p in properties {
        let ty = match p.kind {
            PropertyKind::String => OGRFieldType::OFTString,
            PropertyKind::Integer => OGRFieldType::OFTInteger64,
            PropertyKind::Number => OGRFieldType::OFTReal,
            PropertyKind::Boolean => OGRFieldType::OFTInteger,
            PropertyKind::Date => OGRFieldType::OFTDate,
            PropertyKind::DateTime => OGRFieldType::OFTDateTime,
        };
        // Booleans are written as 0/1 integers.
        FieldDefn::new(&p.name, ty)?.add_to_layer(&lyr)?;
    }
    FieldDefn::new("bando_id", OGRFieldType::OFTInteger64)?.add_to_layer(&lyr)?;
    let defn = lyr.defn();
    let idx: Vec<usize> = properties
        .iter()
        .map(|p| defn.field_index(&p.name))
        .collect::<Result<_, _>>()?;
    let id_idx = defn.field_index("bando_id")?;
    for batch in batches {
        for f in &batch {
            let f: Value = serde_json::from_str(f.get()).unwrap_or(Value::Null);
            let mut feature = Feature::new(defn)?;
            if let Some(id) = f["id"].as_i64() {
                feature.set_field_integer64(id_idx, id)?;
            }
            for (p, i) in properties.iter().zip(&idx) {
                match &f["properties"][&p.name] {
                    Value::Null => feature.set_field_null(*i)?,
                    Value::Bool(b) => feature.set_field_integer(*i, i32::from(*b))?,
                    Value::Number(n) => match (p.kind, n.as_i64()) {
                        (PropertyKind::Integer, Some(v)) => feature.set_field_integer64(*i, v)?,
                        _ => feature.set_field_double(*i, n.as_f64().unwrap_or(f64::NAN))?,
                    },
                    Value::String(s) => feature.set_field_string(*i, s)?,
                    other => feature.set_field_string(*i, &other.to_string())?,
                }
            }
            if let Some(wkt) = f["geometry"].as_str() {
                feature.set_geometry(Geometry::from_wkt(wkt)?)?;
            }
            feature.create(&lyr)?;
        }
    }
    tx.commit()?;
    ds.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_field("Phường"), "Phường");
    }

    #[test]
    fn text_a_spreadsheet_would_run_is_neutralised_and_numbers_are_not() {
        use serde_json::json;
        assert_eq!(
            super::cell(&json!("=HYPERLINK(\"x\")")),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(super::cell(&json!("@SUM(A1)")), "'@SUM(A1)");
        assert_eq!(super::cell(&json!("-1+2")), "'-1+2");
        assert_eq!(super::cell(&json!(-12.5)), "-12.5");
        assert_eq!(super::cell(&json!("Thửa 12")), "Thửa 12");
    }
}
