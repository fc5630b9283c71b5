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
//! Traces read the graph only ([`isolate`]; what a closing cuts off from the sources is found
//! in [`isolate::Supply`], a tree made once per graph version); [`live::LiveNetwork`] keeps the graph current from
//! the tables' change notifications; [`answer`] turns a trace into GeoJSON with the layers'
//! properties. All coordinates here are in one TM-3 zone ([`Network::srid`]: the zone most
//! pipes are stored in), so distances are ground metres.

pub mod answer;
pub mod check;
pub mod event;
pub mod isolate;
pub mod live;
pub mod load;
pub mod outage;
pub mod request;
pub mod trace;

use std::collections::HashMap;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableUnGraph};
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{PointDistance, RTree, AABB};

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
    /// Valves (switches in a power network, `closed` when the switch is open).
    pub valves: Vec<ValveRow>,
    /// Hydrants.
    pub hydrants: Vec<PointRow>,
    /// Meters (customers' supply points in a power network).
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

/// Whether a switch's `state` text says open, i.e. it stops the current (Vietnamese or
/// English, any case). A switch with no state, or one not understood, conducts: the feeders
/// are drawn closed, and an open point is recorded on purpose.
pub fn is_open_switch_state(state: &str) -> bool {
    matches!(
        state.trim().to_lowercase().as_str(),
        "mở" | "mo" | "cắt" | "cat" | "open" | "off" | "tripped"
    )
}

/// A valve on a node (a switch in a power network: `closed` there means the switch is open,
/// so that both stop what flows, and every trace reads one flag).
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
    /// `utilities.water_valves` (`utilities.power_switches` in a power network).
    Valve,
    /// `utilities.hydrants`.
    Hydrant,
    /// `utilities.water_meters` (`utilities.power_customers` in a power network).
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

/// The graph type: indices stay valid when a patch removes pieces elsewhere.
pub type Graph = StableUnGraph<Node, Segment>;

/// A device row as kept for patches: where, and a valve's state.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DeviceRow {
    at: Pt,
    /// A valve's (closed, operable).
    valve: Option<(bool, bool)>,
    /// The node it is placed on.
    node: Option<NodeIndex>,
}

/// The order devices are placed in (a valve before anything else on its spot).
fn rank(kind: DeviceKind) -> u8 {
    match kind {
        DeviceKind::Valve => 0,
        DeviceKind::Hydrant => 1,
        DeviceKind::Source => 2,
        DeviceKind::Pole => 3,
        DeviceKind::Meter => 4,
    }
}

/// A device's key: its layer and row id.
pub type DeviceKey = (DeviceKind, i64);

/// The rows of one layer that replace what the network holds of that layer in a changed
/// area ([`Network::patch`]).
#[derive(Debug, Clone)]
pub enum Rows {
    /// Pipes (lines of a power network).
    Pipes(Vec<PipeRow>),
    /// Valves.
    Valves(Vec<ValveRow>),
    /// Point devices of one layer.
    Points(DeviceKind, Vec<PointRow>),
}

/// A change of one layer in an area: the rows `gone` (ids; every row the network holds there,
/// whether deleted, changed or unchanged) are dropped, then `rows` (what the layer holds there
/// now) are put in.
#[derive(Debug, Clone)]
pub struct Change {
    /// Ids of the layer's rows in the changed area before the change.
    pub gone: Vec<i64>,
    /// The layer's rows in the changed area now.
    pub rows: Rows,
}

/// What a patch touched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Patched {
    /// Pipes whose pieces were rebuilt.
    pub pipes: usize,
    /// Devices placed again.
    pub devices: usize,
}

