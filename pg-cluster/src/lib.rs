//! # pg-cluster — bando's private PostgreSQL + PostGIS cluster
//!
//! The private cluster: the embedded default when no `DATABASE_URL`
//! is set.
//!
//! The cluster is a plain data directory run by the system's own PostgreSQL binaries
//! (`initdb`, `pg_ctl`), listening on a Unix socket in a private directory so that it never
//! collides with a server already running on the machine (port 5432 is often taken). A TCP
//! listener on 127.0.0.1 and a free port can be asked for (tests use it to play "an existing
//! server"). PostgreSQL refuses to run as root, so when bando runs as root the cluster's
//! processes run as the unprivileged `postgres` system user, which owns the data directory.
//!
//! A second start finds the data directory and reuses it; a cluster already running on the same
//! directory (found through `postmaster.pid`) is joined, not restarted, and left running.
#![deny(missing_docs)]

use std::ffi::OsStr;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Name of the superuser and the database created in a private cluster.
pub const CLUSTER_USER: &str = "bando";
/// Name of the database bando uses in a private cluster.
pub const CLUSTER_DATABASE: &str = "bando";

/// Errors of the private cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No PostgreSQL server binaries were found.
    #[error("PostgreSQL server binaries (initdb, pg_ctl) were not found: install PostgreSQL 15 and PostGIS 3 (Debian: apt-get install postgresql-15-postgis-3), or set DATABASE_URL to use an existing server")]
    BinariesNotFound,
    /// The data directory cannot be used.
    #[error("cannot use data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A PostgreSQL tool failed.
    #[error("{tool} failed (exit {code:?}): {output}")]
    Tool {
        /// Which command.
        tool: String,
        /// Its exit code.
        code: Option<i32>,
        /// Its stderr/stdout, trimmed.
        output: String,
    },
    /// The PostGIS extension is not installed for this PostgreSQL.
    #[error("the PostGIS extension is not installed for this PostgreSQL server: install postgresql-15-postgis-3 (Debian) — {0}")]
    NoPostgis(String),
    /// Running a command failed at the OS level.
    #[error("cannot run {tool}: {source}")]
    Spawn {
        /// Which command.
        tool: String,
        /// The OS error.
        source: io::Error,
    },
    /// Talking to the started cluster failed.
    #[error("private cluster started but refused the connection: {0}")]
    Connect(#[from] sqlx::Error),
}

/// Options for a private cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Where bando keeps its state; the cluster lives in `<data_dir>/pg`.
    pub data_dir: PathBuf,
    /// Also listen on 127.0.0.1 at a free TCP port (otherwise Unix socket only).
    pub tcp: bool,
}

/// A running private cluster. Dropping it does not stop it: call [`PrivateCluster::stop`].
#[derive(Debug)]
pub struct PrivateCluster {
    pgdata: PathBuf,
    bin_dir: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    tcp: bool,
    run_as_postgres: bool,
    started_here: bool,
}

impl PrivateCluster {
    /// Initialises (first time) and starts the cluster, or joins it if it is already running.
    /// Creates the `bando` database and the PostGIS extension.
    pub async fn start(opts: &ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir()?;
        let run_as_postgres = is_root();
        std::fs::create_dir_all(&opts.data_dir).map_err(|e| data_dir_err(&opts.data_dir, e))?;
        let data_dir = opts
            .data_dir
            .canonicalize()
            .map_err(|e| data_dir_err(&opts.data_dir, e))?;
        let pgdata = data_dir.join("pg");
        let socket_dir = socket_dir_for(&data_dir);
        std::fs::create_dir_all(&socket_dir).map_err(|e| data_dir_err(&socket_dir, e))?;
        if run_as_postgres {
            make_reachable_for_postgres(&pgdata)?;
            make_reachable_for_postgres(&socket_dir)?;
            chown_postgres(&socket_dir)?;
        }
        let mut cluster = PrivateCluster {
            pgdata: pgdata.clone(),
            bin_dir,
            socket_dir,
            port: 5432,
            tcp: opts.tcp,
            run_as_postgres,
            started_here: false,
        };
        if !cluster.pgdata.join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        if let Some((port, socket, tcp)) = cluster.running_postmaster() {
            tracing::info!(pgdata = %cluster.pgdata.display(), port, "joining running private cluster");
            cluster.port = port;
            cluster.socket_dir = socket;
            cluster.tcp = tcp;
        } else {
            cluster.port = if opts.tcp { free_port()? } else { 5432 };
            cluster.pg_ctl_start()?;
            cluster.started_here = true;
        }
        cluster.ensure_database().await?;
        Ok(cluster)
    }

