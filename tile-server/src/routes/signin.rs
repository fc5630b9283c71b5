//! What browser apps need to sign in: `GET /auth/config` names the OpenID Connect issuer and the
//! client id the web map uses for the authorization-code flow with PKCE (the browser reads the
//! issuer's discovery document itself), or says sign-in is off. While the development issuer
//! is on, [`with_banner`] puts a warning at the top of every HTML page this server answers.

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::app::AppState;

/// Browser sign-in as configured (`bando serve` sets it from `[auth]`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BrowserSignIn {
    /// The issuer; its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The OAuth client id of the web apps (a public client: no secret, PKCE S256).
    pub client_id: String,
    /// Whether this is bando's development issuer (demo users, not for real data).
    pub development: bool,
}

/// The banner's text, Vietnamese then English.
pub const DEV_BANNER_VI: &str = "Máy chủ đăng nhập thử nghiệm — không dùng cho dữ liệu thật";
/// The banner's English text.
pub const DEV_BANNER_EN: &str = "Test sign-in server — not for real data";

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/auth/config", get(config))
}

/// `GET /auth/config`: `{"enabled": false}`, or the issuer, client id and whether it is the
/// development issuer.
pub async fn config(State(state): State<AppState>) -> Response {
    let body = match state.sign_in.get() {
        Some(s) => serde_json::json!({
            "enabled": true,
            "issuer": s.issuer,
            "client_id": s.client_id,
            "development": s.development,
        }),
        None => serde_json::json!({"enabled": false}),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Whether `response` gets the development issuer's banner: while that issuer is on, every
/// HTML page starts with a banner saying so (in both languages); other answers pass untouched.
pub fn wants_banner(state: &AppState, response: &Response) -> bool {
    state.sign_in.get().is_some_and(|s| s.development)
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
        && !response.headers().contains_key(header::CONTENT_ENCODING)
}

/// The page with the banner ([`wants_banner`]).
pub async fn with_banner(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, 16 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let banner = format!(
        "<div id=\"dev-issuer-banner\" role=\"alert\" style=\"grid-area:banner;background:#b91c1c;\
         color:#fff;padding:.35em 1em;font:600 14px system-ui,'Noto Sans',sans-serif;text-align:center\">\
         <span lang=\"vi\">{DEV_BANNER_VI}</span> · <span lang=\"en\">{DEV_BANNER_EN}</span></div>"
    );
    // Right after the opening <body …> tag; a page without one gets it first.
    let out = match text
        .find("<body")
        .and_then(|at| text[at..].find('>').map(|end| at + end + 1))
    {
        Some(at) => format!("{}{banner}{}", &text[..at], &text[at..]),
        None => format!("{banner}{text}"),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ETAG);
    Response::from_parts(parts, Body::from(out))
}
