//! Hand-made networks with known answers (no database: the graph and the trace alone; the
//! same cases against real tables are in `tests/tests/it/network.rs`).

use super::isolate::{isolate, ValveRole};
use super::*;

fn pipe(id: i64, pts: &[Pt]) -> PipeRow {
    PipeRow {
        id,
        diameter_mm: Some(110.0),
        parts: vec![pts.to_vec()],
    }
}

fn valve(id: i64, at: Pt, closed: bool, operable: bool) -> ValveRow {
    ValveRow {
        id,
        at,
        closed,
        operable,
    }
}

fn point(id: i64, at: Pt) -> PointRow {
    PointRow { id, at }
}

/// A main along y = 0 from a source at x = 0 to x = 300 in three pipes (joined at 100 and
/// 200), valves at x = 50, 150, 250 (splitting the pipes), a meter served at x = 120 and
/// one at x = 280, a hydrant at x = 200.
fn main_line(v150_operable: bool) -> Inputs {
    Inputs {
        srid: 9212,
        pipes: vec![
            pipe(1, &[[0.0, 0.0], [100.0, 0.0]]),
            pipe(2, &[[100.0, 0.0], [200.0, 0.0]]),
            pipe(3, &[[200.05, 0.0], [300.0, 0.0]]),
        ],
        valves: vec![
            valve(10, [50.0, 0.0], false, true),
            valve(11, [150.0, 0.02], false, v150_operable),
            valve(12, [250.0, 0.0], false, true),
        ],
        hydrants: vec![point(30, [200.0, 0.05])],
        meters: vec![point(20, [120.0, 6.0]), point(21, [280.0, -4.0])],
        sources: vec![point(40, [0.0, 0.0])],
        poles: Vec::new(),
    }
}

fn close_ids(iso: &isolate::Isolation) -> Vec<i64> {
    iso.to_close()
}

#[test]
fn devices_split_pipes_and_ends_join_within_the_tolerance() {
    let net = Network::build(&main_line(true), Settings::default());
    // Pipe 1 is cut by valve 10; pipe 2 by valve 11 and meter 20's tap; pipe 3 by valve 12
    // and meter 21's tap; the 5 cm gap at x = 200 is joined.
    assert_eq!(net.pipe_pieces(1).len(), 2);
    assert_eq!(net.pipe_pieces(2).len(), 3);
    assert_eq!(net.pipe_pieces(3).len(), 3);
    assert_eq!(net.graph.edge_count(), 8);
    assert!(net.unconnected.is_empty(), "{:?}", net.unconnected);
    let hydrant_node = net
        .graph
        .node_indices()
        .find(|&n| net.graph[n].hydrants == vec![30])
        .expect("hydrant placed");
    assert_eq!(net.graph.edges(hydrant_node).count(), 2);
}

#[test]
fn a_dead_end_needs_one_valve() {
    let net = Network::build(&main_line(true), Settings::default());
    let (piece, _) = net.locate([290.0, 1.0], 5.0).expect("pipe near");
    let iso = isolate(&net, piece, &[]);
    assert_eq!(close_ids(&iso), vec![12]);
    assert_eq!(iso.pipes, vec![3]);
    assert_eq!(iso.meters, vec![21]);
    assert!(iso.hydrants.is_empty());
}

#[test]
fn a_break_between_two_valves_needs_both() {
    let net = Network::build(&main_line(true), Settings::default());
    let (piece, _) = net.locate([100.0, 0.0], 1.0).expect("pipe near");
    let iso = isolate(&net, piece, &[]);
    assert_eq!(close_ids(&iso), vec![10, 11]);
    assert_eq!(iso.pipes, vec![1, 2]);
    assert_eq!(iso.meters, vec![20]);
    // Beyond valve 11 nothing reaches the source any more.
    assert_eq!(iso.cut_off_meters, vec![21]);
    assert!(!iso.cut_off.is_empty());
}

