#!/usr/bin/env bash
# Tile benchmark (issues 5 and 9 §7): bando against Martin 1.14 on the same 1,000,000 parcels, in
# one run, with the same shuffled tile lists (wrk), cold (no cache) and warm. Three servers:
#   martin-table: Martin as a default set-up has it — auto-published ogr.parcels, the plain
#     table ogr2ogr made from the sample shapefiles (EPSG:9212, every column, owner names
#     included), transformed per row per request.
#   martin-fn: Martin as a knowledgeable user sets it up — a config file listing one function
#     source, public.bando_parcels, that runs exactly bando's tile SQL over land.parcels
#     (generated from gis_core::mvt by tile-server/examples/martin_function.rs: the public
#     properties, geom_3857, the min_zoom filter, the feature cap, z8–12 from
#     land.parcel_overview, the coarse re-render over the byte cap).
#   bando: land.parcels as bando imports them (owner names withheld).
# Warm z14–16 also runs tile-server/examples/static_tiles (bando's gzip bytes from a HashMap:
# the limit).
# Every figure is the median of 3 runs (min–max printed too); in each of the 3 rounds the
# servers run one after another, and the order rotates so each goes first once. Between runs the
# script waits until the database has no active query (a server may still be finishing the
# previous run's requests). Needs bench/import.sh to have run first. Prints Markdown; the raw
# runs are kept in bench/.data/import/tiles-runs.tsv.
#
#   bench/tiles.sh [SECONDS_PER_RUN]     default 20
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
reps=3
work=bench/.data/import
bando=target/release/bando
martin=bench/.tools/bin/martin
[[ -x $martin ]] || cargo install martin --locked --version 1.14.0 --no-default-features --features postgres --root bench/.tools
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
cargo build --release -p tile-server --locked >/dev/null
# The limit for the warm run: a minimal axum server answering the same bytes from memory.
cargo build --release -p tile-server --example static_tiles --example martin_function --locked >/dev/null
static=target/release/examples/static_tiles
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
declare -A pid
cleanup() {
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
[[ $(psql "$url" -Atc "SELECT count(*) FROM ogr.parcels") -ge 1000000 ]] || { echo "run bench/import.sh first" >&2; exit 1; }
psql "$url" -qc "ANALYZE ogr.parcels; ANALYZE land.parcels; ANALYZE land.parcel_overview" >/dev/null
# bando's tile SQL as a Martin function source.
target/release/examples/martin_function parcels public.bando_parcels >"$work/bando_parcels.sql"
psql "$url" -q -v ON_ERROR_STOP=1 -f "$work/bando_parcels.sql" >/dev/null

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
open(f"{out}-martin-fn.txt", "w").writelines(f"/bando_parcels/{z}/{x}/{y}\n" for z, x, y in tiles)
open(f"{out}-bando.txt", "w").writelines(f"/tiles/parcels/{z}/{x}/{y}.mvt\n" for z, x, y in tiles)' "$work/tiles-$band"
done

# Each server: its port and, per band, its path list.
declare -A port=([martin-table]=3999 [martin-fn]=3996 [bando]=3998 [axum]=3997)
paths() { # $1 server, $2 band
  case $1 in
    martin-table) echo "$work/tiles-$2-martin-paths.txt" ;;
    martin-fn) echo "$work/tiles-$2-martin-fn.txt" ;;
    *) echo "$work/tiles-$2-bando.txt" ;;
  esac
}
base() { echo "http://127.0.0.1:${port[$1]}"; }

