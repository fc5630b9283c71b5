//! Overzoom: a tile beyond a layer's highest zoom made from its ancestor at that zoom, not
//! drawn again from the database.
//!
//! A layer declares the zooms it is drawn at; past the last one the data has no more detail,
//! so a deeper tile is its ancestor's features clipped to the tile (plus the buffer) and scaled —
//! what MapLibre does itself past a source's `maxzoom`, done here for clients that ask on
//! (QGIS, GDAL, scripts). This bounds the database work of a whole zoom range to one render per
//! ancestor: `2^(2·dz)` deep tiles cost one cached ancestor, and a client walking z24 across the
//! province costs CPU for clipping, never a PostGIS query per tile.
//!
//! The MVT is rewritten at the protobuf level: layers' names, keys, values, extents and
//! features' ids and tags are copied byte for byte; only each feature's geometry commands are
//! decoded, moved to the tile's frame, clipped (points by the box, lines by Liang–Barsky,
//! polygon rings by Sutherland–Hodgman, which keeps a ring's winding so exterior and interior
//! rings stay what they were) and encoded again. Features left with no geometry are dropped,
//! and so are layers left with no feature.

use gis_core::mvt::{BUFFER, EXTENT};
use gis_core::tile::TileCoord;

/// The ancestor's bytes are not a vector tile this module can read.
#[derive(Debug, thiserror::Error)]
#[error("the tile at the layer's highest zoom is not a readable vector tile ({0})")]
pub struct Malformed(&'static str);

/// The ancestor of `tile` at zoom `z` (`z <= tile.z`).
pub fn ancestor(tile: TileCoord, z: u8) -> TileCoord {
    let dz = tile.z.saturating_sub(z);
    TileCoord {
        z: tile.z - dz,
        x: tile.x >> dz,
        y: tile.y >> dz,
    }
}

/// The MVT of `tile` made from `mvt`, the (uncompressed) MVT of its ancestor `from`: the
/// bytes and the number of features kept. Empty bytes when nothing falls in the tile.
pub fn overzoom(mvt: &[u8], from: TileCoord, tile: TileCoord) -> Result<(Vec<u8>, i64), Malformed> {
    if from.z > tile.z || ancestor(tile, from.z) != from {
        return Err(Malformed("the tile is not inside the ancestor"));
    }
    let dz = u32::from(tile.z - from.z);
    let frame = Frame {
        scale: 1i64 << dz,
        col: i64::from(tile.x - (from.x << dz)),
        row: i64::from(tile.y - (from.y << dz)),
    };
    let mut out = Vec::with_capacity(mvt.len());
    let mut kept = 0i64;
    let mut fields = Fields::new(mvt);
    while let Some(field) = fields.next_field()? {
        match (field.number, field.value) {
            (3, Value::Bytes(layer)) => {
                if let Some((bytes, n)) = overzoom_layer(layer, frame)? {
                    put_bytes(&mut out, 3, &bytes);
                    kept += n;
                }
            }
            _ => out.extend_from_slice(field.raw),
        }
    }
    if kept == 0 {
        out.clear();
    }
    Ok((out, kept))
}

/// Where the tile lies in its ancestor: `scale` = 2^dz, the tile's column and row among the
/// ancestor's `scale × scale` descendants.
#[derive(Debug, Clone, Copy)]
struct Frame {
    scale: i64,
    col: i64,
    row: i64,
}

/// The clip box of a layer with `extent`, in the tile's own units.
#[derive(Debug, Clone, Copy)]
struct Clip {
    lo: f64,
    hi: f64,
}

impl Clip {
    fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.lo && x <= self.hi && y >= self.lo && y <= self.hi
    }
}

fn overzoom_layer(layer: &[u8], frame: Frame) -> Result<Option<(Vec<u8>, i64)>, Malformed> {
    // The extent may follow the features (PostGIS writes fields in number order).
    let mut extent = i64::from(EXTENT);
    let mut fields = Fields::new(layer);
    while let Some(field) = fields.next_field()? {
        if let (5, Value::Varint(v)) = (field.number, field.value) {
            extent = i64::try_from(v)
                .ok()
                .filter(|e| (1..=1 << 20).contains(e))
                .ok_or(Malformed("extent out of range"))?;
        }
    }
    let buffer = (f64::from(BUFFER) * extent as f64 / f64::from(EXTENT)).round();
    let clip = Clip {
        lo: -buffer,
        hi: extent as f64 + buffer,
    };
    let shift = (frame.col * extent, frame.row * extent);
    let mut out = Vec::with_capacity(layer.len());
    let mut kept = 0;
    let mut fields = Fields::new(layer);
    while let Some(field) = fields.next_field()? {
        match (field.number, field.value) {
            (2, Value::Bytes(feature)) => {
                if let Some(bytes) = overzoom_feature(feature, frame.scale, shift, clip)? {
                    put_bytes(&mut out, 2, &bytes);
                    kept += 1;
                }
            }
            _ => out.extend_from_slice(field.raw),
        }
    }
    Ok((kept > 0).then_some((out, kept)))
}

