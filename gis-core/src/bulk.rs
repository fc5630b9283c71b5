//! The generic bulk writer for [feature tables](crate::feature): stage rows with binary COPY,
//! validate and repair geometry in PostGIS, then make the import visible in one transaction.
//!
//! Flow: [`Loader::begin`] creates a session-private staging table and opens a binary COPY;
//! [`Loader::push`] streams rows (bounded memory); [`Loader::prepare`] builds geometry in the
//! native VN-2000 TM-3 CRS, repairs or rejects invalid geometry and marks duplicate natural keys;
//! owners may then run their own checks on [`Loader::stage_table`]; [`Loader::merge`] replaces or
//! upserts the live table and records the import in `platform.imports` — all in one transaction
//! (the tables' statement triggers notify `bando_layer_changes` with the touched area on commit), so a killed or failed
//! import leaves the live table exactly as it was, and an identical `upsert` changes nothing.
//!
//! A re-delivery is compared with the live table in one join on the natural key (a temporary
//! table `bando_diff` of the changed, new and gone features); every later statement of the
//! merge reads that, so each plans as hash or merge joins at any size, writes only what
//! changed, and notifies only the areas around the changes ([`Merged::touched_areas`]).

use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgCopyIn;
use sqlx::{Connection, PgConnection, Postgres};

use crate::declare::LayerHooks;
use crate::feature::{ColumnType, FeatureTable};

/// The channel feature tables' triggers notify on commit (payload: JSON with `table`
/// (`schema.table`), `op` and `bbox_3857`).
pub const CHANGES_CHANNEL: &str = "bando_layer_changes";

/// The staging table's name (a temporary table, private to the loader's connection).
pub const STAGE: &str = "bando_stage";

/// VN-2000 TM-3 and UTM zones geometry may be stored in natively.
pub const NATIVE_SRIDS: [i32; 20] = [
    9205, 9206, 9207, 9208, 9209, 9210, 9211, 9212, 9213, 9214, 9215, 9216, 9217, 9218, 5896, 5897,
    5898, 5899, 3405, 3406,
];

/// Errors of the bulk writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkError {
    /// The database refused a step; the live table is unchanged.
    #[error("{step}: {source}")]
    Db {
        /// Which step.
        step: &'static str,
        /// Driver error.
        source: sqlx::Error,
    },
    /// The database server ran out of disk space (SQLSTATE 53100), most often in its
    /// temporary space while staging; the live table is unchanged.
    #[error("{step}: the database server ran out of disk space ({source}); the live table is unchanged: free disk space on the database server (for staging, where its temp_tablespaces are) and import again")]
    DiskFull {
        /// Which step.
        step: &'static str,
        /// Driver error.
        source: sqlx::Error,
    },
    /// The owner's step keeping derived data in step with the load failed
    /// ([`LayerHooks::after_bulk_load`]); the live table is unchanged.
    #[error("bringing what derives from the layer up to date: {0}")]
    AfterLoad(String),
    /// A row does not fit the table's description (a bug in the caller).
    #[error("row has {got} values, table {table} has {want} columns")]
    Shape {
        /// Table.
        table: String,
        /// Values given.
        got: usize,
        /// Columns described.
        want: usize,
    },
}

fn db(step: &'static str) -> impl FnOnce(sqlx::Error) -> BulkError {
    move |source| match &source {
        sqlx::Error::Database(e) if e.code().as_deref() == Some("53100") => {
            BulkError::DiskFull { step, source }
        }
        _ => BulkError::Db { step, source },
    }
}

/// A typed value of a canonical column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// Text.
    Text(String),
    /// Whole number.
    Integer(i64),
    /// Decimal number.
    Double(f64),
    /// True/false.
    Boolean(bool),
    /// Date as days since 2000-01-01 (PostgreSQL's epoch).
    Date(i32),
}

/// One feature to stage.
#[derive(Debug, Clone)]
pub struct StagedRow {
    /// Index of the source file in the import's file list.
    pub file: i32,
    /// 0-based index of the feature in its file layer.
    pub index: i64,
    /// Natural id from the delivery (or `file#index`).
    pub source_id: String,
    /// One value per canonical column, in the table's order.
    pub values: Vec<Value>,
    /// Delivered fields without a canonical column, as a JSON object.
    pub extra: String,
    /// Geometry as WKB.
    pub wkb: Vec<u8>,
    /// SRID of `wkb`.
    pub srid: i32,
}

/// What to do with invalid geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InvalidPolicy {
    /// `ST_MakeValid`, keep the part of the layer's dimension, report it.
    Repair,
    /// Reject the feature.
    Reject,
}

/// How the import meets the live table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// The live table becomes exactly the delivery.
    Replace,
    /// Insert new features, update changed ones (by natural key), leave the rest.
    Upsert,
}

/// A feature that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    /// Index of the source file.
    pub file: i32,
    /// Feature index in the file layer.
    pub index: i64,
    /// Why.
    pub reason: String,
}

/// Outcome of [`Loader::prepare`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Prepared {
    /// Rows staged.
    pub staged: u64,
    /// Rows whose geometry was repaired.
    pub repaired: u64,
    /// Repairs: (file, index, what was wrong).
    pub repairs: Vec<Reject>,
    /// Rows rejected in the database (geometry, duplicates, no area to derive a value from).
    pub rejects: Vec<Reject>,
    /// Per derived column ([`crate::feature::Derive`]): how many rows got their value from
    /// their location.
    pub derived: Vec<(String, u64)>,
}

/// Outcome of [`Loader::merge`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Merged {
    /// `platform.imports` id.
    pub import_id: i64,
    /// New features.
    pub inserted: u64,
    /// Changed features.
    pub updated: u64,
    /// Features identical to what was stored.
    pub unchanged: u64,
    /// Features removed (replace mode).
    pub deleted: u64,
    /// Live features the delivery does not have: removed by `replace` (then equal to
    /// `deleted`), left in place by `upsert`.
    pub not_delivered: u64,
    /// Touched area in EPSG:3857 (old and new geometry of the changed, new and removed
    /// features), if anything changed: the extent of `touched_areas`.
    pub touched_3857: Option<[f64; 4]>,
    /// The table's statement triggers were skipped (a superuser's load): whatever they keep
    /// in step is the owner's post-load hook's job ([`crate::declare::LayerHooks`]).
    pub triggers_bypassed: bool,
    /// The touched area as at most [`MAX_TOUCHED_AREAS`] boxes (EPSG:3857) around the changes,
    /// each notified on its own, so servers drop only the tiles around the changes.
    pub touched_areas: Vec<[f64; 4]>,
}

