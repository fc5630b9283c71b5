#!/usr/bin/env bash
# Serving during a re-delivery (issue 18): tile and items latency while `bando import --mode
# replace` of a 1M-parcel delivery runs against the layer being served, against the same
# requests on the idle server just before. Needs bench/import.sh first (its samples and its
# private cluster in bench/.data/import; the layer must hold this year's delivery).
#
# Each round: 20 s of wrk on the idle server (unloaded), then a re-import (next year's
# delivery and this year's, alternately, so each round really changes 1 % of the parcels),
# with the same wrk started 5 s into it and run for SECS (the import takes ~40–60 s, so the
# measurement falls inside it; the script checks that the import was still running when wrk
# ended). Tiles are drawn cold (BANDO_TILE_CACHE_MB=0: every request renders in PostGIS, the
# work a re-import competes with); items are bbox pages of 100 parcels.
#
#   [BANDO=path] bench/reimport-serving.sh [SECS] [ROUNDS]      defaults 20 3
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
secs=${1:-20}
rounds=${2:-3}
parcels=1000000
work=bench/.data/import
# BANDO=path: measure that binary (no build).
bando=${BANDO:-target/release/bando}
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
[[ -n ${BANDO:-} ]] || cargo build --release -p tile-server --locked >/dev/null
input="$work/parcels-$parcels"
next_input="$work/next-parcels-$parcels"
[[ -d $input && -d $next_input ]] || { echo "run bench/import.sh $parcels 1 first" >&2; exit 1; }
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
port=18477
out=$work/serving
mkdir -p "$out"
# The per-client limits would answer wrk's one address 429 within a second: the server's
# work is measured here, not its limiter (tests/it/load.rs covers that).
DATABASE_URL="$url" BANDO_TILE_CACHE_MB=0 BANDO_CLIENT_REQUESTS_PER_MINUTE=10000000 \
  BANDO_CLIENT_BURST=1000000 BANDO_CLIENT_MAX_CONCURRENT=64 RUST_LOG=warn "$bando" serve --listen "127.0.0.1:$port" >"$out/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true; wait 2>/dev/null || true; "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
# Start from this year's delivery whatever an interrupted run left (odd rounds load next year's).
DATABASE_URL="$url" RUST_LOG=warn "$bando" import "$input" --layer parcels --mode replace --json >/dev/null
parcel_tile_paths "$url" "$out/tiles.txt"
# Items: 100 parcels around each of 500 tile centres (z16 tiles' bboxes in CRS84).
head -500 "$out/tiles.txt" | python3 -c 'import math, sys
for line in sys.stdin:
    z, x, y = (int(v) for v in line.strip().split("/")[3:5] + [line.strip().split("/")[5].split(".")[0]])
    n = 2 ** z
    lon0, lon1 = x / n * 360 - 180, (x + 1) / n * 360 - 180
    lat = lambda t: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * t / n))))
    print(f"/collections/parcels/items?limit=100&bbox={lon0:.6f},{lat(y + 1):.6f},{lon1:.6f},{lat(y):.6f}")' >"$out/items.txt"

measure() { # KIND PATHS: "p50 p99 req/s" of SECS of wrk (2 threads, 4 connections)
  local o
  o=$(wrk -t2 -c4 -d"${secs}s" --timeout 30s --latency -s bench/wrk-paths.lua "http://127.0.0.1:$port" -- "$2")
  if grep -q "Non-2xx" <<<"$o"; then
    echo "$1: $(grep Non-2xx <<<"$o") — not a measurement of answers" >&2
    exit 1
  fi
  echo "$(awk '$1 == "50%" {print $2}' <<<"$o") $(awk '$1 == "99%" {print $2}' <<<"$o") $(awk '/Requests\/sec/ {print $2}' <<<"$o")"
}
printf 'round\tkind\tidle p50\tidle p99\tidle req/s\tre-import p50\tre-import p99\tre-import req/s\n' | tee "$out/runs.tsv"
for ((r = 1; r <= rounds; r++)); do
  for kind in tiles items; do
    idle=$(measure "$kind" "$out/$kind.txt")
    if ((r % 2)); then delivery=$next_input; else delivery=$input; fi
    DATABASE_URL="$url" RUST_LOG=warn "$bando" import "$delivery" --layer parcels --mode replace --json >"$out/import-$r-$kind.json" &
    imp=$!
    sleep 5
    loaded=$(measure "$kind" "$out/$kind.txt")
    kill -0 $imp 2>/dev/null || echo "round $r $kind: the import ended before the measurement did (shorter SECS)" >&2
    wait $imp
    # Odd rounds leave next year's delivery loaded: the next round's import restores this year's.
    printf '%s\t%s\t%s\t%s\n' "$r" "$kind" "$(tr ' ' '\t' <<<"$idle")" "$(tr ' ' '\t' <<<"$loaded")" | tee -a "$out/runs.tsv"
  done
done
# Leave this year's delivery loaded (what bench/import.sh and bench/tiles.sh expect).
if ((rounds % 2)); then
  DATABASE_URL="$url" RUST_LOG=warn "$bando" import "$input" --layer parcels --mode replace --json >/dev/null
fi
echo "command: bench/reimport-serving.sh $secs $rounds; rows in $out/runs.tsv" >&2
