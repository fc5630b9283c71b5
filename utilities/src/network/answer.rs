//! An isolation as GeoJSON: one FeatureCollection whose features carry `part` (`break`,
//! `valve`, `pipe`, `meter`, `hydrant`) and `role`, with the layers' public properties, in
//! WGS 84. Meters are listed only for readers who see the meters layer; their customer
//! references only for readers allowed the layer's restricted properties (the caller decides
//! both from the layer's declaration, [`Disclosure`]). Each answer takes the graph by value and
//! lets go of it before its queries, so a patch never waits for (or copies) a graph held only
//! for an answer's SQL.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use sqlx::PgPool;

use super::isolate::{Isolation, ValveRole};
use super::load::LoadError;
use super::{Network, Pt};

/// What the reader may see of the meters (of a power network's customers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Disclosure {
    /// Meters as features (the layer is staff only); otherwise only their count.
    pub meters: bool,
    /// Their customer references (restricted: personal data).
    pub customer_refs: bool,
}

/// A switch as answered: id, code, kind, state, geometry.
type SwitchOut = (i64, Option<String>, Option<String>, Option<String>, Value);

/// A valve as answered: id, code, status, operable, geometry.
type ValveOut = (i64, Option<String>, Option<String>, Option<bool>, Value);

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> LoadError {
    move |source| LoadError::Db { what, source }
}

/// GeoJSON text from PostGIS, parsed here: the lines of a trace are read as text because
/// PostgreSQL's `::json` input checks the text again, the slowest step of a large answer
/// (13 of 25 ms for 5,000 pipes; serde parses it in about 1 ms).
fn parsed(text: Option<String>, what: &'static str) -> Result<Option<Value>, LoadError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| LoadError::Db {
            what,
            source: sqlx::Error::Decode(Box::new(e)),
        })
    })
    .transpose()
}

fn wkt_lines(net: &Network, pieces: &[petgraph::graph::EdgeIndex]) -> Option<String> {
    if pieces.is_empty() {
        return None;
    }
    let lines: Vec<String> = pieces
        .iter()
        .map(|&e| {
            let pts: Vec<String> = net.graph[e]
                .line
                .iter()
                .map(|p| format!("{} {}", p[0], p[1]))
                .collect();
            format!("({})", pts.join(","))
        })
        .collect();
    Some(format!("MULTILINESTRING({})", lines.join(",")))
}

fn length_m(net: &Network, pieces: &[petgraph::graph::EdgeIndex]) -> f64 {
    pieces
        .iter()
        .map(|&e| net.graph[e].to_m - net.graph[e].from_m)
        .sum()
}

/// Counts of an isolation (the collection's `summary`).
pub fn summary(net: &Network, iso: &Isolation) -> Value {
    json!({
        "valves_to_close": iso.to_close().len(),
        "pipes": iso.pipes.len(),
        "length_m": (length_m(net, &iso.pieces) * 10.0).round() / 10.0,
        "meters": iso.meters.len(),
        "hydrants": iso.hydrants.len(),
        "cut_off_length_m": (length_m(net, &iso.cut_off) * 10.0).round() / 10.0,
        "cut_off_meters": iso.cut_off_meters.len(),
    })
}

fn feature(part: &str, role: &str, geometry: Value, mut props: Map<String, Value>) -> Value {
    props.insert("part".into(), json!(part));
    props.insert("role".into(), json!(role));
    json!({"type": "Feature", "geometry": geometry, "properties": props})
}

/// What an answer draws beside its counts and ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The pipes or lines of the trace as geometry (off: their features carry ids and lengths
    /// with a null geometry — for clients that list or count, the answer stays small).
    pub lines: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape { lines: true }
    }
}

