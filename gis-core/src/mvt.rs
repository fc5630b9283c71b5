//! Vector-tile SQL for feature tables (see [`crate::feature`]): one `ST_AsMVT` query per layer
//! and zoom, over the Web Mercator serving column `geom_3857` (kept in step with the native
//! geometry by PostgreSQL, so no row is transformed per request) and its GiST index.
//!
//! Generalisation, chosen per layer by [`Layer::generalisation`] ([`tile_sql`] dispatches):
//! - [`Generalisation::MinZoom`]: a feature is drawn only from its `min_zoom` on (polygons from
//!   about 4 × 4 pixels, lines from about 8 pixels; see migration 5), and up to z12 the query
//!   names the partial index of low-zoom features, so a province-wide tile reads the few
//!   features visible there instead of every parcel ([`layer_tile_sql`]).
//! - [`Generalisation::Overview`]: below the detail zoom the tile reads the owner's generalised
//!   table (e.g. the parcels' land-use overview) under the same MVT layer name, with
//!   `generalised = true` on every feature ([`overview_tile_sql`]).
//! - [`Generalisation::Cluster`]: below the detail zoom, points are merged per grid cell aligned
//!   to the tile grid into one feature at their centroid with `point_count` ([`cluster_tile_sql`]);
//!   a cell belongs to exactly one tile, so counts add up across tiles.
//!
//! `ST_AsMVTGeom` clips to the tile plus a buffer and snaps to the 4096 grid; up to z12 lines
//! and outlines are first simplified to a quarter pixel (`ST_Simplify`, small shapes kept). Each tile is capped at [`TileSql::max_features`]; a tile over the
//! server's byte cap is rendered again with `coarse` set (the generalised form, or for plain
//! layers only features of two zooms lower on a 1024 grid).

use crate::db::quote_ident;
use crate::layer::{
    Access, ClusterKeep, Generalisation, Layer, OverviewTable, PropertyDef, PropertyKind,
    StorageTable,
};

/// Tile extent in MVT units.
pub const EXTENT: u32 = 4096;
/// Buffer around the tile in MVT units (lines and polygon edges continue across tile borders).
pub const BUFFER: u32 = 64;
/// Highest zoom served from the low-zoom partial index.
pub const LOW_ZOOM_MAX: u8 = 12;
/// Grid of a coarse re-render of a plain layer (a tile over the byte cap).
pub const COARSE_EXTENT: u32 = 1024;
/// Half the width of the Web Mercator world in metres (the one constant, in [`crate::tile`]).
pub const WORLD_HALF: f64 = crate::tile::EARTH_HALF_CIRCUMFERENCE;

/// The SQL of one layer's tile. Binds: `$1` z, `$2` x, `$3` y (all `integer`). Returns one row:
/// the MVT bytes (`bytea`) and the number of features (`bigint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileSql {
    /// The statement.
    pub sql: String,
    /// Features per tile above which the tile is cut.
    pub max_features: u32,
}

/// The tile SQL of `layer` at zoom `z` for readers with `access`, following the layer's
/// [`Generalisation`]. `coarse` asks for a smaller rendering of the same tile (used when the
/// normal one is over the byte cap): the generalised form even at detail zooms, or, for
/// [`Generalisation::MinZoom`] layers, features of two zooms lower on a [`COARSE_EXTENT`] grid.
pub fn tile_sql(
    layer: &dyn Layer,
    z: u8,
    access: Access,
    max_features: u32,
    coarse: bool,
) -> TileSql {
    let storage = layer.storage();
    // Rows this class does not read (drafts for the public class): a condition in the SQL,
    // so each access class renders and caches its own tiles.
    let rows = layer.row_filter().and_then(|f| f.condition(access, ""));
    match layer.generalisation() {
        Generalisation::Overview(overview) if coarse || z < overview.detail_zoom => {
            overview_tile_sql(layer.id(), &overview, z, access, max_features)
        }
        Generalisation::Cluster {
            detail_zoom,
            cell_px,
            keep,
        } if coarse || z < detail_zoom => cluster_tile_sql(
            layer.id(),
            &storage,
            cell_px,
            keep.as_ref(),
            max_features,
            rows.as_deref(),
        ),
        _ => {
            let (extent, lag) = if coarse {
                (COARSE_EXTENT, 2)
            } else {
                (EXTENT, 0)
            };
            feature_tile_sql(
                layer.id(),
                &storage,
                &storage.qualified(),
                &layer.properties(),
                z,
                access,
                max_features,
                extent,
                lag,
                rows.as_deref(),
                every_feature(layer, z, coarse),
            )
        }
    }
}

