//! Importing the sample communes through GDAL: counts, decoded text, CRS, geometry rules, and
//! the all-or-nothing guarantee.

use std::path::Path;

use gdal::vector::{
    Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;
use importers::communes::import_communes;
use importers::ImportError;
use tests::TestDb;
use unicode_normalization::is_nfc;

#[tokio::test]
async fn sample_communes_import_with_text_crs_and_a_clean_partition() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    let outcome = import_communes(&db.pool, &sample.path().join("communes.gpkg"), None)
        .await
        .expect("import");
    assert_eq!((outcome.read, outcome.imported), (12, 12));

    let communes = land::communes::list(&db.pool).await.expect("list");
    assert_eq!(communes.len(), 12);
    let tan_phu = communes
        .iter()
        .find(|c| c.legacy_code == "25195")
        .expect("25195");
    assert_eq!(tan_phu.legacy_name, "Phường Tân Phú");
    assert_eq!(tan_phu.name, "Phường Đồng Xoài");
    assert!(communes
        .iter()
        .all(|c| is_nfc(&c.legacy_name) && is_nfc(&c.name)));
    // 4 km cells with jittered edges: about 16 km² each.
    for c in &communes {
        assert!(
            (14.0e6..18.0e6).contains(&c.area_m2),
            "{} has {} m²",
            c.legacy_name,
            c.area_m2
        );
    }

    // Gap-free and overlap-free: the union's area equals the sum, and no two overlap.
    let (sum, union, overlaps, srid, in_range): (f64, f64, i64, i32, bool) = sqlx::query_as(
        "SELECT sum(ST_Area(geom)), ST_Area(ST_Union(geom)),
                (SELECT count(*) FROM land.communes a JOIN land.communes b
                   ON a.id < b.id AND ST_Area(ST_Intersection(a.geom, b.geom)) > 0.01),
                min(ST_SRID(geom)),
                bool_and(ST_XMin(geom) > 516000 AND ST_XMax(geom) < 630000
                     AND ST_YMin(geom) > 1249000 AND ST_YMax(geom) < 1361000)
         FROM land.communes",
    )
    .fetch_one(&db.pool)
    .await
    .expect("geometry checks");
    assert!((sum - union).abs() < 1.0, "sum {sum} union {union}");
    assert_eq!(overlaps, 0);
    assert_eq!(srid, 9212);
    assert!(
        in_range,
        "communes outside old Binh Phuoc's EPSG:9212 range"
    );
    // The serving copy is kept in step in Web Mercator.
    let srid_3857: i32 =
        sqlx::query_scalar("SELECT DISTINCT ST_SRID(geom_3857) FROM land.communes")
            .fetch_one(&db.pool)
            .await
            .expect("geom_3857");
    assert_eq!(srid_3857, 3857);
}

/// Writes a GeoPackage of communes in EPSG:9212 with the given (code, name) rows.
fn write_communes(path: &Path, rows: &[(&str, &str)], with_crs: bool, driver: &str) {
    let driver = DriverManager::get_driver_by_name(driver).expect("driver");
    let mut ds = driver.create_vector_only(path).expect("create");
    let srs = gdal::spatial_ref::SpatialRef::from_epsg(9212).expect("srs");
    let layer = ds
        .create_layer(LayerOptions {
            name: "communes",
            srs: with_crs.then_some(&srs),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: None,
        })
        .expect("layer");
    let fields = ["MAXA", "TENXA", "MAXA_2025", "TENXA_2025", "MATINH"];
    let defs: Vec<(&str, u32)> = fields
        .iter()
        .map(|f| (*f, OGRFieldType::OFTString))
        .collect();
    layer.create_defn_fields(&defs).expect("fields");
    for (i, (code, name)) in rows.iter().enumerate() {
        let e = 560_000.0 + i as f64 * 1000.0;
        let wkt = format!(
            "POLYGON(({e} 1270000, {} 1270000, {} 1271000, {e} 1271000, {e} 1270000))",
            e + 1000.0,
            e + 1000.0
        );
        let mut f = Feature::new(layer.defn()).expect("feature");
        for (field, value) in fields
            .iter()
            .zip([*code, *name, "25200", "Phường Đồng Xoài", "75"])
        {
            let idx = f.field_index(field).expect("idx");
            f.set_field(idx, &FieldValue::StringValue(value.to_string()))
                .expect("set");
        }
        f.set_geometry(Geometry::from_wkt(&wkt).expect("wkt"))
            .expect("geom");
        f.create(&layer).expect("create feature");
    }
    ds.close().expect("close");
}

#[tokio::test]
async fn a_failed_import_leaves_the_communes_exactly_as_they_were() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    import_communes(&db.pool, &sample.path().join("communes.gpkg"), None)
        .await
        .expect("first import");
    let before = land::communes::list(&db.pool).await.expect("list");

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.gpkg");
    write_communes(
        &bad,
        &[("25195", "Phường Tân Phú"), ("2519X", "Xã Lỗi")],
        true,
        "GPKG",
    );
    let err = import_communes(&db.pool, &bad, None)
        .await
        .expect_err("bad code");
    let text = err.to_string();
    assert!(
        text.contains("2519X") && text.contains("5 digits"),
        "{text}"
    );
    assert!(
        text.contains("bad.gpkg"),
        "error must name the file: {text}"
    );
    assert_eq!(land::communes::list(&db.pool).await.expect("list"), before);

    // A geometry PostGIS refuses (duplicate codes violate the unique key) mid-way: same.
    let dup = dir.path().join("dup.gpkg");
    write_communes(
        &dup,
        &[("25195", "Phường Tân Phú"), ("25195", "Phường Tân Phú")],
        true,
        "GPKG",
    );
    let err = import_communes(&db.pool, &dup, None)
        .await
        .expect_err("duplicate");
    assert!(err.to_string().contains("25195"), "{err}");
    assert_eq!(land::communes::list(&db.pool).await.expect("list"), before);
}

#[tokio::test]
async fn a_file_without_crs_is_refused_unless_srs_is_given() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shp = dir.path().join("no_prj.shp");
    write_communes(
        &shp,
        &[("25195", "Phuong Tan Phu")],
        false,
        "ESRI Shapefile",
    );
    assert!(!dir.path().join("no_prj.prj").exists());
    let err = import_communes(&db.pool, &shp, None)
        .await
        .expect_err("no CRS");
    assert!(matches!(err, ImportError::NoCrs { .. }), "{err}");
    assert!(err.to_string().contains("--srs"), "{err}");
    let ok = import_communes(&db.pool, &shp, Some(9212))
        .await
        .expect("with --srs");
    assert_eq!(ok.imported, 1);
}

#[tokio::test]
async fn a_missing_file_is_named_in_the_error() {
    let db = TestDb::new().await;
    let err = import_communes(&db.pool, Path::new("/nonexistent/xa.gpkg"), None)
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/xa.gpkg"), "{err}");
}
