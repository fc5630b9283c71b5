//! Re-deliveries (issue 18): a layer imported again is compared with what is stored in one join
//! on the identity, every statement of the merge plans as set operations, the counts are exact
//! in both modes, only the tiles around the changes are dropped, and readers see the old state
//! until the one commit.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use gis_core::bulk::{ImportRecord, InvalidPolicy, Loader, MergeMode, MergePlan, Merged};
use gis_core::tile::TileCoord;
use importers::pipeline::{import, ImportOptions, ImportSummary};
use sample::{NextYear, NextYearCounts, SampleOptions};
use serde_json::Value as Json;
use tests::TestDb;
use tile_server::app::{app, AppState, Limits};
use tiles::TileSettings;
use tower::ServiceExt;

/// Live parcels of the generated delivery (squares of 25 m every 30 m in EPSG:9212, visible
/// from z16).
const LIVE: i64 = 100_000;

/// `land.parcels` holding parcels 1..=LIVE, written in SQL.
async fn live_parcels(db: &TestDb) {
    sqlx::query(
        "INSERT INTO land.parcels (source_id, commune_code, sheet_number, parcel_number,
            declared_area_m2, land_use_code, certificate_issued, extra, geom)
         SELECT 'p' || i, '25195', 1, i, 64, 'ONT', true, '{}',
                ST_Multi(ST_MakeEnvelope(500000 + (i % 400) * 30, 1270000 + (i / 400) * 30,
                                         500025 + (i % 400) * 30, 1270025 + (i / 400) * 30, 9212))
         FROM generate_series(1, $1::bigint) AS i",
    )
    .bind(LIVE)
    .execute(&db.pool)
    .await
    .expect("live parcels");
    sqlx::query("ANALYZE land.parcels")
        .execute(&db.pool)
        .await
        .expect("analyse");
}

/// Stages next year's delivery in SQL: parcels 1..=LIVE without every 200th (500 gone), plus
/// LIVE+1..=LIVE+500 (new); every 200th from 1 gets a smaller square (500 geometry changes),
/// every 200th from 101 a withdrawn certificate (500 attribute changes).
async fn staged_delivery(db: &TestDb) -> Loader {
    let conn = db.pool.acquire().await.expect("connection");
    let mut loader = Loader::begin(conn, land::tables::PARCELS)
        .await
        .expect("begin");
    sqlx::query(
        "INSERT INTO bando_stage (__file, __index, source_id, commune_code, sheet_number,
            parcel_number, declared_area_m2, land_use_code, certificate_issued, extra, geom)
         SELECT 0, i, 'p' || i, '25195', 1, i, 64, 'ONT', i % 200 <> 101, '{}',
                ST_Multi(ST_MakeEnvelope(500000 + (i % 400) * 30, 1270000 + (i / 400) * 30,
                    CASE WHEN i % 200 = 1 THEN 500024 ELSE 500025 END + (i % 400) * 30,
                    1270025 + (i / 400) * 30, 9212))
         FROM generate_series(1, $1::bigint + 500) AS i WHERE i % 200 <> 0 OR i > $1",
    )
    .bind(LIVE)
    .execute(loader.connection())
    .await
    .expect("stage");
    let prepared = loader
        .prepare(InvalidPolicy::Reject, &[])
        .await
        .expect("prepare");
    assert!(prepared.rejects.is_empty(), "{:?}", &prepared.rejects[..1]);
    loader
}

