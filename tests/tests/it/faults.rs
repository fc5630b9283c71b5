//! Faults survived (issue 12): PostgreSQL stopped and started again under the real `bando serve`
//! on its private cluster. During the outage every answer is 200 (from cache) or 503 with
//! `Retry-After` within the time limit, `/health` says the database is down; afterwards bando
//! recovers by itself and its change listener is back: an edit still invalidates the cached tile.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gis_core::db::{ClusterOptions, PrivateCluster};
use tests::{bando_bin, Bando as Server};

/// bando's time limit in this test; every answer must come within it (plus slack for the
/// scheduler of a busy 2-core machine).
const REQUEST_TIMEOUT_SECS: u64 = 5;
const ANSWER_BOUND: Duration = Duration::from_secs(REQUEST_TIMEOUT_SECS + 3);

/// Where the street lights are: the middle of one z14 tile (away from its edges, so a 20 m move
/// keeps the light in it).
const LON: f64 = 106.845;
const LAT: f64 = 11.51;
const Z: u32 = 14;

fn bando(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bando_bin());
    cmd.env_remove("DATABASE_URL")
        .env(
            "BANDO_REQUEST_TIMEOUT_SECS",
            REQUEST_TIMEOUT_SECS.to_string(),
        )
        .arg("--data-dir")
        .arg(data_dir);
    cmd
}

