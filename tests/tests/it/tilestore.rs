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
