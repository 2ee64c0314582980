"""``frame-and-render-clip``: one clip's GPU stages (framing, render) as a flow of their own,
deployed on the ``gpu`` work pool and called by ``process-video`` when ``dispatch="pools"``.

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
from media.highlights import ClipPlan
from media.ingest import Source
from media.transcript import Transcript
from tasks.stages import frame_clip, ingest_source, render_clip

# Settings that say where *this* machine keeps things or who it is: the gpu worker's own
# environment supplies them (secrets never travel as parameters).
LOCAL_SETTINGS = frozenset({"home", "database_url", "aws_access_key_id", "aws_secret_access_key"})


def portable_settings(settings: PipelineSettings) -> dict[str, Any]:
    """The settings as JSON parameters for another machine, without its local ones."""
    return settings.model_dump(mode="json", exclude=set(LOCAL_SETTINGS))


def _fresh(state: Any) -> list:
    """A stage's cost items, or none when it was served from cache."""
    _, costs = state.result()
    return [] if state.name == "Cached" else list(costs)


@flow(name="frame-and-render-clip", persist_result=True, validate_parameters=True)
def frame_and_render_clip(
    source: Source,
    plan: ClipPlan,
    text: Transcript,
    settings: dict[str, Any],
    stage_store: str | None = None,
) -> tuple[tuple[Any, list], tuple[Any, list]]:
    """Frame and render one clip: ((FramingPlan, costs), (RenderedClip, costs)).

    The source is re-fetched by its URI when its local copy is not on this machine. With
    ``stage_store`` the clip and its captions are uploaded there and the record carries
    their URIs instead of local paths.
    """
    from tasks.dispatch import export_rendered

    local = PipelineSettings(**settings)
    if not Path(source.local_path).is_file():
        fetched, _ = ingest_source(source.uri, local)
        if fetched.sha256 != source.sha256:
            from media.errors import InputError

            raise InputError(
                f"{source.uri}: content changed since ingest "
                f"(sha256 {fetched.sha256[:12]}…, expected {source.sha256[:12]}…)"
            )
        source = fetched
    framed = frame_clip(source, plan, text, local, return_state=True)
    rendered = render_clip(source, plan, framed.result(), text, local, return_state=True)
    clip, _ = rendered.result()
    if stage_store:
        clip = export_rendered(clip, stage_store, source.sha256, local)
    return (framed.result()[0], _fresh(framed)), (clip, _fresh(rendered))
