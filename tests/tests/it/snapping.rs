//! Issue 11: the server snaps a written parcel's vertices to its neighbours' boundaries within
//! `[land] snap_tolerance_m` (0.05 m by default), in the parcel's TM-3 zone, before the overlap
//! check, and says what it moved (`Bando-Snapped` + the moved vertices as GeoJSON) — on POST,
//! PATCH and the children of a split; a vertex put on a neighbour's edge is inserted into the
//! neighbour too (shared, not just coincident); an edit may not open a gap narrower than
//! `[land] sliver_width_m` along a boundary it shared; split children add up to the parent
//! after snapping. On `tests::fixtures::parcels`: 1–3 of commune 25195 in a row, 0.00018°
//! squares 2.2 m apart; a new parcel is drawn in the gap between 1 and 2.

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use tests::fixtures::{id_of, officer, parcels, tag, write, Parcels};
use tests::http::{send, Reply};
use tests::TestDb;

/// The stored vertex of parcel `number` nearest the CRS84 point, in the parcel's TM-3 zone.
async fn corner(db: &TestDb, number: i64, lon: f64, lat: f64) -> [f64; 2] {
    let (x, y): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(d.geom), ST_Y(d.geom) FROM land.parcels p, ST_DumpPoints(p.geom) d
         WHERE p.parcel_number = $1
         ORDER BY ST_Distance(d.geom, ST_Transform(ST_SetSRID(ST_MakePoint($2, $3), 4326), ST_SRID(p.geom)))
         LIMIT 1",
    )
    .bind(number)
    .bind(lon)
    .bind(lat)
    .fetch_one(&db.pool)
    .await
    .expect("corner");
    [x, y]
}

/// A polygon of TM-3 (EPSG:9212, the zone of commune 25195) vertices as CRS84 GeoJSON.
async fn crs84(db: &TestDb, ring: &[[f64; 2]]) -> Value {
    let mut points: Vec<String> = ring.iter().map(|[x, y]| format!("{x:?} {y:?}")).collect();
    points.push(points[0].clone());
    let text: String = sqlx::query_scalar(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText($1, 9212), 4326), 12)",
    )
    .bind(format!("POLYGON(({}))", points.join(", ")))
    .fetch_one(&db.pool)
    .await
    .expect("geojson");
    serde_json::from_str(&text).expect("json")
}

fn shifted(p: [f64; 2], dx: f64) -> [f64; 2] {
    [p[0] + dx, p[1]]
}

/// The gap between parcels 1 and 2 as a new parcel whose west side is drawn `west` m east of
/// parcel 1's east side (negative: over parcel 1) and whose east side `east` m west of parcel
/// 2's west side (negative: over parcel 2).
async fn gap_parcel(db: &TestDb, west: f64, east: f64) -> Value {
    let (p1_se, p1_ne) = (
        corner(db, 1, 106.88318, 11.535).await,
        corner(db, 1, 106.88318, 11.53518).await,
    );
    let (p2_sw, p2_nw) = (
        corner(db, 2, 106.8832, 11.535).await,
        corner(db, 2, 106.8832, 11.53518).await,
    );
    crs84(
        db,
        &[
            shifted(p1_se, west),
            shifted(p2_sw, -east),
            shifted(p2_nw, -east),
            shifted(p1_ne, west),
        ],
    )
    .await
}

async fn create(app: &Router, token: &str, geometry: Value) -> Reply {
    write(app, Method::POST, "/collections/parcels/items", token, None, Some(json!({"type": "Feature", "geometry": geometry,
            "properties": {"commune_code": "25195", "sheet_number": 1, "parcel_number": 50, "land_use_code": "ONT"}})))
    .await
}

/// Overlap area, shared boundary length and distance of parcels `a` and `b`, TM-3 metres.
async fn between(db: &TestDb, a: i64, b: i64) -> (f64, f64, f64) {
    sqlx::query_as(
        "SELECT ST_Area(ST_Intersection(a.geom, b.geom)),
                ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom))),
                ST_Distance(a.geom, b.geom)
         FROM land.parcels a, land.parcels b WHERE a.parcel_number = $1 AND b.parcel_number = $2",
    )
    .bind(a)
    .bind(b)
    .fetch_one(&db.pool)
    .await
    .expect("between")
}

