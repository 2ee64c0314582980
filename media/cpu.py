"""CPU accounting per thread: this thread's own CPU plus the child processes it ran.

Stages run in parallel threads of one process, so process-wide counters would charge each
stage for its neighbours' work. ffmpeg runs are measured one by one (``os.wait4`` returns the
child's own rusage) and added to the calling thread's tally.
"""

from __future__ import annotations

import resource
import threading

_LOCAL = threading.local()


def add_child_seconds(seconds: float) -> None:
    """Charge ``seconds`` of a finished child process's CPU to the calling thread."""
    _LOCAL.children = getattr(_LOCAL, "children", 0.0) + max(0.0, seconds)


def thread_seconds() -> float:
    """CPU seconds used so far by this thread and the children it ran and reaped."""
    own = resource.getrusage(resource.RUSAGE_THREAD)
    return own.ru_utime + own.ru_stime + getattr(_LOCAL, "children", 0.0)


def rusage_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime
