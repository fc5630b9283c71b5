//! # layers — layer plugins
//!
//! One module per layer; each implements [`gis_core::layer::Layer`] over a table its domain
//! crate owns. [`registry`] builds the registry the server reads; [`schema_migrations`] lists
//! the migrations of gis-core and every domain crate whose tables the layers read.
//!
//! Today: [`communes::Communes`] (the worked example, over `land.communes`).
#![deny(missing_docs)]

pub mod communes;

use std::sync::Arc;

use gis_core::layer::{LayerError, LayerRegistry};
use sqlx::migrate::Migrator;

/// The registry of every layer plugin.
pub fn registry() -> Result<LayerRegistry, LayerError> {
    let mut registry = LayerRegistry::new();
    registry.register(Arc::new(communes::Communes))?;
    Ok(registry)
}

/// Migrations of gis-core and the domain crates, in dependency order.
pub fn schema_migrations() -> Vec<&'static Migrator> {
    vec![
        &gis_core::db::CORE_MIGRATIONS,
        &land::MIGRATIONS,
        &planning::MIGRATIONS,
        &utilities::MIGRATIONS,
        &sectors::MIGRATIONS,
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_builds_and_has_communes() {
        let registry = super::registry().expect("registry");
        assert!(registry.get("communes").is_some());
    }
}
