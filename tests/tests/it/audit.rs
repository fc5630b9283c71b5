//! The audit log (issue 10): refused requests land in `platform.audit_log` through the
//! background writer with the right user, status and reason, and never a token; admins page
//! through it at `/admin/audit`; everyone else is refused (and audited).

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use gis_core::audit::{AuditEntry, AuditEvent};
use serde_json::Value;
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

use tests::TestDb;

struct Reply {
    status: StatusCode,
    cache_control: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn get(app: &Router, uri: &str, token: Option<&str>) -> Reply {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req.body(Body::empty()).expect("request");
    // As `bando serve` provides it: the TCP peer is the client.
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 7], 40000))));
    let response = app.clone().oneshot(req).await.expect("response");
    Reply {
        status: response.status(),
        cache_control: response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        body: to_bytes(response.into_body(), 64 << 20)
            .await
            .expect("body")
            .to_vec(),
    }
}

async fn setup() -> (TestDb, AppState, Router, auth::DevIssuer, tempfile::TempDir) {
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
    let router = app(state.clone(), Limits::default());
    (db, state, router, issuer, dir)
}

/// Every entry of the log, newest first, as the admin reads it.
async fn all_entries(app: &Router, admin: &str) -> Vec<Value> {
    let r = get(app, "/admin/audit?limit=1000", Some(admin)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["entries"].as_array().expect("entries").clone()
}

#[tokio::test]
async fn refusals_are_recorded_with_user_status_and_reason_and_never_a_token() {
    let (db, state, app, issuer, _dir) = setup().await;
    let officer = issuer.issue("can_bo_dia_chinh").expect("token");
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let admin = issuer.issue("quan_tri").expect("token");

    // A tampered token, also sent in the query (as careless clients do).
    let parts: Vec<&str> = officer.split('.').collect();
    let mut payload = parts[1].to_string();
    payload.replace_range(0..1, if payload.starts_with('e') { "f" } else { "e" });
    let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
    let r = get(
        &app,
        &format!("/collections/parcels/items?limit=1&access_token={tampered}"),
        Some(&tampered),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A planner asking for owner names.
    let r = get(
        &app,
        "/collections/parcels/items?properties=owner_name",
        Some(&planner),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let planner_detail = r.json()["detail"].as_str().expect("detail").to_string();
    // The audit log itself: anonymous 401, planner 403, both never cached.
    let r = get(&app, "/admin/audit", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.cache_control, "no-store");
    let r = get(&app, "/admin/audit", Some(&planner)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.cache_control, "no-store");
    let r = get(&app, "/admin/audit?limit=1", Some(&officer)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Allowed requests are not recorded.
    assert_eq!(
        get(&app, "/collections/parcels/items?limit=1", Some(&planner))
            .await
            .status,
        StatusCode::OK
    );

    state.audit.flush().await;
    let r = get(&app, "/admin/audit?limit=1000", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.cache_control, "no-store");
    let entries = r.json()["entries"].as_array().expect("entries").clone();
    assert_eq!(entries.len(), 5, "{entries:#?}");

    // Newest first.
    let refused_token = &entries[4];
    assert_eq!(refused_token["status"], 401);
    assert_eq!(refused_token["actor"], "anonymous");
    assert_eq!(refused_token["event"], "denied");
    assert_eq!(refused_token["method"], "GET");
    assert_eq!(
        refused_token["path"],
        "/collections/parcels/items?limit=1&access_token=[removed]"
    );
    assert!(
        refused_token["detail"]
            .as_str()
            .is_some_and(|d| d.contains("signature")),
        "{refused_token}"
    );
    assert_eq!(refused_token["client_addr"], "127.0.0.7");
    assert!(refused_token["request_id"].is_string());

    let forbidden = &entries[3];
    assert_eq!(forbidden["status"], 403);
    assert_eq!(forbidden["actor"], "chuyen_vien_quy_hoach");
    assert_eq!(forbidden["roles"], serde_json::json!(["planner"]));
    assert!(forbidden["subject"].is_string());
    assert_eq!(
        forbidden["path"],
        "/collections/parcels/items?properties=owner_name"
    );
    assert_eq!(forbidden["detail"].as_str(), Some(planner_detail.as_str()));
    assert!(planner_detail.contains("owner_name"), "{planner_detail}");

    assert_eq!(
        (&entries[2]["status"], &entries[2]["actor"]),
        (&Value::from(401), &Value::from("anonymous"))
    );
    assert!(entries[2]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("sign-in")));
    assert_eq!(
        (&entries[1]["status"], &entries[1]["actor"]),
        (&Value::from(403), &Value::from("chuyen_vien_quy_hoach"))
    );
    assert!(entries[1]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("administrators")));
    assert_eq!(entries[0]["actor"], "can_bo_dia_chinh");

    // No token, nor any part of one, anywhere in the stored rows.
    let dump: Vec<String> =
        sqlx::query_scalar("SELECT row_to_json(a)::text FROM platform.audit_log a")
            .fetch_all(&db.pool)
            .await
            .expect("dump");
    assert_eq!(dump.len(), 5);
    for token in [&officer, &planner, &admin, &tampered] {
        for part in token.split('.') {
            assert!(
                !dump.iter().any(|row| row.contains(part)),
                "a token part is in the log"
            );
        }
    }
}

#[tokio::test]
async fn admins_page_newest_first_with_cursor_offset_and_filters() {
    let (_db, state, app, issuer, _dir) = setup().await;
    let admin = issuer.issue("quan_tri").expect("token");
    for _ in 0..25 {
        assert_eq!(
            get(&app, "/admin/audit", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // A write, recorded the way write handlers will.
    let who = state
        .verifier
        .get()
        .expect("verifier")
        .authenticate(Some(&format!("Bearer {admin}")))
        .await
        .expect("verified");
    let facts = tile_server::audit::RequestFacts {
        method: axum::http::Method::POST,
        path: "/collections/parcels/items".into(),
        client: None,
        request_id: None,
    };
    tile_server::audit::record(
        &state.audit,
        AuditEvent::Write,
        who.as_ref(),
        &facts,
        StatusCode::CREATED,
        Some("parcel 25195/1/1 created".into()),
    );
    state.audit.flush().await;

    let all = all_entries(&app, &admin).await;
    assert_eq!(all.len(), 26);
    assert_eq!(all[0]["event"], "write");
    assert_eq!(all[0]["actor"], "quan_tri");
    assert_eq!(all[0]["status"], 201);
    let ids: Vec<i64> = all.iter().filter_map(|e| e["id"].as_i64()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

    // Cursor pages of 10 over the 401s: 10, 10, 5, in order, nothing repeated or lost.
    let mut next = Some("/admin/audit?limit=10&status=401&user=anonymous".to_string());
    let mut paged = Vec::new();
    let mut pages = 0;
    while let Some(uri) = next {
        let r = get(&app, &uri, Some(&admin)).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        let page = r.json();
        let entries = page["entries"].as_array().expect("entries").clone();
        assert!(entries.len() <= 10);
        assert!(entries.iter().all(|e| e["status"] == 401));
        paged.extend(entries.iter().filter_map(|e| e["id"].as_i64()));
        next = page["next"].as_str().map(str::to_string);
        pages += 1;
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(paged, ids[1..].to_vec());
    // Offset paging gives the same second page.
    let r = get(
        &app,
        "/admin/audit?limit=10&offset=10&status=401",
        Some(&admin),
    )
    .await;
    let second: Vec<i64> = r.json()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect();
    assert_eq!(second, ids[11..21].to_vec());
    // Filters.
    let r = get(&app, "/admin/audit?user=quan_tri", Some(&admin)).await;
    assert_eq!(r.json()["entries"].as_array().map(Vec::len), Some(1));
    let r = get(
        &app,
        "/admin/audit?since=2999-01-01T00:00:00Z",
        Some(&admin),
    )
    .await;
    assert_eq!(r.json()["entries"].as_array().map(Vec::len), Some(0));
    let r = get(
        &app,
        "/admin/audit?since=2000-01-01T00:00:00%2B07:00",
        Some(&admin),
    )
    .await;
    assert_eq!(r.json()["entries"].as_array().map(Vec::len), Some(26));
    // Bad parameters are 400 problems, not 500s.
    for bad in [
        "limit=1001",
        "limit=0",
        "status=x",
        "since=today",
        "cursor=1",
    ] {
        let r = get(&app, &format!("/admin/audit?{bad}"), Some(&admin)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["status"], 400, "{bad}");
    }
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let db = TestDb::new().await;
    // One slot: on this single-threaded runtime the writer cannot run between the sends.
    let audit = tile_server::audit::Audit::start(db.pool.clone(), 1);
    let entry = |n: u16| AuditEntry {
        occurred_at: chrono::Utc::now(),
        actor: "anonymous".into(),
        subject: None,
        roles: vec![],
        event: AuditEvent::Denied,
        method: "GET".into(),
        path: format!("/x/{n}"),
        status: 401,
        detail: None,
        client_addr: None,
        request_id: None,
    };
    for n in 0..3 {
        audit.send(entry(n));
    }
    assert_eq!(audit.dropped(), 2);
    audit.flush().await;
    let paths: Vec<String> = sqlx::query_scalar("SELECT path FROM platform.audit_log")
        .fetch_all(&db.pool)
        .await
        .expect("rows");
    assert_eq!(paths, vec!["/x/0".to_string()]);
}

#[tokio::test]
async fn retention_deletes_only_old_entries() {
    let db = TestDb::new().await;
    let now = chrono::Utc::now();
    let entry = |age_days: i64| AuditEntry {
        occurred_at: now - chrono::Duration::days(age_days),
        actor: "anonymous".into(),
        subject: None,
        roles: vec![],
        event: AuditEvent::Denied,
        method: "GET".into(),
        path: format!("/age/{age_days}"),
        status: 401,
        detail: None,
        client_addr: Some([10, 0, 0, 1].into()),
        request_id: None,
    };
    let written = gis_core::audit::insert_batch(&db.pool, &[entry(400), entry(1)])
        .await
        .expect("insert");
    assert_eq!(written, 2);
    let deleted = gis_core::audit::purge_before(&db.pool, now - chrono::Duration::days(365))
        .await
        .expect("purge");
    assert_eq!(deleted, 1);
    let paths: Vec<String> = sqlx::query_scalar("SELECT path FROM platform.audit_log")
        .fetch_all(&db.pool)
        .await
        .expect("rows");
    assert_eq!(paths, vec!["/age/1".to_string()]);
}

#[tokio::test]
async fn the_audit_log_is_described_in_openapi_with_its_refusals() {
    let (_db, _state, app, _issuer, _dir) = setup().await;
    let r = get(&app, "/api", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    let op = &doc["paths"]["/admin/audit"]["get"];
    for status in ["200", "400", "401", "403"] {
        assert!(op["responses"][status].is_object(), "response {status}");
    }
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        params,
        ["limit", "offset", "before", "status", "user", "since"]
    );
    assert_eq!(op["security"][0]["bearer"], serde_json::json!([]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
