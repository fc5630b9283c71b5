//! Utility networks (issue 15): the water isolation trace over real PostGIS tables through
//! `/networks/water/isolate` — hand-made networks with known answers, edits that change the
//! next answer without a restart, who reads meters and customer references, bad input as
//! problems, and the same isolations checked against pgRouting on the sample network.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::Value;
use tile_server::app::{app, AppState, Limits};

use tests::http::Reply;
use tests::TestDb;

/// VN-2000 / TM-3 106°15′ (Binh Phuoc); hand-made networks sit around this origin.
const SRID: i32 = 9212;
const E0: f64 = 500_000.0;
const N0: f64 = 1_270_000.0;

async fn get(app: &Router, uri: &str, token: Option<&str>) -> Reply {
    tests::http::send(app, Method::GET, uri, token, &[], None).await
}

fn line_wkt(pts: &[(f64, f64)]) -> String {
    let p: Vec<String> = pts
        .iter()
        .map(|(x, y)| format!("{} {}", E0 + x, N0 + y))
        .collect();
    format!("MULTILINESTRING(({}))", p.join(","))
}

async fn add_pipe(db: &TestDb, code: &str, pts: &[(f64, f64)]) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO utilities.water_pipes (source_id, diameter_mm, geom)
         VALUES ($1, 110, ST_GeomFromText($2, $3)) RETURNING id",
    )
    .bind(code)
    .bind(line_wkt(pts))
    .bind(SRID)
    .fetch_one(&db.pool)
    .await
    .expect("insert pipe")
}

async fn add_point(db: &TestDb, table: &str, code: &str, at: (f64, f64)) -> i64 {
    sqlx::query_scalar(&format!(
        "INSERT INTO utilities.{table} (source_id, code, geom)
         VALUES ($1, $1, ST_SetSRID(ST_MakePoint($2, $3), $4)) RETURNING id"
    ))
    .bind(code)
    .bind(E0 + at.0)
    .bind(N0 + at.1)
    .bind(SRID)
    .fetch_one(&db.pool)
    .await
    .expect("insert point")
}

async fn add_valve(db: &TestDb, code: &str, at: (f64, f64), status: &str, operable: bool) -> i64 {
    let id = add_point(db, "water_valves", code, at).await;
    sqlx::query("UPDATE utilities.water_valves SET status = $2, operable = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(operable)
        .execute(&db.pool)
        .await
        .expect("valve state");
    id
}

/// The ids of the hand-made main line (see [`main_line`]).
struct Main {
    pipes: [i64; 3],
    valves: [i64; 3],
    meters: [i64; 2],
    hydrant: i64,
}

/// A main along y = 0 from a source at x = 0 to x = 300 in three pipes, open valves at
/// x = 50, 150 and 250, meters served at x = 120 (6 m off) and x = 280, a hydrant at x = 200.
async fn main_line(db: &TestDb) -> Main {
    let pipes = [
        add_pipe(db, "P1", &[(0.0, 0.0), (100.0, 0.0)]).await,
        add_pipe(db, "P2", &[(100.0, 0.0), (200.0, 0.0)]).await,
        add_pipe(db, "P3", &[(200.05, 0.0), (300.0, 0.0)]).await,
    ];
    let valves = [
        add_valve(db, "V1", (50.0, 0.0), "Mở", true).await,
        add_valve(db, "V2", (150.0, 0.02), "Mở", true).await,
        add_valve(db, "V3", (250.0, 0.0), "Mở", true).await,
    ];
    let meters = [
        add_point(db, "water_meters", "DH1", (120.0, 6.0)).await,
        add_point(db, "water_meters", "DH2", (280.0, -4.0)).await,
    ];
    for (id, customer) in meters.iter().zip(["KH-0001", "KH-0002"]) {
        sqlx::query("UPDATE utilities.water_meters SET customer_ref = $2 WHERE id = $1")
            .bind(id)
            .bind(customer)
            .execute(&db.pool)
            .await
            .expect("customer");
    }
    let hydrant = add_point(db, "hydrants", "TCH1", (200.0, 0.05)).await;
    add_point(db, "water_sources", "NM1", (0.0, 0.0)).await;
    Main {
        pipes,
        valves,
        meters,
        hydrant,
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

fn features<'a>(fc: &'a Value, part: &str) -> Vec<&'a Value> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter(|f| f["properties"]["part"] == part)
        .collect()
}

fn pipe_ids(fc: &Value) -> Vec<i64> {
    features(fc, "pipe")
        .iter()
        .find(|f| f["properties"]["role"] == "isolated")
        .map(|f| ids(&f["properties"]["pipe_ids"]))
        .unwrap_or_default()
}

async fn isolate(app: &Router, query: &str, token: Option<&str>) -> Value {
    let r = get(app, &format!("/networks/water/isolate?{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
    assert_eq!(
        r.header(axum::http::header::CONTENT_TYPE),
        "application/geo+json"
    );
    r.json()
}

/// Asks until `done` holds for the answer (the change notification reaches the network
/// asynchronously), at most 15 s; returns the last answer.
async fn isolate_until(app: &Router, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let fc = isolate(app, query, None).await;
        if done(&fc) || Instant::now() > deadline {
            return fc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn setup() -> (TestDb, Router, auth::DevIssuer, tempfile::TempDir) {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", dir.path().join("keys")),
        |_| None,
    )
    .expect("dev issuer");
    let state = AppState::new(db.pool.clone()).expect("state");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    assert!(state.verifier.set(verifier).is_ok());
    (db, app(state, Limits::default()), issuer, dir)
}

#[tokio::test]
async fn isolation_of_hand_made_networks_and_edits_without_a_restart() {
    let (db, app, _issuer, _dir) = setup().await;
    let m = main_line(&db).await;
    let [v1, v2, v3] = m.valves;

    // A dead end needs one valve.
    let dead_end = format!("pipe={}&at=0.9", m.pipes[2]);
    let fc = isolate(&app, &dead_end, None).await;
    assert_eq!(ids(&fc["valves_to_close"]), vec![v3]);
    assert_eq!(pipe_ids(&fc), vec![m.pipes[2]]);
    assert_eq!(fc["summary"]["meters"], 1);
    let valves = features(&fc, "valve");
    assert_eq!(valves.len(), 1);
    assert_eq!(valves[0]["properties"]["role"], "close");
    assert_eq!(valves[0]["geometry"]["type"], "Point");
    let pipe = &features(&fc, "pipe")[0]["geometry"];
    assert_eq!(pipe["type"], "MultiLineString");
    let lon = pipe["coordinates"][0][0][0].as_f64().expect("lon");
    assert!((106.0..107.0).contains(&lon), "{lon}");

    // A break between two valves needs both; beyond them the meter loses its source.
    let between = format!("pipe={}&at=0.9", m.pipes[0]);
    let fc = isolate(&app, &between, None).await;
    assert_eq!(ids(&fc["valves_to_close"]), vec![v1, v2]);
    assert_eq!(pipe_ids(&fc), vec![m.pipes[0], m.pipes[1]]);
    assert_eq!(fc["summary"]["cut_off_meters"], 1);
    assert!((fc["summary"]["length_m"].as_f64().expect("length") - 100.0).abs() < 0.2);

    // The same break found from a clicked point (WGS 84) a metre off the pipe.
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), $3), 4326) g) p",
    )
    .bind(E0 + 95.0)
    .bind(N0 + 1.0)
    .bind(SRID)
    .fetch_one(&db.pool)
    .await
    .expect("lon/lat");
    let fc = isolate(&app, &format!("point={lon},{lat}"), None).await;
    assert_eq!(ids(&fc["valves_to_close"]), vec![v1, v2]);

    // An edit: valve 3 closed → the dead end is already isolated, no valve to close.
    sqlx::query("UPDATE utilities.water_valves SET status = 'Đóng' WHERE id = $1")
        .bind(v3)
        .execute(&db.pool)
        .await
        .expect("close valve");
    let fc = isolate_until(&app, &dead_end, |fc| ids(&fc["valves_to_close"]).is_empty()).await;
    assert!(ids(&fc["valves_to_close"]).is_empty(), "{fc}");
    let valves = features(&fc, "valve");
    assert_eq!(valves.len(), 1);
    assert_eq!(valves[0]["properties"]["role"], "already_closed");

    // An inoperable valve pushes the boundary outward: valve 2 cannot turn, so the break
    // between 1 and 2 reaches the hydrant and stops at closed valve 3.
    sqlx::query("UPDATE utilities.water_valves SET operable = false WHERE id = $1")
        .bind(v2)
        .execute(&db.pool)
        .await
        .expect("inoperable");
    let fc = isolate_until(&app, &between, |fc| ids(&fc["valves_to_close"]) == vec![v1]).await;
    assert_eq!(ids(&fc["valves_to_close"]), vec![v1], "{fc}");
    assert_eq!(pipe_ids(&fc), m.pipes.to_vec());
    assert_eq!(
        ids(&features(&fc, "hydrant")
            .iter()
            .map(|h| h["properties"]["id"].clone())
            .collect()),
        vec![m.hydrant]
    );
    let roles: BTreeSet<String> = features(&fc, "valve")
        .iter()
        .map(|v| v["properties"]["role"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        roles,
        ["already_closed", "close", "inoperable"]
            .map(String::from)
            .into()
    );

    // Valve 1 fails to close: the source's end is reached; the growth is shown.
    let fc = isolate(&app, &format!("{between}&failed={v1}"), None).await;
    assert!(ids(&fc["valves_to_close"]).is_empty(), "{fc}");
    assert!(
        fc["summary"]["length_m"].as_f64() > fc["without_failure"]["length_m"].as_f64(),
        "{fc}"
    );

    // A pipe added at the junction of x = 100 joins the isolated segment.
    let branch = add_pipe(&db, "P4", &[(100.0, 0.0), (100.0, 80.0)]).await;
    let fc = isolate_until(&app, &between, |fc| pipe_ids(fc).contains(&branch)).await;
    assert!(pipe_ids(&fc).contains(&branch), "{fc}");
    assert_eq!(m.meters.len(), 2);
}

