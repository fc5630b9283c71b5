#!/usr/bin/env bash
# IOC live feeds (issue 14) on a release build with its private Mosquitto:
#  1. sustained MQTT ingest: `bando simulate-sensors` publishes one reading per datastream per
#     round (QoS 1, every message acknowledged by the broker before it reports) to DATASTREAMS
#     datastreams every 0.1 s for SECONDS — RATE ≈ DATASTREAMS × 10 observations/s; then the
#     observations stored are counted against the published ones (nothing lost = equal) and the
#     server's drop counters read from /metrics;
#  2. publish → SSE latency while ingesting at half that rate: a probe reading (a unique value)
#     is published with mosquitto_pub every 0.2 s to one datastream, and an anonymous
#     `/feeds/stream?layers=readings` client notes when it arrives. The publish time is taken
#     before mosquitto_pub starts (its connect included), so the figure is an upper bound; a
#     probe followed by the next one within one ingest batch is not sent at all (the feed
#     carries each datastream's latest per batch), so "arrived" may be short of 200.
#  3. fan-out: FANOUT clients (default 1000) on `/feeds/stream?layers=readings`, each from its
#     own forwarded address (`BANDO_TRUSTED_PROXIES=127.0.0.1/32`), while the simulator feeds
#     every datastream every FANOUT_INTERVAL s (default 10: 100 readings/s, each sent to every
#     client); 50 probe readings every 0.2 s, each client noting when each arrives
#     (ioc/examples/sse_fanout.rs);
#  4. the floor, side by side on one broker of the bench's own (the private broker's settings,
#     bando's stopped): the same simulator run (SECONDS at DATASTREAMS × 10/s) into
#     `mosquitto_sub -q 1 | psql COPY` (each message stored as a line of text, nothing parsed,
#     committed at the end) and into `bando serve` (parsed, checked, stored as observations,
#     latest values, feed log), three rounds each, the order alternating; the median and spread
#     of the rate published, the share stored and the time from the first publish until every
#     message was stored (FLOOR_ROUNDS=0 skips it).
# After sections 1 and 2, where ingest's batches spent their time (each step's mean, from
# /metrics) and how many events the rules raised.
# Prints Markdown rows for bench/RESULTS.md.
#
#   bench/ioc.sh [DATASTREAMS] [SECONDS]   default 1000 datastreams (10,000/s), 60 s;
#   BANDO=path/to/bando to bench another build; DRAIN_SECONDS=N to wait at most N s (default
#   120) after the last publish for the stored count to reach the published one
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
datastreams=${1:-1000}
seconds=${2:-60}
work=bench/.data/ioc
bando=${BANDO:-target/release/bando}
port=3996
rm -rf "$work"
mkdir -p "$work"
bench_cluster "$work"
DATABASE_URL=$url "$bando" --data-dir "$work/state" db migrate >/dev/null
# Surface-water stations (water level + rainfall each) on a grid over the sample area.
stations=$(((datastreams + 1) / 2))
psql "$url" -q -c "INSERT INTO sectors.env_stations (source_id, code, name, station_type, geom)
  SELECT 'B-' || i, 'B-' || i, 'Trạm đo thử ' || i, 'Nước mặt',
         ST_Transform(ST_SetSRID(ST_MakePoint(106.6 + (i % 50) * 0.01, 11.4 + (i / 50) * 0.01), 4326), 9212)
  FROM generate_series(1, $stations) i"
BANDO_TRUSTED_PROXIES=127.0.0.1/32 DATABASE_URL=$url "$bando" --data-dir "$work/state" serve \
  --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
n=$(psql "$url" -Atc "SELECT count(*) FROM ioc.datastreams")
broker=$(sed -n 's/^listener \([0-9]*\).*/\1/p' "$work/state/mosquitto/mosquitto.conf")
# No alert episodes forced by the simulator: readings stay in their usual range.
simulate() {
  DATABASE_URL=$url "$bando" --data-dir "$work/state" simulate-sensors \
    --interval "$1" --rounds "$2" --episode-every 0 2>>"$work/sim.err" | tail -1 | grep -o '[0-9]\+ readings' | cut -d' ' -f1
}
stored() { psql "$url" -Atc "SELECT count(*) FROM ioc.observations"; }
# waits until the stored count reaches $1, stops moving for 5 s, or DRAIN_SECONDS (default
# 120) have passed — a count still creeping up after that is reported as lost, not waited for
drain() {
  local last=-1 same=0 now deadline=$((SECONDS + ${DRAIN_SECONDS:-120}))
  while :; do
    now=$(stored)
    [[ $now -ge $1 ]] && { echo "$now"; return; }
    if [[ $now == "$last" ]]; then same=$((same + 1)); else same=0; fi
    [[ $same -ge 10 || $SECONDS -ge $deadline ]] && { echo "$now"; return; }
    last=$now
    sleep 0.5
  done
}

