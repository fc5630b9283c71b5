//! Server configuration in two stages: [`RawConfig`] (a TOML file, environment variables and
//! command-line flags, each field optional) is checked once into [`Config`], which the rest of the
//! server uses. Precedence: flag > environment > file > default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Every setting as read, none checked yet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]` section.
    #[serde(default)]
    pub server: RawServer,
    /// `[database]` section.
    #[serde(default)]
    pub database: RawDatabase,
    /// `[[layers]]`: layers added without code, kept in the config (e.g. in git); stored as
    /// added layers when bando serves ([`layers::added::AddedLayer`]).
    #[serde(default)]
    pub layers: Vec<layers::added::AddedLayer>,
    /// `[auth]` section.
    #[serde(default)]
    pub auth: RawAuth,
    /// `[limits]` section.
    #[serde(default)]
    pub limits: RawLimits,
    /// `[audit]` section.
    #[serde(default)]
    pub audit: RawAudit,
    /// `[ioc]` section.
    #[serde(default)]
    pub ioc: RawIoc,
    /// `[land]` section.
    #[serde(default)]
    pub land: RawLand,
    /// `[networks]` section.
    #[serde(default)]
    pub networks: RawNetworks,
    /// `[planning]` section.
    #[serde(default)]
    pub planning: RawPlanning,
    /// `[tiles]` section.
    #[serde(default)]
    pub tiles: RawTiles,
}

/// `[planning]`: where plan documents are kept when not in the database.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlanning {
    /// Directory of plan documents: `bando plan document ID FILE` stores FILE's path under it
    /// instead of its bytes, and the server reads it from there (`planning::documents`).
    pub documents_dir: Option<PathBuf>,
}

/// `[tiles]`: the persistent tile store ([`tiles::store`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTiles {
    /// The store's SQLite file (default `<data_dir>/tiles/store.sqlite`).
    pub store_path: Option<PathBuf>,
    /// Its byte budget (default 1 GiB; 0 turns the store off).
    pub store_max_bytes: Option<u64>,
    /// Whether `bando serve` seeds the store in the background (default true;
    /// `BANDO_TILES_SEED`).
    pub seed: Option<bool>,
    /// Highest zoom the background seeding renders, whatever the layers declare (default: each
    /// layer's seed zoom, z16 for parcels; `BANDO_TILES_SEED_MAX_ZOOM`).
    pub seed_max_zoom: Option<u8>,
}

/// `[land]`: the tolerances of the cadastral rules on land officers' writes
/// ([`land::edit::Tolerances`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLand {
    /// Largest overlap with a neighbour an edit, split or merge may leave, m² (default 1).
    pub overlap_tolerance_m2: Option<f64>,
    /// Boundaries closer than this are one boundary, metres: merges take parcels this close
    /// as adjacent and snap them together (default 0.05).
    pub snap_tolerance_m: Option<f64>,
    /// Gaps narrower than this, opened by an edit along a boundary the parcel shared or left
    /// between a merge's parents, are slivers: refused (default 0.3 m, at most 2; 0: off).
    pub sliver_width_m: Option<f64>,
}

/// `[networks]`: how the utility network graph is joined ([`utilities::network::Settings`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetworks {
    /// Pipe ends and devices closer than this are joined, TM-3 metres (default 0.1).
    pub tolerance_m: Option<f64>,
    /// A meter is served by the nearest pipe within this distance, metres (default 30).
    pub service_m: Option<f64>,
}

/// `[ioc]`: live sensor data ([`ioc`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIoc {
    /// The MQTT broker (`mqtt://host[:port]`); unset: a private Mosquitto in the data directory.
    pub mqtt_url: Option<String>,
    /// Days observations are kept (default 365; also the oldest phenomenon time accepted).
    pub retention_days: Option<u32>,
}

/// The checked `[ioc]` settings.
#[derive(Debug, Clone)]
pub struct IocSettings {
    /// An existing broker; `None`: start a private one.
    pub broker: Option<ioc::broker::BrokerAddress>,
    /// Ingest queue and accepted times.
    pub ingest: ioc::ingest::IngestSettings,
}

/// `[audit]`: the audit log of refused requests and writes ([`crate::audit`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Days entries are kept (default 365; 0 keeps them forever).
    pub retention_days: Option<u32>,
}

/// `[limits]`: statement deadlines per work class and per-client limits of the expensive
/// endpoints (items, single features, `/query`). See [`crate::load`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// `statement_timeout` of tile statements, in milliseconds (default: 10 s, at most 80%
    /// of the request time limit).
    pub tile_statement_timeout_ms: Option<u64>,
    /// Of feature and spatial-query statements (default: 80% of the request time limit).
    pub feature_statement_timeout_ms: Option<u64>,
    /// Of download statements (default: 80% of the request time limit).
    pub download_statement_timeout_ms: Option<u64>,
    /// Of landing page, catalog and metadata statements (default: 80% of the time limit).
    pub admin_statement_timeout_ms: Option<u64>,
    /// Expensive requests one client may have in progress (default 8; 0: unlimited).
    pub client_max_concurrent: Option<u32>,
    /// Expensive requests one client may start per minute (default 600; 0: unlimited).
    pub client_requests_per_minute: Option<u32>,
    /// Expensive requests one client may start at once before the rate applies (default 60).
    pub client_burst: Option<u32>,
    /// How long a refused request is held before its 429, in milliseconds (default 1000;
    /// 0: answered at once). At most 10 s.
    pub client_refusal_delay_ms: Option<u64>,
    /// Refused requests held at once over all clients (default 1024); past it, and past
    /// `client_refusals_held_per_client` (default 64) for one client, the 429 is sent at once
    /// and the connection closed.
    pub client_refusals_held: Option<u32>,
    /// Refused requests of one client held at once (default 64).
    pub client_refusals_held_per_client: Option<u32>,
    /// Proxies whose `X-Forwarded-For` names the client: addresses or CIDR blocks
    /// (default none: the TCP peer is the client).
    pub trusted_proxies: Option<Vec<String>>,
    /// Largest planner cost of a filtered or sorted items query (default 250000; 0: no guard).
    pub feature_cost_budget: Option<u64>,
}

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Listen address, e.g. "127.0.0.1:8080".
    pub listen: Option<String>,
    /// Seconds before a request is answered 408.
    pub request_timeout_secs: Option<u64>,
    /// Largest accepted request body in bytes.
    pub body_limit_bytes: Option<usize>,
    /// Tile cache budget in MiB (0 turns the cache off).
    pub tile_cache_mb: Option<u64>,
    /// Root of the web apps (`web/`: `map/`, `node_modules/`); unset means found next to the
    /// current directory or the executable ([`default_web_dir`]).
    pub web_dir: Option<PathBuf>,
    /// Directory of the map label fonts (`NotoSans-Regular.ttf`, `NotoSans-Bold.ttf`); unset
    /// means Debian's `fonts-noto-core` directory ([`crate::glyphs::DEFAULT_FONT_DIR`]).
    pub font_dir: Option<PathBuf>,
    /// The address clients reach bando at (`https://gis.example.vn`), used in absolute links
    /// (styles, TileJSON, OGC links) instead of the request's `Host` header.
    pub public_url: Option<String>,
    /// Web origins (`https://app.example.vn`) whose pages may call the endpoints that take a
    /// token (writes, `/admin`) across origins; public reads answer CORS for every origin.
    pub cors_origins: Option<Vec<String>>,
}

