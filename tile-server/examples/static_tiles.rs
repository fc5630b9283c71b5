//! The limit for the warm tile benchmark: a minimal axum server that answers each tile path with
//! bytes already in memory, with the headers bando sends for a cached gzip tile — no database,
//! no cache bookkeeping, no middleware. `bench/tiles.sh` fills it with the tiles bando served
//! and compares bando's warm requests/s with it.
//!
//! ```text
//! cargo run --release -p tile-server --example static_tiles -- PATHS DIR ADDR [MAX_AGE]
//! ```
//! PATHS lists one request path a line (`/tiles/parcels/14/13050/7650.mvt`); DIR/N holds the
//! gzip bytes bando answered for line N (counted from 0); an empty or missing file is an empty
//! tile (204).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// A tile held in memory with its ready-made headers.
struct Tile {
    gzip: Bytes,
    etag: HeaderValue,
}

struct Tiles {
    by_path: HashMap<String, Tile>,
    cache_control: HeaderValue,
}

async fn serve(State(tiles): State<Arc<Tiles>>, uri: Uri) -> Response {
    if uri.path() == "/health" {
        return StatusCode::OK.into_response();
    }
    let Some(tile) = tiles.by_path.get(uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = if tile.gzip.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut r = Response::new(Body::from(tile.gzip.clone()));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.mapbox-vector-tile"),
        );
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::ETAG, tile.etag.clone());
        r
    };
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, tiles.cache_control.clone());
    r
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [paths, dir, addr, rest @ ..] = &args[..] else {
        return Err("usage: static_tiles PATHS DIR ADDR [MAX_AGE]".into());
    };
    let max_age: u32 = rest.first().map_or(Ok(3600), |s| s.parse())?;
    let mut by_path = HashMap::new();
    for (i, line) in std::fs::read_to_string(paths)?.lines().enumerate() {
        let path = line.trim();
        if path.is_empty() {
            continue;
        }
        let file = std::path::Path::new(dir).join(i.to_string());
        // curl writes no file for an empty (204) answer.
        let gzip = match std::fs::read(&file) {
            Ok(bytes) => Bytes::from(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Bytes::new(),
            Err(e) => return Err(format!("{}: {e}", file.display()).into()),
        };
        let etag = HeaderValue::from_str(&format!("\"{:016x}-gz\"", tiles::fnv1a(&gzip)))?;
        by_path.insert(path.to_string(), Tile { gzip, etag });
    }
    let count = by_path.len();
    let tiles = Arc::new(Tiles {
        by_path,
        cache_control: HeaderValue::from_str(&format!("public, max-age={max_age}"))?,
    });
    let app = Router::new().fallback(serve).with_state(tiles);
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
    println!(
        "static_tiles: {count} tiles on http://{}/",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
