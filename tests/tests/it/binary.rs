//! The real `bando` binary end to end: sample → import → serve on the embedded private cluster,
//! clean stop on SIGTERM, data reused on the next start; `db migrate|status` against an existing
//! server; and bad command-line input answered with one clear sentence.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tests::{bando_bin, Bando as Server, TestDb};

/// `bando` with no DATABASE_URL: the embedded default.
fn bando_embedded(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bando_bin());
    cmd.env_remove("DATABASE_URL")
        .arg("--data-dir")
        .arg(data_dir);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run bando")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_import_serve_stop_and_restart_on_the_embedded_cluster() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("state");
    let sample = work.path().join("sample");

    let o = run(Command::new(bando_bin())
        .args(["sample", "--out"])
        .arg(&sample));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("12 communes"), "{}", stdout(&o));

    let o = run(bando_embedded(&data)
        .args(["import", "--layer", "communes"])
        .arg(sample.join("communes.gpkg")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported: 12 new"), "{}", stdout(&o));
    // The import stopped the cluster it started.
    assert!(!data.join("pg/postmaster.pid").exists());

    // Without the background seeding: this test counts the tiles a request stores
    // (tilestore.rs tests the seeding).
    let server = Server::start({
        let mut cmd = bando_embedded(&data);
        cmd.env("BANDO_TILES_SEED", "false");
        cmd
    });
    let (status, body) = server.get("/health").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.get("/?f=html").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("data-layer=\"communes\" data-count=\"12\""),
        "{body}"
    );
    assert!(data.join("pg/postmaster.pid").exists());
    // A tile goes to the tile store in the data dir (issue 17), written in the background.
    let t = gis_core::tile::TileCoord::containing(106.883, 11.535, 12).expect("tile");
    let tile = format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    let (status, _) = server.get(&tile).await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, metrics) = server.get("/metrics").await;
        if metrics.contains("bando_tile_store_tiles{event=\"written\"} 1") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not stored: {metrics}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.stop();
    assert!(
        !data.join("pg/postmaster.pid").exists(),
        "the private cluster must stop with bando"
    );
    let o = run(bando_embedded(&data).args(["tiles", "status"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.split_whitespace().take(3).eq(["communes", "12", "1"])),
        "{}",
        stdout(&o)
    );

    // Second start: same data, no re-import; the stored tile is served without a render, from
    // memory: the start put the store's tiles back there (restart = warm).
    let server = Server::start({
        let mut cmd = bando_embedded(&data);
        cmd.env("BANDO_TILES_SEED", "false");
        cmd
    });
    let (_, body) = server.get("/layers").await;
    assert!(body.contains("\"feature_count\":12"), "{body}");
    let (status, _) = server.get(&tile).await;
    assert_eq!(status, 200);
    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.contains("bando_tile_renders 0"), "{metrics}");
    assert!(
        metrics.contains("bando_tile_store_tiles{event=\"hit\"} 0"),
        "read from the store though put back in memory at start: {metrics}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_db_commands_use_database_url_when_set() {
    let db = TestDb::new().await;
    let work = tempfile::tempdir().expect("tempdir");
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", &db.url)
        .args(["db", "status"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.lines().count() >= 4, "{text}");
    assert!(text.lines().all(|l| l.contains("applied")), "{text}");
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", &db.url)
        .args(["db", "migrate"]));
    assert!(o.status.success(), "{}", stderr(&o));

    let mut cmd = Command::new(bando_bin());
    cmd.env("DATABASE_URL", &db.url)
        .arg("--data-dir")
        .arg(work.path());
    let server = Server::start(cmd);
    let (status, _) = server.get("/health").await;
    assert_eq!(status, 200);
    server.stop();
    // No private cluster was created.
    assert!(!work.path().join("pg").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_command_line_input_gets_one_clear_sentence() {
    let work = tempfile::tempdir().expect("tempdir");
    let missing = work.path().join("nowhere.gpkg");
    // Layers may be added without code, so an unknown layer is told by the database's list.
    let db = TestDb::new().await;
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", &db.url)
        .args(["import", "--layer", "parcels_of_mars"])
        .arg(&missing));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("importable layers: communes"),
        "{}",
        stderr(&o)
    );

    let o = run(Command::new(bando_bin())
        .args(["import", "--layer", "communes", "--srs", "EPSG:abc"])
        .arg(&missing));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is not a CRS reference"),
        "{}",
        stderr(&o)
    );

    let o = run(Command::new(bando_bin())
        .env("BANDO_LISTEN", "not-an-address")
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .arg("serve"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("server.listen"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// Writes `n` street lights as GeoJSON around Đồng Xoài; `tag` goes into every code.
fn street_lights_geojson(path: &Path, n: usize, tag: &str) {
    let mut text = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    for i in 0..n {
        let lon = 106.85 + (i % 1000) as f64 * 0.0001;
        let lat = 11.50 + (i / 1000) as f64 * 0.0001;
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"MADEN\":\"D{i}\",\"LOAIDEN\":\"{tag}\"}},\"geometry\":{{\"type\":\"Point\",\"coordinates\":[{lon:.7},{lat:.7}]}}}}"
        ));
    }
    text.push_str("\n]}\n");
    std::fs::write(path, text).expect("write geojson");
}

async fn street_light_state(db: &TestDb) -> (i64, Option<String>) {
    sqlx::query_as("SELECT count(*), md5(string_agg(source_id || lamp_type || ST_AsText(geom), ',' ORDER BY source_id)) FROM sectors.street_lights")
        .fetch_one(&db.pool)
        .await
        .expect("state")
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_an_import_at_any_moment_leaves_the_layer_as_it_was() {
    let db = TestDb::new().await;
    let work = tempfile::tempdir().expect("tempdir");
    let small = work.path().join("small.geojson");
    street_lights_geojson(&small, 50, "cu");
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", &db.url)
        .args(["import", "--layer", "street_lights", "--mode", "replace"])
        .arg(&small));
    assert!(o.status.success(), "{}", stderr(&o));
    let before = street_light_state(&db).await;
    assert_eq!(before.0, 50);

    let big = work.path().join("big.geojson");
    street_lights_geojson(&big, 60_000, "moi");
    // A full run, to know what "after" looks like and how long it takes.
    let started = Instant::now();
    let full_db = TestDb::new().await;
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", &full_db.url)
        .args(["import", "--layer", "street_lights", "--mode", "replace"])
        .arg(&big));
    assert!(o.status.success(), "{}", stderr(&o));
    let full = started.elapsed();
    let after = street_light_state(&full_db).await;
    assert_eq!(after.0, 60_000);

    let mut killed_mid_way = 0;
    for step in 1..=5u32 {
        let delay = full.mul_f64(f64::from(step) / 6.0);
        let mut child = Command::new(bando_bin())
            .env("DATABASE_URL", &db.url)
            .args(["import", "--layer", "street_lights", "--mode", "replace"])
            .arg(&big)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn import");
        std::thread::sleep(delay);
        let finished = child.try_wait().expect("wait").is_some();
        let _ = child.kill(); // SIGKILL: no cleanup of any kind
        let _ = child.wait();
        // The server notices the dead client and rolls its transaction back.
        let deadline = Instant::now() + Duration::from_secs(20);
        let state = loop {
            let state = street_light_state(&db).await;
            let busy: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bando'",
            )
            .fetch_one(&db.pool)
            .await
            .expect("activity");
            if busy == 0 || Instant::now() > deadline {
                break state;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if state == after {
            // It committed before the kill; put the old layer back for the next round.
            let o = run(Command::new(bando_bin())
                .env("DATABASE_URL", &db.url)
                .args(["import", "--layer", "street_lights", "--mode", "replace"])
                .arg(&small));
            assert!(o.status.success(), "{}", stderr(&o));
        } else {
            assert!(
                !finished,
                "the import finished but its result is not visible"
            );
            assert_eq!(state, before, "killed after {delay:?}: the layer changed");
            killed_mid_way += 1;
        }
    }
    assert!(
        killed_mid_way >= 2,
        "only {killed_mid_way} kills landed mid-import"
    );
}

#[tokio::test]
async fn dev_token_prints_a_token_the_dev_issuer_signed_for_that_server() {
    let work = tempfile::tempdir().expect("tempdir");
    let o = run(bando_embedded(work.path())
        .env_remove("BANDO_AUTH_DEV_ISSUER")
        .args(["dev-token", "can_bo_dia_chinh"]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("development issuer is off"),
        "{}",
        stderr(&o)
    );
    let o = run(bando_embedded(work.path())
        .env("BANDO_AUTH_DEV_ISSUER", "true")
        .args([
            "dev-token",
            "can_bo_dia_chinh",
            "--listen",
            "127.0.0.1:8099",
        ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    // Verified as the server on 127.0.0.1:8099 would: its issuer, the key in the data dir.
    let issuer = auth::DevIssuer::open(auth::DevIssuerConfig::new(
        "http://127.0.0.1:8099/dev-auth",
        work.path().join("dev-issuer"),
    ))
    .expect("issuer");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    let who = verifier
        .authenticate(Some(&format!("Bearer {token}")))
        .await
        .expect("a valid token")
        .expect("a principal");
    assert_eq!(who.username, "can_bo_dia_chinh");
    let o = run(bando_embedded(work.path())
        .env("BANDO_AUTH_DEV_ISSUER", "true")
        .args(["dev-token", "nobody"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no demo user"), "{}", stderr(&o));
}
