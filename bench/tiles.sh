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
# The limit for the warm run: a minimal axum server answering the same bytes from memory.
cargo build --release -p tile-server --example static_tiles --locked >/dev/null
static=target/release/examples/static_tiles
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
[[ $(psql "$url" -Atc "SELECT count(*) FROM ogr.parcels") -ge 1000000 ]] || { echo "run bench/import.sh first" >&2; exit 1; }
psql "$url" -qc "ANALYZE ogr.parcels; ANALYZE land.parcels; ANALYZE land.parcel_overview" >/dev/null

# Shuffled lists of the tiles that hold parcels (every commune block, both zones).
python3 - "$work" <<'PY' | psql "$url" -q -c "CREATE TABLE IF NOT EXISTS public.bench_tiles (z int, x int, y int); TRUNCATE public.bench_tiles" -c "\copy public.bench_tiles FROM STDIN" >/dev/null
import math, sys
def tile(lon, lat, z):
    return (int((lon + 180) / 360 * 2**z),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z))
# Old Binh Phuoc and old Dong Nai sample blocks, generously.
for w, s, e, n in ((106.75, 11.40, 107.00, 11.65), (107.15, 10.85, 107.30, 11.00)):
    for z in range(8, 17):
        x0, y0 = tile(w, n, z); x1, y1 = tile(e, s, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                print(f"{z}\t{x}\t{y}")
PY
for band in high low; do
  range=$([[ $band == high ]] && echo "14 AND 16" || echo "8 AND 12")
  psql "$url" -At -F' ' -c "SELECT DISTINCT z, x, y FROM public.bench_tiles t WHERE z BETWEEN $range
      AND EXISTS (SELECT 1 FROM land.parcels WHERE geom_3857 && ST_TileEnvelope(t.z, t.x, t.y))" |
    python3 -c 'import random, sys
tiles = [l.split() for l in sys.stdin if l.strip()]
random.Random(2025).shuffle(tiles)
tiles = tiles[:5000]
out = sys.argv[1]
open(f"{out}-martin.txt", "w").writelines(f"/MARTIN_ID/{z}/{x}/{y}\n" for z, x, y in tiles)
open(f"{out}-bando.txt", "w").writelines(f"/tiles/parcels/{z}/{x}/{y}.mvt\n" for z, x, y in tiles)' "$work/tiles-$band"
done

wait_for() { # $1 url, $2 log: up to 120 s
  for _ in $(seq 240); do curl -sf "$1" >/dev/null && return 0; sleep 0.5; done
  echo "server did not start; see $2" >&2; tail -5 "$2" >&2; exit 1
}
start_martin() { # $1 = cache MB
  "$martin" "$url" --listen-addresses 127.0.0.1:3999 -C "$1" --pool-size 16 >"$work/martin.log" 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:3999/health "$work/martin.log"
  # Martin names auto-published sources itself; find the one over ogr.parcels.geom.
  local id b
  id=$(curl -s http://127.0.0.1:3999/catalog | python3 -c 'import json, sys
print(next(k for k, v in json.load(sys.stdin)["tiles"].items() if v.get("description") == "ogr.parcels.geom"))')
  for b in high low; do
    sed "s|MARTIN_ID|$id|" "$work/tiles-$b-martin.txt" > "$work/tiles-$b-martin-paths.txt"
  done
}
start_bando() { # $1 = cache MB
  DATABASE_URL="$url" BANDO_TILE_CACHE_MB="$1" BANDO_DB_MAX_CONNECTIONS=16 RUST_LOG=warn \
    "$bando" serve --listen 127.0.0.1:3998 >"$work/bando.log" 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:3998/health "$work/bando.log"
}
dump_tiles() { # $1 base url, $2 path list, $3 dir: file N = gzip bytes bando sent for line N
  rm -rf "$3" && mkdir -p "$3"
  awk -v base="$1" -v dir="$3" '{printf "url = \"%s%s\"\noutput = \"%s/%d\"\n", base, $0, dir, NR - 1}' "$2" >"$3.curl"
  curl -s --no-progress-meter --parallel --parallel-max 8 -H 'Accept-Encoding: gzip' -K "$3.curl"
}
start_static() { # $1 path list, $2 dir (parcels tiles: max-age 3600, as bando sends)
  "$static" "$1" "$2" 127.0.0.1:3997 3600 >"$work/static.log" 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:3997/health "$work/static.log"
}
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }

run() { # $1 label, $2 base url, $3 path list → "rps p50 p99"
  local out
  out=$(wrk -t2 -c16 -d"${secs}s" --timeout 60s --latency -s bench/wrk-paths.lua "$2" -- "$3")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}
warm_up() { # $1 base url, $2 path list
  sed "s|^|$1|" "$2" | xargs -P 8 -I{} curl -s -o /dev/null -H 'Accept-Encoding: gzip' {}
}
median_bytes() { # $1 base url, $2 path list: median uncompressed size of the first 200 tiles
  head -200 "$2" | while read -r p; do curl -s -o /dev/null -w '%{size_download}\n' "$1$p"; done |
    sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

declare -A mbytes bbytes
echo "| run | Martin req/s | bando req/s | ratio | Martin p50 / p99 | bando p50 / p99 |"
echo "|---|---|---|---|---|---|"
for cache in 0 4096; do
  for band in high low; do
    [[ $cache == 4096 && $band == low ]] && continue
    start_martin "$cache"
    # Warm runs request every tile once first.
    [[ $cache == 4096 ]] && warm_up http://127.0.0.1:3999 "$work/tiles-$band-martin-paths.txt"
    read -r mr m50 m99 < <(run martin http://127.0.0.1:3999 "$work/tiles-$band-martin-paths.txt")
    [[ $cache == 0 ]] && mbytes[$band]=$(median_bytes http://127.0.0.1:3999 "$work/tiles-$band-martin-paths.txt")
    stop_servers
    start_bando "$cache"
    [[ $cache == 4096 ]] && warm_up http://127.0.0.1:3998 "$work/tiles-$band-bando.txt"
    read -r br b50 b99 < <(run bando http://127.0.0.1:3998 "$work/tiles-$band-bando.txt")
    [[ $cache == 0 ]] && bbytes[$band]=$(median_bytes http://127.0.0.1:3998 "$work/tiles-$band-bando.txt")
    [[ $cache == 4096 ]] && dump_tiles http://127.0.0.1:3998 "$work/tiles-$band-bando.txt" "$work/static-tiles"
    stop_servers
    if [[ $cache == 4096 ]]; then
      start_static "$work/tiles-$band-bando.txt" "$work/static-tiles"
      read -r sr s50 s99 < <(run axum http://127.0.0.1:3997 "$work/tiles-$band-bando.txt")
      warm_bando=$br
      stop_servers
    fi
    label=$([[ $cache == 0 ]] && echo "cold" || echo "warm")
    zooms=$([[ $band == high ]] && echo "z14–16" || echo "z8–12")
    ratio=$(awk -v a="$br" -v b="$mr" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "∞"}')
    echo "| $label $zooms | $mr | $br | ${ratio}× | $m50 / $m99 | $b50 / $b99 |"
  done
done
echo
echo "Warm z14–16, minimal axum serving bando's bytes from memory (the limit): $sr req/s, p50 / p99 $s50 / $s99;" \
  "bando $(awk -v a="$warm_bando" -v b="$sr" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')× of it (target ≥ 0.8×)"
echo
# bando's z8–12 parcel tiles are the land-use overview (land.parcel_overview), Martin's every parcel.
for band in high low; do
  zooms=$([[ $band == high ]] && echo "z14–16" || echo "z8–12")
  echo "Median uncompressed tile bytes $zooms (first 200 tiles of the list): Martin ${mbytes[$band]}, bando ${bbytes[$band]}" \
    "($(awk -v a="${bbytes[$band]}" -v b="${mbytes[$band]}" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}')×)"
done
