//! The TileJSON description of a layer's fields (`vector_layers`), which the server's
//! TileJSON and the offline packs' metadata both carry.

use gis_core::layer::{Access, Layer, PropertyKind};
use serde_json::{json, Value};

fn field_type(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::Integer | PropertyKind::Number => "Number",
        PropertyKind::Boolean => "Boolean",
        _ => "String",
    }
}

/// The TileJSON `vector_layers` entry of a layer (public properties only); MBTiles and PMTiles
/// packs carry the same.
pub fn vector_layer(layer: &dyn Layer) -> Value {
    let (min, max) = layer.zoom_range();
    let mut fields: serde_json::Map<String, Value> = layer
        .properties()
        .into_iter()
        .filter(|p| p.access == Access::Public)
        .map(|p| (p.name, Value::from(field_type(p.kind))))
        .collect();
    // Low-zoom features carry the generalised level's properties too.
    match layer.generalisation() {
        gis_core::layer::Generalisation::MinZoom => {}
        gis_core::layer::Generalisation::Overview(overview) => {
            for p in overview
                .properties
                .iter()
                .filter(|p| p.access == Access::Public)
            {
                fields.insert(p.name.clone(), Value::from(field_type(p.kind)));
            }
            fields.insert("generalised".into(), Value::from("Boolean"));
        }
        gis_core::layer::Generalisation::Cluster { .. } => {
            fields.insert("point_count".into(), Value::from("Number"));
            fields.insert("generalised".into(), Value::from("Boolean"));
        }
    }
    json!({
        "id": layer.id(), "description": layer.title_vi(), "minzoom": min, "maxzoom": max,
        "fields": fields,
    })
}
