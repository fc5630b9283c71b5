//! `/tiles/{layers}/{z}/{x}/{y}.mvt` (one layer or a comma-separated composite),
//! `/tiles/{layers}.json` (TileJSON 3.0), the tile catalog `/tiles`, OGC API – Tiles
//! (`/collections/{id}/tiles…`, `/tileMatrixSets…`).
//!
//! Tiles are served brotli, gzip or plain as the client's `Accept-Encoding` allows, each
//! representation with its own strong ETag, and with `Cache-Control` from the layers' registry
//! values (a composite takes the shortest).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use gis_core::layer::{Access, Layer, PropertyDef, PropertyKind, Readers, Viewer};
use gis_core::tile::TileCoord;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::Reader;
use crate::routes::base_url;
use crate::routes::landing::escape_html;

/// OGC API – Tiles 1.0 conformance classes bando implements (for `/conformance`).
pub const TILES_CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilematrixset",
];

/// The tile routes (XYZ, TileJSON, OGC API – Tiles).
pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/tiles", get(catalog))
        .route("/tileMatrixSets", get(tile_matrix_sets))
        .route("/tileMatrixSets/{id}", get(tile_matrix_set))
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

/// The layer ids of a `{layers}` path segment, checked against the registry and against what
/// the reader may see: a layer the reader may not read is answered like one that does not
/// exist.
fn layer_ids(state: &AppState, text: &str, reader: &Reader) -> Result<Vec<String>, AppError> {
    let ids: Vec<String> = state
        .layers
        .snapshot()
        .resolve(text, reader.viewer())?
        .iter()
        .map(|l| l.id().to_string())
        .collect();
    if ids.len() > MAX_COMPOSITE {
        return Err(AppError::BadRequest(format!(
            "a composite tile takes at most {MAX_COMPOSITE} layers"
        )));
    }
    Ok(ids)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, AppError> {
    tiles::gunzip(bytes).map_err(AppError::internal)
}

/// A content coding bando serves tiles in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `br`.
    Brotli,
    /// `gzip`.
    Gzip,
    /// No content coding.
    Identity,
}

impl Encoding {
    /// The suffix that makes the ETag of this representation distinct.
    fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => "-br",
            Encoding::Gzip => "-gz",
            Encoding::Identity => "",
        }
    }
}

