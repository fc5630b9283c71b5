#!/usr/bin/env bash
# The parcels as of an instant in a small box (items `datetime=&bbox=`, tiles `?datetime=`,
# issue 11): land.parcels_as_of(at) filtered outside (how items read it before land migration
# 1010: each alive version's row built as jsonb before the box applies) against
# land.parcels_as_of(at, box) (the box inside, through the GiST index on
# land.parcel_versions.geom_3857), on the sample data (20,000 parcels) with VERSIONS closed
# versions added (default 9,000, spread over the parcels' area). Prints Markdown rows: the
# EXPLAIN ANALYZE execution time of each, the best of 5, and the rows they return (equal).
#
#   bench/asof.sh [VERSIONS]      BANDO=path/to/bando to bench another build
set -euo pipefail
cd "$(dirname "$0")/.."
versions=${1:-9000}
work=bench/.data/asof
bando=${BANDO:-target/release/bando}
mkdir -p "$work"
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
cleanup() { "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
if [[ $(psql "$url" -Atc "SELECT count(*) FROM land.parcels" 2>/dev/null || echo 0) -lt 1000 ]]; then
  DATABASE_URL=$url "$bando" --data-dir "$work/state" sample --out "$work/sample" --import >/dev/null
fi
# The versions: closed a day ago, copies of living parcels shifted by 10 m (their ids far
# above the living ones), so the box meets some of them.
psql "$url" -q -v ON_ERROR_STOP=1 -c "DELETE FROM land.parcel_versions WHERE parcel_id >= 100000000" -c "
  INSERT INTO land.parcel_versions (parcel_id, version, commune_code, sheet_number, parcel_number,
      attributes, geom, begin_lifespan, end_lifespan, action, editor, reason, document)
  SELECT 100000000 + p.id, 1, p.commune_code, p.sheet_number, p.parcel_number,
         to_jsonb(p) - 'geom' - 'geom_3857' || jsonb_build_object('id', 100000000 + p.id),
         ST_Translate(p.geom, 10, 0), now() - interval '3 days', now() - interval '1 day',
         'import', 'bench', 'bench', 'bench'
  FROM (SELECT * FROM land.parcels ORDER BY id LIMIT $versions) p" -c "ANALYZE land.parcel_versions"
# A box of about 200 m around a parcel in the middle of the versions, in Web Mercator.
box=$(psql "$url" -At -c "SELECT format('ST_Expand(ST_Centroid(%L::geometry), 100)', geom_3857::text)
  FROM land.parcels ORDER BY id OFFSET $((versions / 2)) LIMIT 1")
at="now() - interval '2 days'"
outside="SELECT id FROM land.parcels_as_of($at) t WHERE t.geom_3857 && $box"
inside="SELECT id FROM land.parcels_as_of($at, $box) t WHERE t.geom_3857 && $box"
best() {
  local sql=$1 ms best=
  for _ in 1 2 3 4 5; do
    ms=$(psql "$url" -At -c "EXPLAIN (ANALYZE, FORMAT JSON) $sql" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
    best=$(python3 -c "print(min(float('${best:-1e18}'), $ms))")
  done
  echo "$best"
}
rows_out=$(psql "$url" -At -c "SELECT count(*) FROM ($outside) q")
rows_in=$(psql "$url" -At -c "SELECT count(*) FROM ($inside) q")
echo "| query ($versions versions) | execution ms (best of 5) | rows |"
echo "|---|---|---|"
echo "| as_of(at), box outside | $(best "$outside") | $rows_out |"
echo "| as_of(at, box) | $(best "$inside") | $rows_in |"
