//! The graph build, the isolation trace and the patch after one edit at scale, in memory (no
//! database): a synthetic lattice like the sample's (pipes between crossings 200 m apart, a
//! valve at every crossing, 5 % of them closed, a meter every 50 m), grown to about N pipes.
//! The edits patched ([`Network::patch`]) cycle through: a valve closed, a meter moved, a
//! pipe added (a branch off a crossing), a pipe deleted. Run by bench/network.sh:
//!
//!     cargo run --release -p utilities --example network_scale -- 100000
//!
//! With `--database URL` it measures the same over a real database instead (the water layers
//! as imported, e.g. `bando sample --water-pipes 100000 --import`): the graph build from the
//! database (read and join), and the update after one edit as a server does it — a valve's
//! status flipped by an UPDATE, the rows in its box read again (`load::change_in`) and patched
//! in; each valve is flipped back afterwards.

use std::time::Instant;

use utilities::network::isolate::isolate;
use utilities::network::{
    Change, DeviceKind, Inputs, Network, PipeRow, PointRow, Rows, Settings, ValveRow,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(k) = args.iter().position(|a| a == "--database") {
        let Some(url) = args.get(k + 1) else {
            eprintln!("--database needs a URL");
            std::process::exit(2);
        };
        from_database(url);
        return;
    }
    let target: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    // A k × k lattice has 2·k·(k−1) pipes.
    let k = ((target as f64 / 2.0).sqrt().ceil() as usize).max(2) + 1;
    let step = 200.0;
    let mut inputs = Inputs {
        srid: 9212,
        ..Inputs::default()
    };
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };
    for a in 0..k {
        for b in 0..k {
            let (x, y) = (a as f64 * step, b as f64 * step);
            let v = next();
            inputs.valves.push(ValveRow {
                id: v,
                at: [x, y],
                closed: v % 20 == 0,
                operable: v % 50 != 1,
            });
            for (dx, dy) in [(1.0, 0.0), (0.0, 1.0)] {
                if (dx > 0.0 && a + 1 == k) || (dy > 0.0 && b + 1 == k) {
                    continue;
                }
                let p = next();
                let end = [x + dx * step, y + dy * step];
                inputs.pipes.push(PipeRow {
                    id: p,
                    diameter_mm: Some(110.0),
                    parts: vec![vec![
                        [x, y],
                        [x + dx * step / 2.0, y + dy * step / 2.0],
                        end,
                    ]],
                });
                for s in [50.0, 100.0, 150.0] {
                    inputs.meters.push(PointRow {
                        id: next(),
                        at: [x + dx * s - dy * 6.0, y + dy * s + dx * 6.0],
                    });
                }
            }
        }
    }
    let t = Instant::now();
    let net = Network::build(&inputs, Settings::default());
    let build = t.elapsed();
    let pipes: Vec<i64> = inputs.pipes.iter().map(|p| p.id).collect();
    let mut times = Vec::new();
    let mut sizes = 0usize;
    for (n, &p) in pipes
        .iter()
        .step_by((pipes.len() / 2000).max(1))
        .enumerate()
    {
        let Some((piece, _)) = net.locate_on_pipe(p, 0.5) else {
            continue;
        };
        // Every fourth break with the valves of a first answer failing: larger segments.
        let failed = if n % 4 == 0 {
            isolate(&net, piece, &[]).to_close()
        } else {
            Vec::new()
        };
        let t = Instant::now();
        let iso = isolate(&net, piece, &failed);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        sizes = sizes.max(iso.pipes.len());
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    // Edits, patched one by one.
    let mut net = net;
    let mut patch_times = Vec::new();
    let mut touched = 0usize;
    let edits = 400;
    for n in 0..edits {
        let pick = (n * 7919) % inputs.pipes.len();
        let change = match n % 4 {
            0 => {
                let mut v = inputs.valves[(n * 104_729) % inputs.valves.len()];
                v.closed = !v.closed;
                Change {
                    gone: vec![],
                    rows: Rows::Valves(vec![v]),
                }
            }
            1 => {
                let mut m = inputs.meters[(n * 15_485_863) % inputs.meters.len()];
                m.at[0] += 20.0;
                Change {
                    gone: vec![],
                    rows: Rows::Points(DeviceKind::Meter, vec![m]),
                }
            }
            2 => {
                let from = inputs.pipes[pick].parts[0][0];
                Change {
                    gone: vec![],
                    rows: Rows::Pipes(vec![PipeRow {
                        id: 10_000_000 + n as i64,
                        diameter_mm: Some(63.0),
                        parts: vec![vec![from, [from[0] + 70.0, from[1] + 80.0]]],
                    }]),
                }
            }
            _ => Change {
                gone: vec![inputs.pipes[pick].id],
                rows: Rows::Pipes(vec![]),
            },
        };
        let t = Instant::now();
        let done = net.patch(&change);
        patch_times.push(t.elapsed().as_secs_f64() * 1000.0);
        touched = touched.max(done.pipes);
    }
    patch_times.sort_by(f64::total_cmp);
    let ppct =
        |q: f64| patch_times[((patch_times.len() as f64 * q) as usize).min(patch_times.len() - 1)];
    // A trace holding the graph while a patch comes makes the patch copy it first.
    let t = Instant::now();
    let copy = net.clone();
    let clone_ms = t.elapsed().as_secs_f64() * 1000.0;
    drop(copy);
    println!(
        "pipes {} meters {} nodes {} edges {}: build {:.0} ms; isolation ({} breaks, largest {} pipes) p50 {:.3} ms p95 {:.3} ms",
        inputs.pipes.len(),
        inputs.meters.len(),
        net.graph.node_count(),
        net.graph.edge_count(),
        build.as_secs_f64() * 1000.0,
        times.len(),
        sizes,
        pct(0.5),
        pct(0.95)
    );
    println!(
        "patch after one edit ({edits} edits: valve closed, meter moved, pipe added, pipe deleted; at most {touched} pipes rebuilt) p50 {:.2} ms p95 {:.2} ms max {:.2} ms; copying the graph first (a trace holds it) {:.0} ms",
        ppct(0.5),
        ppct(0.95),
        patch_times[patch_times.len() - 1],
        clone_ms
    );
}

