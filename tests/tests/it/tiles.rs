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
    match if_none_match {
        Some(tag) => get_with(app, uri, &[("if-none-match", tag)]).await,
        None => get_with(app, uri, &[]).await,
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

/// The answer is the problem JSON of `want`, its `status` member included.
fn assert_problem(r: &Served, want: StatusCode) -> serde_json::Value {
    let content_type = r
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tests::assert_problem_json(r.status.as_u16(), want.as_u16(), content_type, &r.body)
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
        assert_problem(&r, status);
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
    // The low-zoom land-use overview's properties are declared too.
    assert_eq!(parcels["fields"]["parcel_count"], "Number");
    assert_eq!(parcels["fields"]["generalised"], "Boolean");
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
    // z13 is the parcels' first detail zoom; below it they are drawn as the land-use overview
    // (lowzoom.rs).
    assert_eq!(count(13).await, 1, "only the 1 km field is visible at z13");
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
        tiles::TileSettings {
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
    assert_problem(&missing, StatusCode::NOT_FOUND);
}

/// A request with headers, for the negotiation tests.
async fn get_with(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Served {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
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

fn decoded(s: &Served) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match s
        .headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().expect("ascii"))
    {
        None => out = s.body.clone(),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&s.body[..])
                .read_to_end(&mut out)
                .expect("gzip body");
        }
        Some("br") => {
            brotli::Decompressor::new(&s.body[..], 4096)
                .read_to_end(&mut out)
                .expect("brotli body");
        }
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
    out
}

#[tokio::test]
async fn tiles_are_sent_brotli_gzip_or_plain_as_accept_encoding_allows() {
    let (_db, _state, app) = setup().await;
    let t = dong_xoai(12);
    let one = format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    let composite = format!("/tiles/communes,parcels/{}/{}/{}.mvt", t.z, t.x, t.y);
    for uri in [&one, &composite] {
        let plain = get_with(&app, uri, &[]).await;
        assert_eq!(plain.status, StatusCode::OK);
        assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(decode_mvt(&plain.body)[0].name, "communes");
        let cases = [
            ("br;q=1, gzip;q=0.5", Some("br")),
            ("gzip, deflate, br", Some("br")),
            ("gzip", Some("gzip")),
            ("br;q=0, gzip", Some("gzip")),
            ("br;q=0.2, gzip;q=0.8", Some("gzip")),
            ("BR", Some("br")),
            ("*", Some("br")),
            ("*;q=0.5, br;q=0", Some("gzip")),
            ("identity", None),
            ("br;q=0", None),
            ("deflate", None),
            ("gzip;q=0.5, identity;q=1", None),
        ];
        let mut etags: Vec<(Option<&str>, String)> =
            vec![(None, plain.etag.clone().expect("etag"))];
        for (accept, want) in cases {
            let r = get_with(&app, uri, &[("accept-encoding", accept)]).await;
            assert_eq!(r.status, StatusCode::OK, "{accept}");
            assert_eq!(
                r.headers
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().expect("ascii")),
                want,
                "Accept-Encoding: {accept}"
            );
            assert_eq!(r.headers[header::VARY], "accept-encoding");
            assert_eq!(decoded(&r), plain.body, "{accept}: the same MVT");
            let etag = r.etag.clone().expect("etag");
            // One strong ETag per representation.
            for (enc, other) in &etags {
                assert_eq!(*enc == want, *other == etag, "{accept}: {etag} vs {other}");
            }
            etags.push((want, etag.clone()));
            let again = get_with(
                &app,
                uri,
                &[("accept-encoding", accept), ("if-none-match", &etag)],
            )
            .await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{accept}");
            assert!(again.body.is_empty());
            assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
        }
        // The gzip ETag does not validate the brotli representation.
        let gz_tag = etags
            .iter()
            .find(|(e, _)| *e == Some("gzip"))
            .map(|(_, t)| t.clone())
            .expect("gzip etag");
        let br = get_with(
            &app,
            uri,
            &[("accept-encoding", "br"), ("if-none-match", &gz_tag)],
        )
        .await;
        assert_eq!(br.status, StatusCode::OK);
        let weak = format!("W/{gz_tag}");
        let gz = get_with(
            &app,
            uri,
            &[("accept-encoding", "gzip"), ("if-none-match", &weak)],
        )
        .await;
        assert_eq!(gz.status, StatusCode::NOT_MODIFIED, "weak comparison");
    }
}

