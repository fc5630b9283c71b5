use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gdal::vector::LayerAccess;
use gdal::Dataset;
use importers::encoding::{encode_tcvn3_lossy, encode_vni};

use super::gdalio::Named;
use super::parcels::{for_each_parcel, shoelace2, Plan};
use super::region::{REGIONS, STEPS};
use super::*;

fn opts(seed: u64, parcels: u64) -> SampleOptions {
    SampleOptions { seed, parcels }
}

/// Every feature of every written layer as text: attribute values and WKT.
fn dump(set: &SampleSet) -> Vec<String> {
    let mut out = Vec::new();
    for f in &set.files {
        let ds = Dataset::open(&f.path).expect("open");
        let mut layer = ds.layer_by_name(&f.gdal_layer).expect("layer");
        for feature in layer.features() {
            let fields: Vec<String> = feature
                .fields()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let wkt = feature
                .geometry()
                .map(|g| g.wkt().expect("wkt"))
                .unwrap_or_default();
            out.push(format!("{}|{}|{wkt}", f.path.display(), fields.join(";")));
        }
    }
    out
}

fn text(f: &gdal::vector::Feature<'_>, name: &str) -> String {
    let i = f.field_index(name).expect("field");
    f.field_as_string(i).expect("text").unwrap_or_default()
}

fn int(f: &gdal::vector::Feature<'_>, name: &str) -> i64 {
    let i = f.field_index(name).expect("field");
    f.field_as_integer64(i).expect("integer").expect("not null")
}

fn real(f: &gdal::vector::Feature<'_>, name: &str) -> f64 {
    let i = f.field_index(name).expect("field");
    f.field_as_double(i).expect("real").expect("not null")
}

fn file<'a>(set: &'a SampleSet, name: &str) -> &'a SampleFile {
    set.files
        .iter()
        .find(|f| f.path.file_name().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("{name} not written"))
}

/// Ring points of a polygon read back through GDAL.
fn ring_of(g: &gdal::vector::Geometry) -> Vec<(f64, f64)> {
    let mut g = g.clone();
    while g.geometry_count() > 0 {
        g = g.get_geometry(0).clone();
    }
    let mut pts = Vec::new();
    g.get_points(&mut pts);
    pts.into_iter().map(|(x, y, _)| (x, y)).collect()
}

#[test]
fn rng_is_deterministic_and_in_range() {
    let a: Vec<f64> = (0..100).map(|i| SampleRng::at(7, i, 3)).collect();
    let b: Vec<f64> = (0..100).map(|i| SampleRng::at(7, i, 3)).collect();
    assert_eq!(a, b);
    assert!(a.iter().all(|v| (0.0..1.0).contains(v)));
    assert_ne!(SampleRng::at(7, 1, 2), SampleRng::at(8, 1, 2));
}

#[test]
fn neighbours_share_their_edge() {
    // The east edge of commune (0,0) is the west edge of commune (1,0), point for point.
    let left = commune_ring(&BINH_PHUOC, 1, 0, 0);
    let right = commune_ring(&BINH_PHUOC, 1, 1, 0);
    let p = BINH_PHUOC.corner(1, STEPS, 3);
    assert!(left.contains(&p) && right.contains(&p));
}

#[test]
fn binh_phuoc_lattice_is_the_original_one() {
    // The formula of the first sample generator: communes.gpkg must not move.
    let original = |seed: u64, i: i64, j: i64| {
        let step = 4000.0 / 8.0;
        let e = 560_000.0 + i as f64 * step + (SampleRng::at(seed, i, j) - 0.5) * 2.0 * 120.0;
        let n = 1_268_000.0
            + j as f64 * step
            + (SampleRng::at(seed ^ 0xA5A5, i, j) - 0.5) * 2.0 * 120.0;
        (e, n)
    };
    for (i, j) in [(0, 0), (5, 7), (32, 24), (17, 3)] {
        assert_eq!(BINH_PHUOC.lattice(2025, i, j), original(2025, i, j));
    }
    // And the stored values are the {:.3} text of those points.
    let ring = commune_ring(&BINH_PHUOC, 2025, 1, 2);
    let (e, n) = original(2025, 8, 16);
    let text = |x: f64| format!("{x:.3}").parse::<f64>().expect("number");
    assert_eq!(ring[0], (text(e), text(n)));
    for i in 0..2000 {
        let x = 560_000.0 + f64::from(i) * 0.000_5 + 0.000_000_3;
        assert_eq!(super::region::mm(x), text(x), "{x}");
    }
}

