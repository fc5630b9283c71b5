//! The service description over HTTP: the OpenAPI 3.0 document ([`ogc_features::openapi`]) at
//! `/api` and a small self-contained HTML list of the operations at `/api.html` (no script,
//! nothing loaded from the internet).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ogc_features::openapi::OPENAPI_JSON;
use serde_json::Value;

use crate::app::AppState;
use crate::routes::base_url;
use crate::routes::features::{negotiate, ApiError, Format};
use crate::routes::landing::escape_html;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api", get(api))
        .route("/api.html", get(api_html))
}

/// The OpenAPI document of this server: every layer of the live registry, the spatial
/// queries' paths and the administrators' audit log (with the bearer scheme it requires).
fn document(headers: &HeaderMap, state: &AppState) -> Value {
    let mut extra = crate::routes::query::openapi_paths();
    if let (Some(paths), Value::Object(plans)) =
        (extra.as_object_mut(), crate::routes::plans::openapi_paths())
    {
        paths.extend(plans);
    }
    if let (Some(paths), Value::Object(portal)) = (
        extra.as_object_mut(),
        crate::routes::portal::openapi_paths(),
    ) {
        paths.extend(portal);
    }
    if let (Some(paths), Value::Object(networks)) = (
        extra.as_object_mut(),
        crate::routes::networks::openapi_paths(),
    ) {
        paths.extend(networks);
    }
    if let (Some(paths), Value::Object(admin)) =
        (extra.as_object_mut(), crate::routes::admin::openapi_paths())
    {
        paths.extend(admin);
    }
    if let (Some(paths), Value::Object(rules)) =
        (extra.as_object_mut(), crate::routes::feeds::openapi_paths())
    {
        paths.extend(rules);
    }
    if let (Some(paths), Value::Object(tokens)) =
        (extra.as_object_mut(), crate::routes::sta::openapi_paths())
    {
        paths.extend(tokens);
    }
    let layers = state.layers.snapshot();
    // The writes join the items' paths (ogc_features::openapi merges operations of one path).
    if let (Some(paths), Value::Object(edit)) = (
        extra.as_object_mut(),
        crate::routes::edit::openapi_paths(&layers),
    ) {
        paths.extend(edit);
    }
    let mut doc = ogc_features::openapi::document(&base_url(headers), &layers, extra);
    // Part 4 (writes) is this server's, not every reader's: said here with its classes.
    let classes = crate::routes::edit::CONFORMANCE.join(", ");
    if let Some(d) = doc["info"]["description"].as_str() {
        doc["info"]["description"] = serde_json::json!(format!(
            "{d} Writes on the editable layers (OGC API – Features Part 4: {classes}) need a bearer token, `If-Match` and a reason and decision."
        ));
    }
    doc["x-conformsTo"] = serde_json::json!(crate::routes::features::CONFORMANCE
        .iter()
        .chain(crate::routes::edit::CONFORMANCE)
        .chain(crate::routes::tiles::TILES_CONFORMANCE)
        .collect::<Vec<_>>());
    doc["components"]["securitySchemes"]["bearer"] = serde_json::json!({
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An access token from the configured OpenID Connect issuer"});
    doc
}

/// `GET /api`: the OpenAPI document (`f=html` redirects to the HTML list).
pub async fn api(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let f = params
        .iter()
        .find(|(k, _)| k == "f")
        .map(|(_, v)| v.as_str());
    if let Some((k, _)) = params.iter().find(|(k, _)| k != "f") {
        return Err(crate::error::AppError::BadRequest(format!(
            "unknown parameter '{}'; /api accepts f",
            k.chars().take(40).collect::<String>()
        ))
        .into());
    }
    // The document is JSON unless HTML is asked for explicitly with f=html.
    if f.is_some() && negotiate(f, &headers, false)? == Format::Html {
        return Ok(api_html(State(state), headers).await.into_response());
    }
    let doc = document(&headers, &state);
    let mut r = (StatusCode::OK, doc.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OPENAPI_JSON));
    Ok(r)
}

/// `GET /api.html`: every operation with its parameters, as plain HTML.
pub async fn api_html(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let doc = document(&headers, &state);
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                let params: Vec<String> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter_map(|p| {
                                p["name"].as_str().map(str::to_string).or_else(|| {
                                    p["$ref"]
                                        .as_str()
                                        .and_then(|r| r.rsplit('/').next())
                                        .and_then(|n| {
                                            doc["components"]["parameters"][n]["name"].as_str()
                                        })
                                        .map(str::to_string)
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                    escape_html(&method.to_ascii_uppercase()),
                    escape_html(path),
                    escape_html(op["summary"].as_str().unwrap_or("")),
                    escape_html(&params.join(", "))
                ));
            }
        }
    }
    let page = format!(
        r#"<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>bando API</title>
<style>body {{ font-family: system-ui, "Noto Sans", sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; }} table {{ border-collapse: collapse; width: 100%; }} td, th {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }}</style>
</head>
<body>
<h1>Giao diện lập trình (API) — bando</h1>
<p>Tài liệu OpenAPI 3.0 (OpenAPI document): <a href="/api">/api</a></p>
<table id="operations"><thead><tr><th>Phương thức (Method)</th><th>Đường dẫn (Path)</th><th>Mô tả (Summary)</th><th>Tham số (Parameters)</th></tr></thead>
<tbody>
{rows}</tbody></table>
</body>
</html>
"#
    );
    let mut r = (StatusCode::OK, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}
