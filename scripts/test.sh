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
ENV_FILE="$RUN_DIR/api.env"
cat > "$ENV_FILE" <<VARS
MONGODB_URI=$MONGODB_URI
JWT_SECRET=$TEST_JWT_SECRET
MASTER_DB=e2e_master_$SUFFIX
TENANT_DB=e2e_tenants_$SUFFIX
BCRYPT_COST=4
RUST_LOG=info
VARS
export API_LOG="$RUN_DIR/watch.log"
log "starting cargo lambda watch on 127.0.0.1:$API_PORT"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$API_PORT" --env-file "$ENV_FILE" \
  --concurrency 8 --ignore-changes >"$API_LOG" 2>&1 &
WATCH_PID=$!
wait_http "http://127.0.0.1:$API_PORT/health" 300
export API_URL="http://127.0.0.1:$API_PORT"

status=0
log "cargo test"
cargo test --workspace --quiet || status=1
for check in scripts/check-*.sh; do
  [ -e "$check" ] || continue
  log "$check"
  "$check" || status=1
done
exit $status
