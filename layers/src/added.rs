//! Layers added without code: a department's `truong_hoc.shp` becomes a served layer with
//! `bando import FILE --new-layer truong_hoc --sector education`, and is changed or removed
//! with `bando layer set|drop`, or written in the config's `[[layers]]`.
//!
//! A definition ([`AddedLayer`]) is stored as JSON in `platform.layer_definitions` (gis-core
//! migration 8); its table `layers.<id>` is made from it by [`gis_core::feature::ensure_table`]
//! (native VN-2000 geometry, the serving column, indexes, change triggers). Every change of a
//! definition notifies `bando_catalog_changes`, and running servers rebuild their registry
//! from [`registry`] without a restart. Built-in layers are never touched from here.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use gis_core::declare::LayerDecl;
use gis_core::feature::{Column, ColumnType, FeatureTable, NaturalKey};
use gis_core::layer::{Access, GeometryKind, LayerError, LayerRegistry};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// The schema of added layers' tables.
pub const SCHEMA: &str = "layers";

/// The channel told when a definition changes.
pub const CATALOG_CHANNEL: &str = "bando_catalog_changes";

/// Columns every feature table has (a delivered field of such a name is renamed).
const RESERVED: &[&str] = &[
    "id",
    "source_id",
    "extra",
    "import_id",
    "updated_at",
    "geom",
    "geom_3857",
    "min_zoom",
];

/// Errors of added layers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddedError {
    /// The definition is not acceptable.
    #[error("layer \"{id}\": {reason}")]
    Invalid {
        /// Layer id.
        id: String,
        /// Why.
        reason: String,
    },
    /// No added layer has this id.
    #[error("no layer \"{0}\" was added (built-in layers are changed in their owner's code; `bando layer list` shows the added ones)")]
    NotFound(String),
    /// Dropping a layer that still holds features needs `--force`.
    #[error("layer \"{id}\" holds {features} features; drop it with --force to delete them too")]
    InUse {
        /// Layer id.
        id: String,
        /// Features in its table.
        features: i64,
    },
    /// The database failed.
    #[error("layer definitions: {0}")]
    Db(#[from] sqlx::Error),
    /// The table could not be made.
    #[error(transparent)]
    Table(#[from] gis_core::feature::TableError),
}

fn invalid(id: &str, reason: impl Into<String>) -> AddedError {
    AddedError::Invalid {
        id: id.to_string(),
        reason: reason.into(),
    }
}

/// One column of an added layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedColumn {
    /// Column and property name (lower-case ASCII).
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// The delivered field it is read from (matched case-insensitively).
    #[serde(default)]
    pub field: Option<String>,
    /// Title in Vietnamese.
    #[serde(default)]
    pub title_vi: String,
    /// Title in English.
    #[serde(default)]
    pub title_en: String,
    /// Personal data: only authorised readers see it.
    #[serde(default)]
    pub restricted: bool,
}

fn default_zoom() -> (u8, u8) {
    (12, 20)
}
fn default_color() -> String {
    "#3182bd".to_string()
}
fn default_cache() -> u32 {
    300
}

/// A layer added without code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedLayer {
    /// Id (lower-case ASCII letters, digits and `_`, starting with a letter).
    pub id: String,
    /// Sector id ([`crate::catalog::SECTORS`]).
    pub sector: String,
    /// Title in Vietnamese.
    pub title_vi: String,
    /// Title in English.
    #[serde(default)]
    pub title_en: String,
    /// Stored geometry (lines and polygons as Multi*).
    pub geometry: GeometryKind,
    /// Columns besides the standard ones.
    #[serde(default)]
    pub columns: Vec<AddedColumn>,
    /// Zoom levels drawn.
    #[serde(default = "default_zoom")]
    pub zoom: (u8, u8),
    /// Colour of lines, outlines and points.
    #[serde(default = "default_color")]
    pub color: String,
    /// Shown when a map opens.
    #[serde(default)]
    pub visible: bool,
    /// `Cache-Control: max-age` of its tiles.
    #[serde(default = "default_cache")]
    pub cache_max_age: u32,
}

/// A column name for a delivered field name: lower-case ASCII, other characters as `_`,
/// never a standard column's name.
pub fn column_name(field: &str) -> String {
    let mut name: String = field
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "f_");
    }
    if RESERVED.contains(&name.as_str()) {
        name.push_str("_1");
    }
    name.truncate(63);
    name
}

