//! # sheet — the printed planning information sheet
//!
//! Owns the PDF form of a parcel's planning information sheet (phiếu thông tin quy hoạch):
//! A4, Vietnamese (NFC), made by Typst embedded as a library from the self-contained template
//! `sheet.typ` (no packages: nothing is downloaded) with Debian's Noto Sans
//! (`fonts-noto-core`) read from the system font directory ([`Printer`]). The data is
//! `planning::sheet::InfoSheet` (public parcel data only — never owner names, owners'
//! addresses or customer references — land use, plans in force with their decisions, zones
//! with areas, percentages and limits, red and building line cuts, the buildings on the parcel,
//! the data date); this crate
//! formats it ([`view`]), draws the location map from bando's own vector tiles ([`map`]) with a
//! legend of the colours it shows (the planned functions present, titled from
//! `planning.zone_functions`), and puts a QR code of the online sheet's link on the page
//! ([`qr_svg`]).
//!
//! Flow: [`print`] reads the map's tiles from the tile service (async), then draws the map and
//! compiles the PDF on a blocking thread. Typst lives in this crate only, so only it and the
//! binary rebuild with it. Knows nothing of HTTP.
#![deny(missing_docs)]

pub mod map;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use planning::sheet::InfoSheet;
use serde_json::{json, Value};
use typst::foundations::{Bytes, Dict, IntoValue};
use typst_as_lib::TypstEngine;
use typst_layout::PagedDocument;
use unicode_normalization::UnicodeNormalization;

/// The Typst template of the sheet.
const TEMPLATE: &str = include_str!("sheet.typ");

/// Where Debian's `fonts-noto-core` puts Noto Sans.
pub const SYSTEM_FONT_DIR: &str = "/usr/share/fonts/truetype/noto";

/// The font files the template uses (regular, bold, italic).
const FONT_FILES: &[&str] = &[
    "NotoSans-Regular.ttf",
    "NotoSans-Bold.ttf",
    "NotoSans-Italic.ttf",
];

/// Where the map sits on page 1, in millimetres from the page's top-left corner: x, y, width,
/// height (the template places it there; tests look for the parcel there).
pub const MAP_BOX_MM: [f64; 4] = [108.0, 15.0, 87.0, 87.0];

/// Errors of printing a sheet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SheetError {
    /// A font file is missing or unreadable.
    #[error("the planning sheet's font {path} cannot be read ({reason}); install Debian's fonts-noto-core (scripts/install-deps.sh) or point the server's font_dir (BANDO_FONT_DIR) at a directory with {files}")]
    Font {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
        /// The files needed.
        files: String,
    },
    /// The location map failed.
    #[error(transparent)]
    Map(#[from] map::MapError),
    /// The QR code could not be made (the link is too long).
    #[error("the QR code of the sheet's link cannot be made: {0}")]
    Qr(String),
    /// Typst refused the template or the data.
    #[error("the planning sheet could not be typeset: {0}")]
    Typeset(String),
    /// The PDF could not be written.
    #[error("the planning sheet's PDF could not be written: {0}")]
    Pdf(String),
    /// The blocking task died.
    #[error("the planning sheet's task failed: {0}")]
    Task(String),
}

/// The sheet's typesetter: the template compiled with its fonts, made once and reused.
pub struct Printer {
    engine: TypstEngine<typst_as_lib::TypstTemplateMainFile>,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer").finish_non_exhaustive()
    }
}

impl Printer {
    /// The printer with the fonts of `BANDO_FONT_DIR`, else [`SYSTEM_FONT_DIR`].
    pub fn from_system() -> Result<Printer, SheetError> {
        let dir = std::env::var_os("BANDO_FONT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SYSTEM_FONT_DIR));
        Printer::with_fonts(&dir)
    }

    /// The printer with Noto Sans from `dir`; an error naming the missing file otherwise.
    pub fn with_fonts(dir: &Path) -> Result<Printer, SheetError> {
        let mut fonts = Vec::new();
        for file in FONT_FILES {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).map_err(|e| SheetError::Font {
                path: path.clone(),
                reason: e.to_string(),
                files: FONT_FILES.join(", "),
            })?;
            fonts.push(bytes);
        }
        let engine = TypstEngine::builder()
            .main_file(TEMPLATE)
            .fonts(fonts)
            .build();
        Ok(Printer { engine })
    }

