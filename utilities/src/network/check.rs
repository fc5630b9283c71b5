//! A network's quality report (water or power): what a trace would get wrong.
//!
//! The same checks run over both graphs; the power network's lines, switches, substations
//! and customers stand where the water network's pipes, valves, sources and meters do, and
//! the answer names them in its own network's words ([`Words`]).
//!
//! - **dangles**: pipe ends joined to nothing (no other pipe, no device) — a true dead end or a
//!   pipe drawn short; those within [`NEAR_M`] of another pipe are most likely drawn short
//!   (`near_pipe_m` says how far);
//! - **unconnected devices**: valves, hydrants and sources further than the tolerance from any
//!   pipe, meters further than the service distance, and a second valve on a spot that has one;
//! - **valves off their pipe**: valves further than the tolerance from every pipe but within
//!   [`OFF_PIPE_M`] of one — drawn beside the pipe they belong on (a trace cannot use them: they
//!   close nothing); listed with the pipe and the distance, not among the unconnected;
//! - **crossings**: two pipes crossing where neither has a junction;
//! - **islands without a source**: groups of pipes joined to each other (whatever the valves'
//!   states) that no source feeds.
//!
//! Each finding has its location; [`report_geojson`] gives them as a WGS 84 FeatureCollection
//! with `finding` = `crossing`, `dangle`, `unconnected`, `valve_off_pipe` or `island`.

use std::collections::VecDeque;

use petgraph::graph::NodeIndex;
use petgraph::visit::{EdgeRef, NodeIndexable};
use rstar::primitives::GeomWithData;
use rstar::primitives::Line;
use rstar::{PointDistance, RTree};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::load::{Kind, LoadError};
use super::{DeviceKind, Network, Pt, Unconnected};

/// A dangle this close to another pipe is reported as probably drawn short (metres).
pub const NEAR_M: f64 = 5.0;

/// A valve this close to a pipe (but beyond the tolerance) is reported as off its pipe (metres).
pub const OFF_PIPE_M: f64 = 5.0;

/// A valve drawn beside its pipe instead of on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OffPipe {
    /// Row id in `utilities.water_valves`.
    pub valve: i64,
    /// Where it is.
    pub at: Pt,
    /// The nearest pipe.
    pub pipe: i64,
    /// How far from it (metres).
    pub distance_m: f64,
}

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

/// Two pipes crossing where neither has a junction (drawn over each other, or a junction
/// missing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    /// Where.
    pub at: Pt,
    /// The two pipes (smaller id first).
    pub pipes: (i64, i64),
}

/// The report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Pipes crossing without a junction.
    pub crossings: Vec<Crossing>,
    /// Pipe ends joined to nothing.
    pub dangles: Vec<Dangle>,
    /// Devices off the network (valves off their pipe excepted).
    pub unconnected: Vec<Unconnected>,
    /// Valves within [`OFF_PIPE_M`] of a pipe but not on it.
    pub valves_off_pipe: Vec<OffPipe>,
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
    let mut seen = vec![false; g.node_bound()];
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
    let mut unconnected = Vec::new();
    let mut valves_off_pipe = Vec::new();
    for u in &net.unconnected {
        let near = (u.kind == DeviceKind::Valve)
            .then(|| index.nearest_neighbor(&u.at))
            .flatten()
            .map(|h| (h.data, h.distance_2(&u.at).sqrt()))
            .filter(|(_, d)| *d <= OFF_PIPE_M);
        match near {
            // A second valve on a spot is on its pipe: it stays among the unconnected.
            Some((pipe, d)) if d > net.settings.tolerance_m => valves_off_pipe.push(OffPipe {
                valve: u.id,
                at: u.at,
                pipe,
                distance_m: d,
            }),
            _ => unconnected.push(*u),
        }
    }
    Report {
        crossings: crossings(net),
        dangles,
        unconnected,
        valves_off_pipe,
        islands,
    }
}

/// The proper crossing point of segments a–b and c–d (not at an end of either).
fn cross(a: Pt, b: Pt, c: Pt, d: Pt) -> Option<Pt> {
    let r = [b[0] - a[0], b[1] - a[1]];
    let q = [d[0] - c[0], d[1] - c[1]];
    let den = r[0] * q[1] - r[1] * q[0];
    if den.abs() < 1e-12 {
        return None;
    }
    let w = [c[0] - a[0], c[1] - a[1]];
    let t = (w[0] * q[1] - w[1] * q[0]) / den;
    let u = (w[0] * r[1] - w[1] * r[0]) / den;
    let inside = |v: f64| v > 1e-9 && v < 1.0 - 1e-9;
    (inside(t) && inside(u)).then(|| [a[0] + t * r[0], a[1] + t * r[1]])
}

