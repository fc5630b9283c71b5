//! The database: where it is (an existing server named by `DATABASE_URL`, or bando's private
//! cluster), the connection pool, and the versioned, embedded migrations.
//!
//! Each crate that owns tables embeds its own migrations with `sqlx::migrate!` in a version range
//! of its own (gis-core 1–999, land 1001–1999, planning 2001–2999, utilities 3001–3999,
//! importers 4001–4999); [`Migrations`] merges them into one ordered set, so `bando db migrate`
//! applies every crate's schema in one run and `bando db status` reports them together.

pub mod class;
pub mod lsn;
pub mod route;

use std::path::PathBuf;
use std::time::Duration;

use sqlx::migrate::{Migrate, Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

pub use class::{cancel_on_drop, class_pool, PoolClass};
/// The private cluster (its own crate, `pg-cluster`).
pub use pg_cluster as cluster;
pub use pg_cluster::{ClusterError, ClusterOptions, PrivateCluster};

/// Errors of opening and migrating the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The private cluster could not be started.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// `DATABASE_URL` is not a PostgreSQL URL.
    #[error("DATABASE_URL is not a valid PostgreSQL URL ({redacted}): {reason}")]
    BadUrl {
        /// The URL with any password removed.
        redacted: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server could not be reached.
    #[error("cannot connect to the database at {target}: {source}")]
    Connect {
        /// Where (password removed).
        target: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A migration failed; the database is left at the last applied version.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// The server has no PostGIS.
    #[error("the database has no PostGIS extension and bando could not create it: {0}")]
    NoPostgis(String),
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum DbLocation {
    /// An existing server (from `DATABASE_URL`).
    Url(String),
    /// bando's private cluster in this data directory.
    Private(ClusterOptions),
}

impl DbLocation {
    /// `DATABASE_URL` if set (and not empty), else a private cluster under `data_dir`.
    pub fn from_env(data_dir: PathBuf) -> Self {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => DbLocation::Url(url),
            _ => DbLocation::Private(ClusterOptions {
                data_dir,
                tcp: false,
            }),
        }
    }
}

/// An open database: the pool, and the private cluster if bando runs one.
#[derive(Debug)]
pub struct Database {
    /// The connection pool.
    pub pool: PgPool,
    cluster: Option<PrivateCluster>,
    target: String,
}

impl Database {
    /// Opens the database (starting the private cluster when needed) with a pool of at most
    /// `max_connections`.
    pub async fn open(location: &DbLocation, max_connections: u32) -> Result<Self, DbError> {
        let (options, cluster, target) = match location {
            DbLocation::Url(url) => {
                let redacted = redact_url(url);
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(DbError::BadUrl {
                        redacted,
                        reason: "it must start with postgres:// or postgresql://".into(),
                    });
                }
                let opts: PgConnectOptions =
                    url.parse().map_err(|e: sqlx::Error| DbError::BadUrl {
                        redacted: redacted.clone(),
                        reason: e.to_string(),
                    })?;
                (opts, None, redacted)
            }
            DbLocation::Private(opts) => {
                let cluster = PrivateCluster::start(opts).await?;
                let target = format!("private cluster in {}", cluster.pgdata().display());
                (cluster.connect_options(), Some(cluster), target)
            }
        };
        let options = session_options(options);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| DbError::Connect {
                target: target.clone(),
                source,
            })?;
        Ok(Database {
            pool,
            cluster,
            target,
        })
    }

    /// Where the database is, for logs (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The private cluster, when bando runs one.
    pub fn cluster(&self) -> Option<&PrivateCluster> {
        self.cluster.as_ref()
    }

    /// Closes the pool and stops the private cluster if this process started it.
    pub async fn close(self) -> Result<(), DbError> {
        self.pool.close().await;
        if let Some(cluster) = &self.cluster {
            cluster.stop()?;
        }
        Ok(())
    }
}

