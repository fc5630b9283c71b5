//! OGC API – Features through the router (`oneshot`) and through real GDAL clients (`ogrinfo`,
//! `ogr2ogr` over HTTP): landing, conformance, OpenAPI, collections, items with keyset paging,
//! CRS parameters, CQL2 filters, property selection, sorting, downloads, HTML, and owner names
//! kept from anonymous users everywhere.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use futures_util::StreamExt;
use serde_json::Value;
use tests::TestDb;
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    content_type: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

async fn call(app: &Router, uri: &str, accept: Option<&str>) -> Reply {
    let mut req = Request::get(uri);
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = to_bytes(response.into_body(), 200 << 20)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    call(app, uri, None).await
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const OWNER: &str = "Nguyễn Thị Bí Mật";

/// `n` parcels in a 10-wide grid of 20 m lots starting exactly at 106.883 E, 11.535 N (the
/// first vertex of parcel 1), with owner names, addresses in Vietnamese and two land-use codes.
fn write_parcels(path: &Path, n: usize) {
    let step = 0.0002;
    let mut features = Vec::new();
    for i in 0..n {
        let lon = 106.883 + (i % 10) as f64 * step;
        let lat = 11.535 + (i / 10) as f64 * step;
        let (lon2, lat2) = (lon + step * 0.9, lat + step * 0.9);
        let code = if i % 3 == 0 { "CLN" } else { "ONT" };
        let address = if i % 2 == 0 {
            "Phường Tân Phú"
        } else {
            "Xã Tiến Hưng"
        };
        features.push(format!(
            r#"{{"type":"Feature","properties":{{"MAXA":"25195","SHBANDO":1,"SHTHUA":{num},"MALOAIDAT":"{code}","DIENTICH":{area},"TENCHU":"{OWNER} {num}","DIACHI":"{address}","DIADANH":"{address}"}},"geometry":{{"type":"Polygon","coordinates":[[[{lon},{lat}],[{lon2},{lat}],[{lon2},{lat2}],[{lon},{lat2}],[{lon},{lat}]]]}}}}"#,
            num = i + 1,
            area = 100 + i,
        ));
    }
    std::fs::write(
        path,
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        ),
    )
    .expect("write parcels");
}

async fn parcels_app(n: usize) -> (TestDb, Router) {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("thua.geojson");
    write_parcels(&path, n);
    tests::import(&db.pool, &path, "parcels")
        .await
        .expect("import parcels");
    let state = AppState::new(db.pool.clone()).expect("state");
    gis_core::layer::publish(&state.layers.snapshot(), &db.pool)
        .await
        .expect("publish");
    (db, app(state, Limits::default()))
}

