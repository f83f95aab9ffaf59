"""Cold starts: each function binary started as Lambda starts it, against a minimal
Runtime API served here (GET .../invocation/next hands out a sample event of events/,
POST .../response takes the answer), timed from the process's spawn:

- *init*: until the function first asks for an event (runtime, configuration, MongoDB
  client, the cold-start index check);
- *first*: until its answer to the first event (the first request pays the connection);
- *warm*: the median of the requests after it, one at a time;
- *peak RSS* after them all (VmHWM).
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

from bench import procs

ROOT = Path(__file__).resolve().parents[2]
API = "/2018-06-01/runtime"


class RuntimeApi(http.server.ThreadingHTTPServer):
    """One function's Runtime API: events go in with `invoke`, answers come back."""

    daemon_threads = True

    def __init__(self) -> None:
        self.events: queue.Queue[bytes | None] = queue.Queue()
        self.answers: queue.Queue[tuple[float, int]] = queue.Queue()
        self.first_next: float | None = None
        self.count = 0
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: a killed function resets its connections."""

    def close(self) -> None:
        """Ends the long poll of a function that is gone, then the server."""
        self.events.put(None)
        self.shutdown()
        self.server_close()

    def invoke(self, event: bytes, timeout: float = 60) -> tuple[float, int]:
        """Queues one event; (time its answer came, its statusCode)."""
        self.events.put(event)
        return self.answers.get(timeout=timeout)


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    server: RuntimeApi
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm holds
        # the body until the function's delayed ACK (40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.server.first_next is None:
            self.server.first_next = time.monotonic()
        event = self.server.events.get()
        if event is None:
            return
        self.server.count += 1
        self.send_response(200)
        for key, value in {
            "Lambda-Runtime-Aws-Request-Id": f"cold-{self.server.count}",
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:0:function:f",
            "Lambda-Runtime-Trace-Id": f"Root=1-00000000-{self.server.count:024x}",
            "Content-Type": "application/json",
            "Content-Length": str(len(event)),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        status = 0
        if self.path.endswith("/response"):
            status = json.loads(body or b"{}").get("statusCode", 0)
        self.server.answers.put((time.monotonic(), status))


def start(binary: Path, name: str, env: dict[str, str], api: RuntimeApi) -> subprocess.Popen:
    return subprocess.Popen(
        [str(binary)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")} | env | {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"})


def one_start(binary: Path, name: str, event: bytes, env: dict[str, str],
              warm: int) -> dict:
    """Starts the function once, sends `1 + warm` events; times in ms from spawn."""
    api = RuntimeApi()
    spawned = time.monotonic()
    proc = start(binary, name, env, api)
    try:
        first, status = api.invoke(event)
        init = (api.first_next or first) - spawned
        warm_ms = []
        for _ in range(warm):
            sent = time.monotonic()
            done, _ = api.invoke(event)
            warm_ms.append((done - sent) * 1000)
        rss = procs.peak_rss_kib(proc.pid) / 1024
    finally:
        proc.kill()
        proc.wait()
        api.close()
    return {"init_ms": init * 1000, "first_ms": (first - spawned) * 1000, "status": status,
            "warm_ms": statistics.median(warm_ms), "rss_mib": rss}


# The functions started cold, with an event each that needs nothing made first.
EVENTS = {
    "health": "health.json",
    "docs": "docs_openapi.json",
    "fallback": "fallback_not_found.json",
    "org_get": "org_get_missing.json",
    "items_list": "items_list_bad_token.json",
    "admin_login": "admin_login_unknown_email.json",
}


def measure(bin_dir: Path, env: dict[str, str], starts: int, warm: int) -> list[dict]:
    """Every function of EVENTS started `starts` times; medians (first: also the max)."""
    rows = []
    for name, event_file in EVENTS.items():
        event = (ROOT / "events" / event_file).read_bytes()
        runs = [one_start(bin_dir / name, name, event, env, warm) for _ in range(starts)]
        row = {"function": name, "event": event_file, "status": runs[0]["status"]}
        for key in ("init_ms", "first_ms", "warm_ms"):
            row[key] = round(statistics.median(r[key] for r in runs), 1)
        row["first_max_ms"] = round(max(r["first_ms"] for r in runs), 1)
        row["rss_mib"] = round(max(r["rss_mib"] for r in runs), 1)
        rows.append(row)
    return rows


def table(rows: list[dict], starts: int, warm: int) -> str:
    lines = [f"{starts} starts per function, then {warm} warm requests each; medians, "
             "ms from the process's spawn.", "",
             "| function (event, status) | init ms | first response ms (max) | "
             "warm ms | peak RSS MiB |", "|---|---|---|---|---|"]
    lines += [f"| {r['function']} ({r['event']}, {r['status']}) | {r['init_ms']} | "
              f"{r['first_ms']} ({r['first_max_ms']}) | {r['warm_ms']} | {r['rss_mib']} |"
              for r in rows]
    return "\n".join(lines)
