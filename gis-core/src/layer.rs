//! The layer registry: the one description of a map layer that tiles, features, feeds and the
//! web apps all read.
//!
//! A layer plugin (crate `layers`) implements [`Layer`]; the server builds a [`LayerRegistry`]
//! at start and publishes it to `platform.layer_catalog` ([`publish`]), so that every client of the
//! database — the landing page, other bando instances, SQL users — reads the same list
//! ([`read_catalog`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::db::{quote_ident, DbError};

pub use crate::declare::{
    BoxFuture, ImportChecks, LayerDecl, LayerHooks, CLUSTER_CELL_PX, CLUSTER_FROM_ZOOM,
};

/// Geometry type of a layer's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GeometryKind {
    /// Points (hydrants, stations…).
    Point,
    /// Lines (pipes, red lines…).
    LineString,
    /// Polygons (parcels, zones…).
    Polygon,
    /// Multi-points.
    MultiPoint,
    /// Multi-lines.
    MultiLineString,
    /// Multi-polygons (communes…).
    MultiPolygon,
}

impl GeometryKind {
    /// The name PostGIS and OGC use.
    pub fn as_str(&self) -> &'static str {
        match self {
            GeometryKind::Point => "Point",
            GeometryKind::LineString => "LineString",
            GeometryKind::Polygon => "Polygon",
            GeometryKind::MultiPoint => "MultiPoint",
            GeometryKind::MultiLineString => "MultiLineString",
            GeometryKind::MultiPolygon => "MultiPolygon",
        }
    }
}

/// Who may read a layer or a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone, including anonymous users of the public portal.
    Public,
    /// A layer's insiders — the roles its [`RowFilter`] names (planners for drafts of plans,
    /// IOC operators for private datastreams) — and administrators: public properties, and
    /// the rows the filter hides from everyone else. No property is declared with this class.
    Internal,
    /// Authenticated users with a role that grants it (owner names and other personal data).
    Restricted,
}

impl Access {
    /// Lower-case name as stored in the catalog.
    pub fn as_str(&self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Internal => "internal",
            Access::Restricted => "restricted",
        }
    }
}

/// Roles of signed-in readers, as a set. `auth` maps a token's roles to it; layers declare
/// which roles read them ([`Readers`]). The empty set is an anonymous reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    /// No role: anonymous readers (and signed-in readers with no role bando knows).
    pub const NONE: Roles = Roles(0);
    /// Urban planners.
    pub const PLANNER: Roles = Roles(1);
    /// Land officers (their personal-data reads and writes are limited to their communes).
    pub const LAND_OFFICER: Roles = Roles(2);
    /// Operators of the operations centre.
    pub const IOC_OPERATOR: Roles = Roles(4);
    /// Administrators: everything, province-wide.
    pub const ADMIN: Roles = Roles(8);
    /// Every staff role.
    pub const STAFF: Roles = Roles(15);

    /// Both sets.
    pub const fn with(self, other: Roles) -> Roles {
        Roles(self.0 | other.0)
    }

    /// Whether any role is in both sets.
    pub const fn intersects(self, other: Roles) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether every role of `other` is in this set.
    pub const fn contains(self, other: Roles) -> bool {
        self.0 & other.0 == other.0
    }

    /// The roles' names (as tokens carry them), in a stable order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Roles::PLANNER, "planner"),
            (Roles::LAND_OFFICER, "land_officer"),
            (Roles::IOC_OPERATOR, "ioc_operator"),
            (Roles::ADMIN, "admin"),
        ]
        .into_iter()
        .filter(|(r, _)| self.contains(*r))
        .map(|(_, n)| n)
        .collect()
    }

    /// The role named `name` (`planner`, `land_officer`, `ioc_operator`, `admin`).
    pub fn named(name: &str) -> Option<Roles> {
        match name {
            "planner" => Some(Roles::PLANNER),
            "land_officer" => Some(Roles::LAND_OFFICER),
            "ioc_operator" => Some(Roles::IOC_OPERATOR),
            "admin" => Some(Roles::ADMIN),
            _ => None,
        }
    }
}

/// Who reads a layer at all. A reader outside it does not see the layer anywhere: not in
/// `/collections`, tiles, styles, identify or the landing page (administrators see every layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Readers {
    /// Everyone, anonymous readers included.
    #[default]
    Everyone,
    /// Signed-in readers holding one of these roles.
    Only(Roles),
}

