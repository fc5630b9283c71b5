//! The network feature tables as the importers see them.

use gis_core::feature::{Column, ColumnType::*, FeatureTable};
use gis_core::layer::GeometryKind;

const CODE: Column =
    Column::new("code", Text, &["MA", "MAHIEU", "KYHIEU", "ID"], false).titled("Mã", "Code");

/// Water mains.
pub const WATER_PIPES: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "water_pipes",
    GeometryKind::MultiLineString,
    &[
        Column::new("diameter_mm", Double, &["DUONGKINH", "DK", "CO_ONG"], false)
            .titled("Đường kính (mm)", "Diameter (mm)"),
        Column::new("material", Text, &["VATLIEU", "VAT_LIEU"], false)
            .titled("Vật liệu", "Material"),
        Column::new("install_year", Integer, &["NAMLAPDAT", "NAM_LD"], false)
            .titled("Năm lắp đặt", "Year installed"),
    ],
    &["MAONG", "MA", "ID"],
);
/// Valves.
pub const WATER_VALVES: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "water_valves",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MAVAN", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("valve_type", Text, &["LOAIVAN", "LOAI"], false)
            .titled("Loại van", "Valve type"),
        // Tracing reads these (crate::network): a closed valve bounds every trace; an
        // inoperable one (`operable` false) cannot be closed, so isolation looks past it.
        Column::new("status", Text, &["TRANGTHAI", "TINHTRANG"], false)
            .titled("Trạng thái (Mở/Đóng)", "Status (open/closed)"),
        Column::new("operable", Boolean, &["VANHD", "THAOTAC"], false)
            .titled("Vận hành được", "Operable"),
        Column::new("diameter_mm", Double, &["DUONGKINH", "DK"], false)
            .titled("Đường kính (mm)", "Diameter (mm)"),
    ],
    &["MAVAN", "MA", "ID"],
);
/// Customer meters.
pub const WATER_METERS: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "water_meters",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MADONGHO", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("customer_ref", Text, &["MAKH", "MA_KH"], false)
            .titled("Mã khách hàng", "Customer reference")
            // Personal data: whose meter it is.
            .restricted(),
    ],
    &["MADONGHO", "MA", "ID"],
);
/// Fire hydrants.
pub const HYDRANTS: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "hydrants",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MATRU", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("status", Text, &["TINHTRANG", "TRANGTHAI"], false)
            .titled("Tình trạng", "Status"),
    ],
    &["MATRU", "MA", "ID"],
);
/// Drains.
pub const DRAINS: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "drains",
    GeometryKind::MultiLineString,
    &[
        Column::new("diameter_mm", Double, &["DUONGKINH", "DK"], false)
            .titled("Đường kính (mm)", "Diameter (mm)"),
        Column::new("material", Text, &["VATLIEU", "VAT_LIEU"], false)
            .titled("Vật liệu", "Material"),
    ],
    &["MACONG", "MA", "ID"],
);
/// Manholes.
pub const MANHOLES: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "manholes",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MAHOGA", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("depth_m", Double, &["DOSAU", "DO_SAU"], false)
            .titled("Độ sâu (m)", "Depth (m)"),
    ],
    &["MAHOGA", "MA", "ID"],
);
/// Power lines.
pub const POWER_LINES: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "power_lines",
    GeometryKind::MultiLineString,
    &[
        Column::new("voltage_kv", Double, &["CAPDIENAP", "DIENAP", "KV"], false)
            .titled("Cấp điện áp (kV)", "Voltage (kV)"),
        Column::new("name", Text, &["TENTUYEN", "TEN"], false).titled("Tên", "Name"),
        // Where the delivery has it: "3 pha", "1 pha", or the phases ("ABC", "A").
        Column::new("phases", Text, &["SOPHA", "PHA"], false).titled("Số pha", "Phases"),
    ],
    &["MATUYEN", "MA", "ID"],
);
/// Power poles.
pub const POWER_POLES: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "power_poles",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MACOT", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("pole_type", Text, &["LOAICOT", "LOAI"], false).titled("Loại cột", "Pole type"),
    ],
    &["MACOT", "MA", "ID"],
);
/// Substations.
pub const SUBSTATIONS: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "substations",
    GeometryKind::Point,
    &[
        CODE,
        Column::new("name", Text, &["TENTRAM", "TEN"], false).titled("Tên", "Name"),
        Column::new("capacity_kva", Double, &["CONGSUAT", "KVA"], false)
            .titled("Công suất (kVA)", "Capacity (kVA)"),
    ],
    &["MATRAM", "MA", "ID"],
);

/// Where water enters the network: treatment plants, tanks, wells (the sources of traces).
pub const WATER_SOURCES: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "water_sources",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MANGUON", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("name", Text, &["TENNGUON", "TEN"], false).titled("Tên", "Name"),
        Column::new("source_kind", Text, &["LOAINGUON", "LOAI"], false)
            .titled("Loại nguồn", "Kind of source"),
    ],
    &["MANGUON", "MA", "ID"],
);

/// Switchgear on the lines (breakers, disconnectors, fuses, tie switches): an open one
/// (`state` Mở/Cắt) stops the current, so outage traces end at it (crate::network). Mind the
/// words: a valve that is "Đóng" stops water, a switch that is "Đóng" conducts.
pub const POWER_SWITCHES: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "power_switches",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MATB", "MA", "ID"], false).titled("Mã", "Code"),
        Column::new("switch_kind", Text, &["LOAITB", "LOAI"], false)
            .titled("Loại thiết bị", "Kind of switch"),
        Column::new("state", Text, &["TRANGTHAI", "VITRI"], false)
            .titled("Trạng thái (Đóng/Mở)", "State (closed/open)"),
    ],
    &["MATB", "MA", "ID"],
);
/// Power customers: one point per supply point (meter), served from the nearest line.
pub const POWER_CUSTOMERS: FeatureTable = FeatureTable::keyed_by_source_id(
    "utilities",
    "power_customers",
    GeometryKind::Point,
    &[
        Column::new("code", Text, &["MADIEMDO", "MACTO", "MA", "ID"], false)
            .titled("Mã điểm đo", "Metering point"),
        Column::new("customer_ref", Text, &["MAKH", "MA_KH"], false)
            .titled("Mã khách hàng", "Customer reference")
            // Personal data: whose supply it is.
            .restricted(),
        Column::new("phases", Text, &["SOPHA", "PHA"], false).titled("Số pha", "Phases"),
    ],
    &["MADIEMDO", "MACTO", "MA", "ID"],
);

/// Every network feature table.
pub const ALL: [FeatureTable; 12] = [
    WATER_PIPES,
    WATER_VALVES,
    WATER_METERS,
    HYDRANTS,
    WATER_SOURCES,
    DRAINS,
    MANHOLES,
    POWER_LINES,
    POWER_POLES,
    SUBSTATIONS,
    POWER_SWITCHES,
    POWER_CUSTOMERS,
];
