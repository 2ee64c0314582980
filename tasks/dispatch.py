"""Run a clip's gpu stages (framing, render) as a deployment on the ``gpu`` work pool.

:func:`dispatch_frame_render` calls the ``frame-and-render-clip`` deployment through
``run_deployment`` (a sub-flow in the UI) inside a cached task: its key is the content of the
inputs, so a retried parent reuses finished GPU work instead of dispatching it again. The
child's return value comes back through Prefect result storage (local on one machine, an S3
bucket block via ``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`` in production); the clip file
through ``stage_store`` (an ``s3://`` prefix) when given, else the shared work directory.
The flow it calls is deployed from ``flows/gpu_stages.py``; this module knows it by name only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

from prefect import task

from blocks.settings import PipelineSettings
from media.errors import ClipflowError
from media.ingest import Source
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from tasks.caching import CACHED
from tasks.records import FramedAndRendered, RenderedClip
from tasks.workdir import clip_work_dir

GPU_DEPLOYMENT = "frame-and-render-clip/frame-and-render-clip"


class DispatchError(ClipflowError):
    """A dispatched stage run did not complete."""


def stage_prefix(store: str, sha256: str, index: int) -> str:
    """Where one clip's files travel: content-addressed, so re-runs overwrite, never pile up."""
    return f"{store.rstrip('/')}/{sha256[:16]}/clip-{index:02d}"


def export_rendered(
    clip: RenderedClip, store: str, sha256: str, settings: PipelineSettings
) -> RenderedClip:
    """Upload a rendered clip and its captions under ``store``; the record with their URIs."""
    from tasks.storage import upload_file

    prefix = stage_prefix(store, sha256, clip.index)
    path = upload_file(clip.path, f"{prefix}/{Path(clip.path).name}", settings)
    captions = {
        kind: upload_file(p, f"{prefix}/{Path(p).name}", settings)
        for kind, p in clip.captions.items()
    }
    return dataclasses.replace(clip, path=path, captions=captions)


def import_rendered(clip: RenderedClip, folder: Path, settings: PipelineSettings) -> RenderedClip:
    """The record with local paths: files named by ``s3://`` URIs are downloaded to ``folder``."""
    from tasks.storage import download

    def local(uri: str) -> str:
        return str(download(uri, folder, settings)) if uri.startswith("s3://") else uri

    captions = {kind: local(p) for kind, p in clip.captions.items()}
    return dataclasses.replace(clip, path=local(clip.path), captions=captions)


@task(name="dispatch-frame-render", **CACHED)
def dispatch_frame_render(
    source: Source,
    clip: ClipPlan,
    text: Transcript,
    settings: PipelineSettings,
    deployment: str = GPU_DEPLOYMENT,
    stage_store: str | None = None,
    timeout_s: float = 3600,
) -> FramedAndRendered:
    """Frame and render one clip on the gpu pool; the clip's files named by ``stage_store``
    URIs when one is given (see :func:`localise`). The gpu machine's own settings supply what
    is local to it (:meth:`PipelineSettings.portable`)."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    run = cast(
        FlowRun,
        run_deployment(
            name=deployment,
            parameters={
                "source": source,
                "clip": clip,
                "text": text,
                "settings": settings.portable(),
                "stage_store": stage_store,
            },
            timeout=timeout_s,
            as_subflow=True,
        ),
    )
    state = run.state
    if state is None or not state.is_completed():
        raise DispatchError(
            f"{deployment}: clip {clip.index} run {run.name} ended "
            f"{state.name if state else 'without a state'} (expected Completed)"
        )
    outcome: FramedAndRendered = state.result()
    return outcome


def localise(
    outcome: FramedAndRendered, source: Source, settings: PipelineSettings
) -> FramedAndRendered:
    """A dispatch's outcome with the clip's files on this machine. Kept out of the cached task
    on purpose: the cache holds URIs, valid wherever a retried parent runs."""
    folder = clip_work_dir(source, outcome.rendered.index, settings)
    return dataclasses.replace(
        outcome, rendered=import_rendered(outcome.rendered, folder, settings)
    )
