//! The token matrix: Keycloak-shaped tokens signed by test keys whose JWKS a small identity
//! provider on 127.0.0.1 serves (discovery + certs, as Keycloak lays them out), checked by a
//! real `Verifier` that found the keys by discovery.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::{AuthError, Role, Verifier, VerifierConfig};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const RSA_A: &str = include_str!("fixtures/rsa_a.pem");
const RSA_A_PUB: &str = include_str!("fixtures/rsa_a.pub.pem");
const RSA_B: &str = include_str!("fixtures/rsa_b.pem");
const RSA_UNKNOWN: &str = include_str!("fixtures/rsa_unknown.pem");
const EC_P256: &str = include_str!("fixtures/ec_p256.pem");

const AUDIENCE: &str = "bando";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

struct TestKey {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

fn rsa(kid: &'static str, pem: &str) -> TestKey {
    TestKey {
        kid,
        alg: Algorithm::RS256,
        key: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("rsa key"),
    }
}

fn ec(kid: &'static str) -> TestKey {
    TestKey {
        kid,
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(EC_P256.as_bytes()).expect("ec key"),
    }
}

/// The public JWK of a test key, as Keycloak publishes it (kid, alg, use).
fn public_jwk(key: &TestKey) -> Value {
    let jwk = Jwk::from_encoding_key(&key.key, key.alg).expect("public jwk");
    let mut value = serde_json::to_value(jwk).expect("json");
    value["kid"] = json!(key.kid);
    value["use"] = json!("sig");
    value
}

/// An encryption key as Keycloak also lists it (must be ignored for signatures).
fn encryption_jwk(key: &TestKey) -> Value {
    let mut value = public_jwk(key);
    value["kid"] = json!("enc-key");
    value["use"] = json!("enc");
    value["alg"] = json!("RSA-OAEP");
    value
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| public_jwk(k)).collect::<Vec<_>>() })
}