/// The GeoJSON answer of `iso` for a break at `at`; `baseline` is the answer without the
/// failed valves, when some were named (its summary shows how much the failure adds).
pub async fn isolation_geojson(
    pool: &PgPool,
    net: Arc<Network>,
    iso: &Isolation,
    at: Pt,
    disclosure: Disclosure,
    shape: Shape,
    baseline: Option<&Isolation>,
) -> Result<Value, LoadError> {
    let mut features = Vec::new();
    let srid = net.srid;
    // Without lines the parts are listed, but their geometry is neither written nor drawn.
    let (pieces_wkt, cut_wkt) = if shape.lines {
        (wkt_lines(&net, &iso.pieces), wkt_lines(&net, &iso.cut_off))
    } else {
        (None, None)
    };
    let (has_pieces, has_cut) = (!iso.pieces.is_empty(), !iso.cut_off.is_empty());
    let length = (length_m(&net, &iso.pieces) * 10.0).round() / 10.0;
    let cut_length = (length_m(&net, &iso.cut_off) * 10.0).round() / 10.0;
    let counts = summary(&net, iso);
    let base = baseline.map(|b| summary(&net, b));
    // The graph is let go before the queries: a patch waiting for it need not copy it.
    drop(net);
    let (pipes, cut, point): (Option<String>, Option<String>, Value) = sqlx::query_as(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText($1, $3), 4326), 7),
                ST_AsGeoJSON(ST_Transform(ST_GeomFromText($2, $3), 4326), 7),
                ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint($4, $5), $3), 4326), 7)::json",
    )
    .bind(pieces_wkt)
    .bind(cut_wkt)
    .bind(srid)
    .bind(at[0])
    .bind(at[1])
    .fetch_one(pool)
    .await
    .map_err(db("the isolated pipes"))?;
    let pipes = parsed(pipes, "the isolated pipes")?;
    let cut = parsed(cut, "the pipes cut off")?;
    features.push(feature("break", "break", point, Map::new()));
    let mut pipe_props = Map::new();
    pipe_props.insert("pipe_ids".into(), json!(iso.pipes));
    pipe_props.insert("length_m".into(), json!(length));
    if has_pieces {
        features.push(feature(
            "pipe",
            "isolated",
            pipes.unwrap_or(Value::Null),
            pipe_props,
        ));
    }
    if has_cut {
        let mut p = Map::new();
        p.insert("length_m".into(), json!(cut_length));
        features.push(feature("pipe", "cut_off", cut.unwrap_or(Value::Null), p));
    }
    let valve_ids: Vec<i64> = iso.valves.iter().map(|(id, _)| *id).collect();
    let valves: Vec<ValveOut> = sqlx::query_as(
        "SELECT id, code, status, operable, ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json
         FROM utilities.water_valves WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&valve_ids)
    .fetch_all(pool)
    .await
    .map_err(db("the valves"))?;
    for (id, code, status, operable, g) in valves {
        let role = iso
            .valves
            .iter()
            .find(|(v, _)| *v == id)
            .map_or(ValveRole::Close, |(_, r)| *r);
        let role = serde_json::to_value(role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut p = Map::new();
        p.insert("id".into(), json!(id));
        p.insert("code".into(), json!(code));
        p.insert("status".into(), json!(status));
        p.insert("operable".into(), json!(operable));
        features.push(feature("valve", &role, g, p));
    }
    let hydrants: Vec<(i64, Option<String>, Option<String>, Value)> = sqlx::query_as(
        "SELECT id, code, status, ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json
         FROM utilities.hydrants WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&iso.hydrants)
    .fetch_all(pool)
    .await
    .map_err(db("the hydrants"))?;
    for (id, code, status, g) in hydrants {
        let mut p = Map::new();
        p.insert("id".into(), json!(id));
        p.insert("code".into(), json!(code));
        p.insert("status".into(), json!(status));
        features.push(feature("hydrant", "out_of_service", g, p));
    }
    if disclosure.meters {
        let ids: Vec<i64> = iso
            .meters
            .iter()
            .chain(&iso.cut_off_meters)
            .copied()
            .collect();
        let meters: Vec<(i64, Option<String>, Option<String>, Value)> = sqlx::query_as(
            "SELECT id, code, CASE WHEN $2 THEN customer_ref END,
                    ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json
             FROM utilities.water_meters WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .bind(disclosure.customer_refs)
        .fetch_all(pool)
        .await
        .map_err(db("the meters"))?;
        for (id, code, customer, g) in meters {
            let mut p = Map::new();
            p.insert("id".into(), json!(id));
            p.insert("code".into(), json!(code));
            if disclosure.customer_refs {
                p.insert("customer_ref".into(), json!(customer));
            }
            let role = if iso.meters.binary_search(&id).is_ok() {
                "isolated"
            } else {
                "cut_off"
            };
            features.push(feature("meter", role, g, p));
        }
    }
    let mut out = json!({
        "type": "FeatureCollection",
        "features": features,
        "summary": counts,
        "valves_to_close": iso.to_close(),
    });
    if let Some(base) = base {
        out["without_failure"] = base;
    }
    Ok(out)
}

/// The GeoJSON answer of a power outage: the lines cut off (one geometry, with their
/// voltages and phases), the poles cut off, the open switches at its edge, where the outage
/// is (`part` = `outage`), and the customers cut off — counted for everyone, listed for
/// readers of the customers layer, their references only for readers allowed its restricted
/// properties (`disclosure`, decided by the caller from the layer's declaration).
pub async fn outage_geojson(
    pool: &PgPool,
    net: Arc<Network>,
    down: &super::outage::Downstream,
    at: Pt,
    disclosure: Disclosure,
) -> Result<Value, LoadError> {
    let (srid, wkt) = (net.srid, wkt_lines(&net, &down.pieces));
    let length = (length_m(&net, &down.pieces) * 10.0).round() / 10.0;
    drop(net);
    let (lines, point): (Option<String>, Value) = sqlx::query_as(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText($1, $2), 4326), 7),
                ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint($3, $4), $2), 4326), 7)::json",
    )
    .bind(wkt)
    .bind(srid)
    .bind(at[0])
    .bind(at[1])
    .fetch_one(pool)
    .await
    .map_err(db("the lines cut off"))?;
    let lines = parsed(lines, "the lines cut off")?;
    let mut features = vec![feature("outage", "outage", point, Map::new())];
    if let Some(g) = lines {
        let (voltages, phases): (Vec<f64>, Vec<String>) = sqlx::query_as(
            "SELECT coalesce(array_agg(DISTINCT voltage_kv ORDER BY voltage_kv)
                         FILTER (WHERE voltage_kv IS NOT NULL), '{}'),
                    coalesce(array_agg(DISTINCT phases ORDER BY phases)
                         FILTER (WHERE phases IS NOT NULL), '{}')
             FROM utilities.power_lines WHERE id = ANY($1)",
        )
        .bind(&down.lines)
        .fetch_one(pool)
        .await
        .map_err(db("the lines' voltages"))?;
        let mut p = Map::new();
        p.insert("line_ids".into(), json!(down.lines));
        p.insert("length_m".into(), json!(length));
        p.insert("voltages_kv".into(), json!(voltages));
        p.insert("phases".into(), json!(phases));
        features.push(feature("line", "cut_off", g, p));
    }
    let poles: Vec<(i64, Option<String>, Value)> = sqlx::query_as(
        "SELECT id, code, ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json
         FROM utilities.power_poles WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&down.poles)
    .fetch_all(pool)
    .await
    .map_err(db("the poles"))?;
    for (id, code, g) in poles {
        let mut p = Map::new();
        p.insert("id".into(), json!(id));
        p.insert("code".into(), json!(code));
        features.push(feature("pole", "cut_off", g, p));
    }
    let switches: Vec<SwitchOut> = sqlx::query_as(
        "SELECT id, code, switch_kind, state, ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json
             FROM utilities.power_switches WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&down.open_switches)
    .fetch_all(pool)
    .await
    .map_err(db("the switches"))?;
    for (id, code, kind, state, g) in switches {
        let mut p = Map::new();
        p.insert("id".into(), json!(id));
        p.insert("code".into(), json!(code));
        p.insert("switch_kind".into(), json!(kind));
        p.insert("state".into(), json!(state));
        features.push(feature("switch", "open", g, p));
    }
    if disclosure.meters {
        let customers: Vec<(i64, Option<String>, Option<String>, Value)> = sqlx::query_as(
            "SELECT id, code, CASE WHEN $2 THEN customer_ref END,
                    ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json
             FROM utilities.power_customers WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&down.customers)
        .bind(disclosure.customer_refs)
        .fetch_all(pool)
        .await
        .map_err(db("the customers"))?;
        for (id, code, customer, g) in customers {
            let mut p = Map::new();
            p.insert("id".into(), json!(id));
            p.insert("code".into(), json!(code));
            if disclosure.customer_refs {
                p.insert("customer_ref".into(), json!(customer));
            }
            features.push(feature("customer", "cut_off", g, p));
        }
    }
    Ok(json!({
        "type": "FeatureCollection",
        "features": features,
        "summary": {"lines": down.lines.len(), "length_m": length, "poles": down.poles.len(),
                    "customers": down.customers.len(),
                    "open_switches": down.open_switches.len()},
    }))
}

