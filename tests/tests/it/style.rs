//! Styles, glyphs and sprites through the router: style documents that point only at this
//! server and at registered layers, Vietnamese glyph coverage decoded from the protobuf bytes,
//! and sprite sheets decoded as PNG.

use std::collections::HashMap;

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tests::TestDb;
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

const HOST: &str = "bando.test:8080";

async fn test_app() -> (TestDb, AppState, Router) {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool.clone()).expect("state");
    let router = app(state.clone(), Limits::default());
    (db, state, router)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = Request::get(uri)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 20 << 20)
        .await
        .expect("body")
        .to_vec();
    (status, headers, body)
}

/// The answer is the problem JSON of `want`, its `status` member included.
fn assert_problem(status: StatusCode, headers: &HeaderMap, body: &[u8], want: StatusCode) -> Value {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tests::assert_problem_json(status.as_u16(), want.as_u16(), content_type, body)
}

async fn get_json(app: &Router, uri: &str) -> Value {
    let (status, _, body) = get(app, uri).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{uri}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("json")
}

/// The path of an absolute URL on this server (fails for any other host).
fn local_path(url: &str) -> &str {
    url.strip_prefix(&format!("http://{HOST}"))
        .unwrap_or_else(|| panic!("{url} does not point at this server"))
}

fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn styles_point_only_at_this_server_and_at_registered_layers() {
    let (_db, state, app) = test_app().await;
    let list = get_json(&app, "/styles").await;
    let list = list.as_array().expect("list");
    let ids: Vec<&str> = list.iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(
        ids.contains(&"planning") && ids.contains(&"public"),
        "{ids:?}"
    );
    let restricted: Vec<String> = state
        .layers
        .snapshot()
        .iter()
        .flat_map(|l| l.properties())
        .filter(|p| p.access == gis_core::layer::Access::Restricted)
        .map(|p| p.name)
        .collect();
    assert!(!restricted.is_empty());

    for entry in list {
        assert!(!entry["title_vi"].as_str().expect("title_vi").is_empty());
        let (status, headers, body) =
            get(&app, local_path(entry["url"].as_str().expect("url"))).await;
        assert_eq!(status, StatusCode::OK);
        let cache = headers[header::CACHE_CONTROL].to_str().expect("cache");
        assert!(cache.contains("max-age=60"), "{cache}");
        let style: Value = serde_json::from_slice(&body).expect("style json");
        assert_eq!(style["version"], 8);

        // Every URL is on this server, and each one answers.
        let glyphs = style["glyphs"].as_str().expect("glyphs");
        let path = local_path(glyphs)
            .replace("{fontstack}", "Noto%20Sans%20Regular")
            .replace("{range}", "0-255");
        assert_eq!(get(&app, &path).await.0, StatusCode::OK, "{path}");
        let sprite = local_path(style["sprite"].as_str().expect("sprite")).to_string();
        assert_eq!(get(&app, &format!("{sprite}.json")).await.0, StatusCode::OK);
        // Each source is a composite TileJSON on this server; collect what each one serves.
        let mut served: HashMap<String, Vec<String>> = HashMap::new();
        for (name, source) in style["sources"].as_object().expect("sources") {
            let tilejson = local_path(source["url"].as_str().expect("source url"));
            let tj = get_json(&app, tilejson).await;
            for t in tj["tiles"].as_array().expect("tiles") {
                local_path(t.as_str().expect("tile url"));
            }
            let ids = tj["vector_layers"]
                .as_array()
                .expect("vector_layers")
                .iter()
                .filter_map(|l| l["id"].as_str().map(str::to_string))
                .collect();
            served.insert(name.clone(), ids);
        }
        if entry["id"] == "public" {
            assert_eq!(served.len(), 1, "the portal reads one source");
        }

        let layers = style["layers"].as_array().expect("layers");
        assert_eq!(layers[0]["type"], "background");
        for l in &layers[1..] {
            let source_layer = l["source-layer"].as_str().expect("source-layer");
            assert_eq!(l["metadata"]["bando:layer"], source_layer);
            assert!(
                served[l["source"].as_str().expect("source")]
                    .iter()
                    .any(|s| s == source_layer),
                "{source_layer} not in the TileJSON of {}",
                l["source"]
            );
            let layer = state.layers.get(source_layer).expect("registered");
            assert_eq!(l["metadata"]["bando:sector"], layer.sector());
            assert_eq!(l["metadata"]["bando:title_vi"], layer.title_vi());
            let (min, max) = layer.zoom_range();
            // Style maxzoom is exclusive, the registry's range inclusive.
            assert_eq!(l["maxzoom"], u64::from(max) + 1, "{}", l["id"]);
            let lmin = l["minzoom"].as_u64().expect("minzoom");
            if l["id"].as_str().expect("id").ends_with("-label") {
                assert!(lmin >= u64::from(min));
                let font = l["layout"]["text-font"][0].as_str().expect("text-font");
                assert!(
                    ["Noto Sans Regular", "Noto Sans Bold"].contains(&font),
                    "{font}"
                );
            } else {
                assert_eq!(lmin, u64::from(min), "{}", l["id"]);
            }
        }
        let mut all = Vec::new();
        strings(&style, &mut all);
        for s in all {
            assert!(!restricted.iter().any(|r| r == s), "restricted {s} used");
            if s.starts_with("http") {
                local_path(s);
            }
        }
    }
    // Unknown style: problem JSON, not a 500.
    let (status, headers, body) = get(&app, "/styles/nope.json").await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("/styles/planning.json"));
}

