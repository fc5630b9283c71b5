//! Power outage: what a failed line, pole or substation cuts off downstream.
//!
//! The power graph is built like the water one ([`super::load::power_inputs`]): lines as
//! edges, poles on them, substations as the sources, switches as the valves (an open switch
//! is a closed valve: nothing passes its node) and customers as the meters (served from the
//! nearest line). An outage takes one element out; whatever some substation reached through
//! closed switches before and none reaches after is cut off — the lines (pieces), the poles
//! on them, the customers served from them. What an open switch already kept dark is not
//! counted: the outage did not cut it off. A ring fed from two substations stays supplied.

use std::collections::{BTreeSet, VecDeque};

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeIndexable, EdgeRef, NodeIndexable};

use super::Network;

/// What fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// A piece of line.
    Piece(EdgeIndex),
    /// A pole (its node conducts no more).
    Pole(i64),
    /// A substation (feeds no more).
    Substation(i64),
}

/// What an outage cuts off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Downstream {
    /// Pieces of line without supply (the failed piece included).
    pub pieces: Vec<EdgeIndex>,
    /// Their lines' ids (sorted).
    pub lines: Vec<i64>,
    /// Poles without supply (sorted; the failed pole included).
    pub poles: Vec<i64>,
    /// Customers (supply points) without supply (sorted).
    pub customers: Vec<i64>,
    /// Open switches met at the edge of what was cut off (sorted): where a crew could close
    /// a tie to feed it from elsewhere.
    pub open_switches: Vec<i64>,
}

/// The node of a pole or substation.
pub fn node_of(net: &Network, outage: Outage) -> Option<NodeIndex> {
    let g = &net.graph;
    g.node_indices().find(|&n| match outage {
        Outage::Pole(id) => g[n].poles.contains(&id),
        Outage::Substation(id) => g[n].sources.contains(&id),
        Outage::Piece(_) => false,
    })
}

/// Whether a node lets the current through: not when an open switch stands on it.
fn conducts(net: &Network, n: NodeIndex) -> bool {
    !net.graph[n].valve.is_some_and(|v| v.closed)
}

/// The nodes and pieces some substation reaches, with `outage` (if any) out.
fn supplied(net: &Network, outage: Option<Outage>) -> (Vec<bool>, Vec<bool>) {
    let g = &net.graph;
    let (dead_node, dead_edge) = match outage {
        Some(Outage::Piece(e)) => (None, Some(e)),
        Some(o @ Outage::Pole(_)) => (node_of(net, o), None),
        Some(Outage::Substation(_)) | None => (None, None),
    };
    let mut seen = vec![false; g.node_bound()];
    let mut live = vec![false; g.edge_bound()];
    let mut queue: VecDeque<NodeIndex> = net
        .source_nodes()
        .iter()
        .copied()
        .filter(|&n| {
            g[n].sources
                .iter()
                .any(|&s| !matches!(outage, Some(Outage::Substation(id)) if id == s))
                && Some(n) != dead_node
        })
        .collect();
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut seen[n.index()], true) || Some(n) == dead_node {
            continue;
        }
        // The current reaches an open switch but does not pass it (a substation's own
        // breaker open: the substation feeds nothing).
        if !conducts(net, n) {
            continue;
        }
        for e in g.edges(n) {
            if Some(e.id()) == dead_edge || live[e.id().index()] {
                continue;
            }
            live[e.id().index()] = true;
            queue.push_back(e.source());
            queue.push_back(e.target());
        }
    }
    (seen, live)
}

/// What `outage` cuts off in `net`, given the switches as they stand.
pub fn downstream(net: &Network, outage: Outage) -> Downstream {
    let g = &net.graph;
    let (seen_before, live_before) = supplied(net, None);
    let (seen, live) = supplied(net, Some(outage));
    let dead_node = match outage {
        Outage::Pole(_) => node_of(net, outage),
        _ => None,
    };
    let failed = match outage {
        Outage::Piece(e) => Some(e),
        _ => None,
    };
    let pieces: Vec<EdgeIndex> = g
        .edge_indices()
        .filter(|e| (live_before[e.index()] && !live[e.index()]) || Some(*e) == failed)
        .collect();
    let dark = |n: NodeIndex| (seen_before[n.index()] && !seen[n.index()]) || Some(n) == dead_node;
    let mut lines = BTreeSet::new();
    let mut poles = BTreeSet::new();
    let mut customers = BTreeSet::new();
    let mut open_switches = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    for &e in &pieces {
        lines.insert(g[e].pipe);
        if let Some((a, b)) = g.edge_endpoints(e) {
            nodes.extend([a, b]);
        }
    }
    nodes.extend(dead_node);
    for n in nodes {
        if let Some(v) = g[n].valve.filter(|v| v.closed) {
            open_switches.insert(v.id);
        }
        if dark(n) {
            poles.extend(g[n].poles.iter().copied());
            customers.extend(g[n].meters.iter().copied());
        }
    }
    Downstream {
        pieces,
        lines: lines.into_iter().collect(),
        poles: poles.into_iter().collect(),
        customers: customers.into_iter().collect(),
        open_switches: open_switches.into_iter().collect(),
    }
}
