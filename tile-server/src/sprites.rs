//! The sprite sheet of the map styles: point-layer icons drawn in code with tiny-skia (nothing
//! downloaded), at pixel ratio 1 and 2, with MapLibre's JSON index
//! (`{"name": {"x", "y", "width", "height", "pixelRatio"}}`).
//!
//! The icon names are [`layers::style::ICONS`]; every icon is drawn on a 24 × 24 unit canvas
//! (scaled for @2x) with a white halo so it reads on any background. Sheets are drawn once per
//! ratio and kept.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

/// Icon size in units (pixels at ratio 1).
pub const ICON: u32 = 24;
/// Gap between icons, units.
const GAP: u32 = 2;
/// Icons per row of the sheet.
const COLUMNS: u32 = 6;

/// Errors of sprite drawing.
#[derive(Debug, thiserror::Error)]
pub enum SpriteError {
    /// Only 1x and 2x sheets exist.
    #[error("sprite pixel ratio {0} is not offered: use bando.json / bando.png or bando@2x.json / bando@2x.png")]
    Ratio(u32),
    /// Drawing or encoding failed.
    #[error("sprite sheet could not be drawn: {0}")]
    Draw(String),
}

/// One drawn sheet.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The JSON index.
    pub index: Value,
    /// The PNG image.
    pub png: Vec<u8>,
}

static SHEETS: [OnceLock<Result<Sheet, String>>; 2] = [OnceLock::new(), OnceLock::new()];

/// The sheet at pixel ratio 1 or 2, drawn on first use.
pub fn sheet(ratio: u32) -> Result<&'static Sheet, SpriteError> {
    let slot = match ratio {
        1 => &SHEETS[0],
        2 => &SHEETS[1],
        other => return Err(SpriteError::Ratio(other)),
    };
    slot.get_or_init(|| draw_sheet(ratio).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| SpriteError::Draw(e.clone()))
}

/// Draws the sheet of every icon at `ratio`.
pub fn draw_sheet(ratio: u32) -> Result<Sheet, SpriteError> {
    let names = layers::style::ICONS;
    let n = names.len() as u32;
    let rows = n.div_ceil(COLUMNS);
    let cell = (ICON + GAP) * ratio;
    let mut pixmap = Pixmap::new(cell * COLUMNS.min(n), cell * rows)
        .ok_or_else(|| SpriteError::Draw("empty sheet".into()))?;
    let mut index = Map::new();
    for (i, name) in names.iter().enumerate() {
        let i = i as u32;
        let (x, y) = ((i % COLUMNS) * cell, (i / COLUMNS) * cell);
        let t =
            Transform::from_scale(ratio as f32, ratio as f32).post_translate(x as f32, y as f32);
        draw_icon(&mut pixmap, name, t)?;
        index.insert(
            (*name).to_string(),
            json!({"x": x, "y": y, "width": ICON * ratio, "height": ICON * ratio,
                "pixelRatio": ratio}),
        );
    }
    let png = pixmap
        .encode_png()
        .map_err(|e| SpriteError::Draw(e.to_string()))?;
    Ok(Sheet {
        index: Value::Object(index),
        png,
    })
}

fn rgb(hex: u32) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(
        (hex >> 16) as u8,
        (hex >> 8) as u8,
        hex as u8,
        255,
    ));
    p.anti_alias = true;
    p
}

const WHITE: u32 = 0xffffff;

/// A small drawing context over one icon cell (units 0–24).
struct Pen<'a> {
    pixmap: &'a mut Pixmap,
    t: Transform,
}

