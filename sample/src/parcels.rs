//! Parcels: an exact, gap-free and overlap-free partition of every commune, streamed to GDAL.
//!
//! # Construction
//!
//! The communes are cut into *units*: runs of `k` quads along a lattice row (`k` = 1 when there
//! are enough parcels, 2 or 4 for small counts, so every unit gets at least a road and a lot;
//! `k` ≤ 4 keeps a unit inside one map sheet). A unit has parameters (U, V) ∈ [0, k] × [0, 1],
//! piecewise bilinear over its quads, so iso-parametric lines are straight inside a quad and
//! kink only on quad edges — pieces that are rectangles in (U, V) therefore tile the unit
//! exactly, without clipping:
//!
//! * the **road** (DGT): V ∈ [0, w], plus U ∈ [0, w'] when a north–south road runs along the
//!   unit's west edge (every fourth lattice column) — an L-shaped parcel;
//! * the rest split into `rows ≈ √lots` strips, each strip into lots with jittered widths.
//!
//! Unit q (in the order below) gets ⌊N(q+1)/Q⌋ − ⌊Nq/Q⌋ parcels, the road being one of them, so
//! the total is exactly N.
//!
//! # Noding
//!
//! Every edge carries the break points of the pieces on both of its sides (the neighbouring
//! strip's lot corners, the neighbouring unit's strip corners), so adjacent parcels share their
//! vertices exactly: no T-junctions, and after rounding to the millimetre the parcels still
//! tile the commune with no sliver gap or overlap. Points come from [`Region::at_mm`], whose
//! canonical evaluation makes shared vertices bit-identical.
//!
//! # Order and numbering
//!
//! Regions (Binh Phuoc, then Dong Nai), communes, sheets 1–4 (NW, NE, SW, SE), quad rows from
//! the north, units from the west; inside a unit, strips from the north, lots from the west,
//! then the road. Parcel numbers (SHTHUA) run 1, 2, … per commune and sheet in that order.

use std::path::Path;

use gdal::vector::OGRwkbGeometryType;
use land::tables::PARCELS;

use super::gdalio::{self, Field, Geom, LayerSpec, LayerWriter, Text, Ty, Val};
use super::names;
use super::region::{
    has_cross_road, row_road_v, sheet_of, Commune, Region, CROSS_ROAD_U, REGIONS, SHEET_QUADS,
    STEPS,
};
use super::{SampleFile, SampleOptions, SampleRng};
use crate::SampleError;

/// Seeds the per-unit random streams; distinct from the lattice's streams.
const LAYOUT_SALT: u64 = 0x1A70_0715_0000_0001;
const ATTR_SALT: u64 = 0xA771_0B07_0000_0002;

/// A random stream for a lattice position, independent of the order units are generated in
/// (neighbours recompute each other's layouts).
pub(super) fn stream(seed: u64, i: i64, j: i64) -> SampleRng {
    SampleRng::new(
        seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
    )
}

/// How N parcels are spread over the units.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    n: u64,
    /// Quads per unit.
    pub k: i64,
    /// Index of each region's first unit.
    offsets: [u64; 2],
    total: u64,
}

/// Quads in both regions.
fn all_quads() -> u64 {
    REGIONS
        .iter()
        .map(|r| (r.width_quads() * r.height_quads()) as u64)
        .sum()
}

impl Plan {
    /// Fewest parcels possible: a road and one lot per 4-quad unit.
    pub fn min_parcels() -> u64 {
        2 * all_quads() / 4
    }

    pub fn new(n: u64) -> Plan {
        let quads = all_quads();
        // The smallest unit that still leaves every unit a road and at least one lot.
        let k = [1, 2, 4]
            .into_iter()
            .find(|&k| n >= 2 * quads / k as u64)
            .unwrap_or(4);
        let per = |r: &Region| (r.width_quads() / k * r.height_quads()) as u64;
        let offsets = [0, per(REGIONS[0])];
        Plan {
            n,
            k,
            offsets,
            total: offsets[1] + per(REGIONS[1]),
        }
    }

    /// Parcels of unit q (road included).
    fn count(&self, q: u64) -> u64 {
        let (n, t) = (u128::from(self.n), u128::from(self.total));
        let q = u128::from(q);
        ((n * (q + 1)) / t - (n * q) / t) as u64
    }

