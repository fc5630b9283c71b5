//! The IOC's live data (issue 14): a private Mosquitto, observations published to it as
//! SensorThings devices do, stored in PostgreSQL with the datastream's latest value moved;
//! malformed payloads, unknown datastreams and out-of-range times counted and dropped; the
//! SensorThings read API (`/sta/v1.1`) and `POST` by IOC operators; `bando serve` with its own
//! broker.

use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use axum::Router;
use ioc::broker::PrivateBroker;
use ioc::ingest::{Ingest, IngestSettings, NewObservation};
use ioc::mqtt::{observations_topic, Publisher, Subscriber};
use serde_json::{json, Value};
use tile_server::app::{app, AppState, Limits};

use tests::{assert_problem_json, TestDb};

/// Two stations (air, surface water) → three datastreams (id, observed property), seeded
/// once (a second seeding makes nothing new). Also used by `ioc_live`.
pub(crate) async fn stations(db: &TestDb) -> Vec<(i64, String)> {
    sqlx::query(
        "INSERT INTO sectors.env_stations (source_id, code, name, station_type, geom) VALUES
         ('KK-01', 'KK-01', 'Trạm quan trắc không khí Tân Phú', 'Không khí',
          ST_Transform(ST_SetSRID(ST_MakePoint(106.883, 11.535), 4326), 9212)),
         ('NM-02', 'NM-02', 'Trạm quan trắc nước mặt Đồng Xoài', 'Nước mặt',
          ST_Transform(ST_SetSRID(ST_MakePoint(106.900, 11.540), 4326), 9212))",
    )
    .execute(&db.pool)
    .await
    .expect("stations");
    let seeded = ioc::seed::seed_stations(&db.pool).await.expect("seed");
    assert_eq!((seeded.things, seeded.datastreams), (2, 3));
    // Seeding again makes nothing new.
    let again = ioc::seed::seed_stations(&db.pool).await.expect("seed");
    assert_eq!((again.things, again.datastreams), (0, 0));
    sqlx::query_as(
        "SELECT d.id, op.name FROM ioc.datastreams d
         JOIN ioc.observed_properties op ON op.id = d.observed_property_id ORDER BY d.id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("datastreams")
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn mqtt_readings_are_stored_and_bad_ones_counted_and_dropped() {
    let db = TestDb::new().await;
    let ds = stations(&db).await;
    let pm25 = ds.iter().find(|(_, n)| n == "PM2.5").expect("pm2.5").0;
    let level = ds
        .iter()
        .find(|(_, n)| n == "Water level")
        .expect("level")
        .0;
    let dir = tempfile::tempdir().expect("dir");
    let broker = PrivateBroker::start(dir.path()).expect("private mosquitto");
    assert!(dir.path().join("mosquitto/mosquitto.conf").exists());
    let addr = broker.address();
    assert_ne!(
        addr.port, 1883,
        "a private port, never the machine's broker"
    );
    let (ingest, _writer) = Ingest::start(db.pool.clone(), IngestSettings::default());
    let mut sub = Subscriber::start(&addr, "bando-test-ingest", ingest.clone());
    assert!(
        sub.wait_subscribed(Duration::from_secs(10)).await,
        "subscribed"
    );

    let publisher = Publisher::connect(&addr, "device-test");
    let now = chrono::Utc::now();
    for i in 0..5 {
        let t = (now - chrono::Duration::minutes(5 - i)).to_rfc3339();
        let body = json!({"phenomenonTime": t, "result": 20.0 + i as f64, "resultQuality": "good"});
        publisher
            .publish(&observations_topic(pm25), body.to_string().into_bytes())
            .await
            .expect("publish");
    }
    let body = json!({"result": 2.75});
    publisher
        .publish(&observations_topic(level), body.to_string().into_bytes())
        .await
        .expect("publish");
    // Bad ones: not JSON, no result, an unknown datastream, a time out of range, a bad topic.
    let bad: [(String, &str); 5] = [
        (observations_topic(pm25), "{not json"),
        (
            observations_topic(pm25),
            r#"{"phenomenonTime": "2026-01-01T00:00:00Z"}"#,
        ),
        (observations_topic(999_999), r#"{"result": 1}"#),
        (
            observations_topic(pm25),
            r#"{"result": 1, "phenomenonTime": "2001-01-01T00:00:00Z"}"#,
        ),
        (
            "v1.1/Things(1)/Observations".to_string(),
            r#"{"result": 1}"#,
        ),
    ];
    for (topic, payload) in bad {
        publisher
            .publish(&topic, payload.as_bytes().to_vec())
            .await
            .expect("publish");
    }
    // Good readings after the bad ones are still stored: ingest never blocks on them.
    publisher
        .publish(
            &observations_topic(level),
            json!({"result": 2.8}).to_string().into_bytes(),
        )
        .await
        .expect("publish");

    let stats = ingest.stats();
    wait_for("7 stored and 5 dropped", async || {
        stats.stored() == 7
            && stats.dropped("malformed") == 3
            && stats.dropped("unknown_datastream") == 1
            && stats.dropped("time_out_of_range") == 1
    })
    .await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM ioc.observations")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(stored, 7);
    let (latest, quality): (Value, Option<Value>) = sqlx::query_as(
        "SELECT d.latest_result, o.result_quality FROM ioc.datastreams d
         JOIN ioc.observations o ON o.id = d.latest_observation_id WHERE d.id = $1",
    )
    .bind(pm25)
    .fetch_one(&db.pool)
    .await
    .expect("latest");
    assert_eq!(latest, json!(24.0), "the newest phenomenon time wins");
    assert_eq!(quality, Some(json!("good")));
    let level_latest: Value =
        sqlx::query_scalar("SELECT latest_result FROM ioc.datastreams WHERE id = $1")
            .bind(level)
            .fetch_one(&db.pool)
            .await
            .expect("latest");
    assert_eq!(level_latest, json!(2.8));
    sub.stop();
    broker.stop();
}

use tests::http::Reply;

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    tests::http::send(app, method, uri, token, &[("host", "ioc.test")], body).await
}

async fn get(app: &Router, uri: &str) -> Reply {
    let uri = uri.replace(' ', "%20").replace('\'', "%27");
    send(app, Method::GET, &uri, None, None).await
}

#[tokio::test]
async fn sensorthings_reads_and_operator_posts() {
    let db = TestDb::new().await;
    let ds = stations(&db).await;
    let pm25 = ds.iter().find(|(_, n)| n == "PM2.5").expect("pm2.5").0;
    let t0 = chrono::Utc::now() - chrono::Duration::hours(2);
    let batch: Vec<NewObservation> = (0..10)
        .map(|i| NewObservation {
            datastream_id: pm25,
            phenomenon_time: t0 + chrono::Duration::minutes(10 * i),
            phenomenon_time_end: None,
            result_time: None,
            result: json!(10 * i),
            result_quality: None,
            parameters: None,
            feature_of_interest_id: None,
        })
        .collect();
    let outcome = ioc::ingest::write_batch(&db.pool, &batch)
        .await
        .expect("write");
    assert!(outcome.iter().all(Result::is_ok));

    let dir = tempfile::tempdir().expect("dir");
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

    // The service root lists the entity sets.
    let root = get(&app, "/sta/v1.1").await;
    assert_eq!(root.status, StatusCode::OK);
    let names: Vec<String> = root.json()["value"]
        .as_array()
        .expect("sets")
        .iter()
        .map(|v| v["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        names.contains(&"Datastreams".to_string()) && names.contains(&"Observations".to_string())
    );

    // Things with $count and $expand of Datastreams and Locations.
    let things = get(&app, "/sta/v1.1/Things?$count=true&$expand=Datastreams($select=name,unitOfMeasurement),Locations&$orderby=name").await;
    assert_eq!(
        things.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&things.body)
    );
    let j = things.json();
    assert_eq!(j["@iot.count"], 2);
    let first = &j["value"][0];
    assert_eq!(first["name"], "Trạm quan trắc không khí Tân Phú");
    assert_eq!(
        first["Datastreams"][0]["unitOfMeasurement"]["symbol"],
        "µg/m³"
    );
    assert!(
        first["Datastreams"][0].get("description").is_none(),
        "$select inside $expand"
    );
    let coords = &first["Locations"][0]["location"]["coordinates"];
    assert!(
        (coords[0].as_f64().unwrap_or(0.0) - 106.883).abs() < 1e-6,
        "{coords}"
    );
    assert!(first["@iot.selfLink"]
        .as_str()
        .unwrap_or_default()
        .starts_with("http://ioc.test/sta/v1.1/Things("));
    assert!(first["Datastreams@iot.navigationLink"].is_string());

    // Navigation, $filter on result and time, $orderby, $top with a next link, $select.
    let since = (t0 + chrono::Duration::minutes(25)).format("%Y-%m-%dT%H:%M:%SZ");
    let uri = format!(
        "/sta/v1.1/Datastreams({pm25})/Observations?$filter=result ge 20 and result lt 80 and phenomenonTime ge {since}&$orderby=phenomenonTime desc&$top=2&$count=true&$select=result,phenomenonTime"
    );
    let obs = get(&app, &uri).await;
    assert_eq!(
        obs.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&obs.body)
    );
    let j = obs.json();
    assert_eq!(j["@iot.count"], 5, "30, 40, 50, 60, 70");
    let results: Vec<Value> = j["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|o| o["result"].clone())
        .collect();
    assert_eq!(results, vec![json!(70), json!(60)]);
    assert!(j["value"][0].get("@iot.id").is_none(), "$select");
    let next = j["@iot.nextLink"].as_str().expect("next link").to_string();
    let next_path = next.trim_start_matches("http://ioc.test");
    let page2 = send(&app, Method::GET, next_path, None, None).await;
    assert_eq!(page2.status, StatusCode::OK, "{next}");
    let results: Vec<Value> = page2.json()["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|o| o["result"].clone())
        .collect();
    assert_eq!(results, vec![json!(50), json!(40)]);

    // or / not / ids; a single navigation entity; a property.
    let j = get(&app, &format!("/sta/v1.1/Observations?$filter=(result eq 0 or result eq 90) and not Datastream/id ne {pm25}&$orderby=result")).await.json();
    let results: Vec<Value> = j["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|o| o["result"].clone())
        .collect();
    assert_eq!(results, vec![json!(0), json!(90)]);
    let thing = get(&app, &format!("/sta/v1.1/Datastreams({pm25})/Thing")).await;
    assert_eq!(thing.json()["name"], "Trạm quan trắc không khí Tân Phú");
    let name = get(&app, &format!("/sta/v1.1/Datastreams({pm25})/name")).await;
    assert_eq!(
        name.json(),
        json!({"name": "Trạm quan trắc không khí Tân Phú – PM2.5"})
    );
    let expanded = get(&app, &format!("/sta/v1.1/Datastreams({pm25})?$expand=Observations($top=1;$orderby=phenomenonTime desc),Thing/Locations")).await.json();
    assert_eq!(expanded["Observations"][0]["result"], 90);
    assert!(expanded["Thing"]["Locations"][0]["location"].is_object());

    // Unsupported parts: 501 naming them; bad input: 400/404, as problem JSON.
    for (uri, status, needle) in [
        (
            "/sta/v1.1/Observations?$resultFormat=dataArray",
            501,
            "$resultFormat",
        ),
        ("/sta/v1.1/HistoricalLocations", 501, "HistoricalLocations"),
        (
            "/sta/v1.1/Observations?$filter=substringof('a', name)",
            501,
            "substringof",
        ),
        ("/sta/v1.1/Observations?$filter=result gt", 400, "$filter"),
        ("/sta/v1.1/Observations?$filter=colour eq 1", 400, "colour"),
        ("/sta/v1.1/Observations?$top=abc", 400, "$top"),
        ("/sta/v1.1/Things(99999)", 404, "no such entity"),
        ("/sta/v1.1/Cars", 404, "Cars"),
        ("/sta/v1.1/Things(1)/Cars", 400, "Cars"),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{uri}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let ct = r
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_problem_json(r.status.as_u16(), status, &ct, &r.body);
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{uri}: {}",
            r.json()
        );
    }

    // POST: IOC operators (and administrators) only.
    let path = format!("/sta/v1.1/Datastreams({pm25})/Observations");
    let reading = json!({"result": 42.5, "resultQuality": "good"});
    let anonymous = send(&app, Method::POST, &path, None, Some(reading.clone())).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let refused = send(
        &app,
        Method::POST,
        &path,
        Some(&planner),
        Some(reading.clone()),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let operator = issuer.issue("van_hanh_ioc").expect("token");
    let created = send(&app, Method::POST, &path, Some(&operator), Some(reading)).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.json()["result"], 42.5);
    let location = created.headers[header::LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    let id = created.json()["@iot.id"].as_i64().expect("id");
    assert!(location.ends_with(&format!("/Observations({id})")));
    let latest: Value =
        sqlx::query_scalar("SELECT latest_result FROM ioc.datastreams WHERE id = $1")
            .bind(pm25)
            .fetch_one(&db.pool)
            .await
            .expect("latest");
    assert_eq!(latest, json!(42.5));
    for (uri, body, status) in [
        (path.clone(), json!({"resultt": 1}), 400),
        (
            "/sta/v1.1/Observations".to_string(),
            json!({"result": 1, "Datastream": {"@iot.id": 987654}}),
            404,
        ),
        (
            path.clone(),
            json!({"result": 1, "phenomenonTime": "2001-01-01T00:00:00Z"}),
            422,
        ),
        ("/sta/v1.1/Things".to_string(), json!({"name": "x"}), 501),
    ] {
        let r = send(&app, Method::POST, &uri, Some(&operator), Some(body)).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{uri}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let ct = r
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_problem_json(r.status.as_u16(), status, &ct, &r.body);
    }
}

/// `bando serve` without `[ioc] mqtt_url` starts its own Mosquitto in the data directory,
/// ingests what is published to it, and stops it on exit.
#[tokio::test]
async fn bando_serve_runs_a_private_broker_and_ingests_from_it() {
    let db = TestDb::new().await;
    let ds = stations(&db).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = std::process::Command::new(tests::bando_bin());
    cmd.env("DATABASE_URL", &db.url)
        .env("BANDO_DATA_DIR", dir.path())
        .env_remove("BANDO_MQTT_URL");
    let server = tests::Bando::start(cmd);
    let conf = std::fs::read_to_string(dir.path().join("mosquitto/mosquitto.conf")).expect("conf");
    let port: u16 = conf
        .lines()
        .find_map(|l| l.strip_prefix("listener "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("listener port");
    let addr = ioc::broker::BrokerAddress {
        host: "127.0.0.1".into(),
        port,
    };
    let publisher = Publisher::connect(&addr, "device-serve-test");
    let level = ds
        .iter()
        .find(|(_, n)| n == "Water level")
        .expect("level")
        .0;
    // The server subscribes shortly after it starts: publish until the reading is there.
    let mut stored = false;
    for _ in 0..100 {
        publisher
            .publish(
                &observations_topic(level),
                json!({"result": 3.25}).to_string().into_bytes(),
            )
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, body) = server
            .get(&format!(
                "/sta/v1.1/Datastreams({level})/Observations?$top=1"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        if body.contains("3.25") {
            stored = true;
            break;
        }
    }
    assert!(
        stored,
        "a reading published to the private broker reached /sta"
    );
    server.stop();
    // Stopped with bando: nothing listens on its port any more.
    let mut closed = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(closed, "the private broker stopped with bando");
}
