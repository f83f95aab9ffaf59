#!/usr/bin/env python3
"""Runs every API Gateway event in events/ through `cargo lambda invoke` and checks the status.

Needs a running `cargo lambda watch` (its invoke port is --port; the same process serves
HTTP on that port) in front of a reachable MongoDB. Python 3 standard library only.

    PATH=.local/venv/bin:$PATH python3 scripts/check_events.py --port 9100

What it does:
  1. Checks events/manifest.json: every event file is listed, every entry's file exists
     and parses, every function is a binary of functions/src/bin/.
  2. Over HTTP (the base URL): creates a fresh organization, logs in for a token and
     creates an item.
  3. For each manifest entry, in order (non-destructive first, then by "order", then by
     file name), writes a patched copy of the event to a temporary file, runs
     `cargo lambda invoke <function> --data-file <tmp> --invoke-port <port>`, and compares
     the response's statusCode with "status" (and requires an x-request-id header).
  4. Deletes, over HTTP, the organizations the run created and did not delete itself.
Prints one line per event and finally `N passed, M failed`; exits 1 if any failed.

The committed events hold readable sample values; the copy that is invoked gets:
  - every organization name `acme-corp...` / `globex...` (any case) in the body and in the
    query string suffixed with a per-run id, and every address `x@acme.com` /
    `x@globex.com` turned into `x.<run>@...`: acme-corp is the organization the checker
    creates in step 2, globex the one org_create.json creates;
  - `"auth": true`: the Authorization header set to `Bearer <token of acme-corp>`;
  - `"item": true`: the `id` path parameter (and the paths) set to the item of step 2;
  - a per-run client IP (requestContext.http.sourceIp, x-forwarded-for), so that the
    failed-login throttle's per-IP count of earlier runs is not inherited;
  - content-length recomputed.
Manifest flags: "order" (int), "destructive" (runs after every non-destructive entry),
"schedule" (a scheduled function: its answer is a report with "sent" or "purged",
not a status),
"revokes" (tokens are revoked: log in again before the next "auth" entry), "skip"
(reason; listed, not run), "note".
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Passw0rd1"
SAMPLE_ORG = "acme-corp"
SAMPLE_EMAIL = "admin@acme.com"

NAME_RE = re.compile(r"(?<![@\w.])(acme-corp|globex)(?![\w])", re.IGNORECASE)
EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-]+)@(acme\.com|globex\.com)\b", re.IGNORECASE)


class SetupError(Exception):
    """The checker could not prepare its organization, token or item."""


# ----------------------------------------------------------------- substitution


def fresh(text: str, run: str) -> str:
    """Makes the sample organization names and emails of `text` unique to this run."""
    text = EMAIL_RE.sub(lambda m: f"{m.group(1)}.{run}@{m.group(2)}", text)
    return NAME_RE.sub(lambda m: f"{m.group(1)}-{run}", text)


def patch(event: dict, entry: dict, run: str, ip: str, token: str | None, item: str | None) -> dict:
    """The event as it is invoked for this run (see the module docstring)."""
    ev = json.loads(json.dumps(event))
    headers = ev.setdefault("headers", {})
    if isinstance(ev.get("body"), str) and not ev.get("isBase64Encoded"):
        ev["body"] = fresh(ev["body"], run)
        if "content-length" in headers:
            headers["content-length"] = str(len(ev["body"].encode()))
    if ev.get("rawQueryString"):
        ev["rawQueryString"] = fresh(ev["rawQueryString"], run)
    if ev.get("queryStringParameters"):
        ev["queryStringParameters"] = {
            k: fresh(v, run) if isinstance(v, str) else v
            for k, v in ev["queryStringParameters"].items()
        }
    if entry.get("auth"):
        if token is None:
            raise SetupError("no token available (was the organization deleted?)")
        headers["authorization"] = f"Bearer {token}"
    if entry.get("item"):
        if item is None:
            raise SetupError("no item available")
        old = (ev.get("pathParameters") or {}).get("id")
        ev.setdefault("pathParameters", {})["id"] = item
        if old:
            ctx_http = ev.get("requestContext", {}).get("http", {})
            for holder, key in ((ev, "rawPath"), (ctx_http, "path")):
                if isinstance(holder.get(key), str):
                    holder[key] = holder[key].replace(old, item)
    ctx_http = ev.get("requestContext", {}).get("http")
    if isinstance(ctx_http, dict) and "sourceIp" in ctx_http:
        ctx_http["sourceIp"] = ip
    if "x-forwarded-for" in headers:
        headers["x-forwarded-for"] = ip
    return ev


# ----------------------------------------------------------------- HTTP


def http(base: str, method: str, path: str, body=None, token=None) -> tuple[int, dict | None]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        raise SetupError(f"{method} {path}: {err}") from err
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def expect(base: str, status: int, method: str, path: str, body=None, token=None) -> dict:
    got, data = http(base, method, path, body, token)
    if got != status:
        raise SetupError(f"{method} {path}: expected {status}, got {got}: {data}")
    return data or {}


def login(base: str, email: str, password: str = PASSWORD) -> str:
    data = expect(base, 200, "POST", "/admin/login", {"email": email, "password": password})
    return data["access_token"]


# ----------------------------------------------------------------- manifest


def load_manifest(events_dir: Path, binaries: set[str]) -> tuple[list[dict], dict[str, dict], list[str]]:
    """The entries, the parsed events, and every problem found in the pair."""
    problems: list[str] = []
    manifest_path = events_dir / "manifest.json"
    try:
        entries = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as err:
        return [], {}, [f"{manifest_path}: {err}"]
    if not isinstance(entries, list):
        return [], {}, [f"{manifest_path}: must be a list of entries"]
    files = {p.name for p in events_dir.glob("*.json") if p.name != "manifest.json"}
    listed: set[str] = set()
    events: dict[str, dict] = {}
    good: list[dict] = []
    for i, entry in enumerate(entries):
        name = entry.get("event") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            problems.append(f"manifest entry {i}: no \"event\" file name")
            continue
        if name in listed:
            problems.append(f"manifest: {name} listed twice")
            continue
        listed.add(name)
        if name not in files:
            problems.append(f"manifest: {name} does not exist in {events_dir}")
            continue
        if entry.get("function") not in binaries:
            problems.append(
                f"manifest: {name}: function {entry.get('function')!r} is not a binary of functions/src/bin"
            )
            continue
        if not isinstance(entry.get("status"), int):
            problems.append(f"manifest: {name}: \"status\" must be an integer")
            continue
        try:
            events[name] = json.loads((events_dir / name).read_text())
        except ValueError as err:
            problems.append(f"{name}: not JSON: {err}")
            continue
        good.append(entry)
    for name in sorted(files - listed):
        problems.append(f"manifest: {name} is not listed")
    return good, events, problems


def run_order(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: (bool(e.get("destructive")), e.get("order", 0), e["event"]))


# ----------------------------------------------------------------- invoke


def cargo_lambda() -> list[str]:
    if shutil.which("cargo") and shutil.which("cargo-lambda"):
        return ["cargo", "lambda"]
    local = ROOT / ".local" / "venv" / "bin" / "cargo-lambda"
    if local.exists():
        return [str(local), "lambda"]
    sys.exit("cargo-lambda not found: put .local/venv/bin on PATH")


def invoke(cmd: list[str], function: str, event: dict, port: int, address: str | None, tmp: Path) -> dict:
    path = tmp / f"{function}-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(event))
    args = [*cmd, "invoke", function, "--data-file", str(path), "--invoke-port", str(port),
            "--output-format", "json", "--color", "never"]
    if address:
        args += ["--invoke-address", address]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"cargo lambda invoke exited {proc.returncode}: {' | '.join(tail)}")
    try:
        return json.loads(proc.stdout)
    except ValueError as err:
        raise RuntimeError(f"response is not JSON: {proc.stdout.strip()[:200]}") from err


def short(body) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


# ----------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="port of `cargo lambda watch` (invoke and HTTP)")
    parser.add_argument("--base-url", help="HTTP base URL for setup (default http://127.0.0.1:PORT)")
    parser.add_argument("--invoke-address", help="address of the invoke endpoint (cargo lambda's default if unset)")
    parser.add_argument("--events", type=Path, default=ROOT / "events", help="events folder")
    args = parser.parse_args()
    base = args.base_url or f"http://127.0.0.1:{args.port}"

    binaries = {p.stem for p in (ROOT / "functions" / "src" / "bin").glob("*.rs")}
    entries, events, problems = load_manifest(args.events, binaries)
    passed = failed = 0
    for problem in problems:
        print(f"FAIL  {problem}")
        failed += 1

    ordered = run_order(entries)
    seen_destructive = False
    for e in ordered:
        seen_destructive = seen_destructive or bool(e.get("destructive"))
        if seen_destructive and not e.get("destructive"):
            print(f"FAIL  order: {e['event']} runs after a destructive event")
            failed += 1

    run = uuid.uuid4().hex[:8]
    ip = f"198.51.100.{random.randint(1, 254)}" if random.random() < 0.5 else f"203.0.113.{random.randint(1, 254)}"
    org_name, email = fresh(SAMPLE_ORG, run), fresh(SAMPLE_EMAIL, run)
    created: dict[str, str] = {}  # email -> password of organizations still to delete
    token = item = None
    print(f"run {run}: organization {org_name}, client ip {ip}, base {base}")
    try:
        expect(base, 201, "POST", "/org/create",
               {"organization_name": org_name, "email": email, "password": PASSWORD})
        created[email] = PASSWORD
        token = login(base, email)
        item = expect(base, 201, "POST", "/org/items", {"name": "checker item", "run": run}, token)["id"]
    except (SetupError, KeyError) as err:
        print(f"FAIL  setup: {err}")
        failed += 1 + len(ordered)
        print(f"{passed} passed, {failed} failed")
        return 1

    cmd = cargo_lambda()
    stale = False
    with tempfile.TemporaryDirectory(prefix="check-events-") as tmpdir:
        tmp = Path(tmpdir)
        for entry in ordered:
            name, function, status = entry["event"], entry["function"], entry["status"]
            label = f"{name:<36} {function:<13} {status}"
            if entry.get("skip"):
                print(f"skip  {label}  ({entry['skip']})")
                continue
            try:
                if entry.get("auth") and stale:
                    token = login(base, email)
                    stale = False
                event = patch(events[name], entry, run, ip, token, item)
                resp = invoke(cmd, function, event, args.port, args.invoke_address, tmp)
            except (SetupError, RuntimeError, subprocess.TimeoutExpired) as err:
                print(f"FAIL  {label}  {err}")
                failed += 1
                continue
            if entry.get("schedule"):
                # A scheduled function answers its run's report, not an HTTP response.
                if isinstance(resp, dict) and ("sent" in resp or "purged" in resp):
                    print(f"ok    {label}  {short(json.dumps(resp))}")
                    passed += 1
                else:
                    print(f"FAIL  {label}  not a report: {short(json.dumps(resp))}")
                    failed += 1
                continue
            got = resp.get("statusCode")
            headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
            if got != status:
                print(f"FAIL  {label}  got {got}: {short(resp.get('body', ''))}")
                failed += 1
            elif "x-request-id" not in headers:
                print(f"FAIL  {label}  no x-request-id header")
                failed += 1
            else:
                print(f"ok    {label}")
                passed += 1
            if got == status and function == "org_create" and status == 201:
                body = json.loads(event.get("body") or "{}")
                created[body.get("email", "").lower()] = body.get("password", PASSWORD)
            if got == status and function == "org_delete" and status == 204 and entry.get("auth"):
                created.pop(email, None)
                token = None
            elif entry.get("revokes") and got == status:
                stale = True

    # Leave nothing behind: delete, over HTTP, what this run created and still exists.
    for who, password in created.items():
        try:
            expect(base, 204, "DELETE", "/org/delete", token=login(base, who, password))
        except (SetupError, KeyError) as err:
            print(f"note  cleanup of {who} failed: {err}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