#[test]
fn an_inoperable_valve_pushes_the_boundary_outward() {
    let net = Network::build(&main_line(false), Settings::default());
    let (piece, _) = net.locate([100.0, 0.0], 1.0).expect("pipe near");
    let iso = isolate(&net, piece, &[]);
    assert_eq!(close_ids(&iso), vec![10, 12]);
    assert!(iso.valves.contains(&(11, ValveRole::Inoperable)));
    assert_eq!(iso.pipes, vec![1, 2, 3]);
    assert_eq!(iso.meters, vec![20]);
    assert_eq!(iso.hydrants, vec![30]);
    // A failed valve too: with 10 failing the source's end is reached.
    let failed = isolate(&net, piece, &[10]);
    assert_eq!(close_ids(&failed), vec![12]);
    assert!(failed.valves.contains(&(10, ValveRole::Failed)));
    assert_eq!(failed.sources, vec![40]);
}

#[test]
fn a_closed_valve_already_isolates() {
    let mut inputs = main_line(true);
    inputs.valves[2].closed = true;
    let net = Network::build(&inputs, Settings::default());
    let (piece, _) = net.locate([290.0, 0.0], 1.0).expect("pipe near");
    let iso = isolate(&net, piece, &[]);
    assert!(close_ids(&iso).is_empty());
    assert_eq!(iso.valves, vec![(12, ValveRole::AlreadyClosed)]);
}

#[test]
fn a_loop_needs_two_valves() {
    // A square loop of four pipes; valves on the south pipe at x = 20 and x = 80.
    let (a, b, c, d) = ([0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]);
    let inputs = Inputs {
        srid: 9212,
        pipes: vec![
            pipe(1, &[a, b]),
            pipe(2, &[b, c]),
            pipe(3, &[c, d]),
            pipe(4, &[d, a]),
        ],
        valves: vec![
            valve(10, [20.0, 0.0], false, true),
            valve(11, [80.0, 0.0], false, true),
        ],
        ..Inputs::default()
    };
    let net = Network::build(&inputs, Settings::default());
    let (piece, _) = net.locate([50.0, 0.0], 1.0).expect("pipe near");
    let iso = isolate(&net, piece, &[]);
    assert_eq!(close_ids(&iso), vec![10, 11]);
    assert_eq!(iso.pipes, vec![1]);
    let len: f64 = iso
        .pieces
        .iter()
        .map(|&e| net.graph[e].to_m - net.graph[e].from_m)
        .sum();
    assert!((len - 60.0).abs() < 1e-9, "{len}");
    // Broken on the north side, the rest of the loop goes dry between the two valves.
    let (north, _) = net.locate([50.0, 100.0], 1.0).expect("pipe near");
    let iso = isolate(&net, north, &[]);
    assert_eq!(close_ids(&iso), vec![10, 11]);
    assert_eq!(iso.pipes, vec![1, 2, 3, 4]);
}

#[test]
fn a_device_beyond_its_reach_is_unconnected() {
    let mut inputs = main_line(true);
    inputs.valves.push(valve(13, [150.0, 3.0], false, true));
    inputs.meters.push(point(22, [150.0, 45.0]));
    let net = Network::build(&inputs, Settings::default());
    let ids: Vec<i64> = net.unconnected.iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![13, 22]);
    assert!(net.valve_node(13).is_none());
}

#[test]
fn valve_status_words() {
    for closed in ["Đóng", "đóng", "CLOSED", " dong "] {
        assert!(is_closed_status(closed), "{closed}");
    }
    for open in ["Mở", "open", ""] {
        assert!(!is_closed_status(open), "{open}");
    }
}

#[test]
fn the_quality_report_finds_dangles_strays_and_islands_without_a_source() {
    let mut inputs = main_line(true);
    // A pipe drawn 2 m short of the main, and a meter far from everything.
    inputs.pipes.push(pipe(4, &[[60.0, 80.0], [60.0, 2.0]]));
    inputs.meters.push(point(22, [150.0, 45.0]));
    let net = Network::build(&inputs, Settings::default());
    let report = check::check(&net);
    let mut dangles: Vec<(i64, bool)> = report
        .dangles
        .iter()
        .map(|d| (d.pipe, d.near_pipe_m.is_some()))
        .collect();
    dangles.sort_unstable();
    // Pipe 3's far end is a plain dead end; pipe 4's ends both dangle, one 2 m from the main.
    assert_eq!(dangles, vec![(3, false), (4, false), (4, true)]);
    let near = report
        .dangles
        .iter()
        .find_map(|d| d.near_pipe_m)
        .expect("near");
    assert!((near - 2.0).abs() < 1e-9, "{near}");
    assert_eq!(report.unconnected.len(), 1);
    assert_eq!(report.islands.len(), 1);
    assert_eq!(report.islands[0].pipes, vec![4]);
    assert!(report.crossings.is_empty());
    // A pipe drawn across the main with no junction.
    inputs.pipes.push(pipe(5, &[[170.0, -20.0], [170.0, 20.0]]));
    let report = check::check(&Network::build(&inputs, Settings::default()));
    assert_eq!(report.crossings.len(), 1);
    assert_eq!(report.crossings[0].pipes, (2, 5));
    assert!((report.crossings[0].at[0] - 170.0).abs() < 1e-9);
}

