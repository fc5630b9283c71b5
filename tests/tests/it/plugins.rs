//! Layers as plugins (issue 9): a layer added from a file without code is served by a running
//! server without a restart; a parcel delivery without a commune field gets its communes from
//! location; a property added to a built-in declaration reaches the database, the APIs and
//! the style with no other edit.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gis_core::feature::{Column, ColumnType};
use serde_json::Value;
use tests::{bando_bin, decode_mvt, Bando, TestDb};

fn bando(db: &TestDb) -> Command {
    let mut cmd = Command::new(bando_bin());
    cmd.env("DATABASE_URL", &db.url);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run bando")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// GETs `path` until `ok` accepts the answer (the server reloads on a notification, a moment
/// after the command that changed the definition returned).
async fn eventually(server: &Bando, path: &str, ok: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.get(path).await;
        if ok(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "{path}: still {status} after 30 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Points in the sample's communes: (lon, lat) of each commune's point on surface.
async fn commune_points(db: &TestDb) -> Vec<(String, f64, f64)> {
    sqlx::query_as(
        "SELECT legacy_code, ST_X(p), ST_Y(p) FROM (
           SELECT legacy_code, ST_Transform(ST_PointOnSurface(geom), 4326) AS p
           FROM land.communes ORDER BY legacy_code) x",
    )
    .fetch_all(&db.pool)
    .await
    .expect("commune points")
}

fn point_feature(lon: f64, lat: f64, props: Value) -> Value {
    serde_json::json!({"type": "Feature", "properties": props,
        "geometry": {"type": "Point", "coordinates": [lon, lat]}})
}

fn write_geojson(path: &Path, features: Vec<Value>) {
    let fc = serde_json::json!({"type": "FeatureCollection", "features": features});
    std::fs::write(path, fc.to_string()).expect("write geojson");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_added_from_a_file_is_served_without_a_restart_and_managed_by_bando_layer() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("communes");
    let points = commune_points(&db).await;
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("truong_hoc.geojson");
    write_geojson(
        &file,
        points
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, (_, lon, lat))| {
                point_feature(
                    *lon,
                    *lat,
                    serde_json::json!({"TEN_TRUONG": format!("Trường số {i}"), "SO_HS": 300 * (i + 1)}),
                )
            })
            .collect(),
    );

    let server = Bando::start(bando(&db));
    let (status, _) = server.get("/collections/truong_hoc").await;
    assert_eq!(status, 404, "no such layer before the import");

    let o = run(bando(&db)
        .arg("import")
        .arg(&file)
        .args(["--new-layer", "truong_hoc", "--sector", "education"])
        .args(["--title", "Trường học", "--title-en", "Schools"]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("layer truong_hoc"), "{}", text(&o));

    // Items with a CQL2 filter on a column made from the file's field.
    let (_, body) = eventually(
        &server,
        "/collections/truong_hoc/items?filter=so_hs%20%3E%20500",
        |s, _| s == 200,
    )
    .await;
    let items: Value = serde_json::from_str(&body).expect("items json");
    assert_eq!(items["numberMatched"], 2, "{body}");
    let names: Vec<&str> = items["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["properties"]["ten_truong"].as_str().expect("name"))
        .collect();
    assert!(
        names.contains(&"Trường số 1") && names.contains(&"Trường số 2"),
        "{names:?}"
    );

    // Its tile at z15 over the first school.
    let (_, lon, lat) = points[0].clone();
    let t = gis_core::tile::TileCoord::containing(lon, lat, 15).expect("tile");
    let r = reqwest::get(format!(
        "{}/tiles/truong_hoc/15/{}/{}.mvt",
        server.base, t.x, t.y
    ))
    .await
    .expect("tile");
    assert_eq!(r.status(), 200);
    let layers = decode_mvt(&r.bytes().await.expect("bytes"));
    let school = layers
        .iter()
        .find(|l| l.name == "truong_hoc")
        .expect("truong_hoc in its tile");
    assert!(school.features >= 1);
    assert!(school.keys.contains(&"ten_truong".to_string()));

    // The style draws it and describes it for the map's layer tree.
    let (_, body) = server.get("/styles/planning.json").await;
    let style: Value = serde_json::from_str(&body).expect("style");
    let entry = &style["metadata"]["bando:layers"]["truong_hoc"];
    assert_eq!(entry["title_vi"], "Trường học", "{entry}");
    assert_eq!(entry["sector"], "education");
    assert!(style["metadata"]["bando:sectors"]
        .as_array()
        .expect("sectors")
        .iter()
        .any(|s| s["id"] == "education" && s["title_vi"] == "Giáo dục"));
    assert!(style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .any(|l| l["metadata"]["bando:layer"] == "truong_hoc"));

    // `bando layer`: list, set (picked up by the running server), drop.
    let o = run(bando(&db).args(["layer", "list"]));
    assert!(o.status.success(), "{}", text(&o));
    let listed = text(&o);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("truong_hoc") && l.contains("added")),
        "{listed}"
    );
    assert!(listed
        .lines()
        .any(|l| l.starts_with("parcels") && l.contains("built-in")));
    let o = run(bando(&db).args([
        "layer",
        "set",
        "truong_hoc",
        "title_en=Schools and kindergartens",
    ]));
    assert!(o.status.success(), "{}", text(&o));
    eventually(&server, "/collections/truong_hoc?f=json", |s, b| {
        s == 200 && b.contains("Schools and kindergartens")
    })
    .await;
    let o = run(bando(&db).args(["layer", "set", "truong_hoc", "zoom=20-3"]));
    assert!(!o.status.success());
    assert!(text(&o).contains("zoom range"), "{}", text(&o));

    let o = run(bando(&db).args(["layer", "drop", "parcels"]));
    assert!(!o.status.success());
    assert!(text(&o).contains("built-in"), "{}", text(&o));
    let o = run(bando(&db).args(["layer", "drop", "truong_hoc"]));
    assert!(
        !o.status.success(),
        "a layer holding features needs --force"
    );
    assert!(text(&o).contains("--force"), "{}", text(&o));
    let o = run(bando(&db).args(["layer", "drop", "truong_hoc", "--force"]));
    assert!(o.status.success(), "{}", text(&o));
    eventually(&server, "/collections/truong_hoc", |s, _| s == 404).await;
    server.stop();
}

