"""Load with wrk: one scenario for a few seconds, its latency percentiles and counts."""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk's Lua: the request (a fresh organization name per request where `unique` is set),
# and a JSON summary written when it is done. Names are the run's nonce, the thread's
# number and a count: each wrk thread has a Lua state of its own whose `math.random`
# gives the same numbers as the other's, so a random part alone repeats across threads.
LUA = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end
wrk.method = {method}
wrk.headers["Content-Type"] = "application/json"
{auth}
local bodies = {bodies}
local unique = {unique}
local keyed = {keyed}
local n = 0
request = function()
  n = n + 1
  local body = bodies and bodies[n % #bodies + 1]
  local name = string.format("w%sx%dx%d", {nonce}, thread_no, n)
  if unique then
    body = string.format(body, name, name)
  end
  if keyed then
    wrk.headers["Idempotency-Key"] = name
  end
  return wrk.format(nil, nil, nil, body)
end
done = function(summary, latency, requests)
  local f = io.open({out}, "w")
  f:write(string.format('{{"requests": %d, "duration_us": %d, "non_2xx": %d, "timeouts": %d, '
    .. '"socket_errors": %d, "p50_us": %.0f, "p99_us": %.0f}}',
    summary.requests, summary.duration, summary.errors.status, summary.errors.timeout,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    latency:percentile(50), latency:percentile(99)))
  f:close()
end
"""


def lua_string(text: str | None) -> str:
    return "nil" if text is None else "[==[" + text + "]==]"


def lua_list(texts: list[str]) -> str:
    return "{" + ", ".join(map(lua_string, texts)) + "}" if texts else "nil"


@dataclass
class Run:
    """What one wrk run measured."""

    requests: int
    seconds: float
    non_2xx: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(url: str, method: str = "GET", bodies: list[str] | None = None,
        token: str | None = None, unique: bool = False, keyed: bool = False,
        connections: int = 8, seconds: int = 10) -> Run:
    """Runs wrk (2 threads) against `url`, sending `bodies` in turn (each with two `%s`,
    filled with a fresh name, when `unique`; with a fresh `Idempotency-Key` each when
    `keyed`)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "summary.json"
        script = Path(tmp) / "run.lua"
        auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
        script.write_text(LUA.format(method=lua_string(method), auth=auth, bodies=lua_list(bodies or []),
                                     unique="true" if unique else "false",
                                     keyed="true" if keyed else "false",
                                     nonce=lua_string(secrets.token_hex(4)),
                                     out=lua_string(str(out))))
        subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections),
                        "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script), url],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=seconds + 60)
        r = json.loads(out.read_text())
    return Run(r["requests"], r["duration_us"] / 1e6, r["non_2xx"],
               r["timeouts"] + r["socket_errors"], r["p50_us"] / 1000, r["p99_us"] / 1000)