/// The moves an answer lists: (kind, neighbour, distance).
fn moves(r: &Reply, body: &Value) -> Vec<(String, i64, f64)> {
    let listed: Vec<(String, i64, f64)> = body["features"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            assert_eq!(f["geometry"]["type"], "LineString", "{f}");
            (
                p["kind"].as_str().unwrap_or("").to_string(),
                p["neighbour"].as_i64().unwrap_or(-1),
                p["distance_m"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        r.header(axum::http::HeaderName::from_static("bando-snapped")),
        listed.len().to_string(),
        "the header counts what the body lists"
    );
    listed
}

#[tokio::test]
async fn a_parcel_drawn_three_centimetres_off_its_neighbour_is_stored_on_the_shared_boundary() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let p1 = id_of(&db, 1).await;

    // West side 3 cm over parcel 1 (0.6 m², under the overlap tolerance, so only snapping
    // removes it), east side 20 cm short of parcel 2.
    let r = create(&app, &officer, gap_parcel(&db, -0.03, 0.2).await).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let listed = moves(&r, &r.json());
    assert_eq!(listed.len(), 2, "{listed:?}");
    for (kind, neighbour, distance) in &listed {
        assert_eq!((kind.as_str(), *neighbour), ("vertex", p1));
        assert!((distance - 0.03).abs() < 0.002, "{distance}");
    }
    let (overlap, shared, distance) = between(&db, 50, 1).await;
    assert!(overlap < 1e-6, "no overlap left: {overlap} m²");
    assert!(
        distance == 0.0 && shared > 19.9,
        "one boundary of {shared} m"
    );
    // 20 cm is beyond the tolerance: that gap stays (no gap rule refuses it).
    let (overlap, shared, distance) = between(&db, 50, 2).await;
    assert!(overlap == 0.0 && shared == 0.0, "{overlap} {shared}");
    assert!((distance - 0.2).abs() < 0.002, "{distance}");
    // The stored vertices are parcel 1's own.
    let exact: bool = sqlx::query_scalar(
        "SELECT bool_and(EXISTS (SELECT 1 FROM ST_DumpPoints(a.geom) v WHERE v.geom ~= d.geom))
         FROM land.parcels a, land.parcels n, ST_DumpPoints(n.geom) d
         WHERE a.parcel_number = 1 AND n.parcel_number = 50
           AND ST_X(d.geom) < (SELECT ST_XMin(geom) + 1 FROM land.parcels WHERE parcel_number = 50)",
    )
    .fetch_one(&db.pool)
    .await
    .expect("vertices");
    assert!(exact, "the west vertices are parcel 1's east corners");

    // A PATCH drawing the east side 4 cm short of parcel 2 is snapped too: 200 with the list;
    // the history keeps the stored (snapped) geometry.
    let id = id_of(&db, 50).await;
    let uri = format!("/collections/parcels/items/{id}");
    let tag = tag(&app, &officer, id).await;
    let patch = |geometry: Value, tag: String| {
        let (app, officer, uri) = (app.clone(), officer.clone(), uri.clone());
        async move {
            write(
                &app,
                Method::PATCH,
                &uri,
                &officer,
                Some(tag.as_str()),
                Some(json!({"geometry": geometry})),
            )
            .await
        }
    };
    let r = patch(gap_parcel(&db, 0.0, 0.04).await, tag).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.header(axum::http::header::CONTENT_TYPE),
        "application/geo+json"
    );
    let listed = moves(&r, &r.json());
    let p2 = id_of(&db, 2).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed
        .iter()
        .all(|(k, n, d)| k == "vertex" && *n == p2 && (d - 0.04).abs() < 0.002));
    let (overlap, shared, _) = between(&db, 50, 2).await;
    assert!(overlap < 1e-6 && shared > 19.9, "{overlap} {shared}");
    let (_, shared, _) = between(&db, 50, 1).await;
    assert!(shared > 19.9, "still on parcel 1: {shared}");
    let recorded: f64 = sqlx::query_scalar(
        "SELECT ST_Area(ST_SymDifference(v.geom, p.geom)) FROM land.parcel_versions v
         JOIN land.parcels p ON p.id = v.parcel_id
         WHERE p.parcel_number = 50 AND v.end_lifespan IS NULL",
    )
    .fetch_one(&db.pool)
    .await
    .expect("version");
    assert!(
        recorded < 1e-9,
        "the living version is the snapped geometry"
    );

    // 20 cm over parcel 2 is not snapped: the overlap rule refuses it (4 m² > 1 m²), and the
    // parcel stays as it was.
    let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
        .await
        .etag();
    let before: String =
        sqlx::query_scalar("SELECT p::text FROM land.parcels p WHERE parcel_number = 50")
            .fetch_one(&db.pool)
            .await
            .expect("row");
    let r = patch(gap_parcel(&db, 0.0, -0.2).await, tag).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("overlaps parcel 2"), "{}", r.text());
    let after: String =
        sqlx::query_scalar("SELECT p::text FROM land.parcels p WHERE parcel_number = 50")
            .fetch_one(&db.pool)
            .await
            .expect("row");
    assert_eq!(before, after);
}

