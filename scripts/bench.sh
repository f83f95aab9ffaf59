#!/usr/bin/env bash
# make bench: builds the release binaries, starts its own MongoDB-compatible server (a
# fresh file in a temporary folder) and measures, then stops everything, prints the
# tables and writes them into BENCHMARKS.md with the machine and the date (the
# hand-written "Findings" section of that file is kept).
#
# What it measures:
# - criterion (`cargo bench -p tenant --bench handlers`): database round trips of every
#   route, in-process cost of every non-bcrypt handler (CPU time, and wall − commands),
#   the pure per-request parts, bcrypt at cost 12 on one and two threads;
# - cold starts: each function's release binary under a small Lambda Runtime API
#   emulator (the real runtime loop: GET .../invocation/next, POST .../response), several
#   starts each: process start, configuration + client, first request, a warm request;
#   then a burst of requests and the process's peak RSS (VmHWM);
# - login timing: an existing email with a wrong password against an unknown email, side
#   by side (same function, same cost), through the same emulator;
# - warm latency and throughput through `cargo lambda watch --release --concurrency 32`
#   with wrk at 1, 8 and 32 connections, and login at 1, 2 and 4 (each run bounded in time);
# - the size of each arm64 bootstrap zip that `make package` left in target/lambda/.
#
# Knobs (environment): BENCH_STARTS (5), BENCH_BURST (50), BENCH_LOGIN_N (30),
# BENCH_WRK_SECONDS (6), KEEP_BENCH_DIR=1 keeps the run's folder under .local/.
# Nothing here runs under `make test`.
#
# Usage: scripts/bench.sh            (make bench)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bootstrap

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing wrk (apt-get)"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "wrk not found: install it (Debian/Ubuntu: apt-get install wrk)" >&2
    exit 1
  fi
fi

