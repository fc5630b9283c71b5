//! The layer declaration: the one place a layer is described. Its owner crate (land,
//! planning, utilities, sectors — or `bando layer`/the config for layers added without code)
//! writes one [`LayerDecl`]; the importers read its table description, the registry serves it
//! through [`Layer`], styles, OGC API – Features, the OpenAPI document and the web map read
//! its titles, access classes and style from there.
//!
//! To add a property to a built-in layer, add a [`Column`](crate::feature::Column) (with its
//! titles, legacy field names and access class) to the owner's table description: the column is
//! created by [`crate::feature::ensure_table`] when bando starts, imported, published in
//! tiles, items, queryables and styles, and titled in the map — nothing else is edited.

use std::future::Future;
use std::pin::Pin;

use sqlx::PgConnection;

use crate::bulk::StagedRow;
use crate::crs::VN2000_TM3_106_15;
use crate::feature::{ColumnType, FeatureTable};
use crate::layer::{
    Generalisation, GeometryKind, Layer, PropertyDef, PropertyKind, Readers, Roles, RowFilter,
    StorageTable, StyleHints,
};

/// A boxed future (the hooks are called through trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed future that need not be `Send` (sqlx's executor bounds on a borrowed connection
/// defeat the compiler's `Send` proof; imports run on one task).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Lowest zoom at which point layers are drawn (as clusters below their own first zoom).
pub const CLUSTER_FROM_ZOOM: u8 = 8;
/// Cluster cell in pixels: at most 8 × 8 clusters per tile, far enough apart for a label.
pub const CLUSTER_CELL_PX: u16 = 32;

/// How an import meets the live table, for the owner's checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportContext {
    /// Replace the live table or upsert into it (live rows the delivery does not replace
    /// stay, so checks against them matter).
    pub mode: crate::bulk::MergeMode,
    /// Whether faulty rows are rejected rather than reported.
    pub invalid: crate::bulk::InvalidPolicy,
    /// Largest overlap of two polygons the owner's checks let pass, m², from the
    /// configuration (the cadastre's `[land] overlap_tolerance_m2`); `None`: the owner's
    /// default.
    pub overlap_tolerance_m2: Option<f64>,
}

/// What an owner does beyond the generic pipeline. Every method has a do-nothing default.
pub trait LayerHooks: Send + Sync {
    /// Checks run on a delivery while it streams into staging (parcels: overlaps); their
    /// findings are reported, and with [`crate::bulk::InvalidPolicy::Reject`] a check may
    /// also reject staged rows (setting `rejected`).
    fn import_checks(&self, _ctx: ImportContext) -> Option<Box<dyn ImportChecks>> {
        None
    }

    /// During a bulk load that bypassed the table's statement triggers: bring derived data of
    /// what it changed (all of one load at once) up to date on `conn`, inside the load's
    /// transaction just before its commit, so the load and what derives from it commit
    /// together (a load killed in between leaves neither). An error fails the load.
    fn after_bulk_load<'a>(
        &'a self,
        _conn: &'a mut PgConnection,
        _changes: &'a BulkChanges<'a>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// What a bulk load changed, for [`LayerHooks::after_bulk_load`].
#[derive(Debug, Clone, Copy)]
pub struct BulkChanges<'a> {
    /// The touched areas (EPSG:3857 west, south, east, north; at most
    /// [`crate::bulk::MAX_TOUCHED_AREAS`]), old and new rows.
    pub areas_3857: &'a [[f64; 4]],
    /// A query, valid on the hook's connection until the commit, of one `box2d` column `b`:
    /// the bounding box (EPSG:3857) of every changed row before and after, of every new row
    /// and of every removed one. `None` when the load filled an empty table (all of it is new:
    /// the areas say where).
    pub row_boxes_sql: Option<&'a str>,
}

/// An owner's checks on one import (see [`LayerHooks::import_checks`]).
pub trait ImportChecks: Send {
    /// Sees each row as it is staged (geometry as delivered, in `row.srid`).
    fn observe(&mut self, row: &StagedRow);