impl Readers {
    /// Whether a reader with `roles` reads the layer.
    pub fn admit(self, roles: Roles) -> bool {
        match self {
            Readers::Everyone => true,
            Readers::Only(r) => roles.intersects(r.with(Roles::ADMIN)),
        }
    }

    /// Catalog text: `everyone` or the role names joined by commas.
    pub fn describe(self) -> String {
        match self {
            Readers::Everyone => "everyone".into(),
            Readers::Only(r) => r.with(Roles::ADMIN).names().join(","),
        }
    }
}

/// The communes a land officer's personal-data reads are limited to, applied to a layer by its
/// scope column ([`Layer::scope_column`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The layer's column holding a row's commune code.
    pub column: String,
    /// Commune codes (digits only, checked when the scope is made).
    pub communes: Arc<[String]>,
}

impl Scope {
    /// SQL condition true for rows of `alias` inside the scope. The codes are digits (checked
    /// by [`Viewer::new`]), so they are written as literals: tile SQL is text without binds for
    /// its properties.
    pub fn condition(&self, alias: &str) -> String {
        let list: Vec<String> = self.communes.iter().map(|c| format!("'{c}'")).collect();
        let prefix = if alias.is_empty() {
            String::new()
        } else {
            format!("{alias}.")
        };
        if list.is_empty() {
            return "false".into();
        }
        format!(
            "{prefix}{} IN ({})",
            quote_ident(&self.column),
            list.join(", ")
        )
    }

    /// Whether `commune` is inside the scope.
    pub fn includes(&self, commune: &str) -> bool {
        self.communes.iter().any(|c| c == commune)
    }
}

/// What one reader may read of one layer: the property class, and for land officers the
/// communes where that class applies (elsewhere they read public properties only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sight {
    /// Property class read (inside the scope, when there is one).
    pub access: Access,
    /// Rows whose restricted properties may be read; `None` = every row.
    pub scope: Option<Scope>,
}

impl Sight {
    /// Public properties of every row.
    pub const PUBLIC: Sight = Sight {
        access: Access::Public,
        scope: None,
    };

    /// Whether restricted properties of every row are read (no scope).
    pub fn province_wide(&self) -> bool {
        self.access == Access::Restricted && self.scope.is_none()
    }

    /// The access class for answers that cannot be masked row by row (tiles, downloads):
    /// restricted only when it holds for every row.
    pub fn whole_access(&self) -> Access {
        if self.province_wide() {
            Access::Restricted
        } else if self.access == Access::Internal && self.scope.is_none() {
            Access::Internal
        } else {
            Access::Public
        }
    }

    /// The SQL condition on the rows of `layer` this sight reads (`alias` names the table),
    /// or `None` when it reads every row: see [`RowFilter`].
    pub fn rows(&self, layer: &dyn Layer, alias: &str) -> Option<String> {
        layer
            .row_filter()
            .and_then(|f| f.condition(self.whole_access(), alias))
    }
}

/// Rows of a layer that only some readers see, declared with the layer: for example the zones
/// of draft plans, which only planners (and administrators) read, or the readings of private
/// datastreams, which only IOC operators (and administrators) read. The filter names its
/// insiders ([`RowFilter::insiders_are`]); each condition is SQL over
/// the layer's table where `{t}` stands for the table's alias with its dot (or nothing); it may
/// read other tables of its owner (e.g. `{t}plan_id IN (SELECT id FROM planning.plans WHERE …)`).
/// It is applied in tiles (per access class, so public tiles stay one shared class), items,
/// single features, counts, downloads and spatial queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowFilter {
    /// The rows everyone (anonymous readers, land officers, operators) reads.
    pub everyone: &'static str,
    /// The rows readers of class [`Access::Internal`] and above read; `None`: every row.
    pub insiders: Option<&'static str>,
    /// The roles that are this layer's insiders (administrators always are): readers holding
    /// one of them get [`Access::Internal`] on the layer ([`Viewer::sight`]).
    pub insiders_are: Roles,
}

impl RowFilter {
    /// The condition for readers of `access` (the whole-answer class), or `None` for every row.
    pub fn condition(&self, access: Access, alias: &str) -> Option<String> {
        let template = if access >= Access::Internal {
            self.insiders?
        } else {
            self.everyone
        };
        let prefix = if alias.is_empty() {
            String::new()
        } else {
            format!("{alias}.")
        };
        Some(format!("({})", template.replace("{t}", &prefix)))
    }
}

