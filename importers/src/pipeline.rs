//! The import pipeline: delivered files → canonical rows → [`gis_core::bulk::Loader`].
//!
//! 1. **Sources**: a file, a folder (every readable layer in it) or a zip (read in place through
//!    GDAL's `/vsizip/`). DGN v8 and other unreadable inputs get a message saying what to do.
//! 2. **CRS** per layer ([`crate::crs_detect`]); no CRS and no `--srs` → refused. A sample of
//!    coordinates is checked for swapped axes (northing first), which are then swapped back.
//! 3. **Text**: DBF text is read as its raw bytes (opened as ISO-8859-1, which GDAL maps byte for
//!    byte), then decoded per field — TCVN3, VNI-Windows, Windows-1258 or UTF-8 — chosen by
//!    `--encoding` or detected from the first features with a confidence score.
//! 4. **Mapping** ([`crate::mapping`]) to the layer's canonical columns; other fields go to
//!    `extra`. Values are typed; a value that does not fit its column rejects the feature.
//! 5. **Staging and merge** in the database, all or nothing; rejects are written to a CSV file
//!    and summarised with the counts.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use gdal::vector::{FieldValue, LayerAccess, OGRFieldType};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use gis_core::bulk::{
    days_since_2000, ImportRecord, InvalidPolicy, Loader, MergeMode, Merged, Prepared, Reject,
    StagedRow, Value,
};
use gis_core::crs::AxisOrder;
use gis_core::declare::{ImportChecks, LayerDecl};
use gis_core::feature::{ColumnType, FeatureTable};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use unicode_normalization::UnicodeNormalization;

use crate::crs_detect::{check_axis_order, detect_crs};
use crate::encoding::{detect, LegacyEncoding};
use crate::mapping::{resolve, MappingFile};
use crate::ImportError;

/// Every feature table an import can target: the declared layers' tables.
pub fn feature_tables() -> Vec<FeatureTable> {
    layers::catalog::declarations()
        .into_iter()
        .map(|l| l.table)
        .collect()
}

/// The declared layer for `--layer KIND` (built-in or added without code), or an error
/// listing the kinds.
pub async fn layer_for(pool: &PgPool, kind: &str) -> Result<LayerDecl, ImportError> {
    let all = layers::added::declarations(pool)
        .await
        .map_err(|e| ImportError::UnknownLayer {
            kind: kind.to_string(),
            known: e.to_string(),
        })?;
    let known = all
        .iter()
        .map(|l| l.table.kind)
        .collect::<Vec<_>>()
        .join(", ");
    all.into_iter()
        .find(|l| l.table.kind == kind)
        .ok_or_else(|| ImportError::UnknownLayer {
            kind: kind.to_string(),
            known,
        })
}

/// The built-in table for `--layer KIND`, or an error listing the kinds.
pub fn table_for(kind: &str) -> Result<FeatureTable, ImportError> {
    let all = feature_tables();
    let known = all.iter().map(|t| t.kind).collect::<Vec<_>>().join(", ");
    all.into_iter()
        .find(|t| t.kind == kind)
        .ok_or_else(|| ImportError::UnknownLayer {
            kind: kind.to_string(),
            known,
        })
}

/// How text fields are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EncodingChoice {
    /// Detect per field.
    Auto,
    /// Use this one.
    Fixed(LegacyEncoding),
}

impl std::str::FromStr for EncodingChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            Ok(EncodingChoice::Auto)
        } else {
            s.parse::<LegacyEncoding>()
                .map(EncodingChoice::Fixed)
                .map_err(|e| format!("{e}, or auto"))
        }
    }
}

/// Axis order of the delivered coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AxisChoice {
    /// Detect from the coordinates (a pair plausible only when swapped is swapped).
    Auto,
    /// x = easting (longitude), y = northing (latitude).
    EastNorth,
    /// x = northing, y = easting: Vietnamese survey tables (X = northing, Y = easting).
    NorthEast,
}

impl std::str::FromStr for AxisChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(AxisChoice::Auto),
            "east-north" | "en" | "xy" => Ok(AxisChoice::EastNorth),
            "north-east" | "ne" | "yx" => Ok(AxisChoice::NorthEast),
            other => Err(format!(
                "\"{other}\" is not an axis order: use auto, east-north or north-east (X = northing, as survey tables write it)"
            )),
        }
    }
}

/// Options of one import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Target layer kind.
    pub kind: String,
    /// CRS for sources that have none (or to override them).
    pub srs: Option<u32>,
    /// Text decoding.
    pub encoding: EncodingChoice,
    /// Mapping file.
    pub mapping: Option<PathBuf>,
    /// Replace or upsert.
    pub mode: MergeMode,
    /// Validate and count, change nothing.
    pub dry_run: bool,
    /// Invalid geometry policy.
    pub invalid: InvalidPolicy,
    /// Who runs the import (recorded).
    pub imported_by: String,
    /// Where to write rejected features (CSV); `None` = next to the first source.
    pub rejects_path: Option<PathBuf>,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// Axis order of the coordinates.
    pub axes: AxisChoice,
    /// Values given for every feature (`--set column=value`), whatever the file holds.
    pub set: Vec<(String, String)>,
    /// The configured overlap tolerance, m², handed to the owner's checks
    /// ([`gis_core::declare::ImportContext::overlap_tolerance_m2`]); `None`: the owner's default.
    pub overlap_tolerance_m2: Option<f64>,
}

