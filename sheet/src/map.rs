//! The sheet's location map, drawn on the server from bando's own vector tiles: the tiles of
//! the layers the public portal's style draws ([`map_layers`], read from each layer's
//! declaration) are taken from the tile service (its cache, anonymous access), decoded
//! (`mvt-reader`) and drawn with tiny-skia in the order and colours the declarations give;
//! the parcel itself is outlined on top in [`HIGHLIGHT`]. Layers coloured by a property with a
//! legend in their declaration (planning zones by function, from `planning.zone_functions`)
//! report which of its entries the map shows, for the printed legend ([`Drawn::legend`]).
//! [`Frame`] is the one projection
//! from longitude/latitude to map pixels, shared with the tests that look at the printed page.

use std::sync::Arc;

use gis_core::layer::{Access, GeometryKind, Layer, LegendEntry, Readers, StyleHints};
use gis_core::tile::TileCoord;
use serde_json::Value;
use tiny_skia::{
    Color, FillRule, Mask, Paint, PathBuilder, Pixmap, Rect, Stroke, StrokeDash, Transform,
};

/// Width and height of the map image in pixels (about 200 dpi at the printed size).
pub const MAP_PX: u32 = 720;
/// The share of the map's width or height the parcel's box takes.
const PARCEL_SHARE: f64 = 0.4;
/// Zooms the map is shown at: close enough for parcels and planning zones to be in the tiles.
const ZOOMS: (f64, f64) = (13.5, 19.5);
/// Zooms tiles are read at (planning zones start at 14; beyond 18 tiles add no detail).
const TILE_ZOOMS: (u8, u8) = (14, 18);
/// Widths in the declarations are screen pixels; the printed map has about twice as many
/// pixels per millimetre (and thin lines vanish in print).
const WIDTH_FACTOR: f32 = 2.2;
/// The parcel's outline colour (a cyan no layer's palette uses).
pub const HIGHLIGHT: [u8; 3] = [0x00, 0xd0, 0xff];
/// The parcel's outline width in map pixels.
const HIGHLIGHT_WIDTH: f32 = 6.0;

/// Errors of drawing the map.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A tile could not be rendered (the database failed or ran out of time).
    #[error("tile {tile} of layer {layer} for the sheet's map: {error}")]
    Tile {
        /// Layer id.
        layer: String,
        /// `z/x/y`.
        tile: String,
        /// What failed.
        #[source]
        error: Arc<tiles::TileError>,
    },
    /// A tile could not be decompressed.
    #[error("tile {tile} of layer {layer} could not be decompressed: {reason}")]
    Gzip {
        /// Layer id.
        layer: String,
        /// `z/x/y`.
        tile: String,
        /// What failed.
        reason: String,
    },
    /// A tile's bytes are not a vector tile.
    #[error("tile {tile} of layer {layer} is not a readable vector tile: {reason}")]
    Decode {
        /// Layer id.
        layer: String,
        /// `z/x/y`.
        tile: String,
        /// What the decoder said.
        reason: String,
    },
    /// The image could not be made or encoded.
    #[error("the sheet's map image could not be made: {0}")]
    Image(String),
}

/// The map's view: which tiles at which zoom, scaled and shifted into the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Zoom of the tiles drawn.
    pub z: u8,
    /// Image pixels per tile pixel (256-pixel tiles at zoom `z`).
    pub scale: f64,
    /// The image's top-left corner in tile pixels at zoom `z` (Web Mercator).
    pub origin: (f64, f64),
    /// Image width and height in pixels.
    pub size: u32,
}

/// Web Mercator pixels at zoom 0 (a 256-pixel world).
fn world(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.051_128, 85.051_128).to_radians();
    let x = (lon + 180.0) / 360.0 * 256.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * 256.0;
    (x, y)
}