fn between_points(a: [f64; 2], b: [f64; 2], t: f64) -> [f64; 2] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

#[tokio::test]
async fn a_vertex_snapped_onto_a_neighbours_edge_is_inserted_into_the_neighbour_too() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let p1 = id_of(&db, 1).await;
    let old_tag = tag(&app, &officer, p1).await;
    let (old_area, old_geom): (f64, String) =
        sqlx::query_as("SELECT ST_Area(geom), geom::text FROM land.parcels WHERE id = $1")
            .bind(p1)
            .fetch_one(&db.pool)
            .await
            .expect("parcel 1");
    // A parcel whose west side runs 3 cm inside parcel 1 from a quarter to three quarters up
    // its east edge (5 m from either corner: its vertices land on the edge, not on a vertex),
    // 1.5 m wide.
    let (se, ne) = (
        corner(&db, 1, 106.88318, 11.535).await,
        corner(&db, 1, 106.88318, 11.53518).await,
    );
    let (low, high) = (between_points(se, ne, 0.25), between_points(se, ne, 0.75));
    let drawn = crs84(
        &db,
        &[
            shifted(low, -0.03),
            shifted(low, 1.5),
            shifted(high, 1.5),
            shifted(high, -0.03),
        ],
    )
    .await;
    let r = create(&app, &officer, drawn).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    let listed = moves(&r, &body);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|(k, n, d)| k == "edge" && *n == p1 && (d - 0.03).abs() < 0.002),
        "{listed:?}"
    );
    // The answer names the neighbour given the two vertices, with its new version and tag.
    let shared = body["neighbours"].as_array().cloned().unwrap_or_default();
    assert_eq!(shared.len(), 1, "{body}");
    assert_eq!(shared[0]["id"], json!(p1));
    assert_eq!(shared[0]["parcel_number"], json!(1));
    assert_eq!(shared[0]["version"], json!(2));
    assert_eq!(shared[0]["vertices"].as_array().map(Vec::len), Some(2));
    let new_tag = shared[0]["etag"].as_str().unwrap_or("").to_string();
    assert_ne!(new_tag, old_tag);
    assert_eq!(tag(&app, &officer, p1).await, new_tag);

    // The shared stretch is the same vertices in both: each of parcel 50's vertices on parcel
    // 1 is one of parcel 1's, bit for bit; their boundaries meet in exactly the segment
    // between them (a line, no stray points), which is parcel 50's whole west side.
    let (exact, dimension, pieces, shared_m, side_m, overlap): (bool, i32, i32, f64, f64, f64) =
        sqlx::query_as(
            "WITH a AS (SELECT geom FROM land.parcels WHERE parcel_number = 1),
                  b AS (SELECT geom FROM land.parcels WHERE parcel_number = 50),
                  on_a AS (SELECT DISTINCT ST_X(d.geom) AS x, ST_Y(d.geom) AS y
                           FROM b, a, ST_DumpPoints(b.geom) d
                           WHERE ST_DWithin(d.geom, a.geom, 0.000001)),
                  i AS (SELECT ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)) AS g FROM a, b)
             SELECT (SELECT bool_and(EXISTS (SELECT 1 FROM ST_DumpPoints(a.geom) v
                                            WHERE ST_X(v.geom) = on_a.x AND ST_Y(v.geom) = on_a.y))
                     FROM on_a, a)
                    AND (SELECT count(*) FROM on_a) = 2,
                    ST_Dimension(i.g), ST_NumGeometries(ST_LineMerge(i.g)), ST_Length(i.g),
                    (SELECT ST_Distance(ST_MakePoint(min(x), min(y)), ST_MakePoint(max(x), max(y))) FROM on_a),
                    ST_Area(ST_Intersection(a.geom, b.geom))
             FROM i, a, b",
        )
        .fetch_one(&db.pool)
        .await
        .expect("shared");
    assert!(exact, "parcel 50's vertices on parcel 1 are parcel 1's");
    assert_eq!((dimension, pieces), (1, 1), "one shared line");
    assert!(
        (shared_m - side_m).abs() < 1e-6 && (shared_m - 9.8).abs() < 0.3,
        "shared {shared_m} m, west side {side_m} m"
    );
    assert!(overlap < 1e-6, "{overlap}");

    // Parcel 1's shape did not change: a nanometre at most, its area to 0.01 m².
    let (area, moved): (f64, f64) = sqlx::query_as(
        "SELECT ST_Area(geom), ST_HausdorffDistance(geom, $2::geometry) FROM land.parcels WHERE id = $1",
    )
    .bind(p1)
    .bind(&old_geom)
    .fetch_one(&db.pool)
    .await
    .expect("parcel 1 after");
    assert!((area - old_area).abs() < 0.01, "{old_area} → {area}");
    assert!(moved <= 1e-9, "moved {moved} m");

    // Its history says why, on the write's decision; a writer holding its old tag gets 412.
    let r = send(
        &app,
        Method::GET,
        &format!("/collections/parcels/items/{p1}/versions"),
        Some(&officer),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let versions = r.json()["features"].as_array().cloned().unwrap_or_default();
    assert_eq!(versions.len(), 2, "{}", r.text());
    let last = &versions[1]["version"];
    assert_eq!(last["action"], "update");
    let reason = last["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("parcel 50 of sheet 1") && reason.contains("shape unchanged"),
        "{reason}"
    );
    assert_eq!(last["document"], "Quyết định 12/QĐ-UBND");
    let r = write(
        &app,
        Method::PATCH,
        &format!("/collections/parcels/items/{p1}"),
        &officer,
        Some(old_tag.as_str()),
        Some(json!({"properties": {"land_use_code": "CLN"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text());
}

/// Parcel 50 sharing parcel 1's east side (drawn 3 cm over it, snapped), then its west side
/// moved `west` m east of it by a PATCH.
async fn pulled_back(db: &TestDb, app: &Router, officer: &str, west: f64) -> Reply {
    let r = create(app, officer, gap_parcel(db, -0.03, 0.2).await).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let (_, shared, _) = between(db, 50, 1).await;
    assert!(shared > 19.9, "shared before: {shared}");
    let id = id_of(db, 50).await;
    let tag = tag(app, officer, id).await;
    write(
        app,
        Method::PATCH,
        &format!("/collections/parcels/items/{id}"),
        officer,
        Some(tag.as_str()),
        Some(json!({"geometry": gap_parcel(db, west, 0.2).await})),
    )
    .await
}

#[tokio::test]
async fn an_edit_opening_a_sliver_gap_along_a_shared_boundary_is_refused() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let id = id_of(&db, 1).await;
    let before_1 = tests::fixtures::row_text(&db, id).await;
    // 10 cm back from parcel 1: a 0.1 m × 19.6 m sliver, refused with the gap.
    let r = pulled_back(&db, &app, &officer, 0.1).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let problem = r.json();
    let detail = problem["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("gap")
            && detail.contains("parcel 1 of sheet 1")
            && detail.contains("0.3 m"),
        "{detail}"
    );
    let part = &problem["part"]["geometry"];
    let (area, width, x): (f64, f64, f64) = sqlx::query_as(
        "SELECT ST_Area(g), 2 * (ST_MaximumInscribedCircle(g)).radius, ST_X(ST_Centroid(ST_Transform(g, 4326)))
         FROM (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), 9212) AS g) x",
    )
    .bind(part.to_string())
    .fetch_one(&db.pool)
    .await
    .expect("the gap as GeoJSON");
    assert!((area - 1.96).abs() < 0.2, "gap {area} m²");
    assert!((width - 0.1).abs() < 0.01, "gap {width} m wide");
    assert!(
        (x - 106.88318).abs() < 0.00001,
        "the gap lies along parcel 1's east side: {x}"
    );
    let (_, shared, distance) = between(&db, 50, 1).await;
    assert!(
        shared > 19.9 && distance == 0.0,
        "parcel 50 is as it was: {shared}"
    );
    assert_eq!(tests::fixtures::row_text(&db, id).await, before_1);

    // Its north-west corner 1 m back (a triangle tapering to nothing at the south-west
    // corner, up to 1 m wide): deliberate, though narrower than 0.3 m near its tip — a gap is
    // a sliver only when it is that narrow everywhere. Stored.
    let p50 = id_of(&db, 50).await;
    let (p1_se, p1_ne) = (
        corner(&db, 1, 106.88318, 11.535).await,
        corner(&db, 1, 106.88318, 11.53518).await,
    );
    let (p2_sw, p2_nw) = (
        corner(&db, 2, 106.8832, 11.535).await,
        corner(&db, 2, 106.8832, 11.53518).await,
    );
    let tapering = crs84(
        &db,
        &[
            p1_se,
            shifted(p2_sw, -0.2),
            shifted(p2_nw, -0.2),
            shifted(p1_ne, 1.0),
        ],
    )
    .await;
    let tag50 = tag(&app, &officer, p50).await;
    let r = write(
        &app,
        Method::PATCH,
        &format!("/collections/parcels/items/{p50}"),
        &officer,
        Some(tag50.as_str()),
        Some(json!({"geometry": tapering})),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.text());
    let (_, shared, distance) = between(&db, 50, 1).await;
    assert!(shared < 0.01 && distance == 0.0, "{shared} {distance}");

    // 50 cm back is a deliberate gap (a path): stored.
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = tests::fixtures::officer(&issuer);
    let r = pulled_back(&db, &app, &officer, 0.5).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let (_, shared, distance) = between(&db, 50, 1).await;
    assert!(
        shared == 0.0 && (distance - 0.5).abs() < 0.002,
        "{distance}"
    );
}

#[tokio::test]
async fn the_sliver_width_is_the_configured_one() {
    // 0.6 m: the 50 cm gap is a sliver too.
    let wide = land::edit::Tolerances::new(1.0, 0.05)
        .and_then(|t| t.with_sliver_width(0.6))
        .expect("tolerances");
    let (db, app, issuer, _dir) = Parcels::checked(parcels(), Some(wide)).await.parts();
    let officer = officer(&issuer);
    let r = pulled_back(&db, &app, &officer, 0.5).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("narrower than 0.6 m"), "{}", r.text());
    let r = send(&app, Method::GET, "/land/config", None, &[], None).await;
    assert_eq!(r.json()["sliver_width_m"], json!(0.6));

    // 0: no gap rule; 10 cm is stored.
    let off = land::edit::Tolerances::new(1.0, 0.05)
        .and_then(|t| t.with_sliver_width(0.0))
        .expect("tolerances");
    let (db, app, issuer, _dir) = Parcels::checked(parcels(), Some(off)).await.parts();
    let officer = tests::fixtures::officer(&issuer);
    let r = pulled_back(&db, &app, &officer, 0.1).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let (_, _, distance) = between(&db, 50, 1).await;
    assert!((distance - 0.1).abs() < 0.002, "{distance}");
}

