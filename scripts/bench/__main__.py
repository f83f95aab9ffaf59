"""Per-route figures of the running API: requests per second, p50 and p99 latency under
a fixed number of clients (wrk), and the CPU each request costs in the function
process (utime + stime from /proc, divided by the requests served: the emulator's CPU
is not counted), with the function's peak memory. With `--other-url` and
`--other-pid`, the same requests go to another implementation of the same HTTP
contract in the same run, and its process's CPU is counted the same way.

Usage:
    python3 scripts/bench --url URL --pids FILE [--other-url URL --other-pid PID]
        [--seconds 10] [--connections 8] [--write BENCHMARKS.md] [--json OUT]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api, procs  # noqa: E402
from bench.load import wrk  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- bench:routes:begin -->", "<!-- bench:routes:end -->"


@dataclass
class Scenario:
    """One kind of request, sent by wrk for a few seconds."""

    function: str
    label: str
    method: str
    path: str
    body: str | None = None
    token: str | None = None
    unique: bool = False
    connections: int | None = None
    kind: str = "other"  # public read, authenticated read, write, bcrypt


def scenarios(base: str) -> list[Scenario]:
    """The requests, with what they need made first through the API at `base`."""
    a = api.tenant(base, "bench")
    lister = api.tenant(base, "list")
    for _ in range(20):
        api.item(base, lister)
    item = api.item(base, a)
    creds = json.dumps({"email": a.email, "password": api.PASSWORD})
    create = json.dumps({"organization_name": "%s", "email": "%s@bench.example.com",
                         "password": api.PASSWORD})
    return [
        Scenario("health", "GET /health", "GET", "/health", kind="public read"),
        Scenario("docs", "GET /openapi.json", "GET", "/openapi.json", kind="static"),
        Scenario("fallback", "GET /no/such/path (404)", "GET", "/no/such/path", kind="static"),
        Scenario("org_get", "GET /org/get", "GET", f"/org/get?organization_name={a.name}",
                 kind="public read"),
        Scenario("items_get", "GET /org/items/{id}", "GET", f"/org/items/{item}",
                 token=a.token, kind="authenticated read"),
        Scenario("items_list", "GET /org/items (a page of 20)", "GET", "/org/items",
                 token=lister.token, kind="authenticated read"),
        Scenario("items_create", "POST /org/items", "POST", "/org/items",
                 json.dumps(api.ITEM), a.token, kind="write"),
        Scenario("org_update", "PUT /org/update (email)", "PUT", "/org/update",
                 json.dumps({"email": a.email}), a.token, kind="write"),
        Scenario("admin_login", "POST /admin/login (bcrypt)", "POST", "/admin/login", creds,
                 connections=2, kind="bcrypt"),
        Scenario("org_create", "POST /org/create (bcrypt)", "POST", "/org/create", create,
                 unique=True, connections=2, kind="bcrypt"),
    ]


TARGET_US = {"public read": 100, "authenticated read": 150, "write": 200}


def measure(base: str, scenario: Scenario, pids: list[int], seconds: int,
            connections: int) -> dict:
    """Warms the route up, then one measured run; CPU of `pids` over that run."""
    conns = scenario.connections or connections
    url = base + scenario.path
    args = dict(method=scenario.method, body=scenario.body, token=scenario.token,
                unique=scenario.unique, connections=conns)
    wrk(url, seconds=1, **args)
    cpu_before = procs.total_cpu(pids) if pids else None
    run = wrk(url, seconds=seconds, **args)
    cpu_us = ((procs.total_cpu(pids) - cpu_before) * 1e6 / max(run.requests, 1)
              if pids else None)
    target = TARGET_US.get(scenario.kind)
    return {
        "function": scenario.function, "route": scenario.label, "kind": scenario.kind,
        "connections": conns, "rps": round(run.rps, 1), "p50_ms": run.p50_ms,
        "p99_ms": run.p99_ms, "non_2xx": run.non_2xx, "errors": run.errors,
        "requests": run.requests,
        "cpu_us": None if cpu_us is None else round(cpu_us, 1),
        "target_us": target,
        "peak_rss_mib": round(max(procs.peak_rss_kib(p) for p in pids) / 1024, 1) if pids else None,
    }


def side(base: str, pids_of: dict[str, list[int]] | None, other_pid: int | None,
         seconds: int, connections: int, only: set[str] | None) -> list[dict]:
    rows = []
    for scenario in scenarios(base):
        if only and scenario.function not in only:
            continue
        pids = pids_of.get(scenario.function, []) if pids_of else ([other_pid] if other_pid else [])
        row = measure(base, scenario, pids, seconds, connections)
        print(f"bench: {base} {row['route']:<30} {row['rps']:8.1f} req/s  p50 {row['p50_ms']:6.2f}"
              f" ms  p99 {row['p99_ms']:6.2f} ms  CPU {row['cpu_us'] or '-':>7} µs  "
              f"non-2xx {row['non_2xx']}", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def machine() -> str:
    cpus = os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                         capture_output=True).stdout.strip()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now}, commit {rev}, {cpus} CPUs, load average {load}"


def table(ours: list[dict], other: list[dict]) -> str:
    by_route = {r["route"]: r for r in other}
    head = ("| route | clients | req/s | p50 ms | p99 ms | CPU µs/request | target | peak RSS MiB |"
            + (" other req/s | other p50 | other p99 | other CPU µs |" if other else ""))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in ours:
        target = r["target_us"]
        verdict = ("–" if target is None or r["cpu_us"] is None
                   else f"≤ {target}: {'met' if r['cpu_us'] <= target else 'missed'}")
        line = (f"| {r['route']} | {r['connections']} | {r['rps']} | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['cpu_us']} | {verdict} | {r['peak_rss_mib']} |")
        if other:
            o = by_route.get(r["route"])
            line += (f" {o['rps']} | {o['p50_ms']:.2f} | {o['p99_ms']:.2f} | {o['cpu_us'] or '–'} |"
                     if o else " – | – | – | – |")
        lines.append(line)
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    doc = path.read_text()
    head, sep, rest = doc.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise SystemExit(f"bench: {path} lacks the {BEGIN} / {END} markers")
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--pids", type=Path, required=True, help="the stack's pids file")
    parser.add_argument("--other-url")
    parser.add_argument("--other-pid", type=int)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--only", help="comma-separated functions to measure")
    parser.add_argument("--write", type=Path, help="BENCHMARKS.md to update")
    parser.add_argument("--json", type=Path, help="every figure, as JSON")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    ours = side(args.url, procs.function_pids(args.pids), None, args.seconds,
                args.connections, only)
    other = (side(args.other_url, None, args.other_pid, args.seconds, args.connections, only)
             if args.other_url else [])
    text = (f"Measured {machine()}; wrk, 2 threads, {args.seconds} s per route after 1 s of "
            f"warm-up; CPU is the function process's own.\n\n{table(ours, other)}")
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"ours": ours, "other": other}, indent=1))
    if args.write:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
