#!/usr/bin/env bash
# Property-based API tests with schemathesis (a real client, from PyPI, in target/venv) against a
# real `bando serve` on the sample data: every operation of the OpenAPI document at /api is
# called with generated valid and invalid inputs, and every answer must be no 5xx and match the
# documented schema.
#
#   scripts/schemathesis.sh                      # every operation
#   SCHEMATHESIS_PATHS='^/query/' scripts/schemathesis.sh   # only paths matching a regex
#   SCHEMATHESIS_EXAMPLES=50 scripts/schemathesis.sh        # examples per operation (default 25)
#
# The server runs on an embedded private cluster in a temporary data directory, which is
# removed afterwards; DATABASE_URL is ignored.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bando="${BANDO_BIN:-$root/target/debug/bando}"
venv="$root/target/venv"
examples="${SCHEMATHESIS_EXAMPLES:-25}"

if [[ ! -x "$venv/bin/schemathesis" ]]; then
  echo "schemathesis is missing from $venv: run scripts/install-deps.sh" >&2
  exit 1
fi
if [[ ! -x "$bando" ]]; then
  (cd "$root" && cargo build -q -p tile-server)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/bando-schemathesis.XXXXXX")"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
unset DATABASE_URL

echo "==> sample data"
"$bando" sample --out "$work/sample" --parcels 2000 >/dev/null 2>"$work/sample.log"
for pair in communes.gpkg:communes communes_dongnai.gpkg:communes \
  parcels_binhphuoc.shp:parcels parcels_dongnai.shp:parcels \
  planning_zones.gpkg:planning_zones planning_zones_dongnai.gpkg:planning_zones \
  red_lines.gpkg:red_lines red_lines_dongnai.gpkg:red_lines \
  building_lines.gpkg:building_lines building_lines_dongnai.gpkg:building_lines \
  roads.gpkg:roads bus_stops.geojson:bus_stops; do
  "$bando" --data-dir "$work/state" import "$work/sample/${pair%%:*}" --layer "${pair##*:}" >/dev/null 2>>"$work/import.log" || { cat "$work/import.log" >&2; exit 1; }
done

echo "==> bando serve"
# One client sending thousands of requests on purpose: lift the per-client rate (issue 12) so
# the handlers are exercised rather than the 429.
BANDO_CLIENT_REQUESTS_PER_MINUTE=0 BANDO_CLIENT_MAX_CONCURRENT=0 \
  "$bando" --data-dir "$work/state" serve --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
pid=$!
url=""
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

filter=()
if [[ -n "${SCHEMATHESIS_PATHS:-}" ]]; then
  filter=(--include-path-regex "$SCHEMATHESIS_PATHS")
fi

echo "==> schemathesis ($examples examples per operation)"
status=0
# From the temporary directory: schemathesis keeps a cache of failures in its working directory.
# One worker: with two, Hypothesis parses lambda sources from two threads at once, which Python
# 3.11's AST constructor rejects ("recursion depth mismatch") as a spurious runtime error.
cd "$work"
"$venv/bin/schemathesis" run "$url/api" --url "$url" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$examples" --workers 1 --seed 2025 --no-color \
  --phases examples,coverage,fuzzing \
  --suppress-health-check all --generation-database none \
  --request-timeout 30 "${filter[@]}" || status=$?
if ((status)); then
  echo "--- bando log (last 40 lines) ---" >&2
  tail -n 40 "$work/stderr" >&2
fi
exit $status