#[tokio::test]
async fn the_snapping_tolerance_is_the_configured_one() {
    // 0.25 m: the 20 cm side is snapped too.
    let wide = land::edit::Tolerances::new(1.0, 0.25).expect("tolerances");
    let (db, app, issuer, _dir) = Parcels::checked(parcels(), Some(wide)).await.parts();
    let officer = officer(&issuer);
    let r = create(&app, &officer, gap_parcel(&db, -0.03, 0.2).await).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let listed = moves(&r, &r.json());
    assert_eq!(listed.len(), 4, "{listed:?}");
    for other in [1, 2] {
        let (overlap, shared, distance) = between(&db, 50, other).await;
        assert!(
            overlap < 1e-6 && distance == 0.0 && shared > 19.9,
            "{other}: {shared}"
        );
    }

    // 0.01 m: the 3 cm side is not snapped; the 0.6 m² overlap stays (under 1 m²), and the
    // answer says nothing moved — but the two corners lying on parcel 1's south and north
    // edges are inserted there (listed in `neighbours`).
    let tight = land::edit::Tolerances::new(1.0, 0.01).expect("tolerances");
    let (db, app, issuer, _dir) = Parcels::checked(parcels(), Some(tight)).await.parts();
    let officer = tests::fixtures::officer(&issuer);
    let r = create(&app, &officer, gap_parcel(&db, -0.03, 0.2).await).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.header(axum::http::HeaderName::from_static("bando-snapped")),
        "0"
    );
    let body = r.json();
    assert_eq!(body["features"], json!([]), "{body}");
    let p1 = id_of(&db, 1).await;
    assert_eq!(body["neighbours"][0]["id"], json!(p1), "{body}");
    assert_eq!(
        body["neighbours"][0]["vertices"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    let (overlap, _, _) = between(&db, 50, 1).await;
    assert!((overlap - 0.6).abs() < 0.05, "{overlap}");
}

/// Parcel 50 delivered `west` m off parcel 1 (imports do not snap).
async fn delivered_off(db: &TestDb, dir: &tempfile::TempDir, west: f64) -> i64 {
    let geometry = gap_parcel(db, west, 0.2).await;
    let path = dir.path().join("gap.geojson");
    std::fs::write(
        &path,
        json!({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": geometry,
            "properties": {"MAXA": "25195", "SHBANDO": 1, "SHTHUA": 50, "MALOAIDAT": "ONT"}}]})
        .to_string(),
    )
    .expect("write");
    tests::import(&db.pool, &path, "parcels")
        .await
        .expect("import");
    let (_, shared, distance) = between(db, 50, 1).await;
    assert!(
        shared == 0.0 && (distance - west).abs() < west / 10.0,
        "{distance}"
    );
    id_of(db, 50).await
}

