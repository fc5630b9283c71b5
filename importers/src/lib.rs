//! # importers — legacy GIS files into PostGIS
//!
//! Reads delivered files through GDAL, decodes legacy Vietnamese text, maps legacy field names
//! to each layer's canonical schema, and hands decoded rows to the domain crate that owns the
//! table (the importers never write SQL for a domain table themselves).
//!
//! - [`pipeline::import`]: the whole import of a file, folder or zip into one layer kind;
//! - [`crs_detect`]: the EPSG code of a delivered layer from its `.prj` (hand-written VN-2000
//!   TM-3 included, either `+towgs84` sign convention) and the axis-order check;
//! - [`encoding`]: TCVN3, VNI-Windows and Windows-1258 decoding with per-field detection;
//! - [`mapping`]: legacy field names → canonical columns, overridable by a TOML file.
#![deny(missing_docs)]

pub mod crs_detect;
pub mod encoding;
#[cfg(test)]
mod fuzz;
pub mod mapping;
pub mod new_layer;
pub mod pipeline;

use std::path::{Path, PathBuf};

/// Errors of an import. Every variant names the file it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// GDAL could not open or read the file.
    #[error("{path}: GDAL could not read it: {message}")]
    Gdal {
        /// The file.
        path: PathBuf,
        /// GDAL's message.
        message: String,
    },
    /// `--layer` names no known layer.
    #[error("\"{kind}\" is not a layer bando imports; importable layers: {known}")]
    UnknownLayer {
        /// What was asked for.
        kind: String,
        /// The known kinds.
        known: String,
    },
    /// A format GDAL cannot read.
    #[error("{path}: {format} cannot be read: {advice}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The format.
        format: String,
        /// What to do.
        advice: String,
    },
    /// The CRS cannot be decided or the coordinates do not fit it.
    #[error("{path}: {reason}")]
    Crs {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file has no CRS and none was given.
    #[error(
        "{path}: the file has no coordinate reference system; give one with --srs EPSG:<code>"
    )]
    NoCrs {
        /// The file.
        path: PathBuf,
    },
    /// A required field is missing from the file.
    #[error("{path}: layer \"{layer}\" has no field for {wanted} (looked for {candidates})")]
    MissingField {
        /// The file.
        path: PathBuf,
        /// The GDAL layer.
        layer: String,
        /// The canonical field.
        wanted: String,
        /// The names looked for.
        candidates: String,
    },
    /// A feature is unusable.
    #[error("{path}: feature {index}: {reason}")]
    Feature {
        /// The file.
        path: PathBuf,
        /// 0-based feature index.
        index: u64,
        /// Why.
        reason: String,
    },
    /// The store refused the rows; nothing was changed.
    #[error("{path}: nothing imported: {reason}")]
    Rejected {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The rejects file cannot be written where asked; nothing was imported.
    #[error("{path}: nothing imported: the rejects file cannot be written there: {reason}")]
    RejectsFile {
        /// The rejects file asked for.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error("{path}: database error: {source}")]
    Db {
        /// The file.
        path: PathBuf,
        /// Driver error.
        source: sqlx::Error,
    },
}

impl ImportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ImportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn gdal(path: &Path, e: gdal::errors::GdalError) -> Self {
        ImportError::Gdal {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
