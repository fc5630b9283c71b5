#!/usr/bin/env bash
# Import benchmark (issue 3): the 1,000,000-parcel sample shapefiles into PostGIS, side by side
# in one run: ogr2ogr (PG_USE_COPY, -t_srs) and `bando import` (validation, TCVN3/VNI decoding,
# native-zone storage plus the Web Mercator serving column, indexes, import log), into the same
# database (bando's private cluster, over TCP). Prints wall times and the ratio. The DBFs have
# no .cpg, as legacy deliveries do: ogr2ogr needs -oo ENCODING=ISO-8859-1 to accept them at all
# (and then stores mojibake); bando decodes the TCVN3/VNI text.
#
#   bench/import.sh [PARCELS]        default 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
parcels=${1:-1000000}
work=bench/.data/import
bando=target/release/bando
cargo build --release -p tile-server --locked >/dev/null
mkdir -p "$work"
if [[ ! -f "$work/sample-$parcels/parcels_binhphuoc.shp" ]]; then
  "$bando" sample --out "$work/sample-$parcels" --parcels "$parcels" >/dev/null
fi
# Only the two parcel shapefiles (the same files both tools read).
input="$work/parcels-$parcels"
mkdir -p "$input"
for f in "$work/sample-$parcels"/parcels_{binhphuoc,dongnai}.*; do ln -sf "$(realpath "$f")" "$input/"; done
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
trap '"$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true' EXIT
port=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$url")
pg="PG:host=127.0.0.1 port=$port user=bando dbname=bando"
psql "$url" -qc "DROP SCHEMA IF EXISTS ogr CASCADE; CREATE SCHEMA ogr;" >/dev/null
psql "$url" -qc "TRUNCATE land.parcels CASCADE" >/dev/null

now() { date +%s.%N; }
t0=$(now)
ogr2ogr -f PostgreSQL "$pg" "$input/parcels_binhphuoc.shp" --config PG_USE_COPY YES \
  -oo ENCODING=ISO-8859-1 -t_srs EPSG:9212 -nln ogr.parcels -nlt PROMOTE_TO_MULTI -lco GEOMETRY_NAME=geom -overwrite
ogr2ogr -f PostgreSQL "$pg" "$input/parcels_dongnai.shp" --config PG_USE_COPY YES \
  -oo ENCODING=ISO-8859-1 -t_srs EPSG:9212 -nln ogr.parcels -nlt PROMOTE_TO_MULTI -append
t1=$(now)
DATABASE_URL="$url" RUST_LOG=${RUST_LOG:-warn} "$bando" import "$input" --layer parcels --mode replace --json > "$work/bando-summary.json"
t2=$(now)
ogr_rows=$(psql "$url" -Atc "SELECT count(*) FROM ogr.parcels")
bando_rows=$(psql "$url" -Atc "SELECT count(*) FROM land.parcels")
awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v o="$ogr_rows" -v b="$bando_rows" 'BEGIN {
  printf "ogr2ogr: %s rows in %.1f s\nbando:   %s rows in %.1f s\nratio bando/ogr2ogr: %.2f\n", o, t1 - t0, b, t2 - t1, (t2 - t1) / (t1 - t0) }'
