//! Issue 12, load isolation: work classes with their own connections and statement deadlines,
//! queries of dropped requests cancelled, per-client limits, bounded metric labels.
//!
//! Slow feature queries are made deterministic without timing: the test holds an ACCESS
//! EXCLUSIVE lock on `land.parcels`, so every items query on parcels waits (visibly, in
//! `pg_stat_activity`) until the lock is released or the query is cancelled. Tiles of
//! communes do not touch that table.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use gis_core::tile::TileCoord;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use tests::TestDb;
use tile_server::app::{app, AppState, Limits};
use tile_server::load::{ClientSettings, LoadSettings};
use tiles::TileSettings;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

/// A GET from `peer` (what `into_make_service_with_connect_info` gives handlers).
fn get_from(uri: &str, peer: &str, forwarded_for: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri);
    if let Some(f) = forwarded_for {
        builder = builder.header("x-forwarded-for", f);
    }
    let mut request = builder.body(Body::empty()).expect("request");
    let addr: SocketAddr = peer.parse().expect("peer address");
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

fn unlimited_clients() -> ClientSettings {
    ClientSettings {
        max_concurrent: 0,
        per_minute: 0,
        ..ClientSettings::default()
    }
}

/// A database with the sample communes and a router over `load` and `limits`.
async fn setup(load: LoadSettings, limits: Limits) -> (TestDb, AppState, Router) {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let state =
        AppState::with_settings(db.pool.clone(), TileSettings::default(), load).expect("state");
    gis_core::layer::publish(&state.layers.snapshot(), &db.pool)
        .await
        .expect("publish");
    let router = app(state.clone(), limits);
    (db, state, router)
}

/// Holds an ACCESS EXCLUSIVE lock on `land.parcels` until the transaction ends.
async fn lock_parcels(pool: &PgPool) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE land.parcels IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .expect("lock");
    tx
}

/// Statements of `class` (`bando-features`, …) running in this test's database now.
async fn running(conn: &mut PgConnection, db: &TestDb, class: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = $1 AND application_name = $2 AND state = 'active'",
    )
    .bind(&db.name)
    .bind(class)
    .fetch_one(conn)
    .await
    .expect("pg_stat_activity")
}

/// Polls until `running(class)` satisfies `want`, at most `within`; returns the last count.
async fn wait_running(
    conn: &mut PgConnection,
    db: &TestDb,
    class: &str,
    within: Duration,
    want: impl Fn(i64) -> bool,
) -> i64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = running(conn, db, class).await;
        if want(n) || tokio::time::Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn observer(db: &TestDb) -> sqlx::pool::PoolConnection<sqlx::Postgres> {
    db.pool.acquire().await.expect("observer connection")
}

const SLOW_ITEMS: &str =
    "/collections/parcels/items?limit=10000&sortby=-place_name&filter=ACCENTI(place_name)%20LIKE%20'%25a%25o%25'";

fn communes_tile() -> String {
    let t = TileCoord::containing(106.883, 11.535, 12).expect("tile");
    format!("/tiles/communes/{}/{}/{}.mvt", t.z, t.x, t.y)
}

#[tokio::test]
async fn issue_12_a_flood_of_stuck_feature_queries_leaves_tiles_and_health_answering() {
    let mut load = LoadSettings::new(16, Duration::from_secs(120));
    load.features.connections = 2;
    load.features.statement_timeout = Duration::from_secs(60);
    load.clients = unlimited_clients();
    let limits = Limits {
        request_timeout: Duration::from_secs(120),
        ..Limits::default()
    };
    let (db, _state, app) = setup(load, limits).await;
    let mut obs = observer(&db).await;
    let lock = lock_parcels(&db.pool).await;
    let flood: Vec<_> = (0..24)
        .map(|i| {
            let app = app.clone();
            let peer = format!("192.0.2.{}:4000", i + 1);
            tokio::spawn(async move { send(&app, get_from(SLOW_ITEMS, &peer, None)).await })
        })
        .collect();
    // Every feature connection is taken by a query waiting for the lock.
    let stuck = wait_running(
        &mut obs,
        &db,
        "bando-features",
        Duration::from_secs(60),
        |n| n >= 2,
    )
    .await;
    assert_eq!(stuck, 2, "the features class holds its 2 connections");
    // The rest of the server still answers.
    for _ in 0..3 {
        let health = send(&app, get_from("/health", "198.51.100.1:1", None)).await;
        assert_eq!(health.status, StatusCode::OK, "{}", health.body);
        let tile = send(&app, get_from(&communes_tile(), "198.51.100.1:1", None)).await;
        assert_eq!(tile.status, StatusCode::OK, "{}", tile.body);
        let meta = send(
            &app,
            get_from("/collections/communes", "198.51.100.1:1", None),
        )
        .await;
        assert_eq!(meta.status, StatusCode::OK, "{}", meta.body);
    }
    assert_eq!(running(&mut obs, &db, "bando-features").await, 2);
    lock.rollback().await.expect("unlock");
    for task in flood {
        let answer = task.await.expect("request task");
        match answer.status {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(
                    answer.headers.contains_key(header::RETRY_AFTER),
                    "503 without Retry-After"
                );
            }
            other => panic!("flooded request answered {other}: {}", answer.body),
        }
    }
}

