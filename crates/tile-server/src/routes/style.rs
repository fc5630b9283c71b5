//! MapLibre styles generated from the layer registry, glyphs (fonts) and sprites.

use axum::Router;

use crate::app::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
