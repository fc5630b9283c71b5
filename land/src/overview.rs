//! The parcels' land-use overview: what the `parcels` layer shows below its detail zoom, so a
//! planner zoomed out to a district or the province sees land use instead of an empty map (and
//! instead of a million parcels too small to see).
//!
//! `land.parcel_overview` (migration 1003) holds, per zoom 8–12, cells of [`CELL_PX`] pixels
//! aligned to the tile grid; each (cell, land-use code) row is a band of its cell whose Web
//! Mercator area equals the area of the parcels of that code counted in the cell (by the centre
//! of their bounding box), with the parcel count and the TM-3 area as properties. A grouping by
//! cell and code — no union of parcel polygons — keeps a full refresh to one pass over the
//! parcels (a few seconds per million).
//!
//! Each cell's sums per code are stored at every zoom (`land.parcel_overview_sums`, migration
//! 1011) and the rows are drawn from them, so a change recounts only the 306 m z12 cells its
//! rows' old and new boxes meet and adds the differences to their ancestors.
//!
//! Kept in step in two ways: a statement trigger does that for every edit, inside the edit's
//! transaction; bulk loads (which skip triggers) call [`refresh_rows`] with the changed rows
//! (or [`refresh`] with the areas of a first load) inside their merge's transaction, before it
//! commits (so a load killed or failing half-way leaves parcels and overview as they were, and
//! tile servers hear of the load only once both are committed). Owner names are never part of
//! it.

use gis_core::layer::{Generalisation, OverviewTable, PropertyDef, PropertyKind};
use sqlx::PgConnection;

/// The first zoom that draws the parcels themselves; lower zooms draw the overview.
pub const DETAIL_ZOOM: u8 = 13;
/// Zooms with overview rows.
pub const ZOOMS: (u8, u8) = (8, 12);
/// Cell size in pixels of a 256-pixel tile: 32 × 32 cells per tile, so a fully covered tile
/// holds about a thousand cells of a few bands each (tens of kilobytes).
pub const CELL_PX: u32 = 8;

/// Errors of the overview.
#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    /// The refresh failed in the database.
    #[error("refreshing the parcels' land-use overview of {areas} area(s), the first {bbox_3857:?} (EPSG:3857), failed: {source}")]
    Refresh {
        /// The first area asked for.
        bbox_3857: [f64; 4],
        /// How many areas were asked for.
        areas: usize,
        /// Why.
        source: sqlx::Error,
    },
    /// The refresh of a load's changed rows failed in the database.
    #[error(
        "refreshing the parcels' land-use overview of the rows a load changed failed: {source}"
    )]
    RefreshRows {
        /// Why.
        source: sqlx::Error,
    },
}

/// How the `parcels` layer is generalised (for the layer plugin).
pub fn generalisation() -> Generalisation {
    Generalisation::Overview(OverviewTable {
        schema: "land".into(),
        table: "parcel_overview".into(),
        zooms: ZOOMS,
        detail_zoom: DETAIL_ZOOM,
        properties: vec![
            PropertyDef::public(
                "land_use_code",
                PropertyKind::String,
                "Mã loại đất",
                "Land-use code",
            ),
            PropertyDef::public(
                "parcel_count",
                PropertyKind::Integer,
                "Số lượng thửa",
                "Number of parcels",
            ),
            PropertyDef::public(
                "area_m2",
                PropertyKind::Integer,
                "Tổng diện tích (m²)",
                "Total area (m²)",
            ),
        ],
    })
}

/// Side of an overview cell at zoom `z`, in Web Mercator metres (ground metres × 1/cos(lat)).
pub fn cell_size_3857(z: u8) -> f64 {
    2.0 * gis_core::mvt::WORLD_HALF / f64::from(1u32 << z) / f64::from(256 / CELL_PX)
}

/// Recomputes the overview of every cell that may hold a parcel centre inside one of `areas`
/// (west, south, east, north in EPSG:3857; the areas a load touched, old and new rows) — one
/// pass over the z8 cells they meet, however many areas — on `conn`, in the caller's
/// transaction (the load's, which notifies tile servers of the areas when it commits).
/// Returns the overview rows written.
pub async fn refresh(conn: &mut PgConnection, areas: &[[f64; 4]]) -> Result<u64, OverviewError> {
    let Some(&first) = areas.first() else {
        return Ok(0);
    };
    let err = |source| OverviewError::Refresh {
        bbox_3857: first,
        areas: areas.len(),
        source,
    };
    let column = |i: usize| areas.iter().map(|a| a[i]).collect::<Vec<f64>>();
    let written: i64 = sqlx::query_scalar(
        "SELECT land.refresh_parcel_overview_areas(ARRAY(
             SELECT ST_MakeEnvelope(w, s, e, n, 3857)
             FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) AS a(w, s, e, n)))",
    )
    .bind(column(0))
    .bind(column(1))
    .bind(column(2))
    .bind(column(3))
    .fetch_one(conn)
    .await
    .map_err(err)?;
    Ok(u64::try_from(written).unwrap_or(0))
}

/// Brings the overview up to date after a load whose changed rows' old and new boxes
/// (EPSG:3857) are the `box2d` column `b` of `row_boxes_sql` (a query of the load's own, run on
/// `conn` in its transaction): only the cells those boxes meet are recounted. Returns the
/// overview rows written.
pub async fn refresh_rows(
    conn: &mut PgConnection,
    row_boxes_sql: &str,
) -> Result<u64, OverviewError> {
    let written: i64 = sqlx::query_scalar(&format!(
        "SELECT land.refresh_parcel_overview_boxes(ARRAY(
             SELECT b::geometry FROM ({row_boxes_sql}) AS rows WHERE b IS NOT NULL))"
    ))
    .persistent(false)
    .fetch_one(conn)
    .await
    .map_err(|source| OverviewError::RefreshRows { source })?;
    Ok(u64::try_from(written).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_nest_and_align_with_tiles() {
        // z12: a 256-pixel tile is 9.78 km, a cell 306 m.
        assert!((cell_size_3857(12) - 305.748).abs() < 0.01);
        for z in ZOOMS.0..ZOOMS.1 {
            assert!((cell_size_3857(z) - 2.0 * cell_size_3857(z + 1)).abs() < 1e-6);
            let tile = 2.0 * gis_core::mvt::WORLD_HALF / f64::from(1u32 << z);
            let per_tile = tile / cell_size_3857(z);
            assert!((per_tile - per_tile.round()).abs() < 1e-9, "{per_tile}");
        }
    }

    #[test]
    fn the_overview_serves_the_zooms_below_the_parcels_and_no_personal_data() {
        let Generalisation::Overview(o) = generalisation() else {
            panic!("not an overview");
        };
        assert_eq!(o.zooms.1 + 1, o.detail_zoom);
        assert!(o.properties.iter().all(|p| p.name != "owner_name"));
        assert!(o
            .properties
            .iter()
            .all(|p| p.access == gis_core::layer::Access::Public));
    }
}