impl ImportOptions {
    /// Defaults for a layer kind: auto encoding, upsert, repair, no dry run.
    pub fn new(kind: &str) -> Self {
        ImportOptions {
            kind: kind.to_string(),
            srs: None,
            encoding: EncodingChoice::Auto,
            mapping: None,
            mode: MergeMode::Upsert,
            dry_run: false,
            invalid: InvalidPolicy::Repair,
            imported_by: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            rejects_path: None,
            progress: false,
            axes: AxisChoice::Auto,
            set: Vec::new(),
            overlap_tolerance_m2: None,
        }
    }
}

/// What was decided about one delivered layer.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// File (or `/vsizip/…` path).
    pub path: String,
    /// GDAL layer name.
    pub layer: String,
    /// GDAL driver.
    pub driver: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// EPSG code used.
    pub srid: u32,
    /// How the CRS was decided and any warnings.
    pub crs_note: String,
    /// Axis order verdict.
    pub axis: String,
    /// Per text field: encoding chosen and confidence.
    pub encodings: BTreeMap<String, (String, f32)>,
    /// Canonical column ← delivered field.
    pub mapped: BTreeMap<String, String>,
    /// Delivered fields kept in `extra`.
    pub extra_fields: Vec<String>,
    /// Features read.
    pub features: u64,
}

/// The summary of an import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// Layer kind.
    pub layer: String,
    /// Per source layer.
    pub sources: Vec<SourceReport>,
    /// Features read.
    pub read: u64,
    /// Features rejected, by reason (reason text with numbers removed → count).
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Total rejected.
    pub rejected: u64,
    /// Geometries repaired.
    pub repaired: u64,
    /// The merge outcome (None for a dry run that failed before merging).
    pub merged: Option<Merged>,
    /// Layer-specific findings (parcels: overlaps, area mismatches).
    pub findings: Vec<String>,
    /// Where the rejects were written.
    pub rejects_file: Option<PathBuf>,
    /// Dry run: nothing was changed.
    pub dry_run: bool,
    /// Seconds.
    pub seconds: f64,
}

const DETECT_SAMPLE: usize = 1000;

