//! Planned functions of planning zones kept as data (issue 13): the code list
//! `planning.zone_functions` (a working list after TT 04/2022/TT-BXD) colours the zones in the
//! served styles with its own palette and gives their legend, names the functions on the
//! portal's sheet, and an import reports functions it does not know (drawn in grey).

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tile_server::app::{app, AppState, Limits};

use tests::TestDb;

fn square(lon: f64, lat: f64, size: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]})
}

const LON: f64 = 106.883;
const LAT: f64 = 11.535;

/// The colour a MapLibre `["match", input, labels, colour, …, fallback]` gives `value` (the
/// input upper-cases the property, as the zones' style does).
fn colour_for(expr: &Value, value: &str) -> String {
    let items = expr.as_array().expect("a match expression");
    assert_eq!(items[0], "match", "{expr}");
    assert_eq!(
        items[1],
        json!(["upcase", ["to-string", ["get", "land_use_function"]]]),
        "{expr}"
    );
    let value = value.to_uppercase();
    for pair in items[2..items.len() - 1].chunks(2) {
        let labels = pair[0].as_array().expect("labels");
        if labels.iter().any(|l| l.as_str() == Some(value.as_str())) {
            return pair[1].as_str().expect("colour").to_string();
        }
    }
    items[items.len() - 1]
        .as_str()
        .expect("fallback")
        .to_string()
}

