"""Hand-made stage records for the report and check tests, judged by the real gate."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

from blocks.settings import PipelineSettings
from media.framing.crop_path import CropKey
from media.framing.framing_plan import FramingPlan, Segment
from media.framing.layout import Layout
from media.framing.panels import Rect
from media.selection.candidates import ClipPlan
from qa.gate import clip_row, evaluate
from qa.records import ClipMeasurements, JobQA
from qa.report import build_report
from tests.helpers import compliant_codec

INF = float("inf")
CODEC = compliant_codec(width=360, height=640, bit_rate=600_000)
# Passes every check under the default settings (20 s, -14 LUFS, face centred, compliant codec).
GOOD = ClipMeasurements(-14.0, -1.5, 3.0, 0.95, 0, 20.0, CODEC)


@dataclass(frozen=True, slots=True)
class Cost:
    """A cost-ledger item as the report reads it (the ledger itself lives in tasks/)."""

    stage: str
    resource: str
    quantity: float
    unit: str
    usd: float


COSTS = [Cost("render", "cpu", 12.5, "vcpu_s", 0.000167), Cost("qa", "cpu", 3.0, "vcpu_s", 0.00004)]


def plan(index: int, text: str, duration: float) -> ClipPlan:
    subs = {"salience": 0.8, "cohesion": 0.6, "self_contained": 1.0, "length": 0.4, "total": 0.7}
    start = 100.0 * index
    return ClipPlan(index, start, start + duration, text, 0.7, "SPEAKER_1", 0, 3,
                    title=f"Title {index}", sub_scores=subs)  # fmt: skip


def framing(duration: float) -> FramingPlan:
    face = tuple((i / 10, 900.0 + 20 * math.sin(i / 20), 380.0) for i in range(int(duration * 10)))
    keys = (CropKey(0.0, 656, 0), CropKey(duration / 2, 700, 0))
    shots = (  # a close-up, then a cut to a screen share stacked over its presenter
        Segment(0.0, duration / 2, Layout.SINGLE, 608, 1080, keys[:1]),
        Segment(duration / 2, duration, Layout.SCREEN_SHARE, 120, 146,
                (CropKey(duration / 2, 1700, 40),), screen=Rect(0, 0, 1600, 1080)),
    )  # fmt: skip
    return FramingPlan("single", 608, 1080, keys, face, {}, shots, (duration / 2,), 0.9)


def measured(duration: float, lufs: float, momentary: tuple[Any, ...] = ()) -> ClipMeasurements:
    return replace(GOOD, integrated_lufs=lufs, duration_s=duration, momentary=momentary)


def judge(clips: list[ClipMeasurements], settings: PipelineSettings | None = None) -> JobQA:
    """The real gate's verdict on these clips (clean boundaries, the ledger's cost)."""
    rows = [clip_row(m, boundary_clean=True, clip=f"clip-{i:02d}") for i, m in enumerate(clips, 1)]
    total = sum(c.usd for c in COSTS)
    return evaluate(rows, settings or PipelineSettings(), total_usd=total)


def make_report(
    texts: list[str],
    lufs: list[float],
    *,
    durations: list[float] | None = None,
    clips: list[ClipMeasurements] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A job of compliant clips at the given loudness (``clips``: the measurements as given),
    judged by the real gate: a clip off the loudness target fails, and the job its spread."""
    durations = durations or [20.0] * len(texts)
    momentary = [
        tuple(
            (i / 10, (-INF if i < 4 else lufs_i + 3 * math.sin(i / 7))) for i in range(int(d * 10))
        )
        for d, lufs_i in zip(durations, lufs, strict=True)
    ]
    clips = clips or [measured(d, v, m) for d, v, m in zip(durations, lufs, momentary, strict=True)]
    return build_report(
        job_id=extra.get("job_id", "job-1"),
        source=SimpleNamespace(
            uri=extra.get("uri", "s3://inbox/talks/interview.mp4"),
            sha256="ab" * 32,
            info=SimpleNamespace(
                duration_s=2700.0, video=[SimpleNamespace(width=1920, height=1080, fps=30.0)]
            ),
        ),
        plans=[plan(i + 1, t, d) for i, (t, d) in enumerate(zip(texts, durations, strict=True))],
        rendered=[
            SimpleNamespace(encoder="libx264", audio_renders=n)
            for n in extra.get("audio_renders", [1] * len(texts))
        ],
        measured=clips,
        framed=[framing(d) for d in durations],
        verdict=judge(clips),
        costs=COSTS,
        timings={"ingest": 0.4, "render": 12.0, "qa_clips": 3.1},
        wall_s=17.2,
    )
