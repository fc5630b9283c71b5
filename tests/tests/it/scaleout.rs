//! Scale-out (issue 12) with real parts on loopback: a primary and a streaming standby made by
//! the private cluster code (`pg_basebackup -R`), two `bando serve` instances reading from the
//! standby (`BANDO_DB_READ_URLS`) behind a private nginx, imports through the CLI against the
//! primary.
//!
//! - Reads go to the standby, the change listener to the primary.
//! - While the standby's replay is paused, an import's notification reaches both instances; a
//!   tile they draw from the lagging standby is served but not cached, so once the standby has
//!   replayed, the very next tile shows the import (no stale tile left behind), and a read
//!   asking for the writer's position (`Bando-Min-Lsn`) is answered from the primary past
//!   the 2 s bound, not stale.
//! - Several standbys behind one instance (`reads_fail_over_between_standbys_and_the_primary`):
//!   reads balanced per request, a stopped standby left out (then the primary), `/health`
//!   per replica, reads back on a standby started again.
//! - Read-your-writes: right after an import, a read through nginx carrying the import's
//!   position sees it in items and tiles, with no waiting by the client.
//! - `kill -9` of one instance under a load of GETs through nginx loses no request.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gis_core::db::{ClusterOptions, PrivateCluster};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tests::{bando_bin, decode_mvt, Bando};

/// Street lights are placed along a line inside one tile of zoom `Z`, where each is drawn
/// (below the layer's detail zoom points are clustered).
const LON: f64 = 106.845;
const LAT: f64 = 11.51;
const Z: u32 = 17;

/// Stops what the test started, even when it fails half-way.
struct Cleanup {
    clusters: Vec<PathBuf>,
    nginx: Option<Child>,
    nginx_dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut nginx) = self.nginx.take() {
            let _ = Command::new("kill")
                .args(["-QUIT", &nginx.id().to_string()])
                .status();
            let _ = nginx.wait();
        }
        if let Some(dir) = std::env::var_os("BANDO_SCALEOUT_LOGS") {
            let _ = std::fs::copy(
                self.nginx_dir.join("logs/error.log"),
                Path::new(&dir).join("nginx-error.log"),
            );
        }
        // The standby first: a primary stopping fast waits for its WAL senders.
        for dir in self.clusters.iter().rev() {
            let _ = PrivateCluster::stop_running(dir);
        }
    }
}

fn lights(path: &Path, count: u32) {
    let (x, _) = tile_of(LON, LAT, Z);
    let width = 360.0 / f64::from(1u32 << Z);
    let west = f64::from(x) * width - 180.0;
    let mut text = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    for i in 0..count {
        if i > 0 {
            text.push_str(",\n");
        }
        // From a quarter of the tile on, a hundredth of its width apart: all inside it.
        let lon = west + width * (0.25 + f64::from(i) / 100.0);
        let lat = LAT;
        text.push_str(&format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"MADEN\":\"F{i}\",\"LOAIDEN\":\"led\"}},\"geometry\":{{\"type\":\"Point\",\"coordinates\":[{lon:.7},{lat:.7}]}}}}"
        ));
    }
    text.push_str("\n]}\n");
    std::fs::write(path, text).expect("write geojson");
}

fn bando(data_dir: &Path, primary: &str, replica: &str, mqtt: &str) -> Command {
    let mut cmd = Command::new(bando_bin());
    // One broker for both (a killed instance would leave its private one running).
    cmd.env("BANDO_MQTT_URL", mqtt)
        .env("DATABASE_URL", primary)
        .env("BANDO_DB_READ_URLS", replica)
        // Every client is nginx's 127.0.0.1 here.
        .env("BANDO_CLIENT_REQUESTS_PER_MINUTE", "0")
        .env("BANDO_CLIENT_MAX_CONCURRENT", "0")
        .arg("--data-dir")
        .arg(data_dir);
    cmd
}