/// `[database]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// PostgreSQL URL; unset means the private cluster. With `read_urls`, the primary: it
    /// takes writes, the audit log and the change listener (a standby cannot LISTEN).
    pub url: Option<String>,
    /// Streaming replicas that tiles, features and queries read from
    /// ([`crate::consistency`] keeps read-your-writes); one is used per instance.
    pub read_urls: Option<Vec<String>>,
    /// bando's state directory (the private cluster lives in `<data_dir>/pg`).
    pub data_dir: Option<PathBuf>,
    /// Connection budget, split among the work classes (tiles ½, features ¼, downloads and
    /// admin ⅛ each; health and cancellation add one connection each).
    pub max_connections: Option<u32>,
}

/// `[auth]`: who signs the bearer tokens bando accepts. Neither `issuer` nor `dev_issuer`:
/// no sign-in, every request is anonymous.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// OpenID Connect issuer, e.g. a Keycloak realm `https://sso.example.vn/realms/bando`.
    pub issuer: Option<String>,
    /// The audience (client id) tokens must be meant for; default `bando`.
    pub audience: Option<String>,
    /// Also accept tokens whose `azp` is the audience (Keycloak without an audience mapper).
    pub accept_azp: Option<bool>,
    /// Dotted path of the roles claim; default `realm_access.roles`.
    pub roles_claim: Option<String>,
    /// Dotted path of the commune-scope claim; default `communes`.
    pub scope_claim: Option<String>,
    /// Dotted path of the login name; default `preferred_username`.
    pub username_claim: Option<String>,
    /// Serve the built-in development issuer at `/dev-auth` and trust its tokens (refused
    /// with `BANDO_ENV=production`).
    pub dev_issuer: Option<bool>,
}

/// How bearer tokens are checked (the checked `[auth]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    /// No identity provider: every request is anonymous.
    Off,
    /// Tokens from an OpenID Connect provider, keys found by discovery.
    Oidc(auth::VerifierConfig),
    /// The built-in development issuer (`/dev-auth`, key in `<data_dir>/dev-issuer`).
    Dev(auth::DevIssuerConfig),
}

/// Errors of configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for bando.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("invalid setting {key} = {value:?}: {reason}")]
    Invalid {
        /// Which setting.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        reason: &'static str,
    },
    /// A layer written in the config is not acceptable.
    #[error("[[layers]] {0}")]
    Layer(String),
    /// The `[auth]` section is inconsistent.
    #[error("invalid [auth] setting: {0}")]
    Auth(String),
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Request timeout.
    pub request_timeout: Duration,
    /// Body size limit in bytes.
    pub body_limit_bytes: usize,
    /// `DATABASE_URL`, if the database is an existing server.
    pub database_url: Option<String>,
    /// Read replicas (`[database] read_urls`, `BANDO_DB_READ_URLS`); empty: reads go to the
    /// primary.
    pub read_urls: Vec<String>,
    /// bando's state directory.
    pub data_dir: PathBuf,
    /// Pool size.
    pub max_connections: u32,
    /// Tile cache budget in bytes (0: no cache).
    pub tile_cache_bytes: u64,
    /// Root of the web apps (`web/`).
    pub web_dir: PathBuf,
    /// Directory of the map label fonts.
    pub font_dir: PathBuf,
    /// Base of absolute links, without a trailing slash (`None`: from the request).
    pub public_url: Option<String>,
    /// Origins allowed to call the token endpoints across origins (`[server] cors_origins`).
    pub cors_origins: Vec<String>,
    /// Layers defined in the config file.
    pub layers: Vec<layers::added::AddedLayer>,
    /// How bearer tokens are checked.
    pub auth: AuthSettings,
    /// Work classes and per-client limits.
    pub load: crate::load::LoadSettings,
    /// How long audit entries are kept (`None`: forever).
    pub audit_retention: Option<Duration>,
    /// Live sensor data.
    pub ioc: IocSettings,
    /// Tolerances of the cadastral rules (`[land]`).
    pub land: land::edit::Tolerances,
    /// How the network graph is joined.
    pub networks: utilities::network::Settings,
    /// Directory of plan documents (`[planning] documents_dir`, `BANDO_PLAN_DOCUMENTS_DIR`);
    /// checked where it is used (serve, `bando plan document`).
    pub plan_documents_dir: Option<PathBuf>,
    /// The persistent tile store (`[tiles]`); `None`: off.
    pub tile_store: Option<tiles::store::StoreSettings>,
    /// The server's background seeding of the store (`[tiles] seed`, `seed_max_zoom`);
    /// `None`: off (or no store).
    pub tile_seed: Option<tiles::seeder::SeedSettings>,
}

