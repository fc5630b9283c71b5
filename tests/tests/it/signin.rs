//! Who is asking (issue 10, first part): bearer tokens from the development issuer — shaped as
//! Keycloak issues them and verified through the same `auth::Verifier` as a real provider's —
//! decide what a reader sees. Anonymous readers and planners never see owner names; land
//! officers and administrators do, in items, tiles and identify; refused tokens are 401 with
//! a `WWW-Authenticate` challenge; answers to signed-in readers are private.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

use tests::{decode_mvt, TestDb};

const OWNER: &str = "Trần Văn Riêng Tư";
const HOME: &str = "Số nhà riêng";

use tests::http::Reply;

async fn get(app: &Router, uri: &str, token: Option<&str>) -> Reply {
    tests::http::send(app, axum::http::Method::GET, uri, token, &[], None).await
}

/// Fifteen parcels with owner names and addresses (ten of commune 25195, five of 25210), the
/// server with the dev issuer's keys, and the issuer (to sign tokens).
async fn setup() -> (TestDb, Router, auth::DevIssuer, tempfile::TempDir) {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("thua.geojson");
    // Parcels 1–10 in commune 25195 (the demo land officer's), 11–15 in 25210 (not theirs),
    // away from the first ones' tiles.
    let features: Vec<String> = (0..15)
        .map(|i| {
            let (commune, lat) = if i < 10 {
                ("25195", 11.535)
            } else {
                ("25210", 11.545)
            };
            let lon = 106.883 + f64::from(i % 10) * 0.0002;
            let (lon2, lat2) = (lon + 0.00018, lat + 0.00018);
            format!(
                r#"{{"type":"Feature","properties":{{"MAXA":"{commune}","SHBANDO":1,"SHTHUA":{n},"MALOAIDAT":"ONT","TENCHU":"{OWNER} {n}","DIACHI":"{HOME} {n}"}},"geometry":{{"type":"Polygon","coordinates":[[[{lon},{lat}],[{lon2},{lat}],[{lon2},{lat2}],[{lon},{lat2}],[{lon},{lat}]]]}}}}"#,
                n = i + 1
            )
        })
        .collect();
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

fn owner_names(items: &Value) -> usize {
    items["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter(|f| {
            f["properties"]["owner_name"]
                .as_str()
                .is_some_and(|o| o.starts_with(OWNER))
        })
        .count()
}

