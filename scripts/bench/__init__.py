"""`make bench`: figures of the running API, per route, from outside the functions.

Run as `python3 scripts/bench` against a stack started by scripts/bench.sh (release
build, one process per function), optionally side by side with another implementation
of the same HTTP contract (`--other-url URL --other-pid PID`).
"""
