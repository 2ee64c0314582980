"""``clipflow run``'s progress on stderr, followed from the job's stage events
(:mod:`tasks.stage_log`) while the flow runs in this process.

On a terminal, a live view (rich): the current stage, the clips' framing, render and QA
counts, the elapsed time and an estimate of what is left. Otherwise one line per finished
stage (and per clip of the per-clip stages), in a fixed format a script can parse: every key
always present, in this order, ``-`` when it does not apply, then `` | `` and what the stage
found::

    clipflow: progress t=2026-12-07T21:30:05Z elapsed=16.1 stage=render clip=1/3 left=42 | …

The estimate is measured, not guessed: the clips' work done so far (per second of clip:
framing 1, render 2, QA 1) against the time it took since selection finished; nothing is
estimated before the first clip's framing is done or after the last clip's QA.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from tasks.stage_log import CLIP_STAGES, EVENT_ATTR, RUN_LOGGERS, StageEvent

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

PLAIN_PREFIX = "clipflow: progress"
# Relative cost of each per-clip stage per second of clip (the encode dominates).
STEP_WEIGHTS = {"framing": 1.0, "render": 2.0, "qa": 1.0}


def remaining_s(elapsed_s: float, done: float, total: float) -> float | None:
    """Seconds left if the rest of ``total`` work goes at the pace ``done`` went in
    ``elapsed_s``; None before any work is done (no pace yet)."""
    if done <= 0 or total <= 0:
        return None
    if done >= total:
        return 0.0
    return max(0.0, elapsed_s) * (total - done) / done


def format_clock(seconds: float) -> str:
    """``0:05``, ``12:34``, ``1:02:03`` (whole seconds, rounded)."""
    whole = round(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def plain_line(event: StageEvent, at: float, elapsed_s: float, left_s: float | None) -> str:
    """One finished stage as a line of the non-terminal format (module docstring)."""
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    clip = f"{event.clip}/{event.clips}" if event.clip is not None else "-"
    left = f"{left_s:.0f}" if left_s is not None else "-"
    summary = " ".join(event.summary.split())  # one line, whatever the summary holds
    return (
        f"{PLAIN_PREFIX} t={when} elapsed={elapsed_s:.1f} stage={event.stage} clip={clip} "
        f"left={left} | {summary}"
    )


@dataclass
class JobProgress:
    """What the events have said so far: the stage in progress, the stages finished (with what
    they found and when, in seconds since ``t0``) and which clips each per-clip stage did."""

    t0: float
    stage: str = "starting"
    clips: int = 0
    durations: tuple[float, ...] = ()
    clips_since: float | None = None  # when selection finished: the clips' work began
    done: dict[str, set[int]] = field(default_factory=lambda: {s: set() for s in CLIP_STAGES})
    finished: list[tuple[str, str, float]] = field(default_factory=list)

    def apply(self, event: StageEvent, at: float) -> None:
        if event.clip is not None:
            self.done.setdefault(event.stage, set()).add(event.clip)
        elif event.phase == "start":
            self.stage = event.stage
        else:
            self.finished.append((event.stage, event.summary, at - self.t0))
            if event.stage == "selection":
                self.clips, self.durations = event.clips or 0, event.durations
                self.clips_since, self.stage = at, "clips"

    def clip_work(self) -> tuple[float, float]:
        """(done, total) of the clips' work: seconds of clip weighted by :data:`STEP_WEIGHTS`."""
        lengths = self.durations if len(self.durations) == self.clips else (1.0,) * self.clips
        total = sum(STEP_WEIGHTS.values()) * sum(lengths)
        done = sum(
            STEP_WEIGHTS.get(stage, 0.0) * lengths[i - 1]
            for stage, indexes in self.done.items()
            for i in indexes
            if 1 <= i <= len(lengths)
        )
        return done, total

    def left_s(self, now: float) -> float | None:
        """The estimate of what is left while clip work remains (None otherwise)."""
        if self.clips_since is None:
            return None
        done, total = self.clip_work()
        if done >= total:
            return None
        return remaining_s(now - self.clips_since, done, total)

    def current(self) -> str:
        """``transcript``, or while the clips are made the first step not done for all of
        them: ``render clip 2 of 3``."""
        if self.stage != "clips":
            return self.stage
        for stage in CLIP_STAGES:
            count = len(self.done.get(stage, ()))
            if count < self.clips:
                return f"{stage} clip {count + 1} of {self.clips}"
        return "verdict"


