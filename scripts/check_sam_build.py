#!/usr/bin/env python3
"""Checks the output of `sam build`: the deployment build path of template.yaml.

For every AWS::Serverless::Function of template.yaml (with its
`Metadata.BuildProperties.Binary`), .aws-sam/build/<LogicalId>/bootstrap must:
  - exist, be a regular file with the executable bit set;
  - be an ELF executable for Lambda's arm64: 64-bit, little-endian, e_machine 183
    (EM_AARCH64), e_type EXEC, or DYN with a PT_INTERP program header (a PIE executable,
    not a shared library);
  - with --since EPOCH, have been written at or after EPOCH (by this `sam build`);
  - be byte for byte <cargo target dir>/lambda/<Binary>/bootstrap when that file exists:
    the binary `cargo lambda build` wrote into the workspace's one target directory,
    which is where SAM's rust-cargolambda builder copies it from;
  - contain none of the failpoint names of shared/src (`failpoint!(store, "...")`):
    they are compiled in only with the tenant crate's `test-hooks` feature, which a
    release artifact must not have.

Standard library only: template.yaml is read line by line (two-space indentation, as
written in this repository; scripts/check_routes.py parses it fully), cargo's target
directory comes from `cargo metadata` (falls back to ./target).
Prints one line per function and finally `N passed, M failed`; exits 1 on any failure.

Usage: python3 scripts/check_sam_build.py [--since EPOCH] [--build-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EM_AARCH64 = 183
ET_EXEC, ET_DYN = 2, 3
PT_INTERP = 3


def template_functions(path: Path) -> dict[str, str | None]:
    """Logical id -> Binary of every AWS::Serverless::Function under Resources."""
    functions: dict[str, str | None] = {}
    in_resources = False
    current: str | None = None
    is_function = False
    binary: str | None = None

    def close() -> None:
        if current and is_function:
            functions[current] = binary

    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):  # a top-level section
            close()
            current, is_function, binary = None, False, None
            in_resources = line.startswith("Resources:")
            continue
        if not in_resources:
            continue
        resource = re.fullmatch(r"  ([A-Za-z0-9]+):", line)
        if resource:
            close()
            current, is_function, binary = resource.group(1), False, None
        elif re.fullmatch(r"    Type:\s*[\"']?AWS::Serverless::Function[\"']?", line):
            is_function = True
        else:
            found = re.fullmatch(r"\s+Binary:\s*[\"']?([A-Za-z0-9_-]+)[\"']?", line)
            if found:
                binary = found.group(1)
    close()
    return functions


def failpoint_names(src: Path) -> set[str]:
    """Every failpoint name used in the tenant crate's source."""
    pattern = re.compile(r'failpoint!\(\s*[^,]+,\s*"([^"]+)"\s*\)')
    names: set[str] = set()
    for file in src.rglob("*.rs"):
        names.update(pattern.findall(file.read_text()))
    return names


def cargo_target_dir() -> Path:
    try:
        out = subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        return Path(json.loads(out)["target_directory"])
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError):
        return ROOT / "target"


def elf_problem(data: bytes) -> str | None:
    """Why `data` is not an aarch64 ELF executable, or None."""
    if data[:4] != b"\x7fELF":
        return "not an ELF file"
    if data[4] != 2 or data[5] != 1:
        return f"not a 64-bit little-endian ELF (class {data[4]}, data {data[5]})"
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_machine != EM_AARCH64:
        return f"e_machine {e_machine}, not {EM_AARCH64} (AArch64)"
    if e_type == ET_EXEC:
        return None
    if e_type != ET_DYN:
        return f"e_type {e_type}: not an executable"
    e_phoff = struct.unpack_from("<Q", data, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    for i in range(e_phnum):
        (p_type,) = struct.unpack_from("<I", data, e_phoff + i * e_phentsize)
        if p_type == PT_INTERP:
            return None
    return "a shared object without a program interpreter, not an executable"


def check(
    bootstrap: Path, built: Path | None, since: float | None, failpoints: set[str]
) -> list[str]:
    if not bootstrap.is_file():
        return [f"{bootstrap} is missing"]
    problems = []
    st = bootstrap.stat()
    if not st.st_mode & stat.S_IXUSR:
        problems.append(f"not executable (mode {stat.S_IMODE(st.st_mode):o})")
    if since is not None and st.st_mtime < since:
        problems.append("older than this build (left from an earlier one)")
    data = bootstrap.read_bytes()
    elf = elf_problem(data)
    if elf:
        problems.append(elf)
    if built is not None and built.is_file() and built.read_bytes() != data:
        problems.append(f"differs from {built}")
    hooks = sorted(name for name in failpoints if name.encode() in data)
    if hooks:
        problems.append(f"built with test hooks (failpoints {', '.join(hooks)})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--since", type=float, help="bootstraps must be newer (epoch seconds)"
    )
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    args = parser.parse_args()

    functions = template_functions(ROOT / "template.yaml")
    failpoints = failpoint_names(ROOT / "shared" / "src")
    lambda_dir = cargo_target_dir() / "lambda"
    passed = failed = 0
    if not functions:
        print("FAIL template.yaml: no AWS::Serverless::Function found")
        failed += 1
    for logical_id, binary in sorted(functions.items()):
        bootstrap = args.build_dir.resolve() / logical_id / "bootstrap"
        built = lambda_dir / binary / "bootstrap" if binary else None
        problems = check(bootstrap, built, args.since, failpoints)
        if problems:
            failed += 1
            print(f"FAIL {logical_id} ({binary}): {'; '.join(problems)}")
        else:
            passed += 1
            size = os.path.getsize(bootstrap) / 1024 / 1024
            print(
                f"ok   {logical_id} ({binary}): aarch64 ELF executable, {size:.2f} MiB"
            )
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