fn import(work: &Path, primary: &str, file: &Path) {
    let out = Command::new(bando_bin())
        .env("DATABASE_URL", primary)
        .env_remove("BANDO_DB_READ_URLS")
        .arg("--data-dir")
        .arg(work.join("cli"))
        .args(["import", "--layer", "street_lights"])
        .arg(file)
        .output()
        .expect("run bando import");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tile_of(lon: f64, lat: f64, zoom: u32) -> (u32, u32) {
    let n = f64::from(1u32 << zoom);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (x as u32, y as u32)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A private nginx balancing GETs over `upstreams`, retrying the next one on errors.
fn start_nginx(dir: &Path, upstreams: &[&str]) -> (Child, String) {
    std::fs::create_dir_all(dir.join("logs")).expect("nginx dir");
    let port = free_port();
    let servers: String = upstreams
        .iter()
        .map(|u| format!("    server {};\n", u.trim_start_matches("http://")))
        .collect();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log {d}/logs/access.log;\n\
         client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         upstream bando {{\n{servers}  }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
               proxy_pass http://bando;\n      proxy_set_header Host $host;\n\
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
               proxy_next_upstream error timeout;\n      proxy_connect_timeout 2s;\n\
               proxy_read_timeout 30s;\n    }}\n  }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("nginx.conf");
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("logs/error.log"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nginx (Debian package nginx)");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, base)
}

async fn pool(cluster: &PrivateCluster) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect_with(cluster.connect_options())
        .await
        .expect("connect")
}

struct Got {
    status: u16,
    body: Vec<u8>,
}

