"""Per-route figures of the running API: requests per second, p50 and p99 latency under
a fixed number of clients (wrk), and the CPU each request costs in the function
process (utime + stime from /proc, divided by the requests served: the emulator's CPU
is not counted), with the function's peak memory. With `--other-url` and
`--other-pid`, the same requests go to another implementation of the same HTTP
contract in the same run, and its process's CPU is counted the same way.

Usage:
    python3 scripts/bench --url URL --pids FILE [--other-url URL --other-pid PID]
        [--seconds 10] [--connections 8] [--only FUNCTIONS] [--write BENCHMARKS.md]
        [--json OUT [--label VARIANT] [--extra NAME=VALUE ...]]
    python3 scripts/bench --levers RUN.json ... [--write BENCHMARKS.md]
    python3 scripts/bench --cold BIN_DIR [--starts 5] [--warm 50] [--write BENCHMARKS.md]
    python3 scripts/bench --webhooks --url URL [--changes 60] [--burst 300] [--write BENCHMARKS.md]
The first writes the route table between BENCHMARKS.md's `bench:routes` markers; the
second, from runs of one build variant each, the `bench:levers` table; the third the
`bench:cold` table (see bench/cold.py); the fourth the `bench:webhooks` table (see
bench/webhooks.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api, cold, procs, webhooks
from bench.load import wrk
from bench.report import write_section

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Scenario:
    """One kind of request, sent by wrk for a few seconds."""

    function: str
    label: str
    method: str
    path: str
    bodies: list[str] = field(default_factory=list)
    token: str | None = None
    unique: bool = False
    keyed: bool = False
    connections: int | None = None
    kind: str = "other"  # public read, authenticated read, write, bcrypt


def scenarios(base: str) -> list[Scenario]:
    """The requests, with what they need made first through the API at `base` (the
    items, members, invitations and audit routes only where the server has them: the
    Python service this one replaces has neither items nor teams)."""
    a = api.tenant(base, "bench")
    lister = api.tenant(base, "list")
    item = api.first_item(base, a)
    if item:
        for _ in range(20):
            api.item(base, lister)
    creds = json.dumps({"email": a.email, "password": api.PASSWORD})
    create = json.dumps({"organization_name": "%s", "email": "%s@bench.example.com",
                         "password": api.PASSWORD})
    out = [
        Scenario("health", "GET /health", "GET", "/health", kind="public read"),
        Scenario("docs", "GET /openapi.json", "GET", "/openapi.json", kind="static"),
        Scenario("fallback", "GET /no/such/path (404)", "GET", "/no/such/path", kind="static"),
        Scenario("org_get", "GET /org/get", "GET", f"/org/get?organization_name={a.name}",
                 kind="public read"),
    ]
    if item:
        out += [
        Scenario("items_get", "GET /org/items/{id}", "GET", f"/org/items/{item}",
                 token=a.token, kind="authenticated read"),
        Scenario("items_list", "GET /org/items (a page of 20)", "GET", "/org/items",
                 token=lister.token, kind="authenticated read"),
        ]
        key = api.api_key(base, a)
        if key:
            out.append(Scenario("items_get", "GET /org/items/{id} with an API key", "GET",
                                f"/org/items/{item}", token=key, kind="authenticated read"))
        out += [
        Scenario("items_create", "POST /org/items", "POST", "/org/items",
                 [json.dumps(api.ITEM)], a.token, kind="write"),
        Scenario("items_create", "POST /org/items with Idempotency-Key", "POST", "/org/items",
                 [json.dumps(api.ITEM)], a.token, keyed=True, kind="write"),
        ]
    out += [
        Scenario("org_update", "PUT /org/update (email)", "PUT", "/org/update",
                 [json.dumps({"email": a.email})], a.token, kind="write"),
    ]
    if api.has_teams(base, a):
        user = api.member(base, lister)
        roles = [json.dumps({"role": r}) for r in ("admin", "member")]
        invite = json.dumps({"email": "%s@bench.example.com"})
        out += [
            Scenario("org_me", "GET /org/me", "GET", "/org/me", token=a.token,
                     kind="authenticated read"),
            Scenario("members_list", "GET /org/members", "GET", "/org/members",
                     token=lister.token, kind="authenticated read"),
            Scenario("invitations_list", "GET /org/invitations", "GET", "/org/invitations",
                     token=lister.token, kind="authenticated read"),
            Scenario("audit_list", "GET /org/audit (a page of 20)", "GET",
                     "/org/audit?limit=20", token=lister.token, kind="authenticated read"),
            Scenario("members_update", "PATCH /org/members/{id} (role)", "PATCH",
                     f"/org/members/{user}", roles, lister.token, kind="write"),
            Scenario("invitations_create", "POST /org/invitations", "POST",
                     "/org/invitations", [invite], lister.token, unique=True, kind="write"),
        ]
    out += [
        Scenario("admin_login", "POST /admin/login (bcrypt)", "POST", "/admin/login", [creds],
                 connections=2, kind="bcrypt"),
        Scenario("org_create", "POST /org/create (bcrypt)", "POST", "/org/create", [create],
                 unique=True, connections=2, kind="bcrypt"),
    ]
    return out


TARGET_US = {"public read": 100, "authenticated read": 150, "write": 200}


def measure(base: str, scenario: Scenario, pids: list[int], seconds: int,
            connections: int) -> dict:
    """Warms the route up, then one measured run; CPU of `pids` over that run."""
    conns = scenario.connections or connections
    url = base + scenario.path
    args = dict(method=scenario.method, bodies=scenario.bodies, token=scenario.token,
                unique=scenario.unique, keyed=scenario.keyed, connections=conns)
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


LEVER_ROUTES = ("org_get", "items_get", "items_create")


def levers_table(runs: list[dict]) -> str:
    """One row per variant (a run of `--label`): CPU per request of the lever routes,
    the first one's latency, and the run's `--extra` figures (build time, size)."""
    extras = list(dict.fromkeys(k for run in runs for k in run.get("extra", {})))
    head = ("| variant | " + " | ".join(f"{f} CPU µs" for f in LEVER_ROUTES)
            + f" | {LEVER_ROUTES[0]} req/s | p50 ms | p99 ms | peak RSS MiB | "
            + "".join(f"{k} | " for k in extras)).rstrip()
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for run in runs:
        by_fn: dict[str, dict] = {}
        for r in run["ours"]:
            by_fn.setdefault(r["function"], r)
        first = by_fn.get(LEVER_ROUTES[0], {})
        cells = [run.get("label", "?")]
        cells += [str(by_fn.get(f, {}).get("cpu_us", "–")) for f in LEVER_ROUTES]
        cells += [str(first.get("rps", "–")), str(first.get("p50_ms", "–")),
                  str(first.get("p99_ms", "–")),
                  str(max((r["peak_rss_mib"] or 0) for r in run["ours"]) if run["ours"] else "–")]
        cells += [str(run.get("extra", {}).get(k, "–")) for k in extras]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--pids", type=Path, help="the stack's pids file")
    parser.add_argument("--other-url")
    parser.add_argument("--other-pid", type=int)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--only", help="comma-separated functions to measure")
    parser.add_argument("--label", help="this run's name (a variant, for --levers)")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=VALUE",
                        help="a figure measured outside (build time, size) for --levers")
    parser.add_argument("--levers", type=Path, nargs="+", metavar="JSON",
                        help="no load: the table of these runs, one row per variant")
    parser.add_argument("--cold", type=Path, metavar="BIN_DIR",
                        help="no load: cold starts of these binaries, with the database "
                        "settings of the environment (a stack's stack.env)")
    parser.add_argument("--starts", type=int, default=5, help="cold starts per function")
    parser.add_argument("--warm", type=int, default=50, help="requests after each start")
    parser.add_argument("--webhooks", action="store_true",
                        help="webhook latency and throughput against --url (APP_ENV=local)")
    parser.add_argument("--changes", type=int, default=60, help="single changes (--webhooks)")
    parser.add_argument("--burst", type=int, default=300, help="burst of changes (--webhooks)")
    parser.add_argument("--write", type=Path, help="BENCHMARKS.md to update")
    parser.add_argument("--json", type=Path, help="every figure, as JSON")
    args = parser.parse_args()
    if args.levers:
        runs = [json.loads(p.read_text()) for p in args.levers]
        text = (f"Measured {machine()}; {runs[0]['seconds']} s per route after 1 s of "
                f"warm-up, {runs[0]['connections']} clients.\n\n{levers_table(runs)}")
        print(text)
        if args.write:
            write_section(args.write, "levers", text)
        return 0
    if args.webhooks:
        if not args.url:
            parser.error("--webhooks needs --url")
        text = (f"Measured {machine()}; the stack's dispatcher as `make run` runs it.\n\n"
                + webhooks.table(webhooks.measure(args.url, args.changes, args.burst)))
        print(text)
        if args.write:
            write_section(args.write, "webhooks", text)
        return 0
    if args.cold:
        text = (f"Measured {machine()}.\n\n"
                + cold.table(cold.measure(args.cold, {}, args.starts, args.warm),
                             args.starts, args.warm))
        print(text)
        if args.write:
            write_section(args.write, "cold", text)
        return 0
    if not (args.url and args.pids):
        parser.error("--url and --pids are needed (or --levers)")
    only = set(args.only.split(",")) if args.only else None
    ours = side(args.url, procs.function_pids(args.pids), None, args.seconds,
                args.connections, only)
    other = (side(args.other_url, None, args.other_pid, args.seconds, args.connections, only)
             if args.other_url else [])
    text = (f"Measured {machine()}; wrk, 2 threads, {args.seconds} s per route after 1 s of "
            f"warm-up; CPU is the function process's own.\n\n{table(ours, other)}")
    print(text)
    if args.json:
        extra = dict(e.split("=", 1) for e in args.extra)
        args.json.write_text(json.dumps({
            "label": args.label, "extra": extra, "seconds": args.seconds,
            "connections": args.connections, "ours": ours, "other": other}, indent=1))
    if args.write:
        write_section(args.write, "routes", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
