#!/usr/bin/env bash
# Runs the whole API locally on the deployed paths at http://127.0.0.1:${PORT:-9000}:
# installs what is missing into .local/, builds the functions, then starts the local
# MongoDB-compatible server (unless MONGODB_URI is set; data kept in .local/data),
# `cargo lambda watch` and ${INSTANCES:-2} processes per function (scripts/stack.py says
# why the processes are started there). Ctrl-C, or closing the terminal, stops
# everything; nothing outlives the stack, even when it is killed. Rebuilds happen at the
# next start. RUN_DIR (.local/run) and DATA_DIR (.local/data) place its logs and data.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap

# PROFILE=release runs the release build (a long first build; 1.6-1.9x the Python
# service's throughput here, against 1.2-1.5x for the debug build: BENCHMARKS.md).
PROFILE="${PROFILE:-debug}"
log "building the functions ($PROFILE)"
if [ "$PROFILE" = debug ]; then
  cargo build -p functions -p devtools --bins
else
  cargo build --profile "$PROFILE" -p functions -p devtools --bins
fi
# A development JWT secret, generated once and kept in .local/ (APP_ENV=local).
if [ -z "${JWT_SECRET:-}" ]; then
  [ -s "$LOCAL/jwt-secret" ] || ( umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$LOCAL/jwt-secret" )
  JWT_SECRET="$(cat "$LOCAL/jwt-secret")"
fi
# The operator API's token (APP_ENV=local only; on AWS the operator routes use IAM),
# generated once: curl -H "Authorization: Bearer $(cat .local/operator-token)" ...
[ -s "$LOCAL/operator-token" ] || ( umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$LOCAL/operator-token" )
( umask 077; printf 'JWT_SECRET=%s\n' "$JWT_SECRET" > "$LOCAL/run.env"
  [ "${APP_ENV:-local}" != local ] || printf 'OPERATOR_TOKEN=%s\n' "$(cat "$LOCAL/operator-token")" >> "$LOCAL/run.env" )
log "API on http://127.0.0.1:${PORT:-9000} (Ctrl-C stops it)"
exec python3 scripts/stack.py --dir "${RUN_DIR:-$LOCAL/run}" --port "${PORT:-9000}" --instances "${INSTANCES:-2}" --profile "$PROFILE" \
  --mongo-db "${DATA_DIR:-$LOCAL/data}/mongo.db" --mongo-port "${MONGO_PORT:-27018}" --mail-dir "$LOCAL/mail" \
  --env "APP_ENV=${APP_ENV:-local}" --env-file "$LOCAL/run.env" \
  --env "MASTER_DB=${MASTER_DB:-org_master}" --env "TENANT_DB=${TENANT_DB:-org_tenants}" \
  --env "BCRYPT_COST=${BCRYPT_COST:-12}" --env "RUST_LOG=${RUST_LOG:-info}"
