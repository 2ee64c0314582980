"""Stage events: each stage of a job says what it found in the flow run's log (the Prefect UI's
Logs tab), and a live view in the same process can follow the job from the same records.

A stage event is an ordinary INFO record of Prefect's run logger whose ``extra`` holds a
:class:`StageEvent` (as the record's :data:`EVENT_ATTR` attribute): the API receives the
message, a handler in this process (``clipflow run``'s, :mod:`flows.progress_view`) reads the
event. The flow tells the events as the stages' records reach it, so a stage served from the
cache, or run on another pool (``dispatch="pools"``), is told like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

EVENT_ATTR = "clipflow_event"
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")

Phase = Literal["start", "done"]
# A job's stages in the order they run; framing, render and qa run once per clip.
JOB_STAGES = ("ingest", "transcript", "selection", "verdict", "cost", "publish")
CLIP_STAGES = ("framing", "render", "qa")


@dataclass(frozen=True, slots=True)
class StageEvent:
    """One stage of a job started or done (for a per-clip stage: of clip ``clip`` of
    ``clips``), with what it found in a line (``summary``). Selection's event carries the
    chosen clips' lengths, which weigh the per-clip work in the estimate of what is left."""

    stage: str
    phase: Phase
    summary: str = ""
    clip: int | None = None
    clips: int | None = None
    durations: tuple[float, ...] = ()

    @property
    def label(self) -> str:
        """``render clip 2/3``, ``transcript``: the stage, and the clip for a per-clip one."""
        if self.clip is None:
            return self.stage
        return f"{self.stage} clip {self.clip}/{self.clips}"


def message(event: StageEvent) -> str:
    """The log line of an event: ``ingest: 90.0 s, …`` or ``transcript: started``."""
    return f"{event.label}: {event.summary if event.phase == 'done' else 'started'}"


def tell(event: StageEvent) -> None:
    """Log ``event`` at INFO on the current run's logger, the event itself in ``extra``."""
    from prefect import get_run_logger

    get_run_logger().info("%s", message(event), extra={EVENT_ATTR: event})


def started(stage: str) -> None:
    """A job-level stage begins."""
    tell(StageEvent(stage, "start"))


def finished(
    stage: str,
    summary: str,
    *,
    clip: int | None = None,
    clips: int | None = None,
    durations: tuple[float, ...] = (),
) -> None:
    """A stage (or one clip's stage) is done; ``summary`` says what it found."""
    tell(StageEvent(stage, "done", summary, clip, clips, durations))


class ConsoleAtConfiguredLevel(logging.Filter):
    """On a console handler: drops run-log records below ``level`` (what
    ``PREFECT_LOGGING_LEVEL`` asked the console to show), whatever the run loggers send on."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or not record.name.startswith(RUN_LOGGERS)


def send_run_logs_to_api() -> None:
    """INFO run logs reach the API (the UI's Logs tab) even when ``PREFECT_LOGGING_LEVEL`` is
    higher, as ``clipflow run`` sets it to keep the terminal clean; the console shows no more
    than before. Run at the start of each flow run: Prefect may re-apply its logging
    configuration (levels, not filters) when it starts a server. Idempotent."""
    from prefect.logging.handlers import PrefectConsoleHandler

    console_level = logging.getLogger("prefect").getEffectiveLevel()
    if console_level <= logging.INFO:
        return
    for name in RUN_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not any(
            isinstance(f, ConsoleAtConfiguredLevel) for f in handler.filters
        ):
            handler.addFilter(ConsoleAtConfiguredLevel(console_level))
