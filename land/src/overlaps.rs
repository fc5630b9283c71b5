//! Overlapping parcels found in memory, for an import of up to a million cadastral parcels.
//!
//! Parcels of a delivery normally form a partition: neighbours share edges exactly (same
//! vertices) or with T-junctions (a vertex of one lying on an edge of the other). An overlap —
//! a digitising error, a duplicate, a shifted parcel — is reported when the two parcels share
//! more than a tolerance area, measured in the projected metres of their TM-3 zone.
//!
//! [`OverlapDetector`] keeps each parcel as whole millimetres from its group's origin
//! (cadastral coordinates are surveyed to the centimetre and the filter's snap distance is a
//! centimetre), each vertex written as the varint difference from the previous one — 4–6 bytes
//! a vertex where `[f64; 2]` takes 16: this storage is what bounds an import's memory at a
//! million parcels. Parcels are numbered in the order added; the caller names them (no keys
//! are kept here).
//! [`OverlapDetector::finish`] then works one group (SRID) at a time: it packs the bounding
//! boxes (in millimetres too) into a static Hilbert R-tree (`crate::packed`, the boxes sorted in
//! place: no second copy; a group of more than 200,000 parcels in strips along x, a tree per
//! strip, so that no tree of a whole zone is held beside the parcels), and each pair of
//! parcels whose boxes meet is decoded to metres (each parcel once for all its partners,
//! visited in the tree's order) and goes through a cheap exact filter; only the pairs it flags
//! have their intersection computed (`geo`'s boolean operations) and compared with the
//! tolerance.
//!
//! The filter flags a pair when, with `s` = [`SNAP_TOLERANCE_M`]:
//! 1. a vertex of one lies inside the other, farther than `s` from its boundary;
//! 2. an edge of one crosses an edge of the other properly (every endpoint farther than `s` from
//!    the other edge's line);
//! 3. an edge of one runs along an edge of the other (within `s`, over more than `s`) in the same
//!    direction — rings are stored with the interior on the left (exteriors counter-clockwise,
//!    holes clockwise), so both interiors lie on the same side: duplicates and a parcel that is
//!    the union of others;
//! 4. a piece of an edge of one, between the vertices of the other lying on it, has its midpoint
//!    inside the other farther than `s` from its boundary: an edge cutting through the other
//!    from vertex to vertex.
//!
//! If two interiors meet, one of these holds (a point of the intersection's boundary lies on an
//! edge piece inside the other parcel, or on a shared edge with both interiors on one side), so
//! nothing is missed except overlaps whose every trace lies within `s` of the other boundary —
//! slivers far below any useful tolerance unless the parcels are kilometres long.
//!
//! Neighbours sharing an edge are never flagged, so the exact computation runs only for real
//! overlaps. A million parcels take a few seconds on one core (see the ignored test
//! `million_parcels_timing`).

use std::ops::Range;

use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon};

/// Distance (m) within which a vertex counts as lying on the other parcel's boundary.
pub const SNAP_TOLERANCE_M: f64 = 0.01;

/// Collects parcels, then reports the pairs overlapping by more than a tolerance area.
///
/// Parcels are known by their number, the order in which they were added (from 0; a parcel
/// whose WKB is refused gets none): the caller keeps whatever names them, so the detector
/// holds no keys.
///
/// ```
/// use land::overlaps::OverlapDetector;
///
/// fn square(x: f64, y: f64, side: f64) -> Vec<u8> {
///     let mut wkb = vec![1u8];
///     wkb.extend(3u32.to_le_bytes()); // Polygon
///     wkb.extend(1u32.to_le_bytes()); // one ring
///     wkb.extend(5u32.to_le_bytes()); // five points, closed
///     for (px, py) in [(x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y)] {
///         wkb.extend(px.to_le_bytes());
///         wkb.extend(py.to_le_bytes());
///     }
///     wkb
/// }
///
/// let mut detector = OverlapDetector::new(1.0);
/// let a = detector.add(9212, &square(500_000.0, 1_200_000.0, 10.0)).expect("valid WKB");
/// let b = detector.add(9212, &square(500_010.0, 1_200_000.0, 10.0)).expect("valid WKB");
/// let c = detector.add(9212, &square(500_008.0, 1_200_000.0, 10.0)).expect("valid WKB");
/// let overlaps = detector.finish();
/// assert_eq!(overlaps.len(), 2);
/// assert_eq!((overlaps[0].a, overlaps[0].b), (b, c));
/// assert!((overlaps[0].area_m2 - 80.0).abs() < 1e-6);
/// assert_eq!((overlaps[1].a, overlaps[1].b), (a, c));
/// assert!((overlaps[1].area_m2 - 20.0).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct OverlapDetector {
    tolerance_m2: f64,
    /// Per parcel: where its encoding starts in `chunks` (chunk × [`CHUNK`] + offset).
    starts: Vec<u32>,
    /// Runs of parcels of one group (SRID): (first parcel, group). A delivery comes file by
    /// file, each in one zone, so there are a handful.
    groups: Vec<(u32, i32)>,
    /// Every parcel, encoded: varint counts (polygons; per polygon its rings; per ring its
    /// vertices) and each vertex as zigzag varints of its millimetres from the previous one
    /// (the first from its group's origin). Exteriors run counter-clockwise, holes clockwise,
    /// rings are not closed. Neighbouring vertices of a parcel lie metres apart, so a vertex
    /// takes 4–6 bytes instead of 8 (or 16 as `f64`): at a million parcels this storage is
    /// what bounds an import's memory at a million parcels. Held in chunks of [`CHUNK`] bytes
    /// (a parcel never straddles two): one growing buffer would be copied whole at each
    /// doubling, two copies at once at the import's peak.
    chunks: Vec<Vec<u8>>,
    /// Per group (SRID): the origin of its millimetre grid (its first vertex, to the kilometre).
    origins: Vec<(i32, [f64; 2])>,
    /// Per group (SRID): the box of all its parcels, millimetres from its origin.
    extents: Vec<(i32, [i32; 4])>,
    /// The parcel being read: vertices, ring ends, polygon ends, its encoding (reused from one
    /// to the next).
    reading: Parsed,
}

/// Two parcels of the same group overlapping by more than the tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    /// Number of the parcel added first.
    pub a: u32,
    /// Number of the parcel added later.
    pub b: u32,
    /// Area of their intersection, in the square metres of their projection.
    pub area_m2: f64,
}

/// One step of a decoded parcel.
enum Step {
    Vertex([i32; 2]),
    RingEnd,
    PartEnd,
}

impl OverlapDetector {
    /// A detector reporting overlaps larger than `tolerance_m2` square metres.
    pub fn new(tolerance_m2: f64) -> Self {
        Self {
            tolerance_m2,
            starts: Vec::new(),
            groups: Vec::new(),
            chunks: Vec::new(),
            origins: Vec::new(),
            extents: Vec::new(),
            reading: Default::default(),
        }
    }

    /// Adds a parcel and answers its number: `group` separates coordinate systems (the SRID:
    /// parcels in different zones are never compared), `wkb` is ISO/OGC WKB of a Polygon or
    /// MultiPolygon (2D; Z and M, ISO or EWKB style, are read and ignored, as is an EWKB
    /// SRID). Returns Err(reason) for unparsable WKB (the caller skips the parcel; nothing is
    /// kept of it, and it takes no number).
    ///
    /// Rings are cleaned on the way in: the closing vertex and repeated vertices are dropped,
    /// rings of fewer than three vertices or without area are dropped (a polygon whose exterior
    /// is dropped goes entirely), and rings are oriented with the interior on the left. A
    /// parcel left without any polygon is counted but never overlaps anything.
    pub fn add(&mut self, group: i32, wkb: &[u8]) -> Result<u32, String> {
        let number = u32::try_from(self.starts.len()).map_err(|_| "more than 2³² parcels")?;
        let mut reading = std::mem::take(&mut self.reading);
        reading.0.clear();
        reading.1.clear();
        reading.2.clear();
        reading.3.clear();
        let parsed = self.read_wkb(wkb, group, &mut reading);
        let stored = parsed.and_then(|()| self.store(&mut reading));
        self.reading = reading;
        let start = stored?;
        if let Some(b) = bounds(self.reading.0.iter().copied()) {
            match self.extents.iter_mut().find(|(g, _)| *g == group) {
                Some((_, e)) => *e = crate::packed::union(*e, b),
                None => self.extents.push((group, b)),
            }
        }
        self.starts.push(start);
        if self.groups.last().is_none_or(|&(_, g)| g != group) {
            self.groups.push((number, group));
        }
        Ok(number)
    }