#[test]
fn wgs84_outputs_use_the_epsg_6960_path() {
    // domain.md §1 check vector: EPSG:9212 E 568850.121 N 1275706.945 ↔ 106.883 E, 11.535 N.
    let t = super::gdalio::to_wgs84(9212, Path::new("check")).expect("transform");
    let (mut x, mut y, mut z) = ([568_850.121], [1_275_706.945], [0.0]);
    t.transform_coords(&mut x, &mut y, &mut z)
        .expect("transform");
    assert!(
        (x[0] - 106.883).abs() < 1e-7 && (y[0] - 11.535).abs() < 1e-7,
        "{x:?} {y:?}"
    );
}

#[test]
fn parcel_counts_outside_the_range_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for n in [
        0,
        SampleOptions::MIN_PARCELS - 1,
        SampleOptions::MAX_PARCELS + 1,
    ] {
        let err = write_sample_with(dir.path(), &opts(1, n)).expect_err("refused");
        assert!(err.to_string().contains("sample parcels"), "{err}");
    }
}

/// Every field list the generator writes, with the layer its files deliver.
const WRITTEN: &[(&str, &[Field])] = &[
    ("communes", COMMUNE_FIELDS),
    ("map_sheets", SHEET_FIELDS),
    ("parcels", parcels::PARCEL_FIELDS),
    ("roads", network::ROAD_FIELDS),
    ("red_lines", network::RED_FIELDS),
    ("building_lines", network::BUILDING_FIELDS),
    ("planning_zones", network::ZONE_FIELDS),
    ("buildings", network::BUILDING_FIELDS_3D),
    ("street_lights", network::LIGHT_FIELDS),
    ("traffic_lights", network::TRAFFIC_FIELDS),
    ("cameras", network::CAMERA_FIELDS),
    ("bus_stops", network::STOP_FIELDS),
    ("bus_routes", network::ROUTE_FIELDS),
    ("water_pipes", network::PIPE_FIELDS),
    ("water_valves", network::VALVE_FIELDS),
    ("water_sources", network::SOURCE_FIELDS),
    ("hydrants", network::HYDRANT_FIELDS),
    ("water_meters", network::METER_FIELDS),
    ("drains", network::DRAIN_FIELDS),
    ("manholes", network::MANHOLE_FIELDS),
    ("substations", network::SUBSTATION_FIELDS),
    ("power_lines", network::POWER_LINE_FIELDS),
    ("power_switches", network::SWITCH_FIELDS),
    ("power_customers", network::CUSTOMER_FIELDS),
    ("power_poles", network::POLE_FIELDS),
    ("env_stations", network::ENV_FIELDS),
];

fn written(kind: &str) -> &'static [Field] {
    WRITTEN
        .iter()
        .find(|(k, _)| *k == kind)
        .unwrap_or_else(|| panic!("the sample writes {kind} with no field list in WRITTEN"))
        .1
}

/// The layer `kind` as its owner declares it (the owners' `plugin::layers()`).
fn declaration(kind: &str) -> gis_core::declare::LayerDecl {
    land::plugin::layers()
        .into_iter()
        .chain(planning::plugin::layers())
        .chain(utilities::plugin::layers())
        .chain(sectors::plugin::layers())
        .find(|d| d.table.kind == kind)
        .unwrap_or_else(|| panic!("no owner declares the layer {kind}"))
}