/// A glyph as decoded from the protobuf.
#[derive(Debug, Default, Clone, PartialEq)]
struct Glyph {
    id: u32,
    bitmap: Vec<u8>,
    width: u32,
    height: u32,
    left: i32,
    top: i32,
    advance: u32,
}

/// Decodes `glyphs { stacks { name, range, glyphs {…} } }`: (stack name, range, glyphs by id).
fn decode_glyphs(bytes: &[u8]) -> (String, String, HashMap<u32, Glyph>) {
    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*i];
            *i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    /// (field, wire type, varint value or bytes)
    fn fields(b: &[u8]) -> Vec<(u64, u64, u64, &[u8])> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let key = varint(b, &mut i);
            match key & 7 {
                0 => out.push((key >> 3, 0, varint(b, &mut i), &b[0..0])),
                2 => {
                    let len = varint(b, &mut i) as usize;
                    out.push((key >> 3, 2, 0, &b[i..i + len]));
                    i += len;
                }
                other => panic!("unexpected wire type {other}"),
            }
        }
        out
    }
    let top = fields(bytes);
    assert_eq!(top.len(), 1, "one fontstack");
    assert_eq!((top[0].0, top[0].1), (1, 2));
    let (mut name, mut range, mut glyphs) = (String::new(), String::new(), HashMap::new());
    for (field, _, _, data) in fields(top[0].3) {
        match field {
            1 => name = String::from_utf8(data.to_vec()).expect("name"),
            2 => range = String::from_utf8(data.to_vec()).expect("range"),
            3 => {
                let mut g = Glyph::default();
                for (f, _, v, d) in fields(data) {
                    let unzig = |v: u64| ((v >> 1) as i64 ^ -((v & 1) as i64)) as i32;
                    match f {
                        1 => g.id = v as u32,
                        2 => g.bitmap = d.to_vec(),
                        3 => g.width = v as u32,
                        4 => g.height = v as u32,
                        5 => g.left = unzig(v),
                        6 => g.top = unzig(v),
                        7 => g.advance = v as u32,
                        other => panic!("unexpected glyph field {other}"),
                    }
                }
                glyphs.insert(g.id, g);
            }
            other => panic!("unexpected fontstack field {other}"),
        }
    }
    (name, range, glyphs)
}

async fn glyph_range(app: &Router, stack: &str, range: &str) -> (String, HashMap<u32, Glyph>) {
    let (status, headers, body) = get(app, &format!("/fonts/{stack}/{range}.pbf")).await;
    assert_eq!(status, StatusCode::OK, "{stack} {range}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-protobuf");
    let cache = headers[header::CACHE_CONTROL].to_str().expect("cache");
    assert!(cache.contains("max-age=604800"), "{cache}");
    let (name, got_range, glyphs) = decode_glyphs(&body);
    assert_eq!(got_range, range);
    (name, glyphs)
}

fn assert_drawn(glyphs: &HashMap<u32, Glyph>, letters: &str) {
    for ch in letters.chars().filter(|c| !c.is_whitespace()) {
        let g = glyphs
            .get(&(ch as u32))
            .unwrap_or_else(|| panic!("{ch} (U+{:04X}) missing", ch as u32));
        assert!(g.width > 0 && g.height > 0, "{ch} is empty");
        assert_eq!(
            g.bitmap.len() as u32,
            (g.width + 6) * (g.height + 6),
            "{ch}: bitmap is width × height with the 3 px border"
        );
        // An SDF has pixels inside the glyph (above the 192 edge) and outside.
        assert!(g.bitmap.iter().any(|&v| v > 192), "{ch}: no inside");
        assert!(g.bitmap.iter().any(|&v| v < 100), "{ch}: no outside");
        assert!(g.advance > 0, "{ch}");
    }
}