/// What `platform.imports` records about an import besides counts.
#[derive(Debug, Clone, Serialize)]
pub struct ImportRecord {
    /// Who ran it.
    pub imported_by: String,
    /// Files (path, sha256, …) as JSON.
    pub files: serde_json::Value,
    /// Features read from the files.
    pub read: u64,
    /// Full report as JSON.
    pub report: serde_json::Value,
}

/// Stages and merges one import into one feature table, on one connection.
pub struct Loader {
    conn: PoolConnection<Postgres>,
    table: FeatureTable,
    buf: Vec<u8>,
    copying: bool,
    staged: u64,
    /// Where each part of the natural key is in a pushed row.
    key_fields: Vec<KeyField>,
    /// A 64-bit hash of each pushed row's natural key, as sent: two rows with one key have
    /// one hash, so without a repeated hash the duplicate-key pass (a sort or hash of every
    /// staged row in PostgreSQL, ~3 s at a million) has nothing to find.
    key_hashes: Vec<u64>,
    /// Whether `key_hashes` held a repeat, once they are checked (and freed).
    keys_repeated: Option<bool>,
}

/// A part of the natural key.
#[derive(Debug, Clone, Copy)]
enum KeyField {
    SourceId,
    Column(usize),
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("table", &self.table.kind)
            .field("staged", &self.staged)
            .finish()
    }
}

/// Rows are sent in COPY batches of about this size: large enough that a batch's round trip is
/// nothing beside its rows, small enough that the batch and the connection's copy of it stay a
/// few megabytes of an import's peak.
const FLUSH_BYTES: usize = 1 << 20;

impl Loader {
    /// Creates the staging table on `conn` and starts the binary COPY.
    pub async fn begin(
        mut conn: PoolConnection<Postgres>,
        table: FeatureTable,
    ) -> Result<Self, BulkError> {
        let mut columns = String::new();
        for c in table.columns {
            columns.push_str(&format!(
                "{} {}, ",
                crate::db::quote_ident(c.name),
                c.ty.sql()
            ));
        }
        // The staging table lives in the session's local buffers (8 MB by default: every pass
        // over a million staged rows went through the kernel) and its passes sort and hash
        // (4 MB by default: duplicate keys spilled to disk). temp_buffers can only be raised
        // before the session first touches a temporary table; a reused connection keeps its own.
        for (setting, value) in [("temp_buffers", "256MB"), ("work_mem", "64MB")] {
            if let Err(e) = sqlx::query("SELECT set_config($1, $2, false)")
                .bind(setting)
                .bind(value)
                .execute(&mut *conn)
                .await
            {
                tracing::debug!(setting, error = %e, "staging setting kept");
            }
        }
        let sql = format!(
            "DROP TABLE IF EXISTS pg_temp.{STAGE};
             CREATE TEMP TABLE {STAGE} (
                __file integer NOT NULL, __index bigint NOT NULL, source_id text NOT NULL,
                {columns} extra jsonb NOT NULL, geom geometry, rejected text, repaired text)"
        );
        sqlx::raw_sql(&sql)
            .execute(&mut *conn)
            .await
            .map_err(db("creating the staging table"))?;
        let key_fields = table
            .key_columns()
            .into_iter()
            .map(|k| match table.index_of(k) {
                Some(i) => KeyField::Column(i),
                None => KeyField::SourceId,
            })
            .collect();
        let mut loader = Loader {
            conn,
            table,
            buf: Vec::with_capacity(FLUSH_BYTES + 64 * 1024),
            copying: false,
            staged: 0,
            key_fields,
            key_hashes: Vec::new(),
            keys_repeated: None,
        };
        loader.start_copy();
        Ok(loader)
    }

    /// Whether two staged rows had one key hash. Answered once (the hashes are freed then);
    /// callers may ask as soon as the last row is pushed, to free the hashes (8 bytes a row)
    /// before other work of theirs needs memory.
    pub fn keys_repeat(&mut self) -> bool {
        if let Some(repeated) = self.keys_repeated {
            return repeated;
        }
        self.key_hashes.sort_unstable();
        let repeated = self.key_hashes.windows(2).any(|w| w[0] == w[1]);
        self.key_hashes = Vec::new();
        self.keys_repeated = Some(repeated);
        repeated
    }

    fn copy_sql(&self) -> String {
        let cols: Vec<String> = self
            .table
            .columns
            .iter()
            .map(|c| crate::db::quote_ident(c.name))
            .collect();
        format!(
            "COPY {STAGE} (__file, __index, source_id, {}{}extra, geom) FROM STDIN (FORMAT binary)",
            cols.join(", "),
            if cols.is_empty() { "" } else { ", " }
        )
    }

    fn start_copy(&mut self) {
        // PGCOPY signature, flags, header extension length.
        self.buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        self.copying = true;
    }

