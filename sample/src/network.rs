//! Everything derived from the road network the parcels leave free: road centrelines, red and
//! building lines, planning zones, transport points, water, drainage and power networks, and
//! the environmental monitoring stations.
//!
//! East–west roads run along the bottom of every lattice row (the parcels' road strips),
//! north–south roads along every fourth lattice column. Centreline points are evaluated with
//! explicit quad indices, so an intersection computed from either road is the same point, and
//! the lines of neighbouring communes meet end to end.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use gdal::vector::OGRwkbGeometryType;
use gdal::Dataset;
use planning::tables::{BUILDINGS, BUILDING_LINES, RED_LINES, ZONES};
use sectors::tables::{
    BUS_ROUTES, BUS_STOPS, CAMERAS, ENV_STATIONS, ROADS, STREET_LIGHTS, TRAFFIC_LIGHTS,
};
use utilities::tables::{
    DRAINS, HYDRANTS, MANHOLES, POWER_CUSTOMERS, POWER_LINES, POWER_POLES, POWER_SWITCHES,
    SUBSTATIONS, WATER_METERS, WATER_PIPES, WATER_SOURCES, WATER_VALVES,
};

use super::gdalio::{self, Field, Geom, LayerSpec, LayerWriter, Text, Ty, Val};
use super::names;
use super::parcels::stream;
use super::region::{
    has_cross_road, mm, row_road_v, row_road_width_m, Region, BINH_PHUOC, CROSS_ROAD_U,
    CROSS_ROAD_WIDTH_M, REGIONS, SHEET_QUADS, STEPS,
};
use super::SampleFile;
use crate::SampleError;

type Pt = (f64, f64);

const NET_SALT: u64 = 0x0E70_0000_0000_0003;

// ---------------------------------------------------------------------------------------------
// Polyline helpers
// ---------------------------------------------------------------------------------------------

fn dist(a: Pt, b: Pt) -> f64 {
    (b.0 - a.0).hypot(b.1 - a.1)
}

fn length(pts: &[Pt]) -> f64 {
    pts.windows(2).map(|w| dist(w[0], w[1])).sum()
}

/// Unit normal to the left of a → b.
fn left_normal(a: Pt, b: Pt) -> Pt {
    let d = dist(a, b);
    (-(b.1 - a.1) / d, (b.0 - a.0) / d)
}

/// The polyline offset by `d` metres to its left (negative: right), mitred, in millimetres.
fn offset(pts: &[Pt], d: f64) -> Vec<Pt> {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let m = if i == 0 {
                left_normal(pts[0], pts[1])
            } else if i == n - 1 {
                left_normal(pts[n - 2], pts[n - 1])
            } else {
                let (a, b) = (
                    left_normal(pts[i - 1], pts[i]),
                    left_normal(pts[i], pts[i + 1]),
                );
                let k = 1.0 + a.0 * b.0 + a.1 * b.1;
                ((a.0 + b.0) / k, (a.1 + b.1) / k)
            };
            (mm(pts[i].0 + d * m.0), mm(pts[i].1 + d * m.1))
        })
        .collect()
}

/// The point at arc length `s` (clamped to the line).
fn point_at(pts: &[Pt], s: f64) -> Pt {
    let mut left = s.max(0.0);
    for w in pts.windows(2) {
        let l = dist(w[0], w[1]);
        if left <= l && l > 0.0 {
            let t = left / l;
            return (
                mm(w[0].0 + t * (w[1].0 - w[0].0)),
                mm(w[0].1 + t * (w[1].1 - w[0].1)),
            );
        }
        left -= l;
    }
    pts[pts.len() - 1]
}

/// The part of a polyline between arc lengths `a` and `b`.
fn sub_line(pts: &[Pt], a: f64, b: f64) -> Vec<Pt> {
    let mut out = vec![point_at(pts, a)];
    let mut s = 0.0;
    for w in pts.windows(2) {
        s += dist(w[0], w[1]);
        if s > a && s < b {
            out.push(w[1]);
        }
    }
    out.push(point_at(pts, b));
    out.dedup();
    out
}

/// Points every `step` metres from `start` along the line.
fn every(pts: &[Pt], start: f64, step: f64) -> Vec<(f64, Pt)> {
    let len = length(pts);
    let mut out = Vec::new();
    let mut s = start;
    while s < len {
        out.push((s, point_at(pts, s)));
        s += step;
    }
    out
}

/// Intersection of segments a–b and c–d as (t on a–b, s on c–d).
fn seg_cross(a: Pt, b: Pt, c: Pt, d: Pt) -> Option<(f64, f64)> {
    let r = (b.0 - a.0, b.1 - a.1);
    let q = (d.0 - c.0, d.1 - c.1);
    let den = r.0 * q.1 - r.1 * q.0;
    if den.abs() < 1e-12 {
        return None;
    }
    let w = (c.0 - a.0, c.1 - a.1);
    let t = (w.0 * q.1 - w.1 * q.0) / den;
    let s = (w.0 * r.1 - w.1 * r.0) / den;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&s)).then_some((t, s))
}

/// Splits a polyline at points inserted after segment indexes (sorted by (segment, t)).
fn split(pts: &[Pt], mut cuts: Vec<(usize, f64, Pt)>) -> Vec<Vec<Pt>> {
    cuts.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut pieces = Vec::new();
    let mut cur = vec![pts[0]];
    let mut next_cut = cuts.into_iter().peekable();
    for (i, w) in pts.windows(2).enumerate() {
        while let Some(&(_, _, p)) = next_cut.peek().filter(|c| c.0 == i) {
            next_cut.next();
            if cur.last() != Some(&p) {
                cur.push(p);
            }
            if cur.len() > 1 {
                pieces.push(std::mem::replace(&mut cur, vec![p]));
            }
        }
        if cur.last() != Some(&w[1]) {
            cur.push(w[1]);
        }
    }
    if cur.len() > 1 {
        pieces.push(cur);
    }
    pieces
}

// ---------------------------------------------------------------------------------------------
// Centrelines
// ---------------------------------------------------------------------------------------------

/// A road centreline with its intersections.
#[derive(Debug, Clone)]
struct Centreline {
    pts: Vec<Pt>,
    /// (index in `pts`, the crossing road's lattice row or column).
    nodes: Vec<(usize, i64)>,
    /// Index in `pts` of the point on each integer lattice position, from the start.
    ticks: Vec<usize>,
}

/// East–west centreline of lattice row `j` over quad columns `i_from..i_to`.
fn row_centre(r: &Region, seed: u64, j: i64, i_from: i64, i_to: i64) -> Centreline {
    let v = row_road_v(j) / 2.0;
    let mut c = Centreline {
        pts: Vec::new(),
        nodes: Vec::new(),
        ticks: Vec::new(),
    };
    for i in i_from..i_to {
        c.ticks.push(c.pts.len());
        c.pts.push(r.at_mm(seed, i, j, 0.0, v));
        if has_cross_road(i) {
            c.nodes.push((c.pts.len(), i));
            c.pts.push(r.at_mm(seed, i, j, CROSS_ROAD_U / 2.0, v));
        }
    }
    c.ticks.push(c.pts.len());
    c.pts.push(r.at_mm(seed, i_to, j, 0.0, v));
    c
}

/// North–south centreline of lattice column `i` over rows `j_from..j_to`.
fn column_centre(r: &Region, seed: u64, i: i64, j_from: i64, j_to: i64) -> Centreline {
    let u = CROSS_ROAD_U / 2.0;
    let mut c = Centreline {
        pts: Vec::new(),
        nodes: Vec::new(),
        ticks: Vec::new(),
    };
    for j in j_from..j_to {
        c.ticks.push(c.pts.len());
        c.pts.push(r.at_mm(seed, i, j, u, 0.0));
        c.nodes.push((c.pts.len(), j));
        // Same call as the row centreline's node: the intersection is one point.
        c.pts.push(r.at_mm(seed, i, j, u, row_road_v(j) / 2.0));
    }
    c.ticks.push(c.pts.len());
    c.pts.push(r.at_mm(seed, i, j_to, u, 0.0));
    c
}

/// Points of the iso-v line `v` of row `j` through quad positions `stops` ((i, u) pairs).
fn iso_v(r: &Region, seed: u64, j: i64, v: f64, stops: &[(i64, f64)]) -> Vec<Pt> {
    stops
        .iter()
        .map(|&(i, u)| r.at_mm(seed, i, j, u, v))
        .collect()
}

/// A road of one commune.
#[derive(Debug, Clone)]
struct Road {
    commune: usize,
    name: String,
    class: &'static str,
    width: f64,
    line: Centreline,
}

