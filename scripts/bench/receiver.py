"""A webhook receiver on loopback, for `make bench` and `make chaos`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Answers 200 to every POST and keeps when each delivery first arrived, under the
    key `key` picks out of the event (deliveries without one are answered, not kept)."""

    def __init__(self, key: Callable[[dict], str | None]) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                now = time.monotonic()
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    found = key(json.loads(body))
                except (ValueError, KeyError, IndexError, TypeError):
                    found = None
                if found:
                    with receiver.lock:
                        receiver.arrived.setdefault(found, now)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)

    def keys(self) -> set[str]:
        with self.lock:
            return set(self.arrived)