/// Each field the generator writes is named by its layer's declaration — a legacy name (or the
/// name) of the column it stands for, or one of the layer's id fields — and the importer maps
/// it there; a field the layer does not declare goes to `extra`. Fails when a declaration
/// drops a name the sample writes, or starts declaring one the sample writes as extra.
#[test]
fn every_field_written_is_named_by_its_layers_declaration() {
    for (kind, fields) in WRITTEN {
        let table = declaration(kind).table;
        let names: Vec<String> = fields.iter().map(|f| f.name.to_string()).collect();
        let mapping = importers::mapping::resolve(&table, &names, None);
        for (i, field) in fields.iter().enumerate() {
            let name = field.name;
            match field.named {
                Named::Column { kind: of, column } => {
                    assert_eq!(of, *kind, "{kind}: {name} is named by the layer {of}");
                    let at = table
                        .columns
                        .iter()
                        .position(|c| c.name == column)
                        .unwrap_or_else(|| panic!("{kind} declares no column {column}"));
                    let c = &table.columns[at];
                    assert!(
                        c.name == name || c.legacy.contains(&name),
                        "{kind}.{column} no longer declares {name}, which the sample writes"
                    );
                    assert_eq!(
                        mapping.columns[at],
                        Some((i, name.to_string())),
                        "{kind}: the importer does not map {name} to {column}"
                    );
                }
                Named::SourceId { kind: of } => {
                    assert_eq!(of, *kind, "{kind}: {name} is named by the layer {of}");
                    assert!(
                        table.source_id_fields.contains(&name),
                        "{kind} no longer declares {name} as its id field"
                    );
                    assert_eq!(
                        mapping.source_id,
                        Some((i, name.to_string())),
                        "{kind}: the importer does not read ids from {name}"
                    );
                }
                Named::Extra => {
                    let declared = table
                        .source_id_fields
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(name))
                        || table.columns.iter().any(|c| {
                            c.name.eq_ignore_ascii_case(name)
                                || c.legacy.iter().any(|l| l.eq_ignore_ascii_case(name))
                        });
                    assert!(
                        !declared,
                        "{kind} declares {name}: take its name from the declaration"
                    );
                    assert!(
                        mapping.extra.contains(&(i, name.to_string())),
                        "{kind}: the importer does not keep {name} in extra"
                    );
                }
            }
        }
    }
}

/// A point's exact coordinates, hashable.
type Bits = (u64, u64);

/// Checks, without GDAL, that the parcels of each region are exactly noded and tile it: every
/// interior edge is used once in each direction, and the edges used once lie on the region's
/// outline (their length adds up to its perimeter); areas add up to each commune's.
fn check_partition(seed: u64, n: u64) {
    let plan = Plan::new(n);
    let mut total = 0;
    for (ri, region) in REGIONS.iter().enumerate() {
        let key = |p: (f64, f64)| (p.0.to_bits(), p.1.to_bits());
        let mut edges: HashMap<(Bits, Bits), u32> = HashMap::new();
        let mut area: BTreeMap<&str, f64> = BTreeMap::new();
        let mut numbers: BTreeMap<(&str, i32), Vec<i32>> = BTreeMap::new();
        for_each_parcel(ri, seed, &plan, |p| {
            total += 1;
            assert!(p.ring.len() >= 4 && p.ring[0] == p.ring[p.ring.len() - 1]);
            assert!(shoelace2(&p.ring) > 0.0, "counter-clockwise ring");
            for w in p.ring.windows(2) {
                *edges.entry((key(w[0]), key(w[1]))).or_default() += 1;
            }
            *area.entry(p.commune.code).or_default() += shoelace2(&p.ring) / 2.0;
            numbers
                .entry((p.commune.code, p.sheet))
                .or_default()
                .push(p.number);
            Ok(())
        })
        .expect("parcels");
        let mut open = 0.0;
        for (&(a, b), &count) in &edges {
            assert_eq!(count, 1, "edge used twice in the same direction");
            if !edges.contains_key(&(b, a)) {
                let (a, b) = (
                    (f64::from_bits(a.0), f64::from_bits(a.1)),
                    (f64::from_bits(b.0), f64::from_bits(b.1)),
                );
                open += (b.0 - a.0).hypot(b.1 - a.1);
            }
        }
        let outline = region.block_ring(seed, 0, 0, region.width_quads(), region.height_quads());
        let perimeter: f64 = outline
            .windows(2)
            .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
            .sum();
        assert!(
            (open - perimeter).abs() < 1.0,
            "open edges {open} vs perimeter {perimeter} (N = {n})"
        );
        for (idx, c) in region.communes.iter().enumerate() {
            let (col, row) = (idx as i64 % region.cols, idx as i64 / region.cols);
            let want = shoelace2(&commune_ring(region, seed, col, row)) / 2.0;
            let got = area[c.code];
            assert!(
                (got - want).abs() < 0.5,
                "{}: parcels {got} vs commune {want} (N = {n})",
                c.code
            );
        }
        for ((code, sheet), nums) in numbers {
            let want: Vec<i32> = (1..=nums.len() as i32).collect();
            assert_eq!(nums, want, "{code} sheet {sheet}");
        }
    }
    assert_eq!(total, n);
}