/// The roads of every commune of a region: east–west per lattice row, then north–south per
/// road column, each merged within the commune.
fn roads(r: &'static Region, seed: u64) -> Vec<Road> {
    let mut out = Vec::new();
    for (idx, commune) in r.communes.iter().enumerate() {
        let (ci, cj) = r.commune_origin(idx);
        for j in cj..cj + STEPS {
            let (name, main) = r.row_road_name(j);
            let class = match (main, commune.is_ward()) {
                (true, _) if name.starts_with("Quốc lộ") => "Quốc lộ",
                (true, _) => "Đường tỉnh",
                (false, true) => "Đường đô thị",
                (false, false) => "Đường xã",
            };
            out.push(Road {
                commune: idx,
                name,
                class,
                width: row_road_width_m(j),
                line: row_centre(r, seed, j, ci, ci + STEPS),
            });
        }
        for i in (ci..ci + STEPS).filter(|&i| has_cross_road(i)) {
            out.push(Road {
                commune: idx,
                name: r.column_road_name(i),
                class: if commune.is_ward() {
                    "Đường đô thị"
                } else {
                    "Đường huyện"
                },
                width: CROSS_ROAD_WIDTH_M,
                line: column_centre(r, seed, i, cj, cj + STEPS),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Writing helpers
// ---------------------------------------------------------------------------------------------

/// Writes a GeoPackage in one transaction (one commit instead of one per feature).
fn gpkg(
    path: &Path,
    body: impl FnOnce(&mut Dataset) -> Result<(), SampleError>,
) -> Result<(), SampleError> {
    let mut ds = gdalio::create("GPKG", path)?;
    let mut txn = ds
        .start_transaction()
        .map_err(|e| SampleError::gdal(path, e))?;
    body(&mut txn)?;
    txn.commit().map_err(|e| SampleError::gdal(path, e))?;
    ds.close().map_err(|e| SampleError::gdal(path, e))
}

/// The file of one region's layer: `kind.gpkg` for Binh Phuoc, `kind_dongnai.gpkg` (layer
/// still named `kind`) for Dong Nai — one CRS per file, and the importer finds the layer by
/// its kind, as for `communes_dongnai.gpkg`.
fn region_file(out: &Path, kind: &str, r: &Region) -> std::path::PathBuf {
    if r.key == BINH_PHUOC.key {
        out.join(format!("{kind}.gpkg"))
    } else {
        out.join(format!("{kind}_{}.gpkg", r.key))
    }
}

struct Files<'a>(&'a mut Vec<SampleFile>);

impl Files<'_> {
    fn push(
        &mut self,
        path: &Path,
        kind: &'static str,
        gdal_layer: &str,
        n: u64,
        srid: u32,
        text: Text,
    ) {
        self.0.push(SampleFile {
            path: path.to_path_buf(),
            layer: kind,
            gdal_layer: gdal_layer.to_string(),
            features: n,
            srid,
            encoding: text.name(),
            copy: false,
        });
    }
}

fn spec<'a>(
    name: &'a str,
    srs: &'a gdal::spatial_ref::SpatialRef,
    geom: OGRwkbGeometryType::Type,
    fields: &'static [Field],
) -> LayerSpec<'a> {
    LayerSpec {
        name,
        srs: Some(srs),
        geom,
        fields,
        options: &[],
        text: Text::Utf8,
    }
}

/// A planning decision of a commune: number and date.
fn decision(seed: u64, r: &Region, commune: usize) -> (String, String) {
    let mut rng = stream(seed ^ r.salt ^ NET_SALT, commune as i64, -1);
    let number = 1000 + rng.below(8000);
    let (y, m, d) = (2019 + rng.below(6), 1 + rng.below(12), 1 + rng.below(28));
    (format!("{number}/QĐ-UBND"), format!("{y}-{m:02}-{d:02}"))
}

// ---------------------------------------------------------------------------------------------
// Planning: roads, red lines, building lines, zones
// ---------------------------------------------------------------------------------------------

/// The commune's code, which deliveries of planning, transport and water layers carry although
/// those layers keep no commune column (the importer keeps it in `extra`).
const COMMUNE_CODE: &str = "MAXA";

pub(super) const ROAD_FIELDS: &[Field] = &[
    Field::extra(COMMUNE_CODE, Ty::Str(5)),
    Field::column(&ROADS, "name", Ty::Str(0)),
    Field::column(&ROADS, "road_class", Ty::Str(0)),
    Field::column(&ROADS, "width_m", Ty::Real(0, 0)),
];

pub(super) const RED_FIELDS: &[Field] = &[
    Field::extra(COMMUNE_CODE, Ty::Str(5)),
    Field::column(&RED_LINES, "road_name", Ty::Str(0)),
    // The road's width between its red lines: red lines keep no width column.
    Field::extra("LOGIOI", Ty::Real(0, 0)),
    Field::column(&RED_LINES, "decision_number", Ty::Str(0)),
];

pub(super) const BUILDING_FIELDS: &[Field] = &[
    Field::extra(COMMUNE_CODE, Ty::Str(5)),
    Field::column(&BUILDING_LINES, "road_name", Ty::Str(0)),
    Field::column(&BUILDING_LINES, "setback_m", Ty::Real(0, 0)),
    Field::column(&BUILDING_LINES, "decision_number", Ty::Str(0)),
];

pub(super) const ZONE_FIELDS: &[Field] = &[
    Field::extra(COMMUNE_CODE, Ty::Str(5)),
    Field::column(&ZONES, "zone_code", Ty::Str(0)),
    Field::column(&ZONES, "land_use_function", Ty::Str(0)),
    Field::column(&ZONES, "density_pct", Ty::Int(0)),
    Field::column(&ZONES, "max_floors", Ty::Int(0)),
    Field::column(&ZONES, "max_height_m", Ty::Real(0, 0)),
    Field::column(&ZONES, "setback_m", Ty::Real(0, 0)),
    Field::column(&ZONES, "decision_number", Ty::Str(0)),
    Field::column(&ZONES, "decision_date", Ty::Str(0)),
];

pub(super) const BUILDING_FIELDS_3D: &[Field] = &[
    Field::extra(COMMUNE_CODE, Ty::Str(5)),
    Field::column(&BUILDINGS, "building_code", Ty::Str(0)),
    Field::column(&BUILDINGS, "status", Ty::Str(0)),
    Field::column(&BUILDINGS, "floors", Ty::Int(0)),
    Field::column(&BUILDINGS, "height_m", Ty::Real(0, 0)),
];

/// Setback of the building line behind the red line, metres.
const SETBACK_M: f64 = 3.0;

/// A red line: one edge of a road strip, oriented so that the block is on its left.
struct RedLine {
    commune: usize,
    name: String,
    width: f64,
    pts: Vec<Pt>,
}

/// Red lines of a region: both edges of every road strip, interrupted where a crossing road
/// leaves the strip.
fn red_lines(r: &Region, seed: u64) -> Vec<RedLine> {
    let mut out = Vec::new();
    for idx in 0..r.communes.len() {
        let (ci, cj) = r.commune_origin(idx);
        for j in cj..cj + STEPS {
            let (name, _) = r.row_road_name(j);
            let w = row_road_v(j);
            // Pieces between cross roads: from (c, cross-road width) to (c + 4, 0).
            let pieces: Vec<Vec<(i64, f64)>> = (0..STEPS / SHEET_QUADS)
                .map(|s| {
                    let c = ci + s * SHEET_QUADS;
                    let mut stops = vec![(c, CROSS_ROAD_U)];
                    stops.extend((1..=SHEET_QUADS).map(|k| (c + k, 0.0)));
                    stops
                })
                .collect();
            for stops in &pieces {
                // North edge, eastwards: the block to the north is on the left.
                out.push(RedLine {
                    commune: idx,
                    name: name.clone(),
                    width: row_road_width_m(j),
                    pts: iso_v(r, seed, j, w, stops),
                });
            }
            // South edge, westwards. On the lattice's bottom row no cross road arrives from
            // the south, so the edge runs unbroken.
            let south: Vec<Vec<(i64, f64)>> = if j == 0 {
                vec![(ci..=ci + STEPS).map(|i| (i, 0.0)).collect()]
            } else {
                pieces
            };
            for mut stops in south {
                stops.reverse();
                out.push(RedLine {
                    commune: idx,
                    name: name.clone(),
                    width: row_road_width_m(j),
                    pts: iso_v(r, seed, j, 0.0, &stops),
                });
            }
        }
        for i in (ci..ci + STEPS).filter(|&i| has_cross_road(i)) {
            let name = r.column_road_name(i);
            for j in cj..cj + STEPS {
                let w = row_road_v(j);
                // East edge southwards, west edge northwards: the block on the left again.
                for pts in [
                    vec![
                        r.at_mm(seed, i, j, CROSS_ROAD_U, 1.0),
                        r.at_mm(seed, i, j, CROSS_ROAD_U, w),
                    ],
                    vec![r.at_mm(seed, i, j, 0.0, w), r.at_mm(seed, i, j, 0.0, 1.0)],
                ] {
                    out.push(RedLine {
                        commune: idx,
                        name: name.clone(),
                        width: CROSS_ROAD_WIDTH_M,
                        pts,
                    });
                }
            }
        }
    }
    out
}

fn write_planning(out: &Path, seed: u64, files: &mut Files<'_>) -> Result<(), SampleError> {
    // Zone codes number each function through both regions: a zone code identifies the zone
    // (the importer's natural key), in whichever commune or file it is.
    let mut seq: BTreeMap<&str, u32> = BTreeMap::new();
    for r in REGIONS {
        let path = region_file(out, "roads", r);
        gpkg(&path, |ds| {
            let srs = gdalio::srs(r.srid, &path)?;
            let line = OGRwkbGeometryType::wkbLineString;
            let mut w = LayerWriter::create(ds, &path, spec("roads", &srs, line, ROAD_FIELDS))?;
            for road in roads(r, seed) {
                w.add(
                    Geom::Line(&road.line.pts),
                    &[
                        Val::S(r.communes[road.commune].code),
                        Val::S(&road.name),
                        Val::S(road.class),
                        Val::F(road.width),
                    ],
                )?;
            }
            files.push(&path, "roads", "roads", w.count(), r.srid, Text::Utf8);
            Ok(())
        })?;

        let path = region_file(out, "red_lines", r);
        gpkg(&path, |ds| {
            let srs = gdalio::srs(r.srid, &path)?;
            let line = OGRwkbGeometryType::wkbLineString;
            let mut w = LayerWriter::create(ds, &path, spec("red_lines", &srs, line, RED_FIELDS))?;
            for l in red_lines(r, seed) {
                let (soqd, _) = decision(seed, r, l.commune);
                w.add(
                    Geom::Line(&l.pts),
                    &[
                        Val::S(r.communes[l.commune].code),
                        Val::S(&l.name),
                        Val::F(l.width),
                        Val::S(&soqd),
                    ],
                )?;
            }
            files.push(
                &path,
                "red_lines",
                "red_lines",
                w.count(),
                r.srid,
                Text::Utf8,
            );
            Ok(())
        })?;

        let path = region_file(out, "building_lines", r);
        gpkg(&path, |ds| {
            let srs = gdalio::srs(r.srid, &path)?;
            let line = OGRwkbGeometryType::wkbLineString;
            let spec = spec("building_lines", &srs, line, BUILDING_FIELDS);
            let mut w = LayerWriter::create(ds, &path, spec)?;
            for l in red_lines(r, seed) {
                // Into the block (left), shortened at both ends so that the building lines of
                // two streets meet near the corner instead of crossing into the street.
                let moved = offset(&l.pts, SETBACK_M);
                let len = length(&moved);
                let pts = sub_line(&moved, SETBACK_M, len - SETBACK_M);
                let (soqd, _) = decision(seed, r, l.commune);
                w.add(
                    Geom::Line(&pts),
                    &[
                        Val::S(r.communes[l.commune].code),
                        Val::S(&l.name),
                        Val::F(SETBACK_M),
                        Val::S(&soqd),
                    ],
                )?;
            }
            let n = w.count();
            files.push(
                &path,
                "building_lines",
                "building_lines",
                n,
                r.srid,
                Text::Utf8,
            );
            Ok(())
        })?;

        // Planning zones: blocks of 2 × 2 quads.
        let path = region_file(out, "planning_zones", r);
        gpkg(&path, |ds| {
            let srs = gdalio::srs(r.srid, &path)?;
            let polygon = OGRwkbGeometryType::wkbPolygon;
            let spec = spec("planning_zones", &srs, polygon, ZONE_FIELDS);
            let mut w = LayerWriter::create(ds, &path, spec)?;
            for (idx, commune) in r.communes.iter().enumerate() {
                let (ci, cj) = r.commune_origin(idx);
                let (soqd, ngayqd) = decision(seed, r, idx);
                let mut rng = stream(seed ^ r.salt ^ NET_SALT, idx as i64, -2);
                for b in (0..STEPS / 2).rev() {
                    for a in 0..STEPS / 2 {
                        let ring = r.block_ring(seed, ci + 2 * a, cj + 2 * b, 2, 2);
                        let (code, density, fmin, fmax, setback) = if commune.is_ward() {
                            rng.weighted(&names::ZONE_WARD)
                        } else {
                            rng.weighted(&names::ZONE_COMMUNE)
                        };
                        let n = seq.entry(code).or_insert(0);
                        *n += 1;
                        let floors = fmin + rng.below((fmax - fmin + 1) as usize) as u32;
                        // Ground floor 4.5 m, upper floors 3.6 m.
                        let height = if floors == 0 {
                            0.0
                        } else {
                            4.5 + 3.6 * f64::from(floors - 1)
                        };
                        w.add(
                            Geom::Polygon(&ring),
                            &[
                                Val::S(commune.code),
                                Val::S(&format!("{code}-{n:02}")),
                                Val::S(code),
                                Val::I(i64::from(density)),
                                Val::I(i64::from(floors)),
                                Val::F(height),
                                Val::F(setback),
                                Val::S(&soqd),
                                Val::S(&ngayqd),
                            ],
                        )?;
                    }
                }
            }
            let n = w.count();
            files.push(
                &path,
                "planning_zones",
                "planning_zones",
                n,
                r.srid,
                Text::Utf8,
            );
            Ok(())
        })?;

        // Buildings: in each quad of a ward one existing house (30 × 35 m, 1–5 floors) back from the
        // road strips, and in one quad of five a planned tower (35 × 40 m, 9–20 floors); in rural
        // communes one low house in one quad of three. Footprints lie inside their quad (a
        // parcel boundary may cross one: they are drawn, not surveyed).
        let path = region_file(out, "buildings", r);
        gpkg(&path, |ds| {
            let srs = gdalio::srs(r.srid, &path)?;
            let polygon = OGRwkbGeometryType::wkbPolygon;
            let spec = spec("buildings", &srs, polygon, BUILDING_FIELDS_3D);
            let mut w = LayerWriter::create(ds, &path, spec)?;
            for (idx, commune) in r.communes.iter().enumerate() {
                let (ci, cj) = r.commune_origin(idx);
                for j in cj..cj + STEPS {
                    for i in ci..ci + STEPS {
                        let mut rng = stream(seed ^ r.salt ^ NET_SALT, i, j - 1000);
                        let ward = commune.is_ward();
                        let rect = |u0: f64, v0: f64, u1: f64, v1: f64| {
                            vec![
                                r.at_mm(seed, i, j, u0, v0),
                                r.at_mm(seed, i, j, u1, v0),
                                r.at_mm(seed, i, j, u1, v1),
                                r.at_mm(seed, i, j, u0, v1),
                                r.at_mm(seed, i, j, u0, v0),
                            ]
                        };
                        if ward || (i + j).rem_euclid(3) == 0 {
                            let floors = if ward {
                                1 + rng.below(5)
                            } else {
                                1 + rng.below(2)
                            };
                            let height = 4.5 + 3.6 * (floors as f64 - 1.0);
                            w.add(
                                Geom::Polygon(&rect(0.40, 0.45, 0.46, 0.52)),
                                &[
                                    Val::S(commune.code),
                                    Val::S(&format!("CT-{}-{i}-{j}", r.key)),
                                    Val::S("existing"),
                                    Val::I(floors as i64),
                                    Val::F(height),
                                ],
                            )?;
                        }
                        if ward && (i + 2 * j).rem_euclid(5) == 0 {
                            let floors = 9 + rng.below(12);
                            w.add(
                                Geom::Polygon(&rect(0.75, 0.78, 0.82, 0.86)),
                                &[
                                    Val::S(commune.code),
                                    Val::S(&format!("QH-{}-{i}-{j}", r.key)),
                                    Val::S("planned"),
                                    Val::I(floors as i64),
                                    Val::F(4.5 + 3.6 * (floors as f64 - 1.0)),
                                ],
                            )?;
                        }
                    }
                }
            }
            let n = w.count();
            files.push(&path, "buildings", "buildings", n, r.srid, Text::Utf8);
            Ok(())
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

pub(super) const LIGHT_FIELDS: &[Field] = &[
    Field::column(&STREET_LIGHTS, "code", Ty::Str(20)),
    Field::extra(COMMUNE_CODE, Ty::Str(5)),
    // The street it lights: street lights keep no street column.
    Field::extra("TENDUONG", Ty::Str(50)),
    Field::column(&STREET_LIGHTS, "power_w", Ty::Int(5)),
    Field::column(&STREET_LIGHTS, "lamp_type", Ty::Str(40)),
];

// Traffic lights, cameras and bus stops carry code and name under later names their
// declarations list (MADEN, TENDIEM, MACAMERA, MATRAM, TEN_TRAM), not the first (MA, TEN).
pub(super) const TRAFFIC_FIELDS: &[Field] = &[
    Field::column_as(&TRAFFIC_LIGHTS, "code", 2, Ty::Str(0)),
    Field::extra(COMMUNE_CODE, Ty::Str(0)),
    Field::column_as(&TRAFFIC_LIGHTS, "name", 1, Ty::Str(0)),
    // Signal phases and cycle time: no columns of the layer.
    Field::extra("SOPHA", Ty::Int(0)),
    Field::extra("CHUKY", Ty::Int(0)),
];

pub(super) const CAMERA_FIELDS: &[Field] = &[
    Field::column_as(&CAMERAS, "code", 2, Ty::Str(0)),
    Field::extra(COMMUNE_CODE, Ty::Str(0)),
    Field::column_as(&CAMERAS, "name", 1, Ty::Str(0)),
    Field::column(&CAMERAS, "camera_type", Ty::Str(0)),
    // Heading and state: no columns of the layer.
    Field::extra("HUONG", Ty::Int(0)),
    Field::extra("TRANGTHAI", Ty::Str(0)),
];

pub(super) const STOP_FIELDS: &[Field] = &[
    Field::column_as(&BUS_STOPS, "code", 2, Ty::Str(0)),
    Field::column_as(&BUS_STOPS, "name", 2, Ty::Str(0)),
    // The routes serving the stop and whether it has a shelter: no columns of the layer.
    Field::extra("TUYEN", Ty::Str(0)),
    Field::extra("MAICHE", Ty::Str(0)),
];

pub(super) const ROUTE_FIELDS: &[Field] = &[
    Field::column(&BUS_ROUTES, "route_number", Ty::Str(0)),
    Field::column(&BUS_ROUTES, "name", Ty::Str(0)),
    // Operator, frequency and length: no columns of the layer.
    Field::extra("DONVI", Ty::Str(0)),
    Field::extra("TANSUAT", Ty::Int(0)),
    Field::extra("CUDAI", Ty::Real(0, 0)),
];

/// An intersection of a row road and a column road.
struct Node {
    region: &'static Region,
    i: i64,
    j: i64,
    pt: Pt,
}

impl Node {
    fn name(&self) -> String {
        let (row, _) = self.region.row_road_name(self.j);
        format!("Ngã tư {row} – {}", self.region.column_road_name(self.i))
    }

    fn commune(&self) -> &'static str {
        self.region.communes[self.region.commune_of(self.i, self.j)].code
    }
}

fn nodes(r: &'static Region, seed: u64) -> Vec<Node> {
    let mut out = Vec::new();
    for j in 0..r.height_quads() {
        for i in (0..r.width_quads()).filter(|&i| has_cross_road(i)) {
            out.push(Node {
                region: r,
                i,
                j,
                pt: r.at_mm(seed, i, j, CROSS_ROAD_U / 2.0, row_road_v(j) / 2.0),
            });
        }
    }
    out
}

/// A bus route: along a whole lattice row (main roads) or column.
struct Route {
    region: &'static Region,
    code: String,
    line: Centreline,
    /// (lattice column, row) of each stop.
    stops: Vec<(i64, i64)>,
    ends: (usize, usize),
}

fn routes(seed: u64) -> Vec<Route> {
    let mut out = Vec::new();
    for r in REGIONS {
        let (w, h) = (r.width_quads(), r.height_quads());
        // Every other main road carries a route, plus one north–south route.
        for j in (SHEET_QUADS..h).step_by(2 * SHEET_QUADS as usize) {
            let line = row_centre(r, seed, j, 0, w);
            let stops = line.nodes.iter().map(|&(_, i)| (i, j)).collect();
            out.push(Route {
                region: r,
                code: String::new(),
                line,
                stops,
                ends: (r.commune_of(0, j), r.commune_of(w - 1, j)),
            });
        }
        let i = 2 * SHEET_QUADS;
        let line = column_centre(r, seed, i, 0, h);
        let stops = line
            .nodes
            .iter()
            .filter(|&&(_, j)| j % 2 == 0)
            .map(|&(_, j)| (i, j))
            .collect();
        out.push(Route {
            region: r,
            code: String::new(),
            line,
            stops,
            ends: (r.commune_of(i, 0), r.commune_of(i, h - 1)),
        });
    }
    for (n, route) in out.iter_mut().enumerate() {
        route.code = format!("{:02}", n + 1);
    }
    out
}

fn write_transport(out: &Path, seed: u64, files: &mut Files<'_>) -> Result<(), SampleError> {
    // Street lights: every 40 m along the Binh Phuoc centrelines, a VNI shapefile.
    let r = &BINH_PHUOC;
    let path = out.join("street_lights.shp");
    let mut ds = gdalio::create("ESRI Shapefile", &path)?;
    let mut w = LayerWriter::create(
        &mut ds,
        &path,
        LayerSpec {
            name: "street_lights",
            srs: None,
            geom: OGRwkbGeometryType::wkbPoint,
            fields: LIGHT_FIELDS,
            options: gdalio::LEGACY_SHP_OPTIONS,
            text: Text::Vni,
        },
    )?;
    let mut rng = stream(seed ^ NET_SALT, 0, -3);
    let mut per_commune = vec![0_u32; r.communes.len()];
    for road in roads(r, seed) {
        let commune = &r.communes[road.commune];
        for (_, p) in every(&road.line.pts, 20.0, 40.0) {
            per_commune[road.commune] += 1;
            let power = if road.width >= 24.0 {
                250
            } else if road.width >= 16.0 {
                150
            } else {
                100
            };
            w.add(
                Geom::Point(p),
                &[
                    Val::S(&format!(
                        "DCS-{}-{:05}",
                        commune.code, per_commune[road.commune]
                    )),
                    Val::S(commune.code),
                    Val::S(&road.name),
                    Val::I(power),
                    Val::S(rng.pick(&names::LAMPS)),
                ],
            )?;
        }
    }
    let n = w.count();
    drop(w);
    ds.close().map_err(|e| SampleError::gdal(&path, e))?;
    gdalio::finish_legacy_shapefile(&path, gdalio::PRJ_BINH_PHUOC)?;
    files.push(
        &path,
        "street_lights",
        "street_lights",
        n,
        r.srid,
        Text::Vni,
    );

    // WGS84 GeoJSON points and lines of both regions.
    let all_nodes: Vec<Node> = REGIONS.iter().flat_map(|r| nodes(r, seed)).collect();
    let main: Vec<&Node> = all_nodes
        .iter()
        .filter(|n| n.j % SHEET_QUADS == 0)
        .collect();
    let mut rng = stream(seed ^ NET_SALT, 0, -4);
    geojson(out, "traffic_lights", TRAFFIC_FIELDS, files, |w| {
        for (k, n) in main.iter().enumerate() {
            let phases = if rng.chance(0.3) { 3 } else { 2 };
            let cycle = 60 + 10 * rng.below(7) as i64;
            w(
                n.region,
                Geom::Point(n.pt),
                &[
                    Val::S(&format!("DGT-{:03}", k + 1)),
                    Val::S(n.commune()),
                    Val::S(&n.name()),
                    Val::I(phases),
                    Val::I(cycle),
                ],
            )?;
        }
        Ok(())
    })?;
    geojson(out, "cameras", CAMERA_FIELDS, files, |w| {
        let kinds = ["Giám sát giao thông", "Phạt nguội", "An ninh trật tự"];
        for (k, n) in main
            .iter()
            .filter(|n| (n.i / SHEET_QUADS + n.j / SHEET_QUADS) % 2 == 0)
            .enumerate()
        {
            w(
                n.region,
                Geom::Point(n.pt),
                &[
                    Val::S(&format!("CAM-{:03}", k + 1)),
                    Val::S(n.commune()),
                    Val::S(&n.name()),
                    Val::S(rng.pick(&kinds)),
                    Val::I(90 * rng.below(4) as i64),
                    Val::S(if rng.chance(0.9) {
                        "Hoạt động"
                    } else {
                        "Bảo trì"
                    }),
                ],
            )?;
        }
        Ok(())
    })?;
    let routes = routes(seed);
    geojson(out, "bus_routes", ROUTE_FIELDS, files, |w| {
        for route in &routes {
            let name = format!(
                "{} – {}",
                route.region.communes[route.ends.0].name, route.region.communes[route.ends.1].name
            );
            let operator = if route.region.key == BINH_PHUOC.key {
                "HTX Vận tải Bình Phước"
            } else {
                "Công ty CP Xe khách Đồng Nai"
            };
            w(
                route.region,
                Geom::Line(&route.line.pts),
                &[
                    Val::S(&route.code),
                    Val::S(&name),
                    Val::S(operator),
                    Val::I(15 + 5 * rng.below(4) as i64),
                    Val::F((length(&route.line.pts) / 100.0).round() / 10.0),
                ],
            )?;
        }
        Ok(())
    })?;
    // One stop per intersection, listing every route that serves it.
    let mut stops: BTreeMap<(&str, i64, i64), (&'static Region, Vec<&str>)> = BTreeMap::new();
    for route in &routes {
        for &(i, j) in &route.stops {
            stops
                .entry((route.region.key, i, j))
                .or_insert((route.region, Vec::new()))
                .1
                .push(&route.code);
        }
    }
    geojson(out, "bus_stops", STOP_FIELDS, files, |w| {
        for (k, (&(_, i, j), (region, codes))) in stops.iter().enumerate() {
            let n = Node {
                region,
                i,
                j,
                pt: region.at_mm(seed, i, j, CROSS_ROAD_U / 2.0, row_road_v(j) / 2.0),
            };
            w(
                region,
                Geom::Point(n.pt),
                &[
                    Val::S(&format!("BUS-{:03}", k + 1)),
                    Val::S(&n.name()),
                    Val::S(&codes.join(", ")),
                    Val::S(if rng.chance(0.6) { "Có" } else { "Không" }),
                ],
            )?;
        }
        Ok(())
    })
}

/// A feature sink for [`geojson`]: the region says which CRS the geometry is in.
type Sink<'s> = dyn FnMut(&'static Region, Geom<'_>, &[Val<'_>]) -> Result<(), SampleError> + 's;

/// Writes `<kind>.geojson` (RFC 7946: WGS84 lon/lat, UTF-8) from native geometries of both
/// regions, transformed by PROJ (EPSG:6960 path for VN-2000).
fn geojson(
    out: &Path,
    kind: &'static str,
    fields: &'static [Field],
    files: &mut Files<'_>,
    body: impl FnOnce(&mut Sink<'_>) -> Result<(), SampleError>,
) -> Result<(), SampleError> {
    let path = out.join(format!("{kind}.geojson"));
    let wgs84 = gdalio::srs(gis_core::crs::WGS84, &path)?;
    let mut ds = gdalio::create("GeoJSON", &path)?;
    let mut w = LayerWriter::create(
        &mut ds,
        &path,
        LayerSpec {
            name: kind,
            srs: Some(&wgs84),
            geom: OGRwkbGeometryType::wkbUnknown,
            fields,
            options: &["RFC7946=YES"],
            text: Text::Utf8,
        },
    )?;
    let transforms = REGIONS
        .iter()
        .map(|r| gdalio::to_wgs84(r.srid, &path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sink = |r: &'static Region, g: Geom<'_>, vals: &[Val<'_>]| {
        let ri = REGIONS.iter().position(|x| x.key == r.key).unwrap_or(0);
        w.add_transformed(g, vals, &transforms[ri])
    };
    body(&mut sink)?;
    let n = w.count();
    drop(w);
    ds.close().map_err(|e| SampleError::gdal(&path, e))?;
    files.push(&path, kind, kind, n, gis_core::crs::WGS84, Text::Utf8);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Utilities (Binh Phuoc only)
// ---------------------------------------------------------------------------------------------

/// The power line a device hangs on (a line's code): no column of the devices' layers.
const ON_LINE: &str = "MATUYEN";

pub(super) const PIPE_FIELDS: &[Field] = &[
    Field::source_id(&WATER_PIPES, Ty::Str(0)),
    Field::column(&WATER_PIPES, "diameter_mm", Ty::Int(0)),
    Field::column(&WATER_PIPES, "material", Ty::Str(0)),
    Field::column(&WATER_PIPES, "install_year", Ty::Int(0)),
];
pub(super) const VALVE_FIELDS: &[Field] = &[
    Field::column(&WATER_VALVES, "code", Ty::Str(0)),
    Field::column(&WATER_VALVES, "diameter_mm", Ty::Int(0)),
    Field::column(&WATER_VALVES, "valve_type", Ty::Str(0)),
    Field::column(&WATER_VALVES, "status", Ty::Str(0)),
    Field::column(&WATER_VALVES, "operable", Ty::Str(0)),
];
pub(super) const SOURCE_FIELDS: &[Field] = &[
    Field::column(&WATER_SOURCES, "code", Ty::Str(0)),
    Field::column(&WATER_SOURCES, "name", Ty::Str(0)),
    Field::column(&WATER_SOURCES, "source_kind", Ty::Str(0)),
];
pub(super) const HYDRANT_FIELDS: &[Field] = &[
    Field::column(&HYDRANTS, "code", Ty::Str(0)),
    // Diameter and pressure: no columns of the hydrants.
    Field::extra("DUONGKINH", Ty::Int(0)),
    Field::extra("APLUC", Ty::Real(0, 0)),
    // TRANGTHAI: the second name the hydrants' status declares.
    Field::column_as(&HYDRANTS, "status", 1, Ty::Str(0)),
];
pub(super) const METER_FIELDS: &[Field] = &[
    Field::column(&WATER_METERS, "code", Ty::Str(0)),
    Field::column(&WATER_METERS, "customer_ref", Ty::Str(0)),
    // Commune, meter size and year: no columns of the meters.
    Field::extra(COMMUNE_CODE, Ty::Str(0)),
    Field::extra("KICHCO", Ty::Int(0)),
    Field::extra("NAMLAPDAT", Ty::Int(0)),
];
pub(super) const DRAIN_FIELDS: &[Field] = &[
    Field::source_id(&DRAINS, Ty::Str(0)),
    Field::column(&DRAINS, "diameter_mm", Ty::Int(0)),
    Field::column(&DRAINS, "material", Ty::Str(0)),
    // The year laid: drains keep no such column.
    Field::extra("NAMLAPDAT", Ty::Int(0)),
];
pub(super) const MANHOLE_FIELDS: &[Field] = &[
    Field::column(&MANHOLES, "code", Ty::Str(0)),
    // The kind of manhole: no column of the layer.
    Field::extra("LOAI", Ty::Str(0)),
    Field::column(&MANHOLES, "depth_m", Ty::Real(0, 0)),
];
pub(super) const SUBSTATION_FIELDS: &[Field] = &[
    Field::source_id(&SUBSTATIONS, Ty::Str(0)),
    Field::column(&SUBSTATIONS, "name", Ty::Str(0)),
    Field::column(&SUBSTATIONS, "capacity_kva", Ty::Int(0)),
    // The voltages ("110/22 kV"): substations keep no voltage column.
    Field::extra("DIENAP", Ty::Str(0)),
];
pub(super) const POWER_LINE_FIELDS: &[Field] = &[
    Field::source_id(&POWER_LINES, Ty::Str(0)),
    Field::column(&POWER_LINES, "name", Ty::Str(0)),
    // The substation feeding the line and the conductor: no columns of the lines.
    Field::extra("MATRAM", Ty::Str(0)),
    Field::column(&POWER_LINES, "voltage_kv", Ty::Int(0)),
    Field::extra("LOAIDAY", Ty::Str(0)),
    Field::column(&POWER_LINES, "phases", Ty::Str(0)),
];
pub(super) const SWITCH_FIELDS: &[Field] = &[
    Field::column(&POWER_SWITCHES, "code", Ty::Str(0)),
    Field::column(&POWER_SWITCHES, "switch_kind", Ty::Str(0)),
    Field::column(&POWER_SWITCHES, "state", Ty::Str(0)),
    Field::extra(ON_LINE, Ty::Str(0)),
];
pub(super) const CUSTOMER_FIELDS: &[Field] = &[
    Field::column(&POWER_CUSTOMERS, "code", Ty::Str(0)),
    Field::column(&POWER_CUSTOMERS, "customer_ref", Ty::Str(0)),
    Field::column(&POWER_CUSTOMERS, "phases", Ty::Str(0)),
    Field::extra(ON_LINE, Ty::Str(0)),
];
pub(super) const POLE_FIELDS: &[Field] = &[
    Field::column(&POWER_POLES, "code", Ty::Str(0)),
    Field::extra(ON_LINE, Ty::Str(0)),
    Field::column(&POWER_POLES, "pole_type", Ty::Str(0)),
    // The line's voltage, repeated on its poles: poles keep no voltage column.
    Field::extra("CAPDIENAP", Ty::Int(0)),
];

/// A pipe network beside the roads: pieces between nodes, and the nodes.
struct Network {
    /// (piece, lattice row of an east–west line or -1, lattice column of a north–south line or -1).
    pieces: Vec<(Vec<Pt>, i64, i64)>,
    /// (node, row, column) of each crossing.
    nodes: Vec<(Pt, i64, i64)>,
}

/// Lines offset `d` metres to the left of every Binh Phuoc centreline (merged over the whole
/// lattice), split where they cross: both pieces of a crossing end on the very same point.
fn network(seed: u64, d: f64) -> Network {
    let r = &BINH_PHUOC;
    let (w, h) = (r.width_quads(), r.height_quads());
    let rows: Vec<(i64, Centreline)> = (0..h).map(|j| (j, row_centre(r, seed, j, 0, w))).collect();
    let cols: Vec<(i64, Centreline)> = (0..w)
        .filter(|&i| has_cross_road(i))
        .map(|i| (i, column_centre(r, seed, i, 0, h)))
        .collect();
    // Offset lines are extended by a few metres at both ends while the crossings are sought: at
    // the lattice's west edge a row's line may start just east of the first column's line
    // (the offset end moves with the slant of the edge). The extensions are cut off again.
    let row_lines: Vec<Vec<Pt>> = rows
        .iter()
        .map(|(_, c)| extend(&offset(&c.pts, d)))
        .collect();
    let col_lines: Vec<Vec<Pt>> = cols
        .iter()
        .map(|(_, c)| extend(&offset(&c.pts, d)))
        .collect();
    let mut row_cuts = vec![Vec::new(); rows.len()];
    let mut col_cuts = vec![Vec::new(); cols.len()];
    let mut nodes = Vec::new();
    for (a, (j, rc)) in rows.iter().enumerate() {
        for (b, (i, cc)) in cols.iter().enumerate() {
            // The offset lines cross near the centrelines' node: search around it first.
            let ra = rc.nodes.iter().find(|n| n.1 == *i).map_or(0, |n| n.0);
            let cb = cc.nodes.iter().find(|n| n.1 == *j).map_or(0, |n| n.0);
            let near = |k: usize, len: usize| k.saturating_sub(3)..(k + 3).min(len - 1);
            let (rl, cl) = (&row_lines[a], &col_lines[b]);
            let hit = near(ra, rl.len())
                .flat_map(|s| near(cb, cl.len()).map(move |t| (s, t)))
                .chain((0..rl.len() - 1).flat_map(|s| (0..cl.len() - 1).map(move |t| (s, t))))
                .find_map(|(s, t)| {
                    seg_cross(rl[s], rl[s + 1], cl[t], cl[t + 1]).map(|(x, y)| (s, t, x, y))
                });
            if let Some((s, t, x, y)) = hit {
                let p = rl[s];
                let q = rl[s + 1];
                let pt = (mm(p.0 + x * (q.0 - p.0)), mm(p.1 + x * (q.1 - p.1)));
                row_cuts[a].push((s, x, pt));
                col_cuts[b].push((t, y, pt));
                nodes.push((pt, *j, *i));
            }
        }
    }
    let mut pieces = Vec::new();
    for ((j, _), (line, cuts)) in rows.iter().zip(row_lines.iter().zip(row_cuts)) {
        pieces.extend(unextend(split(line, cuts)).into_iter().map(|p| (p, *j, -1)));
    }
    for ((i, _), (line, cuts)) in cols.iter().zip(col_lines.iter().zip(col_cuts)) {
        pieces.extend(unextend(split(line, cuts)).into_iter().map(|p| (p, -1, *i)));
    }
    Network { pieces, nodes }
}

/// How far [`extend`] lengthens a line at each end, metres.
const EXTENSION_M: f64 = 20.0;

/// The line with one more point [`EXTENSION_M`] beyond each end, along its end segments.
fn extend(pts: &[Pt]) -> Vec<Pt> {
    let beyond = |from: Pt, to: Pt| {
        let l = dist(from, to);
        (
            mm(to.0 + (to.0 - from.0) / l * EXTENSION_M),
            mm(to.1 + (to.1 - from.1) / l * EXTENSION_M),
        )
    };
    let n = pts.len();
    let mut out = Vec::with_capacity(n + 2);
    out.push(beyond(pts[1], pts[0]));
    out.extend_from_slice(pts);
    out.push(beyond(pts[n - 2], pts[n - 1]));
    out
}

/// The pieces of an [`extend`]ed line without the extensions: the first and last points go,
/// and with them a piece that lay wholly in an extension (up to a crossing found there).
fn unextend(mut pieces: Vec<Vec<Pt>>) -> Vec<Vec<Pt>> {
    if let Some(first) = pieces.first_mut() {
        first.remove(0);
    }
    if let Some(last) = pieces.last_mut() {
        last.pop();
    }
    pieces.retain(|p| p.len() >= 2);
    pieces
}

/// Pipe diameter (mm) beside a road: mains under main roads.
fn diameter(row: i64) -> i64 {
    match row {
        -1 => 200,
        j if j % SHEET_QUADS == 0 => 300,
        _ => 110,
    }
}

/// A water pipe as written: a main or branch between crossings, valves and taps, or a
/// service line from a tap to its meter.
struct WaterPipe {
    pts: Vec<Pt>,
    diameter: i64,
    service: bool,
}

/// A valve as written.
struct WaterValve {
    at: Pt,
    diameter: i64,
}

/// A meter as written, with the commune it is in.
struct WaterMeter {
    at: Pt,
    commune: &'static str,
}

/// A plant or tank.
struct WaterSource {
    at: Pt,
    name: String,
    kind: &'static str,
}

/// The sample's water network.
struct WaterLayout {
    pipes: Vec<WaterPipe>,
    valves: Vec<WaterValve>,
    meters: Vec<WaterMeter>,
    sources: Vec<WaterSource>,
    /// The crossings (where hydrants stand).
    nodes: Vec<(Pt, i64, i64)>,
}

/// A valve on every run of pipe this long between crossings (more on longer runs).
const VALVE_EVERY_M: f64 = 300.0;

/// Metres between meters along a street at the default size.
const METER_EVERY_M: f64 = 100.0;

/// Diameter of a service line, mm.
const SERVICE_DN: i64 = 25;

/// Arc length of the foot of `p` on `pts`, and its distance.
fn project(pts: &[Pt], p: Pt) -> (f64, f64) {
    let (mut best, mut at, mut s) = (f64::INFINITY, 0.0, 0.0);
    for w in pts.windows(2) {
        let (dx, dy) = (w[1].0 - w[0].0, w[1].1 - w[0].1);
        let l2 = dx * dx + dy * dy;
        let t = if l2 > 0.0 {
            (((p.0 - w[0].0) * dx + (p.1 - w[0].1) * dy) / l2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let d = dist((w[0].0 + t * dx, w[0].1 + t * dy), p);
        if d < best {
            best = d;
            at = s + t * l2.sqrt();
        }
        s += l2.sqrt();
    }
    (at, best)
}

/// The water network of Binh Phuoc: pipes 4 m left of every road centreline (300 mm mains
/// under the main roads, 200 mm under the cross roads, 110 mm branches elsewhere), a valve at
/// every crossing and every [`VALVE_EVERY_M`] along the runs between them, meters at the
/// front of the lots each at the end of a 25 mm service line from a tap on the pipe (the pipe
/// is split at every tap and valve, so every joint is a pipe end), and a plant or tank per
/// district on a crossing. `water_pipes`: about how many pipes in all (meters are spaced to
/// reach it, at least 4 m apart); `None`: a meter every [`METER_EVERY_M`].
fn water_layout(seed: u64, water_pipes: Option<u64>) -> WaterLayout {
    let r = &BINH_PHUOC;
    let net = network(seed, 4.0);
    let rows: Vec<(Centreline, Vec<Pt>)> = (0..r.height_quads())
        .map(|j| {
            let c = row_centre(r, seed, j, 0, r.width_quads());
            let front = offset(&c.pts, row_road_width_m(j) / 2.0 + 1.5);
            (c, front)
        })
        .collect();
    let runs = net.pieces.len() as u64;
    let spacing = match water_pipes {
        None => METER_EVERY_M,
        Some(target) => {
            let frontage: f64 = rows.iter().map(|(_, f)| length(f)).sum();
            // Each meter adds a service line and a piece of the run it is tapped on.
            let meters = target.saturating_sub(runs * 2).max(1) / 2;
            (frontage / meters as f64).clamp(4.0, 10_000.0)
        }
    };
    // Meters along the fronts, kept out of the cross roads.
    let mut meters: Vec<(WaterMeter, i64)> = Vec::new();
    for (j, (c, front)) in rows.iter().enumerate() {
        let j = j as i64;
        let node_s: Vec<f64> = c.nodes.iter().map(|&(n, _)| length(&front[..=n])).collect();
        for (s, pt) in every(front, spacing / 2.0, spacing) {
            if node_s.iter().any(|&ns| (ns - s).abs() < 25.0) {
                continue;
            }
            let i = c
                .ticks
                .iter()
                .rposition(|&t| length(&front[..=t]) <= s)
                .unwrap_or(0) as i64;
            let commune = &r.communes[r.commune_of(i.min(r.width_quads() - 1), j)];
            meters.push((
                WaterMeter {
                    at: pt,
                    commune: commune.code,
                },
                j,
            ));
        }
    }
    // Each meter's tap: the nearest point of a run under its own row.
    let mut taps: Vec<Vec<(f64, usize)>> = vec![Vec::new(); net.pieces.len()];
    let mut by_row: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (q, (_, j, _)) in net.pieces.iter().enumerate() {
        if *j >= 0 {
            by_row.entry(*j).or_default().push(q);
        }
    }
    for (k, (m, j)) in meters.iter().enumerate() {
        let best = by_row
            .get(j)
            .into_iter()
            .flatten()
            .map(|&q| (q, project(&net.pieces[q].0, m.at)))
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1));
        if let Some((q, (s, d))) = best {
            if d <= 30.0 {
                taps[q].push((s, k));
            }
        }
    }
    let mut pipes = Vec::new();
    let mut valves: Vec<WaterValve> = net
        .nodes
        .iter()
        .map(|&(at, j, _)| WaterValve {
            at,
            diameter: diameter(j).max(200),
        })
        .collect();
    let mut services: Vec<Option<Pt>> = vec![None; meters.len()];
    for (q, (pts, j, _)) in net.pieces.iter().enumerate() {
        let dn = diameter(*j);
        let len = length(pts);
        // (arc length, meter) of every cut; a valve is a cut without a meter.
        let mut cuts: Vec<(f64, Option<usize>)> = taps[q]
            .iter()
            .filter(|(s, _)| *s > 1.0 && *s < len - 1.0)
            .map(|&(s, k)| (s, Some(k)))
            .collect();
        let n = (len / VALVE_EVERY_M).floor() as usize;
        for v in 1..=n {
            let mut s = len * v as f64 / (n + 1) as f64;
            // Not on a tap: a few metres on.
            while cuts.iter().any(|(c, _)| (c - s).abs() < 3.0) {
                s += 5.0;
            }
            if s < len - 3.0 {
                cuts.push((s, None));
            }
        }
        cuts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut from = (0.0, pts[0]);
        for &(s, meter) in &cuts {
            let at = point_at(pts, s);
            if at == from.1 {
                continue;
            }
            let mut piece = sub_line(pts, from.0, s);
            piece[0] = from.1;
            let last = piece.len() - 1;
            piece[last] = at;
            pipes.push(WaterPipe {
                pts: piece,
                diameter: dn,
                service: false,
            });
            match meter {
                Some(k) => services[k] = Some(at),
                None => valves.push(WaterValve { at, diameter: dn }),
            }
            from = (s, at);
        }
        let mut piece = sub_line(pts, from.0, len);
        piece[0] = from.1;
        let last = piece.len() - 1;
        piece[last] = pts[pts.len() - 1];
        if piece.len() >= 2 && piece[0] != piece[last] {
            pipes.push(WaterPipe {
                pts: piece,
                diameter: dn,
                service: false,
            });
        }
    }
    for ((m, _), tap) in meters.iter().zip(&services) {
        if let Some(tap) = tap {
            if *tap != m.at {
                pipes.push(WaterPipe {
                    pts: vec![*tap, m.at],
                    diameter: SERVICE_DN,
                    service: true,
                });
            }
        }
    }
    // A source per district: the plant in the first, tanks in the others, each on a crossing
    // of a main row inside the district (the middle one).
    let mut sources = Vec::new();
    let mut districts: Vec<&'static str> = Vec::new();
    for c in r.communes {
        if !districts.contains(&c.district) {
            districts.push(c.district);
        }
    }
    for (d, district) in districts.iter().enumerate() {
        let inside: Vec<Pt> = net
            .nodes
            .iter()
            .filter(|&&(_, j, i)| {
                let c = &r.communes
                    [r.commune_of(i.min(r.width_quads() - 1), j.min(r.height_quads() - 1))];
                c.district == *district
            })
            .map(|&(at, j, _)| (at, j))
            .filter(|(_, j)| j % SHEET_QUADS == 0)
            .map(|(at, _)| at)
            .collect();
        let Some(&at) = inside.get(inside.len() / 2) else {
            continue;
        };
        let (name, kind) = if d == 0 {
            (format!("Nhà máy nước {district}"), "Nhà máy xử lý")
        } else {
            (format!("Bể chứa {district}"), "Bể chứa")
        };
        sources.push(WaterSource { at, name, kind });
    }
    WaterLayout {
        pipes,
        valves,
        meters: meters.into_iter().map(|(m, _)| m).collect(),
        sources,
        nodes: net.nodes,
    }
}

fn write_utilities(
    out: &Path,
    seed: u64,
    water_pipes: Option<u64>,
    files: &mut Files<'_>,
) -> Result<(), SampleError> {
    let r = &BINH_PHUOC;
    let mut rng = stream(seed ^ NET_SALT, 0, -5);

    let path = out.join("water.gpkg");
    let water = water_layout(seed, water_pipes);
    gpkg(&path, |ds| {
        let srs = gdalio::srs(r.srid, &path)?;
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "water_pipes",
                &srs,
                OGRwkbGeometryType::wkbLineString,
                PIPE_FIELDS,
            ),
        )?;
        let (mut mains, mut services) = (0, 0);
        for pipe in &water.pipes {
            let dn = pipe.diameter;
            let material = if dn >= 200 {
                "Gang dẻo"
            } else if dn <= 32 || rng.chance(0.7) {
                "HDPE"
            } else {
                "uPVC"
            };
            let code = if pipe.service {
                services += 1;
                format!("DV-{services:06}")
            } else {
                mains += 1;
                format!("CN-{mains:05}")
            };
            w.add(
                Geom::Line(&pipe.pts),
                &[
                    Val::S(&code),
                    Val::I(dn),
                    Val::S(material),
                    Val::I(2005 + rng.below(19) as i64),
                ],
            )?;
        }
        files.push(
            &path,
            "water_pipes",
            "water_pipes",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        drop(w);
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "water_valves",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                VALVE_FIELDS,
            ),
        )?;
        for (k, v) in water.valves.iter().enumerate() {
            w.add(
                Geom::Point(v.at),
                &[
                    Val::S(&format!("VAN-{:05}", k + 1)),
                    Val::I(v.diameter),
                    Val::S(if rng.chance(0.7) {
                        "Van cổng"
                    } else {
                        "Van bướm"
                    }),
                    Val::S(if rng.chance(0.95) { "Mở" } else { "Đóng" }),
                    // Old gate valves seized in place: about one in twenty.
                    Val::S(if rng.chance(0.95) { "Có" } else { "Không" }),
                ],
            )?;
        }
        files.push(
            &path,
            "water_valves",
            "water_valves",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        drop(w);
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "hydrants",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                HYDRANT_FIELDS,
            ),
        )?;
        for (k, &(pt, _, _)) in water
            .nodes
            .iter()
            .filter(|(_, j, i)| j % 2 == 0 && (i / SHEET_QUADS) % 2 == 0)
            .enumerate()
        {
            w.add(
                Geom::Point(pt),
                &[
                    Val::S(&format!("TCH-{:04}", k + 1)),
                    Val::I(100),
                    Val::F(2.0 + f64::from(rng.below(15) as u32) / 10.0),
                    Val::S(if rng.chance(0.9) {
                        "Hoạt động"
                    } else {
                        "Hỏng"
                    }),
                ],
            )?;
        }
        files.push(&path, "hydrants", "hydrants", w.count(), r.srid, Text::Utf8);
        drop(w);
        // Meters at the front of the lots, just beyond the road strip, each at the end of its
        // service line.
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "water_meters",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                METER_FIELDS,
            ),
        )?;
        for (k, m) in water.meters.iter().enumerate() {
            let k = k + 1;
            w.add(
                Geom::Point(m.at),
                &[
                    Val::S(&format!("DH-{k:06}")),
                    Val::S(&format!("KH{:08}", 10_000_000 + 37 * k)),
                    Val::S(m.commune),
                    Val::I(rng.pick(&[15_i64, 15, 15, 20, 25])),
                    Val::I(2010 + rng.below(14) as i64),
                ],
            )?;
        }
        files.push(
            &path,
            "water_meters",
            "water_meters",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        drop(w);
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "water_sources",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                SOURCE_FIELDS,
            ),
        )?;
        for (k, src) in water.sources.iter().enumerate() {
            w.add(
                Geom::Point(src.at),
                &[
                    Val::S(&format!("NG-{:02}", k + 1)),
                    Val::S(&src.name),
                    Val::S(src.kind),
                ],
            )?;
        }
        files.push(
            &path,
            "water_sources",
            "water_sources",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        Ok(())
    })?;

    let path = out.join("drains.gpkg");
    let drains = network(seed, -4.0);
    gpkg(&path, |ds| {
        let srs = gdalio::srs(r.srid, &path)?;
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "drains",
                &srs,
                OGRwkbGeometryType::wkbLineString,
                DRAIN_FIELDS,
            ),
        )?;
        for (k, (pts, j, _)) in drains.pieces.iter().enumerate() {
            // Culverts are wider than the water main beside them.
            let size = match diameter(*j) {
                300 => 1000,
                200 => 800,
                _ => 600,
            };
            w.add(
                Geom::Line(pts),
                &[
                    Val::S(&format!("CTN-{:05}", k + 1)),
                    Val::I(size),
                    Val::S("Bê tông cốt thép"),
                    Val::I(2005 + rng.below(19) as i64),
                ],
            )?;
        }
        files.push(&path, "drains", "drains", w.count(), r.srid, Text::Utf8);
        drop(w);
        // Manholes on every end of every drain piece, once per point.
        let mut ends: Vec<Pt> = drains
            .pieces
            .iter()
            .flat_map(|(p, _, _)| [p[0], p[p.len() - 1]])
            .collect();
        ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        ends.dedup();
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "manholes",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                MANHOLE_FIELDS,
            ),
        )?;
        for (k, pt) in ends.into_iter().enumerate() {
            w.add(
                Geom::Point(pt),
                &[
                    Val::S(&format!("HG-{:05}", k + 1)),
                    Val::S(if rng.chance(0.8) {
                        "Hố ga thu nước"
                    } else {
                        "Hố ga thăm"
                    }),
                    Val::F(1.2 + f64::from(rng.below(19) as u32) / 10.0),
                ],
            )?;
        }
        files.push(&path, "manholes", "manholes", w.count(), r.srid, Text::Utf8);
        Ok(())
    })?;

    // Power: substations beside main roads, 22 kV feeders east and west along them.
    let path = out.join("power.gpkg");
    gpkg(&path, |ds| {
        let srs = gdalio::srs(r.srid, &path)?;
        let mut stations = Vec::new();
        let mut lines = Vec::new();
        for (k, j) in (SHEET_QUADS..r.height_quads())
            .step_by(2 * SHEET_QUADS as usize)
            .enumerate()
        {
            let c = row_centre(r, seed, j, 0, r.width_quads());
            // South side, beyond the road strip.
            let side = offset(&c.pts, -(row_road_width_m(j) / 2.0 + 4.0));
            let col = 6 + 8 * k;
            let a = c.ticks[col.min(c.ticks.len() - 2)];
            let s_station = length(&side[..=a]) + dist(side[a], side[a + 1]) / 2.0;
            let station = point_at(&side, s_station);
            let code = format!("TBA-{:02}", k + 1);
            let commune = &r.communes[r.commune_of(col as i64, j)];
            stations.push((station, code.clone(), commune));
            let mut west = sub_line(&side, 0.0, s_station);
            west.reverse();
            let east = sub_line(&side, s_station, length(&side));
            lines.push((west, format!("471-{code}"), code.clone()));
            lines.push((east, format!("472-{code}"), code));
        }
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "substations",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                SUBSTATION_FIELDS,
            ),
        )?;
        for (pt, code, commune) in &stations {
            let name = commune
                .name
                .split_once(' ')
                .map_or(commune.name, |(_, n)| n);
            w.add(
                Geom::Point(*pt),
                &[
                    Val::S(code),
                    Val::S(&format!("Trạm biến áp {name}")),
                    Val::I(rng.pick(&[25_000_i64, 40_000, 63_000])),
                    Val::S("110/22 kV"),
                ],
            )?;
        }
        files.push(
            &path,
            "substations",
            "substations",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        drop(w);
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "power_lines",
                &srs,
                OGRwkbGeometryType::wkbLineString,
                POWER_LINE_FIELDS,
            ),
        )?;
        for (pts, code, station) in &lines {
            let (feeder, _) = code.split_once('-').unwrap_or((code, ""));
            w.add(
                Geom::Line(pts),
                &[
                    Val::S(code),
                    Val::S(&format!("Xuất tuyến {feeder} {station}")),
                    Val::S(station),
                    Val::I(22),
                    Val::S(if rng.chance(0.5) { "AC-95" } else { "AC-120" }),
                    Val::S("3 pha"),
                ],
            )?;
        }
        files.push(
            &path,
            "power_lines",
            "power_lines",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        drop(w);
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "power_poles",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                POLE_FIELDS,
            ),
        )?;
        let mut k = 0;
        for (pts, code, _) in &lines {
            let mut poles: Vec<Pt> = every(pts, 50.0, 50.0).into_iter().map(|(_, p)| p).collect();
            poles.push(pts[pts.len() - 1]);
            poles.dedup();
            for p in poles {
                k += 1;
                w.add(
                    Geom::Point(p),
                    &[
                        Val::S(&format!("COT-{k:05}")),
                        Val::S(code),
                        Val::S(if rng.chance(0.8) {
                            "Bê tông ly tâm 12m"
                        } else {
                            "Bê tông ly tâm 14m"
                        }),
                        Val::I(22),
                    ],
                )?;
            }
        }
        files.push(
            &path,
            "power_poles",
            "power_poles",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        drop(w);
        // Switches on poles: the feeder's breaker at its first pole, a disconnector every
        // tenth pole (closed), and an open disconnector at its far end (the tie point where
        // a neighbouring feeder could take the load over).
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "power_switches",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                SWITCH_FIELDS,
            ),
        )?;
        let mut k = 0;
        for (pts, code, _) in &lines {
            let mut poles: Vec<Pt> = every(pts, 50.0, 50.0).into_iter().map(|(_, p)| p).collect();
            poles.push(pts[pts.len() - 1]);
            poles.dedup();
            let last = poles.len() - 1;
            for (i, p) in poles.into_iter().enumerate() {
                let (kind, state) = match i {
                    0 => ("Máy cắt", "Đóng"),
                    i if i == last => ("Dao cách ly", "Mở"),
                    i if i % 10 == 0 => ("Dao cách ly", "Đóng"),
                    _ => continue,
                };
                k += 1;
                w.add(
                    Geom::Point(p),
                    &[
                        Val::S(&format!("TB-{k:04}")),
                        Val::S(kind),
                        Val::S(state),
                        Val::S(code),
                    ],
                )?;
            }
        }
        files.push(
            &path,
            "power_switches",
            "power_switches",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        drop(w);
        // Customers every 40 m along the feeders, 12 m south of the line (the service drop).
        let mut w = LayerWriter::create(
            ds,
            &path,
            spec(
                "power_customers",
                &srs,
                OGRwkbGeometryType::wkbPoint,
                CUSTOMER_FIELDS,
            ),
        )?;
        let mut k = 0;
        for (pts, code, _) in &lines {
            for (_, p) in every(pts, 25.0, 40.0) {
                k += 1;
                w.add(
                    Geom::Point((p.0, p.1 - 12.0)),
                    &[
                        Val::S(&format!("DD-{k:05}")),
                        Val::S(&format!("PE{:08}", 1_000_000 + k)),
                        Val::S(if rng.chance(0.9) { "1 pha" } else { "3 pha" }),
                        Val::S(code),
                    ],
                )?;
            }
        }
        files.push(
            &path,
            "power_customers",
            "power_customers",
            w.count(),
            r.srid,
            Text::Utf8,
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Environmental stations (CSV, northing first)
// ---------------------------------------------------------------------------------------------

/// Station kinds and their code prefixes.
const STATION_KINDS: [(&str, &str); 4] = [
    ("Không khí", "KK"),
    ("Nước mặt", "NM"),
    ("Đất", "DD"),
    ("Nước dưới đất", "NN"),
];

/// The attribute columns of `env_stations.csv` (written by hand, so types are not used).
pub(super) const ENV_FIELDS: &[Field] = &[
    Field::column(&ENV_STATIONS, "code", Ty::Str(0)),
    Field::column(&ENV_STATIONS, "name", Ty::Str(0)),
    Field::column(&ENV_STATIONS, "station_type", Ty::Str(0)),
];

/// The coordinate columns of `env_stations.csv`, after [`ENV_FIELDS`]: names the importer reads
/// points from (its `X_POSSIBLE_NAMES`, `Y_POSSIBLE_NAMES`), not a layer's declaration.
pub(super) const ENV_COORDINATES: [&str; 2] = ["X", "Y"];

/// Writes `env_stations.csv`: one station per Binh Phuoc commune, coordinates in EPSG:9212
/// written the Vietnamese survey way, **X = northing, Y = easting**.
fn write_env_stations(out: &Path, seed: u64, files: &mut Files<'_>) -> Result<(), SampleError> {
    let r = &BINH_PHUOC;
    let path = out.join("env_stations.csv");
    let mut rng = stream(seed ^ NET_SALT, 0, -6);
    let header: Vec<&str> = ENV_FIELDS
        .iter()
        .map(|f| f.name)
        .chain(ENV_COORDINATES)
        .collect();
    let mut csv = header.join(",") + "\r\n";
    for (idx, commune) in r.communes.iter().enumerate() {
        let (ci, cj) = r.commune_origin(idx);
        let (kind, prefix) = STATION_KINDS[idx % STATION_KINDS.len()];
        // Somewhere inside a lot of the commune's middle quad.
        let (e, n) = r.at_mm(
            seed,
            ci + 3,
            cj + 3,
            0.3 + 0.4 * rng.next_f64(),
            0.3 + 0.4 * rng.next_f64(),
        );
        let name = format!("Trạm quan trắc {} {}", kind.to_lowercase(), commune.name);
        csv.push_str(&format!(
            "{prefix}-{:02},\"{name}\",{kind},{n:.3},{e:.3}\r\n",
            idx + 1
        ));
    }
    let mut file = std::fs::File::create(&path).map_err(|e| SampleError::io(&path, e))?;
    file.write_all(csv.as_bytes())
        .map_err(|e| SampleError::io(&path, e))?;
    files.push(
        &path,
        "env_stations",
        "env_stations",
        r.communes.len() as u64,
        r.srid,
        Text::Utf8,
    );
    Ok(())
}

/// Writes every network-derived file; `water_pipes`: about how many water pipes (see
/// [`super::WaterOptions`]).
pub(super) fn write(
    out: &Path,
    seed: u64,
    water_pipes: Option<u64>,
    files: &mut Vec<SampleFile>,
) -> Result<(), SampleError> {
    let mut files = Files(files);
    write_planning(out, seed, &mut files)?;
    write_transport(out, seed, &mut files)?;
    write_utilities(out, seed, water_pipes, &mut files)?;
    write_env_stations(out, seed, &mut files)
}
