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
