#!/usr/bin/env bash
# Water isolation (issue 15) on the sample's water network: the graph build from the database
# (from the server's log), the first trace after an edit (rebuild included), and the isolation
# p50/p95 over HTTP (`/networks/water/isolate?pipe=ID`, curl's total time) side by side with
# pgRouting answering the same question per call the way it must without a graph in memory:
# `pgr_connectedComponents` over every pipe, with the vertices of the valves to close and the
# closed valves cut out (timed by psql, server side only — so pgRouting's figure excludes HTTP).
# Then the graph build, the trace and the patch after one edit alone at 10,000 and 100,000 pipes
# (utilities/examples/network_scale.rs, release build, in memory). Prints Markdown rows.
# The sample is the default one (9,508 pipes); BANDO_WATER_PIPES=100000 makes it that large.
#
#   bench/network.sh [BREAKS]     default 200; BANDO=path/to/bando to bench another build
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
breaks=${1:-200}
work=bench/.data/network
bando=${BANDO:-target/release/bando}
port=3994
mkdir -p "$work"
bench_cluster "$work"
if [[ $(psql "$url" -Atc "SELECT count(*) FROM utilities.water_pipes" 2>/dev/null || echo 0) -lt 100 ]]; then
  DATABASE_URL=$url "$bando" --data-dir "$work/state" sample --out "$work/sample" \
    ${BANDO_WATER_PIPES:+--water-pipes "$BANDO_WATER_PIPES"} --import >/dev/null
fi
DATABASE_URL=$url "$bando" --data-dir "$work/state" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
pipes=$(psql "$url" -Atc "SELECT count(*) FROM utilities.water_pipes")
psql "$url" -Atc "SELECT id FROM utilities.water_pipes ORDER BY random() LIMIT $breaks" >"$work/pipes.txt"
first=$(head -1 "$work/pipes.txt")
trace() { curl -s -o "$work/answer.json" -w '%{time_total}\n' "http://127.0.0.1:$port/networks/water/isolate?pipe=$1&at=0.5"; }
cold=$(trace "$first")
# An edit: one valve closed and opened again; the next trace waits for the patch if the
# listener has not applied it.
valve=$(psql "$url" -Atc "SELECT id FROM utilities.water_valves ORDER BY id LIMIT 1")
psql "$url" -qc "UPDATE utilities.water_valves SET status = 'Đóng' WHERE id = $valve"
after_edit=$(trace "$first")
psql "$url" -qc "UPDATE utilities.water_valves SET status = 'Mở' WHERE id = $valve"
sleep 1
: >"$work/ours.txt"
: >"$work/pgr.sql"
echo 'CREATE EXTENSION IF NOT EXISTS pgrouting CASCADE;' | psql "$url" -q
psql "$url" -q <<'SQL'
DROP TABLE IF EXISTS bench_edges, bench_edges_vertices_pgr, bench_blocked_base;
CREATE TABLE bench_edges AS SELECT id, ST_GeometryN(geom, 1) AS geom, NULL::bigint AS source, NULL::bigint AS target FROM utilities.water_pipes;
SELECT pgr_createTopology('bench_edges', 0.1, 'geom', 'id');
CREATE TABLE bench_blocked_base AS SELECT DISTINCT n.id FROM bench_edges_vertices_pgr n
  JOIN utilities.water_valves v ON ST_DWithin(v.geom, n.the_geom, 0.1) WHERE v.status = 'Đóng';
SQL
echo '\timing on' >>"$work/pgr.sql"
while read -r p; do
  trace "$p" >>"$work/ours.txt"
  close=$(python3 -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["valves_to_close"])) or "0")' "$work/answer.json")
  cat >>"$work/pgr.sql" <<SQL
SELECT count(*) FROM pgr_connectedComponents(\$q\$
  SELECT e.id,
    CASE WHEN e.source IN (SELECT id FROM bench_blocked_base) OR e.source IN (SELECT n.id FROM bench_edges_vertices_pgr n JOIN utilities.water_valves v ON ST_DWithin(v.geom, n.the_geom, 0.1) WHERE v.id IN ($close)) THEN 10000000000 + 2 * e.id ELSE e.source END AS source,
    CASE WHEN e.target IN (SELECT id FROM bench_blocked_base) OR e.target IN (SELECT n.id FROM bench_edges_vertices_pgr n JOIN utilities.water_valves v ON ST_DWithin(v.geom, n.the_geom, 0.1) WHERE v.id IN ($close)) THEN 10000000001 + 2 * e.id ELSE e.target END AS target,
    1.0::float8 AS cost, 1.0::float8 AS reverse_cost FROM bench_edges e \$q\$);
SQL
done <"$work/pipes.txt"
psql "$url" -q -f "$work/pgr.sql" | awk '/^Time:/ {print $2 / 1000}' >"$work/pgr.txt"
psql "$url" -qc "DROP TABLE IF EXISTS bench_edges, bench_edges_vertices_pgr, bench_blocked_base"
build=$(sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | grep -o 'network built.*kind=Water.*' | grep -o 'ms=[0-9]*' | head -1 || true)
pct() { sort -g "$1" | awk -v q="$2" '{a[NR]=$1} END {i=int(NR*q); if (i<1) i=1; printf "%.1f ms", a[i]*1000}'; }
echo "Sample water network: $pipes pipes; first graph build ${build#ms=} ms (server log)."
echo
echo "| what | p50 | p95 |"
echo "|---|---|---|"
echo "| bando isolation over HTTP ($breaks breaks) | $(pct "$work/ours.txt" 0.5) | $(pct "$work/ours.txt" 0.95) |"
echo "| pgRouting component query per call (server time) | $(pct "$work/pgr.txt" 0.5) | $(pct "$work/pgr.txt" 0.95) |"
echo
echo "First trace (graph build included): $(awk '{printf "%.1f ms", $1*1000}' <<<"$cold"); first trace after an edit: $(awk '{printf "%.1f ms", $1*1000}' <<<"$after_edit")."
echo
# The same code at scale, in memory (a synthetic lattice; no database, no HTTP).
for n in 10000 100000; do
  cargo run -q --release -p utilities --example network_scale -- "$n"
done
