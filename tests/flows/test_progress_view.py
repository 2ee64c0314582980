"""The CLI's progress: the estimate, the plain line format, the state the events build, the
terminal view, and the handler that reads events off the run logger. Pure, no Prefect run:
tests/flows/test_process_video.py checks the real event stream of a real job."""

from __future__ import annotations

import io
import logging
import time

import pytest
from rich.console import Console

from flows.progress_view import (
    JobProgress,
    LiveSink,
    PlainSink,
    ProgressHandler,
    format_clock,
    live_view,
    make_sink,
    plain_line,
    remaining_s,
)
from tasks.stage_log import EVENT_ATTR, StageEvent
from tests.helpers import PROGRESS_LINE, progress_lines


@pytest.mark.parametrize(
    ("elapsed", "done", "total", "left"),
    [
        (10.0, 0.0, 100.0, None),  # no work done yet: no pace, no estimate
        (10.0, 25.0, 100.0, 30.0),  # a quarter in 10 s: three quarters in 30 s
        (10.0, 50.0, 100.0, 10.0),
        (0.0, 50.0, 100.0, 0.0),  # served from the cache: no time per unit of work
        (10.0, 100.0, 100.0, 0.0),
        (10.0, 120.0, 100.0, 0.0),  # more reported than planned: nothing left, never negative
        (10.0, 5.0, 0.0, None),  # nothing planned
    ],
)
def test_remaining_goes_at_the_measured_pace(elapsed, done, total, left) -> None:
    assert remaining_s(elapsed, done, total) == left


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00"), (4.6, "0:05"), (59.4, "0:59"), (61, "1:01"), (754, "12:34"), (3723, "1:02:03"),
     (-3, "0:00")],
)  # fmt: skip
def test_format_clock(seconds, text) -> None:
    assert format_clock(seconds) == text


def test_plain_line_format() -> None:
    event = StageEvent("render", "done", "720×1280 libx264,\n -14.02 LUFS", clip=1, clips=3)
    line = plain_line(event, at=1_796_678_405.0, elapsed_s=16.14, left_s=41.6)
    assert line == (
        "clipflow: progress t=2026-12-07T21:20:05Z elapsed=16.1 stage=render clip=1/3 left=42 "
        "| 720×1280 libx264, -14.02 LUFS"
    )
    job_level = plain_line(StageEvent("ingest", "done", "a.mp4: 60.0 s"), 0.0, 3.0, None)
    assert PROGRESS_LINE.match(job_level) and "clip=- left=- | a.mp4: 60.0 s" in job_level


def _selection(n: int, durations: tuple[float, ...]) -> StageEvent:
    return StageEvent("selection", "done", f"{n} clips", clips=n, durations=durations)


def _clip(stage: str, i: int, n: int) -> StageEvent:
    return StageEvent(stage, "done", f"{stage} {i}", clip=i, clips=n)


def test_state_follows_stages_and_weighs_clip_work_by_length() -> None:
    state = JobProgress(t0=100.0)
    assert state.current() == "starting" and state.left_s(100.0) is None
    state.apply(StageEvent("ingest", "start"), 100.0)
    assert state.current() == "ingest"
    state.apply(StageEvent("ingest", "done", "facts"), 101.0)
    state.apply(StageEvent("transcript", "start"), 101.0)
    assert state.current() == "transcript"
    state.apply(_selection(2, (30.0, 10.0)), 104.0)
    assert state.finished == [("ingest", "facts", 1.0), ("selection", "2 clips", 4.0)]
    assert state.current() == "framing clip 1 of 2"
    assert state.clip_work() == (0.0, 4 * 40.0)
    assert state.left_s(110.0) is None  # nothing done yet: no estimate
    state.apply(_clip("framing", 1, 2), 110.0)  # 30 units (of 160) in 6 s
    assert state.clip_work() == (30.0, 160.0)
    assert state.left_s(110.0) == pytest.approx(6.0 * 130 / 30)
    state.apply(_clip("framing", 2, 2), 112.0)
    assert state.current() == "render clip 1 of 2"
    for stage in ("render", "qa"):
        for i in (1, 2):
            state.apply(_clip(stage, i, 2), 120.0)
    assert state.clip_work() == (160.0, 160.0)
    assert state.left_s(120.0) is None  # the clips are done; the tail is not estimated
    assert state.current() == "verdict"
    state.apply(StageEvent("verdict", "start"), 121.0)
    assert state.current() == "verdict"


def test_state_without_usable_lengths_counts_clips_alike() -> None:
    state = JobProgress(t0=0.0)
    state.apply(_selection(2, ()), 0.0)
    state.apply(_clip("render", 2, 2), 1.0)
    assert state.clip_work() == (2.0, 8.0)


def _events() -> list[StageEvent]:
    return [
        StageEvent("ingest", "start"),
        StageEvent("ingest", "done", "talk.mp4: 90.0 s, 1920×1080 at 30.00 fps"),
        StageEvent("transcript", "start"),
        StageEvent("transcript", "done", "vtt: 245 words in 20 sentences " + "and more " * 20),
        StageEvent("selection", "start"),
        _selection(3, (20.0, 20.0, 20.0)),
        _clip("framing", 1, 3),
        _clip("framing", 2, 3),
        _clip("framing", 3, 3),
        _clip("render", 1, 3),
    ]


def test_live_view_shows_stage_clip_elapsed_and_estimate() -> None:
    state = JobProgress(t0=0.0)
    for k, event in enumerate(_events()):
        state.apply(event, float(k))
    console = Console(file=io.StringIO(), width=80, record=True, color_system=None)
    console.print(live_view(state, now=65.0))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    head = text.splitlines()[0]
    assert "render clip 2 of 3" in head and "elapsed 1:05" in head
    # 3 framing + 1 render = 100 of 240 units in 65 - 5 s: 140 more take 84 s.
    assert "about 1:24 left" in head
    # Each finished stage: its name, when it finished, what it found (cut to the width).
    assert "✓ ingest      0:01  talk.mp4: 90.0 s" in text
    assert "✓ transcript  0:03  vtt: 245 words in 20 sentences and more" in text
    assert "✓ selection   0:05  3 clips" in text
    assert "framing 3/3 · render 1/3 · qa 0/3" in text
    assert "42 %" in text


def test_handler_reads_events_off_the_records_and_ignores_other_logs(capsys) -> None:
    sink = PlainSink(t0=time.time())
    handler = ProgressHandler(sink)
    logger = logging.getLogger("tests.progress_view")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)  # as stage_log.send_run_logs_to_api sets the run loggers
    try:
        logger.warning("not a stage event")
        for event in _events():
            logger.info("%s", event.label, extra={EVENT_ATTR: event})
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    parsed = progress_lines(err)
    assert len(parsed) == len(err.splitlines())
    assert [(m["stage"], m["clip"]) for m in parsed] == [
        ("ingest", "-"), ("transcript", "-"), ("selection", "-"), ("framing", "1/3"),
        ("framing", "2/3"), ("framing", "3/3"), ("render", "1/3"),
    ]  # fmt: skip
    # No estimate before the first clip step; one after it.
    assert [m["left"] != "-" for m in parsed] == [False] * 3 + [True] * 4


def test_terminal_gets_the_live_view_anything_else_plain_lines() -> None:
    plain = make_sink(Console(file=io.StringIO()), 0.0)
    assert isinstance(plain, PlainSink)
    tty = make_sink(Console(file=io.StringIO(), force_terminal=True, width=100), 0.0)
    try:
        assert isinstance(tty, LiveSink)
    finally:
        tty.close()