    /// Units per commune, per sheet, per sheet row.
    fn per_commune(&self) -> u64 {
        (STEPS * STEPS / self.k) as u64
    }

    /// Index of the unit starting at quad (i0, j) of region `ri`.
    fn index(&self, ri: usize, i0: i64, j: i64) -> u64 {
        let region = REGIONS[ri];
        let commune = region.commune_of(i0, j) as u64;
        let (lc, lr) = (i0 % STEPS, j % STEPS);
        let sheet = (sheet_of(lc, lr) - 1) as u64;
        let row_from_top = (SHEET_QUADS - 1 - lr % SHEET_QUADS) as u64;
        let per_row = (SHEET_QUADS / self.k) as u64;
        self.offsets[ri]
            + commune * self.per_commune()
            + sheet * per_row * SHEET_QUADS as u64
            + row_from_top * per_row
            + ((lc % SHEET_QUADS) / self.k) as u64
    }

    /// Parcels of the unit at (i0, j), or None outside the region's lattice.
    fn count_at(&self, ri: usize, i0: i64, j: i64) -> Option<u64> {
        let r = REGIONS[ri];
        let inside = (0..r.width_quads()).contains(&i0) && (0..r.height_quads()).contains(&j);
        inside.then(|| self.count(self.index(ri, i0, j)))
    }
}

/// The pieces of one unit, in unit parameters.
#[derive(Debug, Clone)]
struct Layout {
    k: f64,
    /// West edge of the lots: the cross road's width, or 0.
    u0: f64,
    /// V-breaks along the unit's east and west edges: 0, road edge, strip edges…, 1.
    vb: Vec<f64>,
    /// Per strip (from the south), the lot edges from u0 to k.
    u: Vec<Vec<f64>>,
}

impl Layout {
    fn new(region: &Region, seed: u64, k: i64, i0: i64, j: i64, count: u64) -> Layout {
        let mut rng = stream(seed ^ region.salt ^ LAYOUT_SALT, i0, j);
        let kf = k as f64;
        let u0 = if has_cross_road(i0) {
            CROSS_ROAD_U
        } else {
            0.0
        };
        let wh = row_road_v(j);
        let lots = count.saturating_sub(1).max(1);
        // Lots come out roughly square: rows / lots-per-row ≈ height / width.
        let ratio = (1.0 - wh) / (kf - u0);
        let rows = ((lots as f64 * ratio).sqrt().round() as u64).clamp(1, lots);
        let mut vb = Vec::with_capacity(rows as usize + 2);
        vb.push(0.0);
        vb.push(wh);
        for r in 1..rows {
            // ±20 % of a strip: neighbours never cross.
            let t = (r as f64 + (rng.next_f64() - 0.5) * 0.4) / rows as f64;
            vb.push(wh + (1.0 - wh) * t);
        }
        vb.push(1.0);
        let u = (0..rows)
            .map(|r| {
                let n = lots * (r + 1) / rows - lots * r / rows;
                let mut breaks = Vec::with_capacity(n as usize + 1);
                breaks.push(u0);
                for i in 1..n {
                    // ±25 % of a lot width: frontages differ, as surveyed lots do.
                    let t = (i as f64 + (rng.next_f64() - 0.5) * 0.5) / n as f64;
                    breaks.push(u0 + (kf - u0) * t);
                }
                breaks.push(kf);
                breaks
            })
            .collect();
        Layout { k: kf, u0, vb, u }
    }

    fn rows(&self) -> usize {
        self.u.len()
    }

    /// Break points on the unit's north edge: the top strip's lot corners and the cross road.
    fn top(&self) -> Vec<f64> {
        let mut t = vec![0.0];
        if self.u0 > 0.0 {
            t.push(self.u0);
        }
        t.extend(self.u.last().into_iter().flatten().copied());
        t
    }
}