    /// Every row has been observed: work that needs all of them may start now, in the
    /// background, while the staging table is prepared in the database (which keeps the
    /// importer's process idle for seconds at a million rows).
    fn rows_done(&mut self) {}

    /// Findings on the staged rows (`stage` names the staging table, rows with
    /// `rejected IS NULL` are the ones to merge), as sentences for the import summary.
    fn findings<'a>(
        self: Box<Self>,
        conn: &'a mut PgConnection,
        stage: &'a str,
    ) -> LocalBoxFuture<'a, Result<Vec<String>, sqlx::Error>>;
}

/// One layer, declared once.
#[derive(Clone)]
pub struct LayerDecl {
    /// Storage table, columns (with titles, legacy names, access), natural key and row rule.
    pub table: FeatureTable,
    /// Title in Vietnamese.
    pub title_vi: &'static str,
    /// Title in English.
    pub title_en: &'static str,
    /// Sector id (the `layers` crate declares the sectors and their titles).
    pub sector: &'static str,
    /// Zoom levels drawn (inclusive). For point layers the first is where each point is drawn
    /// on its own; from [`CLUSTER_FROM_ZOOM`] up to it they are drawn as grid clusters.
    pub zoom: (u8, u8),
    /// How low-zoom tiles are made; `None` = the default for the geometry (min-zoom per
    /// feature, clusters for points).
    pub generalisation: Option<Generalisation>,
    /// `Cache-Control: max-age` of the layer's tiles, seconds.
    pub cache_max_age: u32,
    /// Style.
    pub style: StyleHints,
    /// Shown when a map opens.
    pub visible: bool,
    /// Published styles that draw it besides the one with every layer (`public`, `base`).
    pub styles: &'static [&'static str],
    /// The owner's hooks.
    pub hooks: Option<&'static dyn LayerHooks>,
    /// Who reads the layer at all.
    pub readers: Readers,
    /// The column naming a row's commune: land officers read restricted properties of the rows
    /// of their communes only; without one, restricted properties are for administrators.
    pub scope_column: Option<&'static str>,
    /// Roles that write the layer besides administrators (read-only by default).
    pub writers: Roles,
    /// Rows only some readers see (drafts of plans: planners only); `None`: every row.
    pub row_filter: Option<RowFilter>,
    /// The owner's SQL function giving the rows at an instant ([`Layer::as_of_function`]).
    pub as_of: Option<&'static str>,
    /// Its public tiles may be kept in the persistent tile store ([`Layer::seedable`]); on by
    /// default, off for live layers whose tiles change by the minute.
    pub seedable: bool,
    /// The highest zoom the tile store is seeded to ([`Layer::seed_zoom`]; [`SEED_ZOOM`] by
    /// default, at most the layer's highest zoom): clients overzoom beyond it.
    pub seed_zoom: u8,
}

/// The default seed zoom: at z16 a province is some 20,000 tiles per layer, rendered in
/// minutes, and a z16 tile still holds every parcel's outline at the pixel when overzoomed.
pub const SEED_ZOOM: u8 = 16;

impl std::fmt::Debug for LayerDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerDecl")
            .field("id", &self.table.kind)
            .field("sector", &self.sector)
            .finish_non_exhaustive()
    }
}

impl LayerDecl {
    /// A layer drawn in `color` (lines, outlines, points), refreshed every 5 minutes, hidden
    /// at start; set the other fields with struct update syntax.
    pub fn new(
        table: FeatureTable,
        title_vi: &'static str,
        title_en: &'static str,
        sector: &'static str,
        zoom: (u8, u8),
        color: &str,
    ) -> Self {
        let dim = table.dimension();
        let polygon = dim == 2;
        LayerDecl {
            table,
            title_vi,
            title_en,
            sector,
            zoom,
            generalisation: None,
            cache_max_age: 300,
            style: StyleHints {
                fill_opacity: polygon.then_some(0.35),
                line_color: (dim > 0).then(|| color.to_string()),
                line_width: Some(if polygon { 0.8 } else { 2.0 }),
                circle_color: (dim == 0).then(|| color.to_string()),
                ..StyleHints::default()
            },
            visible: false,
            styles: &[],
            hooks: None,
            readers: Readers::Everyone,
            scope_column: None,
            writers: Roles::NONE,
            row_filter: None,
            as_of: None,
            seedable: true,
            seed_zoom: SEED_ZOOM,
        }
    }

