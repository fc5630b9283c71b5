#!/usr/bin/env bash
# Tile benchmark (issue 5): bando against Martin 1.14 on the same 1,000,000 parcels, side by side
# in one run, with the same shuffled tile lists (wrk), cold (no cache) and warm.
#   Martin serves ogr.parcels: the plain table ogr2ogr made from the sample shapefiles
#   (EPSG:9212, every column, owner names included) — transformed per row per request.
#   bando serves land.parcels: the same parcels as bando imports them (native TM-3 plus the
#   Web Mercator serving column, low-zoom generalisation, owner names withheld).
# Needs bench/import.sh to have run first (it loads both tables). Prints a Markdown table.
#
#   bench/tiles.sh [SECONDS_PER_RUN]     default 20
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
work=bench/.data/import
bando=target/release/bando
martin=bench/.tools/bin/martin
[[ -x $martin ]] || cargo install martin --locked --version 1.14.0 --no-default-features --features postgres --root bench/.tools
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
cargo build --release -p tile-server --locked >/dev/null
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
[[ $(psql "$url" -Atc "SELECT count(*) FROM ogr.parcels") -ge 1000000 ]] || { echo "run bench/import.sh first" >&2; exit 1; }
psql "$url" -qc "ANALYZE ogr.parcels; ANALYZE land.parcels" >/dev/null

# Shuffled tile lists over the parcels' extent.
read -r w s e n < <(psql "$url" -AtF' ' -c "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom_3857)::geometry, 3857), 4326) b FROM land.parcels) x")
python3 - "$w" "$s" "$e" "$n" "$work" <<'PY'
import math, random, sys
w, s, e, n = map(float, sys.argv[1:5]); out = sys.argv[5]
def tile(lon, lat, z):
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return x, y
rng = random.Random(2025)
for name, zooms in (("high", range(14, 17)), ("low", range(8, 13))):
    tiles = []
    for z in zooms:
        x0, y0 = tile(w, n, z); x1, y1 = tile(e, s, z)
        tiles += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    rng.shuffle(tiles)
    tiles = tiles[:5000]
    with open(f"{out}/tiles-{name}-martin.txt", "w") as f:
        f.writelines(f"/parcels/{z}/{x}/{y}\n" for z, x, y in tiles)
    with open(f"{out}/tiles-{name}-bando.txt", "w") as f:
        f.writelines(f"/tiles/parcels/{z}/{x}/{y}.mvt\n" for z, x, y in tiles)
PY

wait_for() { # $1 url, $2 log: up to 120 s
  for _ in $(seq 240); do curl -sf "$1" >/dev/null && return 0; sleep 0.5; done
  echo "server did not start; see $2" >&2; tail -5 "$2" >&2; exit 1
}
start_martin() { # $1 = cache MB
  "$martin" "$url" --listen-addresses 127.0.0.1:3999 -C "$1" --pool-size 16 >"$work/martin.log" 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:3999/health "$work/martin.log"
}
start_bando() { # $1 = cache MB
  DATABASE_URL="$url" BANDO_TILE_CACHE_MB="$1" BANDO_DB_MAX_CONNECTIONS=16 RUST_LOG=warn \
    "$bando" serve --listen 127.0.0.1:3998 >"$work/bando.log" 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:3998/health "$work/bando.log"
}
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }

run() { # $1 label, $2 base url, $3 path list → "rps p50 p99"
  local out
  out=$(wrk -t2 -c16 -d"${secs}s" --latency -s bench/wrk-paths.lua "$2" -- "$3")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}
median_bytes() { # $1 base url, $2 path list: median uncompressed size of the first 200 tiles
  head -200 "$2" | while read -r p; do curl -s -o /dev/null -w '%{size_download}\n' "$1$p"; done |
    sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

echo "| run | Martin req/s | bando req/s | ratio | Martin p50 / p99 | bando p50 / p99 |"
echo "|---|---|---|---|---|---|"
for cache in 0 256; do
  for band in high low; do
    [[ $cache == 256 && $band == low ]] && continue
    start_martin "$cache"
    # Warm runs fill the cache first.
    [[ $cache == 256 ]] && run warm http://127.0.0.1:3999 "$work/tiles-$band-martin.txt" >/dev/null
    read -r mr m50 m99 < <(run martin http://127.0.0.1:3999 "$work/tiles-$band-martin.txt")
    [[ $band == low ]] && mbytes=$(median_bytes http://127.0.0.1:3999 "$work/tiles-low-martin.txt")
    stop_servers
    start_bando "$cache"
    [[ $cache == 256 ]] && run warm http://127.0.0.1:3998 "$work/tiles-$band-bando.txt" >/dev/null
    read -r br b50 b99 < <(run bando http://127.0.0.1:3998 "$work/tiles-$band-bando.txt")
    [[ $band == low ]] && bbytes=$(median_bytes http://127.0.0.1:3998 "$work/tiles-low-bando.txt")
    stop_servers
    label=$([[ $cache == 0 ]] && echo "cold" || echo "warm")
    zooms=$([[ $band == high ]] && echo "z14–16" || echo "z8–12")
    ratio=$(awk -v a="$br" -v b="$mr" 'BEGIN {printf "%.2f", a / b}')
    echo "| $label $zooms | $mr | $br | ${ratio}× | $m50 / $m99 | $b50 / $b99 |"
  done
done
echo
echo "Median uncompressed tile bytes z8–12: Martin $mbytes, bando $bbytes ($(awk -v a="$bbytes" -v b="$mbytes" 'BEGIN {printf "%.3f", a / b}')×)"
