#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust unit and handler tests, the
# end-to-end tests over HTTP against the functions under `cargo lambda watch`, the
# console's browser tests, the fuzzer, and the project checks (routes, events, template,
# workflow, Secrets Manager through moto). Each step that needs a server gets its own
# (scripts/stack.py), so no step sees another's data: the local MongoDB-compatible
# server shares collections across database names. With MONGODB_URI set, every step
# uses that server instead, with databases of its own.
# Exit status: non-zero if anything failed; the last line sums every runner's counts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap

RUN_DIR="$(mktemp -d "$LOCAL/test.XXXXXX")"
# (The checks running beside the build, below, are stopped too.)
trap 'kill $(jobs -p) 2>/dev/null || true; stop_stack; [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$RUN_DIR"' EXIT

# Each phase's wall time, so that a slow run says where its minutes went.
timed() {
  local start=$SECONDS
  "$@"
  local rc=$?
  log "($(( SECONDS - start )) s)"
  return $rc
}
log "cargo fmt --check"
cargo fmt --all --check
log "ruff check (the Python of scripts/ and tests/, ruff.toml)"
ruff check --quiet scripts tests
status=0
OUT="$RUN_DIR/results.log"
: > "$OUT"

# The checks that need no build run while the workspace compiles (the compile leaves a
# core idle at times, and their installs wait on the network): each one's output is
# kept and shown, in order, once the build is done. Then the tools of later steps are
# installed, so that those steps wait on no download.
BACKGROUND=(
  "template lint (sam validate --lint, cfn-lint)|scripts/lint-template.sh"
  "routes: template.yaml = Cargo.toml router = openapi.json|python3 scripts/check_routes.py"
  "features: the functions' build shares the test build's dependencies|python3 scripts/check_features.py"
  "workflow lint (actionlint)|scripts/lint-workflows.sh"
)
background_checks() {
  local i=0 entry start
  for entry in "${BACKGROUND[@]}"; do
    start=$SECONDS
    # shellcheck disable=SC2086 # the commands above are plain words
    ${entry#*|} > "$RUN_DIR/background.$i.log" 2>&1
    echo "$? $(( SECONDS - start ))" > "$RUN_DIR/background.$i.rc"
    i=$(( i + 1 ))
  done
  [ -x "$VENV/bin/moto_server" ] || "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  [ -x "$VENV/bin/st" ] || "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  [ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || true
}
background_checks > "$RUN_DIR/background.log" 2>&1 &
BACKGROUND_PID=$!

# Clippy before the build, not beside it: beside it (in a target directory of its own),
# the two took 764 s together on 2 cores against 200 + 377 s one after the other.
log "cargo clippy"
timed cargo clippy --workspace --all-targets --quiet -- -D warnings

# The tests with the tenant crate's test hooks (testkit turns them on), and the
# functions without them, as they are deployed. Each is linked once: the functions are
# left out of the test build (they have no tests of their own), so their 50 binaries
# are not linked again with the hooks, nor as 50 empty test harnesses; and every later
# cargo test (-p e2e, -p tenant) asks for the tenant crate with the same features as
# this build, so none of them compiles it again.
TEST_PACKAGES=(--workspace --exclude functions --exclude devtools)
log "building"
timed cargo build "${TEST_PACKAGES[@]}" --all-targets --quiet
timed cargo build -p functions -p devtools --bins --quiet

step() {
  log "$1"; shift
  local start=$SECONDS
  "$@" 2>&1 | tee -a "$OUT" || status=1
  log "($(( SECONDS - start )) s)"
}
# Runs a command against a stack of its own: with_stack NAME [stack.py options] -- CMD...
with_stack() {
  local name=$1; shift
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  ( start_stack "$RUN_DIR/$name" "${opts[@]}" && "$@"; rc=$?; stop_stack; exit $rc )
}

wait "$BACKGROUND_PID" || true
for i in "${!BACKGROUND[@]}"; do
  log "${BACKGROUND[$i]%%|*}"
  tee -a "$OUT" < "$RUN_DIR/background.$i.log"
  read -r rc took < "$RUN_DIR/background.$i.rc" || { rc=1; took=0; }
  [ "$rc" -eq 0 ] || status=1
  log "($took s, beside the build)"
done
step "every event in events/ through cargo lambda invoke" \
  with_stack events --env DISPATCH_SECONDS=2 -- sh -c 'python3 scripts/check_events.py --port "$API_PORT" --invoke-address 127.0.0.1'
step "browser tests of the console (headless Chromium)" with_stack browser -- scripts/browser-test.sh
step "unit and handler tests (cargo test)" \
  with_stack handlers --instances 0 -- cargo test "${TEST_PACKAGES[@]}" --exclude e2e --all-targets
step "end-to-end tests over HTTP (tests/tests/api.rs)" \
  with_stack e2e --instances 4 --env WRITE_LIMIT_PER_MINUTE=40 -- \
  env WRITE_LIMIT_PER_MINUTE=40 cargo test "${TEST_PACKAGES[@]}" --test api
step "chaos: a ${CHAOS_SECONDS:-60} s storm (processes killed, the database restarted), then the invariants" \
  scripts/chaos.sh
step "AWS through aws-config, against moto: Secrets Manager, SES" scripts/aws-test.sh
step "make run after its terminal is closed (SIGHUP), and after its stack is killed" scripts/run-test.sh
step "schemathesis against /openapi.json (small budget; make fuzz for more)" \
  with_stack fuzz -- env FUZZ_PHASES="${FUZZ_PHASES:-examples,coverage,fuzzing,stateful}" \
  FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-8}" FUZZ_SECONDS="${FUZZ_SECONDS:-90}" scripts/fuzz.sh

if [ $status -ne 0 ]; then
  log "errors and 500s in the API logs"
  api_errors "$RUN_DIR" >&2
fi

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
