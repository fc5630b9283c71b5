//! The IOC's layers, declared once: the latest reading of every station's datastreams
//! ([`crate::live`]), coloured by status, and the open events ([`crate::events`]), coloured
//! by severity. Both are read by the insiders their row filters name — IOC operators (and
//! administrators) — in full; everyone else reads the rows of public datastreams only, and
//! events are for staff at all.

use gis_core::declare::LayerDecl;
use gis_core::feature::NaturalKey;
use gis_core::feature::{Column, ColumnType::*, FeatureTable};
use gis_core::layer::{
    ClusterKeep, Generalisation, GeometryKind, Readers, Roles, RowFilter, StyleHints,
};
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

/// The events layer's table (`ioc.event_features`, kept in step with `ioc.events` by a trigger
/// of migration 6003): open and acknowledged events with a location.
pub const EVENTS: FeatureTable = FeatureTable {
    kind: "events",
    schema: "ioc",
    table: "event_features",
    geometry: GeometryKind::Point,
    columns: &[
        Column::new("event_id", Integer, &[], false).titled("Mã sự kiện", "Event"),
        Column::new("kind", Text, &[], false).titled("Loại sự kiện", "Type"),
        Column::new("severity", Text, &[], false).titled("Mức độ", "Severity"),
        Column::new("status", Text, &[], false).titled("Trạng thái", "Status"),
        Column::new("title", Text, &[], false).titled("Nội dung", "Title"),
        Column::new("raised_at", Text, &[], false).titled("Thời điểm", "Time"),
    ],
    natural_key: NaturalKey::SourceId,
    source_id_fields: &[],
    check: None,
};

/// The severity colours of events (also the `/ioc` display's).
pub const SEVERITY_COLOURS: [(&str, &str); 4] = [
    ("info", "#2563eb"),
    ("warning", "#f59e0b"),
    ("alarm", "#d7191c"),
    ("critical", "#7f0000"),
];

/// Rows of datastreams readable without being an IOC operator (the `public` column each IOC
/// layer keeps from its datastream); operators and administrators read every row.
pub const PUBLIC_DATASTREAMS: RowFilter = RowFilter {
    everyone: "{t}public",
    insiders: None,
    insiders_are: Roles::IOC_OPERATOR,
};

/// The status colours (also the `/ioc` display's).
pub const STATUS_COLOURS: [(&str, &str); 4] = [
    ("ok", "#1a9850"),
    ("warning", "#f59e0b"),
    ("alarm", "#d7191c"),
    ("no_data", "#9e9e9e"),
];

/// The first zoom drawing every station on its own; below it the latest readings are clustered.
pub const CLUSTERED_BELOW: u8 = 12;

/// Statuses from the least urgent to the most: a cluster takes its most urgent station's.
pub const STATUS_RANKS: [&str; 4] = ["ok", "no_data", "warning", "alarm"];

/// The IOC's layers.
pub fn layers() -> Vec<LayerDecl> {
    let base = LayerDecl::new(
        LATEST_READINGS,
        "Số đo mới nhất của trạm quan trắc",
        "Latest station readings",
        "environment",
        (CLUSTERED_BELOW, 20),
        "#1a9850",
    )
    .labelled("value");
    let mut colour = vec![json!("match"), json!(["get", "status"])];
    for (status, c) in &STATUS_COLOURS[..3] {
        colour.push(json!(status));
        colour.push(json!(c));
    }
    colour.push(json!(STATUS_COLOURS[3].1));
    let readings = LayerDecl {
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
        // Below z12 stations are clustered, each cluster in the colour of its most urgent
        // station (an alarm is never hidden inside a green cluster).
        generalisation: Some(Generalisation::Cluster {
            detail_zoom: CLUSTERED_BELOW,
            cell_px: gis_core::declare::CLUSTER_CELL_PX,
            keep: Some(ClusterKeep {
                column: "status".into(),
                ranks: STATUS_RANKS.iter().map(|s| s.to_string()).collect(),
            }),
        }),
        // Datastreams not marked public are for IOC operators (and administrators) only.
        row_filter: Some(PUBLIC_DATASTREAMS),
        ..base
    };
    vec![readings, events()]
}

/// The events layer: points coloured by severity, acknowledged ones faded (closed ones are
/// not in the table); staff only, and the events of private datastreams for operators only.
fn events() -> LayerDecl {
    let base = LayerDecl::new(
        EVENTS,
        "Sự kiện, sự cố đang xử lý",
        "Open events and incidents",
        "security",
        (8, 20),
        SEVERITY_COLOURS[2].1,
    )
    .labelled("title");
    let mut colour = vec![json!("match"), json!(["get", "severity"])];
    for (severity, c) in &SEVERITY_COLOURS {
        colour.push(json!(severity));
        colour.push(json!(c));
    }
    colour.push(json!(SEVERITY_COLOURS[2].1));
    LayerDecl {
        cache_max_age: 10,
        style: StyleHints {
            circle_paint: Some(json!({
                "circle-color": colour,
                "circle-radius": ["match", ["get", "severity"], ["alarm", "critical"], 10, 8],
                "circle-opacity": ["match", ["get", "status"], "acknowledged", 0.45, 0.95],
                "circle-stroke-color": "#ffffff",
                "circle-stroke-width": 2,
            })),
            draw_rank: Some(45),
            ..base.style.clone()
        },
        readers: Readers::Only(Roles::STAFF),
        row_filter: Some(PUBLIC_DATASTREAMS),
        ..base
    }
}
