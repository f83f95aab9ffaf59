"""Runs the whole API locally, on the deployed paths: the local MongoDB-compatible server
(unless MONGODB_URI is set), `cargo lambda watch` as the API Gateway and Lambda Runtime
API emulator, and the function processes, started here rather than by the emulator.

Why the functions are started here (`cargo lambda watch --only-lambda-apis`), as found in
cargo-lambda 1.9.2's source and by experiment:

- The emulator answers a function's response POST with 200 before it has read the body
  (cargo-lambda's `functions_router.rs`; AWS's Runtime API answers 202 once it has it),
  and the runtime's HTTP client may then cut a body over ~16 KB. So the functions talk to
  the emulator through `runtime-proxy` (tools/src/bin/runtime-proxy.rs, a native dev
  tool of the workspace, never deployed), which reads each body whole before it passes
  it on and acknowledges it, as AWS does.
- With `--concurrency N` the emulator never sees its instances become idle (it keys them
  by one id and the Runtime API by another), so it keeps starting processes (8 per
  function at the first request) and never reaps them.
- Its `--timeout` applies to the functions' long polls of the Runtime API as well: it
  answers them 408 without a request id, and the runtime panics. It is not used.

Nothing the stack starts outlives it: each child is asked by the kernel to die with the
stack (PR_SET_PDEATHSIG), also when the stack itself is killed, and a closed terminal
(SIGHUP) stops the stack as Ctrl-C does. A stack that finds the children of an earlier
one in its folder (their pids in DIR/children) stops them before it starts.

Here each function gets a fixed number of processes (`--instances`), each polling the
Runtime API for the next request: N concurrent requests to one function are served by
N processes, one at a time each, as N Lambda instances would serve them. The
emulator's default function `_`, which gets any method the router table does not list
for a known path, is served by the `fallback` binary, as API Gateway's `$default` route
is: it answers 405 with `Allow`.

The stack also plays template.yaml's EventBridge schedules: it invokes the `dispatcher`
function through the emulator, and again as soon as a run ends (each run polls for
DISPATCH_SECONDS, 10 by default here), so the email the routes queue is sent within
about a second, as `.eml` files in the mail folder (MAIL_DIR; `make run`: .local/mail);
and the `purge` function every minute.

Usage (foreground; Ctrl-C or SIGTERM stops everything it started):
    python3 scripts/stack.py --dir DIR [--port 9000] [--instances 1] [--profile debug | --bin-dir DIR]
        [--mongo-db FILE] [--mongo-port N] [--mail-dir DIR] [--env KEY=VALUE ...] [--env-file FILE]
The functions get the stack's environment, then the stack's settings (where the
environment does not set them: MAIL_DIR, APP_URL, DISPATCH_SECONDS), then --env and
--env-file. When the API answers, DIR/stack.env holds API_URL, API_PORT, API_LOG,
MONGODB_URI, MASTER_DB, TENANT_DB, JWT_SECRET and MAIL_DIR as shell assignments, and
DIR/pids the process ids of the function processes, one `function pid` per line.
"""

from __future__ import annotations

import argparse
import ctypes
import json
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


def runtime_proxy(bin_dir: Path) -> Path:
    """The Runtime API proxy binary: beside the functions, else in a build of it."""
    for candidate in (bin_dir / "runtime-proxy", ROOT / "target" / "debug" / "runtime-proxy",
                      ROOT / "target" / "release" / "runtime-proxy"):
        if candidate.exists():
            return candidate
    raise SystemExit("stack: runtime-proxy is not built (cargo build -p devtools)")


def functions() -> list[str]:
    """Every Lambda binary: one file per function in functions/src/bin/."""
    return sorted(p.stem for p in (ROOT / "functions" / "src" / "bin").glob("*.rs"))


PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> None:
    """In a child, before it runs: the kernel kills it when the stack goes, however the
    stack goes (SIGKILL included). A stack gone already means exit now."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def stop_leftovers(record: Path) -> None:
    """Stops the children that an earlier stack in this folder left running (one that
    was killed before its children were asked to die with it), by the pids it wrote,
    where each pid still runs the same command line."""
    if not record.exists():
        return
    for line in record.read_text().splitlines():
        pid_text, _, cmdline = line.partition(" ")
        try:
            pid = int(pid_text)
            if Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip() \
                    == cmdline.encode().strip():
                os.killpg(pid, signal.SIGKILL)
                print(f"stack: stopped {cmdline} (pid {pid}), left by an earlier stack",
                      file=sys.stderr, flush=True)
        except (ValueError, OSError):
            pass
    record.unlink()


class Stack:
    """The processes of one local API, stopped together."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.procs: list[subprocess.Popen] = []
        self.log = (run_dir / "api.log").open("ab", buffering=0)
        self.record = run_dir / "children"
        stop_leftovers(self.record)

    def start(self, argv: list[str], env: dict[str, str] | None = None,
              log: Path | None = None, stdout: int | None = None) -> subprocess.Popen:
        out = log.open("ab") if log else self.log
        parent = os.getpid()
        # A session of its own: a signal meant for the terminal reaches the stack alone,
        # which stops its children in order.
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout or out,
                                stderr=out if stdout else subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=lambda: die_with(parent))
        self.procs.append(proc)
        with self.record.open("a") as f:
            f.write(f"{proc.pid} {' '.join(map(str, argv))}\n")
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
        self.record.unlink(missing_ok=True)


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