/// Claims as Keycloak writes them into an access token.
fn keycloak_claims(issuer: &str, username: &str, roles: &[&str]) -> Value {
    let now = now();
    json!({
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": "8d0c1d5e-2f0b-4c1e-9d7b-1a2b3c4d5e6f",
        "iss": issuer,
        "aud": [AUDIENCE, "account"],
        "sub": format!("sub-{username}"),
        "typ": "Bearer",
        "azp": AUDIENCE,
        "sid": "0b7a1e4c-0000-4000-8000-000000000001",
        "acr": "1",
        "realm_access": { "roles": roles },
        "resource_access": { "account": { "roles": ["manage-account", "view-profile"] } },
        "scope": "openid profile email",
        "email_verified": false,
        "preferred_username": username,
        "communes": ["25195", "25198"],
    })
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.typ = Some("JWT".to_string());
    header.kid = Some(key.kid.to_string());
    jsonwebtoken::encode(&header, claims, &key.key).expect("sign")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A test identity provider on 127.0.0.1 laid out as Keycloak's realm endpoints.
#[derive(Clone)]
struct Idp {
    issuer: String,
    jwks: Arc<Mutex<Value>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
}

impl Idp {
    async fn start(keys: Value) -> Idp {
        Self::start_with_issuer(keys, None).await
    }

    /// `claimed_issuer`: what discovery says the issuer is (default: the real address).
    async fn start_with_issuer(keys: Value, claimed_issuer: Option<&str>) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let issuer = format!("http://{addr}/realms/bando");
        let idp = Idp {
            issuer: issuer.clone(),
            jwks: Arc::new(Mutex::new(keys)),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
            discovery_hits: Arc::new(AtomicUsize::new(0)),
        };
        let discovery = json!({
            "issuer": claimed_issuer.unwrap_or(&issuer),
            "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
            "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
            "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        });
        let app = Router::new()
            .route(
                "/realms/bando/.well-known/openid-configuration",
                get(move |State(idp): State<Idp>| {
                    let discovery = discovery.clone();
                    async move {
                        idp.discovery_hits.fetch_add(1, Ordering::SeqCst);
                        Json(discovery)
                    }
                }),
            )
            .route(
                "/realms/bando/protocol/openid-connect/certs",
                get(|State(idp): State<Idp>| async move {
                    idp.jwks_hits.fetch_add(1, Ordering::SeqCst);
                    let keys = idp.jwks.lock().expect("jwks lock").clone();
                    Json(keys)
                }),
            )
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        idp
    }

    fn set_keys(&self, keys: Value) {
        *self.jwks.lock().expect("jwks lock") = keys;
    }

    fn jwks_fetches(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    fn config(&self) -> VerifierConfig {
        VerifierConfig::new(&self.issuer, AUDIENCE)
    }

    fn verifier(&self, config: VerifierConfig) -> Verifier {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        Verifier::with_client(config, client).expect("verifier")
    }
}

/// The failure of `token`, after checking that neither message nor challenge repeats it.
async fn refused(verifier: &Verifier, token: &str) -> AuthError {
    let err = verifier
        .verify(token)
        .await
        .expect_err("the token must be refused");
    let shown = format!("{err} {:?} {}", err, err.www_authenticate());
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(!shown.contains(part), "message repeats the token: {shown}");
    }
    assert!(
        err.www_authenticate()
            .starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{}",
        err.www_authenticate()
    );
    err
}

#[tokio::test]
async fn valid_keycloak_token_for_each_role() {
    let key = rsa("kc-rsa-a", RSA_A);
    let idp = Idp::start(jwks(&[&key])).await;
    let verifier = idp.verifier(idp.config());
    for role in Role::ALL {
        let claims = keycloak_claims(
            &idp.issuer,
            role.as_str(),
            &[
                role.as_str(),
                "offline_access",
                "uma_authorization",
                "default-roles-bando",
            ],
        );
        let principal = verifier
            .verify(&sign(&key, &claims))
            .await
            .unwrap_or_else(|e| panic!("{role}: {e}"));
        assert_eq!(
            principal.roles,
            vec![role],
            "unknown realm roles are dropped"
        );
        assert_eq!(principal.username, role.as_str());
        assert_eq!(principal.subject, format!("sub-{role}"));
        assert_eq!(principal.communes, vec!["25195", "25198"]);
        let exp = claims["exp"].as_u64().expect("exp");
        assert_eq!(principal.expires_at, UNIX_EPOCH + Duration::from_secs(exp));
    }
    assert_eq!(idp.jwks_fetches(), 1, "keys are cached");
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(verifier.jwks_fetches(), 1);

    // Anonymous and header parsing through `authenticate`.
    assert_eq!(verifier.authenticate(None).await, Ok(None));
    let token = sign(&key, &keycloak_claims(&idp.issuer, "a", &["admin"]));
    let principal = verifier
        .authenticate(Some(&format!("Bearer {token}")))
        .await
        .expect("valid")
        .expect("principal");
    assert!(principal.has_role(Role::Admin));
    assert_eq!(
        verifier.authenticate(Some(&format!("Basic {token}"))).await,
        Err(AuthError::NotBearer)
    );
}

#[tokio::test]
async fn es256_keys_and_mixed_key_sets_work() {
    let rsa_key = rsa("kc-rsa-a", RSA_A);
    let ec_key = ec("kc-ec");
    let mut keys = jwks(&[&rsa_key, &ec_key]);
    if let Some(list) = keys["keys"].as_array_mut() {
        list.push(encryption_jwk(&rsa("x", RSA_B)));
        list.push(json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}));
    }
    let idp = Idp::start(keys).await;
    let verifier = idp.verifier(idp.config());
    let claims = keycloak_claims(&idp.issuer, "ioc", &["ioc_operator"]);
    let principal = verifier
        .verify(&sign(&ec_key, &claims))
        .await
        .expect("ES256");
    assert_eq!(principal.roles, vec![Role::IocOperator]);
    verifier
        .verify(&sign(&rsa_key, &claims))
        .await
        .expect("RS256");
    // The oct key is never usable, even if a token names it.
    let hs = jsonwebtoken::encode(
        &Header {
            kid: Some("hmac".into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims,
        &EncodingKey::from_secret(b"secret").expect("secret"),
    )
    .expect("sign");
    assert!(matches!(
        refused(&verifier, &hs).await,
        AuthError::AlgorithmNotAllowed { .. }
    ));
}

#[tokio::test]
async fn expiry_and_not_before_with_leeway() {
    let key = rsa("kc-rsa-a", RSA_A);
    let idp = Idp::start(jwks(&[&key])).await;
    let verifier = idp.verifier(idp.config());
    let base = keycloak_claims(&idp.issuer, "p", &["planner"]);

    let mut expired = base.clone();
    expired["exp"] = json!(now() - 120);
    let err = refused(&verifier, &sign(&key, &expired)).await;
    assert!(
        matches!(err, AuthError::Expired { expired_at } if expired_at == expired["exp"].as_u64().unwrap_or(0)),
        "{err:?}"
    );
    assert!(err.www_authenticate().contains("expired"));

    let mut in_leeway = base.clone();
    in_leeway["exp"] = json!(now() - 20);
    verifier
        .verify(&sign(&key, &in_leeway))
        .await
        .expect("20 s past exp is within the 60 s leeway");

    let mut early = base.clone();
    early["nbf"] = json!(now() + 120);
    let err = refused(&verifier, &sign(&key, &early)).await;
    assert!(matches!(err, AuthError::NotYetValid { .. }), "{err:?}");

    let mut no_exp = base.clone();
    no_exp.as_object_mut().expect("object").remove("exp");
    let err = refused(&verifier, &sign(&key, &no_exp)).await;
    assert!(matches!(err, AuthError::Malformed { .. }), "{err:?}");
}

#[tokio::test]
async fn issuer_audience_and_token_type() {
    let key = rsa("kc-rsa-a", RSA_A);
    let idp = Idp::start(jwks(&[&key])).await;
    let verifier = idp.verifier(idp.config());
    let base = keycloak_claims(&idp.issuer, "p", &["planner"]);

    let mut wrong_iss = base.clone();
    wrong_iss["iss"] = json!("http://127.0.0.1:1/realms/other");
    let err = refused(&verifier, &sign(&key, &wrong_iss)).await;
    assert_eq!(
        err,
        AuthError::WrongIssuer {
            expected: idp.issuer.clone(),
            found: Some("http://127.0.0.1:1/realms/other".to_string())
        }
    );
    let mut no_iss = base.clone();
    no_iss.as_object_mut().expect("object").remove("iss");
    assert!(matches!(
        refused(&verifier, &sign(&key, &no_iss)).await,
        AuthError::WrongIssuer { found: None, .. }
    ));

    let mut wrong_aud = base.clone();
    wrong_aud["aud"] = json!("other-service");
    wrong_aud["azp"] = json!("other-client");
    assert!(matches!(
        refused(&verifier, &sign(&key, &wrong_aud)).await,
        AuthError::WrongAudience { .. }
    ));

    // Keycloak without an audience mapper: aud is only "account", the client is in azp.
    let mut azp_only = base.clone();
    azp_only["aud"] = json!("account");
    let token = sign(&key, &azp_only);
    assert!(matches!(
        refused(&verifier, &token).await,
        AuthError::WrongAudience { .. }
    ));
    let mut config = idp.config();
    config.accept_azp = true;
    let azp_verifier = idp.verifier(config);
    azp_verifier
        .verify(&token)
        .await
        .expect("azp accepted when configured");
    assert!(matches!(
        refused(&azp_verifier, &sign(&key, &wrong_aud)).await,
        AuthError::WrongAudience { .. }
    ));

    // A Keycloak ID token (typ ID, aud = client) is not an access token.
    let mut id_token = base.clone();
    id_token["typ"] = json!("ID");
    id_token["aud"] = json!(AUDIENCE);
    assert_eq!(
        refused(&verifier, &sign(&key, &id_token)).await,
        AuthError::NotAnAccessToken {
            typ: "ID".to_string()
        }
    );
}

#[tokio::test]
async fn configured_claim_paths() {
    let key = rsa("kc-rsa-a", RSA_A);
    let idp = Idp::start(jwks(&[&key])).await;
    let mut config = idp.config();
    config.roles_claim = "resource_access.bando.roles".to_string();
    config.scope_claim = "bando.communes".to_string();
    config.username_claim = "email".to_string();
    let verifier = idp.verifier(config);
    let mut claims = keycloak_claims(&idp.issuer, "x", &["admin"]);
    claims["resource_access"]["bando"] =
        json!({"roles": ["land_officer", "land_officer", "viewer"]});
    claims["bando"] = json!({"communes": "25201 25204"});
    claims["email"] = json!("dia.chinh@example.vn");
    let principal = verifier.verify(&sign(&key, &claims)).await.expect("valid");
    assert_eq!(principal.roles, vec![Role::LandOfficer]);
    assert_eq!(principal.communes, vec!["25201", "25204"]);
    assert_eq!(principal.username, "dia.chinh@example.vn");
}

#[tokio::test]
async fn forged_algorithms_keys_and_payloads_are_refused() {
    let key = rsa("kc-rsa-a", RSA_A);
    let idp = Idp::start(jwks(&[&key, &ec("kc-ec")])).await;
    let verifier = idp.verifier(idp.config());
    let claims = keycloak_claims(&idp.issuer, "p", &["planner"]);
    let payload = b64(claims.to_string().as_bytes());

    // alg: none, in any spelling, with and without a signature part.
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT", "kid": "kc-rsa-a"})
            .to_string()
            .as_bytes());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.c2ln"),
        ] {
            let err = refused(&verifier, &token).await;
            assert_eq!(
                err,
                AuthError::AlgorithmNotAllowed {
                    alg: alg.to_string(),
                    key_alg: None
                }
            );
        }
    }

    // HS256 with the RSA public key PEM as the HMAC secret (the classic confusion attack).
    let secret = EncodingKey::from_secret(RSA_A_PUB.as_bytes()).expect("secret");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("kc-rsa-a".into());
    let hs = jsonwebtoken::encode(&header, &claims, &secret).expect("sign");
    assert_eq!(
        refused(&verifier, &hs).await,
        AuthError::AlgorithmNotAllowed {
            alg: "HS256".into(),
            key_alg: None
        }
    );
    // … and the same MAC under a header claiming RS256.
    let parts: Vec<&str> = hs.split('.').collect();
    let rs_header = b64(json!({"alg": "RS256", "typ": "JWT", "kid": "kc-rsa-a"})
        .to_string()
        .as_bytes());
    let relabelled = format!("{rs_header}.{}.{}", parts[1], parts[2]);
    assert_eq!(
        refused(&verifier, &relabelled).await,
        AuthError::BadSignature
    );

    // An ES256 token naming the RSA key's kid: the key's algorithm is pinned.
    let ec_key = TestKey {
        kid: "kc-rsa-a",
        ..ec("x")
    };
    assert_eq!(
        refused(&verifier, &sign(&ec_key, &claims)).await,
        AuthError::AlgorithmNotAllowed {
            alg: "ES256".into(),
            key_alg: Some("RS256")
        }
    );

    // Signed by a key the provider does not publish: unknown kid, or a published kid.
    let stranger = rsa("stranger", RSA_UNKNOWN);
    assert_eq!(
        refused(&verifier, &sign(&stranger, &claims)).await,
        AuthError::UnknownKey {
            kid: Some("stranger".into())
        }
    );
    let impostor = rsa("kc-rsa-a", RSA_UNKNOWN);
    assert_eq!(
        refused(&verifier, &sign(&impostor, &claims)).await,
        AuthError::BadSignature
    );

    // Tampered payload: a planner makes themself admin.
    let token = sign(&key, &claims);
    let mut promoted = claims.clone();
    promoted["realm_access"]["roles"] = json!(["admin"]);
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(promoted.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(refused(&verifier, &tampered).await, AuthError::BadSignature);
    // Tampered signature.
    let mut sig = parts[2].to_string();
    sig.replace_range(
        0..4,
        if sig.starts_with("AAAA") {
            "BBBB"
        } else {
            "AAAA"
        },
    );
    assert_eq!(
        refused(&verifier, &format!("{}.{}.{sig}", parts[0], parts[1])).await,
        AuthError::BadSignature
    );

    // Not a JWT at all.
    for junk in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.sig", "e30.e30.sig"] {
        let err = verifier.verify(junk).await.expect_err("junk");
        assert!(
            matches!(err, AuthError::Malformed { .. }),
            "{junk:?}: {err:?}"
        );
    }
    // The untouched token still passes, so each refusal above was for its own reason.
    verifier.verify(&token).await.expect("original token");
    assert_eq!(
        idp.jwks_fetches(),
        1,
        "the unknown kid came within the default 30 s of the first fetch: no refetch"
    );
}