impl From<Access> for Sight {
    fn from(access: Access) -> Self {
        Sight {
            access,
            scope: None,
        }
    }
}

/// A reader, as the domain sees it: roles and, for land officers, their communes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Viewer {
    /// Roles held.
    pub roles: Roles,
    /// A land officer's communes (post-merger codes and the pre-merger codes they replace).
    pub communes: Arc<[String]>,
}

/// A viewer's commune list held something that is not a commune code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the commune scope holds {0:?}, which is not a commune code (digits)")]
pub struct BadScope(pub String);

impl Viewer {
    /// An anonymous reader.
    pub fn anonymous() -> Self {
        Viewer::default()
    }

    /// A reader with `roles`, limited to `communes` for land-officer work.
    pub fn new(roles: Roles, communes: Vec<String>) -> Result<Self, BadScope> {
        if let Some(bad) = communes
            .iter()
            .find(|c| c.is_empty() || c.len() > 12 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(BadScope(bad.chars().take(40).collect()));
        }
        Ok(Viewer {
            roles,
            communes: communes.into(),
        })
    }

    /// Whether the reader may write `layer`, and where: `Ok(None)` everywhere (administrators,
    /// or writer roles without a commune scope), `Ok(Some(communes))` only rows of those
    /// communes (land officers), `Err` with the reason when not at all.
    pub fn write_scope(&self, layer: &dyn Layer) -> Result<Option<Arc<[String]>>, String> {
        if self.roles.contains(Roles::ADMIN) {
            return Ok(None);
        }
        let writers = layer.writers();
        if !self.roles.intersects(writers) {
            let allowed = writers.with(Roles::ADMIN).names().join(", ");
            return Err(format!("layer {} is written only by {allowed}", layer.id()));
        }
        if self.roles.contains(Roles::LAND_OFFICER)
            && writers.contains(Roles::LAND_OFFICER)
            && layer.scope_column().is_some()
        {
            return Ok(Some(self.communes.clone()));
        }
        Ok(None)
    }

    /// The property class of answers that cannot be masked row by row and may mix layers
    /// (files, reports): restricted for administrators only; internal for planners (the
    /// insiders of the planning layers' drafts). Tiles are classed per layer
    /// ([`Viewer::tile_access`]).
    pub fn whole_access(&self) -> Access {
        if self.roles.contains(Roles::ADMIN) {
            Access::Restricted
        } else if self.roles.contains(Roles::PLANNER) {
            Access::Internal
        } else {
            Access::Public
        }
    }

    /// The class of `layer`'s tiles for this reader: restricted for administrators, internal
    /// for the insiders its row filter names, public otherwise (so tiles of a layer without a
    /// filter are one shared class for every non-administrator).
    pub fn tile_access(&self, layer: &dyn Layer) -> Access {
        self.sight(layer).whole_access()
    }

    /// Whether the reader sees `layer` at all.
    pub fn sees(&self, layer: &dyn Layer) -> bool {
        layer.readers().admit(self.roles)
    }

    /// What the reader reads of `layer`: administrators every restricted property; land
    /// officers those of rows in their communes (none on a layer without a scope column);
    /// the insiders a [`RowFilter`] names (planners on planning layers, IOC operators on the
    /// IOC's) the rows it keeps for them; everyone else public properties.
    pub fn sight(&self, layer: &dyn Layer) -> Sight {
        if self.roles.contains(Roles::ADMIN) {
            return Access::Restricted.into();
        }
        if layer
            .row_filter()
            .is_some_and(|f| self.roles.intersects(f.insiders_are))
        {
            return Access::Internal.into();
        }
        if self.roles.contains(Roles::LAND_OFFICER) {
            if let Some(column) = layer.scope_column() {
                return Sight {
                    access: Access::Restricted,
                    scope: Some(Scope {
                        column,
                        communes: self.communes.clone(),
                    }),
                };
            }
        }
        Sight::PUBLIC
    }
}

/// Type of a published property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyKind {
    /// Text.
    String,
    /// Whole number.
    Integer,
    /// Decimal number.
    Number,
    /// True/false.
    Boolean,
    /// Calendar date.
    Date,
    /// Date and time.
    DateTime,
}

