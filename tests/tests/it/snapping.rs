//! Issue 11: the server snaps a written parcel's vertices to its neighbours' boundaries within
//! `[land] snap_tolerance_m` (0.05 m by default), in the parcel's TM-3 zone, before the overlap
//! check, and says what it moved (`Bando-Snapped` + the moved vertices as GeoJSON) — on POST,
//! PATCH and the children of a split. On `tests::fixtures::parcels`: 1–3 of commune 25195 in a
//! row, 0.00018° squares 2.2 m apart; a new parcel is drawn in the gap between 1 and 2.

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
    // answer says nothing moved (no body).
    let tight = land::edit::Tolerances::new(1.0, 0.01).expect("tolerances");
    let (db, app, issuer, _dir) = Parcels::checked(parcels(), Some(tight)).await.parts();
    let officer = tests::fixtures::officer(&issuer);
    let r = create(&app, &officer, gap_parcel(&db, -0.03, 0.2).await).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.header(axum::http::HeaderName::from_static("bando-snapped")),
        "0"
    );
    assert!(r.body.is_empty(), "{}", r.text());
    let (overlap, _, _) = between(&db, 50, 1).await;
    assert!((overlap - 0.6).abs() < 0.05, "{overlap}");
}

#[tokio::test]
async fn split_children_are_snapped_to_the_parcels_around_them() {
    let (db, app, issuer, dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    // Parcel 50, delivered 3 cm off parcel 1 (imports do not snap), then split across.
    let geometry = gap_parcel(&db, 0.03, 0.2).await;
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
    let (_, shared, distance) = between(&db, 50, 1).await;
    assert!(
        shared == 0.0 && (distance - 0.03).abs() < 0.002,
        "{distance}"
    );
    let id = id_of(&db, 50).await;
    let uri = format!("/collections/parcels/items/{id}");
    let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
        .await
        .etag();
    let r = write(&app, Method::POST, &format!("/land/parcels/{id}/split"), &officer, Some(tag.as_str()), Some(json!({"line": {"type": "LineString", "coordinates": [[106.88317, 11.53509], [106.88321, 11.53509]]}})))
    .await;
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
    // edge (the second child's onto the first child's moved vertex).
    assert!(listed.len() >= 3, "{listed:?}");
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
async fn the_tolerances_and_what_snapping_answers_are_published() {
    let odd = land::edit::Tolerances::new(2.5, 0.07).expect("tolerances");
    let (_db, app, _issuer, _dir) = Parcels::checked(parcels(), Some(odd)).await.parts();
    // The editor reads the server's tolerances (anyone may: they are no secret).
    let r = send(&app, Method::GET, "/land/config", None, &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"snap_tolerance_m": 0.07, "overlap_tolerance_m2": 2.5})
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
}
