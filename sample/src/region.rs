//! The two sample regions (old Binh Phuoc in EPSG:9212, old Dong Nai in EPSG:5899) and the
//! jittered vertex lattice every other sample layer is built on.
//!
//! Each region is a block of 4 km communes. A commune is 8 × 8 *quads*: 500 m cells whose four
//! corners are shared, jittered lattice points. Everything else (map sheets, parcels, roads,
//! planning zones, networks) is expressed in a quad's bilinear parameters (u, v) ∈ [0, 1]², and a
//! point is evaluated by one canonical function ([`Region::at_mm`]), so two features that name the
//! same parameter point get bit-identical coordinates — that is what makes the parcels tile and
//! the networks connect without any polygon clipping or snapping.

use super::SampleRng;

/// Quads per commune edge.
pub(super) const STEPS: i64 = 8;
/// Nominal quad edge in metres.
pub(super) const STEP_M: f64 = 500.0;
/// Nominal commune edge in metres.
const CELL_M: f64 = STEP_M * STEPS as f64;
/// Maximum displacement of a lattice point from its nominal position, per axis.
const JITTER_M: f64 = 120.0;
/// Quads per map sheet edge (a commune has 2 × 2 sheets).
pub(super) const SHEET_QUADS: i64 = 4;

/// A pre-merger commune and the post-merger unit it belongs to. The codes are sample codes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Commune {
    pub code: &'static str,
    pub name: &'static str,
    pub district: &'static str,
    pub code_2025: &'static str,
    pub name_2025: &'static str,
}

impl Commune {
    /// Wards (phường) are urban: ODT residential land, "Khu phố" addresses, urban roads.
    pub fn is_ward(&self) -> bool {
        self.name.starts_with("Phường")
    }
}

const fn c(
    code: &'static str,
    name: &'static str,
    district: &'static str,
    code_2025: &'static str,
    name_2025: &'static str,
) -> Commune {
    Commune {
        code,
        name,
        district,
        code_2025,
        name_2025,
    }
}

const DX: &str = "Thành phố Đồng Xoài";
const DP: &str = "Huyện Đồng Phú";
const LK: &str = "Thành phố Long Khánh";

/// Binh Phuoc sample communes, row-major from the south-west (index % 4 = column).
const BP_COMMUNES: [Commune; 12] = [
    c("25195", "Phường Tân Phú", DX, "25200", "Phường Đồng Xoài"),
    c("25198", "Phường Tân Đồng", DX, "25200", "Phường Đồng Xoài"),
    c("25201", "Phường Tân Bình", DX, "25200", "Phường Đồng Xoài"),
    c("25204", "Phường Tân Xuân", DX, "25210", "Phường Bình Phước"),
    c(
        "25207",
        "Phường Tân Thiện",
        DX,
        "25210",
        "Phường Bình Phước",
    ),
    c("25210", "Xã Tân Thành", DX, "25210", "Phường Bình Phước"),
    c("25213", "Xã Tiến Thành", DX, "25220", "Xã Tiến Hưng"),
    c("25216", "Xã Tiến Hưng", DX, "25220", "Xã Tiến Hưng"),
    c("25219", "Xã Thuận Lợi", DP, "25230", "Xã Đồng Phú"),
    c("25222", "Xã Tân Lập", DP, "25230", "Xã Đồng Phú"),
    c("25225", "Xã Tân Hưng", DP, "25230", "Xã Đồng Phú"),
    c("25228", "Xã Tân Tiến", DP, "25220", "Xã Tiến Hưng"),
];

/// Dong Nai sample communes around Long Khánh (2 × 2, row-major from the south-west).
const DN_COMMUNES: [Commune; 4] = [
    c("26041", "Phường Xuân An", LK, "26050", "Phường Long Khánh"),
    c(
        "26044",
        "Phường Xuân Bình",
        LK,
        "26050",
        "Phường Long Khánh",
    ),
    c("26047", "Phường Xuân Hòa", LK, "26050", "Phường Long Khánh"),
    c("26053", "Xã Bảo Vinh", LK, "26068", "Phường Bảo Vinh"),
];