fn overzoom_feature(
    feature: &[u8],
    scale: i64,
    shift: (i64, i64),
    clip: Clip,
) -> Result<Option<Vec<u8>>, Malformed> {
    let mut kind = 0;
    let mut commands = Vec::new();
    let mut fields = Fields::new(feature);
    while let Some(field) = fields.next_field()? {
        match (field.number, field.value) {
            (3, Value::Varint(v)) => kind = v,
            (4, Value::Bytes(packed)) => {
                let mut i = 0;
                while i < packed.len() {
                    let v = varint(packed, &mut i)?;
                    commands.push(u32::try_from(v).map_err(|_| Malformed("command too large"))?);
                }
            }
            (4, Value::Varint(v)) => {
                commands.push(u32::try_from(v).map_err(|_| Malformed("command too large"))?)
            }
            _ => {}
        }
    }
    let mut parts = decode(&commands)?;
    for part in &mut parts {
        for p in &mut part.points {
            *p = (p.0 * scale - shift.0, p.1 * scale - shift.1);
        }
    }
    let geometry = match kind {
        1 => points(&parts, clip),
        2 => lines(&parts, clip),
        3 => polygons(&parts, clip),
        _ => Vec::new(),
    };
    if geometry.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(feature.len());
    let mut fields = Fields::new(feature);
    while let Some(field) = fields.next_field()? {
        if field.number != 4 {
            out.extend_from_slice(field.raw);
        }
    }
    let mut packed = Vec::with_capacity(geometry.len() * 2);
    for c in geometry {
        put_varint(&mut packed, u64::from(c));
    }
    put_bytes(&mut out, 4, &packed);
    Ok(Some(out))
}

/// One MoveTo and what follows it: a point, a line or a ring (`closed`).
#[derive(Debug, Default)]
struct Part {
    points: Vec<(i64, i64)>,
}

fn decode(commands: &[u32]) -> Result<Vec<Part>, Malformed> {
    let (mut x, mut y) = (0i64, 0i64);
    let mut parts: Vec<Part> = Vec::new();
    let mut i = 0;
    while i < commands.len() {
        let (id, count) = (commands[i] & 7, commands[i] >> 3);
        i += 1;
        match id {
            1 | 2 => {
                for _ in 0..count {
                    let (Some(&dx), Some(&dy)) = (commands.get(i), commands.get(i + 1)) else {
                        return Err(Malformed("geometry ends inside a command"));
                    };
                    i += 2;
                    x += unzigzag(dx);
                    y += unzigzag(dy);
                    if id == 1 {
                        parts.push(Part::default());
                    }
                    parts
                        .last_mut()
                        .ok_or(Malformed("LineTo before MoveTo"))?
                        .points
                        .push((x, y));
                }
            }
            // ClosePath moves nothing: a ring is its points, closed implicitly.
            7 => {}
            _ => return Err(Malformed("unknown geometry command")),
        }
    }
    Ok(parts)
}

fn unzigzag(v: u32) -> i64 {
    i64::from(v >> 1) ^ -i64::from(v & 1)
}

fn zigzag(v: i64) -> u32 {
    // Coordinates are within the clip box (a few thousand units): always fits.
    ((v << 1) ^ (v >> 63)) as u32
}

/// Geometry commands, relative moves from a cursor that carries across parts.
#[derive(Default)]
struct Encoder {
    out: Vec<u32>,
    at: (i64, i64),
}

impl Encoder {
    fn command(&mut self, id: u32, points: &[(i64, i64)]) {
        if points.is_empty() {
            return;
        }
        self.out.push(id | ((points.len() as u32) << 3));
        for &(x, y) in points {
            self.out.push(zigzag(x - self.at.0));
            self.out.push(zigzag(y - self.at.1));
            self.at = (x, y);
        }
    }
    fn part(&mut self, points: &[(i64, i64)], close: bool) {
        self.command(1, &points[..1]);
        self.command(2, &points[1..]);
        if close {
            self.out.push(7 | (1 << 3));
        }
    }
}