/// Every plan node of a plan tree, with the chain of its ancestors' node types.
fn nodes<'a>(node: &'a Json, out: &mut Vec<&'a Json>) {
    out.push(node);
    for child in node["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

fn scans_live_table(node: &Json) -> bool {
    let mut all = Vec::new();
    nodes(node, &mut all);
    all.iter().any(|n| {
        n["Relation Name"] == "parcels" && n["Schema"].as_str().is_none_or(|s| s == "land")
    })
}

/// The ways the statement went wrong: a nested loop with the live table on its inner
/// side, or a correlated subquery over it.
fn loops_over_the_live_table(plan: &MergePlan) -> Vec<String> {
    let root = &plan.plan[0]["Plan"];
    let mut all = Vec::new();
    nodes(root, &mut all);
    let mut found = Vec::new();
    for n in all {
        if n["Node Type"] == "Nested Loop" {
            let inner = &n["Plans"][1];
            if scans_live_table(inner) {
                found.push(format!("{}: nested loop over land.parcels", plan.step));
            }
        }
        if n["Parent Relationship"] == "SubPlan" && scans_live_table(n) {
            found.push(format!("{}: subplan over land.parcels", plan.step));
        }
    }
    found
}

fn record() -> ImportRecord {
    ImportRecord {
        imported_by: "test".into(),
        files: serde_json::json!([]),
        read: 0,
        report: serde_json::json!({}),
    }
}

async fn check_plans_and_merge(mode: MergeMode) -> (TestDb, Merged) {
    let db = TestDb::new().await;
    live_parcels(&db).await;
    let mut loader = staged_delivery(&db).await;
    let plans = loader.explain_merge(mode).await.expect("explain");
    let steps: Vec<&str> = plans.iter().map(|p| p.step).collect();
    assert_eq!(
        steps,
        ["classify", "count", "delete", "update", "insert", "touched"]
    );
    // The detector finds the plan shape (checked on a plan of that shape)…
    let bad = MergePlan {
        step: "example",
        plan: serde_json::json!([{"Plan": {"Node Type": "Aggregate", "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "parcels", "Schema": "land", "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "bando_stage",
                 "Parent Relationship": "SubPlan"}]},
            {"Node Type": "Nested Loop", "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "bando_stage"},
                {"Node Type": "Index Scan", "Relation Name": "parcels", "Schema": "land"}]},
            {"Node Type": "Seq Scan", "Relation Name": "parcels", "Schema": "land",
             "Parent Relationship": "SubPlan"}]}}]),
    };
    assert_eq!(loops_over_the_live_table(&bad).len(), 2);
    // …and none in the merge's plans.
    let loops: Vec<String> = plans.iter().flat_map(loops_over_the_live_table).collect();
    assert!(loops.is_empty(), "{loops:?}\n{:#?}", plans);
    // The classification is one full join of staged and live rows on the identity.
    let mut classify = Vec::new();
    nodes(&plans[0].plan[0]["Plan"], &mut classify);
    assert!(
        classify.iter().any(|n| n["Join Type"] == "Full"
            && (n["Node Type"] == "Hash Join" || n["Node Type"] == "Merge Join")),
        "{:#}",
        plans[0].plan
    );
    // Explaining changed nothing.
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM land.parcels")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(live, LIVE);
    let merged = loader.merge(mode, &record(), false).await.expect("merge");
    (db, merged)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replacing_redelivery_of_100k_parcels_plans_as_set_operations_and_counts_exactly() {
    let (db, m) = check_plans_and_merge(MergeMode::Replace).await;
    assert_eq!(
        (
            m.updated,
            m.inserted,
            m.deleted,
            m.unchanged,
            m.not_delivered
        ),
        (1000, 500, 500, 98_500, 500)
    );
    let (live, changed_geometry, withdrawn, of_this_import): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE ST_XMax(geom) - ST_XMin(geom) < 24.5),
                    count(*) FILTER (WHERE NOT certificate_issued),
                    count(*) FILTER (WHERE import_id = $1)
             FROM land.parcels",
    )
    .bind(m.import_id)
    .fetch_one(&db.pool)
    .await
    .expect("live");
    assert_eq!(
        (live, changed_geometry, withdrawn, of_this_import),
        // 500 of each, and among the new ones 3 smaller and 2 withdrawn by the same rule.
        (LIVE, 503, 502, 1500)
    );
    // Only the ids of the gone parcels are missing: delivered-again parcels kept theirs.
    let gone_left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM land.parcels WHERE parcel_number % 200 = 0 AND parcel_number <= $1",
    )
    .bind(LIVE)
    .fetch_one(&db.pool)
    .await
    .expect("gone");
    assert_eq!(gone_left, 0);
    assert!(!m.touched_areas.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upserting_redelivery_of_100k_parcels_plans_as_set_operations_and_counts_exactly() {
    let (db, m) = check_plans_and_merge(MergeMode::Upsert).await;
    assert_eq!(
        (
            m.updated,
            m.inserted,
            m.deleted,
            m.unchanged,
            m.not_delivered
        ),
        (1000, 500, 0, 98_500, 500)
    );
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM land.parcels")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(live, LIVE + 500);
}

struct Served {
    status: StatusCode,
    body: Vec<u8>,
}

async fn get(app: &Router, uri: &str) -> Served {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("req"))
        .await
        .expect("response");
    let status = response.status();
    let body = to_bytes(response.into_body(), 50 << 20)
        .await
        .expect("body")
        .to_vec();
    Served { status, body }
}

