#!/usr/bin/env bash
# Scale-out figures (issue 12): runs the scale-out test (primary + streaming standby made by
# pg_basebackup -R, two `bando serve` behind a private nginx, on loopback) and prints the
# figures it measures but does not assert: how long the standby takes to copy and start, how
# long the first read-your-writes read (items + tile through nginx, carrying Bando-Min-Lsn)
# takes right after an import, and the GETs served while one instance is killed with -9.
# Debug build, like `make test`; run it N times for spread.
#
#   bench/scaleout.sh [RUNS]     default 3
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
export BANDO_TEST_CLUSTER_DIR=${BANDO_TEST_CLUSTER_DIR:-$PWD/target/test-cluster}
cargo build -q -p tile-server --locked
for _ in $(seq "$runs"); do
  cargo test -q -p tests --test it --locked scaleout -- --nocapture 2>/dev/null \
    | grep '^scaleout figures:'
done
