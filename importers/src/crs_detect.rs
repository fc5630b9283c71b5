//! Which EPSG code an imported layer is in, decided from what GDAL reads (the layer's
//! `SpatialRef`), the raw `.prj` text and an explicit `--srs` override; and whether the layer's
//! coordinate pairs are written in the axis order that code expects.
//!
//! Why a module of its own: bando stores every geometry under an EPSG code, and the transforms
//! of `gis_core::crs` always go through PROJ's EPSG operations (EPSG:6960 for VN-2000), never
//! through a `+towgs84` read from a file. So an import needs the *code*, and legacy Vietnamese
//! files rarely carry one: a hand-written VN-2000 TM-3 `.prj` has no `AUTHORITY` clause, often
//! an ESRI-flavoured TOWGS84 — sometimes with the rotation signs of QĐ 05/2007 copied verbatim,
//! 0.56 m off — and now and then a central meridian written as degrees.minutes (106.15 for
//! 106°15′). [`detect_crs`] recognises those by their parameters against a table built from
//! PROJ's EPSG database, says on what evidence it decided, and refuses (telling the person to
//! give `--srs EPSG:<code>`) rather than guess a zone. [`check_axis_order`] catches the other
//! classic mistake, survey tables written northing first (X = northing, Y = easting).

use gdal::errors::GdalError;
use gdal::spatial_ref::SpatialRef;
use gis_core::crs::{AxisGuard, AxisOrder, CrsError, TowgsConvention, Vn2000Helmert};
use serde::Serialize;

/// The CRS decided for a layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectedCrs {
    /// EPSG code the geometry is stored under.
    pub epsg: u32,
    /// Name of that CRS as PROJ gives it (e.g. "VN-2000 / TM-3 106-15").
    pub name: String,
    /// What the decision rests on.
    pub evidence: CrsEvidence,
    /// The rotation convention of a VN-2000 TOWGS84 found in the file, if there was one.
    /// Informative only: bando transforms through the EPSG:6960 operation whatever it says.
    pub towgs84: Option<TowgsConvention>,
    /// Things a person should know (a disagreeing `.prj`, a verbatim-signs TOWGS84, a central
    /// meridian read as degrees.minutes…), each a full sentence.
    pub warnings: Vec<String>,
}

/// What a [`DetectedCrs`] rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrsEvidence {
    /// The code was given explicitly (`--srs`).
    Override,
    /// GDAL/PROJ found an EPSG authority code in, or identified one for, the CRS.
    AuthorityCode,
    /// Recognised as VN-2000 (TM-3, UTM or geographic) by its parameters.
    Vn2000Parameters,
    /// Recognised as WGS 84 (geographic or UTM 48N/49N) by its parameters.
    WellKnownParameters,
}

/// Why no EPSG code could be decided. Every message says what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CrsDetectError {
    /// Neither GDAL nor a `.prj` gave a CRS, and no override was given.
    #[error(
        "the file has no coordinate reference system (.prj missing or empty); give one with --srs EPSG:<code>"
    )]
    NoCrs,
    /// The `.prj` text is not a CRS GDAL can read.
    #[error(
        "the .prj is not a coordinate reference system GDAL can read ({reason}); fix the .prj or give the CRS with --srs EPSG:<code>"
    )]
    Unreadable {
        /// What went wrong.
        reason: String,
    },
    /// A CRS was found, but neither an EPSG code nor a VN-2000 / WGS 84 zone matches it.
    #[error(
        "the coordinate reference system is not one bando recognises ({description}); give its EPSG code with --srs EPSG:<code>"
    )]
    Unrecognised {
        /// The parameters found and what did not match.
        description: String,
    },
    /// The override names a code PROJ does not know.
    #[error(
        "--srs EPSG:{epsg} is not a coordinate reference system known to PROJ; check the code (e.g. EPSG:9212 for VN-2000 / TM-3 106-15)"
    )]
    UnknownOverride {
        /// The code given.
        epsg: u32,
    },
}

impl CrsDetectError {
    /// Why, without the advice on what to do (for a warning when `--srs` was given anyway).
    fn reason(&self) -> String {
        match self {
            CrsDetectError::NoCrs => "it has no coordinate reference system".to_string(),
            CrsDetectError::Unreadable { reason } => format!("GDAL cannot read it: {reason}"),
            CrsDetectError::Unrecognised { description } => {
                format!("its CRS is not recognised: {description}")
            }
            CrsDetectError::UnknownOverride { .. } => self.to_string(),
        }
    }
}

/// Which datum a known CRS is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Datum {
    Vn2000,
    Wgs84,
}

/// A CRS bando recognises by parameters. `scale == 0.0` marks a geographic CRS.
#[derive(Debug, Clone, Copy)]
struct Known {
    epsg: u32,
    name: &'static str,
    datum: Datum,
    lon_0: f64,
    scale: f64,
}

const TM3: f64 = 0.9999;
const UTM: f64 = 0.9996;

const fn tm3(epsg: u32, name: &'static str, lon_0: f64) -> Known {
    Known {
        epsg,
        name,
        datum: Datum::Vn2000,
        lon_0,
        scale: TM3,
    }
}

