//! The development issuer: its key on disk, its tokens (Keycloak-shaped, accepted by the
//! `Verifier`), the PKCE code flow, and the same over HTTP through `dev_routes` on 127.0.0.1.

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Duration;

use auth::dev_issuer::{pkce_challenge, AuthorizeRequest, TokenRequest, DEMO_USERS, KEY_FILE};
use auth::{AuthError, DevIssuer, DevIssuerConfig, DevIssuerError, Role, Verifier};
use serde_json::Value;

const ISSUER: &str = "http://127.0.0.1:8080/dev-auth";
const VERIFIER: &str = "a-long-enough-pkce-verifier-0123456789-abcdefghijkl";
const REDIRECT: &str = "http://127.0.0.1:8080/map/";

fn open(dir: &std::path::Path) -> DevIssuer {
    DevIssuer::open_with_env(DevIssuerConfig::new(ISSUER, dir), |_| None).expect("dev issuer")
}

fn verifier_for(issuer: &DevIssuer) -> Verifier {
    Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks()).expect("verifier")
}

fn claims_of(token: &str) -> (Value, Value) {
    use base64::Engine as _;
    let decode = |part: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    (decode(parts[0]), decode(parts[1]))
}

#[test]
fn key_is_made_once_kept_private_and_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let first = open(&keys);
    let path = keys.join(KEY_FILE);
    let mode = std::fs::metadata(&path)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let dir_mode = std::fs::metadata(&keys)
        .expect("key dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "{dir_mode:o}");
    let token = first.issue("quan_tri").expect("token");

    let second = open(&keys);
    assert_eq!(first.kid(), second.kid(), "same key after a restart");
    assert_eq!(first.jwks(), second.jwks());
    let principal = futures_block(verifier_for(&second).verify(&token)).expect("valid");
    assert_eq!(principal.roles, vec![Role::Admin]);

    // A key file others can read is tightened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let _third = open(&keys);
    let mode = std::fs::metadata(&path)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Another directory, another key: tokens do not cross.
    let other = open(&dir.path().join("other"));
    assert_ne!(other.kid(), first.kid());
    let err = futures_block(verifier_for(&other).verify(&token)).expect_err("foreign key");
    assert!(matches!(err, AuthError::UnknownKey { .. }), "{err:?}");

    // A damaged key file is reported, not replaced.
    std::fs::write(&path, "not a key").expect("write");
    let err = DevIssuer::open_with_env(DevIssuerConfig::new(ISSUER, &keys), |_| None)
        .expect_err("damaged key");
    assert!(matches!(err, DevIssuerError::Key { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "not a key");
}

#[test]
fn refuses_production() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = DevIssuerConfig::new(ISSUER, dir.path());
    let env = |k: &str| (k == "BANDO_ENV").then(|| "production".to_string());
    assert_eq!(
        DevIssuer::open_with_env(config.clone(), env).expect_err("production"),
        DevIssuerError::Production
    );
    assert!(
        !dir.path().join(KEY_FILE).exists(),
        "no key made in production"
    );
    let env = |k: &str| (k == "BANDO_ENV").then(|| "development".to_string());
    assert!(DevIssuer::open_with_env(config, env).is_ok());
}

/// Runs a future on a fresh runtime (the static-key verifier never does I/O).
fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[tokio::test]
async fn demo_tokens_are_keycloak_shaped_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = open(dir.path());
    let verifier = verifier_for(&issuer);
    assert_eq!(DEMO_USERS.len(), Role::ALL.len());
    for role in Role::ALL {
        let user = DEMO_USERS
            .iter()
            .find(|u| u.role == role)
            .expect("one demo user per role");
        let token = issuer.issue(user.username).expect("token");
        let (header, claims) = claims_of(&token);
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], issuer.kid());
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["typ"], "Bearer");
        assert_eq!(claims["azp"], "bando");
        assert_eq!(claims["aud"], serde_json::json!(["bando", "account"]));
        assert_eq!(claims["preferred_username"], user.username);
        assert_eq!(claims["sub"], user.subject);
        assert_eq!(claims["scope"], "openid profile email");
        assert!(claims["realm_access"]["roles"]
            .as_array()
            .expect("roles")
            .contains(&Value::from(role.as_str())));
        for name in ["exp", "iat", "nbf"] {
            assert!(claims[name].is_u64(), "{name}");
        }
        assert!(claims["jti"].is_string());
        assert_eq!(claims["communes"], serde_json::json!(user.communes));

        let principal = verifier.verify(&token).await.expect("valid");
        assert_eq!(principal.roles, vec![role]);
        assert_eq!(principal.username, user.username);
        assert_eq!(principal.subject, user.subject);
        let communes: Vec<&str> = principal.communes.iter().map(String::as_str).collect();
        assert_eq!(communes, user.communes);
    }
    let officer = issuer.issue("can_bo_dia_chinh").expect("token");
    let principal = verifier.verify(&officer).await.expect("valid");
    assert_eq!(principal.communes, vec!["25195", "25198", "25201"]);
    assert!(matches!(
        issuer.issue("root"),
        Err(DevIssuerError::UnknownUser { .. })
    ));
}

