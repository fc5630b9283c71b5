//! bando's spatial queries through the router (`/query/…`): identify with a pixel tolerance and
//! its order, nearest and within against PostGIS distances in the TM-3 zone, parcel search by
//! pre- and post-merger commune codes, the planning report on hand-made geometry with areas
//! computed by hand, measuring in both zones, owner names never answered, and bad input.

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use sqlx::PgPool;
use tests::TestDb;
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

/// A point of hand-made geometry in EPSG:9212, near Đồng Xoài (106.88 E, 11.53 N).
const E0: f64 = 568_000.0;
const N0: f64 = 1_275_000.0;
/// Pixel size in Web Mercator units at zoom 18.
const PX_Z18: f64 = 2.0 * std::f64::consts::PI * 6_378_137.0 / 256.0 / 262_144.0;
/// An owner name that must never be answered.
const OWNER: &str = "Trần Thị Bí Mật";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
    text: String,
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let response = app.clone().oneshot(req).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), 50 << 20)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).to_string();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        text,
    }
}

/// The answer is the problem JSON of `want`, its `status` member included.
fn assert_problem(a: &Answer, want: StatusCode, context: &str) {
    let content_type = a
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(a.status, want, "{context}: {}", a.text);
    tests::assert_problem_json(
        a.status.as_u16(),
        want.as_u16(),
        content_type,
        a.text.as_bytes(),
    );
}

async fn get(app: &Router, uri: &str) -> Answer {
    let uri = uri.replace(' ', "%20");
    send(app, Request::get(uri).body(Body::empty()).expect("req")).await
}

async fn post(app: &Router, uri: &str, body: &str) -> Answer {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("req");
    send(app, req).await
}

fn router(db: &TestDb) -> Router {
    app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    )
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// An axis-parallel rectangle in EPSG:9212 as a MultiPolygon expression.
fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    format!("ST_Multi(ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 9212))")
}

/// A straight line in EPSG:9212 as a MultiLineString expression, digitised from a to b.
fn line(a: (f64, f64), b: (f64, f64)) -> String {
    format!(
        "ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint({}, {}), ST_MakePoint({}, {})), 9212))",
        a.0, a.1, b.0, b.1
    )
}

/// Longitude/latitude of an EPSG:9212 point moved `dy` Web Mercator units north (PostGIS).
async fn lonlat(pool: &PgPool, e: f64, n: f64, dy_3857: f64) -> (f64, f64) {
    sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_Translate(
            ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 9212), 3857), 0, $3), 4326) AS p) x",
    )
    .bind(e)
    .bind(n)
    .bind(dy_3857)
    .fetch_one(pool)
    .await
    .expect("lonlat")
}

fn ids(answer: &Answer) -> Vec<(String, i64)> {
    answer.json["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["layer"].as_str().unwrap_or("").to_string(),
                f["id"].as_i64().expect("id"),
            )
        })
        .collect()
}

async fn id_of(pool: &PgPool, table: &str, source_id: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE source_id = $1"))
        .bind(source_id)
        .fetch_one(pool)
        .await
        .expect("id")
}

