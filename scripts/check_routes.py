#!/usr/bin/env python3
"""Checks that template.yaml, the Cargo.toml router table and the OpenAPI document agree.

Three lists of (METHOD, path) must be the same:
  - template.yaml: the `HttpApi` events of every AWS::Serverless::Function;
  - Cargo.toml `[workspace.metadata.lambda.watch.router]` (what `cargo lambda watch`
    serves); a plain string value means any method (ANY);
  - shared/static/openapi.json: its `paths` are written at the root and `servers` holds
    `/` and `/api/v1`, so each documented operation must be served at the root and
    under /api/v1 (`/` becomes `/api/v1`).
The template's `$default` route (ANY) pairs with the router's catch-all `/{*rest}`;
the OpenAPI document has no counterpart for it. (API Gateway also sends a known path's
other methods to `$default`; the local emulator sends them to its default function `_`,
which scripts/stack.py serves with the same `fallback` binary.)

`--write-router` rewrites the router table in Cargo.toml from template.yaml, so that it
never has to be written by hand. Template and router must also send each
route to the same function. Finally every template function's
`Metadata.BuildProperties.Binary` must be a file of functions/src/bin/, and every
binary there must be deployed by the template.

YAML: parsed with PyYAML (with CloudFormation's `!Ref`/`!Sub`/... tags accepted), not a
line scraper, so flow style, quoting and comments cannot fool it. Plain python3 has no
PyYAML; this script then re-runs itself with .local/venv/bin/python, where cfn-lint
(installed by scripts/lint-template.sh) brought it. TOML: tomllib (Python 3.11+).

Prints each difference and finally `N passed, M failed`; exits 1 on any difference.
Usage: python3 scripts/check_routes.py [-v]
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".local" / "venv" / "bin" / "python"
PREFIX = "/api/v1"
DEFAULT = ("ANY", "$default")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ROUTER_HEADER = "[workspace.metadata.lambda.watch.router]"

try:
    import yaml
except ImportError:
    if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve() \
            and not os.environ.get("CHECK_ROUTES_REEXEC"):
        os.environ["CHECK_ROUTES_REEXEC"] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.exit("check_routes: PyYAML is missing; run scripts/lint-template.sh once "
             "(it creates .local/venv with cfn-lint, which brings PyYAML)")

import tomllib  # noqa: E402  (after the re-exec above)

Route = tuple[str, str]  # (METHOD, path)


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation's short intrinsic tags (!Ref, !Sub, ...)."""


