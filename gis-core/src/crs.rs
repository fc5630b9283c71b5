//! Coordinate reference systems bando accepts, and transforms between them through PROJ.
//!
//! bando stores legal geometry in VN-2000 TM-3 (EPSG:9212 for old Binh Phuoc, EPSG:5899 for old
//! Dong Nai) and serves it in WGS84 / Web Mercator. Every transform goes through the system PROJ
//! database, which links VN-2000 to WGS84 with EPSG operation 6960 (the 7-parameter Helmert of
//! QĐ 05/2007/QĐ-BTNMT in the Coordinate Frame convention). Nothing here hand-writes a `+towgs84`:
//! a legacy string with the rotation signs copied verbatim from the decision is 0.56 m off, and
//! [`Vn2000Helmert::classify`] exists to recognise exactly that mistake in imported `.prj` files.
//!
//! Axis order: PROJ objects are normalised for visualisation, so every coordinate pair in this
//! module is (x = easting/longitude, y = northing/latitude). Vietnamese survey tables write
//! X = northing, Y = easting; [`AxisGuard`] reports a pair that is plausible only when swapped.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use proj::Proj;
use serde::Serialize;

/// EPSG code of WGS 84 (geographic, longitude/latitude in bando's axis order).
pub const WGS84: u32 = 4326;
/// EPSG code of WGS 84 / Pseudo-Mercator, the tile grid's CRS.
pub const WEB_MERCATOR: u32 = 3857;
/// EPSG code of VN-2000 geographic.
pub const VN2000_GEOGRAPHIC: u32 = 4756;
/// EPSG code of VN-2000 / TM-3 106-15 (old Binh Phuoc).
pub const VN2000_TM3_106_15: u32 = 9212;
/// EPSG code of VN-2000 / TM-3 107-45 (old Dong Nai).
pub const VN2000_TM3_107_45: u32 = 5899;
/// EPSG code of VN-2000 / UTM zone 48N.
pub const VN2000_UTM_48N: u32 = 3405;
/// EPSG code of VN-2000 / UTM zone 49N.
pub const VN2000_UTM_49N: u32 = 3406;

/// Errors of CRS lookup and coordinate transformation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrsError {
    /// The text does not name a CRS in a form bando understands.
    #[error("\"{0}\" is not a CRS reference: use EPSG:<code>, an OGC URI such as http://www.opengis.net/def/crs/EPSG/0/9212, or CRS84")]
    Unparsable(String),
    /// PROJ does not know this EPSG code.
    #[error("EPSG:{0} is not a coordinate reference system known to PROJ")]
    UnknownCode(u32),
    /// PROJ could not build an operation between the two CRSs.
    #[error("no coordinate operation from EPSG:{from} to EPSG:{to}: {reason}")]
    NoOperation {
        /// Source CRS.
        from: u32,
        /// Target CRS.
        to: u32,
        /// What PROJ said.
        reason: String,
    },
    /// A coordinate could not be transformed (outside the projection's domain, not finite…).
    #[error("coordinate ({x}, {y}) cannot be transformed from EPSG:{from} to EPSG:{to}: {reason}")]
    Transform {
        /// Source CRS.
        from: u32,
        /// Target CRS.
        to: u32,
        /// The input x.
        x: f64,
        /// The input y.
        y: f64,
        /// What PROJ said.
        reason: String,
    },
}

/// A longitude/latitude box in degrees (WGS84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LonLatBox {
    /// Western longitude.
    pub west: f64,
    /// Southern latitude.
    pub south: f64,
    /// Eastern longitude.
    pub east: f64,
    /// Northern latitude.
    pub north: f64,
}

impl LonLatBox {
    /// Mainland and islands of Viet Nam, generously.
    pub const VIETNAM: LonLatBox = LonLatBox {
        west: 102.1,
        south: 8.3,
        east: 117.9,
        north: 23.4,
    };

    /// Whether the point lies inside (borders included).
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        lon >= self.west && lon <= self.east && lat >= self.south && lat <= self.north
    }

    /// The overlap of two boxes, if any.
    pub fn intersection(&self, other: &LonLatBox) -> Option<LonLatBox> {
        let b = LonLatBox {
            west: self.west.max(other.west),
            south: self.south.max(other.south),
            east: self.east.min(other.east),
            north: self.north.min(other.north),
        };
        (b.west <= b.east && b.south <= b.north).then_some(b)
    }
}

