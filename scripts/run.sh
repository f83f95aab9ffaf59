#!/usr/bin/env bash
# Runs the whole API locally on the deployed paths at http://127.0.0.1:${PORT:-9000}:
# installs what is missing into .local/, starts the local MongoDB-compatible server
# (unless MONGODB_URI is set), then `cargo lambda watch`. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap

PORT="${PORT:-9000}"
MONGO_PID=""
trap 'stop_pid "$MONGO_PID"' EXIT
if [ -z "${MONGODB_URI:-}" ]; then
  MONGO_PORT="${MONGO_PORT:-27018}"
  start_mongo "$LOCAL/data/mongo.db" "$MONGO_PORT"
  export MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
fi

# A development JWT secret, generated once and kept in .local/ (APP_ENV=local).
if [ -z "${JWT_SECRET:-}" ]; then
  [ -s "$LOCAL/jwt-secret" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$LOCAL/jwt-secret"
  JWT_SECRET="$(cat "$LOCAL/jwt-secret")"
fi
ENV_FILE="$LOCAL/run.env"
write_env "$ENV_FILE" "APP_ENV=${APP_ENV:-local}" "MONGODB_URI=$MONGODB_URI" "JWT_SECRET=$JWT_SECRET" \
  "MASTER_DB=${MASTER_DB:-org_master}" "TENANT_DB=${TENANT_DB:-org_tenants}" \
  "BCRYPT_COST=${BCRYPT_COST:-12}" "RUST_LOG=${RUST_LOG:-info}"
log "API on http://127.0.0.1:$PORT (Ctrl-C stops it)"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" --env-file "$ENV_FILE" "$@"