fn run_ok(cmd: &mut Command) {
    let o = cmd.output().expect("run bando");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The web-mercator tile at `zoom` holding a WGS 84 point.
fn tile_of(lon: f64, lat: f64, zoom: u32) -> (u32, u32) {
    let n = f64::from(1u32 << zoom);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (x as u32, y as u32)
}

struct Answer {
    status: u16,
    retry_after: bool,
    etag: Option<String>,
    body: Vec<u8>,
    took: Duration,
}

/// GET with a client-side bound well past bando's own, so a hang shows as a failure with the
/// path rather than a stuck test.
async fn get(client: &reqwest::Client, base: &str, path: &str) -> Answer {
    let started = Instant::now();
    let r = client
        .get(format!("{base}{path}"))
        .timeout(ANSWER_BOUND + Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = r.status().as_u16();
    let retry_after = r.headers().contains_key(reqwest::header::RETRY_AFTER);
    let etag = r
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    let took = started.elapsed();
    assert!(
        took < ANSWER_BOUND,
        "GET {path} took {took:?} (status {status}), past bando's time limit"
    );
    Answer {
        status,
        retry_after,
        etag,
        body,
        took,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stopped_and_started_under_bando_serve_answers_503_then_recovers() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("state");
    let lights = work.path().join("lights.geojson");
    let mut text = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    for i in 0..20 {
        if i > 0 {
            text.push_str(",\n");
        }
        let lon = LON + f64::from(i) * 0.00005;
        text.push_str(&format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"MADEN\":\"F{i}\",\"LOAIDEN\":\"led\"}},\"geometry\":{{\"type\":\"Point\",\"coordinates\":[{lon:.7},{LAT:.7}]}}}}"
        ));
    }
    text.push_str("\n]}\n");
    std::fs::write(&lights, text).expect("write geojson");
    run_ok(
        bando(&data)
            .args(["import", "--layer", "street_lights"])
            .arg(&lights),
    );

    let server = Server::start(bando(&data));
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let (x, y) = tile_of(LON, LAT, Z);
    let tile = format!("/tiles/street_lights/{Z}/{x}/{y}.mvt");
    let items = "/collections/street_lights/items?limit=5";
    for path in ["/health", tile.as_str(), items] {
        let a = get(&client, &base, path).await;
        assert_eq!(a.status, 200, "{path} before the outage");
    }

    // Clients keep asking throughout: uncached tiles (each a fresh render), items, health.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, client, base) = (stop.clone(), client.clone(), base.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut i = 0u32;
            while !stop.load(Ordering::Acquire) {
                let path = match i % 3 {
                    0 => format!("/tiles/street_lights/{Z}/{}/{}.mvt", x + 1 + i, y + 7),
                    1 => format!("/collections/street_lights/items?limit={}", 1 + i % 7),
                    _ => "/health".to_string(),
                };
                let a = get(&client, &base, &path).await;
                seen.push((path, a.status, a.retry_after, a.took));
                i += 1;
                // Under the per-client rate (10/s) so 429 never mixes in.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Stop PostgreSQL (fast: sessions are ended) under the running server.
    run_ok(bando(&data).args(["db", "stop"]));
    assert!(!data.join("pg/postmaster.pid").exists());
    for path in [
        format!("/tiles/street_lights/{Z}/{}/{}.mvt", x, y + 1),
        "/collections/street_lights/items?limit=4".to_string(),
        "/collections/street_lights/items/1".to_string(),
    ] {
        let a = get(&client, &base, &path).await;
        assert_eq!(
            a.status,
            503,
            "{path} during the outage: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(a.retry_after, "{path}: a 503 without Retry-After");
    }
    let h = get(&client, &base, "/health").await;
    assert_eq!(h.status, 503, "/health during the outage");
    assert!(h.retry_after);
    let detail = String::from_utf8_lossy(&h.body).to_string();
    assert!(detail.contains("database"), "{detail}");
    // The tile cached before the outage is still served.
    assert_eq!(get(&client, &base, &tile).await.status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Start it again; bando is not restarted.
    run_ok(bando(&data).args(["db", "start"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if get(&client, &base, "/health").await.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bando did not recover within 30 s of PostgreSQL's restart"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for path in [
        format!("/tiles/street_lights/{Z}/{}/{}.mvt", x, y + 2),
        items.to_string(),
    ] {
        let a = get(&client, &base, &path).await;
        assert!(
            a.status == 200 || a.status == 204,
            "{path} after recovery: {}",
            a.status
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Release);
    let seen = load.await.expect("load task");
    for (path, status, retry_after, took) in &seen {
        assert!(
            [200, 204, 503].contains(status),
            "{path}: {status} (took {took:?})"
        );
        assert!(
            *status != 503 || *retry_after,
            "{path}: 503 without Retry-After"
        );
    }
    assert!(
        seen.iter().any(|s| s.1 == 503),
        "the load never met the outage"
    );
    let last_items = seen.iter().rev().find(|s| s.0.contains("/items"));
    assert_eq!(last_items.map(|s| s.1), Some(200), "items after recovery");

    // The change listener is back on the restarted server: its LISTEN session exists again.
    let cluster = PrivateCluster::start(&ClusterOptions {
        data_dir: data.clone(),
        tcp: false,
    })
    .await
    .expect("join the private cluster");
    assert!(!cluster.started_here());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(cluster.connect_options())
        .await
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %bando_layer_changes%'",
        )
        .fetch_one(&pool)
        .await
        .expect("activity");
        if listening > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tile listener did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An edit after recovery reaches the cached tile.
    let before = get(&client, &base, &tile).await;
    assert_eq!(before.status, 200);
    let again = get(&client, &base, &tile).await;
    assert_eq!(
        again.body, before.body,
        "the tile should be stable before the edit"
    );
    let moved = sqlx::query(
        "UPDATE sectors.street_lights SET geom = ST_Translate(geom, 20, 0) WHERE source_id = 'F0'",
    )
    .execute(&pool)
    .await
    .expect("update")
    .rows_affected();
    assert_eq!(moved, 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = get(&client, &base, &tile).await;
        assert_eq!(now.status, 200);
        if now.body != before.body {
            assert_ne!(now.etag, before.etag, "new bytes under the old ETag");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edit made after recovery did not invalidate the cached tile"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pool.close().await;
    server.stop();
    // Whoever started it last, leave no cluster running.
    let _ = bando(&data).args(["db", "stop"]).output();
}