#[test]
fn parcels_partition_the_communes_for_every_unit_size() {
    // 600 → 4-quad units, 1500 → 2-quad units, 2500 and 20 000 → one quad per unit.
    for n in [600, 1500, 2500, 20_000] {
        check_partition(2025, n);
    }
    check_partition(7, 3001);
}

#[test]
fn sample_set_files_encodings_and_crs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    let set = write_sample_with(out, &opts(2025, 2000)).expect("write sample");
    assert_eq!(set.commune_count, 12);
    assert_eq!(set.communes, out.join("communes.gpkg"));
    assert_eq!(set.parcel_count, 2000);

    // Every recorded layer opens with the recorded name and count.
    for f in &set.files {
        let ds = Dataset::open(&f.path).unwrap_or_else(|e| panic!("{}: {e}", f.path.display()));
        let layer = ds
            .layer_by_name(&f.gdal_layer)
            .unwrap_or_else(|e| panic!("{} {}: {e}", f.path.display(), f.gdal_layer));
        assert_eq!(
            layer.feature_count(),
            f.features,
            "{} {}",
            f.path.display(),
            f.gdal_layer
        );
        assert!(f.features > 0, "{} {}", f.path.display(), f.gdal_layer);
    }
    // Every delivered layer has exactly the fields of its list in `WRITTEN`, in order.
    for f in set.files.iter().filter(|f| !f.copy) {
        let ds = Dataset::open(&f.path).expect("open");
        let layer = ds.layer_by_name(&f.gdal_layer).expect("layer");
        let got: Vec<String> = layer.defn().fields().map(|d| d.name()).collect();
        let mut want: Vec<&str> = written(f.layer).iter().map(|w| w.name).collect();
        if f.layer == "env_stations" {
            want.extend(network::ENV_COORDINATES);
        }
        assert_eq!(got, want, "{} {}", f.path.display(), f.gdal_layer);
    }
    let kinds: std::collections::BTreeSet<&str> = set.files.iter().map(|f| f.layer).collect();
    for kind in [
        "communes",
        "map_sheets",
        "parcels",
        "roads",
        "red_lines",
        "building_lines",
        "planning_zones",
        "buildings",
        "street_lights",
        "traffic_lights",
        "cameras",
        "bus_stops",
        "bus_routes",
        "water_pipes",
        "water_valves",
        "water_meters",
        "hydrants",
        "drains",
        "manholes",
        "power_lines",
        "power_poles",
        "substations",
        "power_switches",
        "power_customers",
        "env_stations",
    ] {
        assert!(kinds.contains(kind), "no {kind} layer");
    }
    assert_eq!(file(&set, "communes_dongnai.gpkg").features, 4);
    assert_eq!(file(&set, "map_sheets.gpkg").features, 48);
    assert_eq!(file(&set, "map_sheets_dongnai.gpkg").features, 16);

    // Parcels: exactly N over both shapefiles, numbers consecutive per commune and sheet, and
    // the areas read back through GDAL tile each commune.
    let bp = file(&set, "parcels_binhphuoc.shp");
    let dn = file(&set, "parcels_dongnai.shp");
    assert_eq!((bp.encoding, dn.encoding), ("tcvn3", "vni"));
    assert_eq!(bp.features + dn.features, 2000);
    let mut numbers: BTreeMap<(String, i64), Vec<i64>> = BTreeMap::new();
    let mut areas: BTreeMap<String, f64> = BTreeMap::new();
    let mut mismatched = 0;
    for f in [bp, dn] {
        let ds = Dataset::open(&f.path).expect("open");
        let mut layer = ds.layer(0).expect("layer");
        for feature in layer.features() {
            let code = text(&feature, "MAXA");
            let sheet = int(&feature, "SHBANDO");
            let number = int(&feature, "SHTHUA");
            let attr = real(&feature, "DIENTICH");
            let legal = real(&feature, "DIENTICHPL");
            assert_eq!(attr, legal);
            let geometry = feature.geometry().expect("geometry");
            assert!(
                geometry.is_valid(),
                "invalid parcel {}",
                geometry.wkt().expect("wkt")
            );
            let area = shoelace2(&ring_of(geometry)).abs() / 2.0;
            if (attr - area).abs() > 0.06 {
                let off = (attr - area).abs() / area;
                assert!((0.049..=0.151).contains(&off), "DIENTICH {attr} vs {area}");
                mismatched += 1;
            }
            *areas.entry(code.clone()).or_default() += area;
            numbers.entry((code, sheet)).or_default().push(number);
        }
    }
    assert!(
        (5..=60).contains(&mismatched),
        "{mismatched} area mismatches"
    );
    assert_eq!(numbers.len(), 16 * 4);
    for ((code, sheet), mut nums) in numbers {
        nums.sort_unstable();
        let want: Vec<i64> = (1..=nums.len() as i64).collect();
        assert_eq!(nums, want, "{code} sheet {sheet}");
    }
    for path in [out.join("communes.gpkg"), out.join("communes_dongnai.gpkg")] {
        let ds = Dataset::open(&path).expect("open");
        let mut layer = ds.layer(0).expect("layer");
        for feature in layer.features() {
            let code = text(&feature, "MAXA");
            let want = feature.geometry().expect("geometry").area();
            let got = areas[&code];
            assert!(
                (got - want).abs() < 0.5,
                "{code}: parcels {got} m² vs commune {want} m²"
            );
        }
    }

    // Legacy DBFs: text as TCVN3 / VNI bytes, no .cpg, hand-written .prj.
    let dbf = std::fs::read(out.join("parcels_binhphuoc.dbf")).expect("read");
    let name = encode_tcvn3_lossy("Phường Tân Phú").expect("tcvn3");
    assert!(name.contains(&0xAD), "ư is 0xAD in TCVN3");
    assert!(
        dbf.windows(name.len()).any(|w| w == name),
        "TCVN3 name not in the DBF"
    );
    assert!(
        !dbf.windows(3).any(|w| w == "ư".as_bytes()),
        "UTF-8 text in a TCVN3 DBF"
    );
    let dbf = std::fs::read(out.join("parcels_dongnai.dbf")).expect("read");
    let name = encode_vni("Phường Xuân An").expect("vni");
    assert!(
        dbf.windows(name.len()).any(|w| w == name),
        "VNI name not in the DBF"
    );
    let dbf = std::fs::read(out.join("street_lights.dbf")).expect("read");
    let name = encode_vni("Đèn").expect("vni");
    assert!(
        dbf.windows(name.len()).any(|w| w == name),
        "VNI lamp type not in the DBF"
    );
    for stem in ["parcels_binhphuoc", "parcels_dongnai", "street_lights"] {
        assert!(
            !out.join(format!("{stem}.cpg")).exists(),
            "{stem}.cpg written"
        );
    }
    let prj = std::fs::read_to_string(out.join("parcels_binhphuoc.prj")).expect("read");
    assert!(prj.contains(
        "TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278]"
    ));
    assert!(prj.contains("PARAMETER[\"Central_Meridian\",106.25]"));
    let prj = std::fs::read_to_string(out.join("parcels_dongnai.prj")).expect("read");
    assert!(prj.contains(
        "TOWGS84[-191.90441429,-39.30318279,-111.45032835,-0.00928836,0.01975479,-0.00427372,0.252906278]"
    ));
    assert!(prj.contains("PARAMETER[\"Central_Meridian\",107.75]"));
    assert_eq!(
        std::fs::read_to_string(out.join("street_lights.prj")).expect("read"),
        std::fs::read_to_string(out.join("parcels_binhphuoc.prj")).expect("read")
    );

    // Dong Nai lies where Long Khánh is in EPSG:5899; Binh Phuoc in its EPSG:9212 range.
    let ds = Dataset::open(out.join("communes_dongnai.gpkg")).expect("open");
    let env = ds.layer(0).expect("layer").get_extent().expect("extent");
    assert!(env.MinX > 435_000.0 && env.MaxX < 453_000.0, "{env:?}");
    assert!(env.MinY > 1_199_000.0 && env.MaxY < 1_217_000.0, "{env:?}");

    // Zones and sheets are valid polygons too.
    for (name, layer) in [
        ("planning_zones.gpkg", "planning_zones"),
        ("buildings.gpkg", "buildings"),
        ("map_sheets.gpkg", "map_sheets"),
    ] {
        let ds = Dataset::open(out.join(name)).expect("open");
        for f in ds.layer_by_name(layer).expect("layer").features() {
            assert!(f.geometry().expect("geometry").is_valid(), "{name}");
        }
    }

    // WGS84 files are lon/lat around Đồng Xoài and Long Khánh.
    let ds = Dataset::open(out.join("bus_stops.geojson")).expect("open");
    let env = ds.layer(0).expect("layer").get_extent().expect("extent");
    assert!(env.MinX > 106.7 && env.MaxX < 107.4, "{env:?}");
    assert!(env.MinY > 10.8 && env.MaxY < 11.7, "{env:?}");

    // CSV: northing first.
    let csv = std::fs::read_to_string(out.join("env_stations.csv")).expect("read");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("MATRAM,TENTRAM,LOAI,X,Y"));
    let mut rows = 0;
    for line in lines {
        let cols: Vec<&str> = line.rsplitn(3, ',').collect();
        let (y, x): (f64, f64) = (cols[0].parse().expect("Y"), cols[1].parse().expect("X"));
        assert!(x > 1_000_000.0 && y < 1_000_000.0, "{line}");
        rows += 1;
    }
    assert_eq!(rows, 12);

    // Formats: 50 parcels each.
    for name in [
        "parcels.dxf",
        "parcels.kml",
        "parcels.dgn",
        "parcels.gdb",
        "parcels.gpkg",
        "parcels_wkt.csv",
    ] {
        let path = out.join("formats").join(name);
        let ds = Dataset::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let count: u64 = ds.layers().map(|l| l.feature_count()).sum();
        assert_eq!(count, 50, "{name}");
    }
    assert_eq!(file(&set, "parcels_sample.geojson").features, 200);

    check_water(&out.join("water.gpkg"), None);
}

