//! The layers a running server offers ([`LiveLayers`]): the registry of built-in and added
//! layers, replaced whole when a definition changes (`bando_catalog_changes`), so a layer
//! added with `bando import --new-layer` is served without a restart.

use std::sync::{Arc, RwLock};

use gis_core::layer::{Layer, LayerRegistry};

/// The current registry. Readers take the layer they need (an `Arc`), never a lock across
/// an await.
#[derive(Debug, Default)]
pub struct LiveLayers {
    current: RwLock<Arc<LayerRegistry>>,
}

impl LiveLayers {
    /// Layers starting with this registry.
    pub fn new(registry: LayerRegistry) -> Self {
        LiveLayers {
            current: RwLock::new(Arc::new(registry)),
        }
    }

    /// The whole registry as it is now.
    pub fn snapshot(&self) -> Arc<LayerRegistry> {
        match self.current.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The layer with this id.
    pub fn get(&self, id: &str) -> Option<Arc<dyn Layer>> {
        match self.current.read() {
            Ok(r) => r.get(id).cloned(),
            Err(poisoned) => poisoned.into_inner().get(id).cloned(),
        }
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// No layers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the registry.
    pub fn replace(&self, registry: LayerRegistry) {
        let registry = Arc::new(registry);
        match self.current.write() {
            Ok(mut r) => *r = registry,
            Err(poisoned) => *poisoned.into_inner() = registry,
        }
    }

    /// Ids of the layers drawn from `table` (`schema.table`).
    pub fn ids_over(&self, table: &str) -> Vec<Arc<str>> {
        self.snapshot()
            .iter()
            .filter(|l| {
                let s = l.storage();
                table.split_once('.') == Some((s.schema.as_str(), s.table.as_str()))
            })
            .map(|l| Arc::from(l.id()))
            .collect()
    }
}