#[tokio::test]
async fn identify_answers_what_is_under_the_click_in_order_within_the_pixel_tolerance() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    exec(
        pool,
        &format!(
            "INSERT INTO land.parcels (source_id, commune_code, sheet_number, parcel_number, owner_name, geom)
               VALUES ('p', '25252', 1, 1, '{OWNER}', {p});
             INSERT INTO planning.zones (source_id, zone_code, land_use_function, geom)
               VALUES ('z', 'ODT-01', 'ODT', {z});
             INSERT INTO planning.red_lines (source_id, road_name, geom)
               VALUES ('l', 'Đường Phú Riềng Đỏ', {l}), ('l2', 'Đường 2', {l2});
             INSERT INTO utilities.hydrants (source_id, code, geom)
               VALUES ('h', 'TC-01', ST_SetSRID(ST_MakePoint({hx}, {hy}), 9212));",
            p = rect(E0, N0, E0 + 20.0, N0 + 30.0),
            z = rect(E0 - 100.0, N0 - 100.0, E0 + 100.0, N0 + 100.0),
            l = line((E0 + 15.0, N0 - 50.0), (E0 + 15.0, N0 + 80.0)),
            l2 = line((E0 + 300.0, N0), (E0 + 400.0, N0)),
            hx = E0 + 15.0,
            hy = N0 + 10.0,
        ),
    )
    .await;
    let app = router(&db);

    // A click on the hydrant, which stands on the red line inside the parcel inside the zone.
    let (lon, lat) = lonlat(pool, E0 + 15.0, N0 + 10.0, 0.0).await;
    let a = get(&app, &format!("/query/identify?x={lon}&y={lat}&zoom=18")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let expected = vec![
        (
            "hydrants".to_string(),
            id_of(pool, "utilities.hydrants", "h").await,
        ),
        (
            "red_lines".to_string(),
            id_of(pool, "planning.red_lines", "l").await,
        ),
        (
            "parcels".to_string(),
            id_of(pool, "land.parcels", "p").await,
        ),
        (
            "planning_zones".to_string(),
            id_of(pool, "planning.zones", "z").await,
        ),
    ];
    assert_eq!(ids(&a), expected, "{}", a.text);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/geo+json");
    let first = &a.json["features"][0];
    assert_eq!(first["type"], "Feature");
    assert_eq!(first["geometry"]["type"], "Point");
    assert_eq!(first["properties"]["code"], "TC-01");
    assert_eq!(first["layer_title_vi"], "Trụ cứu hỏa");
    let parcel = &a.json["features"][2];
    assert_eq!(parcel["properties"]["parcel_number"], 1);
    assert!(parcel["properties"].get("owner_name").is_none());
    assert!(
        !a.text.contains("owner_name") && !a.text.contains(OWNER),
        "{}",
        a.text
    );
    // CRS84 coordinates of the hydrant.
    let c = &first["geometry"]["coordinates"];
    assert!((c[0].as_f64().expect("x") - lon).abs() < 1e-7, "{c}");
    assert!((c[1].as_f64().expect("y") - lat).abs() < 1e-7, "{c}");

    // Three pixels (z18) north of the middle of a line: hit at tolerance 4, missed at 1 and 2.
    let (lon, lat) = lonlat(pool, E0 + 350.0, N0, 3.0 * PX_Z18).await;
    let l2 = id_of(pool, "planning.red_lines", "l2").await;
    let uri = |tol: &str| {
        format!("/query/identify?x={lon}&y={lat}&zoom=18&tolerance={tol}&layers=red_lines")
    };
    let hit = get(&app, &uri("4")).await;
    assert_eq!(
        ids(&hit),
        vec![("red_lines".to_string(), l2)],
        "{}",
        hit.text
    );
    for tol in ["1", "2"] {
        let miss = get(&app, &uri(tol)).await;
        assert_eq!(miss.status, StatusCode::OK);
        assert!(ids(&miss).is_empty(), "tolerance {tol}: {}", miss.text);
    }
    // The same click at zoom 17 is 1.5 pixels off: tolerance 2 hits there.
    let z17 = get(
        &app,
        &format!("/query/identify?x={lon}&y={lat}&zoom=17&tolerance=2&layers=red_lines"),
    )
    .await;
    assert_eq!(
        ids(&z17),
        vec![("red_lines".to_string(), l2)],
        "{}",
        z17.text
    );

    // Asked in EPSG:9212, answered in it.
    let a = get(
        &app,
        &format!(
            "/query/identify?x={}&y={}&zoom=18&layers=hydrants&crs=http://www.opengis.net/def/crs/EPSG/0/9212",
            E0 + 15.0,
            N0 + 10.0
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.headers["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/9212>"
    );
    let c = &a.json["features"][0]["geometry"]["coordinates"];
    assert!(
        (c[0].as_f64().expect("x") - (E0 + 15.0)).abs() < 1e-6,
        "{c}"
    );
    assert!(
        (c[1].as_f64().expect("y") - (N0 + 10.0)).abs() < 1e-6,
        "{c}"
    );
}

/// Points scattered around (E0, N0) in EPSG:9212 and around (520000, 1210000) in EPSG:5899.
async fn scatter(pool: &PgPool) {
    let mut values = Vec::new();
    for i in 0..40u32 {
        let f = f64::from(i);
        let (dx, dy) = ((f * 37.7) % 400.0 - 200.0, (f * f * 13.1) % 400.0 - 200.0);
        values.push(format!(
            "('w{i}', 'W{i}', ST_SetSRID(ST_MakePoint({}, {}), 9212))",
            E0 + dx,
            N0 + dy
        ));
        values.push(format!(
            "('e{i}', 'E{i}', ST_SetSRID(ST_MakePoint({}, {}), 5899))",
            520_000.0 + dy,
            1_210_000.0 + dx
        ));
    }
    exec(
        pool,
        &format!(
            "INSERT INTO utilities.hydrants (source_id, code, geom) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
}

/// (id, metres) of hydrants by distance from a WGS84 point, measured by PostGIS in `srid`.
async fn by_distance(pool: &PgPool, lon: f64, lat: f64, srid: i32) -> Vec<(i64, f64)> {
    sqlx::query_as(
        "SELECT id, ST_Distance(ST_Transform(geom, $3), ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), $3)) AS d
         FROM utilities.hydrants ORDER BY d, id",
    )
    .bind(lon)
    .bind(lat)
    .bind(srid)
    .fetch_all(pool)
    .await
    .expect("distances")
}

fn distances(answer: &Answer) -> Vec<(i64, f64)> {
    answer.json["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["id"].as_i64().expect("id"),
                f["distance_m"].as_f64().expect("distance_m"),
            )
        })
        .collect()
}

fn assert_same(got: &[(i64, f64)], expected: &[(i64, f64)]) {
    assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(g.0, e.0, "{got:?} vs {expected:?}");
        assert!((g.1 - e.1).abs() < 1e-6, "{got:?} vs {expected:?}");
    }
}

#[tokio::test]
async fn nearest_and_within_match_postgis_distances_in_the_zone_of_the_point() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    scatter(pool).await;
    let app = router(&db);

    // West of 107° E: metres of EPSG:9212.
    let (lon, lat) = lonlat(pool, E0 + 20.0, N0 - 10.0, 0.0).await;
    let expected = by_distance(pool, lon, lat, 9212).await;
    let a = get(
        &app,
        &format!("/query/nearest?layer=hydrants&x={lon}&y={lat}&limit=7"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["computed_in"], "EPSG:9212");
    assert_same(&distances(&a), &expected[..7]);
    let default = get(
        &app,
        &format!("/query/nearest?layer=hydrants&x={lon}&y={lat}"),
    )
    .await;
    assert_eq!(distances(&default).len(), 10);

    let a = get(
        &app,
        &format!("/query/within?layer=hydrants&x={lon}&y={lat}&distance=150"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let inside: Vec<(i64, f64)> = expected
        .iter()
        .copied()
        .filter(|(_, d)| *d <= 150.0)
        .collect();
    assert!(inside.len() >= 3 && inside.len() < 40, "{inside:?}");
    assert_same(&distances(&a), &inside);
    let limited = get(
        &app,
        &format!("/query/within?layer=hydrants&x={lon}&y={lat}&distance=150&limit=2"),
    )
    .await;
    assert_same(&distances(&limited), &inside[..2]);

    // East of 107° E: metres of EPSG:5899, the point given in that CRS.
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(520010, 1210020), 5899), 4326) p) x",
    )
    .fetch_one(pool)
    .await
    .expect("point");
    assert!(lon > 107.0);
    let expected = by_distance(pool, lon, lat, 5899).await;
    let a = get(
        &app,
        "/query/nearest?layer=hydrants&x=520010&y=1210020&crs=EPSG:5899&limit=5",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["computed_in"], "EPSG:5899");
    assert_eq!(
        a.headers["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/5899>"
    );
    let got = distances(&a);
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        expected[..5].iter().map(|e| e.0).collect::<Vec<_>>()
    );
    for (g, e) in got.iter().zip(&expected) {
        // The point went through CRS84 once more than the expectation's: millimetres.
        assert!((g.1 - e.1).abs() < 1e-3, "{got:?} vs {expected:?}");
    }
    let c = &a.json["features"][0]["geometry"]["coordinates"];
    assert!(c[0].as_f64().expect("x") > 500_000.0, "{c}");
}

