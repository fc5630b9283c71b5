//! Map label glyphs (fonts) for MapLibre, generated here from TrueType files on disk so the maps
//! need nothing from the internet.
//!
//! MapLibre asks for `/fonts/{fontstack}/{start}-{end}.pbf`: 256 code points of one fontstack as
//! a glyph protobuf (`glyphs { stacks { name, range, glyphs { id, bitmap, width, height, left,
//! top, advance } } }`). Each bitmap is a signed distance field (SDF) of the glyph drawn at 24 px
//! with a 3 px border, the convention every MapLibre renderer expects. The SDF is computed from
//! the outline itself (ttf-parser → line segments → exact distance per pixel, inside by the
//! non-zero winding rule), not from a rasterised bitmap, so no font library is linked.
//!
//! Fonts come from Debian's `fonts-noto-core` (`/usr/share/fonts/truetype/noto`, the
//! `server.font_dir` setting), which covers Vietnamese (Latin Extended Additional,
//! U+1E00–U+1EFF). Ranges are generated on first request and kept in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Default directory of the Noto fonts (Debian `fonts-noto-core`).
pub const DEFAULT_FONT_DIR: &str = "/usr/share/fonts/truetype/noto";

/// Font size of the SDF glyphs, pixels per em (MapLibre's `ONE_EM`).
pub const FONT_SIZE: f32 = 24.0;
/// Border around each bitmap, pixels.
pub const BUFFER: i32 = 3;
/// Distance (pixels) the SDF's 0–255 span covers on each side of the edge.
const RADIUS: f32 = 8.0;
/// Where the edge lies in the byte range: 255 × (1 − CUTOFF) ≈ 192, MapLibre's threshold.
const CUTOFF: f32 = 0.25;

/// The fontstacks bando serves: name → file in the font directory.
pub const FONTS: &[(&str, &str)] = &[
    ("Noto Sans Regular", "NotoSans-Regular.ttf"),
    ("Noto Sans Bold", "NotoSans-Bold.ttf"),
    ("Noto Sans Italic", "NotoSans-Italic.ttf"),
    ("Noto Sans Bold Italic", "NotoSans-BoldItalic.ttf"),
];

/// Errors of glyph generation.
#[derive(Debug, thiserror::Error)]
pub enum GlyphError {
    /// The range is not `N*256`–`N*256+255` within the Basic Multilingual Plane.
    #[error(
        "glyph range \"{0}\" is invalid: ranges are 256 code points, \"N*256-N*256+255\" \
         (e.g. 0-255, 7680-7935), up to 65280-65535"
    )]
    BadRange(String),
    /// The font file could not be read or parsed.
    #[error("font file {path} cannot be used: {reason}")]
    Font {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Parses `"{start}-{end}"` (optionally with `.pbf`) into the range's first code point.
pub fn parse_range(text: &str) -> Result<u32, GlyphError> {
    let bad = || GlyphError::BadRange(text.to_string());
    let body = text.strip_suffix(".pbf").unwrap_or(text);
    let (a, b) = body.split_once('-').ok_or_else(bad)?;
    let start: u32 = a.parse().map_err(|_| bad())?;
    let end: u32 = b.parse().map_err(|_| bad())?;
    if !start.is_multiple_of(256) || end != start + 255 || end > 0xFFFF {
        return Err(bad());
    }
    Ok(start)
}

/// The font a fontstack resolves to: the first known name of a comma-separated stack, else
/// Noto Sans Regular (MapLibre asks for whatever the style names; it must get glyphs).
pub fn resolve_fontstack(stack: &str) -> &'static str {
    stack
        .split(',')
        .map(str::trim)
        .find_map(|name| {
            FONTS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(n, _)| *n)
        })
        .unwrap_or(FONTS[0].0)
}

/// Bytes shared between the cache and responses.
type Shared = Arc<Vec<u8>>;

