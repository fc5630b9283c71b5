//! Urban planning's layers, declared once: planning zones coloured by their planned land-use
//! function, red lines and building lines. Each declares [`PLAN_ROWS`]: everyone reads the
//! rows of approved plans in force; planners (and administrators) also read drafts.

use gis_core::declare::LayerDecl;
use gis_core::layer::{Roles, RowFilter, StyleHints};
use serde_json::json;

use crate::tables::{BUILDING_LINES, RED_LINES, ZONES};

/// Rows of approved plans in force (and rows imported before plans existed, which carry
/// none): what everyone reads. `{t}` is the table alias with its dot.
pub const IN_FORCE: &str = "{t}plan_id IS NULL OR {t}plan_id IN (SELECT id FROM planning.plans \
     WHERE status = 'approved' AND (valid_until IS NULL OR valid_until >= current_date))";

/// Rows of approved plans and of drafts: what planners and administrators read (superseded and
/// withdrawn versions stay out of the map; the plans API and the dated report reach them).
pub const WITH_DRAFTS: &str = "{t}plan_id IS NULL OR {t}plan_id IN (SELECT id FROM planning.plans \
     WHERE status IN ('approved', 'draft'))";

/// The row filter of every planning layer.
pub const PLAN_ROWS: RowFilter = RowFilter {
    everyone: IN_FORCE,
    insiders: Some(WITH_DRAFTS),
    insiders_are: Roles::PLANNER,
};

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
            row_filter: Some(PLAN_ROWS),
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
            row_filter: Some(PLAN_ROWS),
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
            row_filter: Some(PLAN_ROWS),
            ..building
        },
    ]
}