BENCH_STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
RUN_DIR="$(mktemp -d "$LOCAL/bench.XXXXXX")"
MONGO_PID="" WATCH_PID=""
cleanup() {
  stop_pid "$WATCH_PID"
  stop_pid "$MONGO_PID"
  if [ -n "${KEEP_BENCH_DIR:-}" ]; then log "kept $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT

log "cargo build --release -p functions"
t0=$SECONDS
cargo build --release -p functions
BUILD_SECONDS=$((SECONDS - t0))
log "cargo bench --no-run (the bench profile is the release profile)"
cargo bench -p tenant --bench handlers --no-run

mongo_port="$(free_port)"
start_mongo "$RUN_DIR/mongo.db" "$mongo_port"
export MONGODB_URI="mongodb://127.0.0.1:$mongo_port/?directConnection=true"

log "criterion: round trips, in-process handler cost, pure parts, bcrypt (about 3 minutes)"
BENCH_JSON="$RUN_DIR/handlers.json" CRITERION_HOME="$ROOT/target/criterion" \
  cargo bench -p tenant --bench handlers >"$RUN_DIR/criterion.log" 2>&1 ||
  { tail -n 40 "$RUN_DIR/criterion.log" >&2; exit 1; }
sed -n '/^Database round trips/,$p' "$RUN_DIR/criterion.log"

suffix="$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
API_PORT="$(free_port)"
export JWT_SECRET MASTER_DB="bench_master_$suffix" TENANT_DB="bench_tenants_$suffix"
write_env "$RUN_DIR/api.env" "MONGODB_URI=$MONGODB_URI" "JWT_SECRET=$JWT_SECRET" \
  "MASTER_DB=$MASTER_DB" "TENANT_DB=$TENANT_DB" "BCRYPT_COST=12" "RUST_LOG=info"
log "starting cargo lambda watch --release --concurrency 32 on 127.0.0.1:$API_PORT"
cargo lambda watch --release --invoke-address 127.0.0.1 --invoke-port "$API_PORT" \
  --env-file "$RUN_DIR/api.env" --concurrency 32 --ignore-changes >"$RUN_DIR/watch.log" 2>&1 &
WATCH_PID=$!
wait_http "http://127.0.0.1:$API_PORT/health" 300 "$WATCH_PID" || { tail -n 40 "$RUN_DIR/watch.log" >&2; exit 1; }

export ROOT RUN_DIR BENCH_STARTED LOAD_BEFORE BUILD_SECONDS
export API_URL="http://127.0.0.1:$API_PORT"
"$VENV/bin/python" - <<'PY'
import concurrent.futures as cf
import datetime
import json
import os
import platform
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E = os.environ
ROOT, RUN, API = E["ROOT"], E["RUN_DIR"], E["API_URL"]
BIN = os.path.join(ROOT, "target", "release")
PASSWORD = "Passw0rd1"
STARTS = int(E.get("BENCH_STARTS", "5"))
BURST = int(E.get("BENCH_BURST", "50"))
LOGIN_N = int(E.get("BENCH_LOGIN_N", "30"))
WRK_SECONDS = int(E.get("BENCH_WRK_SECONDS", "6"))
SLOW_BURST = 3  # bursts of routes that hash a password or consume an organization


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Setup through the API (cargo lambda watch).

def call(method, path, body=None, token=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, None


def must(result, want, what):
    status, body = result
    if status != want:
        raise SystemExit(f"setup: {what} answered {status}: {body}")
    return body


def new_org(prefix):
    name = f"{prefix}{secrets.token_hex(5)}"
    email = f"{name}@bench.example.com"
    body = {"organization_name": name, "email": email, "password": PASSWORD}
    created = must(call("POST", "/org/create", body), 201, "org create")
    login = must(call("POST", "/admin/login", {"email": email, "password": PASSWORD}), 200, "login")
    return {"name": name, "email": email, "id": created["id"], "token": login["access_token"]}


ITEM = {"name": "widget", "qty": 3, "tags": ["blue", "small"], "dims": {"w": 1.5, "h": 2}}


def new_item(token):
    return must(call("POST", "/org/items", ITEM, token), 201, "item create")["id"]


# ---------------------------------------------------------------------------------------
# API Gateway (HTTP API, payload 2.0) events, as in events/*.json.

def event(method, path, query=None, params=None, token=None, body=None, ip=None):
    query, params = query or {}, params or {}
    raw_path = path
    for k, v in params.items():
        raw_path = raw_path.replace("{" + k + "}", v)
    headers = {"accept": "application/json", "user-agent": "bench"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    ev = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": raw_path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": headers,
        "queryStringParameters": query,
        "pathParameters": params,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": ip or "198.51.100.23", "userAgent": "bench"},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:10:30:31 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        headers["content-type"] = "application/json"
        ev["body"] = json.dumps(body)
    return json.dumps(ev)


IPS = iter(f"{net}.{host}" for net in ("192.0.2", "198.51.100", "203.0.113") for host in range(1, 255))


def random_ip():
    """A client IP of its own for each login event (documentation ranges; only a field of
    the event: the login throttle counts per IP)."""
    return next(IPS)


# ---------------------------------------------------------------------------------------
# A Lambda Runtime API emulator: one function process at a time, events handed out in
# order, each invocation timed from the moment its event is sent to the moment its
# response arrives.

class Run:
    def __init__(self, events):
        self.events = iter(events)
        self.records = []
        self.idle = False
        self.stop = threading.Event()
        self.errors = []


class Emulator:
    def __init__(self):
        self.cond = threading.Condition()
        self.run = None
        emu = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Whole responses in one write, sent at once (no Nagle delay on loopback).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def raw(self, code, reason, headers, body):
                head = f"HTTP/1.1 {code} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                head += f"content-length: {len(body)}\r\n\r\n"
                self.wfile.write(head.encode() + body)
                self.wfile.flush()

            def read_body(self):
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def reply(self, code, body=b"{}"):
                self.raw(code, "Accepted" if code == 202 else "Not Found", {"content-type": "application/json"}, body)

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    emu.next(self)
                else:
                    self.reply(404)

            def do_POST(self):
                body = self.read_body()
                t = time.perf_counter()
                parts = self.path.rstrip("/").split("/")
                if self.path.endswith("/response") and "/invocation/" in self.path:
                    emu.response(parts[-2], body, t)
                elif self.path.endswith("/error"):
                    emu.error(self.path, body)
                self.reply(202)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def next(self, h):
        t_next = time.perf_counter()
        run = self.run
        try:
            make = next(run.events)
        except StopIteration:
            make = None
        if make is None:
            with self.cond:
                run.idle = True
                self.cond.notify_all()
            run.stop.wait(300)
            h.close_connection = True
            return
        body = make().encode()
        rid = str(uuid.uuid4())
        rec = {"rid": rid, "t_next": t_next}
        run.records.append(rec)
        headers = {
            "content-type": "application/json",
            "lambda-runtime-aws-request-id": rid,
            "lambda-runtime-deadline-ms": str(int(time.time() * 1000) + 30000),
            "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
            "lambda-runtime-trace-id": "Root=1-00000000-000000000000000000000000;Sampled=0",
        }
        rec["t_deliver"] = time.perf_counter()
        h.raw(200, "OK", headers, body)

    def response(self, rid, body, t):
        run = self.run
        for rec in run.records:
            if rec["rid"] == rid:
                rec["t_resp"] = t
                try:
                    rec["status"] = json.loads(body).get("statusCode")
                except ValueError:
                    rec["status"] = None
        with self.cond:
            self.cond.notify_all()

    def error(self, path, body):
        self.run.errors.append((path, body[:300]))


EMU = Emulator()


def function_env(name, extra=None, without=()):
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": EMU.address,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "MONGODB_URI": E["MONGODB_URI"],
        "JWT_SECRET": E["JWT_SECRET"],
        "MASTER_DB": E["MASTER_DB"],
        "TENANT_DB": E["TENANT_DB"],
        "BCRYPT_COST": "12",
        "RUST_LOG": "info",
    }
    env.update(extra or {})
    for k in without:
        env.pop(k, None)
    return env


def vm_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])  # kB
    return out


