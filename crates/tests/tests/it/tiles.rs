//! Vector tiles through the router: content, composites, caching headers, access to personal
//! data, generalisation, and row-level invalidation after a change.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use gis_core::tile::TileCoord;
use tests::{decode_mvt, TestDb};
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

struct Served {
    status: StatusCode,
    etag: Option<String>,
    body: Vec<u8>,
    headers: axum::http::HeaderMap,
}

async fn get(app: &Router, uri: &str, if_none_match: Option<&str>) -> Served {
    let mut req = Request::get(uri);
    if let Some(tag) = if_none_match {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("req"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let etag = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = to_bytes(response.into_body(), 50 << 20)
        .await
        .expect("body")
        .to_vec();
    Served {
        status,
        etag,
        body,
        headers,
    }
}

async fn setup() -> (TestDb, AppState, Router) {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let state = AppState::new(db.pool.clone()).expect("state");
    let router = app(state.clone(), Limits::default());
    (db, state, router)
}

fn dong_xoai(z: u8) -> TileCoord {
    TileCoord::containing(106.883, 11.535, z).expect("tile")
}

#[tokio::test]
async fn a_tile_carries_the_layer_features_and_revalidates_with_its_etag() {
    let (_db, _state, app) = setup().await;
    let t = dong_xoai(12);
    let uri = format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    let first = get(&app, &uri, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.headers[header::CONTENT_TYPE],
        "application/vnd.mapbox-vector-tile"
    );
    let layers = decode_mvt(&first.body);
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].name, "communes");
    assert!(layers[0].features >= 1, "{layers:?}");
    assert!(layers[0].keys.contains(&"legacy_name".to_string()));
    assert!(
        layers[0]
            .strings
            .iter()
            .any(|s| s.starts_with("Phường") || s.starts_with("Xã")),
        "{:?}",
        layers[0].strings
    );
    let etag = first.etag.expect("etag");
    let again = get(&app, &uri, Some(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let pbf = get(
        &app,
        &format!("/tiles/communes/{}/{}/{}.pbf", t.z, t.x, t.y),
        None,
    )
    .await;
    assert_eq!(pbf.body, first.body);
}

#[tokio::test]
async fn composites_empty_tiles_and_bad_addresses() {
    let (_db, _state, app) = setup().await;
    let t = dong_xoai(12);
    let both = get(
        &app,
        &format!(
            "/tiles/communes,parcels,communes/{}/{}/{}.mvt",
            t.z, t.x, t.y
        ),
        None,
    )
    .await;
    assert_eq!(both.status, StatusCode::OK);
    let names: Vec<String> = decode_mvt(&both.body).into_iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        vec!["communes"],
        "parcels are empty, communes appear once"
    );
    // Far from any data: no content.
    let empty = get(&app, "/tiles/communes/12/0/0.mvt", None).await;
    assert_eq!(empty.status, StatusCode::NO_CONTENT);
    // Below the layer's zoom range.
    let low = get(&app, "/tiles/street_lights/5/25/14.mvt", None).await;
    assert_eq!(low.status, StatusCode::NO_CONTENT);
    for (uri, status) in [
        ("/tiles/communes/25/0/0.mvt", StatusCode::BAD_REQUEST),
        ("/tiles/communes/3/8/0.mvt", StatusCode::BAD_REQUEST),
        ("/tiles/communes/a/0/0.mvt", StatusCode::BAD_REQUEST),
        ("/tiles/communes/3/0/0.png", StatusCode::BAD_REQUEST),
        ("/tiles/secret_layer/3/0/0.mvt", StatusCode::NOT_FOUND),
        ("/tiles/communes.xml", StatusCode::NOT_FOUND),
    ] {
        let r = get(&app, uri, None).await;
        assert_eq!(
            r.status,
            status,
            "{uri}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{uri}"
        );
    }
}

#[tokio::test]
async fn tilejson_describes_the_layers_for_clients() {
    let (_db, _state, app) = setup().await;
    let r = get(&app, "/tiles/communes,parcels.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let tj: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(tj["tilejson"], "3.0.0");
    assert!(tj["tiles"][0]
        .as_str()
        .expect("url")
        .ends_with("/tiles/communes,parcels/{z}/{x}/{y}.mvt"));
    let layers = tj["vector_layers"].as_array().expect("vector_layers");
    assert_eq!(layers.len(), 2);
    let parcels = layers
        .iter()
        .find(|l| l["id"] == "parcels")
        .expect("parcels");
    assert!(parcels["fields"]["parcel_number"].is_string());
    assert!(
        parcels["fields"].get("owner_name").is_none(),
        "owner names are personal data"
    );
    let b = tj["bounds"].as_array().expect("bounds");
    assert!(
        b[0].as_f64().expect("w") > 106.7 && b[2].as_f64().expect("e") < 107.0,
        "{b:?}"
    );
}

#[tokio::test]
async fn anonymous_parcel_tiles_never_carry_owner_names() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("thua.geojson");
    std::fs::write(
        &path,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"MAXA":"25195","SHBANDO":1,"SHTHUA":7,"MALOAIDAT":"ONT","TENCHU":"Nguyễn Văn Bí Mật"},
        "geometry":{"type":"Polygon","coordinates":[[[106.8830,11.5350],[106.8834,11.5350],[106.8834,11.5354],[106.8830,11.5354],[106.8830,11.5350]]]}}]}"#,
    )
    .expect("write");
    tests::import(&db.pool, &path, "parcels")
        .await
        .expect("import");
    let owner: String = sqlx::query_scalar("SELECT owner_name FROM land.parcels")
        .fetch_one(&db.pool)
        .await
        .expect("row");
    assert_eq!(owner, "Nguyễn Văn Bí Mật");
    let app = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let t = dong_xoai(16);
    let r = get(
        &app,
        &format!("/tiles/parcels/{}/{}/{}.mvt", t.z, t.x, t.y),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let layers = decode_mvt(&r.body);
    assert_eq!(layers[0].features, 1);
    assert!(layers[0].keys.contains(&"land_use_code".to_string()));
    assert!(!layers[0].keys.contains(&"owner_name".to_string()));
    assert!(!String::from_utf8_lossy(&r.body).contains("Bí Mật"));
}