/// The water network.
#[derive(Debug, Clone)]
pub struct Network {
    /// TM-3 zone of every coordinate.
    pub srid: i32,
    /// The graph.
    pub graph: Graph,
    /// Settings it was built with.
    pub settings: Settings,
    /// Devices too far from any pipe or junction.
    pub unconnected: Vec<Unconnected>,
    /// Pieces of each pipe, in order along it.
    pipes: HashMap<i64, Vec<EdgeIndex>>,
    /// Every straight stretch of every piece, for locating a point.
    index: SegmentTree,
    /// Nodes with a source.
    sources: Vec<NodeIndex>,
    /// The pipe rows it was built from.
    pipe_rows: HashMap<i64, PipeRow>,
    /// The device rows it was built from.
    device_rows: HashMap<DeviceKey, DeviceRow>,
    /// The box of every pipe row, to find those near a change.
    pipe_boxes: RTree<GeomWithData<Rectangle<Pt>, i64>>,
    /// Every device row, to find those near a change.
    device_points: RTree<GeomWithData<Pt, DeviceKey>>,
    /// What the sources reach with the closed valves shut, made by the first trace that needs
    /// it and dropped by every patch ([`isolate::Supply`]).
    supply: std::sync::OnceLock<isolate::Supply>,
}

fn pipe_box_entry(p: &PipeRow) -> Option<GeomWithData<Rectangle<Pt>, i64>> {
    pipe_bbox(p)
        .map(|b| GeomWithData::new(Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]), p.id))
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
    /// On this pipe end's junction.
    Node(NodeIndex),
    /// On part `part` at arc length `s`.
    Split { part: usize, s: f64 },
    /// Nowhere near.
    Off,
}

/// A box [xmin, ymin, xmax, ymax].
type Bbox = [f64; 4];

fn bbox_of<'a>(pts: impl IntoIterator<Item = &'a Pt>) -> Option<Bbox> {
    pts.into_iter().fold(None, |b, p| {
        Some(match b {
            None => [p[0], p[1], p[0], p[1]],
            Some([a, b, c, d]) => [a.min(p[0]), b.min(p[1]), c.max(p[0]), d.max(p[1])],
        })
    })
}

fn union(a: Option<Bbox>, b: Option<Bbox>) -> Option<Bbox> {
    match (a, b) {
        (Some(a), Some(b)) => Some([
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ]),
        (a, None) => a,
        (None, b) => b,
    }
}

fn grow(b: Bbox, m: f64) -> Bbox {
    [b[0] - m, b[1] - m, b[2] + m, b[3] + m]
}

fn pipe_bbox(p: &PipeRow) -> Option<Bbox> {
    bbox_of(p.parts.iter().flatten())
}

fn stretches_of(
    graph: &Graph,
    e: EdgeIndex,
) -> impl Iterator<Item = GeomWithData<Line<Pt>, EdgeIndex>> + '_ {
    graph[e]
        .line
        .windows(2)
        .map(move |w| GeomWithData::new(Line::new(w[0], w[1]), e))
}