fn points(parts: &[Part], clip: Clip) -> Vec<u32> {
    let inside: Vec<(i64, i64)> = parts
        .iter()
        .flat_map(|p| p.points.iter().copied())
        .filter(|&(x, y)| clip.contains((x as f64, y as f64)))
        .collect();
    let mut enc = Encoder::default();
    enc.command(1, &inside);
    enc.out
}

fn lines(parts: &[Part], clip: Clip) -> Vec<u32> {
    let mut enc = Encoder::default();
    for part in parts {
        for line in clip_line(&part.points, clip) {
            enc.part(&line, false);
        }
    }
    enc.out
}

fn polygons(parts: &[Part], clip: Clip) -> Vec<u32> {
    let mut enc = Encoder::default();
    // Interior rings follow their exterior ring; they go when it goes.
    let mut exterior_kept = false;
    for ring in parts {
        let area = signed_area(&ring.points);
        if area == 0 {
            continue;
        }
        let exterior = area > 0;
        if !exterior && !exterior_kept {
            continue;
        }
        let clipped = clip_ring(&ring.points, clip);
        let keep = clipped.len() >= 3 && signed_area(&clipped).signum() == area.signum();
        if exterior {
            exterior_kept = keep;
        }
        if keep {
            enc.part(&clipped, true);
        }
    }
    enc.out
}

/// Twice the ring's area by the surveyor's formula in tile coordinates (y down): positive for
/// an exterior ring, as the MVT specification defines it.
fn signed_area(ring: &[(i64, i64)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum()
}

fn to_grid(p: (f64, f64)) -> (i64, i64) {
    (p.0.round() as i64, p.1.round() as i64)
}

/// Appends `p` unless it repeats the last point.
fn push_new(out: &mut Vec<(i64, i64)>, p: (i64, i64)) {
    if out.last() != Some(&p) {
        out.push(p);
    }
}

/// A ring clipped to the box (Sutherland–Hodgman against its four sides), on the integer grid,
/// without repeated points or the closing one.
fn clip_ring(ring: &[(i64, i64)], clip: Clip) -> Vec<(i64, i64)> {
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for &(x, y) in ring {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    let (lo, hi) = (clip.lo as i64, clip.hi as i64);
    if x1 < lo || y1 < lo || x0 > hi || y0 > hi {
        return Vec::new();
    }
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ring.len());
    if x0 >= lo && y0 >= lo && x1 <= hi && y1 <= hi {
        for &p in ring {
            push_new(&mut out, p);
        }
    } else {
        let mut pts: Vec<(f64, f64)> = ring.iter().map(|&(x, y)| (x as f64, y as f64)).collect();
        for side in 0..4 {
            pts = clip_side(&pts, side, clip);
            if pts.is_empty() {
                return Vec::new();
            }
        }
        for p in pts {
            push_new(&mut out, to_grid(p));
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// One Sutherland–Hodgman pass: the ring cut by one side of the box (0: left, 1: right,
/// 2: top, 3: bottom).
fn clip_side(ring: &[(f64, f64)], side: u8, clip: Clip) -> Vec<(f64, f64)> {
    let inside = |p: (f64, f64)| match side {
        0 => p.0 >= clip.lo,
        1 => p.0 <= clip.hi,
        2 => p.1 >= clip.lo,
        _ => p.1 <= clip.hi,
    };
    let cross = |a: (f64, f64), b: (f64, f64)| match side {
        0 | 1 => {
            let x = if side == 0 { clip.lo } else { clip.hi };
            (x, a.1 + (x - a.0) / (b.0 - a.0) * (b.1 - a.1))
        }
        _ => {
            let y = if side == 2 { clip.lo } else { clip.hi };
            (a.0 + (y - a.1) / (b.1 - a.1) * (b.0 - a.0), y)
        }
    };
    let mut out = Vec::with_capacity(ring.len() + 4);
    let Some(&last) = ring.last() else {
        return out;
    };
    let mut prev = last;
    for &cur in ring {
        match (inside(prev), inside(cur)) {
            (true, true) => out.push(cur),
            (true, false) => out.push(cross(prev, cur)),
            (false, true) => {
                out.push(cross(prev, cur));
                out.push(cur);
            }
            (false, false) => {}
        }
        prev = cur;
    }
    out
}

/// A line clipped to the box: the pieces inside it, on the integer grid.
fn clip_line(line: &[(i64, i64)], clip: Clip) -> Vec<Vec<(i64, i64)>> {
    let mut pieces = Vec::new();
    let mut current: Vec<(i64, i64)> = Vec::new();
    let flush = |current: &mut Vec<(i64, i64)>, pieces: &mut Vec<Vec<(i64, i64)>>| {
        if current.len() >= 2 {
            pieces.push(std::mem::take(current));
        } else {
            current.clear();
        }
    };
    for w in line.windows(2) {
        let a = (w[0].0 as f64, w[0].1 as f64);
        let b = (w[1].0 as f64, w[1].1 as f64);
        match clip_segment(a, b, clip) {
            None => flush(&mut current, &mut pieces),
            Some((p, q, enters, leaves)) => {
                if enters || current.is_empty() {
                    flush(&mut current, &mut pieces);
                    current.push(to_grid(p));
                }
                push_new(&mut current, to_grid(q));
                if leaves {
                    flush(&mut current, &mut pieces);
                }
            }
        }
    }
    flush(&mut current, &mut pieces);
    pieces
}

/// A clipped segment: its ends, and whether it entered and left the box.
type Piece = ((f64, f64), (f64, f64), bool, bool);

/// Liang–Barsky: the part of segment `a`–`b` inside the box, and whether it starts or ends
/// on the box (the segment entered or left it).
fn clip_segment(a: (f64, f64), b: (f64, f64), clip: Clip) -> Option<Piece> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - clip.lo),
        (dx, clip.hi - a.0),
        (-dy, a.1 - clip.lo),
        (dy, clip.hi - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
            if t0 > t1 {
                return None;
            }
        }
    }
    Some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
        t0 > 0.0,
        t1 < 1.0,
    ))
}

