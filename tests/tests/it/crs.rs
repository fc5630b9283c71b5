//! VN-2000 through PROJ in Rust and through PostGIS `ST_Transform`: the check vector both ways,
//! agreement of the two, the wrong-sign `+towgs84` trap, and the axis-order guard.

use gis_core::crs::{
    AxisGuard, AxisOrder, CrsRegistry, Transformer, Vn2000Helmert, VN2000_TM3_106_15,
    VN2000_TM3_107_45, WGS84,
};
use tests::TestDb;

/// domain.md §1: 106.883 E, 11.535 N ↔ E 568850.121, N 1275706.945 in EPSG:9212.
const CHECK_LONLAT: (f64, f64) = (106.883, 11.535);
const CHECK_EN: (f64, f64) = (568_850.121, 1_275_706.945);

/// Ground distance in metres between two nearby lon/lat points.
fn metres_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = a.1.to_radians();
    let dx = (a.0 - b.0) * 111_320.0 * lat.cos();
    let dy = (a.1 - b.1) * 110_574.0;
    (dx * dx + dy * dy).sqrt()
}

fn planar(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

#[test]
fn check_vector_forward_within_1cm() {
    let t = Transformer::new(WGS84, VN2000_TM3_106_15).expect("transformer");
    let en = t
        .transform(CHECK_LONLAT.0, CHECK_LONLAT.1)
        .expect("transform");
    assert!(
        planar(en, CHECK_EN) <= 0.01,
        "got {en:?}, want {CHECK_EN:?}"
    );
}

#[test]
fn check_vector_inverse_within_1cm() {
    let t = Transformer::new(VN2000_TM3_106_15, WGS84).expect("transformer");
    let ll = t.transform(CHECK_EN.0, CHECK_EN.1).expect("transform");
    assert!(metres_between(ll, CHECK_LONLAT) <= 0.01, "got {ll:?}");
    // stack.md's second vector: E 500000 N 1270000 → 11.484093230 N, 106.251791824 E.
    let ll = t.transform(500_000.0, 1_270_000.0).expect("transform");
    assert!(
        metres_between(ll, (106.251_791_824, 11.484_093_230)) <= 0.01,
        "got {ll:?}"
    );
}

#[test]
fn transform_uses_the_epsg_6960_operation() {
    let t = Transformer::new(VN2000_TM3_106_15, WGS84).expect("transformer");
    let op = t.operation();
    assert!(op.contains("VN-2000 to WGS 84 (2)"), "operation was {op}");
}

fn tm3_106_15_with_towgs84(towgs84: &str) -> String {
    format!("+proj=tmerc +lat_0=0 +lon_0=106.25 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +towgs84={towgs84} +units=m +no_defs +type=crs")
}

#[test]
fn towgs84_sign_convention_matters() {
    // Rotation signs flipped (Position Vector): agrees with EPSG:6960.
    let good = Transformer::from_definitions(
        "EPSG:4326",
        &tm3_106_15_with_towgs84(&Vn2000Helmert::towgs84()),
        WGS84,
        VN2000_TM3_106_15,
    )
    .expect("good towgs84");
    let en = good
        .transform(CHECK_LONLAT.0, CHECK_LONLAT.1)
        .expect("transform");
    assert!(planar(en, CHECK_EN) <= 0.01, "correct +towgs84 gave {en:?}");

    // The decision's signs copied verbatim: fails the check vector by about 0.56 m.
    let [dx, dy, dz] = Vn2000Helmert::TRANSLATION;
    let [rx, ry, rz] = Vn2000Helmert::ROTATION_CF;
    let verbatim = format!("{dx},{dy},{dz},{rx},{ry},{rz},{}", Vn2000Helmert::SCALE_PPM);
    let bad = Transformer::from_definitions(
        "EPSG:4326",
        &tm3_106_15_with_towgs84(&verbatim),
        WGS84,
        VN2000_TM3_106_15,
    )
    .expect("bad towgs84");
    let en = bad
        .transform(CHECK_LONLAT.0, CHECK_LONLAT.1)
        .expect("transform");
    let error = planar(en, CHECK_EN);
    assert!(
        (0.4..0.8).contains(&error),
        "verbatim signs should be ~0.56 m off, were {error} m"
    );
}

#[test]
fn axis_guard_reports_northing_first_pairs() {
    let guard = AxisGuard::for_vietnam(VN2000_TM3_106_15).expect("guard");
    assert_eq!(guard.check(CHECK_EN.0, CHECK_EN.1), AxisOrder::AsGiven);
    // Surveyors' X = northing, Y = easting.
    assert_eq!(guard.check(CHECK_EN.1, CHECK_EN.0), AxisOrder::Swapped);
    assert_eq!(guard.check(0.0, 0.0), AxisOrder::Implausible);
    let geographic = AxisGuard::for_vietnam(WGS84).expect("guard");
    assert_eq!(geographic.check(106.883, 11.535), AxisOrder::AsGiven);
    assert_eq!(geographic.check(11.535, 106.883), AxisOrder::Swapped);
}

#[test]
fn registry_names_the_vietnamese_crss_and_knows_any_epsg_code() {
    let registry = CrsRegistry::standard().expect("registry");
    let codes: Vec<u32> = registry.named().map(|c| c.epsg).collect();
    for code in [4326, 3857, 4756, 9212, 5899, 3405, 3406] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let tm3 = registry.get(9212).expect("9212");
    assert!(tm3.name.contains("TM-3 106-15"), "{}", tm3.name);
    assert!(tm3.projected);
    assert!(!registry.get(4756).expect("4756").projected);
    assert!(!registry.get(4326).expect("4326").projected);
    assert!(registry.get(3857).expect("3857").projected);
    // Not named, but PROJ knows it.
    let utm = registry.resolve("EPSG:32648").expect("32648");
    assert!(utm.name.contains("UTM zone 48N"), "{}", utm.name);
    let err = registry.get(999_999).expect_err("unknown code");
    assert!(err.to_string().contains("EPSG:999999"), "{err}");
}

#[tokio::test]
async fn postgis_has_the_tm3_zones() {
    let db = TestDb::new().await;
    let rows: Vec<(i32, String, i32)> = sqlx::query_as(
        "SELECT srid, auth_name::text, auth_srid FROM spatial_ref_sys WHERE srid BETWEEN 9205 AND 9218 ORDER BY srid",
    )
    .fetch_all(&db.pool)
    .await
    .expect("query");
    assert_eq!(rows.len(), 14);
    assert!(rows
        .iter()
        .all(|(srid, auth, code)| auth == "EPSG" && code == srid));
}

#[tokio::test]
async fn postgis_st_transform_matches_rust_both_ways() {
    let db = TestDb::new().await;
    for srid in [VN2000_TM3_106_15, VN2000_TM3_107_45] {
        let forward = Transformer::new(WGS84, srid).expect("forward");
        let inverse = Transformer::new(srid, WGS84).expect("inverse");
        for (lon, lat) in [CHECK_LONLAT, (107.0, 11.0), (107.75, 11.2), (106.5, 12.0)] {
            let rust = forward.transform(lon, lat).expect("rust forward");
            let pg: (f64, f64) = sqlx::query_as(
                "SELECT ST_X(g), ST_Y(g) FROM ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), $3) AS g",
            )
            .bind(lon)
            .bind(lat)
            .bind(srid as i32)
            .fetch_one(&db.pool)
            .await
            .expect("postgis forward");
            assert!(
                planar(rust, pg) <= 0.01,
                "EPSG:{srid} ({lon},{lat}): rust {rust:?} postgis {pg:?}"
            );
            let back: (f64, f64) = sqlx::query_as(
                "SELECT ST_X(g), ST_Y(g) FROM ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), $3), 4326) AS g",
            )
            .bind(pg.0)
            .bind(pg.1)
            .bind(srid as i32)
            .fetch_one(&db.pool)
            .await
            .expect("postgis inverse");
            let rust_back = inverse.transform(rust.0, rust.1).expect("rust inverse");
            assert!(
                metres_between(back, (lon, lat)) <= 0.01,
                "postgis round trip {back:?}"
            );
            assert!(
                metres_between(rust_back, back) <= 0.01,
                "rust {rust_back:?} postgis {back:?}"
            );
        }
    }
    // And the check vector itself in PostGIS.
    let pg: (f64, f64) = sqlx::query_as(
        "SELECT ST_X(g), ST_Y(g) FROM ST_Transform(ST_SetSRID(ST_MakePoint(106.883, 11.535), 4326), 9212) AS g",
    )
    .fetch_one(&db.pool)
    .await
    .expect("postgis check vector");
    assert!(planar(pg, CHECK_EN) <= 0.01, "postgis gave {pg:?}");
}
