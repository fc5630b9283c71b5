//! The web apps (`/map`, …): static files and their assets.
//!
//! `/map` is the planners' map (`web/map/index.html`), `/map/{file}` its scripts and styles;
//! `/editor` the land officers' parcel editor (`web/editor/index.html`), `/editor/{file}` its
//! own; `/ioc` the operations centre's wall display (`web/ioc/`); `/vendor/{package}/{file}` the `dist/` folders of the npm packages they use
//! (maplibre-gl, proj4, terra-draw, terra-draw-maplibre-gl-adapter) in `web/node_modules`. Nothing else under the web root is reachable: a file name is
//! one plain path segment (no `..`, no separators, no leading dot), checked before the disk is
//! touched. The web root is [`crate::config::Config::web_dir`], handed over by `bando serve`
//! through [`set_web_dir`]; routers built without it (tests) find it the same way the
//! configuration does.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::error::AppError;

static WEB_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Sets the web root for every router built afterwards (first call wins: one per process).
pub fn set_web_dir(dir: PathBuf) {
    let _ = WEB_DIR.set(dir);
}

/// The web root in use.
pub fn web_dir() -> PathBuf {
    WEB_DIR
        .get()
        .cloned()
        .unwrap_or_else(crate::config::default_web_dir)
}

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/map", get(map_page))
        .route("/map/", get(|| async { Redirect::permanent("/map") }))
        .route("/map/{file}", get(map_file))
        .route("/editor", get(editor_page))
        .route("/editor/", get(|| async { Redirect::permanent("/editor") }))
        .route("/editor/{file}", get(editor_file))
        .route("/portal", get(portal_page))
        .route("/portal/", get(|| async { Redirect::permanent("/portal") }))
        .route("/portal/{file}", get(portal_file))
        .route("/ioc", get(ioc_page))
        .route("/ioc/", get(|| async { Redirect::permanent("/ioc") }))
        .route("/ioc/{file}", get(ioc_file))
        .route("/vendor/{package}/{file}", get(vendor_file))
}

/// Which kind of file, for its cache lifetime.
#[derive(Clone, Copy)]
enum Kind {
    /// The app's own files: revalidated on every load, so a new version shows at once.
    App,
    /// npm packages pinned by package-lock.json: cached for a day.
    Vendor,
}

async fn map_page() -> Result<Response, AppError> {
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join("map"), "index.html", Kind::App).await
}

async fn portal_page() -> Result<Response, AppError> {
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join("portal"), "index.html", Kind::App).await
}

async fn ioc_page() -> Result<Response, AppError> {
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join("ioc"), "index.html", Kind::App).await
}

async fn ioc_file(UrlPath(file): UrlPath<String>) -> Result<Response, AppError> {
    check_name(&file)?;
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join("ioc"), &file, Kind::App).await
}

async fn portal_file(UrlPath(file): UrlPath<String>) -> Result<Response, AppError> {
    check_name(&file)?;
    let root = web_dir();
    serve_file(&root.join("portal"), &file, Kind::App).await
}

async fn map_file(UrlPath(file): UrlPath<String>) -> Result<Response, AppError> {
    check_name(&file)?;
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join("map"), &file, Kind::App).await
}

async fn editor_page() -> Result<Response, AppError> {
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join("editor"), "index.html", Kind::App).await
}

async fn editor_file(UrlPath(file): UrlPath<String>) -> Result<Response, AppError> {
    check_name(&file)?;
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join("editor"), &file, Kind::App).await
}

/// The npm packages whose `dist/` folder is published, by name.
const VENDORED: [(&str, &str); 4] = [
    ("maplibre-gl", "node_modules/maplibre-gl/dist"),
    ("proj4", "node_modules/proj4/dist"),
    ("terra-draw", "node_modules/terra-draw/dist"),
    (
        "terra-draw-maplibre-gl-adapter",
        "node_modules/terra-draw-maplibre-gl-adapter/dist",
    ),
];

