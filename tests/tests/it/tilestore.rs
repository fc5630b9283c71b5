//! The persistent tile store (issue 17): a restarted server serves stored tiles without
//! rendering them; an edit drops exactly the stored tiles it touches; an edit made while no
//! server listened is never served from the store.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use gis_core::layer::Access;
use gis_core::tile::TileCoord;
use tests::{decode_mvt, TestDb};
use tile_server::app::{app, AppState, Limits};
use tiles::store::StoreSettings;
use tower::ServiceExt;

async fn get(app: &Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let res = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("accept-encoding", "identity")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = res.status();
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
    (status, etag, body.to_vec())
}

fn uri(t: TileCoord) -> String {
    format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y)
}

/// A server's state over `db` with its tile store at `dir`.
async fn server(db: &TestDb, dir: &std::path::Path) -> (AppState, Router) {
    let state = AppState::new(db.pool.clone()).expect("state");
    state
        .tiles
        .open_store(StoreSettings {
            path: dir.join("store.sqlite"),
            ..StoreSettings::in_data_dir(dir)
        })
        .await
        .expect("store");
    let router = app(state.clone(), Limits::default());
    (state, router)
}

async fn stored(state: &AppState, t: TileCoord) -> bool {
    let store = state.tiles.store().expect("store");
    store.flush().await.expect("flush");
    store.contains("communes", t).await.expect("read")
}