/// Built with `projinfo EPSG:<code>` (PROJ 9.1.1): every TM-3 zone is Transverse Mercator,
/// k = 0.9999, x_0 = 500000, y_0 = 0, lat_0 = 0 on VN-2000; UTM is k = 0.9996 with the same
/// false origin. Central meridians in decimal degrees.
const KNOWN: [Known; 24] = [
    tm3(5896, "VN-2000 / TM-3 zone 481", 102.0),
    tm3(9205, "VN-2000 / TM-3 103-00", 103.0),
    tm3(9206, "VN-2000 / TM-3 104-00", 104.0),
    tm3(9207, "VN-2000 / TM-3 104-30", 104.5),
    tm3(9208, "VN-2000 / TM-3 104-45", 104.75),
    tm3(5897, "VN-2000 / TM-3 zone 482", 105.0),
    tm3(9209, "VN-2000 / TM-3 105-30", 105.5),
    tm3(9210, "VN-2000 / TM-3 105-45", 105.75),
    tm3(9211, "VN-2000 / TM-3 106-00", 106.0),
    tm3(9212, "VN-2000 / TM-3 106-15", 106.25),
    tm3(9213, "VN-2000 / TM-3 106-30", 106.5),
    tm3(9214, "VN-2000 / TM-3 107-00", 107.0),
    tm3(9215, "VN-2000 / TM-3 107-15", 107.25),
    tm3(9216, "VN-2000 / TM-3 107-30", 107.5),
    tm3(5899, "VN-2000 / TM-3 107-45", 107.75),
    tm3(5898, "VN-2000 / TM-3 zone 491", 108.0),
    tm3(9217, "VN-2000 / TM-3 108-15", 108.25),
    tm3(9218, "VN-2000 / TM-3 108-30", 108.5),
    Known {
        epsg: 3405,
        name: "VN-2000 / UTM zone 48N",
        datum: Datum::Vn2000,
        lon_0: 105.0,
        scale: UTM,
    },
    Known {
        epsg: 3406,
        name: "VN-2000 / UTM zone 49N",
        datum: Datum::Vn2000,
        lon_0: 111.0,
        scale: UTM,
    },
    Known {
        epsg: 32648,
        name: "WGS 84 / UTM zone 48N",
        datum: Datum::Wgs84,
        lon_0: 105.0,
        scale: UTM,
    },
    Known {
        epsg: 32649,
        name: "WGS 84 / UTM zone 49N",
        datum: Datum::Wgs84,
        lon_0: 111.0,
        scale: UTM,
    },
    Known {
        epsg: 4756,
        name: "VN-2000",
        datum: Datum::Vn2000,
        lon_0: 0.0,
        scale: 0.0,
    },
    Known {
        epsg: 4326,
        name: "WGS 84",
        datum: Datum::Wgs84,
        lon_0: 0.0,
        scale: 0.0,
    },
];

/// A central meridian matches a zone within this many degrees.
const LON_TOL: f64 = 1e-6;
/// The WGS 84 ellipsoid, which VN-2000 uses too.
const WGS84_A: f64 = 6378137.0;
const WGS84_RF: f64 = 298.257223563;
/// One degree in radians, as WKT writes the angular unit.
const DEGREE: f64 = std::f64::consts::PI / 180.0;

/// Decides the EPSG code of a layer.
///
/// `srs` is what GDAL reads for the layer, `prj_text` the raw `.prj` (if any), `srs_override`
/// the code the person gave with `--srs`. The override wins (a disagreeing `.prj` or layer CRS
/// earns a warning naming both); otherwise an EPSG authority code GDAL/PROJ finds or identifies; then
/// VN-2000 and WGS 84 recognised by their parameters. When GDAL's reading and the raw text
/// disagree, GDAL's reading (the one the import will use) wins, with a warning.
pub fn detect_crs(
    srs: Option<&SpatialRef>,
    prj_text: Option<&str>,
    srs_override: Option<u32>,
) -> Result<DetectedCrs, CrsDetectError> {
    let from_file = detect_from_sources(srs, prj_text);
    let Some(code) = srs_override else {
        return from_file;
    };
    let info = gis_core::crs::describe(code)
        .map_err(|_| CrsDetectError::UnknownOverride { epsg: code })?;
    let mut detected = DetectedCrs {
        epsg: code,
        name: info.name,
        evidence: CrsEvidence::Override,
        towgs84: None,
        warnings: Vec::new(),
    };
    match from_file {
        Ok(file) if file.epsg == code => {
            detected.towgs84 = file.towgs84;
            detected.warnings = file.warnings;
        }
        Ok(file) => detected.warnings.push(format!(
            "the file declares EPSG:{} ({}) but --srs EPSG:{} ({}) was given; using EPSG:{}",
            file.epsg, file.name, code, detected.name, code
        )),
        Err(CrsDetectError::NoCrs) => {}
        Err(e) => detected.warnings.push(format!(
            "the .prj was not used ({}); using --srs EPSG:{code} ({})",
            e.reason(),
            detected.name
        )),
    }
    Ok(detected)
}

/// Decides the EPSG code from `.prj` text alone: OGC or ESRI WKT (a PROJ string starting with
/// `+` is read too). Empty text is [`CrsDetectError::NoCrs`].
pub fn detect_from_wkt(wkt: &str) -> Result<DetectedCrs, CrsDetectError> {
    let text = wkt.trim().trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(CrsDetectError::NoCrs);
    }
    let srs = if text.starts_with('+') {
        SpatialRef::from_proj4(text).map_err(|_| "GDAL cannot read this PROJ string".to_string())
    } else {
        // OGC WKT1/WKT2 and ESRI WKT (GDAL 3 reads both); then the old ESRI keyword format.
        SpatialRef::from_wkt(text).or_else(|wkt_err| {
            SpatialRef::from_esri(text).map_err(|_| match wkt_err {
                _ if !text.contains('[') => {
                    "it is neither WKT (PROJCS[…], GEOGCS[…]) nor an ESRI projection file"
                        .to_string()
                }
                GdalError::NullPointer { msg, .. } if !msg.is_empty() => {
                    format!("malformed WKT: {msg}")
                }
                _ => "malformed WKT".to_string(),
            })
        })
    }
    .map_err(|reason| CrsDetectError::Unreadable { reason })?;
    if !srs.is_projected() && !srs.is_geographic() && !srs.is_local() {
        return Err(CrsDetectError::Unreadable {
            reason: "GDAL found no projected or geographic CRS in it".to_string(),
        });
    }
    detect_from_srs(&srs)
}

