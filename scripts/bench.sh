#!/usr/bin/env bash
# make bench: the release build of every function under the local stack (one process
# per function, as one Lambda instance), then per-route figures from outside
# (scripts/bench: wrk req/s, p50, p99, CPU µs per request of the function process, peak
# RSS), cold starts (scripts/bench/cold.py), the levers (the same routes with one build choice undone at a time), and the
# in-process criterion benchmarks and the import's (cargo bench -p tenant). The route and lever tables
# are written into BENCHMARKS.md between their markers; the rest of that file is kept.
#
# Side by side: OTHER_URL=http://... OTHER_PID=<pid> make bench sends the same requests
# to another implementation of the same HTTP contract in the same run and counts its
# process's CPU the same way (it must be running already, on the same database server
# for a fair comparison; the v2 routes are skipped where it lacks them). The stack then
# runs as make run does, two processes per function (INSTANCES); BENCH_PROFILE=debug
# measures make run's own build instead of the release build.
#
# Knobs: BENCH_SECONDS (10), BENCH_CONNECTIONS (8), BENCH_ONLY (functions, comma-
# separated), LEVERS=0 skips the levers (their builds take ~10 minutes), BUILD_LEVERS=1
# adds the release profile's LTO and codegen-units choices (a build of the lever
# binaries each) and the debug build's dependency opt-level (a build of every function
# each), in target/bench-profile/, cold the first time (about an hour more on 2 cores;
# BUILD_LEVERS_COLD=1 times the cold builds again),
# KEEP_BENCH_DIR=1 keeps the run's folder under .local/. Needs wrk and zip (installed
# with apt-get when missing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap
for tool in wrk zip; do
  command -v $tool >/dev/null || { log "apt-get install $tool"; apt-get install -y -qq $tool >/dev/null || { apt-get update -qq && apt-get install -y -qq $tool >/dev/null; }; }
done

RUN_DIR="$(mktemp -d "$LOCAL/bench.XXXXXX")"
trap 'stop_stack; [ -n "${KEEP_BENCH_DIR:-}" ] || rm -rf "$RUN_DIR"' EXIT
SECONDS_EACH="${BENCH_SECONDS:-10}"
CLIENTS="${BENCH_CONNECTIONS:-8}"
LEVER_BINS=(org_get items_get items_create)
STACK_ENV=(--env BCRYPT_COST=12 --env RUST_LOG=info)

# bench_run LABEL BIN_DIR [stack.py arguments...]: the lever routes against one variant.
bench_run() {
  local label=$1 bin_dir=$2; shift 2
  local dir="$RUN_DIR/${label//[^a-z0-9]/_}"
  start_stack "$dir" --bin-dir "$bin_dir" "${STACK_ENV[@]}" "$@"
  python3 scripts/bench --url "$API_URL" --pids "$dir/pids" --seconds "$SECONDS_EACH" \
    --connections "$CLIENTS" --only "$(IFS=,; echo "${LEVER_BINS[*]}")" \
    --label "$label" --json "$dir.json" "${EXTRAS[@]/#/--extra=}" >/dev/null
  stop_stack
  LEVER_RUNS+=("$dir.json")
}

# variant NAME CARGO_ARGS...: the lever binaries built with CARGO_ARGS, beside the
# shipped build's other binaries, in $RUN_DIR/bin-NAME.
variant() {
  local name=$1; shift
  log "cargo build --release $* (${LEVER_BINS[*]})"
  cargo build --release -p functions --quiet "$@" "${LEVER_BINS[@]/#/--bin=}"
  bin_dir "$RUN_DIR/bin-$name" target/release
}