impl RawConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
    }

    /// Applies environment overrides: `BANDO_LISTEN`, `BANDO_REQUEST_TIMEOUT_SECS`,
    /// `BANDO_BODY_LIMIT_BYTES`, `DATABASE_URL`, `BANDO_DB_READ_URLS` (comma-separated),
    /// `BANDO_DATA_DIR`, `BANDO_DB_MAX_CONNECTIONS`,
    /// `BANDO_WEB_DIR`, `BANDO_PLAN_DOCUMENTS_DIR`, `BANDO_AUDIT_RETENTION_DAYS`, `BANDO_MQTT_URL`, and for `[limits]` `BANDO_<CLASS>_STATEMENT_TIMEOUT_MS` (TILE,
    /// FEATURE, DOWNLOAD, ADMIN), `BANDO_CLIENT_MAX_CONCURRENT`,
    /// `BANDO_CLIENT_REQUESTS_PER_MINUTE`, `BANDO_CLIENT_BURST`, `BANDO_TRUSTED_PROXIES`
    /// (comma-separated), `BANDO_FEATURE_COST_BUDGET`, `BANDO_TILES_SEED`, `BANDO_TILES_SEED_MAX_ZOOM`.
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = env("BANDO_LISTEN") {
            self.server.listen = Some(v);
        }
        if let Some(v) = env("BANDO_REQUEST_TIMEOUT_SECS") {
            self.server.request_timeout_secs = Some(parse_num("BANDO_REQUEST_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = env("BANDO_BODY_LIMIT_BYTES") {
            self.server.body_limit_bytes = Some(parse_num("BANDO_BODY_LIMIT_BYTES", &v)?);
        }
        if let Some(v) = env("BANDO_TILE_CACHE_MB") {
            self.server.tile_cache_mb = Some(parse_num("BANDO_TILE_CACHE_MB", &v)?);
        }
        if let Some(v) = env("BANDO_WEB_DIR") {
            self.server.web_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("BANDO_PLAN_DOCUMENTS_DIR") {
            self.planning.documents_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("BANDO_FONT_DIR") {
            self.server.font_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("BANDO_PUBLIC_URL") {
            self.server.public_url = Some(v);
        }
        if let Some(v) = env("BANDO_CORS_ORIGINS") {
            self.server.cors_origins = Some(v.split(',').map(|s| s.trim().to_string()).collect());
        }
        if let Some(v) = env("DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = env("BANDO_DB_READ_URLS") {
            self.database.read_urls = Some(v.split(',').map(|s| s.trim().to_string()).collect());
        }
        if let Some(v) = env("BANDO_DATA_DIR") {
            self.database.data_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("BANDO_DB_MAX_CONNECTIONS") {
            self.database.max_connections = Some(parse_num("BANDO_DB_MAX_CONNECTIONS", &v)?);
        }
        if let Some(v) = env("BANDO_TILES_SEED") {
            self.tiles.seed = Some(parse_bool("BANDO_TILES_SEED", &v)?);
        }
        if let Some(v) = env("BANDO_TILES_SEED_MAX_ZOOM") {
            self.tiles.seed_max_zoom = Some(parse_num("BANDO_TILES_SEED_MAX_ZOOM", &v)?);
        }
        if let Some(v) = env("BANDO_MQTT_URL") {
            self.ioc.mqtt_url = Some(v);
        }
        if let Some(v) = env("BANDO_AUDIT_RETENTION_DAYS") {
            self.audit.retention_days = Some(parse_num("BANDO_AUDIT_RETENTION_DAYS", &v)?);
        }
        if let Some(v) = env("BANDO_AUTH_ISSUER") {
            self.auth.issuer = Some(v);
        }
        if let Some(v) = env("BANDO_AUTH_AUDIENCE") {
            self.auth.audience = Some(v);
        }
        if let Some(v) = env("BANDO_AUTH_DEV_ISSUER") {
            self.auth.dev_issuer = Some(match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "BANDO_AUTH_DEV_ISSUER",
                        value: v,
                        reason: "expected true or false",
                    })
                }
            });
        }
        let production =
            env("BANDO_ENV").is_some_and(|v| v.trim().eq_ignore_ascii_case("production"));
        if production && self.auth.dev_issuer == Some(true) {
            return Err(ConfigError::Auth(
                "the development issuer (auth.dev_issuer) is refused when BANDO_ENV=production"
                    .to_string(),
            ));
        }
        let l = &mut self.limits;
        for (key, slot) in [
            (
                "BANDO_TILE_STATEMENT_TIMEOUT_MS",
                &mut l.tile_statement_timeout_ms,
            ),
            (
                "BANDO_FEATURE_STATEMENT_TIMEOUT_MS",
                &mut l.feature_statement_timeout_ms,
            ),
            (
                "BANDO_DOWNLOAD_STATEMENT_TIMEOUT_MS",
                &mut l.download_statement_timeout_ms,
            ),
            (
                "BANDO_ADMIN_STATEMENT_TIMEOUT_MS",
                &mut l.admin_statement_timeout_ms,
            ),
        ] {
            if let Some(v) = env(key) {
                *slot = Some(parse_num(key, &v)?);
            }
        }
        for (key, slot) in [
            ("BANDO_CLIENT_MAX_CONCURRENT", &mut l.client_max_concurrent),
            (
                "BANDO_CLIENT_REQUESTS_PER_MINUTE",
                &mut l.client_requests_per_minute,
            ),
            ("BANDO_CLIENT_BURST", &mut l.client_burst),
            ("BANDO_CLIENT_REFUSALS_HELD", &mut l.client_refusals_held),
            (
                "BANDO_CLIENT_REFUSALS_HELD_PER_CLIENT",
                &mut l.client_refusals_held_per_client,
            ),
        ] {
            if let Some(v) = env(key) {
                *slot = Some(parse_num(key, &v)?);
            }
        }
        if let Some(v) = env("BANDO_CLIENT_REFUSAL_DELAY_MS") {
            l.client_refusal_delay_ms = Some(parse_num("BANDO_CLIENT_REFUSAL_DELAY_MS", &v)?);
        }
        if let Some(v) = env("BANDO_FEATURE_COST_BUDGET") {
            l.feature_cost_budget = Some(parse_num("BANDO_FEATURE_COST_BUDGET", &v)?);
        }
        if let Some(v) = env("BANDO_TRUSTED_PROXIES") {
            l.trusted_proxies = Some(v.split(',').map(|s| s.trim().to_string()).collect());
        }
        Ok(self)
    }

    /// Checks every value and fills defaults.
    pub fn check(self) -> Result<Config, ConfigError> {
        let listen_text = self
            .server
            .listen
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let listen = listen_text.parse().map_err(|_| ConfigError::Invalid {
            key: "server.listen",
            value: listen_text.clone(),
            reason: "expected an address with a port, such as 127.0.0.1:8080",
        })?;
        let timeout = self.server.request_timeout_secs.unwrap_or(30);
        if timeout == 0 || timeout > 3600 {
            return Err(ConfigError::Invalid {
                key: "server.request_timeout_secs",
                value: timeout.to_string(),
                reason: "must be between 1 and 3600 seconds",
            });
        }
        let body_limit = self.server.body_limit_bytes.unwrap_or(16 * 1024 * 1024);
        if body_limit < 1024 {
            return Err(ConfigError::Invalid {
                key: "server.body_limit_bytes",
                value: body_limit.to_string(),
                reason: "must be at least 1024 bytes",
            });
        }
        let max_connections = self.database.max_connections.unwrap_or(16);
        if max_connections == 0 || max_connections > 500 {
            return Err(ConfigError::Invalid {
                key: "database.max_connections",
                value: max_connections.to_string(),
                reason: "must be between 1 and 500",
            });
        }
        let mut read_urls = Vec::new();
        for url in self.database.read_urls.iter().flatten() {
            let url = url.trim();
            if url.is_empty() {
                continue;
            }
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::Invalid {
                    key: "database.read_urls",
                    value: gis_core::db::redact_url(url),
                    reason: "expected postgres:// URLs of streaming replicas",
                });
            }
            read_urls.push(url.to_string());
        }
        let public_url = match self.server.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                let ok = (url.starts_with("http://") || url.starts_with("https://"))
                    && !url.contains(char::is_whitespace);
                if !ok {
                    return Err(ConfigError::Invalid {
                        key: "server.public_url",
                        value: url.to_string(),
                        reason: "expected an http:// or https:// address, such as https://gis.example.vn",
                    });
                }
                Some(url.trim_end_matches('/').to_string())
            }
        };
        let mut cors_origins = Vec::new();
        for origin in self.server.cors_origins.iter().flatten() {
            let origin = origin.trim().trim_end_matches('/');
            if !crate::security::is_origin(origin) {
                return Err(ConfigError::Invalid {
                    key: "server.cors_origins",
                    value: origin.to_string(),
                    reason: "expected web origins such as https://app.example.vn (scheme, host, optional port; no path, no *)",
                });
            }
            cors_origins.push(origin.to_string());
        }
        let tile_cache_mb = self.server.tile_cache_mb.unwrap_or(256);
        if tile_cache_mb > 1 << 20 {
            return Err(ConfigError::Invalid {
                key: "server.tile_cache_mb",
                value: tile_cache_mb.to_string(),
                reason: "must be at most 1048576 (1 TiB)",
            });
        }
        for layer in &self.layers {
            layer
                .validate()
                .map_err(|e| ConfigError::Layer(e.to_string()))?;
        }
        let data_dir = self
            .database
            .data_dir
            .unwrap_or_else(|| PathBuf::from(".bando"));
        let auth = check_auth(self.auth, public_url.as_deref(), listen, &data_dir)?;
        let load = check_limits(&self.limits, max_connections, Duration::from_secs(timeout))?;
        let audit_retention = match self.audit.retention_days.unwrap_or(365) {
            0 => None,
            days => Some(Duration::from_secs(u64::from(days) * 24 * 3600)),
        };
        let broker =
            match self.ioc.mqtt_url.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(url) => Some(ioc::broker::BrokerAddress::parse(url).map_err(|_| {
                    ConfigError::Invalid {
                        key: "ioc.mqtt_url",
                        value: url.to_string(),
                        reason: "expected mqtt://HOST[:PORT]",
                    }
                })?),
            };
        let retention_days = self.ioc.retention_days.unwrap_or(365);
        if retention_days == 0 || retention_days > 36_500 {
            return Err(ConfigError::Invalid {
                key: "ioc.retention_days",
                value: retention_days.to_string(),
                reason: "must be between 1 and 36500",
            });
        }
        let ingest = ioc::ingest::IngestSettings {
            limits: ioc::ingest::TimeLimits {
                max_age: Duration::from_secs(u64::from(retention_days) * 86_400),
                ..Default::default()
            },
            ..Default::default()
        };
        let defaults = land::edit::Tolerances::default();
        let overlap = self
            .land
            .overlap_tolerance_m2
            .unwrap_or(defaults.overlap_m2);
        let snap = self.land.snap_tolerance_m.unwrap_or(defaults.snap_m);
        if land::edit::Tolerances::new(overlap, defaults.snap_m).is_err() {
            return Err(ConfigError::Invalid {
                key: "land.overlap_tolerance_m2",
                value: overlap.to_string(),
                reason: "must be from 0 to 100 m²",
            });
        }
        let land =
            land::edit::Tolerances::new(overlap, snap).map_err(|_| ConfigError::Invalid {
                key: "land.snap_tolerance_m",
                value: snap.to_string(),
                reason: "must be from 0 to 1 m",
            })?;
        let sliver = self.land.sliver_width_m.unwrap_or(defaults.sliver_m);
        let land = land
            .with_sliver_width(sliver)
            .map_err(|_| ConfigError::Invalid {
                key: "land.sliver_width_m",
                value: sliver.to_string(),
                reason: "must be from 0 to 2 m",
            })?;
        let defaults = utilities::network::Settings::default();
        let networks = utilities::network::Settings {
            tolerance_m: self.networks.tolerance_m.unwrap_or(defaults.tolerance_m),
            service_m: self.networks.service_m.unwrap_or(defaults.service_m),
        };
        if !(networks.tolerance_m > 0.0 && networks.tolerance_m <= 10.0) {
            return Err(ConfigError::Invalid {
                key: "networks.tolerance_m",
                value: networks.tolerance_m.to_string(),
                reason: "must be more than 0 and at most 10 (metres)",
            });
        }
        if !(0.0..=500.0).contains(&networks.service_m) {
            return Err(ConfigError::Invalid {
                key: "networks.service_m",
                value: networks.service_m.to_string(),
                reason: "must be between 0 and 500 (metres)",
            });
        }
        let tile_store = match self.tiles.store_max_bytes {
            Some(0) => None,
            max => {
                let mut store = tiles::store::StoreSettings::in_data_dir(&data_dir);
                if let Some(path) = self.tiles.store_path {
                    store.path = path;
                }
                if let Some(max) = max {
                    store.max_bytes = max;
                }
                Some(store)
            }
        };
        if let Some(z) = self.tiles.seed_max_zoom {
            if z > gis_core::tile::MAX_ZOOM {
                return Err(ConfigError::Invalid {
                    key: "tiles.seed_max_zoom",
                    value: z.to_string(),
                    reason: "must be a zoom of the tile grid (0 to 24)",
                });
            }
        }
        let tile_seed = (tile_store.is_some() && self.tiles.seed.unwrap_or(true)).then(|| {
            tiles::seeder::SeedSettings {
                max_zoom: self.tiles.seed_max_zoom,
                ..Default::default()
            }
        });
        Ok(Config {
            plan_documents_dir: self.planning.documents_dir,
            tile_store,
            tile_seed,
            land,
            networks,
            ioc: IocSettings { broker, ingest },
            audit_retention,
            layers: self.layers,
            auth,
            load,
            tile_cache_bytes: tile_cache_mb << 20,
            listen,
            request_timeout: Duration::from_secs(timeout),
            body_limit_bytes: body_limit,
            database_url: self.database.url,
            read_urls,
            data_dir,
            max_connections,
            web_dir: self.server.web_dir.unwrap_or_else(default_web_dir),
            public_url,
            cors_origins,
            font_dir: self
                .server
                .font_dir
                .unwrap_or_else(|| PathBuf::from(crate::glyphs::DEFAULT_FONT_DIR)),
        })
    }
}

