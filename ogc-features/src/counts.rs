//! Remembered `numberMatched` of OGC API Features queries. A client paging through a
//! filtered collection (QGIS, `ogr2ogr`) asks the same question on every page; counting the
//! matches each time would make paging quadratic. A count is kept per
//! [`gis_core::features::match_key`] together with the tile service's change generation
//! (`tiles::TileService::change_generation`), and used only while that generation has not
//! moved — i.e. while no `bando_layer_changes` notification arrived — and only when the change
//! listener runs at all.

use moka::future::Cache;

/// Most bytes of keys (and entries) remembered: about 16,000 counts of typical queries.
pub const MAX_BYTES: u64 = 4 << 20;

/// What an entry costs: its key, the value and the cache's own bookkeeping.
fn weight(key: &str) -> u32 {
    u32::try_from(key.len())
        .unwrap_or(u32::MAX)
        .saturating_add(256)
}

/// Counts by match key, each with the change generation it was computed under.
#[derive(Clone)]
pub struct MatchCounts {
    cache: Cache<String, (u64, i64)>,
}

impl Default for MatchCounts {
    fn default() -> Self {
        Self::new()
    }
}

impl MatchCounts {
    /// Remembered counts, bounded by bytes ([`MAX_BYTES`]): a key is the query's conditions,
    /// whose length the client chooses.
    pub fn new() -> Self {
        MatchCounts {
            cache: Cache::builder()
                .weigher(|key: &String, _| weight(key))
                .max_capacity(MAX_BYTES)
                .time_to_live(std::time::Duration::from_secs(600))
                .build(),
        }
    }

    /// The remembered count of `key` if nothing changed since it was computed. `generation` is
    /// the current change generation, `None` when counts cannot be trusted (no change listener).
    pub async fn get(&self, key: &str, generation: Option<u64>) -> Option<i64> {
        let generation = generation?;
        match self.cache.get(key).await {
            Some((g, n)) if g == generation => Some(n),
            _ => None,
        }
    }

    /// Remembers a count computed under `generation` (read before counting, so a change that
    /// lands meanwhile makes the entry unusable rather than wrong).
    pub async fn insert(&self, key: String, generation: Option<u64>, count: i64) {
        if let Some(g) = generation {
            self.cache.insert(key, (g, count)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_keys_weigh_what_they_hold() {
        assert_eq!(super::weight(""), 256);
        assert_eq!(super::weight(&"x".repeat(10_000)), 10_256);
        // A million-byte key cannot be kept more than a few times within the bound.
        assert!(u64::from(super::weight(&"x".repeat(1 << 20))) * 4 > super::MAX_BYTES);
    }
}
