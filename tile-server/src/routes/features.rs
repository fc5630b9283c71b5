//! OGC API – Features (Parts 1–3): conformance, collections, items (GeoJSON, HTML, GeoPackage,
//! CSV), single features and queryables, over every registered layer.
//!
//! The items SQL lives in [`gis_core::features`]; this module reads the query string, checks
//! it (unknown parameters are refused, as OGC asks, except `f` and queryables used as query
//! parameters), and shapes the answer. The caller's [`Access`](gis_core::layer::Access) is one value passed down:
//! what the [`Reader`] may read ([`Reader::sight`]): restricted properties (owner names) appear only for land officers and administrators,
//! and using one in `filter`, `properties`, `sortby` or as a query parameter answers 403.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cql2::{self, Cql2Error};
use futures_util::StreamExt;
use gis_core::crs::{ogc_uri, AxisRule};
use gis_core::features::{
    self as gf, FeaturesError, GeometryFormat, ItemsQuery, OutputCrs, DEFAULT_LIMIT, MAX_DOWNLOAD,
    MAX_LIMIT,
};
use gis_core::layer::{extent_lonlat, Layer, Sight};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::{problem_response, problem_with_extensions, AppError};
use crate::reader::Reader;
use crate::routes::base_url;
use crate::routes::landing::escape_html;

/// The cheap routes of this module (metadata).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conformance", get(conformance))
        .route("/collections", get(collections))
        .route("/collections/{id}", get(collection))
        .route("/collections/{id}/queryables", get(queryables))
}

/// The routes that query features (items, one feature), which the app puts behind the
/// per-client limits ([`crate::load::guard_expensive`]).
pub fn expensive_router() -> Router<AppState> {
    Router::new()
        .route(
            "/collections/{id}/items",
            get(items).post(crate::routes::edit::create),
        )
        .route(
            "/collections/{id}/items/{fid}",
            get(item)
                .put(crate::routes::edit::replace)
                .patch(crate::routes::edit::patch)
                .delete(crate::routes::edit::delete),
        )
        .route(
            "/collections/{id}/items/{fid}/versions",
            get(crate::routes::edit::versions),
        )
}

/// The conformance classes bando implements (OGC API – Features Parts 1–3, CQL2);
/// `/conformance` lists them followed by [`crate::routes::tiles::TILES_CONFORMANCE`].
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-features-6/1.0/conf/property-selection",
];

const GEOJSON: &str = "application/geo+json";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// An error answer: problem JSON with the status the cause deserves.
#[derive(Debug)]
pub struct ApiError(Box<Response>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl ApiError {
    /// An answer already built (a problem response with its own headers).
    pub fn from_response(response: Response) -> Self {
        ApiError(Box::new(response))
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(Box::new(e.into_response()))
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    AppError::BadRequest(msg.into()).into()
}

impl From<FeaturesError> for ApiError {
    fn from(e: FeaturesError) -> Self {
        let forbidden =
            |m: String| ApiError(Box::new(problem_response(StatusCode::FORBIDDEN, Some(m))));
        match e {
            FeaturesError::Invalid { .. } | FeaturesError::BadValue(_) => bad(e.to_string()),
            FeaturesError::Forbidden { .. } => forbidden(e.to_string()),
            FeaturesError::Filter(Cql2Error::Forbidden { .. }) => forbidden(e.to_string()),
            FeaturesError::Filter(Cql2Error::Context(_)) => AppError::internal(e).into(),
            FeaturesError::Filter(_) => bad(e.to_string()),
            FeaturesError::Db(db) => AppError::from(db).into(),
            other => AppError::internal(other).into(),
        }
    }
}

impl From<gis_core::layer::LayerError> for ApiError {
    fn from(e: gis_core::layer::LayerError) -> Self {
        AppError::from(e).into()
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON / GeoJSON.
    Json,
    /// Server-rendered HTML.
    Html,
    /// GeoPackage download.
    Gpkg,
    /// CSV download.
    Csv,
}

/// `f=` first, then `Accept`: HTML only when the client names `text/html` (or XHTML) and
/// prefers it over JSON and over `*/*`, as browsers do (`text/html,…,*/*;q=0.8`); JSON for
/// `*/*`, no `Accept` at all, or anything else — what API clients (OWSLib, requests, curl) send.
pub fn negotiate(
    f: Option<&str>,
    headers: &HeaderMap,
    downloads: bool,
) -> Result<Format, ApiError> {
    match f.map(str::to_ascii_lowercase).as_deref() {
        Some("json" | "geojson" | "application/json" | "application/geo+json") => Ok(Format::Json),
        Some("html" | "text/html") => Ok(Format::Html),
        Some("gpkg" | "geopackage") if downloads => Ok(Format::Gpkg),
        Some("csv") if downloads => Ok(Format::Csv),
        Some(other) => Err(bad(format!(
            "parameter 'f': unknown format \"{}\"; use json or html{}",
            other.chars().take(30).collect::<String>(),
            if downloads { ", gpkg or csv" } else { "" }
        ))),
        None => Ok(
            if prefers_html(
                headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            ) {
                Format::Html
            } else {
                Format::Json
            },
        ),
    }
}

/// Whether an `Accept` header prefers HTML to JSON: the highest `q` wins, an earlier entry
/// wins a tie, and a wildcard counts for JSON (the API's own format).
fn prefers_html(accept: &str) -> bool {
    let mut best: Option<(f32, bool)> = None;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        // A malformed q counts as 1, as most servers read it; q=0 means "not this".
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let html = match media.as_str() {
            "text/html" | "application/xhtml+xml" => true,
            "*/*" | "application/*" => false,
            m if m.contains("json") => false,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, html));
        }
    }
    best.is_some_and(|(_, html)| html)
}

