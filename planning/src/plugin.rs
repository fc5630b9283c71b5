//! Urban planning's layers, declared once: planning zones coloured by their planned function
//! (the planning palette of [`crate::functions`], with its legend), red lines, building lines
//! and buildings (footprints drawn in 3D by height or floors, existing or planned). Each declares [`PLAN_ROWS`]: everyone reads the rows of approved plans in force;
//! planners (and administrators) also read drafts. Zone imports report functions that are not
//! in the code list ([`ZoneHooks`]).

use gis_core::bulk::StagedRow;
use gis_core::declare::{ImportChecks, ImportContext, LayerDecl, LayerHooks, LocalBoxFuture};
use gis_core::layer::{LegendEntry, Roles, RowFilter, StyleHints};
use serde_json::json;
use sqlx::PgConnection;

use crate::functions::Functions;
use crate::tables::{BUILDINGS, BUILDING_LINES, RED_LINES, ZONES};

/// Rows of approved plans in force today — within their validity, from its first to its last
/// day — (and rows imported before plans existed, which carry none): what everyone reads. `{t}`
/// is the table alias with its dot. The rule is `planning.publicly_in_force` (migration 2007),
/// which the validity check ([`crate::plans::check_validity`]) applies too.
pub const IN_FORCE: &str = "{t}plan_id IS NULL OR {t}plan_id IN (SELECT id FROM planning.plans \
     WHERE planning.publicly_in_force(status, valid_from, valid_until))";

/// Rows of approved plans and of drafts: what planners and administrators read (superseded and
/// withdrawn versions stay out of the map; the plans API and the dated report reach them).
pub const WITH_DRAFTS: &str = "{t}plan_id IS NULL OR {t}plan_id IN (SELECT id FROM planning.plans \
     WHERE status IN ('approved', 'draft'))";

/// Colour of existing buildings (flat on printed maps, extruded on screen).
pub const EXISTING_BUILDING: &str = "#c8b8a2";
/// Colour of planned buildings.
pub const PLANNED_BUILDING: &str = "#6f9fd8";

/// The row filter of every planning layer.
pub const PLAN_ROWS: RowFilter = RowFilter {
    everyone: IN_FORCE,
    insiders: Some(WITH_DRAFTS),
    insiders_are: Roles::PLANNER,
};

/// Planning's layers without the database: zones are drawn in one colour, with no legend (the
/// function code list is data; servers build their styles with [`layers_with`]).
pub fn layers() -> Vec<LayerDecl> {
    layers_with(&Functions::default())
}

/// Planning's layers, zones coloured by the function code list `functions`
/// ([`crate::functions::load`]).
pub fn layers_with(functions: &Functions) -> Vec<LayerDecl> {
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
    let buildings = LayerDecl::new(
        BUILDINGS,
        "Công trình xây dựng",
        "Buildings",
        "planning",
        (15, 20),
        "#8a7a66",
    )
    .filled(EXISTING_BUILDING)
    .shown();
    vec![
        LayerDecl {
            cache_max_age: HOUR,
            style: StyleHints {
                // In 3D on screen: the height given, else floors of 3.6 m; planned ones blue.
                extrusion_paint: Some(json!({
                    "fill-extrusion-color": ["match", ["get", "status"],
                        "planned", PLANNED_BUILDING, EXISTING_BUILDING],
                    "fill-extrusion-height": ["coalesce", ["get", "height_m"],
                        ["*", ["coalesce", ["get", "floors"], 1], 3.6]],
                    "fill-extrusion-base": 0,
                    "fill-extrusion-opacity": 0.85,
                })),
                legend: vec![
                    LegendEntry {
                        colour: EXISTING_BUILDING.into(),
                        title_vi: "Công trình hiện trạng".into(),
                        title_en: "Existing building".into(),
                        values: vec!["existing".into()],
                    },
                    LegendEntry {
                        colour: PLANNED_BUILDING.into(),
                        title_vi: "Công trình theo quy hoạch".into(),
                        title_en: "Planned building".into(),
                        values: vec!["planned".into()],
                    },
                ],
                draw_rank: Some(40),
                ..buildings.style.clone()
            },
            styles: &["public"],
            row_filter: Some(PLAN_ROWS),
            ..buildings
        },
        LayerDecl {
            cache_max_age: HOUR,
            style: StyleHints {
                // The planning palette by function (codes or the land-use codes they map).
                fill_paint: Some(json!({
                    "fill-color": functions.colour_expression("land_use_function"),
                    "fill-opacity": 0.75,
                })),
                legend: if functions.0.is_empty() {
                    Vec::new()
                } else {
                    functions.legend()
                },
                label_min_zoom: Some(15),
                draw_rank: Some(2),
                ..zones.style.clone()
            },
            styles: &["public"],
            row_filter: Some(PLAN_ROWS),
            hooks: Some(&ZoneHooks),
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

/// The zones' import check: planned functions that are not in the code list are reported.
pub struct ZoneHooks;

impl LayerHooks for ZoneHooks {
    fn import_checks(&self, _ctx: ImportContext) -> Option<Box<dyn ImportChecks>> {
        Some(Box::new(ZoneChecks))
    }
}

struct ZoneChecks;

impl ImportChecks for ZoneChecks {
    fn observe(&mut self, _row: &StagedRow) {}

    fn findings<'a>(
        self: Box<Self>,
        conn: &'a mut PgConnection,
        stage: &'a str,
    ) -> LocalBoxFuture<'a, Result<Vec<String>, sqlx::Error>> {
        Box::pin(async move {
            Ok(crate::functions::unknown_in(conn, stage)
                .await?
                .into_iter()
                .collect())
        })
    }
}