#[test]
fn wkb_lines_are_read_in_either_byte_order() {
    // MULTILINESTRING((1 2, 3 4)) little-endian outside, big-endian part.
    let mut wkb = vec![1u8];
    wkb.extend(5u32.to_le_bytes());
    wkb.extend(1u32.to_le_bytes());
    wkb.push(0);
    wkb.extend(2u32.to_be_bytes());
    wkb.extend(2u32.to_be_bytes());
    for v in [1.0f64, 2.0, 3.0, 4.0] {
        wkb.extend(v.to_be_bytes());
    }
    assert_eq!(
        load::lines_of_wkb(&wkb),
        Some(vec![vec![[1.0, 2.0], [3.0, 4.0]]])
    );
    assert_eq!(load::lines_of_wkb(&wkb[..wkb.len() - 1]), None);
    // A point is not a line.
    let mut point = vec![1u8];
    point.extend(1u32.to_le_bytes());
    point.extend(1.0f64.to_le_bytes());
    point.extend(2.0f64.to_le_bytes());
    assert_eq!(load::lines_of_wkb(&point), None);
}

/// A feeder from substation 1 at x = 0 east to x = 300, poles every 50 m (ids 100 + x/50).
fn feeder() -> Inputs {
    Inputs {
        srid: 9212,
        pipes: vec![
            pipe(1, &[[0.0, 0.0], [150.0, 0.0]]),
            pipe(2, &[[150.0, 0.0], [300.0, 0.0]]),
        ],
        poles: (1..=6)
            .map(|k| point(100 + k, [50.0 * k as f64, 0.0]))
            .collect(),
        sources: vec![point(1, [0.0, 0.0])],
        ..Inputs::default()
    }
}

#[test]
fn an_outage_cuts_off_what_lies_downstream() {
    use outage::{downstream, Outage};
    let net = Network::build(&feeder(), Settings::default());
    assert!(net.unconnected.is_empty());
    // A pole fails: it and those beyond it.
    let d = downstream(&net, Outage::Pole(103));
    assert_eq!(d.poles, vec![103, 104, 105, 106]);
    assert_eq!(d.lines, vec![2]);
    // A line piece between the 2nd and 3rd poles.
    let (piece, _) = net.locate([120.0, 0.0], 1.0).expect("line");
    let d = downstream(&net, Outage::Piece(piece));
    assert_eq!(d.poles, vec![103, 104, 105, 106]);
    assert_eq!(d.lines, vec![1, 2]);
    // The substation: everything.
    let d = downstream(&net, Outage::Substation(1));
    assert_eq!(d.poles.len(), 6);
    // Fed from both ends, a pole's failure cuts off only itself.
    let mut ring = feeder();
    ring.sources.push(point(2, [300.0, 0.0]));
    let net = Network::build(&ring, Settings::default());
    let d = downstream(&net, Outage::Pole(103));
    assert_eq!(d.poles, vec![103]);
    assert!(d.lines.is_empty());
}

#[test]
fn switch_state_words() {
    for open in ["Mở", "mở", "MO", "Cắt", "open", " Off "] {
        assert!(is_open_switch_state(open), "{open}");
    }
    // A closed switch conducts; a valve's "Đóng" is the opposite of a switch's.
    for closed in ["Đóng", "dong", "closed", "on", ""] {
        assert!(!is_open_switch_state(closed), "{closed}");
    }
}

/// [`feeder`] with a switch on pole 104's spot (x = 200; open when `open`) and two
/// customers: 301 served at x = 120, 302 at x = 260.
fn switched_feeder(open: bool) -> Inputs {
    Inputs {
        valves: vec![valve(200, [200.0, 0.0], open, true)],
        meters: vec![point(301, [120.0, 8.0]), point(302, [260.0, -6.0])],
        ..feeder()
    }
}

