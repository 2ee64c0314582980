"""Fixtures for ``clipflow serve``: the process-video deployment on the session's Prefect test
server, and real uvicorn servers of the app on loopback (in a thread of this process, which
sees the harness's Prefect API), each on a job database of the test's own."""

from __future__ import annotations

import contextvars
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deployments.support import free_port

REPO = str(Path(__file__).resolve().parents[2])


@pytest.fixture(scope="session")
def serve_deployment(prefect_server) -> str:
    """A process-video deployment (the real entrypoint) on a pool of its own: flow/name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"serve-test-{uuid.uuid4().hex[:6]}"
    name = f"serve-{uuid.uuid4().hex[:6]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = client.create_flow_from_name("process-video")
        client.create_deployment(
            flow_id=flow_id,
            name=name,
            entrypoint="flows/process_video.py:process_video",
            pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": REPO}}],
            work_pool_name=pool,
            parameters={"out": "out", "max_clips": 5, "aspect": "9:16"},
        )
    return f"process-video/{name}"


@dataclass(frozen=True)
class Served:
    url: str
    db: str
    inbox: Path  # an allowed folder: sources go here
    out: Path  # an allowed folder: jobs write here
    app: object


@pytest.fixture
def start_server(
    serve_deployment: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Served]]:
    """``start_server(db_url, **serve_settings)``: the app under uvicorn on a free port, with
    allowed roots inbox/ and out/ and the allowed bucket s3://clipflow-inbox/uploads/."""
    import uvicorn

    from blocks.settings import PipelineSettings
    from deployments.service.app import create_app
    from deployments.service.config import ServeSettings

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(db_url: str, pipeline: dict | None = None, **serve: object) -> Served:
        root = tmp_path_factory.mktemp("serve")
        inbox, out = root / "inbox", root / "out"
        inbox.mkdir()
        out.mkdir()
        settings = PipelineSettings(
            home=root / "home",
            database_url=db_url,
            allowed_roots=[inbox, out],
            allowed_s3=["s3://clipflow-inbox/uploads/"],
            **(pipeline or {}),
        )
        options = {"deployment": serve_deployment, "out": str(out), **serve}
        app = create_app(ServeSettings(**options), settings)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        context = contextvars.copy_context()  # the harness's Prefect settings
        thread = threading.Thread(target=context.run, args=(server.run,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"clipflow serve did not start on port {port}")
            time.sleep(0.05)
        running.append((server, thread))
        return Served(f"http://127.0.0.1:{port}", db_url, inbox, out, app)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=30)


def make_key(db_url: str, client: str, role: str) -> str:
    """A new API key, as `clipflow keys create` makes it."""
    from tasks.jobs.api_keys import create_key

    return create_key(db_url, client, role)[1]