#[tokio::test]
async fn owner_names_reach_land_officers_and_administrators_only() {
    let (_db, app, issuer, _dir) = setup().await;
    let officer = issuer.issue("can_bo_dia_chinh").expect("token");
    let admin = issuer.issue("quan_tri").expect("token");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let items = "/collections/parcels/items?limit=100";

    // Items.
    let anonymous = get(&app, items, None).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(
        anonymous.json()["features"].as_array().map(Vec::len),
        Some(15)
    );
    assert_eq!(owner_names(&anonymous.json()), 0);
    assert!(!String::from_utf8_lossy(&anonymous.body).contains(HOME));
    assert_eq!(
        owner_names(&get(&app, items, Some(&planner)).await.json()),
        0
    );
    // The officer reads the owners of their commune's ten parcels, the administrator all.
    let r = get(&app, items, Some(&officer)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(owner_names(&r.json()), 10);
    assert_eq!(String::from_utf8_lossy(&r.body).matches(HOME).count(), 10);
    assert_eq!(
        owner_names(&get(&app, items, Some(&admin)).await.json()),
        15
    );

    // Asking for the property itself: 403 for those who may not read it.
    let uri = "/collections/parcels/items?properties=owner_name";
    assert_eq!(get(&app, uri, None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&app, uri, Some(&planner)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&app, uri, Some(&officer)).await.status, StatusCode::OK);

    // Queryables list it only for those who may filter on it.
    let q = "/collections/parcels/queryables";
    assert!(get(&app, q, None).await.json()["properties"]["owner_name"].is_null());
    assert!(get(&app, q, Some(&officer)).await.json()["properties"]["owner_name"].is_object());

    // Tiles: the MVT carries owner names for the officer only, and that tile is private.
    let t = gis_core::tile::TileCoord::containing(106.884, 11.5351, 17).expect("tile");
    let uri = format!("/tiles/parcels/17/{}/{}.mvt", t.x, t.y);
    let public = get(&app, &uri, None).await;
    assert_eq!(public.status, StatusCode::OK);
    let layers = decode_mvt(&public.body);
    let parcels = layers
        .iter()
        .find(|l| l.name == "parcels")
        .expect("parcels");
    assert!(parcels.features > 0);
    assert!(!parcels.keys.contains(&"owner_name".to_string()));
    assert!(public.header(header::CACHE_CONTROL).contains("public"));
    assert!(public.header(header::VARY).contains("Authorization"));
    // A tile cannot be masked per row: the officer's is the public one; the administrator's
    // (province-wide) carries owner names and is private.
    let officer_tile = get(&app, &uri, Some(&officer)).await;
    assert_eq!(officer_tile.body, public.body);
    let private = get(&app, &uri, Some(&admin)).await;
    assert_eq!(private.status, StatusCode::OK);
    let layers = decode_mvt(&private.body);
    let parcels = layers
        .iter()
        .find(|l| l.name == "parcels")
        .expect("parcels");
    assert!(parcels.keys.contains(&"owner_name".to_string()));
    assert!(parcels.strings.iter().any(|s| s.starts_with(OWNER)));
    let cc = private.header(header::CACHE_CONTROL);
    assert!(cc.contains("private") && !cc.contains("public"), "{cc}");
    // The planner's tile is the public one.
    let planner_tile = get(&app, &uri, Some(&planner)).await;
    assert_eq!(planner_tile.body, public.body);
    assert!(planner_tile
        .header(header::CACHE_CONTROL)
        .contains("private"));

    // Identify.
    let uri = "/query/identify?x=106.88309&y=11.53509&zoom=18&layers=parcels";
    let anonymous = get(&app, uri, None).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&anonymous.body).contains(OWNER));
    let officer_view = get(&app, uri, Some(&officer)).await;
    assert_eq!(officer_view.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&officer_view.body).contains(OWNER));
}