impl Network {
    /// Joins the inputs into a graph (see the module doc).
    pub fn build(inputs: &Inputs, settings: Settings) -> Network {
        let mut net = Network {
            srid: inputs.srid,
            graph: Graph::with_capacity(inputs.pipes.len() * 2, inputs.pipes.len() * 2),
            settings,
            unconnected: Vec::new(),
            pipes: HashMap::with_capacity(inputs.pipes.len()),
            index: RTree::new(),
            sources: Vec::new(),
            pipe_rows: inputs.pipes.iter().map(|p| (p.id, p.clone())).collect(),
            device_rows: HashMap::with_capacity(
                inputs.valves.len()
                    + inputs.hydrants.len()
                    + inputs.meters.len()
                    + inputs.sources.len()
                    + inputs.poles.len(),
            ),
            pipe_boxes: RTree::new(),
            device_points: RTree::new(),
            supply: std::sync::OnceLock::new(),
        };
        for v in &inputs.valves {
            net.device_rows.insert(
                (DeviceKind::Valve, v.id),
                DeviceRow {
                    at: v.at,
                    valve: Some((v.closed, v.operable)),
                    node: None,
                },
            );
        }
        // In the order they are placed (by kind, then as read): no sort of every device.
        let points = [
            (DeviceKind::Hydrant, &inputs.hydrants),
            (DeviceKind::Source, &inputs.sources),
            (DeviceKind::Pole, &inputs.poles),
            (DeviceKind::Meter, &inputs.meters),
        ];
        for (kind, rows) in points {
            for r in rows {
                net.device_rows.insert(
                    (kind, r.id),
                    DeviceRow {
                        at: r.at,
                        valve: None,
                        node: None,
                    },
                );
            }
        }
        let devices: Vec<DeviceKey> = inputs
            .valves
            .iter()
            .map(|v| (DeviceKind::Valve, v.id))
            .chain(
                points
                    .iter()
                    .flat_map(|(kind, rows)| rows.iter().map(move |r| (*kind, r.id))),
            )
            .collect();
        net.pipe_boxes =
            RTree::bulk_load(net.pipe_rows.values().filter_map(pipe_box_entry).collect());
        net.device_points = RTree::bulk_load(
            net.device_rows
                .iter()
                .map(|(&k, d)| GeomWithData::new(d.at, k))
                .collect(),
        );
        let mut pipes: Vec<i64> = net.pipe_rows.keys().copied().collect();
        pipes.sort_unstable();
        let edges = net.splice(&pipes, &[], &devices);
        net.index = RTree::bulk_load(
            edges
                .iter()
                .flat_map(|&e| stretches_of(&net.graph, e).collect::<Vec<_>>())
                .collect(),
        );
        net.sources = net
            .graph
            .node_indices()
            .filter(|&n| !net.graph[n].sources.is_empty())
            .collect();
        net
    }

