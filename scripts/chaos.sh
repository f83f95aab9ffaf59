#!/usr/bin/env bash
# make chaos: scripts/chaos.py on a stack of its own (2 processes per function, its own
# local server, which it kills and starts again). CHAOS_SECONDS (60), CHAOS_CLIENTS (8),
# CHAOS_SEED (random) set the run; with CHAOS_WRITE=1 (make chaos) the figures go into
# BENCHMARKS.md's Reliability section. Prints "N passed, M failed" over the invariants.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap
cargo build -p functions -p devtools --bins --quiet
DIR="$(mktemp -d "$LOCAL/chaos.XXXXXX")"
trap '[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$DIR"' EXIT
write=()
[ -z "${CHAOS_WRITE:-}" ] || write=(--write "$ROOT/BENCHMARKS.md")
# The local server always: the run kills it. (MONGODB_URI is not for this one.)
env -u MONGODB_URI "$VENV/bin/python" scripts/chaos.py --dir "$DIR" --json "$DIR/counts.json" \
  "${write[@]}" || { status=$?; echo "chaos: the run's logs: $DIR (kept)"; trap - EXIT; exit $status; }
