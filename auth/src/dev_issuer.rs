//! [`DevIssuer`]: a built-in OpenID Connect issuer for development and demos.
//!
//! It makes an Ed25519 key pair at first start and keeps it in a directory (the private key in
//! a PKCS#8 PEM file with mode 0600), publishes a discovery document and a JWKS, and issues
//! access tokens shaped as Keycloak issues them (header `typ: JWT` and `kid`; claims `iss`,
//! `aud`, `azp`, `typ: Bearer`, `realm_access.roles`, `preferred_username`, `exp`, `iat`, `nbf`,
//! `jti`, `sub`, `scope` and the commune-scope claim) for the [`DEMO_USERS`], one per role. The
//! authorization-code flow with PKCE (S256 only) is [`DevIssuer::authorize`] then
//! [`DevIssuer::exchange`]; codes are single-use and short-lived.
//!
//! It refuses to exist when `BANDO_ENV=production`.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, KeypairBytes};
use ed25519_dalek::SigningKey;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::principal::Role;
use crate::verifier::{check_crypto_provider, VerifierConfig};

/// The private key's file name inside the key directory.
pub const KEY_FILE: &str = "dev-issuer-ed25519.pem";

/// A demo account of the development issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    /// Login name (`preferred_username`).
    pub username: &'static str,
    /// Name shown in Vietnamese (`name`).
    pub name_vi: &'static str,
    /// What the account is, in English.
    pub description_en: &'static str,
    /// Stable subject (`sub`), a UUID as Keycloak writes it.
    pub subject: &'static str,
    /// The one bando role of the account.
    pub role: Role,
    /// Commune codes (sample data, Bình Phước) the account is limited to; empty: none given.
    pub communes: &'static [&'static str],
}

/// The demo accounts, one per role. The land officer works in the three sample communes that
/// became Phường Đồng Xoài (25195 Tân Phú, 25198 Tân Đồng, 25201 Tân Bình).
pub const DEMO_USERS: [DemoUser; 4] = [
    DemoUser {
        username: "chuyen_vien_quy_hoach",
        name_vi: "Chuyên viên quy hoạch",
        description_en: "urban planner",
        subject: "6f1c2b0e-3d4a-4c59-9a71-0b8e5d2f1a01",
        role: Role::Planner,
        communes: &[],
    },
    DemoUser {
        username: "can_bo_dia_chinh",
        name_vi: "Cán bộ địa chính",
        description_en: "land officer (communes 25195, 25198, 25201)",
        subject: "6f1c2b0e-3d4a-4c59-9a71-0b8e5d2f1a02",
        role: Role::LandOfficer,
        communes: &["25195", "25198", "25201"],
    },
    DemoUser {
        username: "van_hanh_ioc",
        name_vi: "Cán bộ vận hành IOC",
        description_en: "operations centre operator",
        subject: "6f1c2b0e-3d4a-4c59-9a71-0b8e5d2f1a03",
        role: Role::IocOperator,
        communes: &[],
    },
    DemoUser {
        username: "quan_tri",
        name_vi: "Quản trị hệ thống",
        description_en: "administrator",
        subject: "6f1c2b0e-3d4a-4c59-9a71-0b8e5d2f1a04",
        role: Role::Admin,
        communes: &[],
    },
];

/// The demo user named `username`.
pub fn demo_user(username: &str) -> Option<&'static DemoUser> {
    DEMO_USERS.iter().find(|u| u.username == username)
}

/// Settings of the development issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevIssuerConfig {
    /// The issuer URL (`iss`), where [`crate::dev_routes`] are reachable, e.g.
    /// `http://127.0.0.1:8080/dev-auth`.
    pub issuer: String,
    /// The one client (`azp`, and in `aud` with `account`). Default `bando`.
    pub client_id: String,
    /// Where the key pair is kept.
    pub key_dir: PathBuf,
    /// Access-token lifetime. Default one hour.
    pub token_lifetime: Duration,
    /// Authorization-code lifetime. Default 60 s.
    pub code_lifetime: Duration,
    /// Name of the commune-scope claim. Default `communes`.
    pub scope_claim: String,
}

