//! XYZ tile addressing and Web Mercator tile math.
//!
//! This module owns `z/x/y` tile addressing in the **WebMercatorQuad** grid:
//!
//! * The projection is spherical Web Mercator, EPSG:3857, in metres. The
//!   square world spans `±EARTH_HALF_CIRCUMFERENCE` on both axes, which in
//!   latitude is `±85.0511287798066°`.
//! * Zoom `z` splits the world into `2^z × 2^z` tiles.
//! * The origin is the **top-left** (north-west) corner: `x` grows eastwards
//!   and `y` grows **southwards**. This is the XYZ / "slippy map" convention
//!   used by OpenStreetMap, Mapbox and MVT clients, and it matches the OGC
//!   TileMatrixSet `WebMercatorQuad`, where `TileMatrix = z`,
//!   `TileRow = y` and `TileCol = x`.
//! * The older TMS convention counts rows from the bottom instead;
//!   [`TileCoord::tms_y`] converts.
//!
//! A [`TileCoord`] built through [`TileCoord::new`], [`TileCoord::parse`],
//! [`TileCoord::containing`] or deserialisation is always valid
//! (`z <= MAX_ZOOM`, `x, y < 2^z`). The fields are public for convenience;
//! methods on a coordinate built by hand with out-of-range fields never panic
//! but give meaningless answers.
//!
//! Geographic [`Bounds`] use `min_x = west`, `min_y = south`, `max_x = east`,
//! `max_y = north`, in degrees (WGS84 longitude/latitude) or in EPSG:3857
//! metres, depending on which function produced them.

use std::f64::consts::PI;
use std::fmt;

/// Deepest zoom level accepted (tiles are about 2.4 m wide at the equator).
pub const MAX_ZOOM: u8 = 24;

/// Half the equatorial circumference of the Web Mercator sphere, in metres:
/// `π × 6 378 137`. The EPSG:3857 world square spans `±` this on both axes.
pub const EARTH_HALF_CIRCUMFERENCE: f64 = 20037508.342789244;

/// Radius of the Web Mercator sphere (WGS84 semi-major axis), in metres.
pub const EARTH_RADIUS: f64 = 6_378_137.0;

/// Northernmost (and, negated, southernmost) latitude that Web Mercator
/// tiles cover, in degrees, as used for clamping input latitudes.
pub const MAX_LATITUDE: f64 = 85.0511287798;

/// Nominal tile size in pixels that [`resolution`] is based on.
pub const TILE_SIZE: u32 = 256;

/// The usual Mapbox Vector Tile extent (integer grid units per tile side).
pub const MVT_EXTENT: u32 = 4096;

/// Longest excerpt of a rejected input echoed back in an error message.
const MAX_ECHO_CHARS: usize = 32;

/// Which part of a `z/x/y` address a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// The zoom level `z`.
    Zoom,
    /// The column `x`.
    X,
    /// The row `y`.
    Y,
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Axis::Zoom => "zoom",
            Axis::X => "x",
            Axis::Y => "y",
        })
    }
}

/// Why a tile address or a position was rejected.
///
/// The `Display` text is a plain English sentence naming the bad value and
/// what is allowed, suitable for an HTTP 400 body. Values that came from
/// untrusted text are kept as (possibly shortened) text.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum TileError {
    /// A path segment is not a base-10 whole number.
    #[error("{axis} {value:?} is not a whole number")]
    NotANumber {
        /// Which segment.
        axis: Axis,
        /// The offending text (shortened if very long).
        value: String,
    },
    /// The zoom level is negative or greater than [`MAX_ZOOM`].
    #[error("zoom {zoom} is out of range: zoom must be between 0 and {max}", max = MAX_ZOOM)]
    ZoomOutOfRange {
        /// The rejected zoom, as written.
        zoom: String,
    },
    /// The column is negative or not below `2^z`.
    #[error(
        "x {x} is out of range for zoom {z}: x must be between 0 and {}",
        max_index(*.z)
    )]
    XOutOfRange {
        /// The rejected column, as written.
        x: String,
        /// The (valid) zoom level it was checked against.
        z: u8,
    },
    /// The row is negative or not below `2^z`.
    #[error(
        "y {y} is out of range for zoom {z}: y must be between 0 and {}",
        max_index(*.z)
    )]
    YOutOfRange {
        /// The rejected row, as written.
        y: String,
        /// The (valid) zoom level it was checked against.
        z: u8,
    },
    /// A longitude/latitude pair is not a usable WGS84 position.
    #[error(
        "position (lon {lon}, lat {lat}) is not a valid WGS84 position: \
         longitude must be between -180 and 180 and latitude must be a finite number"
    )]
    InvalidPosition {
        /// The rejected longitude, in degrees.
        lon: f64,
        /// The rejected latitude, in degrees.
        lat: f64,
    },
}

/// An XYZ tile address in the WebMercatorQuad grid (`y` grows southwards).
///
/// Serialises as `{"z":..,"x":..,"y":..}`; deserialisation validates the
/// ranges like [`TileCoord::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawTileCoord")]
pub struct TileCoord {
    /// Zoom level, `0..=MAX_ZOOM`.
    pub z: u8,
    /// Column, `0..2^z`, counted eastwards from longitude −180.
    pub x: u32,
    /// Row, `0..2^z`, counted southwards from the northern edge.
    pub y: u32,
}

/// Unvalidated shape used to deserialise a [`TileCoord`].
#[derive(serde::Deserialize)]
struct RawTileCoord {
    z: u8,
    x: u32,
    y: u32,
}

impl TryFrom<RawTileCoord> for TileCoord {
    type Error = TileError;

    fn try_from(raw: RawTileCoord) -> Result<Self, Self::Error> {
        TileCoord::new(raw.z, raw.x, raw.y)
    }
}