fn detect_from_sources(
    srs: Option<&SpatialRef>,
    prj_text: Option<&str>,
) -> Result<DetectedCrs, CrsDetectError> {
    let from_gdal = srs.map(detect_from_srs);
    let from_prj = prj_text.map(detect_from_wkt);
    match (from_gdal, from_prj) {
        (None, None) => Err(CrsDetectError::NoCrs),
        (Some(r), None) | (None, Some(r)) => r,
        (Some(Ok(mut gdal)), Some(Ok(prj))) => {
            if gdal.epsg == prj.epsg {
                if gdal.towgs84.is_none() {
                    gdal.towgs84 = prj.towgs84;
                }
                for w in prj.warnings {
                    if !gdal.warnings.contains(&w) {
                        gdal.warnings.push(w);
                    }
                }
            } else {
                gdal.warnings.push(format!(
                    "GDAL reads the layer as EPSG:{} ({}) but the .prj text describes EPSG:{} ({}); using EPSG:{}",
                    gdal.epsg, gdal.name, prj.epsg, prj.name, gdal.epsg
                ));
            }
            Ok(gdal)
        }
        (Some(Ok(gdal)), Some(Err(_))) => Ok(gdal),
        (Some(Err(CrsDetectError::NoCrs)), Some(prj)) => prj,
        (Some(Err(_)), Some(Ok(prj))) => Ok(prj),
        (Some(Err(e)), Some(Err(_))) => Err(e),
    }
}

/// What the CRS says, gathered once.
#[derive(Debug, Default)]
struct Params {
    projected: bool,
    geographic: bool,
    method: Option<String>,
    lon_0: Option<f64>,
    lat_0: Option<f64>,
    scale: Option<f64>,
    false_easting: Option<f64>,
    false_northing: Option<f64>,
    linear_unit: f64,
    angular_unit: f64,
    prime_meridian: Option<f64>,
    datum: Option<String>,
    semi_major: Option<f64>,
    inv_flattening: Option<f64>,
    towgs84: Option<Vec<f64>>,
}

impl Params {
    fn read(srs: &SpatialRef) -> Params {
        let attr = |path: &str, child: usize| srs.get_attr_value(path, child).ok().flatten();
        let num = |path: &str, child: usize| attr(path, child).and_then(|v| v.trim().parse().ok());
        let param = |name: &str| srs.get_proj_param(name).ok().flatten();
        let towgs84: Vec<f64> = (0..7).map_while(|i| num("TOWGS84", i)).collect();
        let semi_major = srs.semi_major().ok();
        let inv_flattening = num("SPHEROID", 2).or_else(|| {
            let (a, b) = (semi_major?, srs.semi_minor().ok()?);
            (a > b).then(|| a / (a - b))
        });
        Params {
            projected: srs.is_projected(),
            geographic: srs.is_geographic(),
            method: attr("PROJECTION", 0),
            lon_0: param("central_meridian"),
            lat_0: param("latitude_of_origin"),
            scale: param("scale_factor"),
            false_easting: param("false_easting"),
            false_northing: param("false_northing"),
            linear_unit: srs.linear_units(),
            angular_unit: srs.angular_units(),
            prime_meridian: num("PRIMEM", 1),
            datum: attr("DATUM", 0),
            semi_major,
            inv_flattening,
            towgs84: (!towgs84.is_empty()).then_some(towgs84),
        }
    }

    fn describe(&self) -> String {
        let f = |v: Option<f64>, unit: &str| {
            v.map_or_else(|| "none".to_string(), |v| format!("{v}{unit}"))
        };
        let mut parts = Vec::new();
        if self.projected {
            parts.push(format!(
                "projection {}, central meridian {}, scale factor {}, false easting {}, false northing {}, latitude of origin {}, linear unit {} m",
                self.method.as_deref().unwrap_or("unnamed"),
                f(self.lon_0, "°"),
                f(self.scale, ""),
                f(self.false_easting, " m"),
                f(self.false_northing, " m"),
                f(self.lat_0, "°"),
                self.linear_unit,
            ));
        } else if self.geographic {
            parts.push("geographic".to_string());
        } else {
            parts.push("neither projected nor geographic".to_string());
        }
        parts.push(format!(
            "datum \"{}\" on ellipsoid a = {}, 1/f = {}",
            self.datum.as_deref().unwrap_or("unnamed"),
            f(self.semi_major, " m"),
            f(self.inv_flattening, ""),
        ));
        if let Some(t) = &self.towgs84 {
            let list: Vec<String> = t.iter().map(|v| v.to_string()).collect();
            parts.push(format!("TOWGS84[{}]", list.join(",")));
        }
        parts.join(", ")
    }

    fn unrecognised(&self, why: &str) -> CrsDetectError {
        CrsDetectError::Unrecognised {
            description: format!("{}: {why}", self.describe()),
        }
    }
}

fn close(a: Option<f64>, b: f64, tol: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= tol)
}

/// Upper-case letters and digits only: "D_WGS_1984" → "DWGS1984".
fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The datum, judged from ellipsoid, TOWGS84 and name, with any warnings it earns.
fn classify_datum(
    p: &Params,
) -> Result<(Datum, Option<TowgsConvention>, Vec<String>), CrsDetectError> {
    if !close(p.semi_major, WGS84_A, 1e-3) || !close(p.inv_flattening, WGS84_RF, 1e-6) {
        return Err(p.unrecognised("the ellipsoid is not WGS 84, which VN-2000 also uses"));
    }
    let name = p.datum.as_deref().map(squash).unwrap_or_default();
    let vn_name = name.contains("VN") || name.contains("VIETNAM") || name.contains("2000");
    let wgs_name = name.contains("WGS84")
        || name.contains("WGS1984")
        || name.contains("WORLDGEODETICSYSTEM1984");
    let mut warnings = Vec::new();
    match &p.towgs84 {
        Some(t) if t.len() >= 3 && vn2000_translation(t) => {
            let convention = Vn2000Helmert::classify(t);
            match convention {
                Some(TowgsConvention::PositionVector) => {}
                Some(TowgsConvention::CoordinateFrameVerbatim) => warnings.push(
                    "the .prj's TOWGS84 copies the rotation signs of QĐ 05/2007 verbatim (Coordinate Frame), which read as TOWGS84 (Position Vector) puts points about 0.56 m off; bando ignores it and transforms with the EPSG:6960 operation".to_string(),
                ),
                None => warnings.push(
                    "the .prj's TOWGS84 has the VN-2000 translation but rotations that match neither convention of QĐ 05/2007; bando ignores it and transforms with the EPSG:6960 operation".to_string(),
                ),
            }
            Ok((Datum::Vn2000, convention, warnings))
        }
        Some(t) if t.iter().all(|v| *v == 0.0) => {
            if vn_name {
                warnings.push(format!(
                    "the .prj names datum \"{}\" but gives an all-zero TOWGS84 (about 225 m off if used); bando treats it as VN-2000 and transforms with the EPSG:6960 operation",
                    p.datum.as_deref().unwrap_or_default()
                ));
                Ok((Datum::Vn2000, None, warnings))
            } else if wgs_name {
                Ok((Datum::Wgs84, None, warnings))
            } else {
                Err(p.unrecognised("the datum is neither VN-2000 nor WGS 84"))
            }
        }
        Some(_) => Err(p.unrecognised("the TOWGS84 is not the VN-2000 link of QĐ 05/2007")),
        None if vn_name => Ok((Datum::Vn2000, None, warnings)),
        None if wgs_name => Ok((Datum::Wgs84, None, warnings)),
        None => Err(p.unrecognised("the datum is neither VN-2000 nor WGS 84")),
    }
}

