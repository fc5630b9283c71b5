#!/usr/bin/env bash
# Utility networks (issue 15), side by side with pgRouting, three rounds on the same data:
#
# - the graph build from the database: each round restarts `bando serve` and reads the water
#   and power builds from its log (`network built … ms=`);
# - the water isolation over HTTP (`/networks/water/isolate?pipe=ID&at=0.5`, curl's total time,
#   so bando's figure includes HTTP and the answer's GeoJSON queries) for BREAKS random pipes,
#   and again with `lines=false` (ids, counts and lengths without the pipes' geometry: what
#   pgRouting's query answers too), and pgRouting answering the same question per call the way it must without a graph in
#   memory: `pgr_connectedComponents` over every pipe, with the vertices of the valves bando
#   closes and the closed valves cut out (psql's timing: server time only, no HTTP). Which of
#   the two runs first alternates per round;
# - the power outage over HTTP (`/networks/power/outage?pole=ID`) for BREAKS random poles;
# - the update after one edit: EDITS valve status flips, each followed by a trace; the patch
#   time (read of the changed rows + patch) from the server's log (`network patched … us=`),
#   and the first trace after the edit over HTTP.
#
# Each row is the median of the three rounds' figures and their spread (min–max). Then the
# graph build, trace and patch in memory at 10,000 and 100,000 pipes
# (utilities/examples/network_scale.rs). Prints Markdown.
#
#   BANDO_WATER_PIPES=100000 bench/network.sh [BREAKS] [EDITS]   defaults 100 and 50
#   BANDO=path/to/bando to bench another build (default target/release/bando)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
breaks=${1:-100}
edits=${2:-50}
work=bench/.data/network${BANDO_WATER_PIPES:+-$BANDO_WATER_PIPES}
bando=${BANDO:-target/release/bando}
port=3994
mkdir -p "$work"
bench_cluster "$work"
if [[ $(psql "$url" -Atc "SELECT count(*) FROM utilities.water_pipes" 2>/dev/null || echo 0) -lt 100 ]]; then
  DATABASE_URL=$url "$bando" --data-dir "$work/state" sample --out "$work/sample" --parcels 2000 \
    ${BANDO_WATER_PIPES:+--water-pipes "$BANDO_WATER_PIPES"} --import >/dev/null