/// Appends the points of an edge from `a` to `b` (exclusive of `b`) along a constant `fixed`
/// parameter: `a`, then every break of `sets` strictly between, plus quad edges (integers)
/// when `kinks`.
fn edge(pts: &mut Vec<(f64, f64)>, horizontal: bool, fixed: f64, a: f64, b: f64, sets: &[&[f64]]) {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let mut mid: Vec<f64> = sets
        .iter()
        .flat_map(|s| s.iter().copied())
        .filter(|&x| x > lo && x < hi)
        .collect();
    if horizontal {
        // Iso-V lines kink on every quad edge of a multi-quad unit.
        let mut i = lo.floor() + 1.0;
        while i < hi {
            mid.push(i);
            i += 1.0;
        }
    }
    mid.sort_by(f64::total_cmp);
    mid.dedup();
    if a > b {
        mid.reverse();
    }
    let point = |t: f64| if horizontal { (t, fixed) } else { (fixed, t) };
    pts.push(point(a));
    pts.extend(mid.into_iter().map(point));
}

/// Twice the signed area of a closed ring (shoelace).
pub(super) fn shoelace2(ring: &[(f64, f64)]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum()
}

/// One parcel, with its attribute values (before any text encoding).
#[derive(Debug, Clone)]
pub(super) struct Parcel {
    pub commune: &'static Commune,
    pub sheet: i32,
    pub number: i32,
    /// DIENTICH: the area the attribute system holds; the planar area of `ring` rounded to
    /// 0.1 m², except for ~1 % of parcels, deliberately off by 5–15 %.
    pub area: f64,
    pub landuse: &'static str,
    pub owner: String,
    pub address: String,
    /// DIADANH: where the parcel lies, public ("Số 12 đường Phú Riềng Đỏ, phường Tân Phú"),
    /// unlike the owner's `address`.
    pub place: String,
    pub gcn: &'static str,
    pub note: &'static str,
    /// Closed outer ring, counter-clockwise, native CRS, millimetres.
    pub ring: Vec<(f64, f64)>,
}

/// DBF fields of the parcel shapefiles (the legacy ViLIS/FAMIS names).
pub(super) const PARCEL_FIELDS: &[Field] = &[
    Field::column(&PARCELS, "commune_code", Ty::Str(5)),
    Field::column(&PARCELS, "sheet_number", Ty::Int(4)),
    Field::column(&PARCELS, "parcel_number", Ty::Int(6)),
    Field::column(&PARCELS, "declared_area_m2", Ty::Real(12, 1)),
    Field::column(&PARCELS, "legal_area_m2", Ty::Real(12, 1)),
    Field::column(&PARCELS, "land_use_code", Ty::Str(10)),
    Field::column(&PARCELS, "owner_name", Ty::Str(60)),
    Field::column(&PARCELS, "address", Ty::Str(80)),
    Field::column(&PARCELS, "place_name", Ty::Str(100)),
    Field::column(&PARCELS, "certificate_issued", Ty::Str(1)),
    // The surveyor's remark: no column of the cadastre.
    Field::extra("GHICHU", Ty::Str(50)),
];

impl Parcel {
    /// Values in [`PARCEL_FIELDS`] order.
    pub fn values(&self) -> [Val<'_>; 11] {
        [
            Val::S(self.commune.code),
            Val::I(i64::from(self.sheet)),
            Val::I(i64::from(self.number)),
            Val::F(self.area),
            Val::F(self.area),
            Val::S(self.landuse),
            Val::S(&self.owner),
            Val::S(&self.address),
            Val::S(&self.place),
            Val::S(self.gcn),
            Val::S(self.note),
        ]
    }
}

