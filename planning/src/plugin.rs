//! Urban planning's layers, declared once: planning zones coloured by their planned land-use
//! function, red lines and building lines.

use gis_core::declare::LayerDecl;
use gis_core::layer::StyleHints;
use serde_json::json;

use crate::tables::{BUILDING_LINES, RED_LINES, ZONES};

/// Planning's layers.
pub fn layers() -> Vec<LayerDecl> {
    // Plans change by decision.
    const HOUR: u32 = 3600;
    let zones = LayerDecl::new(
        ZONES,
        "Ô quy hoạch",
        "Planning zones",
        "planning",
        (10, 20),
        "#c51b7d",
    )
    .filled("#ffd1dc")
    .labelled("zone_code")
    .shown();
    let red = LayerDecl::new(
        RED_LINES,
        "Chỉ giới đường đỏ",
        "Red lines",
        "planning",
        (12, 20),
        "#e41a1c",
    )
    .shown();
    let building = LayerDecl::new(
        BUILDING_LINES,
        "Chỉ giới xây dựng",
        "Building lines",
        "planning",
        (14, 20),
        "#377eb8",
    );
    vec![
        LayerDecl {
            cache_max_age: HOUR,
            style: StyleHints {
                // A zone's function is a land-use code: the land-use map's colours.
                fill_paint: Some(json!({
                    "fill-color": land::land_use::colour_expression("land_use_function", "#ffd1dc"),
                    "fill-opacity": 0.75,
                })),
                label_min_zoom: Some(15),
                draw_rank: Some(2),
                ..zones.style.clone()
            },
            styles: &["public"],
            ..zones
        },
        LayerDecl {
            cache_max_age: HOUR,
            style: StyleHints {
                line_paint: Some(json!({"line-color": "#e41a1c", "line-width": 1.5})),
                draw_rank: Some(21),
                ..red.style.clone()
            },
            styles: &["public"],
            ..red
        },
        LayerDecl {
            cache_max_age: HOUR,
            style: StyleHints {
                line_width: Some(1.2),
                line_dash: Some(vec![4.0, 3.0]),
                draw_rank: Some(20),
                ..building.style.clone()
            },
            styles: &["public"],
            ..building
        },
    ]
}
