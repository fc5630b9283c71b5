//! The layers over the domain crates' feature tables: how each is presented (titles, sector,
//! zoom range, access, restricted properties, style hints). Properties come from the owner's
//! [`FeatureTable`] description, so a column added there appears here without a second list.

use gis_core::crs::VN2000_TM3_106_15;
use gis_core::feature::{ColumnType, FeatureTable};
use gis_core::layer::{
    Access, Generalisation, GeometryKind, Layer, PropertyDef, PropertyKind, Sector, StorageTable,
    StyleHints,
};

/// A layer over a feature table.
#[derive(Debug, Clone, Copy)]
pub struct FeatureLayer {
    /// The owner's table.
    pub table: FeatureTable,
    /// Title in Vietnamese.
    pub title_vi: &'static str,
    /// Title in English.
    pub title_en: &'static str,
    /// Sector.
    pub sector: Sector,
    /// Zoom levels drawn. For point layers the first is where each point is drawn on its own;
    /// from [`CLUSTER_FROM_ZOOM`] up to it they are drawn as grid clusters.
    pub zoom: (u8, u8),
    /// Properties only authorised users may read (personal data).
    pub restricted: &'static [&'static str],
    /// Colour (CSS hex) of lines, outlines and points.
    pub color: &'static str,
    /// Fill colour for polygons.
    pub fill: Option<&'static str>,
    /// Property used for labels.
    pub label: Option<&'static str>,
    /// Shown when a map opens (the rest are listed, switched off).
    pub visible: bool,
}

/// Lowest zoom at which point layers are drawn (as clusters below their own first zoom).
pub const CLUSTER_FROM_ZOOM: u8 = 8;
/// Cluster cell in pixels: at most 8 × 8 clusters per tile, far enough apart for a label.
pub const CLUSTER_CELL_PX: u16 = 32;

fn kind_of(ty: ColumnType) -> PropertyKind {
    match ty {
        ColumnType::Text => PropertyKind::String,
        ColumnType::Integer => PropertyKind::Integer,
        ColumnType::Double => PropertyKind::Number,
        ColumnType::Boolean => PropertyKind::Boolean,
        ColumnType::Date => PropertyKind::Date,
    }
}

impl Layer for FeatureLayer {
    fn id(&self) -> &str {
        self.table.kind
    }
    fn title_vi(&self) -> &str {
        self.title_vi
    }
    fn title_en(&self) -> &str {
        self.title_en
    }
    fn sector(&self) -> Sector {
        self.sector
    }
    fn geometry_kind(&self) -> GeometryKind {
        self.table.geometry
    }
    fn storage(&self) -> StorageTable {
        StorageTable {
            schema: self.table.schema.into(),
            table: self.table.table.into(),
            geometry_column: "geom".into(),
            id_column: "id".into(),
            // Rows carry their own VN-2000 zone; this is the province's main one.
            srid: VN2000_TM3_106_15,
        }
    }
    fn zoom_range(&self) -> (u8, u8) {
        if self.table.dimension() == 0 {
            (self.zoom.0.min(CLUSTER_FROM_ZOOM), self.zoom.1)
        } else {
            self.zoom
        }
    }
    fn generalisation(&self) -> Generalisation {
        match self.table.dimension() {
            _ if self.table.kind == "parcels" => land::overview::generalisation(),
            0 if self.zoom.0 > CLUSTER_FROM_ZOOM => Generalisation::Cluster {
                detail_zoom: self.zoom.0,
                cell_px: CLUSTER_CELL_PX,
            },
            _ => Generalisation::MinZoom,
        }
    }
    fn properties(&self) -> Vec<PropertyDef> {
        self.table
            .columns
            .iter()
            .map(|c| {
                let (vi, en) = labels(c.name);
                if self.restricted.contains(&c.name) {
                    PropertyDef::restricted(c.name, kind_of(c.ty), vi, en)
                } else {
                    PropertyDef::public(c.name, kind_of(c.ty), vi, en)
                }
            })
            .collect()
    }
    fn access(&self) -> Access {
        Access::Public
    }
    fn visible_at_start(&self) -> bool {
        self.visible
    }
    fn cache_max_age(&self) -> u32 {
        match self.table.kind {
            // Cadastre and planning change by decision, a few times a day at most.
            "communes" | "map_sheets" | "parcels" | "planning_zones" | "red_lines"
            | "building_lines" => 3600,
            // Devices whose state or position is updated from the field.
            "cameras" | "traffic_lights" | "env_stations" => 60,
            _ => 300,
        }
    }
    fn style(&self) -> StyleHints {
        let polygon = self.table.dimension() == 2;
        StyleHints {
            fill_color: self.fill.map(str::to_string),
            fill_opacity: polygon.then_some(0.35),
            line_color: (self.table.dimension() > 0).then(|| self.color.to_string()),
            line_width: Some(if polygon { 0.8 } else { 2.0 }),
            circle_color: (self.table.dimension() == 0).then(|| self.color.to_string()),
            label_property: self.label.map(str::to_string),
        }
    }
}

