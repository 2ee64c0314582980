"""The production stack's parts on one host, from the cpu image, on the host network.

A Prefect server container with basic authentication on the machine's own PostgreSQL, the
set-up compose runs (work pools, block types, `prefect deploy --all`), and a cpu worker
container; one job submitted through Prefect's REST API runs in the worker container and keeps
the output contract. The job API service (`clipflow serve`), S3 and a worker killed mid-job
are not part of this yet.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from media.sample.generator import make_sample
from tests.deployments.test_postgres_server import pg_databases
from tests.infra.test_images import (
    UID,
    _free_port,
    _wait_for_url,
    _why_not,
    build_sh,
    containers,
    docker,
)

pytestmark = pytest.mark.slow
__all__ = ["containers", "pg_databases"]  # fixtures used here


AUTH = f"clipflow:{secrets.token_hex(8)}"  # the server's basic auth, as compose sets it


def _api(url: str, body: dict[str, Any] | None = None, *, auth: str | None = AUTH) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_job_submitted_through_the_api_completes_in_the_worker_container(
    pg_databases, containers: list[str], tmp_path: Path
) -> None:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    prefect_db, jobs_db = pg_databases
    base = build_sh("base").stdout.split()[-1]
    image = build_sh("images", "--base-cpu", base, "--tag", "images-test", "cpu").stdout.split()[-1]
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    server, worker = f"clipflow-stack-server-{port}", f"clipflow-stack-worker-{port}"
    containers += [worker, server]
    docker("run", "-d", "--name", server, "--network", "host", "--no-healthcheck",
           "-e", f"PREFECT_API_DATABASE_CONNECTION_URL={prefect_db}",
           "-e", f"PREFECT_SERVER_API_AUTH_STRING={AUTH}", image,
           "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port))  # fmt: skip
    _wait_for_url(f"{api}/health", within_s=240)
    setup = (
        "python -m deployments.pools --type process && "
        "prefect block register -m blocks.prefect_blocks && "
        "prefect deploy --all --no-prompt"
    )
    with pytest.raises(urllib.error.HTTPError, match="401"):
        _api(f"{api}/deployments/filter", {}, auth=None)
    client_env = ("-e", f"PREFECT_API_URL={api}", "-e", f"PREFECT_API_AUTH_STRING={AUTH}")
    build_sh("run", *client_env, "--", image, "sh", "-ec", setup)

    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    make_sample(data / "sample.mp4", minutes=1.5, seed=3)
    docker("run", "-d", "--name", worker, "--network", "host", "-v", f"{data}:/data",
           *client_env, "-e", f"CLIPFLOW_DATABASE_URL={jobs_db}",
           "-e", "PREFECT_WORKER_QUERY_SECONDS=2", "-e", 'CLIPFLOW_ALLOWED_ROOTS=["/data"]',
           "-e", f"PREFECT_WORKER_WEBSERVER_PORT={_free_port()}", image)  # fmt: skip

    deployment = _api(f"{api}/deployments/name/process-video/process-video")
    parameters = {
        "source": "/data/sample.mp4",
        "transcript": "/data/sample.vtt",
        "out": "/data/out",
    }
    run = _api(f"{api}/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters})
    state = run["state"]["type"]
    deadline = time.monotonic() + 600
    while state not in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
        assert time.monotonic() < deadline, f"flow run still {state} after 600 s"
        time.sleep(3)
        state = _api(f"{api}/flow_runs/{run['id']}")["state"]["type"]
    assert state == "COMPLETED", docker("logs", "--tail", "40", worker)

    (job,) = (data / "out").iterdir()
    assert job.stat().st_uid == UID
    report = json.loads((job / "report.json").read_text())
    assert report["qa"]["passed"] is True and 1 <= len(report["clips"]) <= 5
    assert all((job / clip["path"]).is_file() for clip in report["clips"])
    # the job is recorded in the job database on PostgreSQL
    with sa.create_engine(jobs_db).connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM jobs WHERE id = :id"), {"id": job.name})
        assert status.scalar() == "succeeded"
