#!/usr/bin/env bash
# Installs the system packages bando needs on Debian 12 when they are missing. Idempotent:
# when everything is present it only checks and returns in well under a second.
set -euo pipefail

packages=(
  pkg-config clang libclang-dev          # bindgen for proj-sys
  libgdal-dev gdal-bin                   # GDAL (importers) and ogr tools (test oracles)
  libproj-dev proj-bin                   # PROJ (CRS) and cs2cs/projinfo
  postgresql-15 postgresql-15-postgis-3 postgresql-15-postgis-3-scripts
  postgresql-15-pgrouting                # pgRouting: the oracle of the network traces (tests/it/network.rs)
  chromium                               # headless browser tests
  fonts-noto-core                        # Vietnamese glyphs for the browser
  libc-bin                               # iconv TCVN5712-1 oracle
  libsqlite3-dev                         # MBTiles packs (rusqlite on the system SQLite)
  python3-venv                           # target/venv: Python clients used as test oracles
  mosquitto                              # MQTT broker: bando's private broker (issue 14) and tests
  nginx                                  # load balancer in front of two bando instances (scale-out test)
  mosquitto-clients                      # mosquitto_pub: the IOC display test publishes as a device
  python3-qgis qgis-providers            # QGIS (OAPIF, vector tiles) as a client oracle (scripts/clients.sh)
  poppler-utils                          # pdftotext/pdftoppm: the printed planning sheet's tests
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bando needs these Debian 12 packages, and this machine has no apt-get: ${missing[*]}" >&2
    exit 1
  fi
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "bando needs these packages; install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    echo "apt-get could not install ${missing[*]}; install them by hand (Debian 12 bookworm main) and re-run make" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is missing: install Rust 1.92 or newer (https://rustup.rs), then re-run make" >&2
  exit 1
fi
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if ((rust_minor < 92)); then
  echo "Rust $(rustc --version | cut -d' ' -f2) is too old: bando needs Rust 1.92 or newer (the sheet crate's Typst) (rustup update)" >&2
  exit 1
fi

# Python clients the tests use as independent oracles, in target/venv (one venv for all of them;
# add a package on a line of its own). Only the package index is reached, with pinned versions.
venv="$(cd "$(dirname "$0")/.." && pwd)/target/venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import pmtiles" 2>/dev/null ||
  "$venv/bin/pip" install -q "pmtiles==3.8.1" # PMTiles reader for the export test
"$venv/bin/python" -c "import schemathesis" 2>/dev/null || "$venv/bin/pip" install -q "schemathesis==4.32.5" # API client tests (scripts/schemathesis.sh)
"$venv/bin/python" -c "import owslib, sys; sys.exit(owslib.__version__ != '0.35.0')" 2>/dev/null || "$venv/bin/pip" install -q "OWSLib==0.35.0" # OGC API client (scripts/clients.sh)
# A current GDAL (3.12, bundled in the wheel) for OGCAPI: vector tiles, compiled out of Debian's 3.6.
"$venv/bin/python" -c "import pyogrio, sys; sys.exit(pyogrio.__version__ != '0.13.0')" 2>/dev/null ||
  "$venv/bin/pip" install -q "pyogrio==0.13.0"
# FROST's own SensorThings client, the IOC's test oracle (scripts/clients.sh sta).
"$venv/bin/python" -c "import frost_sta_client, sys; sys.exit(frost_sta_client.__version__ != '1.1.53')" 2>/dev/null ||
  "$venv/bin/pip" install -q "frost-sta-client==1.1.53"
