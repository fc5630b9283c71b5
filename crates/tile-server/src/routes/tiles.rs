//! `/tiles/{layers}/{z}/{x}/{y}.mvt` (one layer or a comma-separated composite) and
//! `/tiles/{layers}.json` (TileJSON 3.0).

use std::io::{Read, Write};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use gis_core::layer::{Access, Layer, PropertyDef, PropertyKind};
use gis_core::tile::TileCoord;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::AppError;
use crate::routes::base_url;
use crate::tiles::{fnv1a, RenderedTile};

/// The tile routes (XYZ, TileJSON, OGC API – Tiles).
pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/tiles/{layers}", get(tilejson))
        .route("/tiles/{layers}/{z}/{x}/{y}", get(tile))
        .route("/collections/{id}/tiles", get(ogc_tilesets))
        .route("/collections/{id}/tiles/WebMercatorQuad", get(ogc_tileset))
        .route(
            "/collections/{id}/tiles/WebMercatorQuad/{z}/{row}/{col}",
            get(ogc_tile),
        )
}

/// Media type of Mapbox Vector Tiles.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
const MAX_COMPOSITE: usize = 16;

/// The layer ids of a `{layers}` path segment, checked against the registry.
fn layer_ids(state: &AppState, text: &str) -> Result<Vec<String>, AppError> {
    let mut ids: Vec<String> = Vec::new();
    for id in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if state.layers.get(id).is_none() {
            let known: Vec<&str> = state.layers.iter().map(|l| l.id()).collect();
            return Err(AppError::NotFound(format!(
                "there is no layer \"{id}\"; layers: {}",
                known.join(", ")
            )));
        }
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }
    if ids.is_empty() {
        return Err(AppError::BadRequest("name at least one layer".into()));
    }
    if ids.len() > MAX_COMPOSITE {
        return Err(AppError::BadRequest(format!(
            "a composite tile takes at most {MAX_COMPOSITE} layers"
        )));
    }
    Ok(ids)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(AppError::internal)?;
    Ok(out)
}