/// The tile SQL of `layer` as it was at an instant (`datetime=` on tiles, the time slider):
/// its rows from the owner's as-of function in the tile's box
/// ([`Layer::as_of_function`], `f(instant, box)`), drawn feature by feature at every zoom (a
/// generalised table is of the living rows only). Binds as [`tile_sql`] plus `$4`, the instant
/// as text (a date or an RFC 3339 timestamp, checked by the caller; `date_only` when a date,
/// read as its last instant as by [`crate::features::as_of_instant`]). `None` when the layer
/// keeps no history.
pub fn tile_sql_as_of(
    layer: &dyn Layer,
    z: u8,
    access: Access,
    max_features: u32,
    coarse: bool,
    date_only: bool,
) -> Option<TileSql> {
    let function = layer.as_of_function()?;
    let rows = layer.row_filter().and_then(|f| f.condition(access, ""));
    let instant = crate::features::as_of_instant("$4::text", date_only);
    let from = format!(
        "{function}({instant}, ST_TileEnvelope($1, $2, $3, margin => {margin}))",
        margin = f64::from(BUFFER) / f64::from(EXTENT),
    );
    let (extent, lag) = if coarse {
        (COARSE_EXTENT, 2)
    } else {
        (EXTENT, 0)
    };
    Some(feature_tile_sql(
        layer.id(),
        &layer.storage(),
        &from,
        &layer.properties(),
        z,
        access,
        max_features,
        extent,
        lag,
        rows.as_deref(),
        every_feature(layer, z, coarse),
    ))
}

/// Whether a tile of `layer` at `z` holds every feature whatever its `min_zoom`: from the
/// layer's seed zoom on ([`Layer::seed_zoom`], the TileJSON `maxzoom`), since clients overzoom
/// that tile to every higher zoom and a parcel too small for z16 is drawn at z18 (above z12:
/// below it the low-zoom index is named).
fn every_feature(layer: &dyn Layer, z: u8, coarse: bool) -> bool {
    !coarse && z > LOW_ZOOM_MAX && layer.seed_zoom().is_some_and(|s| z >= s)
}

/// The tile SQL of an [`OverviewTable`] at zoom `z` (its rows of the nearest stored zoom), under
/// the MVT layer name `layer_id`. Binds as [`layer_tile_sql`]. Features carry no id (a row is
/// an aggregate, not a feature of the layer) and `generalised = true`.
pub fn overview_tile_sql(
    layer_id: &str,
    overview: &OverviewTable,
    z: u8,
    access: Access,
    max_features: u32,
) -> TileSql {
    let level = z.clamp(overview.zooms.0, overview.zooms.1);
    let columns: Vec<String> = overview
        .properties
        .iter()
        .filter(|p| p.access <= access)
        .map(|p| quote_ident(&p.name))
        .collect();
    let sql = format!(
        "SELECT coalesce(ST_AsMVT(t, {name}, {EXTENT}, 'geom' ORDER BY t.geom), ''::bytea), count(*)
         FROM (
           SELECT {columns}true AS generalised, ST_AsMVTGeom(geom_3857, ST_TileEnvelope($1, $2, $3), {EXTENT}, {BUFFER}, true) AS geom
           FROM {schema}.{table}
           WHERE zoom = {level} AND geom_3857 && ST_TileEnvelope($1, $2, $3, margin => {margin})
           LIMIT {max_features}
         ) t WHERE geom IS NOT NULL",
        name = sql_literal(layer_id),
        columns = columns.iter().map(|c| format!("{c}, ")).collect::<String>(),
        schema = quote_ident(&overview.schema),
        table = quote_ident(&overview.table),
        margin = f64::from(BUFFER) / f64::from(EXTENT),
    );
    TileSql { sql, max_features }
}