/// Vietnamese and English labels of canonical column names.
pub fn labels(column: &str) -> (&'static str, &'static str) {
    match column {
        "legacy_code" => ("Mã xã (trước 01/07/2025)", "Commune code (pre-merger)"),
        "legacy_name" => ("Tên xã (trước 01/07/2025)", "Commune name (pre-merger)"),
        "legacy_district" => ("Huyện (trước 01/07/2025)", "District (pre-merger)"),
        "code" => ("Mã", "Code"),
        "name" => ("Tên", "Name"),
        "province_code" => ("Mã tỉnh", "Province code"),
        "commune_code" => ("Mã xã", "Commune code"),
        "sheet_number" => ("Số tờ bản đồ", "Map sheet number"),
        "scale" => ("Tỷ lệ", "Scale"),
        "parcel_number" => ("Số thửa", "Parcel number"),
        "declared_area_m2" => ("Diện tích (m²)", "Declared area (m²)"),
        "legal_area_m2" => ("Diện tích pháp lý (m²)", "Legal area (m²)"),
        "land_use_code" => ("Mã loại đất", "Land-use code"),
        "owner_name" => ("Chủ sử dụng", "Land user"),
        "address" => ("Địa chỉ", "Address"),
        "place_name" => ("Địa danh", "Place name"),
        "certificate_issued" => ("Đã cấp GCN", "Certificate issued"),
        "zone_code" => ("Ký hiệu ô quy hoạch", "Zone code"),
        "land_use_function" => ("Chức năng sử dụng đất", "Planned land use"),
        "density_pct" => ("Mật độ xây dựng (%)", "Building density (%)"),
        "max_floors" => ("Tầng cao tối đa", "Maximum floors"),
        "max_height_m" => ("Chiều cao tối đa (m)", "Maximum height (m)"),
        "setback_m" => ("Khoảng lùi (m)", "Setback (m)"),
        "decision_number" => ("Số quyết định", "Decision number"),
        "decision_date" => ("Ngày quyết định", "Decision date"),
        "road_name" => ("Tên đường", "Road name"),
        "diameter_mm" => ("Đường kính (mm)", "Diameter (mm)"),
        "material" => ("Vật liệu", "Material"),
        "install_year" => ("Năm lắp đặt", "Year installed"),
        "valve_type" => ("Loại van", "Valve type"),
        "customer_ref" => ("Mã khách hàng", "Customer reference"),
        "status" => ("Tình trạng", "Status"),
        "depth_m" => ("Độ sâu (m)", "Depth (m)"),
        "voltage_kv" => ("Cấp điện áp (kV)", "Voltage (kV)"),
        "pole_type" => ("Loại cột", "Pole type"),
        "capacity_kva" => ("Công suất (kVA)", "Capacity (kVA)"),
        "road_class" => ("Loại đường", "Road class"),
        "width_m" => ("Bề rộng (m)", "Width (m)"),
        "power_w" => ("Công suất (W)", "Power (W)"),
        "lamp_type" => ("Loại đèn", "Lamp type"),
        "camera_type" => ("Loại camera", "Camera type"),
        "route_number" => ("Số tuyến", "Route number"),
        "station_type" => ("Loại trạm", "Station type"),
        _ => ("", ""),
    }
}

const fn layer(
    table: FeatureTable,
    title_vi: &'static str,
    title_en: &'static str,
    sector: Sector,
    zoom: (u8, u8),
    color: &'static str,
) -> FeatureLayer {
    FeatureLayer {
        table,
        title_vi,
        title_en,
        sector,
        zoom,
        restricted: &[],
        color,
        fill: None,
        label: None,
        visible: false,
    }
}

