# Sourced by scripts/schemathesis.sh and scripts/clients.sh: a real `bando serve` on the sample
# data (2,000 parcels and every sample layer) on an embedded private cluster in a temporary
# data directory, removed with the server on exit. Sets `url` (http://127.0.0.1:PORT), `work`
# (the temporary directory; the data directory is "$work/state") and `bando`; with
# SAMPLE_DB_URL=1 also `db_url`, a TCP URL of the server's database for independent counts.
#
#   start_sample_server [ENV=VALUE …]   # extra environment for `bando serve`
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bando="${BANDO_BIN:-$root/target/debug/bando}"
if [[ ! -x "$bando" ]]; then
  (cd "$root" && cargo build -q -p tile-server)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/bando-sample.XXXXXX")"
pid=""
url=""
db_url=""
stop_sample_server() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  # A cluster started by `db start` outlives the server that joined it.
  if [[ -n "$db_url" ]]; then
    "$bando" --data-dir "$work/state" db stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap stop_sample_server EXIT
unset DATABASE_URL

start_sample_server() {
  echo "==> sample data"
  "$bando" sample --out "$work/sample" --parcels 2000 >/dev/null 2>"$work/sample.log"
  local pair
  for pair in communes.gpkg:communes communes_dongnai.gpkg:communes \
    parcels_binhphuoc.shp:parcels parcels_dongnai.shp:parcels \
    planning_zones.gpkg:planning_zones planning_zones_dongnai.gpkg:planning_zones \
    red_lines.gpkg:red_lines red_lines_dongnai.gpkg:red_lines \
    building_lines.gpkg:building_lines building_lines_dongnai.gpkg:building_lines \
    buildings.gpkg:buildings buildings_dongnai.gpkg:buildings \
    roads.gpkg:roads bus_stops.geojson:bus_stops env_stations.csv:env_stations:EPSG:9212; do
    # FILE:LAYER or FILE:LAYER:EPSG:CODE (a CSV's coordinates carry no CRS).
    local file=${pair%%:*} rest=${pair#*:} srs=()
    [[ $rest == *:EPSG:* ]] && srs=(--srs "${rest#*:}")
    "$bando" --data-dir "$work/state" import "$work/sample/$file" --layer "${rest%%:*}" "${srs[@]}" >/dev/null 2>>"$work/import.log" || {
      cat "$work/import.log" >&2
      exit 1
    }
  done

  if [[ -n "${SAMPLE_DB_URL:-}" ]]; then
    # Started first with a TCP port; `serve` joins the running cluster.
    db_url="$("$bando" --data-dir "$work/state" db start --tcp 2>>"$work/import.log" | grep '^postgres://')" || {
      cat "$work/import.log" >&2
      exit 1
    }
  fi

  echo "==> bando serve"
  env "$@" "$bando" --data-dir "$work/state" serve --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
  pid=$!
  local _
  for _ in $(seq 1 180); do
    url="$(sed -nE 's#^bando: serving (http://[^ ]+[^/ ])/?$#\1#p' "$work/stdout" | head -n1)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bando exited before serving:" >&2
      cat "$work/stderr" >&2
      exit 1
    fi
    sleep 0.5
  done
  if [[ -z "$url" ]]; then
    echo "bando did not start within 90 s" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  echo "    $url"
}
