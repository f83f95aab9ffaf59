"""`make chaos`: a storm on the local stack, then an audit of what is left.

For CHAOS_SECONDS (60 by default), CHAOS_CLIENTS clients (8) each run a mix against a
stack with 2 processes per function: creates with `Idempotency-Key` (retried until
answered, as a real client does), item writes with a key (retried likewise) and
deletes, renames, invitations and accepts, role changes, logins, reads, and now and
then a delete of the organization and a new one. Each organization has a webhook
endpoint on a receiver here. Meanwhile a random function process is killed (SIGKILL)
every ~2 s (the stack starts another, as Lambda would), the database server is killed
and started again every ~20 s, and one more client sends malformed requests.

Then every organization must answer within 10 s, and the database is read directly:
- every acknowledged item is present exactly once, in its organization's collection;
  an acknowledged delete left nothing, in any collection;
- every registry entry's collection exists, and every `org_*` collection has an entry;
- every organization has an owner, and no membership names a missing account;
- every acknowledged change has its audit event (outcome success), and a webhook
  delivery of that event;
- no organization is left with an operation in flight (`pending`);
- no answer was a 5xx other than 503 (the database away) or 502/504 (a killed process).

Prints the run's counts (JSON with --json FILE), one line per invariant and a closing
"N passed, M failed". The seed (CHAOS_SEED, else random) is printed: a failing run is
replayed with the same seed (the timing differs, the mix does not).

    .local/venv/bin/python scripts/chaos.py --dir DIR [--seconds 60] [--clients 8]
        [--seed N] [--json FILE] [--write BENCHMARKS.md] [--profile debug]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
from bench.receiver import Receiver
from bench.report import write_section

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".local" / "venv" / "bin" / "python"
PASSWORD = "Passw0rd1"
ALLOWED_5XX = {502, 503, 504}
# The emulator's answer where API Gateway's is 502: the function process died (killed,
# or its cold start failed while the database was away). The service's own 500 has
# `detail`; this one is cargo-lambda's problem document.
EMULATOR_502 = "https://httpstatuses.com/500"
# Changes made before the endpoint existed, or that removed it.
UNDELIVERED = {"organization.created", "organization.deleted"}
# How long a client keeps retrying one write before it gives up on it (unacknowledged):
# longer than a create's lease (60 s), after which an abandoned one is rolled back.
RETRY_SECONDS = 90


class Stats:
    """The run's counts and violations, shared by every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.fivexx: Counter[str] = Counter()
        self.violations: list[str] = []

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def status(self, method: str, path: str, status: int, text: str) -> None:
        with self.lock:
            self.counts["requests"] += 1
            if status == 0:
                self.fivexx["no answer (connection cut or timeout)"] += 1
            elif status == 500 and EMULATOR_502 in text:
                self.fivexx["502 (a function process died; the local emulator says 500)"] += 1
            elif status >= 500:
                self.fivexx[str(status)] += 1
                if status not in ALLOWED_5XX:
                    self.violations.append(f"{method} {path} answered {status}: {text[:300]}")

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)


@dataclass
class Org:
    """One organization a client made, as the client knows it."""

    id: str
    name: str
    email: str
    token: str = ""
    items: set[str] = field(default_factory=set)          # acknowledged, not deleted
    deleted_items: set[str] = field(default_factory=set)  # acknowledged deletes
    unsure_items: set[str] = field(default_factory=set)   # a delete without an answer
    members: dict[str, str] = field(default_factory=dict)  # user id -> role
    hooked: bool = False  # its webhook endpoint was made (answered 201)
    name_unsure: bool = False
    deleted: bool = False
    # (action, target id) of every acknowledged change, for the audit check.
    changes: list[tuple[str, str]] = field(default_factory=list)


class Api:
    """HTTP calls that record every status in the stats."""

    def __init__(self, url: str, stats: Stats) -> None:
        self.url = url
        self.stats = stats

    def call(self, method: str, path: str, body: object = None, token: str = "",
             headers: dict[str, str] | None = None, raw: bytes | None = None,
             ) -> tuple[int, dict, dict]:
        h = {"content-type": "application/json", **(headers or {})}
        if token:
            h["authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(request, timeout=20) as reply:
                status, text, got = reply.status, reply.read(), reply.headers
        except urllib.error.HTTPError as err:
            status, text, got = err.code, err.read(), err.headers
        except (urllib.error.URLError, OSError):
            self.stats.status(method, path, 0, "")
            return 0, {}, {}
        self.stats.status(method, path, status, text.decode(errors="replace"))
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = {}
        return (status, parsed if isinstance(parsed, dict) else {},
                {k.lower(): v for k, v in got.items()})


def retryable(status: int) -> bool:
    return status == 0 or status >= 500 or status == 409


class Client:
    """One client's mix, on organizations of its own."""

    def __init__(self, n: int, seed: int, url: str, stats: Stats, receiver: Receiver,
                 stop: threading.Event) -> None:
        self.n = n
        self.rng = random.Random(seed * 1000 + n)
        self.api = Api(url, stats)
        self.stats = stats
        self.receiver = receiver
        self.stop = stop
        self.orgs: list[Org] = []
        self.org: Org | None = None

    def ack(self, org: Org, action: str, target: str) -> None:
        """An acknowledged change: its audit event (and delivery) must exist afterwards."""
        org.changes.append((action, target))
        self.stats.add("acknowledged writes")

    def unique(self, prefix: str) -> str:
        return f"{prefix}{self.n}_{self.rng.getrandbits(40):010x}"

    def retry(self, send) -> tuple[int, dict, dict]:
        """Sends until an answer that is not worth retrying, or RETRY_SECONDS pass."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            status, body, headers = send()
            if not retryable(status) or time.monotonic() > deadline:
                return status, body, headers
            self.stats.add("retries")
            time.sleep(float(headers.get("retry-after", "0.3") or 0.3) if status == 409 else 0.3)

    def login(self, org: Org) -> bool:
        status, body, _ = self.retry(lambda: self.api.call(
            "POST", "/admin/login", {"email": org.email, "password": PASSWORD,
                                     "organization_name": org.name}))
        if status == 200:
            org.token = body["access_token"]
            return True
        if status in (401, 403, 404) and org.name_unsure:
            # A rename without an answer: the login without a name finds the first one.
            status, body, _ = self.retry(lambda: self.api.call(
                "POST", "/admin/login", {"email": org.email, "password": PASSWORD}))
            if status == 200:
                org.token, org.name, org.name_unsure = (body["access_token"],
                                                        body["organization_name"], False)
                return True
        return False

    def create(self) -> None:
        name = self.unique("chaos")
        email = f"{name}@example.com"
        key = str(uuid.uuid4())
        body = {"organization_name": name, "email": email, "password": PASSWORD}
        status, reply, _ = self.retry(lambda: self.api.call(
            "POST", "/org/create", body, headers={"Idempotency-Key": key}))
        if status != 201:
            if status not in (0, 502, 503, 504):
                self.stats.violation(f"create {name} with a key answered {status}: {reply}")
            return
        org = Org(reply["id"], name, email)
        self.ack(org, "organization.created", org.id)
        self.orgs.append(org)
        self.org = org
        if not self.login(org):
            return
        status, _, _ = self.retry(lambda: self.api.call(
            "POST", "/org/webhooks", {"url": self.receiver.url, "events": ["*"]}, org.token))
        org.hooked = status == 201

    def item_create(self, org: Org) -> None:
        key = str(uuid.uuid4())
        data = {"client": self.n, "k": key}
        status, reply, _ = self.retry(lambda: self.api.call(
            "POST", "/org/items", data, org.token, headers={"Idempotency-Key": key}))
        if status == 201:
            org.items.add(reply["id"])
            self.ack(org, "item.created", reply["id"])

    def item_delete(self, org: Org) -> None:
        if not org.items:
            return
        item = self.rng.choice(sorted(org.items))
        status, _, _ = self.api.call("DELETE", f"/org/items/{item}", token=org.token)
        if status == 204:
            org.items.discard(item)
            org.deleted_items.add(item)
            self.ack(org, "item.deleted", item)
        elif status == 404:
            self.stats.violation(f"acknowledged item {item} of {org.name}: DELETE says 404")
            org.items.discard(item)
        elif status != 401:
            org.items.discard(item)
            org.unsure_items.add(item)

    def rename(self, org: Org) -> None:
        new = self.unique("chaos")
        status, _, _ = self.api.call("PUT", "/org/update", {"organization_name": new}, org.token)
        if status == 200:
            org.name, org.name_unsure = new, False
            self.ack(org, "organization.renamed", org.id)
        elif retryable(status):
            org.name_unsure = True

    def invite(self, org: Org) -> None:
        email = f"{self.unique('m')}@example.com"
        status, reply, _ = self.api.call("POST", "/org/invitations",
                                         {"email": email, "role": "member"}, org.token)
        if status != 201:
            return
        token = reply["token"]
        status, reply, _ = self.retry(lambda: self.api.call(
            "POST", "/invitations/accept", {"token": token, "password": PASSWORD}))
        if status == 200:
            org.members[reply["admin_id"]] = "member"
            self.ack(org, "invitation.accepted", reply["admin_id"])

    def role(self, org: Org) -> None:
        if not org.members:
            return
        user = self.rng.choice(sorted(org.members))
        role = self.rng.choice(["member", "admin"])
        status, _, _ = self.api.call("PATCH", f"/org/members/{user}", {"role": role}, org.token)
        if status == 200:
            before, org.members[user] = org.members[user], role
            # (The same role again changes nothing, and has no event.)
            if before not in (role, "unsure"):
                self.ack(org, "member.role_changed", user)
        elif retryable(status):
            org.members[user] = "unsure"

    def delete(self, org: Org) -> None:
        status, _, _ = self.retry(lambda: self.api.call("DELETE", "/org/delete", token=org.token))
        if status in (204, 401):
            # 401 after a retry: an earlier attempt deleted it.
            org.deleted = True
            self.ack(org, "organization.deleted", org.id)
            self.org = None

    def read(self, org: Org) -> None:
        path = self.rng.choice(["/org/me", "/org/items?limit=5", "/org/members?limit=5"])
        self.api.call("GET", path, token=org.token)

    def run(self) -> None:
        ops = [(self.item_create, 35), (self.item_delete, 10), (self.read, 15),
               (self.rename, 6), (self.invite, 10), (self.role, 10),
               (lambda org: self.login(org), 12), (self.delete, 2)]
        while not self.stop.is_set():
            if self.org is None:
                self.create()
                continue
            org = self.org
            if not org.token and not self.login(org):
                continue
            op = self.rng.choices([o for o, _ in ops], [w for _, w in ops])[0]
            self.stats.add("operations")
            op(org)
            if org.token and self.stop.is_set():
                break


MALFORMED = [
    b"{", b"[]", b"null", b"\xff\xfe", b'{"organization_name": 5}', b'{"email": []}',
    b'{"a": ' * 200 + b"1" + b"}" * 200, json.dumps({"x": "y" * 200_000}).encode(),
    b'{"$where": "1"}', b'{"role": "king"}', b'{"token": {"$ne": null}, "password": 1}',
    b'{"organization_name": "../../etc"}', b'{"url": "file:///etc/passwd", "events": 3}',
]
MALFORMED_ROUTES = [
    ("POST", "/org/create"), ("POST", "/admin/login"), ("POST", "/org/items"),
    ("PUT", "/org/update"), ("PATCH", "/org/members/zzz"), ("POST", "/org/invitations"),
    ("POST", "/invitations/accept"), ("GET", "/org/items?limit=abc&after=%00"),
    ("GET", "/org/items/not-an-id"), ("POST", "/org/webhooks"), ("DELETE", "/org/items/$"),
]


def malformed(url: str, stats: Stats, clients: list[Client], seed: int,
              stop: threading.Event) -> None:
    """Sends malformed requests, some with a good token: never a 500."""
    rng = random.Random(seed)
    api = Api(url, stats)
    while not stop.is_set():
        method, path = rng.choice(MALFORMED_ROUTES)
        orgs = [c.org for c in clients if c.org is not None and c.org.token]
        token = rng.choice(orgs).token if orgs and rng.random() < 0.5 else ""
        api.call(method, path, token=token, raw=rng.choice(MALFORMED))
        stats.add("malformed requests")
        time.sleep(0.05)


class Database:
    """The local server, killed and started again on the same file and port."""

    def __init__(self, run_dir: Path, port: int) -> None:
        self.argv = [str(PYTHON), str(ROOT / "scripts" / "local_mongo.py"),
                     "--db", str(run_dir / "mongo.db"), "-p", str(port),
                     "--log-file", str(run_dir / "mongo.db.log"),
                     "--pid-file", str(run_dir / "mongo.db.pid")]
        self.out = (run_dir / "mongo.out").open("ab")
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                pymongo.MongoClient(self.uri(), serverSelectionTimeoutMS=500).admin.command("ping")
                return
            except pymongo.errors.PyMongoError:
                time.sleep(0.1)
        raise SystemExit("chaos: the database did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"


def faults(run_dir: Path, db: Database, stats: Stats, seed: int, stop: threading.Event) -> None:
    """A function process killed every ~2 s; the database down for ~2 s every ~20 s."""
    rng = random.Random(seed)
    next_db = time.monotonic() + rng.uniform(15, 25)
    while not stop.wait(rng.uniform(1.5, 2.5)):
        pids = [line.split() for line in (run_dir / "pids").read_text().splitlines()]
        _, pid = rng.choice([p for p in pids if len(p) == 2])
        try:
            os.kill(int(pid), signal.SIGKILL)
            stats.add("function processes killed")
        except ProcessLookupError:
            pass
        if time.monotonic() >= next_db:
            db.kill()
            stats.add("database restarts")
            time.sleep(rng.uniform(1, 3))
            db.start()
            next_db = time.monotonic() + rng.uniform(15, 25)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stack(run_dir: Path, db: Database, profile: str) -> tuple[subprocess.Popen, dict]:
    env = {**os.environ, "MONGODB_URI": db.uri()}
    (run_dir / "stack.env").unlink(missing_ok=True)
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "stack.py"), "--dir", str(run_dir),
         "--instances", "2", "--profile", profile, "--env", "APP_ENV=local",
         "--env", "WRITE_LIMIT_PER_MINUTE=1000000",
         "--env", "ANON_WRITE_LIMIT_PER_MINUTE=1000000", "--env", "DISPATCH_SECONDS=2",
         "--env", "WEBHOOK_RETRY_SCHEDULE=1,1,2,2,4,4,8"],
        env=env, stdout=(run_dir / "stack.out").open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not (run_dir / "stack.env").exists() or not (run_dir / "pids").exists():
        if stack.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"chaos: the stack did not start; see {run_dir}/stack.out")
        time.sleep(0.2)
    values = {}
    for line in (run_dir / "stack.env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = shlex.split(value)[0] if value else ""
    return stack, values


def after_storm(clients: list[Client], stats: Stats) -> list[str]:
    """Every organization answers within 10 s: its owner logs in and reads it."""
    slow = []
    for client in clients:
        for org in client.orgs:
            if org.deleted:
                continue
            started = time.monotonic()
            ok = False
            while time.monotonic() - started < 10 and not ok:
                ok = client.login(org) and client.api.call("GET", "/org/me", token=org.token)[0] == 200
            if not ok:
                slow.append(f"{org.name} ({org.id}) did not answer within 10 s")
    return slow


def check(clients: list[Client], stack_env: dict, db: Database, receiver: Receiver,
          stats: Stats, slow: list[str]) -> dict[str, list[str]]:
    """The invariants, read from the database directly: name -> violations."""
    client = pymongo.MongoClient(db.uri())
    master, tenants = client[stack_env["MASTER_DB"]], client[stack_env["TENANT_DB"]]
    registry = {str(o["_id"]): o for o in master.organizations.find({})}
    orgs = [org for c in clients for org in c.orgs]
    where: dict[str, list[str]] = {}
    for name in tenants.list_collection_names():
        if name.startswith("org_"):
            for doc in tenants[name].find({}, {"_id": 1}):
                where.setdefault(str(doc["_id"]), []).append(name)
    out: dict[str, list[str]] = {k: [] for k in (
        "acknowledged items present exactly once, in their organization's collection",
        "collections and registry entries match",
        "every organization has an owner; memberships name existing accounts",
        "every acknowledged change has its audit event and its webhook delivery",
        "no operation left in flight",
        "no 5xx but 502, 503, 504",
        "every organization answers within 10 s after the storm")}
    items, tables, owners, audit, pending, fivexx, answers = out.values()
    for org in orgs:
        entry = registry.get(org.id)
        if org.deleted:
            if entry is not None:
                tables.append(f"deleted organization {org.id} is still in the registry")
            for item in org.items | org.deleted_items:
                if item in where:
                    items.append(f"item {item} of deleted {org.id} is in {where[item]}")
            continue
        if entry is None:
            tables.append(f"organization {org.id} ({org.name}) is missing from the registry")
            continue
        home = entry["placement"]["collection"]
        for item in org.items:
            if where.get(item, []) != [home]:
                items.append(f"item {item} of {org.id}: in {where.get(item, [])}, not once in {home}")
        for item in org.deleted_items:
            if item in where:
                items.append(f"deleted item {item} of {org.id} is in {where[item]}")
        for item in org.unsure_items:
            if len(where.get(item, [])) > 1 or where.get(item, [home]) != [home]:
                items.append(f"item {item} of {org.id} is in {where[item]}")
    collections = {n.lower() for n in tenants.list_collection_names() if n.startswith("org_")}
    named = {e["placement"]["collection"].lower() for e in registry.values()}
    tables += [f"registry entry {e['_id']} names {e['placement']['collection']}, which does not exist"
               for e in registry.values() if e["placement"]["collection"].lower() not in collections]
    tables += [f"collection {c} has no registry entry" for c in sorted(collections - named)]
    users = {str(u["_id"]) for u in master.users.find({}, {"_id": 1})}
    for entry in registry.values():
        members = entry.get("members", {})
        if not any(m.get("r") == "owner" for m in members.values()):
            owners.append(f"organization {entry['_id']} has no owner")
        owners += [f"organization {entry['_id']}: member {k} has no account"
                   for k in members if k.removeprefix("u") not in users]
        if entry.get("pending"):
            pending.append(f"organization {entry['_id']} is left with pending {entry['pending']}")
    # Audit events and their deliveries. The dispatcher may still be catching up: a run
    # whose process was killed holds its streams' leases (30 s) and goes unanswered
    # (the stack starts the next after DISPATCH_SECONDS + 20 s), and on a loaded machine
    # that repeats. Delivery is at least once, not within a bound: 180 s, and the time
    # the last one took is reported.
    wanted = [(org, action, target) for org in orgs for action, target in org.changes]
    started = time.monotonic()
    deadline = started + 180
    while True:
        missing = []
        for org, action, target in wanted:
            ids = [e["event_id"] for e in master.audit_events.find(
                {"organization_id": org.id, "action": action, "outcome": "success",
                 "targets.id": target}, {"event_id": 1})]
            if not ids:
                missing.append(f"{action} {target} of {org.id}: no audit event")
            elif org.hooked and not org.deleted and action not in UNDELIVERED and not (
                    set(ids) & receiver.keys()):
                missing.append(f"{action} {target} of {org.id}: audit event(s) {ids} never delivered")
        if not missing or time.monotonic() > deadline:
            audit += missing
            stats.add("seconds until every delivery had arrived, after the storm",
                      round(time.monotonic() - started))
            break
        time.sleep(2)
    fivexx += stats.violations
    log = Path(stack_env["API_LOG"]).read_text(errors="replace")
    fivexx += [f"a function panicked: {line[:300]}" for line in log.splitlines() if "panicked" in line]
    answers += slow
    return out


def reliability(counts: dict, results: dict[str, list[str]]) -> str:
    """The Reliability section of BENCHMARKS.md for this run."""
    c = counts
    rows = [
        ("run", f"{c['seconds']:.0f} s, {c['clients']} clients + 1 malformed, seed {c['seed']}"),
        ("operations (client steps)", c.get("operations", 0)),
        ("requests", c.get("requests", 0)),
        ("malformed requests", c.get("malformed requests", 0)),
        ("acknowledged writes", c.get("acknowledged writes", 0)),
        ("organizations made", c["organizations"]),
        ("faults: function processes killed (SIGKILL)", c.get("function processes killed", 0)),
        ("faults: database restarts (SIGKILL, 1-3 s down)", c.get("database restarts", 0)),
        ("client retries", c.get("retries", 0)),
        ("seconds after the storm until every delivery had arrived",
         c.get("seconds until every delivery had arrived, after the storm", "n/a")),
        *((f"5xx: {kind}", n) for kind, n in sorted(c["5xx by kind"].items())),
        ("violations", c["violations"]),
    ]
    lines = ["| figure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), "",
             "| invariant | violations |", "|---|---|",
             *(f"| {name} | {len(found)} |" for name, found in results.items())]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("CHAOS_SECONDS", 60)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("CHAOS_CLIENTS", 8)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", 0)) or
                        random.SystemRandom().randrange(1, 1 << 31))
    parser.add_argument("--profile", default="debug")
    parser.add_argument("--json", type=Path, help="write the counts here")
    parser.add_argument("--write", type=Path, help="put the figures in this file's "
                        "Reliability section (BENCHMARKS.md)")
    args = parser.parse_args()
    run_dir = args.dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"chaos: seed {args.seed}, {args.clients} clients, {args.seconds:.0f} s", flush=True)
    stats = Stats()
    db = Database(run_dir, free_port())
    db.start()
    stack, stack_env = start_stack(run_dir, db, args.profile)
    try:
        receiver = Receiver(lambda event: event["id"])
        stop, storm_stop = threading.Event(), threading.Event()
        clients = [Client(n, args.seed, stack_env["API_URL"], stats, receiver, stop)
                   for n in range(args.clients)]
        threads = [threading.Thread(target=c.run) for c in clients]
        threads.append(threading.Thread(target=malformed, args=(
            stack_env["API_URL"], stats, clients, args.seed, stop)))
        fault = threading.Thread(target=faults, args=(run_dir, db, stats, args.seed, storm_stop))
        for t in [*threads, fault]:
            t.start()
        time.sleep(args.seconds)
        storm_stop.set()
        fault.join()
        stop.set()
        for t in threads:
            t.join()
        if db.proc is None or db.proc.poll() is not None:
            db.start()
        slow = after_storm(clients, stats)
        results = check(clients, stack_env, db, receiver, stats, slow)
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(20)
        except subprocess.TimeoutExpired:
            stack.kill()
        db.kill()
    counts = dict(stats.counts) | {
        "organizations": sum(len(c.orgs) for c in clients),
        "5xx by kind": dict(stats.fivexx),
        "violations": sum(len(v) for v in results.values()),
        "seed": args.seed, "seconds": args.seconds, "clients": args.clients,
    }
    print(json.dumps(counts, indent=1))
    if args.json:
        args.json.write_text(json.dumps(counts, indent=1))
    if args.write:
        write_section(args.write, "reliability", reliability(counts, results))
    for name, found in results.items():
        print(f"{'ok  ' if not found else 'FAIL'} {name}")
        for line in found[:20]:
            print(f"     {line}")
    failed = sum(1 for v in results.values() if v)
    print(f"chaos invariants: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