/// The tile SQL of a point layer clustered on a grid of `cell_px` pixels (of a 256-pixel tile):
/// one feature per non-empty cell at the centroid of its points, with `point_count` and
/// `generalised = true` (and the property `keep` names, the highest ranked of its points').
/// Cells are numbered from the tile grid's origin, so each lies in exactly one tile and a point
/// is counted once. Binds as [`layer_tile_sql`].
pub fn cluster_tile_sql(
    layer_id: &str,
    storage: &StorageTable,
    cell_px: u16,
    keep: Option<&ClusterKeep>,
    max_features: u32,
    rows: Option<&str>,
) -> TileSql {
    // Cells per tile side; a power of two from 1 to 256.
    let per_tile = (256 / u32::from(cell_px.clamp(1, 256))).next_power_of_two();
    // The kept property: its values' ranks as an array literal of declared constants.
    let (kept_out, kept_agg, kept_in) = match keep {
        Some(k) => {
            let ranks: Vec<String> = k.ranks.iter().map(|r| sql_literal(r)).collect();
            let ranks = format!("ARRAY[{}]::text[]", ranks.join(", "));
            let col = quote_ident(&k.column);
            (
                format!(", {col}"),
                format!(", ({ranks})[coalesce(max(array_position({ranks}, kept)), 1)] AS {col}"),
                format!(", {col}::text AS kept"),
            )
        }
        None => Default::default(),
    };
    let sql = format!(
        "SELECT coalesce(ST_AsMVT(t, {name}, {EXTENT}, 'geom' ORDER BY t.geom), ''::bytea), count(*)
         FROM (
           SELECT point_count, true AS generalised{kept_out},
                  ST_AsMVTGeom(centre, ST_TileEnvelope($1, $2, $3), {EXTENT}, {BUFFER}, true) AS geom
           FROM (
             SELECT count(*)::integer AS point_count, ST_Centroid(ST_Collect(geom_3857)) AS centre{kept_agg}
             FROM (
               SELECT geom_3857{kept_in},
                      floor((ST_XMin(geom_3857) + {half}) / ({world} / (2 ^ $1 * {per_tile})))::bigint AS cx,
                      floor(({half} - ST_YMax(geom_3857)) / ({world} / (2 ^ $1 * {per_tile})))::bigint AS cy
               FROM {table}
               WHERE geom_3857 && ST_TileEnvelope($1, $2, $3){rows}
             ) p
             WHERE cx BETWEEN $2::bigint * {per_tile} AND $2::bigint * {per_tile} + {last}
               AND cy BETWEEN $3::bigint * {per_tile} AND $3::bigint * {per_tile} + {last}
             GROUP BY cx, cy
             ORDER BY cx, cy
             LIMIT {max_features}
           ) c
         ) t WHERE geom IS NOT NULL",
        name = sql_literal(layer_id),
        half = WORLD_HALF,
        world = 2.0 * WORLD_HALF,
        last = per_tile - 1,
        table = storage.qualified(),
        rows = rows.map(|r| format!(" AND {r}")).unwrap_or_default(),
    );
    TileSql { sql, max_features }
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
    feature_tile_sql(
        layer_id,
        storage,
        &storage.qualified(),
        properties,
        z,
        access,
        max_features,
        EXTENT,
        0,
        None,
        false,
    )
}

