"""Helpers shared by the fault tests (not fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    """This test session's environment for a ``clipflow`` subprocess: its Prefect API (the
    session's test server), homes and job database, plus ``extra``."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(PREFECT_API_URL=str(PREFECT_API_URL.value()), **extra)
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """``clipflow ARGS`` as a user runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def s3(endpoint: str) -> Any:
    """A plain boto3 client on ``endpoint`` (moto), for setting up and checking buckets."""
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def job_rows(database_url: str, *, sha256: str = "", uri: str = "") -> list[dict[str, Any]]:
    """Every job row for one source's content (or, before ingest knew it, its URI), with its
    clip count."""
    import sqlalchemy as sa

    from tasks import jobs

    engine = jobs.get_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT j.id, j.status, j.failure_reason, j.job_dir, j.flow_run_id, "
                "(SELECT count(*) FROM clips c WHERE c.job_id = j.id) AS clips "
                "FROM jobs j WHERE j.source_sha256 = :sha OR j.source_uri = :uri"
            ),
            {"sha": sha256 or "-", "uri": uri or "-"},
        )
        return [dict(r._mapping) for r in rows]


def hidden_leftovers(folder: Path) -> list[Path]:
    """Scratch folders, lock files and partial files (dot-names) left anywhere under ``folder``."""
    return sorted(p for p in folder.rglob(".*")) if folder.exists() else []
