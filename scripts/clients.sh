#!/usr/bin/env bash
# The standard clients GIS people use, as test oracles against a real `bando serve` on the
# sample data (issue 16): OWSLib (PyPI, pinned, in target/venv), GDAL's OGCAPI: driver reading
# vector tiles (pyogrio's GDAL 3.12 from PyPI: Debian's GDAL 3.6 has that part compiled out, see
# docs/clients.md) and QGIS (Debian's python3-qgis, headless). Each compares what the client
# read with what PostgreSQL holds; any failure fails the script, none is skipped. Debian's GDAL
# (OAPIF:, and its tile matrix set parser) is checked by the Rust tests (tests/tests/it/).
#
#   scripts/clients.sh                  # every client
#   CLIENTS=owslib scripts/clients.sh   # some of them: owslib gdal qgis
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/venv"
clients="${CLIENTS:-owslib gdal qgis}"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import owslib, pyogrio" 2>/dev/null; then
  echo "OWSLib or pyogrio is missing from $venv: run scripts/install-deps.sh" >&2
  exit 1
fi
# Debian's interpreter: python3-qgis is installed for it, not for a pyenv or venv python.
if ! /usr/bin/python3 -c "import qgis.core" 2>/dev/null; then
  echo "QGIS Python bindings are missing: run scripts/install-deps.sh (python3-qgis qgis-providers)" >&2
  exit 1
fi

# With a TCP URL of the database: the clients' answers are checked against SQL.
export SAMPLE_DB_URL=1
# shellcheck source=lib/sample-server.sh
source "$root/scripts/lib/sample-server.sh"
start_sample_server BANDO_CLIENT_REQUESTS_PER_MINUTE=0
mkdir -p "$root/target/clients"

status=0
for client in $clients; do
  echo "==> $client"
  case "$client" in
    owslib)
      "$venv/bin/python" "$root/scripts/clients/owslib_check.py" "$url" "$db_url" || status=1
      ;;
    gdal)
      "$venv/bin/python" "$root/scripts/clients/gdal_ogcapi_check.py" "$url" "$db_url" || status=1
      ;;
    qgis)
      # Qt wants a private runtime directory; offscreen: no display needed.
      install -d -m 700 "$work/xdg"
      QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$work/xdg" \
        /usr/bin/python3 "$root/scripts/clients/qgis_check.py" "$url" "$db_url" "$root/target/clients" || status=1
      ;;
    *)
      echo "unknown client $client (owslib gdal qgis)" >&2
      status=1
      ;;
  esac
done
if ((status)); then
  echo "--- bando log (last 40 lines) ---" >&2
  tail -n 40 "$work/stderr" >&2
fi
exit $status
