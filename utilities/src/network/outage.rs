//! Power outage: what a failed line, pole or substation cuts off downstream.
//!
//! The power graph is built like the water one ([`super::load::power_inputs`]): lines as
//! edges, poles on them, substations as the sources. An outage takes one element out; whatever
//! no remaining substation reaches any more is cut off — the lines (pieces), the poles on them.
//! Feeders are radial in the sample, so "downstream" is exactly what a source-reachability
//! search no longer reaches; a ring fed from two substations stays supplied. No switches are
//! declared in the layers yet, so every line conducts.

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

/// What `outage` cuts off in `net`.
pub fn downstream(net: &Network, outage: Outage) -> Downstream {
    let g = &net.graph;
    let (dead_node, dead_edge) = match outage {
        Outage::Piece(e) => (None, Some(e)),
        Outage::Pole(_) => (node_of(net, outage), None),
        Outage::Substation(_) => (None, None),
    };
    let starts: Vec<NodeIndex> = g
        .node_indices()
        .filter(|&n| {
            g[n].sources
                .iter()
                .any(|&s| !matches!(outage, Outage::Substation(id) if id == s))
                && Some(n) != dead_node
        })
        .collect();
    let mut seen = vec![false; g.node_bound()];
    let mut live = vec![false; g.edge_bound()];
    let mut queue: VecDeque<NodeIndex> = starts.into_iter().collect();
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut seen[n.index()], true) || Some(n) == dead_node {
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
    let pieces: Vec<EdgeIndex> = g.edge_indices().filter(|e| !live[e.index()]).collect();
    let mut lines = BTreeSet::new();
    let mut poles = BTreeSet::new();
    for &e in &pieces {
        lines.insert(g[e].pipe);
        if let Some((a, b)) = g.edge_endpoints(e) {
            for n in [a, b] {
                if !seen[n.index()] || Some(n) == dead_node {
                    poles.extend(g[n].poles.iter().copied());
                }
            }
        }
    }
    if let Some(n) = dead_node {
        poles.extend(g[n].poles.iter().copied());
    }
    Downstream {
        pieces,
        lines: lines.into_iter().collect(),
        poles: poles.into_iter().collect(),
    }
}