/// A property a layer exposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyDef {
    /// Column name in the storage table (and property name in APIs).
    pub name: String,
    /// Type.
    pub kind: PropertyKind,
    /// Label in Vietnamese.
    pub title_vi: String,
    /// Label in English.
    pub title_en: String,
    /// Who may read it.
    pub access: Access,
}

impl PropertyDef {
    /// A public property.
    pub fn public(name: &str, kind: PropertyKind, title_vi: &str, title_en: &str) -> Self {
        PropertyDef {
            name: name.to_string(),
            kind,
            title_vi: title_vi.to_string(),
            title_en: title_en.to_string(),
            access: Access::Public,
        }
    }

    /// A restricted property (personal data).
    pub fn restricted(name: &str, kind: PropertyKind, title_vi: &str, title_en: &str) -> Self {
        PropertyDef {
            access: Access::Restricted,
            ..Self::public(name, kind, title_vi, title_en)
        }
    }
}

/// Where a layer's rows live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageTable {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Geometry column (in the storage CRS).
    pub geometry_column: String,
    /// Stable feature id column.
    pub id_column: String,
    /// SRID of the geometry column (the legal VN-2000 TM-3 CRS for survey data).
    pub srid: u32,
}

impl StorageTable {
    /// `"schema"."table"`, quoted.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

/// How a layer is drawn in generated map styles. The owner may give MapLibre expressions for
/// data-driven colours and widths (`fill_paint`, `line_paint`, `circle_paint`); they may only read public
/// properties (a test checks every style).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StyleHints {
    /// Fill colour (CSS hex) for polygons.
    pub fill_color: Option<String>,
    /// Fill opacity 0–1.
    pub fill_opacity: Option<f32>,
    /// Line/outline colour (CSS hex).
    pub line_color: Option<String>,
    /// Line width in pixels.
    pub line_width: Option<f32>,
    /// Dash pattern of lines and outlines (MapLibre `line-dasharray`).
    pub line_dash: Option<Vec<f32>>,
    /// Circle colour for points.
    pub circle_color: Option<String>,
    /// Sprite icon for points (one of the sprite sheet's names).
    pub icon: Option<String>,
    /// Property used for labels.
    pub label_property: Option<String>,
    /// First zoom of labels, when later than the layer's (dense labels).
    pub label_min_zoom: Option<u8>,
    /// Labels in bold (administrative names).
    pub label_bold: bool,
    /// MapLibre `paint` of the fill style layer, replacing the colour hints.
    pub fill_paint: Option<serde_json::Value>,
    /// MapLibre `paint` of the line or outline style layer, replacing the line hints.
    pub line_paint: Option<serde_json::Value>,
    /// MapLibre `paint` of a point layer's circles, replacing the circle colour (status
    /// colours of live readings).
    pub circle_paint: Option<serde_json::Value>,
    /// MapLibre `paint` of a `fill-extrusion` layer drawing polygons in 3D (heights from their
    /// properties), in place of the flat fill on screen; printed maps stay flat (`fill_color`).
    pub extrusion_paint: Option<serde_json::Value>,
    /// Drawing order within a geometry group (lower first, underneath); 50 when unsaid.
    pub draw_rank: Option<u8>,
    /// The legend of a data-driven colour: one entry per colour, with the property values
    /// drawn in it and its titles (empty: the layer's own colour says it all).
    pub legend: Vec<LegendEntry>,
}

/// One line of a layer's legend: a colour, what it means (vi/en) and the property values drawn
/// in it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LegendEntry {
    /// Colour (CSS hex).
    pub colour: String,
    /// Meaning in Vietnamese.
    pub title_vi: String,
    /// Meaning in English.
    pub title_en: String,
    /// Values of the styled property drawn in this colour (empty for the fallback).
    pub values: Vec<String>,
}

