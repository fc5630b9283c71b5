//! Plans as objects with versions (issue 13): imports into a draft plan (a delivery replaces
//! only its own plan's rows), drafts read by planners only in tiles, items, identify and the
//! planning report, approval by administrators superseding the replaced plan in one transaction
//! and dropping tiles, the report as of a date, the comparison of two versions, documents.

use axum::http::{header, Method, StatusCode};
use axum::Router;
use importers::pipeline::{import, ImportOptions};
use serde_json::{json, Value};
use tile_server::app::{app, AppState, Limits};

use tests::TestDb;

use tests::http::Reply;

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    tests::http::send(app, method, uri, token, &[], body).await
}

fn square(lon: f64, lat: f64, size: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]})
}

const LON: f64 = 106.883;
const LAT: f64 = 11.535;

fn write_zones(
    dir: &std::path::Path,
    name: &str,
    zones: &[(&str, &str, f64, f64, f64)],
) -> std::path::PathBuf {
    let features: Vec<Value> = zones
        .iter()
        .map(|(code, function, lon, lat, size)| {
            json!({"type": "Feature",
                   "properties": {"MAKHU": code, "CHUCNANG": function, "MATDOXD": 60},
                   "geometry": square(*lon, *lat, *size)})
        })
        .collect();
    let path = dir.join(format!("{name}.geojson"));
    std::fs::write(
        &path,
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .expect("write");
    path
}

async fn import_into_plan(db: &TestDb, path: &std::path::Path, plan: i64, replace: bool) {
    let mut opts = ImportOptions::new("planning_zones");
    opts.set.push(("plan_id".into(), plan.to_string()));
    if replace {
        opts.mode = gis_core::bulk::MergeMode::Replace;
    }
    import(&db.pool, path, &opts).await.expect("import zones");
}

/// The tile x/y at zoom z of a WGS84 point.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y =
        ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

fn zone_codes_in_tile(reply: &Reply) -> Vec<String> {
    assert!(
        reply.status == StatusCode::OK || reply.status == StatusCode::NO_CONTENT,
        "{}",
        reply.status
    );
    let raw = if reply.headers.get(header::CONTENT_ENCODING).is_some() {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&reply.body[..]), &mut out)
            .expect("gunzip");
        out
    } else {
        reply.body.clone()
    };
    tests::decode_mvt(&raw)
        .into_iter()
        .flat_map(|l| l.strings)
        .collect()
}

