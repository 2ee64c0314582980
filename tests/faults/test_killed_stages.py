"""The process running a job is SIGKILLed inside each stage, the run is retried, and the job
resumes: stages that had finished are served from the cache, the killed stage runs again, and
the outputs are exactly one job's, with no scratch or partial files left behind.

The job is a deployment run on a process worker of its own pool (what production runs). The
test kills the flow run's process, as an OOM kill or a lost node would; the worker sees it
die and marks the run Crashed; the test retries it as the UI's Retry does (back to Scheduled)
and the same worker runs it again. Where each stage pauses to be killed: tests/faults/pausable.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deployments.support import read_flow_run, task_runs, wait_for
from tests.deployments.test_dispatch_pools import stop_worker
from tests.faults.pausable import MARKER_ENV, PAUSE_ENV
from tests.faults.support import REPO, cli_env, hidden_leftovers, job_rows

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

# The job's stages in the order they run; those with a content cache key are served from the
# cache by a retry once they have finished (ingest, publish and record are cheap and
# idempotent, and run again).
ORDER = ["ingest", "load-transcript", "select-highlights", "frame-clip", "render-clip",
         "qa-clip", "publish", "record"]  # fmt: skip
CACHED = {"load-transcript", "select-highlights", "frame-clip", "render-clip", "qa-clip"}
JOB_FILES = {
    "clips/clip-01.mp4", "clips/clip-01.srt", "clips/clip-01.vtt",
    "plan.json", "report.json", "report.html",
}  # fmt: skip


@dataclass(frozen=True)
class Pool:
    name: str
    deployment_id: str
    database_url: str
    log: Path


@pytest.fixture(scope="module")
def pool(prefect_server, tmp_path_factory) -> Iterator[Pool]:
    """A process work pool with a worker, and process-video deployed on it through
    tests/faults/pausable.py."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    root = tmp_path_factory.mktemp("killed")
    name = f"faults-{uuid.uuid4().hex[:6]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        deployment_id = client.create_deployment(
            flow_id=client.create_flow_from_name("process-video"),
            name=f"pausable-{name}",
            work_pool_name=name,
            entrypoint="tests/faults/pausable.py:process_video",
            pull_steps=[
                {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
            ],
            parameters={"max_clips": 1},
        )
    database_url = f"sqlite:///{root / 'jobs.sqlite'}"
    env = cli_env(
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        CLIPFLOW_DATABASE_URL=database_url,
    )
    log = root / "worker.log"
    with log.open("w") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", name,
             "--type", "process", "--name", f"{name}-worker"],
            cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield Pool(name, str(deployment_id), database_url, log)
    finally:
        stop_worker(worker)  # its process group: it and the flow runs it started


def _stage(task_run: Any) -> str:
    return task_run.name.rsplit("-", 1)[0]  # Prefect names a task run "<task>-<suffix>"


def _states(runs: list[Any]) -> dict[str, str]:
    return {_stage(t): t.state.name if t.state else "" for t in runs if _stage(t) in ORDER}


def _kill(pid: int) -> None:
    """SIGKILL the flow run's process, and its group when it leads one (ffmpeg children)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_inside(stage: str, pool: Pool, rec: Any, out: Path, marker: Path) -> Any:
    """Start a job, wait until it is paused inside ``stage``, SIGKILL it; returns the run."""
    from prefect.deployments import run_deployment

    run = run_deployment(
        pool.deployment_id,
        parameters={"source": str(rec.video), "transcript": str(rec.transcript), "out": str(out)},
        job_variables={"env": {PAUSE_ENV: stage, MARKER_ENV: str(marker)}},
        timeout=0,
        as_subflow=False,
    )

    def paused() -> bool:
        runs = [t for t in task_runs(run.id) if _stage(t) == stage and t.state is not None]
        running = [t for t in runs if t.state.is_running()]
        return marker.is_file() and marker.read_text().strip() != "" and bool(running)

    try:
        wait_for(paused, 300, f"the job to pause inside {stage}", 1)
    finally:  # kill it whatever happened: a paused process would wait for 10 minutes
        if marker.is_file() and marker.read_text().strip():
            _kill(int(marker.read_text()))
    crashed = wait_for(
        lambda: (r := read_flow_run(run.id)).state.is_final() and r, 60, "the crash report", 1
    )
    assert crashed.state.name == "Crashed", crashed.state
    return run


KILL_POINTS = [
    pytest.param("ingest", marks=pytest.mark.slow),
    pytest.param("load-transcript", marks=pytest.mark.slow),
    pytest.param("select-highlights", marks=pytest.mark.slow),
    pytest.param("frame-clip", marks=pytest.mark.slow),
    "render-clip",
    pytest.param("qa-clip", marks=pytest.mark.slow),
    pytest.param("publish", marks=pytest.mark.slow),
    pytest.param("record", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("stage", KILL_POINTS)
def test_a_job_killed_inside_a_stage_resumes_from_the_cache_when_retried(
    stage: str, pool: Pool, fresh_recording, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    from blocks.settings import PipelineSettings

    rec = fresh_recording()
    out = tmp_path / "out"
    run = _kill_inside(stage, pool, rec, out, tmp_path / "paused")
    first = task_runs(run.id)
    before = _states(first)
    assert before[stage] in ("Running", "Crashed"), before  # killed inside, never finished
    finished = [s for s in ORDER[: ORDER.index(stage)] if before.get(s) == "Completed"]
    assert finished == ORDER[: ORDER.index(stage)], before

    with get_client(sync_client=True) as client:  # the UI's Retry
        accepted = client.set_flow_run_state(run.id, Scheduled(), force=True)
    assert accepted.status.value == "ACCEPT", accepted
    done = wait_for(
        lambda: (r := read_flow_run(run.id)).state.is_final() and r.run_count > 1 and r,
        400,
        "the retried run",
        1,
    )
    if not done.state.is_completed():
        pytest.fail(f"retried run ended {done.state!r}\n{pool.log.read_text()[-4000:]}")
    seen = {t.id for t in first}
    after = _states([t for t in task_runs(run.id) if t.id not in seen])
    for name in ORDER:
        expected = "Cached" if name in finished and name in CACHED else "Completed"
        assert after.get(name) == expected, (name, after)

    # Exactly one job's outputs: one job directory, its files once, nothing half-written.
    (job_dir,) = out.iterdir()
    files = {p.relative_to(job_dir).as_posix() for p in job_dir.rglob("*") if p.is_file()}
    assert files == JOB_FILES
    report = json.loads((job_dir / "report.json").read_text())
    assert [c["path"] for c in report["clips"]] == ["clips/clip-01.mp4"]
    work = PipelineSettings().work_dir
    assert hidden_leftovers(out) == [] and hidden_leftovers(work / rec.sha256[:16]) == []
    assert len(list((work / rec.sha256[:16]).rglob("clip-01.mp4"))) == 1
    assert not [p for p in (work / "sources").glob(".*")]
    # One job row, the retried run's, complete: the kill did not leave a second job behind.
    (row,) = job_rows(pool.database_url, sha256=rec.sha256, uri=str(rec.video))
    assert (row["id"], row["status"], row["clips"]) == (job_dir.name, "succeeded", 1)
    assert row["flow_run_id"] == str(run.id) and row["job_dir"] == str(job_dir)