impl Pen<'_> {
    fn circle(&mut self, cx: f32, cy: f32, r: f32, colour: u32) -> Result<(), SpriteError> {
        let path = PathBuilder::from_circle(cx, cy, r).ok_or_else(|| bad("circle"))?;
        self.pixmap
            .fill_path(&path, &rgb(colour), FillRule::Winding, self.t, None);
        Ok(())
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, colour: u32) -> Result<(), SpriteError> {
        let r = Rect::from_xywh(x, y, w, h).ok_or_else(|| bad("rect"))?;
        self.pixmap.fill_rect(r, &rgb(colour), self.t, None);
        Ok(())
    }

    fn polygon(&mut self, pts: &[(f32, f32)], colour: u32) -> Result<(), SpriteError> {
        let mut pb = PathBuilder::new();
        for (i, &(x, y)) in pts.iter().enumerate() {
            if i == 0 {
                pb.move_to(x, y);
            } else {
                pb.line_to(x, y);
            }
        }
        pb.close();
        let path = pb.finish().ok_or_else(|| bad("polygon"))?;
        self.pixmap
            .fill_path(&path, &rgb(colour), FillRule::Winding, self.t, None);
        Ok(())
    }

    fn line(&mut self, pts: &[(f32, f32)], width: f32, colour: u32) -> Result<(), SpriteError> {
        let mut pb = PathBuilder::new();
        for (i, &(x, y)) in pts.iter().enumerate() {
            if i == 0 {
                pb.move_to(x, y);
            } else {
                pb.line_to(x, y);
            }
        }
        let path = pb.finish().ok_or_else(|| bad("line"))?;
        let stroke = Stroke {
            width,
            ..Stroke::default()
        };
        self.pixmap
            .stroke_path(&path, &rgb(colour), &stroke, self.t, None);
        Ok(())
    }

    /// A disc with a white rim: the common base of round icons.
    fn badge(&mut self, colour: u32) -> Result<(), SpriteError> {
        self.circle(12.0, 12.0, 11.5, WHITE)?;
        self.circle(12.0, 12.0, 10.0, colour)
    }

    /// A rounded square with a white rim.
    fn square(&mut self, colour: u32) -> Result<(), SpriteError> {
        self.rect(1.0, 1.0, 22.0, 22.0, WHITE)?;
        self.rect(2.5, 2.5, 19.0, 19.0, colour)
    }
}

fn bad(what: &str) -> SpriteError {
    SpriteError::Draw(format!("invalid {what} geometry"))
}