#[tokio::test]
async fn key_rotation_is_picked_up_with_one_fetch() {
    // The refetch interval is wall-clock time: every token is signed before the clock matters,
    // and each rate-limit check follows its fetch by far less than the interval.
    const INTERVAL: Duration = Duration::from_millis(2000);
    const PAST_INTERVAL: Duration = Duration::from_millis(2100);
    let old = rsa("kc-old", RSA_A);
    let new = rsa("kc-new", RSA_B);
    let idp = Idp::start(jwks(&[&old])).await;
    let mut config = idp.config();
    config.min_refetch_interval = INTERVAL;
    let verifier = idp.verifier(config);
    let claims = keycloak_claims(&idp.issuer, "p", &["planner"]);
    let old_token = sign(&old, &claims);
    let new_token = sign(&new, &claims);
    let stranger = sign(&rsa("kc-stranger", RSA_UNKNOWN), &claims);
    let newest = sign(&rsa("kc-newest", RSA_UNKNOWN), &claims);

    verifier.verify(&old_token).await.expect("old key");
    assert_eq!(idp.jwks_fetches(), 1);

    tokio::time::sleep(PAST_INTERVAL).await;
    // Keycloak rotates: the new key becomes active, the old one stays published (passive).
    idp.set_keys(jwks(&[&new, &old]));
    let results = futures_join(&verifier, &new_token, 8).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        idp.jwks_fetches(),
        2,
        "eight concurrent checks, one refetch"
    );

    // An unknown kid right after a fetch is refused without another fetch…
    for _ in 0..2 {
        assert!(matches!(
            refused(&verifier, &stranger).await,
            AuthError::UnknownKey { .. }
        ));
    }
    assert_eq!(idp.jwks_fetches(), 2, "rate-limited");
    // Known kids never fetch, however much time passes.
    for _ in 0..3 {
        verifier.verify(&new_token).await.expect("new key, cached");
        verifier
            .verify(&old_token)
            .await
            .expect("old tokens valid until expiry");
    }
    assert_eq!(idp.jwks_fetches(), 2);

    // … and after the interval the unknown kid may fetch once more.
    tokio::time::sleep(PAST_INTERVAL).await;
    assert!(matches!(
        refused(&verifier, &stranger).await,
        AuthError::UnknownKey { .. }
    ));
    assert_eq!(idp.jwks_fetches(), 3);

    // The old key retired: its tokens fail once the set is refetched.
    tokio::time::sleep(PAST_INTERVAL).await;
    idp.set_keys(jwks(&[&new]));
    assert!(matches!(
        refused(&verifier, &newest).await,
        AuthError::UnknownKey { .. }
    ));
    assert_eq!(idp.jwks_fetches(), 4);
    assert_eq!(
        refused(&verifier, &old_token).await,
        AuthError::UnknownKey {
            kid: Some("kc-old".into())
        }
    );
    verifier.verify(&new_token).await.expect("new key");
    assert_eq!(
        idp.discovery_hits.load(Ordering::SeqCst),
        1,
        "discovery once"
    );
}

