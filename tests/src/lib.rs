//! # tests — integration tests against real PostGIS, real files and the real binary
//!
//! This library is the harness the tests in `tests/it/` share:
//!
//! - [`TestDb::new`] gives each test its own database, cloned from a migrated template, on
//!   **a real PostgreSQL + PostGIS server**: the one `DATABASE_URL` names when it is set
//!   (an existing server), otherwise a private cluster the harness starts once per run with
//!   bando's own [`gis_core::db::PrivateCluster`] in `target/test-cluster`, listening on
//!   127.0.0.1 at a free port — so both the existing-server path (a TCP URL) and the private
//!   cluster are exercised. `make test` stops that cluster after the run.
//! - [`bando_bin`] finds the built `bando` binary for end-to-end tests.
//! - [`http`]: one in-process request helper (`send`, `Reply`) for the router tests.
//! - [`fixtures`]: the parcel write tests' set-up (parcels imported, the router trusting a
//!   development issuer) and a land officer's write (tag, reason, decision).
//!
//! No test shares mutable fixtures with another: each gets a fresh database.

pub mod fixtures;
pub mod http;

use std::path::PathBuf;
use std::sync::OnceLock;

use gis_core::db::{ClusterOptions, PrivateCluster};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

const TEMPLATE: &str = "bando_test_template";

/// Where the test server is: admin URL (database `postgres`) and a base for per-test URLs.
#[derive(Debug)]
struct Server {
    /// Connection options to the server's `postgres` database.
    admin: PgConnectOptions,
    /// URL prefix without the database name, e.g. `postgres://bando@127.0.0.1:5555`.
    url_base: String,
    /// Query suffix of the URL (e.g. `?sslmode=disable`), if any.
    url_query: String,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static CREATE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The workspace root (the directory above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// The `bando` binary built by cargo for this test run.
pub fn bando_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug").join("bando");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p tile-server)",
        bin.display()
    );
    bin
}

/// Where the private test cluster lives: `target/test-cluster`, or `BANDO_TEST_CLUSTER_DIR` so
/// that several test runs at once (parallel work on one checkout) do not drop each other's
/// databases.
fn test_cluster_dir() -> PathBuf {
    match std::env::var_os("BANDO_TEST_CLUSTER_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target").join("test-cluster"),
    }
}

fn start_server() -> Result<Server, String> {
    // The server is set up on a runtime of its own: each #[tokio::test] has its own runtime,
    // and the server must outlive all of them.
    std::thread::spawn(|| {
        let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let server = match std::env::var("DATABASE_URL") {
                Ok(url) if !url.trim().is_empty() => server_from_url(&url)?,
                _ => {
                    let cluster = PrivateCluster::start(&ClusterOptions {
                        data_dir: test_cluster_dir(),
                        tcp: true,
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    let url = cluster
                        .tcp_url("postgres")
                        .ok_or("test cluster did not open a TCP port")?;
                    server_from_url(&url)?
                }
            };
            prepare_template(&server).await?;
            Ok(server)
        })
    })
    .join()
    .map_err(|_| "test server setup panicked".to_string())?
}

fn server_from_url(url: &str) -> Result<Server, String> {
    let admin: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| e.to_string())?;
    let admin = admin.database("postgres");
    let (without_query, query) = match url.split_once('?') {
        Some((a, q)) => (a.to_string(), format!("?{q}")),
        None => (url.to_string(), String::new()),
    };
    // Strip the database path from the URL.
    let scheme_end = without_query.find("://").map(|i| i + 3).unwrap_or(0);
    let url_base = match without_query[scheme_end..].find('/') {
        Some(slash) => without_query[..scheme_end + slash].to_string(),
        None => without_query,
    };
    Ok(Server {
        admin,
        url_base,
        url_query: query,
    })
}

async fn prepare_template(server: &Server) -> Result<(), String> {
    let mut admin = server.admin.connect().await.map_err(|e| e.to_string())?;
    // Databases of earlier runs.
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'bando_t_%' OR datname = $1",
    )
    .bind(TEMPLATE)
    .fetch_all(&mut admin)
    .await
    .map_err(|e| e.to_string())?;
    for db in stale {
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .map_err(|e| e.to_string())?;
    }
    sqlx::query(&format!("CREATE DATABASE {TEMPLATE}"))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    admin.close().await.map_err(|e| e.to_string())?;
    let url = format!("{}/{TEMPLATE}{}", server.url_base, server.url_query);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    tile_server::migrate(&pool)
        .await
        .map_err(|e| format!("migrating the template: {e}"))?;
    pool.close().await;
    Ok(())
}