/// Checks `[auth]`: an issuer or the development issuer, not both. The development issuer's
/// URL is `<public_url>/dev-auth`, else `http://<listen>/dev-auth` (loopback for an unspecified
/// listen address).
fn check_auth(
    raw: RawAuth,
    public_url: Option<&str>,
    listen: SocketAddr,
    data_dir: &Path,
) -> Result<AuthSettings, ConfigError> {
    let issuer = raw.issuer.filter(|i| !i.trim().is_empty());
    match (issuer, raw.dev_issuer.unwrap_or(false)) {
        (Some(_), true) => Err(ConfigError::Auth(
            "set either auth.issuer or auth.dev_issuer, not both".to_string(),
        )),
        (None, true) => {
            let base = match public_url {
                Some(url) => url.to_string(),
                None => {
                    let mut addr = listen;
                    if addr.ip().is_unspecified() {
                        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    format!("http://{addr}")
                }
            };
            Ok(AuthSettings::Dev(auth::DevIssuerConfig::new(
                format!("{base}/dev-auth"),
                data_dir.join("dev-issuer"),
            )))
        }
        (Some(issuer), false) => {
            let mut config = auth::VerifierConfig::new(
                issuer.trim(),
                raw.audience.unwrap_or_else(|| "bando".to_string()),
            );
            config.accept_azp = raw.accept_azp.unwrap_or(false);
            if let Some(claim) = raw.roles_claim {
                config.roles_claim = claim;
            }
            if let Some(claim) = raw.scope_claim {
                config.scope_claim = claim;
            }
            if let Some(claim) = raw.username_claim {
                config.username_claim = claim;
            }
            config
                .validate()
                .map_err(|e| ConfigError::Auth(e.to_string()))?;
            Ok(AuthSettings::Oidc(config))
        }
        (None, false) => Ok(AuthSettings::Off),
    }
}

/// Where the web apps are when no setting names them: `web/` under the current directory (make
/// demo runs from the repository root), the current directory itself when it is that `web/`
/// (the browser tests run from it), or `../../web` beside the executable (`target/debug/bando`).
/// Falls back to `web`, which `/map` then reports as missing.
pub fn default_web_dir() -> PathBuf {
    let is_web_root = |dir: &Path| dir.join("map").join("index.html").is_file();
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join("web"));
        candidates.push(cwd);
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(exe_dir.join("../../web"));
    }
    candidates
        .into_iter()
        .find(|dir| is_web_root(dir))
        .map(|dir| dir.canonicalize().unwrap_or(dir))
        .unwrap_or_else(|| PathBuf::from("web"))
}

