//! The service description: an OpenAPI 3.0 document (written by hand as JSON, so that it says
//! exactly what the handlers accept and return), served by `tile-server` at `/api` and listed
//! as HTML at `/api.html`, and the landing page's OGC API Common JSON.

use gis_core::features::{visible_properties, DEFAULT_LIMIT, MAX_DOWNLOAD, MAX_LIMIT};
use gis_core::layer::{Access, Layer, LayerRegistry};
use serde_json::{json, Map, Value};

/// Media type of the OpenAPI document.
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";

fn problem_responses() -> Value {
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    json!({
        "400": {"description": "A parameter is malformed or unknown; `detail` says which and why.", "content": problem},
        "404": {"description": "No such collection or feature.", "content": problem},
        "500": {"description": "Internal error; quote `request_id`.", "content": problem},
        "429": {"description": "Too many requests from this client: items, single features and `/query` are limited per client (requests in progress and a rate); `Retry-After` gives the seconds to wait.", "content": problem},
        "503": {"description": "The database is not answering, or the request ran out of time (each kind of request has a statement deadline shorter than the server's time limit); `Retry-After` gives the seconds to wait.", "content": problem},
    })
}

fn ok_json(description: &str, schema: Value, html: bool) -> Value {
    let mut content = json!({"application/json": {"schema": schema}});
    if html {
        content["text/html"] = json!({"schema": {"type": "string"}});
    }
    let mut r = problem_responses();
    r["200"] = json!({"description": description, "content": content});
    r
}

fn op(id: &str, summary: &str, tags: &str, params: Value, responses: Value) -> Value {
    json!({"get": {"operationId": id, "summary": summary, "tags": [tags], "parameters": params, "responses": responses}})
}