/// The GeoJSON answer of an upstream trace from `at`: the point (`part` = `point`), and when
/// a source reaches it the way (`path`, one LineString from the source to the point, with its
/// pipes, valves and length) and the source (`source`). `reached` says which.
pub async fn upstream_geojson(
    pool: &PgPool,
    net: Arc<Network>,
    up: Option<&super::trace::Upstream>,
    at: Pt,
) -> Result<Value, LoadError> {
    let srid = net.srid;
    drop(net);
    let line = up.map(|u| {
        let pts: Vec<String> = u
            .line
            .iter()
            .map(|p| format!("{} {}", p[0], p[1]))
            .collect();
        format!("LINESTRING({})", pts.join(","))
    });
    let source_at = up.map_or(at, |u| u.source_at);
    let (path, point, source): (Option<Value>, Value, Value) = sqlx::query_as(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText($1, $2), 4326), 7)::json,
                ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint($3, $4), $2), 4326), 7)::json,
                ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint($5, $6), $2), 4326), 7)::json",
    )
    .bind(line)
    .bind(srid)
    .bind(at[0])
    .bind(at[1])
    .bind(source_at[0])
    .bind(source_at[1])
    .fetch_one(pool)
    .await
    .map_err(db("the way upstream"))?;
    let mut features = vec![feature("point", "point", point, Map::new())];
    let Some(up) = up else {
        return Ok(json!({"type": "FeatureCollection", "features": features, "reached": false}));
    };
    let length = (up.length_m * 10.0).round() / 10.0;
    if let Some(g) = path {
        let mut p = Map::new();
        p.insert("pipe_ids".into(), json!(up.pipes));
        p.insert("valve_ids".into(), json!(up.valves));
        p.insert("length_m".into(), json!(length));
        features.push(feature("path", "upstream", g, p));
    }
    let mut p = Map::new();
    p.insert("id".into(), json!(up.source));
    features.push(feature("source", "source", source, p));
    Ok(json!({
        "type": "FeatureCollection",
        "features": features,
        "reached": true,
        "source": up.source,
        "length_m": length,
        "valves": up.valves,
        "pipes": up.pipes,
    }))
}

