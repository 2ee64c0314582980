"""Publishing a job: clips and sidecars into a fresh job directory, the report last, then the
Prefect artifacts; to S3 when the output is an ``s3://`` prefix."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import PipelineSettings
from tasks.records import RenderedClip
from tasks.retries import TRANSIENT_RETRIES


def new_job_dir(out: Path, job_id: str) -> Path:
    """Where a job's directory goes (made by :func:`publish_job`). Job ids are unique, so no
    other job's output is ever overwritten; a retried run of the same job replaces its own."""
    out.mkdir(parents=True, exist_ok=True)
    return out / job_id


def _install(staged: Path, final: Path) -> None:
    """Move a complete staged job directory into place. An earlier attempt of the same job
    (killed after publishing, before recording) is replaced, never merged with."""
    if final.exists():
        old = final.with_name(f".{final.name}.replaced-{staged.name[-12:]}")
        final.rename(old)
        staged.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(final)


def job_texts(plan_json: str, rendered: list[RenderedClip]) -> dict[str, str]:
    """The job directory's text files by relative path: the plan it rendered (to edit and
    render again) and each clip's captions."""
    texts = {"plan.json": plan_json}
    for clip in rendered:
        for kind, path in clip.captions.items():
            texts[f"clips/clip-{clip.index:02d}.{kind}"] = Path(path).read_text(encoding="utf-8")
    return texts


def link_clip(rendered_path: str, index: int, clips_dir: Path) -> Path:
    """Place a finished clip in the job directory (hard link when possible, else copy)."""
    clips_dir.mkdir(parents=True, exist_ok=True)
    dest = clips_dir / f"clip-{index:02d}.mp4"
    try:
        dest.hardlink_to(rendered_path)
    except OSError:
        shutil.copy2(rendered_path, dest)
    return dest


@task(name="publish", cache_policy=NO_CACHE)
def publish_job(
    job_dir: str,
    clip_paths: dict[int, str],
    report: dict[str, Any],
    location: str,
    sidecars: dict[str, str] | None = None,
) -> str:
    """Clips and their sidecars first (``sidecars``: text files by path relative to the job
    directory: captions, the plan), then ``report.json`` and ``report.html``, then the Prefect
    artifacts (linking to ``location``, where the job directory ends up): a report always
    describes complete files. The directory is assembled in a private scratch folder beside it
    and renamed into place whole, so a crash never leaves a half-published job directory."""
    from tasks import disk
    from tasks.artifacts import publish_job_artifacts

    final = Path(job_dir)
    for leftover in (".publish-", ".replaced-"):  # what a killed attempt of this job left
        disk.sweep_stale(final.parent, f".{final.name}{leftover}")
    try:
        with disk.scratch_dir(final.parent, f".{final.name}.publish-") as staged:
            _assemble(staged, clip_paths, report, sidecars)
            _install(staged, final)
    except OSError as exc:
        if full := disk.as_disk_full(exc, final.parent):
            raise full from exc
        raise
    publish_job_artifacts(report, location)
    return job_dir


def _assemble(
    folder: Path,
    clip_paths: dict[int, str],
    report: dict[str, Any],
    sidecars: dict[str, str] | None,
) -> None:
    from qa.report import write_report

    for index, path in sorted(clip_paths.items()):
        link_clip(path, index, folder / "clips")
    for name, text in sorted((sidecars or {}).items()):
        target = folder / name
        if not target.resolve().is_relative_to(folder.resolve()):
            raise ValueError(f"sidecar {name!r} would land outside the job directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    write_report(folder, report)


@task(name="publish-s3", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def publish_to_s3(job_dir: str, prefix_uri: str, settings: PipelineSettings) -> list[str]:
    """Upload a finished job directory below ``prefix_uri``, the report last, then drop the
    local staging copy. Returns the uploaded URIs in upload order."""
    from tasks import storage

    uploaded = storage.upload_dir(
        job_dir, prefix_uri, settings, last=["report.json", "report.html"]
    )
    shutil.rmtree(job_dir, ignore_errors=True)
    return uploaded