type Params = Vec<(String, String)>;

/// The value of a parameter given once; twice is an error.
fn single<'a>(params: &'a Params, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    let mut found = params.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(bad(format!("parameter '{name}' is given more than once")));
    }
    Ok(first)
}

fn refuse_unknown(params: &Params, allowed: &[&str]) -> Result<(), ApiError> {
    for (k, _) in params {
        if !allowed.contains(&k.as_str()) {
            return Err(bad(format!(
                "unknown parameter '{}'; this resource accepts: {}",
                k.chars().take(40).collect::<String>(),
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// The collection `id` if the reader sees it (a layer hidden from the reader is not found, as
/// if it did not exist).
fn layer_for(
    state: &AppState,
    id: &str,
    reader: &Reader,
) -> Result<std::sync::Arc<dyn Layer>, ApiError> {
    state
        .layers
        .get(id)
        .filter(|l| reader.sees(l.as_ref()))
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "there is no collection \"{}\"; see /collections",
                id.chars().take(60).collect::<String>()
            ))
            .into()
        })
}

/// A land officer asking for personal data of a commune outside their scope is refused (403),
/// never answered with the data silently left out.
fn refuse_outside_scope(layer: &dyn Layer, q: &ItemsQuery) -> Result<(), ApiError> {
    let Some(scope) = &q.scope else {
        return Ok(());
    };
    let outside = q
        .equals
        .iter()
        .find(|(name, value)| *name == scope.column && !scope.includes(value));
    match outside {
        Some((_, commune)) if gf::asks_restricted(layer, q) => Err(AppError::Forbidden(format!(
            "commune {} is outside your scope ({}); personal data is readable only there",
            commune.chars().take(12).collect::<String>(),
            scope.communes.join(", ")
        ))
        .into()),
        _ => Ok(()),
    }
}

/// The OGC API CRS parameter `param` (`crs`, `bbox-crs`, `filter-crs`): the one resolver
/// ([`crate::params`]), axes in the CRS's own order.
async fn resolve_crs(
    state: &AppState,
    text: &str,
    param: &'static str,
) -> Result<OutputCrs, ApiError> {
    let crs = crate::params::resolve(state, param, text, AxisRule::Authority).await?;
    Ok(OutputCrs::from(&crs))
}

fn crs_uri(crs: OutputCrs) -> String {
    if crs.srid == 4326 && !crs.lat_first {
        CRS84.to_string()
    } else {
        format!("http://www.opengis.net/def/crs/EPSG/0/{}", crs.srid)
    }
}

/// The CRS URIs listed for every collection (any other EPSG code PostGIS knows is accepted too).
fn crs_list(state: &AppState) -> Vec<String> {
    let mut out = vec![CRS84.to_string()];
    out.extend(
        state
            .crs
            .named()
            .map(|c| format!("http://www.opengis.net/def/crs/EPSG/0/{}", c.epsg)),
    );
    out
}

fn json_response(value: &Value, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, value.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn html_response(title: &str, body: &str) -> Response {
    let page = format!(
        r#"<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, "Noto Sans", sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
nav a {{ margin-right: 1rem; }}
</style>
</head>
<body>
<nav><a href="/">Trang chủ (Home)</a><a href="/collections?f=html">Bộ dữ liệu (Collections)</a></nav>
<h1>{title}</h1>
{body}
</body>
</html>
"#,
        title = escape_html(title)
    );
    let mut r = (StatusCode::OK, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `GET /conformance`
pub async fn conformance(
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    refuse_unknown(&params, &["f"])?;
    let format = negotiate(single(&params, "f")?, &headers, false)?;
    // One document for the whole server: Features (this module) and Tiles (routes::tiles).
    let classes: Vec<&str> = CONFORMANCE
        .iter()
        .chain(crate::routes::edit::CONFORMANCE)
        .chain(crate::routes::tiles::TILES_CONFORMANCE)
        .copied()
        .collect();
    if format == Format::Html {
        let items: String = classes
            .iter()
            .map(|c| format!("<li><code>{}</code></li>", escape_html(c)))
            .collect();
        return Ok(html_response(
            "Lớp phù hợp (Conformance)",
            &format!("<ul id=\"conformance\">{items}</ul>"),
        ));
    }
    Ok(json_response(
        &json!({ "conformsTo": classes }),
        "application/json",
    ))
}

async fn collection_json(
    state: &AppState,
    layer: &dyn Layer,
    base: &str,
) -> Result<Value, ApiError> {
    let id = layer.id();
    let storage = layer.storage();
    let mut extent = json!({});
    let mut storage_bbox = None;
    if let Some(bb) = extent_lonlat(&state.pools.admin, &storage).await? {
        extent["spatial"] = json!({ "bbox": [bb], "crs": CRS84 });
        storage_bbox = gf::extent_in(&state.pools.admin, bb, storage.srid).await?;
    }
    let items = format!("{base}/collections/{id}/items");
    let mut c = json!({
        "id": id,
        "title": layer.title_vi(),
        "description": format!("{} — {}", layer.title_vi(), layer.title_en()),
        "itemType": "feature",
        "extent": extent,
        "crs": crs_list(state),
        "storageCrs": ogc_uri(storage.srid),
        "links": [
            {"rel": "self", "type": "application/json", "title": "this collection", "href": format!("{base}/collections/{id}")},
            {"rel": "alternate", "type": "text/html", "title": "HTML", "href": format!("{base}/collections/{id}?f=html")},
            {"rel": "items", "type": GEOJSON, "title": "features (GeoJSON)", "href": items},
            {"rel": "items", "type": "text/html", "title": "features (HTML)", "href": format!("{items}?f=html")},
            {"rel": "enclosure", "type": "application/geopackage+sqlite3", "title": "GeoPackage", "href": format!("{items}?f=gpkg")},
            {"rel": "enclosure", "type": "text/csv", "title": "CSV", "href": format!("{items}?f=csv")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json", "title": "queryables", "href": format!("{base}/collections/{id}/queryables")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": "application/json", "title": "vector tiles", "href": format!("{base}/collections/{id}/tiles")},
        ],
    });
    if let Some(sb) = storage_bbox {
        c["storageCrsBbox"] = json!(sb);
    }
    Ok(c)
}

/// `GET /collections`
pub async fn collections(
    State(state): State<AppState>,
    reader: Reader,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    refuse_unknown(&params, &["f"])?;
    let format = negotiate(single(&params, "f")?, &headers, false)?;
    let base = base_url(&headers);
    let registry = state.layers.snapshot();
    let layers: Vec<_> = registry
        .iter()
        .filter(|l| reader.sees(l.as_ref()))
        .collect();
    if format == Format::Html {
        let rows: String = layers
            .iter()
            .map(|l| {
                format!(
                    "<tr data-collection=\"{id}\"><td><a href=\"/collections/{id}/items?f=html\">{vi}</a></td><td>{en}</td><td><code>{id}</code></td><td><a href=\"/collections/{id}/items?f=gpkg\">GPKG</a> · <a href=\"/collections/{id}/items?f=csv\">CSV</a></td></tr>",
                    id = escape_html(l.id()),
                    vi = escape_html(l.title_vi()),
                    en = escape_html(l.title_en()),
                )
            })
            .collect();
        return Ok(html_response(
            "Bộ dữ liệu (Collections)",
            &format!("<table id=\"collections\"><thead><tr><th>Tên lớp</th><th>Layer</th><th>Mã (id)</th><th>Tải về (Download)</th></tr></thead><tbody>{rows}</tbody></table>"),
        ));
    }
    let mut list = Vec::with_capacity(layers.len());
    for l in layers {
        list.push(collection_json(&state, l.as_ref(), &base).await?);
    }
    Ok(json_response(
        &json!({
            "links": [
                {"rel": "self", "type": "application/json", "href": format!("{base}/collections")},
                {"rel": "alternate", "type": "text/html", "href": format!("{base}/collections?f=html")},
            ],
            "crs": crs_list(&state),
            "collections": list,
        }),
        "application/json",
    ))
}

/// `GET /collections/{id}`
pub async fn collection(
    State(state): State<AppState>,
    reader: Reader,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    refuse_unknown(&params, &["f"])?;
    let format = negotiate(single(&params, "f")?, &headers, false)?;
    let layer = layer_for(&state, &id, &reader)?;
    let access = reader.sight(layer.as_ref()).access;
    if format == Format::Html {
        let props: String = gf::visible_properties(layer.as_ref(), access)
            .iter()
            .map(|p| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                    escape_html(&p.title_vi),
                    escape_html(&p.title_en),
                    escape_html(&p.name)
                )
            })
            .collect();
        return Ok(html_response(
            layer.title_vi(),
            &format!(
                "<p>{en}</p><p><a href=\"/collections/{id}/items?f=html\">Xem đối tượng (Features)</a> · <a href=\"/collections/{id}/items?f=gpkg\">GeoPackage</a> · <a href=\"/collections/{id}/items?f=csv\">CSV</a></p><h2>Thuộc tính (Properties)</h2><table><tbody>{props}</tbody></table>",
                en = escape_html(layer.title_en()),
                id = escape_html(layer.id())
            ),
        ));
    }
    let c = collection_json(&state, layer.as_ref(), &base_url(&headers)).await?;
    Ok(json_response(&c, "application/json"))
}

/// `GET /collections/{id}/queryables`: a JSON Schema of what filters may use.
pub async fn queryables(
    State(state): State<AppState>,
    reader: Reader,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    refuse_unknown(&params, &["f"])?;
    let format = negotiate(single(&params, "f")?, &headers, false)?;
    let layer = layer_for(&state, &id, &reader)?;
    let access = reader.sight(layer.as_ref()).access;
    let base = base_url(&headers);
    let props = ogc_features::queryables::properties(layer.as_ref(), access);
    if format == Format::Html {
        let rows: String = props
            .iter()
            .map(|(k, v)| {
                format!(
                    "<tr><td><code>{}</code></td><td>{}</td></tr>",
                    escape_html(k),
                    escape_html(v["title"].as_str().unwrap_or(""))
                )
            })
            .collect();
        return Ok(html_response(
            &format!("{} — Thuộc tính lọc (Queryables)", layer.title_vi()),
            &format!("<table><tbody>{rows}</tbody></table>"),
        ));
    }
    Ok(json_response(
        &ogc_features::queryables::schema(&base, &id, layer.as_ref(), props),
        "application/schema+json",
    ))
}

const ITEMS_PARAMS: &[&str] = &[
    "f",
    "bbox",
    "bbox-crs",
    "datetime",
    "limit",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "properties",
    "sortby",
    "cursor",
];

/// Reads the items query string into an [`ItemsQuery`].
async fn items_query(
    state: &AppState,
    layer: &dyn Layer,
    params: &Params,
    format: Format,
    sight: Sight,
) -> Result<ItemsQuery, ApiError> {
    let access = sight.access;
    let queryable_names: Vec<String> = gf::queryables(layer, access)
        .into_iter()
        .map(|q| q.name)
        .filter(|n| n != gf::GEOMETRY_QUERYABLE)
        .collect();
    let restricted: Vec<String> = layer
        .properties()
        .into_iter()
        .filter(|p| p.access > access)
        .map(|p| p.name)
        .collect();
    let mut q = ItemsQuery::new();
    q.access = access;
    q.scope = sight.scope;
    for (k, v) in params {
        if ITEMS_PARAMS.contains(&k.as_str()) {
            continue;
        }
        if queryable_names.contains(k) || restricted.contains(k) {
            q.equals.push((k.clone(), v.clone()));
            continue;
        }
        return Err(bad(format!(
            "unknown parameter '{}'; items accept {} and the queryables ({})",
            k.chars().take(40).collect::<String>(),
            ITEMS_PARAMS.join(", "),
            queryable_names.join(", ")
        )));
    }
    for p in ITEMS_PARAMS {
        single(params, p)?;
    }
    let get = |n: &'static str| single(params, n).ok().flatten();
    if let Some(c) = get("crs") {
        q.crs = resolve_crs(state, c, "crs").await?;
    }
    if let Some(b) = get("bbox") {
        let bcrs = match get("bbox-crs") {
            Some(t) => resolve_crs(state, t, "bbox-crs").await?,
            None => OutputCrs::CRS84,
        };
        q.bbox = Some(gf::parse_bbox(
            b,
            bcrs.srid,
            bcrs.lat_first,
            bcrs.geographic,
        )?);
    } else if get("bbox-crs").is_some() {
        return Err(bad("parameter 'bbox-crs' needs a 'bbox'"));
    }
    if let Some(d) = get("datetime") {
        let interval = gf::parse_datetime(d)?;
        // On a layer with history an instant is the state then (ARCHITECTURE.md, time
        // travel); an interval, and every other layer, filters on the temporal property.
        match (&interval.start, &interval.end) {
            (Some(s), Some(e)) if s == e && layer.as_of_function().is_some() => {
                q.as_of = Some(s.clone());
            }
            _ => q.datetime = Some(interval),
        }
    }
    let downloading = matches!(format, Format::Gpkg | Format::Csv);
    let max = if downloading { MAX_DOWNLOAD } else { MAX_LIMIT };
    q.limit = match get("limit") {
        None if downloading => MAX_DOWNLOAD,
        None => DEFAULT_LIMIT,
        Some(l) => match l.trim().parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(bad(format!(
                    "parameter 'limit': expected a whole number from 1 to {max}, found \"{}\"",
                    l.chars().take(20).collect::<String>()
                )))
            }
        },
    };
    if let Some(fc) = get("filter-crs") {
        q.filter_crs = resolve_crs(state, fc, "filter-crs").await?;
    }
    match (get("filter"), get("filter-lang")) {
        (Some(f), lang) => {
            let expr = match lang.map(str::to_ascii_lowercase).as_deref() {
                None | Some("cql2-text") => cql2::parse_text(f),
                Some("cql2-json") => cql2::parse_json(f),
                Some(other) => {
                    return Err(bad(format!(
                    "parameter 'filter-lang': \"{}\" is not supported; use cql2-text or cql2-json",
                    other.chars().take(30).collect::<String>()
                )))
                }
            };
            q.filter = Some(expr.map_err(FeaturesError::Filter)?);
        }
        (None, Some(_)) => return Err(bad("parameter 'filter-lang' needs a 'filter'")),
        (None, None) => {}
    }
    if let Some(p) = get("properties") {
        let names: Vec<String> = p
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        q.properties = Some(names);
    }
    if let Some(s) = get("sortby") {
        q.sortby = gf::parse_sortby(s)?;
    }
    if let Some(c) = get("cursor") {
        q.cursor = Some(gf::Cursor::decode(c)?);
    }
    if downloading {
        q.geometry = GeometryFormat::Wkt;
        // Files store x/y (longitude or easting first) whatever the CRS's axis order.
        q.crs.lat_first = false;
    }
    gf::validate(layer, &q)?;
    Ok(q)
}

fn link_with(base: &str, path: &str, params: &Params, set: &[(&str, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
        .cloned()
        .collect();
    for (k, v) in set {
        pairs.push(((*k).to_string(), v.clone()));
    }
    let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if qs.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{qs}")
    }
}

/// `GET /collections/{id}/items`
pub async fn items(
    State(state): State<AppState>,
    reader: Reader,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = negotiate(single(&params, "f")?, &headers, true)?;
    let layer = layer_for(&state, &id, &reader)?;
    let mut sight = reader.sight(layer.as_ref());
    if matches!(format, Format::Gpkg | Format::Csv) {
        // A file cannot be masked row by row: personal data only for province-wide readers.
        sight = sight.whole_access().into();
    }
    let q = items_query(&state, layer.as_ref(), &params, format, sight).await?;
    refuse_outside_scope(layer.as_ref(), &q)?;
    guard_cost(&state, layer.as_ref(), &q).await?;
    if matches!(format, Format::Gpkg | Format::Csv) {
        return download(&state, layer.clone(), q, format).await;
    }
    let key = gf::match_key(layer.as_ref(), &q)?;
    let generation = state.tiles.change_generation();
    let known = state.match_counts.get(&key, generation).await;
    let page = gf::items_with_count(state.pools.features(), layer.as_ref(), &q, known).await?;
    if known.is_none() {
        state
            .match_counts
            .insert(key, generation, page.number_matched)
            .await;
    }
    let base = base_url(&headers);
    let path = format!("/collections/{id}/items");
    if format == Format::Html {
        return Ok(items_html(layer.as_ref(), &page, &path, &params));
    }
    let mut links = vec![
        json!({"rel": "self", "type": GEOJSON, "href": link_with(&base, &path, &params, &[])}),
        json!({"rel": "alternate", "type": "text/html", "href": link_with(&base, &path, &params, &[("f", "html".into())])}),
        json!({"rel": "collection", "type": "application/json", "href": format!("{base}/collections/{id}")}),
    ];
    if let Some(next) = &page.next {
        links.push(json!({"rel": "next", "type": GEOJSON, "href": link_with(&base, &path, &params, &[("cursor", next.encode())])}));
    }
    if let Some(prev) = &page.prev {
        links.push(json!({"rel": "prev", "type": GEOJSON, "href": link_with(&base, &path, &params, &[("cursor", prev.encode())])}));
    }
    // Written with the features as PostgreSQL produced them (no parse and re-serialise).
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct FeatureCollection<'a> {
        r#type: &'static str,
        number_matched: i64,
        number_returned: usize,
        time_stamp: String,
        links: Vec<Value>,
        features: &'a [Box<serde_json::value::RawValue>],
    }
    let body = serde_json::to_vec(&FeatureCollection {
        r#type: "FeatureCollection",
        number_matched: page.number_matched,
        number_returned: page.features.len(),
        time_stamp: timestamp(),
        links,
        features: &page.features,
    })
    .map_err(|e| ApiError::from(AppError::internal(e)))?;
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    set_content_crs(&mut r, q.crs);
    Ok(r)
}

fn set_content_crs(r: &mut Response, crs: OutputCrs) {
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs_uri(crs))) {
        r.headers_mut().insert("content-crs", v);
    }
}