/// `[limits]` over the defaults of [`crate::load::LoadSettings::new`]: every statement
/// deadline at least 100 ms and shorter than the request time limit.
fn check_limits(
    raw: &RawLimits,
    max_connections: u32,
    request_timeout: Duration,
) -> Result<crate::load::LoadSettings, ConfigError> {
    let mut load = crate::load::LoadSettings::new(max_connections, request_timeout);
    for (key, value, class) in [
        (
            "limits.tile_statement_timeout_ms",
            raw.tile_statement_timeout_ms,
            &mut load.tiles,
        ),
        (
            "limits.feature_statement_timeout_ms",
            raw.feature_statement_timeout_ms,
            &mut load.features,
        ),
        (
            "limits.download_statement_timeout_ms",
            raw.download_statement_timeout_ms,
            &mut load.downloads,
        ),
        (
            "limits.admin_statement_timeout_ms",
            raw.admin_statement_timeout_ms,
            &mut load.admin,
        ),
    ] {
        if let Some(ms) = value {
            let t = Duration::from_millis(ms);
            if ms < 100 || t >= request_timeout {
                return Err(ConfigError::Invalid {
                    key,
                    value: ms.to_string(),
                    reason: "must be at least 100 ms and shorter than server.request_timeout_secs",
                });
            }
            class.statement_timeout = t;
        }
    }
    if let Some(budget) = raw.feature_cost_budget {
        load.feature_cost_budget = budget as f64;
    }
    let c = &mut load.clients;
    if let Some(n) = raw.client_max_concurrent {
        c.max_concurrent = n;
    }
    if let Some(n) = raw.client_requests_per_minute {
        c.per_minute = n;
    }
    if let Some(n) = raw.client_burst {
        if n == 0 {
            return Err(ConfigError::Invalid {
                key: "limits.client_burst",
                value: n.to_string(),
                reason: "must be at least 1",
            });
        }
        c.burst = n;
    }
    if let Some(ms) = raw.client_refusal_delay_ms {
        if ms > 10_000 {
            return Err(ConfigError::Invalid {
                key: "limits.client_refusal_delay_ms",
                value: ms.to_string(),
                reason: "must be at most 10000 (10 s): a held refusal keeps its connection open",
            });
        }
        c.refusal_delay = Duration::from_millis(ms);
    }
    if let Some(n) = raw.client_refusals_held {
        c.held_refusals = n;
    }
    if let Some(n) = raw.client_refusals_held_per_client {
        c.held_refusals_per_client = n;
    }
    for text in raw.trusted_proxies.iter().flatten() {
        if text.trim().is_empty() {
            continue;
        }
        let block = text.parse().map_err(|_| ConfigError::Invalid {
            key: "limits.trusted_proxies",
            value: text.clone(),
            reason: "expected IP addresses or CIDR blocks, such as 10.0.0.0/8",
        })?;
        c.trusted_proxies.push(block);
    }
    Ok(load)
}