    /// Connection options for the `bando` database (over the Unix socket).
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host(&self.socket_dir.to_string_lossy())
            .port(self.port)
            .username(CLUSTER_USER)
            .database(CLUSTER_DATABASE)
            .disable_statement_logging()
    }

    /// A `postgres://` URL over TCP, when the cluster listens on TCP.
    pub fn tcp_url(&self, database: &str) -> Option<String> {
        self.tcp.then(|| {
            format!(
                "postgres://{CLUSTER_USER}@127.0.0.1:{}/{database}",
                self.port
            )
        })
    }

    /// The directory PostgreSQL's files live in.
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// The TCP port (or the number in the socket's name when Unix-only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this process started the cluster (rather than joining a running one).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Stops the cluster if this process started it ("fast" shutdown: sessions are ended,
    /// committed data is safe).
    pub fn stop(&self) -> Result<(), ClusterError> {
        if !self.started_here {
            return Ok(());
        }
        self.force_stop()
    }

    /// Stops a private cluster running on `data_dir` without starting anything; `Ok(false)` when
    /// none runs there. For clusters left running (a killed bando, the test harness's cluster).
    pub fn stop_running(data_dir: &Path) -> Result<bool, ClusterError> {
        let pgdata = data_dir.join("pg");
        if !pgdata.join("postmaster.pid").exists() {
            return Ok(false);
        }
        // The tools run from "/", so the path must be absolute.
        let data_dir = &data_dir
            .canonicalize()
            .map_err(|e| data_dir_err(data_dir, e))?;
        let pgdata = data_dir.join("pg");
        let cluster = PrivateCluster {
            pgdata,
            bin_dir: find_bin_dir()?,
            socket_dir: socket_dir_for(data_dir),
            port: 0,
            tcp: false,
            run_as_postgres: is_root(),
            started_here: true,
        };
        if cluster.running_postmaster().is_none() {
            return Ok(false);
        }
        cluster.force_stop()?;
        Ok(true)
    }

    /// Stops the cluster whoever started it.
    pub fn force_stop(&self) -> Result<(), ClusterError> {
        let pgdata = self.pgdata.to_string_lossy().to_string();
        self.run_tool(
            "pg_ctl",
            &["stop", "-D", &pgdata, "-m", "fast", "-w", "-t", "60"],
        )?;
        Ok(())
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        std::fs::create_dir_all(&self.pgdata).map_err(|e| data_dir_err(&self.pgdata, e))?;
        std::fs::set_permissions(&self.pgdata, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| data_dir_err(&self.pgdata, e))?;
        if self.run_as_postgres {
            chown_postgres(&self.pgdata)?;
        }
        let pgdata = self.pgdata.to_string_lossy().to_string();
        tracing::info!(pgdata = %pgdata, "initialising private PostgreSQL cluster");
        self.run_tool(
            "initdb",
            &[
                "-D",
                &pgdata,
                "-U",
                CLUSTER_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
        )?;
        // Settings that suit a single-user workstation cluster; the socket directory and port are
        // given at each start so a moved project still works.
        let conf = "\n# bando private cluster\nlisten_addresses = ''\nmax_connections = 100\nshared_buffers = 256MB\nfsync = on\nlogging_collector = off\n";
        let path = self.pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).map_err(|e| data_dir_err(&path, e))?;
        text.push_str(conf);
        std::fs::write(&path, text).map_err(|e| data_dir_err(&path, e))?;
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let pgdata = self.pgdata.to_string_lossy().to_string();
        let log = self.pgdata.join("server.log").to_string_lossy().to_string();
        let listen = if self.tcp { "127.0.0.1" } else { "" };
        let options = format!(
            "-k {} -p {} -c listen_addresses='{}'",
            self.socket_dir.to_string_lossy(),
            self.port,
            listen
        );
        tracing::info!(pgdata = %pgdata, port = self.port, "starting private PostgreSQL cluster");
        let result = self.run_tool(
            "pg_ctl",
            &[
                "start", "-D", &pgdata, "-l", &log, "-w", "-t", "60", "-o", &options,
            ],
        );
        if let Err(ClusterError::Tool { tool, code, output }) = result {
            let tail = std::fs::read_to_string(&log)
                .map(|t| t.lines().rev().take(5).collect::<Vec<_>>().join(" | "))
                .unwrap_or_default();
            return Err(ClusterError::Tool {
                tool,
                code,
                output: format!("{output} (server log: {tail})"),
            });
        }
        result.map(|_| ())
    }

    /// Port, socket directory and TCP flag of a postmaster running on this data directory.
    fn running_postmaster(&self) -> Option<(u16, PathBuf, bool)> {
        let pgdata = self.pgdata.to_string_lossy().to_string();
        self.run_tool("pg_ctl", &["status", "-D", &pgdata]).ok()?;
        // postmaster.pid: pid, datadir, start time, port, socket dir, listen address, …
        let pid_file = std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        let lines: Vec<&str> = pid_file.lines().collect();
        let port = lines.get(3)?.trim().parse().ok()?;
        let socket = PathBuf::from(lines.get(4)?.trim());
        let tcp = lines.get(5).is_some_and(|l| !l.trim().is_empty());
        Some((port, socket, tcp))
    }

    async fn ensure_database(&self) -> Result<(), ClusterError> {
        let admin = self.connect_options().database("postgres");
        let mut conn = connect_with_retry(&admin).await?;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(CLUSTER_DATABASE)
                .fetch_optional(&mut conn)
                .await?;
        if exists.is_none() {
            // The name is a constant, not user text.
            sqlx::query(&format!("CREATE DATABASE {CLUSTER_DATABASE}"))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        let mut conn = connect_with_retry(&self.connect_options()).await?;
        if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
            .execute(&mut conn)
            .await
        {
            return Err(ClusterError::NoPostgis(e.to_string()));
        }
        conn.close().await?;
        Ok(())
    }

    fn run_tool(&self, tool: &str, args: &[&str]) -> Result<String, ClusterError> {
        let program = self.bin_dir.join(tool);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args.iter().map(OsStr::new));
        // Run from a directory the postgres user can enter.
        cmd.current_dir("/");
        let out = cmd.output().map_err(|source| ClusterError::Spawn {
            tool: tool.to_string(),
            source,
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(ClusterError::Tool {
                tool: tool.to_string(),
                code: out.status.code(),
                output: text.trim().to_string(),
            })
        }
    }
}

