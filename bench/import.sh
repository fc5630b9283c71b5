#!/usr/bin/env bash
# Import benchmark (issues 3 and 18): the sample parcel shapefiles into PostGIS, side by side
# in one run: ogr2ogr (PG_USE_COPY, -t_srs, -overwrite) and `bando import` (validation,
# TCVN3/VNI decoding, native-zone storage plus the Web Mercator serving column, indexes, import
# log), into the same database (bando's private cluster, over TCP). The DBFs have no .cpg, as
# legacy deliveries do: ogr2ogr needs -oo ENCODING=ISO-8859-1 to accept them at all (and then
# stores mojibake); bando decodes the TCVN3/VNI text.
#
# Rows (each the median of RUNS runs, with min–max, and bando's peak RSS from /usr/bin/time -v):
#   fresh                      ogr2ogr -overwrite | bando --mode replace into an empty layer
#                              (ogr2ogr goes first in odd runs, last in even ones)
#   re-import, nothing changed this year's files again over the loaded layer (replace, upsert)
#   re-import, next year       `bando sample --next-year` (1 % changed, 0.5 % new, 0.5 % gone)
#                              over this year's layer (replace, upsert); ogr2ogr -overwrite of
#                              the same files. bando's counts are checked against the
#                              generator's parcels_next_year.json (the run fails if they differ).
#
#   bench/import.sh [PARCELS] [RUNS]     defaults 1000000 3
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || apt-get install -y -q jq >/dev/null
parcels=${1:-1000000}
runs=${2:-3}
work=bench/.data/import
bando=target/release/bando
cargo build --release -p tile-server --locked >/dev/null
mkdir -p "$work"
if [[ ! -f "$work/sample-$parcels/parcels_binhphuoc.shp" ]]; then
  "$bando" sample --out "$work/sample-$parcels" --parcels "$parcels" >/dev/null
fi
next="$work/next-$parcels"
if [[ ! -f "$next/parcels_next_year.json" ]]; then
  "$bando" sample --out "$next" --parcels "$parcels" --next-year >/dev/null
fi
# Only the two parcel shapefiles (the same files both tools read).
input="$work/parcels-$parcels"
mkdir -p "$input"
for f in "$work/sample-$parcels"/parcels_{binhphuoc,dongnai}.*; do ln -sf "$(realpath "$f")" "$input/"; done
# Next year's shapefiles without the counts file (bando imports every readable file of a folder).
next_input="$work/next-parcels-$parcels"
mkdir -p "$next_input"
for f in "$next"/parcels_{binhphuoc,dongnai}.*; do ln -sf "$(realpath "$f")" "$next_input/"; done
url=$("$bando" --data-dir "$work/state" db start --tcp 2>/dev/null | tail -1)
trap '"$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true' EXIT
port=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$url")
# The private cluster's generated password (scram-sha-256), as `db start --tcp` prints it.
password=$(sed -E 's|^[a-z]+://[^:]+:([^@]*)@.*|\1|' <<<"$url")
pg="PG:host=127.0.0.1 port=$port user=bando dbname=bando password=$password"
psql "$url" -qc "DROP SCHEMA IF EXISTS ogr CASCADE; CREATE SCHEMA ogr;" >/dev/null

