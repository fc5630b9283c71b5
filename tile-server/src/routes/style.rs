//! MapLibre styles generated from the layer registry, glyphs (fonts) and sprites.
//!
//! - `GET /styles` — `[{"id", "title_vi", "title_en", "url"}]`;
//! - `GET /styles/{id}.json` — the style ([`layers::style::style`]) with absolute URLs;
//! - `GET /fonts/{fontstack}/{start}-{end}.pbf` — glyphs ([`crate::glyphs`]);
//! - `GET /sprites/bando.json|.png`, `bando@2x.json|.png` — icons ([`crate::sprites`]).
//!
//! Styles may change with the registry and are cached briefly; glyphs and sprites are fixed for
//! a build and cached for a week.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::Reader;
use crate::routes::base_url;

/// `Cache-Control` of styles.
const STYLE_CACHE: &str = "public, max-age=60";
/// `Cache-Control` of glyphs and sprites.
const ASSET_CACHE: &str = "public, max-age=604800";

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/styles", get(list))
        .route("/styles/{file}", get(style))
        .route("/fonts/{fontstack}/{range}", get(glyphs))
        .route("/sprites/{file}", get(sprite))
}

fn with_cache(mut response: Response, policy: &'static str) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

/// `GET /styles`.
pub async fn list(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let styles: Vec<Value> = layers::style::STYLES
        .iter()
        .map(|s| {
            json!({"id": s.id, "title_vi": s.title_vi, "title_en": s.title_en,
                "url": format!("{base}/styles/{}.json", s.id)})
        })
        .collect();
    with_cache(Json(styles).into_response(), STYLE_CACHE)
}

fn known_styles() -> String {
    layers::style::STYLES
        .iter()
        .map(|s| format!("/styles/{}.json", s.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /styles/{id}.json`.
pub async fn style(
    State(state): State<AppState>,
    reader: Reader,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some(id) = file.strip_suffix(".json") else {
        return Err(AppError::NotFound(format!(
            "\"/styles/{file}\" is not a style: styles are {}",
            known_styles()
        )));
    };
    let doc = layers::style::style(
        id,
        &state.layers.snapshot(),
        &base_url(&headers),
        reader.viewer(),
    )
    .ok_or_else(|| {
        AppError::NotFound(format!("no style \"{id}\": styles are {}", known_styles()))
    })?;
    Ok(with_cache(Json(doc).into_response(), STYLE_CACHE))
}

/// `GET /fonts/{fontstack}/{start}-{end}.pbf`.
pub async fn glyphs(
    Path((fontstack, range)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if !range.ends_with(".pbf") {
        return Err(AppError::NotFound(format!(
            "\"{range}\" is not a glyph file: use /fonts/{{fontstack}}/{{start}}-{{end}}.pbf"
        )));
    }
    let start =
        crate::glyphs::parse_range(&range).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let pbf = tokio::task::spawn_blocking(move || crate::glyphs::global().range(&fontstack, start))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| match e {
            crate::glyphs::GlyphError::BadRange(_) => AppError::BadRequest(e.to_string()),
            crate::glyphs::GlyphError::Font { .. } => {
                tracing::error!(error = %e, "glyphs unavailable");
                AppError::Unavailable(
                    "map fonts are not installed on this server (Debian package fonts-noto-core, \
                     or set server.font_dir)"
                        .into(),
                )
            }
        })?;
    let response = (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        pbf.as_ref().clone(),
    )
        .into_response();
    Ok(with_cache(response, ASSET_CACHE))
}

/// `GET /sprites/bando.json`, `bando.png`, `bando@2x.json`, `bando@2x.png`.
pub async fn sprite(Path(file): Path<String>) -> Result<Response, AppError> {
    let (ratio, ext) = match file.as_str() {
        "bando.json" => (1, "json"),
        "bando.png" => (1, "png"),
        "bando@2x.json" => (2, "json"),
        "bando@2x.png" => (2, "png"),
        _ => {
            return Err(AppError::NotFound(format!(
                "no sprite file \"{file}\": sprites are bando.json, bando.png, bando@2x.json, \
                 bando@2x.png"
            )))
        }
    };
    let sheet = tokio::task::spawn_blocking(move || crate::sprites::sheet(ratio))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let response = if ext == "json" {
        Json(sheet.index.clone()).into_response()
    } else {
        ([(header::CONTENT_TYPE, "image/png")], sheet.png.clone()).into_response()
    };
    Ok(with_cache(response, ASSET_CACHE))
}
