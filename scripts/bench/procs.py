"""CPU time and memory of processes, from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process has had, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def function_pids(pids_file: Path) -> dict[str, list[int]]:
    """The stack's function processes, by function (scripts/stack.py writes the file)."""
    out: dict[str, list[int]] = {}
    for line in pids_file.read_text().splitlines():
        name, pid = line.split()
        out.setdefault(name, []).append(int(pid))
    return out


def total_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)
