//! `dev_routes`: the development issuer over HTTP, under `/dev-auth/`. The only part of this
//! crate that knows axum; mount it only when the development issuer is configured.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::dev_issuer::{AuthorizeRequest, DevIssuer, DevIssuerError, TokenRequest, DEMO_USERS};

/// The development issuer's routes: `/dev-auth/.well-known/openid-configuration`,
/// `/dev-auth/jwks`, `/dev-auth/authorize` (GET: a login page listing the demo users; POST: the
/// chosen user, answered 303 to `redirect_uri?code=…&state=…`) and `/dev-auth/token`
/// (`grant_type=authorization_code` with PKCE). The issuer's URL must be this server's address
/// followed by `/dev-auth`.
pub fn dev_routes(issuer: Arc<DevIssuer>) -> Router {
    Router::new()
        .route(
            "/dev-auth/.well-known/openid-configuration",
            get(|State(i): State<Arc<DevIssuer>>| async move { Json(i.discovery()) }),
        )
        .route(
            "/dev-auth/jwks",
            get(|State(i): State<Arc<DevIssuer>>| async move { Json(i.jwks()) }),
        )
        .route("/dev-auth/authorize", get(login_page).post(login))
        .route("/dev-auth/token", axum::routing::post(token))
        .with_state(issuer)
}

/// Parameters of the authorization request (query on GET, form on POST).
#[derive(Debug, Default, Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    scope: Option<String>,
    /// POST only: the chosen demo user.
    username: Option<String>,
}

/// The parameters checked, or why not.
fn checked(issuer: &DevIssuer, p: &AuthorizeParams) -> Result<(), DevIssuerError> {
    if p.response_type.as_deref() != Some("code") {
        return Err(DevIssuerError::InvalidRequest {
            reason: "response_type must be code".to_string(),
        });
    }
    issuer.check_authorize(
        p.client_id.as_deref().unwrap_or_default(),
        p.redirect_uri.as_deref().unwrap_or_default(),
        p.code_challenge.as_deref().unwrap_or_default(),
        // PKCE is required: no method given is refused, not taken as `plain`.
        p.code_challenge_method.as_deref().unwrap_or_default(),
    )
}

/// Escapes text for HTML content and attributes (the five specials): the one escaper of
/// every bando page — the sign-in pages here, the landing and catalog pages in `tile-server`.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn error_page(err: &DevIssuerError) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>Lỗi đăng nhập</title>\
         <h1>Yêu cầu đăng nhập không hợp lệ</h1><p lang=\"en\">Invalid sign-in request ({}): {}</p></html>",
        err.oauth_error(),
        escape_html(&err.to_string())
    );
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        Html(body),
    )
        .into_response()
}

async fn login_page(
    State(issuer): State<Arc<DevIssuer>>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    if let Err(err) = checked(&issuer, &p) {
        return error_page(&err);
    }
    let hidden: String = [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("state", &p.state),
        ("nonce", &p.nonce),
        ("scope", &p.scope),
    ]
    .iter()
    .filter_map(|(name, value)| {
        value.as_ref().map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape_html(v)
            )
        })
    })
    .collect();
    let users: String = DEMO_USERS
        .iter()
        .map(|u| {
            format!(
                "<li><button type=\"submit\" name=\"username\" value=\"{}\">{}</button> \
                 <code>{}</code> <span lang=\"en\">— {}</span></li>",
                escape_html(u.username),
                escape_html(u.name_vi),
                escape_html(u.username),
                escape_html(u.description_en)
            )
        })
        .collect();
    let body = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>Đăng nhập thử — bando</title></head>\
         <body><h1>Đăng nhập thử</h1>\
         <p>Máy chủ định danh dành cho phát triển: chọn một người dùng mẫu.</p>\
         <p lang=\"en\">Development identity provider: choose a demo user.</p>\
         <form method=\"post\" action=\"authorize\">{hidden}<ul>{users}</ul></form></body></html>"
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(body),
    )
        .into_response()
}

async fn login(State(issuer): State<Arc<DevIssuer>>, Form(p): Form<AuthorizeParams>) -> Response {
    if let Err(err) = checked(&issuer, &p) {
        return error_page(&err);
    }
    let redirect_uri = p.redirect_uri.clone().unwrap_or_default();
    let request = AuthorizeRequest {
        username: p.username.clone().unwrap_or_default(),
        client_id: p.client_id.clone().unwrap_or_default(),
        redirect_uri: redirect_uri.clone(),
        code_challenge: p.code_challenge.clone().unwrap_or_default(),
        code_challenge_method: p.code_challenge_method.clone().unwrap_or_default(),
        nonce: p.nonce.clone(),
    };
    let code = match issuer.authorize(request) {
        Ok(code) => code,
        Err(err) => return error_page(&err),
    };
    let Ok(mut target) = reqwest::Url::parse(&redirect_uri) else {
        return error_page(&DevIssuerError::InvalidRequest {
            reason: "redirect_uri is not a URL".to_string(),
        });
    };
    {
        let mut query = target.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(state) = &p.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer.issuer());
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, target.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize)]
struct TokenParams {
    grant_type: Option<String>,
    code: Option<String>,
    code_verifier: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(issuer): State<Arc<DevIssuer>>, Form(p): Form<TokenParams>) -> Response {
    if p.grant_type.as_deref() != Some("authorization_code") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=authorization_code is supported",
        );
    }
    let (Some(code), Some(code_verifier), Some(redirect_uri), Some(client_id)) =
        (p.code, p.code_verifier, p.redirect_uri, p.client_id)
    else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code, code_verifier, redirect_uri and client_id are required",
        );
    };
    match issuer.exchange(TokenRequest {
        code,
        code_verifier,
        redirect_uri,
        client_id,
    }) {
        Ok(response) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(response),
        )
            .into_response(),
        Err(err) => {
            let status = if err.oauth_error() == "server_error" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            token_error(status, err.oauth_error(), &err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escapes_all_five_html_specials() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