fn ids(collection: &Value) -> Vec<i64> {
    collection["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].as_i64().expect("id"))
        .collect()
}

fn link(collection: &Value, rel: &str) -> Option<String> {
    collection["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
        .map(|h| {
            // The router is driven without a host: keep path and query.
            let after_scheme = h.split_once("://").map(|(_, r)| r).unwrap_or(h);
            after_scheme[after_scheme.find('/').unwrap_or(0)..].to_string()
        })
}

async fn sql_ids(db: &TestDb, condition: &str) -> BTreeSet<i64> {
    sqlx::query_scalar::<_, i64>(&format!("SELECT id FROM land.parcels WHERE {condition}"))
        .fetch_all(&db.pool)
        .await
        .expect("ids")
        .into_iter()
        .collect()
}

async fn filter_ids(app: &Router, query: &str) -> BTreeSet<i64> {
    let r = get(
        app,
        &format!("/collections/parcels/items?limit=10000&{query}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
    let json = r.json();
    assert_eq!(
        json["numberMatched"].as_u64(),
        Some(ids(&json).len() as u64),
        "{query}"
    );
    ids(&json).into_iter().collect()
}

fn assert_problem(r: &Reply, want: StatusCode, mentions: &str) {
    let p = tests::assert_problem_json(r.status.as_u16(), want.as_u16(), &r.content_type, &r.body);
    let detail = p["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains(mentions),
        "detail should mention {mentions:?}: {detail}"
    );
}

#[tokio::test]
async fn landing_conformance_and_openapi_describe_the_service() {
    let (_db, app) = parcels_app(3).await;
    let html = call(&app, "/", Some("text/html,application/xhtml+xml")).await;
    assert!(html.content_type.starts_with("text/html"));
    assert!(html.text().contains("/collections"));
    for r in [
        get(&app, "/?f=json").await,
        call(&app, "/", Some("application/json")).await,
    ] {
        assert_eq!(r.status, StatusCode::OK);
        let j = r.json();
        let rels: BTreeSet<&str> = j["links"]
            .as_array()
            .expect("links")
            .iter()
            .filter_map(|l| l["rel"].as_str())
            .collect();
        for rel in ["self", "service-desc", "service-doc", "conformance", "data"] {
            assert!(rels.contains(rel), "{rel} missing: {j}");
        }
    }

    let conf = get(&app, "/conformance").await.json();
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .expect("conformsTo")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for class in [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    ] {
        assert!(classes.contains(&class), "{class} missing");
    }

    let api = get(&app, "/api").await;
    assert_eq!(api.status, StatusCode::OK);
    assert!(api
        .content_type
        .starts_with("application/vnd.oai.openapi+json"));
    let doc = api.json();
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.0")));
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/",
        "/conformance",
        "/collections",
        "/collections/{collectionId}",
        "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{featureId}",
        "/collections/{collectionId}/queryables",
        "/health",
        "/tiles/{layers}/{z}/{x}/{y}",
    ] {
        assert!(paths.contains_key(path), "{path} not documented");
    }
    // Every $ref resolves inside the document.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = format!("/{}", &piece[..piece.find('"').expect("end")]);
        assert!(
            doc.pointer(&pointer).is_some(),
            "{pointer} does not resolve"
        );
    }
    let items_params = &doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"];
    assert!(items_params.to_string().contains("filter-lang"));
    // Per collection, the queryables as query parameters (GDAL sends its equality filters so).
    let parcel_params = doc["paths"]["/collections/parcels/items"]["get"]["parameters"].to_string();
    assert!(
        parcel_params.contains("\"land_use_code\""),
        "{parcel_params}"
    );
    assert!(!parcel_params.contains("owner_name"));
    let limit = &doc["components"]["parameters"]["limit"]["schema"];
    assert_eq!(limit["default"], 100);

    let doc_html = get(&app, "/api.html").await;
    assert!(doc_html.content_type.starts_with("text/html"));
    assert!(doc_html
        .text()
        .contains("/collections/{collectionId}/items"));
    assert!(!doc_html.text().contains("http://cdn") && !doc_html.text().contains("<script"));
}

#[tokio::test]
async fn collections_describe_every_layer_with_crs_extent_and_links() {
    let (_db, app) = parcels_app(5).await;
    let r = get(&app, "/collections").await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    let list = j["collections"].as_array().expect("collections");
    let registry = layers::registry().expect("registry");
    // Every layer published for everyone; the staff-only water meters are not listed.
    let anonymous = gis_core::layer::Viewer::anonymous();
    let public = registry
        .iter()
        .filter(|l| anonymous.sees(l.as_ref()))
        .count();
    assert_eq!(list.len(), public);
    assert!(public < registry.len());
    assert!(list.iter().all(|c| c["id"] != "water_meters"));
    let parcels = list.iter().find(|c| c["id"] == "parcels").expect("parcels");
    assert_eq!(parcels["itemType"], "feature");
    assert_eq!(
        parcels["storageCrs"],
        "http://www.opengis.net/def/crs/EPSG/0/9212"
    );
    let crs: Vec<&str> = parcels["crs"]
        .as_array()
        .expect("crs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in [
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "http://www.opengis.net/def/crs/EPSG/0/3857",
        "http://www.opengis.net/def/crs/EPSG/0/4756",
        "http://www.opengis.net/def/crs/EPSG/0/9212",
        "http://www.opengis.net/def/crs/EPSG/0/5899",
    ] {
        assert!(crs.contains(&c), "{c}");
    }
    let bbox = parcels["extent"]["spatial"]["bbox"][0]
        .as_array()
        .expect("extent");
    let west = bbox[0].as_f64().expect("west");
    assert!((106.88..106.884).contains(&west), "{bbox:?}");
    let one = get(&app, "/collections/parcels").await.json();
    assert_eq!(one["title"], "Thửa đất");
    let rels: Vec<String> = one["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| format!("{} {}", l["rel"], l["type"]))
        .collect();
    for want in [
        "\"items\" \"application/geo+json\"",
        "\"items\" \"text/html\"",
        "\"enclosure\" \"application/geopackage+sqlite3\"",
        "\"enclosure\" \"text/csv\"",
    ] {
        assert!(rels.iter().any(|r| r == want), "{want} in {rels:?}");
    }
    assert_problem(
        &get(&app, "/collections/parcels_of_mars").await,
        StatusCode::NOT_FOUND,
        "parcels_of_mars",
    );
    let html = call(&app, "/collections", Some("text/html")).await;
    assert!(html.content_type.starts_with("text/html"));
    assert!(html.text().contains("Thửa đất"));
}

#[tokio::test]
async fn keyset_pages_cover_every_feature_once_while_rows_are_inserted() {
    let (db, app) = parcels_app(35).await;
    let all = sql_ids(&db, "TRUE").await;
    let first = get(&app, "/collections/parcels/items?limit=10").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.content_type, "application/geo+json");
    let mut page = first.json();
    assert_eq!(page["numberMatched"], 35);
    assert_eq!(page["numberReturned"], 10);
    assert!(link(&page, "prev").is_none());
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut inserted: i32 = 0;
    loop {
        seen.extend(ids(&page));
        pages.push(page.clone());
        // A new parcel (higher id) and a deleted one inside a page already read: neither may
        // shift the remaining pages.
        sqlx::query(
            "INSERT INTO land.parcels (source_id, commune_code, sheet_number, parcel_number, geom)
             SELECT md5(random()::text), commune_code, sheet_number, parcel_number + 1000 + $1, geom
             FROM land.parcels
             WHERE id = (SELECT min(id) FROM land.parcels)",
        )
        .bind(inserted)
        .execute(&db.pool)
        .await
        .expect("insert");
        inserted += 1;
        let Some(next) = link(&page, "next") else {
            break;
        };
        page = get(&app, &next).await.json();
    }
    let seen_set: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), seen_set.len(), "a feature appeared twice");
    assert!(all.is_subset(&seen_set), "a feature was skipped");
    assert!(inserted >= 4);
    // prev of the second page is the first page.
    let second = &pages[1];
    let prev = link(second, "prev").expect("prev link");
    let back = get(&app, &prev).await.json();
    assert_eq!(ids(&back), ids(&pages[0]));
    assert!(link(&back, "next").is_some());

    // Sorted paging: descending parcel numbers, two keys, across pages.
    let mut sorted = Vec::new();
    let mut next = Some("/collections/parcels/items?limit=7&sortby=-land_use_code,parcel_number&properties=parcel_number,land_use_code".to_string());
    while let Some(uri) = next {
        let p = get(&app, &uri).await.json();
        for f in p["features"].as_array().expect("features") {
            assert_eq!(f["properties"].as_object().expect("props").len(), 2, "{f}");
            sorted.push((
                f["properties"]["land_use_code"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                f["properties"]["parcel_number"].as_i64().expect("number"),
            ));
        }
        next = link(&p, "next");
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM land.parcels")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(sorted.len() as i64, total);
    let mut expected = sorted.clone();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(sorted, expected);

    for (uri, mention) in [
        ("/collections/parcels/items?limit=0", "limit"),
        ("/collections/parcels/items?limit=10001", "limit"),
        ("/collections/parcels/items?limit=ten", "limit"),
        ("/collections/parcels/items?bbox=1,2,3", "bbox"),
        ("/collections/parcels/items?bbox=107,11,106,12", "bbox"),
        ("/collections/parcels/items?sortby=colour", "sortby"),
        ("/collections/parcels/items?properties=colour", "properties"),
        ("/collections/parcels/items?cursor=abc", "cursor"),
        ("/collections/parcels/items?colour=red", "colour"),
        ("/collections/parcels/items?datetime=yesterday", "datetime"),
        ("/collections/parcels/items?f=shp", "f"),
        ("/collections/parcels/items?limit=1&limit=2", "limit"),
    ] {
        assert_problem(&get(&app, uri).await, StatusCode::BAD_REQUEST, mention);
    }
    assert_problem(
        &get(&app, "/collections/parcels/items/999999").await,
        StatusCode::NOT_FOUND,
        "999999",
    );
}

fn first_vertex(feature: &Value) -> (f64, f64) {
    let mut c = &feature["geometry"]["coordinates"];
    while c[0].is_array() {
        c = &c[0];
    }
    (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"))
}

#[tokio::test]
async fn every_listed_crs_matches_postgis_and_the_vn2000_check_vector() {
    let (db, app) = parcels_app(3).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM land.parcels WHERE parcel_number = 1")
        .fetch_one(&db.pool)
        .await
        .expect("parcel 1");
    let item = |crs: &str| {
        let app = app.clone();
        let uri = format!("/collections/parcels/items/{id}?crs={}", enc(crs));
        async move { get(&app, &uri).await }
    };
    // The check vector: 106.883 E 11.535 N is E 568850.121 N 1275706.945 in EPSG:9212.
    let r = item("http://www.opengis.net/def/crs/EPSG/0/9212").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.headers["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/9212>"
    );
    let (e, n) = first_vertex(&r.json());
    assert!(
        (e - 568_850.121).abs() < 0.002 && (n - 1_275_706.945).abs() < 0.002,
        "{e} {n}"
    );
    // CRS84 is lon/lat, EPSG:4326 named explicitly is lat/lon.
    let (x, y) = first_vertex(
        &item("http://www.opengis.net/def/crs/OGC/1.3/CRS84")
            .await
            .json(),
    );
    assert!(
        (x - 106.883).abs() < 1e-8 && (y - 11.535).abs() < 1e-8,
        "{x} {y}"
    );
    let r = item("http://www.opengis.net/def/crs/EPSG/0/4326").await;
    assert_eq!(
        r.headers["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    );
    let (lat, lon) = first_vertex(&r.json());
    assert!((lat - 11.535).abs() < 1e-8 && (lon - 106.883).abs() < 1e-8);
    // Every listed CRS (and one more EPSG code) within 1 mm of ST_Transform.
    for srid in [3857, 9212, 5899, 3405, 3406, 32648] {
        let (want_x, want_y): (f64, f64) = sqlx::query_as(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(ST_Transform(geom, $2), 1)), 1) AS p FROM land.parcels WHERE id = $1) x",
        )
        .bind(id)
        .bind(srid)
        .fetch_one(&db.pool)
        .await
        .expect("transform");
        let items = get(
            &app,
            &format!("/collections/parcels/items?crs=EPSG:{srid}&filter=id={id}"),
        )
        .await;
        assert_eq!(items.status, StatusCode::OK, "{}", items.text());
        let (x, y) = first_vertex(&items.json()["features"][0]);
        assert!(
            (x - want_x).abs() < 0.001 && (y - want_y).abs() < 0.001,
            "EPSG:{srid}: {x} {y} vs {want_x} {want_y}"
        );
    }
    // VN-2000 geographic, named by EPSG: latitude first.
    let (lat, lon) = first_vertex(&item("EPSG:4756").await.json());
    let (want_lon, want_lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(ST_Transform(geom, 4756), 1)), 1) AS p FROM land.parcels WHERE id = $1) x",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("transform to 4756");
    // 1e-8 degrees is about 1 mm.
    assert!(
        (lat - want_lat).abs() < 1e-8 && (lon - want_lon).abs() < 1e-8,
        "{lat} {lon} vs {want_lat} {want_lon}"
    );
    // VN-2000 is a different datum: not the WGS84 numbers.
    assert!((lon - 106.883).abs() > 1e-6);

    // bbox in TM-3 metres (bbox-crs) finds the same parcels as in CRS84.
    let near = filter_ids(&app, "bbox=106.8829,11.5349,106.8831,11.5351").await;
    let near_tm3 = filter_ids(
        &app,
        &format!(
            "bbox=568835,1275695,568855,1275715&bbox-crs={}",
            enc("http://www.opengis.net/def/crs/EPSG/0/9212")
        ),
    )
    .await;
    assert!(near.contains(&id));
    assert_eq!(near, near_tm3);
    // EPSG:4326 bbox is lat,lon.
    let near_latlon = filter_ids(
        &app,
        "bbox=11.5349,106.8829,11.5351,106.8831&bbox-crs=EPSG:4326",
    )
    .await;
    assert_eq!(near, near_latlon);

    for uri in [
        "/collections/parcels/items?crs=EPSG:999999".to_string(),
        "/collections/parcels/items?crs=not-a-crs".to_string(),
        format!("/collections/parcels/items/{id}?crs=EPSG:0"),
        "/collections/parcels/items?bbox=1,2,3,4&bbox-crs=EPSG:123456789".to_string(),
        "/collections/parcels/items?filter-crs=EPSG:999999&filter=id=1".to_string(),
    ] {
        assert_problem(&get(&app, &uri).await, StatusCode::BAD_REQUEST, "CRS");
    }
    // One resolver for every CRS parameter (`crate::crs_param`): a CRS whose area of use misses
    // Viet Nam is refused by OGC API as by /query, naming the parameter.
    for uri in [
        "/collections/parcels/items?crs=EPSG:27700",
        "/collections/parcels/items?bbox=1,2,3,4&bbox-crs=EPSG:4269",
    ] {
        let a = get(&app, uri).await;
        assert_problem(&a, StatusCode::BAD_REQUEST, "does not cover Viet Nam");
        assert!(a.text().contains("parameter '"), "{}", a.text());
    }
}