/// What bando knows about one CRS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrsInfo {
    /// EPSG code.
    pub epsg: u32,
    /// Name as PROJ gives it (e.g. "VN-2000 / TM-3 106-15").
    pub name: String,
    /// Projected (metres) rather than geographic (degrees).
    pub projected: bool,
    /// Area of use from the EPSG database, if PROJ has one.
    pub area_of_use: Option<LonLatBox>,
}

impl CrsInfo {
    /// `EPSG:<code>`.
    pub fn epsg_ref(&self) -> String {
        format!("EPSG:{}", self.epsg)
    }

    /// The OGC URI (`http://www.opengis.net/def/crs/EPSG/0/<code>`); EPSG:4326 in bando's
    /// longitude-first order is `OGC/1.3/CRS84`.
    pub fn ogc_uri(&self) -> String {
        ogc_uri(self.epsg)
    }
}

/// The OGC URI of an EPSG code, with 4326 as CRS84 (longitude first, which is bando's order).
pub fn ogc_uri(epsg: u32) -> String {
    if epsg == WGS84 {
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84".to_string()
    } else {
        format!("http://www.opengis.net/def/crs/EPSG/0/{epsg}")
    }
}

/// Parses a CRS reference: `EPSG:9212`, `9212`, `urn:ogc:def:crs:EPSG::9212`,
/// `http://www.opengis.net/def/crs/EPSG/0/9212`, or `CRS84` (→ 4326).
pub fn parse_crs_ref(text: &str) -> Result<u32, CrsError> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    if lower == "crs84"
        || lower.ends_with("/ogc/1.3/crs84")
        || lower == "urn:ogc:def:crs:ogc:1.3:crs84"
        || lower == "ogc:crs84"
    {
        return Ok(WGS84);
    }
    let code = if let Some(rest) = lower.strip_prefix("epsg:") {
        rest
    } else if let Some(rest) = lower.strip_prefix("urn:ogc:def:crs:epsg:") {
        // urn:ogc:def:crs:EPSG::9212 or urn:ogc:def:crs:EPSG:9.9.1:9212
        rest.rsplit(':').next().unwrap_or("")
    } else if let Some(idx) = lower.find("/def/crs/epsg/") {
        // http(s)://www.opengis.net/def/crs/EPSG/0/9212
        lower[idx..].rsplit('/').next().unwrap_or("")
    } else {
        lower.as_str()
    };
    code.parse::<u32>()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| CrsError::Unparsable(t.to_string()))
}

/// The CRSs bando names explicitly, plus any other EPSG code PROJ knows — and, for request
/// parameters, that the database knows too ([`CrsRegistry::in_database`]).
#[derive(Debug, Clone)]
pub struct CrsRegistry {
    named: BTreeMap<u32, CrsInfo>,
    /// Other codes requests named, described once (PROJ's lookup costs about a millisecond):
    /// `None` for a code PROJ does not know. At most [`MAX_DESCRIBED`] entries.
    described: Arc<Mutex<HashMap<u32, Option<CrsInfo>>>>,
    database: Arc<tokio::sync::OnceCell<std::collections::HashSet<u32>>>,
}

/// How many codes beyond the named ones [`CrsRegistry`] remembers (requests choose the codes,
/// so the memory is bounded; past it, a code is described per request).
pub const MAX_DESCRIBED: usize = 512;

/// Which axis comes first in coordinates given in a geographic CRS a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisRule {
    /// The CRS's own (EPSG) order, as OGC API – Features parts 2 and 3 require: a geographic
    /// CRS is latitude first, except CRS84.
    Authority,
    /// x = longitude or easting, y = latitude or northing, whatever the CRS (bando's `/query`
    /// endpoints, which name their coordinates `x` and `y`).
    EastFirst,
}

/// A CRS a request named, checked against bando's rules ([`CrsRegistry::for_request`]).
#[derive(Debug, Clone)]
pub struct RequestCrs {
    /// The CRS.
    pub info: CrsInfo,
    /// Coordinates in it come latitude first ([`AxisRule`]).
    pub lat_first: bool,
}

/// Why a CRS a request named is refused (each a client error).
#[derive(Debug, thiserror::Error)]
pub enum CrsRefused {
    /// Not a reference, or a code PROJ does not know.
    #[error("unknown CRS \"{0}\"; use a URI such as http://www.opengis.net/def/crs/OGC/1.3/CRS84 or http://www.opengis.net/def/crs/EPSG/0/9212, or EPSG:9212 (see /crs)")]
    Unknown(String),
    /// Its area of use lies outside Viet Nam: coordinates in it cannot be bando's data.
    #[error("{reference} ({name}) does not cover Viet Nam; use CRS84, EPSG:9212, EPSG:5899 or another CRS of Viet Nam")]
    OutsideVietnam {
        /// `EPSG:<code>`.
        reference: String,
        /// PROJ's name of it.
        name: String,
    },
    /// PROJ knows it, the database's `spatial_ref_sys` does not.
    #[error("{0} is not available in this database; use CRS84, EPSG:3857, EPSG:9212 or EPSG:5899")]
    NotInDatabase(String),
    /// Reading the database's CRS list failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The codes every bando deployment accepts by name.
pub const NAMED_CODES: [u32; 7] = [
    WGS84,
    WEB_MERCATOR,
    VN2000_GEOGRAPHIC,
    VN2000_TM3_106_15,
    VN2000_TM3_107_45,
    VN2000_UTM_48N,
    VN2000_UTM_49N,
];

impl CrsRegistry {
    /// Builds the registry of the named codes from the system PROJ database.
    pub fn standard() -> Result<Self, CrsError> {
        let mut named = BTreeMap::new();
        for code in NAMED_CODES {
            named.insert(code, describe(code)?);
        }
        Ok(CrsRegistry {
            named,
            described: Default::default(),
            database: Default::default(),
        })
    }

    /// The one resolver of request CRS parameters (OGC API `crs`, `bbox-crs`, `filter-crs`;
    /// `/query`'s `crs`): the reference parsed, looked up (named codes at once, others
    /// described once and remembered), its area of use meeting Viet Nam, and present in the
    /// database (its CRS list read once). `axes` says which order coordinates in it take.
    pub async fn for_request(
        &self,
        pool: &sqlx::PgPool,
        text: &str,
        axes: AxisRule,
    ) -> Result<RequestCrs, CrsRefused> {
        let unknown = || CrsRefused::Unknown(text.trim().chars().take(80).collect());
        let code = parse_crs_ref(text).map_err(|_| unknown())?;
        let info = self.get(code).map_err(|_| unknown())?;
        if info
            .area_of_use
            .is_some_and(|a| a.intersection(&LonLatBox::VIETNAM).is_none())
        {
            return Err(CrsRefused::OutsideVietnam {
                reference: info.epsg_ref(),
                name: info.name,
            });
        }
        if !self.in_database(pool, code).await? {
            return Err(CrsRefused::NotInDatabase(info.epsg_ref()));
        }
        let crs84 = text.trim().to_ascii_lowercase().contains("crs84");
        let lat_first = axes == AxisRule::Authority && !info.projected && !crs84;
        Ok(RequestCrs { info, lat_first })
    }

    /// Whether the database's `spatial_ref_sys` holds `srid` (read once, at the first request
    /// that asks: operators add CRSs rarely, and a restart picks them up), so request
    /// parameters cost no query each.
    pub async fn in_database(&self, pool: &sqlx::PgPool, srid: u32) -> Result<bool, sqlx::Error> {
        let known = self
            .database
            .get_or_try_init(|| async {
                let rows: Vec<i32> = sqlx::query_scalar("SELECT srid FROM spatial_ref_sys")
                    .fetch_all(pool)
                    .await?;
                Ok::<_, sqlx::Error>(
                    rows.into_iter()
                        .filter_map(|s| u32::try_from(s).ok())
                        .collect(),
                )
            })
            .await?;
        Ok(known.contains(&srid))
    }

    /// The CRSs bando names explicitly, in code order.
    pub fn named(&self) -> impl Iterator<Item = &CrsInfo> {
        self.named.values()
    }

    /// Looks up a CRS: a named one, or any EPSG code PROJ knows.
    pub fn get(&self, epsg: u32) -> Result<CrsInfo, CrsError> {
        if let Some(info) = self.named.get(&epsg) {
            return Ok(info.clone());
        }
        let remembered = self
            .described
            .lock()
            .ok()
            .and_then(|d| d.get(&epsg).cloned());
        let info = match remembered {
            Some(known) => known,
            None => {
                let known = describe(epsg).ok();
                if let Ok(mut d) = self.described.lock() {
                    if d.len() < MAX_DESCRIBED {
                        d.insert(epsg, known.clone());
                    }
                }
                known
            }
        };
        info.ok_or(CrsError::UnknownCode(epsg))
    }