impl TileCoord {
    /// Builds a tile address, checking `z <= MAX_ZOOM` and `x, y < 2^z`.
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileCoord, TileError> {
        if z > MAX_ZOOM {
            return Err(TileError::ZoomOutOfRange {
                zoom: z.to_string(),
            });
        }
        let side = tiles_per_side(z);
        if u64::from(x) >= side {
            return Err(TileError::XOutOfRange {
                x: x.to_string(),
                z,
            });
        }
        if u64::from(y) >= side {
            return Err(TileError::YOutOfRange {
                y: y.to_string(),
                z,
            });
        }
        Ok(TileCoord { z, x, y })
    }

    /// Parses the three path segments of a `/{z}/{x}/{y}` URL.
    ///
    /// Each segment must be a non-negative base-10 whole number made of ASCII
    /// digits only (no sign, no spaces). `y` may carry a file extension, such
    /// as `"12.mvt"` or `"12.pbf"`: everything from its first `.` on is
    /// ignored. Zoom is checked first, then `x` against that zoom, then `y`.
    pub fn parse(z: &str, x: &str, y: &str) -> Result<TileCoord, TileError> {
        let zoom = match parse_segment(Axis::Zoom, z)? {
            Segment::Value(v) => u8::try_from(v).ok().filter(|v| *v <= MAX_ZOOM),
            Segment::OutOfRange => None,
        }
        .ok_or_else(|| TileError::ZoomOutOfRange { zoom: echo(z) })?;
        let side = tiles_per_side(zoom);
        let in_range = |v: u64| u32::try_from(v).ok().filter(|v| u64::from(*v) < side);

        let col = match parse_segment(Axis::X, x)? {
            Segment::Value(v) => in_range(v),
            Segment::OutOfRange => None,
        }
        .ok_or_else(|| TileError::XOutOfRange {
            x: echo(x),
            z: zoom,
        })?;

        let y_digits = y.split_once('.').map_or(y, |(stem, _ext)| stem);
        let row = match parse_segment_shown(Axis::Y, y_digits, y)? {
            Segment::Value(v) => in_range(v),
            Segment::OutOfRange => None,
        }
        .ok_or_else(|| TileError::YOutOfRange {
            y: echo(y_digits),
            z: zoom,
        })?;

        Ok(TileCoord {
            z: zoom,
            x: col,
            y: row,
        })
    }

    /// The tile at zoom `z` that contains the WGS84 point (`lon`, `lat`).
    ///
    /// Latitude is clamped to `±MAX_LATITUDE` (so the poles map to the top
    /// and bottom rows). Longitude must lie in `[-180, 180]`; `180` maps to
    /// the last column. Points on a tile edge belong to the tile to their
    /// east / south. Non-finite input is rejected.
    pub fn containing(lon: f64, lat: f64, z: u8) -> Result<TileCoord, TileError> {
        if z > MAX_ZOOM {
            return Err(TileError::ZoomOutOfRange {
                zoom: z.to_string(),
            });
        }
        if !lon.is_finite() || !lat.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(TileError::InvalidPosition { lon, lat });
        }
        let n = zoom_scale(z);
        let max = max_index(z);
        let x = clamp_index((unit_x(lon) * n).floor(), max);
        let y = clamp_index((unit_y(lat) * n).floor(), max);
        Ok(TileCoord { z, x, y })
    }

    /// The tile's extent in EPSG:3857 metres.
    pub fn mercator_bounds(&self) -> Bounds {
        let n = zoom_scale(self.z);
        let h = EARTH_HALF_CIRCUMFERENCE;
        // `2·x/n − 1` is exact for every valid tile, so each edge is a single
        // rounding of `h × exact fraction`: neighbouring tiles, and a parent
        // and its children, share bit-identical edges.
        let x0 = 2.0 * f64::from(self.x) / n - 1.0;
        let x1 = 2.0 * (f64::from(self.x) + 1.0) / n - 1.0;
        let y0 = 1.0 - 2.0 * f64::from(self.y) / n;
        let y1 = 1.0 - 2.0 * (f64::from(self.y) + 1.0) / n;
        Bounds {
            min_x: h * x0,
            min_y: h * y1,
            max_x: h * x1,
            max_y: h * y0,
        }
    }

    /// The tile's extent in WGS84 degrees: west, south, east, north.
    pub fn lonlat_bounds(&self) -> Bounds {
        let n = zoom_scale(self.z);
        let x = f64::from(self.x);
        let y = f64::from(self.y);
        Bounds {
            min_x: x / n * 360.0 - 180.0,
            min_y: unit_y_to_lat((y + 1.0) / n),
            max_x: (x + 1.0) / n * 360.0 - 180.0,
            max_y: unit_y_to_lat(y / n),
        }
    }

    /// The tile one zoom level up that contains this one; `None` at zoom 0.
    pub fn parent(&self) -> Option<TileCoord> {
        let z = self.z.checked_sub(1)?;
        Some(TileCoord {
            z,
            x: self.x / 2,
            y: self.y / 2,
        })
    }

    /// The four tiles one zoom level down that exactly cover this one, in
    /// the order north-west, north-east, south-west, south-east.
    /// `None` at [`MAX_ZOOM`].
    pub fn children(&self) -> Option<[TileCoord; 4]> {
        if self.z >= MAX_ZOOM {
            return None;
        }
        let z = self.z + 1;
        let x = self.x.checked_mul(2)?;
        let y = self.y.checked_mul(2)?;
        let x1 = x.checked_add(1)?;
        let y1 = y.checked_add(1)?;
        Some([
            TileCoord { z, x, y },
            TileCoord { z, x: x1, y },
            TileCoord { z, x, y: y1 },
            TileCoord { z, x: x1, y: y1 },
        ])
    }

    /// The row number in the TMS convention (rows counted from the south):
    /// `2^z − 1 − y`. Applying the flip twice gives back `y`.
    pub fn tms_y(&self) -> u32 {
        max_index(self.z.min(MAX_ZOOM)).saturating_sub(self.y)
    }
}

impl fmt::Display for TileCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// An axis-aligned box, either in WGS84 degrees (`x` = longitude,
/// `y` = latitude) or in EPSG:3857 metres. Edges are included.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bounds {
    /// West edge.
    pub min_x: f64,
    /// South edge.
    pub min_y: f64,
    /// East edge.
    pub max_x: f64,
    /// North edge.
    pub max_y: f64,
}