#[tokio::test]
async fn low_zoom_tiles_leave_out_features_too_small_to_see() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("thua.geojson");
    // 100 small lots (about 10 m) inside one z16 tile, and one large field (about 1 km).
    let z16 = TileCoord::containing(106.8805, 11.5305, 16)
        .expect("tile")
        .lonlat_bounds();
    let mut features = Vec::new();
    for i in 0..100 {
        let lon = z16.min_x + 0.001 + f64::from(i % 10) * 0.0001;
        let lat = z16.min_y + 0.001 + f64::from(i / 10) * 0.0001;
        features.push(format!(
            r#"{{"type":"Feature","properties":{{"MAXA":"25195","SHBANDO":1,"SHTHUA":{n},"MALOAIDAT":"ONT"}},"geometry":{{"type":"Polygon","coordinates":[[[{lon},{lat}],[{lon2},{lat}],[{lon2},{lat2}],[{lon},{lat2}],[{lon},{lat}]]]}}}}"#,
            n = i + 1, lon2 = lon + 0.0001, lat2 = lat + 0.0001
        ));
    }
    features.push(r#"{"type":"Feature","properties":{"MAXA":"25195","SHBANDO":1,"SHTHUA":500,"MALOAIDAT":"CLN"},"geometry":{"type":"Polygon","coordinates":[[[106.87,11.52],[106.879,11.52],[106.879,11.529],[106.87,11.529],[106.87,11.52]]]}}"#.to_string());
    std::fs::write(
        &path,
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        ),
    )
    .expect("write");
    tests::import(&db.pool, &path, "parcels")
        .await
        .expect("import");
    let app = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let count = |z: u8| {
        let app = app.clone();
        async move {
            let t = TileCoord::containing(106.8805, 11.5305, z).expect("tile");
            let r = get(
                &app,
                &format!("/tiles/parcels/{}/{}/{}.mvt", t.z, t.x, t.y),
                None,
            )
            .await;
            r.headers
                .get("x-tile-features")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        }
    };
    assert_eq!(count(16).await, 100, "every small lot at z16");
    assert_eq!(count(11).await, 1, "only the 1 km field is visible at z11");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tile_fetched_after_an_edit_shows_the_new_geometry() {
    let (db, state, app) = setup().await;
    let listener = state.tiles.spawn_invalidation_listener();
    tokio::time::sleep(Duration::from_millis(300)).await; // the listener is connected
    let t = dong_xoai(14);
    let uri = format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    let before = get(&app, &uri, None).await;
    assert_eq!(before.status, StatusCode::OK);
    let cached = get(&app, &uri, None).await;
    assert_eq!(cached.etag, before.etag, "served from the cache");

    for round in 1..=5 {
        let generation = state.tiles.generation();
        // Move every commune 50 m east: the tile's geometry must change.
        sqlx::query("UPDATE land.communes SET geom = ST_Translate(geom, 50, 0)")
            .execute(&db.pool)
            .await
            .expect("edit");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while state.tiles.generation() == generation {
            assert!(
                std::time::Instant::now() < deadline,
                "no invalidation within 5 s (round {round})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let after = get(&app, &uri, None).await;
        assert_ne!(
            after.etag, before.etag,
            "round {round}: the old tile was served"
        );
        let fresh = {
            let uncached = app_without_cache(&db).await;
            get(&uncached, &uri, None).await
        };
        assert_eq!(
            decode_mvt(&after.body),
            decode_mvt(&fresh.body),
            "round {round}: cached tile differs from a fresh render"
        );
    }
    listener.abort();
}

async fn app_without_cache(db: &TestDb) -> Router {
    let state = AppState::with_tiles(
        db.pool.clone(),
        tile_server::tiles::TileSettings {
            cache_bytes: 0,
            ..Default::default()
        },
    )
    .expect("state");
    app(state, Limits::default())
}

#[tokio::test]
async fn ogc_api_tiles_serves_the_same_tiles_and_describes_the_tileset() {
    let (_db, _state, app) = setup().await;
    let t = dong_xoai(12);
    let xyz = get(
        &app,
        &format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y),
        None,
    )
    .await;
    // OGC order: tileMatrix / tileRow (y) / tileCol (x).
    let ogc = get(
        &app,
        &format!(
            "/collections/communes/tiles/WebMercatorQuad/{}/{}/{}",
            t.z, t.y, t.x
        ),
        None,
    )
    .await;
    assert_eq!(ogc.status, StatusCode::OK);
    assert_eq!(ogc.body, xyz.body);
    let swapped = get(
        &app,
        &format!(
            "/collections/communes/tiles/WebMercatorQuad/{}/{}/{}",
            t.z, t.x, t.y
        ),
        None,
    )
    .await;
    assert_ne!(
        swapped.body, xyz.body,
        "row and column are not interchangeable"
    );

    let sets = get(&app, "/collections/parcels/tiles", None).await;
    let sets: serde_json::Value = serde_json::from_slice(&sets.body).expect("json");
    let item = sets["tilesets"][0]["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["rel"] == "item"))
        .expect("item link");
    assert!(item["href"]
        .as_str()
        .expect("href")
        .ends_with("/collections/parcels/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"));
    assert_eq!(item["templated"], true);

    let meta = get(&app, "/collections/parcels/tiles/WebMercatorQuad", None).await;
    assert_eq!(meta.status, StatusCode::OK);
    let meta: serde_json::Value = serde_json::from_slice(&meta.body).expect("json");
    assert_eq!(
        meta["tileMatrixSetURI"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
    assert_eq!(meta["dataType"], "vector");
    let props = &meta["layers"][0]["propertiesSchema"]["properties"];
    assert_eq!(props["parcel_number"]["type"], "integer");
    assert!(
        props.get("owner_name").is_none(),
        "owner names are personal data"
    );
    assert_eq!(meta["layers"][0]["geometryDimension"], 2);
    let missing = get(&app, "/collections/khong_co/tiles/WebMercatorQuad", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
