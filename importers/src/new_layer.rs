//! A layer made from a file's own schema (`bando import FILE --new-layer ID --sector S`): its
//! fields become typed columns read from those fields, its geometry type the layer's. The
//! definition is stored by [`layers::added::save`], which makes the table; the import then runs
//! as into any layer.

use std::path::Path;

use gdal::vector::{LayerAccess, OGRFieldType, OGRwkbGeometryType};
use gis_core::feature::ColumnType;
use gis_core::layer::GeometryKind;
use layers::added::{column_name, AddedColumn, AddedLayer};

use crate::ImportError;

/// What the command line says about the new layer.
#[derive(Debug, Clone, Default)]
pub struct NewLayer {
    /// Layer id.
    pub id: String,
    /// Sector id.
    pub sector: String,
    /// Vietnamese title (default: the id).
    pub title: Option<String>,
    /// English title.
    pub title_en: Option<String>,
    /// Geometry type when the file does not say (e.g. a GeoJSON of mixed geometry).
    pub geometry: Option<GeometryKind>,
    /// Columns holding personal data.
    pub restricted: Vec<String>,
}

/// The geometry type a `--geometry-type` names: point, line or polygon (multi or not).
pub fn parse_geometry(text: &str) -> Result<GeometryKind, String> {
    match text.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "point" | "multipoint" => Ok(GeometryKind::Point),
        "line" | "linestring" | "multilinestring" => Ok(GeometryKind::MultiLineString),
        "polygon" | "multipolygon" => Ok(GeometryKind::MultiPolygon),
        other => Err(format!(
            "\"{other}\" is not a geometry type: use point, line or polygon"
        )),
    }
}

fn kind_of(t: OGRwkbGeometryType::Type) -> Option<GeometryKind> {
    // Drop the Z/M flags GDAL adds (2.5D and ISO codes).
    let flat = flatten_type(t);
    match flat {
        OGRwkbGeometryType::wkbPoint | OGRwkbGeometryType::wkbMultiPoint => {
            Some(GeometryKind::Point)
        }
        OGRwkbGeometryType::wkbLineString | OGRwkbGeometryType::wkbMultiLineString => {
            Some(GeometryKind::MultiLineString)
        }
        OGRwkbGeometryType::wkbPolygon | OGRwkbGeometryType::wkbMultiPolygon => {
            Some(GeometryKind::MultiPolygon)
        }
        _ => None,
    }
}

/// The 2D type of an OGR geometry type code (ISO 1000/2000/3000 offsets and the 2.5D bit).
fn flatten_type(t: OGRwkbGeometryType::Type) -> OGRwkbGeometryType::Type {
    let t = t & 0x7fff_ffff;
    t % 1000
}

fn column_type(t: OGRFieldType::Type) -> ColumnType {
    match t {
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => ColumnType::Integer,
        OGRFieldType::OFTReal => ColumnType::Double,
        OGRFieldType::OFTDate => ColumnType::Date,
        _ => ColumnType::Text,
    }
}

/// The definition of a layer holding what `path` holds (its first layer).
pub fn definition_from_file(path: &Path, new: &NewLayer) -> Result<AddedLayer, ImportError> {
    let gdal_path = path.to_string_lossy().to_string();
    let ds = crate::pipeline::open(&gdal_path, path, &crate::pipeline::open_options_for(path))?;
    let layer = ds.layer(0).map_err(|e| ImportError::gdal(path, e))?;
    let geometry = match new.geometry {
        Some(g) => g,
        None => kind_of(layer.defn().geom_fields().next().map(|f| f.field_type()).unwrap_or(0))
            .ok_or_else(|| ImportError::Rejected {
                path: path.to_path_buf(),
                reason: "the file does not say whether it holds points, lines or polygons: give --geometry-type point|line|polygon".into(),
            })?,
    };
    let mut columns: Vec<AddedColumn> = Vec::new();
    for field in layer.defn().fields() {
        let field_name = field.name();
        let mut name = column_name(&field_name);
        while columns.iter().any(|c| c.name == name) {
            name.push('_');
        }
        columns.push(AddedColumn {
            name,
            ty: column_type(field.field_type()),
            field: Some(field_name.clone()),
            title_vi: field_name.clone(),
            title_en: field_name,
            restricted: false,
        });
    }
    for r in &new.restricted {
        match columns
            .iter_mut()
            .find(|c| &c.name == r || c.field.as_deref() == Some(r))
        {
            Some(c) => c.restricted = true,
            None => {
                return Err(ImportError::Rejected {
                    path: path.to_path_buf(),
                    reason: format!(
                        "--restricted {r}: the file has no such field (its fields: {})",
                        columns
                            .iter()
                            .filter_map(|c| c.field.as_deref())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
        }
    }
    let title = new.title.clone().unwrap_or_else(|| new.id.clone());
    let layer = AddedLayer {
        id: new.id.clone(),
        sector: new.sector.clone(),
        title_en: new.title_en.clone().unwrap_or_else(|| title.clone()),
        title_vi: title,
        geometry,
        columns,
        zoom: if geometry == GeometryKind::Point {
            (14, 20)
        } else {
            (10, 20)
        },
        color: "#3182bd".into(),
        visible: false,
        cache_max_age: 300,
    };
    layer.validate().map_err(|e| ImportError::Rejected {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_types_parse_and_flatten() {
        assert_eq!(parse_geometry("Point"), Ok(GeometryKind::Point));
        assert_eq!(
            parse_geometry("multi-polygon"),
            Ok(GeometryKind::MultiPolygon)
        );
        assert!(parse_geometry("raster").is_err());
        assert_eq!(
            kind_of(OGRwkbGeometryType::wkbPoint25D),
            Some(GeometryKind::Point)
        );
        assert_eq!(
            kind_of(3003),
            Some(GeometryKind::MultiPolygon),
            "ISO PolygonZM"
        );
        assert_eq!(kind_of(OGRwkbGeometryType::wkbUnknown), None);
    }
}
