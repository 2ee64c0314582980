"""``/api/v1/health``, ``/api/v1/metrics`` (Prometheus), ``/api/v1/costs`` (the dashboard's
chart), and the signed ``/files/…`` downloads of local job folders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from clipflow.schemas import ComponentHealth, CostDay, CostSeries, Health
from deployments.service.auth import Caller, require
from deployments.service.downloads import local_file
from deployments.service.state import ServiceState
from tasks.jobs import Role, get_engine
from tasks.jobs.repository import jobs_of_flow_runs
from tasks.jobs.stats import daily_cost, job_totals
from tasks.jobs.submissions import get_submission, list_submissions
from tasks.storage import S3Location, parse_uri, s3_client

router = APIRouter(tags=["service"])


def _service(request: Request) -> ServiceState:
    return request.app.state.service  # type: ignore[no-any-return]


def _database_problem(state: ServiceState) -> str | None:
    try:
        with get_engine(state.db).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - reported as the component's health
        return f"{type(exc).__name__}: {exc}"
    return None


def _storage_problem(state: ServiceState) -> str | None:
    """The jobs' output location: an S3 bucket answers HEAD; a local folder exists."""
    out = state.serve.out
    if not out:
        return None
    try:
        location = parse_uri(out)
        if isinstance(location, S3Location):
            s3_client(state.pipeline, max_attempts=1).head_bucket(Bucket=location.bucket)
        elif not location.is_dir():
            return f"{out}: no such folder"
    except Exception as exc:  # noqa: BLE001 - reported as the component's health
        return f"{out}: {type(exc).__name__}: {exc}"
    return None


@router.get("/api/v1/health", response_model=Health, responses={503: {"model": Health}})
def health(request: Request) -> JSONResponse:
    """The job database, the Prefect API (and the deployment) and storage; 503 if one is down."""
    state = _service(request)
    problems = {
        "database": _database_problem(state),
        "prefect": state.prefect.problem(),
        "storage": _storage_problem(state),
    }
    checks = {k: ComponentHealth(ok=v is None, detail=v or "ok") for k, v in problems.items()}
    ok = all(c.ok for c in checks.values())
    body = Health(status="ok" if ok else "down", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


class JobCollector(Collector):
    """Job-database totals and the queue, read when Prometheus scrapes."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        totals = job_totals(self.state.db)
        by_state = GaugeMetricFamily("clipflow_jobs", "Jobs by status.", labels=["status"])
        for status, n in sorted(totals.by_status.items()):
            by_state.add_metric([status], n)
        yield by_state
        failures = CounterMetricFamily(
            "clipflow_qa_failures", "Failed QA checks, by check.", labels=["check"]
        )
        for check, n in sorted(totals.qa_failures_by_check.items()):
            failures.add_metric([check], n)
        yield failures
        yield CounterMetricFamily(
            "clipflow_job_wall_seconds", "Wall time of finished jobs.", value=totals.wall_s_sum
        )
        yield CounterMetricFamily(
            "clipflow_jobs_timed", "Finished jobs with a wall time.", value=totals.finished
        )
        yield CounterMetricFamily(
            "clipflow_cost_usd", "Cost of all jobs, USD.", value=totals.cost_usd_sum
        )
        yield GaugeMetricFamily(
            "clipflow_queue_depth",
            "Flow runs of the deployment waiting for a worker.",
            value=self.state.prefect.queue_depth(),
        )


def metrics_registry(state: ServiceState) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(JobCollector(state))
    return registry


@router.get("/api/v1/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: jobs by status, durations, QA failures by check, cost, queue,
    and this server's requests (``clipflow_api_requests``, ``clipflow_api_latency_seconds``)."""
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/costs", response_model=CostSeries)
def costs(request: Request, caller: Annotated[Caller, Depends(require(Role.READ))]) -> CostSeries:
    """USD per day of the caller's jobs (an admin's: everyone's), and the per-job budget."""
    state = _service(request)
    ids = None
    if caller.role is not Role.ADMIN:
        ids = [s.job_id for s in list_submissions(state.db, client=caller.client, limit=10_000)]
    days = [CostDay(day=d, usd=usd) for d, usd in daily_cost(state.db, ids)]
    return CostSeries(days=days, budget_usd=state.pipeline.max_job_usd)


@router.get("/files/{job_id}/{name:path}", include_in_schema=False)
def download(job_id: str, name: str, expires: int, sig: str, request: Request) -> FileResponse:
    """A file of a local job folder, for a URL the API signed (no key: a <video> plays it)."""
    state = _service(request)
    if not state.downloads.verify(job_id, name, expires, sig):
        raise HTTPException(403, "this download link is invalid or has expired")
    sub = get_submission(state.db, job_id)
    job = jobs_of_flow_runs(state.db, [sub.flow_run_id]).get(sub.flow_run_id)
    path = local_file(job.job_dir or "", name) if job else None
    if path is None:
        raise HTTPException(404, f"{name}: not in job {job_id}'s folder")
    return FileResponse(path)
