//! MapLibre styles (Style Spec v8) generated from the layer registry.
//!
//! [`style`] is a pure function from the registry and the server's base URL to a style
//! document: vector sources over the composite TileJSON of the style's layers
//! (`<base>/tiles/<id,id,…>.json`, one MVT layer per registry layer), glyphs and sprites served by
//! bando itself (nothing is fetched from the internet), then per layer `<id>-fill`, `<id>-line`,
//! `<id>-icon` or `<id>-circle`, and `<id>-label` style layers, each tagged with
//! `metadata["bando:layer"]`, `["bando:sector"]` and the titles so a web map can build its
//! layer tree and toggle layers.
//!
//! Sources ([`source_for`]): `bando` carries the cadastre and planning layers (the base of every
//! style; the public portal needs nothing else), and each other sector has its own source
//! `bando-<sector>` (`bando-transport`, `bando-water`, …). One composite for every layer is not
//! possible (a composite tile takes at most 16 layers) and would make every tile carry every
//! network; per-sector tiles are also fetched only while a sector's layers are in view.
//!
//! Colours: parcels by land-use code ([`land::land_use::map_colour`]), planning zones by planned
//! function (the planning palette, `planning::functions`, read from the database when the
//! registry is built there; each layer's `legend` goes into `bando:layers`), networks by their kind (water blue,
//! drains brown, power by voltage, roads by class), the rest from the registry's
//! [`StyleHints`](gis_core::layer::StyleHints). Only public properties are referenced.
//!
//! Zoom: style layers take `minzoom` from the registry and `maxzoom` = registry maximum + 1,
//! because a style layer's `maxzoom` is exclusive while the registry's range is inclusive.
//! Label layers may start later than their layer (parcel numbers from z17) but never earlier.

use std::collections::BTreeMap;
use std::sync::Arc;

use gis_core::layer::{Access, GeometryKind, Layer, LayerRegistry, Viewer};
use serde_json::{json, Value};

/// Fontstack of ordinary labels.
pub const FONT_REGULAR: &str = "Noto Sans Regular";
/// Fontstack of prominent labels (commune names).
pub const FONT_BOLD: &str = "Noto Sans Bold";

/// A style bando publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StyleInfo {
    /// Id in `/styles/{id}.json`.
    pub id: &'static str,
    /// Title in Vietnamese.
    pub title_vi: &'static str,
    /// Title in English.
    pub title_en: &'static str,
    /// Every public layer, or only those whose declaration names this style.
    every_layer: bool,
    /// Other styles whose layers this one draws too.
    also: &'static [&'static str],
    /// Every layer drawn visible (a display without a layer tree), not only those declared
    /// visible at start.
    all_visible: bool,
}

/// The styles, in the order `/styles` lists them.
pub const STYLES: &[StyleInfo] = &[
    StyleInfo {
        id: "planning",
        title_vi: "Bản đồ quy hoạch (tất cả các lớp)",
        title_en: "Planners' map (every layer)",
        every_layer: true,
        also: &[],
        all_visible: false,
    },
    StyleInfo {
        id: "public",
        title_vi: "Cổng công khai thông tin đất đai, quy hoạch",
        title_en: "Public disclosure portal",
        every_layer: false,
        also: &[],
        all_visible: false,
    },
    StyleInfo {
        id: "base",
        title_vi: "Bản đồ nền (ranh giới, giao thông)",
        title_en: "Base map (boundaries, roads)",
        every_layer: false,
        also: &[],
        all_visible: false,
    },
    StyleInfo {
        id: "ioc",
        title_vi: "Trung tâm điều hành (nền, camera, đèn tín hiệu, trạm quan trắc)",
        title_en: "Operations centre (base map, cameras, traffic lights, stations)",
        every_layer: false,
        also: &["base"],
        all_visible: true,
    },
];

/// Sprite icons the sprite sheet draws (a test checks every declared icon is one of them).
pub const ICONS: &[&str] = &[
    "hydrant",
    "valve",
    "water-meter",
    "water-source",
    "manhole",
    "power-pole",
    "substation",
    "power-switch",
    "power-customer",
    "street-light",
    "traffic-light",
    "camera",
    "bus-stop",
    "env-station",
];

/// Vietnamese and English names of a sector (the layer tree's groups); a sector no layer
/// should name shows its id.
pub fn sector_titles(sector: &str) -> (String, String) {
    match crate::catalog::sector_by_id(sector) {
        Some(s) => (s.title_vi.to_string(), s.title_en.to_string()),
        None => (sector.to_string(), sector.to_string()),
    }
}