#[tokio::test]
async fn a_parcel_file_without_communes_gets_them_from_location() {
    let db = TestDb::new().await;
    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("communes");
    // Two parcels inside communes, one far from every commune, one spread over two.
    let squares: Vec<(String, Value)> = sqlx::query_as(
        "WITH c AS (SELECT legacy_code, geom_3857, ST_PointOnSurface(geom_3857) AS p
                    FROM land.communes ORDER BY legacy_code LIMIT 2)
         SELECT legacy_code, ST_AsGeoJSON(ST_Transform(ST_Expand(p, 15), 4326), 9)::json FROM c
         UNION ALL
         SELECT 'across', ST_AsGeoJSON(ST_Transform(ST_Expand(ST_Envelope(ST_Collect(p)), 50), 4326), 9)::json FROM c
         UNION ALL
         SELECT 'outside', ST_AsGeoJSON(ST_Transform(ST_Expand(ST_Transform(
                  ST_SetSRID(ST_MakePoint(104.0, 21.0), 4326), 3857), 15), 4326), 9)::json",
    )
    .fetch_all(&db.pool)
    .await
    .expect("squares");
    let features: Vec<Value> = squares
        .iter()
        .enumerate()
        .map(|(i, (_, g))| {
            serde_json::json!({"type": "Feature", "geometry": g,
                "properties": {"SHBANDO": 7, "SHTHUA": i + 1, "MALOAIDAT": "ONT"}})
        })
        .collect();
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("thua_dat.geojson");
    write_geojson(&file, features);

    let summary = tests::import(&db.pool, &file, "parcels")
        .await
        .expect("import without a commune field");
    assert_eq!(summary.read, 4);
    assert_eq!(summary.rejected, 2, "{:?}", summary.rejected_by_reason);
    assert!(
        summary
            .findings
            .iter()
            .any(|f| f.contains("commune_code derived from location for 2 features")),
        "{:?}",
        summary.findings
    );
    let reasons: Vec<&String> = summary.rejected_by_reason.keys().collect();
    assert!(
        reasons.iter().any(|r| r.contains("lies in no commune")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("lies across")),
        "{reasons:?}"
    );
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT commune_code, parcel_number FROM land.parcels ORDER BY parcel_number",
    )
    .fetch_all(&db.pool)
    .await
    .expect("parcels");
    assert_eq!(
        stored,
        vec![(squares[0].0.clone(), 1), (squares[1].0.clone(), 2)]
    );

    // The explicit alternative: one commune for the whole file.
    let mut opts = importers::pipeline::ImportOptions::new("parcels");
    opts.set = vec![("commune_code".into(), "25220".into())];
    let summary = importers::pipeline::import(&db.pool, &file, &opts)
        .await
        .expect("import with --set");
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejected_by_reason);
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM land.parcels WHERE commune_code = '25220'")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(n, 4);
    opts.set = vec![("commune_code".into(), "2522".into())];
    let err = importers::pipeline::import(&db.pool, &file, &opts)
        .await
        .expect_err("a malformed commune code is refused");
    assert!(err.to_string().contains("5 digits"), "{err}");
}