/// A fresh, migrated database of its own for one test.
#[derive(Debug)]
pub struct TestDb {
    /// Pool on the test's database.
    pub pool: PgPool,
    /// The database's URL (for the binary's `DATABASE_URL`).
    pub url: String,
    /// Its name.
    pub name: String,
}

impl TestDb {
    /// Creates the database from the migrated template.
    pub async fn new() -> TestDb {
        let server = match SERVER.get_or_init(start_server) {
            Ok(s) => s,
            Err(e) => panic!("no test PostgreSQL server: {e}"),
        };
        let name = format!("bando_t_{}", uuid_like());
        {
            let _guard = CREATE_LOCK.lock().await;
            let mut admin = server
                .admin
                .connect()
                .await
                .expect("connect to test server");
            sqlx::query(&format!("CREATE DATABASE \"{name}\" TEMPLATE {TEMPLATE}"))
                .execute(&mut admin)
                .await
                .expect("create test database");
            admin.close().await.expect("close admin connection");
        }
        let url = format!("{}/{name}{}", server.url_base, server.url_query);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("connect to test database");
        TestDb { pool, url, name }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}_{n}", std::process::id())
}

/// A real `bando serve` on a free port of 127.0.0.1, stopped with SIGTERM.
pub struct Bando {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Bando {
    /// Starts `cmd serve --listen 127.0.0.1:0` and waits for its address.
    pub fn start(cmd: std::process::Command) -> Bando {
        Self::start_logged(cmd, std::process::Stdio::null())
    }

