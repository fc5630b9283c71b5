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
use petgraph::visit::{EdgeRef, NodeIndexable};

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

/// What the sources reach with only the closed valves shut: a breadth-first tree over the
/// nodes water flows through ("expanded": reached and not a closed valve), numbered in
/// preorder so that a node's subtree is one interval, and the pieces no source reaches at
/// all. Made once per graph version ([`Network::supply`]); a trace then looks only at the
/// subtrees hanging below what it shuts, not at the whole network.
#[derive(Debug, Clone)]
pub struct Supply {
    /// Preorder number of each expanded node (`u32::MAX`: not expanded).
    pre: Vec<u32>,
    /// Size of each expanded node's subtree.
    size: Vec<u32>,
    /// The expanded nodes by preorder number.
    by_pre: Vec<NodeIndex>,
    /// The tree edge from each expanded node's parent (`None`: a source, or not expanded).
    parent_edge: Vec<Option<EdgeIndex>>,
    /// Pieces with no expanded end: no source reaches them even before a trace shuts anything.
    unreached: Vec<EdgeIndex>,
}

/// The end of `e` that is not `n`.
fn other_end<E>(n: NodeIndex, e: petgraph::stable_graph::EdgeReference<'_, E>) -> NodeIndex {
    if e.source() == n {
        e.target()
    } else {
        e.source()
    }
}

fn closed_valve(net: &Network, n: NodeIndex) -> bool {
    net.graph[n].valve.is_some_and(|v| v.closed)
}

impl Supply {
    /// The tree of `net` (see the type's doc).
    pub fn of(net: &Network) -> Supply {
        let g = &net.graph;
        let none = u32::MAX;
        let mut parent: Vec<Option<(NodeIndex, EdgeIndex)>> = vec![None; g.node_bound()];
        let mut found = vec![false; g.node_bound()];
        let mut expanded = vec![false; g.node_bound()];
        let mut children: Vec<Vec<NodeIndex>> = vec![Vec::new(); g.node_bound()];
        let mut roots = Vec::new();
        let mut queue: VecDeque<NodeIndex> = VecDeque::new();
        for &s in net.source_nodes() {
            if !std::mem::replace(&mut found[s.index()], true) {
                queue.push_back(s);
            }
        }
        while let Some(n) = queue.pop_front() {
            if closed_valve(net, n) {
                continue;
            }
            expanded[n.index()] = true;
            match parent[n.index()] {
                Some((p, _)) => children[p.index()].push(n),
                None => roots.push(n),
            }
            for e in g.edges(n) {
                let m = other_end(n, e);
                if !std::mem::replace(&mut found[m.index()], true) {
                    parent[m.index()] = Some((n, e.id()));
                    queue.push_back(m);
                }
            }
        }
        let mut pre = vec![none; g.node_bound()];
        let mut size = vec![0u32; g.node_bound()];
        let mut by_pre = Vec::new();
        // Preorder by an explicit stack; sizes as each node's subtree closes.
        let mut stack: Vec<(NodeIndex, usize)> = Vec::new();
        for r in roots {
            stack.push((r, 0));
            pre[r.index()] = by_pre.len() as u32;
            by_pre.push(r);
            while let Some((n, k)) = stack.pop() {
                if let Some(&c) = children[n.index()].get(k) {
                    stack.push((n, k + 1));
                    pre[c.index()] = by_pre.len() as u32;
                    by_pre.push(c);
                    stack.push((c, 0));
                } else {
                    size[n.index()] = by_pre.len() as u32 - pre[n.index()];
                }
            }
        }
        let unreached = g
            .edge_indices()
            .filter(|&e| {
                g.edge_endpoints(e)
                    .is_some_and(|(a, b)| !expanded[a.index()] && !expanded[b.index()])
            })
            .collect();
        Supply {
            pre,
            size,
            by_pre,
            // Only expanded nodes hang in the tree (a closed valve found has no subtree).
            parent_edge: parent
                .into_iter()
                .zip(&expanded)
                .map(|(p, &x)| p.filter(|_| x).map(|(_, e)| e))
                .collect(),
            unreached,
        }
    }

    fn expanded(&self, n: NodeIndex) -> bool {
        self.pre[n.index()] != u32::MAX
    }
}

