//! The printed planning information sheet (issue 13): `/portal/api/sheet/{id}/pdf` on the
//! sample, read back with poppler as a reader would see it — `pdftotext` finds the Vietnamese
//! text exactly (commune, land-use title, plan decision) and no owner data; `pdftoppm` renders
//! page 1, where the map shows the parcel outlined exactly where it lies and its neighbours'
//! outlines drawn from the parcels' vector tiles; the QR code decodes to the online sheet.

use std::path::Path;
use std::process::Command;

use axum::http::{header, Method, StatusCode};
use serde_json::Value;
use tile_server::app::{app, AppState, Limits};
use unicode_normalization::UnicodeNormalization;

/// Resolution the page is rendered at (dots per inch).
const DPI: f64 = 200.0;

/// A page rendered by `pdftoppm` (RGB).
struct Page {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Page {
    fn pixel(&self, x: i64, y: i64) -> Option<[u8; 3]> {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return None;
        }
        let i = (y as usize * self.width + x as usize) * 3;
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    /// Whether a pixel within `r` of (x, y) passes `test`.
    fn near(&self, (x, y): (f64, f64), r: i64, test: impl Fn([u8; 3]) -> bool) -> bool {
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        (-r..=r).any(|dy| (-r..=r).any(|dx| self.pixel(cx + dx, cy + dy).is_some_and(&test)))
    }
}

/// Reads a binary PPM (P6, maxval 255).
fn read_ppm(path: &Path) -> Page {
    let bytes = std::fs::read(path).expect("ppm");
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).to_string());
    }
    assert_eq!(fields[0], "P6", "a binary PPM");
    assert_eq!(fields[3], "255");
    let (width, height) = (
        fields[1].parse().expect("width"),
        fields[2].parse().expect("height"),
    );
    let rgb = bytes[at + 1..].to_vec();
    assert_eq!(rgb.len(), width * height * 3);
    Page { width, height, rgb }
}

/// Page pixels of a longitude/latitude on the sheet's map.
fn on_page(frame: &sheet::map::Frame, lon: f64, lat: f64) -> (f64, f64) {
    let (mx, my) = frame.to_px(lon, lat);
    let [bx, by, bw, bh] = sheet::MAP_BOX_MM;
    let size = f64::from(sheet::map::MAP_PX);
    let px = |mm: f64| mm / 25.4 * DPI;
    (px(bx + mx / size * bw), px(by + my / size * bh))
}

/// The longitude/latitude at image pixels of the sheet's map (the inverse of `Frame::to_px`).
fn unproject(frame: &sheet::map::Frame, px: f64, py: f64) -> (f64, f64) {
    let k = f64::from(1u32 << frame.z);
    let x = (px / frame.scale + frame.origin.0) / k;
    let y = (py / frame.scale + frame.origin.1) / k;
    let lon = x / 256.0 * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * y / 256.0))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

fn outer_ring(geometry: &Value) -> Vec<(f64, f64)> {
    let ring = match geometry["type"].as_str() {
        Some("Polygon") => &geometry["coordinates"][0],
        Some("MultiPolygon") => &geometry["coordinates"][0][0],
        other => panic!("a parcel is a polygon, not {other:?}"),
    };
    ring.as_array()
        .expect("ring")
        .iter()
        .map(|p| (p[0].as_f64().expect("lon"), p[1].as_f64().expect("lat")))
        .collect()
}

/// Points along a ring's edges (each edge cut in quarters), as page pixels.
fn along(frame: &sheet::map::Frame, ring: &[(f64, f64)]) -> Vec<(f64, f64)> {
    ring.windows(2)
        .flat_map(|w| {
            (0..4).map(move |i| {
                let t = f64::from(i) / 4.0;
                (
                    w[0].0 + (w[1].0 - w[0].0) * t,
                    w[0].1 + (w[1].1 - w[0].1) * t,
                )
            })
        })
        .map(|(lon, lat)| on_page(frame, lon, lat))
        .collect()
}