#[tokio::test]
async fn a_property_added_to_a_declaration_reaches_the_table_the_apis_and_the_style() {
    let db = TestDb::new().await;
    // The parcels' declaration with one more column, as its owner would write it.
    let mut parcels = land::plugin::layers()
        .into_iter()
        .find(|l| l.table.kind == "parcels")
        .expect("parcels declared");
    let mut columns = parcels.table.columns.to_vec();
    columns.push(
        Column::new("old_sheet_number", ColumnType::Integer, &["SOTOCU"], false)
            .titled("Số tờ cũ", "Former sheet number"),
    );
    parcels.table.columns = Box::leak(columns.into_boxed_slice());

    let added = gis_core::feature::ensure_table(&db.pool, &parcels.table)
        .await
        .expect("ensure table");
    assert_eq!(added, vec!["old_sheet_number"]);
    let again = gis_core::feature::ensure_table(&db.pool, &parcels.table)
        .await
        .expect("ensure table again");
    assert!(again.is_empty(), "idempotent");
    let ty: String = sqlx::query_scalar(
        "SELECT data_type FROM information_schema.columns
         WHERE table_schema = 'land' AND table_name = 'parcels' AND column_name = 'old_sheet_number'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("column");
    assert_eq!(ty, "bigint");

    // The importer maps the legacy field to it.
    let resolved =
        importers::mapping::resolve(&parcels.table, &["SHBANDO".into(), "SOTOCU".into()], None);
    let at = parcels
        .table
        .index_of("old_sheet_number")
        .expect("declared");
    assert_eq!(
        resolved.columns[at].as_ref().map(|(_, f)| f.as_str()),
        Some("SOTOCU")
    );

    // Published with its titles: properties, queryables and the style's layer description.
    let mut registry = gis_core::layer::LayerRegistry::new();
    layers::register(&mut registry, parcels).expect("register");
    let layer = registry.get("parcels").expect("parcels");
    let property = layer
        .properties()
        .into_iter()
        .find(|p| p.name == "old_sheet_number")
        .expect("property");
    assert_eq!(property.title_vi, "Số tờ cũ");
    assert!(
        gis_core::features::queryables(layer.as_ref(), gis_core::layer::Access::Public)
            .iter()
            .any(|q| q.name == "old_sheet_number")
    );
    let style = layers::style::style(
        "planning",
        &registry,
        "http://h",
        &gis_core::layer::Viewer::anonymous(),
    )
    .expect("style");
    let described = style["metadata"]["bando:layers"]["parcels"]["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["name"] == "old_sheet_number")
        .cloned()
        .expect("in the style");
    assert_eq!(described["title_en"], "Former sheet number");
}