fn timestamp() -> String {
    // RFC 3339 in UTC without a date library: seconds since the epoch → civil date.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn items_html(layer: &dyn Layer, page: &gf::Page, path: &str, params: &Params) -> Response {
    let head: String = std::iter::once("<th>Mã (id)</th>".to_string())
        .chain(page.properties.iter().map(|p| {
            format!(
                "<th title=\"{}\">{}</th>",
                escape_html(&p.title_en),
                escape_html(&p.title_vi)
            )
        }))
        .collect();
    let mut rows = String::new();
    for f in &page.values() {
        let id = f["id"].to_string();
        rows.push_str(&format!(
            "<tr data-id=\"{id}\"><td><a href=\"{path}/{id}?f=html\">{id}</a></td>"
        ));
        for p in &page.properties {
            let v = match &f["properties"][&p.name] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            rows.push_str(&format!("<td>{}</td>", escape_html(&v)));
        }
        rows.push_str("</tr>\n");
    }
    let mut nav = String::new();
    if let Some(prev) = &page.prev {
        nav.push_str(&format!(
            "<a rel=\"prev\" href=\"{}\">← Trang trước (Previous)</a> ",
            escape_html(&link_with("", path, params, &[("cursor", prev.encode())]))
        ));
    }
    if let Some(next) = &page.next {
        nav.push_str(&format!(
            "<a rel=\"next\" href=\"{}\">Trang sau (Next) →</a>",
            escape_html(&link_with("", path, params, &[("cursor", next.encode())]))
        ));
    }
    html_response(
        layer.title_vi(),
        &format!(
            "<p>{en}. Số đối tượng (Features): <span id=\"matched\">{m}</span>; hiển thị (shown): {r}.</p><p>{nav}</p><table id=\"items\"><thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table>",
            en = escape_html(layer.title_en()),
            m = page.number_matched,
            r = page.features.len(),
        ),
    )
}

