//! Faults survived during an import (issue 12), with the real `bando import` on parcels from
//! `bando sample`: a replace re-import of a few thousand parcels
//!
//! - killed with SIGKILL while staging, while merging, and while bringing the land-use overview
//!   up to date: each time the live layer *and* what is derived from it are exactly as before,
//!   nothing left behind (sessions, temporary tables, locks) holds up the next import, and a
//!   re-run succeeds;
//! - out of disk space (the import's temporary space on a small tmpfs): a clear error that
//!   names the disk space, a non-zero exit, the live layer intact and `bando serve` serving.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tests::{bando_bin, Bando as Server, TestDb};

/// Parcels of each sample (Binh Phuoc holds about three quarters of them).
const SAMPLE_PARCELS: &str = "4000";

/// Two deliveries of the same province's parcels: this year's (seed 2025) and a re-survey
/// (seed 2026: other parcels over the same land), written by `bando sample`. The files are
/// only input, the same for a seed and count, so they are kept in `target/faults-samples`
/// across runs.
fn deliveries() -> &'static (PathBuf, PathBuf) {
    static FILES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = tests::workspace_root()
            .join("target")
            .join("faults-samples");
        let files: Vec<PathBuf> = ["2025", "2026"]
            .iter()
            .map(|seed| {
                let out = root.join(format!("{seed}-{SAMPLE_PARCELS}"));
                if !out.join("done").exists() {
                    // Written aside and renamed into place, so a half-written set is never used.
                    let aside = root.join(format!("writing-{seed}-{}", std::process::id()));
                    let _ = std::fs::remove_dir_all(&aside);
                    let o = Command::new(bando_bin())
                        .args([
                            "sample",
                            "--seed",
                            seed,
                            "--parcels",
                            SAMPLE_PARCELS,
                            "--out",
                        ])
                        .arg(&aside)
                        .output()
                        .expect("run bando sample");
                    assert!(o.status.success(), "{}", stderr(&o));
                    std::fs::write(aside.join("done"), "").expect("mark done");
                    let _ = std::fs::remove_dir_all(&out);
                    if std::fs::rename(&aside, &out).is_err() {
                        let _ = std::fs::remove_dir_all(&aside);
                    }
                }
                out.join("parcels_binhphuoc.shp")
            })
            .collect();
        (files[0].clone(), files[1].clone())
    })
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The parcels (every column of every row), their land-use overview and the finished imports,
/// each as a checksum.
async fn layer_state(pool: &PgPool) -> (i64, String, String, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM land.parcels),
                (SELECT coalesce(md5(string_agg(p::text, ',' ORDER BY p.id)), '') FROM land.parcels p),
                (SELECT coalesce(md5(string_agg(o::text, ',' ORDER BY o::text)), '') FROM land.parcel_overview o),
                (SELECT count(*) FROM platform.imports WHERE layer = 'parcels' AND finished_at IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .expect("layer state")
}

/// Whether the land-use overview is what a full refresh would write (checked in a transaction
/// that is rolled back).
async fn overview_is_current(pool: &PgPool) -> bool {
    let mut tx = pool.begin().await.expect("begin");
    let sum = "SELECT coalesce(md5(string_agg(o::text, ',' ORDER BY o::text)), '') FROM land.parcel_overview o";
    let stored: String = sqlx::query_scalar(sum)
        .fetch_one(&mut *tx)
        .await
        .expect("overview");
    sqlx::query(
        "SELECT land.refresh_parcel_overview(ST_MakeEnvelope(-20037508, -20037508, 20037508, 20037508, 3857))",
    )
    .execute(&mut *tx)
    .await
    .expect("refresh");
    let fresh: String = sqlx::query_scalar(sum)
        .fetch_one(&mut *tx)
        .await
        .expect("overview");
    tx.rollback().await.expect("rollback");
    stored == fresh
}

/// The import's sessions (`application_name` `bando`) in this database.
async fn import_sessions(pool: &PgPool) -> Vec<(i32, String, String)> {
    sqlx::query_as(
        "SELECT pid, coalesce(state, ''), query FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'bando'",
    )
    .fetch_all(pool)
    .await
    .expect("activity")
}

