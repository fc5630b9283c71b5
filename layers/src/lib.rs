//! # layers — layer plugins
//!
//! Each layer implements [`gis_core::layer::Layer`] over a table its domain crate owns. The
//! feature-table layers ([`catalog`]) take their properties from the owner's table description
//! and add presentation: titles, sector, zoom range, restricted (personal) properties, style.
//! [`registry`] builds the registry the server reads; [`schema_migrations`] lists the migrations
//! of gis-core and every domain crate whose tables the layers read.
#![deny(missing_docs)]

pub mod added;
pub mod catalog;
pub mod style;

use std::sync::Arc;

use gis_core::layer::{LayerError, LayerRegistry};
use sqlx::migrate::Migrator;

/// The registry of the built-in layers (their owners' declarations).
pub fn registry() -> Result<LayerRegistry, LayerError> {
    let mut registry = LayerRegistry::new();
    for layer in catalog::declarations() {
        register(&mut registry, layer)?;
    }
    Ok(registry)
}

/// Adds a declared layer after checking what the registry cannot: its sector exists.
pub fn register(
    registry: &mut LayerRegistry,
    layer: gis_core::declare::LayerDecl,
) -> Result<(), LayerError> {
    if catalog::sector_by_id(layer.sector).is_none() {
        return Err(LayerError::Invalid {
            id: layer.table.kind.to_string(),
            reason: format!(
                "sector \"{}\" is not one of {}",
                layer.sector,
                catalog::SECTORS
                    .iter()
                    .map(|s| s.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    registry.register(Arc::new(layer))
}

/// Makes the database hold every declared table and column ([`gis_core::feature::ensure_table`]):
/// run after the migrations, so a column added to a declaration needs no migration. Returns
/// `layer.column` of each column added.
pub async fn sync_schema(
    pool: &sqlx::PgPool,
) -> Result<Vec<String>, gis_core::feature::TableError> {
    let mut added = Vec::new();
    for layer in catalog::declarations() {
        for column in gis_core::feature::ensure_table(pool, &layer.table).await? {
            added.push(format!("{}.{column}", layer.table.kind));
        }
    }
    Ok(added)
}

/// Migrations of gis-core and the domain crates, in dependency order.
pub fn schema_migrations() -> Vec<&'static Migrator> {
    vec![
        &gis_core::db::CORE_MIGRATIONS,
        &land::MIGRATIONS,
        &planning::MIGRATIONS,
        &utilities::MIGRATIONS,
        &sectors::MIGRATIONS,
        &ioc::MIGRATIONS,
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
        // A water meter's customer is personal data too.
        let meters = registry.get("water_meters").expect("water_meters");
        assert!(meters
            .properties()
            .iter()
            .any(|p| p.name == "customer_ref" && p.access == gis_core::layer::Access::Restricted));
    }
}
