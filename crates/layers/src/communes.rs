//! The communes layer: administrative boundaries, public.

use gis_core::crs::VN2000_TM3_106_15;
use gis_core::layer::{
    Access, GeometryKind, Layer, PropertyDef, PropertyKind, Sector, StorageTable, StyleHints,
};

/// Communes (xã/phường) over `land.communes`.
#[derive(Debug, Clone, Copy)]
pub struct Communes;

impl Layer for Communes {
    fn id(&self) -> &str {
        "communes"
    }
    fn title_vi(&self) -> &str {
        "Ranh giới xã, phường"
    }
    fn title_en(&self) -> &str {
        "Commune boundaries"
    }
    fn sector(&self) -> Sector {
        Sector::Cadastre
    }
    fn geometry_kind(&self) -> GeometryKind {
        GeometryKind::MultiPolygon
    }
    fn storage(&self) -> StorageTable {
        StorageTable {
            schema: "land".into(),
            table: "communes".into(),
            geometry_column: "geom".into(),
            id_column: "id".into(),
            srid: VN2000_TM3_106_15,
        }
    }
    fn zoom_range(&self) -> (u8, u8) {
        (6, 16)
    }
    fn properties(&self) -> Vec<PropertyDef> {
        use PropertyKind::*;
        vec![
            PropertyDef::public(
                "code",
                String,
                "Mã xã (sau sáp nhập)",
                "Commune code (post-merger)",
            ),
            PropertyDef::public(
                "name",
                String,
                "Tên xã (sau sáp nhập)",
                "Commune name (post-merger)",
            ),
            PropertyDef::public(
                "legacy_code",
                String,
                "Mã xã (trước 01/07/2025)",
                "Commune code (pre-merger)",
            ),
            PropertyDef::public(
                "legacy_name",
                String,
                "Tên xã (trước 01/07/2025)",
                "Commune name (pre-merger)",
            ),
            PropertyDef::public("area_m2", Number, "Diện tích (m²)", "Area (m²)"),
        ]
    }
    fn access(&self) -> Access {
        Access::Public
    }
    fn style(&self) -> StyleHints {
        StyleHints {
            fill_color: Some("#f2efe9".into()),
            fill_opacity: Some(0.2),
            line_color: Some("#7b3294".into()),
            line_width: Some(1.5),
            circle_color: None,
            label_property: Some("legacy_name".into()),
        }
    }
}