/// Pipes crossing away from any junction: segments of different pipes that cross inside both
/// (a crossing within the tolerance of a node of both is a junction, not a finding).
fn crossings(net: &Network) -> Vec<Crossing> {
    let g = &net.graph;
    let tol = net.settings.tolerance_m;
    let segments: Vec<(i64, Pt, Pt)> = g
        .edge_indices()
        .flat_map(|e| {
            let pipe = g[e].pipe;
            g[e].line
                .windows(2)
                .map(move |w| (pipe, w[0], w[1]))
                .collect::<Vec<_>>()
        })
        .collect();
    let tree: RTree<GeomWithData<Line<Pt>, usize>> = RTree::bulk_load(
        segments
            .iter()
            .enumerate()
            .map(|(k, s)| GeomWithData::new(Line::new(s.1, s.2), k))
            .collect(),
    );
    let mut out = Vec::new();
    for (k, &(pipe, a, b)) in segments.iter().enumerate() {
        let envelope = rstar::AABB::from_corners(a, b);
        for other in tree.locate_in_envelope_intersecting(&envelope) {
            let (pipe2, c, d) = segments[other.data];
            if other.data <= k || pipe2 == pipe {
                continue;
            }
            if let Some(at) = cross(a, b, c, d) {
                let near_end = [a, b, c, d]
                    .iter()
                    .any(|p| (p[0] - at[0]).hypot(p[1] - at[1]) <= tol);
                if !near_end {
                    out.push(Crossing {
                        at,
                        pipes: (pipe.min(pipe2), pipe.max(pipe2)),
                    });
                }
            }
        }
    }
    out
}

/// How a network's answer names its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    /// An edge's property name: `pipe` or `line`.
    pub edge: &'static str,
    /// The finding of a valve/switch drawn beside its edge.
    pub off_edge: &'static str,
    /// The summary's count of those.
    pub off_edge_count: &'static str,
    /// The summary's count of edges in an island.
    pub edges: &'static str,
    /// Why an island is reported.
    pub unfed: &'static str,
}

impl Words {
    /// The words of `kind`'s network.
    pub fn of(kind: Kind) -> Words {
        match kind {
            Kind::Water => Words {
                edge: "pipe",
                off_edge: "valve_off_pipe",
                off_edge_count: "valves_off_pipe",
                edges: "pipes",
                unfed: "no source feeds it",
            },
            Kind::Power => Words {
                edge: "line",
                off_edge: "switch_off_line",
                off_edge_count: "switches_off_line",
                edges: "lines",
                unfed: "no substation feeds it",
            },
        }
    }

    /// The layer word of an unconnected device (water keeps its device kinds' names).
    pub fn device(kind: Kind, device: DeviceKind) -> &'static str {
        match (kind, device) {
            (Kind::Power, DeviceKind::Valve) => "switch",
            (Kind::Power, DeviceKind::Meter) => "customer",
            (Kind::Power, DeviceKind::Source) => "substation",
            (_, DeviceKind::Valve) => "valve",
            (_, DeviceKind::Hydrant) => "hydrant",
            (_, DeviceKind::Meter) => "meter",
            (_, DeviceKind::Source) => "source",
            (_, DeviceKind::Pole) => "pole",
        }
    }
}

/// The report as a WGS 84 FeatureCollection (coordinates transformed by PostGIS), in the
/// words of `kind`'s network.
pub async fn report_geojson(
    pool: &PgPool,
    net: &Network,
    report: &Report,
    kind: Kind,
) -> Result<Value, LoadError> {
    let words = Words::of(kind);
    let mut wkt = Vec::new();
    let mut props = Vec::new();
    for c in &report.crossings {
        wkt.push(format!("POINT({} {})", c.at[0], c.at[1]));
        props.push(json!({"finding": "crossing", words.edges: [c.pipes.0, c.pipes.1]}));
    }
    for d in &report.dangles {
        wkt.push(format!("POINT({} {})", d.at[0], d.at[1]));
        props.push(
            json!({"finding": "dangle", words.edge: d.pipe,
                format!("near_{}_m", words.edge): d.near_pipe_m.map(|m| (m * 100.0).round() / 100.0)}),
        );
    }
    for u in &report.unconnected {
        wkt.push(format!("POINT({} {})", u.at[0], u.at[1]));
        props.push(
            json!({"finding": "unconnected", "layer": Words::device(kind, u.kind), "id": u.id}),
        );
    }
    for v in &report.valves_off_pipe {
        wkt.push(format!("POINT({} {})", v.at[0], v.at[1]));
        props.push(
            json!({"finding": words.off_edge, "layer": Words::device(kind, DeviceKind::Valve),
                "id": v.valve, words.edge: v.pipe,
                "distance_m": (v.distance_m * 100.0).round() / 100.0}),
        );
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
        props.push(json!({"finding": "island", "reason": words.unfed,
            words.edges: i.pipes.len(), format!("{}_ids", words.edge): i.pipes}));
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
            "crossings": report.crossings.len(),
            "dangles": report.dangles.len(),
            format!("dangles_near_a_{}", words.edge):
                report.dangles.iter().filter(|d| d.near_pipe_m.is_some()).count(),
            "unconnected": report.unconnected.len(),
            words.off_edge_count: report.valves_off_pipe.len(),
            "islands_without_source": report.islands.len(),
        }
    }))
}
