"""The API's own routes, called to set up what the measured requests need."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass

PASSWORD = "Passw0rd1"
ITEM = {"name": "widget", "qty": 3, "tags": ["blue", "small"], "dims": {"w": 1.5, "h": 2}}


def call(base: str, method: str, path: str, body: object = None,
         token: str | None = None) -> tuple[int, dict]:
    """One request; (status, JSON body or {})."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            status, text = reply.status, reply.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    try:
        return status, json.loads(text or b"{}")
    except ValueError:
        return status, {}


@dataclass
class Tenant:
    """An organization made for the benchmark, with its admin's token."""

    name: str
    email: str
    token: str


def tenant(base: str, prefix: str) -> Tenant:
    name = f"{prefix}{secrets.token_hex(5)}"
    email = f"{name}@bench.example.com"
    status, body = call(base, "POST", "/org/create",
                        {"organization_name": name, "email": email, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"bench: create at {base} answered {status}: {body}")
    status, body = call(base, "POST", "/admin/login", {"email": email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"bench: login at {base} answered {status}: {body}")
    return Tenant(name, email, body["access_token"])


def item(base: str, who: Tenant) -> str:
    status, body = call(base, "POST", "/org/items", ITEM, who.token)
    if status != 201:
        raise SystemExit(f"bench: item at {base} answered {status}: {body}")
    return body["id"]


def first_item(base: str, who: Tenant) -> str | None:
    """An item of `who`, or None where the server at `base` has no items routes."""
    status, body = call(base, "POST", "/org/items", ITEM, who.token)
    if status == 404:
        return None
    if status != 201:
        raise SystemExit(f"bench: item at {base} answered {status}: {body}")
    return body["id"]


def api_key(base: str, who: Tenant) -> str | None:
    """An API key of `who`'s organization, or None where the server has no keys."""
    status, body = call(base, "POST", "/org/api-keys", {"name": "bench"}, who.token)
    return body.get("key") if status == 201 else None


def has_teams(base: str, who: Tenant) -> bool:
    """Whether the server at `base` has the v2 routes (members, invitations, audit)."""
    return call(base, "GET", "/org/me", token=who.token)[0] == 200


def member(base: str, owner: Tenant) -> str:
    """A second person in `owner`'s organization, invited and accepted: their user id."""
    email = f"m{secrets.token_hex(5)}@bench.example.com"
    status, body = call(base, "POST", "/org/invitations", {"email": email}, owner.token)
    if status != 201:
        raise SystemExit(f"bench: invitation at {base} answered {status}: {body}")
    status, body = call(base, "POST", "/invitations/accept",
                        {"token": body["token"], "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"bench: accept at {base} answered {status}: {body}")
    status, body = call(base, "GET", "/org/members?limit=100", token=owner.token)
    return next(m["user_id"] for m in body["members"] if m["email"] == email)