    /// Parses a reference (see [`parse_crs_ref`]) and looks it up.
    pub fn resolve(&self, text: &str) -> Result<CrsInfo, CrsError> {
        self.get(parse_crs_ref(text)?)
    }
}

/// Asks PROJ for name, kind and area of use of an EPSG code.
pub fn describe(epsg: u32) -> Result<CrsInfo, CrsError> {
    let crs = Proj::new(&format!("EPSG:{epsg}")).map_err(|_| CrsError::UnknownCode(epsg))?;
    let info = crs.proj_info();
    let name = info.description.unwrap_or_else(|| format!("EPSG:{epsg}"));
    let area_of_use = crs
        .area_of_use()
        .ok()
        .and_then(|(area, _)| area)
        .map(|a| LonLatBox {
            west: a.west,
            south: a.south,
            east: a.east,
            north: a.north,
        });
    // PROJ exposes no CRS type through this binding; a geographic CRS maps the point of its
    // area of use (in degrees) onto nearly the same WGS84 degrees, a projected one does not.
    let projected = match (epsg, area_of_use) {
        (WGS84, _) => false,
        (_, Some(a)) => {
            // Off-centre: (0, 0) is a fixed point of Web Mercator.
            let (cx, cy) = (
                a.west + 0.7 * (a.east - a.west),
                a.south + 0.7 * (a.north - a.south),
            );
            match Proj::new_known_crs(&format!("EPSG:{epsg}"), "EPSG:4326", None)
                .ok()
                .and_then(|p| p.convert((cx, cy)).ok())
            {
                Some((x, y)) => !((x - cx).abs() < 0.1 && (y - cy).abs() < 0.1),
                None => true,
            }
        }
        (_, None) => true,
    };
    Ok(CrsInfo {
        epsg,
        name,
        projected,
        area_of_use,
    })
}

/// A coordinate operation from one EPSG CRS to another, chosen by PROJ (for VN-2000 ↔ WGS84 that
/// is the EPSG:6960 path). Pairs are (x, y) = (easting or longitude, northing or latitude).
pub struct Transformer {
    inner: Proj,
    from: u32,
    to: u32,
}

impl fmt::Debug for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transformer")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl Transformer {
    /// Builds the operation from `from` to `to`.
    pub fn new(from: u32, to: u32) -> Result<Self, CrsError> {
        Self::from_definitions(&format!("EPSG:{from}"), &format!("EPSG:{to}"), from, to)
    }

    /// Builds an operation between arbitrary PROJ definitions (e.g. a legacy `+towgs84` string
    /// read from a `.prj`); the codes label errors only.
    pub fn from_definitions(
        from_def: &str,
        to_def: &str,
        from: u32,
        to: u32,
    ) -> Result<Self, CrsError> {
        let inner =
            Proj::new_known_crs(from_def, to_def, None).map_err(|e| CrsError::NoOperation {
                from,
                to,
                reason: e.to_string(),
            })?;
        Ok(Transformer { inner, from, to })
    }

    /// Source EPSG code.
    pub fn from(&self) -> u32 {
        self.from
    }

    /// Target EPSG code.
    pub fn to(&self) -> u32 {
        self.to
    }

    /// PROJ's description of the chosen operation.
    pub fn operation(&self) -> String {
        let info = self.inner.proj_info();
        info.description.or(info.definition).unwrap_or_default()
    }

    /// Transforms one (x, y) pair.
    pub fn transform(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        let err = |reason: String| CrsError::Transform {
            from: self.from,
            to: self.to,
            x,
            y,
            reason,
        };
        if !x.is_finite() || !y.is_finite() {
            return Err(err("coordinates must be finite numbers".into()));
        }
        let (ox, oy) = self.inner.convert((x, y)).map_err(|e| err(e.to_string()))?;
        if ox.is_finite() && oy.is_finite() {
            Ok((ox, oy))
        } else {
            Err(err("outside the domain of the operation".into()))
        }
    }
}

