"""Measure a command the way a user's machine feels it: wall time, CPU seconds and peak memory
of the whole process tree (the Python process and every ffmpeg it starts).

CPU comes from ``os.wait4`` on the command: its own rusage plus every descendant it reaped.
Memory is sampled from ``/proc`` every ``interval_s``: the sum of PSS (proportional set size,
so pages shared between processes count once) over the process and its live descendants.
The peak of that sum is what the job needed at once. Linux only.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from media.cpu import rusage_seconds


@dataclass(frozen=True, slots=True)
class Measured:
    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_pss_bytes: int
    stdout: str
    stderr: str


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone since the listing
        # The command name is in parentheses and may hold spaces: split after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    tree, found, todo = _children_map(), [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(tree.get(p, ()))
    return found


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process, 0 when it has gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class TreeMemorySampler(threading.Thread):
    """Background thread: the peak summed PSS of ``pid``'s tree until :meth:`stop`."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        super().__init__(daemon=True, name=f"pss-{pid}")
        self.pid, self.interval_s = pid, interval_s
        self.peak_bytes = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            total = sum(pss_bytes(p) for p in descendants(self.pid))
            self.peak_bytes = max(self.peak_bytes, total)
            self._done.wait(self.interval_s)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_bytes


def run_measured(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    log_dir: Path,
    name: str,
) -> Measured:
    """Run ``argv`` to completion and measure it; stdout and stderr go to ``log_dir/name.*``."""
    argv = tuple(str(a) for a in argv)
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, env=dict(env) if env else None, cwd=cwd, stdout=out, stderr=err
        )
        sampler = TreeMemorySampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        peak = sampler.stop()
    return Measured(
        argv=argv,
        returncode=proc.returncode,
        wall_s=round(wall, 3),
        cpu_s=round(rusage_seconds(usage), 3),
        peak_pss_bytes=peak,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )
