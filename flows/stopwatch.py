"""Wall seconds per stage: the report's ``timings`` and ``clipflow plan``'s.

A module of its own so that plan mode, which must answer in seconds, imports nothing more.
"""

from __future__ import annotations

import time


class Stopwatch:
    """Wall seconds per stage; a stage lapped twice adds up."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.stages: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(self.stages.get(name, 0.0) + now - self.last, 3)
        self.last = now

    @property
    def total(self) -> float:
        return time.perf_counter() - self.start