#[tokio::test]
async fn cache_control_follows_each_layer_and_a_composite_takes_the_shortest() {
    let (_db, state, app) = setup().await;
    let t = dong_xoai(16);
    let max_age = |id: &str| state.layers.get(id).expect("layer").cache_max_age();
    assert!(
        max_age("parcels") > max_age("cameras"),
        "the cadastre changes more slowly than cameras"
    );
    for layers in [
        "communes",
        "cameras",
        "roads",
        "communes,cameras",
        "roads,communes",
    ] {
        let want = layers.split(',').map(max_age).min().expect("a layer");
        // Empty and non-empty tiles alike.
        for (z, x, y) in [(t.z, t.x, t.y), (16, 0, 0)] {
            let r = get(&app, &format!("/tiles/{layers}/{z}/{x}/{y}.mvt"), None).await;
            assert_eq!(
                r.headers[header::CACHE_CONTROL],
                format!("public, max-age={want}"),
                "{layers}"
            );
        }
    }
    let state_mut = state.clone();
    assert_eq!(
        tile_server::routes::tiles::cache_control(
            &state_mut,
            &["parcels".to_string()],
            &gis_core::layer::Viewer::new(gis_core::layer::Roles::ADMIN, vec![]).expect("viewer")
        ),
        format!("private, max-age={}", max_age("parcels")),
        "tiles with restricted data stay out of shared caches"
    );
}

#[tokio::test]
async fn the_web_mercator_tile_matrix_set_matches_the_ogc_definition() {
    let (_db, _state, app) = setup().await;
    let list = get(&app, "/tileMatrixSets", None).await;
    assert_eq!(list.status, StatusCode::OK);
    let list: serde_json::Value = serde_json::from_slice(&list.body).expect("json");
    let href = list["tileMatrixSets"][0]["links"][0]["href"]
        .as_str()
        .expect("href");
    let path = href.split_once("://").expect("url").1;
    let path = &path[path.find('/').expect("path")..];
    assert_eq!(path, "/tileMatrixSets/WebMercatorQuad");
    let tms = get(&app, path, None).await;
    assert_eq!(tms.status, StatusCode::OK);
    let tms: serde_json::Value = serde_json::from_slice(&tms.body).expect("json");
    assert_eq!(tms["id"], "WebMercatorQuad");
    assert_eq!(tms["crs"], "http://www.opengis.net/def/crs/EPSG/0/3857");
    let m = tms["tileMatrices"].as_array().expect("matrices");
    assert_eq!(m.len(), 25);
    // Values of the OGC 2D TMS standard's WebMercatorQuad definition.
    let close = |v: &serde_json::Value, want: f64| {
        let got = v.as_f64().expect("number");
        assert!((got - want).abs() <= want * 1e-12, "{got} vs {want}");
    };
    close(&m[0]["scaleDenominator"], 559_082_264.028_717_8);
    close(&m[0]["cellSize"], 156_543.033_928_040_97);
    close(&m[24]["scaleDenominator"], 33.323_899_747_652_9);
    close(&m[24]["cellSize"], 0.009_330_691_929_342_8);
    for (z, tm) in m.iter().enumerate() {
        assert_eq!(tm["id"], z.to_string());
        assert_eq!(tm["matrixWidth"], 1u64 << z);
        assert_eq!(tm["matrixHeight"], 1u64 << z);
        assert_eq!(tm["tileWidth"], 256);
        assert_eq!(tm["cornerOfOrigin"], "topLeft");
        close(
            &serde_json::json!(-tm["pointOfOrigin"][0].as_f64().expect("x")),
            20_037_508.342_789_244,
        );
        close(&tm["pointOfOrigin"][1], 20_037_508.342_789_244);
    }
    let missing = get(&app, "/tileMatrixSets/WorldCRS84Quad", None).await;
    assert_problem(&missing, StatusCode::NOT_FOUND);
    // The tileset points to it.
    let sets = get(&app, "/collections/communes/tiles/WebMercatorQuad", None).await;
    let sets: serde_json::Value = serde_json::from_slice(&sets.body).expect("json");
    assert!(sets["links"]
        .as_array()
        .expect("links")
        .iter()
        .any(
            |l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
                && l["href"]
                    .as_str()
                    .expect("href")
                    .ends_with("/tileMatrixSets/WebMercatorQuad")
        ));
}