fn codes(items: &Value) -> Vec<String> {
    let mut v: Vec<String> = items["features"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["properties"]["zone_code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn drafts_are_for_planners_until_an_administrator_approves_them() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // One parcel, inside zone A-1 of both versions.
    let parcel = dir.path().join("thua.geojson");
    std::fs::write(
        &parcel,
        json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"MAXA": "25195", "SHBANDO": 4, "SHTHUA": 17, "MALOAIDAT": "ONT", "TENCHU": "Nguyễn Văn Chủ"},
            "geometry": square(LON + 0.0001, LAT + 0.0001, 0.0002)}]})
        .to_string(),
    )
    .expect("write");
    tests::import(&db.pool, &parcel, "parcels")
        .await
        .expect("parcel");

    // Plan 1: approved in 2024 with A-1 (ONT) and A-3 (elsewhere).
    let p1 = planning::plans::create_draft(
        &db.pool,
        &planning::plans::NewPlan {
            name: "Quy hoạch chi tiết 1/500 khu Tiến Hưng".into(),
            level: "detailed".into(),
            ..Default::default()
        },
    )
    .await
    .expect("plan 1");
    let v1 = write_zones(
        dir.path(),
        "v1",
        &[
            ("A-1", "ONT", LON, LAT, 0.001),
            ("A-3", "DGD", LON + 0.01, LAT, 0.001),
        ],
    );
    import_into_plan(&db, &v1, p1, true).await;
    planning::plans::approve(
        &db.pool,
        p1,
        &planning::plans::Approval {
            decision_number: "100/QĐ-UBND".into(),
            approved_on: Some(chrono::NaiveDate::from_ymd_opt(2024, 3, 1).expect("day")),
            ..Default::default()
        },
    )
    .await
    .expect("approve 1");
    // Plan 2: a draft replacing it: A-1 becomes TMD, A-3 is gone, B-2 is new.
    let p2 = planning::plans::create_draft(
        &db.pool,
        &planning::plans::NewPlan {
            name: "Điều chỉnh quy hoạch khu Tiến Hưng".into(),
            level: "detailed".into(),
            replaces: Some(p1),
            ..Default::default()
        },
    )
    .await
    .expect("plan 2");
    let v2 = write_zones(
        dir.path(),
        "v2",
        &[
            ("A-1", "TMD", LON, LAT, 0.001),
            ("B-2", "DGT", LON - 0.01, LAT, 0.001),
        ],
    );
    // Replace mode: the delivery replaces plan 2's rows only, plan 1's stay.
    import_into_plan(&db, &v2, p2, true).await;
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT plan_id, count(*) FROM planning.zones GROUP BY plan_id ORDER BY plan_id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("counts");
    assert_eq!(counts, vec![(p1, 2), (p2, 2)]);
    // A draft cannot be imported into once approved; plan 1 is not a draft.
    assert!(planning::plans::check_importable(&db.pool, p1)
        .await
        .is_err());

    let issuer = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", dir.path().join("keys")),
        |_| None,
    )
    .expect("dev issuer");
    let state = AppState::new(db.pool.clone()).expect("state");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    assert!(state.verifier.set(verifier).is_ok());
    let app = app(state, Limits::default());
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let admin = issuer.issue("quan_tri").expect("token");
    let officer = issuer.issue("can_bo_dia_chinh").expect("token");

    // Items: the public and land officers read plan 1; planners plan 1 and the draft.
    let items = "/collections/planning_zones/items?limit=100";
    let public = send(&app, Method::GET, items, None, None).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text());
    assert_eq!(codes(&public.json()), ["A-1", "A-3"]);
    assert!(!public.text().contains("TMD"), "{}", public.text());
    let o = send(&app, Method::GET, items, Some(&officer), None).await;
    assert_eq!(codes(&o.json()), ["A-1", "A-3"]);
    let p = send(&app, Method::GET, items, Some(&planner), None).await;
    assert_eq!(codes(&p.json()), ["A-1", "A-1", "A-3", "B-2"]);
    // A draft zone by id is not found by the public.
    let draft_id: i64 = sqlx::query_scalar(
        "SELECT id FROM planning.zones WHERE plan_id = $1 AND zone_code = 'B-2'",
    )
    .bind(p2)
    .fetch_one(&db.pool)
    .await
    .expect("id");
    let one = format!("/collections/planning_zones/items/{draft_id}");
    assert_eq!(
        send(&app, Method::GET, &one, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, Method::GET, &one, Some(&planner), None)
            .await
            .status,
        StatusCode::OK
    );

    // Tiles: the public tile has no draft function; the planner's has, and is private.
    let (x, y) = tile_of(LON + 0.0005, LAT + 0.0005, 15);
    let tile = format!("/tiles/planning_zones/15/{x}/{y}.mvt");
    let t = send(&app, Method::GET, &tile, None, None).await;
    let strings = zone_codes_in_tile(&t);
    assert!(
        strings.contains(&"ONT".to_string()) && !strings.contains(&"TMD".to_string()),
        "{strings:?}"
    );
    assert!(t.headers[header::CACHE_CONTROL]
        .to_str()
        .expect("cc")
        .starts_with("public"));
    let t = send(&app, Method::GET, &tile, Some(&planner), None).await;
    let strings = zone_codes_in_tile(&t);
    assert!(strings.contains(&"TMD".to_string()), "{strings:?}");
    assert!(t.headers[header::CACHE_CONTROL]
        .to_str()
        .expect("cc")
        .starts_with("private"));

    // The report: the public sees plan 1 only; planners the draft too unless drafts=false.
    let report = "/query/planning-report?commune=25195&sheet=4&number=17";
    let r = send(&app, Method::GET, report, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let json = r.json();
    let zones: Vec<&str> = json["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .filter_map(|z| z["function_code"].as_str())
        .collect();
    assert_eq!(zones, ["ONT"], "{}", r.text());
    assert_eq!(r.json()["plans"][0]["decision_number"], "100/QĐ-UBND");
    assert!(!r.text().contains("Nguyễn Văn Chủ"));
    let r = send(&app, Method::GET, report, Some(&planner), None).await;
    assert_eq!(
        r.json()["zones"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text()
    );
    let r = send(
        &app,
        Method::GET,
        &format!("{report}&drafts=true"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        Method::GET,
        &format!("{report}&as_of=2023-12-31"),
        None,
        None,
    )
    .await;
    assert_eq!(r.json()["zones"], json!([]), "{}", r.text());
    let r = send(
        &app,
        Method::GET,
        &format!("{report}&as_of=31/12/2023"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ct")
        .contains("problem+json"));

    // The plans API: the draft is not listed for the public.
    let l = send(&app, Method::GET, "/plans", None, None).await;
    let ids: Vec<i64> = l.json()["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![p1]);
    assert_eq!(
        send(&app, Method::GET, &format!("/plans/{p2}"), None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let one = send(
        &app,
        Method::GET,
        &format!("/plans/{p2}"),
        Some(&planner),
        None,
    )
    .await;
    assert_eq!(one.json()["status"], "draft");
    assert_eq!(one.json()["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        send(&app, Method::GET, "/plans/abc", None, None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Compare: A-1 changed, A-3 removed, B-2 added.
    let c = send(
        &app,
        Method::GET,
        &format!("/plans/compare?from={p1}&to={p2}"),
        Some(&planner),
        None,
    )
    .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text());
    let mut changes: Vec<(String, String)> = c.json()["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["properties"]["zone_code"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                f["properties"]["change"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        vec![
            ("A-1".into(), "changed".into()),
            ("A-3".into(), "removed".into()),
            ("B-2".into(), "added".into())
        ]
    );
    assert_eq!(c.json()["features"][0]["geometry"]["type"], "MultiPolygon");
    // Each side's plan with its decision, and every zone attribute of the sheet (FAR too).
    let sides = &c.json()["plans"];
    assert_eq!(
        (
            &sides["from"]["id"],
            &sides["from"]["decision_number"],
            &sides["to"]["status"],
            &sides["to"]["decision_number"]
        ),
        (
            &json!(p1),
            &json!("100/QĐ-UBND"),
            &json!("draft"),
            &Value::Null
        ),
        "{sides}"
    );
    let removed = c.json()["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["change"] == "removed")
        .cloned()
        .expect("the removed zone");
    assert!(
        removed["properties"]["before"]
            .as_object()
            .is_some_and(|b| b.contains_key("far") && b.contains_key("setback_m")),
        "{removed}"
    );
    // The public does not compare with a draft.
    let c = send(
        &app,
        Method::GET,
        &format!("/plans/compare?from={p1}&to={p2}"),
        None,
        None,
    )
    .await;
    assert_eq!(c.status, StatusCode::NOT_FOUND);

    // Documents: served with their media type; a draft's only to planners.
    let pdf = b"%PDF-1.4\n% decision\n".to_vec();
    let d1 = planning::plans::add_document(
        &db.pool,
        p1,
        "Quyết định 100/QĐ-UBND",
        "qd-100.pdf",
        "application/pdf",
        &pdf,
    )
    .await
    .expect("doc");
    let d2 = planning::plans::add_document(
        &db.pool,
        p2,
        "Tờ trình",
        "to-trinh.pdf",
        "application/pdf",
        &pdf,
    )
    .await
    .expect("doc");
    let d = send(
        &app,
        Method::GET,
        &format!("/plans/{p1}/documents/{d1}"),
        None,
        None,
    )
    .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(d.body, pdf);
    assert_eq!(
        send(
            &app,
            Method::GET,
            &format!("/plans/{p2}/documents/{d2}"),
            None,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(
            &app,
            Method::GET,
            &format!("/plans/{p2}/documents/{d2}"),
            Some(&planner),
            None
        )
        .await
        .status,
        StatusCode::OK
    );

    // Approval: administrators only; then plan 2 is in force and plan 1 superseded.
    let approve = format!("/plans/{p2}/approve");
    let body = json!({"decision_number": "200/QĐ-UBND", "authority": "UBND tỉnh Đồng Nai"});
    assert_eq!(
        send(&app, Method::POST, &approve, None, Some(body.clone()))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(
            &app,
            Method::POST,
            &approve,
            Some(&planner),
            Some(body.clone())
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let bad = send(
        &app,
        Method::POST,
        &approve,
        Some(&admin),
        Some(json!({"decision_number": "x", "decision_date": "2026-02-30"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    let a = send(
        &app,
        Method::POST,
        &approve,
        Some(&admin),
        Some(body.clone()),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["status"], "approved");
    let statuses: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, status FROM planning.plans ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("statuses");
    assert_eq!(
        statuses,
        vec![(p1, "superseded".into()), (p2, "approved".into())]
    );
    let again = send(&app, Method::POST, &approve, Some(&admin), Some(body)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());

    // The public tile changed at once (the cached one was dropped), and so did the items.
    let t = send(&app, Method::GET, &tile, None, None).await;
    let strings = zone_codes_in_tile(&t);
    assert!(
        strings.contains(&"TMD".to_string()) && !strings.contains(&"ONT".to_string()),
        "{strings:?}"
    );
    let public = send(&app, Method::GET, items, None, None).await;
    assert_eq!(codes(&public.json()), ["A-1", "B-2"]);
    // History: in 2025 plan 1 was in force.
    let r = send(
        &app,
        Method::GET,
        &format!("{report}&as_of=2025-01-01"),
        None,
        None,
    )
    .await;
    assert_eq!(r.json()["zones"][0]["function_code"], "ONT", "{}", r.text());
    assert_eq!(r.json()["plans"][0]["id"], p1);
    let r = send(&app, Method::GET, report, None, None).await;
    assert_eq!(r.json()["zones"][0]["function_code"], "TMD", "{}", r.text());
}

#[tokio::test]
async fn a_withdrawn_approval_gives_the_superseded_plan_back_its_force() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let new_plan = |name: &str, replaces: Option<i64>| planning::plans::NewPlan {
        name: name.into(),
        level: "detailed".into(),
        replaces,
        ..Default::default()
    };
    let approval = |number: &str| planning::plans::Approval {
        decision_number: number.into(),
        ..Default::default()
    };
    let p1 = planning::plans::create_draft(&db.pool, &new_plan("Quy hoạch gốc", None))
        .await
        .expect("plan 1");
    let v1 = write_zones(dir.path(), "v1", &[("A-1", "ONT", LON, LAT, 0.001)]);
    import_into_plan(&db, &v1, p1, true).await;
    planning::plans::approve(&db.pool, p1, &approval("1/QĐ-UBND"))
        .await
        .expect("approve 1");
    let p2 = planning::plans::create_draft(&db.pool, &new_plan("Điều chỉnh", Some(p1)))
        .await
        .expect("plan 2");
    let v2 = write_zones(dir.path(), "v2", &[("A-1", "TMD", LON, LAT, 0.001)]);
    import_into_plan(&db, &v2, p2, true).await;
    planning::plans::approve(&db.pool, p2, &approval("2/QĐ-UBND"))
        .await
        .expect("approve 2");
    let status = |id: i64| {
        let pool = db.pool.clone();
        async move {
            planning::plans::get(&pool, id, true)
                .await
                .expect("get")
                .expect("plan")
                .status
        }
    };
    assert_eq!(status(p1).await, "superseded");

    // A draft is withdrawn without touching what is in force.
    let p3 = planning::plans::create_draft(&db.pool, &new_plan("Nháp", Some(p2)))
        .await
        .expect("plan 3");
    let none = planning::plans::Withdrawal::default();
    let done = planning::plans::withdraw(&db.pool, p3, &none)
        .await
        .expect("withdraw draft");
    assert_eq!(
        (done.plan.status.as_str(), done.restored),
        ("withdrawn", None)
    );
    assert_eq!(status(p2).await, "approved");

    // Annulling plan 2 puts plan 1 back in force, and tells the servers where.
    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool)
        .await
        .expect("listener");
    listener
        .listen("bando_layer_changes")
        .await
        .expect("listen");
    // An approved plan is annulled only by a decision.
    assert!(matches!(
        planning::plans::withdraw(&db.pool, p2, &none).await,
        Err(planning::plans::PlanError::DecisionRequired(id)) if id == p2
    ));
    assert_eq!(status(p2).await, "approved");
    let by = planning::plans::Withdrawal {
        decision_number: Some("3/QĐ-UBND".into()),
        decision_date: None,
    };
    let done = planning::plans::withdraw(&db.pool, p2, &by)
        .await
        .expect("withdraw approved");
    assert_eq!(done.plan.withdrawal_decision.as_deref(), Some("3/QĐ-UBND"));
    assert_eq!(done.restored, Some(p1));
    assert_eq!(status(p2).await, "withdrawn");
    assert_eq!(status(p1).await, "approved");
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification in time")
        .expect("notification");
    assert!(
        note.payload().contains("planning.zones"),
        "{}",
        note.payload()
    );
    let app = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let items = send(
        &app,
        Method::GET,
        "/collections/planning_zones/items?limit=10",
        None,
        None,
    )
    .await;
    assert_eq!(items.status, StatusCode::OK, "{}", items.text());
    assert!(
        items.text().contains("ONT") && !items.text().contains("TMD"),
        "{}",
        items.text()
    );
    // What is superseded or withdrawn stays so.
    for id in [p2, p3] {
        let e = planning::plans::withdraw(&db.pool, id, &by)
            .await
            .expect_err("withdrawn twice");
        assert!(e.to_string().contains("withdrawn"), "{e}");
    }
    assert!(matches!(
        planning::plans::withdraw(&db.pool, 999_999, &by).await,
        Err(planning::plans::PlanError::NotFound(999_999))
    ));
}

/// Two plans, the second approved over the first, and an app with the development issuer's
/// planner and administrator tokens.
async fn two_approved_versions(
    db: &TestDb,
    dir: &std::path::Path,
) -> (i64, i64, AppState, Router, String, String) {
    let new_plan = |name: &str, replaces: Option<i64>| planning::plans::NewPlan {
        name: name.into(),
        level: "detailed".into(),
        replaces,
        ..Default::default()
    };
    let approval = |number: &str| planning::plans::Approval {
        decision_number: number.into(),
        ..Default::default()
    };
    let p1 = planning::plans::create_draft(&db.pool, &new_plan("Quy hoạch gốc", None))
        .await
        .expect("plan 1");
    let v1 = write_zones(dir, "v1", &[("A-1", "ONT", LON, LAT, 0.001)]);
    import_into_plan(db, &v1, p1, true).await;
    planning::plans::approve(&db.pool, p1, &approval("1/QĐ-UBND"))
        .await
        .expect("approve 1");
    let p2 = planning::plans::create_draft(&db.pool, &new_plan("Điều chỉnh", Some(p1)))
        .await
        .expect("plan 2");
    let v2 = write_zones(dir, "v2", &[("A-1", "TMD", LON, LAT, 0.001)]);
    import_into_plan(db, &v2, p2, true).await;
    planning::plans::approve(&db.pool, p2, &approval("2/QĐ-UBND"))
        .await
        .expect("approve 2");
    let issuer = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", dir.join("keys")),
        |_| None,
    )
    .expect("dev issuer");
    let state = AppState::new(db.pool.clone()).expect("state");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    assert!(state.verifier.set(verifier).is_ok());
    let app = app(state.clone(), Limits::default());
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let admin = issuer.issue("quan_tri").expect("token");
    (p1, p2, state, app, planner, admin)
}

#[tokio::test]
async fn administrators_withdraw_plans_over_http_with_the_annulling_decision() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (p1, p2, _state, app, planner, admin) = two_approved_versions(&db, dir.path()).await;
    // The public tile of plan 2 in force, cached.
    let (x, y) = tile_of(LON + 0.0005, LAT + 0.0005, 15);
    let tile = format!("/tiles/planning_zones/15/{x}/{y}.mvt");
    let strings = zone_codes_in_tile(&send(&app, Method::GET, &tile, None, None).await);
    assert!(
        strings.contains(&"TMD".to_string()) && !strings.contains(&"ONT".to_string()),
        "{strings:?}"
    );
    let uri = format!("/plans/{p2}/withdraw");
    let decision = json!({"decision_number": "9/QĐ-UBND", "decision_date": "2026-11-30"});

    // Only administrators withdraw.
    let r = send(&app, Method::POST, &uri, None, Some(decision.clone())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let r = send(
        &app,
        Method::POST,
        &uri,
        Some(&planner),
        Some(decision.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("administrators"), "{}", r.text());
    // An approved plan is annulled only by a decision; a malformed body is 400.
    let r = send(&app, Method::POST, &uri, Some(&admin), Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("decision"), "{}", r.text());
    let r = send(
        &app,
        Method::POST,
        &uri,
        Some(&admin),
        Some(json!({"decision": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = send(
        &app,
        Method::POST,
        &uri,
        Some(&admin),
        Some(json!({"decision_number": "9/QĐ-UBND", "decision_date": "30/11/2026"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // Nothing changed by the refusals.
    let status: String = sqlx::query_scalar("SELECT status FROM planning.plans WHERE id = $1")
        .bind(p2)
        .fetch_one(&db.pool)
        .await
        .expect("status");
    assert_eq!(status, "approved");

    let r = send(
        &app,
        Method::POST,
        &uri,
        Some(&admin),
        Some(decision.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["status"], "withdrawn");
    assert_eq!(body["withdrawal_decision"], "9/QĐ-UBND");
    assert_eq!(body["restored"], p1);
    // This instance's tiles were dropped: plan 1 is drawn again.
    let strings = zone_codes_in_tile(&send(&app, Method::GET, &tile, None, None).await);
    assert!(
        strings.contains(&"ONT".to_string()) && !strings.contains(&"TMD".to_string()),
        "{strings:?}"
    );
    let p = send(&app, Method::GET, &format!("/plans/{p1}"), None, None).await;
    assert_eq!(p.json()["status"], "approved", "{}", p.text());

    // Wrong state: withdrawn (and superseded) plans stay so; no such plan is 404.
    let r = send(
        &app,
        Method::POST,
        &uri,
        Some(&admin),
        Some(decision.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = send(
        &app,
        Method::POST,
        "/plans/999999/withdraw",
        Some(&admin),
        Some(decision.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    // A draft leaves review without a decision.
    let p3 = planning::plans::create_draft(
        &db.pool,
        &planning::plans::NewPlan {
            name: "Nháp".into(),
            level: "detailed".into(),
            replaces: Some(p1),
            ..Default::default()
        },
    )
    .await
    .expect("draft");
    let r = send(
        &app,
        Method::POST,
        &format!("/plans/{p3}/withdraw"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["restored"], Value::Null);
    assert_eq!(r.json()["withdrawal_decision"], Value::Null);
}

#[tokio::test]
async fn documents_kept_in_the_documents_directory_are_served_from_it_and_nothing_outside() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (p1, _p2, state, app, _planner, _admin) = two_approved_versions(&db, dir.path()).await;
    let docs = dir.path().join("tai-lieu");
    std::fs::create_dir_all(docs.join("2026")).expect("dirs");
    let pdf = b"%PDF-1.4\n% quyet dinh 1\n".to_vec();
    std::fs::write(docs.join("2026/qd-1.pdf"), &pdf).expect("pdf");
    std::fs::write(dir.path().join("secret.txt"), b"not for the public").expect("secret");

    // `bando plan document` with a documents directory stores the path, not the bytes.
    let cli = |args: &[&str]| {
        std::process::Command::new(tests::bando_bin())
            .env("DATABASE_URL", &db.url)
            .env("BANDO_PLAN_DOCUMENTS_DIR", &docs)
            .args(args)
            .output()
            .expect("run bando")
    };
    let p1s = p1.to_string();
    let file = docs.join("2026/qd-1.pdf");
    let o = cli(&["plan", "document", &p1s, file.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (doc, path, content, bytes): (i64, Option<String>, Option<Vec<u8>>, i64) = sqlx::query_as(
        "SELECT id, path, content, file_bytes FROM planning.plan_documents WHERE plan_id = $1",
    )
    .bind(p1)
    .fetch_one(&db.pool)
    .await
    .expect("the document row");
    assert_eq!(
        (path.as_deref(), content, bytes),
        (Some("2026/qd-1.pdf"), None, pdf.len() as i64)
    );
    // A file outside the directory is refused, saying where it must be.
    let outside = dir.path().join("secret.txt");
    let o = cli(&["plan", "document", &p1s, outside.to_str().expect("utf-8")]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not inside the plan documents directory"),
        "{err}"
    );
    // Stored paths never leave the directory (the table refuses them).
    for bad in ["../secret.txt", "/etc/passwd", "2026/../../secret.txt"] {
        let e = sqlx::query(
            "INSERT INTO planning.plan_documents (plan_id, title, file_name, media_type, path)
             VALUES ($1, 'x', 'x.pdf', 'application/pdf', $2)",
        )
        .bind(p1)
        .bind(bad)
        .execute(&db.pool)
        .await;
        assert!(e.is_err(), "{bad} stored");
    }

    // Served with its media type once the server knows the directory; 503 before.
    let uri = format!("/plans/{p1}/documents/{doc}");
    let r = send(&app, Method::GET, &uri, None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(r.text().contains("documents_dir"), "{}", r.text());
    let _ = state
        .plan_documents
        .set(planning::documents::DocumentsDir::open(&docs).expect("the directory"));
    let r = send(&app, Method::GET, &uri, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(r.body, pdf);
    let listed = send(&app, Method::GET, &format!("/plans/{p1}"), None, None).await;
    assert_eq!(
        listed.json()["documents"][0]["bytes"],
        pdf.len(),
        "{}",
        listed.text()
    );
    // A link planted in the directory towards a file outside it is not followed.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, docs.join("2026/link.pdf")).expect("link");
        let link: i64 = sqlx::query_scalar(
            "INSERT INTO planning.plan_documents (plan_id, title, file_name, media_type, path)
             VALUES ($1, 'link', 'link.pdf', 'application/pdf', '2026/link.pdf') RETURNING id",
        )
        .bind(p1)
        .fetch_one(&db.pool)
        .await
        .expect("row");
        let r = send(
            &app,
            Method::GET,
            &format!("/plans/{p1}/documents/{link}"),
            None,
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        assert!(!r.text().contains("not for the public"));
    }
    // A file gone from the directory is a clear 404.
    std::fs::remove_file(&file).expect("remove");
    let r = send(&app, Method::GET, &uri, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    assert!(r.text().contains("missing"), "{}", r.text());
}

/// Waits until the app's tile listener has applied a notification after `before`.
async fn notified(state: &AppState, before: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while state.tiles.generation() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "no tile notification applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until no notification has been applied for a while (those already sent are in).
async fn settle(state: &AppState) {
    loop {
        let seen = state.tiles.generation();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if state.tiles.generation() == seen {
            return;
        }
    }
}

#[tokio::test]
async fn plans_leave_and_enter_public_tiles_when_their_validity_ends_or_starts() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = AppState::new(db.pool.clone()).expect("state");
    let listener = state.tiles.spawn_invalidation_listener();
    let app = app(state.clone(), Limits::default());
    let (x, y) = tile_of(LON + 0.0005, LAT + 0.0005, 15);
    let tile = format!("/tiles/planning_zones/15/{x}/{y}.mvt");
    let public_tile = || {
        let (app, tile) = (&app, &tile);
        async move { zone_codes_in_tile(&send(app, Method::GET, tile, None, None).await) }
    };
    let today: chrono::NaiveDate = sqlx::query_scalar("SELECT current_date")
        .fetch_one(&db.pool)
        .await
        .expect("today");

    // A plan approved today whose validity ends today: in force, in the public tile (cached).
    let ending = planning::plans::create_draft(
        &db.pool,
        &planning::plans::NewPlan {
            name: "Quy hoạch tạm thời".into(),
            level: "detailed".into(),
            ..Default::default()
        },
    )
    .await
    .expect("plan");
    let zones = write_zones(dir.path(), "ending", &[("H-1", "TMD", LON, LAT, 0.001)]);
    import_into_plan(&db, &zones, ending, true).await;
    planning::plans::approve(
        &db.pool,
        ending,
        &planning::plans::Approval {
            decision_number: "9/QĐ-UBND".into(),
            valid_until: Some(today),
            ..Default::default()
        },
    )
    .await
    .expect("approve");
    // The import's and the approval's notifications arrive on their own; once they are in:
    settle(&state).await;
    assert!(public_tile().await.contains(&"H-1".to_string()));
    let renders = state.tiles.renders();
    assert!(public_tile().await.contains(&"H-1".to_string()));
    assert_eq!(
        state.tiles.renders(),
        renders,
        "the tile is served from the cache"
    );
    // Nothing new to tell yet: approval told the tiles already.
    let quiet = planning::plans::check_validity(&db.pool)
        .await
        .expect("check");
    assert_eq!(
        quiet,
        planning::plans::ValidityCheck {
            ran: true,
            ..Default::default()
        }
    );

    // Midnight passes: the validity has ended. No row or plan is edited by anyone — the day
    // moves, which the test stands in for by moving the plan's dates back one day in SQL (no
    // trigger notifies this). The cached public tile still holds the zone…
    sqlx::query(
        "UPDATE planning.plans SET valid_from = valid_from - 1, valid_until = valid_until - 1,
             approved_on = approved_on - 1 WHERE id = $1",
    )
    .bind(ending)
    .execute(&db.pool)
    .await
    .expect("a day passes");
    assert!(
        public_tile().await.contains(&"H-1".to_string()),
        "stale until told"
    );
    // … the items, read per request, already lack it …
    let items = send(
        &app,
        Method::GET,
        "/collections/planning_zones/items",
        None,
        None,
    )
    .await;
    assert_eq!(codes(&items.json()), Vec::<String>::new());
    // … and the periodic check tells every server once; the tile no longer shows it.
    let before = state.tiles.generation();
    let check = planning::plans::check_validity(&db.pool)
        .await
        .expect("check");
    assert_eq!(
        (check.ran, check.started.clone(), check.ended.clone()),
        (true, vec![], vec![ending])
    );
    notified(&state, before).await;
    assert!(!public_tile().await.contains(&"H-1".to_string()));
    let again = planning::plans::check_validity(&db.pool)
        .await
        .expect("check");
    assert_eq!(
        again,
        planning::plans::ValidityCheck {
            ran: true,
            ..Default::default()
        }
    );

    // A plan approved today that starts tomorrow: not public yet (planners see it).
    let starting = planning::plans::create_draft(
        &db.pool,
        &planning::plans::NewPlan {
            name: "Quy hoạch có hiệu lực từ ngày mai".into(),
            level: "detailed".into(),
            ..Default::default()
        },
    )
    .await
    .expect("plan");
    let zones = write_zones(dir.path(), "starting", &[("S-1", "ODT", LON, LAT, 0.001)]);
    import_into_plan(&db, &zones, starting, true).await;
    planning::plans::approve(
        &db.pool,
        starting,
        &planning::plans::Approval {
            decision_number: "10/QĐ-UBND".into(),
            valid_from: today.succ_opt(),
            ..Default::default()
        },
    )
    .await
    .expect("approve");
    settle(&state).await;
    assert!(!public_tile().await.contains(&"S-1".to_string()));
    let items = send(
        &app,
        Method::GET,
        "/collections/planning_zones/items",
        None,
        None,
    )
    .await;
    assert_eq!(codes(&items.json()), Vec::<String>::new());
    // The day comes: the plan is in force; the check brings it into the public tile.
    sqlx::query(
        "UPDATE planning.plans SET valid_from = valid_from - 1, approved_on = approved_on - 1
         WHERE id = $1",
    )
    .bind(starting)
    .execute(&db.pool)
    .await
    .expect("a day passes");
    assert!(
        !public_tile().await.contains(&"S-1".to_string()),
        "stale until told"
    );
    let before = state.tiles.generation();
    let check = planning::plans::check_validity(&db.pool)
        .await
        .expect("check");
    assert_eq!(
        (check.started.clone(), check.ended.clone()),
        (vec![starting], vec![])
    );
    notified(&state, before).await;
    assert!(public_tile().await.contains(&"S-1".to_string()));

    // One instance at a time: while another holds the check's lock, a check skips.
    let mut other = db.pool.begin().await.expect("tx");
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('planning.validity_check'))")
        .execute(&mut *other)
        .await
        .expect("lock");
    let skipped = planning::plans::check_validity(&db.pool)
        .await
        .expect("check");
    assert!(!skipped.ran);
    other.rollback().await.expect("rollback");
    listener.abort();
}

/// `bando serve` runs the validity check by itself: a plan whose validity has ended leaves the
/// public tile it had been cached in, with no edit and no restart.
#[tokio::test]
async fn bando_serve_drops_the_tiles_of_a_plan_whose_validity_ended() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = planning::plans::create_draft(
        &db.pool,
        &planning::plans::NewPlan {
            name: "Quy hoạch hết hạn hôm nay".into(),
            level: "detailed".into(),
            ..Default::default()
        },
    )
    .await
    .expect("plan");
    let zones = write_zones(dir.path(), "ending", &[("E-1", "TMD", LON, LAT, 0.001)]);
    import_into_plan(&db, &zones, plan, true).await;
    let today: chrono::NaiveDate = sqlx::query_scalar("SELECT current_date")
        .fetch_one(&db.pool)
        .await
        .expect("today");
    planning::plans::approve(
        &db.pool,
        plan,
        &planning::plans::Approval {
            decision_number: "5/QĐ-UBND".into(),
            valid_until: Some(today),
            ..Default::default()
        },
    )
    .await
    .expect("approve");
    let mut cmd = std::process::Command::new(tests::bando_bin());
    cmd.env("DATABASE_URL", &db.url)
        .env("BANDO_DATA_DIR", dir.path().join("state"));
    let server = tests::Bando::start(cmd);
    let (x, y) = tile_of(LON + 0.0005, LAT + 0.0005, 15);
    let url = format!("{}/tiles/planning_zones/15/{x}/{y}.mvt", server.base);
    let client = reqwest::Client::new();
    let codes = || async {
        let r = client.get(&url).send().await.expect("tile");
        assert!(r.status().is_success(), "{}", r.status());
        let gzip = r
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v == "gzip");
        let body = r.bytes().await.expect("body").to_vec();
        let raw = if gzip {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out)
                .expect("gunzip");
            out
        } else {
            body
        };
        tests::decode_mvt(&raw)
            .into_iter()
            .flat_map(|l| l.strings)
            .collect::<Vec<String>>()
    };
    assert!(codes().await.contains(&"E-1".to_string()), "in force today");
    // The day passes (the plan's dates moved back one day in SQL: nothing notifies).
    sqlx::query(
        "UPDATE planning.plans SET valid_from = valid_from - 1, valid_until = valid_until - 1,
             approved_on = approved_on - 1 WHERE id = $1",
    )
    .bind(plan)
    .execute(&db.pool)
    .await
    .expect("a day passes");
    // The server's own check (every 30 s) drops the tile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(75);
    while codes().await.contains(&"E-1".to_string()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired plan is still in the public tile"
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let shown: bool = sqlx::query_scalar("SELECT shown_in_force FROM planning.plans WHERE id = $1")
        .bind(plan)
        .fetch_one(&db.pool)
        .await
        .expect("shown");
    assert!(!shown, "the check recorded what it told");
    server.stop();
}

/// A draft `name` replacing `replaces`, approved by `decision` to start on `valid_from`.
async fn approved_plan(
    db: &TestDb,
    name: &str,
    replaces: Option<i64>,
    decision: &str,
    valid_from: Option<chrono::NaiveDate>,
) -> i64 {
    let plan = planning::plans::NewPlan {
        name: name.into(),
        level: "detailed".into(),
        replaces,
        ..Default::default()
    };
    let id = planning::plans::create_draft(&db.pool, &plan)
        .await
        .expect("draft");
    let approval = planning::plans::Approval {
        decision_number: decision.into(),
        valid_from,
        ..Default::default()
    };
    planning::plans::approve(&db.pool, id, &approval)
        .await
        .expect("approve");
    id
}

/// A plan's status, `superseded_on` and whether it is publicly in force today.
async fn plan_state(db: &TestDb, id: i64) -> (String, Option<chrono::NaiveDate>, bool) {
    sqlx::query_as(
        "SELECT status, superseded_on, planning.publicly_in_force(status, valid_from, valid_until)
         FROM planning.plans WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("state")
}

/// The plans in force on `day` (the dated report's rule).
async fn plans_in_force_on(db: &TestDb, day: chrono::NaiveDate) -> Vec<i64> {
    sqlx::query_scalar("SELECT planning.plans_in_force($1) ORDER BY 1")
        .bind(day)
        .fetch_all(&db.pool)
        .await
        .expect("in force")
}

/// A plan approved to start later leaves the plan it replaces in force until then — publicly
/// and in the report as of a date —; the day it starts, the validity check supersedes the old
/// one and tells the tiles about both; annulling a successor that has not started yet leaves
/// the plan it would have replaced as it was.
#[tokio::test]
async fn a_replaced_plan_stays_in_force_until_its_successor_starts() {
    let db = TestDb::new().await;
    let today: chrono::NaiveDate = sqlx::query_scalar("SELECT current_date")
        .fetch_one(&db.pool)
        .await
        .expect("today");
    let start = today + chrono::Duration::days(10);
    let old = approved_plan(&db, "Quy hoạch chi tiết", None, "1/QĐ-UBND", None).await;
    let new = approved_plan(&db, "Điều chỉnh", Some(old), "2/QĐ-UBND", Some(start)).await;
    assert_eq!(
        plan_state(&db, old).await,
        ("approved".into(), Some(start), true)
    );
    assert_eq!(plan_state(&db, new).await, ("approved".into(), None, false));
    assert_eq!(plans_in_force_on(&db, today).await, vec![old]);
    assert_eq!(plans_in_force_on(&db, start).await, vec![new]);

    // The day comes (stood in for by moving the dates back): superseded, and both told.
    sqlx::query(
        "UPDATE planning.plans SET valid_from = valid_from - 10, approved_on = approved_on - 10,
             superseded_on = superseded_on - 10
         WHERE id = ANY($1)",
    )
    .bind(vec![old, new])
    .execute(&db.pool)
    .await
    .expect("a day later");
    let check = planning::plans::check_validity(&db.pool)
        .await
        .expect("check");
    assert_eq!(
        check,
        planning::plans::ValidityCheck {
            ran: true,
            started: vec![new],
            ended: vec![old],
        }
    );
    assert_eq!(
        plan_state(&db, old).await,
        ("superseded".into(), Some(today), false)
    );
    assert!(plan_state(&db, new).await.2, "the new plan in force");

    // A later amendment, annulled before its start: the plan in force keeps its force and no
    // date of supersession.
    let later = start + chrono::Duration::days(5);
    let amendment =
        approved_plan(&db, "Điều chỉnh lần 2", Some(new), "3/QĐ-UBND", Some(later)).await;
    assert_eq!(
        plan_state(&db, new).await,
        ("approved".into(), Some(later), true)
    );
    let annulled = planning::plans::withdraw(
        &db.pool,
        amendment,
        &planning::plans::Withdrawal {
            decision_number: Some("4/QĐ-UBND".into()),
            ..Default::default()
        },
    )
    .await
    .expect("annul");
    assert_eq!(annulled.restored, Some(new), "{annulled:?}");
    assert_eq!(plan_state(&db, new).await, ("approved".into(), None, true));
    assert_eq!(plans_in_force_on(&db, later).await, vec![new]);
}

#[tokio::test]
async fn bando_import_plan_new_puts_buildings_in_a_draft_that_approval_publishes() {
    // The command line of issue 13: `bando import … --layer buildings --plan NEW` makes a draft
    // holding the file's buildings, `--plan ID` adds to that draft, anonymous readers see
    // none of them until `bando plan approve`; a dry run makes no plan; --plan on a layer
    // that belongs to no plan, or naming no draft, is refused before anything is read.
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let building = |name: &str, code: &str, lon: f64| {
        let path = dir.path().join(format!("{name}.geojson"));
        std::fs::write(
            &path,
            json!({"type": "FeatureCollection", "features": [{"type": "Feature",
                "properties": {"MACT": code, "TRANGTHAI": "planned", "SOTANG": 9},
                "geometry": square(lon, LAT, 0.0002)}]})
            .to_string(),
        )
        .expect("write");
        path
    };
    let cli = |args: &[&str]| {
        let o = std::process::Command::new(tests::bando_bin())
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .args(args)
            .output()
            .expect("run bando");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.success(), text)
    };
    let plans = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM planning.plans")
            .fetch_one(&db.pool)
            .await
            .expect("plans")
    };
    let tower = building("thap", "QH-7", LON);
    let tower_s = tower.to_str().expect("utf-8");

    let (ok, out) = cli(&[
        "import",
        tower_s,
        "--layer",
        "buildings",
        "--plan",
        "NEW",
        "--dry-run",
    ]);
    assert!(ok, "{out}");
    assert_eq!(plans().await, 0, "a dry run made a plan: {out}");

    let (ok, out) = cli(&[
        "import",
        tower_s,
        "--layer",
        "buildings",
        "--plan",
        "NEW",
        "--plan-name",
        "Quy hoạch chi tiết khu trung tâm",
    ]);
    assert!(ok, "{out}");
    let draft: i64 = out
        .lines()
        .find_map(|l| l.strip_prefix("draft plan ")?.strip_suffix(" created"))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no draft plan announced:\n{out}"));
    let kiosk = building("ki-ot", "QH-8", LON + 0.001);
    let (ok, out) = cli(&[
        "import",
        kiosk.to_str().expect("utf-8"),
        "--layer",
        "buildings",
        "--plan",
        &draft.to_string(),
    ]);
    assert!(ok, "{out}");
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT building_code, plan_id FROM planning.buildings ORDER BY building_code",
    )
    .fetch_all(&db.pool)
    .await
    .expect("buildings");
    assert_eq!(
        rows,
        [("QH-7".into(), Some(draft)), ("QH-8".into(), Some(draft))]
    );
    let (name, status): (String, String) =
        sqlx::query_as("SELECT name, status FROM planning.plans WHERE id = $1")
            .bind(draft)
            .fetch_one(&db.pool)
            .await
            .expect("plan");
    assert_eq!(
        (name.as_str(), status.as_str()),
        ("Quy hoạch chi tiết khu trung tâm", "draft")
    );

    // Public readers see the draft's buildings only after approval.
    let public_codes = || async {
        let app = app(
            AppState::new(db.pool.clone()).expect("state"),
            Limits::default(),
        );
        let r = send(
            &app,
            Method::GET,
            "/collections/buildings/items",
            None,
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let mut codes: Vec<String> = r.json()["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter_map(|f| f["properties"]["building_code"].as_str().map(String::from))
            .collect();
        codes.sort();
        codes
    };
    assert!(public_codes().await.is_empty());
    let (ok, out) = cli(&[
        "plan",
        "approve",
        &draft.to_string(),
        "--decision",
        "15/QĐ-UBND",
    ]);
    assert!(ok, "{out}");
    assert_eq!(public_codes().await, ["QH-7", "QH-8"]);

    // Refusals, each before the file is read: no plan made, no row added (the approved plan
    // takes no more rows).
    let draft_s = draft.to_string();
    let before = plans().await;
    for (args, says) in [
        (
            vec!["--layer", "parcels", "--plan", "NEW"],
            "--plan applies to the planning layers",
        ),
        (
            vec!["--layer", "buildings", "--plan", "soon"],
            "write NEW or a plan id",
        ),
        (
            vec!["--layer", "buildings", "--plan", &draft_s],
            "replaces it (--plan NEW)",
        ),
    ] {
        let mut all = vec!["import", tower_s];
        all.extend(args);
        let (ok, out) = cli(&all);
        assert!(!ok, "{all:?} succeeded: {out}");
        assert!(out.contains(says), "{all:?}: {out}");
    }
    assert_eq!(plans().await, before);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM planning.buildings")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 2);
}
