//! Security (issue 12): the private cluster asks for a password and keeps its socket private;
//! the importer never writes through a planted link; every answer says `nosniff` and HTML pages
//! carry a Content-Security-Policy with no inline script; links never echo an odd `Host`; CORS
//! is open for public reads and closed for token endpoints except to configured origins;
//! `/health` names no driver error; and random tile and collection paths never give a 500.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use gis_core::db::{ClusterOptions, PrivateCluster};
use proptest::prelude::*;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use tile_server::app::{app, app_with_dev_issuer, AppState, Limits};
use tower::ServiceExt;

use tests::TestDb;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

async fn call(app: &Router, req: Request<Body>) -> Reply {
    let response = app.clone().oneshot(req).await.expect("response");
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

fn get_req(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::empty()).expect("request")
}

// ------------------------------------------------------------------------------------------
// The private cluster
// ------------------------------------------------------------------------------------------

fn hba_methods(pgdata: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(pgdata.join("pg_hba.conf"))
        .expect("pg_hba.conf")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

fn without_password(cluster: &PrivateCluster) -> PgConnectOptions {
    PgConnectOptions::new()
        .host(&cluster.socket_dir().to_string_lossy())
        .port(cluster.port())
        .username(gis_core::db::cluster::CLUSTER_USER)
        .database("postgres")
}

#[tokio::test]
async fn the_private_cluster_asks_for_its_password_and_keeps_its_socket_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("state");
    let options = ClusterOptions {
        data_dir: data_dir.clone(),
        tcp: true,
    };
    let cluster = PrivateCluster::start(&options).await.expect("start");
    let methods = hba_methods(cluster.pgdata());
    assert!(!methods.is_empty());
    assert!(methods.iter().all(|m| m == "scram-sha-256"), "{methods:?}");
    let password_file = data_dir.join(gis_core::db::cluster::PASSWORD_FILE);
    let mode = std::fs::metadata(&password_file)
        .expect("password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let socket_mode = std::fs::metadata(cluster.socket_dir())
        .expect("socket dir")
        .permissions()
        .mode();
    assert_eq!(socket_mode & 0o777, 0o700, "{socket_mode:o}");
    assert!(cluster
        .socket_dir()
        .starts_with(data_dir.canonicalize().expect("canon")));

    // With the password: over the socket and over TCP (the URL `db start --tcp` prints).
    let mut conn = cluster.connect_options().connect().await.expect("socket");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(one, 1);
    let url = cluster.tcp_url("bando").expect("tcp url");
    let mut tcp: sqlx::PgConnection = sqlx::Connection::connect(&url).await.expect("tcp url");
    sqlx::query("SELECT 1")
        .execute(&mut tcp)
        .await
        .expect("tcp");
    // Without it, or with a wrong one: refused.
    let err = without_password(&cluster)
        .connect()
        .await
        .expect_err("no password over the socket");
    assert!(err.to_string().contains("password"), "{err}");
    let wrong = url.replace("://bando:", "://bando:x");
    let err = <sqlx::PgConnection as sqlx::Connection>::connect(&wrong)
        .await
        .expect_err("wrong password over TCP");
    assert!(err.to_string().contains("password"), "{err}");
    drop(conn);
    drop(tcp);
    cluster.stop().expect("stop");

    // A cluster an older bando made (trust, no password file) is switched at its next start.
    let hba = cluster.pgdata().join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).expect("hba");
    std::fs::write(&hba, text.replace("scram-sha-256", "trust")).expect("write hba");
    std::fs::remove_file(&password_file).expect("remove password");
    let cluster = PrivateCluster::start(&options).await.expect("restart");
    assert!(
        hba_methods(cluster.pgdata())
            .iter()
            .all(|m| m == "scram-sha-256"),
        "still trusting after the upgrade"
    );
    assert!(password_file.exists());
    cluster
        .connect_options()
        .connect()
        .await
        .expect("the new password works");
    without_password(&cluster)
        .connect()
        .await
        .expect_err("no password after the upgrade");
    cluster.stop().expect("stop");
}

