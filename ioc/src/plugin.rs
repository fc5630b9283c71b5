//! The IOC's layer, declared once: the latest reading of every station's datastreams
//! ([`crate::live`]), coloured by status.

use gis_core::declare::LayerDecl;
use gis_core::feature::{Column, ColumnType::*, FeatureTable};
use gis_core::layer::{GeometryKind, RowFilter, StyleHints};
use serde_json::json;

/// The latest-value table as the registry sees it (rows are written by ingest only).
pub const LATEST_READINGS: FeatureTable = FeatureTable::keyed_by_source_id(
    "ioc",
    "latest_readings",
    GeometryKind::Point,
    &[
        Column::new("datastream_id", Integer, &[], false).titled("Mã luồng dữ liệu", "Datastream"),
        Column::new("station_code", Text, &[], false).titled("Mã trạm", "Station code"),
        Column::new("station", Text, &[], false).titled("Trạm", "Station"),
        Column::new("property", Text, &[], false).titled("Đại lượng", "Quantity"),
        Column::new("value", Double, &[], false).titled("Giá trị", "Value"),
        Column::new("unit", Text, &[], false).titled("Đơn vị", "Unit"),
        Column::new("observed_at", Text, &[], false).titled("Thời điểm đo", "Observed at"),
        Column::new("status", Text, &[], false).titled("Trạng thái", "Status"),
    ],
    &[],
);

/// The status colours (also the `/ioc` display's).
pub const STATUS_COLOURS: [(&str, &str); 4] = [
    ("ok", "#1a9850"),
    ("warning", "#f59e0b"),
    ("alarm", "#d7191c"),
    ("no_data", "#9e9e9e"),
];

/// The IOC's layers.
pub fn layers() -> Vec<LayerDecl> {
    let base = LayerDecl::new(
        LATEST_READINGS,
        "Số đo mới nhất của trạm quan trắc",
        "Latest station readings",
        "environment",
        (8, 20),
        "#1a9850",
    )
    .labelled("value");
    let mut colour = vec![json!("match"), json!(["get", "status"])];
    for (status, c) in &STATUS_COLOURS[..3] {
        colour.push(json!(status));
        colour.push(json!(c));
    }
    colour.push(json!(STATUS_COLOURS[3].1));
    vec![LayerDecl {
        // Readings move every minute or so; tiles are dropped as they do (`live`).
        cache_max_age: 10,
        style: StyleHints {
            circle_paint: Some(json!({
                "circle-color": colour,
                "circle-radius": 7,
                "circle-stroke-color": "#ffffff",
                "circle-stroke-width": 1.5,
            })),
            draw_rank: Some(40),
            ..base.style.clone()
        },
        // Live: never kept in the persistent tile store.
        seedable: false,
        // Datastreams not marked public are for signed-in staff only.
        row_filter: Some(RowFilter {
            everyone: "{t}public",
            insiders: None,
        }),
        ..base
    }]
}