    /// [`Bando::start`] with its log (stderr) going to `log`.
    pub fn start_logged(
        mut cmd: std::process::Command,
        log: impl Into<std::process::Stdio>,
    ) -> Bando {
        // The background seeding of the tile store goes to z12 unless the test says otherwise:
        // z16 of the sample's communes is tens of thousands of renders, for nothing here.
        if !cmd
            .get_envs()
            .any(|(k, _)| k == "BANDO_TILES_SEED" || k == "BANDO_TILES_SEED_MAX_ZOOM")
        {
            cmd.env("BANDO_TILES_SEED_MAX_ZOOM", "12");
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn bando serve");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("bando: serving ") {
                    let _ = tx.send(url.trim_end_matches('/').to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(std::time::Duration::from_secs(90))
            .expect("bando serve did not report its address");
        Bando { child, base }
    }

    /// GET a path: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// SIGKILL (`kill -9`): no shutdown of any kind; returns once the process is gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "bando exited with {status}");
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "bando did not stop within 60 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// A test that fails before stopping its server must not leave it (and its private broker)
/// running: SIGTERM, a clean exit within 10 s, else SIGKILL.
impl Drop for Bando {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the sample set into a fresh temporary directory.
pub fn sample_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    sample::write_sample(dir.path(), 2025).expect("write sample");
    dir
}

/// Imports `path` into layer `kind` with default options (upsert, auto encoding, repair).
pub async fn import(
    pool: &PgPool,
    path: &std::path::Path,
    kind: &str,
) -> Result<importers::pipeline::ImportSummary, importers::ImportError> {
    importers::pipeline::import(pool, path, &importers::pipeline::ImportOptions::new(kind)).await
}

/// Runs a tile statement of `gis_core::mvt` (binds z, x, y) for tile `t`: the MVT bytes as
/// PostGIS draws them and the number of features.
pub async fn draw_tile(pool: &PgPool, sql: &str, t: gis_core::tile::TileCoord) -> (Vec<u8>, i64) {
    sqlx::query_as(sql)
        .bind(i32::from(t.z))
        .bind(t.x as i32)
        .bind(t.y as i32)
        .fetch_one(pool)
        .await
        .expect("tile statement")
}

/// A decoded vector tile layer: what the tests look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MvtLayer {
    /// Layer name.
    pub name: String,
    /// Number of features.
    pub features: usize,
    /// Property keys.
    pub keys: Vec<String>,
    /// String values.
    pub strings: Vec<String>,
    /// Feature ids.
    pub ids: Vec<u64>,
    /// Every feature's encoded geometry commands, concatenated (to compare geometry).
    pub geometry: Vec<u32>,
    /// Each feature's geometry as absolute tile coordinates, one list per MoveTo.
    pub shapes: Vec<Vec<Vec<(i64, i64)>>>,
}

/// Absolute coordinates of MVT geometry commands: one list of points per MoveTo.
pub fn mvt_shape(commands: &[u32]) -> Vec<Vec<(i64, i64)>> {
    let zig = |v: u32| i64::from(v >> 1) ^ -i64::from(v & 1);
    let (mut x, mut y, mut i) = (0i64, 0i64, 0usize);
    let mut parts: Vec<Vec<(i64, i64)>> = Vec::new();
    while i < commands.len() {
        let (id, count) = (commands[i] & 7, commands[i] >> 3);
        i += 1;
        if id == 7 {
            continue;
        }
        for _ in 0..count {
            x += zig(commands[i]);
            y += zig(commands[i + 1]);
            i += 2;
            if id == 1 || parts.is_empty() {
                parts.push(Vec::new());
            }
            if let Some(p) = parts.last_mut() {
                p.push((x, y));
            }
        }
    }
    parts
}

/// Decodes the layers of an (uncompressed) Mapbox Vector Tile: a minimal protobuf reader, so
/// the tests check the bytes a client would get without trusting the server's own code.
pub fn decode_mvt(bytes: &[u8]) -> Vec<MvtLayer> {
    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        while *i < b.len() {
            let byte = b[*i];
            *i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        v
    }
    /// (field number, wire type, payload range or varint value)
    fn fields(b: &[u8]) -> Vec<(u64, &[u8], u64)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let key = varint(b, &mut i);
            let (field, wire) = (key >> 3, key & 7);
            match wire {
                0 => {
                    let v = varint(b, &mut i);
                    out.push((field, &b[0..0], v));
                }
                2 => {
                    let len = varint(b, &mut i) as usize;
                    let end = (i + len).min(b.len());
                    out.push((field, &b[i..end], 0));
                    i = end;
                }
                5 => i += 4,
                1 => i += 8,
                _ => break,
            }
        }
        out
    }
    let mut layers = Vec::new();
    for (field, payload, _) in fields(bytes) {
        if field != 3 {
            continue;
        }
        let mut layer = MvtLayer::default();
        for (f, p, v) in fields(payload) {
            match f {
                1 => layer.name = String::from_utf8_lossy(p).to_string(),
                2 => {
                    layer.features += 1;
                    for (ff, pp, vv) in fields(p) {
                        match ff {
                            1 => layer.ids.push(vv),
                            4 => {
                                let mut j = 0;
                                let mut commands = Vec::new();
                                while j < pp.len() {
                                    commands.push(varint(pp, &mut j) as u32);
                                }
                                layer.shapes.push(mvt_shape(&commands));
                                layer.geometry.extend(commands);
                            }
                            _ => {}
                        }
                    }
                }
                3 => layer.keys.push(String::from_utf8_lossy(p).to_string()),
                4 => {
                    for (vf, vp, _) in fields(p) {
                        if vf == 1 {
                            layer.strings.push(String::from_utf8_lossy(vp).to_string());
                        }
                    }
                }
                _ => {
                    let _ = v;
                }
            }
        }
        layers.push(layer);
    }
    layers
}

/// Asserts that an answer is the RFC 9457 problem JSON of an error with HTTP status `want`:
/// the status itself, the `application/problem+json` content type, and a JSON object whose
/// `status` member is that same status, with a non-empty `title`. Returns the document.
pub fn assert_problem_json(
    status: u16,
    want: u16,
    content_type: &str,
    body: &[u8],
) -> serde_json::Value {
    let text = String::from_utf8_lossy(body);
    assert_eq!(status, want, "{text}");
    assert_eq!(content_type, "application/problem+json", "{text}");
    let problem: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(
        problem["status"].as_u64(),
        Some(u64::from(want)),
        "the problem's status member: {problem}"
    );
    assert!(
        problem["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{problem}"
    );
    problem
}