impl Frame {
    /// The frame centred on a parcel's box (CRS84: west, south, east, north), the parcel
    /// taking about 40 % of the image.
    pub fn around(bbox: [f64; 4], size: u32) -> Frame {
        let (x0, y0) = world(bbox[0], bbox[3]);
        let (x1, y1) = world(bbox[2], bbox[1]);
        let span = (x1 - x0).abs().max((y1 - y0).abs()).max(1e-9);
        let zoom = (PARCEL_SHARE * f64::from(size) / span)
            .log2()
            .clamp(ZOOMS.0, ZOOMS.1);
        // Whole zooms in range; the clamp makes the cast exact.
        let z = (zoom
            .floor()
            .clamp(f64::from(TILE_ZOOMS.0), f64::from(TILE_ZOOMS.1))) as u8;
        let k = f64::from(1u32 << z);
        let scale = 2f64.powf(zoom - f64::from(z));
        let half = f64::from(size) / 2.0 / scale;
        let (cx, cy) = ((x0 + x1) / 2.0 * k, (y0 + y1) / 2.0 * k);
        Frame {
            z,
            scale,
            origin: (cx - half, cy - half),
            size,
        }
    }

    /// Image pixels (x right, y down) of a longitude/latitude.
    pub fn to_px(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (x, y) = world(lon, lat);
        let k = f64::from(1u32 << self.z);
        (
            (x * k - self.origin.0) * self.scale,
            (y * k - self.origin.1) * self.scale,
        )
    }

    /// Image pixels of a point of tile `t` given in its own units (`extent` per side).
    fn tile_px(&self, t: TileCoord, extent: f64, u: f64, v: f64) -> (f32, f32) {
        let x = (f64::from(t.x) + u / extent) * 256.0;
        let y = (f64::from(t.y) + v / extent) * 256.0;
        (
            ((x - self.origin.0) * self.scale) as f32,
            ((y - self.origin.1) * self.scale) as f32,
        )
    }

    /// The tiles the image covers.
    pub fn tiles(&self) -> Vec<TileCoord> {
        let last = (1u32 << self.z) - 1;
        let span = f64::from(self.size) / self.scale;
        let index = |p: f64| ((p / 256.0).floor().max(0.0) as u32).min(last);
        let (xs, ys) = (index(self.origin.0), index(self.origin.1));
        let (xe, ye) = (
            index(self.origin.0 + span - 1e-6),
            index(self.origin.1 + span - 1e-6),
        );
        (ys..=ye)
            .flat_map(|y| (xs..=xe).map(move |x| (x, y)))
            .filter_map(|(x, y)| TileCoord::new(self.z, x, y).ok())
            .collect()
    }
}

/// A colour, or one chosen by a property's value (the declarations' MapLibre `match`).
#[derive(Debug, Clone, PartialEq)]
enum Colour {
    Fixed(Color),
    Match {
        property: String,
        arms: Vec<(Vec<String>, Color)>,
        fallback: Color,
    },
}

/// A feature's properties as the tiles give them.
type Props = std::collections::HashMap<String, mvt_reader::feature::Value>;

/// A property's value as a `match` compares it (text upper-cased, as the styles' `upcase`).
fn value_of(props: Option<&Props>, property: &str) -> Option<String> {
    props.and_then(|p| p.get(property)).map(|v| match v {
        mvt_reader::feature::Value::String(s) => s.to_uppercase(),
        mvt_reader::feature::Value::Int(i) | mvt_reader::feature::Value::SInt(i) => i.to_string(),
        mvt_reader::feature::Value::UInt(u) => u.to_string(),
        other => format!("{other:?}"),
    })
}

impl Colour {
    fn of(&self, props: Option<&Props>) -> Color {
        match self {
            Colour::Fixed(c) => *c,
            Colour::Match {
                property,
                arms,
                fallback,
            } => {
                let value = value_of(props, property);
                value
                    .and_then(|v| arms.iter().find(|(labels, _)| labels.contains(&v)))
                    .map(|(_, c)| *c)
                    .unwrap_or(*fallback)
            }
        }
    }
}

