//! Headers every answer gets, and CORS.
//!
//! - `X-Content-Type-Options: nosniff` and `X-Frame-Options: DENY` on every answer.
//! - A Content-Security-Policy: HTML pages may run scripts from this server only (none of
//!   bando's pages has an inline script), MapLibre's workers and images from `blob:`/`data:`,
//!   and reach this server, `server.public_url` and the sign-in issuer (scripts too: a worker
//!   started from a script runs under that script's policy); everything else (JSON,
//!   tiles, files) gets `default-src 'none'`. `frame-ancestors 'none'` everywhere. Inline styles
//!   are allowed (the pages' `<style>` blocks and the dev-issuer banner); they cannot run code.
//! - `Vary: Host, X-Forwarded-Proto` on textual answers when links are made from the request
//!   (no `server.public_url`), so a shared cache never hands one host's links to another.
//! - CORS ([`classify`]): public reads (tiles, TileJSON, styles, glyphs, sprites, collections,
//!   items, queryables, the landing page and API description) answer `Access-Control-Allow-Origin:
//!   *` without credentials, as tile servers do, and their preflights are answered here; the
//!   endpoints that take a token to change something (writes under `/collections/{id}/items`,
//!   `/admin`) answer CORS only for the origins in `[server] cors_origins`. Bearer tokens are
//!   not ambient credentials, so `*` never lets another site act as a signed-in user.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::app::AppState;

/// The policy of everything that is not an HTML page.
const NON_HTML_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Request headers a cross-origin page may send to public reads.
const PUBLIC_HEADERS: &str =
    "accept, accept-language, content-language, content-type, if-none-match, if-modified-since, range, bando-min-lsn";

/// Request headers the configured origins may also send (tokens, conditional writes, a
/// write's reason and decision).
const TOKEN_HEADERS: &str = "accept, accept-language, content-language, content-type, if-none-match, if-modified-since, range, authorization, if-match, edit-reason, edit-document, bando-min-lsn";

/// Answer headers a cross-origin page may read.
const EXPOSED: &str =
    "etag, link, location, content-crs, content-disposition, retry-after, x-request-id, bando-snapped, bando-lsn";

/// How an endpoint answers other origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorsClass {
    /// Public reads: any origin, no credentials.
    Public,
    /// Endpoints that take a token to act: configured origins only.
    Token,
    /// Not offered to other origins (the web map's own files, `/health`, `/metrics`, …).
    None,
}

/// Which CORS answer `method` on `path` gets.
pub fn classify(method: &Method, path: &str) -> CorsClass {
    let read = method == Method::GET || method == Method::HEAD;
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or("");
    match first {
        "admin" => CorsClass::Token,
        // The cadastre's split/merge and plan approval change data.
        "land" | "plans" if !read => CorsClass::Token,
        // Items answer reads to everyone and take a token to change them.
        "collections" if segments.nth(1) == Some("items") => {
            if read {
                CorsClass::Public
            } else {
                CorsClass::Token
            }
        }
        "" | "conformance" | "collections" | "tiles" | "tileMatrixSets" | "styles" | "fonts"
        | "sprites" | "layers" | "crs" | "api" | "api.html"
            if read =>
        {
            CorsClass::Public
        }
        _ => CorsClass::None,
    }
}

/// A web origin: `http(s)://host[:port]`, nothing after it.
pub fn is_origin(text: &str) -> bool {
    let rest = match text.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        _ => return false,
    };
    !rest.is_empty()
        && rest.len() <= 255
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The origin part of a URL (`https://id.example.vn/realms/x` → `https://id.example.vn`).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let origin = format!("{scheme}://{host}");
    is_origin(&origin).then_some(origin)
}

/// The policy of the HTML pages: own scripts only, what MapLibre needs, and the addresses the
/// map talks to (this server, the public address, the sign-in issuer).
pub fn page_policy(base_url: Option<&str>, issuer: Option<&str>) -> String {
    let mut connect = String::from("'self'");
    let mut images = String::from("'self' data: blob:");
    // Named explicitly as well: MapLibre fetches tiles from blob: workers, where Chromium does
    // not match 'self' against the page's origin.
    if let Some(base) = base_url.and_then(origin_of) {
        connect.push(' ');
        connect.push_str(&base);
        images.push(' ');
        images.push_str(&base);
    }
    if let Some(issuer) = issuer.and_then(origin_of) {
        if !connect.split(' ').any(|o| o == issuer) {
            connect.push(' ');
            connect.push_str(&issuer);
        }
    }
    format!(
        "default-src 'self'; script-src 'self'{maps}; style-src 'self' 'unsafe-inline'; \
         img-src {images}; font-src 'self' data:; connect-src {connect}; \
         worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'",
        maps = import_map_hashes()
    )
}

