"""Production shape on one machine: a ``prefect server start`` on PostgreSQL, a cpu and a gpu
process worker, the job database on PostgreSQL too, and ten jobs submitted at once
(``dispatch="pools"``). All must complete, with no database error in the server's log.

Needs $CLIPFLOW_TEST_PG_URL (a PostgreSQL the tests may create databases on); skipped otherwise.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL_ENV
from tests.deployments.conftest import REPO, ClipflowEnv, prefect_deploy_args
from tests.deployments.support import prefect_server_stack, wait_for
from tests.deployments.test_dispatch_pools import start_worker, stop_worker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOBS = 10
# What a database in trouble writes: driver and pool errors, deadlocks, SQLite's lock.
DB_ERRORS = re.compile(
    r"asyncpg\.exceptions|sqlalchemy\.exc|psycopg|deadlock detected|database is locked"
    r"|too many connections|QueuePool limit|could not serialize|Traceback",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def pg_databases() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases, (prefect, jobs), as asyncpg and psycopg URLs; dropped
    at the end."""
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"{PG_URL_ENV} is not set: PostgreSQL server test skipped")
    import sqlalchemy as sa

    url = sa.make_url(base)
    names = [f"clipflow_{kind}_{secrets.token_hex(4)}" for kind in ("prefect", "jobs")]
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    prefect_url = url.set(drivername="postgresql+asyncpg", database=names[0])
    jobs_url = url.set(drivername="postgresql+psycopg", database=names[1])
    try:
        yield (
            prefect_url.render_as_string(hide_password=False),
            jobs_url.render_as_string(hide_password=False),
        )
    finally:
        from tasks import jobs

        jobs.dispose_engine(jobs_url.render_as_string(hide_password=False))
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass(frozen=True)
class PgStack:
    env: dict[str, str]
    api_url: str
    server_log: Path
    jobs_url: str
    out: Path


@pytest.fixture(scope="module")
def pg_stack(pg_databases, tmp_path_factory) -> Iterator[PgStack]:
    """``prefect server start`` on the fresh PostgreSQL database, on a free loopback port."""
    prefect_url, jobs_url = pg_databases
    root = tmp_path_factory.mktemp("pg-stack")
    with prefect_server_stack(
        root,
        job_db_url=jobs_url,
        what="the Prefect server on PostgreSQL",
        server_env={"PREFECT_API_DATABASE_CONNECTION_URL": prefect_url},
    ) as stack:
        yield PgStack(stack.env, stack.api_url, stack.server_log, jobs_url, root / "out")


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def _flow_runs(api_url: str, deployment_id: str) -> list[dict[str, Any]]:
    import httpx

    answer = httpx.post(
        f"{api_url}/flow_runs/filter",
        json={"deployments": {"id": {"any_": [deployment_id]}}, "limit": 200, "offset": 0,
              "sort": "EXPECTED_START_TIME_ASC"},
        timeout=30,
    )  # fmt: skip
    answer.raise_for_status()
    return answer.json()


@pytest.mark.timeout(1500)
def test_ten_jobs_at_once_on_postgresql_with_cpu_and_gpu_workers(
    pg_stack: PgStack, tmp_path_factory
) -> None:
    import httpx
    import sqlalchemy as sa

    from tests.generated_media import sample_recording

    samples = [
        sample_recording(tmp_path_factory, minutes=0.5, seed=seed) for seed in range(21, 21 + JOBS)
    ]  # distinct content: no two jobs share a cache key or a work directory
    env = pg_stack.env
    _cli(env, "work-pool", "create", "cpu", "--type", "process")
    _cli(env, "work-pool", "create", "gpu", "--type", "process")
    deploy_env = ClipflowEnv(env, pg_stack.jobs_url, pg_stack.out, "cpu")
    prefect_deploy_args(deploy_env, "-n", "process-video", "--param", f"out={pg_stack.out}")
    prefect_deploy_args(deploy_env, "-n", "frame-and-render-clip")
    deployment = httpx.get(
        f"{pg_stack.api_url}/deployments/name/process-video/process-video", timeout=10
    ).json()

    logs = tmp_path_factory.mktemp("pg-workers")
    workers = [
        start_worker(env, "cpu", "clipflow-pg-cpu", logs / "cpu.log"),
        start_worker(env, "gpu", "clipflow-pg-gpu", logs / "gpu.log"),
    ]
    try:
        t0 = time.monotonic()
        for sample in samples:
            answer = httpx.post(
                f"{pg_stack.api_url}/deployments/{deployment['id']}/create_flow_run",
                json={"parameters": {"source": str(sample.video_path),
                                     "transcript": str(sample.transcript_path),
                                     "max_clips": 1, "dispatch": "pools"}},
                timeout=10,
            )  # fmt: skip
            assert answer.status_code == 201, answer.text

        def all_final() -> list[dict[str, Any]]:
            runs = _flow_runs(pg_stack.api_url, deployment["id"])
            final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
            done = len(runs) == JOBS and all(r["state_type"] in final for r in runs)
            return runs if done else []

        runs = wait_for(all_final, 1400, f"{JOBS} jobs to finish", 5)
        wall = time.monotonic() - t0
    finally:
        for worker in workers:
            stop_worker(worker)
    states = [r["state_type"] for r in runs]
    print(f"\n{JOBS} jobs on PostgreSQL: {states.count('COMPLETED')} completed in {wall:.0f} s")
    assert states == ["COMPLETED"] * JOBS, (states, (logs / "cpu.log").read_text()[-4000:])

    server_log = pg_stack.server_log.read_text()
    assert not DB_ERRORS.findall(server_log), server_log[-4000:]

    engine = sa.create_engine(pg_stack.jobs_url)
    try:
        with engine.connect() as conn:
            jobs = conn.execute(sa.text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
    finally:
        engine.dispose()
    assert dict(jobs) == {"succeeded": JOBS}
