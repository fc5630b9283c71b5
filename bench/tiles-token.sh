#!/usr/bin/env bash
# Warm tiles with and without a bearer token (issue 10): the same bando, the same shuffled
# z14–16 parcel tiles (all served from its cache after a warm-up pass), requested anonymously,
# with a planner's token and with a land officer's token (each request's token verified: the
# signature against the cached keys, then the reader's rules; the officer's commune scope is
# expanded once and remembered), and the same bytes from tile-server/examples/static_tiles (a
# minimal axum server holding them in memory: the fixed reference across runs — bench/tiles.sh
# measured bando anonymous at 0.68× of it before sign-in existed). Rows rotate their order per
# round; each figure is the median of 3 runs (min–max printed too). The data is the sample set (warm tiles do not depend
# on the table size). Prints Markdown; raw runs in bench/.data/token/runs.tsv.
#
#   bench/tiles-token.sh [SECONDS_PER_RUN]     default 15
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
secs=${1:-15}
reps=3
work=bench/.data/token
bando=target/release/bando
port=3990
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
cargo build --release -p tile-server --example static_tiles --locked >/dev/null
static=target/release/examples/static_tiles
sport=3991
mkdir -p "$work"
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
pid=
spid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  [[ -n $spid ]] && kill "$spid" 2>/dev/null || true
  wait 2>/dev/null || true
  "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [[ $(psql "$url" -Atc "SELECT count(*) FROM land.parcels" 2>/dev/null || echo 0) -lt 1000 ]]; then
  DATABASE_URL=$url "$bando" --data-dir "$work/state" sample --out "$work/sample" --import >/dev/null
fi
export BANDO_AUTH_DEV_ISSUER=true
DATABASE_URL=$url "$bando" --data-dir "$work/state" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
planner=$("$bando" --data-dir "$work/state" dev-token chuyen_vien_quy_hoach --listen "127.0.0.1:$port")
officer=$("$bando" --data-dir "$work/state" dev-token can_bo_dia_chinh --listen "127.0.0.1:$port")
# Every token must be accepted (a refused one would measure the 401 path).
for t in "$planner" "$officer"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" "http://127.0.0.1:$port/collections")
  [[ $code == 200 ]] || { echo "token refused ($code); see $work/serve.log" >&2; exit 1; }
done
# The z14–16 tiles holding parcels, shuffled.
parcel_tile_paths "$url" "$work/paths.txt"
n=$(wc -l <"$work/paths.txt")
# Warm-up: every tile once per access class (planner and officer read the public class).
BANDO_BEARER= wrk -t2 -c16 -d"$((secs / 2 + 5))s" -s bench/wrk-paths.lua "http://127.0.0.1:$port" -- "$work/paths.txt" >/dev/null
# The reference: bando's own gzip bytes of every tile, served from memory.
rm -rf "$work/static" && mkdir -p "$work/static"
awk -v base="http://127.0.0.1:$port" -v dir="$work/static" '{printf "url = \"%s%s\"\noutput = \"%s/%d\"\n", base, $0, dir, NR - 1}' "$work/paths.txt" >"$work/static.curl"
curl -s --no-progress-meter --parallel --parallel-max 8 -H 'Accept-Encoding: gzip' -K "$work/static.curl"
"$static" "$work/paths.txt" "$work/static" "127.0.0.1:$sport" 3600 >"$work/static.log" 2>&1 &
spid=$!
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$sport/health" >/dev/null && break; sleep 0.5; done
: >"$work/runs.tsv"
run() { # $1 row name, $2 token
  local out rps p50 p99 target=$port
  [[ $1 == axum ]] && target=$sport
  out=$(BANDO_BEARER=$2 wrk -t2 -c16 -d"${secs}s" --timeout 30s --latency -s bench/wrk-paths.lua "http://127.0.0.1:$target" -- "$work/paths.txt")
  if grep -q "Non-2xx" <<<"$out"; then echo "$1: error answers:" >&2; echo "$out" >&2; exit 1; fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '%s\t%s\t%s\t%s\n' "$1" "$rps" "$p50" "$p99" >>"$work/runs.tsv"
}
rows=(anonymous planner officer axum)
declare -A token=([anonymous]="" [planner]=$planner [officer]=$officer [axum]="")
for r in $(seq 0 $((reps - 1))); do
  for i in 0 1 2 3; do
    name=${rows[$(((i + r) % 4))]}
    run "$name" "${token[$name]}"
  done
done
python3 - "$work/runs.tsv" "$secs" "$n" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99 = line.split("\t")
    runs.setdefault(name, []).append((float(rps), p50.strip(), p99.strip()))
def ms(t):
    return float(t[:-2]) if t.endswith("ms") else float(t[:-2]) / 1000 if t.endswith("us") else float(t[:-1]) * 1000
anon = statistics.median(r[0] for r in runs["anonymous"])
print(f"wrk -t2 -c16 -d{sys.argv[2]}s over {sys.argv[3]} warm z14–16 parcel tiles; medians of 3 (min–max)")
print()
print("| server, reader | req/s median (min–max) | p50 ms | p99 ms | ÷ bando anonymous |")
print("|---|---|---|---|---|")
names = {"anonymous": "bando, anonymous", "planner": "bando, planner's token",
         "officer": "bando, land officer's token", "axum": "minimal axum, the same bytes from memory"}
for name in ("anonymous", "planner", "officer", "axum"):
    q = [r[0] for r in runs[name]]
    m = statistics.median(q)
    p50 = statistics.median(ms(r[1]) for r in runs[name])
    p99 = statistics.median(ms(r[2]) for r in runs[name])
    print(f"| {names[name]} | {m:,.0f} ({min(q):,.0f}–{max(q):,.0f}) | {p50:.2f} | {p99:.2f} | {m / anon:.2f}× |")
axum = statistics.median(r[0] for r in runs["axum"])
print()
print(f"bando anonymous ÷ minimal axum: {anon / axum:.2f}× (bench/tiles.sh before sign-in: 0.68×)")
PY