#[tokio::test]
async fn issue_12_requests_dropped_by_their_clients_cancel_their_queries() {
    let mut load = LoadSettings::new(16, Duration::from_secs(300));
    load.features.connections = 4;
    // Far longer than the test waits: only cancellation can end the queries in time.
    load.features.statement_timeout = Duration::from_secs(240);
    load.clients = unlimited_clients();
    let limits = Limits {
        request_timeout: Duration::from_secs(300),
        ..Limits::default()
    };
    let (db, _state, app) = setup(load, limits).await;
    let mut obs = observer(&db).await;
    let lock = lock_parcels(&db.pool).await;
    let clients: Vec<_> = (0..10)
        .map(|i| {
            let app = app.clone();
            let peer = format!("192.0.2.{}:4000", i + 1);
            tokio::spawn(async move { send(&app, get_from(SLOW_ITEMS, &peer, None)).await })
        })
        .collect();
    let stuck = wait_running(
        &mut obs,
        &db,
        "bando-features",
        Duration::from_secs(60),
        |n| n >= 4,
    )
    .await;
    assert_eq!(stuck, 4, "queries waiting for the lock");
    // The clients give up.
    for c in &clients {
        c.abort();
    }
    for c in clients {
        assert!(c.await.is_err_and(|e| e.is_cancelled()));
    }
    // The lock is still held: nothing but a cancellation ends those queries.
    let left = wait_running(
        &mut obs,
        &db,
        "bando-features",
        Duration::from_secs(30),
        |n| n == 0,
    )
    .await;
    assert_eq!(left, 0, "queries of dropped requests still running");
    // The class is usable again at once: its connections were freed, not left draining.
    lock.rollback().await.expect("unlock");
    let again = send(
        &app,
        get_from("/collections/parcels/items?limit=1", "192.0.2.99:1", None),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

#[tokio::test]
async fn issue_12_requests_over_the_time_limit_answer_503_and_cancel_their_queries() {
    let mut load = LoadSettings::new(16, Duration::from_secs(300));
    load.features.connections = 3;
    load.features.statement_timeout = Duration::from_secs(240);
    load.clients = unlimited_clients();
    // The HTTP limit alone (statements may run far longer) must end the queries.
    let limits = Limits {
        request_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let (db, _state, app) = setup(load, limits).await;
    let mut obs = observer(&db).await;
    let lock = lock_parcels(&db.pool).await;
    let requests: Vec<_> = (0..3)
        .map(|i| {
            let app = app.clone();
            let peer = format!("192.0.2.{}:4000", i + 1);
            tokio::spawn(async move { send(&app, get_from(SLOW_ITEMS, &peer, None)).await })
        })
        .collect();
    for r in requests {
        let answer = r.await.expect("request");
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.body
        );
        assert!(answer.headers.contains_key(header::RETRY_AFTER));
        let problem: Value = serde_json::from_str(&answer.body).expect("problem JSON");
        assert_eq!(problem["status"], 503);
    }
    let left = wait_running(
        &mut obs,
        &db,
        "bando-features",
        Duration::from_secs(30),
        |n| n == 0,
    )
    .await;
    assert_eq!(left, 0, "queries of timed-out requests still running");
    lock.rollback().await.expect("unlock");
}

#[tokio::test]
async fn issue_12_a_statement_over_its_class_deadline_is_503_with_retry_after() {
    let mut load = LoadSettings::new(16, Duration::from_secs(60));
    load.features.statement_timeout = Duration::from_millis(300);
    load.clients = unlimited_clients();
    let (db, _state, app) = setup(load, Limits::default()).await;
    let mut obs = observer(&db).await;
    let lock = lock_parcels(&db.pool).await;
    let answer = send(&app, get_from(SLOW_ITEMS, "192.0.2.1:1", None)).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.headers[header::RETRY_AFTER], "5");
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let problem: Value = serde_json::from_str(&answer.body).expect("problem JSON");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ran out of time")),
        "{problem}"
    );
    // The lock is still held; the request's other query (count and page run together) ends
    // by its own deadline too.
    let left = wait_running(
        &mut obs,
        &db,
        "bando-features",
        Duration::from_secs(30),
        |n| n == 0,
    )
    .await;
    assert_eq!(left, 0);
    lock.rollback().await.expect("unlock");
}