/// `n` concurrent verifications of one token.
async fn futures_join(
    verifier: &Verifier,
    token: &str,
    n: usize,
) -> Vec<Result<auth::Principal, AuthError>> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let verifier = verifier.clone();
        let token = token.to_string();
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    let mut out = Vec::new();
    while let Some(result) = tasks.join_next().await {
        out.push(result.expect("task"));
    }
    out
}

#[tokio::test]
async fn unreachable_or_misdeclared_provider() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let issuer = format!("http://127.0.0.1:{port}/realms/bando");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let verifier =
        Verifier::with_client(VerifierConfig::new(&issuer, AUDIENCE), client).expect("verifier");
    let key = rsa("kc-rsa-a", RSA_A);
    let token = sign(&key, &keycloak_claims(&issuer, "p", &["planner"]));
    let err = verifier.verify(&token).await.expect_err("unreachable");
    assert!(matches!(err, AuthError::JwksUnreachable { .. }), "{err:?}");
    assert_eq!(err.status(), 503);
    assert_eq!(err.www_authenticate(), "Bearer");
    assert!(!err.to_string().contains(&token));
    // Within the retry delay it answers at once, still as unreachable.
    let again = verifier.verify(&token).await.expect_err("unreachable");
    assert!(
        matches!(again, AuthError::JwksUnreachable { .. }),
        "{again:?}"
    );

    // Discovery that names another issuer is a configuration error.
    let idp = Idp::start_with_issuer(jwks(&[&key]), Some("http://elsewhere/realms/bando")).await;
    let verifier = idp.verifier(idp.config());
    let token = sign(&key, &keycloak_claims(&idp.issuer, "p", &["planner"]));
    let err = verifier.verify(&token).await.expect_err("issuer mismatch");
    assert!(matches!(err, AuthError::Setup { .. }), "{err:?}");
    assert_eq!(idp.jwks_fetches(), 0);
}

#[test]
fn bad_configuration_is_refused() {
    let https = Verifier::new(VerifierConfig::new(
        "https://sso.example.vn/realms/bando",
        "bando",
    ));
    if cfg!(feature = "rustls-tls") {
        assert!(https.is_ok());
    } else {
        assert!(matches!(https, Err(AuthError::Setup { .. })));
    }
    assert!(matches!(
        Verifier::new(VerifierConfig::new("sso.example.vn", "bando")),
        Err(AuthError::Setup { .. })
    ));
    assert!(matches!(
        Verifier::new(VerifierConfig::new("http://127.0.0.1/realms/bando", " ")),
        Err(AuthError::Setup { .. })
    ));
    let mut config = VerifierConfig::new("http://127.0.0.1/realms/bando", "bando");
    config.roles_claim = "realm_access..roles".to_string();
    assert!(matches!(
        Verifier::new(config),
        Err(AuthError::Setup { .. })
    ));
}