/// A block of communes on one lattice, in one TM-3 zone.
#[derive(Debug)]
pub(super) struct Region {
    /// File-name suffix and identity: `binhphuoc` or `dongnai`.
    pub key: &'static str,
    /// EPSG code of the native CRS.
    pub srid: u32,
    /// XOR-ed into the seed so the regions get independent lattices; 0 for Binh Phuoc so its
    /// lattice (and `communes.gpkg`) stays exactly what it was before the other layers existed.
    pub salt: u64,
    /// Nominal position of lattice point (0, 0), metres.
    pub origin: (f64, f64),
    /// Communes per row.
    pub cols: i64,
    /// Rows of communes.
    pub rows: i64,
    pub communes: &'static [Commune],
    /// Names of the main east–west roads, one per fourth lattice row.
    pub main_roads: &'static [&'static str],
    /// Names of the north–south roads, one per fourth lattice column.
    pub cross_roads: &'static [&'static str],
}

pub(super) const BINH_PHUOC: Region = Region {
    key: "binhphuoc",
    srid: gis_core::crs::VN2000_TM3_106_15,
    salt: 0,
    origin: (560_000.0, 1_268_000.0),
    cols: 4,
    rows: 3,
    communes: &BP_COMMUNES,
    main_roads: &[
        "Quốc lộ 14",
        "Đường Phú Riềng Đỏ",
        "Đường Hùng Vương",
        "Đường Trần Hưng Đạo",
        "Đường Lê Duẩn",
        "Đường Nguyễn Huệ",
    ],
    cross_roads: &[
        "Đường Tôn Đức Thắng",
        "Đường Lê Quý Đôn",
        "Đường Nguyễn Văn Linh",
        "Đường Trường Chinh",
        "Đường Lý Thường Kiệt",
        "Đường Hai Bà Trưng",
        "Đường Điểu Ong",
        "Đường Ngô Quyền",
    ],
};

/// Long Khánh is ≈ 107.24 E, 10.93 N = E 444,060 N 1,208,763 in EPSG:5899 (cs2cs); the 8 km
/// block is centred on it.
pub(super) const DONG_NAI: Region = Region {
    key: "dongnai",
    srid: gis_core::crs::VN2000_TM3_107_45,
    salt: 0x5899_D0A1_5EED_0000,
    origin: (440_000.0, 1_204_000.0),
    cols: 2,
    rows: 2,
    communes: &DN_COMMUNES,
    main_roads: &[
        "Quốc lộ 1A",
        "Đường 21 Tháng 4",
        "Đường Hùng Vương",
        "Đường Nguyễn Trãi",
    ],
    cross_roads: &[
        "Đường Hồ Thị Hương",
        "Đường Khổng Tử",
        "Đường Cách Mạng Tháng Tám",
        "Đường Lý Thường Kiệt",
    ],
};

/// Both regions, in the order their parcels are numbered and written.
pub(super) const REGIONS: [&Region; 2] = [&BINH_PHUOC, &DONG_NAI];

/// Rounds to the millimetre, the precision every sample coordinate is written with. Always the
/// same value as formatting with `{:.3}` and parsing back — what the first version of this
/// generator did for `communes.gpkg` — but without the formatting cost, except near a tie.
pub(super) fn mm(x: f64) -> f64 {
    let scaled = x * 1000.0;
    if (scaled - scaled.floor() - 0.5).abs() < 1e-6 {
        // x·1000 carries a rounding error this close to a tie: the exact decimal decides.
        return format!("{x:.3}").parse().unwrap_or(x);
    }
    scaled.round() / 1000.0
}

fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
}

/// Millimetre grid points closer than this to a lattice edge count as on it (mm). Such points
/// are about 1 / (2 × 0.05) = 10 mm apart along a typical edge.
const ON_EDGE_MM: f64 = 0.05;

/// How far along an edge [`snap`] looks for a grid point on it (mm); beyond, plain rounding.
const SNAP_REACH_MM: i64 = 250;