/// GDAL 3.6 (Debian 12) reads bando's WebMercatorQuad document: the grid its COG driver
/// builds from it is the one it builds from its own built-in GoogleMapsCompatible, and its
/// `OGCAPI:` driver no longer takes the document for a file name (issue 16). Reading vector
/// tiles through `OGCAPI:` is compiled out of GDAL 3.6 (docs/clients.md); scripts/clients.sh
/// checks that with a current GDAL.
#[tokio::test]
async fn gdal_3_6_reads_the_tile_matrix_set() {
    let (_db, _state, app) = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tms = get(&app, "/tileMatrixSets/WebMercatorQuad", None).await;
    assert_eq!(tms.status, StatusCode::OK);
    let tms_file = dir.path().join("WebMercatorQuad.json");
    std::fs::write(&tms_file, &tms.body).expect("write");

    let input = dir.path().join("in.tif");
    gdal(&[
        "gdal_create",
        "-of",
        "GTiff",
        "-outsize",
        "100",
        "100",
        "-bands",
        "1",
        "-burn",
        "7",
        "-a_srs",
        "EPSG:4326",
        "-a_ullr",
        "106.80",
        "11.60",
        "106.81",
        "11.59",
        &input.display().to_string(),
    ]);
    let grid = |scheme: &str, name: &str| {
        let out = dir.path().join(name);
        gdal(&[
            "gdal_translate",
            "-q",
            "-of",
            "COG",
            "-co",
            &format!("TILING_SCHEME={scheme}"),
            &input.display().to_string(),
            &out.display().to_string(),
        ]);
        let info: serde_json::Value =
            serde_json::from_str(&gdal(&["gdalinfo", "-json", &out.display().to_string()]))
                .expect("gdalinfo JSON");
        (info["geoTransform"].clone(), info["size"].clone())
    };
    let (transform, size) = grid(&tms_file.display().to_string(), "bando.tif");
    assert_eq!(
        (transform.clone(), size),
        grid("GoogleMapsCompatible", "gdal.tif"),
        "GDAL read bando's tile matrix set differently from its own"
    );
    // A WebMercatorQuad cell (z14 for 10 m pixels), not a default.
    let cell = transform[1].as_f64().expect("pixel size");
    assert!((cell - 9.554_628_535_647_032).abs() < 1e-9, "{transform}");

    // OGCAPI: fetches the tile matrix set and parses it without the errors issue 16 saw.
    let port = serve(app).await;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ogrinfo")
            .args(["--debug", "on", "-ro", "-so"])
            .arg(format!(
                "OGCAPI:http://127.0.0.1:{port}/collections/communes"
            ))
            .output()
    })
    .await
    .expect("join")
    .expect("ogrinfo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // It got as far as the tile matrix set (its debug log names each fetch)…
    assert!(
        stderr.contains(&format!(
            "Fetch(http://127.0.0.1:{port}/tileMatrixSets/WebMercatorQuad)"
        )),
        "ogrinfo: {stderr}"
    );
    // …and parsed it.
    for error in [
        "Destination buffer too small",
        "Invalid tiling matrix set name",
        "Cannot parse CRS",
    ] {
        assert!(!stderr.contains(error), "ogrinfo: {stderr}");
    }
}

