"""Starts NX-27017, the local MongoDB wire-compatible server, with two fixes of ours.

It also clears a stale pid file before the server starts: nx-27017 refuses to start while
its pid file names a process that exists, and a server that was killed leaves its file
behind, with a pid that can stay taken for a while (a zombie, until the machine's init
reaps the orphan) or be reused by another program.

NX-27017 0.8.1 (PyPI `nx-27017`, the newest release) renames a collection by renaming
the *cached* collection handle of the old name in place, and keeps that handle under
the old name. After X -> Y -> X the name X points at a handle of the table Y, which no
longer exists: every read of X fails with `no such table: Y`, and the data of X cannot
be reached. Its own `Connection.rename_collection` moves the cache entry correctly, so
this launcher routes `renameCollection` there.

NX-27017 0.8.1 also misreads the filter of a write (`update`, `findAndModify`, `delete`)
that holds `$or` beside other fields: the other fields apply only to the `$or`'s first
branch, so `{org: B, $or: [{status: pending}, {status: accepting}]}` updates an
`accepting` document of any organization. Plain reads are right, and the same filter
written `{$and: [{org: B}, {$or: [...]}]}` is right too. This launcher rewrites such
write filters into that form. The service's own code keeps `$or` out of write filters
anyway, so that it never depends on this fix; a probe test
(`red_team::store_probe_or_beside_other_fields_in_a_write_filter`) shows the fix holds.

Every other command, error reply and gap of the server is left as it is (the service
must cope with those, as it must with real MongoDB).

Usage: the same arguments as the `nx-27017` command, e.g.
    python scripts/local_mongo.py --db .local/data/mongo.db -p 27018
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from nx_27017 import handler as nx_handler
from nx_27017.nx_27017 import main

_handle_command = nx_handler.NeoSQLiteHandler.handle_command


def _command_body(msg: dict[str, Any]) -> dict[str, Any] | None:
    """The command document of an OP_MSG, if it has one."""
    for kind, doc in msg.get("sections", ()):
        if kind == "body" and isinstance(doc, dict):
            return doc
    return None


def _collection(namespace: str) -> str:
    """`db.coll` -> `coll`."""
    return namespace.split(".", 1)[1] if "." in namespace else namespace


def _and_form(query: Any) -> Any:
    """`{a: 1, $or: [...]}` as `{$and: [{a: 1}, {$or: [...]}]}`; any other filter as is."""
    if not isinstance(query, dict) or "$or" not in query or len(query) == 1:
        return query
    rest = {k: v for k, v in query.items() if k != "$or"}
    return {"$and": [rest, {"$or": query["$or"]}]}


def _correct_write_filters(body: dict[str, Any], msg: dict[str, Any]) -> None:
    """Rewrites the filters of a write command in place (see the module's docstring)."""
    if "findAndModify" in body or "findandmodify" in body:
        if "query" in body:
            body["query"] = _and_form(body["query"])
        return
    key = "updates" if "update" in body else "deletes" if "delete" in body else None
    if key is None:
        return
    statements = body.get(key) or []
    # The statements come in the body, or as an OP_MSG document sequence.
    for kind, section in msg.get("sections", ()):
        if kind == "payload" and isinstance(section, dict):
            statements = list(statements) + list(section.get(key, ()))
    for statement in statements:
        if isinstance(statement, dict) and "q" in statement:
            statement["q"] = _and_form(statement["q"])


def handle_command(self: Any, msg: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """`renameCollection` through the connection's own rename; write filters corrected;
    everything else as is."""
    body = _command_body(msg)
    if body is not None:
        _correct_write_filters(body, msg)
    if body is None or "renameCollection" not in body or not body.get("to"):
        return _handle_command(self, msg)
    db_name = body.get("$db", "admin")
    with self._lock_for(db_name):
        conn = self.get_database(db_name)
        conn.rename_collection(
            _collection(str(body["renameCollection"])), _collection(str(body["to"]))
        )
    return msg["request_id"], {"ok": 1}


nx_handler.NeoSQLiteHandler.handle_command = handle_command


def clear_stale_pid_file(argv: list[str]) -> None:
    """Removes the `--pid-file` when the process it names is gone, a zombie, or not a
    local server (a pid reused by another program)."""
    if "--pid-file" not in argv[:-1]:
        return
    path = Path(argv[argv.index("--pid-file") + 1])
    try:
        pid = int(path.read_text().strip())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        path.unlink(missing_ok=True)
        return
    if state == "Z" or not (b"nx-27017" in cmdline or b"local_mongo" in cmdline):
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    clear_stale_pid_file(sys.argv)
    sys.argv[0] = "nx-27017"
    sys.exit(main())
