#!/usr/bin/env bash
# Runs every test; the private cluster the Rust harness starts (target/test-cluster) is stopped
# whatever the outcome. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
run() {
  echo "==> $*"
  "$@" || { echo "FAILED: $*" >&2; status=1; }
}

run cargo fmt --all -- --check
run cargo clippy --workspace --all-targets --locked -- -D warnings
run cargo test --workspace --locked --no-fail-fast
run scripts/schemathesis.sh
run scripts/clients.sh
./target/debug/bando --data-dir target/test-cluster db stop >/dev/null 2>&1 || true
run bash -c 'cd web && npm test'

if ((status)); then echo "make test: FAILED" >&2; else echo "make test: all passed"; fi
exit $status