def _intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def template_routes(path: Path) -> tuple[dict[Route, str], dict[str, str], list[str]]:
    """Routes -> function logical id, function logical id -> Binary, problems."""
    doc = yaml.load(path.read_text(), Loader=CfnLoader)
    routes: dict[Route, str] = {}
    binaries: dict[str, str] = {}
    problems: list[str] = []
    for logical_id, resource in (doc.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = (((resource.get("Metadata") or {}).get("BuildProperties")) or {}).get("Binary")
        if (resource.get("Metadata") or {}).get("BuildMethod") != "rust-cargolambda":
            problems.append(f"template: {logical_id}: Metadata.BuildMethod is not rust-cargolambda")
        if not isinstance(binary, str):
            problems.append(f"template: {logical_id}: no Metadata.BuildProperties.Binary")
            binary = f"<{logical_id}>"
        binaries[logical_id] = binary
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_id, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            route_path, method = props.get("Path"), props.get("Method")
            if route_path is None and method is None:
                route_path, method = "$default", "ANY"  # what SAM does
            if not isinstance(route_path, str) or not isinstance(method, str):
                problems.append(f"template: {logical_id}.{event_id}: Path and Method must be plain strings")
                continue
            method = method.upper()
            if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
                method = "ANY"
            key = (method, route_path)
            if key in routes:
                problems.append(f"template: {method} {route_path} routed twice ({routes[key]}, {binary})")
            routes[key] = binary
    return routes, binaries, problems


def router_routes(path: Path) -> tuple[dict[Route, str], list[str]]:
    """The Cargo.toml router table as (METHOD, path) -> binary; the catch-all as $default."""
    with path.open("rb") as f:
        cargo = tomllib.load(f)
    table = (((cargo.get("workspace") or {}).get("metadata") or {}).get("lambda") or {}) \
        .get("watch", {}).get("router")
    problems: list[str] = []
    if not isinstance(table, dict):
        return {}, ["Cargo.toml: no [workspace.metadata.lambda.watch.router] table"]
    routes: dict[Route, str] = {}

    def add(method: str, route_path: str, function) -> None:
        if not isinstance(function, str):
            problems.append(f"router: {route_path}: function must be a string")
            return
        key = DEFAULT if re.fullmatch(r"/\{\*[^}]*\}", route_path) else (method.upper(), route_path)
        if key in routes:
            problems.append(f"router: {key[0]} {key[1]} routed twice")
        routes[key] = function

    for route_path, target in table.items():
        if isinstance(target, str):
            add("ANY", route_path, target)
        elif isinstance(target, list):
            for spec in target:
                if not isinstance(spec, dict) or "method" not in spec or "function" not in spec:
                    problems.append(f"router: {route_path}: each entry needs method and function")
                    continue
                add(str(spec["method"]), route_path, spec["function"])
        elif isinstance(target, dict) and "function" in target:
            add(str(target.get("method", "ANY")), route_path, target["function"])
        else:
            problems.append(f"router: {route_path}: unrecognised value {target!r}")
    return routes, problems


def v1(route_path: str) -> str:
    return PREFIX if route_path == "/" else PREFIX + route_path


def openapi_routes(path: Path) -> tuple[set[Route], list[str]]:
    """Every documented operation, at the root and under /api/v1."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return set(), [f"openapi: cannot read {path}: {err}"]
    problems: list[str] = []
    servers = {s.get("url") for s in doc.get("servers") or [] if isinstance(s, dict)}
    for wanted in ("/", PREFIX):
        if wanted not in servers:
            problems.append(f"openapi: servers lacks {wanted!r} (has {sorted(map(str, servers))})")
    routes: set[Route] = set()
    for route_path, item in (doc.get("paths") or {}).items():
        if route_path.startswith(PREFIX):
            problems.append(f"openapi: path {route_path} should be written at the root (servers adds {PREFIX})")
        for method in HTTP_METHODS:
            if isinstance(item, dict) and method in item:
                routes.add((method.upper(), route_path))
                routes.add((method.upper(), v1(route_path)))
    if not routes:
        problems.append("openapi: no operations under paths")
    return routes, problems


def fallback_of(tpl: dict[Route, str]) -> str:
    return tpl.get(DEFAULT, "fallback")


def router_text(tpl: dict[Route, str]) -> str:
    """The router table for template.yaml's routes."""
    paths: dict[str, dict[str, str]] = {}
    for (method, route_path), function in tpl.items():
        if (method, route_path) != DEFAULT:
            paths.setdefault(route_path, {})[method] = function
    lines = [ROUTER_HEADER]
    for route_path, methods in paths.items():
        specs = ", ".join(f'{{ method = "{m}", function = "{f}" }}' for m, f in methods.items())
        lines.append(f'"{route_path}" = [{specs}]')
    lines.append(f'"/{{*rest}}" = "{fallback_of(tpl)}"')
    return "\n".join(lines) + "\n"


def write_router(tpl: dict[Route, str]) -> None:
    cargo = ROOT / "Cargo.toml"
    text = cargo.read_text()
    head, sep, _ = text.partition(ROUTER_HEADER)
    if not sep:
        sys.exit(f"check_routes: {ROUTER_HEADER} not found in Cargo.toml")
    cargo.write_text(head + router_text(tpl))


def main() -> int:
    verbose = "-v" in sys.argv[1:]
    if "--write-router" in sys.argv[1:]:
        write_router(template_routes(ROOT / "template.yaml")[0])
    bin_dir = ROOT / "functions" / "src" / "bin"
    files = {p.stem for p in bin_dir.glob("*.rs")}

    tpl, tpl_binaries, tpl_problems = template_routes(ROOT / "template.yaml")
    rtr, rtr_problems = router_routes(ROOT / "Cargo.toml")
    oas, oas_problems = openapi_routes(ROOT / "shared" / "static" / "openapi.json")

    passed = failed = 0
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
            if verbose:
                print(f"ok    {what}")
        else:
            failed += 1
            failures.append(what)
            print(f"FAIL  {what}")

    for problem in tpl_problems + rtr_problems + oas_problems:
        check(False, problem)

    # Every route of any list must be in the others (the $default pair has no OpenAPI side).
    for key in sorted(set(tpl) | set(rtr) | oas):
        method, route_path = key
        missing = []
        if key not in tpl:
            missing.append("template.yaml")
        if key not in rtr:
            missing.append("Cargo.toml router" + (" (as /{*rest})" if key == DEFAULT else ""))
        if key != DEFAULT and key not in oas:
            root = route_path[len(PREFIX):] or "/" if route_path.startswith(PREFIX) else route_path
            missing.append(f"openapi.json paths (as {method} {root})")
        shown = "$default / {*rest}" if key == DEFAULT else f"{method} {route_path}"
        if missing:
            check(False, f"route {shown}: missing from {', '.join(missing)}")
            continue
        same = tpl[key] == rtr[key]
        check(same, f"route {shown}" + ("" if same else
              f": template sends it to {tpl[key]}, router to {rtr[key]}"))

    # Binaries: what the template builds exists, and everything that exists is deployed.
    for logical_id, binary in sorted(tpl_binaries.items()):
        check(binary in files, f"template {logical_id}: Binary {binary}"
              + ("" if binary in files else f" is not a file of {bin_dir.relative_to(ROOT)}/"))
    deployed = set(tpl_binaries.values())
    for name in sorted(files):
        check(name in deployed, f"binary {name}" + ("" if name in deployed else
              " has no function in template.yaml"))
    for function in sorted(set(rtr.values()) - files):
        check(False, f"router names {function}, which is not a binary")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
