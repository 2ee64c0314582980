"""Framing: find the faces in a clip's window and plan a calm crop that follows the speaker."""

from __future__ import annotations

from prefect import task

from blocks.settings import PipelineSettings
from media.framing.analysis import analyse_window
from media.framing.framing_plan import plan_framing
from media.framing.speakers import clip_speech
from media.ingest import Source
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from tasks.caching import CACHED
from tasks.costs import CostItem, metered
from tasks.records import FramedClip


@task(name="frame-clip", tags=["gpu"], **CACHED)
def frame_clip(
    source: Source, clip: ClipPlan, text: Transcript, settings: PipelineSettings
) -> FramedClip:
    """Analyse the clip's window once (faces at ``analysis_fps``) and plan its crop path."""
    costs: list[CostItem] = []
    # ffmpeg applies rotation metadata while decoding: plan in displayed pixels.
    width, height = source.info.video[0].display_size
    with metered("frame", costs):
        analysis = analyse_window(
            source.local_path,
            clip.start_s,
            clip.duration_s,
            width,
            height,
            fps=settings.analysis_fps,
            width=settings.analysis_width,
        )
        framing = plan_framing(
            analysis,
            src_w=width,
            src_h=height,
            aspect=settings.aspect,
            speech=clip_speech(text, clip),
            max_zoom=settings.max_zoom,
        )
    return FramedClip(framing, tuple(costs))
