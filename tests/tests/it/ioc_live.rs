//! The IOC's live layers (issue 14, part 4): the latest-value layer in tiles, items and the
//! style, its tiles dropped when a reading arrives; alert rules with hysteresis raising and
//! clearing events once per episode, the events' history and the operators' actions; the SSE
//! feed `/feeds/stream` — snapshot, live readings and events, heartbeats, `Last-Event-ID`
//! resume, the public's view, and a slow client dropped rather than buffered.

use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use ioc::ingest::NewObservation;
use serde_json::{json, Value};
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

use tests::{assert_problem_json, decode_mvt, TestDb};

/// The two stations of `ioc::stations` → the datastreams PM2.5, Water level, Rainfall.
async fn stations(db: &TestDb) -> (i64, i64, i64) {
    let streams = crate::ioc::stations(db).await;
    let id = |name: &str| {
        streams
            .iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("no datastream {name}: {streams:?}"))
    };
    (id("PM2.5"), id("Water level"), id("Rainfall"))
}

fn reading(ds: i64, seconds_ago: i64, value: f64) -> NewObservation {
    NewObservation {
        datastream_id: ds,
        phenomenon_time: chrono::Utc::now() - chrono::Duration::seconds(seconds_ago),
        phenomenon_time_end: None,
        result_time: None,
        result: json!(value),
        result_quality: None,
        parameters: None,
        feature_of_interest_id: None,
    }
}

async fn write(db: &TestDb, readings: &[NewObservation]) {
    let outcome = ioc::ingest::write_batch(&db.pool, readings)
        .await
        .expect("write");
    assert!(outcome.iter().all(Result::is_ok), "{outcome:?}");
}

use tests::http::Reply;

fn request(method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    tests::http::request(method, uri, token, &[("host", "ioc.test")], body)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    tests::http::send(app, method, uri, token, &[("host", "ioc.test")], body).await
}

/// A server state trusting a development issuer, and the issuer.
fn server(db: &TestDb, dir: &std::path::Path) -> (AppState, auth::DevIssuer) {
    let issuer = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", dir.join("keys")),
        |_| None,
    )
    .expect("dev issuer");
    let state = AppState::new(db.pool.clone()).expect("state");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    assert!(state.verifier.set(verifier).is_ok());
    (state, issuer)
}

fn mvt_strings(body: &[u8]) -> Vec<String> {
    decode_mvt(body)
        .into_iter()
        .filter(|l| l.name == "latest_readings")
        .flat_map(|l| l.strings)
        .collect()
}

