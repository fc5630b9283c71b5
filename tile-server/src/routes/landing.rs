//! The landing page (Vietnamese first, `?lang=en` for English): links to the planners' map and
//! to every service (OGC API – Features and Tiles, OpenAPI, styles), the layers read from the
//! running database's catalog; the same list as JSON; and the OGC landing JSON (`?f=json`).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use gis_core::crs::CrsInfo;
use gis_core::layer::{read_catalog, CatalogEntry};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::Reader;
use crate::routes::base_url;
use crate::routes::features::{negotiate, ApiError, Format};

/// `?lang=` of the landing page.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
    f: Option<String>,
}

/// `GET /layers`: the catalog as JSON, the layers the reader sees.
pub async fn layers_json(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Json<Vec<CatalogEntry>>, AppError> {
    Ok(Json(catalog_for(&state, &reader).await?))
}

/// The published catalog, without the layers `reader` does not see (nor layers this server
/// does not serve).
async fn catalog_for(state: &AppState, reader: &Reader) -> Result<Vec<CatalogEntry>, AppError> {
    let mut catalog = read_catalog(&state.pools.admin).await?;
    catalog.retain(|e| {
        state
            .layers
            .get(&e.id)
            .is_some_and(|l| reader.sees(l.as_ref()))
    });
    Ok(catalog)
}

/// `GET /crs`: the CRSs bando names explicitly.
pub async fn crs_json(State(state): State<AppState>) -> Json<Vec<CrsInfo>> {
    Json(state.crs.named().cloned().collect())
}

struct Text {
    lang: &'static str,
    title: &'static str,
    intro: &'static str,
    layers: &'static str,
    cols: [&'static str; 7],
    none: &'static str,
    apps: &'static str,
    services: &'static str,
    other_lang: (&'static str, &'static str),
}

/// A link of the landing page: where it goes, a stable name for tests (`data-link`), and
/// what it is in Vietnamese and English.
struct Link {
    href: &'static str,
    name: &'static str,
    vi: &'static str,
    en: &'static str,
}

/// The browser apps, listed first: what most visitors come for.
const APPS: &[Link] = &[Link {
    href: "/map",
    name: "map",
    vi: "Bản đồ quy hoạch",
    en: "Planners' map",
}];

/// The machine-readable services, each answering on its own (HTML where it has a form for people).
const SERVICES: &[Link] = &[
    Link {
        href: "/collections?f=html",
        name: "collections",
        vi: "Tập dữ liệu — OGC API – Features",
        en: "Collections — OGC API – Features",
    },
    Link {
        href: "/tiles?f=html",
        name: "tiles",
        vi: "Danh mục tile vector — OGC API – Tiles",
        en: "Vector tile catalog — OGC API – Tiles",
    },
    Link {
        href: "/tileMatrixSets",
        name: "tileMatrixSets",
        vi: "Lưới tile (tile matrix sets)",
        en: "Tile matrix sets",
    },
    Link {
        href: "/styles",
        name: "styles",
        vi: "Kiểu bản đồ (MapLibre)",
        en: "Map styles (MapLibre)",
    },
    Link {
        href: "/api.html",
        name: "api-html",
        vi: "Tài liệu API",
        en: "API documentation",
    },
    Link {
        href: "/api",
        name: "api",
        vi: "Mô tả OpenAPI 3.0",
        en: "OpenAPI 3.0 description",
    },
    Link {
        href: "/conformance?f=html",
        name: "conformance",
        vi: "Lớp phù hợp OGC (conformance)",
        en: "OGC conformance classes",
    },
    Link {
        href: "/layers",
        name: "layers",
        vi: "Danh mục lớp dữ liệu (JSON)",
        en: "Layer catalog (JSON)",
    },
    Link {
        href: "/crs",
        name: "crs",
        vi: "Hệ tọa độ hỗ trợ (EPSG)",
        en: "Supported CRSs (EPSG)",
    },
    Link {
        href: "/health",
        name: "health",
        vi: "Tình trạng máy chủ",
        en: "Server health",
    },
    Link {
        href: "/metrics",
        name: "metrics",
        vi: "Số liệu vận hành (Prometheus)",
        en: "Metrics (Prometheus)",
    },
];

fn link_list(id: &str, links: &[Link], t: &Text) -> String {
    let items: String = links
        .iter()
        .map(|l| {
            format!(
                "<li><a href=\"{href}\" data-link=\"{name}\">{label}</a> <code>{path}</code></li>\n",
                href = escape_html(l.href),
                name = escape_html(l.name),
                label = escape_html(if t.lang == "vi" { l.vi } else { l.en }),
                path = escape_html(l.href.split('?').next().unwrap_or(l.href)),
            )
        })
        .collect();
    format!("<ul id=\"{id}\">\n{items}</ul>")
}

/// OGC link relations the landing JSON carries besides those of
/// [`ogc_features::openapi::landing_json`]: the vector tilesets and the tiling schemes.
const TILE_RELS: [(&str, &str, &str); 2] = [
    (
        "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
        "/tiles",
        "vector tiles",
    ),
    (
        "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
        "/tileMatrixSets",
        "tile matrix sets",
    ),
];

/// The OGC landing JSON with the tile relations added where missing.
fn landing_document(base: &str) -> serde_json::Value {
    let mut doc = ogc_features::openapi::landing_json(base);
    if let Some(links) = doc["links"].as_array_mut() {
        for (rel, path, title) in TILE_RELS {
            if !links.iter().any(|l| l["rel"] == rel) {
                links.push(serde_json::json!({
                    "rel": rel, "type": "application/json", "title": title,
                    "href": format!("{base}{path}"),
                }));
            }
        }
    }
    doc
}

const VI: Text = Text {
    lang: "vi",
    title: "bando — Nền tảng dữ liệu không gian",
    intro: "Máy chủ dữ liệu bản đồ của tỉnh: các lớp dữ liệu dưới đây được đọc từ cơ sở dữ liệu PostGIS đang chạy.",
    layers: "Các lớp dữ liệu",
    cols: ["Lớp", "Mã", "Lĩnh vực", "Hình học", "Số đối tượng", "Hệ tọa độ lưu trữ", "Truy cập"],
    none: "Chưa có lớp dữ liệu nào được đăng ký.",
    apps: "Ứng dụng",
    services: "Dịch vụ",
    other_lang: ("?lang=en", "English"),
};

const EN: Text = Text {
    lang: "en",
    title: "bando — spatial data platform",
    intro: "The province's map data server: the layers below are read from the running PostGIS database.",
    layers: "Layers",
    cols: ["Layer", "Id", "Sector", "Geometry", "Features", "Storage CRS", "Access"],
    none: "No layers are registered yet.",
    apps: "Apps",
    services: "Services",
    other_lang: ("?lang=vi", "Tiếng Việt"),
};

fn sector_label(sector: &str, t: &Text) -> String {
    match layers::catalog::sector_by_id(sector) {
        Some(s) if t.lang == "vi" => s.title_vi.to_string(),
        Some(s) => s.title_en.to_string(),
        None => sector.to_string(),
    }
}

fn access_label(access: &str, t: &Text) -> &'static str {
    match (access, t.lang) {
        ("public", "vi") => "Công khai",
        ("public", _) => "Public",
        (_, "vi") => "Hạn chế",
        _ => "Restricted",
    }
}

/// The one HTML escaper (the sign-in pages' too).
pub use auth::escape_html;

/// The tile store's size and its background seeding (issue 17), in the page's language; empty
/// without a store.
fn store_line(state: &AppState, t: &Text) -> String {
    let Some(store) = state.tiles.store() else {
        return String::new();
    };
    let mb = store.counters().bytes as f64 / 1e6;
    let vi = t.lang == "vi";
    let seeding = match state.tiles.seed_progress() {
        None => String::new(),
        Some(p) if p.running => {
            let at = match (&p.layer, p.zoom) {
                (Some(l), Some(z)) if vi => format!(" lớp <code>{}</code> mức {z}", escape_html(l)),
                (Some(l), Some(z)) => format!(" layer <code>{}</code> z{z}", escape_html(l)),
                _ => String::new(),
            };
            let done = p.rendered + p.rerendered;
            if vi {
                format!(
                    "; đang tạo sẵn{at}: {done} tile đã tạo, {} việc đang chờ",
                    p.waiting
                )
            } else {
                format!(
                    "; seeding{at}: {done} tiles rendered, {} jobs waiting",
                    p.waiting
                )
            }
        }
        Some(p) => {
            let done = p.rendered + p.rerendered;
            if vi {
                format!("; đã tạo sẵn xong ({done} tile đã tạo từ khi khởi động)")
            } else {
                format!("; seeding done ({done} tiles rendered since start)")
            }
        }
    };
    let (running, rendered) = state
        .tiles
        .seed_progress()
        .map_or((false, 0), |p| (p.running, p.rendered + p.rerendered));
    let head = if vi { "Kho tile" } else { "Tile store" };
    format!(
        "<p id=\"tile-store\" data-seeding=\"{running}\" data-rendered=\"{rendered}\">{head}: {mb:.1} MB{seeding}</p>"
    )
}

/// `GET /`: the landing page: the OGC API landing JSON (links to service-desc, service-doc,
/// conformance and data) for API clients — `*/*`, no `Accept`, JSON, or `?f=json` — and HTML
/// for browsers (they name `text/html` first) or `?f=html`. OWSLib and GDAL read it with
/// `Accept: */*`, so JSON must be what a client gets unless it asks for HTML.
pub async fn page(
    State(state): State<AppState>,
    reader: Reader,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut response = landing(&state, &reader, &q, &headers).await?;
    // One URL, two representations chosen by Accept: caches must key on it.
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("accept"));
    Ok(response)
}

