#!/usr/bin/env bash
# make scale: the cost of each route against the size of the data. Seeds each size
# into local servers of its own (release build of shared/benches/scale.rs), measures
# every route in process, then draws docs/scale/*.png and writes the table into
# BENCHMARKS.md (scripts/scale.py). Takes about 10 minutes: a million items and a
# million audit events are seeded.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap
"$VENV/bin/python" -c 'import matplotlib' 2>/dev/null || {
  log "installing matplotlib==$MATPLOTLIB_VERSION into .local/venv"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "matplotlib==$MATPLOTLIB_VERSION"
}
DIR="$(mktemp -d "$LOCAL/scale.XXXXXX")"
trap 'rm -rf "$DIR"' EXIT
# Each dimension runs on a server the benchmark starts itself (MONGODB_URI is only the
# test settings' default, which it overrides).
MONGODB_URI="mongodb://127.0.0.1:1/" SCALE_OUT="$DIR/scale.json" \
  cargo bench -p tenant --bench scale -- --bench
"$VENV/bin/python" scripts/scale.py "$DIR/scale.json" --docs docs/scale --write BENCHMARKS.md
