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
venv="$root/target/venv"
examples="${SCHEMATHESIS_EXAMPLES:-25}"

if [[ ! -x "$venv/bin/schemathesis" ]]; then
  echo "schemathesis is missing from $venv: run scripts/install-deps.sh" >&2
  exit 1
fi
# shellcheck source=lib/sample-server.sh
source "$root/scripts/lib/sample-server.sh"
# One client sending thousands of requests on purpose: lift the per-client rate (issue 12) so
# the handlers are exercised rather than the 429.
start_sample_server BANDO_CLIENT_REQUESTS_PER_MINUTE=0 BANDO_CLIENT_MAX_CONCURRENT=0

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