    /// Adds the pieces of `pipe_ids` (whose rows are in `pipe_rows`, none in the graph) and
    /// places `devices` (none placed), joining pipe ends to each other and to the `seeds`
    /// (nodes already in the graph) within the tolerance. Devices are placed against these
    /// pipes only: the caller passes every pipe a device could reach. Returns the new pieces.
    fn splice(
        &mut self,
        pipe_ids: &[i64],
        seeds: &[NodeIndex],
        devices: &[DeviceKey],
    ) -> Vec<EdgeIndex> {
        let tol = self.settings.tolerance_m;
        let service = self.settings.service_m;
        // Parts with their pipe, cumulative lengths and offset along the pipe.
        struct Part<'a> {
            pipe: &'a PipeRow,
            pts: &'a [Pt],
            cum: Vec<f64>,
            offset: f64,
        }
        let rows = std::mem::take(&mut self.pipe_rows);
        let mut parts: Vec<Part<'_>> = Vec::new();
        for id in pipe_ids {
            let Some(pipe) = rows.get(id) else { continue };
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
        let graph = &mut self.graph;
        // Pipe ends within the tolerance are one junction (a seed is one already).
        let mut ends: RTree<GeomWithData<Pt, NodeIndex>> = RTree::bulk_load(
            seeds
                .iter()
                .map(|&n| GeomWithData::new(graph[n].at, n))
                .collect(),
        );
        let mut part_ends: Vec<(NodeIndex, NodeIndex)> = Vec::with_capacity(parts.len());
        let cluster = |p: Pt, ends: &mut RTree<GeomWithData<Pt, NodeIndex>>, graph: &mut Graph| {
            if let Some(n) = ends
                .nearest_neighbor(&p)
                .filter(|n| n.distance_2(&p) <= tol * tol)
            {
                return n.data;
            }
            let n = graph.add_node(Node {
                at: p,
                ..Node::default()
            });
            ends.insert(GeomWithData::new(p, n));
            n
        };
        for part in &parts {
            let a = cluster(part.pts[0], &mut ends, graph);
            let b = cluster(part.pts[part.pts.len() - 1], &mut ends, graph);
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
        // Devices on a junction go there now (in order: the first valve on a spot holds it);
        // those on a part's interior are gathered per part.
        let mut splits: Vec<Vec<(f64, DeviceKey)>> = vec![Vec::new(); parts.len()];
        let device_rows = &mut self.device_rows;
        let unconnected = &mut self.unconnected;
        let put = |graph: &mut Graph,
                   device_rows: &mut HashMap<DeviceKey, DeviceRow>,
                   unconnected: &mut Vec<Unconnected>,
                   n: NodeIndex,
                   key: DeviceKey| {
            let (kind, id) = key;
            let Some(row) = device_rows.get_mut(&key) else {
                return;
            };
            let node = &mut graph[n];
            match kind {
                DeviceKind::Valve => {
                    let (closed, operable) = row.valve.unwrap_or((false, true));
                    if node.valve.is_some() {
                        // Two valves on one spot: the second cannot be told apart.
                        unconnected.push(Unconnected {
                            kind,
                            id,
                            at: row.at,
                        });
                        return;
                    }
                    node.valve = Some(Valve {
                        id,
                        closed,
                        operable,
                    });
                }
                DeviceKind::Hydrant => node.hydrants.push(id),
                DeviceKind::Meter => node.meters.push(id),
                DeviceKind::Source => node.sources.push(id),
                DeviceKind::Pole => node.poles.push(id),
            }
            row.node = Some(n);
        };
        let mut off = Vec::new();
        for &key in devices {
            let Some(&DeviceRow { at, .. }) = device_rows.get(&key) else {
                continue;
            };
            let reach = if key.0 == DeviceKind::Meter {
                service
            } else {
                tol
            };
            match place(at, reach) {
                Place::Node(n) => put(graph, device_rows, unconnected, n, key),
                Place::Split { part, s } => splits[part].push((s, key)),
                Place::Off => off.push(Unconnected {
                    kind: key.0,
                    id: key.1,
                    at,
                }),
            }
        }
        let mut new_edges = Vec::with_capacity(parts.len());
        for (k, (part, mut cuts)) in parts.iter().zip(splits).enumerate() {
            cuts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let len = part.cum[part.cum.len() - 1];
            let mut from = (0.0, part_ends[k].0);
            let mut pieces = Vec::with_capacity(cuts.len() + 1);
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
                    put(graph, device_rows, unconnected, n, cuts[i].1);
                    i += 1;
                }
                pieces.push(graph.add_edge(
                    from.1,
                    n,
                    Segment {
                        pipe: part.pipe.id,
                        diameter_mm: part.pipe.diameter_mm,
                        from_m: part.offset + from.0,
                        to_m: part.offset + s,
                        line: sub_line(part.pts, &part.cum, from.0, s),
                    },
                ));
                from = (s, n);
            }
            pieces.push(graph.add_edge(
                from.1,
                part_ends[k].1,
                Segment {
                    pipe: part.pipe.id,
                    diameter_mm: part.pipe.diameter_mm,
                    from_m: part.offset + from.0,
                    to_m: part.offset + len,
                    line: sub_line(part.pts, &part.cum, from.0, len),
                },
            ));
            new_edges.extend_from_slice(&pieces);
            self.pipes.entry(part.pipe.id).or_default().extend(pieces);
        }
        drop(parts);
        self.unconnected.extend(off);
        self.pipe_rows = rows;
        new_edges
    }

    /// Applies a change of one layer in an area to the graph without rebuilding it: the
    /// layer's rows are replaced, then every pipe within twice the reach of a device
    /// (`service_m` plus the tolerance) of the changed rows is rebuilt, and every device
    /// within that reach placed again, joined to the untouched rest at the junctions the
    /// rebuilt pipes shared with it. The result answers like [`Network::build`] over the
    /// changed rows (short of order-dependent ties within the tolerance: which of two
    /// valves on one spot is kept).
    pub fn patch(&mut self, change: &Change) -> Patched {
        // The supply tree was of the graph before the change.
        self.supply = std::sync::OnceLock::new();
        let tol = self.settings.tolerance_m;
        let margin = self.settings.service_m.max(tol) + 2.0 * tol;
        // The area: every old row dropped and every new row put in.
        let mut area: Option<Bbox> = None;
        let mut changed_pipes: Vec<i64> = Vec::new();
        let mut gone_devices: Vec<DeviceKey> = Vec::new();
        // Where the dropped device rows were placed.
        let mut dropped: HashMap<DeviceKey, NodeIndex> = HashMap::new();
        match &change.rows {
            Rows::Pipes(rows) => {
                for id in change.gone.iter().chain(rows.iter().map(|r| &r.id)) {
                    if let Some(old) = self.pipe_rows.remove(id) {
                        area = union(area, pipe_bbox(&old));
                        if let Some(e) = pipe_box_entry(&old) {
                            self.pipe_boxes.remove(&e);
                        }
                    }
                    changed_pipes.push(*id);
                }
                for r in rows {
                    area = union(area, pipe_bbox(r));
                    if let Some(e) = pipe_box_entry(r) {
                        self.pipe_boxes.insert(e);
                    }
                    self.pipe_rows.insert(r.id, r.clone());
                }
            }
            Rows::Valves(_) | Rows::Points(..) => {
                let kind = match &change.rows {
                    Rows::Points(kind, _) => *kind,
                    _ => DeviceKind::Valve,
                };
                let new: Vec<(i64, DeviceRow)> = match &change.rows {
                    Rows::Valves(rows) => rows
                        .iter()
                        .map(|v| {
                            (
                                v.id,
                                DeviceRow {
                                    at: v.at,
                                    valve: Some((v.closed, v.operable)),
                                    node: None,
                                },
                            )
                        })
                        .collect(),
                    Rows::Points(_, rows) => rows
                        .iter()
                        .map(|p| {
                            (
                                p.id,
                                DeviceRow {
                                    at: p.at,
                                    valve: None,
                                    node: None,
                                },
                            )
                        })
                        .collect(),
                    Rows::Pipes(_) => Vec::new(),
                };
                for id in change.gone.iter().chain(new.iter().map(|(id, _)| id)) {
                    if let Some(old) = self.device_rows.remove(&(kind, *id)) {
                        area = union(area, bbox_of([&old.at]));
                        if let Some(n) = old.node {
                            dropped.insert((kind, *id), n);
                        }
                        self.device_points
                            .remove(&GeomWithData::new(old.at, (kind, *id)));
                    }
                    gone_devices.push((kind, *id));
                }
                for (id, row) in new {
                    area = union(area, bbox_of([&row.at]));
                    self.device_points
                        .insert(GeomWithData::new(row.at, (kind, id)));
                    self.device_rows.insert((kind, id), row);
                }
            }
        }
        let Some(area) = area else {
            return Patched::default();
        };
        let (near, reach) = (grow(area, margin), grow(area, 2.0 * margin));
        // Pipes to rebuild: the changed ones and every pipe a re-placed device could reach.
        let mut dirty: Vec<i64> = self
            .pipe_boxes
            .locate_in_envelope_intersecting(&AABB::from_corners(
                [reach[0], reach[1]],
                [reach[2], reach[3]],
            ))
            .map(|e| e.data)
            .chain(changed_pipes)
            .collect();
        dirty.sort_unstable();
        dirty.dedup();
        let mut touched: Vec<NodeIndex> = Vec::new();
        for id in &dirty {
            for e in self.pipes.remove(id).unwrap_or_default() {
                if let Some((a, b)) = self.graph.edge_endpoints(e) {
                    touched.extend([a, b]);
                }
                for s in stretches_of(&self.graph, e).collect::<Vec<_>>() {
                    self.index.remove(&s);
                }
                self.graph.remove_edge(e);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        // Devices to place again: those near the change, those dropped, and those on a
        // junction or tap left without pipes.
        let mut again: Vec<DeviceKey> = self
            .device_points
            .locate_in_envelope(&AABB::from_corners([near[0], near[1]], [near[2], near[3]]))
            .map(|d| d.data)
            .chain(gone_devices)
            .collect();
        for &n in &touched {
            if self.graph.edges(n).next().is_none() {
                let node = &self.graph[n];
                again.extend(node.valve.map(|v| (DeviceKind::Valve, v.id)));
                again.extend(node.hydrants.iter().map(|&id| (DeviceKind::Hydrant, id)));
                again.extend(node.meters.iter().map(|&id| (DeviceKind::Meter, id)));
                again.extend(node.sources.iter().map(|&id| (DeviceKind::Source, id)));
                again.extend(node.poles.iter().map(|&id| (DeviceKind::Pole, id)));
            }
        }
        again.sort_unstable_by_key(|&(k, id)| (rank(k), id));
        again.dedup();
        let lifted: std::collections::HashSet<DeviceKey> = again.iter().copied().collect();
        self.unconnected
            .retain(|u| !lifted.contains(&(u.kind, u.id)));
        for key in &again {
            let placed = self.device_rows.get_mut(key).and_then(|d| d.node.take());
            let Some(n) = placed.or_else(|| dropped.get(key).copied()) else {
                continue;
            };
            let Some(node) = self.graph.node_weight_mut(n) else {
                continue;
            };
            let id = key.1;
            match key.0 {
                DeviceKind::Valve => {
                    if node.valve.is_some_and(|v| v.id == id) {
                        node.valve = None;
                    }
                }
                DeviceKind::Hydrant => node.hydrants.retain(|&h| h != id),
                DeviceKind::Meter => node.meters.retain(|&h| h != id),
                DeviceKind::Source => node.sources.retain(|&h| h != id),
                DeviceKind::Pole => node.poles.retain(|&h| h != id),
            }
        }
        // Junctions and taps left without pipes go; the others are where the rebuilt pipes
        // join the rest.
        let mut seeds = Vec::new();
        for n in touched {
            if self.graph.edges(n).next().is_none() {
                self.graph.remove_node(n);
            } else {
                seeds.push(n);
            }
        }
        again.retain(|k| self.device_rows.contains_key(k));
        let edges = self.splice(&dirty, &seeds, &again);
        for &e in &edges {
            for s in stretches_of(&self.graph, e).collect::<Vec<_>>() {
                self.index.insert(s);
            }
        }
        // Sources: those still standing, and those placed again.
        let graph = &self.graph;
        self.sources
            .retain(|&n| graph.contains_node(n) && !graph[n].sources.is_empty());
        for key in again.iter().filter(|k| k.0 == DeviceKind::Source) {
            if let Some(n) = self.device_rows.get(key).and_then(|d| d.node) {
                if !self.sources.contains(&n) {
                    self.sources.push(n);
                }
            }
        }
        Patched {
            pipes: dirty.len(),
            devices: again.len(),
        }
    }

    /// The supply tree of this graph version (made on first use).
    pub(crate) fn supply(&self) -> &isolate::Supply {
        self.supply.get_or_init(|| isolate::Supply::of(self))
    }

    /// The nodes with a source.
    pub fn source_nodes(&self) -> &[NodeIndex] {
        &self.sources
    }

    /// The node of a valve.
    pub fn valve_node(&self, id: i64) -> Option<NodeIndex> {
        self.device_node(DeviceKind::Valve, id)
    }

    /// The node a device is placed on.
    pub fn device_node(&self, kind: DeviceKind, id: i64) -> Option<NodeIndex> {
        self.device_rows.get(&(kind, id)).and_then(|d| d.node)
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