/// The cost guard (issue 12): a filtered or sorted query whose plan (`EXPLAIN`, nothing run)
/// costs more than `limits.feature_cost_budget` is refused with 422, naming what makes it
/// costly. Plain paging and bbox queries are not estimated (no extra round trip).
async fn guard_cost(state: &AppState, layer: &dyn Layer, q: &ItemsQuery) -> Result<(), ApiError> {
    let budget = state.feature_cost_budget;
    if budget <= 0.0 || (q.filter.is_none() && q.sortby.is_empty()) {
        return Ok(());
    }
    let estimate = gf::estimate(state.pools.features(), layer, q).await?;
    if estimate.cost <= budget {
        return Ok(());
    }
    let reasons = gf::cost_reasons(q);
    let detail = format!(
        "this query is too expensive to run: PostgreSQL estimates a cost of {:.0} (about {:.0} matching features), over the budget of {budget:.0} per request. What makes it costly: {}. Add a bbox, use LIKE patterns that start with fixed text, or drop sortby",
        estimate.cost,
        estimate.rows,
        reasons.join("; ")
    );
    let mut extensions = serde_json::Map::new();
    extensions.insert("estimatedCost".into(), json!(estimate.cost.round()));
    extensions.insert("costBudget".into(), json!(budget));
    extensions.insert("reasons".into(), json!(reasons));
    Err(ApiError(Box::new(problem_with_extensions(
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(detail),
        extensions,
    ))))
}

