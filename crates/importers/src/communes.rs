//! Commune boundaries: a GDAL-readable file → `land.communes`.

use std::path::Path;

use gdal::vector::LayerAccess;
use gdal::Dataset;
use land::communes::{replace_all, CommuneError, NewCommune};
use sqlx::PgPool;

use crate::ImportError;

/// Legacy and canonical names accepted for each commune field, in order of preference.
const LEGACY_CODE: &[&str] = &["legacy_code", "MAXA", "XAID", "MA_XA"];
const LEGACY_NAME: &[&str] = &["legacy_name", "TENXA", "TEN_XA"];
const DISTRICT: &[&str] = &["legacy_district", "HUYEN", "TENHUYEN"];
const CODE: &[&str] = &["code", "MAXA_2025", "MAXA_MOI"];
const NAME: &[&str] = &["name", "TENXA_2025", "TENXA_MOI"];
const PROVINCE: &[&str] = &["province_code", "MATINH"];

/// Outcome of a commune import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommuneImport {
    /// Features read.
    pub read: u64,
    /// Rows stored.
    pub imported: u64,
}

/// Replaces `land.communes` with the first layer of `path`. All or nothing: on any error the
/// table is left exactly as it was. `srs_override` is used when the file carries no CRS.
pub async fn import_communes(
    pool: &PgPool,
    path: &Path,
    srs_override: Option<u32>,
) -> Result<CommuneImport, ImportError> {
    let rows = read_communes(path, srs_override)?;
    let read = rows.len() as u64;
    let db = |source| ImportError::Db {
        path: path.to_path_buf(),
        source,
    };
    let mut tx = pool.begin().await.map_err(db)?;
    let imported = match replace_all(&mut tx, &rows).await {
        Ok(n) => n,
        Err(CommuneError::Invalid {
            legacy_code,
            reason,
        }) => {
            return Err(ImportError::Rejected {
                path: path.to_path_buf(),
                reason: format!("commune {legacy_code}: {reason}"),
            })
        }
        Err(CommuneError::Db(e)) => return Err(db(e)),
        Err(e) => {
            return Err(ImportError::Rejected {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    tx.commit().await.map_err(db)?;
    Ok(CommuneImport { read, imported })
}

/// Reads every feature of the first layer into rows (no database needed).
pub fn read_communes(
    path: &Path,
    srs_override: Option<u32>,
) -> Result<Vec<NewCommune>, ImportError> {
    let gdal_err = |e| ImportError::gdal(path, e);
    if !path.exists() {
        return Err(ImportError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let ds = Dataset::open(path).map_err(gdal_err)?;
    let mut layer = ds.layer(0).map_err(gdal_err)?;
    let layer_name = layer.name();
    let srid = match srs_override {
        Some(code) => code,
        None => layer
            .spatial_ref()
            .and_then(|mut s| {
                let _ = s.auto_identify_epsg();
                s.auth_code().ok()
            })
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| ImportError::NoCrs {
                path: path.to_path_buf(),
            })?,
    };
    let srid = i32::try_from(srid).map_err(|_| ImportError::NoCrs {
        path: path.to_path_buf(),
    })?;
    let find = |wanted: &str, candidates: &[&str]| -> Result<usize, ImportError> {
        candidates
            .iter()
            .find_map(|c| layer.defn().field_index(c).ok())
            .ok_or_else(|| ImportError::MissingField {
                path: path.to_path_buf(),
                layer: layer_name.clone(),
                wanted: wanted.to_string(),
                candidates: candidates.join(", "),
            })
    };
    let idx_legacy_code = find("the pre-merger commune code", LEGACY_CODE)?;
    let idx_legacy_name = find("the pre-merger commune name", LEGACY_NAME)?;
    let idx_district = find("the district", DISTRICT).ok();
    let idx_code = find("the post-merger commune code", CODE)?;
    let idx_name = find("the post-merger commune name", NAME)?;
    let idx_province = find("the province code", PROVINCE)?;

    let mut rows = Vec::new();
    for (index, feature) in layer.features().enumerate() {
        let index = index as u64;
        let feature_err = |reason: String| ImportError::Feature {
            path: path.to_path_buf(),
            index,
            reason,
        };
        let text = |idx: usize| -> Result<String, ImportError> {
            Ok(feature
                .field_as_string(idx)
                .map_err(|e| feature_err(e.to_string()))?
                .unwrap_or_default()
                .trim()
                .to_string())
        };
        let geometry = feature
            .geometry()
            .ok_or_else(|| feature_err("has no geometry".into()))?;
        let wkb = geometry.wkb().map_err(|e| feature_err(e.to_string()))?;
        rows.push(NewCommune {
            legacy_code: text(idx_legacy_code)?,
            legacy_name: text(idx_legacy_name)?,
            legacy_district: idx_district
                .map(text)
                .transpose()?
                .filter(|s| !s.is_empty()),
            code: text(idx_code)?,
            name: text(idx_name)?,
            province_code: text(idx_province)?,
            wkb,
            srid,
        });
    }
    Ok(rows)
}