/// `GET /tiles/{layers}/{z}/{x}/{y}.mvt`
pub async fn tile(
    State(state): State<AppState>,
    Path((layers, z, x, y)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let ids = layer_ids(&state, &layers)?;
    let tile = TileCoord::parse(&z, &x, &y).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if let Some(ext) = y.split_once('.').map(|(_, e)| e) {
        if !matches!(ext, "mvt" | "pbf") {
            return Err(AppError::BadRequest(format!(
                "tiles are served as .mvt or .pbf, not .{ext}"
            )));
        }
    }
    serve_tile(&state, &ids, tile, &headers).await
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}` (OGC API –
/// Tiles): the same tile as `/tiles/{id}/{z}/{x}/{y}.mvt`, with row = y and col = x.
pub async fn ogc_tile(
    State(state): State<AppState>,
    Path((collection, matrix, row, col)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let ids = layer_ids(&state, &collection)?;
    let tile =
        TileCoord::parse(&matrix, &col, &row).map_err(|e| AppError::BadRequest(e.to_string()))?;
    serve_tile(&state, &ids, tile, &headers).await
}

/// `GET /collections/{id}/tiles`: the tilesets of a collection (one, WebMercatorQuad).
pub async fn ogc_tilesets(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let ids = layer_ids(&state, &collection)?;
    let base = base_url(&headers);
    let id = ids.join(",");
    Ok(Json(json!({
        "links": [{"rel": "self", "type": "application/json", "href": format!("{base}/collections/{id}/tiles")}],
        "tilesets": [{
            "title": id,
            "dataType": "vector",
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
            "tileMatrixSetURI": WEB_MERCATOR_QUAD_URI,
            "links": tileset_links(&base, &id),
        }],
    })))
}

/// `GET /collections/{id}/tiles/WebMercatorQuad`: tileset metadata (OGC API – Tiles, 2D Tile
/// Matrix Set and Tileset Metadata).
pub async fn ogc_tileset(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let ids = layer_ids(&state, &collection)?;
    let base = base_url(&headers);
    let id = ids.join(",");
    let (found, minzoom, maxzoom) = tileset_layers(&state, &ids);
    let mut layers = Vec::new();
    for (lid, layer, public) in found {
        let (min, max) = layer.zoom_range();
        let properties: serde_json::Map<String, Value> = public
            .into_iter()
            .map(|p| {
                let ty = match p.kind {
                    PropertyKind::Integer => "integer",
                    PropertyKind::Number => "number",
                    PropertyKind::Boolean => "boolean",
                    _ => "string",
                };
                (p.name, json!({"type": ty, "title": p.title_vi}))
            })
            .collect();
        let dimension = match layer.geometry_kind() {
            gis_core::layer::GeometryKind::Point | gis_core::layer::GeometryKind::MultiPoint => 0,
            gis_core::layer::GeometryKind::LineString
            | gis_core::layer::GeometryKind::MultiLineString => 1,
            _ => 2,
        };
        layers.push(json!({
            "id": lid, "title": layer.title_vi(), "dataType": "vector",
            "geometryDimension": dimension,
            "minTileMatrix": min.to_string(), "maxTileMatrix": max.to_string(),
            "propertiesSchema": {"type": "object", "properties": properties},
        }));
    }
    Ok(Json(json!({
        "title": id,
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": WEB_MERCATOR_QUAD_URI,
        "tileMatrixSetLimits": (minzoom..=maxzoom).map(|z| {
            let last = (1u32 << z) - 1;
            json!({"tileMatrix": z.to_string(), "minTileRow": 0, "maxTileRow": last, "minTileCol": 0, "maxTileCol": last})
        }).collect::<Vec<_>>(),
        "layers": layers,
        "links": tileset_links(&base, &id),
    })))
}

/// A layer of a tileset: id, plugin and the properties anonymous readers see.
type TilesetLayer<'a> = (&'a str, &'a Arc<dyn Layer>, Vec<PropertyDef>);

/// The layers of a tileset with their public properties, and the zoom span they cover together.
fn tileset_layers<'a>(state: &'a AppState, ids: &'a [String]) -> (Vec<TilesetLayer<'a>>, u8, u8) {
    let mut out = Vec::new();
    let (mut minzoom, mut maxzoom) = (u8::MAX, 0u8);
    for id in ids {
        let Some(layer) = state.layers.get(id) else {
            continue;
        };
        let (min, max) = layer.zoom_range();
        minzoom = minzoom.min(min);
        maxzoom = maxzoom.max(max);
        let public = layer
            .properties()
            .into_iter()
            .filter(|p| p.access == Access::Public)
            .collect();
        out.push((id.as_str(), layer, public));
    }
    (out, minzoom, maxzoom)
}

const WEB_MERCATOR_QUAD_URI: &str =
    "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";

fn tileset_links(base: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "type": "application/json", "href": format!("{base}/collections/{id}/tiles/WebMercatorQuad")},
        {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json", "href": WEB_MERCATOR_QUAD_URI},
        {"rel": "item", "type": MVT, "templated": true,
         "href": format!("{base}/collections/{id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")},
    ])
}

async fn serve_tile(
    state: &AppState,
    ids: &[String],
    tile: TileCoord,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let access = Access::Public;
    let mut parts: Vec<RenderedTile> = Vec::with_capacity(ids.len());
    for id in ids {
        match state.tiles.layer_tile(id, tile, access).await {
            Ok(Some(t)) => parts.push(t),
            Ok(None) => return Err(AppError::NotFound(format!("there is no layer \"{id}\""))),
            Err(e) => return Err(AppError::from_tile_error(&e)),
        }
    }
    let features: i64 = parts.iter().map(|p| p.features).sum();
    let truncated = parts.iter().any(|p| p.truncated);
    // One layer: the cached gzip as it is. A composite: the layers' MVT messages concatenated
    // (a tile is a repeated `layers` field), compressed once.
    let (gzip, etag) = if parts.len() == 1 {
        (parts[0].gzip.clone(), parts[0].etag)
    } else {
        let mut raw = Vec::new();
        for p in parts.iter().filter(|p| !p.gzip.is_empty()) {
            raw.extend_from_slice(&gunzip(&p.gzip)?);
        }
        if raw.is_empty() {
            (Bytes::new(), 0)
        } else {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&raw).map_err(AppError::internal)?;
            let gz = Bytes::from(enc.finish().map_err(AppError::internal)?);
            let etag = fnv1a(&gz);
            (gz, etag)
        }
    };
    let etag_text = format!("\"{etag:016x}\"");
    let mut response = if gzip.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag_text || t.trim() == "*")
        })
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accepts_gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        let mut r = if accepts_gzip {
            let mut r = Response::new(Body::from(gzip));
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        } else {
            Response::new(Body::from(gunzip(&gzip)?))
        };
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag_text) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    if let Ok(v) = HeaderValue::from_str(&features.to_string()) {
        h.insert("x-tile-features", v);
    }
    if truncated {
        h.insert(
            "x-tile-truncated",
            HeaderValue::from_static("feature limit reached; zoom in for every feature"),
        );
    }
    Ok(response)
}

fn field_type(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::Integer | PropertyKind::Number => "Number",
        PropertyKind::Boolean => "Boolean",
        _ => "String",
    }
}

/// `GET /tiles/{layers}.json`: TileJSON 3.0 with `vector_layers`.
pub async fn tilejson(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let Some(layers) = name.strip_suffix(".json") else {
        return Err(AppError::NotFound(format!(
            "\"/tiles/{name}\" is not a tile address: use /tiles/{{layer}}.json or /tiles/{{layer}}/{{z}}/{{x}}/{{y}}.mvt"
        )));
    };
    let ids = layer_ids(&state, layers)?;
    let base = base_url(&headers);
    let (found, minzoom, maxzoom) = tileset_layers(&state, &ids);
    let mut vector_layers = Vec::new();
    let mut bounds: Option<[f64; 4]> = None;
    for (id, layer, public) in found {
        let (min, max) = layer.zoom_range();
        let fields: serde_json::Map<String, Value> = public
            .into_iter()
            .map(|p| (p.name, Value::from(field_type(p.kind))))
            .collect();
        vector_layers.push(json!({
            "id": id, "description": layer.title_vi(), "minzoom": min, "maxzoom": max,
            "fields": fields,
        }));
        if let Some(b) = gis_core::layer::extent_lonlat(&state.pool, &layer.storage()).await? {
            bounds = Some(match bounds {
                None => b,
                Some(a) => [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ],
            });
        }
    }
    // Old Binh Phuoc and old Dong Nai when nothing is loaded yet.
    let bounds = bounds.unwrap_or([106.4, 10.5, 107.6, 12.3]);
    let center = [
        (bounds[0] + bounds[2]) / 2.0,
        (bounds[1] + bounds[3]) / 2.0,
        f64::from(minzoom.max(10)),
    ];
    Ok(Json(json!({
        "tilejson": "3.0.0",
        "name": ids.join(","),
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", ids.join(","))],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": center,
        "vector_layers": vector_layers,
    })))
}