fn hex(text: &str) -> Option<Color> {
    let h = text.trim().strip_prefix('#')?;
    let digits: Vec<u8> = match h.len() {
        3 => h
            .chars()
            .map(|c| c.to_digit(16).map(|d| (d * 17) as u8))
            .collect::<Option<_>>()?,
        6 => (0..3)
            .map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Option<_>>()?,
        _ => return None,
    };
    Some(Color::from_rgba8(digits[0], digits[1], digits[2], 255))
}

/// The property a MapLibre expression reads (`["get", name]`, however wrapped).
fn property_of(expr: &Value) -> Option<String> {
    let items = expr.as_array()?;
    if items.first().and_then(Value::as_str) == Some("get") {
        return items.get(1).and_then(Value::as_str).map(str::to_string);
    }
    items.iter().skip(1).find_map(property_of)
}

/// A colour from a MapLibre paint value: a colour string, or a `match` on a property.
fn colour(value: &Value) -> Option<Colour> {
    if let Some(text) = value.as_str() {
        return hex(text).map(Colour::Fixed);
    }
    let items = value.as_array()?;
    if items.first().and_then(Value::as_str) != Some("match") || items.len() < 4 {
        return None;
    }
    let property = property_of(items.get(1)?)?;
    let fallback = items.last().and_then(Value::as_str).and_then(hex)?;
    let arms = items[2..items.len() - 1]
        .chunks(2)
        .filter_map(|pair| {
            let labels = match pair.first()? {
                Value::Array(l) => l
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_uppercase)
                    .collect(),
                Value::String(s) => vec![s.to_uppercase()],
                _ => return None,
            };
            Some((labels, hex(pair.get(1)?.as_str()?)?))
        })
        .collect();
    Some(Colour::Match {
        property,
        arms,
        fallback,
    })
}

/// How one layer is drawn on the sheet's map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLayer {
    /// Layer id (its tiles' MVT layer name).
    pub id: String,
    polygon: bool,
    fill: Option<(Colour, f32)>,
    line: Colour,
    width: f32,
    dash: Option<Vec<f32>>,
    /// The declaration's legend, when the fill is chosen by a property (so each entry is one
    /// colour of the map).
    legend: Vec<LegendEntry>,
}

impl MapLayer {
    /// The legend entry a feature is drawn as: the one listing its value, else the fallback
    /// (the entry listing no value).
    fn legend_entry(&self, props: Option<&Props>) -> Option<usize> {
        let Some((Colour::Match { property, .. }, _)) = &self.fill else {
            return None;
        };
        let value = value_of(props, property);
        value
            .and_then(|v| {
                self.legend
                    .iter()
                    .position(|e| e.values.iter().any(|x| x.to_uppercase() == v))
            })
            .or_else(|| self.legend.iter().position(|e| e.values.is_empty()))
    }

    fn from_hints(id: &str, polygon: bool, s: &StyleHints) -> MapLayer {
        let paint = |p: &Option<Value>, key: &str| p.as_ref().and_then(|v| v.get(key)).cloned();
        let fill = polygon
            .then(|| {
                // A layer drawn in 3D on screen (buildings) is coloured the same way flat.
                let c = paint(&s.fill_paint, "fill-color")
                    .or_else(|| paint(&s.extrusion_paint, "fill-extrusion-color"))
                    .and_then(|v| colour(&v))
                    .or_else(|| s.fill_color.as_deref().and_then(hex).map(Colour::Fixed))?;
                let opacity = paint(&s.fill_paint, "fill-opacity")
                    .and_then(|v| v.as_f64())
                    .map(|o| o as f32)
                    .or(s.fill_opacity)
                    .unwrap_or(0.35);
                // Half as strong as on screen: the outlines and the parcel must stay legible.
                Some((c, (opacity * 0.5).clamp(0.0, 1.0)))
            })
            .flatten();
        let line = paint(&s.line_paint, "line-color")
            .and_then(|v| colour(&v))
            .or_else(|| s.line_color.as_deref().and_then(hex).map(Colour::Fixed))
            .unwrap_or(Colour::Fixed(Color::from_rgba8(0x55, 0x55, 0x55, 255)));
        let width = paint(&s.line_paint, "line-width")
            .and_then(|v| v.as_f64())
            .map(|w| w as f32)
            .or(s.line_width)
            .unwrap_or(1.0);
        let legend = match &fill {
            Some((Colour::Match { .. }, _)) => s.legend.clone(),
            _ => Vec::new(),
        };
        MapLayer {
            id: id.to_string(),
            polygon,
            fill,
            line,
            width: width * WIDTH_FACTOR,
            dash: s.line_dash.clone(),
            legend,
        }
    }
}