/// What a killed import may leave behind: its sessions, temporary tables, locks of any kind.
async fn leftovers(pool: &PgPool) -> (usize, i64, i64) {
    let sessions = import_sessions(pool).await.len();
    let temp: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relname IN ('bando_stage', 'bando_diff')",
    )
    .fetch_one(pool)
    .await
    .expect("temp tables");
    let locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
           AND (a.application_name = 'bando' OR l.locktype = 'advisory')",
    )
    .fetch_one(pool)
    .await
    .expect("locks");
    (sessions, temp, locks)
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_an_import_in_each_phase_leaves_the_layer_as_it_was() {
    let (this_year, resurvey) = deliveries();
    let db = TestDb::new().await;
    let import = |file: &Path| {
        let mut cmd = Command::new(bando_bin());
        cmd.env("DATABASE_URL", &db.url)
            .args(["import", "--layer", "parcels", "--mode", "replace"])
            .arg(file);
        cmd
    };
    let o = import(this_year).output().expect("import");
    assert!(o.status.success(), "{}", stderr(&o));
    let before = layer_state(&db.pool).await;
    assert!(before.0 > 2000, "{before:?}");
    assert!(overview_is_current(&db.pool).await);

    // Each phase by what the import's session is running (polled every few milliseconds).
    let phases = [
        ("staging", "query LIKE 'COPY bando_stage%'"),
        (
            "merging",
            "state <> 'idle' AND (query LIKE '%bando_diff%' OR query LIKE '%platform.imports%')",
        ),
        (
            "the overview",
            "state <> 'idle' AND query LIKE '%refresh_parcel_overview%'",
        ),
    ];
    for (phase, condition) in phases {
        let mut child = import(resurvey)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn import");
        let seen_sql = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
             AND application_name = 'bando' AND ({condition})"
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen: i64 = sqlx::query_scalar(&seen_sql)
                .fetch_one(&db.pool)
                .await
                .expect("activity");
            if seen > 0 {
                break;
            }
            let finished = child.try_wait().expect("wait").is_some();
            assert!(
                !finished && Instant::now() < deadline,
                "the import ended (or took over 60 s) before {phase} was seen"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().expect("kill -9"); // SIGKILL: no cleanup of any kind
        child.wait().expect("reap");

        // PostgreSQL notices the dead client and rolls back; nothing stays behind.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = leftovers(&db.pool).await;
            if left == (0, 0, 0) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "killed while {phase}: left behind after 30 s (sessions, temporary tables, locks) {left:?}: {:?}",
                import_sessions(&db.pool).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            layer_state(&db.pool).await,
            before,
            "killed while {phase}: the parcels, their overview or the import record changed"
        );
    }

    // The next import runs through and leaves a layer whose overview matches it.
    let o = import(resurvey).output().expect("import");
    assert!(o.status.success(), "the re-run failed: {}", stderr(&o));
    let after = layer_state(&db.pool).await;
    assert_ne!(after.1, before.1, "the re-run changed nothing");
    assert_eq!(after.3, before.3 + 1, "one more finished import");
    assert!(
        overview_is_current(&db.pool).await,
        "the overview does not match the parcels after the re-run"
    );
}

/// A tmpfs mounted for the test, unmounted when dropped (after the cluster using it stopped).
struct Tmpfs {
    path: PathBuf,
    data_dir: PathBuf,
}

impl Tmpfs {
    fn mount(path: PathBuf, size: &str, data_dir: &Path) -> Tmpfs {
        std::fs::create_dir_all(&path).expect("mount point");
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(&path)
            .output()
            .expect("run mount");
        // The test fills a real file system; it needs root (as `make test` runs here) to mount
        // one small enough.
        assert!(
            o.status.success(),
            "cannot mount a small tmpfs (this test needs root): {}",
            stderr(&o)
        );
        Tmpfs {
            path,
            data_dir: data_dir.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new(bando_bin())
            .env_remove("DATABASE_URL")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["db", "stop"])
            .output();
        let _ = Command::new("umount").arg(&self.path).output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_out_of_disk_space_fails_clearly_and_leaves_the_layer_and_the_server_alone() {
    let (this_year, resurvey) = deliveries();
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("state");
    let bando = || {
        let mut cmd = Command::new(bando_bin());
        cmd.env_remove("DATABASE_URL").arg("--data-dir").arg(&data);
        cmd
    };
    let o = bando()
        .args(["import", "--layer", "parcels"])
        .arg(this_year)
        .output()
        .expect("import");
    assert!(o.status.success(), "{}", stderr(&o));
    let server = Server::start(bando());

    // The import's temporary space (where it stages the delivery) on a 512 KiB file system: the
    // staging table of the re-survey does not fit.
    let tiny = Tmpfs::mount(work.path().join("tiny"), "512k", &data);
    let cluster = gis_core::db::PrivateCluster::start(&gis_core::db::ClusterOptions {
        data_dir: data.clone(),
        tcp: false,
    })
    .await
    .expect("join the private cluster");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(cluster.connect_options())
        .await
        .expect("connect");
    // PostgreSQL runs as the postgres user when bando runs as root; it must own its tablespace.
    let owner = std::fs::metadata(data.join("pg"))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("pgdata");
    std::os::unix::fs::chown(&tiny.path, Some(owner), None).expect("chown tmpfs");
    // (Not in a transaction block, so one statement at a time.)
    sqlx::raw_sql(&format!(
        "CREATE TABLESPACE tiny LOCATION '{}'",
        tiny.path.display()
    ))
    .execute(&pool)
    .await
    .expect("tablespace on the tmpfs");
    sqlx::raw_sql(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET temp_tablespaces = tiny', current_database()); END $$",
    )
    .execute(&pool)
    .await
    .expect("temporary space on the tmpfs");
    let before = layer_state(&pool).await;
    assert!(before.0 > 2000, "{before:?}");

    let o = bando()
        .args(["import", "--layer", "parcels", "--mode", "replace"])
        .arg(resurvey)
        .output()
        .expect("import");
    let message = stderr(&o);
    assert!(!o.status.success(), "the import did not fail: {message}");
    assert!(
        !message.contains("panicked"),
        "a panic, not an error: {message}"
    );
    assert!(
        message.contains("ran out of disk space") && message.contains("live table is unchanged"),
        "the error does not name the disk space: {message}"
    );
    assert_eq!(
        layer_state(&pool).await,
        before,
        "the live layer changed: {message}"
    );

    // The server kept serving throughout, from the same database.
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(geom_3857), 4326) AS c
         FROM land.parcels ORDER BY id LIMIT 1) x",
    )
    .fetch_one(&pool)
    .await
    .expect("a parcel's place");
    let n = f64::from(1u32 << 14);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
    let tile = format!("/tiles/parcels/14/{x}/{y}.mvt");
    for path in ["/health", "/collections/parcels/items?limit=3", &tile] {
        let (status, body) = server.get(path).await;
        assert!(status == 200 || status == 204, "{path}: {status} {body}");
    }
    pool.close().await;
    server.stop();
    drop(tiny);
}
