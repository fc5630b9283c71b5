#!/usr/bin/env bash
# Write throughput of PATCHes on parcels (issue 11): a land officer's merge patches of
# `place_name` through OGC API – Features Part 4 (entity tag, reason, decision, every cadastral
# rule and the history version in the same SERIALIZABLE transaction), by one writer and by 16
# writers at once on 16 distinct parcels, against the sample data (20,000 parcels). Each wrk
# thread holds one parcel and sends each write with the ETag the previous answer gave
# (bench/wrk-edit.lua). Prints Markdown rows: writes/s, p50, p99, non-2xx answers. Then the
# same at 1 and 8 writers for vertex edits (EDIT_KIND=geometry in the Lua script): each write
# PATCHes the parcel's geometry with its first vertex moved 1 m towards the centre, then
# back, so every geometry rule runs — snapping to the neighbours (with the shared vertices), the
# overlap and the gap rules (a gap tapering from 1 m is deliberate) — on a parcel that has
# neighbours; the difference with the first table is what the geometry rules cost.
#
#   bench/edit.sh [SECONDS_PER_RUN]     default 15; BANDO=path/to/bando to bench another build
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
secs=${1:-15}
work=bench/.data/edit
bando=${BANDO:-target/release/bando}
port=3993
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
mkdir -p "$work"
# One address sends every write: the per-client limits (429) are off for the measurement.
printf '[limits]\nclient_max_concurrent = 0\nclient_requests_per_minute = 0\n' >"$work/bando.toml"
bench_cluster "$work"
if [[ $(psql "$url" -Atc "SELECT count(*) FROM land.parcels" 2>/dev/null || echo 0) -lt 1000 ]]; then
  DATABASE_URL=$url "$bando" --data-dir "$work/state" sample --out "$work/sample" --import >/dev/null
fi
export BANDO_AUTH_DEV_ISSUER=true
DATABASE_URL=$url "$bando" --config "$work/bando.toml" --data-dir "$work/state" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
export BANDO_BEARER
BANDO_BEARER=$("$bando" --data-dir "$work/state" dev-token can_bo_dia_chinh --listen "127.0.0.1:$port")
# 16 parcels of one commune in the officer's scope, spread over it (distinct neighbourhoods).
psql "$url" -At -c "SELECT min(id) FROM (SELECT id, ntile(16) OVER (ORDER BY id) AS part FROM land.parcels
  WHERE commune_code = '25195') p GROUP BY part ORDER BY 1" >"$work/ids.txt"
[[ $(wc -l <"$work/ids.txt") -eq 16 ]] || { echo "fewer than 16 parcels in commune 25195" >&2; exit 1; }
export EDIT_IDS=$work/ids.txt
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BANDO_BEARER" \
  "http://127.0.0.1:$port/collections/parcels/items/$(head -1 "$work/ids.txt")")
[[ $code == 200 ]] || { echo "reading a parcel answered $code; see $work/serve.log" >&2; exit 1; }
# One write by hand first: it must be applied (204), or the runs would measure refusals.
first=$(head -1 "$work/ids.txt")
tag=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $BANDO_BEARER" "http://127.0.0.1:$port/collections/parcels/items/$first" |
  awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
code=$(curl -s -o "$work/first.json" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $BANDO_BEARER" \
  -H 'Content-Type: application/merge-patch+json' -H "If-Match: $tag" -H 'Edit-Reason: bench' \
  -H 'Edit-Document: QD%2012%2F2026' -d '{"properties":{"place_name":"bench first"}}' \
  "http://127.0.0.1:$port/collections/parcels/items/$first")
[[ $code == 204 ]] || { echo "a write answered $code: $(cat "$work/first.json")" >&2; exit 1; }
echo "| writers | writes/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
for writers in 1 16; do
  out=$(wrk -t"$writers" -c"$writers" -d"${secs}s" --timeout 30s --latency -s bench/wrk-edit.lua "http://127.0.0.1:$port")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  why=$(awk '/^refused/ {printf "%s%s %s", sep, $2, $3; sep=", "}' <<<"$out" | tr -d ':')
  echo "| $writers | $rps | $p50 | $p99 | ${bad:-0}${why:+ ($why)} |"
done
# Vertex edits: 8 parcels of the commune with neighbours (another parcel within 5 cm), each
# with its geometry as stored (A) and with its first vertex moved 1 m towards its centroid in
# its TM-3 zone (B).
psql "$url" -At -F$'\t' -c "
  WITH c AS (SELECT p.id, p.geom FROM land.parcels p
             WHERE p.commune_code = '25195' AND ST_NumGeometries(p.geom) = 1
               AND ST_NumInteriorRings(ST_GeometryN(p.geom, 1)) = 0
               AND EXISTS (SELECT 1 FROM land.parcels n WHERE n.id <> p.id
                           AND n.geom_3857 && ST_Expand(p.geom_3857, 1) AND ST_DWithin(n.geom, p.geom, 0.05))),
       pick AS (SELECT id, geom, ntile(8) OVER (ORDER BY id) AS part FROM c),
       one AS (SELECT DISTINCT ON (part) id, geom FROM pick ORDER BY part, id),
       moved AS (SELECT id, geom, ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1) AS v,
                        ST_Centroid(geom) AS c FROM one)
  SELECT id, ST_AsGeoJSON(ST_Transform(geom, 4326), 9),
         ST_AsGeoJSON(ST_Transform(ST_SetPoint(ST_SetPoint(ST_ExteriorRing(ST_GeometryN(geom, 1)), 0,
                 ST_Translate(v, (ST_X(c) - ST_X(v)) / ST_Distance(v, c), (ST_Y(c) - ST_Y(v)) / ST_Distance(v, c))),
               -1, ST_Translate(v, (ST_X(c) - ST_X(v)) / ST_Distance(v, c), (ST_Y(c) - ST_Y(v)) / ST_Distance(v, c))), 4326), 9)
  FROM moved" |
  # The moved ring as a Polygon: ST_SetPoint works on the ring (a LineString).
  sed -E 's/\{"type":"LineString","coordinates":(\[.*\])\}$/{"type":"Polygon","coordinates":[\1]}/' >"$work/shapes.txt"
[[ $(wc -l <"$work/shapes.txt") -eq 8 ]] || { echo "fewer than 8 parcels with neighbours in commune 25195" >&2; exit 1; }
echo
echo "Vertex edits (geometry PATCH, every geometry rule):"
echo
echo "| writers | writes/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
for writers in 1 8; do
  out=$(EDIT_KIND=geometry EDIT_IDS=$work/shapes.txt wrk -t"$writers" -c"$writers" -d"${secs}s" --timeout 30s --latency -s bench/wrk-edit.lua "http://127.0.0.1:$port")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  why=$(awk '/^refused/ {printf "%s%s %s", sep, $2, $3; sep=", "}' <<<"$out" | tr -d ':')
  echo "| $writers | $rps | $p50 | $p99 | ${bad:-0}${why:+ ($why)} |"
done
versions=$(psql "$url" -At -c "SELECT count(*) FROM land.parcel_versions WHERE reason = 'bench'")
echo
echo "History versions written by the runs: $versions"