impl AddedLayer {
    /// Checks what the database and the registry would refuse, with reasons a person can act on.
    pub fn validate(&self) -> Result<(), AddedError> {
        let id = &self.id;
        let id_ok = id.len() <= 63
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !id_ok {
            return Err(invalid(
                id,
                "ids are lower-case ASCII letters, digits and '_', starting with a letter (e.g. truong_hoc)",
            ));
        }
        if crate::catalog::declarations()
            .iter()
            .any(|l| l.table.kind == id.as_str())
        {
            return Err(invalid(id, "is a built-in layer"));
        }
        if crate::catalog::sector_by_id(&self.sector).is_none() {
            let known: Vec<&str> = crate::catalog::SECTORS.iter().map(|s| s.id).collect();
            return Err(invalid(
                id,
                format!(
                    "sector \"{}\" is not one of {}",
                    self.sector,
                    known.join(", ")
                ),
            ));
        }
        if self.title_vi.trim().is_empty() {
            return Err(invalid(id, "a Vietnamese title is needed (--title)"));
        }
        let (min, max) = self.zoom;
        if min > max || max > gis_core::tile::MAX_ZOOM {
            return Err(invalid(id, "zoom range must satisfy min <= max <= 24"));
        }
        let colour_ok = self.color.len() == 7
            && self.color.starts_with('#')
            && self.color[1..].chars().all(|c| c.is_ascii_hexdigit());
        if !colour_ok {
            return Err(invalid(
                id,
                format!("colour \"{}\" is not #rrggbb", self.color),
            ));
        }
        let mut names: Vec<&str> = Vec::new();
        for c in &self.columns {
            if c.name != column_name(&c.name) {
                return Err(invalid(
                    id,
                    format!(
                        "column name \"{}\" must be lower-case ASCII and not a standard column",
                        c.name
                    ),
                ));
            }
            if names.contains(&c.name.as_str()) {
                return Err(invalid(id, format!("column \"{}\" appears twice", c.name)));
            }
            names.push(&c.name);
        }
        Ok(())
    }

    /// Changes one setting, as `bando layer set ID key=value` says it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), AddedError> {
        let id = self.id.clone();
        let bad = |what: &str| invalid(&id, format!("{key}={value}: {what}"));
        match key {
            "title" | "title_vi" => self.title_vi = value.to_string(),
            "title_en" => self.title_en = value.to_string(),
            "sector" => self.sector = value.to_string(),
            "color" | "colour" => self.color = value.to_string(),
            "visible" => {
                self.visible = value
                    .parse()
                    .map_err(|_| bad("visible is true or false"))?
            }
            "cache_max_age" => {
                self.cache_max_age = value.parse().map_err(|_| bad("seconds, e.g. 300"))?
            }
            "zoom" => {
                let (a, b) = value
                    .split_once('-')
                    .ok_or_else(|| bad("zoom is MIN-MAX, e.g. 12-20"))?;
                let parse = |s: &str| s.trim().parse::<u8>().map_err(|_| bad("zoom is MIN-MAX"));
                self.zoom = (parse(a)?, parse(b)?);
            }
            "restricted" => {
                let listed: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                for name in &listed {
                    if !self.columns.iter().any(|c| c.name == *name) {
                        return Err(bad(&format!("the layer has no column \"{name}\"")));
                    }
                }
                for c in &mut self.columns {
                    c.restricted = listed.contains(&c.name.as_str());
                }
            }
            _ if key.starts_with("title_vi.") || key.starts_with("title_en.") => {
                let (which, column) = key.split_once('.').unwrap_or((key, ""));
                let c = self
                    .columns
                    .iter_mut()
                    .find(|c| c.name == column)
                    .ok_or_else(|| bad(&format!("the layer has no column \"{column}\"")))?;
                if which == "title_vi" {
                    c.title_vi = value.to_string();
                } else {
                    c.title_en = value.to_string();
                }
            }
            _ => {
                return Err(bad(
                    "keys are title, title_en, sector, color, visible, zoom, cache_max_age, restricted, title_vi.COLUMN, title_en.COLUMN",
                ))
            }
        }
        self.validate()
    }

    /// The declaration the registry, importers and styles read. Its strings live as long as the
    /// process; one definition is made into a declaration once, so reloading does not grow it.
    pub fn decl(&self) -> LayerDecl {
        static MADE: OnceLock<Mutex<HashMap<String, LayerDecl>>> = OnceLock::new();
        let key = serde_json::to_string(self).unwrap_or_default();
        let made = MADE.get_or_init(Default::default);
        let mut made = match made.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        made.entry(key).or_insert_with(|| self.make_decl()).clone()
    }

    fn make_decl(&self) -> LayerDecl {
        fn leak(s: &str) -> &'static str {
            Box::leak(s.to_string().into_boxed_str())
        }
        let columns: Vec<Column> = self
            .columns
            .iter()
            .map(|c| {
                let legacy: &'static [&'static str] = match &c.field {
                    Some(f) => Box::leak(vec![leak(f)].into_boxed_slice()),
                    None => &[],
                };
                let title_vi = if c.title_vi.is_empty() {
                    c.field.as_deref().unwrap_or(&c.name)
                } else {
                    &c.title_vi
                };
                let title_en = if c.title_en.is_empty() {
                    title_vi
                } else {
                    &c.title_en
                };
                let column = Column::new(leak(&c.name), c.ty, legacy, false)
                    .titled(leak(title_vi), leak(title_en));
                if c.restricted {
                    column.restricted()
                } else {
                    column
                }
            })
            .collect();
        let table = FeatureTable {
            kind: leak(&self.id),
            schema: SCHEMA,
            table: leak(&self.id),
            geometry: self.geometry,
            columns: Box::leak(columns.into_boxed_slice()),
            natural_key: NaturalKey::SourceId,
            source_id_fields: &[],
            check: None,
        };
        let title_en = if self.title_en.is_empty() {
            &self.title_vi
        } else {
            &self.title_en
        };
        let mut decl = LayerDecl::new(
            table,
            leak(&self.title_vi),
            leak(title_en),
            leak(&self.sector),
            self.zoom,
            &self.color,
        );
        if table.dimension() == 2 {
            decl = decl.filled(&self.color);
        }
        LayerDecl {
            visible: self.visible,
            cache_max_age: self.cache_max_age,
            ..decl
        }
    }

    /// Whether any column is personal data.
    pub fn has_restricted(&self) -> bool {
        self.columns.iter().any(|c| c.restricted)
    }
}

