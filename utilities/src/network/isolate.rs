//! Water isolation: which valves to close so a broken pipe runs dry, and what else goes dry.
//!
//! From the broken piece the search spreads along pipes through junctions and taps. A valve
//! stops it: a closed one already bounds the segment (nothing to do there); an open, operable
//! one is a valve to close; an inoperable one, or one named as failed to close, cannot hold
//! the water back, so the search passes through it and the boundary moves outward. Everything
//! reached — pieces of pipe, meters, hydrants — is out of service while the break is repaired.
//!
//! When the network has sources, closing the valves may also cut parts beyond them off from
//! every source; those parts lose water too and are reported separately
//! ([`Isolation::cut_off`]).

use std::collections::{BTreeSet, HashSet, VecDeque};

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeIndexable, EdgeRef, NodeIndexable};

use super::Network;

/// What a valve on the boundary of an isolation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValveRole {
    /// Open and operable: close it.
    Close,
    /// Already closed: it bounds the segment as it is.
    AlreadyClosed,
    /// Cannot be turned: the search went past it.
    Inoperable,
    /// Named as failed to close: the search went past it.
    Failed,
}

/// The answer of [`isolate`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Isolation {
    /// Valves met, with what each does (sorted by id).
    pub valves: Vec<(i64, ValveRole)>,
    /// Pieces of pipe out of service.
    pub pieces: Vec<EdgeIndex>,
    /// Their pipes' ids (sorted).
    pub pipes: Vec<i64>,
    /// Meters out of service (sorted).
    pub meters: Vec<i64>,
    /// Hydrants out of service (sorted).
    pub hydrants: Vec<i64>,
    /// Sources inside the isolated segment (sorted).
    pub sources: Vec<i64>,
    /// Pieces beyond the closed valves left without any source (only when the network has
    /// sources; empty otherwise).
    pub cut_off: Vec<EdgeIndex>,
    /// Meters on those pieces (sorted).
    pub cut_off_meters: Vec<i64>,
}

impl Isolation {
    /// The ids of the valves to close.
    pub fn to_close(&self) -> Vec<i64> {
        self.valves
            .iter()
            .filter(|(_, r)| *r == ValveRole::Close)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// The isolation of a break on piece `broken`, with the valves in `failed` unable to close.
pub fn isolate(net: &Network, broken: EdgeIndex, failed: &[i64]) -> Isolation {
    let g = &net.graph;
    // Sets, not vectors over the graph: a segment is small, the graph is not (at 100,000
    // pipes two vectors per trace cost more than the search).
    let mut seen_node: HashSet<NodeIndex> = HashSet::new();
    let mut seen_edge: HashSet<EdgeIndex> = HashSet::new();
    let mut valves = BTreeSet::new();
    let (mut meters, mut hydrants, mut sources) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
    let mut pieces = Vec::new();
    let mut queue: VecDeque<NodeIndex> = VecDeque::new();
    seen_edge.insert(broken);
    pieces.push(broken);
    if let Some((a, b)) = g.edge_endpoints(broken) {
        queue.push_back(a);
        queue.push_back(b);
    }
    while let Some(n) = queue.pop_front() {
        if !seen_node.insert(n) {
            continue;
        }
        let node = &g[n];
        if let Some(v) = node.valve {
            let role = if v.closed {
                Some(ValveRole::AlreadyClosed)
            } else if failed.contains(&v.id) {
                valves.insert((v.id, ValveRole::Failed));
                None
            } else if !v.operable {
                valves.insert((v.id, ValveRole::Inoperable));
                None
            } else {
                Some(ValveRole::Close)
            };
            if let Some(role) = role {
                // The valve holds: what stands on its node stays on the far side.
                valves.insert((v.id, role));
                continue;
            }
        }
        meters.extend(node.meters.iter().copied());
        hydrants.extend(node.hydrants.iter().copied());
        sources.extend(node.sources.iter().copied());
        for e in g.edges(n) {
            if seen_edge.insert(e.id()) {
                pieces.push(e.id());
                queue.push_back(e.target());
                queue.push_back(e.source());
            }
        }
    }
    let pipes: BTreeSet<i64> = pieces.iter().map(|&e| g[e].pipe).collect();
    let mut out = Isolation {
        valves: valves.into_iter().collect(),
        pipes: pipes.into_iter().collect(),
        meters: meters.into_iter().collect(),
        hydrants: hydrants.into_iter().collect(),
        sources: {
            sources.sort_unstable();
            sources
        },
        pieces,
        ..Isolation::default()
    };
    let (cut_off, cut_off_meters) = unsupplied(net, &seen_edge, &out.to_close());
    out.cut_off = cut_off;
    out.cut_off_meters = cut_off_meters;
    out
}

/// Pieces (and their meters) that no source reaches once the isolated pieces are out and the
/// valves `closing` are shut, among those outside the isolation. Empty without sources.
fn unsupplied(
    net: &Network,
    isolated: &HashSet<EdgeIndex>,
    closing: &[i64],
) -> (Vec<EdgeIndex>, Vec<i64>) {
    let g = &net.graph;
    let starts = net.source_nodes();
    if starts.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let blocked = |n: NodeIndex| {
        g[n].valve
            .is_some_and(|v| v.closed || closing.contains(&v.id))
    };
    let mut reached = vec![false; g.edge_bound()];
    let mut seen = vec![false; g.node_bound()];
    let mut queue: VecDeque<NodeIndex> = starts.iter().copied().collect();
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut seen[n.index()], true) || blocked(n) {
            continue;
        }
        for e in g.edges(n) {
            if !isolated.contains(&e.id()) && !reached[e.id().index()] {
                reached[e.id().index()] = true;
                queue.push_back(e.source());
                queue.push_back(e.target());
            }
        }
    }
    let cut: Vec<EdgeIndex> = g
        .edge_indices()
        .filter(|e| !isolated.contains(e) && !reached[e.index()])
        .collect();
    let mut meters = BTreeSet::new();
    for &e in &cut {
        if let Some((a, b)) = g.edge_endpoints(e) {
            for n in [a, b] {
                if !seen[n.index()] && !blocked(n) {
                    meters.extend(g[n].meters.iter().copied());
                }
            }
        }
    }
    (cut, meters.into_iter().collect())
}