/// bando's session settings on connection options (every pool, primary or replica).
fn session_options(options: PgConnectOptions) -> PgConnectOptions {
    // A fixed search_path: a user named like one of bando's schemas would otherwise see
    // "$user" resolve to it, and sqlx's bookkeeping table would move between schemas.
    // Custom plans always: spatial queries bind their bbox, tile and filter values, and the
    // generic plan PostgreSQL switches to after five executions of a prepared statement
    // cannot see them (measured: a 1,000-parcel OGC items page went from 12 ms to 19 ms).
    options
        .options([
            ("search_path", "public"),
            ("plan_cache_mode", "force_custom_plan"),
        ])
        .application_name("bando")
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(60))
}

/// Connection options of a read replica (`[database] read_urls`) with bando's session
/// settings; the pools over them connect lazily.
pub fn replica_options(url: &str) -> Result<PgConnectOptions, DbError> {
    let redacted = redact_url(url);
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(DbError::BadUrl {
            redacted,
            reason: "it must start with postgres:// or postgresql://".into(),
        });
    }
    let opts: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| DbError::BadUrl {
        redacted,
        reason: e.to_string(),
    })?;
    Ok(session_options(opts))
}

/// Removes the password from a connection URL.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_string(),
        },
        None => "(unparsable URL)".to_string(),
    }
}

/// The union of every crate's embedded migrations.
#[derive(Debug)]
pub struct Migrations {
    migrator: Migrator,
}

/// gis-core's own migrations (PostGIS, VN-2000 CRSs, layer catalog).
pub static CORE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// One applied-or-pending line of `bando db status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    /// Version number.
    pub version: i64,
    /// Description from the file name.
    pub description: String,
    /// Applied to this database.
    pub applied: bool,
}

impl Migrations {
    /// Merges migration sets; versions must not collide (each crate has its own range).
    pub fn new(sets: &[&Migrator]) -> Self {
        let mut all: Vec<Migration> = sets.iter().flat_map(|m| m.iter().cloned()).collect();
        all.sort_by_key(|m| m.version);
        all.dedup_by_key(|m| m.version);
        let mut migrator = Migrator::DEFAULT;
        migrator.migrations = all.into();
        Migrations { migrator }
    }

    /// Applies every pending migration (each in its own transaction).
    pub async fn run(&self, pool: &PgPool) -> Result<(), DbError> {
        self.migrator.run(pool).await?;
        Ok(())
    }

    /// Which migrations are applied.
    pub async fn status(&self, pool: &PgPool) -> Result<Vec<MigrationStatus>, DbError> {
        let mut conn = pool.acquire().await?;
        conn.ensure_migrations_table().await?;
        let applied = conn.list_applied_migrations().await?;
        Ok(self
            .migrator
            .iter()
            .map(|m| MigrationStatus {
                version: m.version,
                description: m.description.to_string(),
                applied: applied.iter().any(|a| a.version == m.version),
            })
            .collect())
    }

    /// Every migration, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Migration> {
        self.migrator.iter()
    }
}

/// Whether PostGIS refused a coordinate transformation (through PROJ): a point outside the
/// area where a projection is defined, a latitude beyond ±90°… PostGIS reports these as internal
/// errors (SQLSTATE XX000), yet they come from coordinates a user wrote, so callers answer 400.
pub fn is_transform_error(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if db.code().as_deref() != Some("XX000") {
        return false;
    }
    let m = db.message().to_ascii_lowercase();
    [
        "transform",
        "projection domain",
        "conversion failed",
        "exceeded limits",
        "proj",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// Double-quotes an SQL identifier (for table names that come from the layer registry, never
/// from user input).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert!(!redact_url("nonsense").contains("nonsense"));
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("land"), "\"land\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn core_migrations_are_in_core_range() {
        assert!(CORE_MIGRATIONS
            .iter()
            .all(|m| (1..1000).contains(&m.version)));
        assert!(CORE_MIGRATIONS.iter().count() >= 3);
    }
}