def migrate(stack: Stack, url: str, env: dict[str, str], binary: Path) -> subprocess.Popen:
    """Runs the deploy-time step once, as Lambda would: the `migrate` function invoked
    through the emulator. The other functions refuse to start without its indexes. Its
    process stays, for `make import` (an invocation with an `import` event)."""
    proc = stack.start([str(binary)], env)
    request = urllib.request.Request(
        f"{url}/2015-03-31/functions/migrate/invocations", data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            print(f"stack: migrate: {reply.read().decode()[:200]}", file=sys.stderr, flush=True)
    except BaseException:
        proc.terminate()
        proc.wait()
        stack.procs.remove(proc)
        raise
    return proc


SCHEDULED_EVENT = json.dumps({
    "version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
    "account": "123456789012", "region": "us-east-1", "detail": {},
}).encode()


def play_schedule(url: str, function: str, period: float, limit: float,
                  stop: threading.Event) -> None:
    """Invokes `function` as template.yaml's schedule does, one run after another and
    never more often than once per `period` seconds, until `stop` is set. A run that has
    not ended after `limit` seconds is left to itself and the next one starts, as the
    schedule on AWS fires whatever became of the last run: an invocation whose process
    died can stay unanswered by the emulator."""

    def invoke() -> None:
        request = urllib.request.Request(
            f"{url}/2015-03-31/functions/{function}/invocations", data=SCHEDULED_EVENT,
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=900) as reply:
                reply.read()
        except (urllib.error.URLError, OSError) as err:
            if not stop.is_set():
                print(f"stack: {function} run failed: {err}", file=sys.stderr, flush=True)

    while not stop.is_set():
        started = time.monotonic()
        run = threading.Thread(target=invoke, daemon=True)
        run.start()
        run.join(limit)
        if run.is_alive() and not stop.is_set():
            print(f"stack: {function} run unanswered after {limit:.0f} s; starting the next",
                  file=sys.stderr, flush=True)
        stop.wait(max(0.0, period - (time.monotonic() - started)))


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
    parser.add_argument("--mail-dir", type=Path, help="where the functions write email "
                        "(default: DIR/mail; ignored when MAIL_DIR is in the environment)")
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
    # A closed terminal (SIGHUP) stops the stack as SIGTERM and Ctrl-C do.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(0))
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
        # Settings the caller's environment may set instead (`make run` passes it on).
        defaults = {
            "MAIL_DIR": str((args.mail_dir or run_dir / "mail").resolve()),
            "DISPATCH_SECONDS": "10",
        }
        app_env.update({k: v for k, v in defaults.items() if k not in os.environ})
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
        proxy = stack.start([str(runtime_proxy(bin_dir)), "--listen", "0",
                             "--upstream", str(port)], stdout=subprocess.PIPE)
        proxy_port = int(proxy.stdout.readline())
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
        url = f"http://127.0.0.1:{port}"
        if "APP_URL" not in os.environ and not any(p.startswith("APP_URL=") for p in args.env):
            app_env["APP_URL"] = f"{url}/dashboard"

        def lambda_env(name: str) -> dict[str, str]:
            return base_env | app_env | {
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{proxy_port}/.rt/{name}",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            }

        migrator = migrate(stack, url, lambda_env("migrate"), bin_dir / "migrate")
        instances: dict[subprocess.Popen, tuple[str, dict[str, str]]] = {
            migrator: ("migrate", lambda_env("migrate"))}
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
        schedule_stop = threading.Event()
        # The dispatcher's runs each poll for DISPATCH_SECONDS: back to back. The purge
        # (hourly on AWS) every minute.
        dispatch = float((base_env | app_env).get("DISPATCH_SECONDS", "10"))
        for function, period, limit in (("dispatcher", 1.0, dispatch + 20), ("purge", 60.0, 300)):
            threading.Thread(target=play_schedule,
                             args=(url, function, period, limit, schedule_stop),
                             daemon=True).start()
        exported = app_env | {"API_URL": url, "API_PORT": str(port),
                              "API_LOG": str(run_dir / "api.log"),
                              "MAIL_DIR": (base_env | app_env).get("MAIL_DIR", "")}
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