/// A protobuf field's value.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// A protobuf field: its number, value and its raw bytes (key included) to copy verbatim.
struct Field<'a> {
    number: u64,
    value: Value<'a>,
    raw: &'a [u8],
}

struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields { bytes, at: 0 }
    }

    fn next_field(&mut self) -> Result<Option<Field<'a>>, Malformed> {
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        let start = self.at;
        let key = varint(self.bytes, &mut self.at)?;
        let value = match key & 7 {
            0 => Value::Varint(varint(self.bytes, &mut self.at)?),
            2 => {
                let len = usize::try_from(varint(self.bytes, &mut self.at)?)
                    .map_err(|_| Malformed("length too large"))?;
                let end = self
                    .at
                    .checked_add(len)
                    .filter(|e| *e <= self.bytes.len())
                    .ok_or(Malformed("a field runs past the end"))?;
                let v = &self.bytes[self.at..end];
                self.at = end;
                Value::Bytes(v)
            }
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                if self.at + n > self.bytes.len() {
                    return Err(Malformed("a field runs past the end"));
                }
                self.at += n;
                Value::Fixed
            }
            _ => return Err(Malformed("unknown wire type")),
        };
        Ok(Some(Field {
            number: key >> 3,
            value,
            raw: &self.bytes[start..self.at],
        }))
    }
}

