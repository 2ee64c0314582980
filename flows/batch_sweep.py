"""``batch-sweep``: start a ``process-video`` job for every inbox recording not yet done.

The nightly safety net beside the S3 event trigger: it lists an inbox (an ``s3://`` prefix or a
local folder), identifies each recording by content, skips those whose content already has a
succeeded job with the same settings (or has a job in flight), and starts the rest with at
most ``max_concurrent`` running at once.

Content identity. The job database keys jobs on the source's sha256 (``jobs.source_sha256``),
which an S3 listing does not give: an ETag is an MD5 only for single-part, unencrypted uploads.
So the sweep streams each object once through sha256, in a task cached on (URI, ETag, size):
the listing's ETag changes whenever the bytes do, so later sweeps reuse the digest without
reading the object again. Local files are cached the same way on (path, size, mtime, inode).
The first sweep over an inbox reads everything once; after that only new or changed files.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger, task
from prefect.context import FlowRunContext
from pydantic import Field

from blocks.loading import load_settings
from blocks.settings import PipelineSettings
from media.errors import InputError, StorageError
from tasks import jobdb, storage
from tasks.common import stable_digest

DEFAULT_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".webm")
SIDECAR_SUFFIXES = (".vtt", ".srt")
# Names that a copy in progress wears: browsers, rsync, clipflow's own downloads (".part-…").
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart", "~")
ACTIVE_STATES = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING")
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One recording in the inbox; ``fingerprint`` changes whenever its bytes may have."""

    uri: str
    size: int
    fingerprint: str  # "etag:<etag>" (S3) or "stat:<size>:<mtime_ns>:<inode>" (local)
    transcript: str | None  # a sidecar with the same stem (.vtt, .srt), if any


@dataclass(frozen=True, slots=True)
class Started:
    source: str
    sha256: str
    flow_run_id: str | None  # None for dispatch="local" runs that failed before starting
    state: str  # the run's final state (or its state when the sweep stopped waiting)


@dataclass(frozen=True, slots=True)
class Skipped:
    source: str
    sha256: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class SweepReport:
    inbox: str
    settings_hash: str
    started: tuple[Started, ...]
    skipped: tuple[Skipped, ...]


# --- listing (pure but for the file system / one S3 client) ---------------------------------


def _hidden_or_partial(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES)


def list_local(folder: Path, suffixes: Iterable[str]) -> list[InboxItem]:
    """Recordings below ``folder`` (recursively), sorted, skipping hidden folders and files and
    copies in progress; each paired with a same-stem sidecar transcript when there is one."""
    wanted = {s.lower() for s in suffixes}
    items = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if _hidden_or_partial(name) or path.suffix.lower() not in wanted:
                continue
            try:
                st = path.stat()
            except OSError:  # a dangling link, or gone since the walk listed it
                continue
            if not path.is_file():
                continue
            sidecar = next(
                (s for s in (path.with_suffix(x) for x in SIDECAR_SUFFIXES) if s.is_file()), None
            )
            items.append(
                InboxItem(
                    uri=str(path),
                    size=st.st_size,
                    fingerprint=f"stat:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}",
                    transcript=str(sidecar) if sidecar else None,
                )
            )
    return items


def list_s3(prefix: storage.S3Location, suffixes: Iterable[str], client: Any) -> list[InboxItem]:
    """Recordings below an S3 prefix as listed (ETag, size), with same-stem sidecars."""
    wanted = {s.lower() for s in suffixes}
    objects: dict[str, dict[str, Any]] = {}
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=prefix.bucket, Prefix=prefix.key
    )
    for page in pages:
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = obj
    items = []
    for key in sorted(objects):
        name = PurePosixPath(key).name
        if not name or _hidden_or_partial(name) or PurePosixPath(key).suffix.lower() not in wanted:
            continue
        stem = key[: len(key) - len(PurePosixPath(key).suffix)]
        sidecar = next((stem + x for x in SIDECAR_SUFFIXES if stem + x in objects), None)
        obj = objects[key]
        etag = str(obj.get("ETag", "")).strip('"')
        items.append(
            InboxItem(
                uri=str(storage.S3Location(prefix.bucket, key)),
                size=int(obj.get("Size", 0)),
                fingerprint=f"etag:{etag}",
                transcript=str(storage.S3Location(prefix.bucket, sidecar)) if sidecar else None,
            )
        )
    return items


