#!/usr/bin/env bash
# Tiles never cold (issue 17) on the 1,000,000-parcel benchmark database (bench/import.sh's
# cluster, with its communes):
#   1. seeding while serving: `bando serve` with an empty tile store and its background seeder
#      on (every seedable layer to its seed zoom: z16 for parcels); a paced client asks one
#      z14–16 parcel tile every 200 ms meanwhile (a person at a map). Reports the time until
#      the seeder is idle, what it rendered, the client's latencies and errors, and the store's
#      size per layer and zoom (`bando tiles status`).
#   2. restart = warm: RUNS times, bando is stopped and started again on the same store, and
#      the z14–16 list (up to 5,000 tiles holding parcels) is requested once in full (h2load
#      over HTTP/1.1, 8 connections): the first pass after the restart, then the same pass again
#      (warm: from the memory cache). Reports req/s of both and the ratio.
#   3. the same first pass with the store off (today's cold start), once, for comparison.
# Prints Markdown. Not in `make test`.
#
#   [BANDO=path] bench/seed.sh [RUNS]     default 3
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
runs=${1:-3}
work=bench/.data/import
out=$work/seed
bando=${BANDO:-target/release/bando}
port=18479
base="http://127.0.0.1:$port"
command -v h2load >/dev/null || apt-get install -y -q nghttp2-client >/dev/null
[[ -n ${BANDO:-} ]] || cargo build --release -p tile-server --locked >/dev/null
[[ -d $work/state ]] || { echo "run bench/import.sh first" >&2; exit 1; }
bench_cluster "$work"
rm -rf "$out"
mkdir -p "$out/state"
# One address sends every request: the per-client limits are off for the measurement.
printf '[limits]\nclient_max_concurrent = 0\nclient_requests_per_minute = 0\n' >"$out/bando.toml"
printf '[limits]\nclient_max_concurrent = 0\nclient_requests_per_minute = 0\n[tiles]\nstore_max_bytes = 0\n' >"$out/nostore.toml"
serve() { # CONFIG
  DATABASE_URL="$url" RUST_LOG=warn "$bando" --config "$1" --data-dir "$out/state" \
    serve --listen "127.0.0.1:$port" >>"$out/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 240); do curl -sf "$base/health" >/dev/null && return; sleep 0.25; done
  echo "bando did not start; see $out/serve.log" >&2
  exit 1
}
stop() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}
metric() { # NAME [LABELS]: its value in /metrics
  curl -sf "$base/metrics" | awk -v m="$1${2:-}" '$1 == m {print $2}'
}
parcel_tile_paths "$url" "$out/z14-16.txt"
tiles=$(wc -l <"$out/z14-16.txt")

# --- 1. seeding while serving
t0=$(date +%s.%N)
serve "$out/bando.toml"
python3 - "$base" "$out/z14-16.txt" >"$out/probe.txt" <<'PY' &
import sys, time, urllib.request, random
base, paths = sys.argv[1], [l.strip() for l in open(sys.argv[2]) if l.strip()]
random.Random(17).shuffle(paths)
i = 0
while True:
    t = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(base + paths[i % len(paths)], headers={"Accept-Encoding": "gzip"}), timeout=30) as r:
            r.read(); status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:
        status = 0
    print(f"{status} {(time.monotonic() - t) * 1000:.1f}", flush=True)
    i += 1
    time.sleep(0.2)
PY
probe=$!
sleep 5
while :; do
  running=$(metric bando_tile_seed_running)
  walks=$(metric bando_tile_seed_walks)
  if [[ $running == 0 && ${walks:-0} -ge 1 ]]; then break; fi
  sleep 2
done
t1=$(date +%s.%N)
kill "$probe"; wait "$probe" 2>/dev/null || true
rendered=$(metric bando_tile_seed_tiles '{event="rendered"}')
failed=$(metric bando_tile_seed_tiles '{event="failed"}')
rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
stop
seed_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')
DATABASE_URL="$url" "$bando" --config "$out/bando.toml" --data-dir "$out/state" tiles status >"$out/status.txt"
probe_stats=$(python3 - "$out/probe.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ms = sorted(float(r[1]) for r in rows)
bad = sum(1 for r in rows if r[0] not in ("200", "204"))
q = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))]
print(f"{len(rows)} requests, p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {ms[-1]:.0f} ms, not 200/204: {bad}")
PY
)

# --- 2. restart = warm, 3. cold start
sed "s|^|$base|" "$out/z14-16.txt" >"$out/urls.txt"
pass() { # one pass over the list, each tile once (h2load over HTTP/1.1); prints req/s
  h2load --h1 -t1 -c8 -n "$tiles" -i "$out/urls.txt" -H 'Accept-Encoding: gzip' |
    awk '/^finished in/ {gsub(",", "", $4); print $4} /^status codes:/ {ok = $3 + 0}
         END {if (ok < 1) exit 1}'
}
: >"$out/passes.txt"
for ((i = 1; i <= runs; i++)); do
  serve "$out/bando.toml"
  first=$(pass)
  warm=$(pass)
  stop
  echo "$first $warm" >>"$out/passes.txt"
done
serve "$out/nostore.toml"
cold=$(pass)
stop

echo "Seeding while serving (\`bench/seed.sh $runs\`, $(date -u +%F), build $(git rev-parse --short HEAD)):"
echo
echo "- seeder idle after ${seed_secs} s (from the server's start), ${rendered} tiles rendered, ${failed} failed; peak RSS ${rss} MB"
echo "- paced client meanwhile (one z14–16 tile every 200 ms): ${probe_stats}"
echo "- store (\`bando tiles status\`):"
echo
echo '```'
cat "$out/status.txt"
echo '```'
echo
echo "First pass over the ${tiles} z14–16 parcel tiles (h2load, 8 connections, each tile once):"
echo
python3 - "$out/passes.txt" <<'PY'
import sys, statistics
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print("| run | after restart (store) req/s | warm (memory) req/s | ratio |")
print("|---|---|---|---|")
for i, (a, b) in enumerate(rows, 1):
    print(f"| {i} | {a:.0f} | {b:.0f} | {a / b:.2f} |")
col = lambda v: f"{statistics.median(v):.0f} ({min(v):.0f}–{max(v):.0f})"
r = [a / b for a, b in rows]
print(f"| median (min–max) | {col([a for a, _ in rows])} | {col([b for _, b in rows])} | "
      f"{statistics.median(r):.2f} ({min(r):.2f}–{max(r):.2f}) |")
PY
echo
echo "Without a store (cold start, today's path before issue 17): ${cold} req/s"
