#!/usr/bin/env bash
# make bench: the release build of every function under the local stack (one process
# per function, as one Lambda instance), then per-route figures from outside
# (scripts/bench: wrk req/s, p50, p99, CPU µs per request of the function process, peak
# RSS) and the in-process criterion benchmarks (cargo bench -p tenant); the route table
# is written into BENCHMARKS.md between its markers, the rest of that file is kept.
#
# Side by side: OTHER_URL=http://... OTHER_PID=<pid> make bench sends the same requests
# to another implementation of the same HTTP contract in the same run and counts its
# process's CPU the same way (it must be running already, on the same database server
# for a fair comparison).
#
# Knobs: BENCH_SECONDS (10), BENCH_CONNECTIONS (8), BENCH_ONLY (functions, comma-
# separated), KEEP_BENCH_DIR=1 keeps the run's folder under .local/. Needs wrk
# (installed with apt-get when missing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap
command -v wrk >/dev/null || { log "apt-get install wrk"; apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }

RUN_DIR="$(mktemp -d "$LOCAL/bench.XXXXXX")"
trap 'stop_stack; [ -n "${KEEP_BENCH_DIR:-}" ] || rm -rf "$RUN_DIR"' EXIT

log "cargo build --release -p functions"
cargo build --release -p functions --bins --quiet
start_stack "$RUN_DIR/stack" --profile release --env BCRYPT_COST=12 --env RUST_LOG=warn
other=()
[ -z "${OTHER_URL:-}" ] || other=(--other-url "$OTHER_URL" --other-pid "${OTHER_PID:?set OTHER_PID too}")
python3 scripts/bench --url "$API_URL" --pids "$RUN_DIR/stack/pids" "${other[@]}" \
  --seconds "${BENCH_SECONDS:-10}" --connections "${BENCH_CONNECTIONS:-8}" \
  ${BENCH_ONLY:+--only "$BENCH_ONLY"} --json "$RUN_DIR/routes.json" --write BENCHMARKS.md
log "cargo bench -p tenant (in-process)"
cargo bench -p tenant --quiet 2>/dev/null | grep -E '^[a-z].*time:|^[a-z_/]+ *$' || true
