"""Ingest: the recording (and its sidecar transcript) into content-addressed local copies.

Not cached, whatever Prefect's defaults: the content hash is what later keys are made of, so it
is computed every run, a retried run included (the copy is cheap next to any stage after it;
Prefect's default policy would serve a retry from the cache once results persist, as the CLI
makes them). Retried only on transient storage errors.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import PipelineSettings
from media import ffmpeg, ingest
from tasks.costs import CostItem, metered, s3_read_costs
from tasks.records import Ingested, Sidecar
from tasks.retries import TRANSIENT_RETRIES
from tasks.workdir import fetched


@task(name="ingest", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def ingest_source(uri: str, settings: PipelineSettings) -> Ingested:
    """Fetch (S3) or read (local) the source into a content-addressed copy; probe; validate."""
    costs: list[CostItem] = []
    with metered("ingest", costs):
        ffmpeg.require_binaries()
        sources = settings.work_dir / "sources"
        with fetched(uri, sources, settings) as local:
            if uri.startswith("s3://"):
                costs += s3_read_costs("ingest", local.stat().st_size)
            src = ingest.accept(local, sources, uri=uri, min_duration_s=settings.min_clip_s)
    return Ingested(src, tuple(costs))


@task(name="ingest-transcript", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def ingest_transcript(uri: str, settings: PipelineSettings) -> Sidecar:
    """Copy a sidecar transcript (local or S3) by content hash."""
    folder = settings.work_dir / "transcripts"
    with fetched(uri, folder, settings) as local:
        sha, path = ingest.copy_hashed(local, folder, label=uri)
    return Sidecar(sha, str(path))