    /// The PDF of a sheet whose map is already drawn (`map`: the image and its legend);
    /// `link` is the online sheet.
    pub fn pdf(
        &self,
        sheet: &InfoSheet,
        map: map::Drawn,
        link: &str,
    ) -> Result<Vec<u8>, SheetError> {
        let mut data = view(sheet, link);
        if let Some(o) = data.as_object_mut() {
            o.insert("legend".into(), legend_view(&map.legend));
            let [r, g, b] = map::HIGHLIGHT;
            o.insert("highlight".into(), json!(format!("#{r:02x}{g:02x}{b:02x}")));
        }
        let data = serde_json::to_vec(&data).map_err(|e| SheetError::Typeset(e.to_string()))?;
        let mut inputs = Dict::new();
        inputs.insert("data".into(), Bytes::new(data).into_value());
        inputs.insert("map".into(), Bytes::new(map.png).into_value());
        inputs.insert(
            "qr".into(),
            Bytes::new(qr_svg(link)?.into_bytes()).into_value(),
        );
        // Millimetres; the template multiplies by 1mm.
        for (name, v) in ["map_x", "map_y", "map_w", "map_h"]
            .into_iter()
            .zip(MAP_BOX_MM)
        {
            inputs.insert(name.into(), v.into_value());
        }
        let doc: PagedDocument = self
            .engine
            .compile_with_input(inputs)
            .output
            .map_err(|e| SheetError::Typeset(e.to_string()))?;
        typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
            .map_err(|e| SheetError::Pdf(format!("{e:?}")))
    }
}

/// The QR code of `link` as SVG (medium error correction, dark modules black).
pub fn qr_svg(link: &str) -> Result<String, SheetError> {
    let code = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| SheetError::Qr(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .build())
}

/// The PDF of `sheet`: its map drawn from the tile service's tiles of the public layers
/// (`layers`: the live registry's layers), the QR code and link to the online sheet (`link`).
pub async fn print(
    printer: Arc<Printer>,
    tiles: &tiles::TileService,
    layers: &[Arc<dyn gis_core::layer::Layer>],
    sheet: InfoSheet,
    link: String,
) -> Result<Vec<u8>, SheetError> {
    let frame = map::Frame::around(sheet.parcel.bbox, map::MAP_PX);
    let drawn = map::map_layers(layers);
    let fetched = map::fetch(tiles, &frame, &drawn).await?;
    // Drawing and typesetting are CPU work: off the async workers.
    tokio::task::spawn_blocking(move || {
        let map = map::draw(&frame, &drawn, &fetched, &sheet.parcel.geometry)?;
        printer.pdf(&sheet, map, &link)
    })
    .await
    .map_err(|e| SheetError::Task(e.to_string()))?
}

/// The map's legend as the template prints it: a swatch colour (`#rrggbb`, as printed on the
/// map) and a label ("O — Đất ở", or the title alone for the fallback entry).
pub fn legend_view(items: &[map::LegendItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| {
                let [r, g, b] = i.printed;
                json!({
                    "colour": format!("#{r:02x}{g:02x}{b:02x}"),
                    "label": match &i.code {
                        Some(code) => format!("{code} — {}", nfc(&i.title_vi)),
                        None => nfc(&i.title_vi),
                    },
                })
            })
            .collect(),
    )
}

/// NFC text (the data is NFC already; a legacy delivery's decomposed marks would print apart).
fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// A number the Vietnamese way: `.` between thousands, `,` before decimals.
pub fn number_vi(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// An ISO day (`YYYY-MM-DD`) as `DD/MM/YYYY`; other text unchanged.
pub fn day_vi(iso: &str) -> String {
    match iso.get(0..10).map(|d| d.split('-').collect::<Vec<_>>()) {
        Some(p) if p.len() == 3 => format!("{}/{}/{}", p[2], p[1], p[0]),
        _ => iso.to_string(),
    }
}

fn level_vi(level: &str) -> &'static str {
    match level {
        "general" => "Quy hoạch chung",
        "zoning" => "Quy hoạch phân khu (1/2000)",
        "detailed" => "Quy hoạch chi tiết (1/500)",
        _ => "Quy hoạch",
    }
}