/// Generates every parcel of region `ri` in order and hands each to `sink`.
pub(super) fn for_each_parcel(
    ri: usize,
    seed: u64,
    plan: &Plan,
    mut sink: impl FnMut(&Parcel) -> Result<(), SampleError>,
) -> Result<(), SampleError> {
    let region = REGIONS[ri];
    let k = plan.k;
    let layout_at = |i0: i64, j: i64| {
        plan.count_at(ri, i0, j)
            .map(|c| Layout::new(region, seed, k, i0, j, c))
    };
    for (idx, commune) in region.communes.iter().enumerate() {
        let (ci, cj) = region.commune_origin(idx);
        // House numbers run along each street of the commune (lattice row j), west to east.
        let mut houses: std::collections::HashMap<i64, i32> = std::collections::HashMap::new();
        for sheet in 0..4_i64 {
            let (sc, from_top) = (sheet % 2, sheet / 2);
            let mut number = 0_i32;
            for t in 0..SHEET_QUADS {
                let lr = (1 - from_top) * SHEET_QUADS + (SHEET_QUADS - 1 - t);
                for unit in 0..SHEET_QUADS / k {
                    let (i0, j) = (ci + sc * SHEET_QUADS + unit * k, cj + lr);
                    debug_assert_eq!(sheet_of(i0 - ci, j - cj), sheet as i32 + 1);
                    let count = plan.count(plan.index(ri, i0, j));
                    let own = Layout::new(region, seed, k, i0, j, count);
                    let left = layout_at(i0 - k, j).map(|l| l.vb).unwrap_or_default();
                    let right = layout_at(i0 + k, j).map(|l| l.vb).unwrap_or_default();
                    let below = layout_at(i0, j - 1).map(|l| l.top()).unwrap_or_default();
                    let ctx = UnitCtx {
                        region,
                        seed,
                        i0,
                        j,
                        own: &own,
                        left: &left,
                        right: &right,
                        below: &below,
                    };
                    let mut rng = stream(seed ^ region.salt ^ ATTR_SALT, i0, j);
                    let (road_name, _) = region.row_road_name(j);
                    let mut emit = |ring: Vec<(f64, f64)>, road: bool| {
                        number += 1;
                        let place = if road {
                            format!("{}, {}", road_name, lower_first(commune.name))
                        } else {
                            let house = houses.entry(j).or_insert(0);
                            *house += 1;
                            place_name(*house, &road_name, commune)
                        };
                        let road = road.then_some(road_name.as_str());
                        let p = attributes(
                            &mut rng,
                            commune,
                            (sheet as i32 + 1, number),
                            ring,
                            road,
                            place,
                        );
                        sink(&p)
                    };
                    for r in (0..own.rows()).rev() {
                        for a in 0..own.u[r].len() - 1 {
                            emit(ctx.lot(r, a), false)?;
                        }
                    }
                    emit(ctx.road(), true)?;
                }
            }
        }
    }
    Ok(())
}

/// A unit and the break points its neighbours put on its edges.
struct UnitCtx<'a> {
    region: &'a Region,
    seed: u64,
    i0: i64,
    j: i64,
    own: &'a Layout,
    left: &'a [f64],
    right: &'a [f64],
    below: &'a [f64],
}

impl UnitCtx<'_> {
    /// Parameter points → closed ring in millimetres, without repeated points.
    fn ring(&self, uv: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let mut ring: Vec<(f64, f64)> = Vec::with_capacity(uv.len() + 1);
        for &(u, v) in uv {
            let p = self.region.at_mm(self.seed, self.i0, self.j, u, v);
            if ring.last() != Some(&p) {
                ring.push(p);
            }
        }
        if ring.len() > 1 && ring.first() == ring.last() {
            ring.pop();
        }
        ring.push(ring[0]);
        ring
    }

    /// Lot `a` of strip `r`.
    fn lot(&self, r: usize, a: usize) -> Vec<(f64, f64)> {
        let o = self.own;
        let (ua, ub) = (o.u[r][a], o.u[r][a + 1]);
        let (va, vb) = (o.vb[r + 1], o.vb[r + 2]);
        let none: &[f64] = &[];
        let below: &[f64] = if r > 0 { &o.u[r - 1] } else { none };
        let above: &[f64] = if r + 1 < o.rows() { &o.u[r + 1] } else { none };
        let east: &[f64] = if a + 2 == o.u[r].len() {
            self.right
        } else {
            none
        };
        let west: &[f64] = if a == 0 && o.u0 == 0.0 {
            self.left
        } else {
            none
        };
        let mut uv = Vec::with_capacity(8);
        edge(&mut uv, true, va, ua, ub, &[below]);
        edge(&mut uv, false, ub, va, vb, &[east]);
        edge(&mut uv, true, vb, ub, ua, &[above]);
        edge(&mut uv, false, ua, vb, va, &[west]);
        self.ring(&uv)
    }

    /// The road strip (an L when a cross road runs along the west edge).
    fn road(&self) -> Vec<(f64, f64)> {
        let o = self.own;
        let wh = o.vb[1];
        let mut uv = Vec::with_capacity(16);
        edge(&mut uv, true, 0.0, 0.0, o.k, &[self.below]);
        edge(&mut uv, false, o.k, 0.0, wh, &[self.right, &o.vb]);
        edge(&mut uv, true, wh, o.k, o.u0, &[&o.u[0]]);
        if o.u0 > 0.0 {
            edge(&mut uv, false, o.u0, wh, 1.0, &[&o.vb]);
            edge(&mut uv, true, 1.0, o.u0, 0.0, &[]);
            edge(&mut uv, false, 0.0, 1.0, 0.0, &[self.left, &o.vb]);
        } else {
            edge(&mut uv, false, 0.0, wh, 0.0, &[self.left, &o.vb]);
        }
        self.ring(&uv)
    }
}

