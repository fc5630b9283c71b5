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
# Two passes: every operation anonymously (writes must answer 401), then the writes (tag Edit)
# with a land officer's token from the development issuer (bad bodies must answer 4xx).
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
# the handlers are exercised rather than the 429. The development issuer signs the land
# officer's token of the second pass.
start_sample_server BANDO_CLIENT_REQUESTS_PER_MINUTE=0 BANDO_CLIENT_MAX_CONCURRENT=0 \
  BANDO_AUTH_DEV_ISSUER=true
# The server listens on 127.0.0.1:0, and so names its issuer: the token is for that issuer.
officer="$(BANDO_AUTH_DEV_ISSUER=true "$bando" --data-dir "$work/state" dev-token can_bo_dia_chinh \
  --listen 127.0.0.1:0)"

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
# Second pass: the writes (tag Edit: Part 4, split, merge, versions, lineage) signed in as a
# land officer of the sample's communes, so generated bodies, tags and headers reach the
# handlers' checks and the cadastral rules instead of the 401 of the first pass.
# The token must be taken (a write without If-Match is 428, not 401), or this pass would
# repeat the first one.
code="$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $officer" \
  "$url/collections/parcels/items/1")"
if [[ "$code" != 428 ]]; then
  echo "the land officer's token is refused ($code): the second pass would test nothing" >&2
  exit 1
fi
echo "==> schemathesis, writes as a land officer ($examples examples per operation)"
"$venv/bin/schemathesis" run "$url/api" --url "$url" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$examples" --workers 1 --seed 2025 --no-color \
  --phases examples,coverage,fuzzing \
  --suppress-health-check all --generation-database none \
  --request-timeout 30 --include-tag Edit -H "Authorization: Bearer $officer" \
  "${filter[@]}" || status=$?
if ((status)); then
  echo "--- bando log (last 40 lines) ---" >&2
  tail -n 40 "$work/stderr" >&2
fi
exit $status
