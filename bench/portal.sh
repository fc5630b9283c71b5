#!/usr/bin/env bash
# The public portal's sheet (issue 13): the information sheet as JSON at 8 concurrent clients
# (p50/p99; target p99 < 100 ms), the printable PDF at 2 clients (p50/p95/p99; target p95 < 1 s),
# the address search at 8 clients (p99; target < 50 ms: addresses typed without accents and
# without "số"/"đường"/the unit word, as `portal.test.mjs` types them), and the bare SQL of the
# sheet's queries for comparison (pgbench -M prepared running every statement of a sheet as bando
# sends it — read from the server's log, bench/sheet_sql.py — over the same 2,000 parcels; target: the sheet takes ≤ 1.3×
# the bare SQL's time at 8 clients), over
# random parcels of the sample (BENCH_PARCELS, default 1,000,000; the issue's size). The JSON
# runs under wrk (bench/wrk-paths.lua), the PDF under a small Python client (wrk gives no p95),
# both over 2,000 parcels in a fixed shuffled order. Prints Markdown rows. Not in `make test`.
#
#   bench/portal.sh [SECONDS_PER_RUN]     default 20; BANDO=path/to/bando to bench another build
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
secs=${1:-20}
parcels=${BENCH_PARCELS:-1000000}
work=bench/.data/portal-$parcels
bando=${BANDO:-target/release/bando}
port=3994
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
mkdir -p "$work"
# One address sends every request: the per-client limits (429) are off for the measurement;
# the tile store's background seeder too (after an import or a restart it walks every layer,
# taking a core from the runs).
printf '[limits]\nclient_max_concurrent = 0\nclient_requests_per_minute = 0\n[tiles]\nseed = false\n' >"$work/bando.toml"
bench_cluster "$work"
if [[ $(psql "$url" -Atc "SELECT count(*) FROM land.parcels" 2>/dev/null || echo 0) -lt $((parcels / 2)) ]]; then
  DATABASE_URL=$url "$bando" --data-dir "$work/state" sample --parcels "$parcels" --out "$work/sample" --import >/dev/null
fi
DATABASE_URL=$url "$bando" --config "$work/bando.toml" --data-dir "$work/state" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
psql "$url" -At -c "SELECT id FROM land.parcels ORDER BY md5(id::text) LIMIT 2000" >"$work/ids.txt"
sed 's|^|/portal/api/sheet/|' "$work/ids.txt" >"$work/json.txt"
sed 's|^\(.*\)$|/portal/api/sheet/\1/pdf|' "$work/ids.txt" >"$work/pdf.txt"
# Addresses of 2,000 random lots as people type them: "Số 12 đường Phú Riềng Đỏ, phường Tân
# Phú" → "12 phu rieng do tan phu".
psql "$url" -At -c "SELECT '/portal/api/search?address=' || replace(btrim(regexp_replace(regexp_replace(
    land.fold(place_name), '^so |duong |,| (phuong|xa) ', ' ', 'g'), ' +', ' ', 'g')), ' ', '%20')
  FROM land.parcels WHERE place_name LIKE 'Số %' ORDER BY md5(id::text) LIMIT 2000" >"$work/address.txt"
for f in json pdf address; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$(head -1 "$work/$f.txt")")
  [[ $code == 200 ]] || { echo "the first $f sheet answered $code; see $work/serve.log" >&2; exit 1; }