#[tokio::test]
async fn glyphs_cover_every_vietnamese_letter() {
    let (_db, _state, app) = test_app().await;
    let (name, ext) = glyph_range(&app, "Noto%20Sans%20Regular", "7680-7935").await;
    assert_eq!(name, "Noto Sans Regular");
    let lower =
        "ạ ả ấ ầ ẩ ẫ ậ ắ ằ ẳ ẵ ặ ẹ ẻ ẽ ế ề ể ễ ệ ỉ ị ọ ỏ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ ụ ủ ứ ừ ử ữ ự ỳ ỵ ỷ ỹ";
    assert_eq!(lower.split_whitespace().count(), 45);
    assert_drawn(&ext, lower);
    assert_drawn(&ext, &lower.to_uppercase());
    assert!(ext.keys().all(|&id| (7680..=7935).contains(&id)));

    // The other Vietnamese letters live in Latin-1 and Latin Extended-A.
    let letters = "ă â đ ê ô ơ ư Ă Â Đ Ê Ô Ơ Ư à á ã è é ì í ò ó õ ù ú ý";
    let (_, latin1) = glyph_range(&app, "Noto%20Sans%20Regular", "0-255").await;
    let (_, ext_a) = glyph_range(&app, "Noto%20Sans%20Regular", "256-511").await;
    for ch in letters.split_whitespace().flat_map(str::chars) {
        let cp = ch as u32;
        let (range, other) = if cp < 256 {
            (&latin1, &ext_a)
        } else {
            (&ext_a, &latin1)
        };
        assert!(range.contains_key(&cp), "{ch} in its range");
        assert!(!other.contains_key(&cp), "{ch} only in its range");
    }
    assert_drawn(&latin1, "â ê ô Â Ê Ô A z 0 9");
    assert_drawn(&ext_a, "ă đ ơ ư Ă Đ Ơ Ư");
    // Space: advance, no bitmap.
    let space = &latin1[&32];
    assert!(space.advance > 0 && space.bitmap.is_empty());

    // Bold differs from regular; unknown and comma-separated stacks fall back, never fail.
    let (bold_name, bold) = glyph_range(&app, "Noto%20Sans%20Bold", "7680-7935").await;
    assert_eq!(bold_name, "Noto Sans Bold");
    let a = 'ạ' as u32;
    assert_ne!(bold[&a].bitmap, ext[&a].bitmap);
    assert!(bold[&('ự' as u32)].advance >= ext[&('ự' as u32)].advance);
    let (fallback, glyphs) = glyph_range(&app, "Arial%20Unicode%20MS%20Regular", "7680-7935").await;
    assert_eq!(fallback, "Noto Sans Regular");
    assert_eq!(glyphs, ext);
    let (stack, _) = glyph_range(
        &app,
        "Open%20Sans%20Semibold,Noto%20Sans%20Bold,Arial%20Unicode%20MS%20Regular",
        "0-255",
    )
    .await;
    assert_eq!(stack, "Noto Sans Bold");
}

#[tokio::test]
async fn glyph_ranges_that_are_not_256_blocks_are_400() {
    let (_db, _state, app) = test_app().await;
    for range in ["1-256", "0-511", "0-254", "abc-def", "65536-65791"] {
        let (status, headers, body) =
            get(&app, &format!("/fonts/Noto%20Sans%20Regular/{range}.pbf")).await;
        let problem = assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST);
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("256 code points"),
            "{problem}"
        );
    }
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgba, "RGBA sprite");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[tokio::test]
async fn sprites_hold_every_icon_the_styles_use() {
    let (_db, _state, app) = test_app().await;
    let mut sheets = Vec::new();
    for (suffix, ratio) in [("", 1u64), ("@2x", 2)] {
        let index = get_json(&app, &format!("/sprites/bando{suffix}.json")).await;
        let (status, headers, png) = get(&app, &format!("/sprites/bando{suffix}.png")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "image/png");
        let (w, h, rgba) = decode_png(&png);
        for (name, e) in index.as_object().expect("index") {
            let n = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("{name}.{k}")) as u32;
            assert_eq!(u64::from(n("pixelRatio")), ratio, "{name}");
            let (x, y, iw, ih) = (n("x"), n("y"), n("width"), n("height"));
            assert!(
                iw > 0 && ih > 0 && x + iw <= w && y + ih <= h,
                "{name} outside the image"
            );
            let opaque = (y..y + ih)
                .flat_map(|row| (x..x + iw).map(move |col| (row, col)))
                .filter(|&(row, col)| rgba[((row * w + col) * 4 + 3) as usize] > 0)
                .count();
            assert!(
                opaque > (iw * ih) as usize / 4,
                "{name} is (nearly) transparent"
            );
        }
        sheets.push((w, h, index));
    }
    assert_eq!(
        (sheets[1].0, sheets[1].1),
        (2 * sheets[0].0, 2 * sheets[0].1)
    );
    for (name, e) in sheets[0].2.as_object().expect("index") {
        let two = &sheets[1].2[name];
        assert_eq!(
            two["width"].as_u64(),
            e["width"].as_u64().map(|v| 2 * v),
            "{name}"
        );
    }

    let style = get_json(&app, "/styles/planning.json").await;
    let mut used = Vec::new();
    for l in style["layers"].as_array().expect("layers") {
        if let Some(icon) = l["layout"]["icon-image"].as_str() {
            used.push(icon.to_string());
        }
    }
    assert!(used.len() >= 8, "point layers draw icons: {used:?}");
    for icon in &used {
        for (_, _, index) in &sheets {
            assert!(index.get(icon).is_some(), "{icon} missing from the sprite");
        }
    }
    let (status, headers, body) = get(&app, "/sprites/bando@3x.png").await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND);
}