/// Waits until a change notification is applied.
async fn changed(state: &AppState, generation: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state.tiles.generation() == generation {
        assert!(
            std::time::Instant::now() < deadline,
            "no invalidation within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_tiles_survive_a_restart_edits_drop_exactly_theirs_and_edits_while_down_are_never_served(
) {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let dir = tempfile::tempdir().expect("dir");

    // The commune under Đồng Xoài is the one edited; the far tile is at the commune whose
    // centre is farthest from it, and outside the edited commune's box even when buffered.
    let (edited, near_x, near_y, far_x, far_y): (i64, f64, f64, f64, f64) = sqlx::query_as(
        "WITH e AS (SELECT id, geom_3857 FROM land.communes
                    WHERE ST_Intersects(geom_3857, ST_Transform(ST_SetSRID(ST_Point(106.883, 11.535), 4326), 3857))
                    LIMIT 1),
              f AS (SELECT c.geom_3857 FROM land.communes c, e
                    ORDER BY ST_Distance(c.geom_3857, e.geom_3857) DESC LIMIT 1)
         SELECT e.id, ST_X(ST_PointOnSurface(e.geom_3857)), ST_Y(ST_PointOnSurface(e.geom_3857)),
                ST_X(ST_PointOnSurface(f.geom_3857)), ST_Y(ST_PointOnSurface(f.geom_3857))
         FROM e, f",
    )
    .fetch_one(&db.pool)
    .await
    .expect("communes");
    let at = |x: f64, y: f64, z: u8| {
        let (lon, lat) = gis_core::tile::mercator_to_lonlat(x, y);
        TileCoord::containing(lon, lat, z).expect("tile")
    };
    let near = at(near_x, near_y, 14);
    let near_low = at(near_x, near_y, 10);
    let far = at(far_x, far_y, 14);
    let (bx0, by0, bx1, by1): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
         FROM (SELECT ST_Extent(geom_3857)::geometry AS b FROM land.communes WHERE id = $1) e",
    )
    .bind(edited)
    .fetch_one(&db.pool)
    .await
    .expect("box");
    let fb = far.mercator_bounds();
    let m = fb.width() * 64.0 / 4096.0 + 60.0; // buffered, and the 50 m moves
    assert!(
        fb.max_x + m < bx0 || fb.min_x - m > bx1 || fb.max_y + m < by0 || fb.min_y - m > by1,
        "the far tile must be away from the edited commune"
    );

    // 1. Rendered and stored.
    let (state, router) = server(&db, dir.path()).await;
    let mut first = Vec::new();
    for t in [near, near_low, far] {
        let (status, etag, body) = get(&router, &uri(t)).await;
        assert_eq!(status, StatusCode::OK, "{t:?}");
        assert!(!decode_mvt(&body).is_empty());
        first.push((etag, body));
        assert!(stored(&state, t).await, "{t:?} stored");
    }
    assert_eq!(state.tiles.renders(), 3);
    // Private tiles and live layers never go to the store.
    let other = at(near_x, near_y, 13);
    state
        .tiles
        .layer_tile("communes", other, Access::Restricted)
        .await
        .expect("tile");
    assert!(
        !stored(&state, other).await,
        "an administrator's tile was stored"
    );
    state
        .tiles
        .layer_tile("latest_readings", other, Access::Public)
        .await
        .expect("tile");
    let store = state.tiles.store().expect("store").clone();
    store.flush().await.expect("flush");
    assert!(!store
        .contains("latest_readings", other)
        .await
        .expect("read"));
    drop((state, router, store));

    // 2. A restarted server (a new state on the same data dir) serves them without rendering.
    let (state, router) = server(&db, dir.path()).await;
    let listener = state.tiles.spawn_invalidation_listener();
    tokio::time::sleep(Duration::from_millis(300)).await; // the listener is connected
    for (t, (etag, body)) in [near, near_low, far].into_iter().zip(&first) {
        let (status, e, b) = get(&router, &uri(t)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((&e, &b), (etag, body), "{t:?} differs after the restart");
    }
    assert_eq!(state.tiles.renders(), 0, "a stored tile was rendered again");
    assert!(state.tiles.store().expect("store").counters().hits >= 3);
    drop((state, router, listener));

    // 2b. Restart = warm: put back in memory first, they are served without the store.
    let (state, router) = server(&db, dir.path()).await;
    assert!(state.tiles.warm_from_store().await >= 3);
    for (t, (etag, body)) in [near, near_low, far].into_iter().zip(&first) {
        let (status, e, b) = get(&router, &uri(t)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (&e, &b),
            (etag, body),
            "{t:?} differs after the warm restart"
        );
    }
    assert_eq!(state.tiles.renders(), 0);
    assert_eq!(
        state.tiles.store().expect("store").counters().hits,
        0,
        "read from disk though put back in memory"
    );
    let listener = state.tiles.spawn_invalidation_listener();
    tokio::time::sleep(Duration::from_millis(300)).await; // the listener is connected

    // 3. An edit of one commune drops its stored tiles at every zoom, and only those.
    let generation = state.tiles.generation();
    sqlx::query("UPDATE land.communes SET geom = ST_Translate(geom, 50, 0) WHERE id = $1")
        .bind(edited)
        .execute(&db.pool)
        .await
        .expect("edit");
    changed(&state, generation).await;
    assert!(!stored(&state, near).await, "the edited z14 tile survived");
    assert!(
        !stored(&state, near_low).await,
        "the edited z10 tile survived"
    );
    assert!(stored(&state, far).await, "the far tile was dropped");
    let (_, etag, _) = get(&router, &uri(near)).await;
    assert_ne!(etag, first[0].0, "the old tile was served after the edit");
    assert_eq!(state.tiles.renders(), 1, "re-rendered once");
    assert!(
        stored(&state, near).await,
        "the re-rendered tile is stored again"
    );
    let (_, etag_after_edit, _) = get(&router, &uri(near)).await;
    assert_eq!(etag_after_edit, etag);
    listener.abort();
    drop((state, router));

    // 4. An edit while no server listens: the next start must not serve the stored tile.
    sqlx::query("UPDATE land.communes SET geom = ST_Translate(geom, 50, 0) WHERE id = $1")
        .bind(edited)
        .execute(&db.pool)
        .await
        .expect("edit while down");
    let (state, router) = server(&db, dir.path()).await;
    // Checked against the database before any goes back to memory.
    state.tiles.warm_from_store().await;
    let (status, etag, body) = get(&router, &uri(near)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        etag, etag_after_edit,
        "a tile older than the last edit was served"
    );
    assert_eq!(
        state.tiles.renders(),
        1,
        "rendered, not read from the store"
    );
    let fresh = {
        let uncached = AppState::with_tiles(
            db.pool.clone(),
            tiles::TileSettings {
                cache_bytes: 0,
                ..Default::default()
            },
        )
        .expect("state");
        get(&app(uncached, Limits::default()), &uri(near)).await
    };
    assert_eq!(
        decode_mvt(&body),
        decode_mvt(&fresh.2),
        "differs from a fresh render"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn seeding_renders_every_tile_with_data_once_and_a_server_then_renders_none() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let dir = tempfile::tempdir().expect("dir");
    let (state, _) = server(&db, dir.path()).await;
    let zooms = std::sync::Mutex::new(Vec::new());
    let report = state
        .tiles
        .seed("communes", 0, 11, 2, |z, r| {
            zooms.lock().expect("lock").push((z, r.with_data))
        })
        .await
        .expect("seed");
    assert!(report.rendered > 10, "{report:?}");
    assert_eq!(report.already, 0);
    assert_eq!(
        zooms
            .lock()
            .expect("lock")
            .iter()
            .map(|z| z.0)
            .collect::<Vec<_>>(),
        (0..=11).collect::<Vec<_>>()
    );
    let status = state
        .tiles
        .store()
        .expect("store")
        .status()
        .await
        .expect("status");
    let count: u64 = status.iter().map(|s| s.tiles).sum();
    assert_eq!(count, report.rendered, "{status:?}");
    assert!(status.iter().all(|s| s.layers == "communes" && s.z <= 11));
    // Every stored tile holds communes (tiles without data are not walked into).
    let t = TileCoord::containing(106.883, 11.535, 11).expect("tile");
    assert!(stored(&state, t).await);
    // Again: nothing to render.
    let again = state
        .tiles
        .seed("communes", 0, 11, 2, |_, _| {})
        .await
        .expect("seed");
    assert_eq!((again.rendered, again.already), (0, report.rendered));
    // Live layers are not seeded.
    assert!(state
        .tiles
        .seed("latest_readings", 0, 3, 1, |_, _| {})
        .await
        .is_err());
    drop(state);
    // A server started on the seeded store renders nothing for a seeded tile.
    let (state, router) = server(&db, dir.path()).await;
    let (status, _, body) = get(&router, &uri(t)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!decode_mvt(&body).is_empty());
    assert_eq!(state.tiles.renders(), 0);
}

/// A metric's value in Prometheus text (`name` with its labels, as printed).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn metrics(server: &tests::Bando) -> String {
    let (status, text) = server.get("/metrics").await;
    assert_eq!(status, 200);
    text
}

/// Waits until the server's seeder is idle with nothing waiting and `done` holds, twice in a
/// row 300 ms apart (notifications of one import arrive one by one); the metrics then.
async fn seeded(server: &tests::Bando, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut calm = 0;
    loop {
        let m = metrics(server).await;
        let idle = metric(&m, "bando_tile_seed_running") == 0.0
            && metric(&m, "bando_tile_seed_waiting") == 0.0;
        calm = if idle && done(&m) { calm + 1 } else { 0 };
        if calm == 2 {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the seeder did not finish within 120 s: {m}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `bando tiles status` of a data dir: (layers, z, tiles) rows and the seeding line.
fn store_status(db: &TestDb, data: &std::path::Path) -> (Vec<(String, u8, u64)>, String) {
    let o = std::process::Command::new(tests::bando_bin())
        .env("DATABASE_URL", &db.url)
        .arg("--data-dir")
        .arg(data)
        .args(["tiles", "status"])
        .output()
        .expect("bando tiles status");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [layers, z, tiles, _] => {
                    Some((layers.to_string(), z.parse().ok()?, tiles.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect();
    let seeding = text
        .lines()
        .find(|l| l.starts_with("seeding:"))
        .unwrap_or("")
        .to_string();
    (rows, seeding)
}

/// `bando serve` over `db` with its data (and tile store) in `data`, seeding up to z12.
fn serve(db: &TestDb, data: &std::path::Path) -> tests::Bando {
    let mut cmd = std::process::Command::new(tests::bando_bin());
    cmd.env("DATABASE_URL", &db.url)
        .env("BANDO_TILES_SEED_MAX_ZOOM", "12")
        .env("BANDO_CLIENT_REQUESTS_PER_MINUTE", "0")
        .env("BANDO_CLIENT_MAX_CONCURRENT", "0")
        .arg("--data-dir")
        .arg(data);
    tests::Bando::start(cmd)
}

/// A tile's plain MVT bytes from a running server.
async fn fetch(server: &tests::Bando, t: TileCoord) -> Vec<u8> {
    let r = reqwest::get(format!("{}{}", server.base, uri(t)))
        .await
        .expect("GET");
    // 204: a tile without features.
    match r.status().as_u16() {
        204 => Vec::new(),
        200 => r.bytes().await.expect("body").to_vec(),
        other => panic!("{t:?}: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_server_seeds_an_import_and_renders_an_edits_dropped_tiles_again_without_requests(
) {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    let work = tempfile::tempdir().expect("dir");
    let data = work.path().join("a");
    let server = serve(&db, &data);
    // First start on an empty database: the start's walk finds nothing.
    let m = seeded(&server, |m| metric(m, "bando_tile_seed_walks") >= 1.0).await;
    assert_eq!(metric(&m, "bando_tile_seed_tiles{event=\"rendered\"}"), 0.0);
    let walks = metric(&m, "bando_tile_seed_walks");

    // 1. An import into the running server: its area is seeded without any request.
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let m = seeded(&server, |m| {
        metric(m, "bando_tile_seed_walks") > walks
            && metric(m, "bando_tile_store_tiles{event=\"written\"}")
                == metric(m, "bando_tile_seed_tiles{event=\"rendered\"}")
    })
    .await;
    let rendered = metric(&m, "bando_tile_seed_tiles{event=\"rendered\"}");
    assert!(rendered >= 7.0, "one tile per zoom at least: {m}");
    let (rows, seeding) = store_status(&db, &data);
    assert!(seeding.starts_with("seeding: idle"), "{seeding}");
    // From the layer's first zoom (z6; below it its tiles are empty, never rendered) to the
    // seed zoom.
    let zooms: Vec<u8> = rows.iter().map(|r| r.1).collect();
    assert_eq!(zooms, (6..=12).collect::<Vec<_>>(), "{rows:?}");
    assert!(rows.iter().all(|r| r.0 == "communes"), "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.2).sum::<u64>() as f64, rendered);
    let (status, page) = server.get("/?f=html").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"tile-store\" data-seeding=\"false\""),
        "{page}"
    );
    // Every tile over the communes holding any of them is served without a render (from
    // z6, the layer's first zoom); the others render empty.
    let (x0, y0, x1, y1): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
         FROM (SELECT ST_Extent(geom_3857)::geometry AS b FROM land.communes) e",
    )
    .fetch_one(&db.pool)
    .await
    .expect("extent");
    let (mut full, mut empty) = (0, 0);
    let renders = |m: &str| metric(m, "bando_tile_renders");
    for z in 6..=12u8 {
        let corner = |x: f64, y: f64| {
            let (lon, lat) = gis_core::tile::mercator_to_lonlat(x, y);
            TileCoord::containing(lon, lat, z).expect("tile")
        };
        let (a, b) = (corner(x0, y1), corner(x1, y0));
        for x in a.x.saturating_sub(1)..=b.x + 1 {
            for y in a.y.saturating_sub(1)..=b.y + 1 {
                let t = TileCoord::new(z, x, y).expect("tile");
                let before = renders(&metrics(&server).await);
                let body = fetch(&server, t).await;
                let after = renders(&metrics(&server).await);
                if decode_mvt(&body).is_empty() {
                    empty += 1;
                } else {
                    full += 1;
                    assert_eq!(after, before, "{t:?} holds communes and was rendered");
                }
            }
        }
    }
    assert!(full >= 7 && empty > 0, "{full} full, {empty} empty");
    // Beyond the seed zoom nothing was seeded.
    let t13 = TileCoord::containing(106.883, 11.535, 13).expect("tile");
    let before = renders(&metrics(&server).await);
    fetch(&server, t13).await;
    assert_eq!(renders(&metrics(&server).await), before + 1.0);
    // That render is stored by the store's writer, off the request path (which also makes its
    // brotli bytes): wait for it, so that the store compared around the edit below is settled.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !store_status(&db, &data).0.iter().any(|r| r.1 == 13) {
        assert!(
            std::time::Instant::now() < deadline,
            "the z13 tile a request rendered was never stored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 2. An edit of one commune: exactly its dropped tiles come back stored, without a
    // request, and no other tile is rendered.
    let near = TileCoord::containing(106.883, 11.535, 11).expect("tile");
    let old = fetch(&server, near).await;
    let m = metrics(&server).await;
    let (dropped, rerendered) = (
        metric(&m, "bando_tile_store_tiles{event=\"dropped\"}"),
        metric(&m, "bando_tile_seed_tiles{event=\"rerendered\"}"),
    );
    let (before_edit, _) = store_status(&db, &data);
    sqlx::query(
        "UPDATE land.communes SET geom = ST_Translate(geom, 50, 0)
         WHERE ST_Intersects(geom_3857, ST_Transform(ST_SetSRID(ST_Point(106.883, 11.535), 4326), 3857))",
    )
    .execute(&db.pool)
    .await
    .expect("edit");
    let m = seeded(&server, |m| {
        let d = metric(m, "bando_tile_store_tiles{event=\"dropped\"}") - dropped;
        d > 0.0 && metric(m, "bando_tile_seed_tiles{event=\"rerendered\"}") - rerendered == d
    })
    .await;
    // At least one tile per zoom stored (z6–13).
    assert!(
        metric(&m, "bando_tile_store_tiles{event=\"dropped\"}") - dropped >= 8.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, "bando_tile_seed_tiles{event=\"rendered\"}"),
        rendered,
        "an edit walks no area"
    );
    let (after_edit, _) = store_status(&db, &data);
    assert_eq!(
        after_edit, before_edit,
        "the dropped tiles are stored again"
    );
    let before = renders(&metrics(&server).await);
    let new = fetch(&server, near).await;
    assert_eq!(
        renders(&metrics(&server).await),
        before,
        "served from the store"
    );
    assert_ne!(new, old, "the tile after the edit is the one before it");
    server.stop();

    // 3. First start on existing data, with an empty store: seeded at start, as many tiles
    // with data as the import's walk found.
    let data_b = work.path().join("b");
    let server = serve(&db, &data_b);
    let m = seeded(&server, |m| metric(m, "bando_tile_seed_walks") >= 1.0).await;
    assert_eq!(
        metric(&m, "bando_tile_seed_tiles{event=\"rendered\"}"),
        rendered
    );
    let (rows_b, _) = store_status(&db, &data_b);
    assert_eq!(
        rows_b.iter().map(|r| r.1).collect::<Vec<_>>(),
        (6..=12).collect::<Vec<_>>()
    );
    let before = renders(&metrics(&server).await);
    assert_eq!(fetch(&server, near).await, new);
    assert_eq!(renders(&metrics(&server).await), before);
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_reads_a_current_store_with_the_same_bytes_and_renders_a_stale_one() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let dir = tempfile::tempdir().expect("dir");
    let settings = StoreSettings {
        path: dir.path().join("store.sqlite"),
        ..StoreSettings::in_data_dir(dir.path())
    };
    let (state, _) = server(&db, dir.path()).await;
    state
        .tiles
        .seed("communes", 0, 12, 2, |_, _| {})
        .await
        .expect("seed");
    let registry = std::sync::Arc::new(layers::registry().expect("registry"));
    let (w, s, e, n): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM
         (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom_3857), 3857), 4326) AS b FROM land.communes) e",
    )
    .fetch_one(&db.pool)
    .await
    .expect("extent");
    let bbox = format!("{w},{s},{e},{n}");
    // The pack's tiles stored by the seeding.
    let store = state.tiles.store().expect("store").clone();
    let mut stored = 0u64;
    for z in 6..=12 {
        for t in gis_core::tile::tiles_covering(&gis_core::tile::Bounds::new(w, s, e, n), z) {
            stored += u64::from(store.contains("communes", t).await.expect("read"));
        }
    }
    drop((state, store));
    let pack = |name: &str| {
        tiles::export::ExportRequest::new(
            &registry,
            &bbox,
            None,
            6,
            12,
            "communes",
            &dir.path().join(name),
            false,
        )
        .expect("request")
    };
    let export = |name: &'static str, store: Option<StoreSettings>| {
        let (pool, registry, request) = (db.pool.clone(), registry.clone(), pack(name));
        async move {
            let summary = tiles::export::export(&pool, registry, &request, store)
                .await
                .expect("export");
            (summary, crate::export::read_mbtiles(&request.out).0)
        }
    };

    // A current store: every tile of the pack is read from it, the same bytes as rendered.
    let (rendered, rendered_tiles) = export("rendered.mbtiles", None).await;
    assert_eq!(rendered.from_store, 0);
    let (read, read_tiles) = export("read.mbtiles", Some(settings.clone())).await;
    assert!(read.written >= 7, "{read:?}");
    assert_eq!(read.written, rendered.written);
    // Every stored tile of the pack, and so every tile with data (empty ones are rendered).
    assert!(stored >= read.written, "{stored} stored");
    assert_eq!(read.from_store, stored, "{read:?}");
    assert_eq!(read_tiles, rendered_tiles);

    // An edit while no server listened: the store is not current for communes any more; the
    // export renders them, as a fresh render.
    sqlx::query("UPDATE land.communes SET geom = ST_Translate(geom, 50, 0)")
        .execute(&db.pool)
        .await
        .expect("edit");
    let (stale, stale_tiles) = export("stale.mbtiles", Some(settings.clone())).await;
    assert_eq!(stale.from_store, 0, "{stale:?}");
    let (_, fresh_tiles) = export("fresh.mbtiles", None).await;
    assert_eq!(stale_tiles, fresh_tiles);
    assert_ne!(stale_tiles, rendered_tiles, "the edit changed the tiles");
}

#[tokio::test(flavor = "multi_thread")]
async fn tilejson_publishes_seeded_layers_to_their_seed_zoom_whose_tiles_hold_every_feature() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    for (file, layer) in [
        ("communes.gpkg", "communes"),
        ("parcels_binhphuoc.shp", "parcels"),
    ] {
        tests::import(&db.pool, &sample.path().join(file), layer)
            .await
            .expect("import");
    }
    // A parcel too small to be drawn before z17 (6 m × 6 m: its min_zoom is 17).
    let (id, lon, lat, min_zoom): (i64, f64, f64, i16) = sqlx::query_as(
        "WITH p AS (SELECT id FROM land.parcels ORDER BY id LIMIT 1)
         UPDATE land.parcels t
         SET geom = ST_Multi(ST_Envelope(ST_Buffer(ST_PointOnSurface(t.geom), 3)))
         FROM p WHERE t.id = p.id
         RETURNING t.id::bigint, ST_X(ST_Transform(ST_PointOnSurface(t.geom_3857), 4326)),
                   ST_Y(ST_Transform(ST_PointOnSurface(t.geom_3857), 4326)), t.min_zoom",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a small parcel");
    assert_eq!(min_zoom, 17);
    let router = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let registry = layers::registry().expect("registry");
    // TileJSON maxzoom: the seed zoom (16) for parcels (zooms 8–20) and communes; a layer kept
    // out of the store keeps its highest zoom.
    for (layers, want) in [
        ("parcels", 16u64),
        ("communes", 16),
        ("communes,parcels", 16),
        (
            "latest_readings",
            u64::from(
                registry
                    .get("latest_readings")
                    .expect("layer")
                    .zoom_range()
                    .1,
            ),
        ),
    ] {
        let (status, _, body) = get(&router, &format!("/tiles/{layers}.json")).await;
        assert_eq!(status, StatusCode::OK, "{layers}");
        let tilejson: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(tilejson["maxzoom"], want, "{layers}");
    }
    // Clients overzoom the z16 tile: it holds the small parcel, as z18 does; z15 does not.
    let ids_at = |z: u8| {
        let router = router.clone();
        async move {
            let t = TileCoord::containing(lon, lat, z).expect("tile");
            let (status, _, body) = get(
                &router,
                &format!("/tiles/parcels/{}/{}/{}.mvt", t.z, t.x, t.y),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            decode_mvt(&body)
                .into_iter()
                .flat_map(|l| l.ids)
                .collect::<Vec<u64>>()
        }
    };
    let id = u64::try_from(id).expect("id");
    assert!(!ids_at(15).await.contains(&id), "drawn before its zoom");
    assert!(
        ids_at(16).await.contains(&id),
        "missing from the seed zoom's tile"
    );
    assert!(ids_at(18).await.contains(&id));
}