/// The CSP hashes (`'sha256-…'`, with a leading space each) of the inline import maps in the
/// web apps' pages: browsers cannot load an import map from a file, and it is the one inline
/// script the apps have (the editor names terra-draw for its MapLibre adapter). Read once from
/// the pages served, so the policy follows the files.
fn import_map_hashes() -> &'static str {
    static HASHES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASHES.get_or_init(|| {
        let mut out = String::new();
        let Ok(entries) = std::fs::read_dir(crate::routes::web::web_dir()) else {
            return out;
        };
        for entry in entries.flatten() {
            let Ok(page) = std::fs::read_to_string(entry.path().join("index.html")) else {
                continue;
            };
            for map in inline_import_maps(&page) {
                out.push_str(&format!(" 'sha256-{}'", csp_hash(map)));
            }
        }
        out
    })
}

/// The contents of `<script type="importmap">…</script>` blocks, exactly as the browser hashes
/// them.
fn inline_import_maps(page: &str) -> Vec<&str> {
    let open = "<script type=\"importmap\">";
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find("</script>") else {
            break;
        };
        found.push(&after[..end]);
        rest = &after[end..];
    }
    found
}

fn csp_hash(script: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script.as_bytes()))
}

/// What the security answer needs from a request, read before it is handled.
pub struct Seen {
    origin: Option<HeaderValue>,
    allowed: bool,
    class: CorsClass,
    // The address links are made from (server.public_url or a valid Host): kept as header
    // values, turned into text only for a page that needs it (this runs on every warm tile).
    host: Option<HeaderValue>,
    proto: Option<HeaderValue>,
}

/// What [`before`] found.
pub enum Before {
    /// Handle the request, then call [`after`].
    Pass(Seen),
    /// A CORS preflight, answered here (with the security headers).
    Preflight(Response),
}

/// Reads what [`after`] needs; a CORS preflight is answered here at once.
pub fn before(state: &AppState, request: &Request) -> Before {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let origin_text = origin.as_ref().and_then(|v| v.to_str().ok());
    let allowed = origin_text.is_some_and(|o| {
        state
            .cors_origins
            .get()
            .is_some_and(|list| list.iter().any(|a| a == o))
    });
    let host = request.headers().get(header::HOST).cloned();
    let proto = request.headers().get("x-forwarded-proto").cloned();
    let preflight_method = (request.method() == Method::OPTIONS)
        .then(|| {
            request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .and_then(|v| v.to_str().ok())
                .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        })
        .flatten();
    if let (Some(origin), Some(method)) = (origin_text, preflight_method) {
        let mut response = preflight(classify(&method, request.uri().path()), origin, allowed);
        let seen = Seen {
            origin: None,
            allowed,
            class: CorsClass::None,
            host,
            proto,
        };
        finish(state, seen, &mut response);
        return Before::Preflight(response);
    }
    Before::Pass(Seen {
        class: classify(request.method(), request.uri().path()),
        origin,
        allowed,
        host,
        proto,
    })
}

/// CORS and the security headers of an answer.
pub fn after(state: &AppState, seen: Seen, response: &mut Response) {
    let origin = seen.origin.as_ref().and_then(|v| v.to_str().ok());
    cors_answer(response.headers_mut(), seen.class, origin, seen.allowed);
    finish(state, seen, response);
}

fn finish(state: &AppState, seen: Seen, response: &mut Response) {
    let Seen { host, proto, .. } = seen;
    let base = || {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(header::HOST, v);
        }
        if let Some(v) = proto {
            h.insert("x-forwarded-proto", v);
        }
        crate::routes::base_url(&h)
    };
    let issuer = state.sign_in.get().map(|s| s.issuer.as_str());
    let not_modified = response.status() == StatusCode::NOT_MODIFIED;
    security_headers(response.headers_mut(), base, issuer, not_modified);
}

fn preflight(class: CorsClass, origin: &str, allowed: bool) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let h = response.headers_mut();
    match class {
        CorsClass::Public => {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            // Configured origins may send their token to reads too.
            let headers = if allowed {
                TOKEN_HEADERS
            } else {
                PUBLIC_HEADERS
            };
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(headers),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
            append_vary(h, "Origin");
        }
        CorsClass::Token if allowed => {
            if let Ok(v) = HeaderValue::from_str(origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(TOKEN_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            append_vary(h, "Origin");
        }
        CorsClass::Token | CorsClass::None => {
            let detail = match class {
                CorsClass::Token => "cross-origin requests that change data or administer the server are accepted only from the origins in [server] cors_origins",
                _ => "this address is not offered to pages of other origins",
            };
            let mut refused =
                crate::error::problem_response(StatusCode::FORBIDDEN, Some(detail.into()));
            append_vary(refused.headers_mut(), "Origin");
            return refused;
        }
    }
    response
}

fn cors_answer(h: &mut HeaderMap, class: CorsClass, origin: Option<&str>, allowed: bool) {
    match class {
        CorsClass::Public => {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED),
            );
        }
        CorsClass::Token => {
            append_vary(h, "Origin");
            if let (true, Some(origin)) = (allowed, origin) {
                if let Ok(v) = HeaderValue::from_str(origin) {
                    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                    h.insert(
                        header::ACCESS_CONTROL_EXPOSE_HEADERS,
                        HeaderValue::from_static(EXPOSED),
                    );
                }
            }
        }
        CorsClass::None => {}
    }
}