fn varint(bytes: &[u8], at: &mut usize) -> Result<u64, Malformed> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes
            .get(*at)
            .ok_or(Malformed("a number runs past the end"))?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Malformed("a number is too long"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-layer tile of `features` (type, commands), extent 4096, with a tag and an id.
    fn tile(features: &[(u64, Vec<u32>)]) -> Vec<u8> {
        let mut layer = Vec::new();
        put_varint(&mut layer, 15 << 3);
        put_varint(&mut layer, 2);
        put_bytes(&mut layer, 1, b"parcels");
        for (i, (kind, geometry)) in features.iter().enumerate() {
            let mut f = Vec::new();
            put_varint(&mut f, 1 << 3);
            put_varint(&mut f, i as u64 + 1);
            let mut tags = Vec::new();
            put_varint(&mut tags, 0);
            put_varint(&mut tags, 0);
            put_bytes(&mut f, 2, &tags);
            put_varint(&mut f, 3 << 3);
            put_varint(&mut f, *kind);
            let mut packed = Vec::new();
            for c in geometry {
                put_varint(&mut packed, u64::from(*c));
            }
            put_bytes(&mut f, 4, &packed);
            put_bytes(&mut layer, 2, &f);
        }
        put_bytes(&mut layer, 3, b"parcel_number");
        let mut value = Vec::new();
        put_bytes(&mut value, 1, b"12");
        put_bytes(&mut layer, 4, &value);
        put_varint(&mut layer, 5 << 3);
        put_varint(&mut layer, 4096);
        let mut out = Vec::new();
        put_bytes(&mut out, 3, &layer);
        out
    }

    fn encode_parts(parts: &[Vec<(i64, i64)>], close: bool) -> Vec<u32> {
        let mut enc = Encoder::default();
        for p in parts {
            enc.part(p, close);
        }
        enc.out
    }

    /// (feature id, type, parts in absolute coordinates) of each feature.
    type Feature = (u64, u64, Vec<Vec<(i64, i64)>>);

    fn features(mvt: &[u8]) -> Vec<Feature> {
        let mut out = Vec::new();
        let mut tile = Fields::new(mvt);
        while let Some(l) = tile.next_field().expect("valid") {
            let Value::Bytes(layer) = l.value else {
                continue;
            };
            let mut fields = Fields::new(layer);
            while let Some(f) = fields.next_field().expect("valid") {
                let (2, Value::Bytes(feature)) = (f.number, f.value) else {
                    continue;
                };
                let (mut id, mut kind, mut commands) = (0, 0, Vec::new());
                let mut ff = Fields::new(feature);
                while let Some(x) = ff.next_field().expect("valid") {
                    match (x.number, x.value) {
                        (1, Value::Varint(v)) => id = v,
                        (3, Value::Varint(v)) => kind = v,
                        (4, Value::Bytes(p)) => {
                            let mut i = 0;
                            while i < p.len() {
                                commands.push(varint(p, &mut i).expect("valid") as u32);
                            }
                        }
                        _ => {}
                    }
                }
                let parts = decode(&commands).expect("valid");
                out.push((id, kind, parts.into_iter().map(|p| p.points).collect()));
            }
        }
        out
    }

    /// The ring started at its lowest point (clipping may start it elsewhere).
    fn from_lowest(ring: &[(i64, i64)]) -> Vec<(i64, i64)> {
        let start = (0..ring.len()).min_by_key(|&i| ring[i]).expect("valid");
        ring[start..]
            .iter()
            .chain(&ring[..start])
            .copied()
            .collect()
    }

    const PARENT: TileCoord = TileCoord {
        z: 20,
        x: 10,
        y: 20,
    };

    fn child(dx: u32, dy: u32) -> TileCoord {
        TileCoord {
            z: 21,
            x: PARENT.x * 2 + dx,
            y: PARENT.y * 2 + dy,
        }
    }

    #[test]
    fn a_polygon_inside_one_child_is_scaled_into_it_exactly() {
        // Clockwise on screen (y down): an exterior ring.
        let square = vec![(100, 100), (300, 100), (300, 300), (100, 300)];
        let mvt = tile(&[(3, encode_parts(&[square], true))]);
        let (out, n) = overzoom(&mvt, PARENT, child(0, 0)).expect("valid");
        assert_eq!(n, 1);
        let f = features(&out);
        assert_eq!(f[0].0, 1, "the feature id is kept");
        assert_eq!(
            f[0].2,
            vec![vec![(200, 200), (600, 200), (600, 600), (200, 600)]]
        );
        // The layer's keys and values are copied: the bytes of the names are still there.
        assert!(out.windows(13).any(|w| w == b"parcel_number"));
        // Far from the child at the bottom right: nothing, not even the layer.
        let (out, n) = overzoom(&mvt, PARENT, child(1, 1)).expect("valid");
        assert_eq!((out.len(), n), (0, 0));
    }

    #[test]
    fn a_polygon_across_children_is_cut_at_each_ones_buffer() {
        // Covers the whole ancestor and more: in each child it is the buffered box.
        let big = vec![(-100, -100), (5000, -100), (5000, 5000), (-100, 5000)];
        let with_hole = vec![
            big.clone(),
            // A hole (anticlockwise) in the top-left child only.
            vec![(100, 100), (100, 200), (200, 200), (200, 100)],
        ];
        let mvt = tile(&[(3, encode_parts(&with_hole, true))]);
        let (out, _) = overzoom(&mvt, PARENT, child(0, 0)).expect("valid");
        let rings = &features(&out)[0].2;
        let buffered = vec![(-64, -64), (4160, -64), (4160, 4160), (-64, 4160)];
        assert_eq!(from_lowest(&rings[0]), buffered);
        assert_eq!(
            rings[1],
            vec![(200, 200), (200, 400), (400, 400), (400, 200)]
        );
        assert!(signed_area(&rings[0]) > 0 && signed_area(&rings[1]) < 0);
        let (out, _) = overzoom(&mvt, PARENT, child(1, 1)).expect("valid");
        let rings = &features(&out)[0].2;
        assert_eq!(rings.len(), 1, "the hole is outside this child");
        assert_eq!(from_lowest(&rings[0]), buffered);
    }

    #[test]
    fn a_hole_goes_with_its_exterior_ring() {
        let parts = vec![
            vec![(100, 100), (300, 100), (300, 300), (100, 300)],
            vec![(150, 150), (150, 250), (250, 250), (250, 150)],
        ];
        let mvt = tile(&[(3, encode_parts(&parts, true))]);
        let (out, n) = overzoom(&mvt, PARENT, child(1, 0)).expect("valid");
        assert_eq!((out.len(), n), (0, 0));
    }

    #[test]
    fn a_line_leaving_and_entering_the_box_is_cut_into_pieces() {
        // In the right child: enters at x = 2048 - 32 (its buffer), runs, leaves at the bottom.
        let line = vec![(0, 1000), (3000, 1000), (3000, 3000), (3000, 1000)];
        let mvt = tile(&[(2, encode_parts(&[line], false))]);
        let (out, _) = overzoom(&mvt, PARENT, child(1, 0)).expect("valid");
        let f = features(&out);
        assert_eq!(f[0].1, 2);
        assert_eq!(
            f[0].2,
            vec![
                vec![(-64, 2000), (1904, 2000), (1904, 4160)],
                vec![(1904, 4160), (1904, 2000)],
            ]
        );
    }

    #[test]
    fn points_outside_the_buffered_box_are_dropped() {
        let mut enc = Encoder::default();
        enc.command(1, &[(10, 10), (2040, 10), (3000, 3000), (3072, 2048)]);
        let mvt = tile(&[(1, enc.out)]);
        let (out, _) = overzoom(&mvt, PARENT, child(0, 0)).expect("valid");
        assert_eq!(features(&out)[0].2, vec![vec![(20, 20)], vec![(4080, 20)]]);
        // Two levels down, the frame moves by whole tiles.
        let deep = TileCoord {
            z: 22,
            x: PARENT.x * 4 + 3,
            y: PARENT.y * 4 + 2,
        };
        let (out, _) = overzoom(&mvt, PARENT, deep).expect("valid");
        assert_eq!(features(&out)[0].2, vec![vec![(0, 0)]]);
    }

    #[test]
    fn malformed_bytes_are_an_error_not_a_panic() {
        let mvt = tile(&[(3, vec![9, 4, 4, 18])]);
        for cut in 0..mvt.len() {
            let _ = overzoom(&mvt[..cut], PARENT, child(0, 0));
        }
        assert!(overzoom(&[0x1a, 0x7f], PARENT, child(0, 0)).is_err());
        assert!(overzoom(&mvt, PARENT, TileCoord { z: 21, x: 0, y: 0 }).is_err());
    }

    #[test]
    fn the_ancestor_of_a_tile() {
        let t = TileCoord {
            z: 23,
            x: 8_000_001,
            y: 4_000_003,
        };
        assert_eq!(
            ancestor(t, 20),
            TileCoord {
                z: 20,
                x: 1_000_000,
                y: 500_000
            }
        );
        assert_eq!(ancestor(t, 23), t);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any bytes: an answer or an error, never a panic.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = overzoom(&bytes, PARENT, child(1, 0));
        }

        /// Any polygon or line of the ancestor: what comes out lies within the child's buffered
        /// box and polygons keep their rings' roles.
        #[test]
        fn what_comes_out_stays_in_the_buffered_box(
            points in proptest::collection::vec((-500i64..4600, -500i64..4600), 3..12),
            kind in 2u64..=3,
            dx in 0u32..4,
            dy in 0u32..4,
        ) {
            let mvt = tile(&[(kind, encode_parts(&[points], kind == 3))]);
            let deep = TileCoord { z: 22, x: PARENT.x * 4 + dx, y: PARENT.y * 4 + dy };
            let (out, _) = overzoom(&mvt, PARENT, deep).expect("valid");
            for (_, k, parts) in features(&out) {
                proptest::prop_assert_eq!(k, kind);
                for part in parts {
                    let least = if kind == 3 { 3 } else { 2 };
                    proptest::prop_assert!(part.len() >= least);
                    for (x, y) in &part {
                        proptest::prop_assert!((-64..=4160).contains(x) && (-64..=4160).contains(y));
                    }
                    if kind == 3 {
                        proptest::prop_assert!(signed_area(&part) != 0);
                    }
                }
            }
        }
    }
}