/// The layers of the sheet's map: those the public portal's style (`public`) draws, readable
/// by everyone, polygons under lines, each group in the declarations' drawing order.
pub fn map_layers<'a>(layers: impl IntoIterator<Item = &'a Arc<dyn Layer>>) -> Vec<MapLayer> {
    let mut chosen: Vec<(u8, u8, MapLayer)> = layers
        .into_iter()
        .filter(|l| l.readers() == Readers::Everyone)
        .filter(|l| l.styles().iter().any(|s| s == "public"))
        .filter_map(|l| {
            let polygon = match l.geometry_kind() {
                GeometryKind::Polygon | GeometryKind::MultiPolygon => true,
                GeometryKind::LineString | GeometryKind::MultiLineString => false,
                GeometryKind::Point | GeometryKind::MultiPoint => return None,
            };
            let style = l.style();
            Some((
                u8::from(!polygon),
                style.draw_rank.unwrap_or(50),
                MapLayer::from_hints(l.id(), polygon, &style),
            ))
        })
        .collect();
    chosen.sort_by_key(|(group, rank, _)| (*group, *rank));
    chosen.into_iter().map(|(_, _, l)| l).collect()
}

/// A layer's tiles as read from the tile service: raw (uncompressed) MVT per tile.
#[derive(Debug, Clone)]
pub struct LayerTiles {
    tiles: Vec<(TileCoord, Vec<u8>)>,
}

/// Reads the tiles of `layers` the frame covers from the tile service (its cache when warm),
/// as an anonymous reader sees them.
pub async fn fetch(
    service: &tiles::TileService,
    frame: &Frame,
    layers: &[MapLayer],
) -> Result<Vec<LayerTiles>, MapError> {
    let coords = frame.tiles();
    let mut out = Vec::with_capacity(layers.len());
    for layer in layers {
        let mut tiles = Vec::with_capacity(coords.len());
        for t in &coords {
            let name = || format!("{}/{}/{}", t.z, t.x, t.y);
            let rendered = service
                .layer_tile(&layer.id, *t, Access::Public)
                .await
                .map_err(|error| MapError::Tile {
                    layer: layer.id.clone(),
                    tile: name(),
                    error,
                })?;
            if let Some(r) = rendered.filter(|r| !r.gzip.is_empty()) {
                let raw = tiles::gunzip(&r.gzip).map_err(|e| MapError::Gzip {
                    layer: layer.id.clone(),
                    tile: name(),
                    reason: e.to_string(),
                })?;
                tiles.push((*t, raw));
            }
        }
        out.push(LayerTiles { tiles });
    }
    Ok(out)
}

fn ring_path(pb: &mut PathBuilder, points: impl Iterator<Item = (f32, f32)>, close: bool) {
    let mut first = true;
    for (x, y) in points {
        if first {
            pb.move_to(x, y);
            first = false;
        } else {
            pb.line_to(x, y);
        }
    }
    if close && !first {
        pb.close();
    }
}

