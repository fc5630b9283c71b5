#!/usr/bin/env bash
# Features benchmark (issue 4): OGC API Features items with a bbox holding ~1,000 parcels and a
# CQL2 filter, against the bare SQL query a person would write (ST_AsGeoJSON into a
# FeatureCollection, same rows, same properties, same order and limit), side by side in one run
# on the same database: pgbench runs the SQL, wrk runs the HTTP request, each at 1 and 4 clients.
# Needs bench/import.sh to have loaded the 1,000,000 parcels first. Prints a Markdown table.
#
#   bench/features.sh [SECONDS_PER_RUN]     default 20
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
work=bench/.data/import
bando=target/release/bando
pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)
[[ -x $pgbench ]] || { echo "pgbench is missing (Debian postgresql-15)" >&2; exit 1; }
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
cargo build --release -p tile-server --locked >/dev/null
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
[[ $(psql "$url" -Atc "SELECT count(*) FROM land.parcels") -ge 1000000 ]] || { echo "run bench/import.sh first" >&2; exit 1; }
psql "$url" -qc "ANALYZE land.parcels" >/dev/null

# The filter: residential and perennial-crop parcels declared larger than 150 m² (CQL2 text and SQL).
cql="land_use_code IN ('ONT','ODT','CLN') AND declared_area_m2 > 150"
sql_filter="land_use_code IN ('ONT','ODT','CLN') AND declared_area_m2 > 150"
# A bbox around the province's sample centre grown until ~1,000 parcels match.
read -r w s e n matched < <(psql "$url" -At -F' ' <<SQL
WITH c AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(106.883, 11.535), 4326), 3857) AS p),
sizes AS (SELECT generate_series(200, 20000, 100)::float8 AS half),
boxes AS (
  SELECT half, ST_MakeEnvelope(ST_X(p) - half, ST_Y(p) - half, ST_X(p) + half, ST_Y(p) + half, 3857) AS env
  FROM c, sizes),
counted AS (
  SELECT half, env, (SELECT count(*) FROM land.parcels WHERE geom_3857 && env
                       AND ST_Intersects(geom_3857, env) AND $sql_filter) AS n
  FROM boxes)
SELECT round(ST_XMin(g)::numeric, 6), round(ST_YMin(g)::numeric, 6),
       round(ST_XMax(g)::numeric, 6), round(ST_YMax(g)::numeric, 6), n
FROM (SELECT ST_Transform(env, 4326) AS g, n FROM counted WHERE n >= 1000 ORDER BY half LIMIT 1) x;
SQL
)
echo "bbox $w,$s,$e,$n: $matched parcels match" >&2

props=$(psql "$url" -At -c "SELECT string_agg(format('%L, %I', p->>'name', p->>'name'), ', ' ORDER BY ord)
  FROM platform.layer_catalog, jsonb_array_elements(properties) WITH ORDINALITY AS a(p, ord)
  WHERE id = 'parcels' AND p->>'access' = 'public'")
cat > "$work/features-bare.sql" <<SQL
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(f), '[]'::json))::text
FROM (
  SELECT json_build_object('type', 'Feature', 'id', id,
           'geometry', ST_AsGeoJSON(ST_Transform(geom, 4326), 9)::json,
           'properties', json_build_object($props)) AS f
  FROM land.parcels
  WHERE geom_3857 && ST_Transform(ST_MakeEnvelope($w, $s, $e, $n, 4326), 3857)
    AND ST_Intersects(geom_3857, ST_Transform(ST_MakeEnvelope($w, $s, $e, $n, 4326), 3857))
    AND $sql_filter
  ORDER BY id
  LIMIT 1000) t;
SQL

DATABASE_URL="$url" BANDO_DB_MAX_CONNECTIONS=8 RUST_LOG=warn \
  "$bando" serve --listen 127.0.0.1:3997 >"$work/bando-features.log" 2>&1 &
pid=$!
for _ in $(seq 240); do curl -sf http://127.0.0.1:3997/health >/dev/null && break; sleep 0.5; done
query=$(python3 -c 'import sys, urllib.parse
print(urllib.parse.urlencode({"bbox": sys.argv[1], "filter": sys.argv[2], "filter-lang": "cql2-text", "limit": 1000}))' \
  "$w,$s,$e,$n" "$cql")
path="/collections/parcels/items?$query"
returned=$(curl -sf "http://127.0.0.1:3997$path" | python3 -c 'import json, sys; print(json.load(sys.stdin)["numberReturned"])')
bare_rows=$(psql "$url" -At -f "$work/features-bare.sql" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["features"]))')
[[ $returned == "$bare_rows" ]] || { echo "bando returned $returned features, SQL $bare_rows" >&2; exit 1; }
bytes=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:3997$path")
printf '%s\n' "$path" > "$work/features-paths.txt"
# The same request made new each time (the bbox moved by 1e-9° steps, i.e. sub-millimetre, so
# the same parcels match): bando cannot reuse a remembered numberMatched and counts every time.
python3 - "$w" "$s" "$e" "$n" "$cql" > "$work/features-paths-fresh.txt" <<'PY'
import sys, urllib.parse
w, s, e, n = map(float, sys.argv[1:5])
for i in range(20000):
    d = i * 1e-9
    bbox = f"{w + d:.9f},{s:.6f},{e + d:.9f},{n:.6f}"
    print("/collections/parcels/items?" + urllib.parse.urlencode(
        {"bbox": bbox, "filter": sys.argv[5], "filter-lang": "cql2-text", "limit": 1000}))
PY

echo "Features per response: $returned (bando body $bytes bytes, uncompressed)."
echo
echo "| clients | bare SQL (pgbench) req/s | bando req/s | time ratio bando/SQL | SQL mean latency | bando p50 / p99 |"
echo "|---|---|---|---|---|---|"
for clients in 1 4; do
  threads=$((clients < 2 ? 1 : 2))
  out=$("$pgbench" -n -f "$work/features-bare.sql" -c "$clients" -j "$threads" -T "$secs" "$url" 2>&1)
  sql_tps=$(awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}' <<<"$out")
  sql_lat=$(awk -F'= ' '/latency average/ {print $2}' <<<"$out")
  out=$(wrk -t"$threads" -c"$clients" -d"${secs}s" --timeout 60s --latency -s bench/wrk-paths.lua \
    http://127.0.0.1:3997 -- "$work/features-paths.txt")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  ratio=$(awk -v a="$sql_tps" -v b="$rps" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "∞"}')
  out=$(wrk -t"$threads" -c"$clients" -d"${secs}s" --timeout 60s --latency -s bench/wrk-paths.lua \
    http://127.0.0.1:3997 -- "$work/features-paths-fresh.txt")
  frps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  f50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  f99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  fratio=$(awk -v a="$sql_tps" -v b="$frps" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "∞"}')
  echo "| $clients | $sql_tps | $rps | ${ratio}× | $sql_lat | $p50 / $p99 |"
  echo "| $clients, every request a new query (numberMatched counted) | $sql_tps | $frps | ${fratio}× | $sql_lat | $f50 / $f99 |"
done