    /// The staging table (for owners' checks): a temporary table on this loader's connection.
    pub fn stage_table(&self) -> &'static str {
        STAGE
    }

    /// The loader's connection (for owners' checks on the staging table).
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Rows staged so far.
    pub fn staged(&self) -> u64 {
        self.staged
    }

    /// Adds a row; sends the buffer to the server when it is large.
    pub async fn push(&mut self, row: &StagedRow) -> Result<(), BulkError> {
        if row.values.len() != self.table.columns.len() {
            return Err(BulkError::Shape {
                table: self.table.kind.to_string(),
                got: row.values.len(),
                want: self.table.columns.len(),
            });
        }
        let fields = 3 + self.table.columns.len() + 2;
        let b = &mut self.buf;
        b.extend_from_slice(&(fields as i16).to_be_bytes());
        put(b, &row.file.to_be_bytes());
        put(b, &row.index.to_be_bytes());
        // The key is hashed as sent (length and bytes of each field, NULL as -1).
        let mut key = std::collections::hash_map::DefaultHasher::new();
        let source_id_at = b.len();
        put(b, row.source_id.as_bytes());
        if self
            .key_fields
            .iter()
            .any(|k| matches!(k, KeyField::SourceId))
        {
            std::hash::Hash::hash(&b[source_id_at..], &mut key);
        }
        for (i, (value, column)) in row.values.iter().zip(self.table.columns).enumerate() {
            let at = b.len();
            match (value, column.ty) {
                (Value::Null, _) => b.extend_from_slice(&(-1i32).to_be_bytes()),
                (Value::Text(t), ColumnType::Text) => put(b, t.as_bytes()),
                (Value::Integer(i), ColumnType::Integer) => put(b, &i.to_be_bytes()),
                (Value::Double(d), ColumnType::Double) => put(b, &d.to_be_bytes()),
                (Value::Integer(i), ColumnType::Double) => put(b, &(*i as f64).to_be_bytes()),
                (Value::Boolean(v), ColumnType::Boolean) => put(b, &[u8::from(*v)]),
                (Value::Date(d), ColumnType::Date) => put(b, &d.to_be_bytes()),
                // A value of the wrong type is stored as its text in no column: the caller
                // converts values to the column's type, so this is unreachable in practice;
                // store NULL rather than corrupt the COPY stream.
                _ => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
            if self
                .key_fields
                .iter()
                .any(|k| matches!(k, KeyField::Column(c) if *c == i))
            {
                std::hash::Hash::hash(&b[at..], &mut key);
            }
        }
        self.key_hashes.push(std::hash::Hasher::finish(&key));
        let mut extra = Vec::with_capacity(row.extra.len() + 1);
        extra.push(1u8); // jsonb binary format version
        extra.extend_from_slice(row.extra.as_bytes());
        put(b, &extra);
        put_ewkb(b, &row.wkb, row.srid, self.table.dimension() > 0);
        self.staged += 1;
        if self.buf.len() >= FLUSH_BYTES {
            self.flush(false).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, last: bool) -> Result<(), BulkError> {
        if !self.copying {
            return Ok(());
        }
        if last {
            self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        }
        let sql = self.copy_sql();
        let mut copy: PgCopyIn<&mut PgConnection> = self
            .conn
            .copy_in_raw(&sql)
            .await
            .map_err(db("starting COPY"))?;
        // Sent from the one buffer, which is kept (a new one per batch would grow by doubling
        // each time, beside the connection's own copy of the batch).
        copy.send(&self.buf[..]).await.map_err(db("sending rows"))?;
        copy.finish().await.map_err(db("finishing COPY"))?;
        self.buf.clear();
        if last {
            self.copying = false;
        } else {
            // Each COPY statement carries its own header.
            self.start_copy();
        }
        Ok(())
    }

    /// Finishes staging and validates: geometry in its native CRS (rows in a non-native CRS are
    /// transformed to the SRID `platform.native_srid(geometry)` chooses), dimension and validity
    /// checks (repair or reject), and duplicate natural keys (first one wins).
    /// Rows of the files listed in `flip_files` have their axes swapped first (northing-first
    /// deliveries).
    pub async fn prepare(
        &mut self,
        policy: InvalidPolicy,
        flip_files: &[i32],
    ) -> Result<Prepared, BulkError> {
        self.flush(true).await?;
        if !flip_files.is_empty() {
            sqlx::query(
                "UPDATE bando_stage SET geom = ST_FlipCoordinates(geom) WHERE __file = ANY($1)",
            )
            .bind(flip_files)
            .execute(&mut *self.conn)
            .await
            .map_err(db("swapping northing-first coordinates"))?;
        }
        let dim = self.table.dimension();
        let kind = self.table.geometry.as_str();
        let natives = NATIVE_SRIDS.map(|s| s.to_string()).join(",");
        let extract_type = [1, 2, 3][usize::from(dim)];
        let shape = if dim == 0 {
            "CASE WHEN ST_NumGeometries(t) = 1 THEN ST_GeometryN(t, 1) ELSE t END"
        } else {
            "ST_Multi(t)"
        };
        let fix = match policy {
            InvalidPolicy::Repair => format!(
                "UPDATE bando_stage SET repaired = ST_IsValidReason(geom),
                    geom = {multi_fix}
                 WHERE rejected IS NULL AND NOT ST_IsValid(geom);
                 UPDATE bando_stage SET rejected = 'geometry is empty after repair (' || repaired || ')'
                 WHERE repaired IS NOT NULL AND rejected IS NULL AND ST_IsEmpty(geom)",
                multi_fix = if dim == 0 {
                    format!("ST_CollectionExtract(ST_MakeValid(geom), {extract_type})")
                } else {
                    format!("ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), {extract_type}))")
                }
            ),
            InvalidPolicy::Reject => "UPDATE bando_stage SET rejected = 'invalid geometry: ' || ST_IsValidReason(geom)
                 WHERE rejected IS NULL AND NOT ST_IsValid(geom)"
                .to_string(),
        };
        // Geometry arrives as EWKB in the stored shape for almost every row, so this pass only
        // reads; it rewrites the rows that need a reason, a transform or a shape (rewriting
        // every staged row cost ~14 s of a million-parcel import).
        let shaped = if dim == 0 {
            "ST_GeometryType(s.geom) = 'ST_Point'"
        } else {
            "ST_GeometryType(s.geom) LIKE 'ST_Multi%'"
        };
        let steps = [
            (
                "building geometry",
                format!(
                    "UPDATE bando_stage s SET (geom, rejected) = (
                       SELECT CASE WHEN c.reason IS NULL THEN (
                                SELECT {shape} FROM (SELECT CASE WHEN ST_SRID(c.g) IN ({natives}) THEN c.g
                                    ELSE ST_Transform(c.g, platform.native_srid(c.g)) END AS t) tt)
                              END,
                              c.reason
                       FROM (SELECT g, CASE
                               WHEN g IS NULL OR ST_IsEmpty(g) THEN 'empty geometry'
                               WHEN ST_Dimension(g) <> {dim} THEN 'geometry is a ' || ST_GeometryType(g) || ', the layer holds {kind}'
                               WHEN NOT (ST_XMin(g) BETWEEN -1e8 AND 1e8 AND ST_YMin(g) BETWEEN -1e8 AND 1e8
                                         AND ST_XMax(g) BETWEEN -1e8 AND 1e8 AND ST_YMax(g) BETWEEN -1e8 AND 1e8)
                                    THEN 'coordinates out of range'
                               WHEN {dim} = 0 AND ST_NumGeometries(g) > 1 THEN 'a multi-point where one point is expected'
                             END AS reason
                             FROM (SELECT s.geom AS g) a) c)
                     WHERE s.geom IS NULL OR ST_IsEmpty(s.geom) OR ST_Dimension(s.geom) <> {dim}
                        OR NOT (ST_XMin(s.geom) BETWEEN -1e8 AND 1e8 AND ST_YMin(s.geom) BETWEEN -1e8 AND 1e8
                                AND ST_XMax(s.geom) BETWEEN -1e8 AND 1e8 AND ST_YMax(s.geom) BETWEEN -1e8 AND 1e8)
                        OR ST_SRID(s.geom) NOT IN ({natives}) OR NOT ({shaped})"
                ),
            ),
            ("checking validity", fix),
        ];
        for (step, sql) in steps {
            let started = std::time::Instant::now();
            sqlx::raw_sql(&sql)
                .execute(&mut *self.conn)
                .await
                .map_err(db(step))?;
            tracing::debug!(
                step,
                seconds = started.elapsed().as_secs_f64(),
                "import step"
            );
        }
        let started = std::time::Instant::now();
        let derived = self.derive_from_location().await?;
        tracing::debug!(
            step = "deriving from location",
            seconds = started.elapsed().as_secs_f64(),
            "import step"
        );
        // Duplicate natural keys: the first occurrence wins, later ones are rejected.
        let keys = self.table.key_columns();
        let key_list = keys
            .iter()
            .map(|k| crate::db::quote_ident(k))
            .collect::<Vec<_>>()
            .join(", ");
        let key_text = keys
            .iter()
            .map(|k| format!("coalesce({}::text, '∅')", crate::db::quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" || '/' || ");
        // Rows reach the stage through `push` only; a key filled in by derivation was not
        // hashed as it is now.
        let may_repeat = {
            let repeated = self.keys_repeat();
            // A float's bytes do not follow SQL equality (-0 = 0): such keys always go to SQL.
            let float_key = self.key_fields.iter().any(|k| {
                matches!(k, KeyField::Column(c) if self.table.columns[*c].ty == ColumnType::Double)
            });
            repeated || float_key || derived.iter().any(|(_, n)| *n > 0)
        };
        let dup_sql = format!(
            "WITH ranked AS (
                SELECT ctid, __file, __index, {key_text} AS key,
                       first_value(__file) OVER w AS first_file,
                       first_value(__index) OVER w AS first_index,
                       row_number() OVER w AS n
                FROM bando_stage WHERE rejected IS NULL
                WINDOW w AS (PARTITION BY {key_list} ORDER BY __file, __index))
             UPDATE bando_stage s SET rejected = 'duplicate identity ' || r.key
                 || ' (first seen as feature ' || r.first_index || ' of file ' || r.first_file || ')'
             FROM ranked r WHERE s.ctid = r.ctid AND r.n > 1"
        );
        if may_repeat {
            sqlx::raw_sql(&dup_sql)
                .execute(&mut *self.conn)
                .await
                .map_err(db("checking duplicate identities"))?;
        }
        tracing::debug!(
            step = "+ duplicate identities",
            seconds = started.elapsed().as_secs_f64(),
            "import step"
        );
        let rejects = self.rejects().await?;
        let repairs: Vec<(i32, i64, String)> = sqlx::query_as(
            "SELECT __file, __index, repaired FROM bando_stage
             WHERE repaired IS NOT NULL AND rejected IS NULL ORDER BY __file, __index",
        )
        .fetch_all(&mut *self.conn)
        .await
        .map_err(db("listing repairs"))?;
        sqlx::raw_sql("ANALYZE bando_stage")
            .execute(&mut *self.conn)
            .await
            .map_err(db("analysing the staging table"))?;
        tracing::debug!(
            step = "+ rejects, repairs, ANALYZE",
            seconds = started.elapsed().as_secs_f64(),
            "import step"
        );
        let to_reject = |(file, index, reason): (i32, i64, String)| Reject {
            file,
            index,
            reason,
        };
        Ok(Prepared {
            staged: self.staged,
            repaired: repairs.len() as u64,
            repairs: repairs.into_iter().map(to_reject).collect(),
            rejects,
            derived,
        })
    }

    /// The staged rows rejected so far (by [`Loader::prepare`], or since by an owner's checks
    /// that set `rejected`), in file order.
    pub async fn rejects(&mut self) -> Result<Vec<Reject>, BulkError> {
        let rows: Vec<(i32, i64, String)> = sqlx::query_as(
            "SELECT __file, __index, rejected FROM bando_stage WHERE rejected IS NOT NULL ORDER BY __file, __index",
        )
        .fetch_all(&mut *self.conn)
        .await
        .map_err(db("listing rejects"))?;
        Ok(rows
            .into_iter()
            .map(|(file, index, reason)| Reject {
                file,
                index,
                reason,
            })
            .collect())
    }

    /// Fills declared derivable columns ([`crate::feature::Derive`]) the delivery left empty
    /// from the one area (e.g. commune) holding each feature: a feature whose geometry lies
    /// for at least 99.5 % in one area gets its value; one in no area, or spread over several,
    /// is rejected saying which.
    async fn derive_from_location(&mut self) -> Result<Vec<(String, u64)>, BulkError> {
        use crate::db::quote_ident;
        let mut out = Vec::new();
        let dim = self.table.dimension();
        for c in self.table.columns {
            let Some(d) = c.derive else { continue };
            let col = quote_ident(c.name);
            let area = format!("{}.{}", quote_ident(d.schema), quote_ident(d.table));
            let src = quote_ident(d.column);
            // The share of the feature inside one area, in the serving CRS (a ratio, so the
            // projection's scale cancels out).
            let share = match dim {
                2 => "ST_Area(ST_Intersection(d.geom_3857, f.g)) / greatest(ST_Area(f.g), 1e-9)",
                1 => {
                    "ST_Length(ST_Intersection(d.geom_3857, f.g)) / greatest(ST_Length(f.g), 1e-9)"
                }
                _ => "1.0",
            };
            let what = c.name.replace('\'', "");
            let area_what = d.what.replace('\'', "");
            let sql = format!(
                "WITH f AS (
                    SELECT ctid AS sct, ST_Transform(geom, 3857) AS g FROM bando_stage
                    WHERE rejected IS NULL AND {col} IS NULL AND geom IS NOT NULL),
                 cand AS (
                    SELECT f.sct, d.{src}::text AS v, {share} AS share
                    FROM f JOIN {area} d ON d.geom_3857 && f.g AND ST_Intersects(d.geom_3857, f.g)),
                 agg AS (
                    SELECT f.sct, array_agg(c.v ORDER BY c.share DESC) FILTER (WHERE c.share > 0.005) AS vs,
                           max(c.share) AS best
                    FROM f LEFT JOIN cand c ON c.sct = f.sct GROUP BY f.sct)
                 UPDATE bando_stage s SET
                    {col} = CASE WHEN a.best >= 0.995 THEN a.vs[1]::{ty} END,
                    rejected = CASE
                      WHEN a.best >= 0.995 THEN NULL
                      WHEN coalesce(cardinality(a.vs), 0) = 0
                        THEN 'no {what} in the delivery and the feature lies in no {area_what}'
                      ELSE 'no {what} in the delivery and the feature lies across '
                           || cardinality(a.vs) || ' {area_what}s (' || array_to_string(a.vs, ', ') || ')'
                    END
                 FROM agg a WHERE s.ctid = a.sct
                 RETURNING s.rejected IS NULL",
                ty = c.ty.sql(),
            );
            let results: Vec<bool> = sqlx::query_scalar(&sql)
                .fetch_all(&mut *self.conn)
                .await
                .map_err(db("deriving values from location"))?;
            let filled = results.iter().filter(|ok| **ok).count() as u64;
            out.push((c.name.to_string(), filled));
        }
        Ok(out)
    }

    /// Rejects staged rows an owner's check refused (by file and feature index).
    pub async fn reject(&mut self, rejects: &[Reject]) -> Result<(), BulkError> {
        for r in rejects {
            sqlx::query(
                "UPDATE bando_stage SET rejected = $3 WHERE __file = $1 AND __index = $2 AND rejected IS NULL",
            )
            .bind(r.file)
            .bind(r.index)
            .bind(&r.reason)
            .execute(&mut *self.conn)
            .await
            .map_err(db("recording rejects"))?;
        }
        Ok(())
    }

    /// Makes the import visible in one transaction (see the module doc). With `dry_run` the
    /// transaction is rolled back after counting.
    ///
    /// A load into a non-empty table first classifies every staged and live feature in one
    /// join on the natural key (a hash or merge full join, see [`MergeSql`]) into a temporary
    /// table of the changed, new and gone ones; deletes, updates, inserts and the touched area
    /// are then read from it. The table is locked against other writers (not readers) for the
    /// transaction, so the classification stays true until the commit.
    pub async fn merge(
        self,
        mode: MergeMode,
        record: &ImportRecord,
        dry_run: bool,
    ) -> Result<Merged, BulkError> {
        self.merge_with(mode, record, dry_run, None).await
    }

    /// [`merge`](Loader::merge), with the owner's `hooks`: when the load bypasses the table's
    /// triggers, [`LayerHooks::after_bulk_load`] runs once for the touched areas in the same
    /// transaction before it commits.
    pub async fn merge_with(
        mut self,
        mode: MergeMode,
        record: &ImportRecord,
        dry_run: bool,
        hooks: Option<&dyn LayerHooks>,
    ) -> Result<Merged, BulkError> {
        let t = self.table;
        let target = t.qualified();
        let sql = MergeSql::new(&t, mode);

        let timer = std::time::Instant::now();
        let lap = |what: &str| {
            tracing::debug!(what, seconds = timer.elapsed().as_secs_f64(), "merge step");
        };
        let mut tx = self
            .conn
            .begin()
            .await
            .map_err(db("starting the transaction"))?;
        let import_id: i64 = sqlx::query_scalar(
            "INSERT INTO platform.imports (layer, mode, files, imported_by, read)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(t.kind)
        .bind(match mode {
            MergeMode::Replace => "replace",
            MergeMode::Upsert => "upsert",
        })
        .bind(&record.files)
        .bind(&record.imported_by)
        .bind(record.read as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("recording the import"))?;

        let mut merged = Merged {
            import_id,
            ..Merged::default()
        };
        let ok_rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM bando_stage WHERE rejected IS NULL")
                .fetch_one(&mut *tx)
                .await
                .map_err(db("counting rows"))?;
        sql.start(&mut tx).await?;
        // Superusers (bando's private cluster) skip the tables' statement triggers, whose
        // transition tables would hold a copy of every row, and notify once themselves below.
        let own_notify: bool = sqlx::query_scalar("SELECT current_setting('is_superuser') = 'on'")
            .fetch_one(&mut *tx)
            .await
            .map_err(db("checking privileges"))?;
        merged.triggers_bypassed = own_notify;
        if own_notify {
            sqlx::query("SET LOCAL session_replication_role = replica")
                .execute(&mut *tx)
                .await
                .map_err(db("deferring change notifications"))?;
        }
        let empty: bool =
            sqlx::query_scalar(&format!("SELECT NOT EXISTS (SELECT 1 FROM {target})"))
                .fetch_one(&mut *tx)
                .await
                .map_err(db("looking at the live table"))?;
        if empty {
            // A first load: a plain insert, and for a big one the serving indexes built once
            // afterwards instead of row by row.
            let rebuild = ok_rows > 50_000;
            if rebuild {
                sqlx::query("SELECT platform.drop_serving_indexes($1, $2)")
                    .bind(t.schema)
                    .bind(t.table)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("dropping the serving indexes"))?;
            }
            let n = sqlx::query(&sql.insert_all)
                .bind(import_id)
                .execute(&mut *tx)
                .await
                .map_err(db("writing the live table"))?
                .rows_affected();
            if rebuild {
                sqlx::query("SELECT platform.create_serving_indexes($1, $2)")
                    .bind(t.schema)
                    .bind(t.table)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("building the serving indexes"))?;
            }
            lap("wrote the live table");
            merged.inserted = n;
            if n > 0 {
                let e: Extent = sqlx::query_as(&format!(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
                     FROM (SELECT ST_Extent(geom_3857) AS e FROM {target}) x"
                ))
                .fetch_one(&mut *tx)
                .await
                .map_err(db("measuring the new area"))?;
                merged.touched_areas = union_extent(e, (None, None, None, None))
                    .into_iter()
                    .collect();
            }
        } else {
            let diff = sql.classify(&mut tx).await?;
            lap("classified the delivery");
            if mode == MergeMode::Replace && diff.gone > 0 {
                // Replace keeps the ids of features that are delivered again; only the ones
                // the delivery no longer has are removed.
                merged.deleted = sqlx::query(&sql.delete)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("removing features the delivery no longer has"))?
                    .rows_affected();
            }
            if diff.changed > 0 {
                merged.updated = sqlx::query(&sql.update)
                    .bind(import_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("updating changed features"))?
                    .rows_affected();
            }
            if diff.new > 0 {
                merged.inserted = sqlx::query(&sql.insert_new)
                    .bind(import_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("inserting new features"))?
                    .rows_affected();
            }
            lap("wrote the live table");
            merged.not_delivered = diff.gone;
            if merged.inserted + merged.updated + merged.deleted > 0 {
                merged.touched_areas = sql.touched(&mut tx).await?;
            }
        }
        merged.unchanged = (ok_rows.max(0) as u64).saturating_sub(merged.inserted + merged.updated);
        merged.touched_3857 = merged.touched_areas.iter().copied().reduce(|g, b| {
            [
                g[0].min(b[0]),
                g[1].min(b[1]),
                g[2].max(b[2]),
                g[3].max(b[3]),
            ]
        });

        let mut report = record.report.clone();
        if let Some(obj) = report.as_object_mut() {
            obj.insert(
                "merge".into(),
                serde_json::to_value(&merged).unwrap_or_default(),
            );
        }
        sqlx::query(
            "UPDATE platform.imports SET finished_at = clock_timestamp(), inserted = $2,
                updated = $3, unchanged = $4, deleted = $5, rejected = $6, report = $7
             WHERE id = $1",
        )
        .bind(import_id)
        .bind(merged.inserted as i64)
        .bind(merged.updated as i64)
        .bind(merged.unchanged as i64)
        .bind(merged.deleted as i64)
        .bind(self.staged as i64 - ok_rows)
        .bind(&report)
        .execute(&mut *tx)
        .await
        .map_err(db("recording the import"))?;
        if own_notify {
            // One notification per touched area, so servers drop only the tiles around the
            // changes.
            // The table's change count moves with the load (gis-core migration 10), so a
            // tile store written before it is not trusted at its next start.
            let changes: Option<i64> = if merged.touched_areas.is_empty() {
                None
            } else {
                Some(
                    sqlx::query_scalar("SELECT platform.count_change($1)")
                        .bind(format!("{}.{}", t.schema, t.table))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db("counting the change"))?,
                )
            };
            for bbox in &merged.touched_areas {
                let payload = serde_json::json!({
                    "table": format!("{}.{}", t.schema, t.table), "op": "import", "bbox_3857": bbox,
                    "changes": changes,
                });
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANGES_CHANNEL)
                    .bind(payload.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("notifying servers"))?;
            }
        }
        lap("recorded the import");
        if let (true, false, Some(hooks)) = (own_notify, dry_run, hooks) {
            if !merged.touched_areas.is_empty() {
                let changes = crate::declare::BulkChanges {
                    areas_3857: &merged.touched_areas,
                    // A first load has no diff: everything it wrote is new.
                    row_boxes_sql: (!empty).then_some(sql.row_boxes.as_str()),
                };
                hooks
                    .after_bulk_load(&mut tx, &changes)
                    .await
                    .map_err(BulkError::AfterLoad)?;
            }
            lap("brought derived data up to date");
        }
        if dry_run {
            tx.rollback()
                .await
                .map_err(db("rolling back the dry run"))?;
        } else {
            tx.commit().await.map_err(db("committing"))?;
        }
        Ok(merged)
    }

    /// The plans (`EXPLAIN (FORMAT JSON)`) of the statements a [`merge`](Loader::merge) into a
    /// non-empty table runs, in order, planned against the real staged and live rows (the
    /// classification is run to plan what follows, then rolled back). For tests: every one
    /// must be a set operation, never a loop over the live table per staged row.
    pub async fn explain_merge(&mut self, mode: MergeMode) -> Result<Vec<MergePlan>, BulkError> {
        let sql = MergeSql::new(&self.table, mode);
        let mut tx = self
            .conn
            .begin()
            .await
            .map_err(db("starting the transaction"))?;
        sql.start(&mut tx).await?;
        let mut plans = Vec::new();
        let steps: [(&'static str, &str); 6] = [
            ("classify", &sql.classify),
            ("count", DIFF_COUNTS),
            ("delete", &sql.delete),
            ("update", &sql.update),
            ("insert", &sql.insert_new),
            ("touched", &sql.touched),
        ];
        for (step, text) in steps {
            let explain = format!("EXPLAIN (FORMAT JSON) {text}");
            let mut q = sqlx::query_scalar::<_, serde_json::Value>(&explain);
            q = match step {
                "update" | "insert" => q.bind(0_i64),
                "touched" => q.bind(crate::mvt::WORLD_HALF).bind(TOUCHED_CELL_3857),
                _ => q,
            };
            let plan = q
                .fetch_one(&mut *tx)
                .await
                .map_err(db("explaining the merge"))?;
            plans.push(MergePlan { step, plan });
            if step == "classify" {
                sql.classify(&mut tx).await?;
            }
        }
        tx.rollback()
            .await
            .map_err(db("rolling back the explained merge"))?;
        Ok(plans)
    }
}

