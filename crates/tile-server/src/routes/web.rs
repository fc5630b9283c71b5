//! The web apps (`/map`, …): static files and their assets.

use axum::Router;

use crate::app::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
