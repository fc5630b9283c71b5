//! The water network as a graph: pipes are edges, junctions and devices are nodes.
//!
//! [`Network::build`] joins what the layers hold ([`Inputs`], read by [`load`]) into a
//! [`petgraph`] graph: pipe ends within the snapping tolerance ([`Settings::tolerance_m`],
//! TM-3 metres) become one junction; a valve, hydrant or source within the tolerance of a
//! junction sits on it, and one on a pipe's interior splits the pipe there (a valve between
//! two pieces); a meter is served by the nearest pipe within [`Settings::service_m`] (its
//! service line is not drawn in the layers), tapped at its foot. Devices further away are
//! listed as unconnected ([`Network::unconnected`]) instead of guessed.
//!
//! Traces read the graph only ([`isolate`]); [`live::LiveNetwork`] keeps the graph current from
//! the tables' change notifications; [`answer`] turns a trace into GeoJSON with the layers'
//! properties. All coordinates here are in one TM-3 zone ([`Network::srid`]: the zone most
//! pipes are stored in), so distances are ground metres.

pub mod answer;
pub mod check;
pub mod isolate;
pub mod live;
pub mod load;
pub mod outage;
pub mod request;

use std::collections::HashMap;

use petgraph::graph::{EdgeIndex, NodeIndex, UnGraph};
use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree};

/// A point in the network's TM-3 zone, metres.
pub type Pt = [f64; 2];

/// How devices and pipe ends are joined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Pipe ends and devices closer than this are joined (TM-3 metres).
    pub tolerance_m: f64,
    /// A meter is served by the nearest pipe within this distance (its service line).
    pub service_m: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tolerance_m: 0.1,
            service_m: 30.0,
        }
    }
}

/// One pipe as read from `utilities.water_pipes`.
#[derive(Debug, Clone)]
pub struct PipeRow {
    /// Row id.
    pub id: i64,
    /// Nominal diameter, mm.
    pub diameter_mm: Option<f64>,
    /// The parts of the (multi)line, each a polyline.
    pub parts: Vec<Vec<Pt>>,
}

/// One valve as read from `utilities.water_valves`.
#[derive(Debug, Clone, Copy)]
pub struct ValveRow {
    /// Row id.
    pub id: i64,
    /// Location.
    pub at: Pt,
    /// Closed now ([`is_closed_status`]).
    pub closed: bool,
    /// Can be turned (`operable` not false).
    pub operable: bool,
}

/// One point device (hydrant, meter, source) as read from its table.
#[derive(Debug, Clone, Copy)]
pub struct PointRow {
    /// Row id.
    pub id: i64,
    /// Location.
    pub at: Pt,
}

/// Everything a network is built from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The TM-3 zone of the coordinates (0 when there are no pipes).
    pub srid: i32,
    /// Pipes.
    pub pipes: Vec<PipeRow>,
    /// Valves.
    pub valves: Vec<ValveRow>,
    /// Hydrants.
    pub hydrants: Vec<PointRow>,
    /// Meters.
    pub meters: Vec<PointRow>,
    /// Sources (plants, tanks; substations in a power network).
    pub sources: Vec<PointRow>,
    /// Poles (power networks).
    pub poles: Vec<PointRow>,
}

/// Whether a valve's `status` text says closed (Vietnamese or English, any case).
pub fn is_closed_status(status: &str) -> bool {
    matches!(
        status.trim().to_lowercase().as_str(),
        "đóng" | "dong" | "closed" | "close" | "shut"
    )
}

/// A valve on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Valve {
    /// Row id in `utilities.water_valves`.
    pub id: i64,
    /// Closed now.
    pub closed: bool,
    /// Can be turned.
    pub operable: bool,
}

/// A junction, pipe end or tap, with what stands on it.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// Location.
    pub at: Pt,
    /// The valve here, if any (it separates the pipes that meet here when closed).
    pub valve: Option<Valve>,
    /// Hydrants here.
    pub hydrants: Vec<i64>,
    /// Meters served from here.
    pub meters: Vec<i64>,
    /// Sources feeding in here.
    pub sources: Vec<i64>,
    /// Poles here (power networks).
    pub poles: Vec<i64>,
}

/// A piece of one pipe between two nodes.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The pipe's row id.
    pub pipe: i64,
    /// Diameter, mm.
    pub diameter_mm: Option<f64>,
    /// Where the piece starts and ends along the pipe (metres from its start, parts in order).
    pub from_m: f64,
    /// See `from_m`.
    pub to_m: f64,
    /// Its line.
    pub line: Vec<Pt>,
}

/// Which layer a device is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// `utilities.water_valves`.
    Valve,
    /// `utilities.hydrants`.
    Hydrant,
    /// `utilities.water_meters`.
    Meter,
    /// `utilities.water_sources` (`utilities.substations` in a power network).
    Source,
    /// `utilities.power_poles`.
    Pole,
}

/// A device the build could not place on the network.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Unconnected {
    /// Its layer.
    pub kind: DeviceKind,
    /// Row id.
    pub id: i64,
    /// Location.
    pub at: Pt,
}

type SegmentTree = RTree<GeomWithData<Line<Pt>, EdgeIndex>>;

/// The water network.
#[derive(Debug)]
pub struct Network {
    /// TM-3 zone of every coordinate.
    pub srid: i32,
    /// The graph.
    pub graph: UnGraph<Node, Segment>,
    /// Settings it was built with.
    pub settings: Settings,
    /// Devices too far from any pipe or junction.
    pub unconnected: Vec<Unconnected>,
    /// Node of each valve.
    valves: HashMap<i64, NodeIndex>,
    /// Pieces of each pipe, in order along it.
    pipes: HashMap<i64, Vec<EdgeIndex>>,
    /// Every straight stretch of every piece, for locating a point.
    index: SegmentTree,
    /// Nodes with a source.
    sources: Vec<NodeIndex>,
}

fn dist(a: Pt, b: Pt) -> f64 {
    (b[0] - a[0]).hypot(b[1] - a[1])
}

/// The foot of `p` on segment a–b: (parameter 0..1, foot).
fn foot(a: Pt, b: Pt, p: Pt) -> (f64, Pt) {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return (0.0, a);
    }
    let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0);
    (t, [a[0] + t * dx, a[1] + t * dy])
}

/// The part of a polyline (with cumulative lengths `cum`) between arc lengths `a` and `b`.
fn sub_line(pts: &[Pt], cum: &[f64], a: f64, b: f64) -> Vec<Pt> {
    let at = |s: f64| -> Pt {
        let i = cum.partition_point(|&c| c <= s).clamp(1, pts.len() - 1);
        let (s0, s1) = (cum[i - 1], cum[i]);
        let t = if s1 > s0 { (s - s0) / (s1 - s0) } else { 0.0 };
        let (p, q) = (pts[i - 1], pts[i]);
        [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]
    };
    let mut out = vec![at(a)];
    for (k, &c) in cum.iter().enumerate() {
        if c > a && c < b {
            out.push(pts[k]);
        }
    }
    out.push(at(b));
    out.dedup();
    if out.len() < 2 {
        out.push(out[0]);
    }
    out
}

/// What a device placement found.
enum Place {
    /// On this pipe end's cluster.
    Node(usize),
    /// On part `part` at arc length `s`.
    Split { part: usize, s: f64 },
    /// Nowhere near.
    Off,
}

