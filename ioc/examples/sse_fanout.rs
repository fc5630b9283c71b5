//! Fan-out bench client (bench/ioc.sh, issue 14): CLIENTS concurrent `/feeds/stream`
//! subscribers, each from its own forwarded address (the server must trust 127.0.0.1 as a
//! proxy, or its per-address limit refuses all but 16), then PROBES readings of one datastream
//! published over MQTT every EVERY_MS; each client notes when each probe arrives. Prints one
//! Markdown row: clients connected, probes delivered to every client, publish → client latency
//! over every (client, probe) pair.
//!
//! ```text
//! cargo run --release -p ioc --example sse_fanout -- \
//!   HTTP_PORT MQTT_PORT DATASTREAM [CLIENTS=1000] [PROBES=50] [EVERY_MS=200] [QUERY=layers=readings]
//! ```
//!
//! Plain HTTP/1.0 over a socket (no chunked framing to undo), lines read as they come; a line
//! is parsed as JSON only when it holds the probe's datastream id, so a client keeps up with a
//! busy feed on a small share of one core.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, MqttOptions, QoS};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// What one client saw: probe value → when it arrived; whether it was answered 200; events.
#[derive(Default)]
struct Seen {
    ok: bool,
    status: String,
    events: u64,
    probes: HashMap<i64, Instant>,
}

async fn client(
    k: usize,
    port: u16,
    query: Arc<String>,
    datastream: i64,
    seen: Arc<Mutex<Seen>>,
    ready: Arc<tokio::sync::Semaphore>,
) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        seen.lock().await.status = "connect failed".into();
        ready.add_permits(1);
        return;
    };
    let request = format!(
        "GET /feeds/stream?{query} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\
         X-Forwarded-For: 10.{}.{}.{}\r\n\r\n",
        k / 62_500,
        (k / 250) % 250,
        k % 250 + 1
    );
    if s.write_all(request.as_bytes()).await.is_err() {
        ready.add_permits(1);
        return;
    }
    let mut lines = BufReader::with_capacity(64 * 1024, s).lines();
    let status = lines.next_line().await.ok().flatten().unwrap_or_default();
    {
        let mut g = seen.lock().await;
        g.ok = status.contains(" 200");
        g.status = status;
    }
    let mut first = true;
    let needle = datastream.to_string();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let mut g = seen.lock().await;
        g.events += 1;
        if first {
            // The snapshot (or the first message) came: this client listens.
            first = false;
            ready.add_permits(1);
        }
        if !data.contains(&needle) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim()) else {
            continue;
        };
        let p = &v["properties"];
        if p["datastream_id"].as_i64() == Some(datastream) {
            if let Some(value) = p["value"].as_f64() {
                g.probes.entry(value as i64).or_insert_with(Instant::now);
            }
        }
    }
    if first {
        ready.add_permits(1);
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: Option<T>) -> T {
    match args.get(i).map(|a| a.parse::<T>()) {
        Some(Ok(v)) => v,
        _ => default.unwrap_or_else(|| {
            eprintln!(
                "usage: sse_fanout HTTP_PORT MQTT_PORT DATASTREAM [CLIENTS] [PROBES] [EVERY_MS] [QUERY]"
            );
            std::process::exit(2)
        }),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = arg(&args, 0, None);
    let mqtt_port: u16 = arg(&args, 1, None);
    let datastream: i64 = arg(&args, 2, None);
    let clients: usize = arg(&args, 3, Some(1000));
    let probes: i64 = arg(&args, 4, Some(50));
    let every = Duration::from_millis(arg(&args, 5, Some(200)));
    let query = Arc::new(arg(&args, 6, Some("layers=readings".to_string())));

    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let mut seen = Vec::with_capacity(clients);
    let mut tasks = Vec::with_capacity(clients);
    let connecting = Instant::now();
    for k in 0..clients {
        let s = Arc::new(Mutex::new(Seen::default()));
        seen.push(s.clone());
        tasks.push(tokio::spawn(client(
            k,
            port,
            query.clone(),
            datastream,
            s,
            ready.clone(),
        )));
    }
    // Every client answered and listening (or given up on) before the first probe.
    let all = u32::try_from(clients).unwrap_or(u32::MAX);
    let listening = tokio::time::timeout(Duration::from_secs(60), ready.acquire_many(all)).await;
    let connect_s = connecting.elapsed().as_secs_f64();
    if listening.is_err() {
        eprintln!("not every client listened within 60 s");
    }

    let mut options = MqttOptions::new("bando-bench-fanout", "127.0.0.1", mqtt_port);
    options.set_keep_alive(Duration::from_secs(30));
    let (mqtt, mut events) = AsyncClient::new(options, 1000);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let topic = format!("v1.1/Datastreams({datastream})/Observations");
    let mut sent = HashMap::new();
    for k in 0..probes {
        // Outside every usual range: unmistakable, one value per probe.
        let value = 9_000_000 + k;
        sent.insert(value, Instant::now());
        let body = format!("{{\"result\": {value}}}");
        if let Err(e) = mqtt.publish(&topic, QoS::AtLeastOnce, false, body).await {
            eprintln!("publish: {e}");
        }
        tokio::time::sleep(every).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for t in &tasks {
        t.abort();
    }

    let (mut connected, mut events_total) = (0usize, 0u64);
    let mut statuses: HashMap<String, usize> = HashMap::new();
    let mut latencies = Vec::new();
    let mut complete = 0usize;
    for s in &seen {
        let g = s.lock().await;
        events_total += g.events;
        if !g.ok {
            *statuses.entry(g.status.clone()).or_default() += 1;
            continue;
        }
        connected += 1;
        let mut got = 0;
        for (value, at) in &sent {
            if let Some(t) = g.probes.get(value) {
                got += 1;
                latencies.push(t.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            }
        }
        if got == sent.len() {
            complete += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let q = |f: f64| {
        latencies
            .get(((f * latencies.len() as f64) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let refused: Vec<String> = statuses
        .iter()
        .map(|(s, n)| format!("{n} × {s:?}"))
        .collect();
    println!(
        "| SSE fan-out, {clients} clients (`{query}`) | {connected} connected and listening in {connect_s:.1} s{}; {probes} probes every {} ms: {complete}/{connected} clients got every probe, {} of {} deliveries; publish → client p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {events_total} events received in all |",
        if refused.is_empty() {
            String::new()
        } else {
            format!(" (refused: {})", refused.join(", "))
        },
        every.as_millis(),
        latencies.len(),
        connected * sent.len(),
        q(0.5),
        q(0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
}
