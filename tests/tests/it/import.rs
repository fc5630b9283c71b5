//! Importing the sample communes through GDAL: counts, decoded text, CRS, geometry rules, and
//! the all-or-nothing guarantee.

use std::path::Path;

use gdal::vector::{
    Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;
use importers::pipeline::{import, ImportOptions};
use importers::ImportError;
use tests::TestDb;
use unicode_normalization::is_nfc;

#[tokio::test]
async fn sample_communes_import_with_text_crs_and_a_clean_partition() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    let summary = tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let merged = summary.merged.as_ref().expect("merged");
    assert_eq!(
        (summary.read, merged.inserted, summary.rejected),
        (12, 12, 0)
    );
    assert_eq!(summary.sources[0].srid, 9212);
    // Recorded, with the file's hash.
    let (layer, sha, inserted): (String, String, i64) = sqlx::query_as(
        "SELECT layer, files->0->>'sha256', inserted FROM platform.imports ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("import log");
    assert_eq!((layer.as_str(), inserted), ("communes", 12));
    assert_eq!(sha.len(), 64);

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
async fn bad_rows_are_rejected_with_reasons_and_the_rest_imported() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mixed.gpkg");
    write_communes(
        &file,
        &[
            ("25195", "Phường Tân Phú"),
            ("2519X", "Xã Lỗi"),
            ("25198", "Phường Tân Đồng"),
            ("25195", "Phường Tân Phú"),
        ],
        true,
        "GPKG",
    );
    let summary = tests::import(&db.pool, &file, "communes")
        .await
        .expect("import");
    assert_eq!(summary.read, 4);
    assert_eq!(summary.rejected, 2);
    assert_eq!(summary.merged.as_ref().expect("merged").inserted, 2);
    let rejects = std::fs::read_to_string(summary.rejects_file.as_ref().expect("rejects file"))
        .expect("read rejects");
    assert!(
        rejects.starts_with("source_file,feature_index,reason"),
        "{rejects}"
    );
    assert!(
        rejects.contains(",1,") && rejects.contains("2519X") && rejects.contains("5 digits"),
        "{rejects}"
    );
    assert!(
        rejects.contains(",3,") && rejects.contains("duplicate identity 25195"),
        "{rejects}"
    );
    assert_eq!(land::communes::list(&db.pool).await.expect("list").len(), 2);
}

#[tokio::test]
async fn upsert_twice_changes_nothing_and_replace_removes_what_the_delivery_dropped() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    let path = sample.path().join("communes.gpkg");
    tests::import(&db.pool, &path, "communes")
        .await
        .expect("first");
    let before: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, legacy_code FROM land.communes ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("ids");
    let again = tests::import(&db.pool, &path, "communes")
        .await
        .expect("second");
    let merged = again.merged.expect("merged");
    assert_eq!(
        (
            merged.inserted,
            merged.updated,
            merged.unchanged,
            merged.deleted
        ),
        (0, 0, 12, 0)
    );
    assert_eq!(
        merged.touched_3857, None,
        "an import that changes nothing must not invalidate tiles"
    );
    let after: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, legacy_code FROM land.communes ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("ids");
    assert_eq!(before, after, "ids must be stable");

    let dir = tempfile::tempdir().expect("tempdir");
    let subset = dir.path().join("subset.gpkg");
    write_communes(
        &subset,
        &[("25195", "Phường Tân Phú (đã sửa)")],
        true,
        "GPKG",
    );
    let upsert = tests::import(&db.pool, &subset, "communes")
        .await
        .expect("upsert");
    let m = upsert.merged.expect("merged");
    assert_eq!((m.inserted, m.updated, m.deleted), (0, 1, 0));
    assert!(m.touched_3857.is_some());
    assert_eq!(
        land::communes::list(&db.pool).await.expect("list").len(),
        12
    );

    let mut opts = ImportOptions::new("communes");
    opts.mode = gis_core::bulk::MergeMode::Replace;
    let replace = import(&db.pool, &subset, &opts).await.expect("replace");
    let m = replace.merged.expect("merged");
    assert_eq!((m.unchanged, m.deleted), (1, 11));
    let rows = land::communes::list(&db.pool).await.expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].legacy_name, "Phường Tân Phú (đã sửa)");
    let imports: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.imports")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(imports, 4);
}