/// Hand-made parcels, zones, red lines and building lines whose overlay is computed by hand.
async fn planning_fixture(pool: &PgPool) {
    exec(
        pool,
        &format!(
            "INSERT INTO land.parcels (source_id, commune_code, sheet_number, parcel_number, land_use_code,
                                       legal_area_m2, owner_name, geom) VALUES
               ('p1', '25252', 1, 1, 'ODT', 600, '{OWNER}', {p1}),
               ('p2', '25252', 1, 2, 'ODT', 600, '{OWNER}', {p2}),
               ('p3', '25252', 1, 3, 'ODT', 600, '{OWNER}', {p3});
             INSERT INTO planning.zones (source_id, zone_code, land_use_function, density_pct, max_floors,
                                         max_height_m, setback_m, decision_number, decision_date, geom) VALUES
               ('za', 'ODT-01', 'ODT', 70, 5, 18.9, 3, '123/QĐ-UBND', '2023-05-04', {za}),
               ('zb', 'DGT-01', 'DGT', NULL, NULL, NULL, NULL, '123/QĐ-UBND', '2023-05-04', {zb});
             INSERT INTO planning.red_lines (source_id, road_name, geom) VALUES
               ('r1', 'Đường A', {r1}), ('r2', 'Đường B', {r2}), ('r3', 'Đường B', {r3}),
               ('r4', 'Đường C', {r4});
             INSERT INTO planning.building_lines (source_id, road_name, setback_m, geom) VALUES
               ('b1', 'Đường A', 3, {b1});",
            // p1: 20 × 30, the west half in zone A; a red line northwards at x = +15 (road to
            // its right, east: 5 × 30 lost) and a building line at x = +12 (8 × 30 unbuildable).
            p1 = rect(E0, N0, E0 + 20.0, N0 + 30.0),
            za = rect(E0 - 100.0, N0 - 100.0, E0 + 10.0, N0 + 100.0),
            r1 = line((E0 + 15.0, N0 - 50.0), (E0 + 15.0, N0 + 80.0)),
            b1 = line((E0 + 12.0, N0 - 50.0), (E0 + 12.0, N0 + 80.0)),
            // p2: spans a road corridor between opposite red lines at +515 and +518: 3 × 30;
            // a quarter (x < +505) in zone B.
            p2 = rect(E0 + 500.0, N0, E0 + 520.0, N0 + 30.0),
            zb = rect(E0 + 400.0, N0 - 100.0, E0 + 505.0, N0 + 100.0),
            r2 = line((E0 + 515.0, N0 - 50.0), (E0 + 515.0, N0 + 80.0)),
            r3 = line((E0 + 518.0, N0 + 80.0), (E0 + 518.0, N0 - 50.0)),
            // p3: fronts a red line along its east edge and loses nothing.
            p3 = rect(E0 + 1000.0, N0, E0 + 1020.0, N0 + 30.0),
            r4 = line((E0 + 1020.0, N0 - 10.0), (E0 + 1020.0, N0 + 40.0)),
        ),
    )
    .await;
}

fn close(v: &Value, expected: f64, tol: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() <= tol)
}