impl Bounds {
    /// A box from its west, south, east and north edges.
    pub const fn new(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Bounds {
        Bounds {
            min_x,
            min_y,
            max_x,
            max_y,
        }
    }

    /// East-west extent (`max_x − min_x`).
    pub fn width(&self) -> f64 {
        self.max_x - self.min_x
    }

    /// North-south extent (`max_y − min_y`).
    pub fn height(&self) -> f64 {
        self.max_y - self.min_y
    }

    /// Whether the point lies inside the box or on its edge.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        self.min_x <= x && x <= self.max_x && self.min_y <= y && y <= self.max_y
    }

    /// Whether the two boxes overlap; boxes that only touch along an edge or
    /// at a corner count as intersecting.
    pub fn intersects(&self, other: &Bounds) -> bool {
        self.min_x <= other.max_x
            && other.min_x <= self.max_x
            && self.min_y <= other.max_y
            && other.min_y <= self.max_y
    }

    /// The box grown by `by` on every side (shrunk if `by` is negative).
    pub fn buffered(&self, by: f64) -> Bounds {
        Bounds {
            min_x: self.min_x - by,
            min_y: self.min_y - by,
            max_x: self.max_x + by,
            max_y: self.max_y + by,
        }
    }
}

/// WGS84 degrees to EPSG:3857 metres.
///
/// Latitude is clamped to `±MAX_LATITUDE` so that the poles give finite
/// values at the edge of the Web Mercator square. NaN stays NaN.
pub fn lonlat_to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = clamp_lat(lat);
    let x = lon * EARTH_HALF_CIRCUMFERENCE / 180.0;
    let y = EARTH_RADIUS * lat.to_radians().tan().asinh();
    (x, y)
}

/// EPSG:3857 metres to WGS84 degrees (longitude, latitude).
pub fn mercator_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = x * 180.0 / EARTH_HALF_CIRCUMFERENCE;
    let lat = (y / EARTH_RADIUS).sinh().atan().to_degrees();
    (lon, lat)
}

/// All tiles at zoom `z` that overlap a WGS84 box, row by row from the
/// north-west corner.
///
/// The box is clamped to the Web Mercator world (longitude `[-180, 180]`,
/// latitude `±MAX_LATITUDE`). A box edge lying exactly on a tile edge does
/// not pull in the neighbouring tile, but a zero-width or zero-height box
/// still yields the tiles containing it. The iterator is empty when `z` is
/// above [`MAX_ZOOM`], when any edge is NaN, or when `min > max` on either
/// axis (boxes crossing the antimeridian must be split by the caller).
pub fn tiles_covering(bounds_lonlat: &Bounds, z: u8) -> impl Iterator<Item = TileCoord> {
    covering_ranges(bounds_lonlat, z)
        .into_iter()
        .flat_map(move |(cols, rows)| {
            rows.flat_map(move |y| cols.clone().map(move |x| TileCoord { z, x, y }))
        })
}

/// Ground resolution in metres per pixel at the equator for 256-pixel tiles
/// at zoom `z` (`156543.03…` at zoom 0, halving with each level).
///
/// Vector tiles are usually encoded with an extent of 4096 ([`MVT_EXTENT`])
/// units per side, so one MVT unit is `resolution(z) / 16` metres.
pub fn resolution(z: u8) -> f64 {
    2.0 * EARTH_HALF_CIRCUMFERENCE / (f64::from(TILE_SIZE) * zoom_scale(z))
}

// ---------------------------------------------------------------------------
// Private helpers
// ---------------------------------------------------------------------------

/// `2^z` as an integer (saturating at `2^63` for absurd zooms).
fn tiles_per_side(z: u8) -> u64 {
    1u64 << z.min(63)
}

/// `2^z − 1`, the largest valid column/row at zoom `z` (clamped to
/// [`MAX_ZOOM`] so it always fits a `u32`).
fn max_index(z: u8) -> u32 {
    (1u32 << z.min(MAX_ZOOM)) - 1
}

/// `2^z` as a float.
fn zoom_scale(z: u8) -> f64 {
    2f64.powi(i32::from(z))
}

/// Clamps to `±MAX_LATITUDE`; NaN stays NaN.
fn clamp_lat(lat: f64) -> f64 {
    lat.clamp(-MAX_LATITUDE, MAX_LATITUDE)
}

/// Longitude to a fraction of the world width, 0 at −180, 1 at 180.
fn unit_x(lon: f64) -> f64 {
    (lon + 180.0) / 360.0
}

/// Latitude (clamped) to a fraction of the world height, 0 at the north
/// edge, 1 at the south edge.
fn unit_y(lat: f64) -> f64 {
    let merc = clamp_lat(lat).to_radians().tan().asinh(); // in [-π, π]
    (1.0 - merc / PI) / 2.0
}

/// Inverse of [`unit_y`] (without the clamp).
fn unit_y_to_lat(fy: f64) -> f64 {
    (PI * (1.0 - 2.0 * fy)).sinh().atan().to_degrees()
}

/// A float tile index (already floored or ceiled) to `0..=max`.
fn clamp_index(v: f64, max: u32) -> u32 {
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= f64::from(max) {
        max
    } else {
        // In (0, max) and integral, so the cast is exact.
        v as u32
    }
}

type IndexRange = std::ops::RangeInclusive<u32>;

/// Column and row ranges for [`tiles_covering`], or `None` if empty.
fn covering_ranges(b: &Bounds, z: u8) -> Option<(IndexRange, IndexRange)> {
    if z > MAX_ZOOM {
        return None;
    }
    let edges = [b.min_x, b.min_y, b.max_x, b.max_y];
    if edges.iter().any(|v| v.is_nan()) || b.min_x > b.max_x || b.min_y > b.max_y {
        return None;
    }
    let n = zoom_scale(z);
    let max = max_index(z);
    let west = b.min_x.clamp(-180.0, 180.0);
    let east = b.max_x.clamp(-180.0, 180.0);

    let x0 = clamp_index((unit_x(west) * n).floor(), max);
    let x1 = clamp_index((unit_x(east) * n).ceil() - 1.0, max).max(x0);
    // North has the smaller row number.
    let y0 = clamp_index((unit_y(b.max_y) * n).floor(), max);
    let y1 = clamp_index((unit_y(b.min_y) * n).ceil() - 1.0, max).max(y0);
    Some((x0..=x1, y0..=y1))
}