#[tokio::test]
async fn a_dry_run_or_a_failed_import_leaves_everything_as_it_was() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("first");
    let before = land::communes::list(&db.pool).await.expect("list");

    let dir = tempfile::tempdir().expect("tempdir");
    let changed = dir.path().join("changed.gpkg");
    write_communes(&changed, &[("25195", "Tên mới")], true, "GPKG");
    let mut opts = ImportOptions::new("communes");
    opts.mode = gis_core::bulk::MergeMode::Replace;
    opts.dry_run = true;
    let dry = import(&db.pool, &changed, &opts).await.expect("dry run");
    assert!(dry.dry_run);
    assert_eq!(dry.merged.expect("merged").deleted, 11);
    assert_eq!(land::communes::list(&db.pool).await.expect("list"), before);

    // A delivery without a required field fails as a whole.
    let driver = gdal::DriverManager::get_driver_by_name("GPKG").expect("driver");
    let no_name = dir.path().join("no_name.gpkg");
    let mut ds = driver.create_vector_only(&no_name).expect("create");
    let srs = gdal::spatial_ref::SpatialRef::from_epsg(9212).expect("srs");
    let layer = ds
        .create_layer(LayerOptions {
            name: "x",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: None,
        })
        .expect("layer");
    layer
        .create_defn_fields(&[("MAXA", OGRFieldType::OFTString)])
        .expect("fields");
    ds.close().expect("close");
    let err = tests::import(&db.pool, &no_name, "communes")
        .await
        .expect_err("missing field");
    assert!(
        err.to_string().contains("legacy_name") && err.to_string().contains("--mapping"),
        "{err}"
    );
    assert_eq!(land::communes::list(&db.pool).await.expect("list"), before);
    let imports: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.imports")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(
        imports, 1,
        "neither the dry run nor the failure is recorded as an import"
    );
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
    let err = tests::import(&db.pool, &shp, "communes")
        .await
        .expect_err("no CRS");
    assert!(err.to_string().contains("--srs"), "{err}");
    let mut opts = ImportOptions::new("communes");
    opts.srs = Some(9212);
    let ok = import(&db.pool, &shp, &opts).await.expect("with --srs");
    assert_eq!(ok.merged.expect("merged").inserted, 1);
}

#[tokio::test]
async fn unreadable_inputs_are_explained() {
    let db = TestDb::new().await;
    let err = tests::import(&db.pool, Path::new("/nonexistent/xa.gpkg"), "communes")
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/xa.gpkg"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let v8 = dir.path().join("ban_do.dgn");
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.resize(4096, 0);
    std::fs::write(&v8, ole).expect("write");
    let err = tests::import(&db.pool, &v8, "parcels")
        .await
        .expect_err("dgn v8");
    let text = err.to_string();
    assert!(matches!(err, ImportError::Unsupported { .. }), "{text}");
    assert!(text.contains("DGN v8") && text.contains("V7"), "{text}");

    let err = tests::import(&db.pool, &v8, "parcels_of_mars")
        .await
        .expect_err("unknown layer");
    assert!(
        err.to_string().contains("importable layers") && err.to_string().contains("parcels"),
        "{err}"
    );

    let junk = dir.path().join("junk.gpkg");
    std::fs::write(&junk, b"not a geopackage").expect("write");
    let err = tests::import(&db.pool, &junk, "communes")
        .await
        .expect_err("junk");
    assert!(err.to_string().contains("junk.gpkg"), "{err}");
}