/// The vector source of a sector's layers.
pub fn source_for(sector: &str) -> String {
    match crate::catalog::sector_by_id(sector) {
        Some(s) => s.source.to_string(),
        None => format!("bando-{sector}"),
    }
}

/// The style with this id.
pub fn info(id: &str) -> Option<&'static StyleInfo> {
    STYLES.iter().find(|s| s.id == id)
}

/// The registry layers a style draws for `viewer`, in registry order.
pub fn style_layers<'a>(
    info: &StyleInfo,
    registry: &'a LayerRegistry,
    viewer: &Viewer,
) -> Vec<&'a Arc<dyn Layer>> {
    registry
        .iter()
        .filter(|l| viewer.sees(l.as_ref()))
        .filter(|l| {
            info.every_layer
                || l.styles()
                    .iter()
                    .any(|s| s == info.id || info.also.contains(&s.as_str()))
        })
        .collect()
}

/// The style document `id` for a server reachable at `base_url` (`scheme://host`, no trailing
/// slash), drawing the layers `viewer` sees; `None` for an unknown id.
pub fn style(id: &str, registry: &LayerRegistry, base_url: &str, viewer: &Viewer) -> Option<Value> {
    let info = info(id)?;
    let mut layers = style_layers(info, registry, viewer);
    // Large areas under small ones, networks under the legal lines drawn on them.
    layers.sort_by_key(|l| l.style().draw_rank.unwrap_or(50));
    let mut sources: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for l in &layers {
        sources
            .entry(source_for(l.sector()))
            .or_default()
            .push(l.id());
    }
    let sources: serde_json::Map<String, Value> = sources
        .into_iter()
        .map(|(name, ids)| {
            let url = format!("{base_url}/tiles/{}.json", ids.join(","));
            (
                name,
                json!({"type": "vector", "url": url, "attribution": "© bando"}),
            )
        })
        .collect();

    let mut fills = Vec::new();
    let mut extrusions = Vec::new();
    let mut lines = Vec::new();
    let mut points = Vec::new();
    let mut labels = Vec::new();
    let mut sectors: BTreeMap<String, Value> = BTreeMap::new();
    let mut described = serde_json::Map::new();
    for layer in &layers {
        described.insert(layer.id().to_string(), describe(layer.as_ref()));
        let sector = layer.sector();
        let (svi, sen) = sector_titles(sector);
        sectors
            .entry(sector.to_string())
            .or_insert_with(|| json!({"id": sector, "title_vi": svi, "title_en": sen}));
        let l = Presented::new(layer.as_ref());
        match dimension(layer.geometry_kind()) {
            2 => {
                // Drawn in 3D on screen (buildings), else flat.
                if let Some(extrusion) = l.extrusion() {
                    extrusions.push(extrusion);
                } else if let Some(fill) = l.fill() {
                    fills.push(fill);
                }
                lines.push(l.outline());
            }
            1 => lines.push(l.line()),
            _ => points.push(l.point()),
        }
        if let Some(label) = l.label() {
            labels.push(label);
        }
    }

    let mut style_layers = vec![json!({
        "id": "background",
        "type": "background",
        "paint": {"background-color": "#f8f8f5"},
    })];
    style_layers.extend(fills);
    style_layers.extend(lines);
    style_layers.extend(extrusions);
    style_layers.extend(points);
    style_layers.extend(labels);
    // Layers off at start are in the style, switched off, so the map can offer them.
    for l in &mut style_layers {
        if !info.all_visible && l["metadata"]["bando:visible"] == json!(false) {
            l["layout"]["visibility"] = json!("none");
        }
    }

    Some(json!({
        "version": 8,
        "name": info.title_vi,
        "metadata": {
            "bando:style": info.id,
            "bando:title_vi": info.title_vi,
            "bando:title_en": info.title_en,
            "bando:sectors": in_sector_order(sectors),
            "bando:layers": described,
        },
        // Đồng Xoài, the provincial capital.
        "center": [106.883, 11.535],
        "zoom": 12,
        "sources": sources,
        "glyphs": format!("{base_url}/fonts/{{fontstack}}/{{range}}.pbf"),
        "sprite": format!("{base_url}/sprites/bando"),
        "layers": style_layers,
    }))
}

