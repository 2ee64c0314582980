"""Run a job's GPU stages as their own deployment on the ``gpu`` work pool.

:func:`dispatch_frame_render` calls the ``frame-and-render-clip`` deployment through
``run_deployment`` (a sub-flow in the UI) inside a cached task: its key is the content of the
inputs, so a retried parent reuses finished GPU work instead of dispatching it again. The
child's return value comes back through Prefect result storage (local on one machine, an S3
bucket block via ``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`` in production); the clip file
through ``stage_store`` (an ``s3://`` prefix) when given, else the shared work directory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from prefect import task

from blocks.settings import PipelineSettings
from media.errors import ClipflowError
from media.highlights import ClipPlan
from media.ingest import Source
from media.transcript import Transcript
from tasks.stages import CACHED, RenderedClip, job_work_dir

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
    plan: ClipPlan,
    text: Transcript,
    settings: PipelineSettings,
    deployment: str = GPU_DEPLOYMENT,
    stage_store: str | None = None,
    timeout_s: float = 3600,
) -> tuple[tuple[Any, list], tuple[RenderedClip, list]]:
    """Frame and render one clip on the gpu pool: what :func:`frame_clip` and
    :func:`render_clip` would have returned, the clip's files named by ``stage_store`` URIs
    when one is given (see :func:`localise`)."""
    from prefect.deployments import run_deployment

    from flows.gpu_stages import portable_settings

    run = run_deployment(
        name=deployment,
        parameters={
            "source": source,
            "plan": plan,
            "text": text,
            "settings": portable_settings(settings),
            "stage_store": stage_store,
        },
        timeout=timeout_s,
        as_subflow=True,
    )
    state = run.state
    if state is None or not state.is_completed():
        raise DispatchError(
            f"{deployment}: clip {plan.index} run {run.name} ended "
            f"{state.name if state else 'without a state'} (expected Completed)"
        )
    return state.result()


def localise(
    outcome: tuple[tuple[Any, list], tuple[RenderedClip, list]],
    source: Source,
    settings: PipelineSettings,
) -> tuple[tuple[Any, list], tuple[RenderedClip, list]]:
    """A dispatch's outcome with the clip's files on this machine. Kept out of the cached task
    on purpose: the cache holds URIs, valid wherever a retried parent runs."""
    framing, (clip, costs) = outcome
    folder = job_work_dir(source, settings) / f"clip-{clip.index:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    return framing, (import_rendered(clip, folder, settings), costs)