/// A download (CSV, GeoPackage), streamed: its features are read by a task of its own in
/// batches ([`gf::send_features`]) and written to the client as they come — CSV row by row,
/// a GeoPackage into a temporary file (GDAL cannot write one as a stream) that is then sent
/// and removed — so no download holds its features in memory. When the client leaves, the
/// task's query is cancelled ([`gis_core::db::cancel_on_drop`]) and the file removed.
async fn download(
    state: &AppState,
    layer: std::sync::Arc<dyn Layer>,
    q: ItemsQuery,
    format: Format,
) -> Result<Response, ApiError> {
    let matched = gf::count(state.pools.downloads(), layer.as_ref(), &q).await?;
    if q.cursor.is_none() && matched > i64::from(q.limit) && q.limit == MAX_DOWNLOAD {
        return Err(ApiError(Box::new(problem_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(format!(
                "{matched} features match; a download holds at most {MAX_DOWNLOAD}: narrow it with bbox, filter or datetime, or page with limit"
            )),
        ))));
    }
    let properties = gf::download_properties(layer.as_ref(), &q)?;
    let id = layer.id().to_string();
    let crs = q.crs;
    let batches = stream_features(state, layer, q);
    let (body, content_type, ext) = match format {
        Format::Csv => {
            let header = ogc_features::downloads::csv_header(&properties);
            let rows = batches.map(move |batch| {
                batch.map(|b| {
                    axum::body::Bytes::from(ogc_features::downloads::csv_rows(&properties, &b))
                })
            });
            let body = futures_util::stream::once(async move {
                Ok::<_, DownloadFailed>(axum::body::Bytes::from(header))
            })
            .chain(rows);
            (Body::from_stream(body), "text/csv; charset=utf-8", "csv")
        }
        _ => (
            Body::from_stream(gpkg_body(batches, properties, id.clone(), crs.srid)),
            "application/geopackage+sqlite3",
            "gpkg",
        ),
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    set_content_crs(&mut r, crs);
    Ok(r)
}