fn parse_bool(key: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(ConfigError::Invalid {
            key,
            value: value.to_string(),
            reason: "expected true or false",
        }),
    }
}

fn parse_num<T: std::str::FromStr>(key: &'static str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: "expected a whole number",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_replicas_from_file_or_env_are_checked() {
        let raw: RawConfig = toml::from_str(
            "[database]\nurl = \"postgres://p/db\"\nread_urls = [\"postgres://r1/db\"]\n",
        )
        .expect("toml");
        let cfg = raw
            .clone()
            .with_env(|_| None)
            .expect("env")
            .check()
            .expect("ok");
        assert_eq!(cfg.read_urls, vec!["postgres://r1/db".to_string()]);
        let cfg = raw
            .clone()
            .with_env(|k| {
                (k == "BANDO_DB_READ_URLS").then(|| "postgres://r2/db, postgres://r3/db".into())
            })
            .expect("env")
            .check()
            .expect("ok");
        assert_eq!(cfg.read_urls.len(), 2);
        assert_eq!(cfg.read_urls[1], "postgres://r3/db");
        let err = raw
            .with_env(|k| (k == "BANDO_DB_READ_URLS").then(|| "mysql://u:pw@r/db".into()))
            .expect("env")
            .check()
            .expect_err("not postgres");
        assert!(err.to_string().contains("read_urls"), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn precedence_env_over_file_and_defaults() {
        let raw: RawConfig = toml::from_str(
            "[server]\nlisten = \"0.0.0.0:9000\"\nrequest_timeout_secs = 5\n[database]\nmax_connections = 4\n",
        )
        .expect("toml");
        let cfg = raw
            .with_env(|k| (k == "BANDO_LISTEN").then(|| "127.0.0.1:7000".to_string()))
            .expect("env")
            .check()
            .expect("check");
        assert_eq!(cfg.listen.port(), 7000);
        assert_eq!(cfg.request_timeout, Duration::from_secs(5));
        assert_eq!(cfg.max_connections, 4);
        assert_eq!(cfg.data_dir, PathBuf::from(".bando"));
        assert!(cfg.database_url.is_none());
    }

    #[test]
    fn land_tolerances_from_file_with_defaults_and_limits() {
        let cfg = RawConfig::default().check().expect("check");
        assert_eq!(cfg.land, land::edit::Tolerances::default());
        assert_eq!(cfg.land.overlap_m2, 1.0);
        assert_eq!(cfg.land.snap_m, 0.05);
        let raw: RawConfig =
            toml::from_str("[land]\noverlap_tolerance_m2 = 2.5\nsnap_tolerance_m = 0.1\n")
                .expect("toml");
        let cfg = raw.check().expect("check");
        assert_eq!((cfg.land.overlap_m2, cfg.land.snap_m), (2.5, 0.1));
        assert_eq!(cfg.land.sliver_m, 0.3, "the default sliver width");
        let raw: RawConfig = toml::from_str("[land]\nsliver_width_m = 0.5\n").expect("toml");
        assert_eq!(raw.check().expect("check").land.sliver_m, 0.5);
        for (text, key) in [
            (
                "[land]\noverlap_tolerance_m2 = -1.0\n",
                "land.overlap_tolerance_m2",
            ),
            (
                "[land]\noverlap_tolerance_m2 = 1000.0\n",
                "land.overlap_tolerance_m2",
            ),
            ("[land]\nsnap_tolerance_m = 2.0\n", "land.snap_tolerance_m"),
            ("[land]\nsliver_width_m = 3.0\n", "land.sliver_width_m"),
            ("[land]\nsliver_width_m = -0.1\n", "land.sliver_width_m"),
        ] {
            let raw: RawConfig = toml::from_str(text).expect("toml");
            let e = raw.check().expect_err(text).to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        assert!(toml::from_str::<RawConfig>("[land]\noverlap = 1.0\n").is_err());
    }

    #[test]
    fn tile_store_defaults_to_the_data_dir_and_follows_the_tiles_section() {
        let cfg = RawConfig::default().check().expect("check");
        let store = cfg.tile_store.expect("on by default");
        assert_eq!(store.path, PathBuf::from(".bando/tiles/store.sqlite"));
        assert_eq!(store.max_bytes, 1 << 30);
        let raw: RawConfig = toml::from_str(
            "[tiles]\nstore_path = \"/srv/tiles.sqlite\"\nstore_max_bytes = 1000000\n",
        )
        .expect("toml");
        let store = raw.check().expect("check").tile_store.expect("on");
        assert_eq!(
            (store.path, store.max_bytes),
            (PathBuf::from("/srv/tiles.sqlite"), 1_000_000)
        );
        let raw: RawConfig = toml::from_str("[tiles]\nstore_max_bytes = 0\n").expect("toml");
        assert!(
            raw.check().expect("check").tile_store.is_none(),
            "0 turns it off"
        );
        assert!(toml::from_str::<RawConfig>("[tiles]\nstore = 1\n").is_err());
    }

    #[test]
    fn tile_seeding_is_on_with_the_store_and_its_zoom_capped_by_file_or_env() {
        let cfg = RawConfig::default().check().expect("check");
        assert_eq!(
            cfg.tile_seed.map(|s| s.max_zoom),
            Some(None),
            "on, each layer's seed zoom"
        );
        let raw: RawConfig = toml::from_str("[tiles]\nseed_max_zoom = 12\n").expect("toml");
        assert_eq!(
            raw.check().expect("check").tile_seed.map(|s| s.max_zoom),
            Some(Some(12))
        );
        let raw: RawConfig = toml::from_str("[tiles]\nseed = false\n").expect("toml");
        assert!(raw.check().expect("check").tile_seed.is_none());
        let raw: RawConfig = toml::from_str("[tiles]\nstore_max_bytes = 0\n").expect("toml");
        assert!(
            raw.check().expect("check").tile_seed.is_none(),
            "no store, no seeding"
        );
        let env = RawConfig::default()
            .with_env(|k| match k {
                "BANDO_TILES_SEED_MAX_ZOOM" => Some("9".into()),
                _ => None,
            })
            .expect("env");
        assert_eq!(
            env.check().expect("check").tile_seed.map(|s| s.max_zoom),
            Some(Some(9))
        );
        let off = RawConfig::default()
            .with_env(|k| (k == "BANDO_TILES_SEED").then(|| "off".into()))
            .expect("env");
        assert!(off.check().expect("check").tile_seed.is_none());
        assert!(RawConfig::default()
            .with_env(|k| (k == "BANDO_TILES_SEED").then(|| "maybe".into()))
            .is_err());
        let raw: RawConfig = toml::from_str("[tiles]\nseed_max_zoom = 30\n").expect("toml");
        assert!(raw.check().is_err());
    }

    #[test]
    fn font_dir_defaults_to_debian_noto_and_follows_env() {
        let cfg = RawConfig::default().check().expect("check");
        assert_eq!(
            cfg.font_dir,
            PathBuf::from("/usr/share/fonts/truetype/noto")
        );
        let cfg = RawConfig::default()
            .with_env(|k| (k == "BANDO_FONT_DIR").then(|| "/srv/fonts".to_string()))
            .expect("env")
            .check()
            .expect("check");
        assert_eq!(cfg.font_dir, PathBuf::from("/srv/fonts"));
        let raw: RawConfig = toml::from_str("[server]\nfont_dir = \"/opt/f\"\n").expect("toml");
        assert_eq!(
            raw.check().expect("check").font_dir,
            PathBuf::from("/opt/f")
        );
    }

    #[test]
    fn network_tolerances_default_and_are_checked() {
        let cfg = RawConfig::default().check().expect("check");
        assert_eq!(cfg.networks, utilities::network::Settings::default());
        let raw: RawConfig =
            toml::from_str("[networks]\ntolerance_m = 0.5\nservice_m = 12\n").expect("toml");
        let n = raw.check().expect("check").networks;
        assert_eq!((n.tolerance_m, n.service_m), (0.5, 12.0));
        for bad in ["tolerance_m = 0", "tolerance_m = 11", "service_m = -1"] {
            let raw: RawConfig = toml::from_str(&format!("[networks]\n{bad}\n")).expect("toml");
            assert!(raw.check().is_err(), "{bad}");
        }
        assert!(toml::from_str::<RawConfig>("[networks]\nsnap = 1\n").is_err());
    }

    #[test]
    fn public_url_from_env_is_checked_and_trimmed() {
        let cfg = RawConfig::default()
            .with_env(|k| (k == "BANDO_PUBLIC_URL").then(|| "https://gis.example.vn/".to_string()))
            .expect("env")
            .check()
            .expect("check");
        assert_eq!(cfg.public_url.as_deref(), Some("https://gis.example.vn"));
        assert_eq!(
            RawConfig::default().check().expect("check").public_url,
            None
        );
        let err = RawConfig::default()
            .with_env(|k| (k == "BANDO_PUBLIC_URL").then(|| "gis.example.vn".to_string()))
            .expect("env")
            .check()
            .expect_err("no scheme");
        assert!(err.to_string().contains("server.public_url"), "{err}");
    }

    #[test]
    fn web_dir_from_env_or_found() {
        let cfg = RawConfig::default()
            .with_env(|k| (k == "BANDO_WEB_DIR").then(|| "/srv/bando/web".to_string()))
            .expect("env")
            .check()
            .expect("check");
        assert_eq!(cfg.web_dir, PathBuf::from("/srv/bando/web"));
        // Tests run in tile-server, beside the executable in target/debug/deps: the
        // repository's web/ is not found from there, so the fallback names it plainly.
        let found = default_web_dir();
        assert!(
            found == Path::new("web") || found.join("map/index.html").is_file(),
            "{found:?}"
        );
    }

    #[test]
    fn auth_is_off_oidc_or_the_dev_issuer() {
        assert_eq!(
            RawConfig::default().check().expect("check").auth,
            AuthSettings::Off
        );
        let raw: RawConfig = toml::from_str(
            "[auth]\nissuer = \"http://127.0.0.1:8180/realms/bando\"\naccept_azp = true\nroles_claim = \"resource_access.bando.roles\"\n",
        )
        .expect("toml");
        let AuthSettings::Oidc(v) = raw.check().expect("check").auth else {
            panic!("expected OIDC");
        };
        assert_eq!(v.issuer, "http://127.0.0.1:8180/realms/bando");
        assert_eq!(v.audience, "bando");
        assert!(v.accept_azp);
        assert_eq!(v.roles_claim, "resource_access.bando.roles");
        assert_eq!(v.scope_claim, "communes");

        let cfg = RawConfig::default()
            .with_env(|k| match k {
                "BANDO_AUTH_DEV_ISSUER" => Some("true".to_string()),
                "BANDO_LISTEN" => Some("0.0.0.0:9000".to_string()),
                _ => None,
            })
            .expect("env")
            .check()
            .expect("check");
        let AuthSettings::Dev(dev) = cfg.auth else {
            panic!("expected the dev issuer");
        };
        assert_eq!(dev.issuer, "http://127.0.0.1:9000/dev-auth");
        assert_eq!(dev.key_dir, PathBuf::from(".bando/dev-issuer"));

        let err = RawConfig::default()
            .with_env(|k| match k {
                "BANDO_AUTH_DEV_ISSUER" => Some("1".to_string()),
                "BANDO_ENV" => Some("production".to_string()),
                _ => None,
            })
            .expect_err("production");
        assert!(err.to_string().contains("production"), "{err}");
        let raw: RawConfig = toml::from_str(
            "[auth]\nissuer = \"http://127.0.0.1:8180/realms/bando\"\ndev_issuer = true\n",
        )
        .expect("toml");
        assert!(raw.check().is_err(), "both");
        let raw: RawConfig = toml::from_str("[auth]\nissuer = \"sso.example.vn\"\n").expect("toml");
        let err = raw.check().expect_err("no scheme");
        assert!(err.to_string().contains("[auth]"), "{err}");
    }

    #[test]
    fn limits_from_file_and_env_are_checked() {
        let raw: RawConfig = toml::from_str(
            "[server]\nrequest_timeout_secs = 10\n[limits]\nfeature_statement_timeout_ms = 4000\nclient_max_concurrent = 2\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        )
        .expect("toml");
        let cfg = raw
            .with_env(|k| (k == "BANDO_CLIENT_REQUESTS_PER_MINUTE").then(|| "30".to_string()))
            .expect("env")
            .check()
            .expect("check");
        assert_eq!(
            cfg.load.features.statement_timeout,
            Duration::from_millis(4000)
        );
        assert_eq!(cfg.load.tiles.statement_timeout, Duration::from_secs(8));
        assert_eq!(cfg.load.clients.max_concurrent, 2);
        assert_eq!(cfg.load.clients.per_minute, 30);
        assert_eq!(cfg.load.clients.trusted_proxies.len(), 1);
        assert_eq!(cfg.load.clients.refusal_delay, Duration::from_secs(1));
        let raw: RawConfig = toml::from_str(
            "[limits]\nclient_refusal_delay_ms = 250\nclient_refusals_held = 10\nclient_refusals_held_per_client = 2\n",
        )
        .expect("toml");
        let cfg = raw.check().expect("check");
        assert_eq!(cfg.load.clients.refusal_delay, Duration::from_millis(250));
        assert_eq!(cfg.load.clients.held_refusals, 10);
        assert_eq!(cfg.load.clients.held_refusals_per_client, 2);
        let err = RawConfig::default()
            .with_env(|k| (k == "BANDO_CLIENT_REFUSAL_DELAY_MS").then(|| "60000".to_string()))
            .expect("env")
            .check()
            .expect_err("too long a hold");
        assert!(err.to_string().contains("client_refusal_delay_ms"), "{err}");
        let defaults = RawConfig::default().check().expect("check");
        assert!(defaults.load.clients.trusted_proxies.is_empty());
        assert!(defaults.load.features.statement_timeout < defaults.request_timeout);
        let err = RawConfig::default()
            .with_env(|k| (k == "BANDO_FEATURE_STATEMENT_TIMEOUT_MS").then(|| "30000".to_string()))
            .expect("env")
            .check()
            .expect_err("not shorter than the request limit");
        assert!(
            err.to_string().contains("feature_statement_timeout_ms"),
            "{err}"
        );
        let err = RawConfig::default()
            .with_env(|k| (k == "BANDO_TRUSTED_PROXIES").then(|| "10.0.0.1,proxy".to_string()))
            .expect("env")
            .check()
            .expect_err("not an address");
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let err = RawConfig::default()
            .with_env(|k| (k == "BANDO_LISTEN").then(|| "localhost".to_string()))
            .expect("env")
            .check()
            .expect_err("must fail");
        assert!(err.to_string().contains("server.listen"), "{err}");
        let err = RawConfig::default()
            .with_env(|k| (k == "BANDO_REQUEST_TIMEOUT_SECS").then(|| "soon".to_string()))
            .expect_err("must fail");
        assert!(err.to_string().contains("whole number"), "{err}");
        let err =
            toml::from_str::<RawConfig>("[server]\nlisten_port = 1\n").expect_err("unknown key");
        assert!(err.to_string().contains("listen_port"), "{err}");
    }
}