# Where ingest's batches spent their time so far: the mean of each step (ms) from /metrics, the
# mean batch size, and the events the alert rules raised (none expected: no episodes).
batch_steps() { # label
  curl -s "http://127.0.0.1:$port/metrics" | python3 -c '
import re, sys
sums, counts = {}, {}
for line in sys.stdin:
    m = re.match(r"bando_ioc_batch_(step_seconds|observations)_(sum|count)(?:\{step=\"(\w+)\"\})? ([0-9.e+-]+)", line)
    if m:
        (sums if m[2] == "sum" else counts)[(m[1], m[3])] = float(m[4])
steps = [k for k in sums if k[0] == "step_seconds"]
parts = ", ".join(f"{k[1]} {sums[k] / counts[k] * 1000:.1f}" for k in steps if counts.get(k))
obs = ("observations", None)
size = sums.get(obs, 0) / counts[obs] if counts.get(obs) else 0
print(f"| ingest batch steps, {sys.argv[1]} | mean ms per batch: {parts}; {counts.get(obs, 0):.0f} batches of {size:.0f} observations on average |")
' "$1"
  echo "| alert events raised so far | $(psql "$url" -Atc "SELECT count(*) FROM ioc.events") |"
}

# 1. Sustained ingest, with /health and a latest-value tile (dropped by every batch) asked
# once a second meanwhile: each answer's status and time, so a starved reader shows.
rounds=$((seconds * 10))
(
  while :; do
    for path in /health /tiles/latest_readings/12/3261/1917.mvt; do
      curl -s -o /dev/null -m 30 -w "%{http_code} %{time_total}\n" "http://127.0.0.1:$port$path" || echo "000 30"
    done
    sleep 1
  done >"$work/readers.log"
) &
readers=$!
start=$(date +%s.%N)
published=$(simulate 0.1 "$rounds")
end=$(date +%s.%N)
got=$(drain "$published")
drained=$(date +%s.%N)
kill "$readers" 2>/dev/null || true
wait "$readers" 2>/dev/null || true
readers_row=$(awk '{n++; if ($1 != 200) bad++; if ($2 > max) max = $2} END {printf "%d reader requests (health, tile) during ingest: %d not 200, slowest %.2f s", n, bad, max}' "$work/readers.log")
dropped=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^bando_ioc_observations_dropped_total/ {s += $2} END {print s + 0}')
rate=$(python3 -c "print(round($published / ($end - $start)))")
lag=$(python3 -c "print(round($drained - $end, 1))")
batch_steps "after the sustained ingest"
echo "| IOC ingest over MQTT, $n datastreams, $seconds s | published $published at $rate/s (QoS 1, broker-acknowledged); stored $got; lost $((published - got)); dropped by the server $dropped; stored ${lag} s after the last publish (drain limit ${DRAIN_SECONDS:-120} s); $readers_row |"

# 2. Publish → SSE latency at half the rate.
# The probe datastream measures a property the simulator does not feed, so no simulated
# reading supersedes a probe within a batch (the feed carries a datastream's latest per batch).
probe=$(psql "$url" -qAtc "WITH op AS (
    INSERT INTO ioc.observed_properties (name, description) VALUES ('Bench probe', 'Đo thử độ trễ')
    ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description RETURNING id)
  INSERT INTO ioc.datastreams (name, unit_symbol, thing_id, sensor_id, observed_property_id)
  SELECT 'Bench probe', '', (SELECT min(id) FROM ioc.things), (SELECT min(id) FROM ioc.sensors), op.id FROM op
  RETURNING id")
(simulate 0.2 "$((seconds * 5))" >/dev/null) &
load=$!
python3 - "$port" "$broker" "$probe" "$work" <<'PY'
import json, subprocess, sys, threading, time
port, broker, probe, work = sys.argv[1:5]
probe = int(probe)
sent, seen = {}, {}
curl = subprocess.Popen(["curl", "-sN", f"http://127.0.0.1:{port}/feeds/stream?layers=readings"],
                        stdout=subprocess.PIPE, text=True, bufsize=1)
def read():
    for line in curl.stdout:
        if not line.startswith("data: "):
            continue
        try:
            d = json.loads(line[6:])
        except ValueError:
            continue
        p = d.get("properties") if isinstance(d, dict) else None
        if p and p.get("datastream_id") == probe and p.get("value") is not None:
            v = p["value"]
            if v not in seen and v in sent:
                seen[v] = time.time()
threading.Thread(target=read, daemon=True).start()
time.sleep(2)  # past the snapshot
for k in range(200):
    v = 100000 + k  # outside every usual range: unmistakable
    sent[v] = time.time()
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", broker, "-q", "1",
                    "-t", f"v1.1/Datastreams({probe})/Observations",
                    "-m", json.dumps({"result": v})], check=True)
    time.sleep(0.2)
time.sleep(3)
curl.kill()
lat = sorted((seen[v] - sent[v]) * 1000 for v in seen)
if not lat:
    print("| publish → SSE | no probe reading arrived |")
    sys.exit(1)
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
print(f"| publish → SSE latency under ingest | {len(lat)}/{len(sent)} probes arrived; "
      f"p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, max {lat[-1]:.0f} ms |")