thread_local! {
    /// Operations this thread built ([`with_transformer`]): `proj_create_crs_to_crs` costs
    /// milliseconds and a `Proj` may not cross threads, so each worker keeps its own.
    static TRANSFORMERS: RefCell<HashMap<(u32, u32), Transformer>> = RefCell::new(HashMap::new());
}

/// How many operations each thread keeps ([`with_transformer`]).
const TRANSFORMERS_PER_THREAD: usize = 64;

/// Runs `f` with the operation from `from` to `to`, built once per thread and reused.
pub fn with_transformer<R>(
    from: u32,
    to: u32,
    f: impl FnOnce(&Transformer) -> R,
) -> Result<R, CrsError> {
    TRANSFORMERS.with(|cell| {
        let mut kept = cell.borrow_mut();
        if !kept.contains_key(&(from, to)) {
            let t = Transformer::new(from, to)?;
            if kept.len() >= TRANSFORMERS_PER_THREAD {
                kept.clear();
            }
            kept.insert((from, to), t);
        }
        match kept.get(&(from, to)) {
            Some(t) => Ok(f(t)),
            None => Ok(f(&Transformer::new(from, to)?)),
        }
    })
}

/// The 7-parameter VN-2000 → WGS84 link of QĐ 05/2007/QĐ-BTNMT, in the decision's own
/// (Coordinate Frame) sign convention; EPSG:6960 uses the same numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vn2000Helmert;

/// Which rotation convention a `+towgs84` parameter list was written in, relative to QĐ 05/2007.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TowgsConvention {
    /// Rotations negated relative to the decision: right for `+towgs84` (Position Vector).
    PositionVector,
    /// Rotations copied verbatim from the decision: 0.56 m off when read as `+towgs84`.
    CoordinateFrameVerbatim,
}

impl Vn2000Helmert {
    /// dX, dY, dZ in metres.
    pub const TRANSLATION: [f64; 3] = [-191.90441429, -39.30318279, -111.45032835];
    /// rX, rY, rZ in arc-seconds, Coordinate Frame convention (as printed in the decision).
    pub const ROTATION_CF: [f64; 3] = [-0.00928836, 0.01975479, -0.00427372];
    /// Scale difference in ppm.
    pub const SCALE_PPM: f64 = 0.252906278;

    /// The correct `+towgs84=` value (Position Vector: rotation signs flipped).
    pub fn towgs84() -> String {
        let [dx, dy, dz] = Self::TRANSLATION;
        let [rx, ry, rz] = Self::ROTATION_CF;
        format!("{dx},{dy},{dz},{},{},{},{}", -rx, -ry, -rz, Self::SCALE_PPM)
    }

    /// Recognises a `+towgs84` parameter list as the VN-2000 link and tells which rotation
    /// convention it was written in; `None` if it is not this datum's link (translations or
    /// rotations differ by more than rounding).
    pub fn classify(params: &[f64]) -> Option<TowgsConvention> {
        if params.len() != 7 && params.len() != 3 {
            return None;
        }
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol;
        let translation_ok = Self::TRANSLATION
            .iter()
            .zip(params)
            .all(|(t, p)| close(*t, *p, 0.01));
        if !translation_ok || params.len() == 3 {
            return None;
        }
        let rot = &params[3..6];
        let tol = 1e-6;
        if Self::ROTATION_CF
            .iter()
            .zip(rot)
            .all(|(r, p)| close(-*r, *p, tol))
        {
            Some(TowgsConvention::PositionVector)
        } else if Self::ROTATION_CF
            .iter()
            .zip(rot)
            .all(|(r, p)| close(*r, *p, tol))
        {
            Some(TowgsConvention::CoordinateFrameVerbatim)
        } else {
            None
        }
    }
}

/// Verdict on the axis order of a coordinate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AxisOrder {
    /// The pair lies in the expected region as given (x = easting/longitude).
    AsGiven,
    /// The pair lies in the region only when swapped: it was written northing first (X = northing,
    /// as Vietnamese survey tables do) or latitude first.
    Swapped,
    /// Neither order lands in the region.
    Implausible,
}

/// Checks coordinate pairs against a region, in a given CRS, to catch swapped axes.
#[derive(Debug)]
pub struct AxisGuard {
    to_wgs84: Option<Transformer>,
    region: LonLatBox,
}