#[tokio::test]
async fn issue_12_per_client_limits_answer_429_and_ignore_spoofed_forwarded_for() {
    let mut load = LoadSettings {
        clients: ClientSettings {
            max_concurrent: 0,
            per_minute: 1,
            burst: 2,
            ..Default::default()
        },
        ..LoadSettings::default()
    };
    let (db, _state, router) = setup(load.clone(), Limits::default()).await;
    let app = router;
    let uri = "/collections/communes/items?limit=1";
    for _ in 0..2 {
        let ok = send(&app, get_from(uri, "203.0.113.7:5000", None)).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }
    // The same peer claiming to be someone else is still itself.
    let spoofed = send(
        &app,
        get_from(uri, "203.0.113.7:5001", Some("198.51.100.23")),
    )
    .await;
    assert_eq!(
        spoofed.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        spoofed.body
    );
    let wait: u64 = spoofed.headers[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let problem: Value = serde_json::from_str(&spoofed.body).expect("problem JSON");
    assert_eq!(problem["status"], 429);
    // Another client is not affected; tiles and health are never limited.
    let other = send(&app, get_from(uri, "203.0.113.8:5000", None)).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    for _ in 0..5 {
        let tile = send(&app, get_from(&communes_tile(), "203.0.113.7:5000", None)).await;
        assert_eq!(tile.status, StatusCode::OK);
        let health = send(&app, get_from("/health", "203.0.113.7:5000", None)).await;
        assert_eq!(health.status, StatusCode::OK);
    }

    // Behind a configured proxy, X-Forwarded-For names the client.
    load.clients.trusted_proxies = vec!["127.0.0.0/8".parse().expect("block")];
    let state =
        AppState::with_settings(db.pool.clone(), TileSettings::default(), load).expect("state");
    let app = tile_server::app::app(state, Limits::default());
    for _ in 0..2 {
        let ok = send(&app, get_from(uri, "127.0.0.1:6000", Some("198.51.100.1"))).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }
    let limited = send(&app, get_from(uri, "127.0.0.1:6000", Some("198.51.100.1"))).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let another = send(&app, get_from(uri, "127.0.0.1:6000", Some("198.51.100.2"))).await;
    assert_eq!(another.status, StatusCode::OK, "{}", another.body);
}

#[tokio::test]
async fn issue_12_concurrent_requests_per_client_are_bounded() {
    let load = LoadSettings {
        clients: ClientSettings {
            max_concurrent: 1,
            per_minute: 0,
            ..ClientSettings::default()
        },
        ..LoadSettings::default()
    };
    let (db, _state, app) = setup(load, Limits::default()).await;
    let mut obs = observer(&db).await;
    let lock = lock_parcels(&db.pool).await;
    let first = {
        let app = app.clone();
        tokio::spawn(async move { send(&app, get_from(SLOW_ITEMS, "203.0.113.9:1", None)).await })
    };
    let n = wait_running(
        &mut obs,
        &db,
        "bando-features",
        Duration::from_secs(60),
        |n| n >= 1,
    )
    .await;
    assert!(
        n >= 1,
        "the first request's queries (count and page) wait for the lock"
    );
    let second = send(&app, get_from(SLOW_ITEMS, "203.0.113.9:2", None)).await;
    assert_eq!(
        second.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        second.body
    );
    assert!(second.headers.contains_key(header::RETRY_AFTER));
    lock.rollback().await.expect("unlock");
    let first = first.await.expect("first");
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    // Its permit ended with it.
    let third = send(&app, get_from(SLOW_ITEMS, "203.0.113.9:3", None)).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.body);
}

