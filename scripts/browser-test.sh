#!/usr/bin/env bash
# Browser tests of the admin console (/dashboard): tests/browser/, run by node's own test
# runner, drive Debian's Chromium (/usr/bin/chromium) through playwright-core against the
# API at $API_URL (the base URL of a running `cargo lambda watch`, as scripts/test.sh
# starts it; e.g. API_URL=http://127.0.0.1:9000 after `make run`). Without API_URL, a
# throw-away stack of its own (MongoDB-compatible server + cargo lambda watch) is started
# and stopped.
#
# The tests log in several times. The API throttles failed logins per client IP (50 in
# 15 minutes), and locally every client is 127.0.0.1: after steps that fail many logins
# (the end-to-end tests, the fuzzer), run these against a fresh stack or before them.
#
# Installs what is missing: Chromium with apt (apt-get update only when the install
# cannot go ahead without it), and tests/browser/node_modules with `npm ci` (exact
# versions of package-lock.json; playwright-core downloads no browser).
#
# Prints node's TAP report, then a last line `N passed, M failed`; exits non-zero when
# any test failed or the runner itself failed. Screenshots: tests/browser/screenshots/.
#
# Usage: [API_URL=http://127.0.0.1:9000] scripts/browser-test.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# apt-get as root, or through sudo.
apt_get() {
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
  fi
}

# Installs Debian packages; refreshes the package lists first only when there are none,
# or when the install fails with the lists at hand (stale lists name removed versions).
apt_install() {
  if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    log "apt-get update (no package lists yet)"
    apt_get update -qq
  fi
  log "apt-get install $*"
  if ! apt_get install -y -qq --no-install-recommends "$@"; then
    log "apt-get update, then install again"
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends "$@"
  fi
}

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  # Fonts for the screenshots' text; Chromium itself recommends but does not need them.
  apt_install chromium fonts-liberation fonts-dejavu-core
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  log "npm ci (tests/browser)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -z "${API_URL:-}" ]; then
  bootstrap
  RUN_DIR="$(mktemp -d "$LOCAL/browser.XXXXXX")"
  trap 'stop_stack; rm -rf "$RUN_DIR"' EXIT
  log "building the functions"
  cargo build -p functions -p devtools --bins --quiet
  start_stack "$RUN_DIR"
fi

log "browser tests against $API_URL (node $(node --version), $("$CHROMIUM" --version 2>/dev/null | head -n 1))"
report="$(mktemp)"
set +e
node --test --test-reporter=tap tests/browser/ 2>&1 | tee "$report"
rc=${PIPESTATUS[0]}
set -e

count() { sed -n "s/^# $1 \([0-9][0-9]*\)\$/\1/p" "$report" | tail -n 1; }
passed="$(count pass)"
failed="$(count fail)"
cancelled="$(count cancelled)"
passed="${passed:-0}"
failed=$(( ${failed:-0} + ${cancelled:-0} ))
# A runner that died before its summary (or failed outside any test) is a failure too.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
rm -f "$report"
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
