//! Vector-tile SQL for feature tables (see [`crate::feature`]): one `ST_AsMVT` query per layer
//! and zoom, over the Web Mercator serving column `geom_3857` (kept in step with the native
//! geometry by PostgreSQL, so no row is transformed per request) and its GiST index.
//!
//! Generalisation: a feature is drawn only from its `min_zoom` on (polygons from about 4 × 4
//! pixels, lines from about 8 pixels; see migration 5), and up to z12 the query names the
//! partial index of low-zoom features, so a province-wide tile reads the few features visible
//! there instead of every parcel. `ST_AsMVTGeom` clips to the tile plus a buffer and snaps to the
//! 4096 grid, which also simplifies. Each tile is capped at [`TileSql::max_features`].

use crate::db::quote_ident;
use crate::layer::{Access, PropertyDef, PropertyKind, StorageTable};

/// Tile extent in MVT units.
pub const EXTENT: u32 = 4096;
/// Buffer around the tile in MVT units (lines and polygon edges continue across tile borders).
pub const BUFFER: u32 = 64;
/// Highest zoom served from the low-zoom partial index.
pub const LOW_ZOOM_MAX: u8 = 12;

/// The SQL of one layer's tile. Binds: `$1` z, `$2` x, `$3` y (all `integer`). Returns one row:
/// the MVT bytes (`bytea`) and the number of features (`bigint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileSql {
    /// The statement.
    pub sql: String,
    /// Features per tile above which the tile is cut.
    pub max_features: u32,
}

/// Builds the tile SQL of a feature-table layer at zoom `z` for readers with `access`
/// (restricted properties only for [`Access::Restricted`] readers).
pub fn layer_tile_sql(
    layer_id: &str,
    storage: &StorageTable,
    properties: &[PropertyDef],
    z: u8,
    access: Access,
    max_features: u32,
) -> TileSql {
    let mut columns = vec![quote_ident(&storage.id_column)];
    for p in properties.iter().filter(|p| p.access <= access) {
        let col = quote_ident(&p.name);
        columns.push(match p.kind {
            // MVT values are strings, numbers and booleans.
            PropertyKind::Date | PropertyKind::DateTime => format!("{col}::text AS {col}"),
            _ => col,
        });
    }
    let low_zoom = if z <= LOW_ZOOM_MAX {
        format!(" AND min_zoom <= {LOW_ZOOM_MAX}")
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT coalesce(ST_AsMVT(t, {name}, {EXTENT}, 'geom', {id}), ''::bytea), count(*)
         FROM (
           SELECT {columns}, ST_AsMVTGeom(geom_3857, ST_TileEnvelope($1, $2, $3), {EXTENT}, {BUFFER}, true) AS geom
           FROM {table}
           WHERE geom_3857 && ST_TileEnvelope($1, $2, $3, margin => {margin})
             AND min_zoom <= $1{low_zoom}
           LIMIT {limit}
         ) t WHERE geom IS NOT NULL",
        name = sql_literal(layer_id),
        id = sql_literal(&storage.id_column),
        columns = columns.join(", "),
        table = storage.qualified(),
        margin = f64::from(BUFFER) / f64::from(EXTENT),
        limit = max_features,
    );
    TileSql { sql, max_features }
}

/// A string literal for names that come from the layer registry (never from requests).
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage() -> StorageTable {
        StorageTable {
            schema: "land".into(),
            table: "parcels".into(),
            geometry_column: "geom".into(),
            id_column: "id".into(),
            srid: 9212,
        }
    }

    fn props() -> Vec<PropertyDef> {
        vec![
            PropertyDef::public("parcel_number", PropertyKind::Integer, "Số thửa", "Parcel"),
            PropertyDef::public("decision_date", PropertyKind::Date, "Ngày", "Date"),
            PropertyDef::restricted("owner_name", PropertyKind::String, "Chủ", "Owner"),
        ]
    }

    #[test]
    fn anonymous_tiles_never_select_restricted_properties() {
        let public = layer_tile_sql("parcels", &storage(), &props(), 15, Access::Public, 20_000);
        assert!(!public.sql.contains("owner_name"), "{}", public.sql);
        assert!(public.sql.contains("\"parcel_number\""));
        assert!(public.sql.contains("\"decision_date\"::text"));
        let officer = layer_tile_sql(
            "parcels",
            &storage(),
            &props(),
            15,
            Access::Restricted,
            20_000,
        );
        assert!(officer.sql.contains("\"owner_name\""));
    }

    #[test]
    fn low_zooms_use_the_partial_index_and_high_zooms_do_not() {
        let low = layer_tile_sql("parcels", &storage(), &props(), 10, Access::Public, 100);
        assert!(low.sql.contains("min_zoom <= 12"), "{}", low.sql);
        let high = layer_tile_sql("parcels", &storage(), &props(), 15, Access::Public, 100);
        assert!(!high.sql.contains("min_zoom <= 12"));
        assert!(high
            .sql
            .contains("geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 0.015625)"));
        assert!(high.sql.contains("LIMIT 100"));
    }
}