/// A client over its limits is answered 429 only after the refusal delay (a tarpit: one
/// that ignores `Retry-After` makes a request a second per connection, not thousands), from a
/// bounded set of held refusals; past the bound the 429 goes at once and the connection is
/// closed (checked over real TCP, where the server must close it).
#[tokio::test]
async fn issue_12_refusals_are_held_from_a_bounded_set_then_closed() {
    let delay = Duration::from_millis(400);
    let load = LoadSettings {
        clients: ClientSettings {
            max_concurrent: 0,
            per_minute: 1,
            burst: 1,
            refusal_delay: delay,
            held_refusals: 8,
            held_refusals_per_client: 1,
            ..ClientSettings::default()
        },
        ..LoadSettings::default()
    };
    let (db, state, app) = setup(load.clone(), Limits::default()).await;
    let uri = "/collections/communes/items?limit=1";
    let ok = send(&app, get_from(uri, "203.0.113.40:1", None)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // The first refusal is held for the delay, and is the client's one place.
    let held = {
        let app = app.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let answer = send(&app, get_from(uri, "203.0.113.40:2", None)).await;
            (answer, started.elapsed())
        })
    };
    let waiting = std::time::Instant::now();
    while state.limiter.held() == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the refusal was never held"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The client's place is taken: the next refusal goes at once, closing its connection.
    let closed = send(&app, get_from(uri, "203.0.113.40:3", None)).await;
    assert_eq!(
        closed.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        closed.body
    );
    assert_eq!(closed.headers[header::CONNECTION], "close");
    assert!(closed.headers.contains_key(header::RETRY_AFTER));
    // Another refused client has places of its own.
    let _ = send(&app, get_from(uri, "203.0.113.41:1", None)).await;
    let other = send(&app, get_from(uri, "203.0.113.41:2", None)).await;
    assert_eq!(other.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        !other.headers.contains_key(header::CONNECTION),
        "held, not closed"
    );
    let (held, took) = held.await.expect("held request");
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "{}", held.body);
    assert!(!held.headers.contains_key(header::CONNECTION));
    assert!(took >= delay, "answered after {took:?}, before the delay");
    let problem: Value = serde_json::from_str(&held.body).expect("problem JSON");
    assert_eq!(problem["status"], 429);
    assert_eq!(state.limiter.held(), 0, "every place freed once answered");

    // Over TCP, with no place to hold refusals: the server answers 429 and closes.
    let load = LoadSettings {
        clients: ClientSettings {
            held_refusals: 0,
            ..load.clients
        },
        ..load
    };
    let state =
        AppState::with_settings(db.pool.clone(), TileSettings::default(), load).expect("state");
    let router = tile_server::app::app(state, Limits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let ask = |keep: bool| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {uri} HTTP/1.1\r\nHost: bando\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        if keep {
            // A kept-alive connection stays open: read only the head.
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).await.expect("read");
            answer.extend_from_slice(&buf[..n]);
        } else {
            // Only a closed connection ends this read.
            tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
                .await
                .expect("the server closed the connection")
                .expect("read");
        }
        String::from_utf8_lossy(&answer).to_lowercase()
    };
    let first = ask(true).await;
    assert!(first.starts_with("http/1.1 200"), "{first}");
    let refused = ask(false).await;
    assert!(refused.starts_with("http/1.1 429"), "{refused}");
    assert!(refused.contains("connection: close"), "{refused}");
    assert!(refused.contains("retry-after:"), "{refused}");
}