/// A download that failed after its answer started: the body ends with an error, so the
/// client sees a broken transfer rather than a short file.
#[derive(Debug, thiserror::Error)]
#[error("the download failed: {0}")]
struct DownloadFailed(String);

/// Batches of features read by a task of their own; the task's query is cancelled when the
/// stream is dropped before its end (the client left).
fn stream_features(
    state: &AppState,
    layer: std::sync::Arc<dyn Layer>,
    q: ItemsQuery,
) -> impl futures_util::Stream<Item = Result<Vec<Box<serde_json::value::RawValue>>, DownloadFailed>>
       + Send
       + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    // Chosen now: the request's read target is known here, not in the task.
    let pool = state.pools.downloads().clone();
    let control = state.pools.control().clone();
    let streaming = state.downloads_streaming.clone();
    tokio::spawn(async move {
        streaming.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let read = gis_core::db::cancel_on_drop(
            &control,
            gf::send_features(&pool, layer.as_ref(), &q, &tx),
        );
        tokio::select! {
            // First: a client gone while a batch was being sent also ends the read's send.
            biased;
            // The client left: dropping the read cancels its query.
            _ = tx.closed() => {}
            done = read => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, "a download failed after it started");
                    let _ = failed_tx.send(e.to_string());
                }
            }
        }
        streaming.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    });
    let batches =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|b| (Ok(b), rx)) },
        );
    // After the last batch: an error if the read failed.
    let end = futures_util::stream::once(async move {
        match failed_rx.await {
            Ok(e) => Some(Err(DownloadFailed(e))),
            Err(_) => None,
        }
    })
    .filter_map(|e| async move { e });
    batches.chain(end)
}