def start(name, events, extra=None):
    """Starts the function's release binary, serves `events`, returns timings and memory."""
    run = Run(events)
    EMU.run = run
    with open(os.path.join(RUN, f"{name}.log"), "ab") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([os.path.join(BIN, name)], env=function_env(name, extra),
                                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        with EMU.cond:
            while not run.idle and proc.poll() is None and time.time() < deadline:
                EMU.cond.wait(0.2)
        mem = vm_status(proc.pid) if proc.poll() is None else {}
        run.stop.set()
        proc.kill()
        proc.wait()
    if not run.idle:
        raise SystemExit(f"{name}: the function exited or hung (see {name}.log): {run.errors}")
    return t0, run.records, mem


def process_init(name):
    """Start of a process that stops at once on its configuration (no MONGODB_URI): the
    time from spawn to its first log line is exec + runtime + logging set-up."""
    wall0 = time.time()
    proc = subprocess.run([os.path.join(BIN, name)], env=function_env(name, without=("MONGODB_URI",)),
                          capture_output=True, timeout=60)
    for line in proc.stdout.decode(errors="replace").splitlines():
        try:
            ts = json.loads(line)["timestamp"]
        except (ValueError, KeyError, TypeError):
            continue
        t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        return (t - wall0) * 1000
    return None


def ms(a, b):
    return (b - a) * 1000


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


# ---------------------------------------------------------------------------------------
log("setting up organizations, tokens and items through the API")
need_delete = 2 * STARTS + SLOW_BURST
need_logout = 2 * STARTS + SLOW_BURST
compare_orgs = (LOGIN_N + 1 + 4) // 5  # at most 5 failures per email stay under the throttle
prefixes = (["main-", "list-", "login-", "wrk-"] + ["cmp-"] * compare_orgs
            + ["del-"] * need_delete + ["out-"] * need_logout)
with cf.ThreadPoolExecutor(4) as ex:
    orgs = list(ex.map(new_org, prefixes))
main, lister, login_org, wrk_org = orgs[:4]
compare = orgs[4:4 + compare_orgs]
doomed = orgs[4 + compare_orgs:4 + compare_orgs + need_delete]
leaving = orgs[4 + compare_orgs + need_delete:]
for _ in range(25):
    new_item(lister["token"])
list_item = new_item(lister["token"])
with cf.ThreadPoolExecutor(4) as ex:
    deletable = list(ex.map(lambda _: new_item(main["token"]), range(2 * STARTS + BURST)))

fresh = lambda prefix: f"{prefix}{secrets.token_hex(5)}"

FUNCTIONS = {
    # name: (make event, expected status, burst size)
    "health": (lambda: event("GET", "/health"), 200, BURST),
    "docs": (lambda: event("GET", "/openapi.json"), 200, BURST),
    "dashboard": (lambda: event("GET", "/dashboard"), 200, BURST),
    "not_found": (lambda: event("GET", "/nope"), 404, BURST),
    "org_get": (lambda: event("GET", "/org/get", query={"organization_name": main["name"]}), 200, BURST),
    "org_update": (lambda: event("PUT", "/org/update", token=main["token"],
                                 body={"email": f"{fresh('upd-')}@bench.example.com"}), 200, BURST),
    "items_create": (lambda: event("POST", "/org/items", token=main["token"], body=ITEM), 201, BURST),
    "items_list": (lambda: event("GET", "/org/items", token=lister["token"]), 200, BURST),
    "items_get": (lambda: event("GET", "/org/items/{id}", params={"id": list_item},
                                token=lister["token"]), 200, BURST),
    "items_delete": (lambda: event("DELETE", "/org/items/{id}", params={"id": deletable.pop()},
                                   token=main["token"]), 204, BURST - SLOW_BURST),
    "org_create": (lambda: (lambda n: event("POST", "/org/create", body={
        "organization_name": n, "email": f"{n}@bench.example.com", "password": PASSWORD}))(fresh("new-")),
        201, SLOW_BURST),
    "admin_login": (lambda: event("POST", "/admin/login", ip=random_ip(),
                                  body={"email": login_org["email"], "password": PASSWORD}), 200, SLOW_BURST),
    "admin_logout": (lambda: event("POST", "/admin/logout", token=leaving.pop()["token"]), 204, SLOW_BURST),
    "org_delete": (lambda: event("DELETE", "/org/delete", token=doomed.pop()["token"]), 204, SLOW_BURST),
}
# Every binary must have its events here.
bins = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "functions", "src", "bin")) if f.endswith(".rs"))
missing = [b for b in bins if b not in FUNCTIONS]
if missing:
    raise SystemExit(f"no benchmark events for {missing}: add them to scripts/bench.sh")