fi
pipes=$(psql "$url" -Atc "SELECT count(*) FROM utilities.water_pipes")
meters=$(psql "$url" -Atc "SELECT count(*) FROM utilities.water_meters")
valves_n=$(psql "$url" -Atc "SELECT count(*) FROM utilities.water_valves")
lines_n=$(psql "$url" -Atc "SELECT count(*) FROM utilities.power_lines")
poles_n=$(psql "$url" -Atc "SELECT count(*) FROM utilities.power_poles")
psql "$url" -Atc "SELECT id FROM utilities.water_pipes ORDER BY random() LIMIT $breaks" >"$work/pipes.txt"
psql "$url" -Atc "SELECT id FROM utilities.power_poles ORDER BY random() LIMIT $breaks" >"$work/poles.txt"
valve=$(psql "$url" -Atc "SELECT id FROM utilities.water_valves WHERE status <> 'Đóng' ORDER BY id LIMIT 1")
edit_pipe=$(psql "$url" -Atc "SELECT p.id FROM utilities.water_pipes p JOIN utilities.water_valves v
  ON ST_DWithin(p.geom, v.geom, 0.1) WHERE v.id = $valve LIMIT 1")

echo 'CREATE EXTENSION IF NOT EXISTS pgrouting CASCADE;' | psql "$url" -q
t0=$(date +%s.%N)
psql "$url" -q <<'SQL' >/dev/null
DROP TABLE IF EXISTS bench_edges, bench_edges_vertices_pgr, bench_blocked_base;
CREATE TABLE bench_edges AS SELECT id, ST_GeometryN(geom, 1) AS geom, NULL::bigint AS source, NULL::bigint AS target FROM utilities.water_pipes;
SELECT pgr_createTopology('bench_edges', 0.1, 'geom', 'id');
CREATE TABLE bench_blocked_base AS SELECT DISTINCT n.id FROM bench_edges_vertices_pgr n
  JOIN utilities.water_valves v ON ST_DWithin(v.geom, n.the_geom, 0.1) WHERE v.status = 'Đóng';
CREATE INDEX ON bench_edges_vertices_pgr USING gist (the_geom);
ANALYZE bench_edges; ANALYZE bench_edges_vertices_pgr;
SQL
topology_s=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")

serve() {
  # The tile store's seeder off: at start it would walk every layer beside the graph builds.
  # One client asks everything: the per-client limit (a refused request is held 1 s, then
  # 429) would time refusals.
  BANDO_TILES_SEED=false BANDO_CLIENT_REQUESTS_PER_MINUTE=0 DATABASE_URL=$url "$bando" --data-dir "$work/state" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
get() { curl -sf -o "$work/answer.json" -w '%{time_total}\n' "http://127.0.0.1:$port$1"; }
isolate() { get "/networks/water/isolate?pipe=$1&at=0.5"; }
# timed PATH_SUFFIX LIST: one curl over every id in LIST on one kept-alive connection (as a
# client does; a new connection per request now and then waited 1 s for a SYN resent), one
# time per request.
timed() {
  local cfg="$work/curl.cfg"
  : >"$cfg"
  while read -r id; do
    printf 'url = "http://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$port" "${1//ID/$id}" >>"$cfg"
  done <"$2"
  curl -s -K "$cfg" -w '%{http_code} %{time_total}\n' >"$work/timed.txt"
  # Every answer must be a 200: a refusal's or an error's time is no trace's.
  if grep -qv '^200 ' "$work/timed.txt"; then
    echo "not every answer was 200 for $1:" >&2
    grep -v '^200 ' "$work/timed.txt" | sort | uniq -c >&2
    exit 1
  fi
  cut -d' ' -f2 "$work/timed.txt"
}
# The water and power builds at start, from the log (ms); waits for both.
builds() {
  for _ in $(seq 120); do
    local n
    n=$(sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | grep -c 'network built' || true)
    [[ $n -ge 2 ]] && break
    sleep 0.5
  done
  for kind in Water Power; do
    sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | grep 'network built' | grep "kind=$kind" |
      grep -o ' ms=[0-9]*' | head -1 | cut -d= -f2
  done
}
# The valves bando closes for each break, for pgRouting's queries (once, not timed).
closing() {
  local k=0
  while read -r p; do
    k=$((k + 1))
    curl -s "http://127.0.0.1:$port/networks/water/isolate?pipe=$p&at=0.5&lines=false" |
      python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["valves_to_close"])) or "0")' \
        >"$work/close-$k.txt"
  done <"$work/pipes.txt"
}
bando_round() { # $1 = round
  timed "/networks/water/isolate?pipe=ID&at=0.5&lines=false" "$work/pipes.txt" >"$work/bare-$1.txt"
  timed "/networks/water/isolate?pipe=ID&at=0.5" "$work/pipes.txt" >"$work/ours-$1.txt"
}
pgr_round() { # $1 = round
  {
    echo '\timing on'
    local k=0
    while read -r _; do
      k=$((k + 1))
      close=$(cat "$work/close-$k.txt")
      cat <<SQL
SELECT count(*) FROM pgr_connectedComponents(\$q\$
  SELECT e.id,
    CASE WHEN e.source IN (SELECT id FROM bench_blocked_base) OR e.source IN (SELECT n.id FROM bench_edges_vertices_pgr n JOIN utilities.water_valves v ON ST_DWithin(v.geom, n.the_geom, 0.1) WHERE v.id IN ($close)) THEN 10000000000 + 2 * e.id ELSE e.source END AS source,
    CASE WHEN e.target IN (SELECT id FROM bench_blocked_base) OR e.target IN (SELECT n.id FROM bench_edges_vertices_pgr n JOIN utilities.water_valves v ON ST_DWithin(v.geom, n.the_geom, 0.1) WHERE v.id IN ($close)) THEN 10000000001 + 2 * e.id ELSE e.target END AS target,
    1.0::float8 AS cost, 1.0::float8 AS reverse_cost FROM bench_edges e \$q\$);
SQL
    done <"$work/pipes.txt"
  } >"$work/pgr.sql"
  psql "$url" -q -f "$work/pgr.sql" | awk '/^Time:/ {print $2 / 1000}' >"$work/pgr-$1.txt"
}
pct() { sort -g "$1" | awk -v q="$2" '{a[NR]=$1} END {i=int(NR*q + 0.5); if (i<1) i=1; if (i>NR) i=NR; printf "%.3f", a[i]*1000}'; }

