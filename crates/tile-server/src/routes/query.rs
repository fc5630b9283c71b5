//! bando's own spatial queries: identify, nearest, within, parcel search, planning report, measure.

use axum::Router;

use crate::app::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// OpenAPI 3.0 `paths` of these routes, merged into the service description.
pub fn openapi_paths() -> serde_json::Value {
    serde_json::json!({})
}