/// One statement of a merge and its plan, from [`Loader::explain_merge`].
#[derive(Debug, Clone)]
pub struct MergePlan {
    /// What the statement does: classify, count, delete, update, insert, touched.
    pub step: &'static str,
    /// `EXPLAIN (FORMAT JSON)` output.
    pub plan: serde_json::Value,
}

/// Most areas one merge reports as touched and notifies; changes spread wider are grouped into
/// coarser cells until they fit.
pub const MAX_TOUCHED_AREAS: usize = 32;

/// Side of the grid cells changes are first grouped in (EPSG:3857 metres): a z8 land-use
/// overview cell (8 pixels of a z8 tile, ~4.9 km), so per-area overview refreshes never overlap.
const TOUCHED_CELL_3857: f64 = 2.0 * crate::mvt::WORLD_HALF / 8192.0;

const DIFF_COUNTS: &str =
    "SELECT count(*) FILTER (WHERE class = 'c'), count(*) FILTER (WHERE class = 'n'),
        count(*) FILTER (WHERE class = 'g') FROM bando_diff";

/// A boxed step of the merge (boxed so the merge's future stays `Send`).
type Step<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, BulkError>> + Send + 'a>>;

/// How many features of each class the classification found.
struct Diff {
    changed: u64,
    new: u64,
    gone: u64,
}