async fn landing(
    state: &AppState,
    reader: &Reader,
    q: &LangQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if negotiate(q.f.as_deref(), headers, false)? == Format::Json {
        return Ok(Json(landing_document(&base_url(headers))).into_response());
    }
    let t = match q.lang.as_deref() {
        Some("en") => &EN,
        _ => &VI,
    };
    let catalog = catalog_for(state, reader).await?;
    let mut rows = String::new();
    for e in &catalog {
        let title = if t.lang == "vi" {
            &e.title_vi
        } else {
            &e.title_en
        };
        rows.push_str(&format!(
            "<tr data-layer=\"{id}\" data-count=\"{count}\"><td class=\"title\">{title}</td><td><code>{id}</code></td><td>{sector}</td><td>{geom}</td><td class=\"count\">{count}</td><td>EPSG:{srid}</td><td>{access}</td></tr>\n",
            id = escape_html(&e.id),
            title = escape_html(title),
            sector = escape_html(&sector_label(&e.sector, t)),
            geom = escape_html(&e.geometry_kind),
            count = e.feature_count,
            srid = e.srid,
            access = access_label(&e.access, t),
        ));
    }
    let table = if catalog.is_empty() {
        format!("<p id=\"no-layers\">{}</p>", t.none)
    } else {
        let head: String = t.cols.iter().map(|c| format!("<th>{c}</th>")).collect();
        format!(
            "<table id=\"layers\"><thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table>"
        )
    };
    Ok(Html(format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, "Noto Sans", sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }}
td.count {{ text-align: right; font-variant-numeric: tabular-nums; }}
nav a {{ margin-right: 1rem; }}
</style>
</head>
<body>
<nav><a href="{other_href}" id="lang-toggle">{other_label}</a></nav>
<h1>{title}</h1>
<p>{intro}</p>
<h2>{apps}</h2>
{app_links}
<h2>{services}</h2>
{service_links}
<h2>{layers}</h2>
{table}
{store}
</body>
</html>
"#,
        lang = t.lang,
        title = t.title,
        intro = t.intro,
        layers = t.layers,
        apps = t.apps,
        app_links = link_list("apps", APPS, t),
        services = t.services,
        service_links = link_list("services", SERVICES, t),
        other_href = t.other_lang.0,
        other_label = t.other_lang.1,
        store = store_line(state, t),
    ))
    .into_response())
}
