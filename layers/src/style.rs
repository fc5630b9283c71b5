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
//! Colours: parcels and planning zones by land-use code ([`land::land_use::map_colour`]; the
//! planning zones' function codes are land-use codes), networks by their kind (water blue,
//! drains brown, power by voltage, roads by class), the rest from the registry's
//! [`StyleHints`](gis_core::layer::StyleHints). Only public properties are referenced.
//!
//! Zoom: style layers take `minzoom` from the registry and `maxzoom` = registry maximum + 1,
//! because a style layer's `maxzoom` is exclusive while the registry's range is inclusive.
//! Label layers may start later than their layer (parcel numbers from z17) but never earlier.

use std::collections::BTreeMap;
use std::sync::Arc;

use gis_core::layer::{Access, GeometryKind, Layer, LayerRegistry, Sector};
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
    /// Layer ids of the style, or `None` for every public layer.
    layers: Option<&'static [&'static str]>,
}

/// The styles, in the order `/styles` lists them.
pub const STYLES: &[StyleInfo] = &[
    StyleInfo {
        id: "planning",
        title_vi: "Bản đồ quy hoạch (tất cả các lớp)",
        title_en: "Planners' map (every layer)",
        layers: None,
    },
    StyleInfo {
        id: "public",
        title_vi: "Cổng công khai thông tin đất đai, quy hoạch",
        title_en: "Public disclosure portal",
        layers: Some(&[
            "communes",
            "map_sheets",
            "parcels",
            "planning_zones",
            "red_lines",
            "building_lines",
        ]),
    },
    StyleInfo {
        id: "base",
        title_vi: "Bản đồ nền (ranh giới, giao thông)",
        title_en: "Base map (boundaries, roads)",
        layers: Some(&["communes", "roads"]),
    },
];

/// Sprite icons the styles use (the sprite sheet must draw each of them).
pub const ICONS: &[&str] = &[
    "hydrant",
    "valve",
    "water-meter",
    "manhole",
    "power-pole",
    "substation",
    "street-light",
    "traffic-light",
    "camera",
    "bus-stop",
    "env-station",
];

/// The sprite icon drawn for a point layer.
pub fn icon_for(layer_id: &str) -> Option<&'static str> {
    Some(match layer_id {
        "hydrants" => "hydrant",
        "water_valves" => "valve",
        "water_meters" => "water-meter",
        "manholes" => "manhole",
        "power_poles" => "power-pole",
        "substations" => "substation",
        "street_lights" => "street-light",
        "traffic_lights" => "traffic-light",
        "cameras" => "camera",
        "bus_stops" => "bus-stop",
        "env_stations" => "env-station",
        _ => return None,
    })
}

/// Vietnamese and English names of a sector (the layer tree's groups).
pub fn sector_titles(sector: Sector) -> (&'static str, &'static str) {
    (sector.title_vi(), sector.title_en())
}

/// The vector source of a sector's layers: `bando` for cadastre and planning, else
/// `bando-<sector>`.
pub fn source_for(sector: Sector) -> String {
    match sector {
        Sector::Cadastre | Sector::Planning => "bando".to_string(),
        other => format!("bando-{}", other.as_str()),
    }
}

/// The style with this id.
pub fn info(id: &str) -> Option<&'static StyleInfo> {
    STYLES.iter().find(|s| s.id == id)
}

/// The public registry layers a style draws, in registry order.
pub fn style_layers<'a>(info: &StyleInfo, registry: &'a LayerRegistry) -> Vec<&'a Arc<dyn Layer>> {
    registry
        .iter()
        .filter(|l| l.access() == Access::Public)
        .filter(|l| info.layers.is_none_or(|ids| ids.contains(&l.id())))
        .collect()
}