    /// The area (m²) up to which an intersection is no overlap.
    pub fn tolerance_m2(&self) -> f64 {
        self.tolerance_m2
    }

    /// Number of parcels added.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether no parcel was added.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Bytes held for the parcels (their encoding and offsets), for reports and tests.
    pub fn stored_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum::<usize>() + 4 * self.starts.capacity()
    }

    /// The groups (SRIDs) of the parcels added, each with the box of its parcels (`[min x, min
    /// y, max x, max y]` in its coordinates, to the millimetre).
    pub fn extents(&self) -> Vec<(i32, [f64; 4])> {
        self.extents
            .iter()
            .filter_map(|&(group, b)| {
                let o = self.origins.iter().find(|(g, _)| *g == group)?.1;
                let at = |v: i32, k: usize| o[k] + f64::from(v) * 0.001;
                Some((group, [at(b[0], 0), at(b[1], 1), at(b[2], 0), at(b[3], 1)]))
            })
            .collect()
    }

    /// The pairs of a parcel of `self` and one of `others` (of the same group) overlapping by
    /// more than `self`'s tolerance: `a` numbers the parcel of `self`, `b` the one of
    /// `others`; largest overlap first. For a delivery checked against the parcels it leaves
    /// in place: `others` are few (a tree of their boxes), `self`'s parcels are visited once,
    /// decoded only where a box meets one of theirs.
    pub fn overlaps_with(&self, others: &OverlapDetector) -> Vec<Overlap> {
        let mut found = Vec::new();
        let mut scratch = Scratch::default();
        let (mut hits, mut stack) = (Vec::new(), Vec::new());
        for &(group, _) in &others.extents {
            let (Some(mine), Some(theirs)) = (self.origin_of(group), others.origin_of(group))
            else {
                continue;
            };
            // Origins are whole kilometres: the shift between the two grids is exact.
            let shift_mm = [0, 1].map(|k| ((theirs[k] - mine[k]) * 1000.0).round() as i64);
            let shift_m = shift_mm.map(|v| v as f64 * 0.001);
            let moved = |v: i32, k: usize| i32::try_from(i64::from(v) + shift_mm[k]).ok();
            let items: Vec<(u32, crate::packed::IBox)> = others
                .members(group)
                .filter_map(|j| {
                    let b = others.bbox_mm(j as usize)?;
                    Some((
                        j,
                        [
                            moved(b[0], 0)?,
                            moved(b[1], 1)?,
                            moved(b[2], 0)?,
                            moved(b[3], 1)?,
                        ],
                    ))
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            let tree = crate::packed::PackedTree::new(items);
            for i in self.members(group) {
                let Some(bx) = self.bbox_mm(i as usize) else {
                    continue;
                };
                tree.search(&bx, &mut hits, &mut stack);
                let mut loaded = None;
                for &j in &hits {
                    if !*loaded.get_or_insert_with(|| self.load(i as usize, &mut scratch.a)) {
                        break;
                    }
                    if !others.load(j as usize, &mut scratch.b) {
                        continue;
                    }
                    scratch.b.shift(shift_m);
                    if suspicious(
                        &scratch.a,
                        &scratch.b,
                        &mut scratch.edges,
                        &mut scratch.cuts,
                    ) {
                        let area_m2 = intersection_area(&scratch.a, &scratch.b);
                        if area_m2 > self.tolerance_m2 {
                            found.push(Overlap {
                                a: i,
                                b: j,
                                area_m2,
                            });
                        }
                    }
                }
            }
        }
        largest_first(&mut found);
        found
    }

    /// The origin of `group`'s grid, if any parcel of it was added.
    fn origin_of(&self, group: i32) -> Option<[f64; 2]> {
        self.origins
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, o)| *o)
    }

    /// The numbers of the parcels of `group`, in order.
    fn members(&self, group: i32) -> impl Iterator<Item = u32> + Clone + '_ {
        self.groups
            .iter()
            .enumerate()
            .filter(move |(_, &(_, g))| g == group)
            .flat_map(|(run, &(first, _))| {
                let end = self
                    .groups
                    .get(run + 1)
                    .map_or(self.starts.len() as u32, |&(next, _)| next);
                first..end
            })
    }

    /// All pairs overlapping by more than the tolerance, largest overlap first (ties by
    /// numbers).
    pub fn finish(&self) -> Vec<Overlap> {
        let started = std::time::Instant::now();
        let flagged = self.flagged();
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            parcels = self.len(),
            flagged = flagged.len(),
            "overlap filter"
        );
        let (mut shape_a, mut shape_b) = (Shape::default(), Shape::default());
        let mut overlaps: Vec<Overlap> = flagged
            .into_iter()
            .filter_map(|(a, b)| {
                if !(self.load(a as usize, &mut shape_a) && self.load(b as usize, &mut shape_b)) {
                    return None;
                }
                let area_m2 = intersection_area(&shape_a, &shape_b);
                (area_m2 > self.tolerance_m2).then_some(Overlap { a, b, area_m2 })
            })
            .collect();
        largest_first(&mut overlaps);
        overlaps
    }

    /// The pairs `(a, b)`, `a < b`, that the filter flags, one group (SRID) at a time.
    fn flagged(&self) -> Vec<(u32, u32)> {
        self.flagged_in_strips(STRIP)
    }

    /// [`Self::flagged`] with a group of more than `strip_max` parcels cut into strips along x
    /// (by the centres of their boxes), each with a tree of its own: the tree of a
    /// 750,000-parcel zone (16 MB) is never held whole, at the price of decoding the boxes
    /// once more per strip. Pairs within a strip are found from its tree; pairs across strips
    /// when the later strip's parcels are looked up in the earlier one's tree, once.
    fn flagged_in_strips(&self, strip_max: usize) -> Vec<(u32, u32)> {
        let mut groups: Vec<i32> = self.groups.iter().map(|&(_, g)| g).collect();
        groups.sort_unstable();
        groups.dedup();
        let mut flagged = Vec::new();
        let mut scratch = Scratch::default();
        let (mut hits, mut stack) = (Vec::new(), Vec::new());
        for group in groups {
            let members = self.members(group);
            let strips = Strips::of(self, group, members.clone(), strip_max);
            for s in 0..strips.sizes.len() {
                // Sized once, with room for the tree's nodes: grown, a million boxes (20 MB)
                // would be copied, both copies held at the import's peak.
                let mut items: Vec<(u32, crate::packed::IBox)> =
                    Vec::with_capacity(crate::packed::PackedTree::capacity_for(strips.sizes[s]));
                // Parcels whose boxes do not meet share no area.
                items.extend(members.clone().filter_map(|i| {
                    let b = self.bbox_mm(i as usize)?;
                    (strips.strip(&b) == s).then_some((i, b))
                }));
                if items.is_empty() {
                    continue;
                }
                let tree = crate::packed::PackedTree::new(items);
                // In the tree's order, so the parcels decoded one after the other are
                // neighbours; each parcel is decoded once for all its partners.
                for &(x, ref bx) in tree.items() {
                    tree.search(bx, &mut hits, &mut stack);
                    let mut loaded = None;
                    for &y in &hits {
                        if y <= x {
                            continue; // each pair once (and not with itself)
                        }
                        if *loaded.get_or_insert_with(|| self.load(x as usize, &mut scratch.a))
                            && self.load(y as usize, &mut scratch.b)
                            && suspicious(
                                &scratch.a,
                                &scratch.b,
                                &mut scratch.edges,
                                &mut scratch.cuts,
                            )
                        {
                            flagged.push((x, y));
                        }
                    }
                }
                if s + 1 == strips.sizes.len() {
                    continue;
                }
                // Later strips' parcels reaching into this one (few: those along its edge).
                for y in members.clone() {
                    let Some(by) = self.bbox_mm(y as usize) else {
                        continue;
                    };
                    if strips.strip(&by) <= s {
                        continue;
                    }
                    tree.search(&by, &mut hits, &mut stack);
                    for &x in &hits {
                        let (a, b) = (x.min(y), x.max(y));
                        if self.load(a as usize, &mut scratch.a)
                            && self.load(b as usize, &mut scratch.b)
                            && suspicious(
                                &scratch.a,
                                &scratch.b,
                                &mut scratch.edges,
                                &mut scratch.cuts,
                            )
                        {
                            flagged.push((a, b));
                        }
                    }
                }
            }
        }
        flagged
    }

    // ---------------------------------------------------------------- storage

    /// Encodes the parcel just read into the last chunk (a new one when it does not fit) and
    /// answers where it starts.
    fn store(&mut self, (coords, ring_ends, part_ends, b): &mut Parsed) -> Result<u32, String> {
        put_varint(b, part_ends.len() as u64);
        let (mut ring, mut vertex) = (0, 0);
        let mut previous = [0i32; 2];
        for &part_end in part_ends.iter() {
            put_varint(b, (part_end - ring) as u64);
            for &ring_end in &ring_ends[ring..part_end] {
                put_varint(b, (ring_end - vertex) as u64);
                for p in &coords[vertex..ring_end] {
                    for k in 0..2 {
                        put_varint(b, zigzag(i64::from(p[k]) - i64::from(previous[k])));
                    }
                    previous = *p;
                }
                vertex = ring_end;
            }
            ring = part_end;
        }
        if b.len() > CHUNK {
            return Err(format!(
                "a parcel of {} vertices (more than {} KiB encoded)",
                coords.len(),
                CHUNK >> 10
            ));
        }
        if self.chunks.last().is_none_or(|c| c.len() + b.len() > CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let at = self.chunks.len() - 1;
        let chunk = &mut self.chunks[at];
        let start = at * CHUNK + chunk.len();
        chunk.extend_from_slice(b);
        u32::try_from(start).map_err(|_| "more than 4 GiB of parcels".to_string())
    }

    /// Walks parcel `i`'s encoding: every vertex (millimetres from its group's origin), the
    /// end of every ring and of every polygon.
    fn decode(&self, i: usize, mut step: impl FnMut(Step)) {
        let start = self.starts[i] as usize;
        let bytes = &self.chunks[start / CHUNK][..];
        let mut at = start % CHUNK;
        let mut previous = [0i64; 2];
        let parts = take_varint(bytes, &mut at);
        for _ in 0..parts {
            let rings = take_varint(bytes, &mut at);
            for _ in 0..rings {
                let vertices = take_varint(bytes, &mut at);
                for _ in 0..vertices {
                    for p in &mut previous {
                        *p += unzigzag(take_varint(bytes, &mut at));
                    }
                    // Stored from i32 values, so they fit.
                    step(Step::Vertex([previous[0] as i32, previous[1] as i32]));
                }
                step(Step::RingEnd);
            }
            step(Step::PartEnd);
        }
    }

    /// `[min x, min y, max x, max y]` in millimetres, or None for a parcel without geometry.
    fn bbox_mm(&self, i: usize) -> Option<[i32; 4]> {
        let mut bbox: Option<[i32; 4]> = None;
        self.decode(i, |step| {
            if let Step::Vertex(p) = step {
                bbox = Some(match bbox {
                    None => [p[0], p[1], p[0], p[1]],
                    Some(b) => [
                        b[0].min(p[0]),
                        b[1].min(p[1]),
                        b[2].max(p[0]),
                        b[3].max(p[1]),
                    ],
                });
            }
        });
        bbox
    }

    /// Decodes parcel `i` into `out`, in metres from its group's origin (the filter and the
    /// areas only compare parcels of one group, so they need no absolute position). False for
    /// a parcel without geometry.
    fn load(&self, i: usize, out: &mut Shape) -> bool {
        out.coords.clear();
        out.ring_ends.clear();
        out.part_ends.clear();
        self.decode(i, |step| match step {
            Step::Vertex(p) => out
                .coords
                .push([f64::from(p[0]) * 0.001, f64::from(p[1]) * 0.001]),
            Step::RingEnd => out.ring_ends.push(out.coords.len()),
            Step::PartEnd => out.part_ends.push(out.ring_ends.len()),
        });
        let Some(bbox) = bounds(out.coords.iter().copied()) else {
            return false;
        };
        out.bbox = bbox;
        true
    }

    /// The origin of `group`'s millimetre grid: the first vertex seen in it, to the kilometre.
    fn origin(&mut self, group: i32, x: f64, y: f64) -> [f64; 2] {
        if let Some((_, o)) = self.origins.iter().find(|(g, _)| *g == group) {
            return *o;
        }
        let o = [(x / 1000.0).round() * 1000.0, (y / 1000.0).round() * 1000.0];
        self.origins.push((group, o));
        o
    }

    // ---------------------------------------------------------------- WKB

    /// Reads a Polygon or MultiPolygon into `out` (vertices, ring ends, polygon ends).
    fn read_wkb(&mut self, wkb: &[u8], group: i32, out: &mut Parsed) -> Result<(), String> {
        let mut r = Reader {
            bytes: wkb,
            pos: 0,
            little: true,
        };
        let (kind, dims) = r.header()?;
        match kind {
            3 => self.read_polygon(&mut r, dims, group, out)?,
            6 => {
                let count = r.count(9)?;
                for _ in 0..count {
                    let (kind, dims) = r.header()?;
                    if kind != 3 {
                        return Err(format!(
                            "a MultiPolygon member of WKB type {kind}, not a Polygon"
                        ));
                    }
                    self.read_polygon(&mut r, dims, group, out)?;
                }
            }
            other => {
                return Err(format!(
                    "WKB geometry type {other}, not a Polygon (3) or MultiPolygon (6)"
                ))
            }
        }
        if r.pos != wkb.len() {
            return Err(format!(
                "{} bytes after the end of the WKB geometry",
                wkb.len() - r.pos
            ));
        }
        Ok(())
    }

    fn read_polygon(
        &mut self,
        r: &mut Reader<'_>,
        dims: usize,
        group: i32,
        (coords, ring_ends, part_ends, _): &mut Parsed,
    ) -> Result<(), String> {
        let rings = r.count(4)?;
        let mut exterior_kept = false;
        for ring in 0..rings {
            let points = r.count(8 * dims)?;
            let start = coords.len();
            for _ in 0..points {
                let x = r.f64()?;
                let y = r.f64()?;
                for _ in 2..dims {
                    r.f64()?;
                }
                if !(x.is_finite() && y.is_finite()) {
                    return Err(format!("a non-finite coordinate ({x}, {y})"));
                }
                let o = self.origin(group, x, y);
                let (qx, qy) = (((x - o[0]) * 1000.0).round(), ((y - o[1]) * 1000.0).round());
                // ±2,000 km from the zone's first parcel: far beyond any province.
                let limit = f64::from(i32::MAX - 1000);
                if qx.abs() > limit || qy.abs() > limit {
                    return Err(format!(
                        "a vertex ({x}, {y}) more than 2,000 km from the delivery's first parcel"
                    ));
                }
                let q = [qx as i32, qy as i32];
                if coords.len() == start || coords[coords.len() - 1] != q {
                    coords.push(q);
                }
            }
            if coords.len() > start + 1 && coords[start] == coords[coords.len() - 1] {
                coords.pop();
            }
            let is_exterior = ring == 0;
            let area2 = twice_signed_area_mm(&coords[start..]);
            // A hole is kept only inside a kept exterior; degenerate rings go.
            if coords.len() - start < 3 || area2 == 0.0 || !(is_exterior || exterior_kept) {
                coords.truncate(start);
                continue;
            }
            if (area2 > 0.0) != is_exterior {
                coords[start..].reverse();
            }
            exterior_kept = true;
            ring_ends.push(coords.len());
        }
        if exterior_kept {
            part_ends.push(ring_ends.len());
        }
        Ok(())
    }
}

