"""Frame, render and check each chosen clip: all here, or framing and render on the gpu pool.

Both ways return the same records, one :class:`ClipResult` per clip in clip order, and add
what the stages that ran cost to the job's ledger, so ``process-video`` branches once
(docs/ARCHITECTURE.md, "Orchestration").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from prefect.futures import PrefectFuture

from blocks.settings import PipelineSettings
from flows.stopwatch import Stopwatch
from media.framing.framing_plan import FramingPlan
from media.ingest import Source
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from qa.records import ClipMeasurements
from tasks.artifacts import ClipProgress
from tasks.costs import Costed, CostLedger
from tasks.dispatch import dispatch_frame_render, localise
from tasks.framing import frame_clip
from tasks.qa import qa_clip
from tasks.records import ClipQA, FramedClip, RenderedClip
from tasks.render import render_clip
from tasks.stage_facts import framing_summary, measured_summary, render_summary
from tasks.stage_log import finished

Dispatch = Literal["local", "pools"]
R = TypeVar("R", bound=Costed)


@dataclass(frozen=True, slots=True)
class ClipBatch:
    """What one job's per-clip stages work from."""

    source: Source
    text: Transcript
    clips: tuple[ClipPlan, ...]
    settings: PipelineSettings
    out: str  # the job's output: with an s3:// prefix, the gpu pool's files travel below it


@dataclass(frozen=True, slots=True)
class ClipResult:
    """One clip done, wherever its stages ran."""

    clip: ClipPlan
    framing: FramingPlan
    rendered: RenderedClip  # its files on this machine
    measurements: ClipMeasurements


class ClipRunner(Protocol):
    def __call__(
        self, batch: ClipBatch, ledger: CostLedger, watch: Stopwatch, progress: ClipProgress
    ) -> list[ClipResult]: ...


def _collect(
    futures: Sequence[PrefectFuture[R]],
    ledger: CostLedger,
    each: Callable[[int, R], Any] | None = None,
) -> list[R]:
    """The futures' records in order, their costs added to ``ledger`` (and each one shown to
    ``each`` with its position as it arrives: the thread pool runs them in order, so this is
    about when they finish)."""
    records = []
    for i, future in enumerate(futures):
        record = future.result()
        ledger.add(record, future.state)
        if each is not None:
            each(i, record)
        records.append(record)
    return records


def _tell(
    stage: str, batch: ClipBatch, summary: Callable[[ClipPlan, R], str]
) -> Callable[[int, R], None]:
    """An ``each`` for :func:`_collect` that logs the stage's event for the i-th clip."""

    def each(i: int, record: R) -> None:
        clip = batch.clips[i]
        finished(stage, summary(clip, record), clip=clip.index, clips=len(batch.clips))

    return each


def _measured(batch: ClipBatch, progress: ClipProgress) -> Callable[[int, ClipQA], None]:
    """Each clip's QA: told in the log, counted in the progress artifact."""
    tell = _tell("qa", batch, _measurement)

    def each(i: int, record: ClipQA) -> None:
        tell(i, record)
        progress.done(record)

    return each


def here(
    batch: ClipBatch, ledger: CostLedger, watch: Stopwatch, progress: ClipProgress
) -> list[ClipResult]:
    """Every stage in this process: the clips' framing, render and QA tasks chained, so the
    flow's thread pool overlaps one clip's QA with the next one's render."""
    src, text, settings = batch.source, batch.text, batch.settings
    # Prefect resolves a future passed to a task into its result (hence the type ignores).
    framing = [frame_clip.submit(src, c, text, settings) for c in batch.clips]
    renders = [
        render_clip.submit(src, c, f, text, settings)  # type: ignore[call-overload]
        for c, f in zip(batch.clips, framing, strict=True)
    ]
    checks = [qa_clip.submit(r, settings) for r in renders]  # type: ignore[arg-type]
    framed = _collect(framing, ledger, _tell("framing", batch, _framing))
    watch.lap("frame")
    rendered = _collect(renders, ledger, _tell("render", batch, _rendered))
    watch.lap("render")
    measured = _collect(checks, ledger, _measured(batch, progress))
    watch.lap("qa_clips")
    return [
        ClipResult(c, f.framing, r, q.measurements)
        for c, f, r, q in zip(batch.clips, framed, rendered, measured, strict=True)
    ]


def on_pools(
    batch: ClipBatch, ledger: CostLedger, watch: Stopwatch, progress: ClipProgress
) -> list[ClipResult]:
    """Framing and render of each clip as a ``frame-and-render-clip`` run on the gpu pool
    (cached dispatch tasks, in parallel), QA here. With an ``s3://`` output the clip files
    travel through ``<out>/_stages/``."""
    src, text, settings = batch.source, batch.text, batch.settings
    store = f"{batch.out.rstrip('/')}/_stages" if batch.out.startswith("s3://") else None
    staged = [
        dispatch_frame_render.submit(src, c, text, settings, stage_store=store) for c in batch.clips
    ]
    done = []
    for i, future in enumerate(staged):
        done.append(localise(future.result(), src, settings))
        _tell("framing", batch, _framing)(i, done[-1].framed)
        _tell("render", batch, _rendered)(i, done[-1].rendered)
    watch.lap("frame_render")
    checks = [qa_clip.submit(d.rendered, settings) for d in done]
    for future, outcome in zip(staged, done, strict=True):
        ledger.add(outcome, future.state)  # a cached dispatch cost nothing this time
    measured = _collect(checks, ledger, _measured(batch, progress))
    watch.lap("qa_clips")
    return [
        ClipResult(c, d.framed.framing, d.rendered, q.measurements)
        for c, d, q in zip(batch.clips, done, measured, strict=True)
    ]


def _framing(clip: ClipPlan, framed: FramedClip) -> str:
    return framing_summary(clip, framed.framing)


def _rendered(_: ClipPlan, rendered: RenderedClip) -> str:
    return render_summary(rendered)


def _measurement(_: ClipPlan, checked: ClipQA) -> str:
    return measured_summary(checked.measurements)


RUNNERS: dict[Dispatch, ClipRunner] = {"local": here, "pools": on_pools}