/// The style document `id` for a server reachable at `base_url` (`scheme://host`, no trailing
/// slash); `None` for an unknown id.
pub fn style(id: &str, registry: &LayerRegistry, base_url: &str) -> Option<Value> {
    let info = info(id)?;
    let mut layers = style_layers(info, registry);
    // Large areas under small ones, networks under the legal lines drawn on them.
    layers.sort_by_key(|l| draw_rank(l.id()));
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
    let mut lines = Vec::new();
    let mut points = Vec::new();
    let mut labels = Vec::new();
    let mut sectors: BTreeMap<&'static str, Value> = BTreeMap::new();
    let mut described = serde_json::Map::new();
    for layer in &layers {
        described.insert(layer.id().to_string(), describe(layer.as_ref()));
        let sector = layer.sector();
        let (svi, sen) = sector_titles(sector);
        sectors
            .entry(sector.as_str())
            .or_insert_with(|| json!({"id": sector.as_str(), "title_vi": svi, "title_en": sen}));
        let l = Presented::new(layer.as_ref());
        match dimension(layer.geometry_kind()) {
            2 => {
                if let Some(fill) = l.fill() {
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
    style_layers.extend(points);
    style_layers.extend(labels);
    // Layers off at start are in the style, switched off, so the map can offer them.
    for l in &mut style_layers {
        if l["metadata"]["bando:visible"] == json!(false) {
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
            "bando:sectors": sectors.into_values().collect::<Vec<_>>(),
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

/// What a map needs to list a layer and label its properties: titles, sector, whether it is
/// shown at start, and the public properties with their titles (in the style's order).
fn describe(layer: &dyn Layer) -> Value {
    let properties: Vec<Value> = layer
        .properties()
        .into_iter()
        .filter(|p| p.access == Access::Public)
        .map(|p| json!({"name": p.name, "title_vi": p.title_vi, "title_en": p.title_en}))
        .collect();
    json!({
        "title_vi": layer.title_vi(),
        "title_en": layer.title_en(),
        "sector": layer.sector().as_str(),
        "visible": layer.visible_at_start(),
        "properties": properties,
    })
}

/// Drawing order within a geometry group (lower first, i.e. underneath).
fn draw_rank(id: &str) -> u8 {
    match id {
        "communes" => 0,
        "map_sheets" => 1,
        "planning_zones" => 2,
        "parcels" => 3,
        "roads" => 10,
        "bus_routes" => 11,
        "drains" => 12,
        "water_pipes" => 13,
        "power_lines" => 14,
        "building_lines" => 20,
        "red_lines" => 21,
        _ => 50,
    }
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
                "bando:sector": self.layer.sector().as_str(),
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

    /// The land-use code property of a land-use-coloured layer.
    fn land_use_property(&self) -> Option<Value> {
        match self.id() {
            "parcels" => self.property("land_use_code"),
            "planning_zones" => self.property("land_use_function"),
            _ => None,
        }
    }

    fn fill(&self) -> Option<Value> {
        let fallback = self.hints.fill_color.clone();
        let (colour, opacity) = match self.land_use_property() {
            Some(get) => {
                let fallback = fallback.unwrap_or_else(|| "#eeeeee".into());
                (land_use_match(get, &fallback), 0.75)
            }
            None => (json!(fallback?), self.hints.fill_opacity.unwrap_or(0.35)),
        };
        let mut m = self.base("fill", "fill");
        m.insert(
            "paint".into(),
            json!({"fill-color": colour, "fill-opacity": opacity}),
        );
        Some(Value::Object(m))
    }

    fn outline(&self) -> Value {
        let mut m = self.base("line", "line");
        let width = match self.id() {
            "communes" => json!(["interpolate", ["linear"], ["zoom"], 6, 1.0, 14, 2.5]),
            "map_sheets" => json!(1.2),
            _ => json!(self.hints.line_width.unwrap_or(0.8)),
        };
        let mut paint = json!({"line-color": self.line_colour(), "line-width": width});
        if self.id() == "communes" || self.id() == "map_sheets" {
            paint["line-dasharray"] = json!([4, 2]);
        }
        m.insert("paint".into(), paint);
        Value::Object(m)
    }

    fn line(&self) -> Value {
        let mut m = self.base("line", "line");
        let hint = self.line_colour();
        let zoom_width =
            |a: f64, b: f64| json!(["interpolate", ["linear"], ["zoom"], 10, a, 18, b]);
        let paint = match self.id() {
            "water_pipes" => {
                let width = match self.property("diameter_mm") {
                    Some(d) => json!([
                        "interpolate",
                        ["linear"],
                        ["coalesce", d, 100],
                        50,
                        1.0,
                        300,
                        2.5,
                        1000,
                        4.0
                    ]),
                    None => json!(1.5),
                };
                json!({"line-color": "#1f78b4", "line-width": width})
            }
            "drains" => json!({"line-color": "#8c5a2b", "line-width": 2.0}),
            "power_lines" => {
                let colour = match self.property("voltage_kv") {
                    Some(v) => json!([
                        "step",
                        ["coalesce", v, 0],
                        "#fd8d3c",
                        22,
                        "#f03b20",
                        110,
                        "#bd0026"
                    ]),
                    None => json!("#f03b20"),
                };
                json!({"line-color": colour, "line-width": 1.5, "line-dasharray": [3, 2]})
            }
            "roads" => {
                let (colour, width) = match self.property("road_class") {
                    Some(class) => (
                        json!([
                            "match",
                            class.clone(),
                            "Quốc lộ",
                            "#e8553e",
                            "Đường tỉnh",
                            "#f5a623",
                            "Đường huyện",
                            "#f7d96b",
                            "Đường đô thị",
                            "#9e9e9e",
                            "#bdbdbd"
                        ]),
                        json!([
                            "interpolate",
                            ["linear"],
                            ["zoom"],
                            8,
                            ["match", class.clone(), ["Quốc lộ", "Đường tỉnh"], 1.5, 0.5],
                            18,
                            ["match", class, ["Quốc lộ", "Đường tỉnh"], 10, 6]
                        ]),
                    ),
                    None => (json!(hint), zoom_width(1.0, 6.0)),
                };
                json!({"line-color": colour, "line-width": width})
            }
            "red_lines" => json!({"line-color": "#e41a1c", "line-width": 1.5}),
            "building_lines" => {
                json!({"line-color": hint, "line-width": 1.2, "line-dasharray": [4, 3]})
            }
            _ => json!({"line-color": hint, "line-width": self.hints.line_width.unwrap_or(2.0)}),
        };
        m.insert(
            "layout".into(),
            json!({"line-join": "round", "line-cap": "round"}),
        );
        m.insert("paint".into(), paint);
        Value::Object(m)
    }

    fn point(&self) -> Value {
        match icon_for(self.id()) {
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
                m.insert(
                    "paint".into(),
                    json!({"circle-color": colour, "circle-radius": 4,
                        "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}),
                );
                Value::Object(m)
            }
        }
    }

    fn label(&self) -> Option<Value> {
        let name = self.hints.label_property.as_deref()?;
        let get = self.property(name)?;
        let mut m = self.base("label", "symbol");
        let (min, _) = self.layer.zoom_range();
        // Dense labels start later than their features.
        let start = match self.id() {
            "parcels" => 17,
            "planning_zones" => 15,
            "map_sheets" => 13,
            "roads" => 14,
            _ => min,
        };
        m.insert("minzoom".into(), json!(start.max(min)));
        let dim = dimension(self.layer.geometry_kind());
        let bold = self.id() == "communes";
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

/// `["match", get, [codes…], colour, …, fallback]`, one arm per colour.
fn land_use_match(get: Value, fallback: &str) -> Value {
    let mut by_colour: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (code, colour) in land::land_use::map_colours() {
        by_colour.entry(colour).or_default().push(code);
    }
    let mut expr = vec![json!("match"), json!(["upcase", ["to-string", get]])];
    for (colour, codes) in by_colour {
        expr.push(json!(codes));
        expr.push(json!(colour));
    }
    expr.push(json!(fallback));
    Value::Array(expr)
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
        let s = style("planning", &reg, "http://h:1").expect("style");
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
        let mut expected: Vec<&str> = reg.iter().map(|l| l.id()).collect();
        expected.sort_unstable();
        assert_eq!(ids, expected);
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
        let s = style("planning", &reg, "http://h").expect("style");
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
        let s = style("public", &reg, "http://h").expect("style");
        let sources = s["sources"].as_object().expect("sources");
        assert_eq!(sources.len(), 1, "the portal reads one source");
        let url = sources["bando"]["url"].as_str().expect("url");
        assert!(
            url.contains("parcels") && !url.contains("hydrants"),
            "{url}"
        );
        assert!(style("nope", &reg, "http://h").is_none());
        for l in reg.iter() {
            if dimension(l.geometry_kind()) == 0 {
                assert!(
                    icon_for(l.id()).is_some_and(|i| ICONS.contains(&i)),
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
        let s = style("planning", &reg, "http://h").expect("style");
        let described = s["metadata"]["bando:layers"]
            .as_object()
            .expect("bando:layers");
        let mut hidden = 0;
        for l in reg.iter().filter(|l| l.access() == Access::Public) {
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
