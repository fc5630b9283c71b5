//! Handlers, one module per area. Handlers are thin: they extract, call a library, and shape the
//! answer; no domain SQL lives here.

pub mod features;
pub mod health;
pub mod landing;
pub mod openapi;
pub mod query;
pub mod style;
pub mod tiles;
pub mod web;

/// `scheme://host` of the request, for absolute links.
pub fn base_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost:8080");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}