/// The statements of a merge, built once from the table's description (identifiers only;
/// values are bound).
struct MergeSql {
    target: String,
    classify: String,
    delete: String,
    update: String,
    insert_new: String,
    insert_all: String,
    touched: String,
    /// The old and new box of every touched row (a `box2d` column `b`), while `bando_diff`
    /// lives.
    row_boxes: String,
}

impl MergeSql {
    fn new(t: &FeatureTable, mode: MergeMode) -> Self {
        let target = t.qualified();
        let q = crate::db::quote_ident;
        let mut data_cols = vec!["source_id".to_string()];
        data_cols.extend(t.columns.iter().map(|c| q(c.name)));
        data_cols.push("extra".into());
        data_cols.push("geom".into());
        let insert_cols = format!("{}, import_id", data_cols.join(", "));
        let select_cols = data_cols
            .iter()
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (key_join, live) = match t.natural_key {
            // The live side is the rows of the delivery's own version(s) only.
            crate::feature::NaturalKey::SourceIdWithin(col) => (
                format!(
                    "t.source_id = s.source_id AND t.{c} IS NOT DISTINCT FROM s.{c}",
                    c = q(col)
                ),
                format!(
                    "(SELECT * FROM {target} t0 WHERE EXISTS (SELECT 1 FROM bando_stage s0
                      WHERE s0.rejected IS NULL AND s0.{c} IS NOT DISTINCT FROM t0.{c}))",
                    c = q(col)
                ),
            ),
            _ => (
                t.key_columns()
                    .iter()
                    .map(|k| format!("t.{k} = s.{k}", k = q(k)))
                    .collect::<Vec<_>>()
                    .join(" AND "),
                target.clone(),
            ),
        };
        let changed = data_cols
            .iter()
            .map(|c| format!("t.{c} IS DISTINCT FROM s.{c}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let set_list = data_cols
            .iter()
            .map(|c| format!("{c} = s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Old geometry counts as touched where it changes, and where it disappears (replace).
        let old_classes = match mode {
            MergeMode::Replace => "'c', 'g'",
            MergeMode::Upsert => "'c'",
        };
        let row_boxes = format!(
            "SELECT old_box AS b FROM bando_diff WHERE class IN ({old_classes})
             UNION ALL SELECT new_box FROM bando_diff WHERE class IN ('c', 'n')"
        );
        MergeSql {
            // One full join on the natural key (equality only, so PostgreSQL can hash or merge
            // it) classifies every feature: new (staged only), gone (live only), changed (both,
            // some value distinct); unchanged ones are not kept.
            classify: format!(
                "CREATE TEMP TABLE bando_diff ON COMMIT DROP AS
                 SELECT t.id AS live_id, s.__file AS file, s.__index AS idx,
                        (CASE WHEN t.id IS NULL THEN 'n' WHEN s.__file IS NULL THEN 'g'
                              ELSE 'c' END)::\"char\" AS class,
                        Box2D(t.geom_3857) AS old_box,
                        Box2D(ST_Transform(s.geom, 3857)) AS new_box
                 FROM (SELECT * FROM bando_stage WHERE rejected IS NULL) s
                 FULL JOIN {live} t ON {key_join}
                 WHERE t.id IS NULL OR s.__file IS NULL OR {changed}"
            ),
            delete: format!(
                "DELETE FROM {target} t USING bando_diff d WHERE d.class = 'g' AND t.id = d.live_id"
            ),
            update: format!(
                "UPDATE {target} t SET {set_list}, import_id = $1, updated_at = now()
                 FROM bando_diff d JOIN bando_stage s ON s.__file = d.file AND s.__index = d.idx
                 WHERE d.class = 'c' AND t.id = d.live_id"
            ),
            insert_new: format!(
                "INSERT INTO {target} ({insert_cols})
                 SELECT {select_cols}, $1 FROM bando_stage s
                 JOIN bando_diff d ON s.__file = d.file AND s.__index = d.idx
                 WHERE d.class = 'n' ORDER BY s.__file, s.__index"
            ),
            insert_all: format!(
                "INSERT INTO {target} ({insert_cols})
                 SELECT {select_cols}, $1 FROM bando_stage s WHERE s.rejected IS NULL
                 ORDER BY s.__file, s.__index"
            ),
            // Per grid cell ($2 metres, origin at -$1), the extent of the touched boxes whose
            // centre lies in it.
            touched: format!(
                "WITH boxes AS ({row_boxes})
                 SELECT floor(((ST_XMin(b) + ST_XMax(b)) / 2 + $1) / $2)::bigint,
                        floor(((ST_YMin(b) + ST_YMax(b)) / 2 + $1) / $2)::bigint,
                        min(ST_XMin(b)), min(ST_YMin(b)), max(ST_XMax(b)), max(ST_YMax(b))
                 FROM boxes WHERE b IS NOT NULL GROUP BY 1, 2"
            ),
            row_boxes,
            target,
        }
    }

    /// The transaction's set-up: other writers wait until the commit (readers go on, seeing
    /// the old state), and the planner joins whole sets: a nested loop over a million live
    /// rows per staged row is what made re-deliveries take hours.
    fn start<'a>(&'a self, tx: &'a mut PgConnection) -> Step<'a, ()> {
        Box::pin(async move {
            let lock = format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", self.target);
            for text in [
                lock.as_str(),
                "SET LOCAL enable_nestloop = off",
                "SET LOCAL work_mem = '64MB'",
                "DROP TABLE IF EXISTS pg_temp.bando_diff",
            ] {
                sqlx::query(text)
                    .persistent(false)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("locking the live table"))?;
            }
            Ok(())
        })
    }

    /// Runs the classification and counts its classes.
    fn classify<'a>(&'a self, tx: &'a mut PgConnection) -> Step<'a, Diff> {
        Box::pin(async move {
            for text in [self.classify.as_str(), "ANALYZE bando_diff"] {
                sqlx::query(text)
                    .persistent(false)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("comparing the delivery with the live table"))?;
            }
            let (changed, new, gone): (i64, i64, i64) = sqlx::query_as(DIFF_COUNTS)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("counting changes"))?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            Ok(Diff {
                changed: n(changed),
                new: n(new),
                gone: n(gone),
            })
        })
    }

    /// The touched area as at most [`MAX_TOUCHED_AREAS`] boxes.
    fn touched<'a>(&'a self, tx: &'a mut PgConnection) -> Step<'a, Vec<[f64; 4]>> {
        Box::pin(async move {
            let cells: Vec<(i64, i64, f64, f64, f64, f64)> = sqlx::query_as(&self.touched)
                .bind(crate::mvt::WORLD_HALF)
                .bind(TOUCHED_CELL_3857)
                .fetch_all(&mut *tx)
                .await
                .map_err(db("measuring the changed area"))?;
            Ok(group_areas(
                cells
                    .into_iter()
                    .map(|(x, y, a, b, c, d)| ((x, y), [a, b, c, d]))
                    .collect(),
                MAX_TOUCHED_AREAS,
            ))
        })
    }
}