fn authorize_request(challenge: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        username: "can_bo_dia_chinh".to_string(),
        client_id: "bando".to_string(),
        redirect_uri: REDIRECT.to_string(),
        code_challenge: challenge.to_string(),
        code_challenge_method: "S256".to_string(),
        nonce: Some("n-0S6_WzA2Mj".to_string()),
    }
}

fn token_request(code: &str, verifier: &str) -> TokenRequest {
    TokenRequest {
        code: code.to_string(),
        code_verifier: verifier.to_string(),
        redirect_uri: REDIRECT.to_string(),
        client_id: "bando".to_string(),
    }
}

#[tokio::test]
async fn pkce_code_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = open(dir.path());
    let verifier = verifier_for(&issuer);
    let challenge = pkce_challenge(VERIFIER);

    // Right verifier: tokens; the access token verifies, the ID token is not an access token.
    let code = issuer
        .authorize(authorize_request(&challenge))
        .expect("code");
    let response = issuer
        .exchange(token_request(&code, VERIFIER))
        .expect("tokens");
    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, 3600);
    let principal = verifier
        .verify(&response.access_token)
        .await
        .expect("valid");
    assert_eq!(principal.roles, vec![Role::LandOfficer]);
    let (_, id_claims) = claims_of(&response.id_token);
    assert_eq!(id_claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id_claims["typ"], "ID");
    assert!(matches!(
        verifier.verify(&response.id_token).await,
        Err(AuthError::NotAnAccessToken { .. })
    ));

    // The same code again: refused.
    let err = issuer
        .exchange(token_request(&code, VERIFIER))
        .expect_err("reused");
    assert!(
        matches!(err, DevIssuerError::InvalidGrant { .. }),
        "{err:?}"
    );
    assert_eq!(err.oauth_error(), "invalid_grant");

    // Wrong verifier: refused, and the code is spent by the attempt.
    let code = issuer
        .authorize(authorize_request(&challenge))
        .expect("code");
    let wrong = "another-pkce-verifier-of-sufficient-length-0123456789";
    let err = issuer
        .exchange(token_request(&code, wrong))
        .expect_err("wrong verifier");
    assert!(
        matches!(err, DevIssuerError::InvalidGrant { .. }),
        "{err:?}"
    );
    assert!(issuer.exchange(token_request(&code, VERIFIER)).is_err());

    // Another redirect URI than the one the code was bound to.
    let code = issuer
        .authorize(authorize_request(&challenge))
        .expect("code");
    let mut request = token_request(&code, VERIFIER);
    request.redirect_uri = "http://127.0.0.1:8080/other".to_string();
    assert!(matches!(
        issuer.exchange(request),
        Err(DevIssuerError::InvalidGrant { .. })
    ));

    // `plain`, a foreign redirect, another client, an unknown user: no code at all.
    let mut plain = authorize_request(VERIFIER);
    plain.code_challenge_method = "plain".to_string();
    assert!(matches!(
        issuer.authorize(plain),
        Err(DevIssuerError::InvalidRequest { .. })
    ));
    let mut foreign = authorize_request(&challenge);
    foreign.redirect_uri = "https://attacker.example/cb".to_string();
    assert!(matches!(
        issuer.authorize(foreign),
        Err(DevIssuerError::InvalidRequest { .. })
    ));
    let mut client = authorize_request(&challenge);
    client.client_id = "other".to_string();
    assert!(matches!(
        issuer.authorize(client),
        Err(DevIssuerError::UnknownClient { .. })
    ));
    let mut nobody = authorize_request(&challenge);
    nobody.username = "nobody".to_string();
    assert!(matches!(
        issuer.authorize(nobody),
        Err(DevIssuerError::UnknownUser { .. })
    ));

    // Codes expire.
    let mut config = DevIssuerConfig::new(ISSUER, dir.path());
    config.code_lifetime = Duration::from_millis(50);
    let short = DevIssuer::open_with_env(config, |_| None).expect("issuer");
    let code = short
        .authorize(authorize_request(&challenge))
        .expect("code");
    tokio::time::sleep(Duration::from_millis(80)).await;
    let err = short
        .exchange(token_request(&code, VERIFIER))
        .expect_err("expired");
    assert_eq!(
        err,
        DevIssuerError::InvalidGrant {
            reason: "the code has expired".to_string()
        }
    );
}

