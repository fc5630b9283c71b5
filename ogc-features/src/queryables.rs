//! Queryables (OGC API – Features Part 3): the JSON Schema of what a collection can be
//! filtered on — `id`, `updated_at`, the geometry and every property a public reader sees,
//! each titled in Vietnamese and English from the layer's declaration.

use gis_core::features::{visible_properties, GEOMETRY_QUERYABLE};
use gis_core::layer::{Access, Layer, PropertyKind};
use serde_json::{json, Map, Value};

/// The JSON Schema of a property of `kind` (also the OpenAPI schema of its equality filter).
pub fn property_schema(kind: PropertyKind) -> Value {
    match kind {
        PropertyKind::String => json!({"type": "string"}),
        PropertyKind::Integer => json!({"type": "integer"}),
        PropertyKind::Number => json!({"type": "number"}),
        PropertyKind::Boolean => json!({"type": "boolean"}),
        PropertyKind::Date => json!({"type": "string", "format": "date"}),
        PropertyKind::DateTime => json!({"type": "string", "format": "date-time"}),
    }
}

/// The queryables of `layer` for a public reader, by name, each a titled JSON Schema.
pub fn properties(layer: &dyn Layer, access: Access) -> Map<String, Value> {
    let mut props = Map::new();
    props.insert(
        "id".into(),
        json!({"title": "Mã đối tượng (Feature id)", "type": "integer"}),
    );
    let geom_format = match layer.geometry_kind().as_str() {
        "Point" => "geometry-point",
        "LineString" => "geometry-linestring",
        "Polygon" => "geometry-polygon",
        "MultiPoint" => "geometry-multipoint",
        "MultiLineString" => "geometry-multilinestring",
        _ => "geometry-multipolygon",
    };
    props.insert(
        "updated_at".into(),
        json!({"title": "Cập nhật lúc (Updated at)", "type": "string", "format": "date-time"}),
    );
    props.insert(
        GEOMETRY_QUERYABLE.into(),
        json!({"title": "Hình học (Geometry)", "format": geom_format, "x-ogc-role": "primary-geometry"}),
    );
    for p in visible_properties(layer, access) {
        let mut schema = property_schema(p.kind);
        schema["title"] = json!(format!("{} ({})", p.title_vi, p.title_en));
        props.insert(p.name.clone(), schema);
    }
    props
}

/// The queryables document of collection `id` served at `base`: a JSON Schema (draft
/// 2020-12) with `properties` (from [`properties`]) and no others allowed.
pub fn schema(base: &str, id: &str, layer: &dyn Layer, properties: Map<String, Value>) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{base}/collections/{id}/queryables"),
        "type": "object",
        "title": layer.title_vi(),
        "properties": properties,
        "additionalProperties": false,
    })
}
