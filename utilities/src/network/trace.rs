//! Upstream and downstream of a point on a pipe.
//!
//! - **Upstream** ([`upstream`]): the shortest way (by pipe length) the water can take from a
//!   source to the point, through open valves only — a closed valve blocks the way, an open one
//!   (operable or not) lets it pass. The answer is the path, piece by piece from the source to
//!   the point, with the source, the valves passed and the length; `None` when no source
//!   reaches the point as the valves stand.
//! - **Downstream** ([`downstream`]): what the point feeds — the pieces (and their meters,
//!   hydrants) that some source reaches now and that none reaches once the piece at the point
//!   is cut. In a loop nothing depends on one piece; at the end of a branch everything beyond
//!   it does.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeIndexable, EdgeRef, NodeIndexable};

use super::{dist, Network, Pt};

/// The way from a source to a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// The source the way starts at (row id in `water_sources`).
    pub source: i64,
    /// Where the source is.
    pub source_at: Pt,
    /// The pieces of pipe in order from the source to the point (the last one is the piece the
    /// point is on, up to the point).
    pub pieces: Vec<EdgeIndex>,
    /// The path as one line from the source to the point.
    pub line: Vec<Pt>,
    /// The pipes passed, in order (each once).
    pub pipes: Vec<i64>,
    /// The valves passed, in order from the source.
    pub valves: Vec<i64>,
    /// Length of the way, metres.
    pub length_m: f64,
}

/// Arc length of `p`'s foot along `line`, and the line's length.
fn along(line: &[Pt], p: Pt) -> (f64, f64) {
    let (mut best, mut at, mut s) = (f64::INFINITY, 0.0, 0.0);
    for w in line.windows(2) {
        let l = dist(w[0], w[1]);
        let (t, f) = super::foot(w[0], w[1], p);
        let d = dist(f, p);
        if d < best {
            best = d;
            at = s + t * l;
        }
        s += l;
    }
    (at, s)
}

/// The part of `line` from arc length `a` to `b` (a ≤ b).
fn cut(line: &[Pt], a: f64, b: f64) -> Vec<Pt> {
    let mut cum = vec![0.0];
    for w in line.windows(2) {
        cum.push(cum[cum.len() - 1] + dist(w[0], w[1]));
    }
    super::sub_line(line, &cum, a, b)
}

/// Whether water passes node `n` (a closed valve stops it).
fn passes(net: &Network, n: NodeIndex) -> bool {
    net.graph[n].valve.is_none_or(|v| !v.closed)
}

/// The way from the nearest source (by pipe length) to point `at` on piece `piece`.
pub fn upstream(net: &Network, piece: EdgeIndex, at: Pt) -> Option<Upstream> {
    let g = &net.graph;
    let (a, b) = g.edge_endpoints(piece)?;
    let seg = &g[piece];
    let (s, len) = along(&seg.line, at);
    // The line of a piece runs from its `from_m` end; find which node that is.
    let start_is_a = dist(g[a].at, seg.line[0]) <= dist(g[b].at, seg.line[0]);
    let (first, last) = if start_is_a { (a, b) } else { (b, a) };
    // Dijkstra from the point's two sides; a node with a source ends it.
    let mut best: HashMap<NodeIndex, f64> = HashMap::new();
    let mut back: HashMap<NodeIndex, Option<(EdgeIndex, NodeIndex)>> = HashMap::new();
    let mut heap = BinaryHeap::new();
    for (n, d) in [(first, s), (last, len - s)] {
        if best.get(&n).is_none_or(|&o| d < o) {
            best.insert(n, d);
            back.insert(n, None);
            heap.push(Reverse((Metres(d), n)));
        }
    }
    let mut reached = None;
    while let Some(Reverse((Metres(d), n))) = heap.pop() {
        if best.get(&n).is_some_and(|&o| d > o) {
            continue;
        }
        if !g[n].sources.is_empty() {
            reached = Some(n);
            break;
        }
        if !passes(net, n) {
            continue;
        }
        for e in g.edges(n) {
            if e.id() == piece {
                continue;
            }
            let other = if e.source() == n {
                e.target()
            } else {
                e.source()
            };
            let w = e.weight().to_m - e.weight().from_m;
            let nd = d + w;
            if best.get(&other).is_none_or(|&o| nd < o) {
                best.insert(other, nd);
                back.insert(other, Some((e.id(), n)));
                heap.push(Reverse((Metres(nd), other)));
            }
        }
    }
    let source_node = reached?;
    // Walk back from the source to the point's side.
    let mut pieces = Vec::new();
    let mut nodes = vec![source_node];
    let mut n = source_node;
    while let Some(Some((e, prev))) = back.get(&n) {
        pieces.push(*e);
        nodes.push(*prev);
        n = *prev;
    }
    // The line, source first: each piece oriented from the node nearer the source.
    let mut line: Vec<Pt> = Vec::new();
    for (k, &e) in pieces.iter().enumerate() {
        let mut pts = g[e].line.clone();
        if dist(pts[0], g[nodes[k]].at) > dist(pts[pts.len() - 1], g[nodes[k]].at) {
            pts.reverse();
        }
        if !line.is_empty() {
            pts.remove(0);
        }
        line.extend(pts);
    }
    // The piece the point is on, from the side the way arrives at, up to the point.
    let mut tail = if n == first {
        cut(&seg.line, 0.0, s)
    } else {
        let mut t = cut(&seg.line, s, len);
        t.reverse();
        t
    };
    if !line.is_empty() {
        tail.remove(0);
    }
    if line.is_empty() && tail.len() < 2 {
        tail.push(at);
    }
    line.extend(tail);
    pieces.push(piece);
    let mut pipes = Vec::new();
    for &e in &pieces {
        if pipes.last() != Some(&g[e].pipe) && !pipes.contains(&g[e].pipe) {
            pipes.push(g[e].pipe);
        }
    }
    let valves = nodes
        .iter()
        .filter_map(|&n| g[n].valve.map(|v| v.id))
        .collect();
    let source = g[source_node].sources.iter().copied().min()?;
    Some(Upstream {
        source,
        source_at: g[source_node].at,
        length_m: best.get(&source_node).copied().unwrap_or(0.0),
        pieces,
        line,
        pipes,
        valves,
    })
}

