"""Plan mode: the stages up to selection, run in this process without an orchestrator.

``clipflow plan`` must answer in seconds, so it calls the same stage functions the flow runs
(``task.fn``: the function itself, no Prefect run, no server) and stops before framing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from blocks.settings import PipelineSettings
from media import highlights
from media.ingest import Source
from media.transcript import Transcript
from tasks.stages import ingest_source, ingest_transcript, load_transcript, select_highlights


@dataclass(frozen=True, slots=True)
class PlannedJob:
    source: Source
    transcript: Transcript
    plans: list[highlights.ClipPlan]
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage


def plan_clips(
    source_uri: str, transcript_uri: str | None, max_clips: int, settings: PipelineSettings
) -> PlannedJob:
    """Ingest, read or recognise the transcript, and choose the clips; nothing is rendered."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[stage] = round(now - t0, 3)
        t0 = now

    source, _ = ingest_source.fn(source_uri, settings)
    lap("ingest")
    sidecar = ingest_transcript.fn(transcript_uri, settings) if transcript_uri else None
    text, _ = load_transcript.fn(source, sidecar, transcript_uri, settings)
    lap("transcript")
    plans = select_highlights.fn(source, text, max_clips, settings)
    lap("selection")
    return PlannedJob(source, text, plans, timings)
