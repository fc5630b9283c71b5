//! [`Verifier`]: checks bearer access tokens from an OpenID Connect provider.
//!
//! Flow of one check: the header is read by hand first (so `alg: none` and HS* are named as
//! such) and its `alg` must be RS256, ES256 or EdDSA; the `kid` picks a key from the cached
//! key set, whose algorithm is pinned from the JWK itself (`alg`, else `kty`/`crv`) and must
//! equal the header's; an unknown `kid` makes one refetch of the JWKS (at most once per
//! [`VerifierConfig::min_refetch_interval`], concurrent callers share it); then jsonwebtoken
//! checks the signature, `exp`, `nbf` (with leeway) and `iss`, and this module checks `aud`/`azp`
//! and `typ`, and reads the [`Principal`].
//!
//! The JWKS address comes from discovery (`{issuer}/.well-known/openid-configuration`, whose
//! `issuer` must equal the configured one), fetched lazily on the first token, so a server can
//! start before its identity provider does. [`Verifier::with_static_keys`] skips the network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::error::{shown, unix_time, AuthError};
use crate::principal::{Principal, Role};

/// The signing algorithms bando accepts, as written in a JWT header.
pub const ACCEPTED_ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// Longer tokens are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// What the verifier checks against and where it reads roles and communes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The issuer exactly as the provider writes `iss`, e.g.
    /// `https://sso.example.vn/realms/bando` (Keycloak: the realm URL).
    pub issuer: String,
    /// The audience this service answers to: `aud` must contain it (or `azp` equal it when
    /// [`accept_azp`](Self::accept_azp)).
    pub audience: String,
    /// Also accept tokens whose `azp` (authorised party) is the audience. Keycloak puts the
    /// client in `azp` and only `account` in `aud` unless an audience mapper is configured.
    /// Default `false`.
    pub accept_azp: bool,
    /// Dotted path of the roles claim (an array of role names). Default `realm_access.roles`.
    pub roles_claim: String,
    /// Dotted path of the commune-scope claim (an array of commune codes, or one string of codes
    /// separated by spaces or commas). Default `communes`.
    pub scope_claim: String,
    /// Dotted path of the login name. Default `preferred_username`.
    pub username_claim: String,
    /// Clock skew allowed on `exp` and `nbf`. Default 60 s.
    pub leeway: Duration,
    /// Least time between two key-set fetches after a successful one (an unknown `kid` waits
    /// this long before it may cause another fetch). Default 30 s.
    pub min_refetch_interval: Duration,
    /// Least time between two attempts after a failed fetch. Default 5 s.
    pub retry_after_failure: Duration,
    /// Timeout of each request to the provider. Default 10 s.
    pub http_timeout: Duration,
}

impl VerifierConfig {
    /// A configuration with the defaults for everything but issuer and audience.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        VerifierConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            accept_azp: false,
            roles_claim: "realm_access.roles".to_string(),
            scope_claim: "communes".to_string(),
            username_claim: "preferred_username".to_string(),
            leeway: Duration::from_secs(60),
            min_refetch_interval: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(5),
            http_timeout: Duration::from_secs(10),
        }
    }

    /// The discovery document's address.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// Checks the settings: an http(s) issuer (https only with the `rustls-tls` feature), a
    /// non-empty audience, dotted claim paths. [`Verifier`]'s constructors call it.
    pub fn validate(&self) -> Result<(), AuthError> {
        let setup = |reason: String| Err(AuthError::Setup { reason });
        let is_http = self.issuer.starts_with("http://");
        if !(is_http || self.issuer.starts_with("https://"))
            || self.issuer.contains(char::is_whitespace)
        {
            return setup(format!(
                "issuer {:?} is not an http:// or https:// address",
                self.issuer
            ));
        }
        if self.issuer.starts_with("https://") && !cfg!(feature = "rustls-tls") {
            return setup(format!(
                "issuer {} needs HTTPS, but bando's auth crate was built without the `rustls-tls` feature",
                self.issuer
            ));
        }
        if self.audience.trim().is_empty() {
            return setup("the audience is empty".to_string());
        }
        for (name, path) in [
            ("roles_claim", &self.roles_claim),
            ("scope_claim", &self.scope_claim),
            ("username_claim", &self.username_claim),
        ] {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return setup(format!("{name} {path:?} is not a dotted claim path"));
            }
        }
        Ok(())
    }
}