/// Merges boxes keyed by grid cell into those of ever coarser cells (2 × 2 at a time) until at
/// most `max` remain; each result is the exact extent of the boxes it holds.
fn group_areas(mut cells: Vec<((i64, i64), [f64; 4])>, max: usize) -> Vec<[f64; 4]> {
    for _ in 0..64 {
        let mut grouped: std::collections::BTreeMap<(i64, i64), [f64; 4]> = Default::default();
        for (key, b) in cells {
            grouped
                .entry(key)
                .and_modify(|g| {
                    *g = [
                        g[0].min(b[0]),
                        g[1].min(b[1]),
                        g[2].max(b[2]),
                        g[3].max(b[3]),
                    ]
                })
                .or_insert(b);
        }
        if grouped.len() <= max.max(1) {
            return grouped.into_values().collect();
        }
        cells = grouped
            .into_iter()
            .map(|((x, y), b)| ((x >> 1, y >> 1), b))
            .collect();
    }
    // Unreachable for cell numbers of Web Mercator; one box then.
    let all = cells.into_iter().map(|(_, b)| b).reduce(|g, b| {
        [
            g[0].min(b[0]),
            g[1].min(b[1]),
            g[2].max(b[2]),
            g[3].max(b[3]),
        ]
    });
    all.into_iter().collect()
}

fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// Writes `wkb` (ISO/OGC WKB, or EWKB) as one COPY field of PostGIS's binary geometry input
/// (EWKB) carrying `srid`, so the staging table receives geometry as it is delivered and only
/// rows that need shaping are rewritten later. With `multi`, a single line or polygon becomes
/// a multi of one part (the shape the layer stores). A header that is not WKB is sent as NULL:
/// the row is then rejected as having no geometry.
fn put_ewkb(buf: &mut Vec<u8>, wkb: &[u8], srid: i32, multi: bool) {
    const SRID_FLAG: u32 = 0x2000_0000;
    const Z_FLAG: u32 = 0x8000_0000;
    const M_FLAG: u32 = 0x4000_0000;
    let header = match wkb {
        [order @ (0 | 1), a, b, c, d, ..] => Some((*order, [*a, *b, *c, *d])),
        _ => None,
    };
    let Some((order, type_bytes)) = header else {
        buf.extend_from_slice(&(-1i32).to_be_bytes());
        return;
    };
    let little = order == 1;
    let read = |b: [u8; 4]| {
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let write = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let code = read(type_bytes);
    if code & SRID_FLAG != 0 {
        // Already EWKB with its own SRID.
        put(buf, wkb);
        return;
    }
    let base = code & 0x0FFF_FFFF;
    let (iso_z, iso_m) = match base / 1000 {
        1 => (true, false),
        2 => (false, true),
        3 => (true, true),
        _ => (false, false),
    };
    let kind = base % 1000;
    let mut flags = SRID_FLAG;
    if code & Z_FLAG != 0 || iso_z {
        flags |= Z_FLAG;
    }
    if code & M_FLAG != 0 || iso_m {
        flags |= M_FLAG;
    }
    let wrap = multi && (kind == 2 || kind == 3);
    let len = if wrap { wkb.len() + 13 } else { wkb.len() + 4 };
    buf.extend_from_slice(&(len as i32).to_be_bytes());
    buf.push(order);
    if wrap {
        // MultiLineString (5) or MultiPolygon (6) of one part: the part keeps its own header.
        buf.extend_from_slice(&write((kind + 3) | flags));
        buf.extend_from_slice(&write(srid as u32));
        buf.extend_from_slice(&write(1));
        buf.extend_from_slice(wkb);
    } else {
        buf.extend_from_slice(&write(kind | flags));
        buf.extend_from_slice(&write(srid as u32));
        buf.extend_from_slice(&wkb[5..]);
    }
}

type Extent = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);