/// What the template prints, as text already formatted in Vietnamese. Only public data: the
/// parcel's identity, area and land use, never its other properties.
pub fn view(sheet: &InfoSheet, link: &str) -> Value {
    let p = &sheet.parcel;
    let r = &sheet.report;
    let opt = |v: &Option<String>| v.as_deref().map(nfc).unwrap_or_default();
    let commune = match (&p.commune_name, &p.commune_name_new, &p.commune_code_new) {
        (Some(old), Some(new), Some(code)) if code != &p.commune_code => format!(
            "{} ({}) — nay là {} ({})",
            nfc(old),
            p.commune_code,
            nfc(new),
            code
        ),
        (Some(old), _, _) => format!("{} ({})", nfc(old), p.commune_code),
        _ => p.commune_code.clone(),
    };
    let land_use = sheet
        .land_use
        .map(|c| format!("{} — {}", c.code, nfc(c.name_vi)))
        .or_else(|| {
            p.properties
                .get("land_use_code")
                .and_then(Value::as_str)
                .map(nfc)
        })
        .unwrap_or_else(|| "—".into());
    let plans: Vec<Value> = r
        .plans
        .iter()
        .map(|plan| {
            json!({
                "name": nfc(&plan.name),
                "level": level_vi(&plan.level),
                "decision": opt(&plan.decision_number),
                "date": plan.decision_date.as_deref().map(day_vi).unwrap_or_default(),
                "authority": opt(&plan.authority),
            })
        })
        .collect();
    let limit = |v: Option<f64>, unit: &str, d: usize| {
        v.map(|v| format!("{} {unit}", number_vi(v, d)))
            .unwrap_or_else(|| "—".into())
    };
    // Zones that only touch the parcel (0,0 m² when printed) would read as a second function.
    let zones: Vec<Value> = r
        .zones
        .iter()
        .filter(|z| z.area_m2 >= 0.05)
        .map(|z| {
            let function = match (&z.function_code, &z.function_name_vi) {
                (Some(c), Some(n)) => format!("{c} — {}", nfc(n)),
                (Some(c), None) => c.clone(),
                _ => "—".into(),
            };
            json!({
                "zone": match &z.zone_name {
                    Some(n) => format!("{} ({})", nfc(&z.zone_code), nfc(n)),
                    None => nfc(&z.zone_code),
                },
                "function": function,
                "area": number_vi(z.area_m2, 1),
                "percent": format!("{} %", number_vi(z.percent, 1)),
                "density": limit(z.density_pct, "%", 0),
                "floors": z.max_floors.map(|f| f.to_string()).unwrap_or_else(|| "—".into()),
                "height": limit(z.max_height_m, "m", 1),
                "setback": limit(z.setback_m, "m", 1),
                "far": z.far.map(|v| number_vi(v, 1)).unwrap_or_else(|| "—".into()),
                "decision": opt(&z.decision_number),
            })
        })
        .collect();
    let line = |cut: &planning::report::LineCut| {
        json!({
            "state": if cut.crosses { "Cắt qua thửa đất" } else if cut.fronts { "Tiếp giáp thửa đất" } else { "Không liên quan" },
            "cut": number_vi(cut.cut_area_m2, 1),
            "length": number_vi(cut.length_inside_m, 1),
            "roads": cut.roads.iter().map(|s| nfc(s)).collect::<Vec<_>>().join(", "),
        })
    };
    let buildings: Vec<Value> = r
        .buildings
        .iter()
        .map(|b| {
            json!({
                "building": match &b.name {
                    Some(n) if !n.trim().is_empty() => format!("{} ({})", nfc(&b.building_code), nfc(n)),
                    _ => nfc(&b.building_code),
                },
                "status": match b.status.as_deref() {
                    Some("existing") => "Hiện trạng",
                    Some("planned") => "Theo quy hoạch",
                    _ => "—",
                },
                "floors": b.floors.map(|f| f.to_string()).unwrap_or_else(|| "—".into()),
                "height": limit(b.height_m, "m", 1),
                "on_parcel": number_vi(b.on_parcel_m2, 1),
                "footprint": number_vi(b.footprint_m2, 1),
            })
        })
        .collect();
    json!({
        "commune": commune,
        "sheet_number": p.sheet_number.to_string(),
        "parcel_number": p.parcel_number.to_string(),
        "area": number_vi(p.area_m2, 1),
        "crs": format!("VN-2000, EPSG:{}", r.srid),
        "land_use": land_use,
        "plans": plans,
        "zones": zones,
        "unplanned": number_vi(r.unplanned_area_m2, 1),
        "has_unplanned": r.unplanned_area_m2 >= 0.05,
        "red": line(&r.red_lines),
        "building": line(&r.building_lines),
        "buildings": buildings,
        "data_date": sheet.data_date.as_deref().map(day_vi).unwrap_or_else(|| "—".into()),
        "link": nfc(link),
        "parcel_id": p.id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_days_are_written_the_vietnamese_way() {
        assert_eq!(number_vi(1234567.891, 1), "1.234.567,9");
        assert_eq!(number_vi(999.0, 0), "999");
        assert_eq!(number_vi(1000.0, 0), "1.000");
        assert_eq!(number_vi(-0.01, 1), "0,0");
        assert_eq!(number_vi(-12.5, 1), "-12,5");
        assert_eq!(day_vi("2026-03-09"), "09/03/2026");
        assert_eq!(day_vi("soon"), "soon");
    }

    #[test]
    fn the_qr_code_is_svg() {
        let svg = qr_svg("http://127.0.0.1:8080/portal#parcel=42").expect("qr");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}