impl DevIssuerConfig {
    /// Defaults for everything but issuer URL and key directory.
    pub fn new(issuer: impl Into<String>, key_dir: impl Into<PathBuf>) -> Self {
        DevIssuerConfig {
            issuer: issuer.into().trim_end_matches('/').to_string(),
            client_id: "bando".to_string(),
            key_dir: key_dir.into(),
            token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(60),
            scope_claim: "communes".to_string(),
        }
    }
}

/// Failures of the development issuer. [`oauth_error`](Self::oauth_error) gives the RFC 6749
/// error code for the token and authorization endpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DevIssuerError {
    /// `BANDO_ENV=production`.
    #[error("the development issuer is disabled when BANDO_ENV=production")]
    Production,
    /// The key directory or file could not be made or read.
    #[error("development issuer key {path}: {reason}")]
    Key {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Setting or crypto backend problem.
    #[error("development issuer misconfigured: {reason}")]
    Setup {
        /// What is wrong.
        reason: String,
    },
    /// No demo user has that name.
    #[error("there is no demo user {username:?}")]
    UnknownUser {
        /// The name asked for (shortened).
        username: String,
    },
    /// A request parameter is missing or malformed (`invalid_request`).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// Which parameter and why.
        reason: String,
    },
    /// The client is not this issuer's client (`unauthorized_client`).
    #[error("unknown client {client_id:?}")]
    UnknownClient {
        /// The client asked for (shortened).
        client_id: String,
    },
    /// The code is unknown, used, expired, or does not match verifier, client or redirect
    /// (`invalid_grant`).
    #[error("invalid grant: {reason}")]
    InvalidGrant {
        /// Why.
        reason: String,
    },
}

impl DevIssuerError {
    /// The OAuth 2.0 error code for this failure.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            DevIssuerError::InvalidRequest { .. } | DevIssuerError::UnknownUser { .. } => {
                "invalid_request"
            }
            DevIssuerError::UnknownClient { .. } => "unauthorized_client",
            DevIssuerError::InvalidGrant { .. } => "invalid_grant",
            _ => "server_error",
        }
    }
}

/// A request for an authorization code, after the demo user was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The chosen demo user.
    pub username: String,
    /// Must be the issuer's client.
    pub client_id: String,
    /// Where the browser goes back to; must be on the issuer's origin or on a loopback host.
    pub redirect_uri: String,
    /// BASE64URL(SHA-256(code_verifier)), 43 characters.
    pub code_challenge: String,
    /// Must be `S256`.
    pub code_challenge_method: String,
    /// OpenID Connect `nonce`, copied into the ID token.
    pub nonce: Option<String>,
}

/// A token request of the authorization-code grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The code from [`DevIssuer::authorize`].
    pub code: String,
    /// The PKCE verifier (43–128 characters of `A-Z a-z 0-9 - . _ ~`).
    pub code_verifier: String,
    /// The same redirect URI as in the authorization request.
    pub redirect_uri: String,
    /// The same client.
    pub client_id: String,
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The access token (JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// OpenID Connect ID token (JWT, claims `typ: ID`).
    pub id_token: String,
    /// Granted scopes.
    pub scope: String,
}

struct PendingCode {
    username: &'static str,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    expires: Instant,
}

/// Most codes kept waiting at once (older ones are dropped when expired).
const MAX_PENDING_CODES: usize = 1000;