#[test]
fn an_outage_respects_open_switches_and_cuts_off_customers() {
    use outage::{downstream, Outage};
    // Every switch closed: a fault at x = 110 cuts off both customers and every pole beyond.
    let net = Network::build(&switched_feeder(false), Settings::default());
    assert!(net.unconnected.is_empty(), "{:?}", net.unconnected);
    let (piece, _) = net.locate([110.0, 0.0], 1.0).expect("line");
    let d = downstream(&net, Outage::Piece(piece));
    assert_eq!(d.customers, vec![301, 302]);
    assert_eq!(d.poles, vec![103, 104, 105, 106]);
    assert!(d.open_switches.is_empty());
    // The switch open: beyond it was dark already, so the fault cuts off only up to it.
    let net = Network::build(&switched_feeder(true), Settings::default());
    let (piece, _) = net.locate([110.0, 0.0], 1.0).expect("line");
    let d = downstream(&net, Outage::Piece(piece));
    assert_eq!(d.customers, vec![301]);
    assert_eq!(d.poles, vec![103, 104]);
    assert_eq!(d.lines, vec![1, 2]);
    assert_eq!(d.open_switches, vec![200]);
    // A pole beyond the open switch fails: nothing was supplied there, nothing is cut off.
    let d = downstream(&net, Outage::Pole(106));
    assert!(d.customers.is_empty() && d.lines.is_empty(), "{d:?}");
    // A second substation at the far end behind the open switch (a tie): the fault's
    // customer 301 still goes dark, the switch's pole stays fed from the east.
    let mut tie = switched_feeder(true);
    tie.sources.push(point(2, [300.0, 0.0]));
    let net = Network::build(&tie, Settings::default());
    let (piece, _) = net.locate([110.0, 0.0], 1.0).expect("line");
    let d = downstream(&net, Outage::Piece(piece));
    assert_eq!(d.customers, vec![301]);
    assert_eq!(d.poles, vec![103]);
    assert_eq!(d.open_switches, vec![200]);
    // The tie closed: the east substation feeds around the fault, only the failed piece
    // itself is out.
    let mut closed = switched_feeder(false);
    closed.sources.push(point(2, [300.0, 0.0]));
    let net = Network::build(&closed, Settings::default());
    let (piece, _) = net.locate([110.0, 0.0], 1.0).expect("line");
    let d = downstream(&net, Outage::Piece(piece));
    assert!(d.customers.is_empty() && d.poles.is_empty(), "{d:?}");
    assert_eq!(d.pieces, vec![piece]);
    // The substation's own breaker open: it feeds nothing, so its outage cuts nothing off.
    let mut breaker = switched_feeder(false);
    breaker.valves.push(valve(201, [0.0, 0.0], true, true));
    let net = Network::build(&breaker, Settings::default());
    let d = downstream(&net, Outage::Substation(1));
    assert!(d.customers.is_empty() && d.pieces.is_empty(), "{d:?}");
}

/// A 6 × 6 lattice of 200 m pipes: a valve at every second crossing, one 60 m into every third
/// pipe (some closed, some inoperable), meters 6 m off every pipe, a hydrant per row, a source
/// in a corner.
fn lattice() -> Inputs {
    let mut inputs = Inputs {
        srid: 9212,
        ..Inputs::default()
    };
    let (k, step) = (6, 200.0);
    let mut id = 1000;
    let mut next = || {
        id += 1;
        id
    };
    for a in 0..k {
        for b in 0..k {
            let (x, y) = (a as f64 * step, b as f64 * step);
            if (a + b) % 2 == 0 {
                let v = next();
                inputs.valves.push(valve(v, [x, y], v % 7 == 0, v % 5 != 0));
            }
            for (dx, dy) in [(1.0, 0.0), (0.0, 1.0)] {
                if (dx > 0.0 && a + 1 == k) || (dy > 0.0 && b + 1 == k) {
                    continue;
                }
                let p = next();
                inputs.pipes.push(pipe(
                    p,
                    &[
                        [x, y],
                        [x + dx * step / 2.0, y + dy * step / 2.0],
                        [x + dx * step, y + dy * step],
                    ],
                ));
                if p % 3 == 0 {
                    let v = next();
                    inputs
                        .valves
                        .push(valve(v, [x + dx * 60.0, y + dy * 60.0], v % 4 == 0, true));
                }
                for s in [40.0, 130.0] {
                    inputs.meters.push(point(
                        next(),
                        [x + dx * s - dy * 6.0, y + dy * s + dx * 6.0],
                    ));
                }
            }
        }
        inputs
            .hydrants
            .push(point(next(), [a as f64 * step + 100.0, 0.0]));
    }
    inputs.sources.push(point(1, [0.0, 0.0]));
    inputs
}

/// `inputs` with `change` applied the way a fresh read would see it.
fn applied(inputs: &Inputs, change: &Change) -> Inputs {
    let mut out = inputs.clone();
    match &change.rows {
        Rows::Pipes(rows) => {
            out.pipes
                .retain(|p| !change.gone.contains(&p.id) && !rows.iter().any(|r| r.id == p.id));
            out.pipes.extend(rows.iter().cloned());
            out.pipes.sort_by_key(|p| p.id);
        }
        Rows::Valves(rows) => {
            out.valves
                .retain(|p| !change.gone.contains(&p.id) && !rows.iter().any(|r| r.id == p.id));
            out.valves.extend(rows.iter().copied());
            out.valves.sort_by_key(|p| p.id);
        }
        Rows::Points(kind, rows) => {
            let list = match kind {
                DeviceKind::Hydrant => &mut out.hydrants,
                DeviceKind::Meter => &mut out.meters,
                DeviceKind::Source => &mut out.sources,
                DeviceKind::Pole => &mut out.poles,
                DeviceKind::Valve => unreachable!("valves are Rows::Valves"),
            };
            list.retain(|p| !change.gone.contains(&p.id) && !rows.iter().any(|r| r.id == p.id));
            list.extend(rows.iter().copied());
            list.sort_by_key(|p| p.id);
        }
    }
    out
}

/// Every answer a trace gives on `net`, per pipe (a break at its middle), comparable across
/// graphs: valves with roles, pipes, meters, hydrants, sources, pipes and meters cut off.
fn answers(net: &Network, pipes: &[i64]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for &p in pipes {
        let Some((piece, _)) = net.locate_on_pipe(p, 0.5) else {
            out.push((p, "absent".into()));
            continue;
        };
        let iso = isolate(net, piece, &[]);
        let mut cut: Vec<i64> = iso.cut_off.iter().map(|&e| net.graph[e].pipe).collect();
        cut.sort_unstable();
        cut.dedup();
        out.push((
            p,
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                iso.valves,
                iso.pipes,
                iso.meters,
                iso.hydrants,
                iso.sources,
                cut,
                iso.cut_off_meters
            ),
        ));
    }
    out
}

fn unconnected_set(net: &Network) -> Vec<(DeviceKind, i64)> {
    let mut u: Vec<(DeviceKind, i64)> = net.unconnected.iter().map(|u| (u.kind, u.id)).collect();
    u.sort_unstable_by_key(|&(k, id)| (k as u8, id));
    u
}

/// Patches `net` and checks it answers like a fresh build of `inputs` with the change.
fn patch_and_compare(net: &mut Network, inputs: &mut Inputs, change: Change) -> Patched {
    let done = net.patch(&change);
    *inputs = applied(inputs, &change);
    let fresh = Network::build(inputs, Settings::default());
    let pipes: Vec<i64> = inputs.pipes.iter().map(|p| p.id).collect();
    assert_eq!(net.pipe_count(), fresh.pipe_count());
    assert_eq!(net.graph.edge_count(), fresh.graph.edge_count());
    assert_eq!(net.graph.node_count(), fresh.graph.node_count());
    assert_eq!(unconnected_set(net), unconnected_set(&fresh));
    for v in &inputs.valves {
        assert_eq!(
            net.valve_node(v.id).is_some(),
            fresh.valve_node(v.id).is_some(),
            "valve {}",
            v.id
        );
    }
    let (ours, theirs) = (answers(net, &pipes), answers(&fresh, &pipes));
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "pipe {}: patched vs rebuilt", a.0);
    }
    // A point lookup finds the same pipe.
    for p in [[410.0, 3.0], [995.0, 603.0], [250.0, 1000.5]] {
        let pick = |n: &Network| n.locate(p, 20.0).map(|(e, _)| n.graph[e].pipe);
        assert_eq!(pick(net), pick(&fresh), "at {p:?}");
    }
    done
}

