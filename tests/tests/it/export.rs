//! `bando export`: offline packs written by the real binary from real PostGIS, read back by
//! other readers — SQLite itself and GDAL's MBTiles driver for MBTiles, the PyPI `pmtiles`
//! package for PMTiles — and compared tile by tile with what the server answers.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use gis_core::tile::{tiles_covering, Bounds};
use tests::{bando_bin, decode_mvt, TestDb};
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;

const LAYERS: &str = "communes,parcels,cameras";

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("stored tiles are gzip");
    out
}

fn export(db_url: &str, args: &[&str]) -> Output {
    // A data dir of its own: its tile store is new (tilestore.rs tests exports from a store).
    let data = tempfile::tempdir().expect("tempdir");
    Command::new(bando_bin())
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .arg("--data-dir")
        .arg(data.path())
        .arg("export")
        .args(args)
        .output()
        .expect("run bando export")
}

/// (z, x, y) → uncompressed MVT.
pub(crate) type Tiles = BTreeMap<(u8, u32, u32), Vec<u8>>;

/// Imports communes, parcels (with owner names) and cameras of a small sample set.
async fn sample_db() -> TestDb {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let set = sample::write_sample_with(
        dir.path(),
        &sample::SampleOptions {
            seed: 2025,
            parcels: 512,
        },
    )
    .expect("sample");
    let mut done = std::collections::BTreeSet::new();
    for f in set
        .files
        .iter()
        .filter(|f| !f.copy && ["communes", "parcels", "cameras"].contains(&f.layer))
    {
        if !done.insert((f.path.clone(), f.layer)) {
            continue;
        }
        let mut opts = importers::pipeline::ImportOptions::new(f.layer);
        if f.path.extension().is_some_and(|e| e == "csv") {
            opts.srs = Some(f.srid);
        }
        importers::pipeline::import(&db.pool, &f.path, &opts)
            .await
            .expect("import");
    }
    db
}

/// What the server answers (plain MVT) for every tile of the area at the zooms, empty ones left
/// out.
async fn served(db: &TestDb, area: &Bounds, zooms: std::ops::RangeInclusive<u8>) -> Tiles {
    let router = app(
        AppState::new(db.pool.clone()).expect("state"),
        Limits::default(),
    );
    let mut out = Tiles::new();
    for z in zooms {
        for t in tiles_covering(area, z) {
            let uri = format!("/tiles/{LAYERS}/{}/{}/{}.mvt", t.z, t.x, t.y);
            let r = router
                .clone()
                .oneshot(Request::get(&uri).body(Body::empty()).expect("req"))
                .await
                .expect("response");
            match r.status() {
                StatusCode::NO_CONTENT => {}
                StatusCode::OK => {
                    let body = to_bytes(r.into_body(), 50 << 20).await.expect("body");
                    out.insert((t.z, t.x, t.y), body.to_vec());
                }
                other => panic!("{uri}: {other}"),
            }
        }
    }
    out
}

