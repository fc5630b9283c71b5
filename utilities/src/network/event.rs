//! A trace published as an incident for the operations centre: what an operator's water
//! isolation or power outage means as an event — its kind, severity, a title that says what
//! is out, where it is, and the affected area (the pipes or lines out of service as one
//! MultiLineString, WGS 84). Made from the trace's GeoJSON answer as anyone may read it
//! (counts only: no meter, customer or reference goes into an event). The IOC crate records
//! it; this crate knows nothing of events.

use serde_json::{json, Value};

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// `water_isolation` or `power_outage`.
    pub kind: &'static str,
    /// `alarm`: customers are out of service.
    pub severity: &'static str,
    /// What is out (Vietnamese: the operations centre's language).
    pub title: String,
    /// Where the break or fault is (WGS 84 longitude, latitude).
    pub at: Option<(f64, f64)>,
    /// The pipes or lines out of service, one MultiLineString (WGS 84).
    pub area: Value,
}

/// The lines of `fc`'s features whose `part` is `part`, as one MultiLineString.
fn area(fc: &Value, part: &str) -> Option<Value> {
    let mut lines: Vec<Value> = Vec::new();
    for f in fc["features"].as_array()? {
        if f["properties"]["part"] != part {
            continue;
        }
        let g = &f["geometry"];
        match g["type"].as_str() {
            Some("LineString") => lines.push(g["coordinates"].clone()),
            Some("MultiLineString") => {
                lines.extend(g["coordinates"].as_array().into_iter().flatten().cloned())
            }
            _ => {}
        }
    }
    (!lines.is_empty()).then(|| json!({"type": "MultiLineString", "coordinates": lines}))
}

/// The point of the feature whose `part` is `part`.
fn point(fc: &Value, part: &str) -> Option<(f64, f64)> {
    let f = fc["features"]
        .as_array()?
        .iter()
        .find(|f| f["properties"]["part"] == part)?;
    let c = f["geometry"]["coordinates"].as_array()?;
    Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?))
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Metres as "850 m" or "1,2 km".
fn length(m: f64) -> String {
    if m >= 1000.0 {
        format!("{:.1} km", m / 1000.0).replace('.', ",")
    } else {
        format!("{} m", m.round())
    }
}

/// The event of a water isolation's answer ([`super::answer::isolation_geojson`]); `None`
/// when nothing is out of service (no event to publish).
pub fn of_isolation(fc: &Value) -> Option<Published> {
    let s = &fc["summary"];
    let meters = count(&s["meters"]) + count(&s["cut_off_meters"]);
    let metres =
        s["length_m"].as_f64().unwrap_or(0.0) + s["cut_off_length_m"].as_f64().unwrap_or(0.0);
    Some(Published {
        kind: "water_isolation",
        severity: "alarm",
        title: format!(
            "Cô lập đường ống nước: đóng {} van, {} ống nước ngưng cấp, {} đồng hồ mất nước, {} trụ cứu hỏa ngưng dùng",
            count(&s["valves_to_close"]),
            length(metres),
            meters,
            count(&s["hydrants"]),
        ),
        at: point(fc, "break"),
        area: area(fc, "pipe")?,
    })
}

/// The event of a power outage's answer ([`super::answer::outage_geojson`]); `None` when
/// nothing is cut off (a pole beyond an open switch, say: no event to publish).
pub fn of_outage(fc: &Value) -> Option<Published> {
    let s = &fc["summary"];
    Some(Published {
        kind: "power_outage",
        severity: "alarm",
        title: format!(
            "Mất điện: {} khách hàng, {} đường dây, {} cột",
            count(&s["customers"]),
            length(s["length_m"].as_f64().unwrap_or(0.0)),
            count(&s["poles"]),
        ),
        at: point(fc, "outage"),
        area: area(fc, "line")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_isolation_becomes_an_event_with_its_pipes_as_the_area() {
        let fc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.9, 11.5]},
             "properties": {"part": "break", "role": "break"}},
            {"type": "Feature", "geometry": {"type": "MultiLineString",
                "coordinates": [[[106.9, 11.5], [106.91, 11.5]], [[106.91, 11.5], [106.92, 11.5]]]},
             "properties": {"part": "pipe", "role": "isolated"}},
            {"type": "Feature", "geometry": {"type": "MultiLineString",
                "coordinates": [[[106.92, 11.5], [106.93, 11.5]]]},
             "properties": {"part": "pipe", "role": "cut_off"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.91, 11.5]},
             "properties": {"part": "valve", "role": "close", "id": 3}}],
            "summary": {"valves_to_close": 2, "pipes": 2, "length_m": 1500.0, "meters": 4,
                        "hydrants": 1, "cut_off_length_m": 300.0, "cut_off_meters": 3}});
        let e = of_isolation(&fc).expect("an event");
        assert_eq!(e.kind, "water_isolation");
        assert_eq!(e.at, Some((106.9, 11.5)));
        assert_eq!(
            e.title,
            "Cô lập đường ống nước: đóng 2 van, 1,8 km ống nước ngưng cấp, 7 đồng hồ mất nước, 1 trụ cứu hỏa ngưng dùng"
        );
        let area = e.area;
        assert_eq!(area["type"], "MultiLineString");
        assert_eq!(area["coordinates"].as_array().map(Vec::len), Some(3));
        // Nothing out of service: no event.
        let none = json!({"features": [fc["features"][0].clone()], "summary": {}});
        assert_eq!(of_outage(&none), None);
        assert_eq!(of_isolation(&none), None);
        // A power outage's title.
        let outage = json!({"features": [
            {"type": "Feature", "geometry": {"type": "MultiLineString",
                "coordinates": [[[106.9, 11.5], [106.91, 11.5]]]},
             "properties": {"part": "line", "role": "cut_off"}}],
            "summary": {"customers": 12, "length_m": 640.4, "poles": 13}});
        let e = of_outage(&outage).expect("an event");
        assert_eq!(e.title, "Mất điện: 12 khách hàng, 640 m đường dây, 13 cột");
        assert_eq!(e.at, None);
    }
}