/// Pieces (and their meters) that no source reaches once the isolated pieces are out and the
/// valves `closing` are shut, among those outside the isolation. Empty without sources.
///
/// Only nodes whose way in the supply tree passes a shut valve or an isolated piece can lose
/// water: the subtrees below them. Of those, the ones joined by a piece to a node that keeps
/// its way (and everything they reach in turn) are fed again; the rest go dry, with the pieces
/// no source reached before.
fn unsupplied(
    net: &Network,
    isolated: &HashSet<EdgeIndex>,
    closing: &[i64],
) -> (Vec<EdgeIndex>, Vec<i64>) {
    let g = &net.graph;
    if net.source_nodes().is_empty() {
        return (Vec::new(), Vec::new());
    }
    let supply = net.supply();
    let blocked = |n: NodeIndex| {
        g[n].valve
            .is_some_and(|v| v.closed || closing.contains(&v.id))
    };
    // The subtrees that may lose water, as preorder intervals.
    let mut roots: Vec<NodeIndex> = closing
        .iter()
        .filter_map(|&v| net.valve_node(v))
        .filter(|&n| supply.expanded(n))
        .collect();
    for &e in isolated {
        if let Some((a, b)) = g.edge_endpoints(e) {
            roots.extend(
                [a, b]
                    .into_iter()
                    .filter(|n| supply.parent_edge[n.index()] == Some(e)),
            );
        }
    }
    roots.sort_unstable_by_key(|n| supply.pre[n.index()]);
    // Flags over the graph, not sets: near a source the subtrees are most of the network.
    let mut at_risk = vec![false; g.node_bound()];
    let mut risky: Vec<NodeIndex> = Vec::new();
    let mut end = 0u32;
    for r in roots {
        let (from, size) = (supply.pre[r.index()], supply.size[r.index()]);
        // A subtree inside the previous one is already in.
        if from < end {
            continue;
        }
        end = from + size;
        for &n in &supply.by_pre[from as usize..end as usize] {
            at_risk[n.index()] = true;
            risky.push(n);
        }
    }
    // Fed again: at-risk nodes joined to a node that keeps its way, and what they reach.
    let keeps = |m: NodeIndex| supply.expanded(m) && !at_risk[m.index()];
    let mut fed = vec![false; g.node_bound()];
    let mut queue: VecDeque<NodeIndex> = risky
        .iter()
        .copied()
        .filter(|&n| {
            !blocked(n)
                && g.edges(n)
                    .any(|e| !isolated.contains(&e.id()) && keeps(other_end(n, e)))
        })
        .collect();
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut fed[n.index()], true) {
            continue;
        }
        for e in g.edges(n) {
            let m = other_end(n, e);
            if at_risk[m.index()] && !fed[m.index()] && !blocked(m) && !isolated.contains(&e.id()) {
                queue.push_back(m);
            }
        }
    }
    let flows = |m: NodeIndex| keeps(m) || fed[m.index()];
    // Dry: the pieces no source reached, and those of the at-risk nodes not fed again whose
    // other end is dry too.
    let mut cut: Vec<EdgeIndex> = supply
        .unreached
        .iter()
        .copied()
        .filter(|e| !isolated.contains(e))
        .collect();
    for &n in risky.iter().filter(|n| !fed[n.index()]) {
        for e in g.edges(n) {
            if !isolated.contains(&e.id()) && !flows(other_end(n, e)) {
                cut.push(e.id());
            }
        }
    }
    cut.sort_unstable();
    cut.dedup();
    let mut meters = BTreeSet::new();
    for &e in &cut {
        if let Some((a, b)) = g.edge_endpoints(e) {
            for n in [a, b] {
                if !flows(n) && !blocked(n) {
                    meters.extend(g[n].meters.iter().copied());
                }
            }
        }
    }
    (cut, meters.into_iter().collect())
}

/// [`unsupplied`] by a search from the sources over the whole graph (the tests' oracle: the
/// way it was answered before the supply tree; 23 ms a trace at 100,000 pipes).
#[cfg(test)]
pub(crate) fn unsupplied_by_search(
    net: &Network,
    isolated: &HashSet<EdgeIndex>,
    closing: &[i64],
) -> (Vec<EdgeIndex>, Vec<i64>) {
    use petgraph::visit::EdgeIndexable;
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
