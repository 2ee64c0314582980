"""Helpers shared by the service tests and the load benchmark (not fixtures)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def deploy_process_video(
    prefix: str, *, parameters: dict[str, Any], concurrency: int | None = None
) -> tuple[str, str]:
    """``process-video`` from the real entrypoint, run in this checkout, on a new process pool
    of its own (at most ``concurrency`` runs at once): (flow/deployment name, pool name)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"{prefix}-{uuid.uuid4().hex[:6]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(
            WorkPoolCreate(name=pool, type="process", concurrency_limit=concurrency)
        )
        client.create_deployment(
            flow_id=client.create_flow_from_name("process-video"),
            name=pool,
            entrypoint="flows/process_video.py:process_video",
            pull_steps=[
                {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
            ],
            work_pool_name=pool,
            parameters=parameters,
        )
    return f"process-video/{pool}", pool


def make_key(db_url: str, client: str, role: str) -> str:
    """A new API key, as `clipflow keys create` makes it."""
    from tasks.jobs.api_keys import create_key

    return create_key(db_url, client, role)[1]
