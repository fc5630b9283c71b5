//! Handlers, one module per area. Handlers are thin: they extract, call a library, and shape the
//! answer; no domain SQL lives here.

pub mod admin;
pub mod edit;
pub mod features;
pub mod feeds;
pub mod health;
pub mod landing;
pub mod networks;
pub mod openapi;
pub mod plans;
pub mod portal;
pub mod query;
pub mod signin;
pub mod sta;
pub mod style;
pub mod tiles;
pub mod web;

static PUBLIC_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the configured public address (`server.public_url`) used by [`base_url`]; the first
/// call wins (the server sets it once at start).
pub fn set_public_url(url: Option<String>) {
    if let Some(url) = url {
        let _ = PUBLIC_URL.set(url);
    }
}

/// The configured public address, if any.
pub fn public_url() -> Option<&'static str> {
    PUBLIC_URL.get().map(String::as_str)
}

/// `scheme://host` for absolute links: the configured public address, else the request's
/// `Host` when it is a plain host name or address with an optional port (anything else could
/// steer clients elsewhere through a shared cache), else `localhost:8080`.
pub fn base_url(headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = PUBLIC_URL.get() {
        return url.clone();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| is_plain_host(h))
        .unwrap_or("localhost:8080");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// A host name, IPv4 or bracketed IPv6 address, optionally with a port.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn base_url_takes_only_plain_hosts() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(super::base_url(&h), "http://127.0.0.1:8080");
        h.insert(header::HOST, HeaderValue::from_static("[::1]:3000"));
        assert_eq!(super::base_url(&h), "http://[::1]:3000");
        h.insert(header::HOST, HeaderValue::from_static("evil.example/x?y"));
        assert_eq!(super::base_url(&h), "http://localhost:8080");
        h.insert(header::HOST, HeaderValue::from_static("a@b"));
        assert_eq!(super::base_url(&h), "http://localhost:8080");
    }
}