fn draw_icon(pixmap: &mut Pixmap, name: &str, t: Transform) -> Result<(), SpriteError> {
    let mut p = Pen { pixmap, t };
    match name {
        "hydrant" => {
            // Red fire hydrant: cap, body, side outlets.
            p.badge(0xd7191c)?;
            p.rect(9.0, 8.0, 6.0, 11.0, WHITE)?;
            p.rect(8.0, 6.0, 8.0, 2.5, WHITE)?;
            p.rect(6.0, 11.0, 12.0, 3.0, WHITE)?;
            p.circle(12.0, 5.5, 1.5, WHITE)?;
        }
        "valve" => {
            // Blue disc with the bow-tie valve symbol.
            p.badge(0x0868ac)?;
            p.polygon(&[(6.0, 8.0), (12.0, 12.0), (6.0, 16.0)], WHITE)?;
            p.polygon(&[(18.0, 8.0), (12.0, 12.0), (18.0, 16.0)], WHITE)?;
            p.line(&[(12.0, 12.0), (12.0, 6.0)], 1.5, WHITE)?;
            p.rect(9.5, 5.0, 5.0, 1.5, WHITE)?;
        }
        "water-meter" => {
            // Dial with a needle.
            p.badge(0x2b8cbe)?;
            p.circle(12.0, 12.0, 7.0, WHITE)?;
            p.line(&[(12.0, 12.0), (16.0, 8.5)], 1.6, 0x2b8cbe)?;
            p.circle(12.0, 12.0, 1.5, 0x2b8cbe)?;
        }
        "manhole" => {
            // Dark cover with a grid.
            p.badge(0x4d4d4d)?;
            for d in [-4.0, 0.0, 4.0] {
                p.line(&[(12.0 + d, 5.0), (12.0 + d, 19.0)], 1.2, 0xbdbdbd)?;
                p.line(&[(5.0, 12.0 + d), (19.0, 12.0 + d)], 1.2, 0xbdbdbd)?;
            }
        }
        "power-pole" => {
            // Pole with a cross-arm and insulators.
            p.badge(0x8c510a)?;
            p.rect(11.0, 4.5, 2.0, 15.0, WHITE)?;
            p.rect(6.0, 7.0, 12.0, 2.0, WHITE)?;
            p.circle(6.5, 6.0, 1.3, WHITE)?;
            p.circle(17.5, 6.0, 1.3, WHITE)?;
        }
        "substation" => {
            // Square with a lightning bolt.
            p.square(0xc51b7d)?;
            p.polygon(
                &[
                    (13.5, 4.0),
                    (7.0, 13.5),
                    (11.5, 13.5),
                    (10.0, 20.0),
                    (17.0, 10.5),
                    (12.5, 10.5),
                ],
                0xfff200,
            )?;
        }
        "street-light" => {
            // Lamp post with a glowing head.
            p.badge(0x525252)?;
            p.rect(11.0, 8.0, 2.0, 11.0, WHITE)?;
            p.rect(8.0, 18.0, 8.0, 1.8, WHITE)?;
            p.polygon(
                &[(7.0, 8.5), (17.0, 8.5), (15.0, 5.0), (9.0, 5.0)],
                0xffd92f,
            )?;
        }
        "traffic-light" => {
            // Housing with red, amber and green lamps.
            p.rect(6.0, 1.0, 12.0, 22.0, WHITE)?;
            p.rect(7.5, 2.5, 9.0, 19.0, 0x252525)?;
            p.circle(12.0, 6.5, 2.4, 0xe41a1c)?;
            p.circle(12.0, 12.0, 2.4, 0xffb000)?;
            p.circle(12.0, 17.5, 2.4, 0x1a9850)?;
        }
        "camera" => {
            // Camera body with a lens.
            p.badge(0x54278f)?;
            p.rect(5.0, 8.0, 14.0, 9.0, WHITE)?;
            p.rect(9.0, 6.0, 6.0, 2.5, WHITE)?;
            p.circle(12.0, 12.5, 3.2, 0x54278f)?;
            p.circle(12.0, 12.5, 1.5, WHITE)?;
        }
        "bus-stop" => {
            // Square sign with a bus.
            p.square(0x1b9e77)?;
            p.rect(6.0, 6.0, 12.0, 10.0, WHITE)?;
            p.rect(7.5, 7.5, 9.0, 4.0, 0x1b9e77)?;
            p.circle(8.5, 17.0, 1.6, WHITE)?;
            p.circle(15.5, 17.0, 1.6, WHITE)?;
        }
        "env-station" => {
            // Green disc with a leaf and its vein.
            p.badge(0x1a9850)?;
            p.polygon(
                &[
                    (6.0, 18.0),
                    (7.0, 11.0),
                    (11.0, 7.0),
                    (18.0, 5.5),
                    (17.0, 12.0),
                    (13.0, 17.0),
                ],
                WHITE,
            )?;
            p.line(&[(6.0, 18.0), (15.0, 9.0)], 1.3, 0x1a9850)?;
        }
        "power-switch" => {
            // Purple disc with the switch symbol: two contacts and a blade lifted off one.
            p.badge(0x7a0177)?;
            p.line(&[(4.5, 14.0), (8.0, 14.0)], 1.6, WHITE)?;
            p.line(&[(16.0, 14.0), (19.5, 14.0)], 1.6, WHITE)?;
            p.circle(8.0, 14.0, 1.6, WHITE)?;
            p.circle(16.0, 14.0, 1.6, WHITE)?;
            p.line(&[(8.0, 14.0), (15.5, 8.0)], 1.6, WHITE)?;
        }
        "power-customer" => {
            // Amber disc with a house and a bolt: a customer's supply point.
            p.badge(0xd97706)?;
            p.polygon(&[(12.0, 4.5), (5.0, 11.0), (19.0, 11.0)], WHITE)?;
            p.rect(7.0, 11.0, 10.0, 8.0, WHITE)?;
            p.polygon(
                &[
                    (12.8, 11.5),
                    (9.8, 15.5),
                    (12.0, 15.5),
                    (11.2, 18.5),
                    (14.2, 14.5),
                    (12.0, 14.5),
                ],
                0xd97706,
            )?;
        }
        "water-source" => {
            // Dark blue disc with a water drop (plants, tanks: where water enters).
            p.badge(0x045a8d)?;
            p.polygon(&[(12.0, 4.5), (7.5, 12.5), (16.5, 12.5)], WHITE)?;
            p.circle(12.0, 14.0, 4.6, WHITE)?;
        }
        other => {
            return Err(SpriteError::Draw(format!(
                "no drawing for icon \"{other}\""
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprite_sheets_index_every_icon_and_2x_is_twice_1x() {
        let one = draw_sheet(1).expect("1x");
        let two = draw_sheet(2).expect("2x");
        let a = Pixmap::decode_png(&one.png).expect("png 1x");
        let b = Pixmap::decode_png(&two.png).expect("png 2x");
        assert_eq!((b.width(), b.height()), (2 * a.width(), 2 * a.height()));
        for name in layers::style::ICONS {
            let e = &two.index[*name];
            assert_eq!(e["pixelRatio"], 2, "{name}");
            assert_eq!(e["width"], 2 * ICON, "{name}");
        }
        assert!(matches!(sheet(3), Err(SpriteError::Ratio(3))));
    }
}
