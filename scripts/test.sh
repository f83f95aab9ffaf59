#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust unit and handler tests, the
# end-to-end tests over HTTP against the functions under `cargo lambda watch`, and the
# project checks (routes, events, template). Starts a throw-away MongoDB-compatible
# server when MONGODB_URI is unset. Exit status: non-zero if anything failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap

RUN_DIR="$(mktemp -d "$LOCAL/test.XXXXXX")"
MONGO_PID="" WATCH_PID=""
cleanup() {
  stop_pid "$WATCH_PID"
  stop_pid "$MONGO_PID"
  [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$RUN_DIR"
}
trap cleanup EXIT

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

if [ -z "${MONGODB_URI:-}" ]; then
  MONGO_PORT="$(free_port)"
  start_mongo "$RUN_DIR/mongo.db" "$MONGO_PORT"
  export MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
fi

log "building"
cargo build --workspace --all-targets --quiet

SUFFIX="$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
export TEST_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
API_PORT="$(free_port)"
export TENANT_DB="e2e_tenants_$SUFFIX"
ENV_FILE="$RUN_DIR/api.env"
write_env "$ENV_FILE" "MONGODB_URI=$MONGODB_URI" "JWT_SECRET=$TEST_JWT_SECRET" \
  "MASTER_DB=e2e_master_$SUFFIX" "TENANT_DB=$TENANT_DB" "BCRYPT_COST=4" "RUST_LOG=info"
export API_LOG="$RUN_DIR/watch.log"
log "starting cargo lambda watch on 127.0.0.1:$API_PORT"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$API_PORT" --env-file "$ENV_FILE" \
  --concurrency 8 --ignore-changes >"$API_LOG" 2>&1 &
WATCH_PID=$!
wait_http "http://127.0.0.1:$API_PORT/health" 300 "$WATCH_PID" || { tail -n 40 "$API_LOG" >&2; exit 1; }
export API_URL="http://127.0.0.1:$API_PORT"

status=0
OUT="$RUN_DIR/results.log"
: > "$OUT"
step() {
  log "$1"; shift
  "$@" 2>&1 | tee -a "$OUT" || status=1
}
step "template lint (sam validate --lint, cfn-lint)" scripts/lint-template.sh
step "routes: template.yaml = Cargo.toml router = openapi.json" python3 scripts/check_routes.py
step "every event in events/ through cargo lambda invoke" \
  python3 scripts/check_events.py --port "$API_PORT" --invoke-address 127.0.0.1
step "cargo test (unit, handler and end-to-end tests)" cargo test --workspace --all-targets
[ $status -eq 0 ] || tail -n 30 "$API_LOG" >&2

# One closing line over every runner above: cargo's "test result" lines and the
# checks' "N passed, M failed" lines.
python3 - "$OUT" <<'PY'
import re, sys
passed = failed = 0
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"(\d+) passed[;,] (\d+) failed", line)
    if m:
        passed += int(m.group(1)); failed += int(m.group(2))
print(f"total: {passed} passed, {failed} failed")
PY
exit $status