async fn import_parcels(db: &TestDb, path: &Path, mode: MergeMode) -> ImportSummary {
    let mut opts = ImportOptions::new("parcels");
    opts.mode = mode;
    opts.rejects_path = Some(std::env::temp_dir().join(format!("{}.rejects.csv", db.name)));
    let summary = import(&db.pool, path, &opts).await.expect("import");
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejected_by_reason);
    summary
}

/// The z14 tile holding the centre of a commune's parcels.
async fn commune_tile(db: &TestDb, commune: &str) -> TileCoord {
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(ST_Collect(geom_3857)), 4326) AS c
         FROM land.parcels WHERE commune_code = $1) x",
    )
    .bind(commune)
    .fetch_one(&db.pool)
    .await
    .expect("centre");
    TileCoord::containing(lon, lat, 14).expect("tile")
}

/// Waits until notifications stop arriving (none for 700 ms), at most 10 s.
async fn settle(state: &AppState, from: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.tiles.generation() == from {
        assert!(Instant::now() < deadline, "no change notification");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut seen = state.tiles.generation();
    loop {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = state.tiles.generation();
        if now == seen || Instant::now() > deadline {
            break;
        }
        seen = now;
    }
    state.tiles.sync().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn next_years_delivery_counts_exactly_and_drops_only_the_tiles_around_its_changes() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (this_year, next_year) = (dir.path().join("this"), dir.path().join("next"));
    let opts = SampleOptions {
        seed: 2025,
        parcels: 8_000,
    };
    sample::write_sample_with(&this_year, &opts).expect("sample");
    let file = "parcels_binhphuoc.shp";
    let first = import_parcels(&db, &this_year.join(file), MergeMode::Replace).await;
    let m = first.merged.expect("merged");
    assert_eq!((m.inserted, m.updated, m.deleted), (first.read, 0, 0));

    // The changing commune, and the one whose parcels lie furthest from it.
    let (near, far): (String, String) = sqlx::query_as(
        "WITH c AS (SELECT commune_code AS code, ST_Centroid(ST_Collect(geom)) AS g
                    FROM land.parcels GROUP BY 1)
         SELECT a.code, b.code FROM c a, c b
         WHERE a.code = (SELECT min(code) FROM c) ORDER BY ST_Distance(a.g, b.g) DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("communes");
    let shares = NextYear {
        changed: 0.06,
        renumbered: 0.02,
        dropped: 0.02,
        commune: Some(near.clone()),
    };
    let counts = sample::write_next_year(&next_year, &opts, &shares).expect("next");
    let written: NextYearCounts = serde_json::from_str(
        &std::fs::read_to_string(next_year.join(sample::NEXT_YEAR_COUNTS_FILE))
            .expect("counts file"),
    )
    .expect("counts json");
    assert_eq!(written, counts);
    // The counts are of both regions; this test imports Binh Phuoc only, where the commune is.
    assert!(counts.changed_geometry > 0 && counts.changed_attributes > 0);
    assert!(counts.new > 0 && counts.gone > counts.new);

    let (state, app) = {
        let state = AppState::with_tiles(db.pool.clone(), TileSettings::default()).expect("state");
        let router = app(state.clone(), Limits::default());
        (state, router)
    };
    let listener = state.tiles.spawn_invalidation_listener();
    tokio::time::sleep(Duration::from_millis(300)).await; // the listener is connected
    let (near_tile, far_tile) = (
        commune_tile(&db, &near).await,
        commune_tile(&db, &far).await,
    );
    assert_ne!(near_tile, far_tile);
    let uri = |t: TileCoord| format!("/tiles/parcels/{}/{}/{}.mvt", t.z, t.x, t.y);
    let near_before = get(&app, &uri(near_tile)).await;
    let far_before = get(&app, &uri(far_tile)).await;
    assert_eq!(
        (near_before.status, far_before.status),
        (StatusCode::OK, StatusCode::OK)
    );
    let renders = state.tiles.renders();
    get(&app, &uri(far_tile)).await;
    assert_eq!(state.tiles.renders(), renders, "the far tile is cached");

    // The overview rows (their row versions) over the far tile, which no change comes near.
    let far_rows = |t: TileCoord| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY ctid)
                 FROM land.parcel_overview WHERE zoom >= 11 AND geom_3857 && ST_TileEnvelope($1, $2, $3)",
            )
            .bind(i32::from(t.z))
            .bind(t.x as i32)
            .bind(t.y as i32)
            .fetch_one(&pool)
            .await
            .expect("overview rows")
        }
    };
    let far_overview = far_rows(far_tile).await;
    assert!(far_overview.is_some(), "no overview rows over the far tile");

    let generation = state.tiles.generation();
    let next = import_parcels(&db, &next_year.join(file), MergeMode::Replace).await;
    let m = next.merged.expect("merged");
    // The overview is brought up to date from the changed rows' cells (land migration 1011):
    // its rows must be exactly the parcels' afterwards, as after a full recomputation, and
    // the cells far from every change are not rewritten.
    assert!(m.touched_areas.len() > 1, "{:?}", m.touched_areas);
    crate::lowzoom::assert_overview_counts(&db.pool, "after next year's re-delivery").await;
    crate::lowzoom::assert_overview_is_a_full_refresh(&db.pool, "after next year's re-delivery")
        .await;
    assert_eq!(
        far_rows(far_tile).await,
        far_overview,
        "overview rows far from every change were rewritten"
    );
    assert_eq!(
        (
            m.updated,
            m.inserted,
            m.deleted,
            m.unchanged,
            m.not_delivered
        ),
        (
            counts.changed,
            counts.new,
            counts.gone,
            next.read - counts.changed - counts.new,
            counts.gone
        ),
        "{counts:?}"
    );
    assert_eq!(next.read, first.read - counts.gone + counts.new);
    settle(&state, generation).await;

    let renders = state.tiles.renders();
    let far_after = get(&app, &uri(far_tile)).await;
    assert_eq!(
        state.tiles.renders(),
        renders,
        "the tile far from every change was dropped from the cache"
    );
    assert_eq!(far_after.body, far_before.body);
    let near_after = get(&app, &uri(near_tile)).await;
    assert_eq!(
        state.tiles.renders(),
        renders + 1,
        "the tile of the changes was kept"
    );
    assert_ne!(near_after.body, near_before.body);

    // Upsert this year's delivery over it: the changes revert, the gone parcels return, the
    // renumbered ones stay (not delivered).
    let back = import_parcels(&db, &this_year.join(file), MergeMode::Upsert).await;
    let m = back.merged.expect("merged");
    assert_eq!(
        (
            m.updated,
            m.inserted,
            m.deleted,
            m.unchanged,
            m.not_delivered
        ),
        (
            counts.changed,
            counts.gone,
            0,
            back.read - counts.changed - counts.gone,
            counts.new
        )
    );
    crate::lowzoom::assert_overview_is_a_full_refresh(&db.pool, "after the upsert back").await;
    // And an identical upsert changes nothing and notifies nothing.
    let again = import_parcels(&db, &this_year.join(file), MergeMode::Upsert).await;
    let m = again.merged.expect("merged");
    assert_eq!(
        (m.updated, m.inserted, m.unchanged, m.touched_3857),
        (0, 0, again.read, None)
    );
    listener.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_see_the_old_parcels_until_the_reimport_commits() {
    let db = TestDb::new().await;
    live_parcels(&db).await;
    let cached = app(
        AppState::with_tiles(db.pool.clone(), TileSettings::default()).expect("state"),
        Limits::default(),
    );
    // Hold the merge just before its commit: its last statement records the import, and a
    // trigger there (fired even when bulk loads skip triggers) waits for a lock this test holds.
    sqlx::raw_sql(
        "CREATE FUNCTION hold_merge() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_advisory_xact_lock_shared(1818); RETURN NEW; END $$;
         CREATE TRIGGER hold BEFORE UPDATE ON platform.imports
             FOR EACH ROW EXECUTE FUNCTION hold_merge();
         ALTER TABLE platform.imports ENABLE ALWAYS TRIGGER hold",
    )
    .execute(&db.pool)
    .await
    .expect("hold trigger");
    let mut holder = db.pool.acquire().await.expect("holder");
    sqlx::query("SELECT pg_advisory_lock(1818)")
        .execute(&mut *holder)
        .await
        .expect("lock");

    let tile = {
        let (x, y): (f64, f64) = sqlx::query_as(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(geom, 4326) AS c
             FROM (SELECT ST_Centroid(geom) AS geom FROM land.parcels WHERE parcel_number = 1) p) x",
        )
        .fetch_one(&db.pool)
        .await
        .expect("parcel 1");
        TileCoord::containing(x, y, 16).expect("tile")
    };
    let tile_uri = format!("/tiles/parcels/{}/{}/{}.mvt", tile.z, tile.x, tile.y);
    let items_uri =
        "/collections/parcels/items?limit=1&filter=parcel_number%3D200&filter-lang=cql2-text";
    let tile_before = get(&cached, &tile_uri).await;
    let items_before = get(&cached, items_uri).await;
    assert_eq!(
        (tile_before.status, items_before.status),
        (StatusCode::OK, StatusCode::OK)
    );
    let matched = |s: &Served| -> i64 {
        let v: Json = serde_json::from_slice(&s.body).expect("json");
        v["numberMatched"].as_i64().expect("numberMatched")
    };
    assert_eq!(matched(&items_before), 1);

    let loader = staged_delivery(&db).await;
    let merge =
        tokio::spawn(async move { loader.merge(MergeMode::Replace, &record(), false).await });
    // Wait until the merge waits for the lock: everything but the commit is done.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 1818
                             AND NOT granted)",
        )
        .fetch_one(&db.pool)
        .await
        .expect("locks");
        if waiting {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the merge never reached its commit"
        );
        assert!(!merge.is_finished(), "the merge ended without waiting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Parcel 200 is gone in the delivery, parcel 1 has a new geometry: readers still see both
    // as they were, from a fresh render and a fresh count (not caches).
    let uncached = app(
        AppState::with_tiles(
            db.pool.clone(),
            TileSettings {
                cache_bytes: 0,
                ..TileSettings::default()
            },
        )
        .expect("state"),
        Limits::default(),
    );
    let tile_during = get(&uncached, &tile_uri).await;
    assert_eq!(tile_during.body, tile_before.body);
    assert_eq!(matched(&get(&uncached, items_uri).await), 1);
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM land.parcels")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(live, LIVE);

    sqlx::query("SELECT pg_advisory_unlock(1818)")
        .execute(&mut *holder)
        .await
        .expect("unlock");
    let merged = merge.await.expect("join").expect("merge");
    assert_eq!((merged.deleted, merged.inserted), (500, 500));
    assert_eq!(matched(&get(&uncached, items_uri).await), 0);
    let tile_after = get(&uncached, &tile_uri).await;
    assert_ne!(tile_after.body, tile_before.body);
}