/// The whole flow over HTTP: discovery and JWKS from `dev_routes`, the login page, the chosen
/// user's redirect with a code, the token endpoint, and a `Verifier` that found the keys by
/// discovery.
#[tokio::test]
async fn over_http_with_discovery() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = Arc::new(
        DevIssuer::open_with_env(
            DevIssuerConfig::new(format!("{base}/dev-auth"), dir.path()),
            |_| None,
        )
        .expect("issuer"),
    );
    let app = auth::dev_routes(issuer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    let discovery: Value = http
        .get(format!("{base}/dev-auth/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["issuer"], format!("{base}/dev-auth"));
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    let challenge = pkce_challenge(VERIFIER);
    let redirect = format!("{base}/map/?x=1");
    let params = [
        ("response_type", "code"),
        ("client_id", "bando"),
        ("redirect_uri", redirect.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st<\"ate>"),
    ];
    let page = http
        .get(format!("{base}/dev-auth/authorize"))
        .query(&params)
        .send()
        .await
        .expect("login page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    let first_vi = html
        .find("Chuyên viên quy hoạch")
        .expect("Vietnamese names");
    assert!(first_vi < html.find("urban planner").expect("English after"));
    for user in DEMO_USERS {
        assert!(
            html.contains(&format!("value=\"{}\"", user.username)),
            "{}",
            user.username
        );
    }
    assert!(html.contains("st&lt;&quot;ate&gt;"), "state escaped");
    assert!(!html.contains("st<\"ate>"));

    // No PKCE: an error page, no redirect.
    let no_pkce = http
        .get(format!("{base}/dev-auth/authorize"))
        .query(&params[..3])
        .send()
        .await
        .expect("request");
    assert_eq!(no_pkce.status(), 400);

    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("username", "chuyen_vien_quy_hoach"));
    let chosen = http
        .post(format!("{base}/dev-auth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("login");
    assert_eq!(chosen.status(), 303);
    let location = chosen
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location");
    let location = reqwest::Url::parse(location).expect("url");
    assert!(location
        .as_str()
        .starts_with(&format!("{base}/map/?x=1&code=")));
    let query: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "st<\"ate>");
    let code = query["code"].clone();

    let exchange = |verifier: &'static str| {
        let http = http.clone();
        let url = format!("{base}/dev-auth/token");
        let form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("code_verifier", verifier.to_string()),
            ("redirect_uri", redirect.clone()),
            ("client_id", "bando".to_string()),
        ];
        async move { http.post(url).form(&form).send().await.expect("token") }
    };
    let wrong = exchange("another-pkce-verifier-of-sufficient-length-0123456789").await;
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    // That attempt spent the code; a new login gives a new one.
    let again = exchange(VERIFIER).await;
    assert_eq!(again.status(), 400);

    let chosen = http
        .post(format!("{base}/dev-auth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("login");
    let location = reqwest::Url::parse(
        chosen
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location"),
    )
    .expect("url");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let response = http
        .post(format!("{base}/dev-auth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", redirect.as_str()),
            ("client_id", "bando"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let tokens: Value = response.json().await.expect("json");
    let access = tokens["access_token"].as_str().expect("access token");

    // A verifier that knows only the issuer URL finds the keys by discovery.
    let verifier = Verifier::with_client(issuer.verifier_config(), http.clone()).expect("verifier");
    let principal = verifier.verify(access).await.expect("valid");
    assert_eq!(principal.roles, vec![Role::Planner]);
    assert_eq!(principal.username, "chuyen_vien_quy_hoach");
    assert_eq!(verifier.jwks_fetches(), 1);
}
