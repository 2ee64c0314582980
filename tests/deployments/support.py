"""Helpers shared by the deployment tests (not fixtures)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def flow_runs(deployment_id: str) -> list[Any]:
    """Every flow run of a deployment, oldest first (explicit limit and sort: Prefect's client,
    3.9.1 too, sends null for omitted ones, which FastAPI ≥ 0.151 rejects with a 422)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )


def read_flow_run(flow_run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ServerStack:
    """A ``prefect server start`` of a test's own, and the environment for its workers/CLI."""

    env: dict[str, str]  # for the CLI, the workers and every flow run they start
    api_url: str
    server_log: Path
    root: Path


@contextmanager
def prefect_server_stack(
    root: Path, *, job_db_url: str, what: str, server_env: dict[str, str] | None = None
) -> Iterator[ServerStack]:
    """Start ``prefect server start`` (its services, scheduler included) on a free loopback
    port with its home under ``root``, wait until healthy, and stop it (and its process group)
    afterwards. ``server_env`` adds to the server's environment (e.g. its database URL)."""
    import httpx

    from tests.deployments.test_dispatch_pools import stop_worker

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_", "CLIPFLOW_"))
    }
    quiet = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "INFO"}
    log = root / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=root, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            env={**base, **quiet, "PREFECT_HOME": str(root / "server-home"),
                 "PREFECT_UI_ENABLED": "false", **(server_env or {})},
        )  # fmt: skip
    env = {
        **base,
        **quiet,
        # One home for the workers and every flow run they start: results written by one run
        # are read by another from its local result storage (an S3 block in production).
        "PREFECT_HOME": str(root / "runs-home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "CLIPFLOW_HOME": str(root / "clipflow-home"),
        "CLIPFLOW_CODE_DIR": str(REPO),
        "CLIPFLOW_DATABASE_URL": job_db_url,
        # Where deployment runs may read and write (tests/conftest.py: temporary folders).
        "CLIPFLOW_ALLOWED_ROOTS": os.environ["CLIPFLOW_ALLOWED_ROOTS"],
        "CLIPFLOW_ALLOWED_S3": os.environ["CLIPFLOW_ALLOWED_S3"],
    }
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return server.poll() is not None  # exited: fail below with its log

        wait_for(healthy, 180, what, 1)
        assert server.poll() is None, log.read_text()[-3000:]
        yield ServerStack(env, api_url, log, root)
    finally:
        stop_worker(server)


def task_runs(flow_run_id: Any, *, newest_first: bool = False) -> list[Any]:
    """Every task run of a flow run, by expected start time."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    order = TaskRunSort.EXPECTED_START_TIME_ASC
    if newest_first:
        order = TaskRunSort.EXPECTED_START_TIME_DESC
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=order,
            limit=200,
        )
