//! The networks' layers, declared once: water mains by diameter, power lines by voltage,
//! valves, meters, hydrants, manholes, poles, substations, switches and power customers (staff
//! only) as icons.

use gis_core::declare::LayerDecl;
use gis_core::layer::{Readers, Roles, StyleHints};
use serde_json::json;

use crate::tables::*;

fn line(layer: LayerDecl, paint: serde_json::Value, rank: u8) -> LayerDecl {
    LayerDecl {
        style: StyleHints {
            line_paint: Some(paint),
            draw_rank: Some(rank),
            ..layer.style.clone()
        },
        ..layer
    }
}

/// The networks' layers.
pub fn layers() -> Vec<LayerDecl> {
    let water = "water";
    let power = "power";
    vec![
        line(
            LayerDecl::new(
                WATER_PIPES,
                "Đường ống cấp nước",
                "Water mains",
                water,
                (12, 20),
                "#2b8cbe",
            ),
            json!({"line-color": "#1f78b4", "line-width": [
                "interpolate", ["linear"], ["coalesce", ["get", "diameter_mm"], 100],
                50, 1.0, 300, 2.5, 1000, 4.0]}),
            13,
        ),
        LayerDecl::new(
            WATER_VALVES,
            "Van nước",
            "Water valves",
            water,
            (15, 20),
            "#0868ac",
        )
        .with_icon("valve"),
        // Each meter marks one customer's home connection: staff only, and the customer
        // reference for administrators only (the layer has no commune scope).
        LayerDecl {
            readers: Readers::Only(Roles::STAFF),
            ..LayerDecl::new(
                WATER_METERS,
                "Đồng hồ nước",
                "Water meters",
                water,
                (16, 20),
                "#43a2ca",
            )
            .with_icon("water-meter")
        },
        LayerDecl::new(
            HYDRANTS,
            "Trụ cứu hỏa",
            "Fire hydrants",
            water,
            (14, 20),
            "#e31a1c",
        )
        .with_icon("hydrant"),
        // Treatment plants and tanks: where isolation and supply traces start.
        LayerDecl::new(
            WATER_SOURCES,
            "Nguồn nước (nhà máy, bể chứa)",
            "Water sources (plants, tanks)",
            water,
            (12, 20),
            "#045a8d",
        )
        .with_icon("water-source"),
        line(
            LayerDecl::new(
                DRAINS,
                "Cống thoát nước",
                "Drains",
                water,
                (12, 20),
                "#8c6bb1",
            ),
            json!({"line-color": "#8c5a2b", "line-width": 2.0}),
            12,
        ),
        LayerDecl::new(MANHOLES, "Hố ga", "Manholes", water, (15, 20), "#88419d")
            .with_icon("manhole"),
        line(
            LayerDecl::new(
                POWER_LINES,
                "Đường dây điện",
                "Power lines",
                power,
                (10, 20),
                "#ff7f00",
            ),
            json!({"line-color": ["step", ["coalesce", ["get", "voltage_kv"], 0],
                    "#fd8d3c", 22, "#f03b20", 110, "#bd0026"],
                   "line-width": 1.5, "line-dasharray": [3, 2]}),
            14,
        ),
        LayerDecl::new(
            POWER_POLES,
            "Cột điện",
            "Power poles",
            power,
            (15, 20),
            "#a65628",
        )
        .with_icon("power-pole"),
        LayerDecl::new(
            SUBSTATIONS,
            "Trạm biến áp",
            "Substations",
            power,
            (11, 20),
            "#e7298a",
        )
        .with_icon("substation"),
        // An open switch is where a feeder ends on purpose.
        LayerDecl::new(
            POWER_SWITCHES,
            "Thiết bị đóng cắt",
            "Switches and breakers",
            power,
            (14, 20),
            "#7a0177",
        )
        .with_icon("power-switch"),
        // Each point is one customer's supply: staff only, and the customer reference for
        // administrators only, like the water meters.
        LayerDecl {
            readers: Readers::Only(Roles::STAFF),
            ..LayerDecl::new(
                POWER_CUSTOMERS,
                "Khách hàng dùng điện",
                "Power customers",
                power,
                (16, 20),
                "#fec44f",
            )
            .with_icon("power-customer")
        },
    ]
}