/// The development issuer. Share it behind an `Arc`.
pub struct DevIssuer {
    config: DevIssuerConfig,
    key: EncodingKey,
    kid: String,
    public_jwk: Value,
    codes: Mutex<HashMap<String, PendingCode>>,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.config.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random_token() -> Result<String, DevIssuerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DevIssuerError::Setup {
        reason: format!("no system randomness: {e}"),
    })?;
    Ok(b64url(&bytes))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn key_error(path: &Path, reason: impl std::fmt::Display) -> DevIssuerError {
    DevIssuerError::Key {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads the key file, or makes a new key and writes it (0600, never overwriting a file another
/// process wrote meanwhile).
fn load_or_create_key(dir: &Path) -> Result<SigningKey, DevIssuerError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| key_error(dir, e))?;
    let path = dir.join(KEY_FILE);
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| key_error(&path, e))?;
        let signing = SigningKey::from_bytes(&seed);
        let pem = KeypairBytes::from(&signing)
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| key_error(&path, e))?;
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(pem.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| key_error(&path, e))?;
                tracing::info!(path = %path.display(), "development issuer key created");
                return Ok(signing);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(key_error(&path, e)),
        }
    }
    let meta = fs::metadata(&path).map_err(|e| key_error(&path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(|e| key_error(&path, e))?;
        tracing::warn!(path = %path.display(), "development issuer key was readable by others; now 0600");
    }
    let text = fs::read_to_string(&path).map_err(|e| key_error(&path, e))?;
    let pair = KeypairBytes::from_pkcs8_pem(&text)
        .map_err(|e| key_error(&path, format!("not an Ed25519 PKCS#8 PEM key: {e}")))?;
    SigningKey::try_from(&pair).map_err(|e| key_error(&path, e))
}

/// Whether `redirect_uri` may receive codes: an http(s) address without fragment on a loopback
/// host or on the issuer's own origin.
fn redirect_allowed(issuer: &str, redirect_uri: &str) -> bool {
    let Ok(uri) = reqwest::Url::parse(redirect_uri) else {
        return false;
    };
    if !matches!(uri.scheme(), "http" | "https") || uri.fragment().is_some() {
        return false;
    }
    let loopback = matches!(
        uri.host_str(),
        Some("localhost") | Some("127.0.0.1") | Some("[::1]")
    );
    let same_origin = reqwest::Url::parse(issuer).is_ok_and(|i| i.origin() == uri.origin());
    loopback || same_origin
}

fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 code challenge of a PKCE verifier: BASE64URL(SHA-256(verifier)).
pub fn pkce_challenge(code_verifier: &str) -> String {
    b64url(&Sha256::digest(code_verifier.as_bytes()))
}

impl DevIssuer {
    /// Opens the issuer, reading `BANDO_ENV` from the process environment.
    pub fn open(config: DevIssuerConfig) -> Result<Self, DevIssuerError> {
        Self::open_with_env(config, |k| std::env::var(k).ok())
    }

