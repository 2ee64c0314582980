"""Fixtures for ``clipflow serve``: the process-video deployment on the session's Prefect test
server, and real uvicorn servers of the app on loopback (in a thread of this process, which
sees the harness's Prefect API), each on a job database of the test's own."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deployments.support import free_port
from tests.service.support import deploy_process_video


@pytest.fixture(scope="session")
def serve_deployment(prefect_server) -> str:
    """A process-video deployment on a pool of its own that no worker polls: flow/name."""
    return deploy_process_video(
        "serve-test", parameters={"out": "out", "max_clips": 5, "aspect": "9:16"}
    )[0]


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