now() { date +%s.%N; }
ogr() { # DIR: both shapefiles into ogr.parcels, replacing it
  ogr2ogr -f PostgreSQL "$pg" "$1/parcels_binhphuoc.shp" --config PG_USE_COPY YES \
    -oo ENCODING=ISO-8859-1 -t_srs EPSG:9212 -nln ogr.parcels -nlt PROMOTE_TO_MULTI -lco GEOMETRY_NAME=geom -overwrite
  ogr2ogr -f PostgreSQL "$pg" "$1/parcels_dongnai.shp" --config PG_USE_COPY YES \
    -oo ENCODING=ISO-8859-1 -t_srs EPSG:9212 -nln ogr.parcels -nlt PROMOTE_TO_MULTI -append
}
# bando DIR MODE NAME: one timed import; summary in $work/NAME.json, wall seconds and peak RSS
# (KiB) appended to $work/NAME.times.
bando_import() {
  local t0 t1 rss
  t0=$(now)
  DATABASE_URL="$url" RUST_LOG=${RUST_LOG:-warn} /usr/bin/time -v -o "$work/$3.time" \
    "$bando" import "$1" --layer parcels --mode "$2" --json > "$work/$3.json"
  t1=$(now)
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$3.time")
  echo "$t0 $t1 $rss" | awk '{printf "%.2f %d\n", $2 - $1, $3}' >> "$work/$3.times"
}
ogr_timed() { # DIR NAME
  local t0 t1
  t0=$(now); ogr "$1" >/dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f 0\n", b - a}' >> "$work/$2.times"
}
load_this_year() { # untimed: the layer as this year's delivery made it
  DATABASE_URL="$url" RUST_LOG=warn "$bando" import "$input" --layer parcels --mode replace --json >/dev/null
}
counts() { # NAME: "updated inserted deleted unchanged not_delivered"
  jq -r '.merged | "\(.updated) \(.inserted) \(.deleted) \(.unchanged) \(.not_delivered)"' "$work/$1.json"
}
check() { # NAME EXPECTED
  local got; got=$(counts "$1")
  if [[ "$got" != "$2" ]]; then
    echo "$1: counts (updated inserted deleted unchanged not_delivered) $got, expected $2" >&2
    exit 1
  fi
}
rm -f "$work"/*.times
exp="$next/parcels_next_year.json"
changed=$(jq .changed "$exp"); new=$(jq .new "$exp"); gone=$(jq .gone "$exp")
unchanged=$(jq .unchanged "$exp")
for ((i = 1; i <= runs; i++)); do
  echo "run $i/$runs" >&2
  # Which tool goes first alternates from run to run.
  if ((i % 2)); then
    ogr_timed "$input" ogr-this
    ogr_timed "$next" ogr-next
  fi
  psql "$url" -qc "TRUNCATE land.parcels CASCADE" >/dev/null
  bando_import "$input" replace fresh
  total=$(psql "$url" -Atc "SELECT count(*) FROM land.parcels")
  check fresh "0 $total 0 0 0"
  bando_import "$input" replace same-replace
  check same-replace "0 0 0 $total 0"
  bando_import "$input" upsert same-upsert
  check same-upsert "0 0 0 $total 0"
  bando_import "$next_input" replace next-replace
  check next-replace "$changed $new $gone $unchanged $gone"
  load_this_year
  bando_import "$next_input" upsert next-upsert
  check next-upsert "$changed $new 0 $unchanged $gone"
  if ((i % 2 == 0)); then
    ogr_timed "$input" ogr-this
    ogr_timed "$next" ogr-next
  fi
done

median() { sort -n | awk '{v[NR] = $1} END {printf "%.1f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
stats() { # NAME: "median min max rss_median_MB"
  local f="$work/$1.times"
  echo "$(awk '{print $1}' "$f" | median) $(awk '{print $1}' "$f" | sort -n | head -1)" \
    "$(awk '{print $1}' "$f" | sort -n | tail -1) $(awk '{print $2 / 1024}' "$f" | median)"
}
read -r fresh_m _ _ _ < <(stats fresh)
printf "%-34s %9s %17s %8s %10s\n" "row" "median s" "min–max s" "× fresh" "peak RSS"
for name in ogr-this ogr-next fresh same-replace same-upsert next-replace next-upsert; do
  read -r m lo hi rss < <(stats "$name")
  label=$name
  case $name in
    ogr-this) label="ogr2ogr -overwrite, this year" ;;
    ogr-next) label="ogr2ogr -overwrite, next year" ;;
    fresh) label="bando fresh (empty layer)" ;;
    same-replace) label="bando nothing changed, replace" ;;
    same-upsert) label="bando nothing changed, upsert" ;;
    next-replace) label="bando next year, replace" ;;
    next-upsert) label="bando next year, upsert" ;;
  esac
  [[ $name == ogr-* ]] && rss_text="-" || rss_text="$rss MB"
  printf "%-34s %9s %17s %8.2f %10s\n" "$label" "$m" "$lo–$hi" "$(awk -v a="$m" -v b="$fresh_m" 'BEGIN {print a / b}')" "$rss_text"
done
echo "next year's delivery: $changed changed, $new new, $gone gone, $unchanged unchanged (counts checked)"