#[tokio::test]
async fn a_long_data_dir_gets_a_fresh_private_socket_dir_not_a_predictable_tmp_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long = dir.path().join("d".repeat(90)).join("state");
    let cluster = PrivateCluster::start(&ClusterOptions {
        data_dir: long,
        tcp: false,
    })
    .await
    .expect("start");
    let socket = cluster.socket_dir().to_path_buf();
    let name = socket
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    assert!(name.starts_with("bando-pg-"), "{}", socket.display());
    // mkdtemp's random suffix, not a hash another user could compute and create first.
    assert!(name.len() >= "bando-pg-".len() + 6, "{name}");
    let mode = std::fs::metadata(&socket)
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    cluster.connect_options().connect().await.expect("connect");
    cluster.stop().expect("stop");
    assert!(!socket.exists(), "the socket dir is left behind");
}

// ------------------------------------------------------------------------------------------
// The importer's rejects file
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_planted_link_at_the_rejects_file_is_refused_and_its_target_untouched() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("xa.geojson");
    // One good commune and one with a malformed code: a rejects file is due.
    let feature = |code: &str, lon: f64| {
        format!(
            r#"{{"type":"Feature","properties":{{"MAXA":"{code}","TENXA":"Xã {code}","MAXA_2025":"25200","TENXA_2025":"Phường Đồng Xoài","MATINH":"75"}},"geometry":{{"type":"Polygon","coordinates":[[[{lon},11.5],[{lon2},11.5],[{lon2},11.51],[{lon},11.51],[{lon},11.5]]]}}}}"#,
            lon2 = lon + 0.01
        )
    };
    std::fs::write(
        &file,
        format!(
            r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
            feature("25195", 106.88),
            feature("2519X", 106.90)
        ),
    )
    .expect("write");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").expect("victim");
    let link = dir.path().join("communes.rejects.csv");
    std::os::unix::fs::symlink(&victim, &link).expect("plant link");

    let err = tests::import(&db.pool, &file, "communes")
        .await
        .expect_err("the link is refused");
    let text = err.to_string();
    assert!(text.contains("symbolic link"), "{text}");
    assert!(text.contains("nothing imported"), "{text}");
    assert!(text.contains("communes.rejects.csv"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    assert!(std::fs::symlink_metadata(&link)
        .expect("link")
        .file_type()
        .is_symlink());
    assert!(land::communes::list(&db.pool)
        .await
        .expect("list")
        .is_empty());

    // Without the link the import goes ahead; an earlier rejects file is replaced, not appended.
    std::fs::remove_file(&link).expect("unlink");
    std::fs::write(&link, "old contents\n").expect("old rejects");
    let summary = tests::import(&db.pool, &file, "communes")
        .await
        .expect("import");
    assert_eq!(summary.rejected, 1);
    let rejects = std::fs::read_to_string(&link).expect("rejects");
    assert!(
        rejects.starts_with("source_file,feature_index,reason"),
        "{rejects}"
    );
    assert!(rejects.contains("2519X"), "{rejects}");
    assert!(!rejects.contains("old contents"), "{rejects}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".bando-rejects-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

// ------------------------------------------------------------------------------------------
// Headers, links, CORS
// ------------------------------------------------------------------------------------------

async fn served() -> (TestDb, AppState, tempfile::TempDir) {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let set = sample::write_sample_with(
        dir.path(),
        &sample::SampleOptions {
            seed: 12,
            parcels: 512,
        },
    )
    .expect("sample");
    for layer in ["communes", "parcels"] {
        let file = set
            .files
            .iter()
            .find(|f| f.layer == layer && !f.copy)
            .expect("sample file");
        let mut opts = importers::pipeline::ImportOptions::new(layer);
        if file.path.extension().is_some_and(|e| e == "csv") {
            opts.srs = Some(file.srid);
        }
        importers::pipeline::import(&db.pool, &file.path, &opts)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
    }
    let state = AppState::new(db.pool.clone()).expect("state");
    (db, state, dir)
}

/// Every `<script>` names a file: no inline code, no event-handler attributes.
fn assert_no_inline_script(page: &str, html: &str) {
    let lower = html.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag_end = lower[at..].find('>').map_or(lower.len(), |e| at + e);
        assert!(
            lower[at..tag_end].contains(" src="),
            "{page}: inline script at byte {at}"
        );
    }
    for attr in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        "javascript:",
    ] {
        assert!(!lower.contains(attr), "{page}: {attr}");
    }
}

#[tokio::test]
async fn every_html_page_has_a_policy_without_inline_script_and_every_answer_says_nosniff() {
    let (_db, state, _sample) = served().await;
    let keys = tempfile::tempdir().expect("keys");
    let issuer = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", keys.path().join("keys")),
        |_| None,
    )
    .expect("dev issuer");
    // The development issuer is on: the banner is injected into the pages too.
    assert!(state
        .sign_in
        .set(tile_server::routes::signin::BrowserSignIn {
            issuer: "http://127.0.0.1:9/dev-auth".into(),
            client_id: "bando".into(),
            development: true,
        })
        .is_ok());
    tile_server::routes::web::set_web_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web"),
    );
    let app = app_with_dev_issuer(state, Limits::default(), Some(Arc::new(issuer)));
    let html = [("accept", "text/html")];
    let items = call(
        &app,
        get_req("/collections/parcels/items?limit=1&f=json", &[]),
    )
    .await;
    let items: serde_json::Value = serde_json::from_slice(&items.body).expect("items");
    let id = items["features"][0]["id"].to_string().replace('"', "");
    let pages = [
        "/".to_string(),
        "/collections?f=html".into(),
        "/collections/parcels?f=html".into(),
        "/collections/parcels/items?f=html&limit=2".into(),
        format!("/collections/parcels/items/{id}?f=html"),
        "/collections/parcels/queryables?f=html".into(),
        "/api.html".into(),
        "/tiles?f=html".into(),
        "/map".into(),
        "/ioc".into(),
        "/dev-auth/authorize?response_type=code&client_id=bando&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fmap&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s".into(),
    ];
    for page in &pages {
        let r = call(&app, get_req(page, &html)).await;
        assert_eq!(r.status, StatusCode::OK, "{page}: {}", r.text());
        assert!(r.header("content-type").starts_with("text/html"), "{page}");
        let csp = r.header("content-security-policy");
        // Scripts from this server, plus inline import maps by their hashes only.
        let scripts = csp
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix("script-src "))
            .unwrap_or_else(|| panic!("{page}: no script-src: {csp}"));
        assert!(
            scripts
                .split(' ')
                .all(|s| s == "'self'" || (s.starts_with("'sha256-") && s.ends_with('\''))),
            "{page}: {csp}"
        );
        assert!(scripts.starts_with("'self'"), "{page}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{page}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{page}: {csp}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{page}");
        assert_no_inline_script(page, &r.text());
        if !page.starts_with("/dev-auth") {
            assert!(r.text().contains("dev-issuer-banner"), "{page}: no banner");
        }
    }
    // The map's needs: MapLibre's workers and images from blob:, the issuer for sign-in.
    let map = call(&app, get_req("/map", &html)).await;
    let csp = map.header("content-security-policy");
    assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
    assert!(csp.contains("img-src 'self' data: blob:"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' http://localhost:8080 http://127.0.0.1:9;"),
        "{csp}"
    );

    // MapLibre's worker runs under its script's own policy: scripts get the page policy.
    let script = call(
        &app,
        get_req("/vendor/maplibre-gl/maplibre-gl-worker.mjs", &[]),
    )
    .await;
    assert_eq!(script.status, StatusCode::OK);
    let csp = script.header("content-security-policy");
    assert!(csp.contains("connect-src 'self'"), "{csp}");

    // Every other answer: JSON, tiles, problems, the dev issuer's JSON.
    for uri in [
        "/?f=json",
        "/health",
        "/collections/parcels/items?limit=1",
        "/tiles/parcels/14/13064/7617.mvt",
        "/styles/planning.json",
        "/nowhere",
        "/collections/parcels/items?limit=banana",
        "/dev-auth/jwks",
    ] {
        let r = call(&app, get_req(uri, &[])).await;
        assert!(r.status.as_u16() < 500, "{uri}: {}", r.status);
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(
            r.header("content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'",
            "{uri}"
        );
        assert_eq!(r.header("x-frame-options"), "DENY", "{uri}");
    }
}

#[tokio::test]
async fn links_echo_only_a_valid_host_and_vary_on_it() {
    let (_db, state, _sample) = served().await;
    let app = app(state, Limits::default());
    let good = call(
        &app,
        get_req("/?f=json", &[("host", "gis.example.vn:8080")]),
    )
    .await;
    assert_eq!(good.status, StatusCode::OK);
    assert!(
        good.text().contains("http://gis.example.vn:8080/"),
        "{}",
        good.text()
    );
    let vary = good.header("vary").to_ascii_lowercase();
    assert!(vary.contains("host"), "{vary}");
    for odd in [
        "evil.example/x?y",
        "a@evil.example",
        "evil.example\"><script>",
        "evil.example%2f",
    ] {
        let Ok(req) = Request::get("/styles/planning.json")
            .header("host", odd)
            .body(Body::empty())
        else {
            continue;
        };
        let r = call(&app, req).await;
        assert_eq!(r.status, StatusCode::OK, "{odd}");
        assert!(!r.text().contains("evil"), "{odd} echoed: {}", r.text());
    }
}

#[tokio::test]
async fn public_reads_answer_any_origin_and_token_endpoints_only_configured_ones() {
    let (_db, state, _sample) = served().await;
    assert!(state
        .cors_origins
        .set(vec!["https://app.example.vn".into()])
        .is_ok());
    let app = app(state, Limits::default());
    let other = "https://elsewhere.example";
    let mine = "https://app.example.vn";

    for uri in [
        "/tiles/parcels/14/13064/7617.mvt",
        "/tiles/parcels.json",
        "/styles/planning.json",
        "/sprites/bando.json",
        "/collections",
        "/collections/parcels/items?limit=1",
        "/collections/parcels/queryables",
    ] {
        let r = call(&app, get_req(uri, &[("origin", other)])).await;
        assert!(
            r.status.is_success() || r.status == StatusCode::NO_CONTENT,
            "{uri}: {}",
            r.status
        );
        assert_eq!(r.header("access-control-allow-origin"), "*", "{uri}");
        assert!(
            r.header("access-control-allow-credentials").is_empty(),
            "{uri}"
        );
        let preflight = Request::builder()
            .method(Method::OPTIONS)
            .uri(uri)
            .header("origin", other)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "if-none-match")
            .body(Body::empty())
            .expect("preflight");
        let r = call(&app, preflight).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{uri}");
        assert_eq!(r.header("access-control-allow-origin"), "*", "{uri}");
        assert!(r
            .header("access-control-allow-headers")
            .contains("if-none-match"));
        assert!(!r
            .header("access-control-allow-headers")
            .contains("authorization"));
    }

    let write_preflight = |origin: &str, method: &str, uri: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(uri)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type, if-match, edit-reason, edit-document",
            )
            .body(Body::empty())
            .expect("preflight")
    };
    for (method, uri) in [
        ("POST", "/collections/parcels/items"),
        ("PATCH", "/collections/parcels/items/1"),
        ("DELETE", "/collections/parcels/items/1"),
        ("GET", "/admin/audit"),
    ] {
        let refused = call(&app, write_preflight(other, method, uri)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert!(refused.header("access-control-allow-origin").is_empty());
        assert!(
            refused.text().contains("cors_origins"),
            "{}",
            refused.text()
        );
        let allowed = call(&app, write_preflight(mine, method, uri)).await;
        assert_eq!(allowed.status, StatusCode::NO_CONTENT, "{method} {uri}");
        assert_eq!(allowed.header("access-control-allow-origin"), mine);
        assert!(allowed
            .header("access-control-allow-methods")
            .contains(method));
        let headers = allowed.header("access-control-allow-headers");
        for wanted in ["authorization", "if-match", "edit-reason", "edit-document"] {
            assert!(headers.contains(wanted), "{method} {uri}: {headers}");
        }
        assert!(allowed.header("vary").contains("Origin"));
    }
    // The actual answers: the token endpoints name only a configured origin.
    let patch = |origin: &str| {
        Request::builder()
            .method(Method::PATCH)
            .uri("/collections/parcels/items/1")
            .header("origin", origin)
            .header("content-type", "application/merge-patch+json")
            .body(Body::from("{}"))
            .expect("patch")
    };
    let r = call(&app, patch(other)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert!(r.header("access-control-allow-origin").is_empty());
    let r = call(&app, patch(mine)).await;
    assert_eq!(r.header("access-control-allow-origin"), mine);
    // What a write answers is readable there: its tag and what snapping moved.
    let exposed = r.header("access-control-expose-headers");
    assert!(
        exposed.contains("etag") && exposed.contains("bando-snapped"),
        "{exposed}"
    );
    let r = call(&app, get_req("/admin/audit", &[("origin", other)])).await;
    assert!(r.header("access-control-allow-origin").is_empty());
    // Not offered across origins at all.
    let r = call(&app, get_req("/health", &[("origin", other)])).await;
    assert!(r.header("access-control-allow-origin").is_empty());
}

#[tokio::test]
async fn health_and_errors_name_no_driver_error_or_internal_path() {
    // Nothing listens here: the driver's error names the address and the OS error.
    let gone = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://bando:secret@127.0.0.1:1/gone")
        .expect("lazy pool");
    let app = app(AppState::new(gone).expect("state"), Limits::default());
    for uri in [
        "/health",
        "/collections/parcels/items",
        "/tiles/parcels/14/13064/7617.mvt",
    ] {
        let r = call(&app, get_req(uri, &[])).await;
        assert!(r.status.is_server_error(), "{uri}: {}", r.status);
        assert_eq!(
            r.header("content-type"),
            "application/problem+json",
            "{uri}"
        );
        let text = r.text();
        for leak in [
            "127.0.0.1",
            "refused",
            "os error",
            "secret",
            "gone",
            "sqlx",
            "/work",
            "/tmp",
        ] {
            assert!(!text.contains(leak), "{uri} leaks {leak:?}: {text}");
        }
    }
}

// ------------------------------------------------------------------------------------------
// Random paths through the real router
// ------------------------------------------------------------------------------------------

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("parcels".to_string()),
        Just("parcels,communes".to_string()),
        Just("communes,,parcels, ".to_string()),
        Just("water_meters".to_string()),
        "[0-9]{1,12}",
        "[0-9]{1,2}\\.(mvt|pbf|json|png|x)",
        "[-a-z0-9_,.%]{0,20}",
        "\\PC{0,8}",
    ]
}

