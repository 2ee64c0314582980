"""``frame-and-render-clip``: one clip's gpu stages (framing, render) as a flow of their own,
deployed on the ``gpu`` work pool and called by ``process-video`` when ``dispatch="pools"``
(through :func:`tasks.dispatch.dispatch_frame_render`, by deployment name).

It runs the same cached tasks as the in-process path. Inputs arrive as JSON parameters
(records, never frame data); the result goes back through Prefect result storage and the
clip file through object storage (``stage_store``, an ``s3://`` prefix) or, on one machine,
the shared work directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from blocks.settings import PipelineSettings
from media.errors import InputError
from media.ingest import Source
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from tasks.costs import fresh
from tasks.dispatch import export_rendered
from tasks.framing import frame_clip
from tasks.ingest import ingest_source
from tasks.records import FramedAndRendered
from tasks.render import render_clip


def _source_here(source: Source, settings: PipelineSettings) -> Source:
    """The source with a local copy on this machine: re-fetched by its URI when the parent's
    copy is not here, and refused if its content changed since the parent's ingest."""
    if Path(source.local_path).is_file():
        return source
    fetched = ingest_source(source.uri, settings).source
    if fetched.sha256 != source.sha256:
        raise InputError(
            f"{source.uri}: content changed since ingest "
            f"(sha256 {fetched.sha256[:12]}…, expected {source.sha256[:12]}…)"
        )
    return fetched


@flow(name="frame-and-render-clip", persist_result=True, validate_parameters=True)
def frame_and_render_clip(
    source: Source,
    clip: ClipPlan,
    text: Transcript,
    settings: dict[str, Any],
    stage_store: str | None = None,
) -> FramedAndRendered:
    """Frame and render one clip; each record without its costs when it came from the cache.

    ``settings`` are the parent's portable ones (:meth:`PipelineSettings.portable`): this
    machine's environment supplies its own home, database and credentials. With
    ``stage_store`` the clip and its captions are uploaded there and the record carries their
    URIs instead of local paths.
    """
    local = PipelineSettings(**settings)
    source = _source_here(source, local)
    framed = frame_clip(source, clip, text, local, return_state=True)
    rendered = render_clip(source, clip, framed.result(), text, local, return_state=True)
    made = rendered.result()
    if stage_store:
        made = export_rendered(made, stage_store, source.sha256, local)
    return FramedAndRendered(fresh(framed.result(), framed), fresh(made, rendered))