done
# The statements of one sheet as bando sends them, read from the server's log, become the bare
# SQL the sheet is compared with (bench/sheet_sql.py): the comparison follows the code.
psql "$url" -qc "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()"
sleep 0.5
log=$bench_state/pg/server.log
from=$(wc -c <"$log")
curl -s -o /dev/null "http://127.0.0.1:$port$(sed -n 2p "$work/json.txt")"
sleep 0.5
psql "$url" -qc "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()"
tail -c +$((from + 1)) "$log" | python3 bench/sheet_sql.py >"$work/sheet-all.sql"
# That SQL runs over the JSON run's parcels, once before the JSON run and once after every
# other run (neither side always first): bando's sheet against its own SQL at 8 clients.
psql "$url" -qc "DROP TABLE IF EXISTS bench_sheet_ids" -c "CREATE TABLE bench_sheet_ids (k int PRIMARY KEY, id bigint)" 2>/dev/null
awk '{print NR "\t" $1}' "$work/ids.txt" | psql "$url" -qc "COPY bench_sheet_ids FROM STDIN"
bare_sheet() {
  pgbench -n -M prepared -c 8 -j 2 -T "$secs" -D n="$(wc -l <"$work/ids.txt")" -f "$work/sheet-all.sql" "$url" 2>/dev/null |
    awk '/^tps/ {print $3}'
}
bare_before=$(bare_sheet)
echo "| what | clients | req/s | p50 | p95 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|---|"
out=$(wrk -t8 -c8 -d"${secs}s" --timeout 30s --latency -s bench/wrk-paths.lua "http://127.0.0.1:$port" -- "$work/json.txt")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
echo "| sheet JSON | 8 | $rps | $p50 | (wrk gives none) | $p99 | ${bad:-0} |"
json_rps=$rps
out=$(wrk -t8 -c8 -d"${secs}s" --timeout 30s --latency -s bench/wrk-paths.lua "http://127.0.0.1:$port" -- "$work/address.txt")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
echo "| address search | 8 | $rps | $p50 | (wrk gives none) | $p99 | ${bad:-0} |"
# wrk prints no p95: the PDF run is timed by a small Python client (2 clients, stdlib only).
python3 - "http://127.0.0.1:$port" "$work/pdf.txt" "$secs" <<'PY'
import sys, time, urllib.request, concurrent.futures as cf
base, paths, secs = sys.argv[1], [l.strip() for l in open(sys.argv[2]) if l.strip()], float(sys.argv[3])
end = time.monotonic() + secs
def client(k):
    lat, bad, i = [], 0, k
    while time.monotonic() < end:
        t = time.monotonic()
        try:
            with urllib.request.urlopen(base + paths[i % len(paths)], timeout=30) as r:
                body = r.read()
                bad += (r.status != 200 or not body.startswith(b"%PDF"))
        except Exception:
            bad += 1
        lat.append(time.monotonic() - t)
        i += 2
    return lat, bad
with cf.ThreadPoolExecutor(2) as ex:
    res = list(ex.map(client, range(2)))
lat = sorted(x for l, _ in res for x in l)
bad = sum(b for _, b in res)
q = lambda p: f"{lat[min(len(lat) - 1, int(p * len(lat)))] * 1000:.0f}ms"
print(f"| sheet PDF | 2 | {len(lat) / secs:.1f} | {q(.5)} | {q(.95)} | {q(.99)} | {bad} |")
PY
# The bare SQL of the sheet's heaviest query (a parcel's zones overlay in its TM-3 zone) at 8
# clients, for the comparison the issue asks (the sheet runs more: parcel, lines, plans, date).
read -r lo hi < <(psql "$url" -At -F' ' -c "SELECT min(id), max(id) FROM land.parcels")
cat >"$work/sheet.sql" <<'SQL'
\set id random(:lo, :hi)
SELECT z.zone_code, ST_Area(ST_Intersection(ST_Transform(z.geom, ST_SRID(p.geom)), p.geom))
FROM land.parcels p
JOIN planning.zones z ON z.geom_3857 && p.geom_3857 AND ST_Intersects(z.geom_3857, p.geom_3857)
WHERE p.id = :id;
SQL
echo
echo "Bare SQL (pgbench, 8 clients, the zones overlay only):"
pgbench -n -c 8 -j 2 -T "$secs" -D lo="$lo" -D hi="$hi" -f "$work/sheet.sql" "$url" 2>/dev/null |
  grep -E 'latency average|tps'
bare_after=$(bare_sheet)
echo
echo "| the sheet's whole SQL, bare (pgbench -M prepared), before / after the other runs | 8 | $bare_before / $bare_after tps | | | | | sheet JSON takes $(python3 -c "print(round(($bare_before + $bare_after) / 2 / $json_rps, 2))")× the bare SQL's time (their mean; target ≤ 1.3×) |"
psql "$url" -qc "DROP TABLE bench_sheet_ids"
