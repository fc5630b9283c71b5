//! The HTTP surface through `tower::ServiceExt::oneshot`: health, landing page, layers, CRSs,
//! metrics, and problem JSON for every kind of error.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tests::TestDb;
use tile_server::app::{app, with_edge_layers, AppState, Limits};
use tower::ServiceExt;

async fn test_app() -> (TestDb, Router) {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool.clone()).expect("state");
    gis_core::layer::publish(&state.layers.snapshot(), &db.pool)
        .await
        .expect("publish");
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    (db, app(state, Limits::default()))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String, String) {
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = to_bytes(response.into_body(), 10 << 20)
        .await
        .expect("body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).to_string(),
    )
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

/// What Chromium and Firefox send when following a link.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

fn accept_req(uri: &str, accept: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .expect("request")
}

fn assert_problem(status: StatusCode, content_type: &str, body: &str, want: StatusCode) -> Value {
    assert_eq!(status, want, "{body}");
    assert_eq!(content_type, "application/problem+json", "{body}");
    let problem: Value = serde_json::from_str(body).expect("problem JSON");
    assert_eq!(problem["status"], want.as_u16());
    assert!(
        problem["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().is_some_and(|t| t.len() > 10),
        "{problem}"
    );
    assert!(
        problem["request_id"]
            .as_str()
            .is_some_and(|t| t.len() >= 32),
        "{problem}"
    );
    problem
}

#[tokio::test]
async fn health_reports_postgis() {
    let (_db, app) = test_app().await;
    let (status, content_type, body) = send(&app, get_req("/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/json"));
    let health: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(health["status"], "ok");
    assert!(
        health["postgis"]
            .as_str()
            .is_some_and(|v| v.starts_with('3')),
        "{health}"
    );
}

#[tokio::test]
async fn health_is_503_problem_when_the_database_is_gone() {
    // A server where nothing listens: health's own connection cannot be opened.
    let gone = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://bando@127.0.0.1:1/gone")
        .expect("lazy pool");
    let app = app(AppState::new(gone).expect("state"), Limits::default());
    let response = app
        .clone()
        .oneshot(get_req("/health"))
        .await
        .expect("response");
    assert_eq!(
        response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    let (status, content_type, body) = send(&app, get_req("/health")).await;
    assert_problem(
        status,
        &content_type,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
    );
}

#[tokio::test]
async fn landing_page_lists_layers_from_the_database_in_vietnamese_and_english() {
    let (_db, app) = test_app().await;
    let (status, content_type, body) = send(&app, accept_req("/", BROWSER_ACCEPT)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("<html lang=\"vi\">"));
    assert!(
        body.contains("data-layer=\"communes\" data-count=\"12\""),
        "{body}"
    );
    assert!(body.contains("Ranh giới xã, phường"));
    let (status, _, body) = send(&app, accept_req("/?lang=en", BROWSER_ACCEPT)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<html lang=\"en\">"));
    assert!(body.contains("Commune boundaries"));
    // f=html wins over an API client's Accept.
    let (_, content_type, _) = send(&app, accept_req("/?f=html", "*/*")).await;
    assert!(content_type.starts_with("text/html"), "{content_type}");
}

/// API clients get the OGC landing JSON: OWSLib and GDAL send `Accept: */*` (requests' and
/// curl's default), some send nothing; a page that prefers JSON gets JSON too.
#[tokio::test]
async fn landing_page_is_json_for_api_clients() {
    let (_db, app) = test_app().await;
    for request in [
        get_req("/"),
        accept_req("/", "*/*"),
        accept_req("/", "application/json"),
        accept_req("/", "text/html;q=0.5, application/json"),
        accept_req("/?f=json", BROWSER_ACCEPT),
    ] {
        let label = format!(
            "{} {:?}",
            request.uri(),
            request.headers().get(header::ACCEPT)
        );
        let response = app.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{label}");
        assert_eq!(
            response.headers().get(header::VARY).map(|v| v.as_bytes()),
            Some(&b"accept"[..]),
            "{label}"
        );
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            content_type.starts_with("application/json"),
            "{label}: {content_type}"
        );
        let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
        let landing: Value = serde_json::from_slice(&body).expect("landing JSON");
        let rels: Vec<&str> = landing["links"]
            .as_array()
            .expect("links")
            .iter()
            .filter_map(|l| l["rel"].as_str())
            .collect();
        for rel in ["self", "service-desc", "conformance", "data"] {
            assert!(rels.contains(&rel), "{label}: no {rel} in {landing}");
        }
    }
}

#[tokio::test]
async fn layers_and_crs_as_json() {
    let (_db, app) = test_app().await;
    let (status, _, body) = send(&app, get_req("/layers")).await;
    assert_eq!(status, StatusCode::OK);
    let layers: Value = serde_json::from_str(&body).expect("json");
    let communes = layers
        .as_array()
        .and_then(|a| a.iter().find(|l| l["id"] == "communes"))
        .expect("communes");
    assert_eq!(communes["feature_count"], 12);
    assert_eq!(communes["access"], "public");
    let (status, _, body) = send(&app, get_req("/crs")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let crs: Value = serde_json::from_str(&body).expect("json");
    let tm3 = crs
        .as_array()
        .and_then(|a| a.iter().find(|c| c["epsg"] == 9212))
        .expect("9212");
    assert_eq!(tm3["projected"], true);
}

#[tokio::test]
async fn every_error_is_problem_json() {
    let (_db, app) = test_app().await;
    let (s, ct, b) = send(&app, get_req("/no/such/thing")).await;
    assert_problem(s, &ct, &b, StatusCode::NOT_FOUND);
    let (s, ct, b) = send(
        &app,
        Request::builder()
            .method(Method::DELETE)
            .uri("/health")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_problem(s, &ct, &b, StatusCode::METHOD_NOT_ALLOWED);
    // A repeated query key is explained (which one), never a 500 nor a silent pick.
    let (s, ct, b) = send(&app, get_req("/?lang=en&lang=vi&lang")).await;
    let problem = assert_problem(s, &ct, &b, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("lang")),
        "{problem}"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_problem() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool.clone()).expect("state");
    let app = app(
        state,
        Limits {
            body_limit_bytes: 2048,
            ..Limits::default()
        },
    );
    let big = vec![b'x'; 10_000];
    let request = Request::post("/health")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .expect("request");
    let (s, ct, b) = send(&app, request).await;
    assert_problem(s, &ct, &b, StatusCode::PAYLOAD_TOO_LARGE);
}

/// Out of time is the server's failure, not the client's: 503 with `Retry-After`, not 408.
#[tokio::test]
async fn slow_requests_are_503_problem_with_retry_after() {
    let routes = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let app = with_edge_layers(
        routes,
        Limits {
            request_timeout: Duration::from_millis(100),
            ..Limits::default()
        },
    );
    let response = app
        .clone()
        .oneshot(get_req("/slow"))
        .await
        .expect("response");
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let (s, ct, b) = send(&app, get_req("/slow")).await;
    assert_problem(s, &ct, &b, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let (_db, app) = test_app().await;
    let (status, _, _) = send(&app, get_req("/layers")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, content_type, body) = send(&app, get_req("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"));
    assert!(
        body.lines()
            .any(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/layers\"")),
        "{body}"
    );
    assert!(body.contains("bando_db_pool_connections"));
}