def sha256_stream(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


# --- tasks ---------------------------------------------------------------------------------


def _retry_s3(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except BaseException as exc:  # noqa: BLE001 - classified, not swallowed
        return storage.is_transient(exc)
    return False


def _s3_call(loc: storage.S3Location, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            raise InputError(f"{loc}: bucket not found") from exc
        raise StorageError(f"{loc}: {code or type(exc).__name__}: {exc}") from exc


@task(name="list-inbox", retries=3, retry_delay_seconds=[2, 4, 8], retry_condition_fn=_retry_s3)
def list_inbox(
    inbox: str, suffixes: tuple[str, ...], settings: PipelineSettings
) -> list[InboxItem]:
    """The recordings in ``inbox``: an ``s3://bucket/prefix`` or an existing local folder."""
    loc = storage.parse_uri(inbox)
    if isinstance(loc, storage.S3Location):
        client = storage.s3_client(settings)
        return _s3_call(loc, lambda: list_s3(loc, suffixes, client))
    if not loc.is_dir():
        raise InputError(f"inbox {inbox}: not a folder or an s3:// prefix")
    return list_local(loc, suffixes)


def _sha256_key(context: Any, inputs: dict[str, Any]) -> str:
    item: InboxItem = inputs["item"]
    return "sweep-sha256-" + stable_digest(item.uri, item.fingerprint, item.size)[:40]


@task(
    name="content-sha256",
    cache_key_fn=_sha256_key,
    persist_result=True,
    retries=3,
    retry_delay_seconds=[2, 4, 8],
    retry_condition_fn=_retry_s3,
)
def content_sha256(item: InboxItem, settings: PipelineSettings) -> str:
    """sha256 of the item's bytes, streamed; cached on its fingerprint (see module docstring).

    S3 reads use ``IfMatch`` on the listed ETag, so the digest belongs to the listed version.
    """
    loc = storage.parse_uri(item.uri)
    if not isinstance(loc, storage.S3Location):
        return sha256_stream(_file_chunks(item.uri))
    etag = item.fingerprint.removeprefix("etag:")
    client = storage.s3_client(settings)
    body = _s3_call(
        loc, lambda: client.get_object(Bucket=loc.bucket, Key=loc.key, IfMatch=f'"{etag}"')["Body"]
    )
    return _s3_call(loc, lambda: sha256_stream(body.iter_chunks(CHUNK)))


# --- selection -----------------------------------------------------------------------------


def select(
    items: Iterable[tuple[InboxItem, str]],
    done: Callable[[str], str | None],
    in_flight: set[str],
) -> tuple[list[tuple[InboxItem, str]], list[Skipped]]:
    """Split (item, sha256) pairs into those to start and those to skip, in order.

    Skipped: content with a succeeded job (``done(sha)`` names it), a source with a job in
    flight, and a second copy of content already chosen in this sweep.
    """
    todo: list[tuple[InboxItem, str]] = []
    skipped: list[Skipped] = []
    chosen: dict[str, str] = {}
    for item, sha in items:
        if job := done(sha):
            skipped.append(Skipped(item.uri, sha, f"succeeded: job {job}"))
        elif item.uri in in_flight:
            skipped.append(Skipped(item.uri, sha, "in flight: a process-video run is active"))
        elif sha in chosen:
            skipped.append(Skipped(item.uri, sha, f"same content as {chosen[sha]}"))
        else:
            chosen[sha] = item.uri
            todo.append((item, sha))
    return todo, skipped


def settings_hash(settings: PipelineSettings) -> str:
    """The key ``process-video`` records as ``jobs.settings_hash`` for these settings."""
    return stable_digest(settings)[:16]


def _active_sources(client: Any, deployment: str) -> set[str]:
    """``source`` parameters of the deployment's flow runs that are not finished."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    dep = client.read_deployment_by_name(deployment)
    sources: set[str] = set()
    offset = 0
    while True:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(ACTIVE_STATES)))
            ),
            sort=FlowRunSort.ID_DESC,  # explicit: a null sort or limit is rejected (422)
            limit=200,
            offset=offset,
        )
        sources |= {str(r.parameters.get("source")) for r in runs}
        if len(runs) < 200:
            return sources
        offset += 200


# --- dispatch ------------------------------------------------------------------------------


def _dispatch_deployment(
    todo: list[tuple[InboxItem, str]],
    parameters: Callable[[InboxItem], dict[str, Any]],
    deployment: str,
    max_concurrent: int,
    poll_s: float,
    max_wait_s: float,
) -> tuple[list[Started], list[Skipped]]:
    """``run_deployment(..., timeout=0)`` for each item, at most ``max_concurrent`` unfinished
    at a time; waits for them (polling every ``poll_s``) up to ``max_wait_s`` in all."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    ctx = FlowRunContext.get()
    sweep_id = str(ctx.flow_run.id) if ctx and ctx.flow_run else None
    pending = deque(todo)
    running: dict[str, tuple[InboxItem, str]] = {}
    started: list[Started] = []
    deadline = time.monotonic() + max_wait_s
    with get_client(sync_client=True) as client:
        while (pending or running) and time.monotonic() < deadline:
            while pending and len(running) < max_concurrent:
                item, sha = pending.popleft()
                run = run_deployment(
                    name=deployment,
                    parameters=parameters(item),
                    timeout=0,
                    # A retried sweep run gets its first attempt's runs back, not new ones.
                    idempotency_key=f"batch-sweep-{sweep_id}-{sha[:32]}" if sweep_id else None,
                )
                running[str(run.id)] = (item, sha)
            time.sleep(poll_s)
            for run_id in list(running):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    item, sha = running.pop(run_id)
                    started.append(Started(item.uri, sha, run_id, state.name))
    started += [
        Started(i.uri, s, r, "unfinished when the sweep stopped waiting")
        for r, (i, s) in running.items()
    ]
    late = [Skipped(i.uri, s, f"not started: max_wait_s={max_wait_s} reached") for i, s in pending]
    return started, late


def _dispatch_local(
    todo: list[tuple[InboxItem, str]],
    parameters: Callable[[InboxItem], dict[str, Any]],
    max_concurrent: int,
) -> list[Started]:
    """``process-video`` as subflows of the sweep, in ``max_concurrent`` threads."""
    from flows.process_video import process_video

    with ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="sweep") as pool:
        futures = [
            # Each thread runs in a copy of this context, so the job is the sweep's subflow.
            pool.submit(copy_context().run, process_video, **parameters(item), return_state=True)
            for item, _ in todo
        ]
        states = [f.result() for f in futures]
    return [
        Started(item.uri, sha, str(state.state_details.flow_run_id), state.name)
        for (item, sha), state in zip(todo, states, strict=True)
    ]


# --- the flow ------------------------------------------------------------------------------


@flow(name="batch-sweep", validate_parameters=True)
def batch_sweep(
    inbox: str,
    out: str,
    max_concurrent: Annotated[int, Field(ge=1, le=64)] = 2,
    suffixes: tuple[str, ...] = DEFAULT_SUFFIXES,
    settings_block: str | None = None,
    max_clips: Annotated[int, Field(ge=1, le=20)] = 5,
    aspect: Literal["9:16", "1:1", "16:9"] = "9:16",
    dispatch: Literal["deployment", "local"] = "deployment",
    deployment: str = "process-video/process-video",
    poll_s: Annotated[float, Field(gt=0, le=60)] = 5.0,
    max_wait_s: Annotated[float, Field(gt=0)] = 12 * 3600,
) -> SweepReport:
    """Start ``process-video`` for each recording in ``inbox`` without a succeeded job for the
    same content and settings, at most ``max_concurrent`` at once; report what it started
    (with each run's final state) and what it skipped, and why.

    ``dispatch="deployment"`` (the default) starts each job as a run of ``deployment`` on its
    work pool through ``run_deployment``, and skips sources that already have an unfinished run
    there (an S3 event got to them first). ``dispatch="local"`` runs the jobs as subflows in
    this process instead: for one machine without workers.
    """
    logger = get_run_logger()
    settings = load_settings(settings_block, aspect=aspect, max_clips=max_clips)
    key = settings_hash(settings)
    db = settings.job_database_url
    items = list_inbox(inbox, tuple(suffixes), settings)
    states = [content_sha256.submit(item, settings) for item in items]
    hashed: list[tuple[InboxItem, str]] = []
    unreadable: list[Skipped] = []
    for item, future in zip(items, states, strict=True):
        future.wait()
        state = future.state
        if state.is_completed():
            hashed.append((item, future.result()))
        else:
            unreadable.append(Skipped(item.uri, None, f"could not read: {state.message}"))

    def done(sha: str) -> str | None:
        record = jobdb.find_succeeded(db, sha, key)
        return record.id if record else None

    in_flight: set[str] = set()
    if dispatch == "deployment":
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            in_flight = _active_sources(client, deployment)
    todo, skipped = select(hashed, done, in_flight)
    skipped = unreadable + skipped

    def parameters(item: InboxItem) -> dict[str, Any]:
        given = {"transcript": item.transcript, "settings_block": settings_block}
        return {
            "source": item.uri,
            "out": out,
            "max_clips": max_clips,
            "aspect": aspect,
            **{k: v for k, v in given.items() if v is not None},
        }

    logger.info("inbox %s: %d to start, %d skipped", inbox, len(todo), len(skipped))
    if dispatch == "deployment":
        started, late = _dispatch_deployment(
            todo, parameters, deployment, max_concurrent, poll_s, max_wait_s
        )
        skipped += late
    else:
        started = _dispatch_local(todo, parameters, max_concurrent)
    report = SweepReport(inbox, key, tuple(started), tuple(skipped))
    _publish(report)
    return report


def _publish(report: SweepReport) -> None:
    """One table artifact per sweep run: every source, what happened to it and why."""
    from prefect.artifacts import create_table_artifact

    rows = [
        {"source": s.source, "action": "started", "detail": f"{s.state} ({s.flow_run_id})"}
        for s in report.started
    ]
    rows += [{"source": s.source, "action": "skipped", "detail": s.reason} for s in report.skipped]
    create_table_artifact(
        key="batch-sweep",
        table=rows or [{"source": report.inbox, "action": "none", "detail": "inbox empty"}],
        description=f"batch-sweep of {report.inbox} (settings {report.settings_hash})",
    )