/// Most parcels of one group whose boxes are packed into one tree at once (see
/// [`OverlapDetector::flagged_in_strips`]): ~4.3 MB of tree.
const STRIP: usize = 200_000;

/// A group's parcels cut into strips along x by the centres of their boxes, each of about
/// the same number of parcels.
struct Strips {
    /// Where each strip after the first starts: twice the x of a box's centre (integers).
    starts: Vec<i64>,
    /// Parcels in each strip (with geometry, when there are several strips).
    sizes: Vec<usize>,
}

impl Strips {
    /// Bins of the centres' histogram the cuts are chosen among.
    const BINS: usize = 4096;

    /// The strips of `group` (one when it has at most `strip_max` parcels).
    fn of(
        detector: &OverlapDetector,
        group: i32,
        members: impl Iterator<Item = u32> + Clone,
        strip_max: usize,
    ) -> Self {
        let n = members.clone().count();
        let extent = detector
            .extents
            .iter()
            .find(|(g, _)| *g == group)
            .map(|&(_, b)| b);
        let (Some(extent), true) = (extent, n > strip_max.max(1)) else {
            // One strip: its size bounds the tree's capacity (parcels without geometry are
            // few and not worth a pass to leave out).
            return Strips {
                starts: Vec::new(),
                sizes: vec![n],
            };
        };
        // Twice the centre, from twice the extent's left edge, over this width: integers.
        let base = 2 * i64::from(extent[0]);
        let width = 2 * (i64::from(extent[2]) - i64::from(extent[0])) + 1;
        let bins = Self::BINS as i64;
        let bin = |c: i64| ((c - base).clamp(0, width - 1) * bins / width) as usize;
        let mut histogram = vec![0usize; Self::BINS];
        for i in members {
            if let Some(b) = detector.bbox_mm(i as usize) {
                histogram[bin(i64::from(b[0]) + i64::from(b[2]))] += 1;
            }
        }
        let total: usize = histogram.iter().sum();
        let count = total.div_ceil(strip_max.max(1));
        let mut strips = Strips {
            starts: Vec::new(),
            sizes: vec![0],
        };
        let mut seen = 0;
        for (k, &in_bin) in histogram.iter().enumerate() {
            // A cut after this bin when the strips so far hold their share.
            let cut = strips.starts.len() + 1;
            if seen >= total * cut / count && seen > 0 && cut < count && in_bin > 0 {
                // The first doubled centre of bin k (the smallest c with bin(c) = k).
                let first = base + (k as i64 * width + bins - 1) / bins;
                strips.starts.push(first);
                strips.sizes.push(0);
            }
            seen += in_bin;
            if let Some(last) = strips.sizes.last_mut() {
                *last += in_bin;
            }
        }
        strips
    }

