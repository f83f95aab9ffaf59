#!/usr/bin/env bash
# Runs the AWS tests of the tenant crate against a throw-away moto server on loopback:
# Secrets Manager (shared/tests/secrets.rs) and SES (shared/tests/ses.rs), the same
# aws-config + AWS SDK code paths as in Lambda, with no AWS account (the SES test keeps
# the service's data on a local MongoDB-compatible server of its own). Installs
# moto[server] into .local/venv when missing. Passes cargo's output through (its
# `test result:` lines) and exits non-zero when a test fails.
#
# Usage: scripts/aws-test.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
if [ ! -x "$VENV/bin/moto_server" ]; then
  log "installing moto[server]==$MOTO_VERSION into .local/venv"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

MOTO_PID=""
MOTO_LOG="$(mktemp "$LOCAL/moto.XXXXXX.log")"
cleanup() {
  stop_pid "$MOTO_PID"
  rm -f "$MOTO_LOG"
}
trap cleanup EXIT

# Build first, so that the server is not left waiting through a compile.
cargo test -p tenant --test secrets --test ses --no-run --quiet

PORT="$(free_port)"
log "starting moto_server on 127.0.0.1:$PORT"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$MOTO_LOG" 2>&1 &
MOTO_PID=$!
# moto answers GET /moto-api/ once it serves requests.
if ! wait_http "http://127.0.0.1:$PORT/moto-api/" 60 "$MOTO_PID"; then
  tail -n 20 "$MOTO_LOG" >&2
  exit 1
fi

# The test process sets its own AWS_* variables (endpoint, dummy keys, region); none of
# the caller's AWS settings may leak in and point it at a real account.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
status=0
for test in secrets ses; do
  MOTO_URL="http://127.0.0.1:$PORT" cargo test -p tenant --test "$test" -- --include-ignored || status=1
done
exit $status
