//! The landing page (Vietnamese first, `?lang=en` for English) listing the layers read from the
//! running database's catalog, and the same list as JSON.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use gis_core::crs::CrsInfo;
use gis_core::layer::{read_catalog, CatalogEntry};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::routes::base_url;
use crate::routes::features::{negotiate, ApiError, Format};

/// `?lang=` of the landing page.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
    f: Option<String>,
}

/// `GET /layers`: the catalog as JSON.
pub async fn layers_json(
    State(state): State<AppState>,
) -> Result<Json<Vec<CatalogEntry>>, AppError> {
    Ok(Json(read_catalog(&state.pool).await?))
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
    services: &'static str,
    other_lang: (&'static str, &'static str),
}

const VI: Text = Text {
    lang: "vi",
    title: "bando — Nền tảng dữ liệu không gian",
    intro: "Máy chủ dữ liệu bản đồ của tỉnh: các lớp dữ liệu dưới đây được đọc từ cơ sở dữ liệu PostGIS đang chạy.",
    layers: "Các lớp dữ liệu",
    cols: ["Lớp", "Mã", "Lĩnh vực", "Hình học", "Số đối tượng", "Hệ tọa độ lưu trữ", "Truy cập"],
    none: "Chưa có lớp dữ liệu nào được đăng ký.",
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
    services: "Services",
    other_lang: ("?lang=vi", "Tiếng Việt"),
};

fn sector_label(sector: &str, t: &Text) -> String {
    let vi = match sector {
        "cadastre" => "Địa chính",
        "planning" => "Quy hoạch",
        "transport" => "Giao thông",
        "water" => "Cấp thoát nước",
        "power" => "Điện lực",
        "environment" => "Môi trường",
        "services" => "Dịch vụ công",
        other => other,
    };
    if t.lang == "vi" {
        vi.to_string()
    } else {
        sector.to_string()
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

/// Escapes text for HTML content and attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `GET /`: the landing page: HTML for browsers, the OGC API landing JSON (links to
/// service-desc, service-doc, conformance and data) with `?f=json` or `Accept: application/json`.
pub async fn page(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = negotiate(q.f.as_deref(), &headers, false)?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Without f or Accept, a browser's page: HTML stays the default here.
    if format == Format::Json && (q.f.is_some() || accept.contains("json")) {
        return Ok(Json(crate::routes::openapi::landing_json(&base_url(&headers))).into_response());
    }
    let t = match q.lang.as_deref() {
        Some("en") => &EN,
        _ => &VI,
    };
    let catalog = read_catalog(&state.pool).await?;
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
<h2>{layers}</h2>
{table}
<h2>{services}</h2>
<ul>
<li><a href="/collections?f=html">/collections</a> — OGC API – Features</li>
<li><a href="/api.html">/api.html</a> — OpenAPI (<a href="/api">/api</a>)</li>
<li><a href="/conformance?f=html">/conformance</a></li>
<li><a href="/layers">/layers</a> — JSON</li>
<li><a href="/crs">/crs</a> — EPSG</li>
<li><a href="/health">/health</a></li>
<li><a href="/metrics">/metrics</a> — Prometheus</li>
</ul>
</body>
</html>
"#,
        lang = t.lang,
        title = t.title,
        intro = t.intro,
        layers = t.layers,
        services = t.services,
        other_href = t.other_lang.0,
        other_label = t.other_lang.1,
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