#[tokio::test]
async fn a_loop_needs_two_valves() {
    let (db, app, _issuer, _dir) = setup().await;
    let (a, b, c, d) = ((0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0));
    let south = add_pipe(&db, "S", &[a, b]).await;
    add_pipe(&db, "E", &[b, c]).await;
    add_pipe(&db, "N", &[c, d]).await;
    add_pipe(&db, "W", &[d, a]).await;
    let v1 = add_valve(&db, "V1", (20.0, 0.0), "Mở", true).await;
    let v2 = add_valve(&db, "V2", (80.0, 0.0), "Mở", true).await;
    let fc = isolate(&app, &format!("pipe={south}&at=0.5"), None).await;
    assert_eq!(ids(&fc["valves_to_close"]), vec![v1, v2]);
    assert_eq!(pipe_ids(&fc), vec![south]);
    assert!((fc["summary"]["length_m"].as_f64().expect("length") - 60.0).abs() < 0.01);
    // Without lines: the same answer, the pipes' parts listed with a null geometry.
    let bare = isolate(&app, &format!("pipe={south}&at=0.5&lines=false"), None).await;
    assert_eq!(bare["summary"], fc["summary"]);
    assert_eq!(bare["valves_to_close"], fc["valves_to_close"]);
    assert_eq!(pipe_ids(&bare), vec![south]);
    let pipes = features(&bare, "pipe");
    assert!(
        !pipes.is_empty() && pipes.iter().all(|p| p["geometry"].is_null()),
        "{bare}"
    );
    assert!(features(&fc, "pipe")
        .iter()
        .all(|p| p["geometry"]["type"] == "MultiLineString"));
    let r = get(
        &app,
        &format!("/networks/water/isolate?pipe={south}&lines=maybe"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
}

#[tokio::test]
async fn meters_for_staff_and_customer_references_for_administrators_only() {
    let (db, app, issuer, _dir) = setup().await;
    let m = main_line(&db).await;
    // Between valves 1 and 2: meter 1 is in the isolated segment, meter 2 is cut off.
    let q = format!("pipe={}&at=0.3", m.pipes[1]);
    let anonymous = isolate(&app, &q, None).await;
    assert!(features(&anonymous, "meter").is_empty());
    assert_eq!(anonymous["summary"]["meters"], 1);
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let staff = isolate(&app, &q, Some(&planner)).await;
    let meters = features(&staff, "meter");
    assert_eq!(meters.len(), 2);
    assert_eq!(meters[0]["properties"]["id"], m.meters[0]);
    assert_eq!(meters[0]["properties"]["role"], "isolated");
    assert_eq!(meters[1]["properties"]["id"], m.meters[1]);
    assert_eq!(meters[1]["properties"]["role"], "cut_off");
    assert!(meters[0]["properties"].get("customer_ref").is_none());
    assert!(!staff.to_string().contains("KH-0001"));
    let admin = issuer.issue("quan_tri").expect("token");
    let full = isolate(&app, &q, Some(&admin)).await;
    assert_eq!(
        features(&full, "meter")[0]["properties"]["customer_ref"],
        "KH-0001"
    );
}

#[tokio::test]
async fn the_quality_report_is_for_staff() {
    let (db, app, issuer, _dir) = setup().await;
    main_line(&db).await;
    // A pipe drawn 2 m short of the main: an island without a source, with two dangles.
    add_pipe(&db, "P9", &[(60.0, 80.0), (60.0, 2.0)]).await;
    // A valve drawn 3 m beside the main, and one in a field.
    let beside = add_valve(&db, "V8", (170.0, 3.0), "Mở", true).await;
    add_valve(&db, "V9", (170.0, 40.0), "Mở", true).await;
    let r = get(&app, "/networks/water/check", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let r = get(&app, "/networks/water/check", Some(&planner)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let fc = r.json();
    assert_eq!(fc["summary"]["islands_without_source"], 1, "{fc}");
    assert_eq!(fc["summary"]["dangles_near_a_pipe"], 1, "{fc}");
    assert_eq!(fc["summary"]["valves_off_pipe"], 1, "{fc}");
    assert_eq!(fc["summary"]["unconnected"], 1, "{fc}");
    let off = fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["finding"] == "valve_off_pipe")
        .expect("valve off its pipe");
    assert_eq!(off["properties"]["id"], beside);
    assert!((off["properties"]["distance_m"].as_f64().expect("distance") - 3.0).abs() < 0.01);
    let island = fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["finding"] == "island")
        .expect("island");
    assert_eq!(island["geometry"]["type"], "MultiLineString");
}

async fn add_line(db: &TestDb, code: &str, pts: &[(f64, f64)]) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO utilities.power_lines (source_id, voltage_kv, geom)
         VALUES ($1, 22, ST_GeomFromText($2, $3)) RETURNING id",
    )
    .bind(code)
    .bind(line_wkt(pts))
    .bind(SRID)
    .fetch_one(&db.pool)
    .await
    .expect("insert line")
}