    /// The strip of a parcel with box `b`.
    fn strip(&self, b: &[i32; 4]) -> usize {
        let c = i64::from(b[0]) + i64::from(b[2]);
        self.starts.partition_point(|&t| t <= c)
    }
}

/// Largest overlap first, ties by numbers.
fn largest_first(overlaps: &mut [Overlap]) {
    overlaps.sort_by(|x, y| {
        y.area_m2
            .total_cmp(&x.area_m2)
            .then_with(|| x.a.cmp(&y.a))
            .then_with(|| x.b.cmp(&y.b))
    });
}

/// `[min x, min y, max x, max y]` of `points`, or None when there are none.
fn bounds<T: Copy + PartialOrd>(points: impl IntoIterator<Item = [T; 2]>) -> Option<[T; 4]> {
    let lo = |a: T, b: T| if b < a { b } else { a };
    let hi = |a: T, b: T| if b > a { b } else { a };
    points.into_iter().fold(None, |b, p| {
        Some(match b {
            None => [p[0], p[1], p[0], p[1]],
            Some(b) => [
                lo(b[0], p[0]),
                lo(b[1], p[1]),
                hi(b[2], p[0]),
                hi(b[3], p[1]),
            ],
        })
    })
}

/// A parcel as read from WKB: vertices (millimetres), ring ends, polygon ends, and its encoding.
type Parsed = (Vec<[i32; 2]>, Vec<usize>, Vec<usize>, Vec<u8>);

/// Size of a storage chunk (a parcel's encoding must fit in one: ~200,000 vertices).
const CHUNK: usize = 1 << 20;

/// Zigzag: small magnitudes of either sign become small unsigned numbers.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// LEB128: seven bits a byte, low first.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint that `put_varint` wrote at `at`.
fn take_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    while let Some(&byte) = bytes.get(*at) {
        *at += 1;
        v |= u64::from(byte & 0x7F) << shift;
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

/// A parcel decoded for the filter: metres from its group's origin.
#[derive(Default)]
struct Shape {
    /// Every vertex, ring after ring (rings not closed).
    coords: Vec<[f64; 2]>,
    /// Per ring: end of its vertices in `coords`.
    ring_ends: Vec<usize>,
    /// Per polygon: end of its rings in `ring_ends`.
    part_ends: Vec<usize>,
    /// `[min x, min y, max x, max y]`.
    bbox: [f64; 4],
}

impl Shape {
    /// Moves the shape by `d` metres (into another grid's frame).
    fn shift(&mut self, d: [f64; 2]) {
        for p in &mut self.coords {
            p[0] += d[0];
            p[1] += d[1];
        }
        self.bbox = [
            self.bbox[0] + d[0],
            self.bbox[1] + d[1],
            self.bbox[2] + d[0],
            self.bbox[3] + d[1],
        ];
    }

    fn rings(&self) -> impl Iterator<Item = &[[f64; 2]]> + Clone + '_ {
        (0..self.ring_ends.len()).map(|r| {
            let start = if r == 0 { 0 } else { self.ring_ends[r - 1] };
            &self.coords[start..self.ring_ends[r]]
        })
    }

    /// Polygons as ranges of `ring_ends` (the first ring is the exterior).
    fn parts(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        (0..self.part_ends.len()).map(|p| {
            let start = if p == 0 { 0 } else { self.part_ends[p - 1] };
            start..self.part_ends[p]
        })
    }
}

// -------------------------------------------------------------------- filter

/// Whether parcels `a` and `b` (whose boxes meet) may overlap: see the module docs.
fn suspicious(
    a: &Shape,
    b: &Shape,
    edges: &mut Vec<([f64; 2], [f64; 2])>,
    cuts: &mut Vec<f64>,
) -> bool {
    vertex_inside(a, b)
        || vertex_inside(b, a)
        || edges_meet(a, b, edges)
        || chord_inside(a, b, cuts)
        || chord_inside(b, a, cuts)
}

/// Test 1: a vertex of `a` strictly inside `b`.
fn vertex_inside(a: &Shape, b: &Shape) -> bool {
    a.coords
        .iter()
        .any(|p| inside_box(p, &b.bbox, -SNAP_TOLERANCE_M) && strictly_inside(p, b))
}

/// Tests 2 and 3: a proper crossing, or edges running along each other in one direction.
fn edges_meet(a: &Shape, b: &Shape, edges_b: &mut Vec<([f64; 2], [f64; 2])>) -> bool {
    edges_b.clear();
    edges_b.extend(
        edges(b.rings())
            .filter(|(q1, q2)| boxes_meet(&segment_box(q1, q2), &a.bbox, SNAP_TOLERANCE_M))
            .map(|(q1, q2)| (*q1, *q2)),
    );
    if edges_b.is_empty() {
        return false;
    }
    edges(a.rings()).any(|(p1, p2)| {
        let box_e = segment_box(p1, p2);
        boxes_meet(&box_e, &b.bbox, SNAP_TOLERANCE_M)
            && edges_b.iter().any(|(q1, q2)| {
                boxes_meet(&box_e, &segment_box(q1, q2), SNAP_TOLERANCE_M)
                    && edge_pair_suspicious(p1, p2, q1, q2)
            })
    })
}

/// Test 4: a piece of an edge of `a`, cut at the vertices of `b` on it, strictly inside `b`.
fn chord_inside(a: &Shape, b: &Shape, cuts: &mut Vec<f64>) -> bool {
    edges(a.rings()).any(|(p1, p2)| {
        let box_e = segment_box(p1, p2);
        if !boxes_meet(&box_e, &b.bbox, -SNAP_TOLERANCE_M) {
            return false;
        }
        let d = sub(p2, p1);
        let len2 = dot(d, d);
        cuts.clear();
        cuts.push(0.0);
        cuts.push(1.0);
        for w in &b.coords {
            if inside_box(w, &box_e, SNAP_TOLERANCE_M) {
                let t = dot(sub(w, p1), d) / len2;
                if t > 0.0
                    && t < 1.0
                    && dist2_to_segment(w, p1, p2) <= SNAP_TOLERANCE_M * SNAP_TOLERANCE_M
                {
                    cuts.push(t);
                }
            }
        }
        cuts.sort_unstable_by(f64::total_cmp);
        cuts.windows(2).any(|w| {
            let t = 0.5 * (w[0] + w[1]);
            let m = [p1[0] + t * d[0], p1[1] + t * d[1]];
            inside_box(&m, &b.bbox, -SNAP_TOLERANCE_M) && strictly_inside(&m, b)
        })
    })
}

