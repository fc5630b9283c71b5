//! Transport and environment layers, declared once: roads by class, lights, cameras, buses
//! and monitoring stations.

use gis_core::declare::LayerDecl;
use gis_core::layer::StyleHints;
use serde_json::json;

use crate::tables::*;

/// Devices whose state or position is updated from the field.
const MINUTE: u32 = 60;

/// Transport and environment layers.
pub fn layers() -> Vec<LayerDecl> {
    let transport = "transport";
    let roads = LayerDecl::new(
        ROADS,
        "Đường giao thông",
        "Roads",
        transport,
        (8, 20),
        "#636363",
    )
    .labelled("name")
    .shown();
    let class = json!(["get", "road_class"]);
    let main = json!(["Quốc lộ", "Đường tỉnh"]);
    let routes = LayerDecl::new(
        BUS_ROUTES,
        "Tuyến xe buýt",
        "Bus routes",
        transport,
        (10, 20),
        "#1b9e77",
    );
    vec![
        LayerDecl {
            style: StyleHints {
                line_paint: Some(json!({
                    "line-color": ["match", class.clone(),
                        "Quốc lộ", "#e8553e", "Đường tỉnh", "#f5a623", "Đường huyện", "#f7d96b",
                        "Đường đô thị", "#9e9e9e", "#bdbdbd"],
                    "line-width": ["interpolate", ["linear"], ["zoom"],
                        8, ["match", class.clone(), main.clone(), 1.5, 0.5],
                        18, ["match", class, main, 10, 6]],
                })),
                label_min_zoom: Some(14),
                draw_rank: Some(10),
                ..roads.style.clone()
            },
            styles: &["base"],
            ..roads
        },
        LayerDecl::new(
            STREET_LIGHTS,
            "Đèn chiếu sáng",
            "Street lights",
            transport,
            (15, 20),
            "#fec44f",
        )
        .with_icon("street-light"),
        LayerDecl {
            cache_max_age: MINUTE,
            // The operations centre's wall map draws them (`/styles/ioc.json`).
            styles: &["ioc"],
            ..LayerDecl::new(
                TRAFFIC_LIGHTS,
                "Đèn tín hiệu giao thông",
                "Traffic lights",
                transport,
                (13, 20),
                "#d95f0e",
            )
            .with_icon("traffic-light")
        },
        LayerDecl {
            cache_max_age: MINUTE,
            styles: &["ioc"],
            ..LayerDecl::new(
                CAMERAS,
                "Camera giám sát",
                "Cameras",
                transport,
                (12, 20),
                "#54278f",
            )
            .with_icon("camera")
        },
        LayerDecl::new(
            BUS_STOPS,
            "Điểm dừng xe buýt",
            "Bus stops",
            transport,
            (13, 20),
            "#1b9e77",
        )
        .with_icon("bus-stop"),
        LayerDecl {
            style: StyleHints {
                draw_rank: Some(11),
                ..routes.style.clone()
            },
            ..routes
        },
        LayerDecl {
            cache_max_age: MINUTE,
            styles: &["ioc"],
            ..LayerDecl::new(
                ENV_STATIONS,
                "Trạm quan trắc môi trường",
                "Environment monitoring stations",
                "environment",
                (8, 20),
                "#1a9850",
            )
            .labelled("name")
            .with_icon("env-station")
        },
    ]
}