#[tokio::test]
async fn issue_12_made_up_methods_and_paths_add_no_metric_series() {
    let (_db, _state, app) = setup(LoadSettings::default(), Limits::default()).await;
    let series = |body: &str| {
        body.lines()
            .filter(|l| l.starts_with("http_requests_total{") && l.contains("method=\"other\""))
            .count()
    };
    let invent = |i: usize| Method::from_bytes(format!("X{i}QZ").as_bytes()).expect("method");
    let request = |m: Method, uri: &str| {
        Request::builder()
            .method(m)
            .uri(uri)
            .body(Body::empty())
            .expect("request")
    };
    // One of each kind first: its series may be new.
    let _ = send(&app, request(invent(0), "/health")).await;
    let _ = send(&app, request(invent(0), "/no/such/place")).await;
    let before = send(&app, request(Method::GET, "/metrics")).await.body;
    let warm = series(&before);
    assert!((1..=4).contains(&warm), "{before}");
    for i in 1..=300 {
        let answer = send(&app, request(invent(i), "/health")).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        let _ = send(&app, request(invent(i), &format!("/made/up/{i}"))).await;
    }
    let after = send(&app, request(Method::GET, "/metrics")).await.body;
    assert_eq!(series(&after), warm, "{after}");
    assert!(!after.contains("QZ"), "a made-up method became a label");
    assert!(
        !after.contains("/made/up/"),
        "a made-up path became a label"
    );
}

/// The problem of a request the cost guard refuses (422).
async fn refused_for_cost(app: &Router, uri: &str) -> Value {
    let answer = send(app, get_from(uri, "192.0.2.1:1", None)).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    serde_json::from_str(&answer.body).expect("problem JSON")
}

#[tokio::test]
async fn issue_12_a_query_planned_over_the_cost_budget_is_refused_with_its_reasons() {
    let strict = LoadSettings {
        feature_cost_budget: 1.0,
        clients: unlimited_clients(),
        ..LoadSettings::default()
    };
    let (db, _state, app) = setup(strict, Limits::default()).await;
    let problem = refused_for_cost(&app, SLOW_ITEMS).await;
    let reasons = problem["reasons"].as_array().expect("reasons").clone();
    let said = |needle: &str| {
        reasons
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains(needle)))
    };
    assert!(said("wildcard"), "{problem}");
    assert!(said("bbox"), "{problem}");
    assert!(said("ACCENTI"), "{problem}");
    assert!(said("sortby"), "{problem}");
    assert!(
        problem["estimatedCost"].as_f64().is_some_and(|c| c > 1.0),
        "{problem}"
    );
    // ACCENTI is priced per row it may examine (the planner alone prices it as a cheap
    // built-in): without a bbox, every row of the table.
    sqlx::query("ANALYZE land.communes")
        .execute(&db.pool)
        .await
        .expect("analyze");
    let rows: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'land.communes'::regclass")
            .fetch_one(&db.pool)
            .await
            .expect("reltuples");
    assert!(rows > 10.0, "{rows} communes");
    let estimated = |filter: &str| {
        let uri = format!(
            "/collections/communes/items?filter={}",
            filter
                .replace('%', "%25")
                .replace(' ', "%20")
                .replace('\'', "%27")
        );
        let app = app.clone();
        async move {
            let problem = refused_for_cost(&app, &uri).await;
            problem["estimatedCost"].as_f64().expect("estimatedCost")
        }
    };
    let plain_like = estimated("name LIKE '%a%'").await;
    let folded = estimated("ACCENTI(name) LIKE ACCENTI('%a%')").await;
    let per_row = gis_core::features::FOLD_COST_PER_ROW;
    assert!(
        folded - plain_like >= 2.0 * per_row * f64::from(rows) - 1.0,
        "ACCENTI twice over {rows} rows: {plain_like} → {folded}"
    );
    // AND-ed beside a condition the index narrows to one row, it is priced over that row.
    let code: String = sqlx::query_scalar("SELECT legacy_code FROM land.communes LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .expect("code");
    let one = format!("legacy_code = '{code}'");
    let plain_one = estimated(&format!("name LIKE '%a%' AND {one}")).await;
    let folded_one = estimated(&format!("ACCENTI(name) LIKE ACCENTI('%a%') AND {one}")).await;
    assert!(
        folded_one - plain_one <= 2.0 * per_row * 2.0,
        "ACCENTI twice over one row: {plain_one} → {folded_one}"
    );
    // Plain paging is not estimated at all.
    let plain = send(
        &app,
        get_from("/collections/parcels/items?limit=5", "192.0.2.1:1", None),
    )
    .await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    // Under the default budget the same query runs.
    let relaxed = LoadSettings {
        clients: unlimited_clients(),
        ..LoadSettings::default()
    };
    let state =
        AppState::with_settings(db.pool.clone(), TileSettings::default(), relaxed).expect("state");
    let app = tile_server::app::app(state, Limits::default());
    let answer = send(&app, get_from(SLOW_ITEMS, "192.0.2.1:1", None)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