fn p(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

/// The items operation of one collection, with its queryables as query parameters (equality
/// filters): clients such as GDAL read them from here to send filters to the server.
fn collection_items(layer: &dyn Layer, template: &Value) -> Value {
    let mut op = template.clone();
    let id = layer.id();
    op["get"]["operationId"] = json!(format!("items_{id}"));
    op["get"]["summary"] = json!(format!("{} ({})", layer.title_vi(), layer.title_en()));
    if let Some(params) = op["get"]["parameters"].as_array_mut() {
        params.retain(|p| p["$ref"] != "#/components/parameters/collectionId");
        params.push(json!({"name": "id", "in": "query", "required": false,
            "description": "Mã đối tượng (feature id) equals", "schema": {"type": "integer"}}));
        for p in visible_properties(layer, Access::Public) {
            let schema = crate::queryables::property_schema(p.kind);
            params.push(json!({"name": p.name, "in": "query", "required": false,
                "description": format!("{} ({}) equals", p.title_vi, p.title_en), "schema": schema}));
        }
    }
    op
}

/// The whole OpenAPI document, with absolute server URL `base`, describing `layers`, with
/// `extra_paths` (an object of OpenAPI `paths`, such as the spatial queries') merged in.
pub fn document(base: &str, layers: &LayerRegistry, extra_paths: Value) -> Value {
    let link = json!({"type": "object", "required": ["href"], "properties": {
        "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"}, "title": {"type": "string"}}});
    let links = json!({"type": "array", "items": {"$ref": "#/components/schemas/Link"}});
    let geometry = json!({"nullable": true, "oneOf": [{"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}, {"type": "string"}]});
    let feature = json!({"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "integer"},
        "geometry": geometry,
        "properties": {"type": "object", "nullable": true},
        "links": links.clone()}});
    let collection = json!({"type": "object", "required": ["id", "links"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
        "itemType": {"type": "string"}, "extent": {"type": "object"},
        "crs": {"type": "array", "items": {"type": "string"}}, "storageCrs": {"type": "string"},
        "storageCrsBbox": {"type": "array", "items": {"type": "number"}},
        "links": links.clone()}});
    let geojson_or = |html: bool| {
        let mut c = json!({"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}});
        if html {
            c["text/html"] = json!({"schema": {"type": "string"}});
            c["application/geopackage+sqlite3"] =
                json!({"schema": {"type": "string", "format": "binary"}});
            c["text/csv"] = json!({"schema": {"type": "string"}});
        }
        c
    };
    let mut items_responses = problem_responses();
    items_responses["200"] = json!({"description": "A page of features (GeoJSON, HTML, GeoPackage or CSV by `f`).",
        "headers": {"Content-Crs": {"description": "CRS of the coordinates, as `<uri>`.", "schema": {"type": "string"}}},
        "content": geojson_or(true)});
    items_responses["403"] = json!({"description": "The request uses a property this user may not read.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    items_responses["413"] = json!({"description": "A download would hold more features than allowed.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    items_responses["422"] = json!({"description": "Cost guard: a query with `filter` or `sortby` whose plan PostgreSQL estimates (EXPLAIN, nothing run) above the server's budget (`limits.feature_cost_budget`, default 250000 planner units) is refused. `reasons` lists what makes it costly — no `bbox` (every feature is a candidate), a LIKE pattern starting with a wildcard (no index can narrow it), CASEI/ACCENTI computed per row, S_DISJOINT, OR, `sortby` over every match; add a bbox or a pattern starting with fixed text.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let mut item_responses = problem_responses();
    item_responses["200"] = json!({"description": "One feature.",
        "headers": {"Content-Crs": {"description": "CRS of the coordinates.", "schema": {"type": "string"}}},
        "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/Feature"}}, "text/html": {"schema": {"type": "string"}}}});
    let binary = |media: &str, d: &str| {
        let mut r = problem_responses();
        r["200"] = json!({"description": d, "content": {media: {"schema": {"type": "string", "format": "binary"}}}});
        r
    };
    let ok_with = |media: &str, d: &str, schema: Value| {
        let mut r = problem_responses();
        r["200"] = json!({"description": d, "content": {media: {"schema": schema}}});
        r
    };
    let text = |media: &str, d: &str| {
        let mut r = problem_responses();
        r["200"] = json!({"description": d, "content": {media: {"schema": {"type": "string"}}}});
        r
    };
    let any_json = json!({"type": "object"});
    let mut paths = json!({
        "/": {"get": {"operationId": "landing", "summary": "Landing page (JSON; HTML with f=html or when Accept prefers text/html, as browsers send)", "tags": ["Capabilities"],
            "parameters": [p("f"), {"name": "lang", "in": "query", "required": false, "schema": {"type": "string", "enum": ["vi", "en"]}}],
            "responses": ok_json("Landing page", json!({"type": "object", "required": ["links"], "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": links.clone()}}), true)}},
        "/conformance": op("conformance", "Conformance classes", "Capabilities", json!([p("f")]),
            ok_json("Conformance declaration", json!({"type": "object", "required": ["conformsTo"], "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}}), true)),
        "/api": op("api", "This OpenAPI document", "Capabilities", json!([p("f")]),
            ok_with("application/vnd.oai.openapi+json;version=3.0", "OpenAPI 3.0", json!({"type": "object", "required": ["openapi", "paths"]}))),
        "/api.html": op("apiHtml", "The operations as HTML", "Capabilities", json!([]), text("text/html", "HTML")),
        "/collections": op("collections", "Feature collections (one per layer)", "Data", json!([p("f")]),
            ok_json("Collections", json!({"type": "object", "required": ["collections", "links"], "properties": {
                "links": links.clone(), "crs": {"type": "array", "items": {"type": "string"}},
                "collections": {"type": "array", "items": {"$ref": "#/components/schemas/Collection"}}}}), true)),
        "/collections/{collectionId}": op("collection", "One collection", "Data", json!([p("collectionId"), p("f")]),
            ok_json("Collection", json!({"$ref": "#/components/schemas/Collection"}), true)),
        "/collections/{collectionId}/queryables": {"get": {"operationId": "queryables", "summary": "What filters may use (JSON Schema)", "tags": ["Data"],
            "parameters": [p("collectionId"), p("f")],
            "responses": {
                "200": {"description": "Queryables", "content": {"application/schema+json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}},
                "400": problem_responses()["400"], "404": problem_responses()["404"], "500": problem_responses()["500"], "503": problem_responses()["503"]}}},
        "/collections/{collectionId}/items": {"get": {"operationId": "items", "summary": "Features of a collection, paged (keyset `cursor` in next/prev links). Queryables may also be used as query parameters (equality).", "tags": ["Data"],
            "parameters": [p("collectionId"), p("fItems"), p("bbox"), p("bbox-crs"), p("datetime"), p("limit"), p("crs"),
                p("filter"), p("filter-lang"), p("filter-crs"), p("properties"), p("sortby"), p("cursor")],
            "responses": items_responses}},
        "/collections/{collectionId}/items/{featureId}": {"get": {"operationId": "item", "summary": "One feature", "tags": ["Data"],
            "parameters": [p("collectionId"), {"name": "featureId", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}, "example": 1}, p("f"), p("crs")],
            "responses": item_responses}},
        "/health": op("health", "Database and PostGIS health", "Operations", json!([]),
            ok_json("Healthy (`degraded`: a read replica is down, reads go elsewhere)", json!({"type": "object", "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}, "postgis": {"type": "string"}, "layers": {"type": "integer"},
                "replicas": {"type": "array", "items": {"type": "object", "properties": {"replica": {"type": "integer"}, "status": {"type": "string", "enum": ["up", "down"]},
                    "replayed_lsn": {"type": "string", "nullable": true}, "lag_bytes": {"type": "integer", "nullable": true}, "lag_seconds": {"type": "number", "nullable": true}, "requests": {"type": "integer"}}}},
                "primary_reads": {"type": "integer"}}}), false)),
        "/metrics": op("metrics", "Prometheus metrics", "Operations", json!([]), text("text/plain", "Prometheus text format")),
        "/layers": op("layers", "The layer catalog with feature counts", "Capabilities", json!([]), ok_json("Layers", json!({"type": "array", "items": {"type": "object"}}), false)),
        "/crs": op("crs", "The CRSs bando names explicitly", "Capabilities", json!([]), ok_json("CRSs", json!({"type": "array", "items": {"type": "object"}}), false)),
        "/tiles": op("tileCatalog", "Vector tile catalog", "Tiles", json!([]), ok_json("Tile catalog", any_json.clone(), false)),
        "/tileMatrixSets": op("tileMatrixSets", "Tile matrix sets", "Tiles", json!([]), ok_json("Tile matrix sets", any_json.clone(), false)),
        "/tileMatrixSets/{tileMatrixSetId}": op("tileMatrixSet", "One tile matrix set", "Tiles",
            json!([{"name": "tileMatrixSetId", "in": "path", "required": true, "schema": {"type": "string"}, "example": "WebMercatorQuad"}]), ok_json("Tile matrix set", any_json.clone(), false)),
        "/tiles/{layers}": op("tilejson", "TileJSON 3.0 of one layer or a comma-separated composite (path ends in .json)", "Tiles",
            json!([{"name": "layers", "in": "path", "required": true, "schema": {"type": "string"}, "example": "communes.json"}]), ok_json("TileJSON", any_json.clone(), false)),
        "/tiles/{layers}/{z}/{x}/{y}": op("tile", "A Mapbox Vector Tile (y ends in .mvt or .pbf)", "Tiles",
            json!([p("layers"), {"name": "z", "in": "path", "required": true, "schema": {"type": "string"}, "example": "12"},
                {"name": "x", "in": "path", "required": true, "schema": {"type": "string"}, "example": "3264"},
                {"name": "y", "in": "path", "required": true, "schema": {"type": "string"}, "example": "1915.mvt"}]),
            binary("application/vnd.mapbox-vector-tile", "Vector tile")),
        "/collections/{collectionId}/tiles": op("collectionTilesets", "Tilesets of a collection", "Tiles", json!([p("collectionId")]), ok_json("Tilesets", any_json.clone(), false)),
        "/collections/{collectionId}/tiles/WebMercatorQuad": op("collectionTileset", "WebMercatorQuad tileset metadata", "Tiles", json!([p("collectionId")]), ok_json("Tileset", any_json.clone(), false)),
        "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}": op("collectionTile", "A vector tile (OGC API – Tiles)", "Tiles",
            json!([p("collectionId"), {"name": "tileMatrix", "in": "path", "required": true, "schema": {"type": "string"}, "example": "12"},
                {"name": "tileRow", "in": "path", "required": true, "schema": {"type": "string"}, "example": "1915"},
                {"name": "tileCol", "in": "path", "required": true, "schema": {"type": "string"}, "example": "3264"}]),
            binary("application/vnd.mapbox-vector-tile", "Vector tile")),
    });
    // Tiles answer 204 when empty and 304 when the client's ETag still matches.
    for tile_path in [
        "/tiles/{layers}/{z}/{x}/{y}",
        "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}",
    ] {
        let r = &mut paths[tile_path]["get"]["responses"];
        r["204"] = json!({"description": "No feature in this tile."});
        r["304"] = json!({"description": "Not modified (If-None-Match)."});
        // The time slider: layers that keep a history are drawn as they were.
        if let Some(params) = paths[tile_path]["get"]["parameters"].as_array_mut() {
            params.push(json!({"name": "datetime", "in": "query", "required": false,
                "description": "An instant (YYYY-MM-DD: its last moment, or RFC 3339): the layers as they were then; only layers that keep a history (400 names one that does not); drawn for each request, never from the cache of the living tiles",
                "schema": {"type": "string"}, "example": "2026-01-01"}));
        }
    }
    paths["/api"]["get"]["responses"]["200"]["content"]["text/html"] =
        json!({"schema": {"type": "string"}});
    let path_param = |name: &str, example: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "example": example});
    let others = json!({
        "/styles": op("styles", "MapLibre styles", "Maps", json!([]), ok_json("Styles", json!({"type": "array", "items": {"type": "object"}}), false)),
        "/styles/{file}": op("style", "A MapLibre style document", "Maps", json!([path_param("file", "planning.json")]), ok_json("Style", any_json.clone(), false)),
        "/fonts/{fontstack}/{range}": op("glyphs", "Glyph ranges (PBF) for map labels", "Maps",
            json!([path_param("fontstack", "Noto Sans Regular"), path_param("range", "0-255.pbf")]), binary("application/x-protobuf", "Glyphs")),
        "/sprites/{file}": op("sprite", "Sprite sheet (PNG) or its index (JSON)", "Maps", json!([path_param("file", "bando.json")]), binary("application/octet-stream", "Sprite")),
        "/map": op("map", "The planners' web map", "Maps", json!([]), text("text/html", "Web map")),
        "/map/{file}": op("mapFile", "Files of the web map", "Maps", json!([path_param("file", "index.html")]), binary("application/octet-stream", "File")),
        "/vendor/{package}/{file}": op("vendorFile", "Vendored browser libraries", "Maps",
            json!([path_param("package", "maplibre-gl"), path_param("file", "maplibre-gl.js")]), binary("application/octet-stream", "File")),
    });
    if let (Some(target), Value::Object(extra)) = (paths.as_object_mut(), others) {
        target.extend(extra);
    }
    let template = paths["/collections/{collectionId}/items"].clone();
    if let Some(target) = paths.as_object_mut() {
        // The document is public: it lists the layers anonymous readers see.
        let anonymous = gis_core::layer::Viewer::anonymous();
        for layer in layers.iter().filter(|l| anonymous.sees(l.as_ref())) {
            target.insert(
                format!("/collections/{}/items", layer.id()),
                collection_items(layer.as_ref(), &template),
            );
        }
    }
    if let (Some(target), Value::Object(extra)) = (paths.as_object_mut(), extra_paths) {
        for (k, v) in extra {
            // An extra operation on a path described here (the writes on a collection's
            // items) joins the operations already there.
            match (target.get_mut(&k), v) {
                (Some(Value::Object(item)), Value::Object(ops)) => item.extend(ops),
                (_, v) => {
                    target.insert(k, v);
                }
            }
        }
    }
    let q = |name: &str, description: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema, "style": "form", "explode": false});
    let parameters = json!({
        "collectionId": {"name": "collectionId", "in": "path", "required": true, "description": "Layer id (see /collections)", "schema": {"type": "string"}, "example": "communes"},
        "layers": {"name": "layers", "in": "path", "required": true, "description": "Layer id or comma-separated ids", "schema": {"type": "string"}, "example": "communes"},
        "f": q("f", "Output format (default: by Accept)", json!({"type": "string", "enum": ["json", "html"]})),
        "fItems": q("f", "Output format: GeoJSON, HTML, or a download (GeoPackage, CSV with WKT geometry and a UTF-8 BOM)", json!({"type": "string", "enum": ["json", "geojson", "html", "gpkg", "csv"]})),
        "bbox": q("bbox", "minx,miny,maxx,maxy (or 6 numbers) in bbox-crs; EPSG:4326 named explicitly is lat,lon", json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}})),
        "bbox-crs": q("bbox-crs", "CRS of bbox (default CRS84)", json!({"type": "string", "format": "uri"})),
        "datetime": q("datetime", "Instant or interval (a/b, open ends ..) on the layer's date property or updated_at", json!({"type": "string"})),
        "limit": q("limit", &format!("Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}; downloads at most {MAX_DOWNLOAD})"), json!({"type": "integer", "minimum": 1, "maximum": MAX_DOWNLOAD, "default": DEFAULT_LIMIT})),
        "crs": q("crs", "Output CRS: CRS84 (default), EPSG:4326 (lat/lon), 3857, 4756, 9212, 5899, 3405, 3406 or any EPSG code PostGIS knows", json!({"type": "string", "format": "uri"})),
        "filter": q("filter", "CQL2 filter", json!({"type": "string"})),
        "filter-lang": q("filter-lang", "Language of filter", json!({"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"})),
        "filter-crs": q("filter-crs", "CRS of the filter's geometry literals, in its axis order: CRS84 (default) and projected CRSs x/y, EPSG:4326 and EPSG:4756 latitude first", json!({"type": "string", "format": "uri"})),
        "properties": q("properties", "Comma-separated property names to return", json!({"type": "array", "items": {"type": "string"}})),
        "sortby": q("sortby", "Comma-separated property names, - for descending", json!({"type": "array", "items": {"type": "string"}})),
        "cursor": q("cursor", "Opaque page position from a next/prev link", json!({"type": "string"})),
    });
    let mut schemas = Map::new();
    schemas.insert("Link".into(), link);
    schemas.insert("Feature".into(), feature);
    schemas.insert("Collection".into(), collection);
    schemas.insert(
        "FeatureCollection".into(),
        json!({"type": "object", "required": ["type", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
            "timeStamp": {"type": "string", "format": "date-time"},
            "links": links}}),
    );
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "required": ["type", "title", "status"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "request_id": {"type": "string"}}}),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "bando — Nền tảng dữ liệu không gian (spatial data platform)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OGC API – Features (Parts 1–3), OGC API – Tiles and vector tiles over the province's layers. Coordinates in VN-2000 TM-3 (EPSG:9212, 5899) and any EPSG CRS on request.",
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"parameters": parameters, "schemas": schemas},
    })
}

/// The landing page's JSON form (OGC API Common): links to the service description and data.
pub fn landing_json(base: &str) -> Value {
    json!({
        "title": "bando — Nền tảng dữ liệu không gian",
        "description": "Máy chủ dữ liệu bản đồ của tỉnh (the province's map data server): OGC API – Features and Tiles.",
        "links": [
            {"rel": "self", "type": "application/json", "title": "this document", "href": format!("{base}/?f=json")},
            {"rel": "alternate", "type": "text/html", "title": "HTML", "href": format!("{base}/")},
            {"rel": "service-desc", "type": OPENAPI_JSON, "title": "OpenAPI 3.0", "href": format!("{base}/api")},
            {"rel": "service-doc", "type": "text/html", "title": "API documentation", "href": format!("{base}/api.html")},
            {"rel": "conformance", "type": "application/json", "title": "conformance classes", "href": format!("{base}/conformance")},
            {"rel": "data", "type": "application/json", "title": "collections", "href": format!("{base}/collections")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance", "type": "application/json", "href": format!("{base}/conformance")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/data", "type": "application/json", "href": format!("{base}/collections")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": "application/json", "title": "vector tiles", "href": format!("{base}/tiles")},
        ],
    })
}