/// What a path segment holds, before range checks.
enum Segment {
    /// A whole number that fits in `u64`.
    Value(u64),
    /// A negative whole number, or one too large for `u64`: out of range
    /// whatever the axis.
    OutOfRange,
}

fn parse_segment(axis: Axis, text: &str) -> Result<Segment, TileError> {
    parse_segment_shown(axis, text, text)
}

/// Parses `digits`; errors quote `shown` (the segment as the client sent it).
fn parse_segment_shown(axis: Axis, digits: &str, shown: &str) -> Result<Segment, TileError> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = digits.strip_prefix('-') {
        if all_digits(rest) {
            return Ok(Segment::OutOfRange);
        }
    } else if all_digits(digits) {
        // Only overflow can fail here.
        return Ok(digits
            .parse::<u64>()
            .map_or(Segment::OutOfRange, Segment::Value));
    }
    Err(TileError::NotANumber {
        axis,
        value: echo(shown),
    })
}

/// Copies untrusted text for an error message, shortened if very long.
fn echo(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: f64 = EARTH_HALF_CIRCUMFERENCE;

    fn tile(z: u8, x: u32, y: u32) -> TileCoord {
        TileCoord::new(z, x, y).expect("valid test tile")
    }

    fn assert_close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    fn assert_bounds_close(a: &Bounds, b: &Bounds, tol: f64) {
        assert_close(a.min_x, b.min_x, tol);
        assert_close(a.min_y, b.min_y, tol);
        assert_close(a.max_x, b.max_x, tol);
        assert_close(a.max_y, b.max_y, tol);
    }

    fn parse_err(z: &str, x: &str, y: &str) -> String {
        match TileCoord::parse(z, x, y) {
            Ok(t) => panic!("expected an error for {z}/{x}/{y}, got {t}"),
            Err(e) => e.to_string(),
        }
    }

    // ---- constants -------------------------------------------------------

    #[test]
    fn half_circumference_is_pi_times_radius() {
        assert_eq!(PI * EARTH_RADIUS, EARTH_HALF_CIRCUMFERENCE);
    }

    #[test]
    fn resolution_known_values() {
        assert_close(resolution(0), 156_543.033_928_040_97, 1e-9);
        assert_close(resolution(1), 78_271.516_964_020_48, 1e-9);
        for z in 0..MAX_ZOOM {
            assert_eq!(resolution(z), 2.0 * resolution(z + 1));
        }
        // One MVT unit at z14 is about 0.6 m.
        assert_close(resolution(14) / 16.0, 0.597_164_283_528_3, 1e-9);
    }

    // ---- construction ----------------------------------------------------

    #[test]
    fn new_validates_ranges() {
        assert!(TileCoord::new(0, 0, 0).is_ok());
        assert!(TileCoord::new(24, (1 << 24) - 1, (1 << 24) - 1).is_ok());
        assert_eq!(
            TileCoord::new(25, 0, 0),
            Err(TileError::ZoomOutOfRange { zoom: "25".into() })
        );
        assert_eq!(
            TileCoord::new(3, 8, 0),
            Err(TileError::XOutOfRange {
                x: "8".into(),
                z: 3
            })
        );
        assert_eq!(
            TileCoord::new(3, 0, 8),
            Err(TileError::YOutOfRange {
                y: "8".into(),
                z: 3
            })
        );
        assert!(TileCoord::new(0, 1, 0).is_err());
        assert!(TileCoord::new(0, 0, u32::MAX).is_err());
        assert!(TileCoord::new(u8::MAX, 0, 0).is_err());
    }

    #[test]
    fn display_is_z_x_y() {
        assert_eq!(tile(14, 13056, 7663).to_string(), "14/13056/7663");
        assert_eq!(tile(0, 0, 0).to_string(), "0/0/0");
    }

    #[test]
    fn deserialise_goes_through_validation() {
        let ok = TileCoord::try_from(RawTileCoord { z: 3, x: 7, y: 1 });
        assert_eq!(ok, Ok(tile(3, 7, 1)));
        let bad = TileCoord::try_from(RawTileCoord { z: 3, x: 9, y: 1 });
        assert!(matches!(bad, Err(TileError::XOutOfRange { .. })));
    }

    // ---- parsing ---------------------------------------------------------

    #[test]
    fn parse_accepts_plain_and_extension() {
        assert_eq!(
            TileCoord::parse("14", "13056", "7663"),
            Ok(tile(14, 13056, 7663))
        );
        assert_eq!(TileCoord::parse("3", "5", "2.mvt"), Ok(tile(3, 5, 2)));
        assert_eq!(TileCoord::parse("3", "5", "2.pbf"), Ok(tile(3, 5, 2)));
        assert_eq!(TileCoord::parse("3", "5", "2.mvt.gz"), Ok(tile(3, 5, 2)));
        assert_eq!(TileCoord::parse("3", "5", "2."), Ok(tile(3, 5, 2)));
        assert_eq!(TileCoord::parse("0", "0", "0"), Ok(tile(0, 0, 0)));
        assert_eq!(
            TileCoord::parse("24", "16777215", "0"),
            Ok(tile(24, 16_777_215, 0))
        );
    }

    #[test]
    fn parse_zoom_out_of_range() {
        let msg = parse_err("25", "0", "0");
        assert_eq!(
            msg,
            "zoom 25 is out of range: zoom must be between 0 and 24"
        );
        let msg = parse_err("300", "0", "0");
        assert!(msg.contains("zoom 300 is out of range"), "{msg}");
        let msg = parse_err("99999999999999999999999999", "0", "0");
        assert!(
            msg.contains("out of range") && msg.contains("between 0 and 24"),
            "{msg}"
        );
    }

    #[test]
    fn parse_negative_numbers() {
        let msg = parse_err("-1", "0", "0");
        assert_eq!(
            msg,
            "zoom -1 is out of range: zoom must be between 0 and 24"
        );
        let msg = parse_err("3", "-1", "0");
        assert_eq!(
            msg,
            "x -1 is out of range for zoom 3: x must be between 0 and 7"
        );
        let msg = parse_err("3", "0", "-4.mvt");
        assert_eq!(
            msg,
            "y -4 is out of range for zoom 3: y must be between 0 and 7"
        );
    }

    #[test]
    fn parse_x_and_y_out_of_range() {
        let msg = parse_err("3", "9", "0");
        assert_eq!(
            msg,
            "x 9 is out of range for zoom 3: x must be between 0 and 7"
        );
        let msg = parse_err("3", "0", "8.pbf");
        assert_eq!(
            msg,
            "y 8 is out of range for zoom 3: y must be between 0 and 7"
        );
        let msg = parse_err("0", "1", "0");
        assert_eq!(
            msg,
            "x 1 is out of range for zoom 0: x must be between 0 and 0"
        );
        let msg = parse_err("24", "16777216", "0");
        assert!(msg.contains("between 0 and 16777215"), "{msg}");
    }

    #[test]
    fn parse_not_numbers() {
        assert_eq!(
            parse_err("3", "0", "abc"),
            "y \"abc\" is not a whole number"
        );
        assert_eq!(parse_err("z", "0", "0"), "zoom \"z\" is not a whole number");
        assert_eq!(
            parse_err("3", "1.5", "0"),
            "x \"1.5\" is not a whole number"
        );
        assert_eq!(parse_err("3", "", "0"), "x \"\" is not a whole number");
        assert_eq!(
            parse_err("3", "0", ".mvt"),
            "y \".mvt\" is not a whole number"
        );
        assert_eq!(
            parse_err("3", "0", "1x.mvt"),
            "y \"1x.mvt\" is not a whole number"
        );
        assert_eq!(
            parse_err("+3", "0", "0"),
            "zoom \"+3\" is not a whole number"
        );
        assert_eq!(
            parse_err(" 3", "0", "0"),
            "zoom \" 3\" is not a whole number"
        );
        assert_eq!(parse_err("3", "-", "0"), "x \"-\" is not a whole number");
        assert_eq!(
            parse_err("3", "--1", "0"),
            "x \"--1\" is not a whole number"
        );
        assert_eq!(parse_err("3", "٣", "0"), "x \"٣\" is not a whole number");
    }

    #[test]
    fn parse_error_echo_is_bounded() {
        let long = "a".repeat(10_000);
        let msg = parse_err("3", &long, "0");
        assert!(msg.len() < 100, "{msg}");
        assert!(msg.contains("is not a whole number"), "{msg}");
    }

    #[test]
    fn parse_checks_zoom_before_x_and_y() {
        assert!(matches!(
            TileCoord::parse("30", "abc", "abc"),
            Err(TileError::ZoomOutOfRange { .. })
        ));
        assert!(matches!(
            TileCoord::parse("3", "abc", "99"),
            Err(TileError::NotANumber { axis: Axis::X, .. })
        ));
    }

    // ---- bounds of known tiles ---------------------------------------------

    #[test]
    fn zoom0_bounds() {
        let t = tile(0, 0, 0);
        assert_eq!(t.mercator_bounds(), Bounds::new(-H, -H, H, H));
        let ll = t.lonlat_bounds();
        assert_eq!((ll.min_x, ll.max_x), (-180.0, 180.0));
        assert_close(ll.max_y, 85.051_128_779_806_6, 1e-12);
        assert_close(ll.min_y, -85.051_128_779_806_6, 1e-12);
    }

    #[test]
    fn zoom1_bounds() {
        assert_eq!(
            tile(1, 0, 0).mercator_bounds(),
            Bounds::new(-H, 0.0, 0.0, H)
        );
        assert_eq!(tile(1, 1, 0).mercator_bounds(), Bounds::new(0.0, 0.0, H, H));
        assert_eq!(
            tile(1, 0, 1).mercator_bounds(),
            Bounds::new(-H, -H, 0.0, 0.0)
        );
        assert_eq!(
            tile(1, 1, 1).mercator_bounds(),
            Bounds::new(0.0, -H, H, 0.0)
        );
        let ll = tile(1, 1, 0).lonlat_bounds();
        assert_bounds_close(
            &ll,
            &Bounds::new(0.0, 0.0, 180.0, 85.051_128_779_806_6),
            1e-12,
        );
        let ll = tile(1, 0, 1).lonlat_bounds();
        assert_bounds_close(
            &ll,
            &Bounds::new(-180.0, -85.051_128_779_806_6, 0.0, 0.0),
            1e-12,
        );
    }

    #[test]
    fn zoom2_bounds() {
        let q = H / 2.0;
        assert_eq!(tile(2, 0, 0).mercator_bounds(), Bounds::new(-H, q, -q, H));
        assert_eq!(
            tile(2, 1, 2).mercator_bounds(),
            Bounds::new(-q, -q, 0.0, 0.0)
        );
        assert_eq!(tile(2, 3, 3).mercator_bounds(), Bounds::new(q, -H, H, -q));
        let ll = tile(2, 1, 2).lonlat_bounds();
        assert_bounds_close(
            &ll,
            &Bounds::new(-90.0, -66.513_260_443_111_86, 0.0, 0.0),
            1e-12,
        );
        let ll = tile(2, 2, 1).lonlat_bounds();
        assert_bounds_close(
            &ll,
            &Bounds::new(0.0, 0.0, 90.0, 66.513_260_443_111_86),
            1e-12,
        );
    }

    #[test]
    fn known_tiles_from_points() {
        // Values computed independently with the textbook slippy-map formula
        // x = ⌊(lon+180)/360·2^z⌋, y = ⌊(1 − ln(tan φ + sec φ)/π)/2·2^z⌋.
        let t = TileCoord::containing(106.883, 11.535, 14).expect("valid point");
        assert_eq!(t, tile(14, 13056, 7663));
        let ll = t.lonlat_bounds();
        assert!(ll.contains(106.883, 11.535));
        assert_bounds_close(
            &ll,
            &Bounds::new(
                106.875,
                11.523_087_506_868_508,
                106.896_972_656_25,
                11.544_616_463_449_652,
            ),
            1e-11,
        );
        // London.
        let london = TileCoord::containing(-0.1276, 51.5072, 10).expect("valid point");
        assert_eq!(london, tile(10, 511, 340));
        // Null Island sits on the corner of four tiles and goes south-east.
        for z in 1..=MAX_ZOOM {
            let half = 1u32 << (z - 1);
            assert_eq!(TileCoord::containing(0.0, 0.0, z), Ok(tile(z, half, half)));
        }
    }

    #[test]
    fn containing_edges_and_clamping() {
        assert_eq!(TileCoord::containing(-180.0, 0.0, 3), Ok(tile(3, 0, 4)));
        assert_eq!(TileCoord::containing(180.0, 0.0, 3), Ok(tile(3, 7, 4)));
        assert_eq!(TileCoord::containing(10.0, 90.0, 3), Ok(tile(3, 4, 0)));
        assert_eq!(TileCoord::containing(10.0, -90.0, 3), Ok(tile(3, 4, 7)));
        assert_eq!(TileCoord::containing(10.0, 89.0, 0), Ok(tile(0, 0, 0)));
        assert_eq!(
            TileCoord::containing(10.0, MAX_LATITUDE, MAX_ZOOM).map(|t| t.y),
            Ok(0)
        );
        assert_eq!(
            TileCoord::containing(10.0, -MAX_LATITUDE, MAX_ZOOM).map(|t| t.y),
            Ok((1 << MAX_ZOOM) - 1)
        );
    }

    #[test]
    fn containing_rejects_bad_input() {
        for (lon, lat) in [
            (180.0001, 0.0),
            (-181.0, 0.0),
            (f64::NAN, 0.0),
            (0.0, f64::NAN),
            (f64::INFINITY, 0.0),
            (0.0, f64::NEG_INFINITY),
        ] {
            let err = TileCoord::containing(lon, lat, 5).expect_err("must be rejected");
            assert!(matches!(err, TileError::InvalidPosition { .. }));
            let msg = err.to_string();
            assert!(
                msg.contains("longitude must be between -180 and 180"),
                "{msg}"
            );
        }
        let err = TileCoord::containing(0.0, 0.0, 25).expect_err("zoom 25");
        assert_eq!(
            err.to_string(),
            "zoom 25 is out of range: zoom must be between 0 and 24"
        );
    }

    // ---- hierarchy -------------------------------------------------------

    #[test]
    fn parent_and_children_known() {
        assert_eq!(tile(0, 0, 0).parent(), None);
        assert_eq!(tile(3, 5, 2).parent(), Some(tile(2, 2, 1)));
        assert_eq!(
            tile(1, 1, 0).children(),
            Some([tile(2, 2, 0), tile(2, 3, 0), tile(2, 2, 1), tile(2, 3, 1)])
        );
        assert_eq!(tile(MAX_ZOOM, 0, 0).children(), None);
        // Hand-built invalid coordinates must not panic.
        let bogus = TileCoord {
            z: 40,
            x: u32::MAX,
            y: u32::MAX,
        };
        assert_eq!(bogus.children(), None);
        let _ = bogus.tms_y();
        let _ = bogus.mercator_bounds();
        let _ = bogus.lonlat_bounds();
        let bogus = TileCoord {
            z: 5,
            x: u32::MAX,
            y: 0,
        };
        assert_eq!(bogus.children(), None);
    }

    #[test]
    fn tms_flip() {
        assert_eq!(tile(0, 0, 0).tms_y(), 0);
        assert_eq!(tile(1, 0, 0).tms_y(), 1);
        assert_eq!(tile(3, 2, 1).tms_y(), 6);
        assert_eq!(tile(14, 13056, 7663).tms_y(), 16383 - 7663);
    }

    // ---- Bounds ------------------------------------------------------------

    #[test]
    fn bounds_helpers() {
        let b = Bounds::new(0.0, 0.0, 10.0, 5.0);
        assert_eq!(b.width(), 10.0);
        assert_eq!(b.height(), 5.0);
        assert!(b.contains(0.0, 0.0));
        assert!(b.contains(10.0, 5.0));
        assert!(b.contains(3.0, 4.0));
        assert!(!b.contains(10.1, 4.0));
        assert!(!b.contains(f64::NAN, 4.0));
        assert!(b.intersects(&Bounds::new(10.0, 5.0, 20.0, 20.0))); // corner touch
        assert!(b.intersects(&Bounds::new(2.0, 1.0, 3.0, 2.0))); // inside
        assert!(!b.intersects(&Bounds::new(10.5, 0.0, 20.0, 5.0)));
        assert!(!b.intersects(&Bounds::new(0.0, -3.0, 10.0, -0.5)));
        assert_eq!(b.buffered(1.0), Bounds::new(-1.0, -1.0, 11.0, 6.0));
        assert_eq!(b.buffered(-1.0), Bounds::new(1.0, 1.0, 9.0, 4.0));
    }

    // ---- projection ----------------------------------------------------------

    #[test]
    fn projection_known_values() {
        assert_eq!(lonlat_to_mercator(0.0, 0.0), (0.0, 0.0));
        assert_eq!(lonlat_to_mercator(180.0, 0.0).0, H);
        assert_eq!(lonlat_to_mercator(-180.0, 0.0).0, -H);
        // The clamp keeps the poles on the edge of the square.
        let (_, top) = lonlat_to_mercator(0.0, 90.0);
        assert_close(top, H, 1e-3);
        let (_, bottom) = lonlat_to_mercator(0.0, -90.0);
        assert_close(bottom, -H, 1e-3);
        // EPSG:3857 of (106.883, 11.535), cross-checked with the ln-tan form.
        let (x, y) = lonlat_to_mercator(106.883, 11.535);
        let expected_y = EARTH_RADIUS * (PI / 4.0 + 11.535_f64.to_radians() / 2.0).tan().ln();
        assert_close(x, 106.883 / 180.0 * H, 1e-6);
        assert_close(y, expected_y, 1e-6);
        let (lon, lat) = mercator_to_lonlat(H, H);
        assert_close(lon, 180.0, 1e-12);
        assert_close(lat, 85.051_128_779_806_6, 1e-12);
    }

    // ---- covering --------------------------------------------------------------

    #[test]
    fn tiles_covering_known() {
        let world = Bounds::new(-180.0, -90.0, 180.0, 90.0);
        assert_eq!(
            tiles_covering(&world, 0).collect::<Vec<_>>(),
            vec![tile(0, 0, 0)]
        );
        assert_eq!(
            tiles_covering(&world, 1).collect::<Vec<_>>(),
            vec![tile(1, 0, 0), tile(1, 1, 0), tile(1, 0, 1), tile(1, 1, 1)]
        );
        assert_eq!(tiles_covering(&world, 3).count(), 64);
        // Way outside the world is clamped.
        let huge = Bounds::new(-1000.0, -1000.0, 1000.0, 1000.0);
        assert_eq!(tiles_covering(&huge, 2).count(), 16);
        // North-east quadrant; edges on tile edges do not add neighbours.
        let ne = Bounds::new(0.0, 0.0, 180.0, 90.0);
        assert_eq!(
            tiles_covering(&ne, 1).collect::<Vec<_>>(),
            vec![tile(1, 1, 0)]
        );
        assert_eq!(
            tiles_covering(&ne, 2).collect::<Vec<_>>(),
            vec![tile(2, 2, 0), tile(2, 3, 0), tile(2, 2, 1), tile(2, 3, 1)]
        );
        // A point gives the tile that contains it.
        let p = Bounds::new(106.883, 11.535, 106.883, 11.535);
        assert_eq!(
            tiles_covering(&p, 14).collect::<Vec<_>>(),
            vec![tile(14, 13056, 7663)]
        );
        // A degenerate box on a tile corner still yields one tile.
        let corner = Bounds::new(0.0, 0.0, 0.0, 0.0);
        assert_eq!(
            tiles_covering(&corner, 1).collect::<Vec<_>>(),
            vec![tile(1, 1, 1)]
        );
        // Empty cases.
        assert_eq!(
            tiles_covering(&Bounds::new(10.0, 0.0, -10.0, 1.0), 3).count(),
            0
        );
        assert_eq!(
            tiles_covering(&Bounds::new(0.0, 1.0, 1.0, 0.0), 3).count(),
            0
        );
        assert_eq!(
            tiles_covering(&Bounds::new(f64::NAN, 0.0, 1.0, 1.0), 3).count(),
            0
        );
        assert_eq!(tiles_covering(&world, 25).count(), 0);
    }

    #[test]
    fn tiles_covering_small_box_counts() {
        // 10 km box near Ho Chi Minh City at z14 is a handful of tiles.
        let b = Bounds::new(106.6, 10.7, 106.7, 10.8);
        let tiles: Vec<_> = tiles_covering(&b, 14).collect();
        assert!(!tiles.is_empty());
        for t in &tiles {
            assert!(t.lonlat_bounds().intersects(&b), "{t}");
        }
        let nw = TileCoord::containing(106.6, 10.8, 14).expect("valid point");
        let se = TileCoord::containing(106.7, 10.7, 14).expect("valid point");
        let expected = (se.x - nw.x + 1) * (se.y - nw.y + 1);
        assert_eq!(tiles.len(), expected as usize);
        assert_eq!(tiles.first(), Some(&nw));
        assert_eq!(tiles.last(), Some(&se));
    }

    // ---- property tests ----------------------------------------------------------

    fn any_tile() -> impl Strategy<Value = TileCoord> {
        (0u8..=MAX_ZOOM).prop_flat_map(|z| {
            let side = 1u32 << z;
            (Just(z), 0..side, 0..side).prop_map(|(z, x, y)| TileCoord { z, x, y })
        })
    }

    fn any_lon() -> impl Strategy<Value = f64> {
        -180.0f64..=180.0
    }

    fn any_lat() -> impl Strategy<Value = f64> {
        -MAX_LATITUDE..=MAX_LATITUDE
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn containing_tile_contains_point(lon in any_lon(), lat in any_lat(), z in 0u8..=MAX_ZOOM) {
            let t = TileCoord::containing(lon, lat, z).expect("valid point");
            prop_assert_eq!(TileCoord::new(t.z, t.x, t.y), Ok(t));
            let b = t.lonlat_bounds().buffered(1e-9);
            prop_assert!(b.contains(lon, lat), "{} {:?} does not contain ({}, {})", t, b, lon, lat);
            let (mx, my) = lonlat_to_mercator(lon, lat);
            prop_assert!(t.mercator_bounds().buffered(1e-6).contains(mx, my));
        }

        #[test]
        fn containing_clamps_polar_latitudes(lon in any_lon(), lat in 85.06f64..=90.0, z in 0u8..=MAX_ZOOM) {
            let north = TileCoord::containing(lon, lat, z).expect("valid point");
            prop_assert_eq!(north.y, 0);
            let south = TileCoord::containing(lon, -lat, z).expect("valid point");
            prop_assert_eq!(south.y, (1u32 << z) - 1);
        }

        #[test]
        fn mercator_round_trip(x in -H..=H, y in -H..=H) {
            let (lon, lat) = mercator_to_lonlat(x, y);
            let (x2, y2) = lonlat_to_mercator(lon, lat);
            prop_assert!((x - x2).abs() <= 1e-6, "x {} -> {}", x, x2);
            prop_assert!((y - y2).abs() <= 1e-6, "y {} -> {}", y, y2);
        }

        #[test]
        fn lonlat_round_trip(lon in any_lon(), lat in any_lat()) {
            let (x, y) = lonlat_to_mercator(lon, lat);
            let (lon2, lat2) = mercator_to_lonlat(x, y);
            prop_assert!((lon - lon2).abs() <= 1e-9);
            prop_assert!((lat - lat2).abs() <= 1e-9);
        }

        #[test]
        fn children_exactly_tile_parent(t in any_tile()) {
            prop_assume!(t.z < MAX_ZOOM);
            let kids = t.children().expect("below max zoom");
            for k in &kids {
                prop_assert_eq!(k.parent(), Some(t));
            }
            for bounds in [TileCoord::mercator_bounds, TileCoord::lonlat_bounds] {
                let p = bounds(&t);
                let [nw, ne, sw, se] = kids.map(|k| bounds(&k));
                // Outer edges coincide with the parent's.
                prop_assert_eq!(nw.min_x, p.min_x);
                prop_assert_eq!(sw.min_x, p.min_x);
                prop_assert_eq!(ne.max_x, p.max_x);
                prop_assert_eq!(se.max_x, p.max_x);
                prop_assert_eq!(nw.max_y, p.max_y);
                prop_assert_eq!(ne.max_y, p.max_y);
                prop_assert_eq!(sw.min_y, p.min_y);
                prop_assert_eq!(se.min_y, p.min_y);
                // Inner edges are shared, with no gap or overlap.
                prop_assert_eq!(nw.max_x, ne.min_x);
                prop_assert_eq!(sw.max_x, se.min_x);
                prop_assert_eq!(nw.max_x, sw.max_x);
                prop_assert_eq!(nw.min_y, sw.max_y);
                prop_assert_eq!(ne.min_y, se.max_y);
                prop_assert_eq!(nw.min_y, ne.min_y);
                // Areas add up.
                let area = |b: &Bounds| b.width() * b.height();
                let sum = area(&nw) + area(&ne) + area(&sw) + area(&se);
                prop_assert!((sum - area(&p)).abs() <= area(&p) * 1e-9, "{} vs {}", sum, area(&p));
            }
        }

        #[test]
        fn parent_of_child_is_self(t in any_tile()) {
            if let Some(kids) = t.children() {
                for k in kids {
                    prop_assert_eq!(k.parent(), Some(t));
                }
            } else {
                prop_assert_eq!(t.z, MAX_ZOOM);
            }
        }

        #[test]
        fn display_parse_round_trip(t in any_tile()) {
            let s = t.to_string();
            let parts: Vec<&str> = s.split('/').collect();
            prop_assert_eq!(parts.len(), 3);
            prop_assert_eq!(TileCoord::parse(parts[0], parts[1], parts[2]), Ok(t));
            let with_ext = format!("{}.mvt", parts[2]);
            prop_assert_eq!(TileCoord::parse(parts[0], parts[1], &with_ext), Ok(t));
        }

        #[test]
        fn tms_flip_is_an_involution(t in any_tile()) {
            let flipped = TileCoord { y: t.tms_y(), ..t };
            prop_assert!(TileCoord::new(flipped.z, flipped.x, flipped.y).is_ok());
            prop_assert_eq!(flipped.tms_y(), t.y);
        }

        #[test]
        fn covering_own_shrunk_bounds_is_self(t in any_tile()) {
            let b = t.lonlat_bounds();
            let shrink = b.width().min(b.height()) * 1e-3;
            let got: Vec<_> = tiles_covering(&b.buffered(-shrink), t.z).collect();
            prop_assert_eq!(got, vec![t]);
        }

        #[test]
        fn covering_matches_brute_force(
            lon_a in any_lon(), lon_b in any_lon(),
            lat_a in any_lat(), lat_b in any_lat(),
            z in 0u8..=6,
        ) {
            let b = Bounds::new(lon_a.min(lon_b), lat_a.min(lat_b), lon_a.max(lon_b), lat_a.max(lat_b));
            let got: Vec<_> = tiles_covering(&b, z).collect();
            let side = 1u32 << z;
            // Every tile whose (slightly shrunk) bounds meet the box, and no other
            // beyond those merely touching it.
            for y in 0..side {
                for x in 0..side {
                    let t = TileCoord { z, x, y };
                    let tb = t.lonlat_bounds();
                    let eps = 1e-9;
                    if tb.buffered(-eps).intersects(&b) {
                        prop_assert!(got.contains(&t), "missing {}", t);
                    }
                    if !tb.buffered(eps).intersects(&b) {
                        prop_assert!(!got.contains(&t), "extra {}", t);
                    }
                }
            }
            for t in &got {
                prop_assert_eq!(TileCoord::new(t.z, t.x, t.y), Ok(*t));
            }
        }
    }

    /// Path segments as a client may send them: digits, signs, spaces, dots, huge numbers,
    /// percent signs, non-ASCII digits.
    fn path_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{0,25}",
            "[0-9]{1,3}\\.[a-z]{0,5}",
            "[-+ 0-9.eE_%/]{0,12}",
            "\\PC{0,12}",
            Just("18446744073709551616".to_string()),
            Just("٣".to_string()),
            Just("0x1F".to_string()),
        ]
    }

    proptest! {
        // Fuzzing on stable Rust (issue 12); `BANDO_FUZZ_CASES` for longer runs (bench/fuzz.sh).
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("BANDO_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
        ))]

        #[test]
        fn any_tile_path_parses_to_a_valid_tile_or_an_explained_error(
            z in path_segment(), x in path_segment(), y in path_segment()
        ) {
            match TileCoord::parse(&z, &x, &y) {
                Ok(t) => {
                    prop_assert_eq!(TileCoord::new(t.z, t.x, t.y), Ok(t));
                    prop_assert!(z.bytes().all(|b| b.is_ascii_digit()), "accepted zoom {:?}", z);
                    prop_assert!(x.bytes().all(|b| b.is_ascii_digit()), "accepted x {:?}", x);
                }
                Err(e) => {
                    let text = e.to_string();
                    prop_assert!(!text.is_empty());
                    // Echoed input is shortened: a long path cannot make a long answer.
                    prop_assert!(text.len() < 600, "{} bytes: {}", text.len(), text);
                }
            }
        }
    }
}
