//! Items as files for planners: GeoPackage (written through GDAL) and CSV (UTF-8 with a byte
//! order mark so that Excel shows Vietnamese, geometry as WKT).
//!
//! Both take a [`Page`] read with [`GeometryFormat::Wkt`](gis_core::features::GeometryFormat)
//! whose geometry is in x/y order (longitude or easting first) in `srid`.

use gis_core::features::Page;
use gis_core::layer::PropertyKind;
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

/// The page as CSV: `id`, the properties in order, then `wkt`.
pub fn csv(page: &Page) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let mut header = vec!["id".to_string()];
    header.extend(page.properties.iter().map(|p| csv_field(&p.name)));
    header.push("wkt".into());
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for f in &page.values() {
        let mut row = vec![cell(&f["id"])];
        for p in &page.properties {
            row.push(csv_field(&cell(&f["properties"][&p.name])));
        }
        row.push(csv_field(&cell(&f["geometry"])));
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The page as a GeoPackage with one layer named `layer` in EPSG:`srid`. Blocking (GDAL): call
/// from `spawn_blocking`.
pub fn gpkg(page: &Page, layer: &str, srid: u32) -> Result<Vec<u8>, DownloadError> {
    use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
    use gdal::vector::{
        Feature, FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
    };

    let path = std::env::temp_dir().join(format!("bando-{}.gpkg", uuid::Uuid::new_v4()));
    // Removes the file however this function ends.
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _cleanup = Cleanup(path.clone());
    {
        let driver = gdal::DriverManager::get_driver_by_name("GPKG")?;
        let mut ds = driver.create_vector_only(&path)?;
        let mut srs = SpatialRef::from_epsg(srid)?;
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let mut tx = ds.start_transaction()?;
        let lyr = tx.create_layer(LayerOptions {
            name: layer,
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbUnknown,
            options: None,
        })?;
        for p in &page.properties {
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
        let idx: Vec<usize> = page
            .properties
            .iter()
            .map(|p| defn.field_index(&p.name))
            .collect::<Result<_, _>>()?;
        let id_idx = defn.field_index("bando_id")?;
        for f in &page.values() {
            let mut feature = Feature::new(defn)?;
            if let Some(id) = f["id"].as_i64() {
                feature.set_field_integer64(id_idx, id)?;
            }
            for (p, i) in page.properties.iter().zip(&idx) {
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
        tx.commit()?;
        ds.close()?;
    }
    Ok(std::fs::read(&path)?)
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