def live_view(
    state: JobProgress, now: float, spinner: RenderableType | None = None
) -> RenderableType:
    """The terminal view: a headline (stage, elapsed, estimate), each finished stage with what
    it found, and a bar over the clips' work with each per-clip stage's count."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    left = state.left_s(now)
    head = Table.grid(padding=(0, 2))
    head.add_row(
        spinner if spinner is not None else _outcome(state),
        Text(state.current(), style="bold cyan"),
        Text(f"elapsed {format_clock(now - state.t0)}"),
        Text(f"about {format_clock(left)} left" if left is not None else "", style="yellow"),
    )
    rows: list[RenderableType] = []
    for stage, summary, at in state.finished:
        rows.append(
            Text.assemble(
                ("✓ ", "green"),
                (f"{stage:<10} ", "bold"),
                (f"{format_clock(at):>5}  ", "dim"),
                summary,
                no_wrap=True,
                overflow="ellipsis",  # what was found, cut to the terminal's width
            )
        )
        if stage == "selection" and state.clips:
            rows.append(_clips_bar(state))
    return Group(head, *rows)


def _clips_bar(state: JobProgress) -> RenderableType:
    """``clips  ━━━━━━━━━━━━  42 %  framing 3/3 · render 1/3 · qa 0/3``."""
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    done, total = state.clip_work()
    counts = " · ".join(
        f"{stage} {len(state.done.get(stage, ()))}/{state.clips}" for stage in CLIP_STAGES
    )
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        Text("  clips     ", style="bold"),
        ProgressBar(total=total, completed=done, width=20),
        f"{100 * done / total:.0f} %  {counts}",
    )
    return bar


def _outcome(state: JobProgress) -> RenderableType:
    from rich.text import Text

    return Text("✓", style="green") if state.stage == "done" else Text("✗", style="red")


class Sink(Protocol):
    def show(self, event: StageEvent, at: float) -> None: ...
    def close(self) -> None: ...


class PlainSink:
    """A line on stderr for each finished stage (looked up when written: tests capture it)."""

    def __init__(self, t0: float) -> None:
        self.state = JobProgress(t0)

    def show(self, event: StageEvent, at: float) -> None:
        self.state.apply(event, at)
        if event.phase == "done":
            line = plain_line(event, at, at - self.state.t0, self.state.left_s(at))
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class LiveSink:
    """The live view on a terminal, redrawn four times a second (the elapsed time moves)."""

    def __init__(self, console: Console, t0: float) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self.state, self._lock = JobProgress(t0), threading.Lock()
        self._spinner: Spinner | None = Spinner("dots", style="cyan")
        self.live = Live(
            get_renderable=self._view,
            console=console,
            refresh_per_second=4,
            redirect_stdout=False,  # stdout is the job directory's line, untouched
            redirect_stderr=False,
        )
        self.live.start()

    def _view(self) -> RenderableType:
        with self._lock:
            return live_view(self.state, time.time(), self._spinner)

    def show(self, event: StageEvent, at: float) -> None:
        with self._lock:
            self.state.apply(event, at)
        self.live.refresh()

    def close(self) -> None:
        with self._lock:
            self._spinner = None
            if self.state.finished and self.state.finished[-1][0] == "publish":
                self.state.stage = "done"
        self.live.stop()


class ProgressHandler(logging.Handler):
    """Hands the stage events among a run logger's records to ``sink``."""

    def __init__(self, sink: Sink) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, EVENT_ATTR, None)
        if isinstance(event, StageEvent):
            self.sink.show(event, record.created)


def make_sink(console: Console, t0: float) -> Sink:
    """The live view on a terminal, plain lines elsewhere (a pipe, a file, a dumb terminal)."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveSink(console, t0)
    return PlainSink(t0)


@contextmanager
def progress_on_stderr(*, quiet: bool = False) -> Iterator[None]:
    """Show the progress of the flow run inside on stderr (nothing with ``quiet``)."""
    if quiet:
        yield
        return
    from rich.console import Console

    sink = make_sink(Console(stderr=True), time.time())
    handler = ProgressHandler(sink)
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        sink.close()