#[tokio::test]
async fn cql2_classes_work_end_to_end_and_errors_name_the_position() {
    let (db, app) = parcels_app(30).await;
    // (filter, filter-lang, equivalent SQL over land.parcels)
    let cases: [(&str, &str, &str); 14] = [
        ("land_use_code = 'ONT'", "cql2-text", "land_use_code = 'ONT'"),
        (
            r#"{"op":"=","args":[{"property":"land_use_code"},"CLN"]}"#,
            "cql2-json",
            "land_use_code = 'CLN'",
        ),
        ("parcel_number > 5 AND NOT land_use_code = 'CLN'", "cql2-text", "parcel_number > 5 AND land_use_code <> 'CLN'"),
        ("parcel_number BETWEEN 3 AND 9", "cql2-text", "parcel_number BETWEEN 3 AND 9"),
        ("parcel_number IN (1, 4, 27)", "cql2-text", "parcel_number IN (1, 4, 27)"),
        ("place_name LIKE 'Phường%'", "cql2-text", "place_name LIKE 'Phường%'"),
        ("CASEI(place_name) = casei('PHƯỜNG TÂN PHÚ')", "cql2-text", "place_name = 'Phường Tân Phú'"),
        ("ACCENTI(CASEI(place_name)) = accenti(casei('xa tien hung'))", "cql2-text", "place_name = 'Xã Tiến Hưng'"),
        (
            "S_INTERSECTS(geometry, BBOX(106.8829, 11.5349, 106.8836, 11.5356))",
            "cql2-text",
            "ST_Intersects(geom_3857, ST_Transform(ST_MakeEnvelope(106.8829, 11.5349, 106.8836, 11.5356, 4326), 3857))",
        ),
        (
            "S_WITHIN(geometry, POLYGON((106.8829 11.5349, 106.8836 11.5349, 106.8836 11.5356, 106.8829 11.5356, 106.8829 11.5349)))",
            "cql2-text",
            "ST_Within(geom_3857, ST_Transform(ST_MakeEnvelope(106.8829, 11.5349, 106.8836, 11.5356, 4326), 3857))",
        ),
        (
            "S_CONTAINS(geometry, POINT(106.8831 11.5351))",
            "cql2-text",
            "ST_Contains(geom_3857, ST_Transform(ST_SetSRID(ST_MakePoint(106.8831, 11.5351), 4326), 3857))",
        ),
        ("T_AFTER(updated_at, TIMESTAMP('2000-01-01T00:00:00Z'))", "cql2-text", "updated_at > '2000-01-01T00:00:00Z'"),
        ("parcel_number * 2 + 1 = 7", "cql2-text", "parcel_number * 2 + 1 = 7"),
        ("declared_area_m2 >= 110 OR parcel_number IS NULL", "cql2-text", "declared_area_m2 >= 110"),
    ];
    for (filter, lang, sql) in cases {
        let got = filter_ids(&app, &format!("filter={}&filter-lang={lang}", enc(filter))).await;
        let want = sql_ids(&db, sql).await;
        assert!(!want.is_empty(), "the case {filter} selects nothing");
        assert_eq!(got, want, "{filter}");
    }
    // filter-crs: the same box in TM-3 metres.
    let tm3 = filter_ids(
        &app,
        &format!(
            "filter={}&filter-crs={}",
            enc("S_INTERSECTS(geometry, BBOX(568835, 1275695, 568855, 1275715))"),
            enc("http://www.opengis.net/def/crs/EPSG/0/9212")
        ),
    )
    .await;
    assert_eq!(
        tm3,
        filter_ids(&app, "bbox=106.8829,11.5349,106.8831,11.5351").await
    );
    // Queryables as query parameters.
    assert_eq!(
        filter_ids(&app, "land_use_code=CLN").await,
        sql_ids(&db, "land_use_code = 'CLN'").await
    );
    // datetime on updated_at.
    assert_eq!(filter_ids(&app, "datetime=../2000-01-01").await.len(), 0);
    assert_eq!(filter_ids(&app, "datetime=2000-01-01/..").await.len(), 30);

    let r = get(
        &app,
        &format!(
            "/collections/parcels/items?filter={}",
            enc("parcel_number = ")
        ),
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "position");
    let r = get(
        &app,
        &format!(
            "/collections/parcels/items?filter={}",
            enc("colour = 'red'")
        ),
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "colour");
    let r = get(
        &app,
        &format!(
            "/collections/parcels/items?filter={}",
            enc("parcel_number = 'x'")
        ),
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "parcel_number");
    let r = get(
        &app,
        &format!(
            "/collections/parcels/items?filter={}&filter-lang=cql2-json",
            enc("{\"op\":")
        ),
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "cql2-json");
    assert_problem(
        &get(
            &app,
            "/collections/parcels/items?filter=id=1&filter-lang=ecql",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "filter-lang",
    );
}

#[tokio::test]
async fn owner_names_never_reach_anonymous_users() {
    let (_db, app) = parcels_app(12).await;
    let q = get(&app, "/collections/parcels/queryables").await;
    assert_eq!(q.status, StatusCode::OK);
    assert_eq!(q.content_type, "application/schema+json");
    let schema = q.json();
    assert!(schema["properties"]["land_use_code"].is_object());
    assert!(schema["properties"]["geometry"].is_object());
    assert!(schema["properties"].get("owner_name").is_none());
    for uri in [
        format!(
            "/collections/parcels/items?filter={}",
            enc(&format!("owner_name = '{OWNER} 1'"))
        ),
        format!(
            "/collections/parcels/items?filter={}",
            enc("owner_name LIKE 'N%'")
        ),
        format!(
            "/collections/parcels/items?filter-lang=cql2-json&filter={}",
            enc(r#"{"op":"like","args":[{"property":"owner_name"},"%"]}"#)
        ),
        "/collections/parcels/items?properties=owner_name".to_string(),
        "/collections/parcels/items?sortby=owner_name".to_string(),
        format!("/collections/parcels/items?owner_name={}", enc(OWNER)),
        "/collections/parcels/items?f=csv&properties=parcel_number,owner_name".to_string(),
    ] {
        let r = get(&app, &uri).await;
        assert_problem(&r, StatusCode::FORBIDDEN, "owner_name");
        assert!(!r.text().contains("Bí Mật"), "{uri}");
    }
    let all_ids = filter_ids(&app, "sortby=id").await;
    let one = all_ids.iter().next().expect("a parcel");
    for uri in [
        "/collections/parcels/items".to_string(),
        "/collections/parcels/items?f=html".to_string(),
        "/collections/parcels/items?f=csv".to_string(),
        "/collections/parcels/items?f=gpkg".to_string(),
        format!("/collections/parcels/items/{one}"),
        format!("/collections/parcels/items/{one}?f=html"),
        "/collections/parcels".to_string(),
        "/collections/parcels/queryables?f=html".to_string(),
        "/api".to_string(),
    ] {
        let r = get(&app, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        let text = r.text();
        assert!(
            !text.contains("Bí Mật") && !text.contains("owner_name"),
            "{uri}"
        );
        // GeoPackages store text as UTF-8 bytes too: the raw search above covers them.
    }
}

#[tokio::test]
async fn downloads_and_html_pages_carry_the_same_features() {
    let (db, app) = parcels_app(25).await;
    let items = get(&app, "/collections/parcels/items?limit=1000")
        .await
        .json();
    let by_id: std::collections::BTreeMap<i64, Value> = items["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| (f["id"].as_i64().expect("id"), f.clone()))
        .collect();
    assert_eq!(by_id.len(), 25);

    // GeoPackage read back with GDAL.
    let r = get(&app, "/collections/parcels/items?f=gpkg").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.content_type, "application/geopackage+sqlite3");
    assert!(r.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("disposition")
        .contains("parcels.gpkg"));
    let dir = tempfile::tempdir().expect("tempdir");
    let gpkg = dir.path().join("parcels.gpkg");
    std::fs::write(&gpkg, &r.body).expect("write gpkg");
    {
        use gdal::vector::LayerAccess;
        let ds = gdal::Dataset::open(&gpkg).expect("open gpkg");
        let mut layer = ds.layer_by_name("parcels").expect("layer");
        assert_eq!(layer.feature_count(), 25);
        let defn_idx = |f: &gdal::vector::Feature, n: &str| f.field_index(n).expect(n);
        for f in layer.features() {
            let id = f
                .field_as_integer64(defn_idx(&f, "bando_id"))
                .expect("id")
                .expect("id");
            let want = &by_id[&id];
            let place = f
                .field_as_string(defn_idx(&f, "place_name"))
                .expect("place_name");
            assert_eq!(place.as_deref(), want["properties"]["place_name"].as_str());
            let number = f
                .field_as_integer64(defn_idx(&f, "parcel_number"))
                .expect("number");
            assert_eq!(number, want["properties"]["parcel_number"].as_i64());
            let env = f.geometry().expect("geometry").envelope();
            let (x, y) = first_vertex(want);
            assert!(
                env.MinX <= x + 1e-9
                    && x - 1e-9 <= env.MaxX
                    && env.MinY <= y + 1e-9
                    && y - 1e-9 <= env.MaxY
            );
            assert!(f.field_index("owner_name").is_err());
            assert!(
                f.field_index("address").is_err(),
                "the owner's address is personal data"
            );
        }
    }

    // CSV with a BOM, a header, WKT and Vietnamese text intact.
    let r = get(
        &app,
        "/collections/parcels/items?f=csv&sortby=parcel_number",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/csv"));
    assert!(r.body.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = r.text();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let head: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!(head.first(), Some(&"id"));
    assert_eq!(head.last(), Some(&"wkt"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 25);
    assert!(
        !head.contains(&"address"),
        "the owner's address is personal data"
    );
    let place_col = head
        .iter()
        .position(|h| *h == "place_name")
        .expect("place_name");
    for row in &rows {
        let cells: Vec<&str> = row.splitn(head.len(), ',').collect();
        let id: i64 = cells[0].parse().expect("id");
        assert_eq!(
            Some(cells[place_col]),
            by_id[&id]["properties"]["place_name"].as_str()
        );
        assert!(row.contains("\"MULTIPOLYGON((("), "{row}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM land.parcels")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 25);

    // HTML with Vietnamese labels.
    let html = call(
        &app,
        "/collections/parcels/items?limit=5",
        Some("text/html"),
    )
    .await;
    assert!(html.content_type.starts_with("text/html"));
    let page = html.text();
    assert!(page.contains("Thửa đất") && page.contains("Số thửa") && page.contains("Mã loại đất"));
    assert_eq!(page.matches("<tr data-id=").count(), 5);
    assert!(page.contains("rel=\"next\""));
    let one = by_id.keys().next().expect("id");
    let item = get(&app, &format!("/collections/parcels/items/{one}?f=html")).await;
    // Public titles only: the owner's address is personal data.
    assert!(item.text().contains("Địa danh"));
    assert!(!item.text().contains("Địa chỉ"));
}

// ---- real GDAL clients over HTTP ----

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

async fn run(cmd: &str, args: Vec<String>) -> String {
    let cmd = cmd.to_string();
    let out = tokio::task::spawn_blocking(move || Command::new(&cmd).args(&args).output())
        .await
        .expect("join")
        .expect("run GDAL tool");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn geojson_ids(path: &Path) -> Vec<i64> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(path).expect("read output")).expect("geojson");
    v["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            f["properties"]["id"]
                .as_i64()
                .or_else(|| f["id"].as_i64())
                .expect("id")
        })
        .collect()
}

#[tokio::test]
async fn gdal_lists_every_collection_and_copies_5000_parcels_through_paging() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let set = sample::write_sample_with(
        dir.path(),
        &sample::SampleOptions {
            seed: 11,
            parcels: 5_000,
        },
    )
    .expect("sample");
    let mut done = BTreeSet::new();
    for file in set.files.iter().filter(|f| !f.copy) {
        if !done.insert((file.path.clone(), file.layer)) {
            continue;
        }
        let mut opts = importers::pipeline::ImportOptions::new(file.layer);
        if file.path.extension().is_some_and(|e| e == "csv") {
            opts.srs = Some(file.srid);
        }
        importers::pipeline::import(&db.pool, &file.path, &opts)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
    }
    let state = AppState::new(db.pool.clone()).expect("state");
    gis_core::layer::publish(&state.layers.snapshot(), &db.pool)
        .await
        .expect("publish");
    let registry = state.layers.snapshot();
    let port = serve(app(state, Limits::default())).await;
    let base = format!("OAPIF:http://127.0.0.1:{port}/");

    // ogrinfo: every collection with its exact feature count.
    let info = run(
        "ogrinfo",
        vec!["-ro".into(), "-al".into(), "-so".into(), base.clone()],
    )
    .await;
    let anonymous = gis_core::layer::Viewer::anonymous();
    assert!(
        !info.contains("Layer name: water_meters"),
        "a staff-only layer listed to an anonymous client"
    );
    for layer in registry.iter().filter(|l| anonymous.sees(l.as_ref())) {
        let storage = layer.storage();
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", storage.qualified()))
            .fetch_one(&db.pool)
            .await
            .expect("count");
        let block = info
            .split("Layer name: ")
            .find(|b| b.lines().next().map(str::trim) == Some(layer.id()))
            .unwrap_or_else(|| panic!("ogrinfo did not list {}:\n{info}", layer.id()));
        assert!(
            block.contains(&format!("Feature Count: {n}\n")),
            "{}: expected {n}\n{block}",
            layer.id()
        );
    }

    // ogr2ogr: all 5,000 parcels through pages of 500.
    let (count, sum): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(id)::bigint FROM land.parcels")
            .fetch_one(&db.pool)
            .await
            .expect("checksum");
    assert_eq!(count, 5_000);
    let out = dir.path().join("parcels_copy.geojson");
    run(
        "ogr2ogr",
        vec![
            "-preserve_fid".into(),
            "-f".into(),
            "GeoJSON".into(),
            out.display().to_string(),
            base.clone(),
            "-oo".into(),
            "PAGE_SIZE=500".into(),
            "parcels".into(),
        ],
    )
    .await;
    let copied = geojson_ids(&out);
    assert_eq!(copied.len() as i64, count);
    assert_eq!(copied.iter().sum::<i64>(), sum);
    assert_eq!(copied.iter().collect::<BTreeSet<_>>().len() as i64, count);

    // -spat and -where give the rows SQL gives.
    // A box of about 600 m around the first parcel.
    let (w, s, e, n): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_X(c) - 0.003, ST_Y(c) - 0.003, ST_X(c) + 0.003, ST_Y(c) + 0.003
         FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) AS c FROM land.parcels ORDER BY id LIMIT 1) x",
    )
    .fetch_one(&db.pool)
    .await
    .expect("extent");
    let spat_out = dir.path().join("spat.geojson");
    run(
        "ogr2ogr",
        vec![
            "-preserve_fid".into(),
            "-f".into(),
            "GeoJSON".into(),
            spat_out.display().to_string(),
            base.clone(),
            "-spat".into(),
            w.to_string(),
            s.to_string(),
            e.to_string(),
            n.to_string(),
            "parcels".into(),
        ],
    )
    .await;
    let want: BTreeSet<i64> = sqlx::query_scalar(
        "SELECT id FROM land.parcels WHERE ST_Intersects(geom_3857, ST_Transform(ST_MakeEnvelope($1, $2, $3, $4, 4326), 3857))",
    )
    .bind(w)
    .bind(s)
    .bind(e)
    .bind(n)
    .fetch_all(&db.pool)
    .await
    .expect("spat ids")
    .into_iter()
    .collect();
    assert!(!want.is_empty() && (want.len() as i64) < count);
    let got: BTreeSet<i64> = geojson_ids(&spat_out).into_iter().collect();
    assert_eq!(got, want);

    let where_out = dir.path().join("where.geojson");
    run(
        "ogr2ogr",
        vec![
            "-preserve_fid".into(),
            "-f".into(),
            "GeoJSON".into(),
            where_out.display().to_string(),
            base.clone(),
            "-where".into(),
            "land_use_code = 'ONT' AND sheet_number <= 2".into(),
            "parcels".into(),
        ],
    )
    .await;
    let want = sql_ids(&db, "land_use_code = 'ONT' AND sheet_number <= 2").await;
    assert!(!want.is_empty());
    let got: BTreeSet<i64> = geojson_ids(&where_out).into_iter().collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_download_over_the_limit_is_refused_unless_narrowed() {
    let db = TestDb::new().await;
    // 100,001 hydrants on a 1 m grid (more than one download may hold); the statement
    // triggers (change notifications) are skipped as bulk loads skip them.
    let mut tx = db.pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("replica role");
    sqlx::query(
        "INSERT INTO utilities.hydrants (source_id, code, geom)
         SELECT 'h' || i, 'TR-' || i,
                ST_SetSRID(ST_MakePoint(568850 + (i % 400), 1275700 + (i / 400)), 9212)
         FROM generate_series(1, 100001) AS i",
    )
    .execute(&mut *tx)
    .await
    .expect("insert hydrants");
    tx.commit().await.expect("commit");
    let app = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let r = get(&app, "/collections/hydrants/items?f=csv").await;
    assert_problem(&r, StatusCode::PAYLOAD_TOO_LARGE, "100000");
    assert_problem(
        &get(&app, "/collections/hydrants/items?f=csv&limit=100001").await,
        StatusCode::BAD_REQUEST,
        "limit",
    );
    // Narrowed by a filter, the same download is served.
    let r = get(
        &app,
        &format!(
            "/collections/hydrants/items?f=csv&filter={}",
            enc("code IN ('TR-1', 'TR-2', 'TR-3')")
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.text().lines().count(), 4);
    // Items themselves page as usual.
    let page = get(&app, "/collections/hydrants/items?limit=5")
        .await
        .json();
    assert_eq!(page["numberMatched"], 100_001);
    assert_eq!(page["numberReturned"], 5);

    // Downloads are streamed: while the client reads nothing past the header, the task
    // reading the features waits for it (a few batches in flight, not 99,999 rows in
    // memory); when the client leaves, the task ends and its query is cancelled.
    let state = AppState::new(db.pool.clone()).expect("state");
    let app = tile_server::app::app(state.clone(), Limits::default());
    let response = app
        .clone()
        .oneshot(
            Request::get("/collections/hydrants/items?f=csv&limit=99999")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get(header::CONTENT_LENGTH).is_none(),
        "streamed, not sized in advance"
    );
    let mut body = response.into_body().into_data_stream();
    let head = body.next().await.expect("a first chunk").expect("bytes");
    assert!(
        String::from_utf8_lossy(&head).starts_with("\u{feff}id,"),
        "{head:?}"
    );
    let reading = || {
        state
            .downloads_streaming
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let waiting = std::time::Instant::now();
    while reading() == 0 && waiting.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(reading(), 1, "the reading waits for its client");
    drop(body);
    let left = std::time::Instant::now();
    while reading() > 0 {
        assert!(
            left.elapsed() < std::time::Duration::from_secs(10),
            "the reading outlived its client"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    loop {
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = 'bando-downloads' AND state = 'active' AND datname = current_database()",
        )
        .fetch_one(&db.pool)
        .await
        .expect("activity");
        if running == 0 {
            break;
        }
        assert!(
            left.elapsed() < std::time::Duration::from_secs(10),
            "a download's query still runs after its client left"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Read to the end, a CSV holds every row asked for; a GeoPackage every feature.
    let r = get(&app, "/collections/hydrants/items?f=csv&limit=99999").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text().lines().count(), 100_000);
    let r = get(&app, "/collections/hydrants/items?f=gpkg&limit=5000").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hydrants.gpkg");
    std::fs::write(&path, &r.body).expect("write");
    {
        use gdal::vector::LayerAccess;
        let ds = gdal::Dataset::open(&path).expect("open gpkg");
        let layer = ds.layer_by_name("hydrants").expect("layer");
        assert_eq!(layer.feature_count(), 5000);
    }
    assert_eq!(reading(), 0);
}

/// `filter-crs` sets the axis order of a filter's coordinates: CRS84 (the default) is
/// longitude first; EPSG:4326 and EPSG:4756 (VN-2000 geographic) are latitude first, with
/// `BBOX(minLat, minLon, maxLat, maxLon)`.
#[tokio::test]
async fn filter_crs_latitude_first_finds_the_same_parcels_as_crs84() {
    let (db, app) = parcels_app(30).await;
    const EPSG4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";
    const EPSG4756: &str = "http://www.opengis.net/def/crs/EPSG/0/4756";
    // A point inside one parcel, in WGS84 and in VN-2000 geographic, computed by PostGIS.
    let (target, lon, lat, lon_vn, lat_vn): (i64, f64, f64, f64, f64) = sqlx::query_as(
        "SELECT id, ST_X(ST_Transform(p, 4326)), ST_Y(ST_Transform(p, 4326)), \
                ST_X(ST_Transform(p, 4756)), ST_Y(ST_Transform(p, 4756)) \
         FROM (SELECT id, ST_PointOnSurface(geom) AS p FROM land.parcels ORDER BY id OFFSET 13 LIMIT 1) s",
    )
    .fetch_one(&db.pool)
    .await
    .expect("point in a parcel");
    let with_crs = |filter: String, crs: Option<&str>| {
        let mut q = format!("filter={}", enc(&filter));
        if let Some(c) = crs {
            q.push_str(&format!("&filter-crs={}", enc(c)));
        }
        q
    };

    // Points.
    let crs84 = filter_ids(
        &app,
        &with_crs(format!("S_INTERSECTS(geometry, POINT({lon} {lat}))"), None),
    )
    .await;
    assert!(crs84.contains(&target), "{crs84:?} lacks parcel {target}");
    assert_eq!(
        crs84,
        sql_ids(
            &db,
            &format!("ST_Intersects(geom, ST_Transform(ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326), ST_SRID(geom)))")
        )
        .await
    );
    let explicit_crs84 = filter_ids(
        &app,
        &with_crs(
            format!("S_INTERSECTS(geometry, POINT({lon} {lat}))"),
            Some("http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
        ),
    )
    .await;
    assert_eq!(explicit_crs84, crs84);
    let lat_first = filter_ids(
        &app,
        &with_crs(
            format!("S_INTERSECTS(geometry, POINT({lat} {lon}))"),
            Some(EPSG4326),
        ),
    )
    .await;
    assert_eq!(lat_first, crs84, "EPSG:4326 POINT(lat lon)");
    let json_lat_first = filter_ids(
        &app,
        &format!(
            "{}&filter-lang=cql2-json",
            with_crs(
                serde_json::json!({"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [lat, lon]}]})
                    .to_string(),
                Some(EPSG4326)
            )
        ),
    )
    .await;
    assert_eq!(json_lat_first, crs84, "cql2-json in EPSG:4326");
    let vn2000 = filter_ids(
        &app,
        &with_crs(
            format!("S_INTERSECTS(geometry, POINT({lat_vn} {lon_vn}))"),
            Some(EPSG4756),
        ),
    )
    .await;
    assert_eq!(vn2000, crs84, "EPSG:4756 POINT(lat lon)");
    // Written in the other order, the "latitude" is 106.9°: a 400 that names the axis order
    // (PostGIS cannot transform it, so this was a server error before), in either CRS.
    let r = get(
        &app,
        &format!(
            "/collections/parcels/items?{}",
            with_crs(
                format!("S_INTERSECTS(geometry, POINT({lon} {lat}))"),
                Some(EPSG4326)
            )
        ),
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "latitude first");
    let r = get(
        &app,
        &format!(
            "/collections/parcels/items?{}",
            with_crs(format!("S_INTERSECTS(geometry, POINT({lat} {lon}))"), None)
        ),
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "longitude first");

    // Boxes: around the points of two parcels, so that more than one parcel matches.
    let (w, s, e, n): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ( \
           SELECT ST_Extent(ST_Transform(ST_PointOnSurface(geom), 4326))::geometry AS b \
           FROM (SELECT geom FROM land.parcels ORDER BY id OFFSET 13 LIMIT 2) p) x",
    )
    .fetch_one(&db.pool)
    .await
    .expect("box");
    let crs84_box = filter_ids(
        &app,
        &with_crs(
            format!("S_INTERSECTS(geometry, BBOX({w}, {s}, {e}, {n}))"),
            None,
        ),
    )
    .await;
    assert!(crs84_box.len() >= 2, "{crs84_box:?}");
    assert!(crs84_box.contains(&target));
    assert_eq!(
        crs84_box,
        sql_ids(
            &db,
            &format!("ST_Intersects(geom, ST_Transform(ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326), ST_SRID(geom)))")
        )
        .await
    );
    let lat_first_box = filter_ids(
        &app,
        &with_crs(
            format!("S_INTERSECTS(geometry, BBOX({s}, {w}, {n}, {e}))"),
            Some(EPSG4326),
        ),
    )
    .await;
    assert_eq!(
        lat_first_box, crs84_box,
        "EPSG:4326 BBOX(minLat, minLon, maxLat, maxLon)"
    );
    let lat_first_json_box = filter_ids(
        &app,
        &format!(
            "{}&filter-lang=cql2-json",
            with_crs(
                serde_json::json!({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [s, w, n, e]}]})
                    .to_string(),
                Some(EPSG4326)
            )
        ),
    )
    .await;
    assert_eq!(lat_first_json_box, crs84_box, "cql2-json bbox in EPSG:4326");
    // The same order as the bbox parameter in bbox-crs EPSG:4326.
    assert_eq!(
        filter_ids(
            &app,
            &format!("bbox={s},{w},{n},{e}&bbox-crs={}", enc(EPSG4326))
        )
        .await,
        crs84_box
    );
    // A polygon written latitude first.
    let polygon = filter_ids(
        &app,
        &with_crs(
            format!(
                "S_INTERSECTS(geometry, POLYGON(({s} {w}, {s} {e}, {n} {e}, {n} {w}, {s} {w})))"
            ),
            Some(EPSG4326),
        ),
    )
    .await;
    assert_eq!(polygon, crs84_box, "EPSG:4326 POLYGON in lat/lon");
}

/// Local `href`s of an HTML page (absolute paths, not the language toggle), in page order.
fn local_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|h| h.starts_with('/'))
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}

/// The landing page links to the map and every service, in both languages, and each link
/// answers; the OGC landing JSON and /conformance cover OGC API – Tiles as well.
#[tokio::test]
async fn landing_links_answer_and_tiles_are_declared() {
    // The map app's files are in the repository's web/ (the test runs from tests/).
    tile_server::routes::web::set_web_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../web"));
    let (_db, app) = parcels_app(3).await;
    for (uri, map_label) in [("/", "Bản đồ quy hoạch"), ("/?lang=en", "Planners' map")] {
        let page = call(&app, uri, Some("text/html,application/xhtml+xml")).await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(
            html.contains(&format!(
                "<a href=\"/map\" data-link=\"map\">{}</a>",
                map_label.replace('\'', "&#39;")
            )),
            "{uri}: no map link labelled {map_label}"
        );
        let links = local_links(&html);
        for path in [
            "/map",
            "/collections?f=html",
            "/conformance?f=html",
            "/api.html",
            "/api",
            "/tiles?f=html",
            "/tileMatrixSets",
            "/styles",
        ] {
            assert!(links.iter().any(|l| l == path), "{uri}: no link to {path}");
        }
        for link in &links {
            // As a browser follows it.
            let r = call(
                &app,
                link,
                Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{uri} → {link}: {}", r.text());
            assert!(!r.body.is_empty(), "{link} is empty");
        }
    }
    let map = get(&app, "/map").await;
    assert!(
        map.content_type.starts_with("text/html"),
        "{}",
        map.content_type
    );

    let landing = get(&app, "/?f=json").await.json();
    let href_of = |rel: &str| {
        landing["links"]
            .as_array()
            .expect("links")
            .iter()
            .filter(|l| l["rel"] == rel)
            .filter_map(|l| l["href"].as_str())
            .map(|h| {
                let after = h.split_once("://").map(|(_, r)| r).unwrap_or(h);
                after[after.find('/').unwrap_or(0)..].to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        href_of("http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"),
        ["/tiles"]
    );
    assert_eq!(
        href_of("http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"),
        ["/tileMatrixSets"]
    );
    for path in ["/tiles", "/tileMatrixSets"] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        r.json();
    }

    let conformance = get(&app, "/conformance").await.json();
    let classes: Vec<&str> = conformance["conformsTo"]
        .as_array()
        .expect("conformsTo")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core"));
    for class in tile_server::routes::tiles::TILES_CONFORMANCE
        .iter()
        .chain(tile_server::routes::features::CONFORMANCE)
    {
        assert_eq!(
            classes.iter().filter(|c| *c == class).count(),
            1,
            "{class} should be listed once"
        );
    }
    let html = get(&app, "/conformance?f=html").await.text();
    assert!(html.contains("ogcapi-tiles-1/1.0/conf/mvt"));
}

#[tokio::test]
async fn remembered_match_counts_follow_every_change() {
    // With the change listener running (as `bando serve` runs it), numberMatched is remembered
    // per query; an insert notified to the server must show in the next answer.
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("thua.geojson");
    write_parcels(&path, 30);
    tests::import(&db.pool, &path, "parcels")
        .await
        .expect("import parcels");
    let state = AppState::new(db.pool.clone()).expect("state");
    gis_core::layer::publish(&state.layers.snapshot(), &db.pool)
        .await
        .expect("publish");
    let listener = state.tiles.spawn_invalidation_listener();
    let app = app(state.clone(), Limits::default());
    let uri = format!(
        "/collections/parcels/items?limit=5&filter={}",
        enc("land_use_code = 'ONT'")
    );
    let want = sql_ids(&db, "land_use_code = 'ONT'").await.len();
    for _ in 0..2 {
        let page = get(&app, &uri).await.json();
        assert_eq!(page["numberMatched"], want, "{page}");
    }
    for round in 1..=3 {
        // Give the listener time to subscribe before the first change.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let generation = state.tiles.generation();
        sqlx::query(
            "INSERT INTO land.parcels (source_id, commune_code, sheet_number, parcel_number,
                                       land_use_code, geom)
             SELECT md5(random()::text), commune_code, sheet_number, parcel_number + 5000 + $1,
                    'ONT', geom
             FROM land.parcels WHERE id = (SELECT min(id) FROM land.parcels)",
        )
        .bind(round)
        .execute(&db.pool)
        .await
        .expect("insert");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while state.tiles.generation() == generation {
            assert!(
                std::time::Instant::now() < deadline,
                "no change notification within 5 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let page = get(&app, &uri).await.json();
        let want = sql_ids(&db, "land_use_code = 'ONT'").await.len();
        assert_eq!(
            page["numberMatched"], want,
            "round {round}: a stale count was served"
        );
    }
    listener.abort();
}

#[tokio::test]
async fn coordinates_outside_a_crs_are_a_400_not_a_server_error() {
    // PostGIS reports a failed transformation as an internal error; it comes from what the
    // user wrote, so the answer is a 400 that says which parameters to check.
    let (_db, app) = parcels_app(3).await;
    let tm3 = enc("http://www.opengis.net/def/crs/EPSG/0/9212");
    for uri in [
        format!("/collections/parcels/items?bbox=1e9,1e9,2e9,2e9&bbox-crs={tm3}"),
        format!(
            "/collections/parcels/items?filter={}&filter-crs={tm3}",
            enc("S_INTERSECTS(geometry, POINT(1e12 1e12))")
        ),
    ] {
        let r = get(&app, &uri).await;
        assert_problem(
            &r,
            StatusCode::BAD_REQUEST,
            "outside the area its CRS covers",
        );
    }
}