#[tokio::test]
async fn an_import_notifies_servers_with_the_touched_area() {
    let db = TestDb::new().await;
    let mut listener = sqlx::postgres::PgListener::connect(&db.url)
        .await
        .expect("listener");
    listener
        .listen(gis_core::bulk::CHANGES_CHANNEL)
        .await
        .expect("listen");
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10 s")
        .expect("notification");
    let payload: serde_json::Value = serde_json::from_str(note.payload()).expect("json");
    assert_eq!(payload["table"], "land.communes");
    // The table's change count moved with the import (the tile store checks it at start).
    let counted: i64 = sqlx::query_scalar(
        "SELECT changes FROM platform.table_changes WHERE table_name = 'land.communes'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("change count");
    assert_eq!(payload["changes"].as_i64(), Some(counted), "{payload}");
    assert!(
        payload["op"] == "import" || payload["op"] == "insert",
        "{payload}"
    );
    let bbox: Vec<f64> = serde_json::from_value(payload["bbox_3857"].clone()).expect("bbox");
    // Đồng Xoài is around 106.9 E, 11.5 N: x ≈ 11.9e6, y ≈ 1.29e6 in EPSG:3857.
    assert!(
        bbox[0] > 11.8e6 && bbox[2] < 12.0e6 && bbox[1] > 1.2e6 && bbox[3] < 1.4e6,
        "{bbox:?}"
    );
}

#[tokio::test]
async fn mapping_file_overrides_and_unknown_fields_are_kept_in_extra() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("odd_names.geojson");
    std::fs::write(
        &path,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"SO_HIEU":"T-01","GHI_CHU":"Đèn mới thay","NAM":2021,"LOAIDEN":"LED"},
           "geometry":{"type":"Point","coordinates":[106.883,11.535]}}]}"#,
    )
    .expect("write");
    let mapping = dir.path().join("map.toml");
    std::fs::write(
        &mapping,
        "source_id = \"SO_HIEU\"\n[fields]\ncode = \"SO_HIEU\"\n",
    )
    .expect("write");
    let mut opts = ImportOptions::new("street_lights");
    opts.mapping = Some(mapping.clone());
    let summary = import(&db.pool, &path, &opts).await.expect("import");
    assert_eq!(summary.merged.expect("merged").inserted, 1);
    let (source_id, code, lamp, extra, srid, e, n): (String, String, String, serde_json::Value, i32, f64, f64) =
        sqlx::query_as(
            "SELECT source_id, code, lamp_type, extra, ST_SRID(geom), ST_X(geom), ST_Y(geom) FROM sectors.street_lights",
        )
        .fetch_one(&db.pool)
        .await
        .expect("row");
    assert_eq!(
        (source_id.as_str(), code.as_str(), lamp.as_str()),
        ("T-01", "T-01", "LED")
    );
    assert_eq!(extra["GHI_CHU"], "Đèn mới thay");
    assert_eq!(extra["NAM"], 2021);
    // WGS84 GeoJSON is stored in its native TM-3 zone: the check vector.
    assert_eq!(srid, 9212);
    assert!(
        (e - 568_850.121).abs() < 0.01 && (n - 1_275_706.945).abs() < 0.01,
        "{e} {n}"
    );

    std::fs::write(&mapping, "[fields]\nwattage = \"CS\"\n").expect("write");
    let err = import(&db.pool, &path, &opts)
        .await
        .expect_err("unknown column");
    assert!(
        err.to_string().contains("wattage") && err.to_string().contains("power_w"),
        "{err}"
    );
}

