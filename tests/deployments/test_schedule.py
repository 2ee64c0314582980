"""The schedule way in: ``batch-sweep``'s cron in prefect.yaml makes runs that a worker executes.

The session's Prefect test server is ephemeral and runs no scheduler service, so this test
starts a real ``prefect server start`` (SQLite in its own home) whose scheduler turns
prefect.yaml's ``30 2 * * *`` (UTC) into Scheduled flow runs. One of them is brought forward
to now (what a late night would look like, without waiting for 02:30); a process worker picks
it up, and the sweep starts one ``process-video`` job for the one recording in its inbox.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tasks import jobs
from tests.deployments.conftest import REPO, ClipflowEnv, prefect_deploy_args
from tests.deployments.support import prefect_server_stack, wait_for
from tests.deployments.test_dispatch_pools import start_worker, stop_worker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POOL = "cpu"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass(frozen=True)
class ScheduledStack:
    env: dict[str, str]  # for the CLI and the worker
    api_url: str
    server_log: Path
    database_url: str  # the job database the worker's runs record into
    root: Path


@pytest.fixture(scope="module")
def scheduled_stack(tmp_path_factory) -> Iterator[ScheduledStack]:
    """``prefect server start`` with its services (scheduler included) on a free loopback port."""
    root = tmp_path_factory.mktemp("schedule-stack")
    database_url = f"sqlite:///{root / 'jobs.sqlite'}"
    try:
        with prefect_server_stack(
            root, job_db_url=database_url, what="`prefect server start`"
        ) as stack:
            yield ScheduledStack(stack.env, stack.api_url, stack.server_log, database_url, root)
    finally:
        jobs.dispose_engine(database_url)


def _api(stack: ScheduledStack, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    answer = httpx.request(method, f"{stack.api_url}{path}", timeout=30, **kwargs)
    assert answer.is_success, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
    return answer.json() if answer.content else None


def _flow_runs(stack: ScheduledStack, deployment_id: str) -> list[dict[str, Any]]:
    return _api(
        stack,
        "POST",
        "/flow_runs/filter",
        json={"deployments": {"id": {"any_": [deployment_id]}}, "limit": 200, "offset": 0,
              "sort": "EXPECTED_START_TIME_ASC"},
    )  # fmt: skip


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def _scheduler_error(log: Path) -> str | None:
    """The last line of the first traceback the server logged for a scheduler task, if any.

    (Prefect 3.8.8's scheduler raised ``Can't evaluate bulk DML statement`` under SQLAlchemy
    2.1 and made no run at all while the server itself stayed healthy; 3.9.1 schedules under
    2.1. This names such a failure instead of a bare timeout.)
    """
    lines = log.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if "ERROR" in line and "schedule_" in line:
            rest = lines[i + 1 :]
            end = next((n for n, x in enumerate(rest) if x[:1].isdigit()), len(rest))
            trace = [x for x in rest[:end] if x.strip()]
            return f"{line.strip()} -> {trace[-1].strip() if trace else '?'}"
    return None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _next_0230_after(moment: datetime) -> datetime:
    slot = moment.astimezone(UTC).replace(hour=2, minute=30, second=0, microsecond=0)
    return slot if slot > moment else slot + timedelta(days=1)


@pytest.mark.timeout(1200)
def test_the_nightly_schedule_makes_runs_that_sweep_the_inbox(
    scheduled_stack: ScheduledStack, recordings, tmp_path: Path
) -> None:
    stack = scheduled_stack
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    recording = recordings[11]
    shutil.copyfile(recording.video, inbox / "nightly.mp4")
    shutil.copyfile(recording.transcript, inbox / "nightly.vtt")

    _cli(stack.env, "work-pool", "create", POOL, "--type", "process")
    deploy_env = ClipflowEnv(stack.env, stack.database_url, out, POOL)
    deployed_at = datetime.now(UTC)
    prefect_deploy_args(deploy_env, "-n", "process-video", "--param", f"out={out}")
    # prefect.yaml's batch-sweep, schedule and all, with this test's inbox and output.
    prefect_deploy_args(
        deploy_env, "-n", "batch-sweep",
        "--param", f"inbox={inbox}", "--param", f"out={out}", "--param", "poll_s=1",
    )  # fmt: skip
    sweep = _api(stack, "GET", "/deployments/name/batch-sweep/batch-sweep")
    deployment = _api(stack, "GET", "/deployments/name/process-video/process-video")
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in sweep["schedules"]] == [
        ("30 2 * * *", "UTC")
    ]

    # The scheduler service (not the deploy command) fills the schedule ahead: by default at
    # least three runs. Each is due at 02:30 UTC, on consecutive nights, from the next one on.
    def scheduled() -> list[dict[str, Any]]:
        runs = [r for r in _flow_runs(stack, sweep["id"]) if r["state_type"] == "SCHEDULED"]
        if len(runs) < 3 and (error := _scheduler_error(stack.server_log)):
            pytest.fail(f"the scheduler service failed: {error}")
        return runs if len(runs) >= 3 else []

    runs = wait_for(scheduled, 120, "the scheduler to create batch-sweep runs", 1)
    assert all(r["auto_scheduled"] for r in runs), [r["created_by"] for r in runs]
    due = [_at(r["expected_start_time"]) for r in runs]
    first = _next_0230_after(deployed_at)
    assert due[:3] == [first + timedelta(days=n) for n in range(3)], due
    assert runs[0]["parameters"]["inbox"] == str(inbox)

    # Bring the first night forward to now, as a late run would be, and start a worker.
    tonight = runs[0]
    _api(
        stack,
        "POST",
        f"/flow_runs/{tonight['id']}/set_state",
        json={
            "state": {
                "type": "SCHEDULED",
                "name": "Scheduled",
                "state_details": {"scheduled_time": datetime.now(UTC).isoformat()},
            },
            "force": True,
        },
    )
    log = tmp_path / "worker.log"
    worker = start_worker(stack.env, POOL, "clipflow-schedule-worker", log)
    try:
        finished = wait_for(
            lambda: (
                (r := _api(stack, "GET", f"/flow_runs/{tonight['id']}"))["state_type"] in FINAL
                and r
            ),
            900,
            "the brought-forward batch-sweep run to finish on the worker",
            2,
        )
    finally:
        stop_worker(worker)
    assert finished["state_type"] == "COMPLETED", log.read_text()[-4000:]

    # It swept the inbox: one process-video run, for the one recording, as its subflow.
    [job] = _flow_runs(stack, deployment["id"])
    assert job["parameters"]["source"] == str(inbox / "nightly.mp4")
    assert job["parameters"]["transcript"] == str(inbox / "nightly.vtt")
    assert job["state_type"] == "COMPLETED", log.read_text()[-4000:]
    parent = _api(stack, "GET", f"/task_runs/{job['parent_task_run_id']}")
    assert parent["flow_run_id"] == tonight["id"]
    # The other nights are still waiting for their time.
    left = [r for r in _flow_runs(stack, sweep["id"]) if r["id"] != tonight["id"]]
    assert {r["state_type"] for r in left} == {"SCHEDULED"}
    assert all(_at(r["expected_start_time"]) > datetime.now(UTC) for r in left)

    from blocks.loading import load_settings
    from tasks.caching import settings_hash

    key = settings_hash(load_settings(None, aspect="9:16", max_clips=5))
    record = jobs.find_succeeded(stack.database_url, recording.sha256, key)
    assert record is not None and record.source_uri == str(inbox / "nightly.mp4")
