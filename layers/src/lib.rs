//! # layers — layer plugins
//!
//! Each layer implements [`gis_core::layer::Layer`] over a table its domain crate owns. The
//! feature-table layers ([`catalog`]) take their properties from the owner's table description
//! and add presentation: titles, sector, zoom range, restricted (personal) properties, style.
//! [`registry`] builds the registry the server reads; [`schema_migrations`] lists the migrations
//! of gis-core and every domain crate whose tables the layers read.
#![deny(missing_docs)]

pub mod catalog;
pub mod style;

use std::sync::Arc;

use gis_core::layer::{LayerError, LayerRegistry};
use sqlx::migrate::Migrator;

/// The registry of every layer plugin.
pub fn registry() -> Result<LayerRegistry, LayerError> {
    let mut registry = LayerRegistry::new();
    for layer in catalog::all() {
        registry.register(Arc::new(layer))?;
    }
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
    fn registry_builds_and_has_the_cadastre() {
        let registry = super::registry().expect("registry");
        assert!(registry.get("communes").is_some());
        let parcels = registry.get("parcels").expect("parcels");
        let owner = parcels
            .properties()
            .into_iter()
            .find(|p| p.name == "owner_name")
            .expect("owner_name");
        assert_eq!(owner.access, gis_core::layer::Access::Restricted);
    }
}