    /// The layer with a fill colour.
    pub fn filled(mut self, fill: &str) -> Self {
        self.style.fill_color = Some(fill.to_string());
        self
    }

    /// The layer labelled with a property.
    pub fn labelled(mut self, property: &str) -> Self {
        self.style.label_property = Some(property.to_string());
        self
    }

    /// The point layer drawn with a sprite icon.
    pub fn with_icon(mut self, icon: &str) -> Self {
        self.style.icon = Some(icon.to_string());
        self
    }

    /// The layer shown when a map opens.
    pub fn shown(mut self) -> Self {
        self.visible = true;
        self
    }
}

/// The published type of a column.
pub fn property_kind(ty: ColumnType) -> PropertyKind {
    match ty {
        ColumnType::Text => PropertyKind::String,
        ColumnType::Integer => PropertyKind::Integer,
        ColumnType::Double => PropertyKind::Number,
        ColumnType::Boolean => PropertyKind::Boolean,
        ColumnType::Date => PropertyKind::Date,
    }
}

impl Layer for LayerDecl {
    fn id(&self) -> &str {
        self.table.kind
    }
    fn title_vi(&self) -> &str {
        self.title_vi
    }
    fn title_en(&self) -> &str {
        self.title_en
    }
    fn sector(&self) -> &str {
        self.sector
    }
    fn geometry_kind(&self) -> GeometryKind {
        self.table.geometry
    }
    fn storage(&self) -> StorageTable {
        StorageTable {
            schema: self.table.schema.into(),
            table: self.table.table.into(),
            geometry_column: "geom".into(),
            id_column: "id".into(),
            // Rows carry their own VN-2000 zone; this is the province's main one.
            srid: VN2000_TM3_106_15,
        }
    }
    fn zoom_range(&self) -> (u8, u8) {
        if self.table.dimension() == 0 {
            (self.zoom.0.min(CLUSTER_FROM_ZOOM), self.zoom.1)
        } else {
            self.zoom
        }
    }
    fn generalisation(&self) -> Generalisation {
        match (&self.generalisation, self.table.dimension()) {
            (Some(g), _) => g.clone(),
            (None, 0) if self.zoom.0 > CLUSTER_FROM_ZOOM => Generalisation::Cluster {
                detail_zoom: self.zoom.0,
                cell_px: CLUSTER_CELL_PX,
                keep: None,
            },
            (None, _) => Generalisation::MinZoom,
        }
    }
    fn properties(&self) -> Vec<PropertyDef> {
        self.table
            .columns
            .iter()
            .map(|c| PropertyDef {
                name: c.name.to_string(),
                kind: property_kind(c.ty),
                title_vi: c.title_vi.to_string(),
                title_en: c.title_en.to_string(),
                access: c.access,
            })
            .collect()
    }
    fn readers(&self) -> Readers {
        self.readers
    }
    fn scope_column(&self) -> Option<String> {
        self.scope_column.map(str::to_string)
    }
    fn writers(&self) -> Roles {
        self.writers
    }
    fn row_filter(&self) -> Option<RowFilter> {
        self.row_filter
    }
    fn as_of_function(&self) -> Option<String> {
        self.as_of.map(str::to_string)
    }
    fn style(&self) -> StyleHints {
        self.style.clone()
    }
    fn cache_max_age(&self) -> u32 {
        self.cache_max_age
    }
    fn visible_at_start(&self) -> bool {
        self.visible
    }
    fn seedable(&self) -> bool {
        self.seedable
    }
    fn seed_zoom(&self) -> Option<u8> {
        self.seedable
            .then(|| self.seed_zoom.min(self.zoom_range().1))
    }
    fn styles(&self) -> Vec<String> {
        self.styles.iter().map(|s| s.to_string()).collect()
    }
}