/// Every layer over a feature table.
pub fn all() -> Vec<FeatureLayer> {
    use land::tables as l;
    use planning::tables as p;
    use sectors::tables as s;
    use utilities::tables as u;
    use Sector::*;
    vec![
        FeatureLayer {
            fill: Some("#f2efe9"),
            label: Some("legacy_name"),
            visible: true,
            ..layer(
                l::COMMUNES,
                "Ranh giới xã, phường",
                "Commune boundaries",
                Cadastre,
                (6, 16),
                "#7b3294",
            )
        },
        FeatureLayer {
            label: Some("sheet_number"),
            ..layer(
                l::MAP_SHEETS,
                "Tờ bản đồ địa chính",
                "Cadastral map sheets",
                Cadastre,
                (10, 18),
                "#e66101",
            )
        },
        FeatureLayer {
            restricted: &["owner_name"],
            fill: Some("#fdb863"),
            label: Some("parcel_number"),
            visible: true,
            ..layer(
                l::PARCELS,
                "Thửa đất",
                "Parcels",
                Cadastre,
                (8, 20),
                "#b35806",
            )
        },
        FeatureLayer {
            fill: Some("#ffd1dc"),
            label: Some("zone_code"),
            visible: true,
            ..layer(
                p::ZONES,
                "Ô quy hoạch",
                "Planning zones",
                Planning,
                (10, 20),
                "#c51b7d",
            )
        },
        FeatureLayer {
            visible: true,
            ..layer(
                p::RED_LINES,
                "Chỉ giới đường đỏ",
                "Red lines",
                Planning,
                (12, 20),
                "#e41a1c",
            )
        },
        layer(
            p::BUILDING_LINES,
            "Chỉ giới xây dựng",
            "Building lines",
            Planning,
            (14, 20),
            "#377eb8",
        ),
        FeatureLayer {
            label: Some("name"),
            visible: true,
            ..layer(
                s::ROADS,
                "Đường giao thông",
                "Roads",
                Transport,
                (8, 20),
                "#636363",
            )
        },
        layer(
            s::STREET_LIGHTS,
            "Đèn chiếu sáng",
            "Street lights",
            Transport,
            (15, 20),
            "#fec44f",
        ),
        layer(
            s::TRAFFIC_LIGHTS,
            "Đèn tín hiệu giao thông",
            "Traffic lights",
            Transport,
            (13, 20),
            "#d95f0e",
        ),
        layer(
            s::CAMERAS,
            "Camera giám sát",
            "Cameras",
            Transport,
            (12, 20),
            "#54278f",
        ),
        layer(
            s::BUS_STOPS,
            "Điểm dừng xe buýt",
            "Bus stops",
            Transport,
            (13, 20),
            "#1b9e77",
        ),
        layer(
            s::BUS_ROUTES,
            "Tuyến xe buýt",
            "Bus routes",
            Transport,
            (10, 20),
            "#1b9e77",
        ),
        layer(
            u::WATER_PIPES,
            "Đường ống cấp nước",
            "Water mains",
            Water,
            (12, 20),
            "#2b8cbe",
        ),
        layer(
            u::WATER_VALVES,
            "Van nước",
            "Water valves",
            Water,
            (15, 20),
            "#0868ac",
        ),
        layer(
            u::WATER_METERS,
            "Đồng hồ nước",
            "Water meters",
            Water,
            (16, 20),
            "#43a2ca",
        ),
        layer(
            u::HYDRANTS,
            "Trụ cứu hỏa",
            "Fire hydrants",
            Water,
            (14, 20),
            "#e31a1c",
        ),
        layer(
            u::DRAINS,
            "Cống thoát nước",
            "Drains",
            Water,
            (12, 20),
            "#8c6bb1",
        ),
        layer(u::MANHOLES, "Hố ga", "Manholes", Water, (15, 20), "#88419d"),
        layer(
            u::POWER_LINES,
            "Đường dây điện",
            "Power lines",
            Power,
            (10, 20),
            "#ff7f00",
        ),
        layer(
            u::POWER_POLES,
            "Cột điện",
            "Power poles",
            Power,
            (15, 20),
            "#a65628",
        ),
        layer(
            u::SUBSTATIONS,
            "Trạm biến áp",
            "Substations",
            Power,
            (11, 20),
            "#e7298a",
        ),
        FeatureLayer {
            label: Some("name"),
            ..layer(
                s::ENV_STATIONS,
                "Trạm quan trắc môi trường",
                "Environment monitoring stations",
                Environment,
                (8, 20),
                "#1a9850",
            )
        },
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_importable_table_has_a_layer_and_every_column_a_label() {
        let layers = super::all();
        let mut kinds: Vec<&str> = layers.iter().map(|l| l.table.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), layers.len(), "duplicate layer");
        for l in &layers {
            for c in l.table.columns {
                assert_ne!(super::labels(c.name).0, "", "{} has no label", c.name);
            }
        }
    }
}