/// The sectors in the order [`crate::catalog::SECTORS`] lists them (the apps' order).
fn in_sector_order(sectors: BTreeMap<String, Value>) -> Vec<Value> {
    let rank = |id: &str| {
        crate::catalog::SECTORS
            .iter()
            .position(|s| s.id == id)
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<(String, Value)> = sectors.into_iter().collect();
    out.sort_by_key(|(id, _)| rank(id));
    out.into_iter().map(|(_, v)| v).collect()
}

/// What a map needs to list a layer and label its properties: titles, sector, whether it is
/// shown at start, and the public properties with their titles (in the style's order).
fn describe(layer: &dyn Layer) -> Value {
    let properties: Vec<Value> = layer
        .properties()
        .into_iter()
        .filter(|p| p.access == Access::Public)
        .map(|p| json!({"name": p.name, "title_vi": p.title_vi, "title_en": p.title_en}))
        .collect();
    let mut described = json!({
        "title_vi": layer.title_vi(),
        "title_en": layer.title_en(),
        "sector": layer.sector(),
        "visible": layer.visible_at_start(),
        "properties": properties,
    });
    // A data-driven colour's legend: colour, titles and the values drawn in it.
    let legend = layer.style().legend;
    if !legend.is_empty() {
        described["legend"] = json!(legend);
    }
    described
}

fn dimension(kind: GeometryKind) -> u8 {
    match kind {
        GeometryKind::Point | GeometryKind::MultiPoint => 0,
        GeometryKind::LineString | GeometryKind::MultiLineString => 1,
        GeometryKind::Polygon | GeometryKind::MultiPolygon => 2,
    }
}

/// A registry layer as the style draws it.
struct Presented<'a> {
    layer: &'a dyn Layer,
    hints: gis_core::layer::StyleHints,
    public: Vec<String>,
}

impl<'a> Presented<'a> {
    fn new(layer: &'a dyn Layer) -> Self {
        let public = layer
            .properties()
            .into_iter()
            .filter(|p| p.access == Access::Public)
            .map(|p| p.name)
            .collect();
        Presented {
            layer,
            hints: layer.style(),
            public,
        }
    }

    fn id(&self) -> &str {
        self.layer.id()
    }

    /// A public property of the layer (restricted ones are never styled on).
    fn property(&self, name: &str) -> Option<Value> {
        self.public
            .iter()
            .any(|p| p == name)
            .then(|| json!(["get", name]))
    }

    fn base(&self, suffix: &str, kind: &str) -> serde_json::Map<String, Value> {
        let (min, max) = self.layer.zoom_range();
        let mut m = serde_json::Map::new();
        m.insert("id".into(), json!(format!("{}-{suffix}", self.id())));
        m.insert("type".into(), json!(kind));
        m.insert("source".into(), json!(source_for(self.layer.sector())));
        m.insert("source-layer".into(), json!(self.id()));
        m.insert("minzoom".into(), json!(min));
        m.insert("maxzoom".into(), json!((max + 1).min(24)));
        m.insert(
            "metadata".into(),
            json!({
                "bando:layer": self.id(),
                "bando:sector": self.layer.sector(),
                "bando:title_vi": self.layer.title_vi(),
                "bando:title_en": self.layer.title_en(),
                "bando:visible": self.layer.visible_at_start(),
            }),
        );
        m
    }

    fn line_colour(&self) -> String {
        self.hints
            .line_color
            .clone()
            .unwrap_or_else(|| "#555555".into())
    }

    fn extrusion(&self) -> Option<Value> {
        let paint = self.hints.extrusion_paint.clone()?;
        let mut m = self.base("extrusion", "fill-extrusion");
        m.insert("paint".into(), paint);
        Some(Value::Object(m))
    }

    fn fill(&self) -> Option<Value> {
        let paint = match &self.hints.fill_paint {
            Some(paint) => paint.clone(),
            None => json!({
                "fill-color": self.hints.fill_color.clone()?,
                "fill-opacity": self.hints.fill_opacity.unwrap_or(0.35),
            }),
        };
        let mut m = self.base("fill", "fill");
        m.insert("paint".into(), paint);
        Some(Value::Object(m))
    }

    /// The paint of lines and outlines: the owner's, else from the colour, width and dash.
    fn line_paint(&self, default_width: f32) -> Value {
        if let Some(paint) = &self.hints.line_paint {
            return paint.clone();
        }
        let mut paint = json!({
            "line-color": self.line_colour(),
            "line-width": self.hints.line_width.unwrap_or(default_width),
        });
        if let Some(dash) = &self.hints.line_dash {
            paint["line-dasharray"] = json!(dash);
        }
        paint
    }

    fn outline(&self) -> Value {
        let mut m = self.base("line", "line");
        m.insert("paint".into(), self.line_paint(0.8));
        Value::Object(m)
    }