pub(crate) fn read_mbtiles(path: &Path) -> (Tiles, BTreeMap<String, String>) {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open mbtiles");
    let mut tiles = Tiles::new();
    let mut st = conn
        .prepare("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
        .expect("tiles table");
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, u8>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .expect("query");
    for row in rows {
        let (z, x, tms_row, data) = row.expect("row");
        // MBTiles rows count from the south (TMS).
        let y = (1u32 << z) - 1 - tms_row;
        assert!(tiles.insert((z, x, y), gunzip(&data)).is_none());
    }
    let mut st = conn
        .prepare("SELECT name, value FROM metadata")
        .expect("metadata table");
    let metadata = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    (tiles, metadata)
}

fn python() -> std::path::PathBuf {
    let venv = tests::workspace_root().join("target/venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/install-deps.sh (it creates target/venv with pmtiles)",
        venv.display()
    );
    venv
}

#[tokio::test]
async fn exported_packs_hold_exactly_the_servers_non_empty_tiles() {
    let db = sample_db().await;
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(geom_3857), 4326) AS c
         FROM land.parcels ORDER BY id LIMIT 1) p",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a parcel");
    // A strip from a parcel eastwards past the sample's communes, so that the pack has empty
    // tiles to skip as well.
    let area = Bounds::new(lon - 0.02, lat - 0.02, lon + 0.6, lat + 0.02);
    let bbox = format!(
        "{},{},{},{}",
        area.min_x, area.min_y, area.max_x, area.max_y
    );
    let zooms = 11..=14u8;
    let expected = served(&db, &area, zooms.clone()).await;
    let addressed: usize = zooms
        .clone()
        .map(|z| tiles_covering(&area, z).count())
        .sum();
    assert!(
        expected.len() > 4 && expected.len() < addressed,
        "the area has both non-empty ({}) and empty tiles ({addressed} addressed)",
        expected.len()
    );
    assert!(expected.keys().any(|k| k.0 == 14));

    let dir = tempfile::tempdir().expect("tempdir");
    let mbtiles = dir.path().join("pack.mbtiles");
    let pmtiles = dir.path().join("pack.pmtiles");
    for out in [&mbtiles, &pmtiles] {
        let o = export(
            &db.url,
            &[
                "--bbox",
                &bbox,
                "--minzoom",
                "11",
                "--maxzoom",
                "14",
                "--layers",
                LAYERS,
                out.to_str().expect("utf-8 path"),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains(&format!("wrote {} tiles", expected.len())),
            "{stdout}"
        );
    }
    // Only the two packs: no temporary or scratch file is left.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["pack.mbtiles", "pack.pmtiles"]);

    // MBTiles through SQLite: the same tiles, rows flipped, byte for byte the server's MVT.
    let (tiles, meta) = read_mbtiles(&mbtiles);
    assert_eq!(
        tiles.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (k, raw) in &expected {
        assert_eq!(&tiles[k], raw, "tile {k:?}");
    }
    assert_eq!(meta["format"], "pbf");
    assert_eq!(meta["minzoom"], "11");
    assert_eq!(meta["maxzoom"], "14");
    let bounds: Vec<f64> = meta["bounds"]
        .split(',')
        .map(|v| v.parse().expect("number"))
        .collect();
    for (got, want) in bounds
        .iter()
        .zip([area.min_x, area.min_y, area.max_x, area.max_y])
    {
        assert!((got - want).abs() < 1e-9, "bounds {bounds:?} vs {area:?}");
    }
    let json: serde_json::Value = serde_json::from_str(&meta["json"]).expect("json metadata");
    let ids: Vec<&str> = json["vector_layers"]
        .as_array()
        .expect("vector_layers")
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["communes", "parcels", "cameras"]);
    let parcels = &json["vector_layers"][1];
    assert!(parcels["fields"].get("land_use_code").is_some());
    assert!(parcels["fields"].get("owner_name").is_none());

    // Owner names are in the database but in no tile of the pack.
    let owners: i64 =
        sqlx::query_scalar("SELECT count(*) FROM land.parcels WHERE owner_name IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert!(owners > 0, "the sample has owner names to withhold");
    let mut with_parcels = 0;
    for raw in tiles.values() {
        for layer in decode_mvt(raw) {
            assert!(!layer.keys.contains(&"owner_name".to_string()));
            with_parcels += usize::from(layer.name == "parcels" && layer.features > 0);
        }
    }
    assert!(with_parcels > 0, "parcels are in the pack");

    // GDAL's MBTiles driver reads the pack as vector layers.
    let ds = gdal::Dataset::open(&mbtiles).expect("GDAL opens the MBTiles pack");
    use gdal::vector::LayerAccess;
    let layer_names: Vec<String> = ds.layers().map(|l| l.name()).collect();
    assert!(
        layer_names.iter().any(|n| n == "parcels") && layer_names.iter().any(|n| n == "communes"),
        "{layer_names:?}"
    );

    // PMTiles through the independent Python reader: same tiles and bytes as the MBTiles pack.
    let (header, metadata, stored) = read_pmtiles(&pmtiles);
    assert_eq!(header["tile_type"], "MVT");
    assert_eq!(header["tile_compression"], "GZIP");
    assert_eq!(header["clustered"], true);
    assert_eq!(header["max_zoom"], 14);
    assert_eq!(header["addressed_tiles_count"], expected.len());
    assert!((header["min_lon_e7"].as_f64().expect("lon") / 1e7 - area.min_x).abs() < 1e-6);
    assert!((header["max_lat_e7"].as_f64().expect("lat") / 1e7 - area.max_y).abs() < 1e-6);
    assert_eq!(
        metadata["vector_layers"], json["vector_layers"],
        "both packs describe the layers as TileJSON does"
    );
    let from_pm: Tiles = stored.into_iter().map(|(k, v)| (k, gunzip(&v))).collect();
    assert_eq!(from_pm, tiles, "PMTiles and MBTiles hold the same tiles");
}

#[test]
fn export_refuses_bad_arguments_and_leaves_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    // (bbox, minzoom, maxzoom, layers, extra flags) → what the message must say.
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [&'a str], &'a str);
    let cases: [Case; 7] = [
        (
            "170,10,190,12",
            "10",
            "12",
            "communes",
            &[],
            "outside the world",
        ),
        ("106,11,107", "10", "12", "communes", &[], "give four"),
        (
            "107,11,106,12",
            "10",
            "12",
            "communes",
            &[],
            "west must be less than east",
        ),
        (
            "106.8,11.4,107.0,11.6",
            "13",
            "12",
            "communes",
            &[],
            "is above --maxzoom",
        ),
        (
            "106.8,11.4,107.0,11.6",
            "10",
            "12",
            "communes,khong_co",
            &[],
            "there is no layer \"khong_co\"",
        ),
        (
            "100,8,110,20",
            "10",
            "16",
            "communes",
            &[],
            "more than 500000 tiles",
        ),
        (
            "500000,1200000,510000,1210000",
            "10",
            "12",
            "communes",
            &["--bbox-crs", "EPSG:999999"],
            "--bbox-crs",
        ),
    ];
    for (i, (bbox, minzoom, maxzoom, layers, extra, message)) in cases.iter().enumerate() {
        let target = out(&format!("case{i}.mbtiles"));
        let mut args = vec![
            "--bbox",
            bbox,
            "--minzoom",
            minzoom,
            "--maxzoom",
            maxzoom,
            "--layers",
            layers,
        ];
        args.extend_from_slice(extra);
        args.push(&target);
        let o = export("postgres://127.0.0.1:1/none", &args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i} {args:?} succeeded");
        assert!(stderr.contains(message), "case {i}: {stderr}");
    }
    let o = export(
        "postgres://127.0.0.1:1/none",
        &[
            "--bbox",
            "106.8,11.4,107.0,11.6",
            "--minzoom",
            "10",
            "--maxzoom",
            "12",
            "--layers",
            "communes",
            &out("pack.geojson"),
        ],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(".mbtiles or .pmtiles"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Good arguments, but no database: it fails too, and still leaves nothing behind.
    let o = export(
        "postgres://127.0.0.1:1/none",
        &[
            "--bbox",
            "106.8,11.4,107.0,11.6",
            "--minzoom",
            "10",
            "--maxzoom",
            "12",
            "--layers",
            "communes",
            &out("pack.pmtiles"),
        ],
    );
    assert!(!o.status.success());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

/// Reads a PMTiles archive with the Python reader: (header, metadata, z/x/y → stored bytes).
fn read_pmtiles(path: &Path) -> (serde_json::Value, serde_json::Value, Tiles) {
    let o = Command::new(python())
        .arg(tests::workspace_root().join("tests/tests/it/pmtiles_read.py"))
        .arg(path)
        .output()
        .expect("run the pmtiles reader");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut read: serde_json::Value = serde_json::from_slice(&o.stdout).expect("reader json");
    let mut tiles = BTreeMap::new();
    for t in read["tiles"].as_array().expect("tiles") {
        let hex = t[3].as_str().expect("hex");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        let key = (
            t[0].as_u64().expect("z") as u8,
            t[1].as_u64().expect("x") as u32,
            t[2].as_u64().expect("y") as u32,
        );
        assert!(tiles.insert(key, bytes).is_none(), "{key:?} twice");
    }
    (read["header"].take(), read["metadata"].take(), tiles)
}

#[test]
fn a_large_pmtiles_archive_gets_leaf_directories_readable_by_another_reader() {
    use tiles::export::pmtiles::PmTilesWriter;
    use tiles::export::{PackInfo, PackWriter};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.pmtiles");
    let mut writer = Box::new(PmTilesWriter::create(&path).expect("create"));
    let mut written = BTreeMap::new();
    // Every tile of zooms 0–8 (87,381), in row order, with contents of varying length so that
    // the directory does not compress into the 16 KiB root.
    for z in 0..=8u8 {
        for y in 0..(1u32 << z) {
            for x in 0..(1u32 << z) {
                let text = format!("{z}/{x}/{y};");
                let bytes = text
                    .repeat(1 + (x as usize * 7 + y as usize * 13) % 9)
                    .into_bytes();
                writer
                    .add(
                        gis_core::tile::TileCoord::new(z, x, y).expect("tile"),
                        &bytes,
                    )
                    .expect("add");
                written.insert((z, x, y), bytes);
            }
        }
    }
    writer
        .finish(&PackInfo {
            name: "test".into(),
            bounds: Bounds::new(-180.0, -85.0, 180.0, 85.0),
            minzoom: 0,
            maxzoom: 8,
            vector_layers: vec![serde_json::json!({"id": "t", "fields": {}})],
        })
        .expect("finish");
    let (header, metadata, tiles) = read_pmtiles(&path);
    assert!(
        header["leaf_directory_length"].as_u64().expect("length") > 0,
        "leaf directories were needed: {header}"
    );
    assert!(
        header["root_offset"].as_u64().expect("o") + header["root_length"].as_u64().expect("l")
            <= 16_384
    );
    assert_eq!(header["addressed_tiles_count"], written.len());
    assert_eq!(metadata["vector_layers"][0]["id"], "t");
    assert_eq!(tiles.len(), written.len());
    assert!(tiles == written, "every tile reads back with its bytes");
}

#[test]
fn an_export_area_may_be_given_in_vn2000() {
    let registry = layers::registry().expect("registry");
    let request = tiles::export::ExportRequest::new(
        &registry,
        "499000,1269000,501000,1271000",
        Some("EPSG:9212"),
        12,
        14,
        "parcels",
        Path::new("/tmp/area.pmtiles"),
        false,
    )
    .expect("a VN-2000 TM-3 box");
    assert_eq!(request.format, tiles::export::PackFormat::PmTiles);
    let b = request.bounds;
    // E 500000 N 1270000 in EPSG:9212 is 106.251791824 E, 11.484093230 N (EPSG:6960, cs2cs).
    let (lon, lat) = ((b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0);
    assert!((lon - 106.251_791_824).abs() < 1e-4, "{b:?}");
    assert!((lat - 11.484_093_230).abs() < 1e-4, "{b:?}");
    // 2 km is about 0.018° of longitude and latitude here.
    assert!((b.max_x - b.min_x - 0.0184).abs() < 0.001, "{b:?}");
    assert!((b.max_y - b.min_y - 0.0181).abs() < 0.001, "{b:?}");
}

#[test]
fn identical_pmtiles_tiles_are_stored_once_and_still_read_back_everywhere() {
    use tiles::export::pmtiles::PmTilesWriter;
    use tiles::export::{PackInfo, PackWriter};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("same.pmtiles");
    let mut writer = Box::new(PmTilesWriter::create(&path).expect("create"));
    let mut written = BTreeMap::new();
    // Zooms 0–5 (1,365 tiles): the same bytes everywhere but on the diagonal.
    for z in 0..=5u8 {
        for y in 0..(1u32 << z) {
            for x in 0..(1u32 << z) {
                let bytes = if x == y {
                    format!("diagonal {z}/{x}").into_bytes()
                } else {
                    b"the inside of a commune".to_vec()
                };
                writer
                    .add(
                        gis_core::tile::TileCoord::new(z, x, y).expect("tile"),
                        &bytes,
                    )
                    .expect("add");
                written.insert((z, x, y), bytes);
            }
        }
    }
    writer
        .finish(&PackInfo {
            name: "same".into(),
            bounds: Bounds::new(-180.0, -85.0, 180.0, 85.0),
            minzoom: 0,
            maxzoom: 5,
            vector_layers: vec![],
        })
        .expect("finish");
    let (header, _, tiles) = read_pmtiles(&path);
    let diagonal: usize = (0..=5u32).map(|z| 1usize << z).sum();
    assert_eq!(header["addressed_tiles_count"], written.len());
    assert_eq!(header["tile_contents_count"], diagonal + 1);
    let entries = header["tile_entries_count"].as_u64().expect("entries") as usize;
    assert!(
        entries < written.len(),
        "runs of identical tiles share an entry: {entries}"
    );
    let data = header["tile_data_length"].as_u64().expect("length") as usize;
    let unique: usize = written
        .values()
        .collect::<std::collections::BTreeSet<_>>()
        .iter()
        .map(|b| b.len())
        .sum();
    assert_eq!(data, unique, "each content once");
    assert!(tiles == written, "every tile reads back with its bytes");
}