    /// Opens the issuer with `env` as the environment: refuses `BANDO_ENV=production`, loads or
    /// makes the key pair.
    pub fn open_with_env(
        config: DevIssuerConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, DevIssuerError> {
        if env("BANDO_ENV").is_some_and(|v| v.trim().eq_ignore_ascii_case("production")) {
            return Err(DevIssuerError::Production);
        }
        check_crypto_provider().map_err(|e| DevIssuerError::Setup {
            reason: e.to_string(),
        })?;
        if reqwest::Url::parse(&config.issuer)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            return Err(DevIssuerError::Setup {
                reason: format!("issuer {:?} is not an http(s) URL", config.issuer),
            });
        }
        let signing = load_or_create_key(&config.key_dir)?;
        let setup = |e: &dyn std::fmt::Display| DevIssuerError::Setup {
            reason: e.to_string(),
        };
        // jsonwebtoken reads PKCS#8 v1 DER (no public key inside).
        let der = KeypairBytes {
            secret_key: signing.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_der()
        .map_err(|e| setup(&e))?;
        let key = EncodingKey::from_ed_der(der.as_bytes());
        let x = b64url(signing.verifying_key().as_bytes());
        let jwk: Jwk = serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "x": x}))
            .map_err(|e| setup(&e))?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| setup(&e))?;
        let public_jwk = json!({
            "kid": kid, "kty": "OKP", "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": x,
        });
        Ok(DevIssuer {
            config,
            key,
            kid,
            public_jwk,
            codes: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DevIssuerConfig {
        &self.config
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The key id of the signing key (its RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The demo users, Vietnamese names first.
    pub fn users(&self) -> &'static [DemoUser] {
        &DEMO_USERS
    }

    /// The JWKS document (`/dev-auth/jwks`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk] })
    }

    /// The OpenID Connect discovery document (`/dev-auth/.well-known/openid-configuration`).
    pub fn discovery(&self) -> Value {
        let issuer = &self.config.issuer;
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "preferred_username", "name",
                                  "realm_access", self.config.scope_claim],
        })
    }

    /// A verifier configuration that accepts this issuer's access tokens (to be used with
    /// [`crate::Verifier::with_static_keys`] and [`jwks`](Self::jwks), or over HTTP).
    pub fn verifier_config(&self) -> VerifierConfig {
        let mut config = VerifierConfig::new(&self.config.issuer, &self.config.client_id);
        config.scope_claim = self.config.scope_claim.clone();
        config
    }

    /// An access token for the demo user `username`, valid from now for the token lifetime.
    pub fn issue(&self, username: &str) -> Result<String, DevIssuerError> {
        let user = self.user(username)?;
        self.access_token(user, now_secs())
    }

    /// An access token for the demo user `username` with another commune scope (tests of the
    /// scope rules; the login page always uses the demo user's own).
    pub fn issue_with_communes(
        &self,
        username: &str,
        communes: &[&str],
    ) -> Result<String, DevIssuerError> {
        let user = self.user(username)?;
        self.token_with(user, communes, now_secs())
    }

    fn user(&self, username: &str) -> Result<&'static DemoUser, DevIssuerError> {
        demo_user(username).ok_or_else(|| DevIssuerError::UnknownUser {
            username: crate::error::shown(username),
        })
    }

    fn sign(&self, claims: &Value) -> Result<String, DevIssuerError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".to_string());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| DevIssuerError::Setup {
            reason: format!("signing failed: {e}"),
        })
    }

    fn access_token(&self, user: &DemoUser, now: u64) -> Result<String, DevIssuerError> {
        self.token_with(user, user.communes, now)
    }

    fn token_with(
        &self,
        user: &DemoUser,
        communes: &[&str],
        now: u64,
    ) -> Result<String, DevIssuerError> {
        let c = &self.config;
        let mut claims = json!({
            "exp": now + c.token_lifetime.as_secs(),
            "iat": now,
            "nbf": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iss": c.issuer,
            "aud": [c.client_id, "account"],
            "sub": user.subject,
            "typ": "Bearer",
            "azp": c.client_id,
            "sid": uuid::Uuid::new_v4().to_string(),
            "acr": "1",
            "realm_access": {
                "roles": [user.role.as_str(), "offline_access", "uma_authorization", "default-roles-bando"]
            },
            "resource_access": { "account": { "roles": ["manage-account", "view-profile"] } },
            "scope": "openid profile email",
            "email_verified": false,
            "name": user.name_vi,
            "preferred_username": user.username,
        });
        if let Some(obj) = claims.as_object_mut() {
            obj.insert(c.scope_claim.clone(), json!(communes));
        }
        self.sign(&claims)
    }

    fn id_token(
        &self,
        user: &DemoUser,
        now: u64,
        nonce: Option<&str>,
    ) -> Result<String, DevIssuerError> {
        let c = &self.config;
        let mut claims = json!({
            "exp": now + c.token_lifetime.as_secs(),
            "iat": now,
            "auth_time": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iss": c.issuer,
            "aud": c.client_id,
            "sub": user.subject,
            "typ": "ID",
            "azp": c.client_id,
            "name": user.name_vi,
            "preferred_username": user.username,
        });
        if let (Some(nonce), Some(obj)) = (nonce, claims.as_object_mut()) {
            obj.insert("nonce".to_string(), json!(nonce));
        }
        self.sign(&claims)
    }

    /// Checks an authorization request without making a code (for the login page).
    pub fn check_authorize(
        &self,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        code_challenge_method: &str,
    ) -> Result<(), DevIssuerError> {
        let invalid = |reason: &str| {
            Err(DevIssuerError::InvalidRequest {
                reason: reason.to_string(),
            })
        };
        if client_id != self.config.client_id {
            return Err(DevIssuerError::UnknownClient {
                client_id: crate::error::shown(client_id),
            });
        }
        if !redirect_allowed(&self.config.issuer, redirect_uri) {
            return invalid(
                "redirect_uri must be an http(s) address on a loopback host or this server",
            );
        }
        if code_challenge_method != "S256" {
            return invalid("code_challenge_method must be S256");
        }
        let challenge_ok = code_challenge.len() == 43
            && code_challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !challenge_ok {
            return invalid("code_challenge must be 43 base64url characters (S256)");
        }
        Ok(())
    }

    /// Makes a one-time authorization code for the chosen demo user, bound to client, redirect
    /// URI and PKCE challenge.
    pub fn authorize(&self, request: AuthorizeRequest) -> Result<String, DevIssuerError> {
        self.check_authorize(
            &request.client_id,
            &request.redirect_uri,
            &request.code_challenge,
            &request.code_challenge_method,
        )?;
        let user = self.user(&request.username)?;
        let code = random_token()?;
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        codes.retain(|_, pending| pending.expires > now);
        if codes.len() >= MAX_PENDING_CODES {
            return Err(DevIssuerError::InvalidRequest {
                reason: "too many pending authorization codes; try again shortly".to_string(),
            });
        }
        codes.insert(
            code.clone(),
            PendingCode {
                username: user.username,
                client_id: request.client_id,
                redirect_uri: request.redirect_uri,
                code_challenge: request.code_challenge,
                nonce: request.nonce,
                expires: now + self.config.code_lifetime,
            },
        );
        Ok(code)
    }

    /// Exchanges a code and its PKCE verifier for tokens. The code is spent whatever the
    /// outcome.
    pub fn exchange(&self, request: TokenRequest) -> Result<TokenResponse, DevIssuerError> {
        let grant = |reason: &str| DevIssuerError::InvalidGrant {
            reason: reason.to_string(),
        };
        let pending = {
            let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
            codes.remove(&request.code)
        }
        .ok_or_else(|| grant("the code is unknown or was already used"))?;
        if pending.expires <= Instant::now() {
            return Err(grant("the code has expired"));
        }
        if request.client_id != pending.client_id {
            return Err(grant("the code was issued to another client"));
        }
        if request.redirect_uri != pending.redirect_uri {
            return Err(grant("redirect_uri differs from the authorization request"));
        }
        if !valid_verifier(&request.code_verifier) {
            return Err(DevIssuerError::InvalidRequest {
                reason: "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~"
                    .to_string(),
            });
        }
        if pkce_challenge(&request.code_verifier) != pending.code_challenge {
            return Err(grant("code_verifier does not match the code_challenge"));
        }
        let user = self.user(pending.username)?;
        let now = now_secs();
        Ok(TokenResponse {
            access_token: self.access_token(user, now)?,
            token_type: "Bearer",
            expires_in: self.config.token_lifetime.as_secs(),
            id_token: self.id_token(user, now, pending.nonce.as_deref())?,
            scope: "openid profile email".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_only_to_loopback_or_own_origin() {
        let iss = "http://gis.example.vn:8080/dev-auth";
        assert!(redirect_allowed(iss, "http://127.0.0.1:5173/cb"));
        assert!(redirect_allowed(iss, "http://localhost/cb?x=1"));
        assert!(redirect_allowed(iss, "http://gis.example.vn:8080/map/"));
        assert!(!redirect_allowed(iss, "http://gis.example.vn:9999/map/"));
        assert!(!redirect_allowed(iss, "http://localhost.evil.example/cb"));
        assert!(!redirect_allowed(iss, "http://localhost/cb#frag"));
        assert!(!redirect_allowed(iss, "javascript:alert(1)"));
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(valid_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!valid_verifier("short"));
    }
}
