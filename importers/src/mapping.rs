//! Field mapping: which delivered field feeds which canonical column.
//!
//! Built in: each owner's [`FeatureTable`] lists the legacy field names of its columns
//! (SHBANDO → sheet_number, …). A TOML file (`--mapping FILE`) overrides or adds:
//!
//! ```toml
//! source_id = "OBJECTID"          # the field holding the feature's own id
//! drop = ["SHAPE_Leng"]           # fields deliberately not kept (never dropped silently)
//! [fields]
//! parcel_number = "SO_THUA_MOI"   # canonical column = delivered field
//! ```
//!
//! Every delivered field that feeds no column and is not dropped goes to the `extra` JSON.

use std::collections::BTreeMap;
use std::path::Path;

use gis_core::feature::FeatureTable;
use serde::Deserialize;

/// A mapping file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// Canonical column → delivered field.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Field carrying the feature's own id.
    pub source_id: Option<String>,
    /// Fields not to keep.
    #[serde(default)]
    pub drop: Vec<String>,
}

/// Errors of mapping.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The file cannot be read.
    #[error("mapping file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file names a column the layer does not have.
    #[error("mapping file maps to \"{column}\", which layer {kind} does not have (its columns: {known})")]
    UnknownColumn {
        /// The column.
        column: String,
        /// Layer kind.
        kind: String,
        /// Its columns.
        known: String,
    },
}

impl MappingFile {
    /// Reads and checks a mapping file against the layer's columns.
    pub fn load(path: &Path, table: &FeatureTable) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|e| MappingError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let file: MappingFile = toml::from_str(&text).map_err(|e| MappingError::File {
            path: path.display().to_string(),
            reason: e.message().to_string(),
        })?;
        for column in file.fields.keys() {
            if table.column(column).is_none() {
                return Err(MappingError::UnknownColumn {
                    column: column.clone(),
                    kind: table.kind.to_string(),
                    known: table
                        .columns
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(file)
    }
}

/// The mapping resolved against one delivered layer's field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedMapping {
    /// For each canonical column (table order): the delivered field index and name.
    pub columns: Vec<Option<(usize, String)>>,
    /// The delivered field holding the feature id.
    pub source_id: Option<(usize, String)>,
    /// Delivered fields going to `extra`.
    pub extra: Vec<(usize, String)>,
    /// Delivered fields dropped on request.
    pub dropped: Vec<String>,
}

use serde::Serialize;

/// Resolves the mapping for a layer whose fields are `names` (in field order).
pub fn resolve(
    table: &FeatureTable,
    names: &[String],
    file: Option<&MappingFile>,
) -> ResolvedMapping {
    let find = |wanted: &str| {
        names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(wanted))
            .map(|i| (i, names[i].clone()))
    };
    let mut used = vec![false; names.len()];
    let mut columns = Vec::with_capacity(table.columns.len());
    for column in table.columns {
        let explicit = file.and_then(|f| f.fields.get(column.name));
        let found = match explicit {
            Some(field) => find(field),
            None => std::iter::once(column.name)
                .chain(column.legacy.iter().copied())
                .find_map(|n| find(n).filter(|(i, _)| !used[*i])),
        };
        if let Some((i, _)) = &found {
            used[*i] = true;
        }
        columns.push(found);
    }
    let source_id = match file.and_then(|f| f.source_id.as_deref()) {
        Some(field) => find(field),
        None => table.source_id_fields.iter().find_map(|n| find(n)),
    };
    let dropped: Vec<String> = file
        .map(|f| {
            f.drop
                .iter()
                .filter_map(|d| find(d).map(|(_, n)| n))
                .collect()
        })
        .unwrap_or_default();
    let extra = names
        .iter()
        .enumerate()
        .filter(|(i, n)| {
            !used[*i]
                && source_id.as_ref().is_none_or(|(s, _)| s != i)
                && !dropped.iter().any(|d| d == *n)
        })
        .map(|(i, n)| (i, n.clone()))
        .collect();
    ResolvedMapping {
        columns,
        source_id,
        extra,
        dropped,
    }
}