/// The water network's structure: every valve and every meter sits on pipe ends (pipes are
/// split at valves and taps); crossings join 3–4 pipes and hold a valve, valves along the runs
/// join two; each meter ends its own 25 mm service line; some valves are closed, some
/// inoperable; a source per district. Returns (pipes, meters).
fn check_water(path: &Path, _target: Option<u64>) -> (u64, u64) {
    let ds = Dataset::open(path).expect("open");
    let mut ends: HashMap<(u64, u64), u32> = HashMap::new();
    let mut service_ends: HashMap<(u64, u64), u32> = HashMap::new();
    let mut pipes = 0;
    for f in ds.layer_by_name("water_pipes").expect("layer").features() {
        pipes += 1;
        let pts = ring_of(f.geometry().expect("geometry"));
        let service = int(&f, "DUONGKINH") == 25;
        assert_eq!(text(&f, "MAONG").starts_with("DV-"), service);
        if service {
            assert_eq!(pts.len(), 2, "a service line is straight");
            assert!((pts[1].0 - pts[0].0).hypot(pts[1].1 - pts[0].1) < 30.0);
        }
        for p in [pts[0], pts[pts.len() - 1]] {
            *ends.entry((p.0.to_bits(), p.1.to_bits())).or_default() += 1;
            if service {
                *service_ends
                    .entry((p.0.to_bits(), p.1.to_bits()))
                    .or_default() += 1;
            }
        }
    }
    let mut valves = ds.layer_by_name("water_valves").expect("layer");
    let (mut crossing, mut along, mut closed, mut seized) = (0, 0, 0, 0);
    for f in valves.features() {
        let p = ring_of(f.geometry().expect("geometry"))[0];
        let degree = ends
            .get(&(p.0.to_bits(), p.1.to_bits()))
            .copied()
            .unwrap_or(0);
        match degree {
            // A crossing joins four pieces, or three where it lies at the end of a line (T).
            3 | 4 => crossing += 1,
            2 => along += 1,
            d => panic!("valve joins {d} pipe ends"),
        }
        closed += u32::from(text(&f, "TRANGTHAI") == "Đóng");
        seized += u32::from(text(&f, "VANHD") == "Không");
    }
    // Every row road crosses every column road: 24 rows × 8 cross roads in Binh Phuoc.
    assert_eq!(crossing, 24 * 8);
    assert!(along > 100, "{along} valves along the runs");
    assert!(
        closed > 0 && seized > 0,
        "{closed} closed, {seized} inoperable"
    );
    let mut meters = 0;
    for f in ds.layer_by_name("water_meters").expect("layer").features() {
        meters += 1;
        let p = ring_of(f.geometry().expect("geometry"))[0];
        // The meter ends its service line, and nothing else.
        assert_eq!(service_ends.get(&(p.0.to_bits(), p.1.to_bits())), Some(&1));
        assert_eq!(ends.get(&(p.0.to_bits(), p.1.to_bits())), Some(&1));
    }
    let services: u32 = service_ends.values().sum::<u32>() / 2;
    assert_eq!(u64::from(services), meters, "a service line per meter");
    let mut sources = ds.layer_by_name("water_sources").expect("layer");
    let kinds: Vec<String> = sources.features().map(|f| text(&f, "LOAINGUON")).collect();
    let districts: std::collections::BTreeSet<&str> = super::region::BINH_PHUOC
        .communes
        .iter()
        .map(|c| c.district)
        .collect();
    assert_eq!(kinds.len(), districts.len());
    assert_eq!(kinds.iter().filter(|k| *k == "Nhà máy xử lý").count(), 1);
    for f in sources.features() {
        let p = ring_of(f.geometry().expect("geometry"))[0];
        assert!(
            ends.contains_key(&(p.0.to_bits(), p.1.to_bits())),
            "a source on the network"
        );
    }
    (pipes, meters)
}