/// Adds a geometry of tile `t` to a path; whether it has area.
fn tile_geometry(
    pb: &mut PathBuilder,
    frame: &Frame,
    t: TileCoord,
    extent: f64,
    g: &geo_types::Geometry<f32>,
) {
    let px = |c: &geo_types::Coord<f32>| frame.tile_px(t, extent, f64::from(c.x), f64::from(c.y));
    let polygon = |pb: &mut PathBuilder, p: &geo_types::Polygon<f32>| {
        ring_path(pb, p.exterior().coords().map(px), true);
        for hole in p.interiors() {
            ring_path(pb, hole.coords().map(px), true);
        }
    };
    match g {
        geo_types::Geometry::Polygon(p) => polygon(pb, p),
        geo_types::Geometry::MultiPolygon(mp) => mp.iter().for_each(|p| polygon(pb, p)),
        geo_types::Geometry::LineString(l) => ring_path(pb, l.coords().map(px), false),
        geo_types::Geometry::MultiLineString(ml) => ml
            .iter()
            .for_each(|l| ring_path(pb, l.coords().map(px), false)),
        _ => {}
    }
}

fn stroke(width: f32, dash: Option<&[f32]>) -> Stroke {
    Stroke {
        width,
        line_join: tiny_skia::LineJoin::Round,
        dash: dash.and_then(|d| StrokeDash::new(d.iter().map(|v| v * width).collect(), 0.0)),
        ..Stroke::default()
    }
}

/// One line of the map's legend: a colour the map shows and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendItem {
    /// The layer drawn in it.
    pub layer: String,
    /// The value the colour stands for (a function code), when the entry names one.
    pub code: Option<String>,
    /// Its meaning in Vietnamese (the declaration's legend: for zones, `planning.zone_functions`).
    pub title_vi: String,
    /// Its meaning in English.
    pub title_en: String,
    /// The colour as printed on the map (the legend's colour at the map's fill opacity, over
    /// white), so the swatch matches what the reader sees.
    pub printed: [u8; 3],
}

/// Whether a legend value is a code of a code list (the planned functions' `O`, `TMDV`, land
/// use's `ODT`: upper-case letters and digits), printed before its title; a word such as a
/// building's status `planned` is not.
fn is_code(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The drawn map: the image and the legend of the colours it shows.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// PNG bytes.
    pub png: Vec<u8>,
    /// The legend entries of the features visible in the image, per layer in drawing order,
    /// each in its legend's order, once.
    pub legend: Vec<LegendItem>,
}

/// A CSS hex colour at `opacity` over white.
fn over_white(colour: &str, opacity: f32) -> Option<[u8; 3]> {
    let c = hex(colour)?;
    let mix = |v: f32| {
        ((v * opacity + (1.0 - opacity)) * 255.0)
            .round()
            .clamp(0.0, 255.0) as u8
    };
    Some([mix(c.red()), mix(c.green()), mix(c.blue())])
}

