#!/usr/bin/env bash
# The deployment build, ready for `sam deploy`: works on a fresh machine the first time.
#
# 1. Installs what is missing (scripts/lib.sh cross_bootstrap): cargo-lambda, Zig and the
#    AWS SAM CLI into .local/venv, and the Rust target aarch64-unknown-linux-gnu, before
#    SAM starts (cargo-lambda would otherwise try to add it from every build at once).
# 2. `sam build`: for each function of template.yaml, one after another (samconfig.toml
#    `parallel = false`), `cargo lambda build --release --arm64 --bin <fn>` in the
#    workspace root, all over the workspace's one target/, so the crate graph compiles
#    once and each further function adds its own binary and link.
# 3. scripts/check_sam_build.py: every function's .aws-sam/build/<Function>/bootstrap
#    exists, was written by this run, is an aarch64 ELF executable, is the binary cargo
#    built in target/lambda/ and holds no test hook.
#
# Extra arguments go to `sam build` (e.g. --config-env prod). Then:
# `sam deploy --config-env dev` with .local/venv/bin on PATH.
#
# Usage: scripts/sam-build.sh [sam build options]      (make sam-build)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

cross_bootstrap sam
export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"

started=$(date +%s)
log "sam build${*:+ $*} ($("$VENV/bin/sam" --version), cargo-lambda $CARGO_LAMBDA_VERSION)"
"$VENV/bin/sam" build "$@"
elapsed=$(( $(date +%s) - started ))
log "sam build took $((elapsed / 60))m$((elapsed % 60))s"

python3 scripts/check_sam_build.py --since "$started"