async fn connect_with_retry(opts: &PgConnectOptions) -> Result<sqlx::PgConnection, ClusterError> {
    let mut last = None;
    for _ in 0..50 {
        match opts.connect().await {
            Ok(c) => return Ok(c),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Err(ClusterError::Connect(
        last.unwrap_or(sqlx::Error::PoolTimedOut),
    ))
}

fn data_dir_err(path: &Path, e: io::Error) -> ClusterError {
    ClusterError::DataDir {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn is_root() -> bool {
    // SAFETY-free: geteuid has no preconditions; libc exposes it as a safe-to-call extern fn.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// Finds the PostgreSQL server binaries: `BANDO_PG_BINDIR`, `pg_config --bindir`, the newest
/// `/usr/lib/postgresql/*/bin`, or `initdb` on PATH.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("BANDO_PG_BINDIR").map(PathBuf::from) {
        if has_tools(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, d)| has_tools(d))
        .collect();
    candidates.sort();
    if let Some((_, dir)) = candidates.pop() {
        return Ok(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&dir) {
            return Ok(dir);
        }
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| has_tools(d))
        .ok_or(ClusterError::BinariesNotFound)
}

/// The socket directory: `<data_dir>/run`, or a short path under /tmp when the data directory's
/// path would exceed the 107-byte limit of a Unix socket name.
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    let preferred = data_dir.join("run");
    // ".s.PGSQL.NNNNN" adds 15 bytes.
    if preferred.as_os_str().len() + 16 < 100 {
        return preferred;
    }
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in data_dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    PathBuf::from(format!("/tmp/bando-{hash:016x}"))
}

fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| ClusterError::Spawn {
        tool: "bind".into(),
        source,
    })?;
    let port = listener
        .local_addr()
        .map_err(|source| ClusterError::Spawn {
            tool: "bind".into(),
            source,
        })?
        .port();
    Ok(port)
}

fn chown_postgres(path: &Path) -> Result<(), ClusterError> {
    let out = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .output()
        .map_err(|source| ClusterError::Spawn {
            tool: "chown".into(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ClusterError::DataDir {
            path: path.to_path_buf(),
            reason: format!(
                "cannot hand it to the postgres user (PostgreSQL refuses to run as root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// PostgreSQL runs as `postgres` when bando runs as root; it must be able to enter every
/// ancestor of `path` (not `path` itself, which it owns). Adds the search (x) bit for others where it is missing —
/// this reveals no file contents or listings.
fn make_reachable_for_postgres(path: &Path) -> Result<(), ClusterError> {
    for ancestor in path.ancestors().skip(1) {
        let meta = std::fs::metadata(ancestor).map_err(|e| data_dir_err(ancestor, e))?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            tracing::warn!(dir = %ancestor.display(), "adding o+x so the postgres user can reach the private cluster");
            std::fs::set_permissions(ancestor, std::fs::Permissions::from_mode(mode | 0o001))
                .map_err(|e| data_dir_err(ancestor, e))?;
        }
    }
    Ok(())
}