/// Fails when jsonwebtoken has no crypto backend (it would compile and then panic at the first
/// token). [`Verifier::new`] and [`crate::DevIssuer`] call it; a server may call it at startup.
pub fn check_crypto_provider() -> Result<(), AuthError> {
    match jsonwebtoken::crypto::CryptoProvider::try_get_default() {
        Some(_) => Ok(()),
        None => Err(AuthError::Setup {
            reason:
                "jsonwebtoken has no crypto provider (enable exactly one of rust_crypto, aws_lc_rs)"
                    .to_string(),
        }),
    }
}

/// A verification key with the one algorithm it may be used with.
struct PinnedKey {
    alg: Algorithm,
    key: DecodingKey,
}

/// The cached key set.
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<PinnedKey>>,
    without_kid: Vec<Arc<PinnedKey>>,
}

enum Lookup {
    Found(Arc<PinnedKey>),
    Refused(AuthError),
    Missing,
}

impl KeySet {
    /// Reads a JWKS document, keeping the signature keys bando can use; others are skipped.
    fn from_jwks(doc: &Value) -> Result<KeySet, String> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| "the key set has no \"keys\" array".to_string())?;
        let mut set = KeySet::default();
        for raw in keys {
            let jwk: Jwk = match serde_json::from_value(raw.clone()) {
                Ok(jwk) => jwk,
                Err(e) => {
                    tracing::debug!("skipping an unreadable JWK: {e}");
                    continue;
                }
            };
            if matches!(
                jwk.common.public_key_use,
                Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
            ) {
                continue;
            }
            let Some(alg) = pinned_algorithm(&jwk) else {
                continue;
            };
            let key = match DecodingKey::from_jwk(&jwk) {
                Ok(key) => key,
                Err(e) => {
                    tracing::debug!("skipping a JWK that is not a usable key: {e}");
                    continue;
                }
            };
            let pinned = Arc::new(PinnedKey { alg, key });
            match jwk.common.key_id {
                Some(kid) => {
                    set.by_kid.insert(kid, pinned);
                }
                None => set.without_kid.push(pinned),
            }
        }
        Ok(set)
    }

    fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm, alg_text: &str) -> Lookup {
        let candidate = match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None => {
                // No kid: only unambiguous when one key of the token's algorithm exists.
                let mut same_alg = self
                    .by_kid
                    .values()
                    .chain(self.without_kid.iter())
                    .filter(|k| k.alg == alg);
                match (same_alg.next(), same_alg.next()) {
                    (Some(key), None) => Some(key.clone()),
                    _ => None,
                }
            }
        };
        match candidate {
            Some(key) if key.alg != alg => Lookup::Refused(AuthError::AlgorithmNotAllowed {
                alg: shown(alg_text),
                key_alg: Some(algorithm_name(key.alg)),
            }),
            Some(key) => Lookup::Found(key),
            None => Lookup::Missing,
        }
    }
}

/// The algorithm a JWK may be used with: its own `alg` when present (it must agree with the key
/// type), else RS256 for RSA, ES256 for P-256, EdDSA for Ed25519. `None`: not usable by bando.
fn pinned_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(declared) => {
            let declared = match declared {
                KeyAlgorithm::RS256 => Algorithm::RS256,
                KeyAlgorithm::ES256 => Algorithm::ES256,
                KeyAlgorithm::EdDSA => Algorithm::EdDSA,
                _ => return None,
            };
            (declared == by_type).then_some(by_type)
        }
    }
}

fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "another algorithm",
    }
}

fn accepted_algorithm(alg: &str) -> Result<Algorithm, AuthError> {
    match alg {
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => Err(AuthError::AlgorithmNotAllowed {
            alg: shown(other),
            key_alg: None,
        }),
    }
}

/// `alg` and `kid` from the token's header, read without trusting anything.
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

fn malformed(reason: &str) -> AuthError {
    AuthError::Malformed {
        reason: reason.to_string(),
    }
}

fn read_header(token: &str) -> Result<RawHeader, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("it is longer than 16 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("it does not have three dot-separated parts"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(malformed("its header or claims part is empty"));
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed("its header is not base64url"))?;
    let json: Value =
        serde_json::from_slice(&bytes).map_err(|_| malformed("its header is not JSON"))?;
    let alg = match json.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        Some(_) => return Err(malformed("its header's alg is not a string")),
        None => return Err(malformed("its header has no alg")),
    };
    let kid = match json.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("its header's kid is not a string")),
    };
    Ok(RawHeader { alg, kid })
}