/// The build from the database and the patch after an UPDATE (see the module doc).
fn from_database(url: &str) {
    use utilities::network::load::{self, Kind};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .expect("connect");
        let mut builds = Vec::new();
        let mut kept = None;
        for _ in 0..3 {
            let t = Instant::now();
            let (inputs, boxes) = load::snapshot_of(&pool, Kind::Water).await.expect("read");
            let read = t.elapsed();
            let net = Network::build(&inputs, Settings::default());
            builds.push((read, t.elapsed()));
            kept = Some((net, boxes, inputs.pipes.len(), inputs.meters.len()));
        }
        let Some((mut net, mut boxes, pipes, meters)) = kept else {
            return;
        };
        // Isolations on the real network: with sources, what the closing cuts off is part
        // of every answer.
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM utilities.water_pipes ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("pipes");
        let mut traces = Vec::new();
        for &p in ids.iter().step_by((ids.len() / 500).max(1)) {
            let Some((piece, _)) = net.locate_on_pipe(p, 0.5) else {
                continue;
            };
            let t = Instant::now();
            let iso = isolate(&net, piece, &[]);
            traces.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(iso);
        }
        traces.sort_by(f64::total_cmp);
        let tq = |q: f64| traces[((traces.len() as f64 * q) as usize).min(traces.len() - 1)];
        println!(
            "database: isolation with the cut-off part ({} breaks, {} sources) p50 {:.2} ms p95 {:.2} ms",
            traces.len(),
            net.source_nodes().len(),
            tq(0.5),
            tq(0.95)
        );
        let valves: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM utilities.water_valves ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .expect("valves");
        let mut times = Vec::new();
        for &v in valves.iter().step_by((valves.len() / 100).max(1)) {
            for _ in 0..2 {
                let bbox: (f64, f64, f64, f64) = sqlx::query_as(
                    "UPDATE utilities.water_valves
                     SET status = CASE WHEN status = 'Đóng' THEN 'Mở' ELSE 'Đóng' END
                     WHERE id = $1
                     RETURNING ST_XMin(geom_3857), ST_YMin(geom_3857), ST_XMax(geom_3857), ST_YMax(geom_3857)",
                )
                .bind(v)
                .fetch_one(&pool)
                .await
                .expect("flip");
                let t = Instant::now();
                let change = load::change_in(
                    &pool,
                    Kind::Water,
                    "utilities.water_valves",
                    [bbox.0, bbox.1, bbox.2, bbox.3],
                    net.srid,
                    &mut boxes,
                )
                .await
                .expect("read")
                .expect("a water table");
                net.patch(&change);
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        let pct = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        println!(
            "database: pipes {pipes} meters {meters}: build from the database {} ms (read {} ms), runs: {:?}; update after one valve edit (read + patch, {} edits) p50 {:.2} ms p95 {:.2} ms max {:.2} ms",
            ms(builds[builds.len() - 1].1) as u64,
            ms(builds[builds.len() - 1].0) as u64,
            builds
                .iter()
                .map(|(r, b)| format!("{:.0}/{:.0}", ms(*r), ms(*b)))
                .collect::<Vec<_>>(),
            times.len(),
            pct(0.5),
            pct(0.95),
            times[times.len() - 1]
        );
    });
}