/// The live parcels' indexes: (name, definition, oid).
async fn parcel_indexes(db: &TestDb) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef, (schemaname || '.' || indexname)::regclass::oid::bigint
         FROM pg_indexes WHERE schemaname = 'land' AND tablename = 'parcels' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("indexes")
}

/// A big first load sets aside every secondary index of the layer — the serving GiST indexes
/// and an owner's own (the trigram index over folded place names, maintained row by row it
/// made a 1,000,000-parcel first load several times slower) — and builds each once after the
/// insert: the same indexes, defined the same way, new ones; unique indexes stay as they were.
#[tokio::test(flavor = "multi_thread")]
async fn a_big_first_load_builds_every_secondary_index_once_afterwards() {
    let db = TestDb::new().await;
    let before = parcel_indexes(&db).await;
    assert!(
        before
            .iter()
            .any(|(n, _, _)| n == "parcels_place_fold_trgm"),
        "{before:?}"
    );
    let loader = staged_delivery(&db).await;
    let m = loader
        .merge(MergeMode::Replace, &record(), false)
        .await
        .expect("merge");
    assert_eq!(m.inserted, LIVE as u64);
    let after = parcel_indexes(&db).await;
    let defs = |v: &[(String, String, i64)]| -> Vec<(String, String)> {
        v.iter().map(|(n, d, _)| (n.clone(), d.clone())).collect()
    };
    assert_eq!(defs(&after), defs(&before));
    for ((name, def, old), (_, _, new)) in before.iter().zip(&after) {
        if def.starts_with("CREATE UNIQUE INDEX") {
            assert_eq!(old, new, "{name} kept");
        } else {
            assert_ne!(old, new, "{name} built anew");
        }
    }
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.set_aside_indexes")
        .fetch_one(&db.pool)
        .await
        .expect("set aside");
    assert_eq!(waiting, 0);
}