wait_for() { # $1 url, $2 log: up to 120 s
  for _ in $(seq 240); do curl -sf "$1" >/dev/null && return 0; sleep 0.5; done
  echo "server did not start; see $2" >&2; tail -5 "$2" >&2; exit 1
}
# No query running in the database (a server may still be working on the last run's requests).
wait_idle() {
  for _ in $(seq 600); do
    [[ $(psql "$url" -Atc "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
        AND backend_type = 'client backend' AND pid <> pg_backend_pid()") == 0 ]] && return 0
    sleep 0.5
  done
  echo "database still busy after 300 s" >&2
}
start_martin_table() { # $1 = cache MB: the default set-up, every table auto-published
  "$martin" "$url" --listen-addresses "127.0.0.1:${port[martin-table]}" -C "$1" --pool-size 16 \
    >"$work/martin-table.log" 2>&1 &
  pid[martin-table]=$!
  wait_for "$(base martin-table)/health" "$work/martin-table.log"
  # Martin names auto-published sources itself; find the one over ogr.parcels.geom.
  local id b
  id=$(curl -s "$(base martin-table)/catalog" | python3 -c 'import json, sys
print(next(k for k, v in json.load(sys.stdin)["tiles"].items() if v.get("description") == "ogr.parcels.geom"))')
  for b in high low; do
    sed "s|MARTIN_ID|$id|" "$work/tiles-$b-martin.txt" > "$work/tiles-$b-martin-paths.txt"
  done
}
start_martin_fn() { # $1 = cache MB: a config file listing the one function source
  cat >"$work/martin-fn.yaml" <<YAML
listen_addresses: "127.0.0.1:${port[martin-fn]}"
cache:
  size_mb: $1
postgres:
  connection_string: "$url"
  pool_size: 16
  auto_publish: false
  functions:
    bando_parcels:
      schema: public
      function: bando_parcels
      minzoom: 0
      maxzoom: 30
YAML
  "$martin" --config "$work/martin-fn.yaml" >"$work/martin-fn.log" 2>&1 &
  pid[martin-fn]=$!
  wait_for "$(base martin-fn)/health" "$work/martin-fn.log"
}
# bando without its persistent tile store (issue 17): cold means rendered per request, as Martin
# renders with -C 0 — the store would answer every round after the first. (The store's own
# figures, restart = warm and seeding, are bench/seed.sh's.)
printf '[tiles]\nstore_max_bytes = 0\n' >"$work/tiles-bando.toml"
start_bando() { # $1 = cache MB
  # Tiles get half of BANDO_DB_MAX_CONNECTIONS (load::LoadSettings; the other classes' pools
  # open lazily and stay unused here): 32 gives the tile pool the 16 Martin's pool has.
  DATABASE_URL="$url" BANDO_TILE_CACHE_MB="$1" BANDO_DB_MAX_CONNECTIONS=32 RUST_LOG=warn \
    "$bando" --config "$work/tiles-bando.toml" --data-dir "$work/tiles-state" \
    serve --listen "127.0.0.1:${port[bando]}" >"$work/bando.log" 2>&1 &
  pid[bando]=$!
  wait_for "$(base bando)/health" "$work/bando.log"
}
start_static() { # $1 path list, $2 dir (parcels tiles: max-age 3600, as bando sends)
  "$static" "$1" "$2" "127.0.0.1:${port[axum]}" 3600 >"$work/static.log" 2>&1 &
  pid[axum]=$!
  wait_for "$(base axum)/health" "$work/static.log"
}
stop_servers() {
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pid=()
}
dump_tiles() { # $1 base url, $2 path list, $3 dir: file N = gzip bytes bando sent for line N
  rm -rf "$3" && mkdir -p "$3"
  awk -v base="$1" -v dir="$3" '{printf "url = \"%s%s\"\noutput = \"%s/%d\"\n", base, $0, dir, NR - 1}' "$2" >"$3.curl"
  curl -s --no-progress-meter --parallel --parallel-max 8 -H 'Accept-Encoding: gzip' -K "$3.curl"
}
warm_up() { # $1 server, $2 band: every tile of the list once
  sed "s|^|$(base "$1")|" "$(paths "$1" "$2")" | xargs -P 8 -I{} curl -s -o /dev/null -H 'Accept-Encoding: gzip' {}
}
median_bytes() { # $1 server, $2 band, $3 gzip|plain, $4 count: median size of the first tiles of the list
  local enc=identity
  [[ $3 == gzip ]] && enc=gzip
  head -"$4" "$(paths "$1" "$2")" | sed "s|^|$(base "$1")|" |
    xargs -P 4 -I{} curl -s -o /dev/null -w '%{size_download}\n' -H "Accept-Encoding: $enc" {} |
    sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

runs=$work/tiles-runs.tsv
printf 'phase\tband\tround\torder\tserver\treq_s\tp50\tp99\n' >"$runs"
measure() { # $1 phase, $2 band, $3 round, $4 position in the round, $5 server
  local out rps p50 p99
  wait_idle
  out=$(wrk -t2 -c16 -d"${secs}s" --timeout 60s --latency -s bench/wrk-paths.lua "$(base "$5")" -- "$(paths "$5" "$2")")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$rps" "$p50" "$p99" | tee -a "$runs" >&2
}
rounds() { # $1 phase, $2 band, servers…: $reps rounds, the order rotated each round
  local phase=$1 band=$2 r i n
  shift 2
  local servers=("$@")
  n=${#servers[@]}
  for ((r = 0; r < reps; r++)); do
    for ((i = 0; i < n; i++)); do
      measure "$phase" "$band" $((r + 1)) $((i + 1)) "${servers[(r + i) % n]}"
    done
  done
}

declare -A bytes
# Cold: no tile cache in any server (Martin -C 0 / cache.size_mb 0, BANDO_TILE_CACHE_MB=0).
start_martin_table 0
start_martin_fn 0
start_bando 0
# martin-fn runs bando's SQL: the same MVT bytes (checked on the first 50 tiles of each band).
for band in high low; do
  same=0
  while read -r p; do
    zxy=${p#/bando_parcels/}
    cmp -s <(curl -s "$(base martin-fn)$p") <(curl -s "$(base bando)/tiles/parcels/$zxy.mvt") && same=$((same + 1))
  done < <(head -50 "$(paths martin-fn "$band")")
  bytes[$band-same]=$same
done
for band in high low; do
  rounds cold "$band" martin-table martin-fn bando
  wait_idle
  for s in martin-table martin-fn bando; do
    # (Martin's 13 MB z8–12 table tiles take seconds each: the first 50 only, uncompressed only.)
    if [[ $s-$band == martin-table-low ]]; then
      bytes[$band-$s-plain]="$(median_bytes "$s" "$band" plain 50) (first 50)"
      bytes[$band-$s-gzip]="n/a"
      continue
    fi
    bytes[$band-$s-plain]=$(median_bytes "$s" "$band" plain 200)
    bytes[$band-$s-gzip]=$(median_bytes "$s" "$band" gzip 200)
  done
done
stop_servers
wait_idle

# Warm: Martin's own cache (-C / cache.size_mb 4096, half of it for tiles), bando's
# (BANDO_TILE_CACHE_MB=4096); every tile requested once before timing. martin-table is left out
# at z8–12: its 13 MB tiles would take most of an hour to warm and would not fit the cache.
start_martin_table 4096
start_martin_fn 4096
start_bando 4096
for s in martin-table martin-fn bando; do warm_up "$s" high; done
wait_idle
dump_tiles "$(base bando)" "$(paths bando high)" "$work/static-tiles"
start_static "$(paths bando high)" "$work/static-tiles"
rounds warm high martin-table martin-fn bando axum
for s in martin-fn bando; do warm_up "$s" low; done
wait_idle
rounds warm low martin-fn bando
stop_servers

# The table.
python3 - "$runs" "$secs" \
  "${bytes[high-same]}" "${bytes[low-same]}" \
  "${bytes[high-martin-table-plain]}" "${bytes[high-martin-fn-plain]}" "${bytes[high-bando-plain]}" \
  "${bytes[high-martin-table-gzip]}" "${bytes[high-martin-fn-gzip]}" "${bytes[high-bando-gzip]}" \
  "${bytes[low-martin-table-plain]}" "${bytes[low-martin-fn-plain]}" "${bytes[low-bando-plain]}" \
  "${bytes[low-martin-table-gzip]}" "${bytes[low-martin-fn-gzip]}" "${bytes[low-bando-gzip]}" <<'PY'
import csv, statistics, sys
runs = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
secs = sys.argv[2]
same_high, same_low = sys.argv[3:5]
b = sys.argv[5:]

def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 6e4)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
    return float("nan")

def fmt_ms(v):
    return f"{v * 1000:.0f} µs" if v < 1 else f"{v:.1f} ms" if v < 1000 else f"{v / 1000:.2f} s"

def stats(phase, band, server):
    rs = [r for r in runs if (r["phase"], r["band"], r["server"]) == (phase, band, server)]
    if not rs:
        return None
    q = [float(r["req_s"] or 0) for r in rs]
    return {
        "rps": statistics.median(q), "lo": min(q), "hi": max(q), "n": len(q),
        "p50": statistics.median(ms(r["p50"]) for r in rs),
        "p99": statistics.median(ms(r["p99"]) for r in rs),
    }

names = {
    "martin-table": "Martin default: auto-published `ogr.parcels`",
    "martin-fn": "Martin function source running bando's SQL (`public.bando_parcels`)",
    "bando": "bando",
    "axum": "minimal axum, bando's bytes from memory (the limit)",
}
print(f"wrk -t2 -c16 -d{secs}s; each figure the median of the runs counted in “n” (min–max of them).")
print()
print("| run | server | n | req/s median (min–max) | p50 | p99 | bando ÷ it (medians) |")
print("|---|---|---|---|---|---|---|")
for phase, band, label in (("cold", "high", "cold z14–16"), ("cold", "low", "cold z8–12"),
                           ("warm", "high", "warm z14–16"), ("warm", "low", "warm z8–12")):
    bando = stats(phase, band, "bando")
    for server in ("martin-table", "martin-fn", "bando", "axum"):
        s = stats(phase, band, server)
        if s is None:
            continue
        ratio = "" if server == "bando" or not bando or s["rps"] == 0 else f"{bando['rps'] / s['rps']:.2f}×"
        print(f"| {label} | {names[server]} | {s['n']} | {s['rps']:.2f} ({s['lo']:.2f}–{s['hi']:.2f}) "
              f"| {fmt_ms(s['p50'])} | {fmt_ms(s['p99'])} | {ratio} |")
print()
print(f"Same MVT bytes from the function source and bando (first 50 tiles of each list, no "
      f"compression): z14–16 {same_high}/50, z8–12 {same_low}/50.")
print()
print("Median tile bytes, first 200 tiles of each list (uncompressed / gzip as sent):")
print()
print("| band | Martin default | Martin function source | bando |")
print("|---|---|---|---|")
for label, o in (("z14–16", 0), ("z8–12", 6)):
    print(f"| {label} | {b[o]} / {b[o + 3]} | {b[o + 1]} / {b[o + 4]} | {b[o + 2]} / {b[o + 5]} |")
PY