/// Glyph ranges generated from the fonts of one directory, cached per (font, range).
pub struct Glyphs {
    dir: PathBuf,
    fonts: Mutex<HashMap<&'static str, Shared>>,
    ranges: Mutex<HashMap<(&'static str, u32), Shared>>,
}

static FONT_DIR: OnceLock<PathBuf> = OnceLock::new();
static GLOBAL: OnceLock<Glyphs> = OnceLock::new();

/// Sets the font directory of [`global`] (from the configuration); effective only before the
/// first glyph request.
pub fn set_font_dir(dir: PathBuf) {
    let _ = FONT_DIR.set(dir);
}

/// The server's font directory: the configured one, else `BANDO_FONT_DIR`, else
/// [`DEFAULT_FONT_DIR`] (glyphs and the printed planning sheet read their fonts there).
pub fn font_dir() -> PathBuf {
    FONT_DIR.get().cloned().unwrap_or_else(|| {
        std::env::var_os("BANDO_FONT_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FONT_DIR))
    })
}

/// The server's glyph store over [`font_dir`].
pub fn global() -> &'static Glyphs {
    GLOBAL.get_or_init(|| Glyphs::new(font_dir()))
}

impl Glyphs {
    /// A store over the fonts in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Glyphs {
            dir: dir.into(),
            fonts: Mutex::new(HashMap::new()),
            ranges: Mutex::new(HashMap::new()),
        }
    }

    /// The font directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The glyph protobuf of `fontstack` for the 256 code points from `start` (a multiple of
    /// 256). Generated on first use (CPU-bound: call it off the async executor).
    pub fn range(&self, fontstack: &str, start: u32) -> Result<Arc<Vec<u8>>, GlyphError> {
        if !start.is_multiple_of(256) || start > 0xFF00 {
            return Err(GlyphError::BadRange(format!("{start}-{}", start + 255)));
        }
        let name = resolve_fontstack(fontstack);
        if let Some(hit) = lock(&self.ranges).get(&(name, start)) {
            return Ok(hit.clone());
        }
        let data = self.font(name)?;
        let path = self.path_of(name);
        let face = ttf_parser::Face::parse(&data, 0).map_err(|e| GlyphError::Font {
            path,
            reason: e.to_string(),
        })?;
        let pbf = Arc::new(encode_range(&face, name, start));
        lock(&self.ranges).insert((name, start), pbf.clone());
        Ok(pbf)
    }

    fn path_of(&self, name: &str) -> PathBuf {
        let file = FONTS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .unwrap_or(FONTS[0].1);
        self.dir.join(file)
    }

    fn font(&self, name: &'static str) -> Result<Arc<Vec<u8>>, GlyphError> {
        if let Some(hit) = lock(&self.fonts).get(name) {
            return Ok(hit.clone());
        }
        let path = self.path_of(name);
        let bytes = std::fs::read(&path).map_err(|e| GlyphError::Font {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let bytes = Arc::new(bytes);
        lock(&self.fonts).insert(name, bytes.clone());
        Ok(bytes)
    }
}

/// Locks a cache, recovering it if a panicking thread poisoned it (the maps stay consistent:
/// entries are inserted whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One rendered glyph.
#[derive(Debug, Clone, PartialEq)]
pub struct SdfGlyph {
    /// Code point.
    pub id: u32,
    /// `(width + 6) × (height + 6)` bytes, or empty for blank glyphs (space).
    pub bitmap: Vec<u8>,
    /// Width without the border, pixels.
    pub width: u32,
    /// Height without the border, pixels.
    pub height: u32,
    /// Left bearing, pixels.
    pub left: i32,
    /// Top of the glyph above the baseline, pixels.
    pub top: i32,
    /// Horizontal advance, pixels.
    pub advance: u32,
}

/// The glyph protobuf of one range of a face.
pub fn encode_range(face: &ttf_parser::Face<'_>, name: &str, start: u32) -> Vec<u8> {
    let mut stack = Vec::new();
    put_bytes(&mut stack, 1, name.as_bytes());
    put_bytes(&mut stack, 2, format!("{start}-{}", start + 255).as_bytes());
    for cp in start..start + 256 {
        if let Some(g) = render(face, cp) {
            let mut m = Vec::new();
            put_varint_field(&mut m, 1, u64::from(g.id));
            if !g.bitmap.is_empty() {
                put_bytes(&mut m, 2, &g.bitmap);
            }
            put_varint_field(&mut m, 3, u64::from(g.width));
            put_varint_field(&mut m, 4, u64::from(g.height));
            put_varint_field(&mut m, 5, zigzag(g.left));
            put_varint_field(&mut m, 6, zigzag(g.top));
            put_varint_field(&mut m, 7, u64::from(g.advance));
            put_bytes(&mut stack, 3, &m);
        }
    }
    let mut out = Vec::new();
    put_bytes(&mut out, 1, &stack);
    out
}

/// Renders one code point; `None` when the font has no glyph for it.
pub fn render(face: &ttf_parser::Face<'_>, cp: u32) -> Option<SdfGlyph> {
    let ch = char::from_u32(cp)?;
    let gid = face.glyph_index(ch)?;
    let scale = FONT_SIZE / f32::from(face.units_per_em());
    let advance = (f32::from(face.glyph_hor_advance(gid).unwrap_or(0)) * scale).round() as u32;
    let mut outline = Outline {
        scale,
        ..Outline::default()
    };
    let blank = SdfGlyph {
        id: cp,
        bitmap: Vec::new(),
        width: 0,
        height: 0,
        left: 0,
        top: 0,
        advance,
    };
    if face.outline_glyph(gid, &mut outline).is_none() || outline.segments.is_empty() {
        return Some(blank);
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for s in &outline.segments {
        for (x, y) in [(s[0], s[1]), (s[2], s[3])] {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    let left = x0.floor() as i32;
    let bottom = y0.floor() as i32;
    let right = x1.ceil() as i32;
    let top = y1.ceil() as i32;
    let width = (right - left).max(1) as u32;
    let height = (top - bottom).max(1) as u32;
    let bw = width as i32 + 2 * BUFFER;
    let bh = height as i32 + 2 * BUFFER;
    let mut bitmap = Vec::with_capacity((bw * bh) as usize);
    for row in 0..bh {
        // Rows run top to bottom; pixel centres.
        let y = (top + BUFFER - row) as f32 - 0.5;
        for col in 0..bw {
            let x = (left - BUFFER + col) as f32 + 0.5;
            let (dist, winding) = outline.distance_and_winding(x, y);
            let signed = if winding != 0 { -dist } else { dist };
            let v = 255.0 - 255.0 * (signed / RADIUS + CUTOFF);
            bitmap.push(v.round().clamp(0.0, 255.0) as u8);
        }
    }
    Some(SdfGlyph {
        id: cp,
        bitmap,
        width,
        height,
        left,
        top,
        advance,
    })
}

/// A glyph outline flattened to line segments, in pixels (y up).
#[derive(Default)]
struct Outline {
    scale: f32,
    segments: Vec<[f32; 4]>,
    start: (f32, f32),
    at: (f32, f32),
}

/// Line segments per curve when flattening; at 24 px this keeps the error far below a pixel.
const CURVE_STEPS: usize = 8;

impl Outline {
    fn push(&mut self, x: f32, y: f32) {
        if (x, y) != self.at {
            self.segments.push([self.at.0, self.at.1, x, y]);
        }
        self.at = (x, y);
    }

    /// Distance to the nearest segment and the winding number of the point.
    fn distance_and_winding(&self, px: f32, py: f32) -> (f32, i32) {
        let mut best = f32::MAX;
        let mut winding = 0;
        for &[ax, ay, bx, by] in &self.segments {
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
            best = best.min(qx * qx + qy * qy);
            // Crossing of the ray to +x.
            if (ay <= py) != (by <= py) {
                let x = ax + (py - ay) / (by - ay) * dx;
                if x > px {
                    winding += if by > ay { 1 } else { -1 };
                }
            }
        }
        (best.sqrt(), winding)
    }
}

impl ttf_parser::OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        let p = (x * self.scale, y * self.scale);
        self.start = p;
        self.at = p;
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.push(x * self.scale, y * self.scale);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (p0, s) = (self.at, self.scale);
        let (c, p) = ((x1 * s, y1 * s), (x * s, y * s));
        for i in 1..=CURVE_STEPS {
            let t = i as f32 / CURVE_STEPS as f32;
            let u = 1.0 - t;
            self.push(
                u * u * p0.0 + 2.0 * u * t * c.0 + t * t * p.0,
                u * u * p0.1 + 2.0 * u * t * c.1 + t * t * p.1,
            );
        }
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (p0, s) = (self.at, self.scale);
        let (c1, c2, p) = ((x1 * s, y1 * s), (x2 * s, y2 * s), (x * s, y * s));
        for i in 1..=CURVE_STEPS {
            let t = i as f32 / CURVE_STEPS as f32;
            let u = 1.0 - t;
            let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            self.push(
                a * p0.0 + b * c1.0 + c * c2.0 + d * p.0,
                a * p0.1 + b * c1.1 + c * c2.1 + d * p.1,
            );
        }
    }
    fn close(&mut self) {
        let (x, y) = self.start;
        self.push(x, y);
    }
}

fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(out, u64::from(field << 3));
    put_varint(out, v);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyph_ranges_must_be_aligned_blocks_of_256() {
        assert_eq!(parse_range("0-255").ok(), Some(0));
        assert_eq!(parse_range("7680-7935.pbf").ok(), Some(7680));
        assert_eq!(parse_range("65280-65535").ok(), Some(65280));
        for bad in [
            "1-256",
            "0-254",
            "0-511",
            "abc",
            "256",
            "-256-0",
            "65536-65791",
            "",
        ] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
        let message = parse_range("1-256").expect_err("bad").to_string();
        assert!(message.contains("256 code points"), "{message}");
    }

    #[test]
    fn glyph_fontstacks_resolve_to_the_first_known_font_or_regular() {
        assert_eq!(resolve_fontstack("Noto Sans Bold"), "Noto Sans Bold");
        assert_eq!(
            resolve_fontstack("Open Sans Bold,Noto Sans Bold,Arial Unicode MS Regular"),
            "Noto Sans Bold"
        );
        assert_eq!(
            resolve_fontstack("Noto Sans Regular,Arial Unicode MS Regular"),
            "Noto Sans Regular"
        );
        assert_eq!(resolve_fontstack("Comic Sans"), "Noto Sans Regular");
        assert_eq!(resolve_fontstack(""), "Noto Sans Regular");
    }

    #[test]
    fn glyph_sdf_is_inside_high_outside_low() {
        let data = std::fs::read(Path::new(DEFAULT_FONT_DIR).join("NotoSans-Regular.ttf"))
            .expect("fonts-noto-core is installed (scripts/install-deps.sh)");
        let face = ttf_parser::Face::parse(&data, 0).expect("font");
        // A full-height vertical stem: "l".
        let g = render(&face, 'l' as u32).expect("l");
        let bw = (g.width as i32 + 2 * BUFFER) as usize;
        assert_eq!(g.bitmap.len(), bw * (g.height as usize + 6));
        let mid_row = &g.bitmap[(g.height as usize / 2 + 3) * bw..][..bw];
        let max = mid_row.iter().copied().max().expect("row");
        assert!(
            max > 192,
            "the stem's inside is above the edge value: {mid_row:?}"
        );
        assert!(mid_row[0] < 192 && mid_row[bw - 1] < 192, "{mid_row:?}");
        assert!(
            g.top >= 15 && g.top <= 19,
            "ascender height at 24 px: {}",
            g.top
        );
        let space = render(&face, ' ' as u32).expect("space");
        assert!(space.bitmap.is_empty() && space.advance > 0);
        assert!(render(&face, 0xE000).is_none(), "private use area");
    }
}