fn findings<'a>(fc: &'a Value, finding: &str) -> Vec<&'a Value> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter(|f| f["properties"]["finding"] == finding)
        .collect()
}

/// The power network's quality report, over HTTP and from `bando network check power`: a
/// feeder (substation, lines 471–472, poles) with a line drawn 3 m short of it, a line
/// crossing it where no pole stands, a switch drawn 2 m beside it and a customer 80 m from
/// any line — each found once, in the power network's words, for staff only.
#[tokio::test]
async fn the_power_networks_quality_report_names_its_findings_in_its_own_words() {
    let (db, app, issuer, dir) = setup().await;
    add_line(&db, "471", &[(0.0, 0.0), (150.0, 0.0)]).await;
    add_line(&db, "472", &[(150.0, 0.0), (300.0, 0.0)]).await;
    add_point(&db, "substations", "TBA-01", (0.0, 0.0)).await;
    for k in 1..=6 {
        add_point(
            &db,
            "power_poles",
            &format!("COT-{k}"),
            (50.0 * f64::from(k), 0.0),
        )
        .await;
    }
    let short = add_line(&db, "473", &[(220.0, 60.0), (220.0, 3.0)]).await;
    let crossing = add_line(&db, "474", &[(75.0, -20.0), (75.0, 20.0)]).await;
    let beside = add_point(&db, "power_switches", "TB-9", (120.0, 2.0)).await;
    let far = add_point(&db, "power_customers", "DD-9", (100.0, 80.0)).await;
    let r = get(&app, "/networks/power/check", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let r = get(&app, "/networks/power/check?x=1", Some(&planner)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // The graph follows the change notifications, which arrive just after each commit.
    let deadline = Instant::now() + Duration::from_secs(15);
    let fc = loop {
        let r = get(&app, "/networks/power/check", Some(&planner)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let fc = r.json();
        if fc["summary"]["unconnected"] == 1 || Instant::now() > deadline {
            break fc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let summary = &fc["summary"];
    assert_eq!(summary["crossings"], 1, "{fc}");
    assert_eq!(summary["switches_off_line"], 1, "{fc}");
    assert_eq!(summary["unconnected"], 1, "{fc}");
    assert_eq!(summary["dangles_near_a_line"], 1, "{fc}");
    assert_eq!(summary["islands_without_source"], 2, "{fc}");
    assert!(summary.get("valves_off_pipe").is_none(), "{fc}");
    let cross = findings(&fc, "crossing");
    assert_eq!(cross[0]["properties"]["lines"][1], crossing, "{fc}");
    let off = findings(&fc, "switch_off_line");
    assert_eq!(off[0]["properties"]["id"], beside);
    assert_eq!(off[0]["properties"]["layer"], "switch");
    assert!(
        (off[0]["properties"]["distance_m"]
            .as_f64()
            .expect("distance")
            - 2.0)
            .abs()
            < 0.01
    );
    let unconnected = findings(&fc, "unconnected");
    assert_eq!(unconnected[0]["properties"]["layer"], "customer");
    assert_eq!(unconnected[0]["properties"]["id"], far);
    let near: Vec<&Value> = findings(&fc, "dangle")
        .into_iter()
        .filter(|d| d["properties"]["near_line_m"].is_number())
        .collect();
    assert_eq!(near.len(), 1, "{fc}");
    assert_eq!(near[0]["properties"]["line"], short);
    assert!((near[0]["properties"]["near_line_m"].as_f64().expect("m") - 3.0).abs() < 0.01);
    for island in findings(&fc, "island") {
        assert_eq!(island["properties"]["reason"], "no substation feeds it");
        assert_eq!(island["geometry"]["type"], "MultiLineString");
    }
    // The command line gives the same collection.
    let out = tokio::process::Command::new(tests::bando_bin())
        .env("DATABASE_URL", &db.url)
        .env("BANDO_DATA_DIR", dir.path())
        .args(["network", "check", "power"])
        .output()
        .await
        .expect("bando network check power");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("power network: 4 lines; 1 crossings"),
        "{stderr}"
    );
    assert!(stderr.contains("1 switches off line"), "{stderr}");
    let cli: Value = serde_json::from_slice(&out.stdout).expect("GeoJSON on stdout");
    assert_eq!(cli["summary"], fc["summary"]);
    let out = tokio::process::Command::new(tests::bando_bin())
        .env("DATABASE_URL", &db.url)
        .env("BANDO_DATA_DIR", dir.path())
        .args(["network", "check", "gas"])
        .output()
        .await
        .expect("bando network check gas");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("water and power"));
}

/// A 22 kV feeder from a substation at x = 0 east to x = 300 in two lines, poles every 50 m.
#[tokio::test]
async fn a_power_outage_cuts_off_what_lies_downstream() {
    let (db, app, _issuer, _dir) = setup().await;
    let empty = get(&app, "/networks/power/outage?pole=1", None).await;
    assert_eq!(empty.status, StatusCode::NOT_FOUND, "{}", empty.text());
    let mut lines = Vec::new();
    for (code, pts) in [
        ("471", [(0.0, 0.0), (150.0, 0.0)]),
        ("472", [(150.0, 0.0), (300.0, 0.0)]),
    ] {
        lines.push(
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO utilities.power_lines (source_id, voltage_kv, geom)
                 VALUES ($1, 22, ST_GeomFromText($2, $3)) RETURNING id",
            )
            .bind(code)
            .bind(line_wkt(&pts))
            .bind(SRID)
            .fetch_one(&db.pool)
            .await
            .expect("line"),
        );
    }
    let station = add_point(&db, "substations", "TBA-01", (0.0, 0.0)).await;
    let mut poles = Vec::new();
    for k in 1..=6 {
        poles.push(
            add_point(
                &db,
                "power_poles",
                &format!("COT-{k}"),
                (50.0 * f64::from(k), 0.0),
            )
            .await,
        );
    }
    let pole_ids = |fc: &Value| -> Vec<i64> {
        features(fc, "pole")
            .iter()
            .filter_map(|p| p["properties"]["id"].as_i64())
            .collect()
    };
    // The graph follows the change notifications, which arrive just after each commit.
    let deadline = Instant::now() + Duration::from_secs(15);
    let fc = loop {
        let r = get(
            &app,
            &format!("/networks/power/outage?pole={}", poles[2]),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let fc = r.json();
        if pole_ids(&fc) == poles[2..] || Instant::now() > deadline {
            break fc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(pole_ids(&fc), poles[2..].to_vec());
    assert_eq!(
        ids(&features(&fc, "line")[0]["properties"]["line_ids"]),
        vec![lines[1]]
    );
    let fc = get(
        &app,
        &format!("/networks/power/outage?substation={station}"),
        None,
    )
    .await
    .json();
    assert_eq!(pole_ids(&fc), poles);
    // A second substation at the far end: the feeder is fed from both sides.
    add_point(&db, "substations", "TBA-02", (300.0, 0.0)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let fc = loop {
        let fc = get(
            &app,
            &format!("/networks/power/outage?pole={}", poles[2]),
            None,
        )
        .await
        .json();
        if pole_ids(&fc).len() == 1 || Instant::now() > deadline {
            break fc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(pole_ids(&fc), vec![poles[2]], "{fc}");
    for (query, status) in [
        ("", StatusCode::BAD_REQUEST),
        ("pole=1&substation=2", StatusCode::BAD_REQUEST),
        ("pole=x", StatusCode::BAD_REQUEST),
        ("pole=999999", StatusCode::NOT_FOUND),
        ("point=106.9,11.9", StatusCode::NOT_FOUND),
        ("switch=3", StatusCode::BAD_REQUEST),
    ] {
        let r = get(&app, &format!("/networks/power/outage?{query}"), None).await;
        assert_eq!(r.status, status, "{query}: {}", r.text());
    }
}

/// The feeder of [`a_power_outage_cuts_off_what_lies_downstream`] with its phases, a switch on
/// the pole at x = 200 (open) and two customers (x = 120 and x = 260): a fault at x = 110
/// cuts off the first customer only while the switch is open, both once it is closed; who
/// sees the customers and their references.
#[tokio::test]
async fn a_power_outage_respects_switches_and_reports_customers_by_role() {
    let (db, app, issuer, _dir) = setup().await;
    for (code, pts) in [
        ("471", [(0.0, 0.0), (150.0, 0.0)]),
        ("472", [(150.0, 0.0), (300.0, 0.0)]),
    ] {
        sqlx::query(
            "INSERT INTO utilities.power_lines (source_id, voltage_kv, phases, geom)
             VALUES ($1, 22, '3 pha', ST_GeomFromText($2, $3))",
        )
        .bind(code)
        .bind(line_wkt(&pts))
        .bind(SRID)
        .execute(&db.pool)
        .await
        .expect("line");
    }
    add_point(&db, "substations", "TBA-01", (0.0, 0.0)).await;
    let switch = add_point(&db, "power_switches", "TB-1", (200.0, 0.0)).await;
    sqlx::query(
        "UPDATE utilities.power_switches SET state = 'Mở', switch_kind = 'Dao cách ly'
         WHERE id = $1",
    )
    .bind(switch)
    .execute(&db.pool)
    .await
    .expect("switch open");
    let mut customers = Vec::new();
    for (code, at, customer) in [
        ("DD-1", (120.0, 8.0), "PE0000001"),
        ("DD-2", (260.0, -6.0), "PE0000002"),
    ] {
        let id = add_point(&db, "power_customers", code, at).await;
        sqlx::query("UPDATE utilities.power_customers SET customer_ref = $2 WHERE id = $1")
            .bind(id)
            .bind(customer)
            .execute(&db.pool)
            .await
            .expect("customer");
        customers.push(id);
    }
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), $3), 4326) g) p",
    )
    .bind(E0 + 110.0)
    .bind(N0 + 1.0)
    .bind(SRID)
    .fetch_one(&db.pool)
    .await
    .expect("lon/lat");
    let uri = format!("/networks/power/outage?point={lon},{lat}");
    // The graph follows the change notifications: wait until it holds both customers and
    // the switch.
    let until = |token: Option<String>, done: fn(&Value) -> bool| {
        let (app, uri) = (app.clone(), uri.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let r = get(&app, &uri, token.as_deref()).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                let fc = r.json();
                if done(&fc) || Instant::now() > deadline {
                    return fc;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let fc = until(None, |fc| {
        fc["summary"]["customers"] == 1 && fc["summary"]["open_switches"] == 1
    })
    .await;
    assert_eq!(fc["summary"]["customers"], 1, "{fc}");
    // Anonymous readers get the count, not the customers.
    assert!(features(&fc, "customer").is_empty(), "{fc}");
    let open = features(&fc, "switch");
    assert_eq!(open.len(), 1, "{fc}");
    assert_eq!(open[0]["properties"]["id"], switch);
    assert_eq!(open[0]["properties"]["state"], "Mở");
    let line = features(&fc, "line")[0];
    assert_eq!(line["properties"]["voltages_kv"], serde_json::json!([22.0]));
    assert_eq!(line["properties"]["phases"], serde_json::json!(["3 pha"]));
    // Staff see which customers, without their references; administrators see those too.
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let staff = get(&app, &uri, Some(&planner)).await.json();
    let listed = features(&staff, "customer");
    assert_eq!(listed.len(), 1, "{staff}");
    assert_eq!(listed[0]["properties"]["id"], customers[0]);
    assert!(!staff.to_string().contains("PE0000001"));
    let admin = issuer.issue("quan_tri").expect("token");
    let full = get(&app, &uri, Some(&admin)).await.json();
    assert_eq!(
        features(&full, "customer")[0]["properties"]["customer_ref"],
        "PE0000001"
    );
    // The switch closed (an edit, no restart): the fault now cuts off both customers.
    sqlx::query("UPDATE utilities.power_switches SET state = 'Đóng' WHERE id = $1")
        .bind(switch)
        .execute(&db.pool)
        .await
        .expect("switch closed");
    let fc = until(Some(admin.clone()), |fc| fc["summary"]["customers"] == 2).await;
    assert_eq!(fc["summary"]["customers"], 2, "{fc}");
    assert_eq!(fc["summary"]["open_switches"], 0, "{fc}");
    let refs: Vec<&str> = features(&fc, "customer")
        .iter()
        .filter_map(|c| c["properties"]["customer_ref"].as_str())
        .collect();
    assert_eq!(refs, ["PE0000001", "PE0000002"]);
}

/// An operator publishes an isolation and a power outage as IOC events: each has the pipes
/// or lines out of service as its area (and a point on it), the counts in its title and no
/// customer's data; only operators and administrators may publish.
#[tokio::test]
async fn isolations_and_outages_are_published_as_ioc_events_with_their_area() {
    let (db, app, issuer, _dir) = setup().await;
    let m = main_line(&db).await;
    let q = format!("pipe={}&at=0.3", m.pipes[1]);
    let fc = isolate_until(&app, &q, |fc| {
        ids(&fc["valves_to_close"]).len() == 2 && fc["summary"]["cut_off_meters"] == 1
    })
    .await;
    assert_eq!(
        ids(&fc["valves_to_close"]),
        vec![m.valves[0], m.valves[1]],
        "{fc}"
    );
    let post = |uri: String, token: Option<String>| {
        let app = app.clone();
        async move { tests::http::send(&app, Method::POST, &uri, token.as_deref(), &[], None).await }
    };
    let uri = format!("/networks/water/isolate/event?{q}");
    assert_eq!(
        post(uri.clone(), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    assert_eq!(
        post(uri.clone(), Some(planner)).await.status,
        StatusCode::FORBIDDEN
    );
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let r = post(uri.clone(), Some(operator.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let event = r.json();
    assert_eq!(event["kind"], "water_isolation");
    assert_eq!(event["status"], "open");
    assert_eq!(event["created_by"], "van_hanh_ioc");
    let title = event["title"].as_str().expect("title");
    assert!(
        title.starts_with("Cô lập đường ống nước: đóng 2 van"),
        "{title}"
    );
    assert!(title.contains("2 đồng hồ mất nước"), "{title}");
    // The area: the isolated pipes (50 → 150) and what the closing cuts off (150 → 300).
    assert_eq!(event["area"]["type"], "MultiLineString", "{event}");
    let area_m: f64 = sqlx::query_scalar(&format!(
        "SELECT ST_Length(ST_Transform(area, {SRID})) FROM ioc.events WHERE id = $1"
    ))
    .bind(event["id"].as_i64().expect("id"))
    .fetch_one(&db.pool)
    .await
    .expect("area length");
    assert!((area_m - 250.0).abs() < 0.5, "{area_m} m");
    assert_eq!(event["location"]["type"], "Point");
    // No meter, customer or reference in the event.
    assert!(!r.text().contains("KH-000"), "{}", r.text());
    // The IOC reads it back with its area (the display draws it from there).
    let id = event["id"].as_i64().expect("id");
    let back = get(&app, &format!("/feeds/events/{id}"), Some(&operator)).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text());
    assert_eq!(back.json()["area"], event["area"]);
    for (uri, status) in [
        (
            "/networks/water/isolate/event?pipe=999999".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/networks/water/isolate/event?colour=red".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/networks/power/outage/event?pole=1&substation=2".to_string(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = post(uri.clone(), Some(operator.clone())).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
    }

    // A power outage: a feeder of two lines, poles every 50 m, a customer at x = 260.
    for (code, pts) in [
        ("471", [(0.0, 500.0), (150.0, 500.0)]),
        ("472", [(150.0, 500.0), (300.0, 500.0)]),
    ] {
        sqlx::query(
            "INSERT INTO utilities.power_lines (source_id, voltage_kv, geom)
             VALUES ($1, 22, ST_GeomFromText($2, $3))",
        )
        .bind(code)
        .bind(line_wkt(&pts))
        .bind(SRID)
        .execute(&db.pool)
        .await
        .expect("line");
    }
    add_point(&db, "substations", "TBA-01", (0.0, 500.0)).await;
    let mut poles = Vec::new();
    for k in 1..=6 {
        poles.push(
            add_point(
                &db,
                "power_poles",
                &format!("COT-{k}"),
                (50.0 * f64::from(k), 500.0),
            )
            .await,
        );
    }
    add_point(&db, "power_customers", "DD-1", (260.0, 494.0)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let fc = get(
            &app,
            &format!("/networks/power/outage?pole={}", poles[2]),
            None,
        )
        .await
        .json();
        if (fc["summary"]["poles"] == 4 && fc["summary"]["customers"] == 1)
            || Instant::now() > deadline
        {
            assert_eq!(fc["summary"]["customers"], 1, "{fc}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = post(
        format!("/networks/power/outage/event?pole={}", poles[2]),
        Some(operator.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let event = r.json();
    assert_eq!(event["kind"], "power_outage");
    assert_eq!(
        event["title"],
        "Mất điện: 1 khách hàng, 150 m đường dây, 4 cột"
    );
    assert_eq!(event["area"]["type"], "MultiLineString");
    // The feeder's last pole: no line is cut off, so there is nothing to publish.
    let r = post(
        format!("/networks/power/outage/event?pole={}", poles[5]),
        Some(operator.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    // The open events the IOC lists hold both, with their areas.
    let list = get(&app, "/feeds/events", Some(&operator)).await.json();
    let with_area = list["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["area"]["type"] == "MultiLineString")
        .count();
    assert_eq!(with_area, 2, "{list}");
}

#[tokio::test]
async fn bad_isolation_requests_are_problems() {
    let (db, app, _issuer, _dir) = setup().await;
    let empty = get(&app, "/networks/water/isolate?point=106.3,11.5", None).await;
    assert_eq!(empty.status, StatusCode::NOT_FOUND, "{}", empty.text());
    let m = main_line(&db).await;
    for (query, status) in [
        ("", StatusCode::BAD_REQUEST),
        ("point=abc", StatusCode::BAD_REQUEST),
        ("point=106.3", StatusCode::BAD_REQUEST),
        ("point=106.3,95", StatusCode::BAD_REQUEST),
        ("point=NaN,11", StatusCode::BAD_REQUEST),
        ("point=106.9,11.9", StatusCode::NOT_FOUND),
        ("pipe=999999", StatusCode::NOT_FOUND),
        ("pipe=x", StatusCode::BAD_REQUEST),
        (
            &format!("pipe={}&at=2", m.pipes[0]),
            StatusCode::BAD_REQUEST,
        ),
        (
            &format!("pipe={}&failed=999999", m.pipes[0]),
            StatusCode::BAD_REQUEST,
        ),
        (
            &format!("pipe={}&failed=1;2", m.pipes[0]),
            StatusCode::BAD_REQUEST,
        ),
        (
            &format!("pipe={}&point=1,2", m.pipes[0]),
            StatusCode::BAD_REQUEST,
        ),
        (
            &format!("pipe={}&colour=red", m.pipes[0]),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = get(&app, &format!("/networks/water/isolate?{query}"), None).await;
        assert_eq!(r.status, status, "{query}: {}", r.text());
        tests::assert_problem_json(
            r.status.as_u16(),
            status.as_u16(),
            &r.header(axum::http::header::CONTENT_TYPE),
            &r.body,
        );
    }
    let api = get(&app, "/api", None).await.json();
    assert!(api["paths"]["/networks/water/isolate"]["get"].is_object());
}

/// The sample's water network: every isolation the server answers is the connected component
/// pgRouting finds (`pgr_connectedComponents`) on the pipes' own topology
/// (`pgr_createTopology`, the same 0.1 m tolerance) once the valves to close and the closed
/// valves are taken out.
#[tokio::test]
async fn isolations_on_the_sample_agree_with_pgrouting() {
    let (db, app, _issuer, _dir) = setup().await;
    let dir = tests::sample_dir();
    let water = dir.path().join("water.gpkg");
    for layer in ["water_pipes", "water_valves", "hydrants", "water_meters"] {
        tests::import(&db.pool, &water, layer)
            .await
            .expect("import");
    }
    let closed: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM utilities.water_valves WHERE status = 'Đóng'")
            .fetch_all(&db.pool)
            .await
            .expect("closed valves");
    assert!(!closed.is_empty(), "the sample closes some valves");
    // pgRouting's own graph of the pipes.
    sqlx::raw_sql(
        "CREATE EXTENSION IF NOT EXISTS pgrouting CASCADE;
         CREATE TABLE pgr_edges AS
             SELECT id, ST_GeometryN(geom, 1) AS geom, NULL::bigint AS source, NULL::bigint AS target
             FROM utilities.water_pipes;
         SELECT pgr_createTopology('pgr_edges', 0.1, 'geom', 'id');",
    )
    .execute(&db.pool)
    .await
    .expect("pgRouting topology");
    let pipes: Vec<i64> = sqlx::query_scalar("SELECT id FROM utilities.water_pipes ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .expect("pipes");
    assert!(pipes.len() > 100, "{} pipes", pipes.len());
    let (mut checked, mut largest, mut bounded_by_closed) = (0, 0, 0);
    // Each break three times: as it is, then with every valve of the previous answer failing
    // to close, so the segments grow over several crossings and meet closed valves.
    let mut rounds = Vec::new();
    for &pipe in pipes.iter().step_by(pipes.len() / 25) {
        rounds.push((pipe, Vec::<i64>::new()));
    }
    while let Some((pipe, failed)) = rounds.pop() {
        let list: Vec<String> = failed.iter().map(i64::to_string).collect();
        let fc = isolate(
            &app,
            &format!("pipe={pipe}&at=0.5&failed={}", list.join(",")),
            None,
        )
        .await;
        if failed.len() < 12 {
            let mut more = failed.clone();
            more.extend(ids(&fc["valves_to_close"]));
            if more.len() > failed.len() {
                rounds.push((pipe, more));
            }
        }
        if features(&fc, "valve")
            .iter()
            .any(|v| v["properties"]["role"] == "already_closed")
        {
            bounded_by_closed += 1;
        }
        let ours: BTreeSet<i64> = pipe_ids(&fc).into_iter().collect();
        let blocked: Vec<i64> = ids(&fc["valves_to_close"])
            .into_iter()
            .chain(closed.iter().copied())
            .collect();
        // A blocked valve's vertex is replaced by a vertex of each edge's own, so no path
        // passes through it; pgr_connectedComponents takes its edges as SQL text, so the cut
        // graph goes into a table.
        sqlx::query("DROP TABLE IF EXISTS pgr_cut")
            .execute(&db.pool)
            .await
            .expect("drop");
        sqlx::query(
            "CREATE TABLE pgr_cut AS
             WITH blocked AS (
                 SELECT DISTINCT n.id FROM pgr_edges_vertices_pgr n
                 JOIN utilities.water_valves v ON ST_DWithin(v.geom, n.the_geom, 0.1)
                 WHERE v.id = ANY($1))
             SELECT e.id,
                    CASE WHEN e.source IN (SELECT id FROM blocked) THEN 10000000000 + 2 * e.id ELSE e.source END AS source,
                    CASE WHEN e.target IN (SELECT id FROM blocked) THEN 10000000001 + 2 * e.id ELSE e.target END AS target
             FROM pgr_edges e",
        )
        .bind(&blocked)
        .execute(&db.pool)
        .await
        .expect("cut graph");
        let component: Vec<i64> = sqlx::query_scalar(
            "WITH comp AS (
                 SELECT node, component FROM pgr_connectedComponents(
                     'SELECT id, source, target, 1.0::float8 AS cost, 1.0::float8 AS reverse_cost FROM pgr_cut')),
             mine AS (
                 SELECT c.component FROM pgr_cut e JOIN comp c ON c.node = e.source WHERE e.id = $1)
             SELECT DISTINCT e.id FROM pgr_cut e JOIN comp c ON c.node IN (e.source, e.target)
             WHERE c.component = (SELECT component FROM mine) ORDER BY 1",
        )
        .bind(pipe)
        .fetch_all(&db.pool)
        .await
        .expect("components");
        let theirs: BTreeSet<i64> = component.into_iter().collect();
        assert_eq!(ours, theirs, "break on pipe {pipe}: {fc}");
        assert!(ours.contains(&pipe));
        largest = largest.max(ours.len());
        checked += 1;
    }
    assert!(checked >= 50, "{checked} isolations compared");
    assert!(
        largest >= 8,
        "the largest segment compared has {largest} pipes"
    );
    assert!(bounded_by_closed > 0, "no segment met a closed valve");
}

/// Every trace answer of `net`, per pipe (a break at its middle, and the way upstream from
/// there), comparable across graphs.
fn answers(net: &utilities::network::Network, pipes: &[i64]) -> Vec<(i64, String)> {
    use utilities::network::{isolate::isolate, trace::upstream};
    pipes
        .iter()
        .map(|&p| {
            let Some((piece, at)) = net.locate_on_pipe(p, 0.5) else {
                return (p, "absent".to_string());
            };
            let iso = isolate(net, piece, &[]);
            let up = upstream(net, piece, at).map(|u| (u.source, u.pipes, u.valves));
            (
                p,
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {up:?}",
                    iso.valves, iso.pipes, iso.meters, iso.hydrants, iso.cut_off_meters
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_patched_network_answers_like_a_rebuild_after_edits() {
    use utilities::network::live::LiveNetwork;
    use utilities::network::{load, Network, Settings};
    let db = TestDb::new().await;
    let m = main_line(&db).await;
    // A second row of pipes north of the main, joined to it at x = 100 and 200.
    let north = [
        add_pipe(&db, "N1", &[(0.0, 150.0), (100.0, 150.0)]).await,
        add_pipe(&db, "N2", &[(100.0, 150.0), (200.0, 150.0)]).await,
    ];
    add_pipe(&db, "C1", &[(100.0, 0.0), (100.0, 150.0)]).await;
    let c2 = add_pipe(&db, "C2", &[(200.0, 0.0), (200.0, 150.0)]).await;
    add_valve(&db, "V4", (100.0, 75.0), "Mở", true).await;
    let dh3 = add_point(&db, "water_meters", "DH3", (150.0, 155.0)).await;
    let live = LiveNetwork::new(db.pool.clone(), Settings::default());
    let first = live.get().await.expect("built");
    assert_eq!(live.builds(), 1);
    assert_eq!(first.pipe_count(), 7);

    // After each edit: the next network is a patch (no rebuild), answering like a fresh build.
    async fn patched(live: &std::sync::Arc<LiveNetwork>, db: &TestDb, patches: u64) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let net = loop {
            let net = live.get().await.expect("network");
            if live.patches() > patches || Instant::now() > deadline {
                break net;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(live.patches() > patches, "no patch arrived");
        assert_eq!(live.builds(), 1, "patched, not rebuilt");
        let fresh = Network::build(
            &load::inputs(&db.pool).await.expect("inputs"),
            Settings::default(),
        );
        let pipes: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM utilities.water_pipes ORDER BY id")
                .fetch_all(&db.pool)
                .await
                .expect("pipes");
        assert_eq!(net.pipe_count(), fresh.pipe_count());
        assert_eq!(net.graph.edge_count(), fresh.graph.edge_count());
        assert_eq!(net.unconnected.len(), fresh.unconnected.len());
        assert_eq!(answers(&net, &pipes), answers(&fresh, &pipes));
    }

    // A pipe added: a branch north from the main at x = 250 with a meter on it.
    let branch = add_pipe(&db, "P5", &[(250.0, 0.0), (250.0, 90.0)]).await;
    patched(&live, &db, 0).await;
    let meter = add_point(&db, "water_meters", "DH4", (255.0, 60.0)).await;
    patched(&live, &db, live.patches()).await;
    let net = live.get().await.expect("network");
    assert!(net
        .device_node(utilities::network::DeviceKind::Meter, meter)
        .is_some());
    // A pipe deleted (the branch: its meter is left unconnected).
    sqlx::query("DELETE FROM utilities.water_pipes WHERE id = $1")
        .bind(branch)
        .execute(&db.pool)
        .await
        .expect("delete");
    patched(&live, &db, live.patches()).await;
    // A valve closed.
    sqlx::query("UPDATE utilities.water_valves SET status = 'Đóng' WHERE id = $1")
        .bind(m.valves[1])
        .execute(&db.pool)
        .await
        .expect("close");
    patched(&live, &db, live.patches()).await;
    let net = live.get().await.expect("network");
    let (piece, at) = net.locate_on_pipe(m.pipes[2], 0.5).expect("pipe");
    assert!(net
        .device_node(utilities::network::DeviceKind::Meter, meter)
        .is_none());
    // The way upstream now runs around through the north row.
    let up = utilities::network::trace::upstream(&net, piece, at).expect("reached");
    assert!(
        up.pipes.contains(&c2) && up.pipes.contains(&north[1]),
        "{up:?}"
    );
    // A valve moved 30 m along the main (from x = 50 to x = 80), and one drawn off its pipe.
    sqlx::query("UPDATE utilities.water_valves SET geom = ST_Translate(geom, 30, 0) WHERE id = $1")
        .bind(m.valves[0])
        .execute(&db.pool)
        .await
        .expect("move");
    patched(&live, &db, live.patches()).await;
    sqlx::query("UPDATE utilities.water_valves SET geom = ST_Translate(geom, 0, 3) WHERE id = $1")
        .bind(m.valves[2])
        .execute(&db.pool)
        .await
        .expect("move off");
    patched(&live, &db, live.patches()).await;
    let net = live.get().await.expect("network");
    assert!(net.valve_node(m.valves[2]).is_none());
    assert!(net.valve_node(m.valves[0]).is_some());
    // A meter deleted (a point: the notified box is its own extent).
    sqlx::query("DELETE FROM utilities.water_meters WHERE id = $1")
        .bind(dh3)
        .execute(&db.pool)
        .await
        .expect("delete meter");
    patched(&live, &db, live.patches()).await;
    let net = live.get().await.expect("network");
    assert!(net
        .device_node(utilities::network::DeviceKind::Meter, dh3)
        .is_none());
    // Many rows at once (more than a patch takes): rebuilt whole.
    let rows = utilities::network::live::MAX_PATCH_ROWS as i64 + 1;
    sqlx::query(
        "INSERT INTO utilities.water_meters (source_id, code, geom)
         SELECT 'M' || k, 'M' || k, ST_SetSRID(ST_MakePoint($1 + (k % 300), $2 - 5), $3)
         FROM generate_series(1, $4) k",
    )
    .bind(E0)
    .bind(N0)
    .bind(SRID)
    .bind(rows)
    .execute(&db.pool)
    .await
    .expect("meters");
    let deadline = Instant::now() + Duration::from_secs(15);
    while live.builds() < 2 && Instant::now() < deadline {
        live.get().await.expect("network");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live.builds(), 2, "a large change rebuilds");
    // The graph a trace took never changes under it: patches copy a graph still held.
    assert_eq!(first.pipe_count(), 7);
    assert!(first
        .device_node(utilities::network::DeviceKind::Meter, dh3)
        .is_some());
    let _ = m.hydrant;
}

#[tokio::test]
async fn upstream_and_downstream_traces_over_http() {
    let (db, app, issuer, _dir) = setup().await;
    let m = main_line(&db).await;
    let [v1, v2, v3] = m.valves;
    let r = get(
        &app,
        &format!("/networks/water/upstream?pipe={}&at=0.8", m.pipes[2]),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.header(axum::http::header::CONTENT_TYPE),
        "application/geo+json"
    );
    let fc = r.json();
    assert_eq!(fc["reached"], true, "{fc}");
    assert_eq!(ids(&fc["pipes"]), m.pipes.to_vec());
    assert_eq!(ids(&fc["valves"]), vec![v1, v2, v3]);
    // 200.05 + 0.8 × 99.95 metres along the pipes.
    let length = fc["length_m"].as_f64().expect("length");
    assert!((length - 280.0).abs() < 0.2, "{length}");
    let path = features(&fc, "path");
    assert_eq!(path.len(), 1);
    assert_eq!(path[0]["geometry"]["type"], "LineString");
    let source = features(&fc, "source");
    assert_eq!(source[0]["geometry"]["type"], "Point");
    let first = &path[0]["geometry"]["coordinates"][0];
    assert_eq!(&source[0]["geometry"]["coordinates"], first);

    // Downstream of pipe 2's first piece: the rest of pipe 2 and pipe 3, their meters and the
    // hydrant; meter ids for staff only.
    let q = format!("/networks/water/downstream?pipe={}&at=0.1", m.pipes[1]);
    let fc = get(&app, &q, None).await.json();
    assert_eq!(fc["supplied"], true, "{fc}");
    assert_eq!(fc["summary"]["meters"], 2, "{fc}");
    assert_eq!(fc["summary"]["hydrants"], 1, "{fc}");
    assert!(fc.get("meter_ids").is_none());
    let pipes = features(&fc, "pipe");
    assert_eq!(
        ids(&pipes[0]["properties"]["pipe_ids"]),
        vec![m.pipes[1], m.pipes[2]]
    );
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let staff = get(&app, &q, Some(&planner)).await.json();
    assert_eq!(ids(&staff["meter_ids"]), m.meters.to_vec());

    // Valve 2 closed: no way up from pipe 3, and pipe 2's first piece feeds only its meter.
    sqlx::query("UPDATE utilities.water_valves SET status = 'Đóng' WHERE id = $1")
        .bind(v2)
        .execute(&db.pool)
        .await
        .expect("close");
    let up = format!("/networks/water/upstream?pipe={}&at=0.8", m.pipes[2]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let fc = loop {
        let fc = get(&app, &up, None).await.json();
        if fc["reached"] == false || Instant::now() > deadline {
            break fc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(fc["reached"], false, "{fc}");
    assert_eq!(features(&fc, "point").len(), 1);
    let fc = get(&app, &q, None).await.json();
    assert_eq!(fc["summary"]["meters"], 1, "{fc}");

    // Problems: nothing named, a bad number, an unknown pipe, an unknown parameter.
    for (uri, status) in [
        ("/networks/water/upstream", StatusCode::BAD_REQUEST),
        ("/networks/water/downstream?pipe=x", StatusCode::BAD_REQUEST),
        (
            "/networks/water/upstream?pipe=999999",
            StatusCode::NOT_FOUND,
        ),
        (
            "/networks/water/downstream?pipe=1&failed=2",
            StatusCode::BAD_REQUEST,
        ),
        ("/networks/water/upstream?point=0,0", StatusCode::NOT_FOUND),
    ] {
        let r = get(&app, uri, None).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert_eq!(
            r.header(axum::http::header::CONTENT_TYPE),
            "application/problem+json",
            "{uri}"
        );
    }
}

/// A trace lets go of the graph before its answer's queries: with the answer's valve query
/// held up by a lock, an edit is patched in without waiting for the trace or copying the
/// graph, and the trace then answers.
#[tokio::test]
async fn a_trace_lets_go_of_the_graph_before_its_answer_queries() {
    use utilities::network::answer::{Disclosure, Shape};
    use utilities::network::live::LiveNetwork;
    use utilities::network::request::{water_isolation, BreakAt};
    use utilities::network::Settings;
    let db = TestDb::new().await;
    let m = main_line(&db).await;
    let live = LiveNetwork::new(db.pool.clone(), Settings::default());
    live.get().await.expect("built");
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE utilities.water_valves IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock");
    let trace = tokio::spawn({
        let live = live.clone();
        let pipe = m.pipes[1];
        async move {
            water_isolation(
                &live,
                BreakAt::Pipe {
                    id: pipe,
                    fraction: 0.3,
                },
                &[],
                Disclosure::default(),
                Shape::default(),
            )
            .await
        }
    });
    // The trace waits on the lock in its answer's valve query.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks
             WHERE NOT granted AND relation = 'utilities.water_valves'::regclass",
        )
        .fetch_one(&db.pool)
        .await
        .expect("locks");
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the trace never reached its answer's queries"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An edit meanwhile: a pipe added, patched in at once.
    add_pipe(&db, "P7", &[(300.0, 0.0), (300.0, 80.0)]).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while live.patches() == 0 {
        assert!(Instant::now() < deadline, "no patch arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        live.copies(),
        0,
        "the patch copied a graph the trace still held"
    );
    assert!(!trace.is_finished(), "the trace answered through the lock");
    lock.rollback().await.expect("unlock");
    let fc = trace.await.expect("join").expect("answer");
    assert_eq!(ids(&fc["valves_to_close"]), vec![m.valves[0], m.valves[1]]);
    assert_eq!(live.copies(), 0);
}