/// A GeoPackage download's body: the batches written to a temporary file on a blocking thread,
/// then the file sent in chunks; the file is removed when the body ends or is dropped.
fn gpkg_body(
    batches: impl futures_util::Stream<Item = Result<Vec<Box<serde_json::value::RawValue>>, DownloadFailed>>
        + Send
        + 'static,
    properties: Vec<gis_core::layer::PropertyDef>,
    name: String,
    srid: u32,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, DownloadFailed>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    let written = async move {
        // The blocking writer takes batches from this channel and stops when the channel
        // does. It owns the file until it has finished writing: should the client leave
        // first, the file is removed after GDAL is done with it, not before.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Box<serde_json::value::RawValue>>>(2);
        let writer = tokio::task::spawn_blocking(move || {
            let file = ogc_features::downloads::GpkgFile::new();
            ogc_features::downloads::write_gpkg(
                file.path(),
                std::iter::from_fn(|| rx.blocking_recv()),
                &properties,
                &name,
                srid,
            )?;
            Ok::<_, ogc_features::downloads::DownloadError>(file)
        });
        let mut batches = std::pin::pin!(batches);
        while let Some(batch) = batches.next().await {
            if tx.send(batch?).await.is_err() {
                break; // the writer failed: its error follows
            }
        }
        drop(tx);
        let file = writer
            .await
            .map_err(|e| DownloadFailed(e.to_string()))?
            .map_err(|e| DownloadFailed(e.to_string()))?;
        let reader = tokio::fs::File::open(file.path())
            .await
            .map_err(|e| DownloadFailed(e.to_string()))?;
        Ok::<_, DownloadFailed>((file, reader))
    };
    futures_util::stream::once(written).flat_map(|opened| match opened {
        Err(e) => futures_util::stream::iter(vec![Err(e)]).left_stream(),
        Ok((file, reader)) => {
            futures_util::stream::unfold(Some((file, reader)), |state| async move {
                let (file, mut reader) = state?;
                let mut buf = vec![0u8; 64 * 1024];
                match reader.read(&mut buf).await {
                    Ok(0) => None, // the file is removed with `file`
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(axum::body::Bytes::from(buf)), Some((file, reader))))
                    }
                    Err(e) => Some((Err(DownloadFailed(e.to_string())), None)),
                }
            })
            .right_stream()
        }
    })
}