#[test]
fn the_water_network_scales_to_a_pipe_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    std::fs::create_dir_all(out).expect("dir");
    let mut files = Vec::new();
    super::network::write(out, 2025, Some(30_000), &mut files).expect("write");
    let (pipes, meters) = check_water(&out.join("water.gpkg"), Some(30_000));
    assert!(
        (27_000..=33_000).contains(&pipes),
        "{pipes} pipes for 30,000"
    );
    assert!(meters > 12_000, "{meters}");
}

#[test]
fn same_seed_same_files_other_seed_other_files() {
    let (a, b, c) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let sa = write_sample_with(a.path(), &opts(11, 2000)).expect("write sample");
    let sb = write_sample_with(b.path(), &opts(11, 2000)).expect("write sample");
    let sc = write_sample_with(c.path(), &opts(12, 2000)).expect("write sample");
    let strip = |d: Vec<String>, root: &Path| -> Vec<String> {
        let root = root.display().to_string();
        d.into_iter().map(|s| s.replace(&root, "")).collect()
    };
    let (da, db, dc) = (
        strip(dump(&sa), a.path()),
        strip(dump(&sb), b.path()),
        strip(dump(&sc), c.path()),
    );
    assert_eq!(da.len(), db.len());
    assert!(da == db, "same seed gave different features");
    assert_ne!(da, dc);
    // The raw legacy files are byte-identical too.
    for name in [
        "parcels_binhphuoc.dbf",
        "parcels_binhphuoc.shp",
        "parcels_dongnai.dbf",
        "env_stations.csv",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(name)).expect("read"),
            std::fs::read(b.path().join(name)).expect("read"),
            "{name}"
        );
    }
}

