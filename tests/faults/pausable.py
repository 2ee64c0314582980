"""``process-video`` exactly as shipped, with one pause point for the kill tests.

The kill tests need the job's process to be inside a given stage when they SIGKILL it. Stages
on a 30-s sample take from milliseconds to seconds, so watching the API and shooting would hit
whichever stage happens to run. Instead this entrypoint (what the test deployment loads)
wraps one callable so that, the first time the named stage reaches it, the process writes its
pid to a marker file and waits to be killed. Nothing is replaced or faked: the wrapper calls
the real function in every other case, and the retried run (the marker exists) never pauses.

``CLIPFLOW_FAULT_PAUSE_AT`` names the stage; ``CLIPFLOW_FAULT_MARKER`` the marker file. Most
stages pause as their task body starts; ``render-clip`` pauses just before its video encode
(its scratch folder then holds the clip's audio and captions) and ``publish`` just before the
report (the staged job folder then holds the clips).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import media.ffmpeg
import qa.report
from flows.process_video import process_video
from tasks.framing import frame_clip
from tasks.ingest import ingest_source
from tasks.qa import qa_clip
from tasks.record import record_job
from tasks.selection import select_highlights
from tasks.transcript import load_transcript

PAUSE_ENV = "CLIPFLOW_FAULT_PAUSE_AT"
MARKER_ENV = "CLIPFLOW_FAULT_MARKER"
PAUSE_LIMIT_S = 600.0  # never hang a test run for ever: the test kills well before this

TASK_BODIES = {
    "ingest": ingest_source,
    "load-transcript": load_transcript,
    "select-highlights": select_highlights,
    "frame-clip": frame_clip,
    "qa-clip": qa_clip,
    "record": record_job,
}


def _current_stage() -> str | None:
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    return ctx.task.name if ctx else None


def _pause(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while time.monotonic() < deadline:
        time.sleep(0.2)
    raise RuntimeError(f"paused at {os.environ[PAUSE_ENV]} and never killed")


def _pausing(fn: Callable[..., Any], stage: str, marker: Path, when: Callable[..., bool]):
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _current_stage() == stage and not marker.exists() and when(*args, **kwargs):
            _pause(marker)
        return fn(*args, **kwargs)

    return wrapper


def _is_clip_encode(argv: Any, *args: Any, **kwargs: Any) -> bool:
    out = str(list(argv)[-1])
    return "/.render-" in out and out.endswith(".mp4")


def _install() -> None:
    stage, marker = os.environ.get(PAUSE_ENV), os.environ.get(MARKER_ENV)
    if not stage or not marker:
        return
    path = Path(marker)
    if stage in TASK_BODIES:
        task = TASK_BODIES[stage]
        task.fn = _pausing(task.fn, stage, path, lambda *a, **k: True)
    elif stage == "render-clip":
        media.ffmpeg.run = _pausing(media.ffmpeg.run, stage, path, _is_clip_encode)
    elif stage == "publish":
        qa.report.write_report = _pausing(qa.report.write_report, stage, path, lambda *a: True)
    else:
        raise ValueError(f"{PAUSE_ENV}={stage!r}: no pause point for that stage")


_install()
__all__ = ["process_video"]
