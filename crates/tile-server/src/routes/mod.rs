//! Handlers, one module per area. Handlers are thin: they extract, call a library, and shape the
//! answer; no domain SQL lives here.

pub mod features;
pub mod health;
pub mod landing;
pub mod query;
pub mod style;
pub mod tiles;
pub mod web;