/// Rounds to 0.1 m², the precision of DIENTICH.
fn dm2(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The unit word of a street or commune name in running text: "Đường Phú Riềng Đỏ" → "đường
/// Phú Riềng Đỏ", "Phường Tân Phú" → "phường Tân Phú" ("Quốc lộ 14" stays).
fn lower_first(name: &str) -> String {
    for word in ["Đường", "Phường", "Xã"] {
        if let Some(rest) = name.strip_prefix(word) {
            return format!("{}{rest}", word.to_lowercase());
        }
    }
    name.to_string()
}

/// A lot's public location address (DIADANH): house number, street, ward or commune (NFC).
pub(super) fn place_name(house: i32, street: &str, commune: &Commune) -> String {
    format!(
        "Số {house} {}, {}",
        lower_first(street),
        lower_first(commune.name)
    )
}

fn attributes(
    rng: &mut SampleRng,
    commune: &'static Commune,
    (sheet, number): (i32, i32),
    ring: Vec<(f64, f64)>,
    road: Option<&str>,
    place: String,
) -> Parcel {
    let true_area = shoelace2(&ring).abs() / 2.0;
    // ~1 % of parcels carry a stale area (old survey, typo): the import's area-mismatch report
    // must find exactly these.
    let area = if rng.chance(0.01) {
        let off = 0.05 + 0.10 * rng.next_f64();
        let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
        dm2(true_area * (1.0 + sign * off))
    } else {
        dm2(true_area)
    };
    let (landuse, owner, address, gcn, note) = if let Some(name) = road {
        // Road parcels belong to the state and are addressed by the road's name.
        let address = format!("{name}, {}", commune.name);
        ("DGT", String::new(), address, "K", "")
    } else {
        let landuse = names::landuse(rng, commune);
        let owner = names::owner(rng, landuse, commune);
        let address = names::address(rng, commune);
        let gcn = if rng.chance(if owner.is_empty() { 0.3 } else { 0.85 }) {
            "C"
        } else {
            "K"
        };
        (landuse, owner, address, gcn, names::note(rng))
    };
    Parcel {
        commune,
        sheet,
        number,
        area,
        landuse,
        owner,
        address,
        place,
        gcn,
        note,
        ring,
    }
}

/// How many leading Binh Phuoc parcels are kept for the GeoJSON sample.
pub(super) const KEEP: usize = 200;

/// Writes `parcels_binhphuoc.shp` (TCVN3) and `parcels_dongnai.shp` (VNI); returns the first
/// [`KEEP`] Binh Phuoc parcels for the small format samples.
pub(super) fn write(
    out: &Path,
    opts: &SampleOptions,
    files: &mut Vec<SampleFile>,
) -> Result<Vec<Parcel>, SampleError> {
    write_edited(out, opts, files, |_| Edit::Keep)
}

/// What next year's delivery does to one parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edit {
    /// Delivered as this year.
    Keep,
    /// A vertex added at the middle of its longest edge (re-digitised; same shape and area).
    Geometry,
    /// The certificate flag (DACAPGCN) flipped.
    Attributes,
    /// Re-surveyed under a new number: the old identity gone, a new one new.
    Renumber,
    /// Not delivered any more.
    Drop,
}

/// Added to a renumbered parcel's number (sheets hold under 100,000 parcels; SHTHUA has 6
/// digits).
pub(super) const RENUMBER_OFFSET: i32 = 500_000;