#[test]
fn default_sample_keeps_the_commune_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = write_sample(dir.path(), 2025).expect("write sample");
    assert_eq!(set.commune_count, 12);
    assert_eq!(set.parcel_count, SampleOptions::default().parcels);
    let ds = Dataset::open(&set.communes).expect("open");
    let mut layer = ds.layer_by_name("communes").expect("layer");
    assert_eq!(layer.feature_count(), 12);
    let first = layer.features().next().expect("a commune");
    assert_eq!(text(&first, "MAXA"), "25195");
    let want = commune_ring(&BINH_PHUOC, 2025, 0, 0);
    assert_eq!(ring_of(first.geometry().expect("geometry")), want);
}

/// One million parcels: `cargo test --release -p sample -- --ignored million`.
#[test]
#[ignore = "slow: writes 1,000,000 parcels"]
fn million_parcels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = std::time::Instant::now();
    let set = write_sample_with(dir.path(), &opts(2025, 1_000_000)).expect("write sample");
    let took = t.elapsed();
    assert_eq!(set.parcel_count, 1_000_000);
    let ds = Dataset::open(dir.path().join("parcels_binhphuoc.shp")).expect("open");
    let bp = ds.layer(0).expect("layer").feature_count();
    let ds = Dataset::open(dir.path().join("parcels_dongnai.shp")).expect("open");
    assert_eq!(bp + ds.layer(0).expect("layer").feature_count(), 1_000_000);
    // Every parcel is a valid polygon (GEOS), even with 15 m lots on snapped edges.
    for name in ["parcels_binhphuoc.shp", "parcels_dongnai.shp"] {
        let ds = Dataset::open(dir.path().join(name)).expect("open");
        let mut layer = ds.layer(0).expect("layer");
        let invalid = layer
            .features()
            .filter(|f| !f.geometry().expect("geometry").is_valid())
            .count();
        assert_eq!(invalid, 0, "{name}");
    }
    eprintln!("1,000,000 parcels written in {took:?}");
}

