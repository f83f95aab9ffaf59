"""Runs the whole API locally, on the deployed paths: the local MongoDB-compatible server
(unless MONGODB_URI is set), `cargo lambda watch` as the API Gateway and Lambda Runtime
API emulator, and the function processes, started here rather than by the emulator.

Why the functions are started here (`cargo lambda watch --only-lambda-apis`), as found in
cargo-lambda 1.9.2's source and by experiment:

- The emulator answers a function's response POST with 200 before it has read the body
  (AWS's Runtime API answers 202 once it has it). The runtime's HTTP client (hyper, in
  lambda_runtime 1.x) takes the early answer as the end of the exchange and may drop
  the connection while the rest of a body larger than the ~16 KB the socket took at
  once is still unsent: the body is cut, and the emulator answers the client with its
  own text/plain 500, or never answers. So the functions talk to the emulator through
  a small proxy here ([`RuntimeProxy`]) that reads each response body whole before it
  passes it on and acknowledges it, as AWS does.
- With `--concurrency N` the emulator never sees its instances become idle (it keys them
  by one id and the Runtime API by another), so it keeps starting processes (8 per
  function at the first request) and never reaps them.
- Its `--timeout` applies to the functions' long polls of the Runtime API as well: it
  answers them 408 without a request id, and the runtime panics. It is not used.

Here each function gets a fixed number of processes (`--instances`), each polling the
Runtime API for the next request: N concurrent requests to one function are served by
N processes, one at a time each, as N Lambda instances would serve them. The
emulator's default function `_`, which gets any method the router table does not list
for a known path, is served by the `fallback` binary, as API Gateway's `$default` route
is: it answers 405 with `Allow`.

Usage (foreground; Ctrl-C or SIGTERM stops everything it started):
    python3 scripts/stack.py --dir DIR [--port 9000] [--instances 1] [--profile debug | --bin-dir DIR]
        [--mongo-db FILE] [--mongo-port N] [--env KEY=VALUE ...] [--env-file FILE]
When the API answers, DIR/stack.env holds API_URL, API_PORT, API_LOG, MONGODB_URI,
MASTER_DB, TENANT_DB and JWT_SECRET as shell assignments, and DIR/pids the process ids
of the function processes, one `function pid` per line.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".local" / "venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, limit: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"stack: the process for port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"stack: nothing listens on port {port} after {limit:.0f}s")


def functions() -> list[str]:
    """Every Lambda binary: one file per function in functions/src/bin/."""
    return sorted(p.stem for p in (ROOT / "functions" / "src" / "bin").glob("*.rs"))


class Upstream(http.client.HTTPConnection):
    """A connection to the emulator that sends each write at once (see ProxyHandler)."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class RuntimeProxy(http.server.ThreadingHTTPServer):
    """Passes the functions' Runtime API calls to the emulator, each request body read
    whole first, over connections that are kept open and used again (a function's next
    call goes over the connection of its last one, so the emulator, which reads the
    rest of a body only as the next request on its connection comes in, always gets
    every byte, and no connection closes on a body it has not read)."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.idle: dict[str, list[http.client.HTTPConnection]] = {}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def take(self, function: str) -> http.client.HTTPConnection:
        """The function's connection used last, or a new one."""
        with self.lock:
            idle = self.idle.get(function)
            if idle:
                return idle.pop()
        return Upstream("127.0.0.1", self.upstream_port)

    def give_back(self, function: str, conn: http.client.HTTPConnection) -> None:
        with self.lock:
            self.idle.setdefault(function, []).append(conn)


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    """One Runtime API call: the long poll for the next event, or a result."""

    protocol_version = "HTTP/1.1"
    server: RuntimeProxy

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm on, the second
        # waits for the peer's delayed ACK: 40 ms per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        function = self.path.split("/")[2] if self.path.startswith("/.rt/") else "_"
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "content-length")}
        # A long poll whose connection the emulator drops (as it does when a client
        # hangs up) is polled again: a runtime given anything but an event panics.
        for attempt in range(100):
            upstream = self.server.take(function)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                reply = upstream.getresponse()
                data = reply.read()
                break
            except (OSError, http.client.HTTPException) as err:
                upstream.close()
                if self.command != "GET" or attempt == 99:
                    self.send_error(502, f"emulator: {err}")
                    return
                time.sleep(0.05)
        if reply.will_close:
            upstream.close()
        else:
            self.server.give_back(function, upstream)
        if reply.status >= 500 and self.command == "POST":
            # The emulator could not hand a response on (its client hung up). AWS's
            # Runtime API takes a response whatever became of the caller; the runtime,
            # given a 500 here, gets a next event without a request id and panics.
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the function went away (stopped); the emulator has what it needs

    do_GET = do_POST = forward

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the emulator and the functions log what matters."""


class Stack:
    """The processes of one local API, stopped together."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.procs: list[subprocess.Popen] = []
        self.log = (run_dir / "api.log").open("ab", buffering=0)

    def start(self, argv: list[str], env: dict[str, str] | None = None,
              log: Path | None = None) -> subprocess.Popen:
        out = log.open("ab") if log else self.log
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def mongo(stack: Stack, db: Path, port: int) -> str:
    """MONGODB_URI, or a local server on the file `db` (single-file mode, with our fix)."""
    if os.environ.get("MONGODB_URI"):
        return os.environ["MONGODB_URI"]
    port = port or free_port()
    db.parent.mkdir(parents=True, exist_ok=True)
    proc = stack.start([str(VENV_BIN / "python"), str(ROOT / "scripts" / "local_mongo.py"),
                        "--db", str(db), "-p", str(port), "--log-file", f"{db}.log",
                        "--pid-file", f"{db}.pid"], log=db.parent / "mongo.out")
    wait_port(port, 30, proc)
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