/// The edit next year's delivery makes to the parcel `p` (a pure function of the seed and the
/// parcel's identity, so the shares hold in every part of the sample).
pub(super) fn next_year_edit(seed: u64, shares: &super::NextYear, p: &Parcel) -> Edit {
    if shares
        .commune
        .as_deref()
        .is_some_and(|c| c != p.commune.code)
    {
        return Edit::Keep;
    }
    let commune: i64 = p.commune.code.parse().unwrap_or(0);
    let u = SampleRng::at(
        seed ^ NEXT_YEAR_SALT,
        commune * 16 + i64::from(p.sheet),
        i64::from(p.number),
    );
    let mut edge = shares.changed;
    if u < edge {
        // Half of the changes are geometry, half attributes.
        return if u < edge / 2.0 {
            Edit::Geometry
        } else {
            Edit::Attributes
        };
    }
    edge += shares.renumbered;
    if u < edge {
        return Edit::Renumber;
    }
    edge += shares.dropped;
    if u < edge {
        return Edit::Drop;
    }
    Edit::Keep
}

const NEXT_YEAR_SALT: u64 = 0x0E87_7EA2_0000_0003;

/// Applies a change edit to a parcel (Keep and Drop leave it as it is).
pub(super) fn apply(edit: Edit, p: &Parcel) -> Parcel {
    let mut p = p.clone();
    match edit {
        Edit::Geometry => {
            let longest = p
                .ring
                .windows(2)
                .enumerate()
                .max_by(|(_, a), (_, b)| {
                    let len = |w: &[(f64, f64)]| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
                    len(a).total_cmp(&len(b))
                })
                .map(|(i, _)| i)
                .unwrap_or(0);
            if let (Some(a), Some(b)) = (p.ring.get(longest), p.ring.get(longest + 1)) {
                // Millimetres, as every sample coordinate.
                let mid = (
                    ((a.0 + b.0) / 2.0 * 1000.0).round() / 1000.0,
                    ((a.1 + b.1) / 2.0 * 1000.0).round() / 1000.0,
                );
                p.ring.insert(longest + 1, mid);
            }
        }
        Edit::Attributes => p.gcn = if p.gcn == "C" { "K" } else { "C" },
        Edit::Renumber => p.number += RENUMBER_OFFSET,
        Edit::Keep | Edit::Drop => {}
    }
    p
}

/// [`write`] with each parcel passed through `edit` first.
pub(super) fn write_edited(
    out: &Path,
    opts: &SampleOptions,
    files: &mut Vec<SampleFile>,
    mut edit: impl FnMut(&Parcel) -> Edit,
) -> Result<Vec<Parcel>, SampleError> {
    let plan = Plan::new(opts.parcels);
    let mut kept = Vec::with_capacity(KEEP);
    for (ri, region) in REGIONS.iter().enumerate() {
        let (text, prj) = if ri == 0 {
            (Text::Tcvn3, gdalio::PRJ_BINH_PHUOC)
        } else {
            (Text::Vni, gdalio::PRJ_DONG_NAI)
        };
        let name = format!("parcels_{}", region.key);
        let path = out.join(format!("{name}.shp"));
        let mut ds = gdalio::create("ESRI Shapefile", &path)?;
        let mut w = LayerWriter::create(
            &mut ds,
            &path,
            LayerSpec {
                name: &name,
                srs: None, // the .prj is hand-written below
                geom: OGRwkbGeometryType::wkbPolygon,
                fields: PARCEL_FIELDS,
                options: gdalio::LEGACY_SHP_OPTIONS,
                text,
            },
        )?;
        for_each_parcel(ri, opts.seed, &plan, |p| {
            if ri == 0 && kept.len() < KEEP {
                kept.push(p.clone());
            }
            match edit(p) {
                Edit::Keep => w.add(Geom::Polygon(&p.ring), &p.values()),
                Edit::Drop => Ok(()),
                e => {
                    let q = apply(e, p);
                    w.add(Geom::Polygon(&q.ring), &q.values())
                }
            }
        })?;
        let features = w.count();
        drop(w);
        ds.close().map_err(|e| SampleError::gdal(&path, e))?;
        gdalio::finish_legacy_shapefile(&path, prj)?;
        files.push(SampleFile {
            path,
            layer: "parcels",
            gdal_layer: name,
            features,
            srid: region.srid,
            encoding: text.name(),
            copy: false,
        });
    }
    Ok(kept)
}