async fn get(client: &reqwest::Client, url: &str, min_lsn: Option<&str>) -> Got {
    let mut req = client.get(url).timeout(Duration::from_secs(20));
    if let Some(lsn) = min_lsn {
        req = req.header("Bando-Min-Lsn", lsn);
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    Got { status, body }
}

/// Lights in the tile (an empty tile is 204).
async fn tile_lights(client: &reqwest::Client, url: &str, min_lsn: Option<&str>) -> usize {
    let g = get(client, url, min_lsn).await;
    assert!(
        g.status == 200 || g.status == 204,
        "{url}: {} {}",
        g.status,
        String::from_utf8_lossy(&g.body)
    );
    decode_mvt(&g.body)
        .iter()
        .filter(|l| l.name == "street_lights")
        .map(|l| l.features)
        .sum()
}

async fn item_count(client: &reqwest::Client, url: &str, min_lsn: Option<&str>) -> usize {
    let g = get(client, url, min_lsn).await;
    assert_eq!(g.status, 200, "{url}: {}", String::from_utf8_lossy(&g.body));
    let v: serde_json::Value = serde_json::from_slice(&g.body).expect("items JSON");
    v["features"].as_array().map_or(0, Vec::len)
}

async fn primary_lsn(pool: &PgPool) -> String {
    sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(pool)
        .await
        .expect("primary LSN")
}

async fn wait_replayed(standby: &PgPool, lsn: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let done: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
            .bind(lsn)
            .fetch_one(standby)
            .await
            .expect("replay LSN");
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the standby did not replay {lsn}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_a_streaming_standby_behind_nginx() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let mut cleanup = Cleanup {
        clusters: vec![w.join("primary")],
        nginx: None,
        nginx_dir: w.join("nginx"),
    };
    let primary = PrivateCluster::start(&ClusterOptions {
        data_dir: w.join("primary"),
        tcp: true,
    })
    .await
    .expect("primary");
    cleanup.clusters.push(w.join("standby"));
    let copy_started = Instant::now();
    let standby = PrivateCluster::start_standby(
        &ClusterOptions {
            data_dir: w.join("standby"),
            tcp: true,
        },
        &primary,
    )
    .await
    .expect("streaming standby by pg_basebackup -R");
    let standby_made = copy_started.elapsed();
    assert!(standby.is_standby() && !primary.is_standby());
    assert_ne!(standby.port(), primary.port());
    let primary_url = primary.tcp_url("bando").expect("primary TCP");
    let standby_url = standby.tcp_url("bando").expect("standby TCP");
    let primary_db = pool(&primary).await;
    let standby_db = pool(&standby).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let streaming: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        )
        .fetch_one(&primary_db)
        .await
        .expect("replication");
        if streaming == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby does not stream from the primary"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let write = sqlx::query("CREATE TABLE nope (x int)")
        .execute(&standby_db)
        .await
        .expect_err("a standby refuses writes");
    assert!(write.to_string().contains("read-only"), "{write}");

    // Version 1: 20 lights, through the CLI against the primary (it migrates too).
    let file = w.join("lights.geojson");
    lights(&file, 20);
    import(w, &primary_url, &file);

    let broker = ioc::broker::PrivateBroker::start(&w.join("mqtt")).expect("mosquitto");
    let mqtt = broker.address().url();
    // Logs kept in BANDO_SCALEOUT_LOGS (a directory) when set, to look into a failure.
    let log = |name: &str| match std::env::var_os("BANDO_SCALEOUT_LOGS") {
        Some(dir) => std::process::Stdio::from(
            std::fs::File::create(Path::new(&dir).join(format!("{name}.log"))).expect("log"),
        ),
        None => std::process::Stdio::null(),
    };
    let a = Bando::start_logged(
        bando(&w.join("a"), &primary_url, &standby_url, &mqtt),
        log("a"),
    );
    let b = Bando::start_logged(
        bando(&w.join("b"), &primary_url, &standby_url, &mqtt),
        log("b"),
    );
    let (nginx, lb) = start_nginx(&w.join("nginx"), &[&a.base, &b.base]);
    cleanup.nginx = Some(nginx);
    let client = reqwest::Client::new();
    let (x, y) = tile_of(LON, LAT, Z);
    let tile = format!("/tiles/street_lights/{Z}/{x}/{y}.mvt");
    let items = "/collections/street_lights/items?limit=100";
    for base in [&a.base, &b.base, &lb] {
        assert_eq!(
            tile_lights(&client, &format!("{base}{tile}"), None).await,
            20
        );
        assert_eq!(
            item_count(&client, &format!("{base}{items}"), None).await,
            20
        );
    }
    // Reads on the standby; the change listeners (a standby cannot LISTEN) on the primary.
    let readers = "SELECT count(*) FROM pg_stat_activity WHERE application_name IN \
         ('bando-tiles', 'bando-features')";
    let on_standby: i64 = sqlx::query_scalar(readers)
        .fetch_one(&standby_db)
        .await
        .expect("activity");
    let on_primary: i64 = sqlx::query_scalar(readers)
        .fetch_one(&primary_db)
        .await
        .expect("activity");
    assert!(on_standby >= 2, "tile and feature sessions on the standby");
    assert_eq!(on_primary, 0, "no tile or feature session on the primary");
    // Each instance's tile listener, and its two utility networks' (built at start).
    let listeners: Vec<(String, i64)> = sqlx::query_as(
        "SELECT application_name, count(*) FROM pg_stat_activity
         WHERE query LIKE 'LISTEN %bando_layer_changes%' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&primary_db)
    .await
    .expect("activity");
    assert_eq!(
        listeners,
        [
            ("bando-listen".to_string(), 2),
            ("bando-networks".to_string(), 4)
        ],
        "each instance listens on the primary"
    );

    // Version 2 while the standby's replay is paused: both instances learn of the change
    // from the primary, but their replica has not replayed it.
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&standby_db)
        .await
        .expect("pause replay");
    lights(&file, 25);
    import(w, &primary_url, &file);
    let v2 = primary_lsn(&primary_db).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for base in [&a.base, &b.base] {
        // Drawn from the lagging standby after a bounded wait: the old lights, not cached.
        assert_eq!(
            tile_lights(&client, &format!("{base}{tile}"), None).await,
            20
        );
        // A reader of its write is not answered stale: past the bound, from the primary.
        assert_eq!(
            item_count(&client, &format!("{base}{items}"), Some(&v2)).await,
            25
        );
    }
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&standby_db)
        .await
        .expect("resume replay");
    wait_replayed(&standby_db, &v2).await;
    for base in [&a.base, &b.base] {
        assert_eq!(
            tile_lights(&client, &format!("{base}{tile}"), None).await,
            25,
            "{base}: the tile drawn while the standby lagged was cached"
        );
        assert_eq!(
            item_count(&client, &format!("{base}{items}"), None).await,
            25
        );
    }

    // Read-your-writes through nginx: the import's position makes the next reads wait for
    // the standby and skip older cached tiles, whichever instance answers.
    let mut first_reads = Vec::new();
    for (round, count) in [(3, 30), (4, 34)] {
        lights(&file, count);
        import(w, &primary_url, &file);
        let at = primary_lsn(&primary_db).await;
        let asked = Instant::now();
        for i in 0..2 {
            assert_eq!(
                item_count(&client, &format!("{lb}{items}"), Some(&at)).await,
                count as usize,
                "round {round}: items right after the import"
            );
            assert_eq!(
                tile_lights(&client, &format!("{lb}{tile}"), Some(&at)).await,
                count as usize,
                "round {round}: the tile right after the import"
            );
            if i == 0 {
                first_reads.push(asked.elapsed());
            }
        }
    }
    // The window between a commit and its notification's arrival, held open: a write whose
    // notification is suppressed (triggers off for the transaction) leaves the old tile in
    // both caches, yet a reader carrying the write's position is never served it.
    for base in [&a.base, &b.base] {
        assert_eq!(
            tile_lights(&client, &format!("{base}{tile}"), None).await,
            34
        );
    }
    let mut tx = primary_db.begin().await.expect("begin");
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("no triggers");
    let gone = sqlx::query(
        "DELETE FROM sectors.street_lights WHERE source_id IN ('F30', 'F31', 'F32', 'F33')",
    )
    .execute(&mut *tx)
    .await
    .expect("delete")
    .rows_affected();
    assert_eq!(gone, 4);
    tx.commit().await.expect("commit");
    let unnotified = primary_lsn(&primary_db).await;
    wait_replayed(&standby_db, &unnotified).await;
    for base in [&a.base, &b.base] {
        let url = format!("{base}{tile}");
        assert_eq!(
            tile_lights(&client, &url, None).await,
            34,
            "{base}: without a notification the cached tile stays (the test's premise)"
        );
        assert_eq!(
            tile_lights(&client, &url, Some(&unnotified)).await,
            30,
            "{base}: a cached tile older than the reader's write was served"
        );
    }
    // Put the suppressed notification right for what follows.
    sqlx::query(
        "SELECT pg_notify('bando_layer_changes', json_build_object('table', \
         'sectors.street_lights', 'bbox_3857', json_build_array(-2e7, -2e7, 2e7, 2e7))::text)",
    )
    .execute(&primary_db)
    .await
    .expect("notify");

    let bad = get(&client, &format!("{lb}{items}"), Some("yesterday")).await;
    assert_eq!(
        bad.status, 400,
        "a malformed position is the client's error"
    );

    // kill -9 of one instance under a load of GETs through nginx: nginx retries what failed
    // on the other one, so no request is lost.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..4u32 {
        let (stop, client, lb) = (stop.clone(), client.clone(), lb.clone());
        tasks.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            let mut slowest = Duration::ZERO;
            let mut i = 0u32;
            while !stop.load(Ordering::Acquire) {
                let path = match (i + worker) % 3 {
                    0 => format!("/tiles/street_lights/{Z}/{}/{}.mvt", x + i % 40, y),
                    1 => format!("/collections/street_lights/items?limit={}", 1 + i % 9),
                    _ => "/health".to_string(),
                };
                let started = Instant::now();
                let g = get(&client, &format!("{lb}{path}"), None).await;
                slowest = slowest.max(started.elapsed());
                answered.push((path, g.status));
                i += 1;
            }
            (answered, slowest)
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    a.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Release);
    let mut total = 0;
    let mut slowest = Duration::ZERO;
    for t in tasks {
        let (answered, slow) = t.await.expect("load task");
        slowest = slowest.max(slow);
        for (path, status) in answered {
            total += 1;
            assert!(
                status == 200 || status == 204,
                "{path}: {status} while an instance was killed"
            );
        }
    }
    assert!(total > 40, "only {total} requests were made");
    // Figures for docs/deploy.md (bench/scaleout.sh), not asserted.
    println!(
        "scaleout figures: standby made and started in {standby_made:.2?}; first read-your-writes \
         items+tile after an import {first_reads:.2?}; kill -9 under load: {total} GETs in 2.3 s, \
         0 lost, slowest {slowest:.2?}"
    );
    assert_eq!(tile_lights(&client, &format!("{lb}{tile}"), None).await, 30);

    b.stop();
    broker.stop();
    primary_db.close().await;
    standby_db.close().await;
    drop(cleanup);
}

