//! Planning's feature tables as the importers see them. Every row belongs to a plan version
//! (`plan_id`, given on import with `--plan`); a delivery replaces only its own plan's rows.

use gis_core::feature::{Column, ColumnType::*, FeatureTable, NaturalKey};
use gis_core::layer::GeometryKind;

/// `planning.zones`.
pub const ZONES: FeatureTable = FeatureTable {
    kind: "planning_zones",
    schema: "planning",
    table: "zones",
    geometry: GeometryKind::MultiPolygon,
    columns: &[
        Column::new("plan_id", Integer, &[], false).titled("Phương án quy hoạch", "Plan"),
        Column::new("zone_code", Text, &["MAKHU", "KYHIEU", "MA_O"], true)
            .titled("Ký hiệu ô quy hoạch", "Zone code"),
        Column::new("name", Text, &["TENKHU", "TEN_O"], false).titled("Tên", "Name"),
        Column::new(
            "land_use_function",
            Text,
            &["CHUCNANG", "MDSD", "LOAIDAT"],
            false,
        )
        .titled("Chức năng sử dụng đất", "Planned land use"),
        Column::new("density_pct", Double, &["MATDOXD", "MDXD", "MATDO"], false)
            .titled("Mật độ xây dựng (%)", "Building density (%)"),
        Column::new("max_floors", Integer, &["TANGCAO", "SOTANG"], false)
            .titled("Tầng cao tối đa", "Maximum floors"),
        Column::new("max_height_m", Double, &["CHIEUCAO", "CAOTOIDA"], false)
            .titled("Chiều cao tối đa (m)", "Maximum height (m)"),
        Column::new("setback_m", Double, &["KHOANGLUI", "LUI"], false)
            .titled("Khoảng lùi (m)", "Setback (m)"),
        Column::new("far", Double, &["HSSDD", "HSSD", "HESOSDD"], false)
            .titled("Hệ số sử dụng đất (lần)", "Floor area ratio"),
        Column::new(
            "decision_number",
            Text,
            &["SOQD", "SO_QD", "QUYETDINH"],
            false,
        )
        .titled("Số quyết định", "Decision number"),
        Column::new("decision_date", Date, &["NGAYQD", "NGAY_QD"], false)
            .titled("Ngày quyết định", "Decision date"),
    ],
    natural_key: NaturalKey::SourceIdWithin("plan_id"),
    source_id_fields: &["MAKHU", "KYHIEU", "MA_O"],
    check: None,
};

/// `planning.red_lines`.
pub const RED_LINES: FeatureTable = FeatureTable {
    kind: "red_lines",
    schema: "planning",
    table: "red_lines",
    geometry: GeometryKind::MultiLineString,
    columns: &[
        Column::new("plan_id", Integer, &[], false).titled("Phương án quy hoạch", "Plan"),
        Column::new("road_name", Text, &["TENDUONG", "TEN_DUONG"], false)
            .titled("Tên đường", "Road name"),
        Column::new("decision_number", Text, &["SOQD", "SO_QD"], false)
            .titled("Số quyết định", "Decision number"),
    ],
    natural_key: NaturalKey::SourceIdWithin("plan_id"),
    source_id_fields: &["MA", "ID"],
    check: None,
};

/// `planning.building_lines`.
pub const BUILDING_LINES: FeatureTable = FeatureTable {
    kind: "building_lines",
    schema: "planning",
    table: "building_lines",
    geometry: GeometryKind::MultiLineString,
    columns: &[
        Column::new("plan_id", Integer, &[], false).titled("Phương án quy hoạch", "Plan"),
        Column::new("road_name", Text, &["TENDUONG", "TEN_DUONG"], false)
            .titled("Tên đường", "Road name"),
        Column::new("decision_number", Text, &["SOQD", "SO_QD"], false)
            .titled("Số quyết định", "Decision number"),
        Column::new("setback_m", Double, &["KHOANGLUI", "LUI"], false)
            .titled("Khoảng lùi (m)", "Setback (m)"),
    ],
    natural_key: NaturalKey::SourceIdWithin("plan_id"),
    source_id_fields: &["MA", "ID"],
    check: None,
};

/// `planning.buildings`: footprints, existing or planned (a planned one belongs to a plan).
pub const BUILDINGS: FeatureTable = FeatureTable {
    kind: "buildings",
    schema: "planning",
    table: "buildings",
    geometry: GeometryKind::MultiPolygon,
    columns: &[
        Column::new("plan_id", Integer, &[], false).titled("Phương án quy hoạch", "Plan"),
        Column::new("building_code", Text, &["MACT", "MA_CT", "MANHA"], true)
            .titled("Mã công trình", "Building code"),
        Column::new("name", Text, &["TENCT", "TEN_CT"], false).titled("Tên công trình", "Name"),
        Column::new("status", Text, &["TRANGTHAI", "TINHTRANG"], false).titled(
            "Hiện trạng / quy hoạch (existing, planned)",
            "Existing or planned",
        ),
        Column::new("floors", Integer, &["SOTANG", "TANGCAO"], false).titled("Số tầng", "Floors"),
        Column::new("height_m", Double, &["CHIEUCAO", "CAO"], false)
            .titled("Chiều cao (m)", "Height (m)"),
    ],
    natural_key: NaturalKey::SourceIdWithin("plan_id"),
    source_id_fields: &["MACT", "MA_CT", "MANHA"],
    check: None,
};

/// Every planning feature table.
pub const ALL: [FeatureTable; 4] = [ZONES, RED_LINES, BUILDING_LINES, BUILDINGS];