/// The GeoJSON answer of a downstream trace from `at`: the point, the pipes the piece feeds
/// (`part` = `pipe`, role `downstream`, one geometry) and the hydrants; the meters' ids only
/// for readers of the meters layer (their count for everyone).
pub async fn downstream_geojson(
    pool: &PgPool,
    net: Arc<Network>,
    down: &super::trace::Downstream,
    at: Pt,
    disclosure: Disclosure,
) -> Result<Value, LoadError> {
    let (srid, wkt) = (net.srid, wkt_lines(&net, &down.pieces));
    let length = (length_m(&net, &down.pieces) * 10.0).round() / 10.0;
    drop(net);
    let (pipes, point): (Option<String>, Value) = sqlx::query_as(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText($1, $2), 4326), 7),
                ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint($3, $4), $2), 4326), 7)::json",
    )
    .bind(wkt)
    .bind(srid)
    .bind(at[0])
    .bind(at[1])
    .fetch_one(pool)
    .await
    .map_err(db("the pipes downstream"))?;
    let pipes = parsed(pipes, "the pipes downstream")?;
    let mut features = vec![feature("point", "point", point, Map::new())];
    if let Some(g) = pipes {
        let mut p = Map::new();
        p.insert("pipe_ids".into(), json!(down.pipes));
        p.insert("length_m".into(), json!(length));
        features.push(feature("pipe", "downstream", g, p));
    }
    let hydrants: Vec<(i64, Option<String>, Value)> = sqlx::query_as(
        "SELECT id, code, ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json
         FROM utilities.hydrants WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&down.hydrants)
    .fetch_all(pool)
    .await
    .map_err(db("the hydrants"))?;
    for (id, code, g) in hydrants {
        let mut p = Map::new();
        p.insert("id".into(), json!(id));
        p.insert("code".into(), json!(code));
        features.push(feature("hydrant", "downstream", g, p));
    }
    let mut out = json!({
        "type": "FeatureCollection",
        "features": features,
        "supplied": down.supplied,
        "summary": {"pipes": down.pipes.len(), "length_m": length,
                    "meters": down.meters.len(), "hydrants": down.hydrants.len()},
    });
    if disclosure.meters {
        out["meter_ids"] = json!(down.meters);
    }
    Ok(out)
}
