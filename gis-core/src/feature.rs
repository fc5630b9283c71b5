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

use crate::layer::{Access, GeometryKind};

/// SQL type of a canonical column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// Title in Vietnamese (what every app shows; the one place it is written).
    pub title_vi: &'static str,
    /// Title in English.
    pub title_en: &'static str,
    /// Who may read it (personal data is [`Access::Restricted`]).
    pub access: Access,
    /// Where the value comes from when the delivery has no field for it.
    pub derive: Option<Derive>,
}

impl Column {
    /// A public, untitled column (give it titles with [`Column::titled`]).
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
            title_vi: "",
            title_en: "",
            access: Access::Public,
            derive: None,
        }
    }

    /// The column with its Vietnamese and English titles.
    pub const fn titled(self, title_vi: &'static str, title_en: &'static str) -> Self {
        Column {
            title_vi,
            title_en,
            ..self
        }
    }

    /// The column as personal data: only authorised readers see it.
    pub const fn restricted(self) -> Self {
        Column {
            access: Access::Restricted,
            ..self
        }
    }

    /// The column derived from location when a delivery has no field for it.
    pub const fn derived(self, derive: Derive) -> Self {
        Column {
            derive: Some(derive),
            ..self
        }
    }
}

/// A column's value found from the feature's location: the `column` of the one row of the
/// feature table `schema.table` whose area holds the feature (communes for a parcel's commune
/// code). A feature in no such area, or across two, is rejected with that reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derive {
    /// Schema of the area table.
    pub schema: &'static str,
    /// Area table (a polygon feature table).
    pub table: &'static str,
    /// Its column holding the value.
    pub column: &'static str,
    /// What one area is, for messages ("commune").
    pub what: &'static str,
}

/// What identifies a feature across deliveries (for `upsert` imports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NaturalKey {
    /// These canonical columns (e.g. commune + sheet + parcel number).
    Columns(&'static [&'static str]),
    /// The `source_id` column.
    SourceId,
    /// The `source_id` column within each value of this column (a plan version): a delivery
    /// meets only the live rows sharing its value (null included), so importing one version
    /// never touches another.
    SourceIdWithin(&'static str),
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
            NaturalKey::SourceIdWithin(col) => vec![col, "source_id"],
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

/// Errors of [`ensure_table`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The database refused.
    #[error("table {table}: {source}")]
    Db {
        /// `schema.table`.
        table: String,
        /// Driver error.
        source: sqlx::Error,
    },
    /// The table has a column of the declared name with another type.
    #[error("table {table}: column {column} is {found} in the database, the declaration says {declared}")]
    TypeMismatch {
        /// `schema.table`.
        table: String,
        /// Column.
        column: String,
        /// Type in the database.
        found: String,
        /// Declared type.
        declared: &'static str,
    },
}

/// Makes the database hold what `table` declares: creates the table with the standard columns
/// (`platform.create_feature_table`: serving column, indexes, change triggers) when it is
/// missing, and adds declared columns it lacks (nullable; constraints belong in the owner's
/// migrations). Returns the columns added. Idempotent; run by `bando serve`/`import` after the
/// migrations, so a column added to a declaration needs no migration.
pub async fn ensure_table(
    pool: &sqlx::PgPool,
    table: &FeatureTable,
) -> Result<Vec<&'static str>, TableError> {
    let name = format!("{}.{}", table.schema, table.table);
    let err = |source| TableError::Db {
        table: name.clone(),
        source,
    };
    let existing: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(table.schema)
    .bind(table.table)
    .fetch_all(pool)
    .await
    .map_err(err)?;
    if existing.is_empty() {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let types: Vec<&str> = table.columns.iter().map(|c| c.ty.sql()).collect();
        sqlx::query(
            "SELECT platform.create_feature_table($1, $2, $3,
                (SELECT array_agg(ARRAY[n, t]) FROM unnest($4::text[], $5::text[]) AS u(n, t)), $6)",
        )
        .bind(table.schema)
        .bind(table.table)
        .bind(table.geometry.as_str())
        .bind(names)
        .bind(types)
        .bind(table.key_columns())
            .execute(pool)
            .await
            .map_err(err)?;
        return Ok(table.columns.iter().map(|c| c.name).collect());
    }
    let mut added = Vec::new();
    for c in table.columns {
        match existing.iter().find(|(n, _)| n == c.name) {
            Some((_, ty)) if ty == c.ty.sql() => {}
            Some((_, ty)) => {
                return Err(TableError::TypeMismatch {
                    table: name,
                    column: c.name.to_string(),
                    found: ty.clone(),
                    declared: c.ty.sql(),
                })
            }
            None => {
                sqlx::query(&format!(
                    "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                    table.qualified(),
                    crate::db::quote_ident(c.name),
                    c.ty.sql()
                ))
                .execute(pool)
                .await
                .map_err(err)?;
                added.push(c.name);
            }
        }
    }
    Ok(added)
}
