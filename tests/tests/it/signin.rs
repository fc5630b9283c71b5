//! Who is asking (issue 10, first part): bearer tokens from the development issuer — shaped as
//! Keycloak issues them and verified through the same `auth::Verifier` as a real provider's —
//! decide what a reader sees. Anonymous readers and planners never see owner names; land
//! officers and administrators do, in items, tiles and identify; refused tokens are 401 with
//! a `WWW-Authenticate` challenge; answers to signed-in readers are private.

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

use tests::{decode_mvt, TestDb};

const OWNER: &str = "Trần Văn Riêng Tư";

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: header::HeaderName) -> String {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn get(app: &Router, uri: &str, token: Option<&str>) -> Reply {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// Ten parcels of commune 25195 with owner names, the server with the dev issuer's keys, and
/// the issuer (to sign tokens).
async fn setup() -> (TestDb, Router, auth::DevIssuer, tempfile::TempDir) {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("thua.geojson");
    let features: Vec<String> = (0..10)
        .map(|i| {
            let lon = 106.883 + f64::from(i) * 0.0002;
            let (lon2, lat, lat2) = (lon + 0.00018, 11.535, 11.53518);
            format!(
                r#"{{"type":"Feature","properties":{{"MAXA":"25195","SHBANDO":1,"SHTHUA":{n},"MALOAIDAT":"ONT","TENCHU":"{OWNER} {n}"}},"geometry":{{"type":"Polygon","coordinates":[[[{lon},{lat}],[{lon2},{lat}],[{lon2},{lat2}],[{lon},{lat2}],[{lon},{lat}]]]}}}}"#,
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
        Some(10)
    );
    assert_eq!(owner_names(&anonymous.json()), 0);
    assert_eq!(
        owner_names(&get(&app, items, Some(&planner)).await.json()),
        0
    );
    let r = get(&app, items, Some(&officer)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(owner_names(&r.json()), 10);
    assert_eq!(
        owner_names(&get(&app, items, Some(&admin)).await.json()),
        10
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
    let private = get(&app, &uri, Some(&officer)).await;
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