/// Draws the map: the layers' tiles (each clipped to its own tile, so the tiles' buffers are
/// not drawn twice) and the parcel (`parcel`: GeoJSON Polygon or MultiPolygon in CRS84)
/// outlined on top; the PNG and the legend of what it shows.
pub fn draw(
    frame: &Frame,
    layers: &[MapLayer],
    fetched: &[LayerTiles],
    parcel: &Value,
) -> Result<Drawn, MapError> {
    let mut pixmap = Pixmap::new(frame.size, frame.size)
        .ok_or_else(|| MapError::Image(format!("{0}×{0} pixels", frame.size)))?;
    pixmap.fill(Color::WHITE);
    let image = Rect::from_xywh(0.0, 0.0, frame.size as f32, frame.size as f32);
    let mut legend = Vec::new();
    for (layer, tiles) in layers.iter().zip(fetched) {
        let mut shown = vec![false; layer.legend.len()];
        for (t, raw) in &tiles.tiles {
            let decode = |reason: String| MapError::Decode {
                layer: layer.id.clone(),
                tile: format!("{}/{}/{}", t.z, t.x, t.y),
                reason,
            };
            let reader = mvt_reader::Reader::new(raw.clone()).map_err(|e| decode(e.to_string()))?;
            let (tl, br) = (
                frame.tile_px(*t, 1.0, 0.0, 0.0),
                frame.tile_px(*t, 1.0, 1.0, 1.0),
            );
            let clip = Rect::from_ltrb(tl.0, tl.1, br.0, br.1)
                .map(PathBuilder::from_rect)
                .and_then(|path| {
                    let mut mask = Mask::new(frame.size, frame.size)?;
                    mask.fill_path(&path, FillRule::Winding, false, Transform::identity());
                    Some(mask)
                });
            for meta in reader
                .get_layer_metadata()
                .map_err(|e| decode(e.to_string()))?
            {
                let extent = f64::from(meta.extent.max(1));
                let features = reader
                    .get_features(meta.layer_index)
                    .map_err(|e| decode(e.to_string()))?;
                for f in &features {
                    let mut pb = PathBuilder::new();
                    tile_geometry(&mut pb, frame, *t, extent, &f.geometry);
                    let Some(path) = pb.finish() else { continue };
                    let props = f.properties.as_ref();
                    // In the legend when inside the image and inside its own tile (a tile's
                    // buffer repeats its neighbours' features, clipped away when drawn).
                    let tile_box = Rect::from_ltrb(tl.0, tl.1, br.0, br.1);
                    let visible = [image, tile_box]
                        .iter()
                        .all(|r| r.is_some_and(|r| path.bounds().intersect(&r).is_some()));
                    if visible {
                        if let Some(i) = layer.legend_entry(props) {
                            shown[i] = true;
                        }
                    }
                    if let (true, Some((fill, opacity))) = (layer.polygon, &layer.fill) {
                        let mut c = fill.of(props);
                        c.apply_opacity(*opacity);
                        let mut paint = Paint::default();
                        paint.set_color(c);
                        paint.anti_alias = true;
                        pixmap.fill_path(
                            &path,
                            &paint,
                            FillRule::EvenOdd,
                            Transform::identity(),
                            clip.as_ref(),
                        );
                    }
                    let mut paint = Paint::default();
                    paint.set_color(layer.line.of(props));
                    paint.anti_alias = true;
                    pixmap.stroke_path(
                        &path,
                        &paint,
                        &stroke(layer.width, layer.dash.as_deref()),
                        Transform::identity(),
                        clip.as_ref(),
                    );
                }
            }
        }
        let opacity = layer.fill.as_ref().map_or(1.0, |(_, o)| *o);
        for (entry, _) in layer.legend.iter().zip(&shown).filter(|(_, s)| **s) {
            legend.push(LegendItem {
                layer: layer.id.clone(),
                code: entry.values.first().filter(|v| is_code(v)).cloned(),
                title_vi: entry.title_vi.clone(),
                title_en: entry.title_en.clone(),
                printed: over_white(&entry.colour, opacity).unwrap_or([0x80; 3]),
            });
        }
    }
    outline_parcel(&mut pixmap, frame, parcel);
    let png = pixmap
        .encode_png()
        .map_err(|e| MapError::Image(e.to_string()))?;
    Ok(Drawn { png, legend })
}

/// The rings of a GeoJSON Polygon or MultiPolygon.
fn rings(geometry: &Value) -> Vec<Vec<(f64, f64)>> {
    let polygons: Vec<&Value> = match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon") => geometry.get("coordinates").into_iter().collect(),
        Some("MultiPolygon") => geometry
            .get("coordinates")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    polygons
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_array)
        .map(|ring| {
            ring.iter()
                .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                .collect()
        })
        .collect()
}