async fn zone_style(app: &axum::Router) -> (Value, Value) {
    let r = tests::http::send(app, Method::GET, "/styles/public.json", None, &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let style = r.json();
    let fill = style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .find(|l| l["metadata"]["bando:layer"] == "planning_zones" && l["type"] == "fill")
        .expect("the zones' fill layer")["paint"]["fill-color"]
        .clone();
    let described = style["metadata"]["bando:layers"]["planning_zones"].clone();
    (fill, described)
}

#[tokio::test]
async fn planning_zones_are_coloured_and_titled_by_function_from_the_code_list() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let list = planning::functions::load(pool).await.expect("the list");
    let codes: Vec<&str> = list.0.iter().map(|f| f.code.as_str()).collect();
    for group in [
        "OHT", "OM", "CC", "GD", "YT", "VH", "TDTT", "CX", "TMDV", "HH", "CN", "KT", "HTKT", "GT",
        "TG", "ANQP", "NN", "MN",
    ] {
        assert!(codes.contains(&group), "{group} missing from {codes:?}");
    }
    // Its own palette: no function takes the land-use colour of a code it maps.
    for f in &list.0 {
        for code in &f.land_use_codes {
            assert_ne!(
                land::land_use::map_colour(code).map(str::to_lowercase),
                Some(f.colour.clone()),
                "{} drawn like land-use code {code}",
                f.code
            );
        }
    }
    // A land-use code names one function only (the table refuses a second).
    let clash = sqlx::query(
        "UPDATE planning.zone_functions SET land_use_codes = '{ODT}' WHERE code = 'OM'",
    )
    .execute(pool)
    .await
    .expect_err("ODT is the residential function's already");
    assert!(clash.to_string().contains("ODT"), "{clash}");

    // Zones by function code, by a land-use code the list maps, and by an unknown code.
    let dir = tempfile::tempdir().expect("tempdir");
    let zones = dir.path().join("zones.geojson");
    std::fs::write(
        &zones,
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"MAKHU": "Z-1", "CHUCNANG": "OM", "MATDOXD": 60, "HSSDD": 2.5},
             "geometry": square(LON, LAT, 0.001)},
            {"type": "Feature", "properties": {"MAKHU": "Z-2", "CHUCNANG": "odt", "MATDOXD": 70},
             "geometry": square(LON + 0.002, LAT, 0.001)},
            {"type": "Feature", "properties": {"MAKHU": "Z-3", "CHUCNANG": "XYZ"},
             "geometry": square(LON + 0.001, LAT, 0.001)},
        ]})
        .to_string(),
    )
    .expect("write");
    let summary = importers::pipeline::import(
        pool,
        &zones,
        &importers::pipeline::ImportOptions::new("planning_zones"),
    )
    .await
    .expect("zones imported");
    let finding = summary
        .findings
        .iter()
        .find(|f| f.contains("not in the code list"))
        .unwrap_or_else(|| panic!("no finding on XYZ: {:?}", summary.findings));
    assert!(
        finding.contains("\"XYZ\" ×1") && !finding.contains("odt") && !finding.contains("OM"),
        "{finding}"
    );
    // A parcel across Z-1 and Z-3.
    let parcel = dir.path().join("thua.geojson");
    std::fs::write(
        &parcel,
        json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"MAXA": "25195", "SHBANDO": 4, "SHTHUA": 17, "MALOAIDAT": "ONT"},
            "geometry": square(LON + 0.0008, LAT + 0.0002, 0.0004)}]})
        .to_string(),
    )
    .expect("write");
    tests::import(pool, &parcel, "parcels")
        .await
        .expect("parcel");
    let parcel_id: i64 = sqlx::query_scalar("SELECT id FROM land.parcels")
        .fetch_one(pool)
        .await
        .expect("id");

    // The served style (registry built from the database, as `bando serve` does).
    let state = AppState::new(pool.clone()).expect("state");
    state.tiles.reload_layers().await;
    let app = app(state.clone(), Limits::default());
    let (fill, described) = zone_style(&app).await;
    let colour = |code: &str| {
        list.resolve(code)
            .map(|f| f.colour.clone())
            .expect("a listed function")
    };
    assert_eq!(colour_for(&fill, "OM"), colour("OM"), "{fill}");
    assert_eq!(colour_for(&fill, "odt"), colour("O"), "{fill}");
    assert_eq!(colour_for(&fill, "TMD"), colour("TMDV"), "{fill}");
    assert_eq!(
        colour_for(&fill, "XYZ"),
        planning::functions::UNKNOWN_COLOUR,
        "{fill}"
    );
    assert_ne!(
        Some(colour_for(&fill, "ODT")),
        land::land_use::map_colour("ODT").map(str::to_lowercase),
        "the land-use palette"
    );
    // The legend: the list's titles and colours, then the unknown line.
    let legend = described["legend"].as_array().expect("a legend");
    assert_eq!(legend.len(), list.0.len() + 1, "{described}");
    let om = legend
        .iter()
        .find(|e| e["values"][0] == "OM")
        .expect("OM in the legend");
    assert_eq!(
        (om["title_vi"].as_str(), om["title_en"].as_str()),
        (Some("Đất ở mới"), Some("New residential"))
    );
    assert_eq!(
        legend.last().expect("last")["title_vi"],
        planning::functions::UNKNOWN_VI
    );

    // The list is data: a corrected colour reaches the served style (servers reload on the
    // catalog notification; this state is reloaded by hand).
    sqlx::query("UPDATE planning.zone_functions SET colour = '#123456' WHERE code = 'OM'")
        .execute(pool)
        .await
        .expect("update");
    state.tiles.reload_layers().await;
    let (fill, _) = zone_style(&app).await;
    assert_eq!(colour_for(&fill, "OM"), "#123456", "{fill}");

    // The portal's sheet names each zone's function from the list; the unknown one says so.
    let r = tests::http::send(
        &app,
        Method::GET,
        &format!("/portal/api/sheet/{parcel_id}"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let sheet = r.json();
    let zone = |code: &str| {
        sheet["zones"]
            .as_array()
            .expect("zones")
            .iter()
            .find(|z| z["zone_code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("zone {code} on the sheet: {sheet}"))
    };
    let z1 = zone("Z-1");
    assert_eq!(z1["planned_function"], "OM");
    assert_eq!(z1["function_name_vi"], "Đất ở mới");
    assert_eq!(z1["function_name_en"], "New residential");
    assert_eq!(z1["function_colour"], "#123456");
    assert_eq!(z1["far"], 2.5);
    let z3 = zone("Z-3");
    assert_eq!(z3["function_code"], "XYZ");
    assert_eq!(z3["planned_function"], Value::Null);
    assert_eq!(z3["function_name_vi"], planning::functions::UNKNOWN_VI);
    assert_eq!(z3["function_colour"], planning::functions::UNKNOWN_COLOUR);
}

#[tokio::test]
async fn buildings_are_extruded_in_the_styles_and_planned_ones_follow_their_plan() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, features: Value| {
        let path = dir.path().join(format!("{name}.geojson"));
        std::fs::write(
            &path,
            json!({"type": "FeatureCollection", "features": features}).to_string(),
        )
        .expect("write");
        path
    };
    // An existing house (no plan: in force for everyone) and a planned tower in a draft plan.
    let existing = file(
        "existing",
        json!([{"type": "Feature", "properties": {"MACT": "CT-1", "TRANGTHAI": "existing", "SOTANG": 3, "CHIEUCAO": 11.7},
                "geometry": square(LON, LAT, 0.0002)}]),
    );
    importers::pipeline::import(
        pool,
        &existing,
        &importers::pipeline::ImportOptions::new("buildings"),
    )
    .await
    .expect("existing buildings");
    let draft = planning::plans::create_draft(
        pool,
        &planning::plans::NewPlan {
            name: "Công trình dự kiến".into(),
            level: "detailed".into(),
            ..Default::default()
        },
    )
    .await
    .expect("draft");
    let planned = file(
        "planned",
        json!([{"type": "Feature", "properties": {"MACT": "QH-1", "TRANGTHAI": "planned", "SOTANG": 15},
                "geometry": square(LON + 0.0003, LAT, 0.0002)}]),
    );
    let mut opts = importers::pipeline::ImportOptions::new("buildings");
    opts.set.push(("plan_id".into(), draft.to_string()));
    importers::pipeline::import(pool, &planned, &opts)
        .await
        .expect("planned buildings");
    /// Code, status, floors, height.
    type Row = (String, Option<String>, Option<i64>, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT building_code, status, floors, height_m FROM planning.buildings ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("rows");
    assert_eq!(
        rows,
        vec![
            ("CT-1".into(), Some("existing".into()), Some(3), Some(11.7)),
            ("QH-1".into(), Some("planned".into()), Some(15), None)
        ]
    );

    let state = AppState::new(pool.clone()).expect("state");
    state.tiles.reload_layers().await;
    let app = app(state, Limits::default());
    // Both styles draw buildings in 3D: height, else floors × 3.6 m; planned ones in their colour.
    for id in ["planning", "public"] {
        let r = tests::http::send(
            &app,
            Method::GET,
            &format!("/styles/{id}.json"),
            None,
            &[],
            None,
        )
        .await;
        let style = r.json();
        let layers = style["layers"].as_array().expect("layers");
        let extrusion = layers
            .iter()
            .find(|l| l["id"] == "buildings-extrusion")
            .unwrap_or_else(|| panic!("no buildings-extrusion in {id}"));
        assert_eq!(extrusion["type"], "fill-extrusion");
        assert_eq!(extrusion["minzoom"], 15);
        assert_eq!(
            extrusion["paint"]["fill-extrusion-height"],
            json!([
                "coalesce",
                ["get", "height_m"],
                ["*", ["coalesce", ["get", "floors"], 1], 3.6]
            ])
        );
        assert_eq!(
            extrusion["paint"]["fill-extrusion-color"][3],
            planning::plugin::PLANNED_BUILDING
        );
        assert!(
            !layers.iter().any(|l| l["id"] == "buildings-fill"),
            "a flat fill under the extrusion in {id}"
        );
        let legend = &style["metadata"]["bando:layers"]["buildings"]["legend"];
        assert_eq!(
            legend[1]["title_vi"], "Công trình theo quy hoạch",
            "{legend}"
        );
    }
    // The draft's tower is for planners: the public reads the existing house only.
    let items = tests::http::send(
        &app,
        Method::GET,
        "/collections/buildings/items?limit=10",
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(items.status, StatusCode::OK, "{}", items.text());
    let json = items.json();
    let codes: Vec<&str> = json["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["building_code"].as_str())
        .collect();
    assert_eq!(codes, ["CT-1"]);
}

#[tokio::test]
async fn buildings_on_a_parcel_are_in_its_planning_report_and_its_printed_sheet() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, features: Value| {
        let path = dir.path().join(format!("{name}.geojson"));
        std::fs::write(
            &path,
            json!({"type": "FeatureCollection", "features": features}).to_string(),
        )
        .expect("write");
        path
    };
    let parcel = file(
        "parcel",
        json!([{"type": "Feature", "properties": {"MAXA": "25195", "SHBANDO": 4, "SHTHUA": 17, "MALOAIDAT": "ONT"},
                "geometry": square(LON, LAT, 0.0006)}]),
    );
    tests::import(pool, &parcel, "parcels")
        .await
        .expect("parcel");
    let import_buildings = |path: std::path::PathBuf, plan: Option<i64>| async move {
        let mut opts = importers::pipeline::ImportOptions::new("buildings");
        if let Some(plan) = plan {
            opts.set.push(("plan_id".into(), plan.to_string()));
        }
        importers::pipeline::import(pool, &path, &opts)
            .await
            .expect("buildings");
    };
    // Existing: a house wholly on the parcel, and the neighbour's, touching its edge only.
    let existing = file(
        "existing",
        json!([
            {"type": "Feature", "properties": {"MACT": "CT-1", "TENCT": "Nhà ở", "TRANGTHAI": "existing", "SOTANG": 3, "CHIEUCAO": 11.7},
             "geometry": square(LON + 0.0001, LAT + 0.0001, 0.0002)},
            {"type": "Feature", "properties": {"MACT": "CT-9", "TRANGTHAI": "existing", "SOTANG": 2},
             "geometry": square(LON + 0.0006, LAT + 0.0003, 0.0002)}]),
    );
    import_buildings(existing, None).await;
    // Planned by an approved plan: a tower half on the parcel (its east half beyond the edge).
    let approved = planning::plans::create_draft(
        pool,
        &planning::plans::NewPlan {
            name: "Quy hoạch chi tiết 1/500".into(),
            level: "detailed".into(),
            ..Default::default()
        },
    )
    .await
    .expect("plan");
    let tower = file(
        "tower",
        json!([{"type": "Feature", "properties": {"MACT": "QH-1", "TRANGTHAI": "planned", "SOTANG": 15},
                "geometry": square(LON + 0.0005, LAT + 0.0001, 0.0002)}]),
    );
    import_buildings(tower, Some(approved)).await;
    planning::plans::approve(
        pool,
        approved,
        &planning::plans::Approval {
            decision_number: "77/QĐ-UBND".into(),
            ..Default::default()
        },
    )
    .await
    .expect("approve");
    // Planned by a draft: for planners only.
    let draft = planning::plans::create_draft(
        pool,
        &planning::plans::NewPlan {
            name: "Phương án đang lập".into(),
            level: "detailed".into(),
            ..Default::default()
        },
    )
    .await
    .expect("draft");
    let kiosk = file(
        "kiosk",
        json!([{"type": "Feature", "properties": {"MACT": "QH-2", "TRANGTHAI": "planned", "SOTANG": 1},
                "geometry": square(LON + 0.0001, LAT + 0.0004, 0.0001)}]),
    );
    import_buildings(kiosk, Some(draft)).await;

    let issuer = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", dir.path().join("keys")),
        |_| None,
    )
    .expect("dev issuer");
    let state = AppState::new(pool.clone()).expect("state");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    assert!(state.verifier.set(verifier).is_ok());
    state.tiles.reload_layers().await;
    let app = app(state, Limits::default());
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let report = "/query/planning-report?commune=25195&sheet=4&number=17";
    let codes = |r: &Value| -> Vec<String> {
        r["buildings"]
            .as_array()
            .expect("buildings")
            .iter()
            .map(|b| b["building_code"].as_str().expect("code").to_string())
            .collect()
    };

    // The public report: the house, then the approved tower; not the neighbour's, not the draft's.
    let r = tests::http::send(&app, Method::GET, report, None, &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let public = r.json();
    assert_eq!(codes(&public), ["CT-1", "QH-1"], "{public}");
    let house = &public["buildings"][0];
    assert_eq!(
        (
            &house["status"],
            &house["floors"],
            &house["height_m"],
            &house["name"]
        ),
        (&json!("existing"), &json!(3), &json!(11.7), &json!("Nhà ở"))
    );
    let (footprint, on) = (
        house["footprint_m2"].as_f64().expect("footprint"),
        house["on_parcel_m2"].as_f64().expect("on parcel"),
    );
    // 0.0002° square near 11.5° N: about 22 m × 21.8 m.
    assert!((400.0..560.0).contains(&footprint), "{footprint}");
    assert!(
        (on - footprint).abs() < 1e-6 * footprint,
        "{on} of {footprint}"
    );
    let tower = &public["buildings"][1];
    assert_eq!(
        (&tower["status"], &tower["floors"], &tower["plan_id"]),
        (&json!("planned"), &json!(15), &json!(approved))
    );
    let share =
        tower["on_parcel_m2"].as_f64().expect("on") / tower["footprint_m2"].as_f64().expect("fp");
    assert!((share - 0.5).abs() < 0.01, "{share}");
    // Planners read the draft's kiosk too.
    let r = tests::http::send(&app, Method::GET, report, Some(&planner), &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(codes(&r.json()), ["CT-1", "QH-1", "QH-2"], "{}", r.text());

    // The portal's sheet (JSON) and the printed sheet (PDF) list the same buildings.
    let id = public["parcel"]["id"].as_i64().expect("parcel id");
    let sheet = tests::http::send(
        &app,
        Method::GET,
        &format!("/portal/api/sheet/{id}"),
        None,
        &[],
        None,
    )
    .await
    .json();
    assert_eq!(codes(&sheet), ["CT-1", "QH-1"], "{sheet}");
    let pdf = tests::http::send(
        &app,
        Method::GET,
        &format!("/portal/api/sheet/{id}/pdf"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(pdf.status, StatusCode::OK, "{}", pdf.text());
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, &pdf.body).expect("write");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    // The map draws buildings by status as the 3D map colours them, and its legend says so
    // (no code before the title: a status is not a code).
    let legend = &text[text
        .find("Chú giải bản đồ")
        .unwrap_or_else(|| panic!("no map legend:\n{text}"))..];
    for title in ["Công trình hiện trạng", "Công trình theo quy hoạch"] {
        let line = legend
            .lines()
            .find(|l| l.contains(title))
            .unwrap_or_else(|| panic!("{title} not in the legend:\n{legend}"));
        assert!(!line.contains(" — "), "{line}");
    }
    let section = &text[text
        .find("5. Công trình xây dựng trên thửa đất")
        .unwrap_or_else(|| panic!("no buildings section:\n{text}"))..];
    let line = |code: &str| {
        section
            .lines()
            .find(|l| l.contains(code))
            .unwrap_or_else(|| panic!("{code} not printed:\n{section}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let house_line = line("CT-1");
    assert!(
        house_line.contains("CT-1 (Nhà ở) Hiện trạng 3 11,7 m"),
        "{house_line}"
    );
    let tower_line = line("QH-1");
    assert!(
        tower_line.contains("QH-1 Theo quy hoạch 15 —"),
        "{tower_line}"
    );
    assert!(
        !section.contains("QH-2") && !section.contains("CT-9"),
        "{section}"
    );
}