/// [`layer_tile_sql`] on a grid of `extent`, drawing features from `lag` zooms after their
/// `min_zoom` (`every`: all of them, see [`every_feature`]).
#[allow(clippy::too_many_arguments)]
fn feature_tile_sql(
    layer_id: &str,
    storage: &StorageTable,
    from: &str,
    properties: &[PropertyDef],
    z: u8,
    access: Access,
    max_features: u32,
    extent: u32,
    lag: u8,
    rows: Option<&str>,
    every: bool,
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
        "SELECT coalesce(ST_AsMVT(t, {name}, {extent}, 'geom', {id} ORDER BY t.{id_column}), ''::bytea), count(*)
         FROM (
           SELECT {columns}, ST_AsMVTGeom({geometry}, ST_TileEnvelope($1, $2, $3), {extent}, {buffer}, true) AS geom
           FROM {table}
           WHERE geom_3857 && ST_TileEnvelope($1, $2, $3, margin => {margin})
             {min_zoom}{low_zoom}{rows}
           LIMIT {limit}
         ) t WHERE geom IS NOT NULL",
        name = sql_literal(layer_id),
        id = sql_literal(&storage.id_column),
        id_column = quote_ident(&storage.id_column),
        columns = columns.join(", "),
        table = from,
        margin = f64::from(BUFFER) / f64::from(EXTENT),
        buffer = BUFFER * extent / EXTENT,
        geometry = if z <= LOW_ZOOM_MAX {
            // Province-wide lines and outlines: vertices closer than a quarter pixel to the
            // simplified line add bytes, not shape (ST_AsMVTGeom only snaps to its grid).
            let quarter_pixel = 2.0 * WORLD_HALF / f64::from(1u32 << z) / 1024.0;
            format!("ST_Simplify(geom_3857, {quarter_pixel}, true)")
        } else {
            "geom_3857".to_string()
        },
        min_zoom = match (every, lag) {
            (true, _) => String::new(),
            (false, 0) => "AND min_zoom <= $1".to_string(),
            (false, lag) => format!("AND min_zoom <= $1 - {lag}"),
        },
        rows = rows.map(|r| format!(" AND {r}")).unwrap_or_default(),
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
        assert!(
            low.sql
                .contains("ST_AsMVTGeom(ST_Simplify(geom_3857, 38.21"),
            "{}",
            low.sql
        );
        let high = layer_tile_sql("parcels", &storage(), &props(), 15, Access::Public, 100);
        assert!(!high.sql.contains("min_zoom <= 12"));
        assert!(!high.sql.contains("ST_Simplify"));
        assert!(high
            .sql
            .contains("geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 0.015625)"));
        assert!(high.sql.contains("LIMIT 100"));
    }

    #[test]
    fn from_the_seed_zoom_on_a_tile_holds_every_feature_for_clients_to_overzoom() {
        // Zooms 8–20, seedable: seed zoom 16 (the default), the TileJSON maxzoom.
        let layer = Described(Generalisation::MinZoom, 2);
        assert_eq!(layer.seed_zoom(), Some(16));
        for z in [13u8, 15] {
            let below = tile_sql(&layer, z, Access::Public, 100, false);
            assert!(
                below.sql.contains("AND min_zoom <= $1"),
                "z{z}: {}",
                below.sql
            );
        }
        for z in [16u8, 18] {
            let from = tile_sql(&layer, z, Access::Public, 100, false);
            assert!(!from.sql.contains("min_zoom"), "z{z}: {}", from.sql);
        }
        // The coarse form over the byte cap stays coarse.
        let coarse = tile_sql(&layer, 16, Access::Public, 100, true);
        assert!(coarse.sql.contains("min_zoom <= $1 - 2"), "{}", coarse.sql);
    }

    /// A layer description for the dispatch tests.
    struct Described(Generalisation, u8);

    impl Layer for Described {
        fn id(&self) -> &str {
            "parcels"
        }
        fn title_vi(&self) -> &str {
            "Thửa đất"
        }
        fn title_en(&self) -> &str {
            "Parcels"
        }
        fn sector(&self) -> &str {
            "cadastre"
        }
        fn geometry_kind(&self) -> crate::layer::GeometryKind {
            if self.1 == 0 {
                crate::layer::GeometryKind::Point
            } else {
                crate::layer::GeometryKind::MultiPolygon
            }
        }
        fn storage(&self) -> StorageTable {
            storage()
        }
        fn zoom_range(&self) -> (u8, u8) {
            (8, 20)
        }
        fn properties(&self) -> Vec<PropertyDef> {
            props()
        }
        fn style(&self) -> crate::layer::StyleHints {
            crate::layer::StyleHints::default()
        }
        fn generalisation(&self) -> Generalisation {
            self.0.clone()
        }
    }

    /// The overview layer of the tests, keeping a history (`land.parcels_as_of`).
    struct Historic(Described);

    impl Layer for Historic {
        fn id(&self) -> &str {
            self.0.id()
        }
        fn title_vi(&self) -> &str {
            self.0.title_vi()
        }
        fn title_en(&self) -> &str {
            self.0.title_en()
        }
        fn sector(&self) -> &str {
            self.0.sector()
        }
        fn geometry_kind(&self) -> crate::layer::GeometryKind {
            self.0.geometry_kind()
        }
        fn storage(&self) -> StorageTable {
            self.0.storage()
        }
        fn zoom_range(&self) -> (u8, u8) {
            self.0.zoom_range()
        }
        fn properties(&self) -> Vec<PropertyDef> {
            self.0.properties()
        }
        fn style(&self) -> crate::layer::StyleHints {
            self.0.style()
        }
        fn generalisation(&self) -> Generalisation {
            self.0.generalisation()
        }
        fn as_of_function(&self) -> Option<String> {
            Some("land.parcels_as_of".into())
        }
    }

    #[test]
    fn tiles_as_of_an_instant_read_the_history_in_the_tile_box_at_every_zoom() {
        assert!(tile_sql_as_of(
            &Described(overview(), 2),
            16,
            Access::Public,
            500,
            false,
            false
        )
        .is_none());
        let layer = Historic(Described(overview(), 2));
        // Below the detail zoom too: the overview is of the living parcels.
        let z10 = tile_sql_as_of(&layer, 10, Access::Public, 500, false, false).expect("history");
        assert!(
            z10.sql.contains("FROM land.parcels_as_of(($4::text)::timestamptz, ST_TileEnvelope($1, $2, $3, margin => 0.015625))"),
            "{}",
            z10.sql
        );
        assert!(!z10.sql.contains("parcel_overview"), "{}", z10.sql);
        assert!(!z10.sql.contains("owner_name"), "{}", z10.sql);
        // A date is its last instant; too heavy: the coarse grid, never the overview.
        let day = tile_sql_as_of(&layer, 16, Access::Restricted, 500, true, true).expect("history");
        assert!(
            day.sql
                .contains("(($4::text)::date + 1)::timestamptz - interval '1 microsecond'"),
            "{}",
            day.sql
        );
        assert!(
            day.sql.contains("ST_AsMVT(t, 'parcels', 1024"),
            "{}",
            day.sql
        );
        assert!(day.sql.contains("\"owner_name\""), "{}", day.sql);
    }

    fn overview() -> Generalisation {
        Generalisation::Overview(OverviewTable {
            schema: "land".into(),
            table: "parcel_overview".into(),
            zooms: (8, 12),
            detail_zoom: 13,
            properties: vec![PropertyDef::public(
                "land_use_code",
                PropertyKind::String,
                "Mã loại đất",
                "Land-use code",
            )],
        })
    }

    #[test]
    fn below_the_detail_zoom_an_overview_layer_reads_its_overview_level() {
        let layer = Described(overview(), 2);
        let z10 = tile_sql(&layer, 10, Access::Restricted, 500, false);
        assert!(
            z10.sql.contains("FROM \"land\".\"parcel_overview\""),
            "{}",
            z10.sql
        );
        assert!(z10.sql.contains("WHERE zoom = 10 AND"));
        assert!(z10.sql.contains("true AS generalised"));
        assert!(z10
            .sql
            .contains("ST_AsMVT(t, 'parcels', 4096, 'geom' ORDER BY t.geom)"));
        assert!(!z10.sql.contains("owner_name"), "{}", z10.sql);
        assert!(!z10.sql.contains("\"land\".\"parcels\""));
        // Beneath the stored zooms, the nearest level.
        assert!(tile_sql(&layer, 6, Access::Public, 500, false)
            .sql
            .contains("WHERE zoom = 8 AND"));
        let z13 = tile_sql(&layer, 13, Access::Public, 500, false);
        assert!(z13.sql.contains("FROM \"land\".\"parcels\""), "{}", z13.sql);
        // Too heavy at a detail zoom: the finest overview level.
        let coarse = tile_sql(&layer, 16, Access::Public, 500, true);
        assert!(coarse.sql.contains("WHERE zoom = 12 AND"), "{}", coarse.sql);
    }

    #[test]
    fn points_below_their_detail_zoom_are_clustered_on_tile_aligned_cells() {
        let layer = Described(
            Generalisation::Cluster {
                detail_zoom: 14,
                cell_px: 32,
                keep: None,
            },
            0,
        );
        let z10 = tile_sql(&layer, 10, Access::Public, 500, false);
        assert!(
            z10.sql.contains("count(*)::integer AS point_count"),
            "{}",
            z10.sql
        );
        assert!(z10.sql.contains("GROUP BY cx, cy"));
        // 8 cells per tile side: cell numbers of tile x are 8x … 8x + 7.
        assert!(z10
            .sql
            .contains("cx BETWEEN $2::bigint * 8 AND $2::bigint * 8 + 7"));
        assert!(!z10.sql.contains("parcel_number"));
        let z14 = tile_sql(&layer, 14, Access::Public, 500, false);
        assert!(!z14.sql.contains("point_count"));
        assert!(z14.sql.contains("\"parcel_number\""));
    }

    #[test]
    fn clusters_keep_the_highest_ranked_value_of_their_points() {
        let keep = ClusterKeep {
            column: "status".into(),
            ranks: vec!["no_data".into(), "ok".into(), "alarm".into()],
        };
        let sql = cluster_tile_sql("latest", &storage(), 32, Some(&keep), 500, None).sql;
        assert!(sql.contains("\"status\"::text AS kept"), "{sql}");
        assert!(
            sql.contains(
                "(ARRAY['no_data', 'ok', 'alarm']::text[])[coalesce(max(array_position(ARRAY['no_data', 'ok', 'alarm']::text[], kept)), 1)] AS \"status\""
            ),
            "{sql}"
        );
        assert!(sql.contains("generalised, \"status\","), "{sql}");
        let plain = cluster_tile_sql("latest", &storage(), 32, None, 500, None).sql;
        assert!(!plain.contains("kept"), "{plain}");
    }

    #[test]
    fn a_coarse_plain_tile_draws_fewer_features_on_a_coarser_grid() {
        let layer = Described(Generalisation::MinZoom, 2);
        let normal = tile_sql(&layer, 15, Access::Public, 500, false);
        assert_eq!(
            normal,
            layer_tile_sql("parcels", &storage(), &props(), 15, Access::Public, 500)
        );
        let coarse = tile_sql(&layer, 15, Access::Public, 500, true);
        assert!(coarse.sql.contains("min_zoom <= $1 - 2"), "{}", coarse.sql);
        assert!(coarse.sql.contains("ST_AsMVT(t, 'parcels', 1024, 'geom'"));
        assert!(coarse.sql.contains("1024, 16, true"));
    }
}