fn vn2000_translation(t: &[f64]) -> bool {
    Vn2000Helmert::TRANSLATION
        .iter()
        .zip(t)
        .all(|(a, b)| (a - b).abs() <= 0.01)
}

/// The degrees.minutes form of a meridian with a minutes part (106.25 → 106.15), if any.
fn dmm_form(lon: f64) -> Option<f64> {
    let degrees = lon.trunc();
    let minutes = ((lon - degrees) * 60.0).round();
    (minutes != 0.0).then(|| degrees + minutes / 100.0)
}

fn detect_from_srs(srs: &SpatialRef) -> Result<DetectedCrs, CrsDetectError> {
    if srs.to_wkt().map(|w| w.trim().is_empty()).unwrap_or(true) {
        return Err(CrsDetectError::NoCrs);
    }
    let p = Params::read(srs);
    let mut warnings = Vec::new();

    if let Some(code) = authority_code(srs) {
        match gis_core::crs::describe(code) {
            Ok(info) => {
                let (towgs84, mut datum_warnings) = match &p.towgs84 {
                    Some(t) if vn2000_translation(t) => {
                        classify_datum(&p).map_or((None, Vec::new()), |(_, c, w)| (c, w))
                    }
                    _ => (None, Vec::new()),
                };
                warnings.append(&mut datum_warnings);
                if let Ok(by_params) = match_parameters(&p) {
                    if by_params.epsg != code {
                        warnings.push(format!(
                            "the CRS carries the code EPSG:{code} ({}) but its parameters are those of EPSG:{} ({}); using EPSG:{code}",
                            info.name, by_params.epsg, by_params.name
                        ));
                    }
                }
                return Ok(DetectedCrs {
                    epsg: code,
                    name: info.name,
                    evidence: CrsEvidence::AuthorityCode,
                    towgs84,
                    warnings,
                });
            }
            Err(_) => warnings.push(format!(
                "the CRS carries the code EPSG:{code}, which PROJ does not know; recognised by its parameters instead"
            )),
        }
    }

    let mut detected = match_parameters(&p)?;
    warnings.append(&mut detected.warnings);
    detected.warnings = warnings;
    Ok(detected)
}

/// The EPSG code at the root of the CRS, as written or as GDAL's auto-identification finds it.
fn authority_code(srs: &SpatialRef) -> Option<u32> {
    let root_code = |s: &SpatialRef| {
        s.auth_name()
            .filter(|n| n.eq_ignore_ascii_case("EPSG"))
            .and_then(|_| s.auth_code().ok())
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| *c > 0)
    };
    root_code(srs).or_else(|| {
        let mut copy = srs.clone();
        copy.auto_identify_epsg().ok()?;
        root_code(&copy)
    })
}

/// Recognises a VN-2000 or WGS 84 CRS of the table by its parameters.
fn match_parameters(p: &Params) -> Result<DetectedCrs, CrsDetectError> {
    if !p.projected && !p.geographic {
        return Err(p.unrecognised("only projected and geographic CRSs can be recognised"));
    }
    if !close(Some(p.angular_unit), DEGREE, 1e-12) {
        return Err(p.unrecognised("the angular unit is not the degree"));
    }
    if !close(p.prime_meridian.or(Some(0.0)), 0.0, 1e-9) {
        return Err(p.unrecognised("the prime meridian is not Greenwich"));
    }
    let (datum, towgs84, mut warnings) = classify_datum(p)?;
    let evidence = match datum {
        Datum::Vn2000 => CrsEvidence::Vn2000Parameters,
        Datum::Wgs84 => CrsEvidence::WellKnownParameters,
    };
    let found = |k: &Known, warnings: Vec<String>| DetectedCrs {
        epsg: k.epsg,
        name: k.name.to_string(),
        evidence,
        towgs84,
        warnings,
    };
    let candidates = || KNOWN.iter().filter(move |k| k.datum == datum);

    if !p.projected {
        return candidates()
            .find(|k| k.scale == 0.0)
            .map(|k| found(k, warnings))
            .ok_or_else(|| p.unrecognised("no geographic CRS of this datum is known"));
    }
    let method = p.method.as_deref().map(squash).unwrap_or_default();
    if method != "TRANSVERSEMERCATOR" {
        return Err(p.unrecognised("only Transverse Mercator (TM-3, UTM) zones are recognised"));
    }
    if !close(Some(p.linear_unit), 1.0, 1e-9) {
        return Err(p.unrecognised("the linear unit is not the metre"));
    }
    if !close(p.lat_0.or(Some(0.0)), 0.0, 1e-9)
        || !close(p.false_easting, 500_000.0, 1e-3)
        || !close(p.false_northing.or(Some(0.0)), 0.0, 1e-3)
    {
        return Err(p.unrecognised(
            "a TM-3 or UTM zone has latitude of origin 0, false easting 500000 m and false northing 0 m",
        ));
    }
    let Some(scale) = p
        .scale
        .filter(|s| (s - TM3).abs() <= 1e-9 || (s - UTM).abs() <= 1e-9)
    else {
        return Err(p.unrecognised("the scale factor is neither 0.9999 (TM-3) nor 0.9996 (UTM)"));
    };
    let Some(lon_0) = p.lon_0 else {
        return Err(p.unrecognised("it has no central meridian"));
    };
    let zones = || candidates().filter(move |k| k.scale != 0.0 && (k.scale - scale).abs() <= 1e-9);
    if let Some(k) = zones().find(|k| (k.lon_0 - lon_0).abs() <= LON_TOL) {
        return Ok(found(k, warnings));
    }
    if let Some(k) =
        zones().find(|k| dmm_form(k.lon_0).is_some_and(|d| (d - lon_0).abs() <= LON_TOL))
    {
        warnings.push(format!(
            "the central meridian {lon_0} looks like degrees.minutes for {}°{:02}′; read as {} (EPSG:{} {})",
            k.lon_0.trunc(),
            ((k.lon_0 - k.lon_0.trunc()) * 60.0).round(),
            k.lon_0,
            k.epsg,
            k.name
        ));
        return Ok(found(k, warnings));
    }
    Err(p.unrecognised(&format!(
        "no {} zone with central meridian {lon_0}° and scale factor {scale} is known",
        match datum {
            Datum::Vn2000 => "VN-2000",
            Datum::Wgs84 => "WGS 84",
        }
    )))
}