/// What every layer plugin tells the platform about itself.
pub trait Layer: Send + Sync {
    /// Stable id used in URLs (`communes`, `parcels`…).
    fn id(&self) -> &str;
    /// Title in Vietnamese.
    fn title_vi(&self) -> &str;
    /// Title in English.
    fn title_en(&self) -> &str;
    /// Sector id (`cadastre`, `water`…); its titles are declared by the `layers` crate.
    fn sector(&self) -> &str;
    /// Geometry type.
    fn geometry_kind(&self) -> GeometryKind;
    /// Storage table and CRS.
    fn storage(&self) -> StorageTable;
    /// Zoom levels the layer is drawn at (inclusive).
    fn zoom_range(&self) -> (u8, u8);
    /// Properties exposed in APIs and tiles.
    fn properties(&self) -> Vec<PropertyDef>;
    /// Who reads the layer at all (everyone unless the owner says otherwise).
    fn readers(&self) -> Readers {
        Readers::Everyone
    }
    /// Roles that write the layer besides administrators (none by default: read-only). Land
    /// officers write only rows of their communes ([`Layer::scope_column`]).
    fn writers(&self) -> Roles {
        Roles::NONE
    }
    /// The column placing a row in a commune, for land officers' scope; `None` when the layer
    /// has no such column (its restricted properties are then for administrators only).
    fn scope_column(&self) -> Option<String> {
        None
    }
    /// Rows only some readers see ([`RowFilter`]); `None`: every reader of the layer reads
    /// every row.
    fn row_filter(&self) -> Option<RowFilter> {
        None
    }
    /// Style hints.
    fn style(&self) -> StyleHints;
    /// How long (seconds) clients and proxies may reuse this layer's tiles without asking
    /// again (`Cache-Control: max-age`). Slow-changing layers say more, live ones less.
    fn cache_max_age(&self) -> u32 {
        300
    }
    /// How the layer is drawn below its detail zoom (see [`Generalisation`]); by default every
    /// feature from its own `min_zoom`.
    fn generalisation(&self) -> Generalisation {
        Generalisation::MinZoom
    }
    /// The SQL function giving the layer's rows as they were at an instant (`f(timestamptz)`
    /// returning `SETOF` the table's row type), when the owner keeps a history; features
    /// requests read it for `datetime=<instant>`, tiles for `?datetime=`. The owner also
    /// defines `f(timestamptz, geometry)`: the rows then whose `geom_3857` meets a Web
    /// Mercator box, which it applies where its history is indexed (requests with a bbox, and
    /// every tile, call this one).
    fn as_of_function(&self) -> Option<String> {
        None
    }
    /// Whether the layer's public tiles may be kept in a server's persistent tile store (and
    /// seeded): static data yes (the default), live layers whose rows change by the minute no.
    fn seedable(&self) -> bool {
        true
    }
    /// The highest zoom a server seeds the layer's tiles to in its store, and the TileJSON
    /// `maxzoom` (clients overzoom beyond it); `None` when the layer is not seedable. By
    /// default z16 ([`crate::declare::SEED_ZOOM`]) or the layer's highest zoom if lower.
    fn seed_zoom(&self) -> Option<u8> {
        self.seedable()
            .then(|| crate::declare::SEED_ZOOM.min(self.zoom_range().1))
    }
    /// Whether maps show the layer when they open (the others are listed, switched off).
    fn visible_at_start(&self) -> bool {
        true
    }
    /// The published styles that draw this layer besides the one with every layer (e.g. the
    /// public portal's `public`, the `base` map).
    fn styles(&self) -> Vec<String> {
        Vec::new()
    }
}

/// How a layer's low-zoom tiles are made small and meaningful ([`crate::mvt`] builds the SQL).
#[derive(Debug, Clone, PartialEq)]
pub enum Generalisation {
    /// Each feature from its generated `min_zoom` on (too-small features left out).
    MinZoom,
    /// Below `detail_zoom`, tiles read a generalised table its owner keeps in step with the
    /// layer's rows; the MVT layer keeps the layer's id, so one style serves every zoom.
    Overview(OverviewTable),
    /// Below `detail_zoom`, points are merged per grid cell of `cell_px` pixels (of a 256-pixel
    /// tile, aligned to the tile grid) into one feature with `point_count`.
    Cluster {
        /// First zoom drawing every point.
        detail_zoom: u8,
        /// Cell size in pixels (a power of two up to 256).
        cell_px: u16,
        /// A property each cluster keeps from its points (e.g. the worst status), so it is
        /// drawn like its most urgent point; `None`: `point_count` only.
        keep: Option<ClusterKeep>,
    },
}

/// A property of a layer's points that its clusters carry: the highest ranked of their values
/// (values not in `ranks`, and missing ones, rank lowest).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterKeep {
    /// The column (also the property's name).
    pub column: String,
    /// Its values from the lowest rank to the highest.
    pub ranks: Vec<String>,
}

