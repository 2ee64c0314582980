"""The ``clipflow serve`` application: routers, the audit log, request metrics, and its life
(the Prefect client and the webhook watcher start and stop with it)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram
from starlette.concurrency import run_in_threadpool

from blocks.settings import PipelineSettings
from deployments.service import dashboard, jobs_routes, ops_routes, webhooks
from deployments.service.config import ServeSettings
from deployments.service.prefect_runs import PrefectRuns
from deployments.service.state import ServiceState
from tasks.jobs import ensure_schema
from tasks.jobs.api_keys import record_call

AUDITED = ("/api/", "/files/")
# Probes carry no key and answer when the database is down: not audited (metrics count them).
PROBES = ("/api/v1/health", "/api/v1/metrics")
log = logging.getLogger("clipflow.serve")


def create_app(
    serve: ServeSettings | None = None, pipeline: PipelineSettings | None = None
) -> FastAPI:
    """The app for these settings (default: from the environment)."""
    state = ServiceState.from_settings(serve or ServeSettings(), pipeline or PipelineSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from prefect.client.orchestration import get_client

        try:
            await run_in_threadpool(ensure_schema, state.db)
        except Exception:  # noqa: BLE001 - the server starts; /api/v1/health says what is down
            log.exception("job database: cannot bring its schema up to date")
        with get_client(sync_client=True) as client:
            state.runs = PrefectRuns(client, state.serve.deployment)
            watcher = webhooks.Watcher(state, jobs_routes.views_of)
            watcher.start()
            try:
                yield
            finally:
                watcher.stop()

    app = FastAPI(
        title="clipflow",
        version="1",
        summary="Submit recordings, get checked highlight clips: the job API of clipflow.",
        lifespan=lifespan,
    )
    app.state.service = state
    registry = ops_routes.metrics_registry(state)
    app.state.metrics = registry
    requests = Counter(
        "clipflow_api_requests",
        "API calls by route and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "clipflow_api_latency_seconds", "API latency by route.", ["route"], registry=registry
    )

    @app.middleware("http")
    async def audit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Every API call in the audit log (by key id: the key is never stored) and metrics."""
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        requests.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(route).observe(time.perf_counter() - started)
        if request.url.path.startswith(AUDITED) and request.url.path not in PROBES:
            caller = getattr(request.state, "caller", None)
            await run_in_threadpool(
                record_call,
                state.db,
                key_id=caller.key_id if caller else None,
                client=caller.client if caller else None,
                method=request.method,
                path=request.url.path,
                status_code=response.status_code,
                remote=request.client.host if request.client else None,
            )
        return response

    app.include_router(jobs_routes.router)
    app.include_router(ops_routes.router)
    app.include_router(webhooks.router)
    app.include_router(dashboard.router)
    return app


def serve(host: str, port: int) -> None:
    """Run the app under uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="info", access_log=False)