    fn line(&self) -> Value {
        let mut m = self.base("line", "line");
        m.insert(
            "layout".into(),
            json!({"line-join": "round", "line-cap": "round"}),
        );
        m.insert("paint".into(), self.line_paint(2.0));
        Value::Object(m)
    }

    fn point(&self) -> Value {
        match &self.hints.icon {
            Some(icon) => {
                let mut m = self.base("icon", "symbol");
                m.insert(
                    "layout".into(),
                    json!({
                        "icon-image": icon,
                        "icon-size": ["interpolate", ["linear"], ["zoom"], 12, 0.6, 18, 1.0],
                        // Dense assets (lights, meters) thin out until the street scale.
                        "icon-allow-overlap": ["step", ["zoom"], false, 17, true],
                    }),
                );
                Value::Object(m)
            }
            None => {
                let mut m = self.base("circle", "circle");
                let colour = self
                    .hints
                    .circle_color
                    .clone()
                    .unwrap_or_else(|| self.line_colour());
                let paint = self.hints.circle_paint.clone().unwrap_or_else(|| {
                    json!({"circle-color": colour, "circle-radius": 4,
                        "circle-stroke-color": "#ffffff", "circle-stroke-width": 1})
                });
                m.insert("paint".into(), paint);
                Value::Object(m)
            }
        }
    }