fn fuzz_cases() -> u32 {
    std::env::var("BANDO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

#[test]
fn random_tile_and_collection_paths_never_give_a_500() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (db, state, sample) = rt.block_on(served());
    let app = app(state, Limits::default());
    let mut runner =
        proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(fuzz_cases()));
    let paths = (0usize..6, segment(), segment(), segment(), segment());
    let result = runner.run(&paths, |(shape, a, b, c, d)| {
        let enc = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.,".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let (a, b, c, d) = (enc(&a), enc(&b), enc(&c), enc(&d));
        let uri = match shape {
            0 => format!("/tiles/{a}/{b}/{c}/{d}"),
            1 => format!("/tiles/{a}.json"),
            2 => format!("/collections/{a}/tiles/WebMercatorQuad/{b}/{c}/{d}"),
            3 => format!("/collections/{a}/items/{b}"),
            4 => format!("/collections/{a}/items?limit={b}&bbox={c}&sortby={d}"),
            _ => format!("/collections/{a}/queryables?f={b}"),
        };
        let r = rt.block_on(call(&app, get_req(&uri, &[])));
        prop_assert!(
            r.status.as_u16() < 500,
            "{} → {}: {}",
            uri,
            r.status,
            r.text()
        );
        if r.status.is_client_error() {
            prop_assert_eq!(
                r.header("content-type"),
                "application/problem+json",
                "{}",
                uri
            );
        }
        Ok(())
    });
    drop((db, sample));
    if let Err(e) = result {
        panic!("{e}");
    }
}