#[test]
fn a_patched_graph_answers_like_a_rebuild_after_edits() {
    let mut inputs = lattice();
    let mut net = Network::build(&inputs, Settings::default());
    let base_nodes = net.graph.node_count();
    // A pipe added: a branch from the crossing at (400, 400) to (480, 470), with a meter and
    // a new valve on it (the valve arrives before the pipe: unconnected, then placed).
    let valves = vec![valve(1, [440.0, 435.0], false, true)];
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![],
            rows: Rows::Valves(valves),
        },
    );
    assert!(net.valve_node(1).is_none());
    let done = patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![],
            rows: Rows::Pipes(vec![pipe(2, &[[400.0, 400.0], [480.0, 470.0]])]),
        },
    );
    assert!(net.valve_node(1).is_some());
    assert!(done.pipes < 20, "{done:?}");
    assert!(net.graph.node_count() > base_nodes);
    // A pipe deleted (one with a valve on it and meters served from it).
    let victim = inputs
        .pipes
        .iter()
        .map(|p| p.id)
        .find(|id| id % 3 == 0 && *id > 1100)
        .expect("a pipe with a valve");
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![victim],
            rows: Rows::Pipes(vec![]),
        },
    );
    assert!(net.pipe_pieces(victim).is_empty());
    // A valve closed, another made inoperable.
    let mut v = inputs.valves[3];
    v.closed = true;
    let mut w = inputs.valves[8];
    w.operable = false;
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![],
            rows: Rows::Valves(vec![v, w]),
        },
    );
    // A valve moved 50 m along its pipe, one moved off every pipe, one deleted.
    let on_pipe = inputs
        .valves
        .iter()
        .copied()
        .find(|v| v.at[0] % 200.0 == 60.0 && v.at[1] > 0.0)
        .expect("a valve 60 m into an east-west pipe");
    let mut moved = on_pipe;
    moved.at[0] += 50.0;
    let mut off = inputs.valves[10];
    off.at[1] += 3.0;
    off.at[0] += 30.0;
    let gone = inputs.valves[12].id;
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![gone],
            rows: Rows::Valves(vec![moved, off]),
        },
    );
    assert!(net.valve_node(off.id).is_none());
    assert!(net.valve_node(gone).is_none());
    // A pipe moved (re-drawn 2 m off: its devices fall off it or onto its new line), meters
    // moved and added, a hydrant deleted.
    let mut redrawn = inputs.pipes[20].clone();
    for pt in redrawn.parts.iter_mut().flatten() {
        pt[1] += 2.0;
    }
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![],
            rows: Rows::Pipes(vec![redrawn]),
        },
    );
    let mut m = inputs.meters[30];
    m.at = [m.at[0] + 25.0, m.at[1] - 3.0];
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![],
            rows: Rows::Points(DeviceKind::Meter, vec![m, point(3, [401.0, 300.0])]),
        },
    );
    let h = inputs.hydrants[2].id;
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![h],
            rows: Rows::Points(DeviceKind::Hydrant, vec![]),
        },
    );
    // A pipe drawn 2 m beside the meters of another: they are served from it now; a meter
    // moved into a block, nearer another pipe.
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![],
            rows: Rows::Pipes(vec![pipe(5, &[[420.0, 408.0], [560.0, 408.0]])]),
        },
    );
    let served = net.device_node(
        DeviceKind::Meter,
        inputs
            .meters
            .iter()
            .find(|m| m.at == [440.0, 406.0])
            .expect("meter")
            .id,
    );
    let on_new = net
        .graph
        .edges(served.expect("placed"))
        .any(|e| e.weight().pipe == 5);
    assert!(on_new, "the meter is served from the new pipe");
    let mut m = inputs.meters[41];
    m.at = [310.0, 188.0];
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![],
            rows: Rows::Points(DeviceKind::Meter, vec![m]),
        },
    );
    // The source moved along the lattice's edge: what is cut off changes everywhere.
    patch_and_compare(
        &mut net,
        &mut inputs,
        Change {
            gone: vec![1],
            rows: Rows::Points(DeviceKind::Source, vec![point(4, [1000.0, 1000.0])]),
        },
    );
}

