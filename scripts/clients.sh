#!/usr/bin/env bash
# The standard clients GIS people use, as test oracles against a real `bando serve` on the
# sample data (issue 16): OWSLib (PyPI, pinned, in target/venv), GDAL's OGCAPI: driver reading
# vector tiles (pyogrio's GDAL 3.12 from PyPI: Debian's GDAL 3.6 has that part compiled out, see
# docs/clients.md), QGIS (Debian's python3-qgis, headless) and FROST's SensorThings client
# (frost-sta-client, PyPI, pinned) over `/sta/v1.1` (issue 14). Each compares what the client
# read with what PostgreSQL holds; any failure fails the script, none is skipped. Debian's GDAL
# (OAPIF:, and its tile matrix set parser) is checked by the Rust tests (tests/tests/it/).
#
#   scripts/clients.sh                  # every client
#   CLIENTS=owslib scripts/clients.sh   # some of them: owslib gdal qgis sta
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/venv"
clients="${CLIENTS:-owslib gdal qgis sta}"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import owslib, pyogrio, frost_sta_client" 2>/dev/null; then
  echo "OWSLib, pyogrio or frost-sta-client is missing from $venv: run scripts/install-deps.sh" >&2
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
# The development issuer: the SensorThings check writes as an IOC operator with its token.
start_sample_server BANDO_CLIENT_REQUESTS_PER_MINUTE=0 BANDO_AUTH_DEV_ISSUER=true
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
    sta)
      # The issuer is named after the configured listen address (the sample server's is
      # 127.0.0.1:0: a port chosen at start), so the token is issued for that one.
      token=$(BANDO_AUTH_DEV_ISSUER=true "$bando" --data-dir "$work/state" dev-token van_hanh_ioc \
        --listen 127.0.0.1:0) || status=1
      "$venv/bin/python" "$root/scripts/clients/sta_check.py" "$url" "$db_url" "$token" || status=1
      ;;
    *)
      echo "unknown client $client (owslib gdal qgis sta)" >&2
      status=1
      ;;
  esac
done
if ((status)); then
  echo "--- bando log (last 40 lines) ---" >&2
  tail -n 40 "$work/stderr" >&2
fi
exit $status
