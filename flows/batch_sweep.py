"""``batch-sweep``: start a ``process-video`` job for every inbox recording not yet done.

The nightly safety net beside the S3 event trigger: it lists an inbox (an ``s3://`` prefix or a
local folder), identifies each recording by content (``tasks/inbox.py``: sha256, cached on the
S3 ETag or the file's stat), skips those whose content already has a succeeded job with the
same settings (or has a job in flight), and starts the rest with at most ``max_concurrent``
running at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import FlowRunContext
from pydantic import Field

from blocks.loading import load_settings
from tasks import jobs
from tasks.caching import settings_hash
from tasks.inbox import DEFAULT_SUFFIXES, InboxItem, content_sha256, list_inbox

ACTIVE_STATES = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING")


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
                run = cast(
                    FlowRun,
                    run_deployment(
                        name=deployment,
                        parameters=parameters(item),
                        timeout=0,
                        # A retried sweep run gets its first attempt's runs back, not new ones.
                        idempotency_key=f"batch-sweep-{sweep_id}-{sha[:32]}" if sweep_id else None,
                    ),
                )
                running[str(run.id)] = (item, sha)
            time.sleep(poll_s)
            for run_id in list(running):
                state = client.read_flow_run(UUID(run_id)).state
                if state is not None and state.is_final():
                    item, sha = running.pop(run_id)
                    started.append(Started(item.uri, sha, run_id, state.name or state.type))
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

    def run_job(params: dict[str, Any]) -> State[Any]:
        return cast(State[Any], process_video(**params, return_state=True))

    with ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="sweep") as pool:
        futures = [
            # Each thread runs in a copy of this context, so the job is the sweep's subflow.
            pool.submit(copy_context().run, run_job, parameters(item))
            for item, _ in todo
        ]
        states = [f.result() for f in futures]
    return [
        Started(item.uri, sha, str(state.state_details.flow_run_id), state.name or state.type)
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
        record = jobs.find_succeeded(db, sha, key)
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