#[test]
fn a_patch_with_nothing_in_it_changes_nothing() {
    let inputs = lattice();
    let mut net = Network::build(&inputs, Settings::default());
    let edges = net.graph.edge_count();
    let done = net.patch(&Change {
        gone: vec![987_654],
        rows: Rows::Pipes(vec![]),
    });
    assert_eq!(done, Patched::default());
    assert_eq!(net.graph.edge_count(), edges);
}

#[test]
fn a_valve_beside_its_pipe_is_reported_off_its_pipe() {
    let mut inputs = main_line(true);
    // 3 m beside pipe 2, 40 m from every pipe, and a second valve on valve 10's spot.
    inputs.valves.push(valve(13, [150.0, 3.0], false, true));
    inputs.valves.push(valve(14, [150.0, 40.0], false, true));
    inputs.valves.push(valve(15, [50.0, 0.0], false, true));
    let net = Network::build(&inputs, Settings::default());
    let report = check::check(&net);
    assert_eq!(
        report.valves_off_pipe.len(),
        1,
        "{:?}",
        report.valves_off_pipe
    );
    let off = report.valves_off_pipe[0];
    assert_eq!((off.valve, off.pipe), (13, 2));
    assert!((off.distance_m - 3.0).abs() < 1e-9, "{}", off.distance_m);
    let mut rest: Vec<i64> = report.unconnected.iter().map(|u| u.id).collect();
    rest.sort_unstable();
    assert_eq!(rest, vec![14, 15]);
    // Within the tolerance it is on its pipe: no finding.
    inputs.valves.truncate(3);
    inputs.valves.push(valve(13, [170.0, 0.08], false, true));
    let report = check::check(&Network::build(&inputs, Settings::default()));
    assert!(report.valves_off_pipe.is_empty());
    assert!(report.unconnected.is_empty());
}

#[test]
fn upstream_is_the_way_from_the_source_through_open_valves() {
    use trace::upstream;
    let net = Network::build(&main_line(true), Settings::default());
    let (piece, at) = net.locate([280.0, 1.0], 5.0).expect("pipe near");
    let up = upstream(&net, piece, at).expect("the source reaches it");
    assert_eq!(up.source, 40);
    assert_eq!(up.pipes, vec![1, 2, 3]);
    assert_eq!(up.valves, vec![10, 11, 12]);
    assert!((up.length_m - 280.0).abs() < 0.1, "{}", up.length_m);
    assert_eq!(up.line[0], [0.0, 0.0]);
    assert!(
        dist(up.line[up.line.len() - 1], [280.0, 0.0]) < 1e-6,
        "{:?}",
        up.line
    );
    let drawn: f64 = up.line.windows(2).map(|w| dist(w[0], w[1])).sum();
    assert!((drawn - up.length_m).abs() < 0.1, "{drawn}");
    // A closed valve between: no way.
    let mut inputs = main_line(true);
    inputs.valves[1].closed = true;
    let net = Network::build(&inputs, Settings::default());
    let (piece, at) = net.locate([280.0, 1.0], 5.0).expect("pipe near");
    assert_eq!(upstream(&net, piece, at), None);
    // On the source's own piece the way is short.
    let (piece, at) = net.locate([20.0, 0.0], 5.0).expect("pipe near");
    let up = upstream(&net, piece, at).expect("near the source");
    assert!((up.length_m - 20.0).abs() < 1e-6);
    assert_eq!(up.pipes, vec![1]);
}

#[test]
fn upstream_takes_the_shorter_side_of_a_loop_and_avoids_closed_valves() {
    use trace::upstream;
    let (a, b, c, d) = ([0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]);
    let mut inputs = Inputs {
        srid: 9212,
        pipes: vec![
            pipe(1, &[a, b]),
            pipe(2, &[b, c]),
            pipe(3, &[c, d]),
            pipe(4, &[d, a]),
        ],
        valves: vec![valve(10, [50.0, 0.0], false, true)],
        sources: vec![point(40, a)],
        ..Inputs::default()
    };
    let net = Network::build(&inputs, Settings::default());
    let (piece, at) = net.locate([100.0, 30.0], 1.0).expect("pipe");
    let up = upstream(&net, piece, at).expect("reached");
    assert_eq!(up.pipes, vec![1, 2]);
    assert!((up.length_m - 130.0).abs() < 1e-6);
    inputs.valves[0].closed = true;
    let net = Network::build(&inputs, Settings::default());
    let (piece, at) = net.locate([100.0, 30.0], 1.0).expect("pipe");
    let up = upstream(&net, piece, at).expect("reached the other way");
    assert_eq!(up.pipes, vec![4, 3, 2]);
    assert!((up.length_m - 270.0).abs() < 1e-6);
    assert!(up.valves.is_empty());
}