/// Whether `p` lies inside parcel `b` (even–odd over all its rings) and farther than
/// [`SNAP_TOLERANCE_M`] from its boundary.
fn strictly_inside(p: &[f64; 2], b: &Shape) -> bool {
    let snap2 = SNAP_TOLERANCE_M * SNAP_TOLERANCE_M;
    let mut inside = false;
    for (u, v) in edges(b.rings()) {
        if inside_box(p, &segment_box(u, v), SNAP_TOLERANCE_M) && dist2_to_segment(p, u, v) <= snap2
        {
            return false;
        }
        if (u[1] > p[1]) != (v[1] > p[1]) {
            let x = u[0] + (p[1] - u[1]) * (v[0] - u[0]) / (v[1] - u[1]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

// -------------------------------------------------------------------- exact area

/// Area of the intersection of parcels `a` and `b`, computed near the origin of `a`'s box.
fn intersection_area(a: &Shape, b: &Shape) -> f64 {
    let origin = a.bbox;
    to_geo(a, &origin)
        .intersection(&to_geo(b, &origin))
        .unsigned_area()
}

fn to_geo(shape: &Shape, origin: &[f64; 4]) -> MultiPolygon<f64> {
    let rings: Vec<&[[f64; 2]]> = shape.rings().collect();
    let ring = |r: usize| -> LineString<f64> {
        rings[r]
            .iter()
            .map(|p| Coord {
                x: p[0] - origin[0],
                y: p[1] - origin[1],
            })
            .collect()
    };
    MultiPolygon(
        shape
            .parts()
            .map(|mut part| {
                let exterior = part.next().map(ring).unwrap_or_else(|| LineString(vec![]));
                Polygon::new(exterior, part.map(ring).collect())
            })
            .collect(),
    )
}

/// Buffers reused from one candidate pair to the next.
#[derive(Default)]
struct Scratch {
    /// The pair, decoded.
    a: Shape,
    b: Shape,
    /// Edges of the second parcel near the first one's box.
    edges: Vec<([f64; 2], [f64; 2])>,
    /// Cut parameters along an edge (test 4).
    cuts: Vec<f64>,
}

/// Directed edges of closed rings stored without their closing vertex.
fn edges<'a>(
    rings: impl Iterator<Item = &'a [[f64; 2]]>,
) -> impl Iterator<Item = (&'a [f64; 2], &'a [f64; 2])> {
    rings.flat_map(|ring| ring.iter().zip(ring.iter().cycle().skip(1)))
}

/// Twice the signed area of a ring of millimetres (positive counter-clockwise), exact.
fn twice_signed_area_mm(ring: &[[i32; 2]]) -> f64 {
    let Some(o) = ring.first() else {
        return 0.0;
    };
    let d = |p: &[i32; 2]| {
        (
            i128::from(p[0]) - i128::from(o[0]),
            i128::from(p[1]) - i128::from(o[1]),
        )
    };
    ring.windows(2)
        .map(|w| {
            let (a, b) = (d(&w[0]), d(&w[1]));
            a.0 * b.1 - a.1 * b.0
        })
        .sum::<i128>() as f64
}

/// Tests 2 and 3 for edge `p1p2` of one parcel and `q1q2` of the other.
fn edge_pair_suspicious(p1: &[f64; 2], p2: &[f64; 2], q1: &[f64; 2], q2: &[f64; 2]) -> bool {
    let d = sub(p2, p1);
    let e = sub(q2, q1);
    let len_d = dot(d, d).sqrt();
    let len_e = dot(e, e).sqrt();
    // Signed distances of q1, q2 from the line of p1p2.
    let s1 = cross(d, sub(q1, p1)) / len_d;
    let s2 = cross(d, sub(q2, p1)) / len_d;
    let near1 = s1.abs() <= SNAP_TOLERANCE_M;
    let near2 = s2.abs() <= SNAP_TOLERANCE_M;
    if near1 && near2 {
        // Collinear: suspicious when both run the same way over more than the snap distance.
        if dot(d, e) <= 0.0 {
            return false;
        }
        let t1 = dot(d, sub(q1, p1)) / len_d;
        let t2 = dot(d, sub(q2, p1)) / len_d;
        return t2.min(len_d) - t1.max(0.0) > SNAP_TOLERANCE_M;
    }
    if near1 || near2 || (s1 > 0.0) == (s2 > 0.0) {
        return false;
    }
    let r1 = cross(e, sub(p1, q1)) / len_e;
    let r2 = cross(e, sub(p2, q1)) / len_e;
    r1.abs() > SNAP_TOLERANCE_M && r2.abs() > SNAP_TOLERANCE_M && (r1 > 0.0) != (r2 > 0.0)
}

fn sub(a: &[f64; 2], b: &[f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

fn cross(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[1] - a[1] * b[0]
}

fn dist2_to_segment(p: &[f64; 2], u: &[f64; 2], v: &[f64; 2]) -> f64 {
    let d = sub(v, u);
    let w = sub(p, u);
    let len2 = dot(d, d);
    let t = if len2 > 0.0 {
        (dot(w, d) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let off = [w[0] - t * d[0], w[1] - t * d[1]];
    dot(off, off)
}

fn segment_box(u: &[f64; 2], v: &[f64; 2]) -> [f64; 4] {
    [
        u[0].min(v[0]),
        u[1].min(v[1]),
        u[0].max(v[0]),
        u[1].max(v[1]),
    ]
}

/// Whether `p` lies in box `b` grown by `margin` (shrunk when negative).
fn inside_box(p: &[f64; 2], b: &[f64; 4], margin: f64) -> bool {
    p[0] >= b[0] - margin && p[0] <= b[2] + margin && p[1] >= b[1] - margin && p[1] <= b[3] + margin
}

/// Whether boxes `a` and `b` meet once `b` is grown by `margin` (shrunk when negative).
fn boxes_meet(a: &[f64; 4], b: &[f64; 4], margin: f64) -> bool {
    a[0] <= b[2] + margin && a[2] >= b[0] - margin && a[1] <= b[3] + margin && a[3] >= b[1] - margin
}

/// A cursor over WKB bytes (also read by [`crate::snap`]).
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    little: bool,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            pos: 0,
            little: true,
        }
    }

    /// Whether every byte was read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let chunk = self
            .bytes
            .get(self.pos..self.pos + N)
            .ok_or_else(|| format!("WKB truncated at byte {}", self.pos))?;
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(chunk);
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    pub(crate) fn f64(&mut self) -> Result<f64, String> {
        let b = self.take::<8>()?;
        Ok(if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A count of items at least `min_size` bytes each, checked against the bytes left.
    pub(crate) fn count(&mut self, min_size: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size) > self.bytes.len() - self.pos {
            return Err(format!(
                "WKB announces {n} items at byte {} but only {} bytes follow",
                self.pos,
                self.bytes.len() - self.pos
            ));
        }
        Ok(n)
    }

    /// Byte order and type of a geometry: its base type (1–7) and coordinates per point.
    pub(crate) fn header(&mut self) -> Result<(u32, usize), String> {
        self.little = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            other => return Err(format!("WKB byte order flag {other} (expected 0 or 1)")),
        };
        let raw = self.u32()?;
        let code = raw & 0x0FFF_FFFF;
        let (mut z, mut m) = match code / 1000 {
            0 => (false, false),
            1 => (true, false),
            2 => (false, true),
            3 => (true, true),
            _ => return Err(format!("unknown WKB geometry type {raw:#x}")),
        };
        z |= raw & 0x8000_0000 != 0;
        m |= raw & 0x4000_0000 != 0;
        if raw & 0x2000_0000 != 0 {
            self.u32()?; // EWKB SRID
        }
        Ok((code % 1000, 2 + usize::from(z) + usize::from(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Ring = Vec<[f64; 2]>;

    const E0: f64 = 500_000.0;
    const N0: f64 = 1_200_000.0;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Ring {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    fn put_polygon(wkb: &mut Vec<u8>, rings: &[Ring]) {
        wkb.push(1);
        wkb.extend(3u32.to_le_bytes());
        wkb.extend((rings.len() as u32).to_le_bytes());
        for ring in rings {
            wkb.extend((ring.len() as u32 + 1).to_le_bytes());
            for p in ring.iter().chain(ring.first()) {
                wkb.extend(p[0].to_le_bytes());
                wkb.extend(p[1].to_le_bytes());
            }
        }
    }

    fn polygon(rings: &[Ring]) -> Vec<u8> {
        let mut wkb = Vec::new();
        put_polygon(&mut wkb, rings);
        wkb
    }

    fn multipolygon(polygons: &[Vec<Ring>]) -> Vec<u8> {
        let mut wkb = vec![1];
        wkb.extend(6u32.to_le_bytes());
        wkb.extend((polygons.len() as u32).to_le_bytes());
        for rings in polygons {
            put_polygon(&mut wkb, rings);
        }
        wkb
    }

    /// Cell (i, j) of a grid of 10 m squares anchored at (E0, N0).
    fn cell(i: usize, j: usize) -> Ring {
        let (x, y) = (E0 + 10.0 * i as f64, N0 + 10.0 * j as f64);
        rect(x, y, x + 10.0, y + 10.0)
    }

    fn add(d: &mut OverlapDetector, key: &str, group: i32, wkb: &[u8]) {
        d.add(key, group, wkb).expect("valid WKB");
    }

    // The tests name their parcels; the detector numbers them.
    type OverlapDetector = Named;

    /// A delivery against the parcels it leaves in place: only pairs across the two sets, in
    /// the same group, are reported, whatever the two grids' origins.
    #[test]
    fn overlaps_with_compares_across_two_detectors() {
        let mut delivered = super::OverlapDetector::new(1.0);
        let a = delivered
            .add(9212, &polygon(&[rect(E0, N0, E0 + 10.0, N0 + 10.0)]))
            .expect("valid");
        let b = delivered
            .add(9212, &polygon(&[rect(E0 + 10.0, N0, E0 + 20.0, N0 + 10.0)]))
            .expect("valid");
        // Overlapping each other: reported by finish, not by overlaps_with.
        delivered
            .add(
                9212,
                &polygon(&[rect(E0 + 100.0, N0, E0 + 110.0, N0 + 10.0)]),
            )
            .expect("valid");
        delivered
            .add(
                9212,
                &polygon(&[rect(E0 + 105.0, N0, E0 + 115.0, N0 + 10.0)]),
            )
            .expect("valid");
        let other_zone = delivered
            .add(5899, &polygon(&[rect(E0, N0, E0 + 10.0, N0 + 10.0)]))
            .expect("valid");
        // Their grid starts 37 km away: the shift between the grids must be applied.
        let mut kept = super::OverlapDetector::new(1.0);
        kept.add(
            9212,
            &polygon(&[rect(
                E0 + 37_000.0,
                N0 - 5_000.0,
                E0 + 37_010.0,
                N0 - 4_990.0,
            )]),
        )
        .expect("valid");
        // Overlaps `a` (2 m × 2 m) and `b` (8 m × 2 m).
        let over_a = kept
            .add(9212, &polygon(&[rect(E0 + 8.0, N0, E0 + 18.0, N0 + 2.0)]))
            .expect("valid");
        kept.add(9212, &polygon(&[rect(E0 + 20.0, N0, E0 + 30.0, N0 + 10.0)]))
            .expect("valid");
        // (The one before shares `b`'s right edge: a neighbour, not an overlap.)
        // Another zone: compared with `other_zone` only.
        let over_other = kept
            .add(
                5899,
                &polygon(&[rect(E0 + 5.0, N0 + 5.0, E0 + 15.0, N0 + 15.0)]),
            )
            .expect("valid");
        assert_eq!(kept.extents().len(), 2);
        let found = delivered.overlaps_with(&kept);
        let pairs: Vec<(u32, u32)> = found.iter().map(|o| (o.a, o.b)).collect();
        assert_eq!(
            pairs,
            vec![(other_zone, over_other), (b, over_a), (a, over_a)]
        );
        assert!((found[0].area_m2 - 25.0).abs() < 1e-6, "{found:?}");
        assert!((found[1].area_m2 - 16.0).abs() < 1e-6, "{found:?}");
        assert!((found[2].area_m2 - 4.0).abs() < 1e-6, "{found:?}");
        // The extent of each group, in its coordinates.
        let extents = delivered.extents();
        let e = extents.iter().find(|(g, _)| *g == 9212).expect("9212").1;
        assert_eq!(e, [E0, N0, E0 + 115.0, N0 + 10.0]);
    }

    struct Named {
        inner: super::OverlapDetector,
        names: Vec<String>,
    }

    #[derive(Debug)]
    struct NamedOverlap {
        a: String,
        b: String,
        area_m2: f64,
    }

    impl Named {
        fn new(tolerance_m2: f64) -> Self {
            Named {
                inner: super::OverlapDetector::new(tolerance_m2),
                names: Vec::new(),
            }
        }

        fn add(&mut self, key: &str, group: i32, wkb: &[u8]) -> Result<u32, String> {
            let n = self.inner.add(group, wkb)?;
            assert_eq!(
                n as usize,
                self.names.len(),
                "parcels are numbered in order"
            );
            self.names.push(key.to_string());
            Ok(n)
        }

        fn len(&self) -> usize {
            self.inner.len()
        }

        fn flagged(&self) -> Vec<(u32, u32)> {
            self.inner.flagged()
        }

        /// Largest first, ties by names (the detector breaks them by number).
        fn finish(self) -> Vec<NamedOverlap> {
            let names = self.names;
            let mut found: Vec<NamedOverlap> = self
                .inner
                .finish()
                .into_iter()
                .map(|o| NamedOverlap {
                    a: names[o.a as usize].clone(),
                    b: names[o.b as usize].clone(),
                    area_m2: o.area_m2,
                })
                .collect();
            found.sort_by(|x, y| {
                y.area_m2
                    .total_cmp(&x.area_m2)
                    .then_with(|| x.a.cmp(&y.a))
                    .then_with(|| x.b.cmp(&y.b))
            });
            found
        }
    }

    fn grid(n: usize) -> OverlapDetector {
        let mut d = OverlapDetector::new(1.0);
        for i in 0..n {
            for j in 0..n {
                add(&mut d, &format!("g/{i}/{j}"), 9212, &polygon(&[cell(i, j)]));
            }
        }
        d
    }

    fn pairs(overlaps: &[NamedOverlap]) -> Vec<(&str, &str, f64)> {
        overlaps
            .iter()
            .map(|o| (o.a.as_str(), o.b.as_str(), (o.area_m2 * 1e6).round() / 1e6))
            .collect()
    }

    #[test]
    fn overlaps_partition_grid_has_none() {
        let d = grid(100);
        assert_eq!(d.len(), 10_000);
        // Not one neighbour pair reaches the exact computation.
        assert!(d.flagged().is_empty());
        assert!(d.finish().is_empty());
    }

    #[test]
    fn overlaps_found_in_strips_are_those_found_in_one_tree() {
        // A jittered 40 × 40 partition with 60 shifted copies in two zones, cut into strips of
        // 50 parcels: every pair across a strip's edge must still be found, once.
        const N: usize = 40;
        let mut rng = Lcg(7);
        let mut d = Named::new(1.0);
        let corners: Vec<[f64; 2]> = (0..(N + 1) * (N + 1))
            .map(|k| {
                let (i, j) = (k % (N + 1), k / (N + 1));
                [
                    E0 + 10.0 * i as f64 + 4.0 * rng.next() - 2.0,
                    N0 + 10.0 * j as f64 + 4.0 * rng.next() - 2.0,
                ]
            })
            .collect();
        let parcel = |i: usize, j: usize, dx: f64| -> Ring {
            [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
                .iter()
                .map(|&(a, b)| {
                    let p = corners[b * (N + 1) + a];
                    [p[0] + dx, p[1]]
                })
                .collect()
        };
        for zone in [9212, 5899] {
            for j in 0..N {
                for i in 0..N {
                    add(
                        &mut d,
                        &format!("{zone}/{i}/{j}"),
                        zone,
                        &polygon(&[parcel(i, j, 0.0)]),
                    );
                }
            }
            for k in 0..30 {
                let (i, j) = (k * 7 % N, k * 13 % N);
                let dx = 2.0 + (k % 5) as f64 * 3.0;
                add(
                    &mut d,
                    &format!("{zone}/dup/{k}"),
                    zone,
                    &polygon(&[parcel(i, j, dx)]),
                );
            }
        }
        let members = d.inner.members(9212);
        let strips = Strips::of(&d.inner, 9212, members.clone(), 50);
        assert!(strips.sizes.len() >= 30, "{} strips", strips.sizes.len());
        assert_eq!(strips.sizes.iter().sum::<usize>(), N * N + 30);
        for i in members {
            let b = d.inner.bbox_mm(i as usize).expect("box");
            let s = strips.strip(&b);
            assert!(s < strips.sizes.len());
        }
        let mut whole = d.inner.flagged_in_strips(usize::MAX);
        let mut cut = d.inner.flagged_in_strips(50);
        whole.sort_unstable();
        cut.sort_unstable();
        assert!(whole.len() >= 60, "{} pairs", whole.len());
        assert_eq!(cut, whole);
        let mut once = cut.clone();
        once.dedup();
        assert_eq!(once.len(), cut.len(), "a pair found twice");
    }

    #[test]
    fn overlaps_t_junctions_are_not_overlaps() {
        // Row j = 50 is split into left and right halves: the rows above and below keep their
        // four-vertex squares, so the halves' corners sit on their edges.
        let mut d = OverlapDetector::new(1.0);
        for i in 0..100 {
            for j in 0..100 {
                let c = cell(i, j);
                if j == 50 {
                    let mid = c[0][0] + 5.0;
                    add(
                        &mut d,
                        &format!("{i}/{j}/L"),
                        9212,
                        &polygon(&[rect(c[0][0], c[0][1], mid, c[2][1])]),
                    );
                    add(
                        &mut d,
                        &format!("{i}/{j}/R"),
                        9212,
                        &polygon(&[rect(mid, c[0][1], c[2][0], c[2][1])]),
                    );
                } else {
                    add(&mut d, &format!("{i}/{j}"), 9212, &polygon(&[c]));
                }
            }
        }
        assert!(d.flagged().is_empty());
        assert!(d.finish().is_empty());

        // A parcel carrying vertices on its edge, next to parcels without them.
        let mut d = OverlapDetector::new(1.0);
        let big = vec![
            [0.0, 0.0],
            [10.0, 0.0],
            [20.0, 0.0],
            [20.0, 10.0],
            [0.0, 10.0],
        ];
        add(&mut d, "big", 1, &polygon(&[big]));
        for k in 0..4 {
            let x = 5.0 * k as f64;
            add(
                &mut d,
                &format!("small{k}"),
                1,
                &polygon(&[rect(x, -7.0, x + 5.0, 0.0)]),
            );
        }
        assert!(d.finish().is_empty());
    }

    #[test]
    fn overlaps_shifted_duplicate_is_reported_against_each_neighbour() {
        let mut d = grid(100);
        let mut moved = cell(50, 50);
        for p in &mut moved {
            p[0] += 2.0;
        }
        add(&mut d, "moved", 9212, &polygon(&[moved]));
        let overlaps = d.finish();
        assert_eq!(
            pairs(&overlaps),
            vec![("g/50/50", "moved", 80.0), ("g/51/50", "moved", 20.0)]
        );
    }

    #[test]
    fn overlaps_exact_duplicate_and_union_of_neighbours() {
        let mut d = grid(10);
        add(&mut d, "dup", 9212, &polygon(&[cell(3, 3)]));
        // The union of cells (5, 5) and (6, 5): no vertex inside, no crossing.
        let c = cell(5, 5);
        add(
            &mut d,
            "union",
            9212,
            &polygon(&[rect(c[0][0], c[0][1], c[0][0] + 20.0, c[2][1])]),
        );
        let overlaps = d.finish();
        assert_eq!(
            pairs(&overlaps),
            vec![
                ("g/3/3", "dup", 100.0),
                ("g/5/5", "union", 100.0),
                ("g/6/5", "union", 100.0)
            ]
        );
    }

    #[test]
    fn overlaps_chord_between_shared_vertices() {
        // The diamond's diagonal is an edge of the other parcel; every vertex of each lies on
        // the other's boundary or outside it, and no edges cross.
        let mut d = OverlapDetector::new(1.0);
        add(
            &mut d,
            "diamond",
            1,
            &polygon(&[vec![[0.0, 0.0], [5.0, -5.0], [10.0, 0.0], [5.0, 5.0]]]),
        );
        add(
            &mut d,
            "roof",
            1,
            &polygon(&[vec![
                [0.0, 0.0],
                [10.0, 0.0],
                [12.0, 3.0],
                [5.0, 5.0],
                [-2.0, 3.0],
            ]]),
        );
        assert_eq!(pairs(&d.finish()), vec![("diamond", "roof", 25.0)]);
    }

    #[test]
    fn overlaps_below_tolerance_are_not_reported() {
        let mut d = OverlapDetector::new(1.0);
        add(&mut d, "a", 1, &polygon(&[cell(0, 0)]));
        // Reaches 5 cm into its right neighbour: 0.5 m².
        let c = cell(1, 0);
        add(
            &mut d,
            "b",
            1,
            &polygon(&[rect(c[0][0] - 0.05, c[0][1], c[2][0], c[2][1])]),
        );
        assert!(d.finish().is_empty());

        let mut d = OverlapDetector::new(0.25);
        add(&mut d, "a", 1, &polygon(&[cell(0, 0)]));
        add(
            &mut d,
            "b",
            1,
            &polygon(&[rect(c[0][0] - 0.05, c[0][1], c[2][0], c[2][1])]),
        );
        assert_eq!(pairs(&d.finish()), vec![("a", "b", 0.5)]);
    }

    #[test]
    fn overlaps_plus_sign_crossing() {
        let mut d = OverlapDetector::new(1.0);
        add(
            &mut d,
            "h",
            1,
            &polygon(&[rect(E0, N0 + 10.0, E0 + 30.0, N0 + 20.0)]),
        );
        add(
            &mut d,
            "v",
            1,
            &polygon(&[rect(E0 + 10.0, N0, E0 + 20.0, N0 + 30.0)]),
        );
        assert_eq!(pairs(&d.finish()), vec![("h", "v", 100.0)]);
    }

    #[test]
    fn overlaps_groups_are_never_compared() {
        let mut d = OverlapDetector::new(1.0);
        add(&mut d, "zone-a", 9210, &polygon(&[cell(0, 0)]));
        add(&mut d, "zone-b", 9212, &polygon(&[cell(0, 0)]));
        add(&mut d, "zone-c", 9213, &polygon(&[cell(0, 0)]));
        assert!(d.finish().is_empty());

        let mut d = OverlapDetector::new(1.0);
        add(&mut d, "zone-a", 9210, &polygon(&[cell(0, 0)]));
        add(&mut d, "zone-b", 9212, &polygon(&[cell(0, 0)]));
        add(&mut d, "zone-a2", 9210, &polygon(&[cell(0, 0)]));
        assert_eq!(pairs(&d.finish()), vec![("zone-a", "zone-a2", 100.0)]);
    }

    #[test]
    fn overlaps_parcels_inside_a_hole() {
        let mut d = OverlapDetector::new(1.0);
        let ring = vec![
            rect(E0, N0, E0 + 100.0, N0 + 100.0),
            rect(E0 + 40.0, N0 + 40.0, E0 + 60.0, N0 + 60.0),
        ];
        add(&mut d, "ring", 1, &polygon(&ring));
        add(
            &mut d,
            "island",
            1,
            &polygon(&[rect(E0 + 45.0, N0 + 45.0, E0 + 55.0, N0 + 55.0)]),
        );
        add(
            &mut d,
            "filler",
            1,
            &polygon(&[rect(E0 + 40.0, N0 + 40.0, E0 + 60.0, N0 + 50.0)]),
        );
        add(
            &mut d,
            "filler2",
            1,
            &polygon(&[rect(E0 + 40.0, N0 + 50.0, E0 + 60.0, N0 + 60.0)]),
        );
        assert_eq!(
            pairs(&d.finish()),
            // The island overlaps the two fillers, not the ring.
            vec![("island", "filler", 50.0), ("island", "filler2", 50.0)]
        );

        // Hole written counter-clockwise and exterior clockwise: orientation is normalised.
        let mut d = OverlapDetector::new(1.0);
        let mut outer = rect(E0, N0, E0 + 100.0, N0 + 100.0);
        outer.reverse();
        let hole = vec![
            [E0 + 40.0, N0 + 40.0],
            [E0 + 60.0, N0 + 40.0],
            [E0 + 60.0, N0 + 60.0],
            [E0 + 40.0, N0 + 60.0],
        ];
        add(&mut d, "ring", 1, &polygon(&[outer, hole]));
        add(
            &mut d,
            "filler",
            1,
            &polygon(&[rect(E0 + 40.0, N0 + 40.0, E0 + 60.0, N0 + 60.0)]),
        );
        add(
            &mut d,
            "straddle",
            1,
            &polygon(&[rect(E0 + 30.0, N0 + 45.0, E0 + 50.0, N0 + 55.0)]),
        );
        assert_eq!(
            pairs(&d.finish()),
            vec![("filler", "straddle", 100.0), ("ring", "straddle", 100.0)]
        );
    }

    #[test]
    fn overlaps_multipolygons() {
        let mut d = grid(4);
        // Two parts: one on the free ground beside the grid, one 3 m into cell (3, 0).
        let wkb = multipolygon(&[
            vec![rect(E0 + 50.0, N0, E0 + 60.0, N0 + 10.0)],
            vec![rect(E0 + 37.0, N0, E0 + 45.0, N0 + 10.0)],
        ]);
        add(&mut d, "multi", 9212, &wkb);
        assert_eq!(pairs(&d.finish()), vec![("g/3/0", "multi", 30.0)]);

        // Both parts of one parcel over two other parcels.
        let mut d = OverlapDetector::new(1.0);
        add(&mut d, "left", 1, &polygon(&[rect(0.0, 0.0, 10.0, 10.0)]));
        add(
            &mut d,
            "right",
            1,
            &polygon(&[rect(100.0, 0.0, 110.0, 10.0)]),
        );
        add(
            &mut d,
            "both",
            1,
            &multipolygon(&[
                vec![rect(5.0, 0.0, 10.0, 10.0)],
                vec![rect(100.0, 0.0, 102.0, 10.0)],
            ]),
        );
        assert_eq!(
            pairs(&d.finish()),
            vec![("left", "both", 50.0), ("right", "both", 20.0)]
        );
    }

    /// Big-endian ISO WKB with Z, and EWKB with the SRID and M flags.
    fn encodings(ring: &Ring) -> [Vec<u8>; 2] {
        let mut iso_z = vec![0];
        iso_z.extend(1003u32.to_be_bytes());
        iso_z.extend(1u32.to_be_bytes());
        iso_z.extend((ring.len() as u32 + 1).to_be_bytes());
        for p in ring.iter().chain(ring.first()) {
            for v in [p[0], p[1], 42.0] {
                iso_z.extend(v.to_be_bytes());
            }
        }
        let mut ewkb = vec![1];
        ewkb.extend((6u32 | 0x6000_0000).to_le_bytes()); // MultiPolygon, M, SRID
        ewkb.extend(9212u32.to_le_bytes());
        ewkb.extend(1u32.to_le_bytes());
        ewkb.push(1);
        ewkb.extend((3u32 | 0x4000_0000).to_le_bytes());
        ewkb.extend(1u32.to_le_bytes());
        ewkb.extend((ring.len() as u32 + 1).to_le_bytes());
        for p in ring.iter().chain(ring.first()) {
            for v in [p[0], p[1], -1.0] {
                ewkb.extend(v.to_le_bytes());
            }
        }
        [iso_z, ewkb]
    }

    #[test]
    fn overlaps_wkb_dimensions_and_byte_orders() {
        let mut d = OverlapDetector::new(1.0);
        let [iso_z, ewkb] = encodings(&cell(0, 0));
        add(&mut d, "xy", 1, &polygon(&[cell(0, 0)]));
        add(&mut d, "iso-z", 1, &iso_z);
        add(&mut d, "ewkb-m-srid", 1, &ewkb);
        assert_eq!(
            pairs(&d.finish()),
            vec![
                ("iso-z", "ewkb-m-srid", 100.0),
                ("xy", "ewkb-m-srid", 100.0),
                ("xy", "iso-z", 100.0),
            ]
        );
    }

    #[test]
    fn overlaps_malformed_wkb_is_an_error() {
        let mut d = OverlapDetector::new(1.0);
        let good = polygon(&[cell(0, 0)]);
        let mut point = vec![1];
        point.extend(1u32.to_le_bytes());
        point.extend(1.0f64.to_le_bytes());
        point.extend(2.0f64.to_le_bytes());
        let mut bad_order = good.clone();
        bad_order[0] = 7;
        let mut huge = good[..5].to_vec();
        huge.extend(u32::MAX.to_le_bytes());
        let mut trailing = good.clone();
        trailing.push(0);
        let mut nan = good.clone();
        nan[13..21].copy_from_slice(&f64::NAN.to_le_bytes());
        let mut multi_of_points = vec![1];
        multi_of_points.extend(6u32.to_le_bytes());
        multi_of_points.extend(1u32.to_le_bytes());
        multi_of_points.extend(&point);
        for (what, wkb) in [
            ("empty", Vec::new()),
            ("truncated", good[..good.len() - 3].to_vec()),
            ("point", point),
            ("byte order", bad_order),
            ("huge count", huge),
            ("trailing", trailing),
            ("NaN", nan),
            ("multi of points", multi_of_points),
        ] {
            assert!(d.add(what, 1, &wkb).is_err(), "{what} accepted");
        }
        assert_eq!(d.len(), 0);
        assert!(d.inner.chunks.is_empty() && d.inner.starts.is_empty());
        add(&mut d, "good", 1, &good);
        assert_eq!(d.len(), 1);
        let mut vertices = 0;
        d.inner.decode(0, |step| {
            vertices += usize::from(matches!(step, Step::Vertex(_)))
        });
        assert_eq!(vertices, 4);
    }

    /// A tiny deterministic generator (no `rand` in the tree).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    #[ignore = "timing: cargo test -p land --release overlaps -- --ignored --nocapture"]
    fn million_parcels_timing() {
        const N: usize = 1000; // N × N cells of 10 m, corners jittered by up to ±2 m
        let mut rng = Lcg(2024);
        let corners: Vec<[f64; 2]> = (0..(N + 1) * (N + 1))
            .map(|k| {
                let (i, j) = (k % (N + 1), k / (N + 1));
                let jx = if i == 0 || i == N {
                    0.0
                } else {
                    4.0 * rng.next() - 2.0
                };
                let jy = if j == 0 || j == N {
                    0.0
                } else {
                    4.0 * rng.next() - 2.0
                };
                [E0 + 10.0 * i as f64 + jx, N0 + 10.0 * j as f64 + jy]
            })
            .collect();
        let corner = |i: usize, j: usize| corners[j * (N + 1) + i];
        let mid = |a: [f64; 2], b: [f64; 2]| [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        // Six vertices: the midpoints of the bottom and top edges (shared by both neighbours).
        let parcel = |i: usize, j: usize| -> Ring {
            let (a, b, c, e) = (
                corner(i, j),
                corner(i + 1, j),
                corner(i + 1, j + 1),
                corner(i, j + 1),
            );
            vec![a, mid(a, b), b, c, mid(c, e), e]
        };
        let started = std::time::Instant::now();
        let mut d = OverlapDetector::new(1.0);
        let mut wkb = Vec::new();
        for j in 0..N {
            for i in 0..N {
                wkb.clear();
                put_polygon(&mut wkb, &[parcel(i, j)]);
                add(
                    &mut d,
                    &format!("25195/{}/{}", j / 10, j % 10 * N + i),
                    9212,
                    &wkb,
                );
            }
        }
        // 100 duplicates shifted 3 m east, each overlapping its original by more than 1 m².
        for k in 0..100 {
            let (i, j) = (k * 7 % N, k * 13 % N);
            let mut ring = parcel(i, j);
            for p in &mut ring {
                p[0] += 3.0;
            }
            wkb.clear();
            put_polygon(&mut wkb, &[ring]);
            add(&mut d, &format!("dup/{i}/{j}"), 9212, &wkb);
        }
        let added = started.elapsed();
        // Diagnostic pass (index + filter only), not counted in the total.
        let filter_started = std::time::Instant::now();
        let flagged = d.flagged();
        let filter_time = filter_started.elapsed();
        assert!(
            flagged.iter().all(|&(_, b)| b as usize >= N * N),
            "partition pairs flagged"
        );
        let parcels = d.len();
        println!(
            "storage: {:.1} MB, {:.1} bytes a parcel",
            d.inner.stored_bytes() as f64 / 1e6,
            d.inner.stored_bytes() as f64 / parcels as f64
        );
        let finish_started = std::time::Instant::now();
        let overlaps = d.finish();
        let finish_time = finish_started.elapsed();
        println!(
            "{parcels} parcels: add (WKB parse) {:.2} s, finish {:.2} s (of which index + filter \
             {:.2} s, {} pairs flagged), total {:.2} s; {} overlaps, largest {:.1} m²",
            added.as_secs_f64(),
            finish_time.as_secs_f64(),
            filter_time.as_secs_f64(),
            flagged.len(),
            (added + finish_time).as_secs_f64(),
            overlaps.len(),
            overlaps.first().map_or(0.0, |o| o.area_m2),
        );
        assert_eq!(parcels, N * N + 100);
        for k in 0..100 {
            let (i, j) = (k * 7 % N, k * 13 % N);
            let dup = format!("dup/{i}/{j}");
            let original = format!("25195/{}/{}", j / 10, j % 10 * N + i);
            assert!(
                overlaps.iter().any(|o| o.a == original && o.b == dup),
                "{dup} not reported against {original}"
            );
        }
        assert!(
            overlaps.iter().all(|o| o.b.starts_with("dup/")),
            "partition parcels reported"
        );
    }
}
