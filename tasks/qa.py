"""QA of one clip: measure the produced file only (loudness, framing, codec, decode errors).

The verdict over all clips (the gate) runs in the flow, on these measurements.
"""

from __future__ import annotations

from prefect import task

from blocks.settings import PipelineSettings
from tasks.caching import CACHED
from tasks.costs import CostItem, metered
from tasks.records import ClipQA, RenderedClip


@task(name="qa-clip", **CACHED)
def qa_clip(rendered: RenderedClip, settings: PipelineSettings) -> ClipQA:
    """What the delivered file measures: what the gate checks."""
    from qa.measure import measure_clip

    costs: list[CostItem] = []
    with metered("qa", costs):
        measured = measure_clip(rendered.path, settings, rendered.face_regions)
    return ClipQA(measured, tuple(costs))
