#!/usr/bin/env bash
# Longer fuzzing runs (issue 12): the property-based targets `make test` runs with a few hundred
# cases, run here with many more. Stable Rust, no cargo-fuzz: proptest with BANDO_FUZZ_CASES.
#   bench/fuzz.sh            # 20000 cases per target
#   bench/fuzz.sh 200000     # more
# Targets: the CQL2 text and JSON parsers and compiler (cql2::fuzz), tile path parsing
# (gis_core::tile), the .prj CRS detector and the encoding detector (importers::fuzz), and
# random tile/collection paths through the real router on a real database (tests: security).
# A failure prints the shrunk input; proptest also saves it under proptest-regressions/.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
export BANDO_FUZZ_CASES="$cases"
echo "fuzzing with $cases cases per target"
start=$(date +%s)
cargo test -p cql2 --lib fuzz
cargo test -p gis-core --lib any_tile_path_parses
cargo test -p importers --lib fuzz
# Through HTTP each case is a request: a tenth of the cases.
BANDO_FUZZ_CASES=$(( cases / 10 > 0 ? cases / 10 : 1 )) \
  cargo test -p tests --test it security::random_tile_and_collection_paths_never_give_a_500
echo "fuzzing done in $(( $(date +%s) - start )) s"
