//! OGC API – Features (Parts 1–3): collections, items, queryables, conformance.

use axum::Router;

use crate::app::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
