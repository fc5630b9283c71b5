//! Feature tables: how a domain crate describes a table of map features, so that one generic
//! bulk writer ([`crate::bulk`]) can stage, validate and merge imports into any of them.
//!
//! The owner (land, planning, utilities, layers) creates the table in its migrations with the
//! standard columns below plus its own, and declares a [`FeatureTable`] naming its columns, the
//! legacy field names that map to them, and its natural key. The standard columns are:
//!
//! | column | meaning |
//! |---|---|
//! | `id bigint` identity | stable feature id |
//! | `source_id text` | the feature's id in the delivered data (natural key of most layers) |
//! | `extra jsonb` | every delivered field that has no canonical column — never dropped |
//! | `import_id bigint` | the `platform.imports` row that last wrote the feature |
//! | `geom geometry(<kind>)` | legal geometry in its native VN-2000 TM-3 CRS (SRID per row) |
//! | `geom_3857` | serving copy in Web Mercator, a generated column |
//! | `updated_at timestamptz` | last change |

use crate::layer::GeometryKind;

/// SQL type of a canonical column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `text`
    Text,
    /// `bigint`
    Integer,
    /// `double precision`
    Double,
    /// `boolean`
    Boolean,
    /// `date`
    Date,
}

impl ColumnType {
    /// The PostgreSQL type name.
    pub fn sql(&self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "bigint",
            ColumnType::Double => "double precision",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
        }
    }
}

/// One canonical column of a feature table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// Type.
    pub ty: ColumnType,
    /// Field names of legacy deliveries that carry this column (case-insensitive), in order of
    /// preference; the canonical name itself always matches too.
    pub legacy: &'static [&'static str],
    /// A feature without a value is rejected.
    pub required: bool,
}

impl Column {
    /// A column.
    pub const fn new(
        name: &'static str,
        ty: ColumnType,
        legacy: &'static [&'static str],
        required: bool,
    ) -> Self {
        Column {
            name,
            ty,
            legacy,
            required,
        }
    }
}

/// What identifies a feature across deliveries (for `upsert` imports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NaturalKey {
    /// These canonical columns (e.g. commune + sheet + parcel number).
    Columns(&'static [&'static str]),
    /// The `source_id` column.
    SourceId,
}

/// The owner's rule on one row's canonical values (in column order): `Err` says, for a person,
/// why the feature is rejected.
pub type RowCheck = fn(&[crate::bulk::Value]) -> Result<(), String>;

/// A feature table as its owner describes it.
#[derive(Debug, Clone, Copy)]
pub struct FeatureTable {
    /// Canonical layer kind used by `bando import --layer` (e.g. `parcels`).
    pub kind: &'static str,
    /// Schema.
    pub schema: &'static str,
    /// Table.
    pub table: &'static str,
    /// Stored geometry type (polygons and lines are stored as Multi*).
    pub geometry: GeometryKind,
    /// Canonical columns besides the standard ones.
    pub columns: &'static [Column],
    /// Natural key.
    pub natural_key: NaturalKey,
    /// Legacy field names that carry the feature's own id (→ `source_id`).
    pub source_id_fields: &'static [&'static str],
    /// The owner's per-row rule, if any.
    pub check: Option<RowCheck>,
}

impl FeatureTable {
    /// A table named like its kind, identified by the delivery's own ids (`source_id`), with no
    /// row rule: the shape of most asset layers (networks, transport, environment).
    pub const fn keyed_by_source_id(
        schema: &'static str,
        kind: &'static str,
        geometry: GeometryKind,
        columns: &'static [Column],
        source_id_fields: &'static [&'static str],
    ) -> Self {
        FeatureTable {
            kind,
            schema,
            table: kind,
            geometry,
            columns,
            natural_key: NaturalKey::SourceId,
            source_id_fields,
            check: None,
        }
    }

    /// `"schema"."table"`, quoted.
    pub fn qualified(&self) -> String {
        format!(
            "{}.{}",
            crate::db::quote_ident(self.schema),
            crate::db::quote_ident(self.table)
        )
    }

    /// The canonical column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns of the natural key.
    pub fn key_columns(&self) -> Vec<&'static str> {
        match self.natural_key {
            NaturalKey::Columns(cols) => cols.to_vec(),
            NaturalKey::SourceId => vec!["source_id"],
        }
    }

    /// Index of a canonical column.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The geometry's base dimension: 0 points, 1 lines, 2 polygons.
    pub fn dimension(&self) -> u8 {
        match self.geometry {
            GeometryKind::Point | GeometryKind::MultiPoint => 0,
            GeometryKind::LineString | GeometryKind::MultiLineString => 1,
            GeometryKind::Polygon | GeometryKind::MultiPolygon => 2,
        }
    }
}