/// A float that orders (lengths here are finite).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Metres(f64);
impl Eq for Metres {}
impl PartialOrd for Metres {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(std::cmp::Ord::cmp(self, other))
    }
}
impl std::cmp::Ord for Metres {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What the point's piece feeds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Downstream {
    /// Pieces supplied now and not once the piece is cut (the piece itself excluded).
    pub pieces: Vec<EdgeIndex>,
    /// Their pipes (sorted).
    pub pipes: Vec<i64>,
    /// Meters on them (sorted).
    pub meters: Vec<i64>,
    /// Hydrants on them (sorted).
    pub hydrants: Vec<i64>,
    /// Whether any source supplies the piece now (without one nothing is downstream).
    pub supplied: bool,
}

/// The pieces and nodes the sources reach, with `cut` taken out.
fn supplied(net: &Network, cut: Option<EdgeIndex>) -> (Vec<bool>, Vec<bool>) {
    let g = &net.graph;
    let mut edges = vec![false; g.edge_bound()];
    let mut nodes = vec![false; g.node_bound()];
    let mut queue: VecDeque<NodeIndex> = net.source_nodes().iter().copied().collect();
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut nodes[n.index()], true) || !passes(net, n) {
            continue;
        }
        for e in g.edges(n) {
            if Some(e.id()) != cut && !edges[e.id().index()] {
                edges[e.id().index()] = true;
                queue.push_back(e.source());
                queue.push_back(e.target());
            }
        }
    }
    (edges, nodes)
}

/// What the piece `piece` feeds (see the module doc).
pub fn downstream(net: &Network, piece: EdgeIndex) -> Downstream {
    let g = &net.graph;
    let (before, nodes_before) = supplied(net, None);
    if !before.get(piece.index()).copied().unwrap_or(false) {
        return Downstream::default();
    }
    let (after, nodes_after) = supplied(net, Some(piece));
    let pieces: Vec<EdgeIndex> = g
        .edge_indices()
        .filter(|&e| e != piece && before[e.index()] && !after[e.index()])
        .collect();
    let pipes: BTreeSet<i64> = pieces.iter().map(|&e| g[e].pipe).collect();
    let (mut meters, mut hydrants) = (BTreeSet::new(), BTreeSet::new());
    // Nodes no longer supplied (a closed valve's node is not supplied through: its meters
    // are not counted either way).
    for n in g.node_indices() {
        if nodes_before[n.index()] && !nodes_after[n.index()] && passes(net, n) {
            meters.extend(g[n].meters.iter().copied());
            hydrants.extend(g[n].hydrants.iter().copied());
        }
    }
    Downstream {
        pieces,
        pipes: pipes.into_iter().collect(),
        meters: meters.into_iter().collect(),
        hydrants: hydrants.into_iter().collect(),
        supplied: true,
    }
}