def healthy(url: str, limit: float) -> bool:
    """Waits (one request at a time, each with the whole time left) for GET /health."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=max(1, deadline - time.monotonic())):
                return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    return False


def migrate(stack: Stack, url: str, env: dict[str, str], binary: Path) -> None:
    """Runs the deploy-time step once, as Lambda would: the `migrate` function invoked
    through the emulator. The other functions refuse to start without its indexes."""
    proc = stack.start([str(binary)], env)
    try:
        request = urllib.request.Request(
            f"{url}/2015-03-31/functions/migrate/invocations", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=60) as reply:
            print(f"stack: migrate: {reply.read().decode()[:200]}", file=sys.stderr, flush=True)
    finally:
        proc.terminate()
        proc.wait()
        stack.procs.remove(proc)


def write_pids(run_dir: Path, instances: dict[subprocess.Popen, tuple[str, dict]]) -> None:
    (run_dir / "pids").write_text("".join(f"{name} {proc.pid}\n"
                                          for proc, (name, _) in instances.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="logs, data and stack.env")
    parser.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    parser.add_argument("--instances", type=int, default=1,
                        help="processes per function (0: the database alone)")
    parser.add_argument("--profile", default="debug", help="cargo profile of the binaries")
    parser.add_argument("--bin-dir", type=Path,
                        help="the binaries' folder (default: target/PROFILE)")
    parser.add_argument("--mongo-db", type=Path, help="data file of the local server "
                        "(default: DIR/mongo.db; ignored when MONGODB_URI is set)")
    parser.add_argument("--mongo-port", type=int, default=0, help="its port (default: free)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of the functions (overrides the defaults)")
    parser.add_argument("--env-file", type=Path, help="more of it, KEY=VALUE per line "
                        "(for secrets, which do not belong on a command line)")
    args = parser.parse_args()
    os.umask(0o077)  # stack.env holds the JWT secret
    run_dir: Path = args.dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = (args.bin_dir or ROOT / "target" / args.profile).resolve()
    missing = [f for f in functions() if not (bin_dir / f).exists()]
    if missing:
        raise SystemExit(f"stack: not built: {', '.join(missing)} (cargo build -p functions)")

    stack = Stack(run_dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        suffix = secrets.token_hex(4)
        app_env = {
            "MONGODB_URI": mongo(stack, (args.mongo_db or run_dir / "mongo.db").resolve(),
                                 args.mongo_port),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "MASTER_DB": f"master_{suffix}",
            "TENANT_DB": f"tenants_{suffix}",
            "BCRYPT_COST": "4",
            "RUST_LOG": "info",
        }
        lines = args.env_file.read_text().splitlines() if args.env_file else []
        app_env.update(p.split("=", 1) for p in args.env + lines if "=" in p)
        if args.instances == 0:
            # The database alone, for in-process tests.
            (run_dir / "stack.env").write_text(
                "".join(f"export {k}={shlex.quote(v)}\n" for k, v in app_env.items()))
            while True:
                time.sleep(3600)
        port = args.port or free_port()
        # No --timeout: the emulator applies it to the functions' long polls of the
        # Runtime API too, answers them 408 without a request id, and the runtime panics.
        emulator = stack.start([str(VENV_BIN / "cargo-lambda"), "lambda", "watch",
                                "--only-lambda-apis", "--invoke-address", "127.0.0.1",
                                "--invoke-port", str(port)], log=run_dir / "emulator.log")
        wait_port(port, 60, emulator)
        proxy = RuntimeProxy(port)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
        url = f"http://127.0.0.1:{port}"

        def lambda_env(name: str) -> dict[str, str]:
            return base_env | app_env | {
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{proxy.port}/.rt/{name}",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            }

        migrate(stack, url, lambda_env("migrate"), bin_dir / "migrate")
        instances: dict[subprocess.Popen, tuple[str, dict[str, str]]] = {}
        for name in [*functions(), "_"]:
            if name == "migrate":
                continue
            binary = "fallback" if name == "_" else name
            env = lambda_env(name)
            for _ in range(args.instances):
                instances[stack.start([str(bin_dir / binary)], env)] = (binary, env)
        if not healthy(url, 60):
            raise SystemExit(f"stack: {url}/health did not answer; see {run_dir}/api.log")
        write_pids(run_dir, instances)
        exported = app_env | {"API_URL": url, "API_PORT": str(port),
                              "API_LOG": str(run_dir / "api.log")}
        (run_dir / "stack.env").write_text(
            "".join(f"export {k}={shlex.quote(v)}\n" for k, v in exported.items()))
        print(f"stack: API on {url} ({args.instances} process(es) per function; "
              f"logs in {run_dir}/api.log)", file=sys.stderr, flush=True)
        while True:
            for proc in [p for p in stack.procs if p.poll() is not None]:
                if proc not in instances:
                    raise SystemExit(f"stack: {' '.join(map(str, proc.args))} exited "
                                     f"with {proc.returncode}; see {run_dir}/emulator.log")
                # As Lambda does: a new instance replaces one that died.
                binary, env = instances.pop(proc)
                stack.procs.remove(proc)
                print(f"stack: {binary} exited with {proc.returncode}; starting another",
                      file=sys.stderr, flush=True)
                instances[stack.start([str(bin_dir / binary)], env)] = (binary, env)
                write_pids(run_dir, instances)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