impl AxisGuard {
    /// A guard for coordinates in `epsg`, expecting data inside `region` (intersected with the
    /// CRS's area of use).
    pub fn new(epsg: u32, region: LonLatBox) -> Result<Self, CrsError> {
        let info = describe(epsg)?;
        let region = info
            .area_of_use
            .and_then(|a| a.intersection(&region))
            .unwrap_or(region);
        let to_wgs84 = if epsg == WGS84 {
            None
        } else {
            Some(Transformer::new(epsg, WGS84)?)
        };
        Ok(AxisGuard { to_wgs84, region })
    }

    /// A guard for data in Viet Nam.
    pub fn for_vietnam(epsg: u32) -> Result<Self, CrsError> {
        Self::new(epsg, LonLatBox::VIETNAM)
    }

    fn lands_in_region(&self, x: f64, y: f64) -> bool {
        let lonlat = match &self.to_wgs84 {
            None => Some((x, y)),
            Some(t) => t.transform(x, y).ok(),
        };
        // A TM projection's inverse returns finite nonsense far outside its zone, so
        // the region test (not the transform's success) decides.
        lonlat.is_some_and(|(lon, lat)| self.region.contains(lon, lat))
    }

    /// Whether (x, y) is plausible as given, only when swapped, or not at all.
    pub fn check(&self, x: f64, y: f64) -> AxisOrder {
        if self.lands_in_region(x, y) {
            AxisOrder::AsGiven
        } else if self.lands_in_region(y, x) {
            AxisOrder::Swapped
        } else {
            AxisOrder::Implausible
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_built_once_per_thread_and_codes_described_once() {
        let address = || with_transformer(9212, WGS84, |t| t as *const Transformer as usize);
        assert_eq!(address().expect("first"), address().expect("again"));
        let (lon, lat) = with_transformer(9212, WGS84, |t| t.transform(568845.0, 1275705.0))
            .expect("operation")
            .expect("point");
        assert!((lon - 106.883).abs() < 0.01 && (lat - 11.535).abs() < 0.01);
        assert!(with_transformer(9212, 999_999, |_| ()).is_err());

        let registry = CrsRegistry::standard().expect("registry");
        assert!(registry.get(32648).is_ok());
        assert!(registry.get(999_999).is_err());
        let described = registry.described.lock().expect("lock");
        assert!(described.get(&32648).is_some_and(Option::is_some));
        assert!(described.get(&999_999).is_some_and(Option::is_none));
    }

    #[test]
    fn parses_crs_references() {
        assert_eq!(parse_crs_ref("EPSG:9212").ok(), Some(9212));
        assert_eq!(parse_crs_ref("epsg:5899").ok(), Some(5899));
        assert_eq!(parse_crs_ref("3857").ok(), Some(3857));
        assert_eq!(
            parse_crs_ref("http://www.opengis.net/def/crs/EPSG/0/9212").ok(),
            Some(9212)
        );
        assert_eq!(parse_crs_ref("urn:ogc:def:crs:EPSG::4756").ok(), Some(4756));
        assert_eq!(
            parse_crs_ref("http://www.opengis.net/def/crs/OGC/1.3/CRS84").ok(),
            Some(4326)
        );
        assert_eq!(parse_crs_ref("CRS84").ok(), Some(4326));
        for bad in [
            "",
            "EPSG:",
            "EPSG:abc",
            "EPSG:0",
            "WGS84",
            "EPSG:9212; DROP TABLE x",
        ] {
            let err = parse_crs_ref(bad).expect_err(bad);
            assert!(err.to_string().contains("is not a CRS reference"), "{err}");
        }
    }

    #[test]
    fn towgs84_classification() {
        let pv: Vec<f64> = Vn2000Helmert::towgs84()
            .split(',')
            .map(|s| s.parse().expect("number"))
            .collect();
        assert_eq!(
            Vn2000Helmert::classify(&pv),
            Some(TowgsConvention::PositionVector)
        );
        let mut cf = pv.clone();
        for r in &mut cf[3..6] {
            *r = -*r;
        }
        assert_eq!(
            Vn2000Helmert::classify(&cf),
            Some(TowgsConvention::CoordinateFrameVerbatim)
        );
        let mut other = pv;
        other[0] = -199.0;
        assert_eq!(Vn2000Helmert::classify(&other), None);
    }
}