fn outline_parcel(pixmap: &mut Pixmap, frame: &Frame, parcel: &Value) {
    let mut pb = PathBuilder::new();
    for ring in rings(parcel) {
        ring_path(
            &mut pb,
            ring.iter().map(|(lon, lat)| {
                let (x, y) = frame.to_px(*lon, *lat);
                (x as f32, y as f32)
            }),
            true,
        );
    }
    let Some(path) = pb.finish() else { return };
    let mut paint = Paint::default();
    paint.set_color(Color::from_rgba8(
        HIGHLIGHT[0],
        HIGHLIGHT[1],
        HIGHLIGHT[2],
        255,
    ));
    paint.anti_alias = true;
    pixmap.stroke_path(
        &path,
        &paint,
        &stroke(HIGHLIGHT_WIDTH, None),
        Transform::identity(),
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_centres_the_parcel_and_covers_it_with_tiles() {
        let bbox = [106.25, 11.48, 106.2505, 11.4805];
        let f = Frame::around(bbox, MAP_PX);
        let (cx, cy) = f.to_px(106.25025, 11.48025);
        assert!(
            (cx - 360.0).abs() < 1.0 && (cy - 360.0).abs() < 1.0,
            "{cx} {cy}"
        );
        let (x0, _) = f.to_px(bbox[0], bbox[3]);
        let (x1, _) = f.to_px(bbox[2], bbox[1]);
        assert!(
            ((x1 - x0) / f64::from(MAP_PX) - 0.4).abs() < 0.05,
            "{x0} {x1}"
        );
        let tiles = f.tiles();
        assert!(!tiles.is_empty() && tiles.len() <= 36, "{tiles:?}");
        // Every corner of the image lies in one of the tiles.
        for (px, py) in [(0.0, 0.0), (719.0, 0.0), (0.0, 719.0), (719.0, 719.0)] {
            assert!(tiles.iter().any(|t| {
                let (l, top) = f.tile_px(*t, 1.0, 0.0, 0.0);
                let (r, b) = f.tile_px(*t, 1.0, 1.0, 1.0);
                f64::from(l) <= px
                    && px <= f64::from(r)
                    && f64::from(top) <= py
                    && py <= f64::from(b)
            }));
        }
    }

    #[test]
    fn colours_come_from_hex_and_match_expressions() {
        assert_eq!(hex("#fff"), Some(Color::WHITE));
        assert_eq!(hex("#ff0000"), Some(Color::from_rgba8(255, 0, 0, 255)));
        assert_eq!(hex("red"), None);
        let expr = serde_json::json!([
            "match",
            ["upcase", ["to-string", ["get", "code"]]],
            ["ODT", "ONT"],
            "#ff0000",
            "LUC",
            "#00ff00",
            "#0000ff"
        ]);
        let c = colour(&expr).expect("a match");
        let mut props = std::collections::HashMap::new();
        props.insert(
            "code".to_string(),
            mvt_reader::feature::Value::String("ont".into()),
        );
        assert_eq!(c.of(Some(&props)), Color::from_rgba8(255, 0, 0, 255));
        props.insert(
            "code".to_string(),
            mvt_reader::feature::Value::String("XYZ".into()),
        );
        assert_eq!(c.of(Some(&props)), Color::from_rgba8(0, 0, 255, 255));
        assert_eq!(c.of(None), Color::from_rgba8(0, 0, 255, 255));
    }

    #[test]
    fn buildings_are_coloured_by_status_as_in_3d_and_their_legend_prints_no_code() {
        let decl = planning::plugin::layers()
            .into_iter()
            .find(|d| d.style.extrusion_paint.is_some())
            .expect("the buildings' declaration");
        let layer = MapLayer::from_hints("buildings", true, &decl.style);
        let Some((fill, _)) = &layer.fill else {
            panic!("buildings are filled: {layer:?}")
        };
        let status = |s: &str| {
            let mut props = std::collections::HashMap::new();
            props.insert(
                "status".to_string(),
                mvt_reader::feature::Value::String(s.into()),
            );
            fill.of(Some(&props))
        };
        let planned = hex(planning::plugin::PLANNED_BUILDING).expect("colour");
        let existing = hex(planning::plugin::EXISTING_BUILDING).expect("colour");
        assert_eq!((status("planned"), status("existing")), (planned, existing));
        assert_eq!(layer.legend.len(), 2);
        assert!(is_code("TMDV") && is_code("O") && is_code("ODT"));
        assert!(!is_code("planned") && !is_code("") && !is_code("Đất ở"));
    }
}