/// Runs an import of `path` into the layer named in `opts`.
pub async fn import(
    pool: &PgPool,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let decl = layer_for(pool, &opts.kind).await?;
    let table = decl.table;
    let mapping_file = match &opts.mapping {
        Some(m) => Some(
            MappingFile::load(m, &table).map_err(|e| ImportError::Rejected {
                path: m.clone(),
                reason: e.to_string(),
            })?,
        ),
        None => None,
    };
    let sources = discover(path, &table)?;
    let conn = pool.acquire().await.map_err(|source| ImportError::Db {
        path: path.to_path_buf(),
        source,
    })?;
    let bulk_err = |e: gis_core::bulk::BulkError| ImportError::Rejected {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut loader = Loader::begin(conn, table).await.map_err(bulk_err)?;
    let mut reports = Vec::new();
    let mut rust_rejects: Vec<Reject> = Vec::new();
    let mut flip_files = Vec::new();
    let mut read = 0u64;
    let progress = Progress::new(opts.progress);
    // The owner's checks see every row as it streams past (parcels: overlaps).
    let mut checks = decl.hooks.and_then(|h| {
        h.import_checks(gis_core::declare::ImportContext {
            mode: opts.mode,
            invalid: opts.invalid,
            overlap_tolerance_m2: opts.overlap_tolerance_m2,
        })
    });
    for (file_index, source) in sources.iter().enumerate() {
        let file_index = file_index as i32;
        let report = read_source(
            source,
            file_index,
            &table,
            opts,
            mapping_file.as_ref(),
            &mut loader,
            &mut rust_rejects,
            &progress,
            &mut checks,
        )
        .await?;
        if report.axis == "swapped" {
            flip_files.push(file_index);
        }
        read += report.features;
        reports.push(report);
    }
    progress.finish(read);
    // The key hashes are checked (and freed) now, before the owner's checks build their index.
    loader.keys_repeat();
    if let Some(checks) = checks.as_mut() {
        checks.rows_done();
    }

    let mut prepared: Prepared = loader
        .prepare(opts.invalid, &flip_files)
        .await
        .map_err(bulk_err)?;
    let mut findings = Vec::new();
    for (column, n) in &prepared.derived {
        if *n > 0 {
            findings.push(format!(
                "{column} derived from location for {n} features (the delivery has no value for it)"
            ));
        }
    }
    if let Some(checks) = checks {
        let checks_started = Instant::now();
        let owner = checks
            .findings(loader.connection(), gis_core::bulk::STAGE)
            .await
            .map_err(|source| ImportError::Db {
                path: path.to_path_buf(),
                source,
            })?;
        findings.extend(owner);
        // The owner's checks may have rejected rows too.
        prepared.rejects = loader.rejects().await.map_err(bulk_err)?;
        tracing::debug!(
            step = "owner's checks",
            seconds = checks_started.elapsed().as_secs_f64(),
            "import step"
        );
    }
    prepared.rejects.extend(rust_rejects);
    prepared.rejects.sort_by_key(|r| (r.file, r.index));

    let mut rejected_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for r in &prepared.rejects {
        *rejected_by_reason
            .entry(reason_class(&r.reason))
            .or_default() += 1;
    }
    let rejects_file = if prepared.rejects.is_empty() {
        None
    } else {
        Some(write_rejects(path, opts, &sources, &prepared.rejects)?)
    };
    let mut summary = ImportSummary {
        layer: table.kind.to_string(),
        sources: reports,
        read,
        rejected: prepared.rejects.len() as u64,
        rejected_by_reason,
        repaired: prepared.repaired,
        merged: None,
        findings,
        rejects_file,
        dry_run: opts.dry_run,
        seconds: 0.0,
    };
    let record = ImportRecord {
        imported_by: opts.imported_by.clone(),
        files: serde_json::to_value(
            summary
                .sources
                .iter()
                .map(|s| serde_json::json!({"path": s.path, "layer": s.layer, "sha256": s.sha256, "srid": s.srid}))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default(),
        read,
        report: serde_json::to_value(&summary).unwrap_or_default(),
    };
    // The owner's step for what the skipped triggers keep in step (the parcels' land-use
    // overview) runs per touched area inside the merge's transaction: the load and what
    // derives from it commit together or not at all.
    let merged = loader
        .merge_with(opts.mode, &record, opts.dry_run, decl.hooks)
        .await
        .map_err(bulk_err)?;
    summary.merged = Some(merged);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The `--set column=value` values in column order, typed; `None` where none was given.
fn given_values(
    table: &FeatureTable,
    set: &[(String, String)],
) -> Result<Vec<Option<Value>>, String> {
    let mut out = vec![None; table.columns.len()];
    for (name, text) in set {
        let Some(i) = table.index_of(name) else {
            let known: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            return Err(format!(
                "--set {name}=…: layer {} has no column {name} (its columns: {})",
                table.kind,
                known.join(", ")
            ));
        };
        let bad = |what: &str| format!("--set {name}={text}: {what}");
        let value = match table.columns[i].ty {
            ColumnType::Text => Value::Text(text.nfc().collect()),
            ColumnType::Integer => {
                Value::Integer(text.trim().parse().map_err(|_| bad("not a whole number"))?)
            }
            ColumnType::Double => {
                Value::Double(text.trim().parse().map_err(|_| bad("not a number"))?)
            }
            ColumnType::Boolean => {
                Value::Boolean(match text.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "co" | "có" => true,
                    "false" | "0" | "no" | "khong" | "không" => false,
                    _ => return Err(bad("not true or false")),
                })
            }
            ColumnType::Date => {
                let d = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|_| bad("not a date YYYY-MM-DD"))?;
                use chrono::Datelike;
                Value::Date(
                    days_since_2000(d.year(), d.month(), d.day())
                        .ok_or_else(|| bad("date out of range"))?,
                )
            }
        };
        if let Some(check) = table.check {
            // The owner's row rule on the value alone (e.g. a commune code's format).
            let mut row = vec![Value::Null; table.columns.len()];
            row[i] = value.clone();
            check(&row).map_err(|e| bad(&e))?;
        }
        out[i] = Some(value);
    }
    Ok(out)
}

/// One readable layer of one dataset.
#[derive(Debug, Clone)]
struct Source {
    /// What GDAL opens.
    gdal_path: String,
    /// The file on disk (for hashing and messages).
    file: PathBuf,
    /// Layer index in the dataset.
    layer: usize,
    /// Open options (shapefile encoding, CSV coordinate columns).
    open_options: Vec<String>,
}

fn is_ole(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]
}

fn ext_of(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

pub(crate) fn open_options_for(path: &Path) -> Vec<String> {
    match ext_of(path).as_str() {
        // Read DBF text byte for byte; decoding is ours (see module doc). A .cpg declaring
        // UTF-8 is respected.
        "shp" | "dbf" => {
            let cpg = path.with_extension("cpg");
            let declared_utf8 = std::fs::read_to_string(cpg)
                .map(|t| {
                    let t = t.trim().to_ascii_uppercase();
                    t == "UTF-8" || t == "UTF8" || t == "65001"
                })
                .unwrap_or(false);
            if declared_utf8 {
                vec![]
            } else {
                vec!["ENCODING=ISO-8859-1".into()]
            }
        }
        "csv" => vec![
            "X_POSSIBLE_NAMES=X,LON,LONG,LONGITUDE,EASTING,KINHDO,TOADOX".into(),
            "Y_POSSIBLE_NAMES=Y,LAT,LATITUDE,NORTHING,VIDO,TOADOY".into(),
            "KEEP_GEOM_COLUMNS=NO".into(),
            "AUTODETECT_TYPE=YES".into(),
        ],
        _ => vec![],
    }
}

pub(crate) fn open(
    gdal_path: &str,
    file: &Path,
    options: &[String],
) -> Result<Dataset, ImportError> {
    let opts: Vec<&str> = options.iter().map(String::as_str).collect();
    Dataset::open_ex(
        gdal_path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            open_options: (!opts.is_empty()).then_some(&opts[..]),
            ..DatasetOptions::default()
        },
    )
    .map_err(|e| ImportError::Gdal {
        path: file.to_path_buf(),
        message: format!(
            "{e}; bando reads Shapefile, GeoPackage, GeoJSON, DGN v7, DXF, KML, CSV with coordinate columns and FileGDB (.gdb) — convert other formats to one of these"
        ),
    })
}