#[tokio::test]
async fn latest_values_are_a_layer_whose_tiles_follow_the_readings() {
    let db = TestDb::new().await;
    let (pm25, level, rain) = stations(&db).await;
    // Rainfall is kept from the public: anonymous readers never see its row.
    sqlx::query("UPDATE ioc.datastreams SET public = false WHERE id = $1")
        .bind(rain)
        .execute(&db.pool)
        .await
        .expect("private");
    write(&db, &[reading(pm25, 60, 21.5), reading(rain, 60, 3.0)]).await;
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let listener = state.tiles.spawn_invalidation_listener();
    let app = app(state.clone(), Limits::default());

    // Items: every located datastream, read or not, with value, unit, time and status.
    let items = send(
        &app,
        Method::GET,
        "/collections/latest_readings/items?limit=50",
        None,
        None,
    )
    .await;
    assert_eq!(items.status, StatusCode::OK, "{}", items.json());
    let features = items.json()["features"]
        .as_array()
        .cloned()
        .expect("features");
    let by_ds = |fs: &[Value], ds: i64| {
        fs.iter()
            .find(|f| f["properties"]["datastream_id"] == ds)
            .cloned()
    };
    let air = by_ds(&features, pm25).expect("pm2.5 row");
    assert_eq!(air["properties"]["value"], 21.5);
    assert_eq!(air["properties"]["unit"], "µg/m³");
    assert_eq!(air["properties"]["status"], "ok");
    assert!(air["properties"]["observed_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        by_ds(&features, level).expect("level row")["properties"]["status"],
        "no_data"
    );
    assert!(
        by_ds(&features, rain).is_none(),
        "a datastream not public is hidden from anonymous readers"
    );
    // Insiders (administrators; planners) read every row.
    let admin = issuer.issue("quan_tri").expect("token");
    let all = send(
        &app,
        Method::GET,
        "/collections/latest_readings/items?limit=50",
        Some(&admin),
        None,
    )
    .await;
    assert!(by_ds(all.json()["features"].as_array().expect("features"), rain).is_some());

    // The style colours the points by status.
    let style = send(&app, Method::GET, "/styles/planning.json", None, None)
        .await
        .json();
    let layer = style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .find(|l| {
            l["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("latest_readings"))
                && l["type"] == "circle"
        })
        .cloned()
        .unwrap_or_else(|| panic!("no latest_readings circle layer in {style}"));
    let colour = layer["paint"]["circle-color"].to_string();
    assert!(
        colour.contains("status") && colour.contains("#d7191c"),
        "{colour}"
    );

    // The station's tile; a reading over the warning level drops it and the next shows it.
    let t = gis_core::tile::TileCoord::containing(106.883, 11.535, 14).expect("tile");
    let tile = format!("/tiles/latest_readings/14/{}/{}.mvt", t.x, t.y);
    let first = send(&app, Method::GET, &tile, None, None).await;
    assert_eq!(first.status, StatusCode::OK);
    let strings = mvt_strings(&first.body);
    assert!(strings.contains(&"ok".to_string()), "{strings:?}");
    assert!(!strings.contains(&"warning".to_string()), "{strings:?}");
    // Give the listener time to subscribe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let generation = state.tiles.generation();
    write(&db, &[reading(pm25, 0, 62.0)]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state.tiles.generation() == generation {
        assert!(
            std::time::Instant::now() < deadline,
            "a reading did not invalidate the tiles"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state.tiles.sync().await;
    let second = send(&app, Method::GET, &tile, None, None).await;
    let strings = mvt_strings(&second.body);
    assert!(strings.contains(&"warning".to_string()), "{strings:?}");
    // A tile far from the stations was not touched: still served from the cache.
    listener.abort();
}

async fn events_of(db: &TestDb, ds: i64) -> Vec<(i64, String, f64, Option<f64>)> {
    sqlx::query_as(
        "SELECT id, severity, value, clear_value FROM ioc.events WHERE datastream_id = $1 ORDER BY id",
    )
    .bind(ds)
    .fetch_all(&db.pool)
    .await
    .expect("events")
}

#[tokio::test]
async fn alert_rules_raise_once_per_episode_and_clear_with_hysteresis() {
    let db = TestDb::new().await;
    let (_, level, _) = stations(&db).await;
    // Water level: warning at 3.5, cleared at 3.2; alarm at 4.5, cleared at 4.2.
    write(&db, &[reading(level, 100, 3.0)]).await;
    write(&db, &[reading(level, 90, 3.6)]).await;
    // Above the clear level: the same episode, no new event.
    write(&db, &[reading(level, 80, 3.4), reading(level, 70, 3.8)]).await;
    let events = events_of(&db, level).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].1.as_str(), events[0].2, events[0].3),
        ("warning", 3.6, None)
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM ioc.latest_readings WHERE datastream_id = $1")
            .bind(level)
            .fetch_one(&db.pool)
            .await
            .expect("status");
    assert_eq!(status, "warning");
    // One batch: back under the clear level, then up again — a second episode.
    write(&db, &[reading(level, 50, 3.6), reading(level, 60, 3.1)]).await;
    let events = events_of(&db, level).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].3, Some(3.1), "the first episode cleared at 3.1");
    assert_eq!(events[1].3, None);
    // A late reading (older than the latest) changes nothing.
    write(&db, &[reading(level, 500, 1.0)]).await;
    assert_eq!(events_of(&db, level).await.len(), 2);
    // The alarm rule on top.
    write(&db, &[reading(level, 40, 4.6)]).await;
    let events = events_of(&db, level).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].1, "alarm");
    let status: String =
        sqlx::query_scalar("SELECT status FROM ioc.latest_readings WHERE datastream_id = $1")
            .bind(level)
            .fetch_one(&db.pool)
            .await
            .expect("status");
    assert_eq!(status, "alarm");
    write(&db, &[reading(level, 30, 2.0)]).await;
    let status: String =
        sqlx::query_scalar("SELECT status FROM ioc.latest_readings WHERE datastream_id = $1")
            .bind(level)
            .fetch_one(&db.pool)
            .await
            .expect("status");
    assert_eq!(status, "ok", "both episodes cleared");

    // Operators read, acknowledge and close events; everyone else is refused.
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let app = app(state, Limits::default());
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    assert_eq!(
        send(&app, Method::GET, "/feeds/events", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, Method::GET, "/feeds/events", Some(&planner), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let list = send(&app, Method::GET, "/feeds/events", Some(&operator), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["events"].as_array().map(Vec::len), Some(3));
    let first = events[0].0;
    let one = send(
        &app,
        Method::GET,
        &format!("/feeds/events/{first}"),
        Some(&operator),
        None,
    )
    .await
    .json();
    let actions: Vec<&str> = one["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(actions, ["raised", "cleared"]);
    assert!(
        one["title"]
            .as_str()
            .is_some_and(|t| t.contains("Đồng Xoài")),
        "{one}"
    );
    let ack = send(
        &app,
        Method::POST,
        &format!("/feeds/events/{first}/acknowledge"),
        Some(&operator),
        Some(json!({"note": "Đã báo đội ứng phó"})),
    )
    .await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.json());
    assert_eq!(ack.json()["status"], "acknowledged");
    let again = send(
        &app,
        Method::POST,
        &format!("/feeds/events/{first}/acknowledge"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let closed = send(
        &app,
        Method::POST,
        &format!("/feeds/events/{first}/close"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(closed.json()["status"], "closed");
    let history = closed.json()["history"].clone();
    assert_eq!(history[2]["actor"], "van_hanh_ioc");
    assert_eq!(history[2]["note"], "Đã báo đội ứng phó");
    assert_eq!(history[3]["action"], "closed");
    let current = send(&app, Method::GET, "/feeds/events", Some(&operator), None).await;
    assert_eq!(current.json()["events"].as_array().map(Vec::len), Some(2));
    let all = send(
        &app,
        Method::GET,
        "/feeds/events?all=true",
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(all.json()["events"].as_array().map(Vec::len), Some(3));
    // An incident an operator reports.
    let created = send(
        &app,
        Method::POST,
        "/feeds/events",
        Some(&operator),
        Some(
            json!({"kind": "flood", "severity": "critical", "title": "Ngập sâu tại QL14",
                    "location": [106.89, 11.53]}),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    assert_eq!(created.json()["created_by"], "van_hanh_ioc");
    let rules = send(&app, Method::GET, "/feeds/rules", Some(&operator), None).await;
    assert!(rules.json()["rules"]
        .as_array()
        .is_some_and(|r| r.len() >= 6));
    // Bad input: problem JSON, never a 500.
    for (method, uri, body, status) in [
        (Method::GET, "/feeds/events/abc", None, 400),
        (Method::GET, "/feeds/events/999999", None, 404),
        (Method::POST, "/feeds/events/1/explode", None, 404),
        (Method::GET, "/feeds/events?limit=0", None, 400),
        (Method::GET, "/feeds/events?colour=red", None, 400),
        (
            Method::POST,
            "/feeds/events",
            Some(json!({"kind": "flood", "severity": "apocalyptic", "title": "x"})),
            422,
        ),
        (Method::POST, "/feeds/events", Some(json!({"kind": 1})), 400),
        (
            Method::POST,
            "/feeds/events/1/close",
            Some(json!({"note": "x".repeat(1001)})),
            422,
        ),
    ] {
        let r = send(&app, method, uri, Some(&operator), body).await;
        assert_eq!(r.status.as_u16(), status, "{uri}: {}", r.json());
        let ct = r
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_problem_json(r.status.as_u16(), status, &ct, &r.body);
    }
}

/// One SSE message.
#[derive(Debug, Clone, Default)]
struct Msg {
    id: Option<i64>,
    event: String,
    data: Value,
}

/// Reads SSE messages from a streaming response body.
struct SseReader {
    body: Body,
    buf: String,
}

impl SseReader {
    async fn open(app: &Router, token: Option<&str>, last_event_id: Option<&str>) -> SseReader {
        Self::open_at(app, "/feeds/stream", token, last_event_id).await
    }

    async fn open_at(
        app: &Router,
        uri: &str,
        token: Option<&str>,
        last_event_id: Option<&str>,
    ) -> SseReader {
        let mut req = request(Method::GET, uri, token, None);
        if let Some(id) = last_event_id {
            req.headers_mut()
                .insert("last-event-id", id.parse().expect("header"));
        }
        let response = app.clone().oneshot(req).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        SseReader {
            body: response.into_body(),
            buf: String::new(),
        }
    }

    /// The next message (heartbeats included), or `None` when the stream ended.
    async fn next(&mut self) -> Option<Msg> {
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let mut m = Msg::default();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        m.id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        m.event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if m.event.is_empty() && data.is_empty() {
                    continue;
                }
                m.data = serde_json::from_str(&data).unwrap_or(Value::Null);
                return Some(m);
            }
            let frame = tokio::time::timeout(
                Duration::from_secs(10),
                std::future::poll_fn(|cx| std::pin::Pin::new(&mut self.body).poll_frame(cx)),
            )
            .await
            .expect("a message within 10 s")?;
            if let Ok(data) = frame.expect("frame").into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// The next message that is not a heartbeat.
    async fn next_data(&mut self) -> Option<Msg> {
        loop {
            let m = self.next().await?;
            if m.event != "heartbeat" {
                return Some(m);
            }
        }
    }
}

#[tokio::test]
async fn the_live_feed_sends_a_snapshot_then_readings_and_events_and_resumes() {
    let db = TestDb::new().await;
    let (pm25, level, rain) = stations(&db).await;
    sqlx::query("UPDATE ioc.datastreams SET public = false WHERE id = $1")
        .bind(rain)
        .execute(&db.pool)
        .await
        .expect("private");
    write(&db, &[reading(level, 600, 3.6)]).await;
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    state.feeds.set_settings(ioc::feeds::FeedSettings {
        heartbeat: Duration::from_millis(300),
        ..Default::default()
    });
    let app = app(state.clone(), Limits::default());
    let operator = issuer.issue("van_hanh_ioc").expect("token");

    // Operators: a snapshot with every latest value and the open events.
    let mut op = SseReader::open(&app, Some(&operator), None).await;
    let snap = op.next_data().await.expect("snapshot");
    assert_eq!(snap.event, "snapshot");
    let seq0 = snap.id.expect("snapshot id");
    assert_eq!(snap.data["seq"], seq0);
    assert_eq!(
        snap.data["readings"]["features"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(snap.data["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(snap.data["events"][0]["severity"], "warning");
    // The public: public datastreams only, no events.
    let mut public = SseReader::open(&app, None, None).await;
    let psnap = public.next_data().await.expect("snapshot");
    assert_eq!(
        psnap.data["readings"]["features"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(psnap.data["events"], json!([]));

    // A reading, then one that raises an alarm: both arrive live, in order.
    write(&db, &[reading(pm25, 5, 33.0)]).await;
    let r = op.next_data().await.expect("reading");
    assert_eq!(r.event, "reading");
    assert_eq!(r.data["properties"]["datastream_id"], pm25);
    assert_eq!(r.data["properties"]["value"], 33.0);
    assert_eq!(r.data["properties"]["status"], "ok");
    let first_reading = r.id.expect("id");
    assert!(first_reading > seq0);
    write(&db, &[reading(level, 4, 4.7)]).await;
    let r2 = op.next_data().await.expect("reading");
    assert_eq!(r2.event, "reading");
    assert_eq!(r2.data["properties"]["status"], "alarm");
    let e = op.next_data().await.expect("event");
    assert_eq!(e.event, "event");
    assert_eq!(e.data["severity"], "alarm");
    assert_eq!(e.data["status"], "open");
    // Readings of private datastreams and events stay with the operators.
    write(&db, &[reading(rain, 3, 12.0)]).await;
    let r3 = op.next_data().await.expect("rain");
    assert_eq!(r3.data["properties"]["datastream_id"], rain);
    let p1 = public.next_data().await.expect("public reading");
    assert_eq!(p1.data["properties"]["datastream_id"], pm25);
    let p2 = public.next_data().await.expect("public reading");
    assert_eq!(p2.data["properties"]["datastream_id"], level);
    // Heartbeats keep coming while nothing happens.
    let hb = op.next().await.expect("heartbeat");
    assert_eq!(hb.event, "heartbeat");
    assert!(hb.id.is_none());
    // …and the public saw neither the event nor the rainfall: its next message is a heartbeat.
    let p3 = public.next().await.expect("heartbeat");
    assert_eq!(p3.event, "heartbeat", "{p3:?}");

    // Resume after the first reading: the rest, no snapshot — on another instance too (the
    // feed is the database's, not this process's).
    let other = AppState::new(db.pool.clone()).expect("second instance");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    assert!(other.verifier.set(verifier).is_ok());
    let other_app = app_of(other);
    let mut resumed = SseReader::open(
        &other_app,
        Some(&operator),
        Some(&first_reading.to_string()),
    )
    .await;
    let kinds: Vec<(String, Option<i64>)> = [
        resumed.next_data().await.expect("1"),
        resumed.next_data().await.expect("2"),
        resumed.next_data().await.expect("3"),
    ]
    .into_iter()
    .map(|m| (m.event, m.id))
    .collect();
    assert_eq!(
        kinds,
        vec![
            ("reading".to_string(), r2.id),
            ("event".to_string(), e.id),
            ("reading".to_string(), r3.id)
        ]
    );
    // And live from there.
    write(&db, &[reading(pm25, 1, 34.0)]).await;
    let live = resumed.next_data().await.expect("live after resume");
    assert_eq!(live.data["properties"]["value"], 34.0);
    // An id the feed never gave (ahead of it): a fresh snapshot.
    let mut ahead = SseReader::open(&app, Some(&operator), Some("999999999")).await;
    assert_eq!(ahead.next_data().await.expect("snapshot").event, "snapshot");
    // A malformed id is a 400.
    let mut req = request(Method::GET, "/feeds/stream", Some(&operator), None);
    req.headers_mut()
        .insert("last-event-id", "abc".parse().expect("header"));
    let bad = app.clone().oneshot(req).await.expect("response");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // Only the readings around the water station (NM-02 at 106.900, 11.540).
    let mut near = SseReader::open_at(
        &app,
        "/feeds/stream?layers=readings&bbox=106.89,11.535,106.91,11.545",
        Some(&operator),
        None,
    )
    .await;
    let snap = near.next_data().await.expect("snapshot");
    let ids: Vec<i64> = snap.data["readings"]["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["datastream_id"].as_i64())
        .collect();
    assert_eq!(ids, {
        let mut v = vec![level, rain];
        v.sort_unstable();
        v
    });
    assert_eq!(snap.data["events"], json!([]), "events were not asked for");
    write(&db, &[reading(pm25, 0, 35.0)]).await;
    write(&db, &[reading(level, 0, 2.0)]).await;
    let m = near.next_data().await.expect("reading");
    assert_eq!(
        m.data["properties"]["datastream_id"], level,
        "the air station is outside the box, the cleared event not asked for"
    );
    for uri in [
        "/feeds/stream?bbox=1,2,3",
        "/feeds/stream?bbox=10,10,5,5",
        "/feeds/stream?layers=cars",
        "/feeds/stream?colour=red",
    ] {
        let r = send(&app, Method::GET, uri, Some(&operator), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        let ct = r
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_problem_json(r.status.as_u16(), 400, &ct, &r.body);
    }
}

fn app_of(state: AppState) -> Router {
    app(state, Limits::default())
}

#[tokio::test]
async fn a_slow_feed_client_is_dropped_not_buffered() {
    let db = TestDb::new().await;
    let (pm25, _, _) = stations(&db).await;
    let dir = tempfile::tempdir().expect("dir");
    let (state, _issuer) = server(&db, dir.path());
    state.feeds.set_settings(ioc::feeds::FeedSettings {
        client_queue: 4,
        heartbeat: Duration::from_secs(60),
        ..Default::default()
    });
    let app = app(state.clone(), Limits::default());
    let mut slow = SseReader::open(&app, None, None).await;
    let mut fast = SseReader::open(&app, None, None).await;
    assert_eq!(slow.next().await.expect("snapshot").event, "snapshot");
    assert_eq!(fast.next().await.expect("snapshot").event, "snapshot");
    // 20 readings while the slow client reads nothing; the fast one reads them all.
    for i in 0..20 {
        write(&db, &[reading(pm25, 100 - i, 20.0 + i as f64)]).await;
        let m = fast.next_data().await.expect("reading");
        assert_eq!(m.data["properties"]["value"], 20.0 + i as f64);
    }
    assert_eq!(
        state.feeds.dropped_clients(),
        1,
        "the slow client was dropped"
    );
    // What it gets now: at most its queue, then the end of the stream.
    let mut got = 0;
    while let Some(m) = slow.next().await {
        assert_eq!(m.event, "reading");
        got += 1;
    }
    assert!(
        got <= 4,
        "{got} messages were buffered for a client that did not read"
    );
    // Streams per client address are bounded (429), and counted down when they end.
    state.feeds.set_settings(ioc::feeds::FeedSettings {
        max_per_client: 2,
        ..Default::default()
    });
    let from = |port: u16| {
        let mut req = request(Method::GET, "/feeds/stream", None, None);
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [192, 0, 2, 7],
                port,
            ))));
        req
    };
    let a = app.clone().oneshot(from(1000)).await.expect("a");
    let b = app.clone().oneshot(from(1001)).await.expect("b");
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let refused = app.clone().oneshot(from(1002)).await.expect("c");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    drop(a);
    let again = app.clone().oneshot(from(1003)).await.expect("d");
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a closed stream frees its place"
    );
    drop((b, again));
    // The fast client still gets what follows.
    write(&db, &[reading(pm25, 0, 99.0)]).await;
    assert_eq!(
        fast.next_data().await.expect("reading").data["properties"]["value"],
        99.0
    );
}

/// `bando simulate-sensors` publishes every datastream's readings over MQTT as devices do: the
/// subscriber stores them, realistic (within the quantities' usual ranges or an episode).
#[tokio::test]
async fn simulate_sensors_publishes_readings_that_ingest_stores() {
    use ioc::ingest::{Ingest, IngestSettings};
    let db = TestDb::new().await;
    let (pm25, level, rain) = stations(&db).await;
    let dir = tempfile::tempdir().expect("dir");
    let broker = ioc::broker::PrivateBroker::start(dir.path()).expect("private mosquitto");
    let (ingest, _writer) = Ingest::start(db.pool.clone(), IngestSettings::default());
    let mut sub = ioc::mqtt::Subscriber::start(&broker.address(), "bando-test-sim", ingest.clone());
    assert!(sub.wait_subscribed(Duration::from_secs(10)).await);
    let out = tokio::process::Command::new(tests::bando_bin())
        .env("DATABASE_URL", &db.url)
        .env("BANDO_DATA_DIR", dir.path())
        .env("BANDO_MQTT_URL", broker.address().url())
        .args(["simulate-sensors", "--rounds", "3", "--interval", "0.1"])
        .output()
        .await
        .expect("bando simulate-sensors");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("published 9 readings"));
    let stats = ingest.stats();
    for _ in 0..200 {
        if stats.stored() == 9 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stats.stored(), 9, "three rounds of three datastreams");
    let ranges: Vec<(i64, f64, f64, i64)> = sqlx::query_as(
        "SELECT datastream_id, min(result_number), max(result_number), count(*)
         FROM ioc.observations GROUP BY datastream_id ORDER BY datastream_id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("ranges");
    for (ds, min, max, n) in ranges {
        assert_eq!(n, 3);
        let (lo, hi) = if ds == pm25 {
            (5.0, 70.0)
        } else if ds == level {
            (0.5, 4.0)
        } else {
            assert_eq!(ds, rain);
            (0.0, 25.0)
        };
        assert!(min >= lo && max <= hi, "datastream {ds}: {min}…{max}");
    }
    sub.stop();
    broker.stop();
}