log(f"cold starts: {STARTS} starts of each of {len(bins)} functions under the runtime emulator")
cold = {}
for name in bins:
    make, want, burst = FUNCTIONS[name]
    inits = [process_init(name) for _ in range(3)]
    rows, mem, bad = [], {}, []
    for i in range(STARTS):
        n = 2 + (burst if i == STARTS - 1 else 0)
        t0, recs, m = start(name, [make] * n)
        if any("t_resp" not in r for r in recs):
            raise SystemExit(f"{name}: an invocation got no response (see {name}.log)")
        bad += [r.get("status") for r in recs if r.get("status") != want]
        rows.append({
            "total": ms(t0, recs[0]["t_resp"]),
            "init": ms(t0, recs[0]["t_next"]),
            "first": ms(recs[0]["t_deliver"], recs[0]["t_resp"]),
            "warm": ms(recs[1]["t_deliver"], recs[1]["t_resp"]),
        })
        if i == STARTS - 1:
            mem = m
            mem["burst"] = n
            mem["burst_warm_ms"] = med([ms(r["t_deliver"], r["t_resp"]) for r in recs[1:]])
    cold[name] = {"rows": rows, "process_init": med(inits), "mem": mem, "unexpected": bad}
    c = cold[name]
    log(f"  {name:<13} cold {med([r['total'] for r in rows]):7.1f} ms (max {max(r['total'] for r in rows):.1f}),"
        f" init {med([r['init'] for r in rows]):5.1f}, first {med([r['first'] for r in rows]):6.1f},"
        f" warm {med([r['warm'] for r in rows]):6.1f}, peak RSS {mem.get('VmHWM', 0) / 1024:.1f} MiB"
        + (f"  UNEXPECTED STATUSES {bad}" if bad else ""))

