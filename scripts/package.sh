#!/usr/bin/env bash
# Builds every Lambda binary for AWS Lambda (arm64, release profile) and zips each one
# as the `bootstrap` the provided.al2023 runtime runs, then prints each function's
# bootstrap and zip sizes.
#
# The cross-build uses cargo-lambda with Zig as the linker (both from PyPI, installed
# into .local/venv when missing) and the Rust target aarch64-unknown-linux-gnu (added
# with rustup when missing). It builds the package `functions` (-p functions), not the
# workspace: a workspace build includes tests/support, which turns on the tenant crate's
# `test-hooks` feature, and release artifacts must not carry it. Output:
# target/lambda/<function>/bootstrap.zip, the same layout `cargo lambda deploy` and SAM
# expect. The release profile (lto, one codegen unit) makes a cold build slow: tens of
# minutes on 2 cores.
#
# Usage: scripts/package.sh            (make package)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

LAMBDA_DIR="$ROOT/target/lambda"

cross_bootstrap

# Every binary of the `functions` package (one per function), listed before the build so
# that the table below checks each one has its zip.
mapfile -t BINS < <(cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
meta = json.load(sys.stdin)
for p in meta["packages"]:
    if p["name"] != "functions":
        continue
    for t in p["targets"]:
        if "bin" in t["kind"]:
            print(t["name"])
')
[ ${#BINS[@]} -gt 0 ] || { echo "cargo metadata lists no binary" >&2; exit 1; }
log "cargo lambda build --release --arm64 -p functions --bins --output-format zip"
started=$SECONDS
cargo lambda build --release --arm64 -p functions --bins --output-format zip --lambda-dir "$LAMBDA_DIR"
log "built in $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s"

# The table: the bootstrap as stored in each zip (its uncompressed size) and the zip.
python3 - "$LAMBDA_DIR" "${BINS[@]}" <<'PY'
import os, stat, sys, zipfile

lambda_dir, bins = sys.argv[1], sorted(sys.argv[2:])
rows, missing = [], []
for name in bins:
    path = os.path.join(lambda_dir, name, "bootstrap.zip")
    if not os.path.exists(path):
        missing.append(name)
        continue
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("bootstrap")
        executable = (info.external_attr >> 16) & stat.S_IXUSR
    rows.append((name, info.file_size, os.path.getsize(path), bool(executable)))

def mib(n):
    return f"{n / 1024 / 1024:.2f} MiB"

print(f"{'function':<14} {'bootstrap':>11} {'zip':>11}  exec")
for name, raw, zipped, executable in rows:
    print(f"{name:<14} {mib(raw):>11} {mib(zipped):>11}  {'yes' if executable else 'NO'}")
if rows:
    print(f"{'total':<14} {mib(sum(r[1] for r in rows)):>11} {mib(sum(r[2] for r in rows)):>11}")
print(f"zips in {os.path.relpath(lambda_dir)}/<function>/bootstrap.zip")
bad = [r[0] for r in rows if not r[3]]
if missing or bad:
    print(f"missing zips: {missing}; bootstrap not executable: {bad}", file=sys.stderr)
    sys.exit(1)
PY
