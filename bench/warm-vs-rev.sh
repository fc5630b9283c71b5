#!/usr/bin/env bash
# Warm anonymous tiles of this checkout against an earlier commit, side by side (issue 10: the
# warm public path must stay ≥ 0.95× of the binary from before sign-in, commit 6329131).
# Both release binaries serve at once, each from its own private cluster holding its own
# `bando sample --import` (the sample generator is deterministic); the same shuffled z14–16
# parcel tile paths are requested anonymously with gzip, every tile warm after a pass. The
# order of the two servers alternates per round; each figure is the median of the rounds
# (min–max printed). Raw runs in bench/.data/vs/runs.tsv.
#
#   bench/warm-vs-rev.sh [REV] [SECONDS_PER_RUN] [ROUNDS]     default 6329131 15 3
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
rev=${1:-6329131}
secs=${2:-15}
reps=${3:-3}
work=bench/.data/vs
old_tree=${BANDO_OLD_TREE:-$PWD/bench/.data/vs/tree-$rev}
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
mkdir -p "$work"
cargo build --release -p tile-server --locked >/dev/null
if [[ ! -e $old_tree/.git ]]; then
  git worktree add --detach "$old_tree" "$rev" >/dev/null
fi
(cd "$old_tree" && cargo build --release -p tile-server --locked >/dev/null)
new_bin=$PWD/target/release/bando
old_bin=$old_tree/target/release/bando
declare -A bin=([new]=$new_bin [old]=$old_bin) port=([new]=3990 [old]=3992)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for s in new old; do "${bin[$s]}" --data-dir "$work/$s" db stop >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
declare -A url
for s in new old; do
  url[$s]=$("${bin[$s]}" --data-dir "$work/$s" db start --tcp 2>/dev/null | tail -1)
  if [[ $(psql "${url[$s]}" -Atc "SELECT count(*) FROM land.parcels" 2>/dev/null || echo 0) -lt 1000 ]]; then
    DATABASE_URL=${url[$s]} "${bin[$s]}" --data-dir "$work/$s" sample --out "$work/$s/sample" --import >/dev/null
  fi
  DATABASE_URL=${url[$s]} "${bin[$s]}" --data-dir "$work/$s" serve --listen "127.0.0.1:${port[$s]}" >"$work/$s.log" 2>&1 &
  pids+=($!)
done
for s in new old; do
  for _ in $(seq 240); do curl -sf "http://127.0.0.1:${port[$s]}/health" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:${port[$s]}/health" >/dev/null || { echo "$s did not start; see $work/$s.log" >&2; exit 1; }
done
# The z14–16 tiles holding parcels (from this checkout's database), shuffled.
parcel_tile_paths "${url[new]}" "$work/paths.txt"
n=$(wc -l <"$work/paths.txt")
for s in new old; do # warm both caches
  wrk -t2 -c16 -d"$((secs / 2 + 5))s" -s bench/wrk-paths.lua "http://127.0.0.1:${port[$s]}" -- "$work/paths.txt" >/dev/null
done
: >"$work/runs.tsv"
for r in $(seq 0 $((reps - 1))); do
  order=(new old)
  ((r % 2)) && order=(old new)
  for s in "${order[@]}"; do
    out=$(wrk -t2 -c16 -d"${secs}s" --timeout 30s --latency -s bench/wrk-paths.lua "http://127.0.0.1:${port[$s]}" -- "$work/paths.txt")
    if grep -q "Non-2xx" <<<"$out"; then echo "$s: error answers:" >&2; echo "$out" >&2; exit 1; fi
    printf '%s\t%s\t%s\t%s\n' "$s" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
      "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" >>"$work/runs.tsv"
  done
done
python3 - "$work/runs.tsv" "$secs" "$n" "$rev" "$(git rev-parse --short HEAD)" "$reps" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99 = line.rstrip("\n").split("\t")
    runs.setdefault(name, []).append((float(rps), p50, p99))
def ms(t):
    return float(t[:-2]) if t.endswith("ms") else float(t[:-2]) / 1000 if t.endswith("us") else float(t[:-1]) * 1000
print(f"wrk -t2 -c16 -d{sys.argv[2]}s over {sys.argv[3]} warm z14–16 parcel tiles, anonymous; medians of {sys.argv[6]} (min–max), order alternated")
print()
print("| binary | req/s median (min–max) | p50 ms | p99 ms | ÷ earlier |")
print("|---|---|---|---|---|")
old = statistics.median(r[0] for r in runs["old"])
for name, label in (("old", f"earlier ({sys.argv[4]})"), ("new", f"this checkout ({sys.argv[5]})")):
    q = [r[0] for r in runs[name]]
    m = statistics.median(q)
    p50 = statistics.median(ms(r[1]) for r in runs[name])
    p99 = statistics.median(ms(r[2]) for r in runs[name])
    print(f"| {label} | {m:,.0f} ({min(q):,.0f}–{max(q):,.0f}) | {p50:.2f} | {p99:.2f} | {m / old:.2f}× |")
PY