#[tokio::test]
async fn northing_first_csv_coordinates_are_detected_and_swapped() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("tram_quan_trac.csv");
    // Surveyors' order: X = northing, Y = easting (EPSG:9212).
    std::fs::write(
        &csv,
        "MATRAM,TENTRAM,LOAI,X,Y\nKK01,Trạm không khí Đồng Xoài,Không khí,1275706.945,568850.121\nNM02,Trạm nước mặt,Nước mặt,1276000.5,569100.25\n",
    )
    .expect("write");
    let err = tests::import(&db.pool, &csv, "env_stations")
        .await
        .expect_err("CSV has no CRS");
    assert!(err.to_string().contains("--srs"), "{err}");
    let mut opts = ImportOptions::new("env_stations");
    opts.srs = Some(9212);
    let summary = import(&db.pool, &csv, &opts).await.expect("import");
    assert_eq!(summary.sources[0].axis, "swapped");
    let (name, e, n): (String, f64, f64) = sqlx::query_as(
        "SELECT name, ST_X(geom), ST_Y(geom) FROM sectors.env_stations WHERE code = 'KK01'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("row");
    assert_eq!(name, "Trạm không khí Đồng Xoài");
    assert!(
        (e - 568_850.121).abs() < 1e-6 && (n - 1_275_706.945).abs() < 1e-6,
        "{e} {n}"
    );
}

/// The whole sample set (2,000 parcels) through the importer: legacy encodings, hand-written
/// VN-2000 `.prj` files in both sign conventions, native zones, every format GDAL reads.
#[tokio::test]
async fn the_full_sample_imports_with_decoded_text_native_zones_and_findings() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let set = sample::write_sample_with(
        dir.path(),
        &sample::SampleOptions {
            seed: 7,
            parcels: 2_000,
        },
    )
    .expect("sample");
    let mut by_file = std::collections::BTreeMap::new();
    let mut done = std::collections::BTreeSet::new();
    for file in set.files.iter().filter(|f| !f.copy) {
        if !done.insert((file.path.clone(), file.layer)) {
            continue;
        }
        let mut opts = ImportOptions::new(file.layer);
        if file.path.extension().is_some_and(|e| e == "csv") {
            opts.srs = Some(file.srid);
        }
        let summary = import(&db.pool, &file.path, &opts)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
        assert_eq!(
            summary.rejected,
            0,
            "{}: {:?}",
            file.path.display(),
            summary.rejected_by_reason
        );
        assert_eq!(summary.read, file.features, "{}", file.path.display());
        by_file.insert(
            file.path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string(),
            summary,
        );
    }

    // TCVN3 shapefile with a correct hand-written .prj.
    let bp = &by_file["parcels_binhphuoc.shp"].sources[0];
    assert_eq!(bp.srid, 9212);
    assert!(
        bp.crs_note.contains("Vn2000Parameters") && bp.crs_note.contains("PositionVector"),
        "{}",
        bp.crs_note
    );
    let (enc, confidence) = &bp.encodings["TENCHU"];
    assert_eq!(enc, "tcvn3");
    assert!(*confidence > 0.8, "{confidence}");
    assert_eq!(bp.extra_fields, vec!["GHICHU".to_string()]);
    // VNI shapefile whose .prj copies the decision's rotation signs.
    let dn = &by_file["parcels_dongnai.shp"].sources[0];
    assert_eq!(dn.srid, 5899);
    assert!(
        dn.crs_note.contains("CoordinateFrameVerbatim") && dn.crs_note.contains("0.56"),
        "{}",
        dn.crs_note
    );
    assert_eq!(dn.encodings["TENCHU"].0, "vni");
    // The area report found the deliberately wrong declared areas.
    assert!(
        by_file["parcels_binhphuoc.shp"]
            .findings
            .iter()
            .any(|f| f.contains("declared area")),
        "{:?}",
        by_file["parcels_binhphuoc.shp"].findings
    );

    // Decoded text equals the UTF-8 GeoJSON copy of the same parcels (TCVN3 has no accented
    // capitals, so compare case-insensitively), NFC, with the letter ư (TCVN3 byte 0xAD).
    let copy = set
        .files
        .iter()
        .find(|f| f.path.ends_with("parcels_sample.geojson"))
        .expect("geojson copy");
    let ds = gdal::Dataset::open(&copy.path).expect("open copy");
    let mut layer = ds.layer(0).expect("layer");
    let mut compared = 0;
    let mut saw_u_horn = false;
    for feature in gdal::vector::LayerAccess::features(&mut layer) {
        let text = |name: &str| {
            let i = feature.field_index(name).expect("field");
            feature
                .field_as_string(i)
                .expect("value")
                .unwrap_or_default()
        };
        let (maxa, sheet, parcel) = (text("MAXA"), text("SHBANDO"), text("SHTHUA"));
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT owner_name, address FROM land.parcels WHERE commune_code = $1 AND sheet_number = $2 AND parcel_number = $3",
        )
        .bind(&maxa)
        .bind(sheet.parse::<i64>().expect("sheet"))
        .bind(parcel.parse::<i64>().expect("parcel"))
        .fetch_optional(&db.pool)
        .await
        .expect("row");
        let (owner, address) = row.expect("parcel imported");
        let want_owner = text("TENCHU");
        assert_eq!(
            owner.clone().unwrap_or_default().to_lowercase(),
            want_owner.to_lowercase()
        );
        assert_eq!(
            address.clone().unwrap_or_default().to_lowercase(),
            text("DIACHI").to_lowercase()
        );
        for v in [owner.unwrap_or_default(), address.unwrap_or_default()] {
            assert!(unicode_normalization::is_nfc(&v), "{v}");
            saw_u_horn |= v.contains('ư') || v.contains('Ư');
        }
        compared += 1;
    }
    assert_eq!(compared, 200);
    assert!(
        saw_u_horn,
        "no ư in 200 owner names and addresses: the TCVN3 0xAD case is untested"
    );

    // Native zones, and a partition without overlaps.
    let zones: Vec<(i32, i64)> =
        sqlx::query_as("SELECT ST_SRID(geom), count(*) FROM land.parcels GROUP BY 1 ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .expect("zones");
    assert_eq!(
        zones.iter().map(|z| z.0).collect::<Vec<_>>(),
        vec![5899, 9212]
    );
    assert_eq!(zones.iter().map(|z| z.1).sum::<i64>(), 2_000);
    let stations: Vec<(f64, f64)> =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom) FROM sectors.env_stations")
            .fetch_all(&db.pool)
            .await
            .expect("stations");
    assert!(!stations.is_empty(), "environment stations imported");
    assert!(
        stations
            .iter()
            .all(|(e, n)| (516_000.0..630_000.0).contains(e)
                && (1_249_000.0..1_361_000.0).contains(n)),
        "{stations:?}"
    );

    // Idempotent: the TCVN3 file again changes nothing.
    let again = tests::import(
        &db.pool,
        &dir.path().join("parcels_binhphuoc.shp"),
        "parcels",
    )
    .await
    .expect("again");
    let m = again.merged.expect("merged");
    assert_eq!((m.inserted, m.updated), (0, 0));
    assert_eq!(m.unchanged, again.read);
}