: >"$work/rows.txt"
row() { echo "$1|$2|$3" >>"$work/rows.txt"; } # name | round | value (ms)
for round in 1 2 3; do
  serve
  read -r water_build power_build < <(builds | paste -sd' ')
  row "water graph build from the database" "$round" "$water_build"
  row "power graph build from the database" "$round" "$power_build"
  [[ $round == 1 ]] && closing
  if [[ $round == 2 ]]; then
    pgr_round "$round"
    bando_round "$round"
  else
    bando_round "$round"
    pgr_round "$round"
  fi
  row "bando isolation over HTTP p50" "$round" "$(pct "$work/ours-$round.txt" 0.5)"
  row "bando isolation over HTTP p95" "$round" "$(pct "$work/ours-$round.txt" 0.95)"
  row "bando isolation over HTTP, lines=false, p50" "$round" "$(pct "$work/bare-$round.txt" 0.5)"
  row "bando isolation over HTTP, lines=false, p95" "$round" "$(pct "$work/bare-$round.txt" 0.95)"
  row "pgRouting component query per call p50" "$round" "$(pct "$work/pgr-$round.txt" 0.5)"
  row "pgRouting component query per call p95" "$round" "$(pct "$work/pgr-$round.txt" 0.95)"
  timed "/networks/power/outage?pole=ID" "$work/poles.txt" >"$work/power-$round.txt"
  row "bando power outage over HTTP p50" "$round" "$(pct "$work/power-$round.txt" 0.5)"
  row "bando power outage over HTTP p95" "$round" "$(pct "$work/power-$round.txt" 0.95)"
  # Edits: the valve closed, then opened, each followed at once by a trace of its pipe.
  : >"$work/after-edit-$round.txt"
  for k in $(seq "$edits"); do
    if ((k % 2)); then state='Đóng'; else state='Mở'; fi
    psql "$url" -qc "UPDATE utilities.water_valves SET status = '$state' WHERE id = $valve"
    isolate "$edit_pipe" >>"$work/after-edit-$round.txt"
    sleep 0.1
  done
  psql "$url" -qc "UPDATE utilities.water_valves SET status = 'Mở' WHERE id = $valve"
  sleep 0.5
  sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | grep 'network patched' | grep 'kind=Water' |
    grep -o ' us=[0-9]*' | cut -d= -f2 | awk '{print $1 / 1e6}' >"$work/patch-$round.txt"
  row "update after one edit: patch (read + patch) p50" "$round" "$(pct "$work/patch-$round.txt" 0.5)"
  row "update after one edit: patch (read + patch) p95" "$round" "$(pct "$work/patch-$round.txt" 0.95)"
  row "first isolation after an edit over HTTP p95" "$round" "$(pct "$work/after-edit-$round.txt" 0.95)"
  patches=$(wc -l <"$work/patch-$round.txt")
  stop
done
psql "$url" -qc "DROP TABLE IF EXISTS bench_edges, bench_edges_vertices_pgr, bench_blocked_base"

echo "Water network: $pipes pipes, $valves_n valves, $meters meters; power network: $lines_n lines, $poles_n poles."
echo "$breaks breaks per round, $edits edits per round ($patches patches logged in the last round); pgRouting's topology (pgr_createTopology, once): $topology_s s."
echo
echo "| what | median of 3 | spread |"
echo "|---|---|---|"
python3 - "$work/rows.txt" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, _, value = line.rstrip("\n").split("|")
    rows.setdefault(name, []).append(float(value))
for name, v in rows.items():
    print(f"| {name} | {statistics.median(v):.2f} ms | {min(v):.2f}–{max(v):.2f} ms |")
m = lambda k: statistics.median(rows[k])
pgr50, pgr = m("pgRouting component query per call p50"), m("pgRouting component query per call p95")
for label, key in (("with the pipes' geometry", "bando isolation over HTTP"),
                   ("lines=false, the same question pgRouting answers", "bando isolation over HTTP, lines=false,")):
    print(f"\npgRouting / bando ({label}): {pgr50 / m(key + ' p50'):.0f}× at p50, "
          f"{pgr / m(key + ' p95'):.0f}× at p95 (bando's time includes HTTP and the answer's queries).")
PY
echo
# The same code at scale, in memory (a synthetic lattice; no database, no HTTP).
for n in 10000 100000; do
  cargo run -q --release -p utilities --example network_scale -- "$n"
done