# Configuration from AWS Secrets Manager (moto on loopback), when moto is at hand.
secrets_row = None
moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
secrets_note = "moto_server is not installed (scripts/secrets-test.sh installs it)"
if os.path.exists(moto):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); moto_port = s.getsockname()[1]; s.close()
    moto_proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(moto_port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{moto_port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        aws = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
        req = urllib.request.Request(url + "/", method="POST", data=json.dumps(
            {"Name": "bench-jwt", "SecretString": E["JWT_SECRET"]}).encode(), headers={
            "content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.CreateSecret",
            "authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0"})
        urllib.request.urlopen(req, timeout=10).read()
        extra = dict(aws, JWT_SECRET_ARN="bench-jwt", JWT_SECRET="")
        make = FUNCTIONS["org_get"][0]
        rows = []
        for _ in range(STARTS):
            t0, recs, _ = start("org_get", [make, make], extra)
            if any(r.get("status") != 200 for r in recs):
                raise SystemExit("org_get with the secret from Secrets Manager did not answer 200")
            rows.append({"total": ms(t0, recs[0]["t_resp"]), "init": ms(t0, recs[0]["t_next"])})
        secrets_row = {"init": med([r["init"] for r in rows]), "total": med([r["total"] for r in rows]),
                       "max": max(r["total"] for r in rows)}
        log(f"  org_get with JWT_SECRET from Secrets Manager (moto): init {secrets_row['init']:.1f} ms")
    except (OSError, SystemExit) as err:
        secrets_note = f"the moto run failed: {err}"
        log(f"  Secrets Manager start not measured: {secrets_note}")
    finally:
        moto_proc.terminate()
        moto_proc.wait()

log(f"login timing: existing email + wrong password vs unknown email, {LOGIN_N} each, interleaved")
budget = {o["email"]: 5 for o in compare}


def wrong_password():
    email = next(e for e, n in budget.items() if n > 0)
    budget[email] -= 1
    return event("POST", "/admin/login", ip=random_ip(), body={"email": email, "password": "Wr0ngPassw0rd"})


def unknown_email():
    return event("POST", "/admin/login", ip=random_ip(),
                 body={"email": f"{fresh('nobody-')}@bench.example.com", "password": "Wr0ngPassw0rd"})


kinds = ["existing"] + ["unknown"] + ["existing", "unknown"] * LOGIN_N
makers = {"existing": wrong_password, "unknown": unknown_email}
_, recs, _ = start("admin_login", [makers[k] for k in kinds])
timing = {"existing": [], "unknown": []}
for kind, rec in list(zip(kinds, recs))[2:]:
    if rec.get("status") != 401:
        raise SystemExit(f"login timing: a {kind} attempt answered {rec.get('status')}, not 401")
    timing[kind].append(ms(rec["t_deliver"], rec["t_resp"]))

# ---------------------------------------------------------------------------------------
# Warm latency and throughput through cargo lambda watch, with wrk.

def lua(method, body, token, out):
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = [=[{json.dumps(body)}]=]", 'wrk.headers["Content-Type"] = "application/json"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    lines.append(f"""done = function(summary, latency, requests)
  local f = io.open("{out}", "w")
  f:write(string.format('{{"requests": %d, "duration_us": %d, "status_errors": %d, "timeouts": %d, "socket_errors": %d, "p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, "max_us": %.0f, "mean_us": %.1f}}',
    summary.requests, summary.duration, summary.errors.status, summary.errors.timeout,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  f:close()
end""")
    return "\n".join(lines) + "\n"


RUNS = 0


def wrk(path, method="GET", body=None, token=None, conns=1, seconds=WRK_SECONDS):
    global RUNS
    RUNS += 1
    out = os.path.join(RUN, f"wrk-{RUNS}.json")
    script = os.path.join(RUN, f"wrk-{RUNS}.lua")
    with open(script, "w") as f:
        f.write(lua(method, body, token, out))
    subprocess.run(["wrk", "-t", str(min(conns, 2)), "-c", str(conns), "-d", f"{seconds}s", "--timeout", "10s",
                    "-s", script, API + path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=seconds + 60, check=True)
    with open(out) as f:
        r = json.load(f)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def instances(binary):
    """Running instances of a function under cargo lambda watch (`cargo run` starts them as
    target/release/<binary>)."""
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            n += argv0.endswith(f"target/release/{binary}")
    return n


def warm_up(binary, path, method, body, token, conns):
    """cargo lambda watch starts an instance per concurrent request (each through `cargo
    run`, one at a time) up to --concurrency: load until all `conns` instances run, or no
    more start, so that no measured run waits on a start (at most 3 minutes)."""
    deadline, before = time.time() + 180, -1
    while time.time() < deadline:
        wrk(path, method, body, token, conns=conns, seconds=3)
        now = instances(binary)
        if now >= conns or now == before:  # all up, or no start asked for in 3 s
            break
        before = now
    r = wrk(path, method, body, token, conns=conns, seconds=3)
    return instances(binary), r


ROUTES = [
    ("GET /org/get", "org_get", f"/org/get?organization_name={wrk_org['name']}", "GET", None, None),
    ("PUT /org/update (email)", "org_update", "/org/update", "PUT", {"email": f"w.{wrk_org['email']}"},
     wrk_org["token"]),
    ("POST /org/items", "items_create", "/org/items", "POST", ITEM, wrk_org["token"]),
    ("GET /org/items", "items_list", "/org/items", "GET", None, lister["token"]),
]
warm = []
started_instances = {}
for label, binary, path, method, body, token in ROUTES:
    t = time.time()
    n, _ = warm_up(binary, path, method, body, token, 32)
    started_instances[label] = (n, time.time() - t)
    log(f"wrk: {label}: {n} instances up after {time.time() - t:.0f}s of warm-up;"
        f" 1, 8, 32 connections for {WRK_SECONDS}s each")
    for conns in (1, 8, 32):
        r = wrk(path, method, body, token, conns=conns)
        r.update(route=label, conns=conns)
        warm.append(r)
        log(f"  {conns:>2} connections: {r['rps']:7.1f} req/s, p50 {r['p50_us'] / 1000:6.1f} ms,"
            f" p99 {r['p99_us'] / 1000:6.1f} ms, non-2xx {r['status_errors']}")
login_runs = []
log(f"wrk: POST /admin/login (bcrypt cost 12) at 1, 2, 4 connections, {2 * WRK_SECONDS}s each")
login_body = {"email": login_org["email"], "password": PASSWORD}
warm_up("admin_login", "/admin/login", "POST", login_body, None, 4)
for conns in (1, 2, 4):
    r = wrk("/admin/login", "POST", login_body, None, conns=conns, seconds=2 * WRK_SECONDS)
    r.update(conns=conns)
    login_runs.append(r)
    log(f"  {conns} connections: {r['rps']:5.2f} logins/s, p50 {r['p50_us'] / 1000:6.1f} ms, non-2xx {r['status_errors']}")

# ---------------------------------------------------------------------------------------
# Zips, machine, report.

zips = {}
lambda_dir = os.path.join(ROOT, "target", "lambda")
for name in bins:
    path = os.path.join(lambda_dir, name, "bootstrap.zip")
    if os.path.exists(path):
        with zipfile.ZipFile(path) as z:
            raw = z.getinfo("bootstrap").file_size
        zips[name] = {"zip": os.path.getsize(path), "bootstrap": raw,
                      "built": datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
                      .strftime("%Y-%m-%d %H:%M UTC")}

with open(os.path.join(RUN, "handlers.json")) as f:
    crit = json.load(f)
b1 = crit["samples"].get("bcrypt/verify_cost12_1_thread", {}).get("median_ns")
b2 = crit["samples"].get("bcrypt/verify_cost12_2_threads", {}).get("median_ns")
BCRYPT_ROUTES = {"org_create", "admin_login"}  # one bcrypt (hash or verify) per request


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem_total = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
commit = sh("git rev-parse --short HEAD") + (" (uncommitted changes)" if sh("git status --porcelain") else "")

MiB = 1024 * 1024
f1 = lambda x: "-" if x is None else f"{x:.1f}"
f2 = lambda x: "-" if x is None else f"{x:.2f}"
us = lambda ns: "-" if ns is None else f"{ns / 1000:.1f}"
ok = lambda good: "met" if good else "**missed**"

out = []
w = out.append
w(f"Generated by `make bench` (scripts/bench.sh) on {E['BENCH_STARTED']}.\n")
w("| machine | |\n|---|---|")
w(f"| CPU | {cpu_model}, {os.cpu_count()} CPUs (`nproc` {sh('nproc')}) |")
w(f"| memory | {mem_total / 1024 / 1024:.1f} GiB |")
w(f"| system | {platform.system()} {platform.release()} {platform.machine()} |")
w(f"| load average (1, 5, 15 min) | before {E['LOAD_BEFORE']}, after {' '.join(open('/proc/loadavg').read().split()[:3])} |")
w(f"| toolchain | {sh('rustc --version')} |")
w(f"| commit | {commit} |")
w(f"| command | `make bench` (`cargo build --release -p functions`: {E['BUILD_SECONDS']} s) |")
w(f"| database | NX-27017 (MongoDB wire protocol over SQLite), fresh file, loopback |")
w("")

w("### Cold start (release x86_64 binary under a Runtime API emulator; ms)\n")
w(f"{STARTS} starts per function. *process* = spawn to the first log line of a start that stops on its"
  " configuration (exec, tokio, logging); *init* = spawn to the first `GET /invocation/next` (process +"
  " configuration + MongoDB client + runtime); *first* = first event sent to its response (includes the"
  " connection handshake and one-time work); *warm* = the second request of the same process;"
  " *cold* = spawn to first response; *cold − handshake* = cold − (first − warm).\n")
w("| function | cold p50 | cold max | process | init | first | warm | first − warm | cold − handshake | peak RSS MiB | < 50 ms | < 32 MiB |")
w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
for name in bins:
    c = cold[name]
    rows = c["rows"]
    total = med([r["total"] for r in rows])
    first, warm_ms = med([r["first"] for r in rows]), med([r["warm"] for r in rows])
    excl = med([r["total"] - (r["first"] - r["warm"]) for r in rows])
    rss = c["mem"].get("VmHWM", 0) / 1024
    target = ok(excl < 50)
    if name in BCRYPT_ROUTES:
        # The response itself is one bcrypt at cost 12: judge what the cold start adds.
        init = med([r["init"] for r in rows])
        penalty = med([r["total"] - r["warm"] for r in rows])
        target = (f"{ok(init < 50)}: init {init:.1f}; cold − warm {penalty:.1f}, within the jitter of"
                  " the one bcrypt each request does")
    w(f"| {name} | {f1(total)} | {f1(max(r['total'] for r in rows))} | {f1(c['process_init'])} |"
      f" {f1(med([r['init'] for r in rows]))} | {f1(first)} | {f1(warm_ms)} | {f1(first - warm_ms)} | {f1(excl)} |"
      f" {rss:.1f} | {target} | {ok(rss < 32)} |")
w(f"\nPeak RSS is VmHWM of the process after its last start served {BURST + 2} requests"
  f" ({SLOW_BURST + 2} for the routes that hash a password or consume an organization).")
if secrets_row:
    w(f"\nWith `JWT_SECRET` read from Secrets Manager (moto on loopback, `JWT_SECRET_ARN`), `org_get`:"
      f" init {f1(secrets_row['init'])} ms (vs {f1(med([r['init'] for r in cold['org_get']['rows']]))} ms"
      f" from the environment), cold {f1(secrets_row['total'])} ms (max {f1(secrets_row['max'])}).")
else:
    w(f"\nSecrets Manager start not measured: {secrets_note}.")
bad = {n: c["unexpected"] for n, c in cold.items() if c["unexpected"]}
if bad:
    w(f"\n**Unexpected statuses during cold starts:** {bad}")

w("\n### Release arm64 bootstrap zips (target/lambda/, from `make package`)\n")
if zips:
    w("| function | bootstrap MiB | zip MiB | < 8 MiB | built |\n|---|---:|---:|---|---|")
    for name in bins:
        z = zips.get(name)
        if z:
            w(f"| {name} | {z['bootstrap'] / MiB:.2f} | {z['zip'] / MiB:.2f} | {ok(z['zip'] < 8 * MiB)} | {z['built']} |")
        else:
            w(f"| {name} | - | - | no zip: run `make package` | |")
else:
    w("No zips in target/lambda/: run `make package` (cross-builds every function for arm64 and zips it;"
      " tens of minutes on 2 cores), then `make bench` again.")

w("\n### Warm latency and throughput (cargo lambda watch --release --concurrency 32, wrk; ms)\n")
w(f"Each run {WRK_SECONDS} s, after a warm-up at 32 connections that lasts until watch starts no more"
  " instances of the function (it starts each through `cargo run`, one at a time: "
  + ", ".join(f"{k.split(' ')[1]} {n} in {t:.0f} s" for k, (n, t) in started_instances.items())
  + "); loopback; the database, watch, wrk and the functions share the 2 CPUs.\n")
w("| route | connections | requests | req/s | p50 | p90 | p99 | max | non-2xx |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in warm:
    w(f"| {r['route']} | {r['conns']} | {r['requests']} | {r['rps']:.0f} | {r['p50_us'] / 1000:.2f} |"
      f" {r['p90_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} | {r['max_us'] / 1000:.1f} | {r['status_errors'] + r['timeouts']} |")

w("\n### Login (bcrypt cost 12)\n")
if b1 and b2:
    w(f"bcrypt verify at cost 12: {b1 / 1e6:.0f} ms on one thread ({1e9 / b1:.2f}/s);"
      f" two at once on two threads: {b2 / 1e6:.0f} ms ({2e9 / b2:.2f}/s, ×{2 * b1 / b2:.2f}).\n")
w(f"| connections | logins | logins/s | p50 | p99 | non-2xx |\n|---:|---:|---:|---:|---:|---:|")
for r in login_runs:
    w(f"| {r['conns']} | {r['requests']} | {r['rps']:.2f} | {r['p50_us'] / 1000:.0f} | {r['p99_us'] / 1000:.0f} |"
      f" {r['status_errors'] + r['timeouts']} |")
e, u = timing["existing"], timing["unknown"]
w(f"\nLogin time does not tell whether an email exists: {LOGIN_N} attempts of each kind, interleaved, one"
  " `admin_login` process under the emulator, each from its own client IP (all answered 401):\n")
w("| attempt | n | min | p10 | p50 | p90 | max | mean |\n|---|---:|---:|---:|---:|---:|---:|---:|")
for label, xs in (("existing email, wrong password", e), ("unknown email (dummy hash)", u)):
    w(f"| {label} | {len(xs)} | {min(xs):.1f} | {pct(xs, 0.1):.1f} | {pct(xs, 0.5):.1f} | {pct(xs, 0.9):.1f} |"
      f" {max(xs):.1f} | {statistics.mean(xs):.1f} |")
diff = pct(e, 0.5) - pct(u, 0.5)
w(f"\nDifference of the medians: {diff:+.1f} ms ({100 * diff / pct(u, 0.5):+.1f} %).")

FLOOR = {
    ("org_get", "found"): 1, ("org_get", "not found"): 1, ("health", "healthy"): 1,
    ("items_list", "first page"): 2, ("items_get", "found"): 2, ("items_get", "not found"): 2,
    ("items_create", "create"): 2, ("items_delete", "deleted"): 2, ("org_update", "email"): 2,
    ("org_update", "email (again)"): 2, ("org_update", "password"): 2, ("admin_logout", "logout"): 2,
    ("org_update", "rename"): 4, ("org_delete", "delete"): 4, ("org_create", "create"): 3,
    ("admin_login", "success"): 5, ("admin_login", "wrong password"): 3, ("admin_login", "unknown email"): 3,
    ("docs", "openapi.json"): 0, ("dashboard", "page"): 0, ("not_found", "any path"): 0,
    ("items_get", "bad token (401)"): 0,
}
w("\n### Database round trips per request (commands counted by the store's client)\n")
w("One request of each kind after a warm-up request, in-process against the local server"
  " (`Store::round_trips`). *floor* is the least this design needs (see Findings).\n")
w("| route | case | round trips | status | floor |\n|---|---|---:|---:|---:|")
for r in crit["round_trips"]:
    floor = FLOOR.get((r["route"], r["case"]))
    mark = "" if floor is None or r["round_trips"] <= floor else " ⚠"
    w(f"| {r['route']} | {r['case']} | {r['round_trips']}{mark} | {r['status']} |"
      f" {'' if floor is None else floor} |")

w("\n### In-process handler cost, database excluded (criterion, µs per request, medians)\n")
w("*cpu* = CPU time of the bench process per handler call on a single-threaded runtime (waiting for"
  " the server is not CPU time; the driver's BSON and socket work is counted); *cpu − commands* = cpu"
  " minus the CPU time of the same commands sent bare through the driver (what the handler itself"
  " costs); *wall* = the same calls in wall-clock time; *wall − commands* = wall minus the bare"
  " commands, each timed alone; *wall − ping × n* = wall minus the ping time per command.\n")
w("*cpu − commands* is paired: each handler call is followed by its commands sent bare, and the"
  " median of the per-call differences is shown. The target column judges it (the handler without"
  " its database commands and the driver work they need); *n/a*: no bare-command baseline for that"
  " route (rename, delete).\n")
w("| handler | cpu | cpu − commands | wall | wall − commands | wall − ping × n | < 100 µs |\n"
  "|---|---:|---:|---:|---:|---:|---|")
for name, h in crit["handlers"].items():
    own = h.get("cpu_minus_commands_cpu_ns")
    if h.get("commands") == 0:
        own = h["cpu_ns"]
    w(f"| {name} | {us(h['cpu_ns'])} | {us(own)} | {us(h['wall_ns'])} |"
      f" {us(h['wall_minus_commands_ns'])} | {us(h['wall_minus_ping_x_commands_ns'])} |"
      f" {'n/a' if own is None else ok(own < 100_000)} |")
w("\nThe pure per-request parts (wall clock, no database):\n")
w("| part | µs |\n|---|---:|")
for k, v in crit["samples"].items():
    if k.startswith("pure/"):
        w(f"| {k[5:]} | {v['median_ns'] / 1000:.2f} |")
w("\nThe bare commands (one driver call each; µs):\n")
w("| command | wall | cpu |\n|---|---:|---:|")
for k, v in crit["samples"].items():
    if k.startswith("db/"):
        c = crit["samples"].get("dbcpu/" + k[3:], {}).get("median_ns")
        w(f"| {k[3:]} | {v['median_ns'] / 1000:.1f} | {us(c)} |")

report = "\n".join(out) + "\n"
print("\n" + report)

path = os.path.join(ROOT, "BENCHMARKS.md")
BEGIN, END = "<!-- bench:begin (written by scripts/bench.sh) -->", "<!-- bench:end -->"
if os.path.exists(path):
    text = open(path).read()
else:
    text = ("# Benchmarks\n\n`make bench` measures; this file is its last run. The Findings are"
            " written by hand after reading the numbers.\n\n## Findings\n\n(to be written)\n\n"
            "## Measurements\n\n" + BEGIN + "\n" + END + "\n")
if BEGIN in text and END in text:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    text = head + BEGIN + "\n" + report + END + tail
else:
    text = text.rstrip("\n") + "\n\n## Measurements\n\n" + BEGIN + "\n" + report + END + "\n"
with open(path, "w") as f:
    f.write(text)
log("wrote BENCHMARKS.md")
PY
log "bench done in $((SECONDS / 60))m$((SECONDS % 60))s"