impl Network {
    /// Joins the inputs into a graph (see the module doc).
    pub fn build(inputs: &Inputs, settings: Settings) -> Network {
        let tol = settings.tolerance_m;
        // Parts with their pipe, cumulative lengths and offset along the pipe.
        struct Part<'a> {
            pipe: &'a PipeRow,
            pts: &'a [Pt],
            cum: Vec<f64>,
            offset: f64,
        }
        let mut parts: Vec<Part<'_>> = Vec::new();
        for pipe in &inputs.pipes {
            let mut offset = 0.0;
            for pts in &pipe.parts {
                if pts.len() < 2 {
                    continue;
                }
                let mut cum = Vec::with_capacity(pts.len());
                let mut s = 0.0;
                cum.push(0.0);
                for w in pts.windows(2) {
                    s += dist(w[0], w[1]);
                    cum.push(s);
                }
                if s <= 0.0 {
                    continue;
                }
                parts.push(Part {
                    pipe,
                    pts,
                    cum,
                    offset,
                });
                offset += s;
            }
        }
        // Pipe ends within the tolerance are one junction.
        let mut ends: RTree<GeomWithData<Pt, usize>> = RTree::new();
        let mut end_at: Vec<Pt> = Vec::new();
        let mut part_ends: Vec<(usize, usize)> = Vec::with_capacity(parts.len());
        let mut cluster = |p: Pt, ends: &mut RTree<GeomWithData<Pt, usize>>| -> usize {
            if let Some(n) = ends
                .nearest_neighbor(&p)
                .filter(|n| n.distance_2(&p) <= tol * tol)
            {
                return n.data;
            }
            let k = end_at.len();
            end_at.push(p);
            ends.insert(GeomWithData::new(p, k));
            k
        };
        for part in &parts {
            let a = cluster(part.pts[0], &mut ends);
            let b = cluster(part.pts[part.pts.len() - 1], &mut ends);
            part_ends.push((a, b));
        }
        // Straight stretches of the parts, to find the pipe under a device.
        let stretches: RTree<GeomWithData<Line<Pt>, (usize, usize)>> = RTree::bulk_load(
            parts
                .iter()
                .enumerate()
                .flat_map(|(k, part)| {
                    part.pts
                        .windows(2)
                        .enumerate()
                        .map(move |(i, w)| GeomWithData::new(Line::new(w[0], w[1]), (k, i)))
                })
                .collect(),
        );
        let place = |p: Pt, reach: f64| -> Place {
            if let Some(n) = ends
                .nearest_neighbor(&p)
                .filter(|n| n.distance_2(&p) <= tol * tol)
            {
                return Place::Node(n.data);
            }
            let Some(hit) = stretches
                .nearest_neighbor(&p)
                .filter(|h| h.distance_2(&p) <= reach * reach)
            else {
                return Place::Off;
            };
            let (k, i) = hit.data;
            let part = &parts[k];
            let (t, _) = foot(part.pts[i], part.pts[i + 1], p);
            let s = part.cum[i] + t * (part.cum[i + 1] - part.cum[i]);
            let len = part.cum[part.cum.len() - 1];
            if s <= tol {
                Place::Node(part_ends[k].0)
            } else if s >= len - tol {
                Place::Node(part_ends[k].1)
            } else {
                Place::Split { part: k, s }
            }
        };
        // Where each device goes: an end cluster, or a split of a part.
        let mut on_end: Vec<Vec<(DeviceKind, usize)>> = vec![Vec::new(); end_at.len()];
        let mut splits: Vec<Vec<(f64, DeviceKind, usize)>> = vec![Vec::new(); parts.len()];
        let mut unconnected = Vec::new();
        let devices = inputs
            .valves
            .iter()
            .enumerate()
            .map(|(k, v)| (DeviceKind::Valve, k, v.id, v.at, tol))
            .chain(
                inputs
                    .hydrants
                    .iter()
                    .enumerate()
                    .map(|(k, h)| (DeviceKind::Hydrant, k, h.id, h.at, tol)),
            )
            .chain(
                inputs
                    .sources
                    .iter()
                    .enumerate()
                    .map(|(k, h)| (DeviceKind::Source, k, h.id, h.at, tol)),
            )
            .chain(
                inputs
                    .poles
                    .iter()
                    .enumerate()
                    .map(|(k, h)| (DeviceKind::Pole, k, h.id, h.at, tol)),
            )
            .chain(
                inputs
                    .meters
                    .iter()
                    .enumerate()
                    .map(|(k, m)| (DeviceKind::Meter, k, m.id, m.at, settings.service_m)),
            );
        for (kind, k, id, at, reach) in devices {
            match place(at, reach) {
                Place::Node(n) => on_end[n].push((kind, k)),
                Place::Split { part, s } => splits[part].push((s, kind, k)),
                Place::Off => unconnected.push(Unconnected { kind, id, at }),
            }
        }
        // The graph: every end cluster is a node; splits make nodes of their own.
        let mut graph: UnGraph<Node, Segment> = UnGraph::with_capacity(end_at.len(), parts.len());
        let end_nodes: Vec<NodeIndex> = end_at
            .iter()
            .map(|&at| {
                graph.add_node(Node {
                    at,
                    ..Node::default()
                })
            })
            .collect();
        let mut valves = HashMap::new();
        let mut put = |graph: &mut UnGraph<Node, Segment>,
                       n: NodeIndex,
                       kind: DeviceKind,
                       k: usize,
                       unconnected: &mut Vec<Unconnected>| {
            let node = &mut graph[n];
            match kind {
                DeviceKind::Valve => {
                    let v = &inputs.valves[k];
                    if node.valve.is_some() {
                        // Two valves on one spot: the second cannot be told apart.
                        unconnected.push(Unconnected {
                            kind,
                            id: v.id,
                            at: v.at,
                        });
                    } else {
                        node.valve = Some(Valve {
                            id: v.id,
                            closed: v.closed,
                            operable: v.operable,
                        });
                        valves.insert(v.id, n);
                    }
                }
                DeviceKind::Hydrant => node.hydrants.push(inputs.hydrants[k].id),
                DeviceKind::Meter => node.meters.push(inputs.meters[k].id),
                DeviceKind::Source => node.sources.push(inputs.sources[k].id),
                DeviceKind::Pole => node.poles.push(inputs.poles[k].id),
            }
        };
        for (n, devices) in on_end.into_iter().enumerate() {
            for (kind, k) in devices {
                put(&mut graph, end_nodes[n], kind, k, &mut unconnected);
            }
        }
        let mut pipes: HashMap<i64, Vec<EdgeIndex>> = HashMap::new();
        for (k, (part, mut cuts)) in parts.iter().zip(splits).enumerate() {
            cuts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let len = part.cum[part.cum.len() - 1];
            let mut from = (0.0, end_nodes[part_ends[k].0]);
            let mut i = 0;
            while i < cuts.len() {
                // Devices within the tolerance of each other share one tap.
                let s = cuts[i].0;
                let at = sub_line(part.pts, &part.cum, s, s)[0];
                let n = graph.add_node(Node {
                    at,
                    ..Node::default()
                });
                while i < cuts.len() && cuts[i].0 - s <= tol {
                    put(&mut graph, n, cuts[i].1, cuts[i].2, &mut unconnected);
                    i += 1;
                }
                let e = graph.add_edge(
                    from.1,
                    n,
                    Segment {
                        pipe: part.pipe.id,
                        diameter_mm: part.pipe.diameter_mm,
                        from_m: part.offset + from.0,
                        to_m: part.offset + s,
                        line: sub_line(part.pts, &part.cum, from.0, s),
                    },
                );
                pipes.entry(part.pipe.id).or_default().push(e);
                from = (s, n);
            }
            let e = graph.add_edge(
                from.1,
                end_nodes[part_ends[k].1],
                Segment {
                    pipe: part.pipe.id,
                    diameter_mm: part.pipe.diameter_mm,
                    from_m: part.offset + from.0,
                    to_m: part.offset + len,
                    line: sub_line(part.pts, &part.cum, from.0, len),
                },
            );
            pipes.entry(part.pipe.id).or_default().push(e);
        }
        let index = RTree::bulk_load(
            graph
                .edge_indices()
                .flat_map(|e| {
                    graph[e]
                        .line
                        .windows(2)
                        .map(move |w| GeomWithData::new(Line::new(w[0], w[1]), e))
                        .collect::<Vec<_>>()
                })
                .collect(),
        );
        let sources = graph
            .node_indices()
            .filter(|&n| !graph[n].sources.is_empty())
            .collect();
        Network {
            sources,
            srid: inputs.srid,
            graph,
            settings,
            unconnected,
            valves,
            pipes,
            index,
        }
    }

    /// The nodes with a source.
    pub fn source_nodes(&self) -> &[NodeIndex] {
        &self.sources
    }

    /// The node of a valve.
    pub fn valve_node(&self, id: i64) -> Option<NodeIndex> {
        self.valves.get(&id).copied()
    }

    /// The pieces of a pipe, in order along it.
    pub fn pipe_pieces(&self, id: i64) -> &[EdgeIndex] {
        self.pipes.get(&id).map_or(&[], Vec::as_slice)
    }

    /// How many pipes the network holds.
    pub fn pipe_count(&self) -> usize {
        self.pipes.len()
    }

    /// The piece of pipe nearest `p` within `reach` metres, and the foot of `p` on it.
    pub fn locate(&self, p: Pt, reach: f64) -> Option<(EdgeIndex, Pt)> {
        let hit = self
            .index
            .nearest_neighbor(&p)
            .filter(|h| h.distance_2(&p) <= reach * reach)?;
        let (_, at) = foot(hit.geom().from, hit.geom().to, p);
        Some((hit.data, at))
    }

    /// The piece of pipe `id` at `fraction` (0–1) of its length, and the point there.
    pub fn locate_on_pipe(&self, id: i64, fraction: f64) -> Option<(EdgeIndex, Pt)> {
        let pieces = self.pipes.get(&id)?;
        let total = pieces
            .iter()
            .map(|&e| self.graph[e].to_m)
            .fold(0.0, f64::max);
        let s = fraction.clamp(0.0, 1.0) * total;
        let &e = pieces
            .iter()
            .find(|&&e| s <= self.graph[e].to_m)
            .or(pieces.last())?;
        let seg = &self.graph[e];
        let mut cum = vec![0.0];
        for w in seg.line.windows(2) {
            cum.push(cum[cum.len() - 1] + dist(w[0], w[1]));
        }
        let local = (s - seg.from_m).clamp(0.0, cum[cum.len() - 1]);
        Some((e, sub_line(&seg.line, &cum, local, local)[0]))
    }
}

#[cfg(test)]
mod tests;