/// The token of an `Authorization` header value `Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(authorization: &str) -> Result<&str, AuthError> {
    let (scheme, token) = authorization
        .trim()
        .split_once(' ')
        .ok_or(AuthError::NotBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::NotBearer);
    }
    Ok(token)
}

/// The value at a dotted path of the claims.
fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, part| v.get(part))
}

/// Strings of an array claim, or of a string claim split on spaces and commas.
fn strings_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn claim_u64(claims: &Value, name: &str) -> Option<u64> {
    let v = claims.get(name)?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

struct FetchState {
    jwks_uri: Option<String>,
    /// When the last fetch was tried and whether it succeeded.
    last_attempt: Option<(Instant, bool)>,
}

struct Inner {
    config: VerifierConfig,
    /// `None`: static keys, never fetched.
    client: Option<reqwest::Client>,
    keys: RwLock<Arc<KeySet>>,
    fetch: tokio::sync::Mutex<FetchState>,
    fetches: AtomicU64,
}

/// Verifies bearer access tokens. Cheap to clone (one `Arc`); share one per provider.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.config.issuer)
            .field("audience", &self.inner.config.audience)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier that discovers the provider's keys over HTTP(S) on first use.
    pub fn new(config: VerifierConfig) -> Result<Self, AuthError> {
        let client = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .map_err(|e| AuthError::Setup {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Self::with_client(config, client)
    }

    /// Like [`new`](Self::new) with a caller-built HTTP client (proxies, timeouts, roots).
    pub fn with_client(config: VerifierConfig, client: reqwest::Client) -> Result<Self, AuthError> {
        check_crypto_provider()?;
        config.validate()?;
        Ok(Self::build(config, Some(client), KeySet::default()))
    }

    /// A verifier over a fixed key set (a JWKS document), never fetching: for an issuer in the
    /// same process (the development issuer) and tests. An unknown `kid` is refused at once.
    pub fn with_static_keys(config: VerifierConfig, jwks: &Value) -> Result<Self, AuthError> {
        check_crypto_provider()?;
        config.validate()?;
        let keys = KeySet::from_jwks(jwks).map_err(|reason| AuthError::Setup { reason })?;
        Ok(Self::build(config, None, keys))
    }

    fn build(config: VerifierConfig, client: Option<reqwest::Client>, keys: KeySet) -> Self {
        Verifier {
            inner: Arc::new(Inner {
                config,
                client,
                keys: RwLock::new(Arc::new(keys)),
                fetch: tokio::sync::Mutex::new(FetchState {
                    jwks_uri: None,
                    last_attempt: None,
                }),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.inner.config
    }

    /// How many times the key set was requested from the provider.
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// The principal of an `Authorization` header value: `Ok(None)` without a header
    /// (anonymous), an error for anything but a valid bearer token.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Option<Principal>, AuthError> {
        match authorization {
            None => Ok(None),
            Some(value) => self.verify(bearer_token(value)?).await.map(Some),
        }
    }

    /// Checks a token and reads its principal.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = read_header(token)?;
        let alg = accepted_algorithm(&header.alg)?;
        let key = self
            .key_for(header.kid.as_deref(), alg, &header.alg)
            .await?;
        let config = &self.inner.config;
        let mut validation = Validation::new(key.alg);
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false; // aud/azp below
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let claims = match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return Err(self.explain(e.into_kind(), token)),
        };
        self.principal_of(&claims)
    }

    /// Fetches discovery (once) and the key set now, e.g. at startup, regardless of the
    /// refetch interval.
    pub async fn refresh_keys(&self) -> Result<(), AuthError> {
        if self.inner.client.is_none() {
            return Ok(());
        }
        let mut state = self.inner.fetch.lock().await;
        self.fetch_locked(&mut state).await
    }

    fn current_keys(&self) -> Arc<KeySet> {
        match self.inner.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        alg_text: &str,
    ) -> Result<Arc<PinnedKey>, AuthError> {
        let unknown = || AuthError::UnknownKey {
            kid: kid.map(shown),
        };
        match self.current_keys().lookup(kid, alg, alg_text) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Refused(e) => return Err(e),
            Lookup::Missing => {}
        }
        if self.inner.client.is_none() {
            return Err(unknown());
        }
        let mut state = self.inner.fetch.lock().await;
        // Another caller may have fetched while this one waited.
        match self.current_keys().lookup(kid, alg, alg_text) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Refused(e) => return Err(e),
            Lookup::Missing => {}
        }
        let config = &self.inner.config;
        if let Some((at, ok)) = state.last_attempt {
            let wait = if ok {
                config.min_refetch_interval
            } else {
                config.retry_after_failure
            };
            if at.elapsed() < wait {
                if !ok && self.current_keys().len() == 0 {
                    return Err(AuthError::JwksUnreachable {
                        url: state
                            .jwks_uri
                            .clone()
                            .unwrap_or_else(|| config.discovery_url()),
                        reason: "the last attempt failed; retrying shortly".to_string(),
                    });
                }
                return Err(unknown());
            }
        }
        self.fetch_locked(&mut state).await?;
        match self.current_keys().lookup(kid, alg, alg_text) {
            Lookup::Found(key) => Ok(key),
            Lookup::Refused(e) => Err(e),
            Lookup::Missing => Err(unknown()),
        }
    }

    async fn fetch_locked(&self, state: &mut FetchState) -> Result<(), AuthError> {
        let Some(client) = &self.inner.client else {
            return Ok(());
        };
        state.last_attempt = Some((Instant::now(), false));
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover(client).await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let doc = get_json(client, &jwks_uri).await?;
        let keys = KeySet::from_jwks(&doc).map_err(|reason| AuthError::JwksUnreachable {
            url: jwks_uri.clone(),
            reason,
        })?;
        tracing::info!(
            jwks_uri,
            keys = keys.len(),
            "identity provider keys fetched"
        );
        match self.inner.keys.write() {
            Ok(mut slot) => *slot = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
        state.last_attempt = Some((Instant::now(), true));
        Ok(())
    }

    async fn discover(&self, client: &reqwest::Client) -> Result<String, AuthError> {
        let config = &self.inner.config;
        let url = config.discovery_url();
        let doc = get_json(client, &url).await?;
        let unreachable = |reason: String| AuthError::JwksUnreachable {
            url: url.clone(),
            reason,
        };
        let issuer = doc.get("issuer").and_then(Value::as_str);
        if issuer != Some(config.issuer.as_str()) {
            return Err(AuthError::Setup {
                reason: format!(
                    "the discovery document at {url} names issuer {:?}, not the configured {:?}",
                    issuer.map(shown),
                    config.issuer
                ),
            });
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| unreachable("the discovery document has no jwks_uri".to_string()))?;
        if !(jwks_uri.starts_with("http://") || jwks_uri.starts_with("https://")) {
            return Err(unreachable(format!(
                "jwks_uri {:?} is not an http(s) address",
                shown(jwks_uri)
            )));
        }
        Ok(jwks_uri.to_string())
    }

    /// Turns a jsonwebtoken failure into the check that failed. Claim values for the message
    /// are read only for claim failures, which jsonwebtoken reports after the signature held.
    fn explain(&self, kind: ErrorKind, token: &str) -> AuthError {
        let claims = || jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token).ok();
        match kind {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::ExpiredSignature => AuthError::Expired {
                expired_at: claims()
                    .and_then(|c| claim_u64(&c, "exp"))
                    .unwrap_or_default(),
            },
            ErrorKind::ImmatureSignature => AuthError::NotYetValid {
                not_before: claims()
                    .and_then(|c| claim_u64(&c, "nbf"))
                    .unwrap_or_default(),
            },
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer {
                expected: self.inner.config.issuer.clone(),
                found: claims().and_then(|c| c.get("iss").and_then(Value::as_str).map(shown)),
            },
            ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => AuthError::WrongIssuer {
                expected: self.inner.config.issuer.clone(),
                found: None,
            },
            ErrorKind::MissingRequiredClaim(claim) => AuthError::Malformed {
                reason: format!("it has no {} claim", shown(&claim)),
            },
            ErrorKind::InvalidClaimFormat(claim) => AuthError::Malformed {
                reason: format!("its {} claim has the wrong type", shown(&claim)),
            },
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                AuthError::AlgorithmNotAllowed {
                    alg: "(header)".to_string(),
                    key_alg: None,
                }
            }
            ErrorKind::Base64(_) => malformed("a part is not base64url"),
            ErrorKind::Json(_) | ErrorKind::Utf8(_) => malformed("its claims are not JSON"),
            ErrorKind::InvalidToken => malformed("it is not a JWT"),
            other => {
                tracing::warn!("token check failed unexpectedly: {other:?}");
                AuthError::BadSignature
            }
        }
    }

    fn principal_of(&self, claims: &Value) -> Result<Principal, AuthError> {
        let config = &self.inner.config;
        if let Some(typ) = claims.get("typ") {
            let typ = typ.as_str().unwrap_or("(not a string)");
            if !typ.eq_ignore_ascii_case("Bearer") {
                return Err(AuthError::NotAnAccessToken { typ: shown(typ) });
            }
        }
        let in_aud = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == config.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(&config.audience)),
            _ => false,
        };
        let by_azp = config.accept_azp
            && claims.get("azp").and_then(Value::as_str) == Some(config.audience.as_str());
        if !(in_aud || by_azp) {
            return Err(AuthError::WrongAudience {
                expected: config.audience.clone(),
            });
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed("it has no sub claim"))?
            .to_string();
        let expires_at =
            claim_u64(claims, "exp").ok_or_else(|| malformed("its exp claim is not a number"))?;
        let username = claim_at(claims, &config.username_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(&subject)
            .to_string();
        let mut roles: Vec<Role> = strings_of(claim_at(claims, &config.roles_claim))
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect();
        roles.sort();
        roles.dedup();
        let communes = strings_of(claim_at(claims, &config.scope_claim));
        Ok(Principal {
            subject,
            username,
            roles,
            communes,
            expires_at: unix_time(expires_at),
        })
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, AuthError> {
    let unreachable = |reason: String| AuthError::JwksUnreachable {
        url: url.to_string(),
        reason,
    };
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unreachable(format!("answered HTTP {status}")));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(unreachable("the document is larger than 1 MiB".to_string()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(unreachable("the document is larger than 1 MiB".to_string()));
    }
    serde_json::from_slice(&body).map_err(|e| unreachable(format!("not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bearer_header_values() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(bearer_token("bearer  abc"), Ok("abc"));
        assert_eq!(
            bearer_token("Basic dXNlcjpwdw=="),
            Err(AuthError::NotBearer)
        );
        assert_eq!(bearer_token("Bearer"), Err(AuthError::NotBearer));
        assert_eq!(bearer_token("Bearer a b"), Err(AuthError::NotBearer));
    }

    #[test]
    fn claims_at_dotted_paths_and_string_lists() {
        let claims =
            json!({"realm_access": {"roles": ["planner", 3, "admin"]}, "communes": "25195, 25198"});
        assert_eq!(
            strings_of(claim_at(&claims, "realm_access.roles")),
            vec!["planner", "admin"]
        );
        assert_eq!(
            strings_of(claim_at(&claims, "communes")),
            vec!["25195", "25198"]
        );
        assert!(strings_of(claim_at(&claims, "realm_access.missing")).is_empty());
    }

    #[test]
    fn header_alg_is_read_before_any_library_parsing() {
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none"})),
            b64(&json!({"sub": "x"}))
        );
        let header = read_header(&none).expect("readable");
        assert_eq!(header.alg, "none");
        assert!(matches!(
            accepted_algorithm(&header.alg),
            Err(AuthError::AlgorithmNotAllowed { .. })
        ));
        assert!(matches!(
            read_header("a.b"),
            Err(AuthError::Malformed { .. })
        ));
        assert!(matches!(
            read_header("!!.b.c"),
            Err(AuthError::Malformed { .. })
        ));
    }

    #[test]
    fn jwk_algorithm_is_pinned_from_the_key() {
        let rsa: Jwk =
            serde_json::from_value(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})).expect("jwk");
        assert_eq!(pinned_algorithm(&rsa), Some(Algorithm::RS256));
        let rsa_ps: Jwk =
            serde_json::from_value(json!({"kty": "RSA", "alg": "PS256", "n": "AQAB", "e": "AQAB"}))
                .expect("jwk");
        assert_eq!(pinned_algorithm(&rsa_ps), None);
        let oct: Jwk = serde_json::from_value(json!({"kty": "oct", "k": "c2VjcmV0"})).expect("jwk");
        assert_eq!(pinned_algorithm(&oct), None);
        let lying: Jwk =
            serde_json::from_value(json!({"kty": "RSA", "alg": "ES256", "n": "AQAB", "e": "AQAB"}))
                .expect("jwk");
        assert_eq!(pinned_algorithm(&lying), None);
    }
}
