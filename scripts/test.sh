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
trap 'stop_stack; [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$RUN_DIR"' EXIT

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "building"
cargo build --workspace --all-targets --quiet
start_stack "$RUN_DIR"

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
# Start the static functions' instances one request at a time before the browser asks
# for several at once (the emulator has answered 500 itself while starting instances).
for path in /dashboard /dashboard/app.js /dashboard/app.css /docs /redoc /openapi.json; do
  curl -s -o /dev/null -m 30 "$API_URL$path" || true
done
step "browser tests of the console (headless Chromium)" scripts/browser-test.sh
step "cargo test (unit, handler and end-to-end tests)" cargo test --workspace --all-targets
step "Secrets Manager through aws-config, against moto" scripts/secrets-test.sh
step "workflow lint (actionlint)" scripts/lint-workflows.sh
step "schemathesis against /openapi.json (small budget; make fuzz for more)" \
  env FUZZ_PHASES="${FUZZ_PHASES:-examples,coverage,fuzzing}" FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-8}" FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh
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