/// Runs a GDAL tool; its standard output, or a panic with both outputs.
fn gdal(args: &[&str]) -> String {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{}: {}{}",
        args[0],
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn serve(router: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    port
}

#[tokio::test]
async fn the_tile_catalog_lists_every_layer_with_working_urls() {
    let (_db, state, app) = setup().await;
    let r = get(&app, "/tiles", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let catalog: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    let sets = catalog["tilesets"].as_array().expect("tilesets");
    let ids: Vec<&str> = sets.iter().map(|s| s["id"].as_str().expect("id")).collect();
    let registry = state.layers.snapshot();
    // An anonymous reader's catalog: every layer published for everyone.
    let anonymous = gis_core::layer::Viewer::anonymous();
    let registered: Vec<&str> = registry
        .iter()
        .filter(|l| anonymous.sees(l.as_ref()))
        .map(|l| l.id())
        .collect();
    assert_eq!(ids, registered);
    // Water meters, power customers and the IOC's events are staff only.
    let mut hidden: Vec<&str> = registry
        .iter()
        .filter(|l| !anonymous.sees(l.as_ref()))
        .map(|l| l.id())
        .collect();
    hidden.sort_unstable();
    assert_eq!(hidden, ["events", "power_customers", "water_meters"]);
    let path_of = |url: &str| {
        let rest = url.split_once("://").expect("absolute url").1;
        rest[rest.find('/').expect("path")..].to_string()
    };
    let communes = sets
        .iter()
        .find(|s| s["id"] == "communes")
        .expect("communes");
    assert_eq!(
        communes["cache_max_age"],
        state.layers.get("communes").expect("layer").cache_max_age()
    );
    let b = communes["bounds"]
        .as_array()
        .expect("bounds of a loaded layer");
    assert!(b[0].as_f64().expect("w") < 106.883 && b[2].as_f64().expect("e") > 106.883);
    assert!(
        sets.iter().any(|s| s["bounds"].is_null()),
        "empty layers have no bounds"
    );
    let tilejson = get(
        &app,
        &path_of(communes["tilejson"].as_str().expect("url")),
        None,
    )
    .await;
    assert_eq!(tilejson.status, StatusCode::OK);
    let tilejson: serde_json::Value = serde_json::from_slice(&tilejson.body).expect("json");
    assert_eq!(tilejson["tiles"][0], communes["tiles"]);
    let t = dong_xoai(12);
    let xyz = communes["tiles"]
        .as_str()
        .expect("template")
        .replace("{z}", &t.z.to_string())
        .replace("{x}", &t.x.to_string())
        .replace("{y}", &t.y.to_string());
    let tile = get(&app, &path_of(&xyz), None).await;
    assert_eq!(tile.status, StatusCode::OK);
    assert_eq!(decode_mvt(&tile.body)[0].name, "communes");
    let ogc = get(
        &app,
        &path_of(communes["ogc_tileset"].as_str().expect("url")),
        None,
    )
    .await;
    assert_eq!(ogc.status, StatusCode::OK);

    let html = get(&app, "/tiles?f=html", None).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let page = String::from_utf8(html.body).expect("utf-8");
    assert!(page.contains("Ranh giới xã, phường") && page.contains("/tiles/parcels.json"));
    let bad = get(&app, "/tiles?f=xml", None).await;
    assert_problem(&bad, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_composite_tile_is_cached_and_dropped_with_any_of_its_layers() {
    let (db, state, app) = setup().await;
    let t = dong_xoai(14);
    let uri = format!("/tiles/roads,communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    let before = get_with(&app, &uri, &[("accept-encoding", "br")]).await;
    assert_eq!(before.status, StatusCode::OK);
    sqlx::query("UPDATE land.communes SET geom = ST_Translate(geom, 50, 0)")
        .execute(&db.pool)
        .await
        .expect("edit");
    // No notification applied yet: the composite comes from the cache, unchanged.
    let cached = get_with(&app, &uri, &[("accept-encoding", "br")]).await;
    assert_eq!(cached.etag, before.etag);
    assert_eq!(cached.body, before.body);
    // A change to another table leaves it; a change to one of its layers drops it.
    let b = t.mercator_bounds();
    let bbox = [b.min_x, b.min_y, b.max_x, b.max_y];
    state.tiles.invalidate("sectors.cameras", bbox);
    state.tiles.sync().await;
    let kept = get_with(&app, &uri, &[("accept-encoding", "br")]).await;
    assert_eq!(kept.etag, before.etag);
    state.tiles.invalidate("land.communes", bbox);
    state.tiles.sync().await;
    let after = get_with(&app, &uri, &[("accept-encoding", "br")]).await;
    assert_ne!(after.etag, before.etag, "the stale composite was served");
    let fresh = get(&app_without_cache(&db).await, &uri, None).await;
    assert_eq!(decoded(&after), fresh.body, "the same as a fresh render");
    assert_ne!(decoded(&before), fresh.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn truncating_any_feature_table_drops_its_cached_tiles() {
    // TRUNCATE fires no row trigger; every feature table has a TRUNCATE trigger that notifies
    // the whole world as changed (gis-core migration 6), not only the parcels.
    let (db, state, app) = setup().await;
    let listener = state.tiles.spawn_invalidation_listener();
    tokio::time::sleep(Duration::from_millis(300)).await; // the listener is connected
    let t = dong_xoai(12);
    let uri = format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    let before = get(&app, &uri, None).await;
    assert_eq!(before.status, StatusCode::OK);
    let triggers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE g.tgname = c.relname || '_notify_truncate'
           AND n.nspname IN ('land', 'planning', 'utilities', 'sectors', 'ioc')",
    )
    .fetch_one(&db.pool)
    .await
    .expect("triggers");
    let tables = layers::registry().expect("registry").len() as i64;
    assert_eq!(triggers, tables, "one TRUNCATE trigger per feature table");
    let generation = state.tiles.generation();
    sqlx::query("TRUNCATE land.communes CASCADE")
        .execute(&db.pool)
        .await
        .expect("truncate");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state.tiles.generation() == generation {
        assert!(
            std::time::Instant::now() < deadline,
            "no notification within 5 s of the TRUNCATE"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = get(&app, &uri, None).await;
    assert_eq!(
        after.status,
        StatusCode::NO_CONTENT,
        "the truncated communes are gone from the tile"
    );
    listener.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_cold_tile_render_it_once() {
    let (_db, state, app) = setup().await;
    let t = dong_xoai(13);
    let uri = format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    let before = state.tiles.renders();
    let requests: Vec<_> = (0..12)
        .map(|_| {
            let app = app.clone();
            let uri = uri.clone();
            tokio::spawn(async move { get(&app, &uri, None).await })
        })
        .collect();
    let mut bodies = Vec::new();
    for r in requests {
        let served = r.await.expect("request task");
        assert_eq!(served.status, StatusCode::OK);
        bodies.push(served.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "one tile for all");
    assert_eq!(
        state.tiles.renders() - before,
        1,
        "twelve concurrent misses share one render"
    );
    // And a later request is a cache hit.
    get(&app, &uri, None).await;
    assert_eq!(state.tiles.renders() - before, 1);
}

/// Issue 12: a tile beyond a layer's highest zoom is made from its tile there (clipped and
/// scaled, no render), and is what PostGIS draws at that zoom to the grid's precision.
#[tokio::test]
async fn tiles_beyond_a_layers_highest_zoom_are_cut_from_its_last_tile() {
    let (db, state, app) = setup().await;
    let layer = state.layers.get("communes").expect("layer");
    let max = layer.zoom_range().1;
    assert_eq!(max, 16, "the test assumes communes end at z16");
    let top = dong_xoai(max);
    let uri = |t: TileCoord| format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y);
    assert_eq!(get(&app, &uri(top), None).await.status, StatusCode::OK);
    let renders = state.tiles.renders();
    // Every descendant two levels down, and one at the deepest zoom.
    let mut deeper: Vec<TileCoord> = top
        .children()
        .expect("children")
        .iter()
        .flat_map(|c| c.children().expect("children"))
        .collect();
    deeper.push(dong_xoai(gis_core::tile::MAX_ZOOM));
    for t in &deeper {
        let served = get(&app, &uri(*t), None).await;
        assert!(
            served.status == StatusCode::OK || served.status == StatusCode::NO_CONTENT,
            "{t}: {}",
            served.status
        );
        if served.status == StatusCode::NO_CONTENT {
            continue;
        }
        // PostGIS's own drawing of the same tile is the oracle.
        let sql = gis_core::mvt::tile_sql(
            layer.as_ref(),
            t.z,
            gis_core::layer::Access::Public,
            20_000,
            false,
        );
        let (drawn, _) = tests::draw_tile(&db.pool, &sql.sql, *t).await;
        let (cut, drawn) = (&decode_mvt(&served.body)[0], &decode_mvt(&drawn)[0]);
        assert_eq!(cut.name, drawn.name);
        assert_eq!(cut.keys, drawn.keys, "{t}");
        let mut ids = (cut.ids.clone(), drawn.ids.clone());
        ids.0.sort_unstable();
        ids.1.sort_unstable();
        assert_eq!(ids.0, ids.1, "{t}: the same features");
        // Each feature's extent agrees to what the ancestor holds: PostGIS snaps it to its
        // grid and drops vertices under half a unit, so two of its units (2^dz here each).
        let step = 1i64 << (t.z - max);
        let extent = |shape: &Vec<Vec<(i64, i64)>>| {
            let pts = shape.iter().flatten();
            let xs = pts.clone().map(|p| p.0);
            let ys = pts.map(|p| p.1);
            [
                xs.clone().min().expect("points"),
                ys.clone().min().expect("points"),
                xs.max().expect("points"),
                ys.max().expect("points"),
            ]
        };
        for (i, id) in cut.ids.iter().enumerate() {
            let j = drawn.ids.iter().position(|d| d == id).expect("id");
            let (a, b) = (extent(&cut.shapes[i]), extent(&drawn.shapes[j]));
            for k in 0..4 {
                assert!(
                    (a[k] - b[k]).abs() <= 2 * step + 1,
                    "{t} feature {id}: {a:?} vs PostGIS {b:?}"
                );
                assert!((-64..=4160).contains(&a[k]), "{t}: clipped to the buffer");
            }
        }
    }
    assert_eq!(
        state.tiles.renders(),
        renders,
        "no tile past z{max} rendered"
    );
    assert!(state.tiles.overzoomed() >= 17, "each deep tile made once");
    // Served again: from the cache.
    let made = state.tiles.overzoomed();
    get(&app, &uri(deeper[0]), None).await;
    assert_eq!(state.tiles.overzoomed(), made);
}

/// Issue 12: the order of a composite's layers changes neither its bytes nor its cache entry.
#[tokio::test]
async fn a_composite_is_one_tile_whatever_the_order_of_its_layers() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    for (file, layer) in [
        ("communes.gpkg", "communes"),
        ("map_sheets.gpkg", "map_sheets"),
    ] {
        tests::import(&db.pool, &sample.path().join(file), layer)
            .await
            .expect("import");
    }
    let state = AppState::new(db.pool.clone()).expect("state");
    let app = app(state.clone(), Limits::default());
    let t = dong_xoai(14);
    let at = |layers: &str| format!("/tiles/{layers}/{}/{}/{}.mvt", t.z, t.x, t.y);
    let one = get_with(
        &app,
        &at("map_sheets,communes"),
        &[("accept-encoding", "br")],
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    let names: Vec<String> = decode_mvt(&decoded(&one))
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(
        names,
        ["communes", "map_sheets"],
        "both layers, in one order"
    );
    let renders = state.tiles.renders();
    let other = get_with(
        &app,
        &at("communes,map_sheets,communes"),
        &[("accept-encoding", "br")],
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.etag, one.etag);
    assert_eq!(other.body, one.body);
    assert_eq!(state.tiles.renders(), renders);
}