#[tokio::test]
async fn the_planning_report_measures_zone_shares_and_red_line_cuts_in_tm3_metres() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    planning_fixture(pool).await;
    let app = router(&db);

    let p1 = id_of(pool, "land.parcels", "p1").await;
    let a = get(&app, &format!("/query/planning-report?parcel={p1}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let r = &a.json;
    assert_eq!(r["srid"], 9212);
    assert_eq!(r["computed_in"], "EPSG:9212");
    assert_eq!(r["parcel"]["id"], p1);
    assert_eq!(r["parcel"]["commune_code"], "25252");
    assert_eq!(r["parcel"]["sheet_number"], 1);
    assert!(close(&r["parcel"]["area_m2"], 600.0, 1e-6), "{r}");
    assert!(close(&r["parcel"]["legal_area_m2"], 600.0, 1e-9), "{r}");
    assert!(!a.text.contains("owner_name") && !a.text.contains(OWNER));
    let zones = r["zones"].as_array().expect("zones");
    assert_eq!(zones.len(), 1, "{r}");
    let z = &zones[0];
    assert_eq!(z["zone_code"], "ODT-01");
    assert_eq!(z["function_code"], "ODT");
    // A land-use code read through the planned-function list (planning.zone_functions).
    assert_eq!(z["planned_function"], "O");
    assert_eq!(z["function_name_vi"], "Đất ở");
    assert!(
        close(&z["area_m2"], 300.0, 1e-6) && close(&z["percent"], 50.0, 1e-6),
        "{z}"
    );
    assert!(
        close(&z["density_pct"], 70.0, 0.0) && z["max_floors"] == 5,
        "{z}"
    );
    assert!(close(&z["max_height_m"], 18.9, 1e-9) && close(&z["setback_m"], 3.0, 0.0));
    assert_eq!(z["decision_number"], "123/QĐ-UBND");
    assert_eq!(z["decision_date"], "2023-05-04");
    assert!(close(&r["unplanned_area_m2"], 300.0, 1e-6), "{r}");
    let red = &r["red_lines"];
    assert_eq!(red["crosses"], true);
    assert_eq!(red["fronts"], true);
    assert!(close(&red["cut_area_m2"], 150.0, 1e-6), "{red}");
    assert!(close(&red["length_inside_m"], 30.0, 1e-6), "{red}");
    assert_eq!(red["roads"], serde_json::json!(["Đường A"]));
    let building = &r["building_lines"];
    assert!(close(&building["cut_area_m2"], 240.0, 1e-6), "{building}");
    assert!(
        close(&building["length_inside_m"], 30.0, 1e-6),
        "{building}"
    );

    // Across a road corridor: only the strip between the red lines is lost; by identity.
    let a = get(
        &app,
        "/query/planning-report?commune=25252&sheet=1&number=2",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let r = &a.json;
    assert!(close(&r["red_lines"]["cut_area_m2"], 90.0, 1e-6), "{r}");
    assert!(close(&r["red_lines"]["length_inside_m"], 60.0, 1e-6), "{r}");
    assert_eq!(r["building_lines"]["crosses"], false);
    let z = &r["zones"][0];
    assert_eq!(z["zone_code"], "DGT-01");
    assert!(close(&z["percent"], 25.0, 1e-6), "{z}");
    assert!(close(&r["unplanned_area_m2"], 450.0, 1e-6), "{r}");

    // Fronting a red line is not crossing it.
    let a = get(
        &app,
        "/query/planning-report?commune=25252&sheet=1&number=3",
    )
    .await;
    let red = &a.json["red_lines"];
    assert_eq!(red["crosses"], false, "{red}");
    assert_eq!(red["fronts"], true, "{red}");
    assert!(close(&red["cut_area_m2"], 0.0, 0.0) && close(&red["length_inside_m"], 0.0, 1e-9));
    assert!(a.json["zones"].as_array().expect("zones").is_empty());
    assert!(close(&a.json["unplanned_area_m2"], 600.0, 1e-6));

    // Nearest and within over parcels answer their public properties only.
    let (lon, lat) = lonlat(pool, E0 + 10.0, N0 + 10.0, 0.0).await;
    for uri in [
        format!("/query/nearest?layer=parcels&x={lon}&y={lat}&limit=3"),
        format!("/query/within?layer=parcels&x={lon}&y={lat}&distance=2000"),
    ] {
        let a = get(&app, &uri).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
        assert_eq!(ids(&a).len(), 3, "{uri}: {}", a.text);
        assert_eq!(a.json["features"][0]["properties"]["parcel_number"], 1);
        assert!(
            !a.text.contains("owner_name") && !a.text.contains(OWNER),
            "{}",
            a.text
        );
    }

    let none = get(
        &app,
        "/query/planning-report?commune=25252&sheet=1&number=99",
    )
    .await;
    assert_problem(&none, StatusCode::NOT_FOUND, "no parcel 99");
    let none = get(&app, "/query/planning-report?parcel=999999").await;
    assert_problem(&none, StatusCode::NOT_FOUND, "no parcel 999999");
}

/// The sample set with its cadastre and plan imported (512 parcels).
pub(crate) async fn sample_db() -> TestDb {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    sample::write_sample_with(
        dir.path(),
        &sample::SampleOptions {
            seed: 2025,
            parcels: 512,
        },
    )
    .expect("sample");
    for (file, kind) in [
        ("communes.gpkg", "communes"),
        ("communes_dongnai.gpkg", "communes"),
        ("parcels_binhphuoc.shp", "parcels"),
        ("parcels_dongnai.shp", "parcels"),
        ("planning_zones.gpkg", "planning_zones"),
        ("planning_zones_dongnai.gpkg", "planning_zones"),
        ("red_lines.gpkg", "red_lines"),
        ("building_lines.gpkg", "building_lines"),
    ] {
        tests::import(&db.pool, &dir.path().join(file), kind)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    db
}

#[tokio::test]
async fn parcels_are_found_by_pre_and_post_merger_codes_without_owner_names() {
    let db = sample_db().await;
    let pool = &db.pool;
    let app = router(&db);
    let owner: String =
        sqlx::query_scalar("SELECT owner_name FROM land.parcels WHERE owner_name <> '' LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("the sample has owner names");

    // A post-merger commune made of several old ones, and a sheet + number in each of them.
    let (new_code, old): (String, Vec<String>) = sqlx::query_as(
        "SELECT code, array_agg(legacy_code ORDER BY legacy_code) FROM land.communes
         GROUP BY code HAVING count(*) > 1 ORDER BY code LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .expect("a merged commune");
    let expected: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, commune_code FROM land.parcels
         WHERE commune_code = ANY($1) AND sheet_number = 1 AND parcel_number = 1
         ORDER BY commune_code",
    )
    .bind(&old)
    .fetch_all(pool)
    .await
    .expect("expected");
    assert!(expected.len() >= 2, "{expected:?}");

    let a = get(
        &app,
        &format!("/query/parcels?commune={new_code}&sheet=1&number=1"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let got: Vec<(i64, String)> = a.json["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["id"].as_i64().expect("id"),
                f["properties"]["commune_code"]
                    .as_str()
                    .expect("code")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    for f in a.json["features"].as_array().expect("features") {
        assert_eq!(f["properties"]["commune_code_new"], new_code.as_str());
        let b: Vec<f64> = f["bbox"]
            .as_array()
            .expect("bbox")
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        assert!(b.len() == 4 && b[0] < b[2] && b[1] < b[3], "{b:?}");
        for ring in f["geometry"]["coordinates"][0].as_array().expect("polygon") {
            for p in ring.as_array().expect("ring") {
                let (x, y) = (p[0].as_f64().expect("x"), p[1].as_f64().expect("y"));
                assert!(
                    x >= b[0] - 1e-9 && x <= b[2] + 1e-9 && y >= b[1] - 1e-9 && y <= b[3] + 1e-9
                );
            }
        }
    }
    assert!(!a.text.contains("owner_name") && !a.text.contains(&owner));

    // The old code finds only its own parcels; a whole sheet up to the limit.
    let one_old = &expected[0].1;
    let on_sheet: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM land.parcels WHERE commune_code = $1 AND sheet_number = 1",
    )
    .bind(one_old)
    .fetch_one(pool)
    .await
    .expect("count");
    assert!(on_sheet > 0, "commune {one_old} has parcels on sheet 1");
    let a = get(&app, &format!("/query/parcels?commune={one_old}&sheet=1")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let features = a.json["features"].as_array().expect("features");
    assert_eq!(features.len() as i64, on_sheet.min(100));
    assert!(features
        .iter()
        .all(|f| f["properties"]["commune_code"] == one_old.as_str()));
    assert!(!a.text.contains(&owner));

    // The planning report by post-merger identity is ambiguous; by old code it is not.
    let a = get(
        &app,
        &format!("/query/planning-report?commune={new_code}&sheet=1&number=1"),
    )
    .await;
    assert_problem(&a, StatusCode::CONFLICT, "ambiguous identity");
    for (id, _) in &expected {
        assert!(a.text.contains(&format!("parcel={id}")), "{}", a.text);
    }
    // The candidates also come as an RFC 9457 extension member a client can read.
    let candidates = a.json["candidates"].as_array().expect("candidates");
    let mut listed: Vec<i64> = candidates
        .iter()
        .map(|c| c["parcel"].as_i64().expect("parcel id"))
        .collect();
    let mut want: Vec<i64> = expected.iter().map(|(id, _)| *id).collect();
    listed.sort_unstable();
    want.sort_unstable();
    assert_eq!(listed, want, "{}", a.text);
    assert!(a.json["request_id"].is_string(), "{}", a.text);
    let a = get(
        &app,
        &format!("/query/planning-report?commune={one_old}&sheet=1&number=1"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["parcel"]["id"], expected[0].0);
}

#[tokio::test]
async fn planning_reports_on_the_sample_add_up_to_the_parcel() {
    let db = sample_db().await;
    let pool = &db.pool;
    let app = router(&db);
    // Every parcel of both zones.
    let picks: Vec<(i64, f64, i32)> =
        sqlx::query_as("SELECT id, ST_Area(geom), ST_SRID(geom) FROM land.parcels ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("parcels");
    assert!(picks.iter().any(|p| p.2 == 9212) && picks.iter().any(|p| p.2 == 5899));
    let mut zoned = 0;
    for (id, area, srid) in picks {
        let a = get(&app, &format!("/query/planning-report?parcel={id}")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let r = &a.json;
        assert_eq!(r["srid"], srid);
        assert!(close(&r["parcel_area_m2"], area, 1e-6), "{r}");
        let zones = r["zones"].as_array().expect("zones");
        let sum: f64 = zones
            .iter()
            .map(|z| z["area_m2"].as_f64().expect("area"))
            .sum();
        assert!(sum <= area + 1e-6, "{sum} > {area}");
        for z in zones {
            let pct = z["percent"].as_f64().expect("percent");
            assert!((pct - z["area_m2"].as_f64().expect("a") / area * 100.0).abs() < 1e-9);
        }
        zoned += usize::from(!zones.is_empty());
        let unplanned = r["unplanned_area_m2"].as_f64().expect("unplanned");
        assert!((unplanned + sum - area).abs() < 1e-3, "{r}");
        assert!(r["red_lines"]["cut_area_m2"].as_f64().expect("cut") <= area + 1e-6);
    }
    assert!(zoned > 100, "{zoned} parcels in planning zones");
    let fronting: i64 = sqlx::query_scalar(
        "SELECT p.id FROM land.parcels p JOIN planning.red_lines r
           ON ST_DWithin(ST_Transform(r.geom, ST_SRID(p.geom)), p.geom, 0.01)
         ORDER BY p.id LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .expect("a parcel on a road");
    let a = get(&app, &format!("/query/planning-report?parcel={fronting}")).await;
    assert_eq!(a.json["red_lines"]["fronts"], true, "{}", a.text);
    assert!(!a.json["red_lines"]["roads"]
        .as_array()
        .expect("roads")
        .is_empty());
}

#[tokio::test]
async fn measure_gives_tm3_metres_in_the_zone_of_the_geometry() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let app = router(&db);
    let square = |x: f64, y: f64| {
        format!(
            r#"{{"type":"Polygon","coordinates":[[[{x},{y}],[{x1},{y}],[{x1},{y1}],[{x},{y1}],[{x},{y}]]]}}"#,
            x1 = x + 100.0,
            y1 = y + 100.0
        )
    };
    let a = post(&app, "/query/measure?crs=EPSG:9212", &square(E0, N0)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["srid"], 9212);
    assert_eq!(a.json["zone"], "VN-2000 / TM-3 106-15");
    assert!(close(&a.json["area_m2"], 10_000.0, 0.01), "{}", a.text);
    assert!(close(&a.json["perimeter_m"], 400.0, 1e-6), "{}", a.text);
    assert!(close(&a.json["length_m"], 0.0, 0.0));

    let a = post(
        &app,
        "/query/measure?crs=EPSG:5899",
        &square(520_000.0, 1_210_000.0),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["srid"], 5899);
    assert_eq!(a.json["zone"], "VN-2000 / TM-3 107-45");
    assert!(close(&a.json["area_m2"], 10_000.0, 0.01), "{}", a.text);

    // A square drawn in CRS84 (as a browser sends it), wrapped in a Feature.
    let (x, y): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 9212), 4326) p) x",
    )
    .bind(E0)
    .bind(N0)
    .fetch_one(pool)
    .await
    .expect("corner");
    let d = 0.001;
    let polygon = format!(
        r#"{{"type":"Polygon","coordinates":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}"#,
        x + d,
        x + d,
        y + d,
        y + d
    );
    let expected: f64 = sqlx::query_scalar(
        "SELECT ST_Area(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), 9212))",
    )
    .bind(&polygon)
    .fetch_one(pool)
    .await
    .expect("area");
    assert!(expected > 10_000.0 && expected < 15_000.0, "{expected}");
    let a = post(
        &app,
        "/query/measure",
        &format!(r#"{{"type":"Feature","properties":{{}},"geometry":{polygon}}}"#),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        close(&a.json["area_m2"], expected, 1e-6),
        "{} vs {expected}",
        a.text
    );

    // Too many vertices are refused before PostGIS reads them (issue 12: bounded work).
    let coords: Vec<String> = (0..25_000)
        .map(|i| format!("[{}, {}]", 106.9 + f64::from(i) * 1e-6, 11.5))
        .collect();
    let long = format!(
        r#"{{"type":"LineString","coordinates":[{}]}}"#,
        coords.join(",")
    );
    let a = post(&app, "/query/measure", &long).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert!(a.text.contains("20000"), "{}", a.text);

    // A line as WKT through GET, in EPSG:9212: 3-4-5.
    let a = get(
        &app,
        &format!(
            "/query/measure?crs=EPSG:9212&wkt=LINESTRING({E0} {N0},{} {})",
            E0 + 30.0,
            N0 + 40.0
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(close(&a.json["length_m"], 50.0, 1e-6), "{}", a.text);
    assert!(close(&a.json["area_m2"], 0.0, 0.0));
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem_that_says_why() {
    let db = TestDb::new().await;
    let app = router(&db);
    let p = "x=106.88&y=11.53";
    let cases: Vec<(String, StatusCode)> = vec![
        (format!("/query/identify?{p}"), StatusCode::BAD_REQUEST),
        (format!("/query/identify?{p}&zoom=99"), StatusCode::BAD_REQUEST),
        (format!("/query/identify?{p}&zoom=abc"), StatusCode::BAD_REQUEST),
        ("/query/identify?x=abc&y=11.53&zoom=15".into(), StatusCode::BAD_REQUEST),
        ("/query/identify?x=106.88&zoom=15".into(), StatusCode::BAD_REQUEST),
        ("/query/identify?x=NaN&y=11.53&zoom=15".into(), StatusCode::BAD_REQUEST),
        (format!("/query/identify?{p}&zoom=15&tolerance=0"), StatusCode::BAD_REQUEST),
        (format!("/query/identify?{p}&zoom=15&tolerance=51"), StatusCode::BAD_REQUEST),
        (format!("/query/identify?{p}&zoom=15&layers=nope"), StatusCode::NOT_FOUND),
        (format!("/query/identify?{p}&zoom=15&crs=EPSG:abc"), StatusCode::BAD_REQUEST),
        (format!("/query/identify?{p}&zoom=15&crs=EPSG:999999"), StatusCode::BAD_REQUEST),
        // Lat/lon swapped: outside Viet Nam.
        ("/query/identify?x=11.53&y=106.88&zoom=15".into(), StatusCode::BAD_REQUEST),
        // A CRS far from Viet Nam.
        (format!("/query/identify?{p}&zoom=15&crs=EPSG:2154"), StatusCode::BAD_REQUEST),
        (format!("/query/nearest?{p}"), StatusCode::BAD_REQUEST),
        (format!("/query/nearest?{p}&layer=nope"), StatusCode::NOT_FOUND),
        (format!("/query/nearest?{p}&layer=hydrants&limit=0"), StatusCode::BAD_REQUEST),
        (format!("/query/nearest?{p}&layer=hydrants&limit=1001"), StatusCode::BAD_REQUEST),
        (format!("/query/within?{p}&layer=hydrants"), StatusCode::BAD_REQUEST),
        (format!("/query/within?{p}&layer=hydrants&distance=20000"), StatusCode::BAD_REQUEST),
        (format!("/query/within?{p}&layer=hydrants&distance=-1"), StatusCode::BAD_REQUEST),
        (format!("/query/within?{p}&layer=hydrants&distance=1e999"), StatusCode::BAD_REQUEST),
        ("/query/parcels".into(), StatusCode::BAD_REQUEST),
        ("/query/parcels?commune=abc".into(), StatusCode::BAD_REQUEST),
        ("/query/parcels?commune=25252&sheet=-1".into(), StatusCode::BAD_REQUEST),
        ("/query/parcels?commune=25252&number=x".into(), StatusCode::BAD_REQUEST),
        ("/query/planning-report".into(), StatusCode::BAD_REQUEST),
        ("/query/planning-report?parcel=abc".into(), StatusCode::BAD_REQUEST),
        ("/query/planning-report?commune=25252&sheet=1".into(), StatusCode::BAD_REQUEST),
        ("/query/measure".into(), StatusCode::BAD_REQUEST),
        ("/query/measure?wkt=POLYGON((0 0,1".into(), StatusCode::BAD_REQUEST),
        ("/query/measure?wkt=POINT(0 0)".into(), StatusCode::BAD_REQUEST),
        (
            "/query/measure?wkt=POLYGON((106.88 11.53,106.89 11.54,106.89 11.53,106.88 11.54,106.88 11.53))"
                .into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/query/measure?wkt=GEOMETRYCOLLECTION(POINT(106.88 11.53))".into(), StatusCode::BAD_REQUEST),
        ("/query/measure?wkt=LINESTRING(106.88 11.53,-40 11.53)".into(), StatusCode::BAD_REQUEST),
    ];
    for (uri, status) in cases {
        let a = get(&app, &uri).await;
        assert_problem(&a, status, &uri);
        assert!(
            a.json["detail"].as_str().is_some_and(|d| d.len() > 10),
            "{uri}: {}",
            a.text
        );
    }
    for body in [
        "not json",
        "{}",
        r#"{"type":"Polygon"}"#,
        r#"{"type":"Polygon","coordinates":[[[1,2]]]}"#,
        r#"{"type":"Point","coordinates":[1e308,1e308]}"#,
        r#"{"type":"Feature","geometry":null}"#,
    ] {
        let a = post(&app, "/query/measure", body).await;
        assert_problem(&a, StatusCode::BAD_REQUEST, body);
    }
}

#[test]
fn every_query_route_is_described_in_openapi_with_its_parameters() {
    let paths = tile_server::routes::query::openapi_paths();
    for (path, method, params) in [
        (
            "/query/identify",
            "get",
            &["x", "y", "crs", "zoom", "tolerance", "layers"][..],
        ),
        (
            "/query/nearest",
            "get",
            &["layer", "x", "y", "crs", "limit"][..],
        ),
        (
            "/query/within",
            "get",
            &["layer", "x", "y", "crs", "distance", "limit"][..],
        ),
        (
            "/query/parcels",
            "get",
            &["commune", "sheet", "number", "limit"][..],
        ),
        (
            "/query/planning-report",
            "get",
            &["parcel", "commune", "sheet", "number", "as_of", "drafts"][..],
        ),
        ("/query/measure", "get", &["wkt", "crs"][..]),
        ("/query/measure", "post", &["crs"][..]),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{path} {method}");
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, params, "{path} {method}");
        assert!(op["responses"]["200"].is_object() && op["responses"]["400"].is_object());
    }
}

#[tokio::test]
async fn the_documented_examples_find_sample_data() {
    let db = sample_db().await;
    let app = router(&db);
    let paths = tile_server::routes::query::openapi_paths();
    for path in [
        "/query/identify",
        "/query/nearest",
        "/query/within",
        "/query/parcels",
        "/query/planning-report",
        "/query/measure",
    ] {
        let query: Vec<String> = paths[path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["name"] != "parcel")
            .map(|p| {
                let v = &p["example"];
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                format!("{}={text}", p["name"].as_str().expect("name"))
            })
            .collect();
        let a = get(&app, &format!("{path}?{}", query.join("&"))).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        if let Some(features) = a.json["features"].as_array() {
            assert!(!features.is_empty(), "{path}: {}", a.text);
        }
    }
    let body = paths["/query/measure"]["post"]["requestBody"]["content"]["application/json"]
        ["example"]
        .to_string();
    let a = post(&app, "/query/measure", &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.json["length_m"].as_f64().expect("length") > 100.0);
}

#[tokio::test]
async fn any_crs_a_client_names_gets_an_answer_or_a_4xx_never_a_5xx() {
    let db = TestDb::new().await;
    planning_fixture(&db.pool).await;
    let app = router(&db);
    // The same places asked in degrees (identify, within, measure of a point) and in metres
    // (identify, nearest, measure of a line): a geographic CRS of Viet Nam answers the first,
    // a projected one the second, and a CRS that is no CRS, does not cover Viet Nam or puts
    // the numbers outside it (geocentric, Web Mercator metres near 0°) is a 400 saying so.
    const OK: StatusCode = StatusCode::OK;
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    let degrees = [OK, BAD, BAD, OK, BAD, OK];
    let metres = [BAD, OK, OK, BAD, OK, BAD];
    let neither = [BAD; 6];
    for (crs, want) in [
        ("EPSG:4978", neither),
        ("EPSG:4979", degrees),
        ("EPSG:5703", neither),
        ("EPSG:4756", degrees),
        ("EPSG:32648", metres),
        ("EPSG:3405", metres),
        ("EPSG:3406", metres),
        ("EPSG:3857", neither),
        ("EPSG:4269", neither),
        ("EPSG:27700", neither),
        ("urn:ogc:def:crs:EPSG::9212", metres),
        ("EPSG:2147483647", neither),
        ("EPSG:99999999999", neither),
    ] {
        let uris = [
            format!("/query/identify?x=106.88&y=11.53&zoom=15&crs={crs}"),
            format!("/query/identify?x=568000&y=1275000&zoom=15&crs={crs}"),
            format!("/query/nearest?layer=parcels&x=568010&y=1275010&crs={crs}"),
            format!("/query/within?layer=parcels&x=106.88&y=11.53&distance=5000&crs={crs}"),
            format!("/query/measure?wkt=LINESTRING(568000 1275000,568100 1275000)&crs={crs}"),
            format!("/query/measure?wkt=POINT(106.88 11.53)&crs={crs}"),
        ];
        for (uri, want) in uris.iter().zip(want) {
            let a = get(&app, uri).await;
            if want == OK {
                assert_eq!(a.status, OK, "{uri}: {}", a.text);
                assert!(a.json.is_object(), "{uri}: {}", a.text);
            } else {
                assert_problem(&a, want, uri);
                assert!(
                    a.json["detail"].as_str().is_some_and(|d| d.len() > 10),
                    "{uri}: {}",
                    a.text
                );
            }
        }
    }
}

#[tokio::test]
async fn parcel_search_publishes_only_what_the_registry_calls_public() {
    // `land::lookup` publishes the declaration's public columns; this ties its answers to the
    // layer registry, so a column marked restricted there (owner_name, address) can never be
    // published by the search or the planning report. Derived members (commune names and codes, measured area, zone)
    // are allowed by name.
    let db = sample_db().await;
    let app = router(&db);
    let registry = layers::registry().expect("registry");
    let parcels = registry.get("parcels").expect("parcels layer");
    let public: Vec<String> = parcels
        .properties()
        .into_iter()
        .filter(|p| p.access == gis_core::layer::Access::Public)
        .map(|p| p.name)
        .collect();
    let restricted: Vec<String> = parcels
        .properties()
        .into_iter()
        .filter(|p| p.access != gis_core::layer::Access::Public)
        .map(|p| p.name)
        .collect();
    assert!(restricted.iter().any(|r| r == "owner_name"));
    let derived = [
        "id",
        "commune_name",
        "commune_code_new",
        "commune_name_new",
        "area_m2",
        "srid",
    ];
    let commune: String =
        sqlx::query_scalar("SELECT commune_code FROM land.parcels ORDER BY id LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .expect("a parcel");
    let a = get(&app, &format!("/query/parcels?commune={commune}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let features = a.json["features"].as_array().expect("features");
    assert!(!features.is_empty());
    let id = features[0]["id"].as_i64().expect("id");
    let report = get(&app, &format!("/query/planning-report?parcel={id}")).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    let mut objects: Vec<&serde_json::Map<String, Value>> = features
        .iter()
        .map(|f| f["properties"].as_object().expect("properties"))
        .collect();
    objects.push(report.json["parcel"].as_object().expect("parcel"));
    for props in objects {
        for key in props.keys() {
            assert!(
                public.contains(key) || derived.contains(&key.as_str()) || key == "bbox",
                "\"{key}\" is published but is not a public parcel property"
            );
            assert!(!restricted.contains(key), "\"{key}\" is restricted");
        }
    }
}