async fn split_across(app: &Router, officer: &str, id: i64) -> Reply {
    let tag = tag(app, officer, id).await;
    write(app, Method::POST, &format!("/land/parcels/{id}/split"), officer, Some(tag.as_str()), Some(json!({"line": {"type": "LineString", "coordinates": [[106.88317, 11.53509], [106.88321, 11.53509]]}})))
    .await
}

/// Parcel `id`'s area, TM-3 m².
async fn area_of(db: &TestDb, id: i64) -> f64 {
    sqlx::query_scalar("SELECT ST_Area(geom) FROM land.parcels WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("area")
}

#[tokio::test]
async fn split_children_are_snapped_to_the_parcels_around_them() {
    let (db, app, issuer, dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    // Parcel 50, delivered 3 mm off parcel 1 (0.06 m² along its 19.6 m side: under the
    // areas' 0.1 m²), then split across.
    let id = delivered_off(&db, &dir, 0.003).await;
    let parent_area = area_of(&db, id).await;
    let r = split_across(&app, &officer, id).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    let listed = moves(&r, &body["snapped"]);
    let children: Vec<i64> = body["children"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .collect();
    assert_eq!(children.len(), 2, "{body}");
    // Each child's outer corner went onto parcel 1's corner, and the cut's west end onto its
    // edge (the second child's onto the first child's moved vertex) — and into parcel 1.
    assert!(listed.len() >= 3, "{listed:?}");
    let p1 = id_of(&db, 1).await;
    let shared = body["snapped"]["neighbours"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        shared
            .iter()
            .any(|n| n["id"] == json!(p1) && children.contains(&n["child"].as_i64().unwrap_or(-1))),
        "{body}"
    );
    // The stored children add up to the parent as it was, though snapping moved them.
    let mut total = 0.0;
    for child in &children {
        total += area_of(&db, *child).await;
    }
    assert!(
        (total - parent_area).abs() <= 0.1,
        "children {total} m², parent {parent_area} m²"
    );
    assert!(
        (total - parent_area).abs() > 0.01,
        "snapping moved the outer boundary: {total} m² vs {parent_area} m²"
    );
    for f in body["snapped"]["features"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let child = f["properties"]["child"].as_i64().unwrap_or(-1);
        assert!(children.contains(&child), "{f}");
    }
    // A vertex moved onto an edge lies on it up to the last bit of a double, so "on the
    // boundary" is within a micrometre here (the neighbour has no vertex there to share).
    for child in &children {
        let (shared, off, overlap): (f64, f64, f64) = sqlx::query_as(
            "SELECT ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Buffer(ST_Boundary(b.geom), 0.000001))),
                    (SELECT max(ST_Distance(d.geom, ST_Boundary(b.geom))) FROM ST_DumpPoints(a.geom) d
                     WHERE ST_Distance(d.geom, b.geom) < 1),
                    ST_Area(ST_Intersection(a.geom, b.geom))
             FROM land.parcels a, land.parcels b WHERE a.id = $1 AND b.parcel_number = 1",
        )
        .bind(child)
        .fetch_one(&db.pool)
        .await
        .expect("shared");
        assert!(shared > 9.0, "child {child}: {shared} m shared");
        assert!(
            off < 1e-6 && overlap < 1e-6,
            "child {child}: {off} m off, {overlap} m²"
        );
    }
}

#[tokio::test]
async fn a_split_whose_snapped_children_no_longer_add_up_is_refused_until_the_parent_is_snapped() {
    let (db, app, issuer, dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    // 3 cm off parcel 1: snapping the children would add 0.6 m² to the parent's area.
    let id = delivered_off(&db, &dir, 0.03).await;
    let before = tests::fixtures::row_text(&db, id).await;
    let r = split_across(&app, &officer, id).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("snap the parent first"), "{}", r.text());
    assert_eq!(tests::fixtures::row_text(&db, id).await, before);
    // The parent's own edit snaps it (its area changes there, recorded with a reason); then
    // the split's children add up to it.
    let geometry: Value = serde_json::from_str(
        &sqlx::query_scalar::<_, String>(
            "SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 12) FROM land.parcels WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("geometry"),
    )
    .expect("json");
    let tag = tag(&app, &officer, id).await;
    let r = write(
        &app,
        Method::PATCH,
        &format!("/collections/parcels/items/{id}"),
        &officer,
        Some(tag.as_str()),
        Some(json!({"geometry": geometry})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let parent_area = area_of(&db, id).await;
    let r = split_across(&app, &officer, id).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let mut total = 0.0;
    for c in r.json()["children"].as_array().cloned().unwrap_or_default() {
        total += area_of(&db, c["id"].as_i64().unwrap_or(-1)).await;
    }
    assert!(
        (total - parent_area).abs() <= 0.1,
        "{total} vs {parent_area}"
    );
}

#[tokio::test]
async fn the_tolerances_and_what_snapping_answers_are_published() {
    let odd = land::edit::Tolerances::new(2.5, 0.07).expect("tolerances");
    let (_db, app, _issuer, _dir) = Parcels::checked(parcels(), Some(odd)).await.parts();
    // The editor reads the server's tolerances (anyone may: they are no secret).
    let r = send(&app, Method::GET, "/land/config", None, &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"snap_tolerance_m": 0.07, "overlap_tolerance_m2": 2.5, "sliver_width_m": 0.3})
    );
    let doc = send(&app, Method::GET, "/api", None, &[], None)
        .await
        .json();
    let paths = &doc["paths"];
    assert!(paths["/land/config"]["get"]["responses"]["200"].is_object());
    let one = &paths["/collections/parcels/items/{featureId}"];
    for method in ["put", "patch"] {
        let responses = &one[method]["responses"];
        assert!(
            responses["204"]["headers"]["Bando-Snapped"].is_object(),
            "{method}"
        );
        let listed = &responses["200"]["content"]["application/geo+json"]["schema"];
        assert_eq!(
            listed["properties"]["features"]["items"]["properties"]["properties"]["properties"]
                ["kind"]["enum"],
            json!(["vertex", "edge", "inserted"]),
            "{method}: {listed}"
        );
    }
    let created = &paths["/collections/parcels/items"]["post"]["responses"]["201"];
    assert!(created["headers"]["Bando-Snapped"].is_object());
    assert!(created["content"]["application/geo+json"].is_object());
    let split = &paths["/land/parcels/{featureId}/split"]["post"]["responses"]["201"];
    assert!(split["headers"]["Bando-Snapped"].is_object());
    assert!(split["content"]["application/json"]["schema"]["properties"]["snapped"].is_object());
    assert!(
        split["content"]["application/json"]["schema"]["properties"]["snapped"]["properties"]
            ["neighbours"]["items"]["properties"]["etag"]
            .is_object()
    );
    assert!(
        paths["/land/config"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["properties"]["sliver_width_m"]
            .is_object()
    );
}