/// A generalised table for [`Generalisation::Overview`]. Its shape: a `zoom smallint` column
/// naming the zoom each row is drawn at (rows exist for `zooms`), `geom_3857` in EPSG:3857 with
/// an index, and the listed properties (never restricted data).
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewTable {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Lowest and highest zoom with rows; a tile outside reads the nearest.
    pub zooms: (u8, u8),
    /// First zoom drawn from the layer's own rows.
    pub detail_zoom: u8,
    /// Properties of the rows (column name = property name).
    pub properties: Vec<PropertyDef>,
}

/// Errors of the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// Two plugins claimed the same id.
    #[error("layer id \"{0}\" is registered twice")]
    Duplicate(String),
    /// A plugin's description is inconsistent.
    #[error("layer \"{id}\" is misconfigured: {reason}")]
    Invalid {
        /// Layer id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing the catalog failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for LayerError {
    fn from(e: sqlx::Error) -> Self {
        LayerError::Db(DbError::Query(e))
    }
}

/// The layers a server offers, by id.
#[derive(Clone, Default)]
pub struct LayerRegistry {
    layers: BTreeMap<String, Arc<dyn Layer>>,
}

impl std::fmt::Debug for LayerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.layers.keys()).finish()
    }
}

/// A layer list named a layer the reader does not have (or none at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerListError {
    /// No such layer — or one the reader does not see, which is answered the same way.
    #[error("there is no layer \"{name}\"; layers: {known}")]
    Unknown {
        /// The name asked for (shortened).
        name: String,
        /// The layers the reader sees, comma-separated.
        known: String,
    },
    /// The list names no layer.
    #[error("name at least one layer (e.g. communes,parcels)")]
    Empty,
}

impl LayerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The layers a comma-separated list names, in its order and without repeats — the one
    /// place a layer list from a URL, a query parameter or the command line is read. A layer
    /// `viewer` does not see is reported like one that does not exist.
    pub fn resolve(
        &self,
        list: &str,
        viewer: &Viewer,
    ) -> Result<Vec<Arc<dyn Layer>>, LayerListError> {
        let mut out: Vec<Arc<dyn Layer>> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match self.get(name).filter(|l| viewer.sees(l.as_ref())) {
                Some(layer) => {
                    if !out.iter().any(|l| l.id() == layer.id()) {
                        out.push(layer.clone());
                    }
                }
                None => {
                    let known: Vec<&str> = self
                        .iter()
                        .filter(|l| viewer.sees(l.as_ref()))
                        .map(|l| l.id())
                        .collect();
                    return Err(LayerListError::Unknown {
                        name: name.chars().take(60).collect(),
                        known: known.join(", "),
                    });
                }
            }
        }
        if out.is_empty() {
            return Err(LayerListError::Empty);
        }
        Ok(out)
    }

    /// Adds a layer after checking its description.
    pub fn register(&mut self, layer: Arc<dyn Layer>) -> Result<(), LayerError> {
        let id = layer.id().to_string();
        let invalid = |reason: &str| LayerError::Invalid {
            id: id.clone(),
            reason: reason.to_string(),
        };
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(invalid("ids are lower-case ASCII letters, digits and '_'"));
        }
        let (min, max) = layer.zoom_range();
        if min > max || max > crate::tile::MAX_ZOOM {
            return Err(invalid("zoom range must satisfy min <= max <= 24"));
        }
        if self.layers.contains_key(&id) {
            return Err(LayerError::Duplicate(id));
        }
        self.layers.insert(id, layer);
        Ok(())
    }

    /// The layer with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Layer>> {
        self.layers.get(id)
    }

    /// All layers in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Layer>> {
        self.layers.values()
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// No layers registered.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

/// A layer as recorded in `platform.layer_catalog`, with its current feature count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEntry {
    /// Layer id.
    pub id: String,
    /// Vietnamese title.
    pub title_vi: String,
    /// English title.
    pub title_en: String,
    /// Sector name.
    pub sector: String,
    /// Geometry type name.
    pub geometry_kind: String,
    /// Storage SRID.
    pub srid: i32,
    /// Minimum zoom.
    pub min_zoom: i16,
    /// Maximum zoom.
    pub max_zoom: i16,
    /// `public` or `restricted`.
    pub access: String,
    /// Feature count (exact for small tables, the planner's estimate above 100,000 rows).
    pub feature_count: i64,
}

