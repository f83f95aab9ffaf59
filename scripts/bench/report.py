"""BENCHMARKS.md's generated sections, each between its two markers."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, section: str, text: str) -> None:
    """Replaces what lies between `<!-- bench:SECTION:begin -->` and its end marker."""
    begin, end = f"<!-- bench:{section}:begin -->", f"<!-- bench:{section}:end -->"
    head, sep, rest = path.read_text().partition(begin)
    _, sep2, tail = rest.partition(end)
    if not (sep and sep2):
        raise SystemExit(f"{path} lacks the {begin} / {end} markers")
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}")
