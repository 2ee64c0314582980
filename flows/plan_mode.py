"""Plan mode (``clipflow plan``): the stages up to selection, without an orchestrator.

``clipflow plan`` must answer in seconds, so it calls the same stage functions the flow runs
(``task.fn``: the function itself, no Prefect run, no server) and stops before framing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from blocks.settings import PipelineSettings
from flows.stopwatch import Stopwatch
from media.ingest import Source
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from tasks.ingest import ingest_source, ingest_transcript
from tasks.selection import select_highlights
from tasks.sidecars import find_sidecar
from tasks.transcript import load_transcript


@dataclass(frozen=True, slots=True)
class PlannedJob:
    source: Source
    transcript: Transcript
    clips: tuple[ClipPlan, ...]
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage


def plan_clips(
    source_uri: str, transcript_uri: str | None, max_clips: int, settings: PipelineSettings
) -> PlannedJob:
    """Ingest, read or recognise the transcript, and choose the clips; nothing is rendered."""
    watch = Stopwatch()
    source = ingest_source.fn(source_uri, settings).source
    watch.lap("ingest")
    # As in a job: an S3 recording's sidecar beside it is used when none is given.
    given = transcript_uri or find_sidecar.fn(source_uri, settings)
    sidecar = ingest_transcript.fn(given, settings) if given else None
    text = load_transcript.fn(source, sidecar, given, settings).transcript
    watch.lap("transcript")
    clips = select_highlights.fn(source, text, max_clips, settings).clips
    watch.lap("selection")
    return PlannedJob(source, text, clips, watch.stages)