const READABLE: [&str; 11] = [
    "shp", "gpkg", "geojson", "json", "dgn", "dxf", "kml", "csv", "gdb", "zip", "fgb",
];

/// Finds the readable layers under `path`.
fn discover(path: &Path, table: &FeatureTable) -> Result<Vec<Source>, ImportError> {
    if !path.exists() {
        return Err(ImportError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        ));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let folder_import = path.is_dir() && ext_of(path) != "gdb";
    if folder_import {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| ImportError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| READABLE.contains(&ext_of(p).as_str()))
            .collect();
        entries.sort();
        files.extend(entries);
        if files.is_empty() {
            return Err(ImportError::Rejected {
                path: path.to_path_buf(),
                reason: format!(
                    "the folder has no readable GIS file ({})",
                    READABLE.join(", ")
                ),
            });
        }
    } else {
        files.push(path.to_path_buf());
    }
    let mut sources = Vec::new();
    for file in files {
        let ext = ext_of(&file);
        if ext == "dgn" && is_ole(&file) {
            return Err(ImportError::Unsupported {
                path: file,
                format: "MicroStation DGN v8".into(),
                advice: "GDAL reads DGN v7 only: in MicroStation save as V7 DGN, or export to Shapefile, GeoPackage or DXF, and import that".into(),
            });
        }
        let gdal_paths: Vec<String> = if ext == "zip" {
            let inside = gdal::vsi::read_dir(format!("/vsizip/{}", file.display()), true)
                .map_err(|e| ImportError::gdal(&file, e))?;
            let mut inner: Vec<String> = inside
                .iter()
                .filter(|p| {
                    let e = ext_of(p);
                    READABLE.contains(&e.as_str()) && e != "zip"
                })
                .map(|p| format!("/vsizip/{}/{}", file.display(), p.display()))
                .collect();
            inner.sort();
            if inner.is_empty() {
                return Err(ImportError::Rejected {
                    path: file,
                    reason: "the zip holds no readable GIS file".into(),
                });
            }
            inner
        } else {
            vec![file.to_string_lossy().to_string()]
        };
        for gdal_path in gdal_paths {
            let options = open_options_for(Path::new(&gdal_path));
            let ds = open(&gdal_path, &file, &options)?;
            let count = ds.layer_count();
            let names: Vec<String> = (0..count)
                .filter_map(|i| ds.layer(i).ok().map(|l| l.name()))
                .collect();
            // A multi-layer file: take the layer named like the kind when there is one.
            let chosen: Vec<usize> = match names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(table.kind))
            {
                Some(i) if count > 1 => vec![i],
                _ => (0..count).collect(),
            };
            for layer in chosen {
                sources.push(Source {
                    gdal_path: gdal_path.clone(),
                    file: file.clone(),
                    layer,
                    open_options: options.clone(),
                });
            }
        }
    }
    Ok(sources)
}

