#!/usr/bin/env bash
# Fuzzes the running API with schemathesis against its own /openapi.json: fails on
# any 5xx and on any response that breaks the schema (status, content type, body).
# Uses API_URL when set, else starts a throw-away stack. Budget: FUZZ_EXAMPLES cases
# per operation (default 50) and FUZZ_SECONDS in all (default 600).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap
[ -x "$VENV/bin/st" ] || { log "installing schemathesis into .local/venv"; "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"; }

if [ -z "${API_URL:-}" ]; then
  RUN_DIR="$(mktemp -d "$LOCAL/fuzz.XXXXXX")"
  trap 'stop_stack; rm -rf "$RUN_DIR"' EXIT
  cargo build -p functions -p devtools --bins --quiet
  start_stack "$RUN_DIR" --instances 2
fi

# A tenant of the fuzzer's own, so that authenticated routes get past the token check.
name="fuzz$(python3 -c 'import secrets; print(secrets.token_hex(5))')"
post() { curl -s -X POST "$API_URL$1" -H 'content-type: application/json' -d "$2"; }
post /org/create "{\"organization_name\":\"$name\",\"email\":\"$name@example.com\",\"password\":\"Passw0rd1\"}" >/dev/null
token="$(post /admin/login "{\"email\":\"$name@example.com\",\"password\":\"Passw0rd1\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

report="$(mktemp -d)"
set +e
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$ROOT/scripts" "$VENV/bin/st" run "$API_URL/openapi.json" \
  --url "$API_URL" -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path /org/delete --exclude-path /admin/logout \
  --phases "${FUZZ_PHASES:-examples,coverage,fuzzing,stateful}" --max-examples "${FUZZ_EXAMPLES:-50}" --max-time "${FUZZ_SECONDS:-600}" \
  --workers 1 --request-timeout 30 --generation-database none --no-color --report junit --report-dir "$report" \
  > "$report/output.txt" 2>&1
code=$?
set -e
if [ "$code" -eq 0 ]; then tail -n 25 "$report/output.txt"; else cat "$report/output.txt"; fi
# Summary line from the JUnit report: every operation is one test case.
verdict=0
python3 scripts/junit_summary.py "$report" "$code" || verdict=$?
rm -rf "$report"
exit "$verdict"
