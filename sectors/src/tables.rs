//! Transport and environment feature tables as the importers see them.

use gis_core::feature::{Column, ColumnType::*, FeatureTable};
use gis_core::layer::GeometryKind;

const NAME: Column =
    Column::new("name", Text, &["TEN", "TENDIEM", "TEN_TRAM"], false).titled("Tên", "Name");

/// Road centrelines.
pub const ROADS: FeatureTable = FeatureTable::keyed_by_source_id(
    "sectors",
    "roads",
    GeometryKind::MultiLineString,
    &[
        Column::new("name", Text, &["TENDUONG", "TEN_DUONG", "TEN"], false).titled("Tên", "Name"),
        Column::new("road_class", Text, &["LOAIDUONG", "CAPDUONG"], false)
            .titled("Loại đường", "Road class"),
        Column::new("width_m", Double, &["BERONG", "BE_RONG", "LOGIOI"], false)
            .titled("Bề rộng (m)", "Width (m)"),
    ],
    &["MADUONG", "MA", "ID"],
);
/// Street lights.
pub const STREET_LIGHTS: FeatureTable = FeatureTable::keyed_by_source_id(
    "sectors",
    "street_lights",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MADEN", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("power_w", Double, &["CONGSUAT", "CS"], false)
            .titled("Công suất (W)", "Power (W)"),
        Column::new("lamp_type", Text, &["LOAIDEN", "LOAI"], false).titled("Loại đèn", "Lamp type"),
    ],
    &["MADEN", "MA", "ID"],
);
/// Traffic lights.
pub const TRAFFIC_LIGHTS: FeatureTable = FeatureTable::keyed_by_source_id(
    "sectors",
    "traffic_lights",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MA", "ID", "MADEN"], false).titled("Mã", "Code"),
        NAME,
    ],
    &["MA", "ID", "MADEN"],
);
/// Traffic and security cameras.
pub const CAMERAS: FeatureTable = FeatureTable::keyed_by_source_id(
    "sectors",
    "cameras",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MA", "ID", "MACAMERA"], false).titled("Mã", "Code"),
        NAME,
        Column::new("camera_type", Text, &["LOAI", "LOAICAMERA"], false)
            .titled("Loại camera", "Camera type"),
    ],
    &["MA", "ID", "MACAMERA"],
);
/// Bus stops.
pub const BUS_STOPS: FeatureTable = FeatureTable::keyed_by_source_id(
    "sectors",
    "bus_stops",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MA", "ID", "MATRAM"], false).titled("Mã", "Code"),
        NAME,
    ],
    &["MA", "ID", "MATRAM"],
);
/// Bus routes.
pub const BUS_ROUTES: FeatureTable = FeatureTable::keyed_by_source_id(
    "sectors",
    "bus_routes",
    GeometryKind::MultiLineString,
    &[
        Column::new("route_number", Text, &["SOTUYEN", "TUYEN", "MA"], false)
            .titled("Số tuyến", "Route number"),
        Column::new("name", Text, &["TENTUYEN", "TEN"], false).titled("Tên", "Name"),
    ],
    &["SOTUYEN", "MA", "ID"],
);
/// Environment monitoring stations.
pub const ENV_STATIONS: FeatureTable = FeatureTable::keyed_by_source_id(
    "sectors",
    "env_stations",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MATRAM", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("name", Text, &["TENTRAM", "TEN"], false).titled("Tên", "Name"),
        Column::new("station_type", Text, &["LOAI", "LOAITRAM"], false)
            .titled("Loại trạm", "Station type"),
    ],
    &["MATRAM", "MA", "ID"],
);

/// Every sector feature table.
pub const ALL: [FeatureTable; 7] = [
    ROADS,
    STREET_LIGHTS,
    TRAFFIC_LIGHTS,
    CAMERAS,
    BUS_STOPS,
    BUS_ROUTES,
    ENV_STATIONS,
];