fn distance(p: [u8; 3], q: [u8; 3]) -> i32 {
    (0..3)
        .map(|i| (i32::from(p[i]) - i32::from(q[i])).pow(2))
        .sum()
}

fn is_highlight(p: [u8; 3]) -> bool {
    distance(p, sheet::map::HIGHLIGHT) < 50 * 50
}

/// A line the tiles draw along parcel edges: the parcels' outline (`#b35806`, thin, so give or
/// take anti-aliasing) or a red line (`#e41a1c`; the sample's red lines run along the blocks,
/// which its parcels fill, and are drawn over them as on the portal's map).
fn is_tile_outline(p: [u8; 3]) -> bool {
    distance(p, [0xb3, 0x58, 0x06]) < 80 * 80 || distance(p, [0xe4, 0x1a, 0x1c]) < 40 * 40
}

fn normalised(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_printed_sheet_reads_in_vietnamese_maps_the_parcel_and_links_back_without_owners() {
    let db = crate::query::sample_db().await;
    let pool = &db.pool;
    // The sample's zones carry function codes of the list themselves (not land-use codes read
    // through its aliases).
    let aliased: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT land_use_function FROM planning.zones z
         WHERE NOT EXISTS (SELECT 1 FROM planning.zone_functions f
                           WHERE f.code = z.land_use_function)",
    )
    .fetch_all(pool)
    .await
    .expect("zone functions");
    assert_eq!(aliased, Vec::<String>::new());
    // The sample's zones made a plan in force with a decision.
    let plan = planning::plans::create_draft(
        pool,
        &planning::plans::NewPlan {
            name: "Quy hoạch phân khu đô thị Đồng Xoài".into(),
            level: "zoning".into(),
            ..Default::default()
        },
    )
    .await
    .expect("plan");
    sqlx::query("UPDATE planning.zones SET plan_id = $1 WHERE plan_id IS NULL")
        .bind(plan)
        .execute(pool)
        .await
        .expect("zones into the plan");
    planning::plans::approve(
        pool,
        plan,
        &planning::plans::Approval {
            decision_number: "1234/QĐ-UBND".into(),
            authority: Some("UBND tỉnh Bình Phước".into()),
            ..Default::default()
        },
    )
    .await
    .expect("approve");
    // A parcel with an owner, in a zone, in a commune with a known land-use code.
    let (id, owner, address, commune, code): (i64, String, Option<String>, String, String) =
        sqlx::query_as(
            "SELECT p.id, p.owner_name, p.address, c.legacy_name, p.land_use_code
             FROM land.parcels p JOIN land.communes c ON c.legacy_code = p.commune_code
             WHERE p.owner_name <> '' AND p.land_use_code IS NOT NULL
               AND EXISTS (SELECT 1 FROM planning.zones z
                           WHERE ST_Intersects(z.geom_3857, p.geom_3857)
                             AND ST_Area(ST_Intersection(z.geom_3857, p.geom_3857)) > 1)
             ORDER BY p.id LIMIT 1",
        )
        .fetch_one(pool)
        .await
        .expect("a parcel of the sample in a zone");
    let land_use = land::land_use::validate(&code, None).expect("a known code");
    let parcel = land::lookup::by_id(pool, id)
        .await
        .expect("lookup")
        .expect("the parcel");

    // As `bando serve`: the registry read from the database, so zones are coloured by the
    // function code list (and the map has a legend).
    let state = AppState::new(pool.clone()).expect("state");
    state.tiles.reload_layers().await;
    let app = app(state, Limits::default());
    let uri = format!("/portal/api/sheet/{id}/pdf");
    let reply = tests::http::send(
        &app,
        Method::GET,
        &uri,
        None,
        &[("host", "quyhoach.example:8080")],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/pdf");
    let disposition = reply.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii");
    assert_eq!(
        disposition,
        format!(
            "attachment; filename=\"phieu-thong-tin-quy-hoach-{}-to{}-thua{}.pdf\"",
            parcel.commune_code, parcel.sheet_number, parcel.parcel_number
        )
    );
    assert!(reply.body.starts_with(b"%PDF-"), "a PDF");
    let dir = tempfile::tempdir().expect("tempdir");
    let pdf = dir.path().join("sheet.pdf");
    std::fs::write(&pdf, &reply.body).expect("write");

    // The text, exactly as a reader copies it.
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils, scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(raw, raw.nfc().collect::<String>(), "the text is NFC");
    let text = normalised(&raw);
    let link = format!("http://quyhoach.example:8080/portal#parcel={id}");
    for expected in [
        "PHIẾU THÔNG TIN QUY HOẠCH",
        &commune,
        land_use.name_vi,
        "1234/QĐ-UBND",
        "UBND tỉnh Bình Phước",
        "Quy hoạch phân khu đô thị Đồng Xoài",
        "Chỉ giới đường đỏ",
        "Chức năng sử dụng đất theo quy hoạch",
        &format!(
            "Thửa đất số {}, tờ bản đồ số {}",
            parcel.parcel_number, parcel.sheet_number
        ),
    ] {
        assert!(
            text.contains(&normalised(expected)),
            "the sheet lacks {expected:?}:\n{text}"
        );
    }
    // The zones as the JSON sheet gives them: each one sharing area with the parcel, with its
    // share written the Vietnamese way; zones that only touch it are left out.
    let json = tests::http::send(
        &app,
        Method::GET,
        &format!("/portal/api/sheet/{id}"),
        None,
        &[],
        None,
    )
    .await
    .json();
    let zones = json["zones"].as_array().expect("zones");
    assert!(!zones.is_empty(), "{json}");
    for z in zones {
        let code = z["zone_code"].as_str().expect("code");
        let area = z["area_m2"].as_f64().expect("area");
        let share = format!(
            "{} %",
            sheet::number_vi(z["percent"].as_f64().expect("percent"), 1)
        );
        if area >= 0.05 {
            assert!(
                text.contains(code) && text.contains(&share),
                "zone {code} ({share}):\n{text}"
            );
            // The planned function titled from the code list (planning.zone_functions).
            let title = z["function_name_vi"].as_str().expect("a function title");
            assert!(
                text.contains(&normalised(title)),
                "zone {code}'s function {title:?}:\n{text}"
            );
        } else {
            assert!(
                !text.contains(&format!("{code} ")),
                "touching zone {code} listed"
            );
        }
    }
    // The link may wrap at a slash.
    let squeezed: String = raw.split_whitespace().collect();
    assert!(
        squeezed.contains(&link),
        "the sheet lacks its link {link}:\n{text}"
    );
    assert!(!text.contains(&owner), "the owner {owner:?} is printed");
    if let Some(a) = address.filter(|a| !a.trim().is_empty()) {
        assert!(!text.contains(a.trim()), "the owner's address is printed");
    }

    // The map's legend: every planned function whose zones are well inside the map, titled
    // from the code list ("CODE — title"), and no function whose zones are nowhere near it.
    let frame = sheet::map::Frame::around(parcel.bbox, sheet::map::MAP_PX);
    assert!(text.contains("Chú giải bản đồ"), "{text}");
    let legend = &text[text.find("Chú giải bản đồ").expect("legend")..];
    let legend = &legend[..legend.find("2. Quy hoạch").unwrap_or(legend.len())];
    let functions_within = |inset: f64| {
        let size = f64::from(frame.size);
        let (w, n) = unproject(&frame, inset * size, inset * size);
        let (e, s) = unproject(&frame, (1.0 - inset) * size, (1.0 - inset) * size);
        sqlx::query_as::<_, (String, String)>(
            "SELECT DISTINCT f.code, f.title_vi
             FROM planning.zones z
             JOIN planning.zone_functions f ON f.code = upper(btrim(z.land_use_function))
                  OR upper(btrim(z.land_use_function)) = ANY (f.land_use_codes)
             WHERE z.geom_3857 && ST_Transform(ST_MakeEnvelope($1, $2, $3, $4, 4326), 3857)
               AND ST_Intersects(z.geom_3857,
                                 ST_Transform(ST_MakeEnvelope($1, $2, $3, $4, 4326), 3857))
             ORDER BY 1",
        )
        .bind(w)
        .bind(s)
        .bind(e)
        .bind(n)
        .fetch_all(pool)
    };
    let inside = functions_within(0.1).await.expect("functions inside");
    let near = functions_within(-0.1).await.expect("functions near");
    assert!(!inside.is_empty(), "zones on the map");
    for (code, title) in &inside {
        let label = normalised(&format!("{code} — {title}"));
        assert!(
            legend.contains(&label),
            "the legend lacks {label:?}:
{legend}"
        );
    }
    let all: Vec<(String, String)> =
        sqlx::query_as("SELECT code, title_vi FROM planning.zone_functions ORDER BY code")
            .fetch_all(pool)
            .await
            .expect("functions");
    let absent: Vec<_> = all.iter().filter(|f| !near.contains(f)).collect();
    assert!(!absent.is_empty());
    for (code, title) in absent {
        let label = normalised(&format!("{code} — {title}"));
        assert!(
            !legend.contains(&label),
            "{label:?} is not on the map:
{legend}"
        );
    }

    // Page 1 as pixels.
    let status = Command::new("pdftoppm")
        .args(["-r", &DPI.to_string(), "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf)
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm");
    assert!(status.success());
    let page = read_ppm(&dir.path().join("page.ppm"));
    assert_eq!((page.width, page.height), (1654, 2339), "A4 at {DPI} dpi");

    // The parcel is outlined where it is: along every edge, and nowhere far from it.
    let ring = outer_ring(&parcel.geometry);
    let edge = along(&frame, &ring);
    let missing: Vec<_> = edge
        .iter()
        .filter(|p| !page.near(**p, 3, is_highlight))
        .collect();
    assert!(missing.is_empty(), "no outline at {missing:?} of {edge:?}");
    let (xs, ys): (Vec<f64>, Vec<f64>) = edge.iter().copied().unzip();
    let fold = |v: &[f64], f: fn(f64, f64) -> f64| v.iter().copied().reduce(f).expect("points");
    let (x0, x1, y0, y1) = (
        fold(&xs, f64::min) - 8.0,
        fold(&xs, f64::max) + 8.0,
        fold(&ys, f64::min) - 8.0,
        fold(&ys, f64::max) + 8.0,
    );
    // On the map only the parcel; off the map only the legend's swatch of it, below the map.
    let [bx, by, bw, bh] = sheet::MAP_BOX_MM.map(|mm| mm / 25.4 * DPI);
    let on_map = |fx: f64, fy: f64| (bx..=bx + bw).contains(&fx) && (by..=by + bh).contains(&fy);
    let stray = (0..page.height as i64)
        .flat_map(|y| (0..page.width as i64).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (fx, fy) = (x as f64, y as f64);
            let near_parcel = (x0..=x1).contains(&fx) && (y0..=y1).contains(&fy);
            // (its swatch's stroke reaches a little left of the column)
            let in_legend = (bx - 5.0..=bx + bw).contains(&fx) && fy > by + bh;
            (on_map(fx, fy) && !near_parcel) || (!on_map(fx, fy) && !in_legend)
        })
        .filter(|&(x, y)| page.pixel(x, y).is_some_and(is_highlight))
        .collect::<Vec<_>>();
    assert_eq!(
        stray.len(),
        0,
        "highlight pixels away from the parcel, e.g. {:?}",
        &stray[..stray.len().min(5)]
    );

    // The neighbours' outlines come from the tiles (drawn through the tiles' own coordinates,
    // not the projection above): along the edges of the nearest parcels on the map, away from
    // the highlighted parcel.
    let neighbours: Vec<(String,)> = sqlx::query_as(
        "SELECT ST_AsGeoJSON(ST_Transform(q.geom, 4326))
         FROM land.parcels q, land.parcels p
         WHERE p.id = $1 AND q.id <> p.id
         ORDER BY q.geom_3857 <-> p.geom_3857 LIMIT 8",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("neighbours");
    let mut checked = 0;
    for (geojson,) in neighbours {
        let geometry: Value = serde_json::from_str(&geojson).expect("geojson");
        let points: Vec<(f64, f64)> = along(&frame, &outer_ring(&geometry))
            .into_iter()
            .filter(|&(x, y)| {
                x > bx + 4.0 && x < bx + bw - 4.0 && y > by + 4.0 && y < by + bh - 4.0
            })
            .filter(|&(x, y)| {
                !(x0 - 6.0..=x1 + 6.0).contains(&x) || !(y0 - 6.0..=y1 + 6.0).contains(&y)
            })
            .collect();
        if points.len() < 4 {
            continue;
        }
        let drawn = points
            .iter()
            .filter(|p| page.near(**p, 3, is_tile_outline))
            .count();
        assert!(
            drawn * 10 >= points.len() * 7,
            "a neighbour's outline is drawn at {drawn} of {} points",
            points.len()
        );
        checked += 1;
    }
    assert!(checked >= 2, "neighbours on the map: {checked}");
    // No parcel-outline colour outside the map box: the map stays in its box.
    let outside = (0..page.height as i64)
        .flat_map(|y| (0..page.width as i64).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (fx, fy) = (x as f64, y as f64);
            fx < bx - 3.0 || fx > bx + bw + 3.0 || fy < by - 3.0 || fy > by + bh + 3.0
        })
        .filter(|&(x, y)| page.pixel(x, y).is_some_and(is_tile_outline))
        .count();
    assert_eq!(outside, 0, "map pixels outside the map box");

    // The QR code reads back as the online sheet's link.
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(page.width, page.height, |x, y| {
        let p = page.pixel(x as i64, y as i64).unwrap_or([255; 3]);
        ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8
    });
    let decoded: Vec<String> = img
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect();
    assert_eq!(decoded, vec![link], "the QR codes on the page");
}

#[tokio::test]
async fn a_sheet_of_no_parcel_is_a_problem_and_pdfs_are_limited_per_client() {
    let db = tests::TestDb::new().await;
    let app = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let none = tests::http::send(
        &app,
        Method::GET,
        "/portal/api/sheet/999999/pdf",
        None,
        &[],
        None,
    )
    .await;
    let content_type = none.headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .to_string();
    tests::assert_problem_json(none.status.as_u16(), 404, &content_type, &none.body);
    assert!(none.text().contains("no parcel 999999"), "{}", none.text());
    let bad = tests::http::send(
        &app,
        Method::GET,
        "/portal/api/sheet/abc/pdf",
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    // In the OpenAPI document, with its media type.
    let api = tests::http::send(&app, Method::GET, "/api", None, &[], None).await;
    let doc = api.json();
    let op = &doc["paths"]["/portal/api/sheet/{id}/pdf"]["get"];
    assert!(
        op["responses"]["200"]["content"]["application/pdf"].is_object(),
        "{op}"
    );
    assert!(op["responses"]["429"].is_object(), "{op}");

    // Limited per client like the portal's other endpoints: 429 with Retry-After.
    let load = tile_server::load::LoadSettings {
        clients: tile_server::load::ClientSettings {
            max_concurrent: 0,
            per_minute: 1,
            burst: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    let limited = tile_server::app::app(
        AppState::with_settings(db.pool.clone(), tiles::TileSettings::default(), load)
            .expect("state"),
        Limits::default(),
    );
    let from = |peer: &str| {
        let mut r = axum::http::Request::get("/portal/api/sheet/999999/pdf")
            .body(axum::body::Body::empty())
            .expect("request");
        let addr: std::net::SocketAddr = peer.parse().expect("peer");
        r.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        r
    };
    use tower::ServiceExt;
    for _ in 0..2 {
        let r = limited
            .clone()
            .oneshot(from("203.0.113.5:1"))
            .await
            .expect("answer");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let r = limited
        .clone()
        .oneshot(from("203.0.113.5:2"))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    let other = limited
        .oneshot(from("203.0.113.6:1"))
        .await
        .expect("answer");
    assert_eq!(
        other.status(),
        StatusCode::NOT_FOUND,
        "another client is not limited"
    );
}