# bin_dir DIR FROM: the lever binaries of FROM, the shipped build's others (links).
bin_dir() {
  local dir=$1 from=$2 bin
  mkdir -p "$dir"
  for bin in functions/src/bin/*.rs; do
    bin=$(basename "$bin" .rs)
    ln -s "$ROOT/target/release/$bin" "$dir/$bin"
  done
  for bin in "${LEVER_BINS[@]}"; do rm -f "$dir/$bin"; cp "$from/$bin" "$dir/$bin"; done
}

# profile_variant NAME LTO CODEGEN_UNITS: the lever binaries built with that release
# profile in a target directory of its own (target/bench-profile/NAME). The first time
# (or with BUILD_LEVERS_COLD=1) from nothing, timed: the cold build, kept in that
# directory's cold-build-s; later runs bring it up to date with the code. Then the time
# of a rebuild after a change to the tenant crate (what every deploy of a code change
# pays) and org_get's size; all go into NAME.extras for its row of the lever table.
profile_variant() {
  local name=$1 lto=$2 cgu=$3 target="$ROOT/target/bench-profile/$1" start relink
  export CARGO_PROFILE_RELEASE_LTO=$lto CARGO_PROFILE_RELEASE_CODEGEN_UNITS=$cgu
  if [ "${BUILD_LEVERS_COLD:-0}" = 1 ] || [ ! -s "$target/cold-build-s" ]; then
    rm -rf "$target"
    log "cold release build, lto=$lto codegen-units=$cgu (${LEVER_BINS[*]})"
    start=$(date +%s)
    cargo build --release -p functions --quiet --target-dir "$target" "${LEVER_BINS[@]/#/--bin=}"
    echo $(( $(date +%s) - start )) > "$target/cold-build-s"
  else
    log "release build, lto=$lto codegen-units=$cgu (${LEVER_BINS[*]}); cold build timed before"
    cargo build --release -p functions --quiet --target-dir "$target" "${LEVER_BINS[@]/#/--bin=}"
  fi
  touch shared/src/lib.rs
  start=$(date +%s)
  cargo build --release -p functions --quiet --target-dir "$target" "${LEVER_BINS[@]/#/--bin=}"
  relink=$(( $(date +%s) - start ))
  unset CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS
  bin_dir "$RUN_DIR/bin-$name" "$target/release"
  (cd "$target/release" && zip -q -9 "$RUN_DIR/$name.zip" org_get)
  printf '%s\n' "cold build s=$(cat "$target/cold-build-s")" \
    "rebuild after a tenant change s=$relink" \
    "org_get MiB=$(mib "$target/release/org_get")" \
    "org_get zip MiB=$(mib "$RUN_DIR/$name.zip")" > "$RUN_DIR/$name.extras"
}

mib() { python3 -c "import os,sys; print(round(os.path.getsize(sys.argv[1]) / 2**20, 2))" "$1"; }

# dev_variant OPT_LEVEL: the debug build of every function (make run's build) with the
# dependencies at that opt-level, in a target directory of its own; its cold build is
# timed as profile_variant's is, and goes into dev-OPT_LEVEL.extras.
dev_variant() {
  local level=$1 target="$ROOT/target/bench-profile/dev-$1" start
  local build=(cargo build -p functions --bins --quiet --target-dir "$target"
    --config "profile.dev.package.\"*\".opt-level=$level")
  if [ "${BUILD_LEVERS_COLD:-0}" = 1 ] || [ ! -s "$target/cold-build-s" ]; then
    rm -rf "$target"
    log "cold debug build, dependencies at opt-level $level"
    start=$(date +%s)
    "${build[@]}"
    echo $(( $(date +%s) - start )) > "$target/cold-build-s"
  else
    "${build[@]}"
  fi
  echo "cold build s=$(cat "$target/cold-build-s")" > "$RUN_DIR/dev-$level.extras"
}

LEVER_RUNS=()
EXTRAS=()
PROFILES=("fat 1:fat:1" "thin 1:thin:1" "thin 16:thin:16" "off 16:false:16")
if [ "${BUILD_LEVERS:-0}" = 1 ]; then
  for p in "${PROFILES[@]}"; do
    IFS=: read -r name lto cgu <<<"$p"
    profile_variant "${name// /-}" "$lto" "$cgu"
  done
  for level in 0 1; do dev_variant $level; done
fi
if [ "${LEVERS:-1}" != 0 ]; then
  variant before --no-default-features --features multi-thread
  variant glibc --no-default-features
  variant multi --features multi-thread
  log "cargo build -p functions (the debug build of make run)"
  cargo build -p functions -p devtools --bins --quiet
fi
log "cargo build --release -p functions"
cargo build --release -p functions -p devtools --bins --quiet

# Side by side (OTHER_URL), the stack runs as `make run` runs it: two processes per
# function (INSTANCES), the release build unless BENCH_PROFILE=debug (make run's build).
other=() side=()
if [ -n "${OTHER_URL:-}" ]; then
  other=(--other-url "$OTHER_URL" --other-pid "${OTHER_PID:?set OTHER_PID too}")
  side=(--instances "${INSTANCES:-2}")
fi
start_stack "$RUN_DIR/stack" --profile "${BENCH_PROFILE:-release}" "${side[@]}" "${STACK_ENV[@]}"
python3 scripts/bench --url "$API_URL" --pids "$RUN_DIR/stack/pids" "${other[@]}" \
  --seconds "$SECONDS_EACH" --connections "$CLIENTS" \
  ${BENCH_ONLY:+--only "$BENCH_ONLY"} --json "$RUN_DIR/routes.json" --write BENCHMARKS.md
log "cold starts"
python3 scripts/bench --cold target/release --write BENCHMARKS.md
stop_stack

# Webhooks as `make run` delivers them: its debug build, two processes per function,
# APP_ENV=local (a receiver on this machine), the dispatcher on the stack's schedule.
log "webhooks: change-to-receipt latency, deliveries per second"
start_stack "$RUN_DIR/webhooks" --profile debug --instances 2 --env APP_ENV=local
python3 scripts/bench --webhooks --url "$API_URL" --write BENCHMARKS.md
stop_stack

if [ "${LEVERS:-1}" != 0 ]; then
  bench_run "before: multi-thread runtime, glibc malloc" "$RUN_DIR/bin-before"
  bench_run "current-thread runtime, glibc malloc" "$RUN_DIR/bin-glibc"
  bench_run "multi-thread runtime, mimalloc" "$RUN_DIR/bin-multi"
  bench_run "shipped: current-thread, mimalloc" "$ROOT/target/release"
  bench_run "shipped, RUST_LOG=warn (no request log line)" "$ROOT/target/release" --env RUST_LOG=warn
  bench_run "shipped, MONGODB_MAX_POOL_SIZE=1 (default 2)" "$ROOT/target/release" --env MONGODB_MAX_POOL_SIZE=1
  bench_run "debug build, 1 instance (make run's build)" "$ROOT/target/debug"
  bench_run "debug build, 2 instances (make run)" "$ROOT/target/debug" --instances 2
fi
if [ "${BUILD_LEVERS:-0}" = 1 ]; then
  for p in "${PROFILES[@]}"; do
    IFS=: read -r name lto cgu <<<"$p"
    mapfile -t EXTRAS < "$RUN_DIR/${name// /-}.extras"
    bench_run "release profile lto=$lto codegen-units=$cgu" "$RUN_DIR/bin-${name// /-}"
  done
  for level in 0 1; do
    mapfile -t EXTRAS < "$RUN_DIR/dev-$level.extras"
    bench_run "debug build, dependencies at opt-level $level" "$ROOT/target/bench-profile/dev-$level/debug"
  done
  EXTRAS=()
fi
if [ ${#LEVER_RUNS[@]} -gt 0 ]; then
  python3 scripts/bench --levers "${LEVER_RUNS[@]}" --write BENCHMARKS.md
fi

log "cargo bench -p tenant (in-process)"
cargo bench -p tenant --bench handlers --quiet 2>/dev/null | grep -E '^[a-z].*time:|^[a-z_/]+ *$' || true
log "cargo bench -p tenant --bench import (1,000 Croupier organizations of 100 documents)"
cargo bench -p tenant --bench import --quiet 2>/dev/null | grep '^import/' || true