/// How a layer's coordinate pairs fall against the expected region, in one CRS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AxisReport {
    /// Pairs plausible as given (x = easting/longitude).
    pub as_given: usize,
    /// Pairs plausible only when swapped (northing or latitude first).
    pub swapped: usize,
    /// Pairs plausible in neither order.
    pub implausible: usize,
    /// The majority: [`AxisOrder::Swapped`] or [`AxisOrder::Implausible`] only when strictly more
    /// pairs say so than say [`AxisOrder::AsGiven`] (and Swapped beats Implausible on a tie).
    /// No pairs at all give [`AxisOrder::AsGiven`]: nothing contradicts the file.
    pub verdict: AxisOrder,
}

/// Checks a layer's coordinate pairs (a sample is enough) in `epsg` against Viet Nam, to catch
/// pairs written northing first. Uses [`AxisGuard::for_vietnam`].
pub fn check_axis_order(epsg: u32, points: &[(f64, f64)]) -> Result<AxisReport, CrsError> {
    let guard = AxisGuard::for_vietnam(epsg)?;
    let (mut as_given, mut swapped, mut implausible) = (0, 0, 0);
    for &(x, y) in points {
        match guard.check(x, y) {
            AxisOrder::AsGiven => as_given += 1,
            AxisOrder::Swapped => swapped += 1,
            AxisOrder::Implausible => implausible += 1,
        }
    }
    let verdict = if as_given >= swapped && as_given >= implausible {
        AxisOrder::AsGiven
    } else if swapped >= implausible {
        AxisOrder::Swapped
    } else {
        AxisOrder::Implausible
    };
    Ok(AxisReport {
        as_given,
        swapped,
        implausible,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The literal ESRI `.prj` of a hand-made VN-2000 TM-3 106-15 file, TOWGS84 in the right
    /// (Position Vector) convention.
    const ESRI_106_15_PV: &str = r#"PROJCS["VN_2000_TM3_106_15",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563],TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",106.25],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    /// The same for 107-45 with the rotation signs copied verbatim from QĐ 05/2007.
    const ESRI_107_45_CF: &str = r#"PROJCS["VN_2000_TM3_107_45",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563],TOWGS84[-191.90441429,-39.30318279,-111.45032835,-0.00928836,0.01975479,-0.00427372,0.252906278]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",107.75],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    /// A VN-2000 TM-3 `.prj` with no TOWGS84 and the given central meridian.
    fn esri_tm3(lon_0: &str) -> String {
        format!(
            r#"PROJCS["VN_2000_TM3",GEOGCS["GCS_VN_2000",DATUM["D_VN_2000",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",{lon_0}],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#
        )
    }

    const ESRI_WGS84_UTM_48N: &str = r#"PROJCS["WGS_1984_UTM_Zone_48N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    fn projinfo_wkt1(code: u32) -> String {
        let out = Command::new("projinfo")
            .args(["-q", "-o", "WKT1_GDAL", &format!("EPSG:{code}")])
            .output()
            .expect("projinfo runs (PROJ's command line tools are installed)");
        assert!(out.status.success(), "projinfo EPSG:{code} failed");
        String::from_utf8(out.stdout).expect("projinfo writes UTF-8")
    }

    /// Removes every `AUTHORITY[...]` clause (and its leading comma), as a hand-written `.prj`.
    fn strip_authority(wkt: &str) -> String {
        let mut out = wkt.to_string();
        while let Some(start) = out.find("AUTHORITY[") {
            let end = start + out[start..].find(']').expect("AUTHORITY clause closes");
            let comma = out[..start].trim_end().len() - 1;
            assert_eq!(&out[comma..=comma], ",");
            out.replace_range(comma..=end, "");
        }
        out
    }

    /// Inserts a TOWGS84 clause after the SPHEROID of a stripped WKT1.
    fn with_towgs84(wkt: &str, params: &str) -> String {
        let start = wkt.find("SPHEROID[").expect("WKT has a SPHEROID");
        let end = start + wkt[start..].find(']').expect("SPHEROID closes") + 1;
        format!("{},TOWGS84[{params}]{}", &wkt[..end], &wkt[end..])
    }

    fn detect(text: &str) -> DetectedCrs {
        detect_from_wkt(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn zone_table_agrees_with_proj() {
        for k in KNOWN {
            let wkt = projinfo_wkt1(k.epsg);
            assert!(
                wkt.contains(&format!("\"{}\"", k.name)),
                "{}: {wkt}",
                k.epsg
            );
            if k.scale != 0.0 {
                let srs = SpatialRef::from_wkt(&wkt).expect("PROJ's WKT parses");
                let p = Params::read(&srs);
                assert!(close(p.lon_0, k.lon_0, 1e-12), "{}: {p:?}", k.epsg);
                assert!(close(p.scale, k.scale, 1e-12), "{}: {p:?}", k.epsg);
            }
        }
        // No zone's degrees.minutes form is another zone's decimal meridian.
        for a in KNOWN.iter().filter(|k| k.scale != 0.0) {
            if let Some(d) = dmm_form(a.lon_0) {
                assert!(
                    KNOWN
                        .iter()
                        .all(|b| b.scale == 0.0 || (b.lon_0 - d).abs() > 1e-3),
                    "{} {d}",
                    a.epsg
                );
            }
        }
    }

    #[test]
    fn projinfo_wkt_without_authority_is_recognised_by_parameters() {
        for k in KNOWN {
            let stripped = strip_authority(&projinfo_wkt1(k.epsg));
            assert!(!stripped.contains("AUTHORITY"));
            let d = detect(&stripped);
            assert_eq!(d.epsg, k.epsg, "{stripped}\n{d:?}");
            match k.datum {
                // A VN-2000 WKT without authority cannot be identified by GDAL: parameters.
                Datum::Vn2000 => {
                    assert_eq!(d.evidence, CrsEvidence::Vn2000Parameters, "{d:?}");
                    assert_eq!(d.towgs84, None);
                    assert!(d.warnings.is_empty(), "{d:?}");
                }
                // GDAL identifies plain WGS 84 and its UTM zones itself.
                Datum::Wgs84 => assert!(
                    matches!(
                        d.evidence,
                        CrsEvidence::AuthorityCode | CrsEvidence::WellKnownParameters
                    ),
                    "{d:?}"
                ),
            }
        }
    }

    #[test]
    fn vn2000_with_towgs84_in_either_convention() {
        let pv = Vn2000Helmert::towgs84();
        let cf = "-191.90441429,-39.30318279,-111.45032835,-0.00928836,0.01975479,-0.00427372,0.252906278";
        for k in KNOWN.iter().filter(|k| k.datum == Datum::Vn2000) {
            let stripped = strip_authority(&projinfo_wkt1(k.epsg));
            let d = detect(&with_towgs84(&stripped, &pv));
            assert_eq!(
                (d.epsg, d.evidence, d.towgs84),
                (
                    k.epsg,
                    CrsEvidence::Vn2000Parameters,
                    Some(TowgsConvention::PositionVector)
                ),
                "{d:?}"
            );
            assert!(d.warnings.is_empty(), "{d:?}");
            let d = detect(&with_towgs84(&stripped, cf));
            assert_eq!(
                (d.epsg, d.towgs84),
                (k.epsg, Some(TowgsConvention::CoordinateFrameVerbatim)),
                "{d:?}"
            );
            assert_eq!(d.warnings.len(), 1, "{d:?}");
        }
    }

    #[test]
    fn projinfo_wkt_with_authority_is_an_authority_code() {
        for k in KNOWN {
            let d = detect(&projinfo_wkt1(k.epsg));
            assert_eq!((d.epsg, d.evidence), (k.epsg, CrsEvidence::AuthorityCode));
            assert_eq!(d.name, k.name);
            assert!(d.warnings.is_empty(), "{d:?}");
        }
    }

    #[test]
    fn esri_prj_with_position_vector_towgs84() {
        let d = detect(ESRI_106_15_PV);
        assert_eq!(d.epsg, 9212);
        assert_eq!(d.name, "VN-2000 / TM-3 106-15");
        assert_eq!(d.evidence, CrsEvidence::Vn2000Parameters);
        assert_eq!(d.towgs84, Some(TowgsConvention::PositionVector));
        assert!(d.warnings.is_empty(), "{d:?}");
    }

    #[test]
    fn esri_prj_with_verbatim_decision_signs_warns() {
        let d = detect(ESRI_107_45_CF);
        assert_eq!(d.epsg, 5899);
        assert_eq!(d.evidence, CrsEvidence::Vn2000Parameters);
        assert_eq!(d.towgs84, Some(TowgsConvention::CoordinateFrameVerbatim));
        assert_eq!(d.warnings.len(), 1, "{d:?}");
        assert!(d.warnings[0].contains("0.56 m"), "{}", d.warnings[0]);
        assert!(d.warnings[0].contains("EPSG:6960"), "{}", d.warnings[0]);
    }

    #[test]
    fn esri_prj_without_towgs84_and_wgs84_utm() {
        let d = detect(&esri_tm3("105.75"));
        assert_eq!((d.epsg, d.evidence), (9210, CrsEvidence::Vn2000Parameters));
        let d = detect(ESRI_WGS84_UTM_48N);
        assert_eq!(d.epsg, 32648, "{d:?}");
        let d = detect(&ESRI_WGS84_UTM_48N.replace("105.0", "111.0"));
        assert_eq!(d.epsg, 32649, "{d:?}");
    }

    #[test]
    fn vn2000_utm_and_geographic_by_parameters() {
        let utm = ESRI_106_15_PV
            .replace("106.25", "111.0")
            .replace("0.9999", "0.9996");
        let d = detect(&utm);
        assert_eq!((d.epsg, d.evidence), (3406, CrsEvidence::Vn2000Parameters));
        let geographic = r#"GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563],TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        let d = detect(geographic);
        assert_eq!(
            (d.epsg, d.evidence, d.towgs84),
            (
                4756,
                CrsEvidence::Vn2000Parameters,
                Some(TowgsConvention::PositionVector)
            )
        );
    }

    #[test]
    fn degrees_minutes_meridian_is_read_with_a_warning() {
        let d = detect(&esri_tm3("106.15"));
        assert_eq!(d.epsg, 9212);
        assert_eq!(d.warnings.len(), 1, "{d:?}");
        assert!(d.warnings[0].contains("106.15"), "{}", d.warnings[0]);
        assert!(d.warnings[0].contains("106.25"), "{}", d.warnings[0]);
        assert_eq!(detect(&esri_tm3("107.45")).epsg, 5899);
        assert_eq!(detect(&esri_tm3("104.3")).epsg, 9207);
        // Close to a D.MM form, but not exactly one.
        for lon in ["106.16", "106.15001"] {
            let err = detect_from_wkt(&esri_tm3(lon)).expect_err(lon);
            assert!(matches!(err, CrsDetectError::Unrecognised { .. }), "{err}");
        }
    }

    #[test]
    fn unknown_central_meridian_is_unrecognised() {
        let err = detect_from_wkt(&esri_tm3("100.1")).expect_err("no zone at 100.1");
        let CrsDetectError::Unrecognised { description } = &err else {
            panic!("{err:?}");
        };
        assert!(description.contains("100.1"), "{description}");
        assert!(description.contains("0.9999"), "{description}");
        let msg = err.to_string();
        assert!(msg.contains("--srs EPSG:<code>"), "{msg}");
        // Off by more than the tolerance.
        assert!(detect_from_wkt(&esri_tm3("106.250002")).is_err());
        assert_eq!(detect(&esri_tm3("106.2500000001")).epsg, 9212);
    }

    #[test]
    fn other_datums_and_projections_are_unrecognised() {
        // Indian 1960 on Everest: neither VN-2000 nor WGS 84.
        let indian = strip_authority(&projinfo_wkt1(3148));
        let err = detect_from_wkt(&indian).expect_err("Indian 1960 / UTM 48N");
        assert!(matches!(err, CrsDetectError::Unrecognised { .. }), "{err}");
        // A foreign TOWGS84 on a datum named VN-2000.
        let foreign = with_towgs84(
            &strip_authority(&projinfo_wkt1(9212)),
            "-199,-39,-111,0,0,0,0",
        );
        let err = detect_from_wkt(&foreign).expect_err("foreign TOWGS84");
        assert!(err.to_string().contains("TOWGS84"), "{err}");
        // Web Mercator identifies by its code; without it, it is no TM zone.
        let merc = strip_authority(&projinfo_wkt1(3857));
        match detect_from_wkt(&merc) {
            Ok(d) => assert_eq!((d.epsg, d.evidence), (3857, CrsEvidence::AuthorityCode)),
            Err(e) => assert!(matches!(e, CrsDetectError::Unrecognised { .. }), "{e}"),
        }
    }

    #[test]
    fn all_zero_towgs84_on_a_vn2000_datum_warns() {
        let d = detect(&with_towgs84(
            &strip_authority(&projinfo_wkt1(9212)),
            "0,0,0,0,0,0,0",
        ));
        assert_eq!(d.epsg, 9212);
        assert_eq!(d.warnings.len(), 1, "{d:?}");
        assert!(d.warnings[0].contains("225 m"), "{}", d.warnings[0]);
    }

    #[test]
    fn empty_and_garbage() {
        let no_crs = "the file has no coordinate reference system (.prj missing or empty); give one with --srs EPSG:<code>";
        for empty in ["", "   \n", "\u{feff}"] {
            let err = detect_from_wkt(empty).expect_err("empty");
            assert_eq!(err, CrsDetectError::NoCrs);
            assert_eq!(err.to_string(), no_crs);
        }
        let err = detect_crs(None, None, None).expect_err("nothing");
        assert_eq!(err.to_string(), no_crs);
        let err = detect_crs(None, Some(""), None).expect_err("empty .prj");
        assert_eq!(err, CrsDetectError::NoCrs);
        let empty_srs = SpatialRef::new().expect("empty SpatialRef");
        assert_eq!(
            detect_crs(Some(&empty_srs), None, None),
            Err(CrsDetectError::NoCrs)
        );
        for garbage in ["this is not a prj", "PROJCS[\"broken\",", "+proj=nonsense"] {
            let err = detect_from_wkt(garbage).expect_err(garbage);
            assert!(
                matches!(err, CrsDetectError::Unreadable { .. }),
                "{garbage}: {err:?}"
            );
            assert!(err.to_string().contains("--srs EPSG:<code>"), "{err}");
        }
        let err = detect_from_wkt("this is not a prj").expect_err("garbage");
        assert!(err.to_string().contains("neither WKT"), "{err}");
        let err = detect_from_wkt("PROJCS[\"broken\",").expect_err("broken");
        assert!(err.to_string().contains("malformed WKT"), "{err}");
    }

    #[test]
    fn override_wins_and_a_disagreeing_prj_is_named() {
        let d = detect_crs(None, Some(ESRI_107_45_CF), Some(9212)).expect("override");
        assert_eq!((d.epsg, d.evidence), (9212, CrsEvidence::Override));
        assert_eq!(d.name, "VN-2000 / TM-3 106-15");
        assert_eq!(d.warnings.len(), 1, "{d:?}");
        assert!(
            d.warnings[0].contains("EPSG:5899") && d.warnings[0].contains("EPSG:9212"),
            "{}",
            d.warnings[0]
        );
        // Agreeing .prj: no warning, its TOWGS84 convention is kept.
        let d = detect_crs(None, Some(ESRI_106_15_PV), Some(9212)).expect("override");
        assert_eq!(d.evidence, CrsEvidence::Override);
        assert_eq!(d.towgs84, Some(TowgsConvention::PositionVector));
        assert!(d.warnings.is_empty(), "{d:?}");
        // No .prj at all.
        let d = detect_crs(None, None, Some(5899)).expect("override");
        assert_eq!((d.epsg, d.evidence), (5899, CrsEvidence::Override));
        assert!(d.warnings.is_empty());
        // An unreadable .prj is mentioned, not fatal.
        let d = detect_crs(None, Some("garbage"), Some(5899)).expect("override");
        assert_eq!(d.warnings.len(), 1, "{d:?}");
        // An override PROJ does not know is refused.
        let err = detect_crs(None, Some(ESRI_106_15_PV), Some(999_999)).expect_err("bad code");
        assert_eq!(err, CrsDetectError::UnknownOverride { epsg: 999_999 });
        assert!(err.to_string().contains("EPSG:999999"), "{err}");
    }

    #[test]
    fn gdal_spatial_ref_and_prj_text_together() {
        let srs = SpatialRef::from_epsg(9212).expect("EPSG:9212");
        let d = detect_crs(Some(&srs), None, None).expect("9212");
        assert_eq!((d.epsg, d.evidence), (9212, CrsEvidence::AuthorityCode));
        // GDAL's reading and the raw text agree: the text's TOWGS84 convention is kept.
        let d = detect_crs(Some(&srs), Some(ESRI_106_15_PV), None).expect("9212");
        assert_eq!(d.towgs84, Some(TowgsConvention::PositionVector));
        assert!(d.warnings.is_empty(), "{d:?}");
        // They disagree: GDAL's wins, with a warning naming both.
        let d = detect_crs(Some(&srs), Some(ESRI_107_45_CF), None).expect("9212");
        assert_eq!(d.epsg, 9212);
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("EPSG:9212") && w.contains("EPSG:5899")),
            "{d:?}"
        );
    }

    #[test]
    fn a_non_epsg_or_unknown_authority_falls_back_to_parameters() {
        let stripped = strip_authority(&projinfo_wkt1(9212));
        let body = stripped
            .trim_end()
            .strip_suffix(']')
            .expect("WKT ends with ]");
        let d = detect(&format!("{body},AUTHORITY[\"ESRI\",\"102457\"]]"));
        assert_eq!((d.epsg, d.evidence), (9212, CrsEvidence::Vn2000Parameters));
        assert!(d.warnings.is_empty(), "{d:?}");
        let d = detect(&format!("{body},AUTHORITY[\"EPSG\",\"999999\"]]"));
        assert_eq!((d.epsg, d.evidence), (9212, CrsEvidence::Vn2000Parameters));
        assert_eq!(d.warnings.len(), 1, "{d:?}");
        assert!(d.warnings[0].contains("EPSG:999999"), "{}", d.warnings[0]);
    }

    #[test]
    fn an_authority_code_contradicted_by_parameters_warns() {
        let wkt = projinfo_wkt1(9212).replace(
            "PARAMETER[\"central_meridian\",106.25]",
            "PARAMETER[\"central_meridian\",107.75]",
        );
        let d = detect(&wkt);
        assert_eq!((d.epsg, d.evidence), (9212, CrsEvidence::AuthorityCode));
        assert_eq!(d.warnings.len(), 1, "{d:?}");
        assert!(d.warnings[0].contains("EPSG:5899"), "{}", d.warnings[0]);
    }

    #[test]
    fn a_shapefile_prj_as_gdal_reads_it() {
        use gdal::vector::{LayerAccess, LayerOptions, OGRwkbGeometryType};
        let dir = tempfile::tempdir().expect("temp dir");
        let shp = dir.path().join("parcels.shp");
        {
            let driver = gdal::DriverManager::get_driver_by_name("ESRI Shapefile")
                .expect("shapefile driver");
            let mut ds = driver.create_vector_only(&shp).expect("create");
            ds.create_layer(LayerOptions {
                name: "parcels",
                srs: None,
                ty: OGRwkbGeometryType::wkbPoint,
                options: None,
            })
            .expect("layer");
            ds.close().expect("close");
        }
        let prj = dir.path().join("parcels.prj");
        std::fs::write(&prj, ESRI_107_45_CF).expect("write .prj");
        let ds = gdal::Dataset::open(&shp).expect("open");
        let layer = ds.layer(0).expect("layer 0");
        let srs = layer.spatial_ref().expect("GDAL reads the .prj");
        let text = std::fs::read_to_string(&prj).expect("read .prj");
        let d = detect_crs(Some(&srs), Some(&text), None).expect("5899");
        assert_eq!(d.epsg, 5899, "{d:?}");
        assert_eq!(d.towgs84, Some(TowgsConvention::CoordinateFrameVerbatim));
        assert!(d.warnings.iter().any(|w| w.contains("0.56 m")), "{d:?}");
    }

    #[test]
    fn axis_order_of_survey_pairs() {
        // Around the check point E 568850, N 1275706 in EPSG:9212.
        let en: Vec<(f64, f64)> = (0..20)
            .map(|i| {
                (
                    568_850.0 + 137.0 * f64::from(i),
                    1_275_706.0 - 91.0 * f64::from(i),
                )
            })
            .collect();
        let report = check_axis_order(9212, &en).expect("9212");
        assert_eq!(report.verdict, AxisOrder::AsGiven, "{report:?}");
        assert_eq!(report.as_given, 20);
        let ne: Vec<(f64, f64)> = en.iter().map(|&(e, n)| (n, e)).collect();
        let report = check_axis_order(9212, &ne).expect("9212");
        assert_eq!(report.verdict, AxisOrder::Swapped, "{report:?}");
        assert_eq!(report.swapped, 20);
        // A few bad pairs do not change a majority.
        let mut mixed = ne.clone();
        mixed.extend([(0.0, 0.0), (f64::NAN, 1.0), (en[0].0, en[0].1)]);
        let report = check_axis_order(9212, &mixed).expect("9212");
        assert_eq!(
            (
                report.as_given,
                report.swapped,
                report.implausible,
                report.verdict
            ),
            (1, 20, 2, AxisOrder::Swapped)
        );
        let report = check_axis_order(9212, &[(0.0, 0.0)]).expect("9212");
        assert_eq!(report.verdict, AxisOrder::Implausible);
        let report = check_axis_order(9212, &[]).expect("9212");
        assert_eq!(report.verdict, AxisOrder::AsGiven);
        // Latitude first in WGS 84.
        let report = check_axis_order(4326, &[(11.535, 106.883)]).expect("4326");
        assert_eq!(report.verdict, AxisOrder::Swapped);
        assert!(check_axis_order(999_999, &en).is_err());
    }
}
