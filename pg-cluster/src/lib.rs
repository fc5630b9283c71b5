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
//!
//! No `trust` authentication: every connection, socket or TCP, gives the `bando` role's password
//! (scram-sha-256), generated at the first start and kept in `<data_dir>/pg-password` (0600). The
//! socket directory is `<data_dir>/run` (0700), or, when that path is too long for a socket name, a
//! fresh `mkdtemp` directory — never a name under `/tmp` that another user could create first.
//! A cluster made by an older bando with `trust` is given the password and switched to scram at
//! its next start.
//!
//! A streaming standby of a private cluster ([`PrivateCluster::start_standby`], for scale-out
//! tests and small deployments) is a copy made with `pg_basebackup -R`, started on its own port
//! and socket directory; bando writes nothing to it (no role or database set-up).
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
/// The file in the data directory holding the `bando` role's password.
pub const PASSWORD_FILE: &str = "pg-password";
/// Prefix of a socket directory made with `mkdtemp` (long data directory paths).
const TEMP_SOCKET_PREFIX: &str = "bando-pg-";

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
    password: String,
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
        if run_as_postgres {
            make_reachable_for_postgres(&pgdata)?;
        }
        let password = ensure_password(&data_dir, run_as_postgres)?;
        let mut cluster = PrivateCluster {
            pgdata: pgdata.clone(),
            bin_dir,
            socket_dir: PathBuf::new(),
            port: 5432,
            tcp: opts.tcp,
            run_as_postgres,
            started_here: false,
            password,
        };
        if !cluster.pgdata.join("PG_VERSION").exists() {
            cluster.initdb(&data_dir.join(PASSWORD_FILE))?;
        }
        if let Some((port, socket, tcp)) = cluster.running_postmaster() {
            tracing::info!(pgdata = %cluster.pgdata.display(), port, "joining running private cluster");
            cluster.port = port;
            cluster.socket_dir = socket;
            cluster.tcp = tcp;
        } else {
            cluster.socket_dir = make_socket_dir(&data_dir, run_as_postgres)?;
            cluster.port = if opts.tcp { free_port()? } else { 5432 };
            cluster.pg_ctl_start()?;
            cluster.started_here = true;
        }
        // A standby is read-only: its roles and databases are the primary's.
        if !cluster.is_standby() {
            cluster.upgrade_trust().await?;
            cluster.ensure_database().await?;
        }
        Ok(cluster)
    }

    /// Makes (the first time) a streaming standby of `primary` in `opts.data_dir` and starts it
    /// on its own port and socket directory, or joins it when it already runs.
    ///
    /// The copy is `pg_basebackup -R -X stream` over the primary's Unix socket, run as the user
    /// PostgreSQL runs as; `-R` writes `standby.signal` and the `primary_conninfo` (with the
    /// password, in `postgresql.auto.conf`, 0600) the standby streams from. The standby has the
    /// primary's roles, so its password file is the primary's. It answers reads (hot standby);
    /// writes fail with SQLSTATE 25006.
    pub async fn start_standby(
        opts: &ClusterOptions,
        primary: &PrivateCluster,
    ) -> Result<Self, ClusterError> {
        let run_as_postgres = is_root();
        std::fs::create_dir_all(&opts.data_dir).map_err(|e| data_dir_err(&opts.data_dir, e))?;
        let data_dir = opts
            .data_dir
            .canonicalize()
            .map_err(|e| data_dir_err(&opts.data_dir, e))?;
        let pgdata = data_dir.join("pg");
        if !pgdata.join("PG_VERSION").exists() {
            if run_as_postgres {
                make_reachable_for_postgres(&pgdata)?;
            }
            let password_file = data_dir.join(PASSWORD_FILE);
            if std::fs::symlink_metadata(&password_file).is_err() {
                write_password(&password_file, &primary.password, run_as_postgres)?;
            }
            std::fs::create_dir_all(&pgdata).map_err(|e| data_dir_err(&pgdata, e))?;
            std::fs::set_permissions(&pgdata, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| data_dir_err(&pgdata, e))?;
            if run_as_postgres {
                chown_postgres(&pgdata)?;
            }
            let target = pgdata.to_string_lossy().to_string();
            let source = format!(
                "host={} port={} user={CLUSTER_USER} application_name=bando-standby",
                primary.socket_dir.to_string_lossy(),
                primary.port
            );
            tracing::info!(pgdata = %target, "copying the primary for a streaming standby");
            // The password goes through the environment, never the command line (which other
            // users of the machine can read).
            primary.run_tool_env(
                "pg_basebackup",
                &[
                    "-D",
                    &target,
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-sync",
                    "-d",
                    &source,
                ],
                &[("PGPASSWORD", primary.password.as_str())],
            )?;
            let auto = pgdata.join("postgresql.auto.conf");
            let written = std::fs::read_to_string(&auto).map_err(|e| data_dir_err(&auto, e))?;
            if !written.contains("primary_conninfo") || !pgdata.join("standby.signal").exists() {
                return Err(ClusterError::DataDir {
                    path: pgdata,
                    reason: "pg_basebackup -R wrote no standby configuration".into(),
                });
            }
        }
        Self::start(opts).await
    }

    /// Whether this cluster is a standby (it has `standby.signal`).
    pub fn is_standby(&self) -> bool {
        self.pgdata.join("standby.signal").exists()
    }

    /// Connection options for the `bando` database (over the Unix socket).
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host(&self.socket_dir.to_string_lossy())
            .port(self.port)
            .username(CLUSTER_USER)
            .password(&self.password)
            .database(CLUSTER_DATABASE)
            .disable_statement_logging()
    }

    /// A `postgres://` URL over TCP, with the password, when the cluster listens on TCP.
    pub fn tcp_url(&self, database: &str) -> Option<String> {
        self.tcp.then(|| {
            format!(
                "postgres://{CLUSTER_USER}:{}@127.0.0.1:{}/{database}",
                url_encode(&self.password),
                self.port
            )
        })
    }

    /// The directory holding the cluster's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
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

    /// Starts this cluster again after a [`PrivateCluster::force_stop`], on the same port (so
    /// URLs given out stay valid); a running one is left as it is.
    pub fn start_again(&mut self) -> Result<(), ClusterError> {
        if self.running_postmaster().is_some() {
            return Ok(());
        }
        if !self.socket_dir.is_dir() {
            let data_dir = self
                .pgdata
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.pgdata.clone());
            self.socket_dir = make_socket_dir(&data_dir, self.run_as_postgres)?;
        }
        self.pg_ctl_start()?;
        self.started_here = true;
        Ok(())
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
        let mut cluster = PrivateCluster {
            pgdata,
            bin_dir: find_bin_dir()?,
            socket_dir: PathBuf::new(),
            port: 0,
            tcp: false,
            run_as_postgres: is_root(),
            started_here: true,
            password: String::new(),
        };
        let Some((_, socket_dir, _)) = cluster.running_postmaster() else {
            return Ok(false);
        };
        cluster.socket_dir = socket_dir;
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
        // A mkdtemp socket directory is made per start; leave none behind.
        let temp_made = self
            .socket_dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(TEMP_SOCKET_PREFIX))
            && self.socket_dir.starts_with(std::env::temp_dir());
        if temp_made {
            let _ = std::fs::remove_dir(&self.socket_dir);
        }
        Ok(())
    }

    fn initdb(&self, password_file: &Path) -> Result<(), ClusterError> {
        std::fs::create_dir_all(&self.pgdata).map_err(|e| data_dir_err(&self.pgdata, e))?;
        std::fs::set_permissions(&self.pgdata, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| data_dir_err(&self.pgdata, e))?;
        if self.run_as_postgres {
            chown_postgres(&self.pgdata)?;
        }
        let pgdata = self.pgdata.to_string_lossy().to_string();
        let pwfile = format!("--pwfile={}", password_file.to_string_lossy());
        tracing::info!(pgdata = %pgdata, "initialising private PostgreSQL cluster");
        self.run_tool(
            "initdb",
            &[
                "-D",
                &pgdata,
                "-U",
                CLUSTER_USER,
                "--auth=scram-sha-256",
                &pwfile,
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

    /// A cluster initialised by an older bando trusts every local connection: give the role the
    /// password and require it from now on.
    async fn upgrade_trust(&self) -> Result<(), ClusterError> {
        let hba_path = self.pgdata.join("pg_hba.conf");
        let hba = std::fs::read_to_string(&hba_path).map_err(|e| data_dir_err(&hba_path, e))?;
        let Some(upgraded) = without_trust(&hba) else {
            return Ok(());
        };
        tracing::warn!(pgdata = %self.pgdata.display(), "private cluster trusted local connections: switching to scram-sha-256");
        let mut conn = connect_with_retry(&self.connect_options().database("postgres")).await?;
        // ALTER ROLE takes no bind parameters; the literal is quoted by doubling quotes.
        let literal = self.password.replace('\'', "''");
        sqlx::raw_sql(&format!(
            "SET password_encryption = 'scram-sha-256'; ALTER ROLE {CLUSTER_USER} PASSWORD '{literal}'"
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        std::fs::write(&hba_path, upgraded).map_err(|e| data_dir_err(&hba_path, e))?;
        let pgdata = self.pgdata.to_string_lossy().to_string();
        self.run_tool("pg_ctl", &["reload", "-D", &pgdata])?;
        Ok(())
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
        self.run_tool_env(tool, args, &[])
    }

    fn run_tool_env(
        &self,
        tool: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<String, ClusterError> {
        let program = self.bin_dir.join(tool);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args.iter().map(OsStr::new));
        cmd.envs(env.iter().copied());
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

/// A socket directory for a new start: `<data_dir>/run` (0700), or a fresh `mkdtemp` directory
/// (0700) when the data directory's path would exceed the 107-byte limit of a socket name.
fn make_socket_dir(data_dir: &Path, run_as_postgres: bool) -> Result<PathBuf, ClusterError> {
    let preferred = data_dir.join("run");
    // ".s.PGSQL.NNNNN" adds 15 bytes.
    let dir = if preferred.as_os_str().len() + 16 < 100 {
        match std::fs::symlink_metadata(&preferred) {
            Ok(meta) if !meta.is_dir() => {
                return Err(ClusterError::DataDir {
                    path: preferred,
                    reason: "the socket directory is not a directory (a symlink?)".into(),
                })
            }
            Ok(_) => {}
            Err(_) => {
                std::fs::create_dir(&preferred).map_err(|e| data_dir_err(&preferred, e))?;
            }
        }
        std::fs::set_permissions(&preferred, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| data_dir_err(&preferred, e))?;
        preferred
    } else {
        tempfile::Builder::new()
            .prefix(TEMP_SOCKET_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| data_dir_err(&std::env::temp_dir(), e))?
            .keep()
    };
    if run_as_postgres {
        chown_postgres(&dir)?;
    }
    Ok(dir)
}

/// The role's password: read from `<data_dir>/pg-password`, or generated (256 random bits, hex)
/// and written there 0600 — created new, never through a symlink. Owned by `postgres` when bando
/// runs as root, so `initdb --pwfile` can read it (root reads it anyway).
fn ensure_password(data_dir: &Path, run_as_postgres: bool) -> Result<String, ClusterError> {
    use std::io::Read;
    let path = data_dir.join(PASSWORD_FILE);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) => {
            if !meta.is_file() {
                return Err(ClusterError::DataDir {
                    path,
                    reason: "the password file is not a regular file (a symlink?)".into(),
                });
            }
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| data_dir_err(&path, e))?;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| data_dir_err(&path, e))?;
            let password = text.trim().to_string();
            if password.is_empty() {
                return Err(ClusterError::DataDir {
                    path,
                    reason: "the password file is empty".into(),
                });
            }
            Ok(password)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .map_err(|e| data_dir_err(Path::new("/dev/urandom"), e))?;
            let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            write_password(&path, &password, run_as_postgres)?;
            Ok(password)
        }
        Err(e) => Err(data_dir_err(&path, e)),
    }
}

/// Writes a new password file: 0600, created new, never through a symlink.
fn write_password(path: &Path, password: &str, run_as_postgres: bool) -> Result<(), ClusterError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| data_dir_err(path, e))?;
    file.write_all(format!("{password}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| data_dir_err(path, e))?;
    if run_as_postgres {
        chown_postgres(path)?;
    }
    Ok(())
}

/// `pg_hba.conf` with every `trust` method replaced by `scram-sha-256`; `None` when it trusts
/// nothing.
fn without_trust(hba: &str) -> Option<String> {
    let mut changed = false;
    let lines: Vec<String> = hba
        .lines()
        .map(|line| {
            let content = line.split('#').next().unwrap_or("");
            let mut words = content.split_whitespace();
            match words.next_back() {
                Some("trust") if words.next().is_some() => {
                    changed = true;
                    match content.rfind("trust") {
                        Some(at) => format!("{}scram-sha-256", &content[..at]),
                        None => line.to_string(),
                    }
                }
                _ => line.to_string(),
            }
        })
        .collect();
    changed.then(|| lines.join("\n") + "\n")
}

/// Percent-encodes what a URL's userinfo cannot hold verbatim.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_lines_become_scram_and_the_rest_is_kept() {
        let hba = "# TYPE DATABASE USER ADDRESS METHOD\nlocal all all trust\nhost all all 127.0.0.1/32 trust # old\nhost all all ::1/128 scram-sha-256\n";
        let upgraded = without_trust(hba).expect("trust found");
        assert!(
            !upgraded.lines().any(|l| l.ends_with("trust")),
            "{upgraded}"
        );
        assert!(
            upgraded.contains("local all all scram-sha-256"),
            "{upgraded}"
        );
        assert!(
            upgraded.contains("127.0.0.1/32 scram-sha-256"),
            "{upgraded}"
        );
        assert!(upgraded.starts_with("# TYPE"), "{upgraded}");
        assert_eq!(without_trust(&upgraded), None);
    }

    #[test]
    fn passwords_are_percent_encoded_in_urls() {
        assert_eq!(url_encode("ab09"), "ab09");
        assert_eq!(url_encode("a@b:c/d"), "a%40b%3Ac%2Fd");
    }

    #[test]
    fn a_generated_password_is_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_password(dir.path(), false).expect("generated");
        assert_eq!(first.len(), 64);
        let meta = std::fs::metadata(dir.path().join(PASSWORD_FILE)).expect("file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(ensure_password(dir.path(), false).expect("read"), first);
    }

    #[test]
    fn a_planted_password_symlink_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "x").expect("target");
        std::os::unix::fs::symlink(&target, dir.path().join(PASSWORD_FILE)).expect("link");
        let err = ensure_password(dir.path(), false).expect_err("symlink");
        assert!(err.to_string().contains("symlink"), "{err}");
    }
}