    fn label(&self) -> Option<Value> {
        let name = self.hints.label_property.as_deref()?;
        let get = self.property(name)?;
        let mut m = self.base("label", "symbol");
        let (min, _) = self.layer.zoom_range();
        // Dense labels start later than their features, never earlier.
        let start = self.hints.label_min_zoom.unwrap_or(min).max(min);
        m.insert("minzoom".into(), json!(start));
        let dim = dimension(self.layer.geometry_kind());
        let bold = self.hints.label_bold;
        let mut layout = json!({
            "text-field": ["to-string", get],
            "text-font": [if bold { FONT_BOLD } else { FONT_REGULAR }],
            "text-size": if bold { 14 } else { 12 },
        });
        match dim {
            1 => layout["symbol-placement"] = json!("line"),
            0 => {
                layout["text-offset"] = json!([0, 1.2]);
                layout["text-anchor"] = json!("top");
                layout["text-optional"] = json!(true);
            }
            _ => {}
        }
        m.insert("layout".into(), layout);
        m.insert(
            "paint".into(),
            json!({"text-color": if bold { "#4a1a5c" } else { "#333333" },
                "text-halo-color": "#ffffff", "text-halo-width": 1.2}),
        );
        Some(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> LayerRegistry {
        crate::registry().expect("registry")
    }

    fn walk<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
        out.push(v);
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }

    #[test]
    fn style_planning_has_every_public_layer_and_absolute_urls() {
        let reg = registry();
        let s = style("planning", &reg, "http://h:1", &Viewer::anonymous()).expect("style");
        assert_eq!(s["version"], 8);
        assert_eq!(s["glyphs"], "http://h:1/fonts/{fontstack}/{range}.pbf");
        assert_eq!(s["sprite"], "http://h:1/sprites/bando");
        let mut ids = Vec::new();
        for (name, source) in s["sources"].as_object().expect("sources") {
            let url = source["url"].as_str().expect("url");
            let list = url
                .strip_prefix("http://h:1/tiles/")
                .and_then(|u| u.strip_suffix(".json"))
                .expect("composite TileJSON");
            assert!(list.split(',').count() <= 16, "{name}: too many layers");
            for id in list.split(',') {
                let layer = reg.get(id).expect("registered");
                assert_eq!(&source_for(layer.sector()), name);
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut expected: Vec<&str> = reg
            .iter()
            .filter(|l| Viewer::anonymous().sees(l.as_ref()))
            .map(|l| l.id())
            .collect();
        expected.sort_unstable();
        assert_eq!(ids, expected);
        assert!(
            !ids.contains(&"water_meters"),
            "a staff layer in the public style"
        );
        // An administrator's style draws every layer.
        let admin = Viewer::new(gis_core::layer::Roles::ADMIN, Vec::new()).expect("viewer");
        let all = style("planning", &reg, "http://h:1", &admin).expect("style");
        assert_eq!(
            all["metadata"]["bando:layers"].as_object().map(|m| m.len()),
            Some(reg.iter().count())
        );
        let layers = s["layers"].as_array().expect("layers");
        assert_eq!(layers[0]["type"], "background");
        for l in &layers[1..] {
            let id = l["metadata"]["bando:layer"].as_str().expect("bando:layer");
            assert_eq!(l["source-layer"], id);
            let layer = reg.get(id).expect("registered");
            assert_eq!(l["source"], source_for(layer.sector()));
            let (min, max) = layer.zoom_range();
            assert_eq!(l["maxzoom"], u64::from(max) + 1, "{}", l["id"]);
            let lmin = l["minzoom"].as_u64().expect("minzoom");
            assert!(lmin >= u64::from(min), "{}", l["id"]);
            if !l["id"].as_str().expect("id").ends_with("-label") {
                assert_eq!(lmin, u64::from(min), "{}", l["id"]);
            }
        }
        for id in expected {
            assert!(
                layers.iter().any(|l| l["metadata"]["bando:layer"] == id),
                "{id} has no style layer"
            );
        }
    }

    #[test]
    fn style_never_mentions_restricted_properties_and_colours_parcels_by_land_use() {
        let reg = registry();
        let s = style("planning", &reg, "http://h", &Viewer::anonymous()).expect("style");
        let mut all = Vec::new();
        walk(&s, &mut all);
        let restricted: Vec<String> = reg
            .iter()
            .flat_map(|l| l.properties())
            .filter(|p| p.access == Access::Restricted)
            .map(|p| p.name)
            .collect();
        assert!(restricted.contains(&"owner_name".to_string()));
        for v in all {
            if let Value::String(text) = v {
                assert!(!restricted.contains(text), "{text} is restricted");
            }
        }
        let fill = s["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .find(|l| l["id"] == "parcels-fill")
            .expect("parcels-fill");
        let expr = fill["paint"]["fill-color"].as_array().expect("match");
        assert_eq!(expr[0], "match");
        let text = serde_json::to_string(expr).expect("json");
        assert!(text.contains("land_use_code") && text.contains("\"ODT\""));
        let odt = expr
            .iter()
            .position(|v| v.as_array().is_some_and(|a| a.contains(&json!("ODT"))))
            .expect("ODT arm");
        assert_eq!(
            expr[odt + 1],
            json!(land::land_use::map_colour("ODT").expect("colour"))
        );
    }

    #[test]
    fn style_public_is_the_portal_subset_and_unknown_is_none() {
        let reg = registry();
        let s = style("public", &reg, "http://h", &Viewer::anonymous()).expect("style");
        let sources = s["sources"].as_object().expect("sources");
        assert_eq!(sources.len(), 1, "the portal reads one source");
        let url = sources["bando"]["url"].as_str().expect("url");
        assert!(
            url.contains("parcels") && !url.contains("hydrants"),
            "{url}"
        );
        assert!(style("nope", &reg, "http://h", &Viewer::anonymous()).is_none());
        for l in reg.iter() {
            // Point layers draw an icon of the sprite, or circles of their own paint (the
            // IOC's readings, coloured by status).
            if dimension(l.geometry_kind()) == 0 && l.style().circle_paint.is_none() {
                assert!(
                    l.style().icon.is_some_and(|i| ICONS.contains(&i.as_str())),
                    "{}",
                    l.id()
                );
            }
        }
    }
}

#[cfg(test)]
mod described {
    use super::*;

    #[test]
    fn style_describes_each_layer_once_and_switches_off_those_hidden_at_start() {
        let reg = crate::registry().expect("registry");
        let s = style("planning", &reg, "http://h", &Viewer::anonymous()).expect("style");
        let described = s["metadata"]["bando:layers"]
            .as_object()
            .expect("bando:layers");
        let mut hidden = 0;
        for l in reg.iter().filter(|l| Viewer::anonymous().sees(l.as_ref())) {
            let d = &described[l.id()];
            assert_eq!(d["title_vi"], l.title_vi(), "{}", l.id());
            assert_eq!(d["visible"], l.visible_at_start(), "{}", l.id());
            let names: Vec<&str> = d["properties"]
                .as_array()
                .expect("properties")
                .iter()
                .map(|p| p["name"].as_str().expect("name"))
                .collect();
            for p in l.properties() {
                assert_eq!(names.contains(&p.name.as_str()), p.access == Access::Public);
            }
            for sl in s["layers"].as_array().expect("layers") {
                if sl["metadata"]["bando:layer"] == l.id() {
                    let off = sl["layout"]["visibility"] == "none";
                    assert_eq!(off, !l.visible_at_start(), "{}", sl["id"]);
                    hidden += usize::from(off);
                }
            }
        }
        assert!(hidden > 0, "some layers start switched off");
        assert!(described["parcels"]["visible"] == true);
    }
}