/// `GET /collections/{id}/items/{fid}`
pub async fn item(
    State(state): State<AppState>,
    reader: Reader,
    Path((id, fid)): Path<(String, String)>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    refuse_unknown(&params, &["f", "crs"])?;
    let format = negotiate(single(&params, "f")?, &headers, false)?;
    let layer = layer_for(&state, &id, &reader)?;
    let sight = reader.sight(layer.as_ref());
    let access = sight.access;
    let not_found = || -> ApiError {
        AppError::NotFound(format!(
            "collection \"{id}\" has no feature \"{}\"",
            fid.chars().take(40).collect::<String>()
        ))
        .into()
    };
    let fid_num: i64 = fid.parse().map_err(|_| not_found())?;
    let crs = match single(&params, "crs")? {
        Some(c) => resolve_crs(&state, c, "crs").await?,
        None => OutputCrs::CRS84,
    };
    // The tag is read before the feature: should a write fall between, the tag is the older
    // one, so a write based on this answer is refused (412) rather than losing that change.
    let etag = if id == land::tables::PARCELS.kind {
        land::edit::etag(state.pools.features(), fid_num)
            .await
            .map_err(AppError::from)?
    } else {
        None
    };
    let mut feature = gf::item(state.pools.features(), layer.as_ref(), fid_num, crs, &sight)
        .await?
        .ok_or_else(not_found)?;
    if format == Format::Html {
        let rows: String = gf::visible_properties(layer.as_ref(), access)
            .iter()
            .map(|p| {
                let v = match &feature["properties"][&p.name] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!(
                    "<tr><th title=\"{}\">{}</th><td>{}</td></tr>",
                    escape_html(&p.title_en),
                    escape_html(&p.title_vi),
                    escape_html(&v)
                )
            })
            .collect();
        return Ok(html_response(
            &format!("{} — {fid_num}", layer.title_vi()),
            &format!("<table id=\"feature\"><tbody>{rows}</tbody></table>"),
        ));
    }
    let base = base_url(&headers);
    feature["links"] = json!([
        {"rel": "self", "type": GEOJSON, "href": format!("{base}/collections/{id}/items/{fid_num}")},
        {"rel": "alternate", "type": "text/html", "href": format!("{base}/collections/{id}/items/{fid_num}?f=html")},
        {"rel": "collection", "type": "application/json", "href": format!("{base}/collections/{id}")},
    ]);
    let mut r = json_response(&feature, GEOJSON);
    set_content_crs(&mut r, crs);
    if let Some(v) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// Used by the OpenAPI document: the queryable parameter names of every collection.
pub fn collection_ids(state: &AppState) -> Vec<String> {
    state
        .layers
        .snapshot()
        .iter()
        .map(|l| l.id().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_only_when_the_client_prefers_it() {
        for (accept, html) in [
            ("", false),
            ("*/*", false),
            ("application/json", false),
            ("application/geo+json, application/json", false),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                true,
            ),
            ("text/html,application/xhtml+xml", true),
            ("text/html;q=0.5, application/json", false),
            ("application/json;q=0.5, text/html", true),
            ("*/*, text/html", false),
            ("text/html;q=0", false),
            ("image/png", false),
        ] {
            assert_eq!(super::prefers_html(accept), html, "{accept:?}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = super::timestamp();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