#[test]
fn the_importer_recognises_the_hand_written_prj_files() {
    use gis_core::crs::TowgsConvention;
    let bp = importers::crs_detect::detect_from_wkt(super::gdalio::PRJ_BINH_PHUOC).expect("9212");
    assert_eq!(
        (bp.epsg, bp.towgs84),
        (9212, Some(TowgsConvention::PositionVector))
    );
    let dn = importers::crs_detect::detect_from_wkt(super::gdalio::PRJ_DONG_NAI).expect("5899");
    assert_eq!(
        (dn.epsg, dn.towgs84),
        (5899, Some(TowgsConvention::CoordinateFrameVerbatim))
    );
}

#[test]
fn next_years_delivery_holds_exactly_the_counted_edits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = opts(7, 4_000);
    let counts = write_next_year(dir.path(), &o, &NextYear::default()).expect("next year");
    // 1 % changed, 0.5 % renumbered (gone + new), give or take the draw.
    assert!((20..=60).contains(&counts.changed), "{counts:?}");
    assert!((5..=40).contains(&counts.new), "{counts:?}");
    assert_eq!(
        counts.gone, counts.new,
        "only renumbered parcels leave by default"
    );
    assert_eq!(
        counts.changed,
        counts.changed_geometry + counts.changed_attributes
    );
    assert_eq!(counts.delivered, 4_000 - counts.gone + counts.new);
    assert_eq!(
        counts.unchanged + counts.changed + counts.new,
        counts.delivered
    );
    let written: NextYearCounts = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(NEXT_YEAR_COUNTS_FILE)).expect("json"),
    )
    .expect("counts");
    assert_eq!(written, counts);
    // The files hold what was counted: renumbered parcels carry numbers above the offset.
    let mut features = 0;
    let mut renumbered = 0;
    for file in ["parcels_binhphuoc.shp", "parcels_dongnai.shp"] {
        let ds = Dataset::open(dir.path().join(file)).expect("open");
        let mut layer = ds.layer(0).expect("layer");
        for f in layer.features() {
            features += 1;
            let idx = f.field_index("SHTHUA").expect("SHTHUA");
            if f.field_as_integer(idx).ok().flatten().unwrap_or(0) > super::parcels::RENUMBER_OFFSET
            {
                renumbered += 1;
            }
        }
    }
    assert_eq!((features, renumbered), (counts.delivered, counts.new));
    // Same seed, same edits; no shares, no edits.
    let again = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        write_next_year(again.path(), &o, &NextYear::default()).expect("again"),
        counts
    );
    let none = NextYear {
        changed: 0.0,
        renumbered: 0.0,
        dropped: 0.0,
        commune: None,
    };
    let same = write_next_year(again.path(), &o, &none).expect("none");
    assert_eq!((same.unchanged, same.gone), (4_000, 0));
}

/// Every parcel says where it lies (DIADANH, public): lots a house number on the street of their
/// unit and their ward or commune, numbers running along each street of a commune without
/// repeats; roads their own name. NFC Vietnamese, and never the owner's address.
#[test]
fn parcels_carry_a_public_location_address() {
    let plan = Plan::new(2000);
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut lots = 0;
    for ri in 0..REGIONS.len() {
        for_each_parcel(ri, 7, &plan, |p| {
            assert!(unicode_normalization::is_nfc(&p.place), "{}", p.place);
            assert_ne!(p.place, p.address);
            let ward = p.commune.name.to_lowercase();
            let ward_word = ward.split(' ').next().unwrap_or_default();
            assert!(
                p.place.ends_with(&format!(
                    ", {ward_word}{}",
                    &p.commune.name[p.commune.name.find(' ').unwrap_or(0)..]
                )),
                "{}",
                p.place
            );
            if p.landuse != "DGT" {
                lots += 1;
                assert!(p.place.starts_with("Số "), "{}", p.place);
                *seen.entry(p.place.clone()).or_default() += 1;
            }
            Ok(())
        })
        .expect("parcels");
    }
    assert!(lots > 1000, "{lots}");
    assert!(seen.values().all(|&n| n == 1), "a house number repeats");
    assert!(
        seen.contains_key("Số 1 đường Phú Riềng Đỏ, phường Tân Phú")
            || seen
                .keys()
                .any(|k| k.contains(" đường Phú Riềng Đỏ, phường Tân Phú")),
        "{:?}",
        seen.keys().take(5).collect::<Vec<_>>()
    );
}
