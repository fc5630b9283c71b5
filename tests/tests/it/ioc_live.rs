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
    // Insiders of the IOC's layers (operators, administrators) read every row; planners are
    // insiders of the planning layers, not of these: public rows only.
    for (user, sees) in [
        ("quan_tri", true),
        ("van_hanh_ioc", true),
        ("chuyen_vien_quy_hoach", false),
    ] {
        let token = issuer.issue(user).expect("token");
        let all = send(
            &app,
            Method::GET,
            "/collections/latest_readings/items?limit=50",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(
            by_ds(all.json()["features"].as_array().expect("features"), rain).is_some(),
            sees,
            "{user}"
        );
    }

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
    // The water station's tile: an operator's has the private datastream too (a class of its
    // own, `private`); anonymous readers' and planners' are the public one.
    let w = gis_core::tile::TileCoord::containing(106.900, 11.540, 14).expect("tile");
    let water = format!("/tiles/latest_readings/14/{}/{}.mvt", w.x, w.y);
    let public = send(&app, Method::GET, &water, None, None).await;
    assert!(mvt_strings(&public.body).contains(&"Water level".to_string()));
    assert!(!mvt_strings(&public.body).contains(&"Rainfall".to_string()));
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let theirs = send(&app, Method::GET, &water, Some(&operator), None).await;
    assert!(mvt_strings(&theirs.body).contains(&"Rainfall".to_string()));
    assert!(theirs.headers[header::CACHE_CONTROL]
        .to_str()
        .is_ok_and(|c| c.starts_with("private")));
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let planners = send(&app, Method::GET, &water, Some(&planner), None).await;
    assert!(mvt_strings(&planners.body).contains(&"Water level".to_string()));
    assert!(!mvt_strings(&planners.body).contains(&"Rainfall".to_string()));
    // Together with a planning layer, each layer in the reader's own class.
    let both = format!(
        "/tiles/planning_zones,latest_readings/14/{}/{}.mvt",
        w.x, w.y
    );
    let theirs = send(&app, Method::GET, &both, Some(&operator), None).await;
    assert!(mvt_strings(&theirs.body).contains(&"Rainfall".to_string()));
    let planners = send(&app, Method::GET, &both, Some(&planner), None).await;
    assert!(!mvt_strings(&planners.body).contains(&"Rainfall".to_string()));
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
    // The reading's warning also raises an event, whose layer's notification may come first:
    // the station's tile is drawn again once the latest-value layer's own has been heard.
    let mut strings = Vec::new();
    for _ in 0..100 {
        state.tiles.sync().await;
        let second = send(&app, Method::GET, &tile, None, None).await;
        strings = mvt_strings(&second.body);
        if strings.contains(&"warning".to_string()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(strings.contains(&"warning".to_string()), "{strings:?}");

    // Below z12 the stations are clustered, each cluster in its most urgent station's status:
    // at z8 a cluster cell is a z11 tile; the two stations share one, so the z8 tile holds one
    // cluster of both, a warning (the air station's) over the water level's lesser status.
    let (air, water) = (
        gis_core::tile::TileCoord::containing(106.883, 11.535, 11).expect("tile"),
        gis_core::tile::TileCoord::containing(106.900, 11.540, 11).expect("tile"),
    );
    assert_eq!(
        (air.x, air.y),
        (water.x, water.y),
        "the fixture's stations share a cell"
    );
    let z8 = gis_core::tile::TileCoord::containing(106.883, 11.535, 8).expect("tile");
    let mut clustered = Vec::new();
    for _ in 0..100 {
        state.tiles.sync().await;
        let r = send(
            &app,
            Method::GET,
            &format!("/tiles/latest_readings/8/{}/{}.mvt", z8.x, z8.y),
            None,
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        clustered = decode_mvt(&r.body)
            .into_iter()
            .filter(|l| l.name == "latest_readings")
            .collect();
        if clustered
            .first()
            .is_some_and(|l| l.strings.contains(&"warning".to_string()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let layer = clustered.first().expect("a latest_readings layer at z8");
    assert_eq!(layer.features, 1, "{layer:?}");
    assert!(layer.keys.contains(&"point_count".to_string()), "{layer:?}");
    assert!(layer.keys.contains(&"status".to_string()), "{layer:?}");
    assert_eq!(layer.strings, vec!["warning".to_string()], "{layer:?}");
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
    // This test is about thresholds: the rate-of-change rules (and the rest) are set aside.
    sqlx::query("UPDATE ioc.alert_rules SET enabled = false WHERE kind <> 'threshold'")
        .execute(&db.pool)
        .await
        .expect("rules");
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
    // The rise (1.1 m in ten minutes) is fast too: the rate-of-change rule's event.
    let e2 = op.next_data().await.expect("event");
    assert_eq!(
        (e2.event.as_str(), e2.data["kind"].as_str()),
        ("event", Some("rate_of_change"))
    );
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
        resumed.next_data().await.expect("4"),
    ]
    .into_iter()
    .map(|m| (m.event, m.id))
    .collect();
    assert_eq!(
        kinds,
        vec![
            ("reading".to_string(), r2.id),
            ("event".to_string(), e.id),
            ("event".to_string(), e2.id),
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

/// Asserts that a reply is problem JSON of its own status.
fn problem(r: &Reply) {
    let ct = r
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_problem_json(r.status.as_u16(), r.status.as_u16(), ct, &r.body);
}

fn event_strings(body: &[u8]) -> Vec<String> {
    decode_mvt(body)
        .into_iter()
        .filter(|l| l.name == "events")
        .flat_map(|l| l.strings)
        .collect()
}

/// Waits until the tile service has applied a change notified after `generation`.
async fn tiles_dropped(state: &AppState, generation: u64, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state.tiles.generation() == generation {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not drop tiles"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state.tiles.sync().await;
}

#[tokio::test]
async fn events_are_a_staff_layer_whose_tiles_follow_the_events() {
    let db = TestDb::new().await;
    let (pm25, _, rain) = stations(&db).await;
    // Rainfall is private: its events are for IOC operators (and administrators) only.
    sqlx::query("UPDATE ioc.datastreams SET public = false WHERE id = $1")
        .bind(rain)
        .execute(&db.pool)
        .await
        .expect("private");
    // PM2.5 over the alarm level at the air station; heavy rain at the water station.
    write(&db, &[reading(pm25, 30, 160.0), reading(rain, 30, 70.0)]).await;
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let listener = state.tiles.spawn_invalidation_listener();
    let app = app(state.clone(), Limits::default());
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let admin = issuer.issue("quan_tri").expect("token");

    // Anonymous readers do not see the layer at all.
    let items = "/collections/events/items?limit=100";
    assert_eq!(
        send(&app, Method::GET, items, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let t = gis_core::tile::TileCoord::containing(106.883, 11.535, 14).expect("tile");
    let tile = format!("/tiles/events/14/{}/{}.mvt", t.x, t.y);
    assert_eq!(
        send(&app, Method::GET, &tile, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let layers = send(&app, Method::GET, "/layers", None, None).await.json();
    assert!(!layers.to_string().contains("\"events\""), "{layers}");

    // Operators and administrators read every open event with type, severity, status, time.
    let kinds = |r: &Reply| -> Vec<(String, String, String)> {
        let mut out: Vec<(String, String, String)> = r.json()["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| {
                let p = &f["properties"];
                assert!(
                    p["raised_at"].as_str().is_some_and(|t| t.ends_with('Z')),
                    "{p}"
                );
                assert!(p["title"].is_string() && p["event_id"].is_number(), "{p}");
                (
                    p["kind"].as_str().unwrap_or_default().to_string(),
                    p["severity"].as_str().unwrap_or_default().to_string(),
                    p["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let open = |sev: &str| ("threshold".to_string(), sev.to_string(), "open".to_string());
    for token in [&operator, &admin] {
        let r = send(&app, Method::GET, items, Some(token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json());
        // PM2.5 raised warning and alarm; rainfall warning and alarm.
        assert_eq!(
            kinds(&r),
            vec![
                open("alarm"),
                open("alarm"),
                open("warning"),
                open("warning")
            ]
        );
    }
    // Planners (staff, not operators) read the events of public datastreams only.
    let theirs = send(&app, Method::GET, items, Some(&planner), None).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(kinds(&theirs), vec![open("alarm"), open("warning")]);
    assert!(theirs.json()["features"]
        .as_array()
        .expect("features")
        .iter()
        .all(|f| f["properties"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("PM2.5"))));

    // The style colours the events by severity and fades acknowledged ones.
    let style = send(
        &app,
        Method::GET,
        "/styles/planning.json",
        Some(&operator),
        None,
    )
    .await
    .json();
    let layer = style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .find(|l| l["source-layer"] == "events" && l["type"] == "circle")
        .cloned()
        .unwrap_or_else(|| panic!("no events circle layer in {style}"));
    let paint = layer["paint"].to_string();
    assert!(
        paint.contains("severity") && paint.contains("#7f0000") && paint.contains("acknowledged"),
        "{paint}"
    );

    // Tiles: an operator's tile has the events; creating, acknowledging and closing one
    // drops the tile and the next render follows.
    let first = send(&app, Method::GET, &tile, Some(&operator), None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.headers[header::CACHE_CONTROL]
        .to_str()
        .is_ok_and(|c| c.starts_with("private")));
    let strings = event_strings(&first.body);
    assert!(strings.contains(&"alarm".to_string()), "{strings:?}");
    assert!(!strings.contains(&"fire".to_string()), "{strings:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let generation = state.tiles.generation();
    let created = send(
        &app,
        Method::POST,
        "/feeds/events",
        Some(&operator),
        Some(
            json!({"kind": "fire", "severity": "critical", "title": "Cháy kho hàng",
                    "location": [106.8831, 11.5351]}),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    let id = created.json()["id"].as_i64().expect("id");
    tiles_dropped(&state, generation, "creating an event").await;
    let strings = event_strings(
        &send(&app, Method::GET, &tile, Some(&operator), None)
            .await
            .body,
    );
    assert!(strings.contains(&"fire".to_string()), "{strings:?}");
    assert!(
        strings.contains(&"Cháy kho hàng".to_string()),
        "{strings:?}"
    );
    // An operator's report has no datastream: planners see it too.
    let theirs = send(&app, Method::GET, &tile, Some(&planner), None).await;
    assert!(event_strings(&theirs.body).contains(&"fire".to_string()));

    let generation = state.tiles.generation();
    let ack = send(
        &app,
        Method::POST,
        &format!("/feeds/events/{id}/acknowledge"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(ack.status, StatusCode::OK);
    tiles_dropped(&state, generation, "acknowledging an event").await;
    let strings = event_strings(
        &send(&app, Method::GET, &tile, Some(&operator), None)
            .await
            .body,
    );
    assert!(strings.contains(&"acknowledged".to_string()), "{strings:?}");

    let generation = state.tiles.generation();
    let closed = send(
        &app,
        Method::POST,
        &format!("/feeds/events/{id}/close"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(closed.status, StatusCode::OK);
    tiles_dropped(&state, generation, "closing an event").await;
    let strings = event_strings(
        &send(&app, Method::GET, &tile, Some(&operator), None)
            .await
            .body,
    );
    assert!(
        !strings.contains(&"fire".to_string()),
        "closed events leave the map: {strings:?}"
    );
    let r = send(&app, Method::GET, items, Some(&operator), None).await;
    assert_eq!(r.json()["features"].as_array().map(Vec::len), Some(4));

    // A datastream made public brings its events to the other staff at once.
    sqlx::query("UPDATE ioc.datastreams SET public = true WHERE id = $1")
        .bind(rain)
        .execute(&db.pool)
        .await
        .expect("public");
    let theirs = send(&app, Method::GET, items, Some(&planner), None).await;
    assert_eq!(theirs.json()["features"].as_array().map(Vec::len), Some(4));
    listener.abort();
}

async fn events_of_kind(db: &TestDb, ds: i64, kind: &str) -> Vec<(i64, f64, Option<f64>)> {
    sqlx::query_as(
        "SELECT id, value, clear_value FROM ioc.events
         WHERE datastream_id = $1 AND kind = $2 ORDER BY id",
    )
    .bind(ds)
    .bind(kind)
    .fetch_all(&db.pool)
    .await
    .expect("events")
}

#[tokio::test]
async fn rate_of_change_rules_raise_once_per_episode() {
    let db = TestDb::new().await;
    let (_, level, _) = stations(&db).await;
    // Water level rising fast: warning from 0.5 m/h, cleared under 0.2 m/h (migration 6004).
    write(&db, &[reading(level, 3600, 2.0)]).await;
    // +0.3 m in 30 min = 0.6 m/h: an episode.
    write(&db, &[reading(level, 1800, 2.3)]).await;
    let raised = events_of_kind(&db, level, "rate_of_change").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert!((raised[0].1 - 0.6).abs() < 1e-9, "{raised:?}");
    // Still rising, at 0.3 m/h (within the band): the same episode. Readings seconds apart
    // are measured from the reading at least a minute older, not from each other.
    write(
        &db,
        &[
            reading(level, 1200, 2.35),
            reading(level, 1195, 2.36),
            reading(level, 1190, 2.37),
        ],
    )
    .await;
    assert_eq!(events_of_kind(&db, level, "rate_of_change").await.len(), 1);
    // Level: 0.1 m/h — cleared. Then fast again: a second episode.
    write(&db, &[reading(level, 600, 2.38)]).await;
    let cleared = events_of_kind(&db, level, "rate_of_change").await;
    assert!(cleared[0].2.is_some_and(|v| v < 0.2), "{cleared:?}");
    write(&db, &[reading(level, 300, 2.6)]).await;
    let events = events_of_kind(&db, level, "rate_of_change").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].2, None);
    // No threshold was crossed (2.6 m < 3.5 m).
    assert!(events_of_kind(&db, level, "threshold").await.is_empty());
}

#[tokio::test]
async fn missing_data_is_raised_once_by_one_instance_and_cleared_by_a_reading() {
    let db = TestDb::new().await;
    let (pm25, level, rain) = stations(&db).await;
    // Missing data: warning after 30 minutes without a reading, cleared within 10 (6004).
    let now = chrono::Utc::now();
    write(
        &db,
        &[reading(pm25, 45 * 60, 20.0), reading(level, 5 * 60, 2.0)],
    )
    .await;
    // Rainfall never reported: counted from its datastream's making (just now), so not yet.
    // While another instance holds the check, this one does nothing.
    let mut other = db.pool.begin().await.expect("tx");
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('ioc.missing_check'))")
        .execute(&mut *other)
        .await
        .expect("lock");
    let skipped = ioc::alerts::check_missing(&db.pool, now)
        .await
        .expect("check");
    assert!(!skipped.ran && skipped.raised.is_empty());
    other.rollback().await.expect("rollback");
    // Two instances checking at once: one episode, one event.
    let (a, b) = tokio::join!(
        ioc::alerts::check_missing(&db.pool, now),
        ioc::alerts::check_missing(&db.pool, now)
    );
    let (a, b) = (a.expect("check a"), b.expect("check b"));
    assert_eq!(a.raised.len() + b.raised.len(), 1, "{a:?} {b:?}");
    let missing = events_of_kind(&db, pm25, "missing_data").await;
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        (missing[0].1 - 45.0).abs() < 0.2,
        "minutes without data: {missing:?}"
    );
    assert!(events_of_kind(&db, level, "missing_data").await.is_empty());
    assert!(events_of_kind(&db, rain, "missing_data").await.is_empty());
    let status: String =
        sqlx::query_scalar("SELECT status FROM ioc.latest_readings WHERE datastream_id = $1")
            .bind(pm25)
            .fetch_one(&db.pool)
            .await
            .expect("status");
    assert_eq!(status, "warning");
    // Later checks raise nothing new for the same episode.
    let again = ioc::alerts::check_missing(&db.pool, now + chrono::Duration::minutes(5))
        .await
        .expect("check");
    assert!(again.ran && again.raised.is_empty(), "{again:?}");
    // A fresh reading ends the episode (ingest clears it).
    write(&db, &[reading(pm25, 10, 22.0)]).await;
    let missing = events_of_kind(&db, pm25, "missing_data").await;
    assert_eq!(missing.len(), 1);
    assert!(missing[0].2.is_some(), "cleared: {missing:?}");
    let state: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ioc.alert_state s JOIN ioc.alert_rules r ON r.id = s.rule_id
         WHERE r.kind = 'missing'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("state");
    assert_eq!(state, 0);
    // Silent again for long enough: a new episode.
    let later = chrono::Utc::now() + chrono::Duration::minutes(40);
    let c = ioc::alerts::check_missing(&db.pool, later)
        .await
        .expect("check");
    assert_eq!(
        c.raised.len(),
        3,
        "PM2.5, the water level and the rainfall that never reported: {c:?}"
    );
    assert_eq!(events_of_kind(&db, pm25, "missing_data").await.len(), 2);
}

#[tokio::test]
async fn alert_rules_are_edited_over_http_by_operators() {
    let db = TestDb::new().await;
    let (_, level, _) = stations(&db).await;
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let app = app(state.clone(), Limits::default());
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let rule = json!({"observed_property": "Water level", "kind": "threshold",
        "severity": "warning", "direction": "below", "raise_at": 0.5, "clear_at": 0.8,
        "title": "Mực nước quá thấp", "title_en": "Water level too low"});
    // Only operators and administrators.
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(planner.as_str()), StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            send(&app, Method::GET, "/feeds/rules", token, None)
                .await
                .status,
            status
        );
        let r = send(
            &app,
            Method::POST,
            "/feeds/rules",
            token,
            Some(rule.clone()),
        )
        .await;
        assert_eq!(r.status, status);
        problem(&r);
    }
    let before = send(&app, Method::GET, "/feeds/rules", Some(&operator), None).await;
    assert_eq!(before.status, StatusCode::OK);
    let count = before.json()["rules"].as_array().map_or(0, Vec::len);
    assert!(before.json()["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .any(|r| r["kind"] == "missing"));

    let created = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(rule.clone()),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    let id = created.json()["id"].as_i64().expect("id");
    assert_eq!(created.json()["direction"], "below");
    assert!(created.headers[header::LOCATION]
        .to_str()
        .is_ok_and(|l| l.ends_with(&format!("/feeds/rules/{id}"))));
    // It is evaluated from the next reading.
    write(&db, &[reading(level, 60, 0.4)]).await;
    let low: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ioc.events WHERE rule_id = $1 AND datastream_id = $2",
    )
    .bind(id)
    .bind(level)
    .fetch_one(&db.pool)
    .await
    .expect("events");
    assert_eq!(low, 1);
    // A second rule of the same property, kind, severity and direction: 409.
    let twice = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(rule.clone()),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    problem(&twice);
    // Rules that do not hold together: 422 saying why; bodies that are not rules: 400.
    for (bad, why) in [
        (json!({"raise_at": 0.9}), "clear_at"),
        (json!({"kind": "sometimes"}), "kind"),
        (json!({"severity": "critical"}), "severity"),
        (
            json!({"observed_property": "Nhiệt độ"}),
            "observed property",
        ),
        (json!({"kind": "missing"}), "minutes"),
        (json!({"title": " "}), "title"),
        (json!({"raise_at": 1e300}), "raise_at"),
    ] {
        let mut body = rule.clone();
        for (k, v) in bad.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = send(
            &app,
            Method::POST,
            "/feeds/rules",
            Some(&operator),
            Some(body),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        problem(&r);
        assert!(
            r.json()["detail"].as_str().is_some_and(|d| d.contains(why)),
            "{bad}: {}",
            r.json()
        );
    }
    let r = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(json!({"raise_at": "high"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(
        &app,
        Method::PUT,
        "/feeds/rules/abc",
        Some(&operator),
        Some(rule.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Update: new levels keep the episode; disabling ends it.
    let mut changed = rule.clone();
    changed["raise_at"] = json!(0.3);
    changed["clear_at"] = json!(0.6);
    let r = send(
        &app,
        Method::PUT,
        &format!("/feeds/rules/{id}"),
        Some(&operator),
        Some(changed.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["raise_at"], 0.3);
    let episodes = |id: i64| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ioc.alert_state WHERE rule_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("state")
        }
    };
    assert_eq!(episodes(id).await, 1);
    changed["enabled"] = json!(false);
    let r = send(
        &app,
        Method::PUT,
        &format!("/feeds/rules/{id}"),
        Some(&operator),
        Some(changed),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(episodes(id).await, 0);
    let status: String =
        sqlx::query_scalar("SELECT status FROM ioc.latest_readings WHERE datastream_id = $1")
            .bind(level)
            .fetch_one(&db.pool)
            .await
            .expect("status");
    assert_eq!(status, "ok", "the layer follows the ended episode");
    let one = send(
        &app,
        Method::GET,
        &format!("/feeds/rules/{id}"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(one.json()["enabled"], false);
    // Delete: gone, its event stays.
    let r = send(
        &app,
        Method::DELETE,
        &format!("/feeds/rules/{id}"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(
        &app,
        Method::DELETE,
        &format!("/feeds/rules/{id}"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    problem(&r);
    let after = send(&app, Method::GET, "/feeds/rules", Some(&operator), None).await;
    assert_eq!(after.json()["rules"].as_array().map_or(0, Vec::len), count);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM ioc.events WHERE datastream_id = $1 AND title LIKE 'Mực nước quá thấp%'")
        .bind(level)
        .fetch_one(&db.pool)
        .await
        .expect("events");
    assert_eq!(kept, 1);

    // Every change of the rules is in the audit log, by the operator.
    state.audit.flush().await;
    let log: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, coalesce(detail, '') FROM platform.audit_log
         WHERE event = 'write' AND path LIKE '/feeds/rules%' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("audit");
    let details: Vec<&str> = log.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(details.len(), 4, "{details:?}");
    assert!(log.iter().all(|(actor, _)| actor == "van_hanh_ioc"));
    assert!(details[0].contains("created") && details[0].contains("Water level"));
    assert!(details[2].contains("disabled") && details[3].contains("deleted"));

    // The paths are in the OpenAPI document.
    let api = send(&app, Method::GET, "/api", None, None).await.json();
    for (path, method) in [
        ("/feeds/rules", "get"),
        ("/feeds/rules", "post"),
        ("/feeds/rules/{id}", "put"),
        ("/feeds/rules/{id}", "delete"),
        ("/admin/device-tokens", "post"),
        ("/admin/device-tokens/{id}", "delete"),
    ] {
        let op = &api["paths"][path][method];
        assert!(op["responses"]["403"].is_object(), "{path} {method}: {op}");
    }
}

#[tokio::test]
async fn device_tokens_post_to_their_things_datastreams_only() {
    let db = TestDb::new().await;
    let (pm25, level, _) = stations(&db).await;
    let air_thing: i64 = sqlx::query_scalar("SELECT thing_id FROM ioc.datastreams WHERE id = $1")
        .bind(pm25)
        .fetch_one(&db.pool)
        .await
        .expect("thing");
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let app = app(state.clone(), Limits::default());
    let admin = issuer.issue("quan_tri").expect("token");
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    // Tokens are made by administrators only.
    let ask = json!({"thing": air_thing, "label": "Cảm biến bụi KK-01"});
    assert_eq!(
        send(
            &app,
            Method::POST,
            "/admin/device-tokens",
            Some(&operator),
            Some(ask.clone())
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &app,
            Method::POST,
            "/admin/device-tokens",
            None,
            Some(ask.clone())
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let made = send(
        &app,
        Method::POST,
        "/admin/device-tokens",
        Some(&admin),
        Some(ask),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json());
    let token = made.json()["token"].as_str().expect("token").to_string();
    let token_id = made.json()["id"].as_i64().expect("id");
    assert!(token.starts_with("bdt_") && token.len() >= 40, "{token}");
    // Stored hashed: the secret is nowhere in the table, nor in the list.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ioc.device_tokens t
         WHERE t.token_sha256 = sha256(convert_to($1, 'UTF8'))
           AND position($1 in t.hint || t.label) = 0",
    )
    .bind(&token)
    .fetch_one(&db.pool)
    .await
    .expect("stored");
    assert_eq!(stored, 1);
    let list = send(
        &app,
        Method::GET,
        "/admin/device-tokens",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&list.body).contains(&token));
    assert_eq!(list.json()["tokens"][0]["thing_id"], air_thing);
    let no_thing = send(
        &app,
        Method::POST,
        "/admin/device-tokens",
        Some(&admin),
        Some(json!({"thing": 999_999})),
    )
    .await;
    assert_eq!(no_thing.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The device posts to its own datastream…
    let obs = |ds: i64| json!({"phenomenonTime": chrono::Utc::now().to_rfc3339(), "result": 31.5, "Datastream": {"@iot.id": ds}});
    let own = send(
        &app,
        Method::POST,
        "/sta/v1.1/Observations",
        Some(&token),
        Some(obs(pm25)),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.json());
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ioc.observations WHERE datastream_id = $1")
            .bind(pm25)
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(stored, 1);
    let path = format!("/sta/v1.1/Datastreams({pm25})/Observations");
    let own = send(
        &app,
        Method::POST,
        &path,
        Some(&token),
        Some(json!({"result": 32.0})),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.json());
    // …not to another Thing's (nothing stored), and its token reads as no person's.
    let other = send(
        &app,
        Method::POST,
        "/sta/v1.1/Observations",
        Some(&token),
        Some(obs(level)),
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.json());
    problem(&other);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ioc.observations WHERE datastream_id = $1")
            .bind(level)
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0);
    assert_eq!(
        send(&app, Method::GET, "/feeds/events", Some(&token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A made-up token and a revoked one: 401.
    let fake = format!("bdt_{}", "A".repeat(43));
    let r = send(
        &app,
        Method::POST,
        "/sta/v1.1/Observations",
        Some(&fake),
        Some(obs(pm25)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    let revoked = send(
        &app,
        Method::DELETE,
        &format!("/admin/device-tokens/{token_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let r = send(
        &app,
        Method::POST,
        "/sta/v1.1/Observations",
        Some(&token),
        Some(obs(pm25)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    problem(&r);
    // Issuing and revoking are in the audit log, by whom, without the secret.
    state.audit.flush().await;
    let log: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, method, coalesce(detail, '') FROM platform.audit_log
         WHERE event = 'write' AND path LIKE '/admin/device-tokens%' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("audit");
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[0].0.as_str(), log[0].1.as_str()), ("quan_tri", "POST"));
    assert!(log[0].2.contains(&format!("Thing {air_thing}")), "{log:?}");
    assert!(log[1].2.contains("revoked"), "{log:?}");
    assert!(log.iter().all(|(_, _, d)| !d.contains(&token)));
}

/// Traffic counts: the traffic monitoring cameras (not the others) are seeded as Things with a
/// `Traffic count` datastream at the camera, on the latest-value layer, and the simulator feeds
/// them whole vehicles per hour.
#[tokio::test]
async fn traffic_cameras_count_vehicles_and_the_simulator_feeds_them() {
    let db = TestDb::new().await;
    stations(&db).await;
    sqlx::query(
        "INSERT INTO sectors.cameras (source_id, code, name, camera_type, geom) VALUES
         ('CAM-001', 'CAM-001', 'Ngã tư Đồng Xoài', 'Giám sát giao thông',
          ST_Transform(ST_SetSRID(ST_MakePoint(106.8905, 11.5380), 4326), 9212)),
         ('CAM-002', 'CAM-002', 'Cổng UBND tỉnh', 'An ninh trật tự',
          ST_Transform(ST_SetSRID(ST_MakePoint(106.8950, 11.5390), 4326), 9212))",
    )
    .execute(&db.pool)
    .await
    .expect("cameras");
    let seeded = ioc::seed::seed_stations(&db.pool).await.expect("seed");
    assert_eq!((seeded.things, seeded.datastreams), (1, 1));
    let (ds, unit, station): (i64, String, String) = sqlx::query_as(
        "SELECT d.id, d.unit_symbol, t.station_code FROM ioc.datastreams d
         JOIN ioc.things t ON t.id = d.thing_id
         JOIN ioc.observed_properties op ON op.id = d.observed_property_id
         WHERE op.name = 'Traffic count'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("traffic datastream");
    assert_eq!((unit.as_str(), station.as_str()), ("xe/h", "CAM-001"));
    let located: bool = sqlx::query_scalar(
        "SELECT ST_DWithin(ST_Transform(geom, 4326)::geography,
                           ST_SetSRID(ST_MakePoint(106.8905, 11.5380), 4326)::geography, 1)
         FROM ioc.latest_readings WHERE datastream_id = $1",
    )
    .bind(ds)
    .fetch_one(&db.pool)
    .await
    .expect("on the layer");
    assert!(located);
    // The simulator feeds it whole counts within the usual range (or an episode above it).
    let streams = ioc::simulate::streams(&db.pool).await.expect("streams");
    let traffic = streams.iter().find(|s| s.id == ds).expect("fed");
    assert!(traffic.count);
    assert_eq!(traffic.alarm_at, Some(2000.0), "the heavy-traffic rule");
    let mut sim = ioc::simulate::Simulator::new(streams.clone(), 3);
    sim.episode_every = 0;
    for _ in 0..20 {
        for (id, v) in sim.step() {
            if id == ds {
                assert_eq!(v, v.round(), "{v}");
                assert!((100.0..=2000.0).contains(&v), "{v}");
            }
        }
    }
    // A heavy hour raises the rule's event once.
    write(&db, &[reading(ds, 120, 2100.0), reading(ds, 60, 2300.0)]).await;
    let events = events_of_kind(&db, ds, "threshold").await;
    assert_eq!(events.len(), 1, "{events:?}");
}

/// The SensorThings read API follows the datastreams' access rule: a datastream not marked
/// public, and its observations, are absent for everyone but IOC operators and administrators.
#[tokio::test]
async fn sensorthings_reads_hide_private_datastreams_from_non_operators() {
    let db = TestDb::new().await;
    let (pm25, level, rain) = stations(&db).await;
    sqlx::query("UPDATE ioc.datastreams SET public = false WHERE id = $1")
        .bind(rain)
        .execute(&db.pool)
        .await
        .expect("private");
    write(
        &db,
        &[
            reading(pm25, 60, 20.0),
            reading(level, 60, 2.0),
            reading(rain, 60, 7.0),
        ],
    )
    .await;
    let water: i64 = sqlx::query_scalar("SELECT thing_id FROM ioc.datastreams WHERE id = $1")
        .bind(rain)
        .fetch_one(&db.pool)
        .await
        .expect("thing");
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let app = app(state, Limits::default());
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let ids = |v: &Value| -> Vec<i64> {
        let mut out: Vec<i64> = v["value"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["@iot.id"].as_i64()).collect())
            .unwrap_or_default();
        out.sort_unstable();
        out
    };
    for (token, all) in [
        (None, false),
        (Some(planner.as_str()), false),
        (Some(operator.as_str()), true),
    ] {
        let who = if all { "operator" } else { "others" };
        let sets = send(&app, Method::GET, "/sta/v1.1/Datastreams", token, None).await;
        assert_eq!(sets.status, StatusCode::OK);
        let mut want = vec![pm25, level];
        if all {
            want.push(rain);
        }
        want.sort_unstable();
        assert_eq!(ids(&sets.json()), want, "{who}");
        let one = send(
            &app,
            Method::GET,
            &format!("/sta/v1.1/Datastreams({rain})"),
            token,
            None,
        )
        .await;
        let nav = send(
            &app,
            Method::GET,
            &format!("/sta/v1.1/Datastreams({rain})/Observations"),
            token,
            None,
        )
        .await;
        let want_status = if all {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(
            (one.status, nav.status),
            (want_status, want_status),
            "{who}"
        );
        let obs = send(
            &app,
            Method::GET,
            &format!("/sta/v1.1/Observations?$filter=Datastream/id%20eq%20{rain}&$count=true"),
            token,
            None,
        )
        .await;
        assert_eq!(obs.json()["@iot.count"], if all { 1 } else { 0 }, "{who}");
        let expanded = send(
            &app,
            Method::GET,
            &format!("/sta/v1.1/Things({water})?$expand=Datastreams"),
            token,
            None,
        )
        .await
        .json();
        assert_eq!(
            expanded["Datastreams"].as_array().map(Vec::len),
            Some(if all { 2 } else { 1 }),
            "{who}: {expanded}"
        );
    }
}

/// Reader sessions of this database waiting for a lock, by class (`application_name`).
async fn readers_waiting_for_locks(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT application_name, left(query, 120) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND application_name IN ('bando-tiles', 'bando-features', 'bando-downloads',
                                    'bando-admin', 'bando-health', 'bando-listen',
                                    'bando-feed-hub', 'bando-feeds')",
    )
    .fetch_all(&db.pool)
    .await
    .expect("activity")
}

#[tokio::test]
async fn an_ingest_flood_never_makes_health_tiles_or_readers_wait() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    const MQTT: u64 = 6000;
    const HTTP_WORKERS: u64 = 16;
    const HTTP_EACH: u64 = 40;
    let db = TestDb::new().await;
    let (pm25, level, rain) = stations(&db).await;
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let listener = state.tiles.spawn_invalidation_listener();
    let app = app(state.clone(), Limits::default());
    let broker =
        ioc::broker::PrivateBroker::start(&dir.path().join("mqtt")).expect("private mosquitto");
    let mut sub =
        ioc::mqtt::Subscriber::start(&broker.address(), "bando-test-flood", state.ingest.clone());
    assert!(sub.wait_subscribed(Duration::from_secs(10)).await);
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let t = gis_core::tile::TileCoord::containing(106.883, 11.535, 14).expect("tile");
    let tile = format!("/tiles/latest_readings/14/{}/{}.mvt", t.x, t.y);
    // Give the change listener time to subscribe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM ioc.observations")
            .fetch_one(&db.pool)
            .await
            .expect("count")
    };

    // The flood: MQTT readings as fast as the broker takes them (QoS 1), oldest first, the
    // newest PM2.5 reading last at a known second; and HTTP posts by an operator from 16
    // clients at once, each answered when its batch has committed.
    let base = chrono::Utc::now() - chrono::Duration::seconds(7200);
    let newest = (base + chrono::Duration::seconds(7000))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mqtt_done = Arc::new(AtomicBool::new(false));
    let publisher = {
        let addr = broker.address();
        let done = mqtt_done.clone();
        let newest = newest.clone();
        tokio::spawn(async move {
            let p = ioc::mqtt::Publisher::connect(&addr, "bando-test-flood-pub");
            for i in 0..MQTT {
                let ds = [pm25, level, rain][(i % 3) as usize];
                let at = base + chrono::Duration::milliseconds((i * 7000 * 1000 / MQTT) as i64);
                let at = if i == MQTT - 3 {
                    newest.clone()
                } else {
                    at.to_rfc3339()
                };
                let value = [12.0 + (i % 7) as f64, 1.5, 2.0][(i % 3) as usize];
                let body = json!({"phenomenonTime": at, "result": value});
                p.publish(
                    &ioc::mqtt::observations_topic(ds),
                    body.to_string().into_bytes(),
                )
                .await
                .expect("publish");
            }
            assert!(
                p.settle(MQTT, Duration::from_secs(120)).await,
                "the broker acknowledged every reading"
            );
            done.store(true, Ordering::Release);
        })
    };
    let created = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut posters = Vec::new();
    for w in 0..HTTP_WORKERS {
        let (app, token, created, refused) = (
            app.clone(),
            operator.clone(),
            created.clone(),
            refused.clone(),
        );
        posters.push(tokio::spawn(async move {
            for k in 0..HTTP_EACH {
                let at = base + chrono::Duration::seconds(((w * HTTP_EACH + k) % 600) as i64);
                let r = send(
                    &app,
                    Method::POST,
                    &format!("/sta/v1.1/Datastreams({level})/Observations"),
                    Some(&token),
                    Some(json!({"phenomenonTime": at.to_rfc3339(), "result": 1.2})),
                )
                .await;
                match r.status {
                    StatusCode::CREATED => {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                    // Ingest behind: refused at once, said so, counted — never a wait.
                    StatusCode::SERVICE_UNAVAILABLE => {
                        problem(&r);
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("a post answered {other}: {}", r.text()),
                }
            }
        }));
    }

    // Readers while the flood is on: /health and a latest-value tile (dropped by every batch,
    // so drawn again on the tiles pool) answer 200 each round, and no reader's session waits
    // for a lock held by ingest — also while an operator edits a rule (which redraws the
    // property's latest values, behind ingest's batches, on ingest's connections).
    let rules = send(&app, Method::GET, "/feeds/rules", Some(&operator), None).await;
    let rule = rules.json()["rules"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["observed_property"] == "PM2.5" && r["kind"] == "threshold")
                .cloned()
        })
        .expect("a PM2.5 threshold rule");
    let mut spec = rule.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("id");
    }
    let mut rounds = Vec::new();
    loop {
        let flood_on = !mqtt_done.load(Ordering::Acquire)
            || posters.iter().any(|p| !p.is_finished())
            || state.ingest.queued() > 0;
        if !flood_on && !rounds.is_empty() {
            break;
        }
        if stored().await == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let health = send(&app, Method::GET, "/health", None, None).await;
        assert_eq!(health.status, StatusCode::OK, "{}", health.text());
        let drawn = send(&app, Method::GET, &tile, None, None).await;
        assert_eq!(drawn.status, StatusCode::OK, "{}", drawn.text());
        assert!(
            mvt_strings(&drawn.body).contains(&"PM2.5".to_string()),
            "the station is in its tile"
        );
        let rule_uri = format!("/feeds/rules/{}", rule["id"]);
        let (edited, waiting) = tokio::join!(
            send(
                &app,
                Method::PUT,
                &rule_uri,
                Some(&operator),
                Some(spec.clone())
            ),
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                readers_waiting_for_locks(&db).await
            }
        );
        assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
        assert!(waiting.is_empty(), "readers waiting for locks: {waiting:?}");
        let waiting = readers_waiting_for_locks(&db).await;
        assert!(waiting.is_empty(), "readers waiting for locks: {waiting:?}");
        rounds.push(stored().await);
        if rounds.len() > 500 {
            break;
        }
    }
    publisher.await.expect("publisher");
    for p in posters {
        p.await.expect("poster");
    }
    let posted = created.load(Ordering::Relaxed);
    // Every accepted reading is stored: the broker's acknowledged ones less those the server
    // counted as dropped for being behind, and every post answered 201.
    let stats = state.ingest.stats();
    let accepted = MQTT + posted - stats.dropped("overloaded") + refused.load(Ordering::Relaxed);
    let mut last = 0;
    for _ in 0..600 {
        last = stored().await;
        if last as u64 >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last as u64, accepted, "stored every accepted reading");
    assert_eq!(stats.stored(), accepted);
    for reason in [
        "malformed",
        "unknown_datastream",
        "time_out_of_range",
        "database",
    ] {
        assert_eq!(stats.dropped(reason), 0, "{reason}");
    }
    assert_eq!(
        posted + refused.load(Ordering::Relaxed),
        HTTP_WORKERS * HTTP_EACH
    );
    // The readers answered while readings were still being stored.
    assert!(
        rounds.first().is_some_and(|n| (*n as u64) < accepted),
        "no reader round before the flood ended: {rounds:?} of {accepted}"
    );
    // The tile listener kept up: the station's tile shows its newest reading.
    let mut strings = Vec::new();
    for _ in 0..100 {
        state.tiles.sync().await;
        strings = mvt_strings(&send(&app, Method::GET, &tile, None, None).await.body);
        if strings.contains(&newest) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(strings.contains(&newest), "{newest} not in {strings:?}");
    listener.abort();
    sub.stop();
    broker.stop();
}

/// Runs `bando device-token …` on the test database: (success, stdout, stderr).
async fn device_token_cli(
    db: &TestDb,
    dir: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    let out = tokio::process::Command::new(tests::bando_bin())
        .env("DATABASE_URL", &db.url)
        .env("BANDO_DATA_DIR", dir)
        .env("USER", "kythuat")
        .arg("device-token")
        .args(args)
        .output()
        .await
        .expect("bando device-token");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn device_tokens_are_issued_listed_and_revoked_from_the_command_line() {
    let db = TestDb::new().await;
    let (pm25, level, _) = stations(&db).await;
    let air_thing: i64 = sqlx::query_scalar("SELECT thing_id FROM ioc.datastreams WHERE id = $1")
        .bind(pm25)
        .fetch_one(&db.pool)
        .await
        .expect("thing");
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let app = app(state.clone(), Limits::default());

    // Issue: the token alone on standard output, once; the label stored as NFC.
    let decomposed = "Cam bie\u{0302}\u{0301}n bu\u{0323}i KK-01";
    let (ok, stdout, stderr) = device_token_cli(
        &db,
        dir.path(),
        &[
            "issue",
            "--thing",
            &air_thing.to_string(),
            "--label",
            decomposed,
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let token = stdout.trim().to_string();
    assert!(
        token.starts_with("bdt_") && !token.contains(char::is_whitespace),
        "{stdout}"
    );
    assert!(stderr.contains("shown this once"), "{stderr}");
    let (id, label, by): (i64, String, String) = sqlx::query_as(
        "SELECT id, label, created_by FROM ioc.device_tokens ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("token row");
    assert_eq!(label, "Cam biến bụi KK-01");
    assert_eq!(by, "cli:kythuat");
    // It posts to its Thing's datastreams, as one made over HTTP does; not to another Thing's.
    let post = |ds: i64| {
        let app = app.clone();
        let token = token.clone();
        async move {
            send(
                &app,
                Method::POST,
                &format!("/sta/v1.1/Datastreams({ds})/Observations"),
                Some(&token),
                Some(json!({"result": 18.0})),
            )
            .await
        }
    };
    assert_eq!(post(pm25).await.status, StatusCode::CREATED);
    assert_eq!(post(level).await.status, StatusCode::FORBIDDEN);

    // List: the token's record without its secret, as a table and as JSON.
    let (ok, table, stderr) = device_token_cli(&db, dir.path(), &["list"]).await;
    assert!(ok, "{stderr}");
    assert!(
        table.contains("Cam biến bụi KK-01") && table.contains(&token[..10]),
        "{table}"
    );
    assert!(
        !table.contains(&token),
        "the secret is never listed: {table}"
    );
    let (ok, listed, stderr) = device_token_cli(&db, dir.path(), &["list", "--json"]).await;
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    let record = listed
        .as_array()
        .and_then(|a| a.iter().find(|t| t["id"] == id))
        .cloned()
        .expect("listed");
    assert_eq!(record["thing_id"], air_thing);
    assert!(record["revoked_at"].is_null());
    assert!(!listed.to_string().contains(&token));
    // The same list an administrator reads over HTTP.
    let admin = issuer.issue("quan_tri").expect("token");
    let over_http = send(
        &app,
        Method::GET,
        "/admin/device-tokens",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(over_http.json()["tokens"][0]["id"], id);

    // The same rules as over HTTP: an unknown Thing, a label too long, an unknown token.
    let (ok, _, stderr) = device_token_cli(&db, dir.path(), &["issue", "--thing", "999999"]).await;
    assert!(!ok);
    assert!(stderr.contains("there is no Thing 999999"), "{stderr}");
    let long = "x".repeat(201);
    let (ok, _, stderr) = device_token_cli(
        &db,
        dir.path(),
        &["issue", "--thing", &air_thing.to_string(), "--label", &long],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("at most 200 characters"), "{stderr}");
    let (ok, _, stderr) = device_token_cli(&db, dir.path(), &["revoke", "999999"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("there is no device token 999999"),
        "{stderr}"
    );
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM ioc.device_tokens")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(made, 1, "refused commands made nothing");

    // Revoke: refused from now on, kept for the record.
    let (ok, stdout, stderr) =
        device_token_cli(&db, dir.path(), &["revoke", &id.to_string()]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("revoked"), "{stdout}");
    assert_eq!(post(pm25).await.status, StatusCode::UNAUTHORIZED);
    let (_, listed, _) = device_token_cli(&db, dir.path(), &["list", "--json"]).await;
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    assert!(!listed[0]["revoked_at"].is_null());

    // Audited, by the command's user, never with the secret.
    let audit: Vec<(String, String, String, i16, String)> = sqlx::query_as(
        "SELECT actor, method, path, status, coalesce(detail, '') FROM platform.audit_log
         WHERE method = 'CLI' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("audit");
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(
        (audit[0].0.as_str(), audit[0].2.as_str(), audit[0].3),
        ("cli:kythuat", "bando device-token issue", 201)
    );
    assert!(
        audit[0].4.contains(&format!("device token {id} ("))
            && audit[0]
                .4
                .contains(&format!("issued for Thing {air_thing}")),
        "{}",
        audit[0].4
    );
    assert_eq!(
        (audit[1].2.as_str(), audit[1].3, audit[1].4.as_str()),
        (
            "bando device-token revoke",
            204,
            format!("device token {id} revoked").as_str()
        )
    );
    assert!(audit.iter().all(|a| !a.4.contains(&token)));
}

#[tokio::test]
async fn missing_data_is_raised_for_datastreams_that_never_reported() {
    let db = TestDb::new().await;
    let (pm25, level, rain) = stations(&db).await;
    let now = chrono::Utc::now();
    // Rainfall made 45 minutes ago and never heard from; the water level made 20 minutes ago,
    // silent too; PM2.5 reporting. The rules: a warning after 30 minutes, cleared within 10.
    for (ds, minutes) in [(rain, 45), (level, 20), (pm25, 120)] {
        sqlx::query("UPDATE ioc.datastreams SET created_at = $2 WHERE id = $1")
            .bind(ds)
            .bind(now - chrono::Duration::minutes(minutes))
            .execute(&db.pool)
            .await
            .expect("created_at");
    }
    write(&db, &[reading(pm25, 60, 20.0)]).await;
    let c = ioc::alerts::check_missing(&db.pool, now)
        .await
        .expect("check");
    assert_eq!(c.raised.len(), 1, "the rainfall only: {c:?}");
    let missing = events_of_kind(&db, rain, "missing_data").await;
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        (missing[0].1 - 45.0).abs() < 0.2,
        "minutes since the datastream was made: {missing:?}"
    );
    assert!(events_of_kind(&db, level, "missing_data").await.is_empty());
    assert!(events_of_kind(&db, pm25, "missing_data").await.is_empty());
    // On the layer it is in the episode's severity (a warning), like a sensor fallen silent —
    // not the grey of a station merely without data; the water level, not yet due, is so.
    let status = |ds: i64| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT status FROM ioc.latest_readings WHERE datastream_id = $1",
            )
            .bind(ds)
            .fetch_one(&pool)
            .await
            .expect("status")
        }
    };
    assert_eq!(status(rain).await, "warning");
    assert_eq!(status(level).await, "no_data");
    // Once per episode.
    let again = ioc::alerts::check_missing(&db.pool, now + chrono::Duration::minutes(5))
        .await
        .expect("check");
    assert!(again.ran && again.raised.is_empty(), "{again:?}");
    // The water level reaches 30 minutes without a reading 10 minutes later.
    let later = ioc::alerts::check_missing(&db.pool, now + chrono::Duration::minutes(11))
        .await
        .expect("check");
    assert_eq!(later.raised.len(), 1, "{later:?}");
    assert_eq!(events_of_kind(&db, level, "missing_data").await.len(), 1);
    // The rainfall's first reading ends its episode.
    write(&db, &[reading(rain, 5, 1.5)]).await;
    let missing = events_of_kind(&db, rain, "missing_data").await;
    assert_eq!(missing.len(), 1);
    assert!(
        missing[0].2.is_some(),
        "cleared by the first reading: {missing:?}"
    );
    let left: Vec<i64> = sqlx::query_scalar(
        "SELECT s.datastream_id FROM ioc.alert_state s JOIN ioc.alert_rules r ON r.id = s.rule_id
         WHERE r.kind = 'missing' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("state");
    assert_eq!(left, vec![level]);
}

/// Warnings of a datastream by rule: (rule id, severity, value, cleared).
async fn events_by_rule(db: &TestDb, ds: i64) -> Vec<(Option<i64>, String, f64, bool)> {
    sqlx::query_as(
        "SELECT rule_id, severity, value, cleared_at IS NOT NULL FROM ioc.events
         WHERE datastream_id = $1 AND kind = 'threshold' AND severity = 'warning' ORDER BY id",
    )
    .bind(ds)
    .fetch_all(&db.pool)
    .await
    .expect("events")
}

#[tokio::test]
async fn a_datastreams_own_rule_replaces_its_propertys() {
    let db = TestDb::new().await;
    let (pm25, level, _) = stations(&db).await;
    // A second surface-water station: the property's rule goes on applying there.
    sqlx::query(
        "INSERT INTO sectors.env_stations (source_id, code, name, station_type, geom) VALUES
         ('NM-03', 'NM-03', 'Trạm quan trắc nước mặt Bù Đăng', 'Nước mặt',
          ST_Transform(ST_SetSRID(ST_MakePoint(107.2, 11.8), 4326), 9212))",
    )
    .execute(&db.pool)
    .await
    .expect("station");
    ioc::seed::seed_stations(&db.pool).await.expect("seed");
    let other: i64 = sqlx::query_scalar(
        "SELECT d.id FROM ioc.datastreams d JOIN ioc.things t ON t.id = d.thing_id
         JOIN ioc.observed_properties op ON op.id = d.observed_property_id
         WHERE t.station_code = 'NM-03' AND op.name = 'Water level'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("other level");
    let dir = tempfile::tempdir().expect("dir");
    let (state, issuer) = server(&db, dir.path());
    let app = app(state.clone(), Limits::default());
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let rules = send(&app, Method::GET, "/feeds/rules", Some(&operator), None).await;
    let shared_warning = rules.json()["rules"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| {
                    r["observed_property"] == "Water level"
                        && r["kind"] == "threshold"
                        && r["severity"] == "warning"
                })
                .cloned()
        })
        .expect("the water level's warning rule");
    assert!(shared_warning["datastream_id"].is_null());
    // The first station is on a deeper river: its warning at 5.0 m (cleared at 4.8), not 3.5.
    let own = json!({
        "observed_property": "Water level", "datastream": level, "severity": "warning",
        "raise_at": 5.0, "clear_at": 4.8, "title": "Mực nước sông Bé vượt báo động I",
        "title_en": "Be river above alert level I"
    });
    let made = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(own.clone()),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    assert_eq!(made.json()["datastream_id"], level);
    let own_id = made.json()["id"].as_i64().expect("id");
    // One rule per datastream of each kind, severity and direction; the datastream measures
    // the rule's property; it exists.
    let again = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(own.clone()),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    problem(&again);
    let mut wrong = own.clone();
    wrong["datastream"] = json!(pm25);
    let refused = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(wrong),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("datastream {pm25} measures PM2.5"))),
        "{}",
        refused.text()
    );
    let mut unknown = own.clone();
    unknown["datastream"] = json!(999_999);
    let refused = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(unknown),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    // 4.0 m at both stations: a warning where the property's rule applies, none at the
    // station with its own levels; 5.2 m there raises its own rule's.
    write(&db, &[reading(level, 120, 4.0), reading(other, 120, 4.0)]).await;
    let shared_id = shared_warning["id"].as_i64();
    assert_eq!(
        events_by_rule(&db, other).await,
        vec![(shared_id, "warning".to_string(), 4.0, false)]
    );
    assert!(events_by_rule(&db, level).await.is_empty());
    write(&db, &[reading(level, 60, 5.2)]).await;
    assert_eq!(
        events_by_rule(&db, level).await,
        vec![(Some(own_id), "warning".to_string(), 5.2, false)]
    );
    // The property's alarm (4.5 m) still applies to it (no alarm rule of its own).
    let alarm: Vec<String> = sqlx::query_scalar(
        "SELECT r.severity FROM ioc.alert_state s JOIN ioc.alert_rules r ON r.id = s.rule_id
         WHERE s.datastream_id = $1 AND r.kind = 'threshold' ORDER BY r.severity",
    )
    .bind(level)
    .fetch_all(&db.pool)
    .await
    .expect("state");
    assert_eq!(alarm, vec!["alarm".to_string(), "warning".to_string()]);
    // Cleared by its own levels: 4.9 m is within the property's band but not below 4.8.
    write(&db, &[reading(level, 30, 4.9)]).await;
    assert!(!events_by_rule(&db, level).await[0].3);
    write(&db, &[reading(level, 10, 4.7)]).await;
    assert!(
        events_by_rule(&db, level).await[0].3,
        "cleared at its own level"
    );

    // Deleted: the property's rule applies again.
    let gone = send(
        &app,
        Method::DELETE,
        &format!("/feeds/rules/{own_id}"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    write(&db, &[reading(level, 5, 4.0)]).await;
    let events = events_by_rule(&db, level).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].0, shared_id);

    // Made while the property's episode is on: that episode ends (the rule no longer watches
    // this datastream), its event stays for operators to close.
    let made = send(
        &app,
        Method::POST,
        "/feeds/rules",
        Some(&operator),
        Some(own),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let on: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ioc.alert_state WHERE datastream_id = $1 AND rule_id = $2",
    )
    .bind(level)
    .bind(shared_id)
    .fetch_one(&db.pool)
    .await
    .expect("state");
    assert_eq!(on, 0);
    let status: String = sqlx::query_scalar(
        "SELECT status FROM ioc.events WHERE datastream_id = $1 AND rule_id = $2",
    )
    .bind(level)
    .bind(shared_id)
    .fetch_one(&db.pool)
    .await
    .expect("event");
    assert_eq!(status, "open");
}

/// Many clients subscribing at once share their snapshots: 500 clients over a feed whose
/// snapshot pool has one connection and a 300 ms acquire limit all get theirs (one read each
/// per audience and filter would time out on the pool: 503s), each the same as the others of
/// its filter, and every one of them then gets the next reading — nothing falls between a
/// shared snapshot and the live entries.
#[tokio::test]
async fn clients_subscribing_at_once_share_a_snapshot_and_miss_nothing() {
    use ioc::feeds::{Audience, Feeds, Filter};
    let db = TestDb::new().await;
    let (pm25, level, _) = stations(&db).await;
    write(&db, &[reading(pm25, 30, 12.0), reading(level, 30, 2.0)]).await;
    let pool = |n: u32| {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(n)
            .acquire_timeout(Duration::from_millis(300))
            .connect_lazy(&db.url)
            .expect("pool")
    };
    let feeds = Feeds::with_pools(pool(2), pool(1), ioc::feeds::FeedSettings::default());
    let everywhere = Filter::parse(Some("readings"), None).expect("filter");
    let elsewhere = Filter::parse(Some("readings"), Some("0,0,1,1")).expect("filter");
    let subscribing = (0..500).map(|i| {
        let feeds = feeds.clone();
        let filter = if i % 2 == 0 { everywhere } else { elsewhere };
        tokio::spawn(async move {
            let mut s = feeds
                .subscribe(Audience::Public, filter, None, None)
                .await
                .map_err(|e| e.to_string())?;
            let snapshot = s.next().await.ok_or("no snapshot")?;
            Ok::<_, String>((i, s, snapshot))
        })
    });
    let mut clients = Vec::new();
    for c in futures_util::future::join_all(subscribing).await {
        clients.push(c.expect("task").expect("subscribed"));
    }
    assert_eq!(clients.len(), 500);
    for (i, _, snapshot) in &clients {
        assert_eq!(snapshot.event, "snapshot");
        let data: Value = serde_json::from_str(&snapshot.data).expect("json");
        let n = data["readings"]["features"].as_array().map_or(0, Vec::len);
        assert_eq!(n, if i % 2 == 0 { 3 } else { 0 }, "client {i}: {data}");
    }
    write(&db, &[reading(pm25, 0, 13.0)]).await;
    for (i, s, _) in clients.iter_mut().filter(|(i, _, _)| i % 2 == 0) {
        let m = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .unwrap_or_else(|_| panic!("client {i} got nothing"))
            .expect("live");
        let data: Value = serde_json::from_str(&m.data).expect("json");
        assert_eq!(data["properties"]["value"], 13.0, "client {i}");
    }
}