fn union_extent(a: Extent, b: Extent) -> Option<[f64; 4]> {
    let to_arr = |e: Extent| match e {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    };
    match (to_arr(a), to_arr(b)) {
        (Some(x), Some(y)) => Some([
            x[0].min(y[0]),
            x[1].min(y[1]),
            x[2].max(y[2]),
            x[3].max(y[3]),
        ]),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

/// Days since 2000-01-01 for a calendar date (proleptic Gregorian), for [`Value::Date`].
pub fn days_since_2000(year: i32, month: u32, day: u32) -> Option<i32> {
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)?;
    i32::try_from(date.signed_duration_since(epoch).num_days()).ok()
}

/// Imports may run inside spawned tasks and HTTP handlers: the merge's future must be `Send`.
#[allow(dead_code)]
fn merge_future_is_send(loader: Loader, record: ImportRecord) {
    fn send<T: Send>(_: T) {}
    send(async move { loader.merge(MergeMode::Replace, &record, false).await });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkb_is_framed_as_ewkb_with_its_srid_and_stored_shape() {
        // A little-endian ISO PolygonZ (1003) of one ring with no points (the body is opaque).
        let mut poly = vec![1u8];
        poly.extend(1003u32.to_le_bytes());
        poly.extend(0u32.to_le_bytes());
        let mut buf = Vec::new();
        put_ewkb(&mut buf, &poly, 9212, true);
        let len = i32::from_be_bytes(buf[..4].try_into().expect("length")) as usize;
        assert_eq!(len, buf.len() - 4);
        let field = &buf[4..];
        assert_eq!(field[0], 1);
        // MultiPolygon with the Z and SRID flags, SRID 9212, one part: the polygon unchanged.
        assert_eq!(
            field[1..5],
            (6u32 | 0x8000_0000 | 0x2000_0000).to_le_bytes()
        );
        assert_eq!(field[5..9], 9212u32.to_le_bytes());
        assert_eq!(field[9..13], 1u32.to_le_bytes());
        assert_eq!(&field[13..], &poly[..]);

        // A big-endian point stays a point; the header is rewritten in its byte order.
        let mut point = vec![0u8];
        point.extend(1u32.to_be_bytes());
        point.extend(1.0f64.to_be_bytes());
        point.extend(2.0f64.to_be_bytes());
        let mut buf = Vec::new();
        put_ewkb(&mut buf, &point, 5899, false);
        let field = &buf[4..];
        assert_eq!(field[1..5], (1u32 | 0x2000_0000).to_be_bytes());
        assert_eq!(field[5..9], 5899u32.to_be_bytes());
        assert_eq!(&field[9..], &point[5..]);

        // Not WKB at all: a NULL field (the row is rejected as having no geometry).
        let mut buf = Vec::new();
        put_ewkb(&mut buf, &[7, 1], 9212, true);
        assert_eq!(buf, (-1i32).to_be_bytes());
    }

    #[test]
    fn dates_count_from_2000() {
        assert_eq!(days_since_2000(2000, 1, 1), Some(0));
        assert_eq!(days_since_2000(2000, 3, 1), Some(60));
        assert_eq!(days_since_2000(1999, 12, 31), Some(-1));
        assert_eq!(days_since_2000(2024, 8, 1), Some(8979));
        assert_eq!(days_since_2000(2023, 2, 29), None);
        assert_eq!(days_since_2000(2023, 13, 1), None);
    }

    #[test]
    fn touched_areas_group_into_coarser_cells_until_few() {
        let b = |x: f64| [x, x, x + 1.0, x + 1.0];
        // Two neighbouring cells and one far away stay apart when three are allowed…
        let cells = vec![((0, 0), b(0.0)), ((1, 0), b(10.0)), ((40, 40), b(400.0))];
        assert_eq!(group_areas(cells.clone(), 3).len(), 3);
        // …and with two, the neighbours merge (cells 0 and 1 share parent 0), the far one not.
        assert_eq!(
            group_areas(cells.clone(), 2),
            vec![[0.0, 0.0, 11.0, 11.0], [400.0, 400.0, 401.0, 401.0]]
        );
        // One box covers everything in the end.
        assert_eq!(group_areas(cells, 1), vec![[0.0, 0.0, 401.0, 401.0]]);
        // Boxes of one cell are one area.
        assert_eq!(
            group_areas(vec![((5, 5), b(0.0)), ((5, 5), b(3.0))], 8),
            vec![[0.0, 0.0, 4.0, 4.0]]
        );
        assert!(group_areas(Vec::new(), 8).is_empty());
    }

    #[test]
    fn extents_union() {
        let a = (Some(0.0), Some(0.0), Some(1.0), Some(1.0));
        let b = (Some(-1.0), Some(0.5), Some(0.5), Some(2.0));
        assert_eq!(union_extent(a, b), Some([-1.0, 0.0, 1.0, 2.0]));
        assert_eq!(
            union_extent((None, None, None, None), b),
            Some([-1.0, 0.5, 0.5, 2.0])
        );
    }
}