/// Chooses the tile encoding for an `Accept-Encoding` value (RFC 9110 §12.5.3): the highest
/// q-value wins, ties go to brotli, then gzip, then identity; `q=0` forbids a coding; `*`
/// stands for every coding not named. No header means identity. When the client forbids
/// everything, identity is sent anyway (allowed by the RFC, and better than a 406 for a map).
pub fn negotiate(accept_encoding: Option<&str>) -> Encoding {
    let Some(header) = accept_encoding else {
        return Encoding::Identity;
    };
    // q-values in thousandths; None = not named.
    let (mut br, mut gzip, mut identity, mut star) = (None, None, None, None);
    for item in header.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if coding.is_empty() {
            continue;
        }
        let mut q = 1000u32;
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = v
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map_or(0, |q| (q * 1000.0).round() as u32);
                }
            }
        }
        // Codings are case-insensitive; compared without allocating (this runs per tile).
        let is = |name: &str| coding.eq_ignore_ascii_case(name);
        let slot = if is("br") {
            &mut br
        } else if is("gzip") || is("x-gzip") {
            &mut gzip
        } else if is("identity") {
            &mut identity
        } else if coding == "*" {
            &mut star
        } else {
            continue;
        };
        *slot = Some(q);
    }
    let br = br.or(star).unwrap_or(0);
    let gzip = gzip.or(star).unwrap_or(0);
    // identity is acceptable unless refused explicitly (or through `*;q=0`), at the lowest rank.
    let identity = identity.or(star.filter(|q| *q == 0)).unwrap_or(1);
    let best = br.max(gzip).max(identity);
    if best == 0 {
        Encoding::Identity
    } else if br == best {
        Encoding::Brotli
    } else if gzip == best {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// `Cache-Control` of a tile drawn from `ids`: the shortest `max-age` of its layers; `private`
/// when any of them (or the reader's access class) lets restricted data into the tile, so that
/// shared caches never keep it.
pub fn cache_control(state: &AppState, ids: &[String], viewer: &Viewer) -> String {
    let mut max_age = u32::MAX;
    let mut private = false;
    for layer in ids.iter().filter_map(|id| state.layers.get(id)) {
        max_age = max_age.min(layer.cache_max_age());
        private |= layer.readers() != Readers::Everyone;
        // An insider's class is their own only where a row filter hides rows from the public.
        private |= match viewer.tile_access(layer.as_ref()) {
            Access::Restricted => true,
            Access::Internal => layer.row_filter().is_some(),
            Access::Public => false,
        };
    }
    if max_age == u32::MAX {
        max_age = 0;
    }
    let scope = if private { "private" } else { "public" };
    format!("{scope}, max-age={max_age}")
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, RFC 9110 §13.1.2).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// `datetime=<instant>` of a tile request (the time slider): the instant, checked as the items'
/// `datetime` is, when every layer of `ids` keeps a history; 400 naming the first that does
/// not, or for an interval. Other query parameters are left alone (clients add their own, such
/// as cache busters).
fn tile_instant(
    state: &AppState,
    ids: &[String],
    params: &[(String, String)],
) -> Result<Option<String>, AppError> {
    let mut given = params.iter().filter(|(k, _)| k == "datetime");
    let Some((_, text)) = given.next() else {
        return Ok(None);
    };
    if given.next().is_some() {
        return Err(AppError::BadRequest(
            "parameter 'datetime' is given more than once".into(),
        ));
    }
    let interval = gis_core::features::parse_datetime(text)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let instant = match (interval.start, interval.end) {
        (Some(s), Some(e)) if s == e => s,
        _ => {
            return Err(AppError::BadRequest(
                "parameter 'datetime': tiles are drawn as of one instant (a date or an RFC 3339 timestamp), not an interval".into(),
            ))
        }
    };
    if let Some(id) = ids.iter().find(|id| {
        state
            .layers
            .get(id)
            .is_some_and(|l| l.as_of_function().is_none())
    }) {
        return Err(AppError::BadRequest(format!(
            "parameter 'datetime': layer {id} keeps no history, so its tiles are only of now"
        )));
    }
    Ok(Some(instant))
}

/// `GET /tiles/{layers}/{z}/{x}/{y}.mvt` (`?datetime=<instant>`: as the layers were then)
pub async fn tile(
    State(state): State<AppState>,
    reader: Reader,
    Path((layers, z, x, y)): Path<(String, String, String, String)>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let ids = layer_ids(&state, &layers, &reader)?;
    let tile = TileCoord::parse(&z, &x, &y).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if let Some(ext) = y.split_once('.').map(|(_, e)| e) {
        if !matches!(ext, "mvt" | "pbf") {
            return Err(AppError::BadRequest(format!(
                "tiles are served as .mvt or .pbf, not .{ext}"
            )));
        }
    }
    let at = tile_instant(&state, &ids, &params)?;
    serve_tile(&state, &ids, tile, &headers, reader.viewer(), at.as_deref()).await
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}` (OGC API –
/// Tiles): the same tile as `/tiles/{id}/{z}/{x}/{y}.mvt`, with row = y and col = x (and the
/// same `datetime`).
pub async fn ogc_tile(
    State(state): State<AppState>,
    reader: Reader,
    Path((collection, matrix, row, col)): Path<(String, String, String, String)>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let ids = layer_ids(&state, &collection, &reader)?;
    let tile =
        TileCoord::parse(&matrix, &col, &row).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let at = tile_instant(&state, &ids, &params)?;
    serve_tile(&state, &ids, tile, &headers, reader.viewer(), at.as_deref()).await
}

/// `GET /collections/{id}/tiles`: the tilesets of a collection (one, WebMercatorQuad).
pub async fn ogc_tilesets(
    State(state): State<AppState>,
    reader: Reader,
    Path(collection): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let ids = layer_ids(&state, &collection, &reader)?;
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
    reader: Reader,
    Path(collection): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let ids = layer_ids(&state, &collection, &reader)?;
    let base = base_url(&headers);
    let id = ids.join(",");
    let (found, minzoom, maxzoom) = tileset_layers(&state, &ids, &reader);
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

/// A layer of a tileset: id, plugin and the properties the reader's tiles carry.
type TilesetLayer<'a> = (&'a str, Arc<dyn Layer>, Vec<PropertyDef>);

/// The layers of a tileset with the properties the reader's tiles carry (the class of whole
/// answers per layer, `Viewer::tile_access`), and the zoom span they are published at
/// together: up to each layer's seed zoom (`Layer::seed_zoom`, its tiles there hold every
/// feature), beyond which clients overzoom — a layer that is not seeded, its highest zoom.
fn tileset_layers<'a>(
    state: &'a AppState,
    ids: &'a [String],
    reader: &Reader,
) -> (Vec<TilesetLayer<'a>>, u8, u8) {
    let mut out = Vec::new();
    let (mut minzoom, mut maxzoom) = (u8::MAX, 0u8);
    for id in ids {
        let Some(layer) = state.layers.get(id) else {
            continue;
        };
        let access = reader.viewer().tile_access(layer.as_ref());
        let (min, max) = layer.zoom_range();
        minzoom = minzoom.min(min);
        maxzoom = maxzoom.max(layer.seed_zoom().unwrap_or(max));
        let public = layer
            .properties()
            .into_iter()
            .filter(|p| p.access <= access)
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
        {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json", "href": format!("{base}/tileMatrixSets/WebMercatorQuad")},
        {"rel": "item", "type": MVT, "templated": true,
         "href": format!("{base}/collections/{id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")},
    ])
}

async fn serve_tile(
    state: &AppState,
    ids: &[String],
    tile: TileCoord,
    headers: &HeaderMap,
    viewer: &Viewer,
    at: Option<&str>,
) -> Result<Response, AppError> {
    // An authorised class makes the tile `private` through `cache_control`. Tiles of the past
    // are drawn for each request, apart from the cache of the living ones.
    let rendered = match at {
        None => state.tiles.tile(ids, tile, viewer).await,
        Some(at) => state
            .tiles
            .tile_as_of(ids, tile, viewer, at)
            .await
            .map_err(Arc::new),
    };
    let t = match rendered {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err(AppError::NotFound(format!(
                "there is no layer \"{}\"",
                ids.join(",")
            )))
        }
        Err(e) => return Err(AppError::from_tile_error(&e)),
    };
    let (features, truncated, limit, etag) = (t.features, t.truncated, t.limit, t.etag);
    let encoding = negotiate(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let empty = t.gzip.is_empty();
    let etag_text = format!("\"{etag:016x}{}\"", encoding.etag_suffix());
    let mut response = if empty {
        StatusCode::NO_CONTENT.into_response()
    } else if none_match(headers, &etag_text) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let bytes = match encoding {
            Encoding::Brotli => t.brotli().map_err(AppError::internal)?,
            Encoding::Gzip => t.gzip,
            Encoding::Identity => Bytes::from(gunzip(&t.gzip)?),
        };
        let mut r = Response::new(Body::from(bytes));
        let h = r.headers_mut();
        match encoding {
            Encoding::Brotli => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
            }
            Encoding::Gzip => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Encoding::Identity => {}
        }
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
        r
    };
    let h = response.headers_mut();
    if !empty {
        if let Ok(v) = HeaderValue::from_str(&etag_text) {
            h.insert(header::ETAG, v);
        }
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&cache_control(state, ids, viewer)) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&features.to_string()) {
        h.insert("x-tile-features", v);
    }
    if truncated {
        h.insert(
            "x-tile-truncated",
            HeaderValue::from_static("feature limit reached; zoom in for every feature"),
        );
    }
    if let Some(limit) = limit {
        h.insert("x-bando-tile-limit", HeaderValue::from_static(limit));
    }
    Ok(response)
}

/// `GET /tiles/{layers}.json`: TileJSON 3.0 with `vector_layers`.
pub async fn tilejson(
    State(state): State<AppState>,
    reader: Reader,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let Some(layers) = name.strip_suffix(".json") else {
        return Err(AppError::NotFound(format!(
            "\"/tiles/{name}\" is not a tile address: use /tiles/{{layer}}.json or /tiles/{{layer}}/{{z}}/{{x}}/{{y}}.mvt"
        )));
    };
    let ids = layer_ids(&state, layers, &reader)?;
    let base = base_url(&headers);
    let (found, minzoom, maxzoom) = tileset_layers(&state, &ids, &reader);
    let mut vector_layers = Vec::new();
    let mut bounds: Option<[f64; 4]> = None;
    for (_, layer, _) in found {
        vector_layers.push(tiles::tilejson::vector_layer(layer.as_ref()));
        if let Some(b) =
            gis_core::layer::extent_lonlat(state.pools.tiles(), &layer.storage()).await?
        {
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

/// Cell size (metres per pixel) of WebMercatorQuad at `z`, and its scale denominator at the
/// OGC standard pixel of 0.28 mm.
fn web_mercator_scale(z: u8) -> (f64, f64) {
    let cell = gis_core::tile::resolution(z);
    (cell, cell / 0.000_28)
}

/// The OGC 2D TileMatrixSet (JSON encoding, TMS 2.0) of WebMercatorQuad, zooms 0–24.
///
/// It also carries the TMS 1.0 names of the same values (`identifier`, `supportedCRS`,
/// `boundingBox` corners, per matrix `identifier` and `topLeftCorner`): GDAL before 3.8
/// (Debian 12 has 3.6) reads only those, and without them its `OGCAPI:` driver takes the whole
/// document for a file name (docs/clients.md). The 2.0 schema allows extra members, and GDAL
/// 3.8+ reads the 2.0 names when `crs` and `tileMatrices` are present.
pub fn web_mercator_quad() -> Value {
    use gis_core::tile::{EARTH_HALF_CIRCUMFERENCE as H, MAX_ZOOM, TILE_SIZE};
    const CRS: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";
    let matrices: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let (cell, scale) = web_mercator_scale(z);
            let n = 1u64 << z;
            json!({
                "id": z.to_string(),
                "scaleDenominator": scale,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-H, H],
                "tileWidth": TILE_SIZE,
                "tileHeight": TILE_SIZE,
                "matrixWidth": n,
                "matrixHeight": n,
                "identifier": z.to_string(),
                "topLeftCorner": [-H, H],
            })
        })
        .collect();
    json!({
        "id": "WebMercatorQuad",
        "title": "Google Maps Compatible for the World",
        "uri": WEB_MERCATOR_QUAD_URI,
        "crs": CRS,
        "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "boundingBox": {
            "crs": CRS,
            "lowerLeft": [-H, -H],
            "upperRight": [H, H],
            "lowerCorner": [-H, -H],
            "upperCorner": [H, H],
        },
        "identifier": "WebMercatorQuad",
        "supportedCRS": CRS,
        "tileMatrices": matrices,
    })
}

/// `GET /tileMatrixSets`: the tile matrix sets bando serves (one).
pub async fn tile_matrix_sets(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({
        "links": [{"rel": "self", "type": "application/json", "href": format!("{base}/tileMatrixSets")}],
        "tileMatrixSets": [{
            "id": "WebMercatorQuad",
            "title": "Google Maps Compatible for the World",
            "uri": WEB_MERCATOR_QUAD_URI,
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
            "links": [{
                "rel": "self", "type": "application/json",
                "href": format!("{base}/tileMatrixSets/WebMercatorQuad"),
            }],
        }],
    }))
}

/// `GET /tileMatrixSets/{id}`: the definition of a tile matrix set.
pub async fn tile_matrix_set(Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    if id != "WebMercatorQuad" {
        return Err(AppError::NotFound(format!(
            "there is no tile matrix set \"{id}\"; bando serves WebMercatorQuad"
        )));
    }
    Ok(Json(web_mercator_quad()))
}

/// Query of the catalog.
#[derive(Debug, serde::Deserialize)]
pub struct CatalogQuery {
    /// `json` (default) or `html`.
    f: Option<String>,
}

/// `GET /tiles`: the tile catalog — every layer with its TileJSON, XYZ template, OGC tileset,
/// zooms, bounds (CRS84, `null` while the layer is empty) and cache lifetime. `?f=html` gives
/// a simple page.
pub async fn catalog(
    State(state): State<AppState>,
    reader: Reader,
    axum::extract::Query(q): axum::extract::Query<CatalogQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let html = match q.f.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "f={other} is not offered; use f=json or f=html"
            )))
        }
    };
    let base = base_url(&headers);
    let mut entries = Vec::new();
    // Only what the reader may fetch (see `layer_ids`).
    for layer in state
        .layers
        .snapshot()
        .iter()
        .filter(|l| reader.sees(l.as_ref()))
    {
        let id = layer.id();
        let (min, max) = layer.zoom_range();
        let bounds = gis_core::layer::extent_lonlat(state.pools.tiles(), &layer.storage()).await?;
        entries.push(json!({
            "id": id,
            "title": layer.title_vi(),
            "title_en": layer.title_en(),
            "sector": layer.sector(),
            "geometry": layer.geometry_kind().as_str(),
            "minzoom": min,
            "maxzoom": max,
            "bounds": bounds,
            "cache_max_age": layer.cache_max_age(),
            "tilejson": format!("{base}/tiles/{id}.json"),
            "tiles": format!("{base}/tiles/{id}/{{z}}/{{x}}/{{y}}.mvt"),
            "ogc_tileset": format!("{base}/collections/{id}/tiles/WebMercatorQuad"),
        }));
    }
    if !html {
        return Ok(Json(json!({
            "links": [
                {"rel": "self", "type": "application/json", "href": format!("{base}/tiles")},
                {"rel": "alternate", "type": "text/html", "href": format!("{base}/tiles?f=html")},
                {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "type": "application/json", "href": format!("{base}/tileMatrixSets")},
            ],
            "tilesets": entries,
        }))
        .into_response());
    }
    let mut page = String::from(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <title>Danh mục lớp bản đồ (Tile catalog)</title></head><body>\
         <h1>Danh mục lớp bản đồ <small>(Tile catalog)</small></h1><table>\
         <tr><th>Lớp (Layer)</th><th>Mức thu phóng (Zoom)</th><th>TileJSON</th><th>XYZ</th><th>OGC</th></tr>",
    );
    for e in &entries {
        let s = |k: &str| escape_html(e[k].as_str().unwrap_or(""));
        page.push_str(&format!(
            "<tr><td>{} ({})<br><code>{}</code></td><td>{}–{}</td><td><a href=\"{}\">TileJSON</a></td>\
             <td><code>{}</code></td><td><a href=\"{}\">WebMercatorQuad</a></td></tr>",
            s("title"),
            s("title_en"),
            s("id"),
            e["minzoom"],
            e["maxzoom"],
            s("tilejson"),
            s("tiles"),
            s("ogc_tileset"),
        ));
    }
    page.push_str("</table></body></html>");
    let mut r = Response::new(Body::from(page));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::{negotiate, web_mercator_scale, Encoding};

    #[test]
    fn accept_encoding_is_read_with_its_q_values() {
        use Encoding::*;
        for (header, want) in [
            (None, Identity),
            (Some(""), Identity),
            (Some("br"), Brotli),
            (Some("gzip, deflate, br, zstd"), Brotli),
            (Some("br;q=1, gzip;q=0.5"), Brotli),
            (Some("br;q=0.5, gzip;q=1"), Gzip),
            (Some("br; q=0, gzip"), Gzip),
            (Some("x-gzip"), Gzip),
            (Some("identity"), Identity),
            (Some("*"), Brotli),
            (Some("*;q=0"), Identity),
            (Some("*;q=0.3, br;q=0"), Gzip),
            (Some("gzip;q=0.2, identity;q=0.5"), Identity),
            (Some("gzip;q=2"), Identity),
            (Some("gzip;q=abc, br;q=0.001"), Brotli),
            (Some("deflate"), Identity),
        ] {
            assert_eq!(negotiate(header), want, "{header:?}");
        }
    }

    #[test]
    fn scale_denominators_use_the_standard_pixel() {
        let (cell, scale) = web_mercator_scale(0);
        assert!((cell - 156_543.033_928_041).abs() < 1e-6);
        assert!((scale - 559_082_264.028_717_8).abs() < 1e-4);
    }
}
