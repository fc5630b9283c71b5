#!/usr/bin/env bash
# Cost guard calibration (issue 12): for typical and abusive items queries on the
# 1,000,000-parcel benchmark database, PostgreSQL's estimated cost (read from the guard's 422
# with a budget of 1) beside the time the query really takes with the guard off (the first
# request, which counts the matches, and the median of the next three, whose count the server
# remembers; per-client limits off), and whether the default budget (250,000) lets it run.
# Needs bench/import.sh first (its cluster in bench/.data/import holds the parcels).
#
#   [BANDO=path] bench/cost-guard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || apt-get install -y -q jq >/dev/null
work=bench/.data/import
out=$work/cost-guard
bando=${BANDO:-target/release/bando}
port=18479
[[ -n ${BANDO:-} ]] || cargo build --release -p tile-server --locked >/dev/null
[[ -d $work/state ]] || { echo "run bench/import.sh first" >&2; exit 1; }
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
rm -rf "$out"
mkdir -p "$out/state"
serve=
trap '[[ -n $serve ]] && kill $serve 2>/dev/null; wait 2>/dev/null || true; "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true' EXIT
start_server() { # BUDGET
  [[ -n $serve ]] && { kill $serve; wait $serve 2>/dev/null || true; }
  printf '[limits]\nclient_max_concurrent = 0\nclient_requests_per_minute = 0\nfeature_cost_budget = %s\n[tiles]\nseed = false\n' "$1" >"$out/bando.toml"
  DATABASE_URL="$url" RUST_LOG=warn "$bando" --config "$out/bando.toml" --data-dir "$out/state" \
    serve --listen "127.0.0.1:$port" >"$out/serve-$1.log" 2>&1 &
  serve=$!
  for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
}
base="http://127.0.0.1:$port/collections/parcels/items"
# A parcel in the middle of the data, and a small box (~450 m) around it.
read -r x y < <(psql "$url" -At -F' ' -c "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p
  FROM land.parcels ORDER BY md5(id::text || 'cost') LIMIT 1) s")
commune=$(psql "$url" -Atc "SELECT commune_code FROM land.parcels ORDER BY md5(id::text || 'cost') LIMIT 1")
bbox=$(python3 -c "x, y = $x, $y; d = 0.002; print(f'{x-d:.6f},{y-d:.6f},{x+d:.6f},{y+d:.6f}')")
poly=$(python3 -c "x, y = $x, $y; d = 0.002; print(f'POLYGON(({x-d} {y-d}, {x+d} {y-d}, {x+d} {y+d}, {x-d} {y+d}, {x-d} {y-d}))')")
abuse="ACCENTI(place_name) LIKE '%a%o%a%n%h%u%y%e%' OR S_DISJOINT(geometry, POLYGON((106.5 11.2, 107.2 11.2, 107.2 11.9, 106.5 11.9, 106.5 11.2)))"
q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
queries=(
  "land use in a box|limit=100&bbox=$bbox&filter=$(q "land_use_code = 'ONT'")"
  "land use, whole layer|limit=100&filter=$(q "land_use_code = 'ONT'")"
  "land use, whole layer, sorted by area|limit=100&sortby=-declared_area_m2&filter=$(q "land_use_code = 'ONT'")"
  "commune + sheet|limit=100&filter=$(q "commune_code = '$commune' AND sheet_number = 1")"
  "area range, whole layer|limit=100&filter=$(q "declared_area_m2 > 5000")"
  "S_INTERSECTS small polygon|limit=100&filter=$(q "S_INTERSECTS(geometry, $poly)")"
  "place name prefix|limit=20&filter=$(q "place_name LIKE 'Số 12%'")"
  "place name, leading wildcard, in a box|limit=100&bbox=$bbox&filter=$(q "place_name LIKE '%Phú%'")"
  "place name, leading wildcard, whole layer|limit=100&filter=$(q "place_name LIKE '%Phú%'")"
  "sortby area in a box|limit=100&bbox=$bbox&sortby=-declared_area_m2"
  "sortby area, whole layer|limit=10&sortby=-declared_area_m2"
  "ACCENTI leading wildcard, whole layer|limit=100&filter=$(q "ACCENTI(place_name) LIKE '%phu%'")"
  "the issue's abusive filter|limit=10000&sortby=-place_name&filter=$(q "$abuse")"
)
start_server 1
declare -A cost
for entry in "${queries[@]}"; do
  name=${entry%%|*}
  body=$(curl -s "$base?${entry#*|}")
  cost[$name]=$(jq -r '.estimatedCost // "–"' <<<"$body")
done
start_server 0
# The first request counts the matches; the server remembers the count, so the next ones
# time the page alone.
echo "| query | estimated cost | default budget 250,000 | guard off: first request (count + page) | again (median of 3) | matched |"
echo "|---|---|---|---|---|---|"
ms() { awk -v t="$1" 'BEGIN {printf "%.0f", t * 1000}'; }
for entry in "${queries[@]}"; do
  name=${entry%%|*}
  times=()
  status=
  for _ in 1 2 3 4; do
    read -r status t < <(curl -s -o "$out/body.json" -w '%{http_code} %{time_total}\n' --max-time 60 "$base?${entry#*|}")
    times+=("$t")
  done
  first=${times[0]}
  median=$(printf '%s\n' "${times[@]:1}" | sort -n | sed -n 2p)
  matched=$(jq -r '.numberMatched // "–"' "$out/body.json" 2>/dev/null || echo "–")
  c=${cost[$name]}
  verdict=runs
  [[ $c != "–" ]] && awk -v c="$c" 'BEGIN {exit !(c > 250000)}' && verdict="**refused (422)**"
  printf '| %s | %s | %s | %s ms | %s ms (HTTP %s) | %s |\n' "$name" "$c" "$verdict" "$(ms "$first")" "$(ms "$median")" "$status" "$matched"
done
echo "command: bench/cost-guard.sh; point ($x, $y)" >&2