PY
wait "$load" || true
batch_steps "after the latency run (cumulative)"

# 3. Fan-out to FANOUT clients at FANOUT_INTERVAL s per round of every datastream (FANOUT=0
# skips it).
if [[ ${FANOUT:-1000} != 0 ]]; then
cargo build -q --release -p ioc --example sse_fanout
(simulate "${FANOUT_INTERVAL:-10}" 1000000 >/dev/null) &
load=$!
target/release/examples/sse_fanout "$port" "$broker" "$probe" "${FANOUT:-1000}" 50 200 ||
  echo "| SSE fan-out | the client failed |"
kill "$load" 2>/dev/null || true
pkill -f "$work/state simulate-sensors" 2>/dev/null || true
wait "$load" 2>/dev/null || true
rss=$(awk '/^VmHWM/ {print $2 / 1024}' "/proc/$pid/status")
echo "| bando's peak RSS after the fan-out | ${rss} MB |"
fi

# 4. The floor: the same publisher into mosquitto_sub | psql COPY and into bando, on a broker
# of the bench's own with the private broker's settings.
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
floor_port=3998
mkdir -p "$work/floor-broker"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\n' \
  "$floor_port" >"$work/floor-broker/mosquitto.conf"
mosquitto -c "$work/floor-broker/mosquitto.conf" >/dev/null 2>&1 &
floor_broker=$!
sleep 1
expected=$((n * seconds * 10))
psql "$url" -qc "CREATE TABLE IF NOT EXISTS bench_floor (line text)"
: >"$work/floor.txt"
now() { date +%s.%N; }
floor_run() { # round
  psql "$url" -qc "TRUNCATE bench_floor"
  local t0 t1 published got
  mosquitto_sub -h 127.0.0.1 -p "$floor_port" -q 1 -i bench-floor -t 'v1.1/+/Observations' -v \
    -C "$expected" -W $((seconds + 120)) 2>/dev/null |
    psql "$url" -qc "COPY bench_floor (line) FROM STDIN (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02')" &
  local pipe=$!
  sleep 1
  t0=$(now)
  published=$(BANDO_MQTT_URL=mqtt://127.0.0.1:$floor_port simulate 0.1 "$rounds")
  t1=$(now)
  wait "$pipe" || true
  got=$(psql "$url" -Atc "SELECT count(*) FROM bench_floor")
  echo "floor|$1|$(python3 -c "print($published / ($t1 - $t0))")|$(python3 -c "print($got / $published)")|$(python3 -c "import time; print(time.time() - $t0)")" >>"$work/floor.txt"
}
bando_run() { # round
  BANDO_MQTT_URL=mqtt://127.0.0.1:$floor_port DATABASE_URL=$url "$bando" --data-dir "$work/state" serve \
    --listen "127.0.0.1:$port" >"$work/serve-floor.log" 2>&1 &
  pid=$!
  for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
  sleep 2
  local t0 t1 published got before
  before=$(stored)
  t0=$(now)
  published=$(BANDO_MQTT_URL=mqtt://127.0.0.1:$floor_port simulate 0.1 "$rounds")
  t1=$(now)
  got=$(($(drain $((before + published))) - before))
  echo "bando|$1|$(python3 -c "print($published / ($t1 - $t0))")|$(python3 -c "print($got / $published)")|$(python3 -c "import time; print(time.time() - $t0)")" >>"$work/floor.txt"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}
for round in $(seq "${FLOOR_ROUNDS:-3}"); do
  if ((round % 2)); then floor_run "$round"; bando_run "$round"; else bando_run "$round"; floor_run "$round"; fi
done
kill "$floor_broker" 2>/dev/null || true
psql "$url" -qc "DROP TABLE IF EXISTS bench_floor"
python3 - "$work/floor.txt" "$n" "$seconds" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    who, _, rate, share, took = line.strip().split("|")
    rows.setdefault(who, []).append((float(rate), float(share), float(took)))
name = {"floor": "`mosquitto_sub -q 1 | psql COPY` (the floor)", "bando": "bando ingest"}
for who in ("bando", "floor"):
    r = rows.get(who, [])
    if not r:
        continue
    med = lambda k: statistics.median(x[k] for x in r)
    spread = lambda k, f: f"{f(min(x[k] for x in r))}–{f(max(x[k] for x in r))}"
    print(f"| {name[who]}, {sys.argv[2]} datastreams, {sys.argv[3]} s, 3 rounds | published "
          f"{med(0):,.0f}/s ({spread(0, lambda v: f'{v:,.0f}')}); stored {med(1) * 100:.2f} % "
          f"({spread(1, lambda v: f'{v * 100:.2f}')}); all stored {med(2):.1f} s after the first publish "
          f"({spread(2, lambda v: f'{v:.1f}')}) |")
PY