fn sha256_of(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut files = vec![path.to_path_buf()];
    if ext_of(path) == "shp" {
        files.push(path.with_extension("dbf"));
    }
    for f in files {
        if let Ok(mut file) = std::fs::File::open(&f) {
            let mut buf = vec![0u8; 1 << 20];
            while let Ok(n) = file.read(&mut buf) {
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
    }
    format!("{:x}", hasher.finalize())
}

/// A delivered text value as raw bytes when it is a byte-for-byte Latin-1 view, else `None`.
fn latin1_bytes(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// Whether most non-ASCII words of these Latin-1-range samples are already well-formed
/// Vietnamese syllables as they stand.
fn reads_as_vietnamese(samples: &[Vec<u8>]) -> bool {
    let (mut words, mut good) = (0usize, 0usize);
    for bytes in samples {
        let text: String = bytes.iter().map(|b| char::from(*b)).collect();
        for word in text.split(|c: char| !c.is_alphabetic()) {
            if !word.is_ascii() {
                words += 1;
                if crate::encoding::is_vietnamese_syllable(&word.to_lowercase()) {
                    good += 1;
                }
            }
        }
    }
    words > 0 && good * 2 >= words
}

#[derive(Debug, Clone, Copy)]
enum FieldDecoding {
    /// Keep the text as GDAL gives it (NFC-normalised).
    AsIs,
    /// Reinterpret the Latin-1 view with this encoding.
    Legacy(LegacyEncoding),
}

fn decode_text(raw: &str, how: FieldDecoding) -> String {
    let text = match how {
        FieldDecoding::AsIs => raw.to_string(),
        FieldDecoding::Legacy(enc) => match latin1_bytes(raw) {
            Some(bytes) => enc.decode(&bytes).unwrap_or_else(|_| raw.to_string()),
            None => raw.to_string(),
        },
    };
    text.trim().nfc().collect()
}

#[allow(clippy::too_many_arguments)]
async fn read_source(
    source: &Source,
    file_index: i32,
    table: &FeatureTable,
    opts: &ImportOptions,
    mapping_file: Option<&MappingFile>,
    loader: &mut Loader,
    rejects: &mut Vec<Reject>,
    progress: &Progress,
    checks: &mut Option<Box<dyn ImportChecks>>,
) -> Result<SourceReport, ImportError> {
    let file = &source.file;
    let ds = open(&source.gdal_path, file, &source.open_options)?;
    let driver = ds.driver().short_name();
    let mut layer = ds
        .layer(source.layer)
        .map_err(|e| ImportError::gdal(file, e))?;
    let layer_name = layer.name();

    // CRS.
    let prj_text = if ext_of(Path::new(&source.gdal_path)) == "shp" {
        std::fs::read_to_string(Path::new(&source.gdal_path).with_extension("prj")).ok()
    } else {
        None
    };
    let detected = detect_crs(layer.spatial_ref().as_ref(), prj_text.as_deref(), opts.srs)
        .map_err(|e| ImportError::Crs {
            path: file.clone(),
            reason: e.to_string(),
        })?;
    let srid = detected.epsg;
    let mut crs_note = format!("EPSG:{} ({}; {:?})", srid, detected.name, detected.evidence);
    if let Some(conv) = detected.towgs84 {
        crs_note.push_str(&format!("; TOWGS84 written as {conv:?}"));
    }
    for w in &detected.warnings {
        crs_note.push_str("; ");
        crs_note.push_str(w);
    }

    // Fields and mapping.
    let field_defs: Vec<(String, OGRFieldType::Type)> = layer
        .defn()
        .fields()
        .map(|f| (f.name(), f.field_type()))
        .collect();
    let names: Vec<String> = field_defs.iter().map(|(n, _)| n.clone()).collect();
    let resolved = resolve(table, &names, mapping_file);
    let given = given_values(table, &opts.set).map_err(|reason| ImportError::Rejected {
        path: file.clone(),
        reason,
    })?;
    for ((column, found), given) in table.columns.iter().zip(&resolved.columns).zip(&given) {
        // A column the owner derives from location, or one given on the command line, needs
        // no field.
        if column.required && found.is_none() && given.is_none() && column.derive.is_none() {
            return Err(ImportError::MissingField {
                path: file.clone(),
                layer: layer_name.clone(),
                wanted: column.name.to_string(),
                candidates: std::iter::once(column.name)
                    .chain(column.legacy.iter().copied())
                    .collect::<Vec<_>>()
                    .join(", ")
                    + &format!(
                        " — or name the field in a --mapping file, or give one value for every feature with --set {}=VALUE",
                        column.name
                    ),
            });
        }
    }

    // First pass over a sample: text encodings and axis order.
    let text_fields: Vec<usize> = field_defs
        .iter()
        .enumerate()
        .filter(|(_, (_, t))| *t == OGRFieldType::OFTString)
        .map(|(i, _)| i)
        .collect();
    let mut samples: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    // Fields with characters beyond U+00FF are real Unicode: never reinterpreted.
    let mut unicode_fields = std::collections::BTreeSet::new();
    let mut points = Vec::new();
    for feature in layer.features().take(DETECT_SAMPLE) {
        for &i in &text_fields {
            if let Ok(Some(text)) = feature.field_as_string(i) {
                match latin1_bytes(&text) {
                    Some(bytes) if !bytes.is_ascii() => samples.entry(i).or_default().push(bytes),
                    Some(_) => {}
                    None => {
                        unicode_fields.insert(i);
                    }
                }
            }
        }
        if let Some(g) = feature.geometry() {
            let env = g.envelope();
            points.push(((env.MinX + env.MaxX) / 2.0, (env.MinY + env.MaxY) / 2.0));
        }
    }
    // DBF text opened as ISO-8859-1 is a byte view; other drivers give real text.
    let byte_view = source
        .open_options
        .iter()
        .any(|o| o == "ENCODING=ISO-8859-1");
    let mut decodings: BTreeMap<usize, FieldDecoding> = BTreeMap::new();
    let mut encodings = BTreeMap::new();
    for &i in &text_fields {
        let (how, label, confidence) = match (opts.encoding, samples.get(&i)) {
            (EncodingChoice::Fixed(LegacyEncoding::Utf8), _) => {
                (FieldDecoding::AsIs, "utf8".to_string(), 1.0)
            }
            (EncodingChoice::Fixed(enc), _) => {
                (FieldDecoding::Legacy(enc), enc.name().to_string(), 1.0)
            }
            (EncodingChoice::Auto, _) if unicode_fields.contains(&i) => {
                (FieldDecoding::AsIs, "utf8".to_string(), 1.0)
            }
            (EncodingChoice::Auto, None) => (FieldDecoding::AsIs, "ascii".to_string(), 1.0),
            // Formats that are UTF-8 by definition (everything but DBF read byte for byte):
            // text that already reads as Vietnamese is left alone ("Có", "Không" are not mojibake).
            (EncodingChoice::Auto, Some(s)) if !byte_view && reads_as_vietnamese(s) => {
                (FieldDecoding::AsIs, "utf8".to_string(), 1.0)
            }
            (EncodingChoice::Auto, Some(s)) => {
                let refs: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
                let d = detect(&refs);
                let how = match d.encoding {
                    LegacyEncoding::Utf8 | LegacyEncoding::Latin1 => FieldDecoding::AsIs,
                    enc => FieldDecoding::Legacy(enc),
                };
                (how, d.encoding.name().to_string(), d.confidence)
            }
        };
        decodings.insert(i, how);
        if samples.contains_key(&i)
            || unicode_fields.contains(&i)
            || matches!(opts.encoding, EncodingChoice::Fixed(_))
        {
            encodings.insert(names[i].clone(), (label, confidence));
        }
    }
    let axis = if opts.axes == AxisChoice::NorthEast {
        "swapped".to_string()
    } else if opts.axes == AxisChoice::EastNorth {
        "as given".to_string()
    } else if points.is_empty() {
        "unknown".to_string()
    } else {
        match check_axis_order(srid, &points) {
            Ok(report) => match report.verdict {
                AxisOrder::AsGiven => "as given".to_string(),
                AxisOrder::Swapped => "swapped".to_string(),
                AxisOrder::Implausible => {
                    return Err(ImportError::Crs {
                        path: file.clone(),
                        reason: format!(
                            "the coordinates do not fall in Viet Nam in EPSG:{srid} in either axis order; check the CRS (--srs)"
                        ),
                    })
                }
            },
            Err(_) => "unchecked".to_string(),
        }
    };

    // Second pass: every feature.
    layer.reset_feature_reading();
    let stem = Path::new(&source.gdal_path)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut count = 0u64;
    for (index, feature) in layer.features().enumerate() {
        let index = index as i64;
        count += 1;
        progress.tick();
        let reject = |reason: String| Reject {
            file: file_index,
            index,
            reason,
        };
        let text_of = |i: usize| -> Option<String> {
            let raw = feature.field_as_string(i).ok().flatten()?;
            let how = decodings.get(&i).copied().unwrap_or(FieldDecoding::AsIs);
            Some(decode_text(&raw, how)).filter(|s| !s.is_empty())
        };
        let mut values = Vec::with_capacity(table.columns.len());
        let mut problem = None;
        for ((column, found), given) in table.columns.iter().zip(&resolved.columns).zip(&given) {
            let value = match (given, found) {
                (Some(v), _) => v.clone(),
                (None, None) => Value::Null,
                (None, Some((i, field))) => {
                    match convert(&feature, *i, field_defs[*i].1, column.ty, &text_of) {
                        Ok(v) => v,
                        Err(e) => {
                            problem.get_or_insert(format!("{} (field {field}): {e}", column.name));
                            Value::Null
                        }
                    }
                }
            };
            // A derivable column left empty is filled from location after staging.
            if column.required
                && value == Value::Null
                && problem.is_none()
                && column.derive.is_none()
            {
                let field = found.as_ref().map(|(_, f)| f.as_str()).unwrap_or("-");
                problem = Some(format!("{} is missing (field {field})", column.name));
            }
            values.push(value);
        }
        if problem.is_none() {
            if let Some(check) = table.check {
                if let Err(e) = check(&values) {
                    problem = Some(e);
                }
            }
        }
        let wkb = match feature.geometry().map(|g| g.wkb()) {
            Some(Ok(wkb)) => Some(wkb),
            Some(Err(e)) => {
                problem.get_or_insert(format!("unreadable geometry: {e}"));
                None
            }
            None => {
                problem.get_or_insert("the feature has no geometry".to_string());
                None
            }
        };
        if let Some(reason) = problem {
            rejects.push(reject(reason));
            continue;
        }
        let source_id = resolved
            .source_id
            .as_ref()
            .and_then(|(i, _)| text_of(*i))
            .or_else(|| key_text(table, &values))
            .unwrap_or_else(|| {
                format!(
                    "{stem}/{layer_name}#{}",
                    feature.fid().unwrap_or(index as u64)
                )
            });
        let mut extra = serde_json::Map::new();
        for (i, name) in &resolved.extra {
            if let Some(v) = extra_value(&feature, *i, field_defs[*i].1, &text_of) {
                extra.insert(name.clone(), v);
            }
        }
        let row = StagedRow {
            file: file_index,
            index,
            source_id,
            values,
            extra: serde_json::Value::Object(extra).to_string(),
            wkb: wkb.unwrap_or_default(),
            srid: srid as i32,
        };
        if let Some(checks) = checks.as_mut() {
            checks.observe(&row);
        }
        loader.push(&row).await.map_err(|e| ImportError::Rejected {
            path: file.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(SourceReport {
        path: source.gdal_path.clone(),
        layer: layer_name,
        driver,
        sha256: sha256_of(file),
        srid,
        crs_note,
        axis,
        encodings,
        mapped: table
            .columns
            .iter()
            .zip(&resolved.columns)
            .filter_map(|(c, f)| f.as_ref().map(|(_, n)| (c.name.to_string(), n.clone())))
            .collect(),
        extra_fields: resolved.extra.iter().map(|(_, n)| n.clone()).collect(),
        features: count,
    })
}

/// The id of a feature the delivery names none for, when its table is identified by columns:
/// the key's values (`25195/3/12`), stable from one delivery to the next — a place in the file
/// would change for every later feature when one is dropped, and count them all as changed.
fn key_text(table: &FeatureTable, values: &[Value]) -> Option<String> {
    if !matches!(table.natural_key, gis_core::feature::NaturalKey::Columns(_)) {
        return None;
    }
    let mut parts = Vec::new();
    for key in table.key_columns() {
        match values.get(table.index_of(key)?)? {
            Value::Text(t) => parts.push(t.clone()),
            Value::Integer(i) => parts.push(i.to_string()),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn convert(
    feature: &gdal::vector::Feature<'_>,
    i: usize,
    field_type: OGRFieldType::Type,
    ty: ColumnType,
    text_of: &dyn Fn(usize) -> Option<String>,
) -> Result<Value, String> {
    let numeric = matches!(
        field_type,
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 | OGRFieldType::OFTReal
    );
    match ty {
        ColumnType::Text => Ok(text_of(i).map(Value::Text).unwrap_or(Value::Null)),
        ColumnType::Integer => {
            if numeric {
                return match feature.field(i) {
                    Ok(Some(FieldValue::IntegerValue(v))) => Ok(Value::Integer(i64::from(v))),
                    Ok(Some(FieldValue::Integer64Value(v))) => Ok(Value::Integer(v)),
                    Ok(Some(FieldValue::RealValue(v))) if v.fract() == 0.0 && v.abs() < 9e15 => {
                        Ok(Value::Integer(v as i64))
                    }
                    Ok(Some(FieldValue::RealValue(v))) => Err(format!("{v} is not a whole number")),
                    Ok(_) => Ok(Value::Null),
                    Err(e) => Err(e.to_string()),
                };
            }
            match text_of(i) {
                None => Ok(Value::Null),
                Some(t) => parse_integer(&t),
            }
        }
        ColumnType::Double => {
            if numeric {
                return match feature.field_as_double(i) {
                    Ok(Some(v)) if v.is_finite() => Ok(Value::Double(v)),
                    Ok(Some(v)) => Err(format!("{v} is not a number")),
                    Ok(None) => Ok(Value::Null),
                    Err(e) => Err(e.to_string()),
                };
            }
            match text_of(i) {
                None => Ok(Value::Null),
                Some(t) => t
                    .replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(Value::Double)
                    .ok_or_else(|| format!("\"{t}\" is not a number")),
            }
        }
        ColumnType::Boolean => match text_of(i) {
            None => Ok(Value::Null),
            Some(t) => parse_bool(&t).map(Value::Boolean),
        },
        ColumnType::Date => match feature.field(i) {
            Ok(Some(FieldValue::DateValue(d))) => {
                use chrono::Datelike;
                days_since_2000(d.year(), d.month(), d.day())
                    .map(Value::Date)
                    .ok_or_else(|| format!("{d} is not a date"))
            }
            Ok(Some(FieldValue::DateTimeValue(d))) => {
                use chrono::Datelike;
                days_since_2000(d.year(), d.month(), d.day())
                    .map(Value::Date)
                    .ok_or_else(|| format!("{d} is not a date"))
            }
            _ => match text_of(i) {
                None => Ok(Value::Null),
                Some(t) => parse_date(&t).map(Value::Date),
            },
        },
    }
}

fn parse_integer(t: &str) -> Result<Value, String> {
    if let Ok(v) = t.parse::<i64>() {
        return Ok(Value::Integer(v));
    }
    match t.replace(',', ".").parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v.abs() < 9e15 => Ok(Value::Integer(v as i64)),
        _ => Err(format!("\"{t}\" is not a whole number")),
    }
}

fn parse_bool(t: &str) -> Result<bool, String> {
    match t.trim().to_lowercase().as_str() {
        "c" | "co" | "có" | "y" | "yes" | "1" | "true" | "t" | "x" | "đã cấp" => Ok(true),
        "k" | "khong" | "không" | "n" | "no" | "0" | "false" | "f" | "chưa cấp" => Ok(false),
        _ => Err(format!("\"{t}\" is not yes/no (C/K, Y/N, 1/0)")),
    }
}

/// `YYYY-MM-DD`, `YYYY/MM/DD` or the Vietnamese `DD/MM/YYYY`.
fn parse_date(t: &str) -> Result<i32, String> {
    let parts: Vec<&str> = t.trim().split(['-', '/', '.']).collect();
    let nums: Vec<Option<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
    let ymd = match (parts.len(), nums.as_slice()) {
        (3, [Some(a), Some(b), Some(c)]) if parts[0].len() == 4 => Some((*a as i32, *b, *c)),
        (3, [Some(a), Some(b), Some(c)]) if parts[2].len() == 4 => Some((*c as i32, *b, *a)),
        _ => None,
    };
    ymd.and_then(|(y, m, d)| days_since_2000(y, m, d))
        .ok_or_else(|| format!("\"{t}\" is not a date (YYYY-MM-DD or DD/MM/YYYY)"))
}

fn extra_value(
    feature: &gdal::vector::Feature<'_>,
    i: usize,
    field_type: OGRFieldType::Type,
    text_of: &dyn Fn(usize) -> Option<String>,
) -> Option<serde_json::Value> {
    match field_type {
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => feature
            .field_as_integer64(i)
            .ok()
            .flatten()
            .map(serde_json::Value::from),
        OGRFieldType::OFTReal => feature
            .field_as_double(i)
            .ok()
            .flatten()
            .filter(|v| v.is_finite())
            .map(serde_json::Value::from),
        _ => text_of(i).map(serde_json::Value::from),
    }
}

/// A reason without its numbers, for counting by kind.
fn reason_class(reason: &str) -> String {
    let mut out = String::new();
    let mut in_quotes = false;
    for c in reason.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
            out.push('…');
            continue;
        }
        if in_quotes {
            continue;
        }
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out.replace("……", "…")
}

fn write_rejects(
    path: &Path,
    opts: &ImportOptions,
    sources: &[Source],
    rejects: &[Reject],
) -> Result<PathBuf, ImportError> {
    let target = opts.rejects_path.clone().unwrap_or_else(|| {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        dir.join(format!("{}.rejects.csv", opts.kind))
    });
    // Someone who can write to the delivery's folder could plant a link there pointing at a
    // file bando's user may write (a config, another layer's data). Refuse a link outright, and
    // write a new file beside the target then rename it over: a link planted after the check is
    // replaced, never followed.
    if let Ok(meta) = std::fs::symlink_metadata(&target) {
        let reason = if meta.file_type().is_symlink() {
            Some("it is a symbolic link; bando never writes through links (remove the link or choose another path with --rejects)")
        } else if !meta.is_file() {
            Some("it is not a regular file")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ImportError::RejectsFile {
                path: target,
                reason: reason.into(),
            });
        }
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = tempfile::Builder::new()
        .prefix(".bando-rejects-")
        .tempfile_in(&dir)
        .map_err(|e| ImportError::RejectsFile {
            path: target.clone(),
            reason: e.to_string(),
        })?;
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut text = String::from("source_file,feature_index,reason\n");
    for r in rejects {
        let file = sources
            .get(r.file as usize)
            .map(|s| s.gdal_path.as_str())
            .unwrap_or("?");
        text.push_str(&format!(
            "{},{},{}\n",
            quote(file),
            r.index,
            quote(&r.reason)
        ));
    }
    let mut out = std::io::BufWriter::new(file);
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| ImportError::io(&target, e))?;
    let file = out
        .into_inner()
        .map_err(|e| ImportError::io(&target, e.into_error()))?;
    file.persist(&target)
        .map_err(|e| ImportError::RejectsFile {
            path: target.clone(),
            reason: e.error.to_string(),
        })?;
    Ok(target)
}

/// Progress: a bar with features/s and ETA on a terminal, plain log lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    count: std::cell::Cell<u64>,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos} features read ({per_sec}) {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        });
        Progress {
            bar,
            count: std::cell::Cell::new(0),
            started: Instant::now(),
        }
    }

    fn tick(&self) {
        let n = self.count.get() + 1;
        self.count.set(n);
        match &self.bar {
            Some(bar) if n.is_multiple_of(1000) => bar.set_position(n),
            None if n.is_multiple_of(100_000) => {
                let rate = n as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
                tracing::info!(features = n, per_second = rate as u64, "reading");
            }
            _ => {}
        }
    }

    fn finish(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(format!("{total} features read"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_like_a_land_office_writes_them() {
        assert_eq!(parse_integer("12"), Ok(Value::Integer(12)));
        assert_eq!(parse_integer("12.0"), Ok(Value::Integer(12)));
        assert!(parse_integer("12,5").is_err());
        assert_eq!(parse_bool("C"), Ok(true));
        assert_eq!(parse_bool("không"), Ok(false));
        assert!(parse_bool("maybe").is_err());
        assert_eq!(
            parse_date("2023-05-12"),
            days_since_2000(2023, 5, 12).ok_or(String::new())
        );
        assert_eq!(
            parse_date("12/05/2023"),
            days_since_2000(2023, 5, 12).ok_or(String::new())
        );
        assert!(parse_date("31/02/2023").is_err());
    }

    #[test]
    fn reasons_are_grouped_without_numbers() {
        assert_eq!(
            reason_class("duplicate identity 25195/3/12 (first seen as feature 4 of file 0)"),
            "duplicate identity #/#/# (first seen as feature # of file #)"
        );
        assert_eq!(
            reason_class("commune code \"2519X\" must be 5 digits"),
            "commune code … must be # digits"
        );
    }

    #[test]
    fn latin1_view_round_trips_bytes() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        let text: String = bytes.iter().map(|b| char::from(*b)).collect();
        assert_eq!(latin1_bytes(&text), Some(bytes));
        assert_eq!(latin1_bytes("Phước"), None);
    }
}