#[test]
fn downstream_is_what_the_piece_alone_feeds() {
    use trace::downstream;
    let net = Network::build(&main_line(true), Settings::default());
    let (piece, _) = net.locate([110.0, 0.0], 1.0).expect("pipe");
    let down = downstream(&net, piece);
    assert!(down.supplied);
    assert_eq!(down.pipes, vec![2, 3]);
    assert_eq!(down.meters, vec![20, 21]);
    assert_eq!(down.hydrants, vec![30]);
    // The last piece of the dead end feeds its meter's tap... and nothing beyond.
    let (piece, _) = net.locate([295.0, 0.0], 1.0).expect("pipe");
    let down = downstream(&net, piece);
    assert!(down.pipes.is_empty() && down.meters.is_empty(), "{down:?}");
    // In a loop fed at a corner one piece feeds nothing.
    let (a, b, c, d) = ([0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]);
    let ring = Inputs {
        srid: 9212,
        pipes: vec![
            pipe(1, &[a, b]),
            pipe(2, &[b, c]),
            pipe(3, &[c, d]),
            pipe(4, &[d, a]),
        ],
        sources: vec![point(40, a)],
        meters: vec![point(20, [60.0, 105.0])],
        ..Inputs::default()
    };
    let net = Network::build(&ring, Settings::default());
    let (piece, _) = net.locate([100.0, 50.0], 1.0).expect("pipe");
    assert_eq!(
        downstream(&net, piece),
        trace::Downstream {
            supplied: true,
            ..Default::default()
        }
    );
    // Without a source nothing is supplied, so nothing is downstream.
    let mut dry = ring.clone();
    dry.sources.clear();
    let net = Network::build(&dry, Settings::default());
    let (piece, _) = net.locate([100.0, 50.0], 1.0).expect("pipe");
    assert!(!downstream(&net, piece).supplied);
}

/// The supply tree answers what the closing cuts off exactly as a search from the sources over
/// the whole graph does: every pipe of the lattice broken, with no valve failing and with the
/// first answer's valves failing (larger segments that pass valves), with one source, with a
/// second source, and with an island no source feeds.
#[test]
fn the_supply_tree_cuts_off_what_a_search_from_the_sources_does() {
    use std::collections::HashSet;
    let one = lattice();
    let mut two = lattice();
    two.sources.push(point(2, [1000.0, 1000.0]));
    let mut island = lattice();
    island
        .pipes
        .push(pipe(9001, &[[3000.0, 0.0], [3200.0, 0.0]]));
    island
        .pipes
        .push(pipe(9002, &[[3200.0, 0.0], [3400.0, 0.0]]));
    island.valves.push(valve(9003, [3200.0, 0.0], false, true));
    island.meters.push(point(9004, [3100.0, 6.0]));
    let mut compared = 0;
    for inputs in [one, two, island] {
        let net = Network::build(&inputs, Settings::default());
        for p in &inputs.pipes {
            let Some((piece, _)) = net.locate_on_pipe(p.id, 0.5) else {
                continue;
            };
            let first = isolate(&net, piece, &[]);
            for failed in [Vec::new(), first.to_close()] {
                let iso = isolate(&net, piece, &failed);
                let pieces: HashSet<_> = iso.pieces.iter().copied().collect();
                let (cut, meters) =
                    super::isolate::unsupplied_by_search(&net, &pieces, &iso.to_close());
                assert_eq!(iso.cut_off, cut, "pipe {} failed {failed:?}", p.id);
                assert_eq!(
                    iso.cut_off_meters, meters,
                    "pipe {} failed {failed:?}",
                    p.id
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 150, "{compared}");
}