/// The grid point on the lattice edge a–b (both on the millimetre grid) nearest to
/// lerp(a, b, t): "on" meaning within [`ON_EDGE_MM`] of the straight edge.
///
/// Plain rounding moves an edge point up to 0.7 mm off the edge, and along a commune's outline
/// those offsets add up to ≈ 0.5 m² between the commune and the sum of its parcels. Snapping
/// keeps them under 0.05 mm. The map t → point is monotone (nearest member of a fixed set), so
/// points along an edge keep their order; two breaks a few millimetres apart may merge into one
/// vertex, which both neighbours then share. Deterministic in (a, b, t).
fn snap(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    let to_mm = |x: f64| (x * 1000.0).round() as i64;
    let (ax, ay, bx, by) = (to_mm(a.0), to_mm(a.1), to_mm(b.0), to_mm(b.1));
    // Walk the major axis so that every step meets a new grid column (or row).
    let swap = (by - ay).abs() > (bx - ax).abs();
    let (ax, ay, bx, by) = if swap {
        (ay, ax, by, bx)
    } else {
        (ax, ay, bx, by)
    };
    let (dx, dy) = (bx - ax, by - ay);
    let len = (dx as f64).hypot(dy as f64);
    let px = ax as f64 + t * dx as f64;
    let on_edge = |x: i64| {
        let y = (ay as f64 + (x - ax) as f64 * dy as f64 / dx as f64).round() as i64;
        let cross = i128::from(x - ax) * i128::from(dy) - i128::from(y - ay) * i128::from(dx);
        ((cross.abs() as f64) / len <= ON_EDGE_MM).then_some((x, y))
    };
    // Candidates in order of distance from px (ties: the smaller), the first hit is the nearest.
    let (mut lo, mut hi) = (px.floor() as i64, px.floor() as i64 + 1);
    let found = loop {
        let (dlo, dhi) = (px - lo as f64, hi as f64 - px);
        if dlo.min(dhi) > SNAP_REACH_MM as f64 {
            break None;
        }
        let x = if dlo <= dhi {
            lo -= 1;
            lo + 1
        } else {
            hi += 1;
            hi - 1
        };
        if let Some(q) = on_edge(x) {
            break Some(q);
        }
    };
    match found {
        Some((x, y)) => {
            let (x, y) = if swap { (y, x) } else { (x, y) };
            (x as f64 / 1000.0, y as f64 / 1000.0)
        }
        None => {
            let p = lerp(a, b, t);
            (mm(p.0), mm(p.1))
        }
    }
}

/// Width of the east–west road strip at the bottom of lattice row `j`, metres. Every fourth
/// row (the sheet edges) carries a main road.
pub(super) fn row_road_width_m(j: i64) -> f64 {
    if j.rem_euclid(SHEET_QUADS) == 0 {
        24.0
    } else {
        12.0
    }
}

/// The road strip of row `j` in quad parameters: v ∈ [0, row_road_v(j)].
pub(super) fn row_road_v(j: i64) -> f64 {
    row_road_width_m(j) / STEP_M
}

/// North–south roads run along every fourth lattice column (the sheet edges), on its east side.
pub(super) fn has_cross_road(i: i64) -> bool {
    i.rem_euclid(SHEET_QUADS) == 0
}

/// Width of a north–south road, metres.
pub(super) const CROSS_ROAD_WIDTH_M: f64 = 16.0;

/// The north–south road strip in quad parameters: u ∈ [0, CROSS_ROAD_U].
pub(super) const CROSS_ROAD_U: f64 = CROSS_ROAD_WIDTH_M / STEP_M;

impl Region {
    /// Quads per lattice row.
    pub fn width_quads(&self) -> i64 {
        self.cols * STEPS
    }

    /// Quads per lattice column.
    pub fn height_quads(&self) -> i64 {
        self.rows * STEPS
    }

    /// The lattice point (i, j) in native metres, unrounded.
    pub fn lattice(&self, seed: u64, i: i64, j: i64) -> (f64, f64) {
        let seed = seed ^ self.salt;
        let step = CELL_M / STEPS as f64;
        let e =
            self.origin.0 + i as f64 * step + (SampleRng::at(seed, i, j) - 0.5) * 2.0 * JITTER_M;
        let n = self.origin.1
            + j as f64 * step
            + (SampleRng::at(seed ^ 0xA5A5, i, j) - 0.5) * 2.0 * JITTER_M;
        (e, n)
    }

    /// The lattice point (i, j) rounded to the millimetre, as every file stores it.
    pub fn corner(&self, seed: u64, i: i64, j: i64) -> (f64, f64) {
        let (x, y) = self.lattice(seed, i, j);
        (mm(x), mm(y))
    }