fn security_headers(
    h: &mut HeaderMap,
    base: impl FnOnce() -> String,
    issuer: Option<&str>,
    not_modified: bool,
) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let public_url = crate::routes::public_url();
    if not_modified {
        // A 304 has no content type, and a cache updates the stored answer's headers with
        // the 304's: a policy here would replace the page's own (and break the map).
        if public_url.is_none() {
            append_vary(h, "Host");
            append_vary(h, "X-Forwarded-Proto");
        }
        return;
    }
    // Media types are ASCII; a mixed-case one is matched without allocating in the common
    // lower-case case (this runs on every answer).
    let (page, textual) = {
        let raw = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let lower;
        let content_type = if raw.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = raw.to_ascii_lowercase();
            lower.as_str()
        } else {
            raw
        };
        (
            content_type.starts_with("text/html") || content_type.contains("javascript"),
            content_type.starts_with("text/")
                || content_type.contains("json")
                || content_type.contains("xml"),
        )
    };
    if page {
        let policy = page_policy(Some(&base()), issuer);
        match HeaderValue::from_str(&policy) {
            Ok(v) => h.insert(header::CONTENT_SECURITY_POLICY, v),
            // Only a malformed configured address could fail; fall back to the strictest page
            // policy rather than none.
            Err(_) => h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'",
                ),
            ),
        };
    } else {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NON_HTML_POLICY),
        );
    }
    if public_url.is_none() && textual {
        append_vary(h, "Host");
        append_vary(h, "X-Forwarded-Proto");
    }
}

/// Adds `name` to `Vary` unless it is there (or `*` is).
fn append_vary(h: &mut HeaderMap, name: &str) {
    let present = h
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            let v = v.trim();
            v == "*" || v.eq_ignore_ascii_case(name)
        });
    if !present {
        if let Ok(v) = HeaderValue::from_str(name) {
            h.append(header::VARY, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_public_and_writes_take_configured_origins() {
        let get = Method::GET;
        for path in [
            "/",
            "/tiles/parcels/1/2/3.mvt",
            "/tiles/parcels.json",
            "/styles/default.json",
            "/fonts/Noto%20Sans%20Regular/0-255.pbf",
            "/sprites/bando.png",
            "/collections",
            "/collections/parcels",
            "/collections/parcels/items",
            "/collections/parcels/items/7",
            "/collections/parcels/queryables",
        ] {
            assert_eq!(classify(&get, path), CorsClass::Public, "{path}");
        }
        for (method, path) in [
            (Method::POST, "/collections/parcels/items"),
            (Method::PUT, "/collections/parcels/items/7"),
            (Method::PATCH, "/collections/parcels/items/7"),
            (Method::DELETE, "/collections/parcels/items/7"),
            (Method::GET, "/admin/audit"),
            (Method::POST, "/land/parcels/7/split"),
            (Method::POST, "/land/parcels/merge"),
            (Method::POST, "/plans/3/approve"),
        ] {
            assert_eq!(classify(&method, path), CorsClass::Token, "{method} {path}");
        }
        for path in [
            "/health",
            "/metrics",
            "/map",
            "/auth/config",
            "/dev-auth/token",
        ] {
            assert_eq!(classify(&get, path), CorsClass::None, "{path}");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(is_origin("https://app.example.vn"));
        assert!(is_origin("http://127.0.0.1:3000"));
        assert!(!is_origin("*"));
        assert!(!is_origin("https://app.example.vn/path"));
        assert!(!is_origin("ftp://x"));
        assert!(!is_origin("https://"));
    }

    #[test]
    fn the_page_policy_names_the_issuer_and_public_address() {
        let p = page_policy(
            Some("https://gis.example.vn/bando"),
            Some("https://id.example.vn/realms/vn"),
        );
        assert!(
            p.contains("connect-src 'self' https://gis.example.vn https://id.example.vn;"),
            "{p}"
        );
        assert!(p.contains("script-src 'self';"), "{p}");
        assert!(p.contains("worker-src 'self' blob:"), "{p}");
        assert!(p.contains("frame-ancestors 'none'"), "{p}");
        let bare = page_policy(None, None);
        // The editor's import map is allowed by its hash, nothing else inline.
        let editor = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/editor/index.html"),
        )
        .expect("editor page");
        let maps = inline_import_maps(&editor);
        assert_eq!(maps.len(), 1);
        assert!(maps[0].contains("terra-draw"));
        assert_eq!(
            csp_hash("alert(1)"),
            "bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI="
        );
        assert!(bare.contains("connect-src 'self';"), "{bare}");
    }

    #[test]
    fn vary_is_not_repeated() {
        let mut h = HeaderMap::new();
        h.insert(
            header::VARY,
            HeaderValue::from_static("Authorization, host"),
        );
        append_vary(&mut h, "Host");
        append_vary(&mut h, "Origin");
        let all: Vec<_> = h.get_all(header::VARY).iter().collect();
        assert_eq!(all.len(), 2);
    }
}