async fn vendor_file(
    UrlPath((package, file)): UrlPath<(String, String)>,
) -> Result<Response, AppError> {
    // Only these packages' dist folders are published; the rest of node_modules is not.
    let Some((_, dist)) = VENDORED.iter().find(|(name, _)| *name == package) else {
        let served: Vec<&str> = VENDORED.iter().map(|(name, _)| *name).collect();
        return Err(AppError::NotFound(format!(
            "no vendored package {package:?}; served: {}",
            served.join(", ")
        )));
    };
    check_name(&file)?;
    let root = web_dir();
    check_installed(&root)?;
    serve_file(&root.join(dist), &file, Kind::Vendor).await
}

/// A file name must be one plain segment: letters, digits, `.`, `-`, `_`, not starting with a dot.
fn check_name(file: &str) -> Result<(), AppError> {
    let plain = !file.is_empty()
        && file.len() <= 128
        && !file.starts_with('.')
        && !file.contains("..")
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "{file:?} is not a file name this server publishes: use a single name of letters, \
             digits, '.', '-' and '_' (no folders, no '..')"
        )))
    }
}

/// The apps need their files and their npm packages; say what to do when either is missing.
/// The answer goes to anyone, so the server's folder is named in the log only.
fn check_installed(root: &Path) -> Result<(), AppError> {
    if !root.join("map").join("index.html").is_file()
        || !root.join("editor").join("index.html").is_file()
    {
        tracing::error!(web_dir = %root.display(), "the web apps are not installed here");
        return Err(AppError::Unavailable(
            "the web apps are not installed: run bando from the repository (or its web/ \
             folder) or set BANDO_WEB_DIR / server.web_dir to the web/ folder (the server log \
             names the folder looked in)"
                .into(),
        ));
    }
    if VENDORED
        .iter()
        .any(|(name, _)| !root.join("node_modules").join(name).is_dir())
    {
        tracing::error!(web_dir = %root.display(), "the map's npm packages are missing here");
        return Err(AppError::Unavailable(
            "the map's JavaScript packages are missing: run `npm ci` in the web/ folder (or \
             `make web-deps` in the repository)"
                .into(),
        ));
    }
    Ok(())
}

async fn serve_file(dir: &Path, file: &str, kind: Kind) -> Result<Response, AppError> {
    let path = dir.join(file);
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
            ) =>
        {
            return Err(AppError::NotFound(format!("no file {file:?} here")))
        }
        Err(e) => return Err(AppError::internal(format!("{}: {e}", path.display()))),
    };
    let cache = match kind {
        Kind::App => "no-cache",
        Kind::Vendor => "public, max-age=86400",
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(file)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

fn content_type(file: &str) -> &'static str {
    let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "wasm" => "application/wasm",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_pass() {
        for ok in [
            "map.js",
            "maplibre-gl.mjs",
            "maplibre-gl-worker.mjs",
            "i18n_vi.json",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../Cargo.toml",
            "..%2F",
            "a/b",
            "a\\b",
            ".env",
            "x..y",
            "nul\0",
            "bản.js",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn missing_packages_are_explained() {
        let root = tempfile::tempdir().expect("tempdir");
        let err = check_installed(root.path()).expect_err("no app");
        assert!(
            matches!(&err, AppError::Unavailable(m) if m.contains("BANDO_WEB_DIR")),
            "{err}"
        );
        let folder = root.path().to_string_lossy().to_string();
        assert!(!err.to_string().contains(&folder), "{err}");
        for app in ["map", "editor"] {
            std::fs::create_dir_all(root.path().join(app)).expect("mkdir");
            std::fs::write(root.path().join(app).join("index.html"), "<!doctype html>")
                .expect("write");
        }
        let err = check_installed(root.path()).expect_err("no node_modules");
        assert!(
            matches!(&err, AppError::Unavailable(m) if m.contains("npm ci")),
            "{err}"
        );
        for (package, _) in VENDORED {
            std::fs::create_dir_all(root.path().join("node_modules").join(package)).expect("mkdir");
        }
        check_installed(root.path()).expect("installed");
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
