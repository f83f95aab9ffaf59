"""Webhooks under a running stack (the dispatcher as `make run` plays its schedule):
change-to-receipt latency, from the answer of the request that made the change to the
arrival of its delivery at a receiver on this machine, and deliveries per second for a
burst of changes. The stack must run with APP_ENV=local (a loopback receiver).

    python3 scripts/bench --webhooks --url http://127.0.0.1:9000 [--changes 60] [--burst 300]
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.receiver import Receiver

PASSWORD = "Passw0rd1"


def call(url: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as reply:
        text = reply.read()
    return json.loads(text) if text else {}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(url: str, changes: int, burst: int) -> dict:
    receiver = Receiver(lambda event: event["data"]["targets"][0]["id"])
    name = f"wh-bench-{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.com"
    call(url, "POST", "/org/create", {"organization_name": name, "email": email, "password": PASSWORD})
    token = call(url, "POST", "/admin/login", {"email": email, "password": PASSWORD})["access_token"]
    call(url, "POST", "/org/webhooks", {"url": receiver.url, "events": ["item.created"]}, token)
    try:
        # Latency: one change at a time, spread over the dispatcher's polls.
        answered: dict[str, float] = {}
        for i in range(changes):
            item = call(url, "POST", "/org/items", {"n": i}, token)["id"]
            answered[item] = time.monotonic()
            time.sleep(0.37)
        deadline = time.monotonic() + 60
        while receiver.count() < changes and time.monotonic() < deadline:
            time.sleep(0.05)
        latency_ms = [(receiver.arrived[i] - t) * 1000 for i, t in answered.items() if i in receiver.arrived]
        # Throughput: a burst of changes from 8 clients, until the last delivery arrives.
        before = receiver.count()
        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: call(url, "POST", "/org/items", {"burst": i}, token), range(burst)))
        deadline = time.monotonic() + 300
        while receiver.count() < before + burst and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        delivered = receiver.count() - before
    finally:
        call(url, "DELETE", "/org/delete", token=token)
        receiver.server.shutdown()
    return {
        "changes": changes,
        "received": len(latency_ms),
        "p50_ms": statistics.median(latency_ms) if latency_ms else None,
        "p99_ms": percentile(latency_ms, 99) if latency_ms else None,
        "max_ms": max(latency_ms) if latency_ms else None,
        "burst": burst,
        "burst_delivered": delivered,
        "burst_seconds": elapsed,
        "deliveries_per_second": delivered / elapsed if elapsed else None,
    }


def table(r: dict) -> str:
    def ms(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.0f} ms"

    rate = r["deliveries_per_second"]
    return "\n".join([
        "| figure | value |",
        "|---|---|",
        f"| change-to-receipt p50 ({r['received']} of {r['changes']} single changes) | {ms(r['p50_ms'])} |",
        f"| change-to-receipt p99 | {ms(r['p99_ms'])} |",
        f"| change-to-receipt max | {ms(r['max_ms'])} |",
        f"| burst of {r['burst']} changes (8 clients): delivered "
        f"| {r['burst_delivered']} in {r['burst_seconds']:.1f} s |",
        f"| deliveries per second (burst, change to last receipt) | {'n/a' if rate is None else f'{rate:.0f}'} |",
    ])
