//! The water network's quality report: what a trace would get wrong.
//!
//! - **dangles**: pipe ends joined to nothing (no other pipe, no device) — a true dead end or a
//!   pipe drawn short; those within [`NEAR_M`] of another pipe are most likely drawn short
//!   (`near_pipe_m` says how far);
//! - **unconnected devices**: valves, hydrants and sources further than the tolerance from any
//!   pipe, meters further than the service distance, and a second valve on a spot that has one;
//! - **islands without a source**: groups of pipes joined to each other (whatever the valves'
//!   states) that no source feeds.
//!
//! Each finding has its location; [`report_geojson`] gives them as a WGS 84 FeatureCollection
//! with `finding` = `dangle`, `unconnected` or `island`.

use std::collections::VecDeque;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use rstar::primitives::GeomWithData;
use rstar::primitives::Line;
use rstar::{PointDistance, RTree};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::load::LoadError;
use super::{Network, Pt, Unconnected};

/// A dangle this close to another pipe is reported as probably drawn short (metres).
pub const NEAR_M: f64 = 5.0;

/// A pipe end joined to nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dangle {
    /// Where.
    pub at: Pt,
    /// The pipe it ends.
    pub pipe: i64,
    /// Distance to the nearest other pipe, when within [`NEAR_M`].
    pub near_pipe_m: Option<f64>,
}

/// Pipes joined to each other that no source feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Island {
    /// Their ids (sorted).
    pub pipes: Vec<i64>,
    /// Their lines.
    pub lines: Vec<Vec<Pt>>,
}

/// The report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Pipe ends joined to nothing.
    pub dangles: Vec<Dangle>,
    /// Devices off the network.
    pub unconnected: Vec<Unconnected>,
    /// Islands without a source (when the network has no source at all, the whole network
    /// is reported island by island).
    pub islands: Vec<Island>,
}

/// Checks a network.
pub fn check(net: &Network) -> Report {
    let g = &net.graph;
    let index: RTree<GeomWithData<Line<Pt>, i64>> = RTree::bulk_load(
        g.edge_indices()
            .flat_map(|e| {
                let pipe = g[e].pipe;
                g[e].line
                    .windows(2)
                    .map(move |w| GeomWithData::new(Line::new(w[0], w[1]), pipe))
                    .collect::<Vec<_>>()
            })
            .collect(),
    );
    let mut dangles = Vec::new();
    for n in g.node_indices() {
        let node = &g[n];
        let mut edges = g.edges(n);
        let (Some(only), None) = (edges.next(), edges.next()) else {
            continue;
        };
        if node.valve.is_some()
            || !node.hydrants.is_empty()
            || !node.meters.is_empty()
            || !node.sources.is_empty()
            || !node.poles.is_empty()
        {
            continue;
        }
        let pipe = g[only.id()].pipe;
        let near_pipe_m = index
            .nearest_neighbor_iter(&node.at)
            .find(|h| h.data != pipe)
            .map(|h| h.distance_2(&node.at).sqrt())
            .filter(|d| *d <= NEAR_M);
        dangles.push(Dangle {
            at: node.at,
            pipe,
            near_pipe_m,
        });
    }
    let mut seen = vec![false; g.node_count()];
    let mut islands = Vec::new();
    for start in g.node_indices() {
        if seen[start.index()] || g.edges(start).next().is_none() {
            continue;
        }
        let mut queue: VecDeque<NodeIndex> = VecDeque::from([start]);
        let (mut fed, mut pieces) = (false, Vec::new());
        seen[start.index()] = true;
        while let Some(n) = queue.pop_front() {
            fed |= !g[n].sources.is_empty();
            for e in g.edges(n) {
                let other = if e.source() == n {
                    e.target()
                } else {
                    e.source()
                };
                pieces.push(e.id());
                if !std::mem::replace(&mut seen[other.index()], true) {
                    queue.push_back(other);
                }
            }
        }
        if !fed {
            pieces.sort_unstable();
            pieces.dedup();
            let mut pipes: Vec<i64> = pieces.iter().map(|&e| g[e].pipe).collect();
            pipes.sort_unstable();
            pipes.dedup();
            islands.push(Island {
                pipes,
                lines: pieces.iter().map(|&e| g[e].line.clone()).collect(),
            });
        }
    }
    Report {
        dangles,
        unconnected: net.unconnected.clone(),
        islands,
    }
}

/// The report as a WGS 84 FeatureCollection (coordinates transformed by PostGIS).
pub async fn report_geojson(
    pool: &PgPool,
    net: &Network,
    report: &Report,
) -> Result<Value, LoadError> {
    let mut wkt = Vec::new();
    let mut props = Vec::new();
    for d in &report.dangles {
        wkt.push(format!("POINT({} {})", d.at[0], d.at[1]));
        props.push(
            json!({"finding": "dangle", "pipe": d.pipe, "near_pipe_m": d.near_pipe_m
            .map(|m| (m * 100.0).round() / 100.0)}),
        );
    }
    for u in &report.unconnected {
        wkt.push(format!("POINT({} {})", u.at[0], u.at[1]));
        props.push(json!({"finding": "unconnected", "layer": u.kind, "id": u.id}));
    }
    for i in &report.islands {
        let lines: Vec<String> = i
            .lines
            .iter()
            .map(|l| {
                let pts: Vec<String> = l.iter().map(|p| format!("{} {}", p[0], p[1])).collect();
                format!("({})", pts.join(","))
            })
            .collect();
        wkt.push(format!("MULTILINESTRING({})", lines.join(",")));
        props.push(json!({"finding": "island", "reason": "no source feeds it",
            "pipes": i.pipes.len(), "pipe_ids": i.pipes}));
    }
    let geometries: Vec<Value> = sqlx::query_scalar(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText(w, $2), 4326), 7)::json
         FROM unnest($1::text[]) WITH ORDINALITY AS u(w, k) ORDER BY k",
    )
    .bind(&wkt)
    .bind(net.srid)
    .fetch_all(pool)
    .await
    .map_err(|source| LoadError::Db {
        what: "the quality report's locations",
        source,
    })?;
    let features: Vec<Value> = geometries
        .into_iter()
        .zip(props)
        .map(|(g, p)| json!({"type": "Feature", "geometry": g, "properties": p}))
        .collect();
    Ok(json!({
        "type": "FeatureCollection",
        "features": features,
        "summary": {
            "dangles": report.dangles.len(),
            "dangles_near_a_pipe": report.dangles.iter().filter(|d| d.near_pipe_m.is_some()).count(),
            "unconnected": report.unconnected.len(),
            "islands_without_source": report.islands.len(),
        }
    }))
}
