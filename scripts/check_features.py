"""The functions' local build shares the test build's dependencies: every crate both
builds use has the same features in both (`cargo tree`). When one differs, `make test`
compiles that crate and everything above it twice (minutes on 2 cores); the fix is
the feature named in tools/Cargo.toml's [dependencies].

    python3 scripts/check_features.py
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

# The test build of scripts/test.sh (dev-dependencies included) and the functions'
# build of scripts/test.sh, scripts/run.sh and scripts/chaos.sh.
TESTS = ["--workspace", "--exclude", "functions", "--exclude", "devtools", "-e", "normal,build,dev"]
FUNCTIONS = ["-p", "functions", "-p", "devtools", "-e", "normal,build"]


def features(selection: list[str]) -> dict[str, set[str]]:
    """Each external crate of the selection ("name version") and its feature sets."""
    out = subprocess.run(
        ["cargo", "tree", *selection, "--prefix", "none", "-f", "{p}|{f}"],
        check=True, capture_output=True, text=True).stdout
    found: dict[str, set[str]] = defaultdict(set)
    for line in out.splitlines():
        package, _, feats = line.replace(" (*)", "").partition("|")
        if "(/" in package:  # a workspace member
            continue
        found[package.replace(" (proc-macro)", "").strip()].add(feats.strip())
    return found


def main() -> int:
    tests, functions = features(TESTS), features(FUNCTIONS)
    shared = sorted(set(tests) & set(functions))
    differ = [p for p in shared if tests[p] != functions[p]]
    for package in differ:
        print(f"features: {package}: tests {sorted(tests[package])}, "
              f"functions {sorted(functions[package])}")
    print(f"features: {len(shared) - len(differ)} of {len(shared)} shared crates alike")
    print(f"{0 if differ else 1} passed, {1 if differ else 0} failed")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
