#!/usr/bin/env bash
# Write throughput of PATCHes on parcels (issue 11): a land officer's merge patches of
# `place_name` through OGC API – Features Part 4 (entity tag, reason, decision, every cadastral
# rule and the history version in the same SERIALIZABLE transaction), by one writer and by 16
# writers at once on 16 distinct parcels, against the sample data (20,000 parcels). Each wrk
# thread holds one parcel and sends each write with the ETag the previous answer gave
# (bench/wrk-edit.lua). Prints Markdown rows: writes/s, p50, p99, non-2xx answers.
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
versions=$(psql "$url" -At -c "SELECT count(*) FROM land.parcel_versions WHERE reason = 'bench'")
echo
echo "History versions written by the runs: $versions"