/// Replaces the catalog with the registry's layers, in one transaction.
pub async fn publish(registry: &LayerRegistry, pool: &PgPool) -> Result<(), LayerError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM platform.layer_catalog")
        .execute(&mut *tx)
        .await?;
    for layer in registry.iter() {
        let storage = layer.storage();
        let (min_zoom, max_zoom) = layer.zoom_range();
        let properties =
            serde_json::to_value(layer.properties()).map_err(|e| LayerError::Invalid {
                id: layer.id().to_string(),
                reason: e.to_string(),
            })?;
        let style = serde_json::to_value(layer.style()).map_err(|e| LayerError::Invalid {
            id: layer.id().to_string(),
            reason: e.to_string(),
        })?;
        sqlx::query(
            "INSERT INTO platform.layer_catalog (id, title_vi, title_en, sector, geometry_kind,
                table_schema, table_name, geometry_column, srid, min_zoom, max_zoom, access,
                properties, style)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(layer.id())
        .bind(layer.title_vi())
        .bind(layer.title_en())
        .bind(layer.sector())
        .bind(layer.geometry_kind().as_str())
        .bind(&storage.schema)
        .bind(&storage.table)
        .bind(&storage.geometry_column)
        .bind(i32::try_from(storage.srid).unwrap_or(i32::MAX))
        .bind(i16::from(min_zoom))
        .bind(i16::from(max_zoom))
        // The catalog says whether a layer is for everyone; which roles read the others is in
        // the declaration.
        .bind(match layer.readers() {
            Readers::Everyone => Access::Public.as_str(),
            Readers::Only(_) => Access::Restricted.as_str(),
        })
        .bind(properties)
        .bind(style)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Reads the catalog back, with a feature count per layer.
pub async fn read_catalog(pool: &PgPool) -> Result<Vec<CatalogEntry>, LayerError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i32,
        i16,
        i16,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, title_vi, title_en, sector, geometry_kind, table_schema, table_name, srid,
                min_zoom, max_zoom, access
         FROM platform.layer_catalog ORDER BY sector, id",
    )
    .fetch_all(pool)
    .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (
        id,
        title_vi,
        title_en,
        sector,
        geometry_kind,
        schema,
        table,
        srid,
        min_zoom,
        max_zoom,
        access,
    ) in rows
    {
        let feature_count = count_features(pool, &schema, &table).await?;
        entries.push(CatalogEntry {
            id,
            title_vi,
            title_en,
            sector,
            geometry_kind,
            srid,
            min_zoom,
            max_zoom,
            access,
            feature_count,
        });
    }
    Ok(entries)
}

/// Exact count for small tables; the planner's estimate for big ones (a landing page must not
/// scan a million parcels).
async fn count_features(pool: &PgPool, schema: &str, table: &str) -> Result<i64, LayerError> {
    let estimate: Option<f32> = sqlx::query_scalar(
        "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2",
    )
    .bind(schema)
    .bind(table)
    .fetch_optional(pool)
    .await?;
    match estimate {
        None => Ok(0),
        Some(e) if e > 100_000.0 => Ok(e as i64),
        Some(_) => {
            let sql = format!(
                "SELECT count(*) FROM {}.{}",
                quote_ident(schema),
                quote_ident(table)
            );
            Ok(sqlx::query_scalar(&sql).fetch_one(pool).await?)
        }
    }
}

/// The layer's extent in WGS84 (west, south, east, north): the planner's estimate when the table
/// has statistics, else measured. `None` for an empty table.
pub async fn extent_lonlat(
    pool: &PgPool,
    storage: &StorageTable,
) -> Result<Option<[f64; 4]>, LayerError> {
    type Row = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);
    let estimated: Result<Row, sqlx::Error> = sqlx::query_as(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
           SELECT ST_Transform(ST_SetSRID(ST_EstimatedExtent($1, $2, 'geom_3857')::geometry, 3857), 4326) AS e) x",
    )
    .bind(&storage.schema)
    .bind(&storage.table)
    .fetch_one(pool)
    .await;
    let row = match estimated {
        Ok(row @ (Some(_), Some(_), Some(_), Some(_))) => row,
        // No statistics yet: measure.
        _ => {
            sqlx::query_as(&format!(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                   SELECT ST_Transform(ST_SetSRID(ST_Extent(geom_3857)::geometry, 3857), 4326) AS e
                   FROM {}) x",
                storage.qualified()
            ))
            .fetch_one(pool)
            .await?
        }
    };
    Ok(match row {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    })
}