#[tokio::test]
async fn every_sample_format_is_read_through_gdal() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let set = sample::write_sample_with(
        dir.path(),
        &sample::SampleOptions {
            seed: 3,
            parcels: 1_000,
        },
    )
    .expect("sample");
    let formats = dir.path().join("formats");
    for name in [
        "parcels.gpkg",
        "parcels.kml",
        "parcels.gdb",
        "parcels_wkt.csv",
    ] {
        let path = formats.join(name);
        let mut opts = ImportOptions::new("parcels");
        opts.srs = (name.ends_with(".csv")).then_some(9212);
        opts.mode = gis_core::bulk::MergeMode::Replace;
        let summary = import(&db.pool, &path, &opts)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((summary.read, summary.rejected), (50, 0), "{name}");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM land.parcels")
            .fetch_one(&db.pool)
            .await
            .expect("count");
        assert_eq!(n, 50, "{name}");
    }
    // DXF and DGN v7 carry geometry only: GDAL reads them, and the importer says which
    // attribute is missing instead of guessing (the commune is derived from the location, so
    // the first one missing is the sheet number).
    for name in ["parcels.dxf", "parcels.dgn"] {
        let mut opts = ImportOptions::new("parcels");
        opts.srs = Some(9212);
        let err = import(&db.pool, &formats.join(name), &opts)
            .await
            .expect_err(name);
        assert!(
            err.to_string().contains("has no field for sheet_number"),
            "{name}: {err}"
        );
        let ds = gdal::Dataset::open(formats.join(name)).expect("open");
        let layer = ds.layer(0).expect("layer");
        assert_eq!(
            gdal::vector::LayerAccess::feature_count(&layer),
            50,
            "{name}"
        );
    }
    // A zip of a shapefile is read in place; a folder imports every readable layer in it.
    let zip_path = dir.path().join("giao_nop.zip");
    let status = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w'); [z.write(f, f.split('/')[-1]) for f in sys.argv[2:]]"])
        .arg(&zip_path)
        .args(["shp", "shx", "dbf", "prj"].map(|e| dir.path().join(format!("street_lights.{e}"))))
        .status()
        .expect("python3 zip");
    assert!(status.success());
    let lights = set
        .files
        .iter()
        .find(|f| f.layer == "street_lights")
        .expect("lights")
        .features;
    let summary = tests::import(&db.pool, &zip_path, "street_lights")
        .await
        .expect("zip");
    assert_eq!(summary.read, lights);
    assert!(summary.sources[0].path.starts_with("/vsizip/"));
    let folder = dir.path().join("chi_gioi");
    std::fs::create_dir(&folder).expect("mkdir");
    for f in ["red_lines.gpkg", "red_lines_dongnai.gpkg"] {
        std::fs::copy(dir.path().join(f), folder.join(f)).expect("copy");
    }
    let summary = tests::import(&db.pool, &folder, "red_lines")
        .await
        .expect("folder");
    assert_eq!(summary.sources.len(), 2);
    assert_eq!(summary.rejected, 0);
}