/// `/health` as JSON (status 200 asserted: a replica down never fails the instance).
async fn health(client: &reqwest::Client, base: &str) -> serde_json::Value {
    let g = get(client, &format!("{base}/health"), None).await;
    assert_eq!(g.status, 200, "{}", String::from_utf8_lossy(&g.body));
    serde_json::from_slice(&g.body).expect("health JSON")
}

/// Waits until `/health` shows the replicas' statuses `want` (replica 1 first).
async fn wait_health(client: &reqwest::Client, base: &str, want: &[&str]) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = health(client, base).await;
        let got: Vec<String> = h["replicas"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["status"].as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default();
        if got == want {
            return h;
        }
        assert!(Instant::now() < deadline, "health {h}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sessions of bando's read classes on a server.
async fn read_sessions(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name IN \
         ('bando-tiles', 'bando-features')",
    )
    .fetch_one(pool)
    .await
    .expect("activity")
}

/// `n` reads, items and freshly drawn tiles (tiles `first..first+n` along a row, so none is
/// cached): every one answers, with the 20 lights.
async fn reads_answer(client: &reqwest::Client, base: &str, first: u32, n: u32, label: &str) {
    let (x, y) = tile_of(LON, LAT, Z);
    for i in first..first + n {
        let items = format!("{base}/collections/street_lights/items?limit={}", 20 + i);
        assert_eq!(item_count(client, &items, None).await, 20, "{label}: items");
        let url = format!("{base}/tiles/street_lights/{Z}/{}/{y}.mvt", x + 1 + i);
        let g = get(client, &url, None).await;
        assert!(
            g.status == 200 || g.status == 204,
            "{label}: {url}: {} {}",
            g.status,
            String::from_utf8_lossy(&g.body)
        );
    }
}

fn replica_requests(h: &serde_json::Value, i: usize) -> u64 {
    h["replicas"][i]["requests"].as_u64().expect("requests")
}

/// Two streaming standbys behind one instance: reads are spread over both; a standby stopped
/// under the running server is left out and its reads go to the other, with both stopped to
/// the primary, and every read still answers; a standby started again gets reads again.
/// `/health` reports each replica (up/down, replay lag) and says "degraded", still 200. A
/// reader of its own write whose replicas have not replayed it in time reads from the
/// primary (replay paused), and `Bando-Lsn` is readable by cross-origin pages.
#[tokio::test(flavor = "multi_thread")]
async fn reads_fail_over_between_standbys_and_the_primary() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let mut cleanup = Cleanup {
        clusters: vec![w.join("primary")],
        nginx: None,
        nginx_dir: w.join("nginx"),
    };
    let primary = PrivateCluster::start(&ClusterOptions {
        data_dir: w.join("primary"),
        tcp: true,
    })
    .await
    .expect("primary");
    let mut standbys = Vec::new();
    for name in ["standby1", "standby2"] {
        cleanup.clusters.push(w.join(name));
        let s = PrivateCluster::start_standby(
            &ClusterOptions {
                data_dir: w.join(name),
                tcp: true,
            },
            &primary,
        )
        .await
        .expect("streaming standby");
        standbys.push(s);
    }
    let primary_url = primary.tcp_url("bando").expect("primary TCP");
    let read_urls: Vec<String> = standbys
        .iter()
        .map(|s| s.tcp_url("bando").expect("standby TCP"))
        .collect();
    let primary_db = pool(&primary).await;
    let file = w.join("lights.geojson");
    lights(&file, 20);
    import(w, &primary_url, &file);
    let v1 = primary_lsn(&primary_db).await;
    // Pools are made fresh after each restart below (a stopped server ends their sessions).
    for standby in &standbys {
        wait_replayed(&pool(standby).await, &v1).await;
    }

    let broker = ioc::broker::PrivateBroker::start(&w.join("mqtt")).expect("mosquitto");
    let mqtt = broker.address().url();
    // Its log kept in BANDO_SCALEOUT_LOGS (a directory) when set.
    let log = match std::env::var_os("BANDO_SCALEOUT_LOGS") {
        Some(dir) => std::process::Stdio::from(
            std::fs::File::create(Path::new(&dir).join("failover.log")).expect("log"),
        ),
        None => std::process::Stdio::null(),
    };
    let server = Bando::start_logged(
        bando(&w.join("a"), &primary_url, &read_urls.join(","), &mqtt),
        log,
    );
    let base = server.base.clone();
    let client = reqwest::Client::new();

    // Both up; reads spread over both, none on the primary.
    let h = wait_health(&client, &base, &["up", "up"]).await;
    assert_eq!(h["status"], "ok");
    for r in h["replicas"].as_array().expect("replicas") {
        // Against the primary's position now, from a probe up to a second old.
        assert!(r["lag_bytes"].is_u64() && r["lag_seconds"] == 0.0, "{h}");
    }
    reads_answer(&client, &base, 0, 6, "both up").await;
    let h = health(&client, &base).await;
    for (i, standby) in standbys.iter().enumerate() {
        assert!(
            replica_requests(&h, i) >= 4,
            "replica {i} got few reads: {h}"
        );
        assert!(read_sessions(&pool(standby).await).await >= 1);
    }
    assert_eq!(
        read_sessions(&primary_db).await,
        0,
        "no read on the primary"
    );
    assert_eq!(h["primary_reads"], 0);

    // Standby 1 stopped under the running server: every read still answers.
    standbys[0].force_stop().expect("stop standby 1");
    let stopped = Instant::now();
    reads_answer(&client, &base, 10, 6, "standby 1 stopped").await;
    let first_reads = stopped.elapsed();
    let h = wait_health(&client, &base, &["down", "up"]).await;
    assert_eq!(h["status"], "degraded");
    assert!(h["replicas"][0]["lag_bytes"].is_null(), "{h}");
    let before = replica_requests(&h, 1);
    reads_answer(&client, &base, 20, 4, "standby 1 down").await;
    let h = health(&client, &base).await;
    assert!(
        replica_requests(&h, 1) >= before + 8,
        "the reads went to standby 2: {h}"
    );
    assert_eq!(h["primary_reads"], 0, "{h}");

    // Both stopped: the primary answers the reads.
    standbys[1].force_stop().expect("stop standby 2");
    reads_answer(&client, &base, 30, 4, "both stopped").await;
    let h = wait_health(&client, &base, &["down", "down"]).await;
    assert_eq!(h["status"], "degraded");
    reads_answer(&client, &base, 40, 3, "both down").await;
    let h = health(&client, &base).await;
    assert!(
        h["primary_reads"].as_u64().unwrap_or(0) >= 6,
        "reads went to the primary: {h}"
    );
    assert!(read_sessions(&primary_db).await >= 1);

    // Standby 1 started again on its port: reads return to it, not to the primary.
    standbys[0].start_again().expect("start standby 1 again");
    let h = wait_health(&client, &base, &["up", "down"]).await;
    let (to_one, to_primary) = (
        replica_requests(&h, 0),
        h["primary_reads"].as_u64().unwrap_or(0),
    );
    reads_answer(&client, &base, 50, 4, "standby 1 back").await;
    let h = health(&client, &base).await;
    assert!(replica_requests(&h, 0) >= to_one + 8, "{h}");
    assert_eq!(h["primary_reads"].as_u64(), Some(to_primary), "{h}");
    assert!(read_sessions(&pool(&standbys[0]).await).await >= 1);
    standbys[1].start_again().expect("start standby 2 again");
    let h = wait_health(&client, &base, &["up", "up"]).await;
    assert_eq!(h["status"], "ok");

    // Read-your-writes past the bound: replay paused on both standbys, a reader carrying the
    // import's position is answered from the primary, with the write.
    for standby in &standbys {
        sqlx::query("SELECT pg_wal_replay_pause()")
            .execute(&pool(standby).await)
            .await
            .expect("pause replay");
    }
    lights(&file, 25);
    import(w, &primary_url, &file);
    let v2 = primary_lsn(&primary_db).await;
    let items = format!("{base}/collections/street_lights/items?limit=100");
    let h = health(&client, &base).await;
    let fallbacks = h["primary_reads"].as_u64().unwrap_or(0);
    let asked = Instant::now();
    assert_eq!(item_count(&client, &items, Some(&v2)).await, 25);
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "it waited for the replica first"
    );
    let h = health(&client, &base).await;
    assert_eq!(h["primary_reads"].as_u64(), Some(fallbacks + 1), "{h}");
    assert!(
        h["replicas"][0]["lag_bytes"].as_u64().unwrap_or(0) > 0,
        "a paused standby lags: {h}"
    );
    assert_eq!(
        item_count(&client, &items, None).await,
        20,
        "others read the standby"
    );
    for standby in &standbys {
        sqlx::query("SELECT pg_wal_replay_resume()")
            .execute(&pool(standby).await)
            .await
            .expect("resume replay");
    }

    // Cross-origin pages may read Bando-Lsn and send Bando-Min-Lsn.
    let r = client
        .get(&items)
        .header("Origin", "https://other.example")
        .send()
        .await
        .expect("cross-origin GET");
    let exposed = r
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(exposed.contains("bando-lsn"), "{exposed}");
    let r = client
        .request(reqwest::Method::OPTIONS, &items)
        .header("Origin", "https://other.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "bando-min-lsn")
        .send()
        .await
        .expect("preflight");
    let allowed = r
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(allowed.contains("bando-min-lsn"), "{allowed}");
    println!(
        "scaleout failover figures: 12 reads right after a standby stopped took {first_reads:.2?}; \
         read-your-writes past the bound answered from the primary in {waited:.2?}"
    );

    server.stop();
    broker.stop();
    primary_db.close().await;
    drop(cleanup);
}