    /// The point with parameters (u, v) in quad (i, j), in millimetres.
    ///
    /// `u` and `v` may be ≥ 1 (a run of several quads): the integer part moves to the next quad
    /// first, so a point on a quad edge is always computed from the same quad with the same
    /// arithmetic, whichever feature asks for it. The quad's corners are the *rounded* lattice
    /// points, so points on a quad edge lie on the straight edge of the commune, sheet or zone
    /// outline that walks the lattice, and they are rounded onto that edge ([`snap`]). Without
    /// both, a commune's parcels would add up to its area only within ≈ 1 m².
    pub fn at_mm(&self, seed: u64, i: i64, j: i64, u: f64, v: f64) -> (f64, f64) {
        let (fu, fv) = (u.floor(), v.floor());
        let (i, j) = (i + fu as i64, j + fv as i64);
        let (u, v) = (u - fu, v - fv);
        let p00 = self.corner(seed, i, j);
        match (u == 0.0, v == 0.0) {
            (true, true) => p00,
            (false, true) => snap(p00, self.corner(seed, i + 1, j), u),
            (true, false) => snap(p00, self.corner(seed, i, j + 1), v),
            (false, false) => {
                let p10 = self.corner(seed, i + 1, j);
                let p01 = self.corner(seed, i, j + 1);
                let p11 = self.corner(seed, i + 1, j + 1);
                let (x, y) = lerp(lerp(p00, p10, u), lerp(p01, p11, u), v);
                (mm(x), mm(y))
            }
        }
    }

    /// The closed ring (counter-clockwise) around the `ni` × `nj` quads from (i0, j0), walking
    /// the lattice points, in millimetres. Communes, sheets and planning zones all use it, so
    /// they share edges with each other and with the parcels.
    pub fn block_ring(&self, seed: u64, i0: i64, j0: i64, ni: i64, nj: i64) -> Vec<(f64, f64)> {
        let (i1, j1) = (i0 + ni, j0 + nj);
        let mut ring = Vec::with_capacity(2 * (ni + nj) as usize + 1);
        ring.extend((i0..i1).map(|i| (i, j0)));
        ring.extend((j0..j1).map(|j| (i1, j)));
        ring.extend((i0 + 1..=i1).rev().map(|i| (i, j1)));
        ring.extend((j0 + 1..=j1).rev().map(|j| (i0, j)));
        ring.push((i0, j0));
        ring.into_iter()
            .map(|(i, j)| self.corner(seed, i, j))
            .collect()
    }

    /// Lattice position (column, row) of commune `idx`'s south-west quad.
    pub fn commune_origin(&self, idx: usize) -> (i64, i64) {
        let idx = idx as i64;
        ((idx % self.cols) * STEPS, (idx / self.cols) * STEPS)
    }

    /// Index of the commune containing quad (i, j).
    pub fn commune_of(&self, i: i64, j: i64) -> usize {
        ((j / STEPS) * self.cols + i / STEPS) as usize
    }

    /// Name of the east–west road along lattice row `j` and whether it is a main road.
    pub fn row_road_name(&self, j: i64) -> (String, bool) {
        if j % SHEET_QUADS == 0 {
            let k = (j / SHEET_QUADS) as usize % self.main_roads.len();
            (self.main_roads[k].to_string(), true)
        } else {
            // Minor streets are numbered, as in most new residential areas.
            let n = (j / SHEET_QUADS) * (SHEET_QUADS - 1) + j % SHEET_QUADS;
            (format!("Đường số {n}"), false)
        }
    }

    /// Name of the north–south road along lattice column `i` (a multiple of 4).
    pub fn column_road_name(&self, i: i64) -> String {
        let k = (i / SHEET_QUADS) as usize % self.cross_roads.len();
        self.cross_roads[k].to_string()
    }
}

/// Sheet number (1 = north-west, 2 = north-east, 3 = south-west, 4 = south-east) of the quad at
/// local position (col, row) inside its commune, the order sheets are usually numbered in.
pub(super) fn sheet_of(local_col: i64, local_row: i64) -> i32 {
    let from_top = (STEPS / SHEET_QUADS - 1) - local_row / SHEET_QUADS;
    (from_top * (STEPS / SHEET_QUADS) + local_col / SHEET_QUADS + 1) as i32
}