#[tokio::test]
async fn invalid_geometry_is_repaired_and_reported_or_rejected_by_policy() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bowtie.geojson");
    // A self-intersecting "bow tie" parcel and a valid one.
    std::fs::write(
        &path,
        r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"MAXA":"25195","SHBANDO":1,"SHTHUA":1,"MALOAIDAT":"ONT"},
         "geometry":{"type":"Polygon","coordinates":[[[106.8830,11.5350],[106.8834,11.5354],[106.8834,11.5350],[106.8830,11.5354],[106.8830,11.5350]]]}},
        {"type":"Feature","properties":{"MAXA":"25195","SHBANDO":1,"SHTHUA":2,"MALOAIDAT":"ONT"},
         "geometry":{"type":"Polygon","coordinates":[[[106.8840,11.5350],[106.8844,11.5350],[106.8844,11.5354],[106.8840,11.5354],[106.8840,11.5350]]]}}]}"#,
    )
    .expect("write");
    let mut opts = ImportOptions::new("parcels");
    opts.invalid = gis_core::bulk::InvalidPolicy::Reject;
    let rejected = import(&db.pool, &path, &opts).await.expect("reject policy");
    assert_eq!(rejected.rejected, 1);
    assert!(
        rejected
            .rejected_by_reason
            .keys()
            .any(|r| r.contains("invalid geometry") && r.contains("Self-intersection")),
        "{:?}",
        rejected.rejected_by_reason
    );
    assert_eq!(rejected.merged.expect("merged").inserted, 1);

    let repaired = tests::import(&db.pool, &path, "parcels")
        .await
        .expect("repair policy");
    assert_eq!((repaired.repaired, repaired.rejected), (1, 0));
    let (valid, parts): (bool, i32) = sqlx::query_as(
        "SELECT ST_IsValid(geom), ST_NumGeometries(geom) FROM land.parcels WHERE parcel_number = 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("row");
    assert!(valid);
    assert_eq!(parts, 2, "the bow tie becomes its two triangles");
    let report: serde_json::Value =
        sqlx::query_scalar("SELECT report FROM platform.imports ORDER BY id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .expect("report");
    assert_eq!(report["repaired"], 1);
}

/// Three parcels: two neighbours sharing an edge, and a third overlapping the first by 20 m² and
/// the second by 80 m².
fn overlapping_parcels(path: &Path, driver: &str, srid: u32, to_wgs84: bool) {
    let driver = DriverManager::get_driver_by_name(driver).expect("driver");
    let mut ds = driver.create_vector_only(path).expect("create");
    let srs = gdal::spatial_ref::SpatialRef::from_epsg(srid).expect("srs");
    let layer = ds
        .create_layer(LayerOptions {
            name: "thua",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: None,
        })
        .expect("layer");
    layer
        .create_defn_fields(&[
            ("MAXA", OGRFieldType::OFTString),
            ("SHBANDO", OGRFieldType::OFTInteger),
            ("SHTHUA", OGRFieldType::OFTInteger),
        ])
        .expect("fields");
    let t = gis_core::crs::Transformer::new(9212, 4326).expect("transformer");
    let (e, n) = (568_850.0, 1_275_700.0);
    let squares = [(0.0, 0.0, 10.0), (10.0, 0.0, 10.0), (8.0, 0.0, 10.0)];
    for (i, (dx, dy, side)) in squares.iter().enumerate() {
        let ring: Vec<(f64, f64)> = [
            (0.0, 0.0),
            (*side, 0.0),
            (*side, *side),
            (0.0, *side),
            (0.0, 0.0),
        ]
        .iter()
        .map(|(x, y)| (e + dx + x, n + dy + y))
        .map(|(x, y)| {
            if to_wgs84 {
                t.transform(x, y).expect("to wgs84")
            } else {
                (x, y)
            }
        })
        .collect();
        let wkt = format!(
            "POLYGON(({}))",
            ring.iter()
                .map(|(x, y)| format!("{x:.9} {y:.9}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut f = Feature::new(layer.defn()).expect("feature");
        f.set_field(0, &FieldValue::StringValue("25195".into()))
            .expect("maxa");
        f.set_field(1, &FieldValue::IntegerValue(1)).expect("sheet");
        f.set_field(2, &FieldValue::IntegerValue(i as i32 + 1))
            .expect("parcel");
        f.set_geometry(Geometry::from_wkt(&wkt).expect("wkt"))
            .expect("geom");
        f.create(&layer).expect("create");
    }
    ds.close().expect("close");
}

#[tokio::test]
async fn overlapping_parcels_are_reported_in_projected_and_geographic_deliveries() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Projected (checked in Rust while streaming) and WGS84 (checked in PostGIS).
    for (name, driver, srid, wgs84) in [
        ("tm3.gpkg", "GPKG", 9212, false),
        ("wgs84.geojson", "GeoJSON", 4326, true),
    ] {
        let path = dir.path().join(name);
        overlapping_parcels(&path, driver, srid, wgs84);
        let mut opts = ImportOptions::new("parcels");
        opts.mode = gis_core::bulk::MergeMode::Replace;
        let summary = import(&db.pool, &path, &opts).await.expect("import");
        assert_eq!(summary.rejected, 0, "{name}");
        let overlap = summary
            .findings
            .iter()
            .find(|f| f.contains("overlap"))
            .unwrap_or_else(|| panic!("{name}: {:?}", summary.findings));
        assert!(overlap.starts_with("2 pairs"), "{name}: {overlap}");
        assert!(
            overlap.contains("25195/1/2 × 25195/1/3 (80.0 m²)"),
            "{name}: {overlap}"
        );
        assert!(
            overlap.contains("25195/1/1 × 25195/1/3 (20.0 m²)"),
            "{name}: {overlap}"
        );
        assert!(
            !overlap.contains("25195/1/1 × 25195/1/2"),
            "neighbours only touch: {overlap}"
        );
    }
}