/// Every added layer, in id order.
pub async fn load(pool: &PgPool) -> Result<Vec<AddedLayer>, AddedError> {
    let rows: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT id, definition FROM platform.layer_definitions ORDER BY id")
            .fetch_all(pool)
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, definition) in rows {
        match serde_json::from_value::<AddedLayer>(definition) {
            Ok(layer) => out.push(layer),
            // One unreadable definition must not take every layer down.
            Err(e) => tracing::error!(%id, %e, "layer definition not readable; layer skipped"),
        }
    }
    Ok(out)
}

/// The added layer `id`.
pub async fn get(pool: &PgPool, id: &str) -> Result<AddedLayer, AddedError> {
    load(pool)
        .await?
        .into_iter()
        .find(|l| l.id == id)
        .ok_or_else(|| AddedError::NotFound(id.to_string()))
}

/// Stores a definition (new or changed) and makes its table and columns, in one
/// transaction; running servers are notified on commit.
pub async fn save(pool: &PgPool, layer: &AddedLayer, by: &str) -> Result<(), AddedError> {
    layer.validate()?;
    let definition = serde_json::to_value(layer).map_err(|e| invalid(&layer.id, e.to_string()))?;
    let decl = layer.decl();
    if let Some(existing) = load(pool).await?.into_iter().find(|l| l.id == layer.id) {
        if existing.geometry != layer.geometry {
            return Err(invalid(
                &layer.id,
                format!(
                    "holds {} geometry; drop it first to store {}",
                    existing.geometry.as_str(),
                    layer.geometry.as_str()
                ),
            ));
        }
    }
    gis_core::feature::ensure_table(pool, &decl.table).await?;
    sqlx::query(
        "INSERT INTO platform.layer_definitions (id, definition, created_by) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, updated_at = now()
         WHERE platform.layer_definitions.definition IS DISTINCT FROM EXCLUDED.definition",
    )
    .bind(&layer.id)
    .bind(definition)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes an added layer: its definition and its table. A layer holding features needs
/// `force`.
pub async fn drop_layer(pool: &PgPool, id: &str, force: bool) -> Result<i64, AddedError> {
    let layer = get(pool, id).await?;
    let decl = layer.decl();
    // A failed count must never read as "empty": only a missing table holds nothing.
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(decl.table.qualified())
        .fetch_one(pool)
        .await?;
    let features: i64 = if exists {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {}", decl.table.qualified()))
            .fetch_one(pool)
            .await?
    } else {
        0
    };
    if features > 0 && !force {
        return Err(AddedError::InUse {
            id: id.to_string(),
            features,
        });
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM platform.layer_definitions WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("DROP TABLE IF EXISTS {}", decl.table.qualified()))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(features)
}

/// The registry of every layer: the built-in ones and those added without code.
pub async fn registry(pool: &PgPool) -> Result<LayerRegistry, LayerError> {
    let built_in = crate::catalog::declarations_with_data(pool)
        .await
        .map_err(|e| LayerError::Invalid {
            id: "*".into(),
            reason: format!("the built-in layers' code lists were not read: {e}"),
        })?;
    let mut registry = LayerRegistry::new();
    for layer in built_in {
        crate::register(&mut registry, layer)?;
    }
    let added = load(pool).await.map_err(|e| LayerError::Invalid {
        id: "*".into(),
        reason: e.to_string(),
    })?;
    for layer in added {
        if let Err(e) = crate::register(&mut registry, layer.decl()) {
            tracing::error!(id = %layer.id, %e, "added layer not registered");
        }
    }
    Ok(registry)
}

/// Every declaration an import can target: built-in and added.
pub async fn declarations(pool: &PgPool) -> Result<Vec<LayerDecl>, AddedError> {
    let mut all = crate::catalog::declarations();
    all.extend(load(pool).await?.iter().map(AddedLayer::decl));
    Ok(all)
}

/// Access of a column by name in a definition (for tools listing layers).
pub fn column_access(layer: &AddedLayer, name: &str) -> Option<Access> {
    layer.columns.iter().find(|c| c.name == name).map(|c| {
        if c.restricted {
            Access::Restricted
        } else {
            Access::Public
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school() -> AddedLayer {
        AddedLayer {
            id: "truong_hoc".into(),
            sector: "education".into(),
            title_vi: "Trường học".into(),
            title_en: "Schools".into(),
            geometry: GeometryKind::Point,
            columns: vec![AddedColumn {
                name: "ten_truong".into(),
                ty: ColumnType::Text,
                field: Some("TEN_TRUONG".into()),
                title_vi: String::new(),
                title_en: String::new(),
                restricted: false,
            }],
            zoom: (12, 20),
            color: "#3182bd".into(),
            visible: false,
            cache_max_age: 300,
        }
    }

    #[test]
    fn field_names_become_safe_column_names() {
        assert_eq!(column_name("TEN_TRUONG"), "ten_truong");
        assert_eq!(column_name("Số HS"), "s__hs");
        assert_eq!(column_name("1st"), "f_1st");
        assert_eq!(column_name("ID"), "id_1");
        assert_eq!(column_name("geom"), "geom_1");
    }

    #[test]
    fn definitions_are_checked_and_set_by_key() {
        let mut l = school();
        assert!(l.validate().is_ok());
        assert!(l.set("zoom", "14-18").is_ok());
        assert_eq!(l.zoom, (14, 18));
        assert!(l.set("zoom", "18-14").is_err());
        l.zoom = (14, 18);
        assert!(l.set("sector", "nowhere").is_err());
        l.sector = "education".into();
        assert!(l.set("restricted", "ten_truong").is_ok());
        assert!(l.has_restricted());
        assert!(l.set("restricted", "nope").is_err());
        assert!(l.set("title_en.ten_truong", "School name").is_ok());
        assert_eq!(l.columns[0].title_en, "School name");
        let mut parcels = school();
        parcels.id = "parcels".into();
        assert!(parcels.validate().is_err(), "built-in ids are refused");
    }

    #[test]
    fn a_definition_becomes_the_same_declaration_every_time() {
        let l = school();
        let a = l.decl();
        let b = l.decl();
        assert!(std::ptr::eq(a.table.columns, b.table.columns));
        assert_eq!(a.table.schema, SCHEMA);
        assert_eq!(a.table.columns[0].legacy, &["TEN_TRUONG"]);
        assert_eq!(a.table.columns[0].title_vi, "TEN_TRUONG");
    }
}