#[tokio::test]
async fn refused_tokens_are_401_with_a_challenge_and_never_read_as_anonymous() {
    let (_db, app, issuer, _dir) = setup().await;
    let officer = issuer.issue("can_bo_dia_chinh").expect("token");
    let uri = "/collections/parcels/items?limit=1";

    // Tampered payload: the signature no longer matches.
    let parts: Vec<&str> = officer.split('.').collect();
    assert_eq!(parts.len(), 3);
    let mut payload = parts[1].to_string();
    payload.replace_range(0..1, if payload.starts_with('e') { "f" } else { "e" });
    let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
    // Signed by another issuer's key.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", other_dir.path()),
        |_| None,
    )
    .expect("other issuer")
    .issue("can_bo_dia_chinh")
    .expect("token");
    for (what, token) in [
        ("tampered", tampered.as_str()),
        ("unknown key", other.as_str()),
        ("junk", "abc"),
    ] {
        let r = get(&app, uri, Some(token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        let challenge = r.header(header::WWW_AUTHENTICATE);
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("invalid_token"),
            "{what}: {challenge}"
        );
        let problem = r.json();
        assert_eq!(problem["status"], 401, "{what}");
        assert!(
            !problem["detail"].as_str().unwrap_or("").is_empty(),
            "{what}"
        );
        assert!(
            !String::from_utf8_lossy(&r.body).contains(token),
            "{what}: the token is echoed"
        );
    }
    // Not a bearer token at all.
    let response = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_token_sent_to_a_server_without_sign_in_is_refused() {
    let db = TestDb::new().await;
    let app = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let r = get(&app, "/collections/communes/items", Some("a.b.c")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header(header::WWW_AUTHENTICATE).starts_with("Bearer"));
    assert!(String::from_utf8_lossy(&r.body).contains("no sign-in"));
    // Anonymous requests are unaffected.
    assert_eq!(
        get(&app, "/collections/communes/items", None).await.status,
        StatusCode::OK
    );
}

fn matched(r: &Reply) -> i64 {
    r.json()["numberMatched"].as_i64().unwrap_or(-1)
}

#[tokio::test]
async fn land_officers_read_personal_data_of_their_communes_only_and_are_refused_outside() {
    let (db, app, issuer, _dir) = setup().await;
    let officer = issuer.issue("can_bo_dia_chinh").expect("token");
    let admin = issuer.issue("quan_tri").expect("token");

    // Asking for the owners of a commune outside the scope: 403 naming the scope, not an
    // answer with the owners silently left out.
    let r = get(
        &app,
        "/collections/parcels/items?commune_code=25210&properties=owner_name",
        Some(&officer),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert!(text.contains("25210") && text.contains("25195"), "{text}");
    tests::assert_problem_json(
        r.status.as_u16(),
        403,
        &r.header(header::CONTENT_TYPE),
        &r.body,
    );
    // In their commune: every owner.
    let r = get(
        &app,
        "/collections/parcels/items?commune_code=25195&properties=owner_name",
        Some(&officer),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(owner_names(&r.json()), 10);
    // The other commune's parcels without personal data: answered, with no owners.
    let r = get(
        &app,
        "/collections/parcels/items?commune_code=25210",
        Some(&officer),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["features"].as_array().map(Vec::len), Some(5));
    assert_eq!(owner_names(&r.json()), 0);
    assert!(!String::from_utf8_lossy(&r.body).contains(HOME));

    // Filtering by owner is confined to the scope: it must not reveal, by what it matches,
    // who owns land elsewhere.
    let filter = "/collections/parcels/items?limit=100&filter=owner_name%20LIKE%20%27Tr%25%27";
    let r = get(&app, filter, Some(&officer)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(matched(&r), 10);
    assert_eq!(matched(&get(&app, filter, Some(&admin)).await), 15);
    let sorted = "/collections/parcels/items?limit=100&sortby=owner_name";
    assert_eq!(matched(&get(&app, sorted, Some(&officer)).await), 10);

    // One parcel outside the scope, and identify there: no owner.
    let outside: i64 =
        sqlx::query_scalar("SELECT min(id) FROM land.parcels WHERE commune_code = '25210'")
            .fetch_one(&db.pool)
            .await
            .expect("parcel");
    let r = get(
        &app,
        &format!("/collections/parcels/items/{outside}"),
        Some(&officer),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["properties"]["owner_name"].is_null());
    assert!(!String::from_utf8_lossy(&r.body).contains(OWNER));
    let r = get(
        &app,
        &format!("/collections/parcels/items/{outside}"),
        Some(&admin),
    )
    .await;
    assert!(String::from_utf8_lossy(&r.body).contains(OWNER));
    let uri = "/query/identify?x=106.88309&y=11.54509&zoom=18&layers=parcels";
    let r = get(&app, uri, Some(&officer)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&r.body).contains("25210"),
        "identify found the parcel"
    );
    assert!(!String::from_utf8_lossy(&r.body).contains(OWNER));
    assert!(String::from_utf8_lossy(&get(&app, uri, Some(&admin)).await.body).contains(OWNER));

    // A post-merger code in the token covers the pre-merger communes merged into it.
    sqlx::query(
        "INSERT INTO land.communes (source_id, legacy_code, legacy_name, code, name, province_code, geom)
         VALUES ('t', '25210', 'Xã Thử', '26000', 'Phường Mới', '75',
                 ST_Multi(ST_Transform(ST_MakeEnvelope(106.95, 11.6, 106.96, 11.61, 4326), 9212)))",
    )
    .execute(&db.pool)
    .await
    .expect("commune");
    let merged = issuer
        .issue_with_communes("can_bo_dia_chinh", &["26000"])
        .expect("token");
    let items = "/collections/parcels/items?limit=100";
    let r = get(&app, items, Some(&merged)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(owner_names(&r.json()), 5);
    // No communes: no personal data at all. A scope that is not commune codes: refused.
    let none = issuer
        .issue_with_communes("can_bo_dia_chinh", &[])
        .expect("token");
    assert_eq!(owner_names(&get(&app, items, Some(&none)).await.json()), 0);
    let bad = issuer
        .issue_with_communes("can_bo_dia_chinh", &["25195' OR true --"])
        .expect("token");
    assert_eq!(
        get(&app, items, Some(&bad)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_layer_declared_for_staff_is_invisible_to_anonymous_readers_everywhere() {
    let (db, app, issuer, _dir) = setup().await;
    let state = AppState::new(db.pool.clone()).expect("state");
    gis_core::layer::publish(&state.layers.snapshot(), &db.pool)
        .await
        .expect("publish");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let meters = "water_meters";
    for uri in [
        "/collections",
        "/layers",
        "/tiles",
        "/styles/planning.json",
        "/?f=html",
    ] {
        let anonymous = get(&app, uri, None).await;
        assert_eq!(anonymous.status, StatusCode::OK, "{uri}");
        assert!(
            !String::from_utf8_lossy(&anonymous.body).contains(meters),
            "{uri} shows the staff layer to anonymous readers"
        );
        let staff = get(&app, uri, Some(&planner)).await;
        assert_eq!(staff.status, StatusCode::OK, "{uri}");
        assert!(
            String::from_utf8_lossy(&staff.body).contains(meters),
            "{uri} hides the layer from a planner"
        );
    }
    let t = gis_core::tile::TileCoord::containing(106.884, 11.5351, 17).expect("tile");
    for uri in [
        "/collections/water_meters".to_string(),
        "/collections/water_meters/items".to_string(),
        "/collections/water_meters/queryables".to_string(),
        "/tiles/water_meters.json".to_string(),
        format!("/tiles/water_meters/17/{}/{}.mvt", t.x, t.y),
        format!("/tiles/parcels,water_meters/17/{}/{}.mvt", t.x, t.y),
        "/query/identify?x=106.88309&y=11.53509&zoom=18&layers=water_meters".to_string(),
    ] {
        let anonymous = get(&app, &uri, None).await;
        assert_eq!(anonymous.status, StatusCode::NOT_FOUND, "{uri}");
        let staff = get(&app, &uri, Some(&planner)).await;
        assert!(staff.status.is_success(), "{uri}: {}", staff.status);
    }
    // A tile drawing it is never kept by shared caches.
    let staff = get(
        &app,
        &format!("/tiles/parcels,water_meters/17/{}/{}.mvt", t.x, t.y),
        Some(&planner),
    )
    .await;
    assert!(staff.header(header::CACHE_CONTROL).contains("private"));
}

#[tokio::test]
async fn personal_data_follows_the_rules_in_html_files_search_and_the_planning_report() {
    let (db, app, issuer, _dir) = setup().await;
    let officer = issuer.issue("can_bo_dia_chinh").expect("token");
    let admin = issuer.issue("quan_tri").expect("token");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let count = |r: &Reply, needle: &str| String::from_utf8_lossy(&r.body).matches(needle).count();

    // HTML pages are masked row by row like JSON.
    let html = "/collections/parcels/items?f=html&limit=100";
    assert_eq!(count(&get(&app, html, None).await, OWNER), 0);
    assert_eq!(count(&get(&app, html, Some(&planner)).await, OWNER), 0);
    assert_eq!(count(&get(&app, html, Some(&officer)).await, OWNER), 10);
    assert_eq!(count(&get(&app, html, Some(&admin)).await, OWNER), 15);

    // Files cannot be masked per row: personal data only for province-wide readers.
    let csv = "/collections/parcels/items?f=csv";
    for token in [None, Some(planner.as_str()), Some(officer.as_str())] {
        let r = get(&app, csv, token).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(count(&r, OWNER) + count(&r, HOME), 0, "{token:?}");
    }
    let r = get(&app, csv, Some(&admin)).await;
    assert_eq!(count(&r, OWNER), 15);
    assert_eq!(count(&r, HOME), 15);

    // The parcel search and the planning report are public answers for everyone.
    let id: i64 =
        sqlx::query_scalar("SELECT min(id) FROM land.parcels WHERE commune_code = '25195'")
            .fetch_one(&db.pool)
            .await
            .expect("parcel");
    for uri in [
        "/query/parcels?commune=25195".to_string(),
        format!("/query/planning-report?parcel={id}"),
    ] {
        for token in [None, Some(officer.as_str()), Some(admin.as_str())] {
            let r = get(&app, &uri, token).await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{uri}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert_eq!(count(&r, OWNER) + count(&r, HOME), 0, "{uri} {token:?}");
            assert!(String::from_utf8_lossy(&r.body).contains("25195"), "{uri}");
        }
    }
}
