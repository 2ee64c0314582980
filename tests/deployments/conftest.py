"""Fixtures for the deployment tests: the real prefect.yaml deployed to the session's Prefect
test server with Prefect's own CLI, a process worker on a private work pool, and generated
recordings.

The worker and the flow runs it starts are subprocesses: they get the session's Prefect API,
homes and a job database of their own (``clipflow_env``); tests that read the job database in
this process point ``CLIPFLOW_DATABASE_URL`` at the same file.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ClipflowEnv:
    env: dict[str, str]  # for subprocesses: worker, CLI, bridge
    database_url: str
    out: Path  # process-video's `out` default in the test deployment
    pool: str


@pytest.fixture(scope="session")
def clipflow_env(prefect_server, s3_server, tmp_path_factory) -> ClipflowEnv:
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("deployments")
    database_url = f"sqlite:///{root / 'jobs.sqlite'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "AWS_"))}
    env.update(
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        CLIPFLOW_CODE_DIR=str(REPO),
        CLIPFLOW_DATABASE_URL=database_url,
        CLIPFLOW_S3_ENDPOINT_URL=s3_server,
        CLIPFLOW_AWS_ACCESS_KEY_ID="testing",
        CLIPFLOW_AWS_SECRET_ACCESS_KEY="testing",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        # Upload-triggered jobs here do not wait for a sidecar to arrive beside the recording:
        # that wait has its own tests (tests/tasks/test_sidecars.py, test_process_video.py).
        CLIPFLOW_SIDECAR_WAIT_S="0",
    )
    pool = f"cpu-test-{uuid.uuid4().hex[:6]}"
    return ClipflowEnv(env, database_url, root / "out", pool)


def prefect_deploy(env: ClipflowEnv, *args: str) -> subprocess.CompletedProcess[str]:
    """``prefect deploy ARGS`` from the repository's prefect.yaml, on the test pool."""
    return prefect_deploy_args(env, *args, "--pool", env.pool)


def prefect_deploy_args(env: ClipflowEnv, *args: str) -> subprocess.CompletedProcess[str]:
    """``prefect deploy ARGS --no-prompt`` from the repository's prefect.yaml; must exit 0."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "prefect",
            "deploy",
            *args,
            "--no-prompt",
        ],
        cwd=REPO,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return done


@pytest.fixture(scope="session")
def deployed(clipflow_env: ClipflowEnv) -> dict[str, str]:
    """Both deployments of prefect.yaml on the test server: name → deployment id."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=clipflow_env.pool, type="process"))
    # On the test's own pool (`--all` takes the pools from prefect.yaml: test_prefect_yaml runs
    # it), with the test's output folder for process-video (prefect.yaml's `out` is the worker's).
    prefect_deploy(clipflow_env, "-n", "process-video", "--param", f"out={clipflow_env.out}")
    prefect_deploy(clipflow_env, "-n", "batch-sweep")
    with get_client(sync_client=True) as client:
        return {
            name: str(client.read_deployment_by_name(f"{flow}/{name}").id)
            for flow, name in (("process-video", "process-video"), ("batch-sweep", "batch-sweep"))
        }


@pytest.fixture(scope="session")
def worker(deployed, clipflow_env: ClipflowEnv, tmp_path_factory) -> Iterator[Path]:
    """``prefect worker start`` on the test pool (its own process group); yields its log."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "worker",
                "start",
                "--pool",
                clipflow_env.pool,
                "--type",
                "process",
                "--name",
                "clipflow-test-worker",
            ],
            cwd=REPO,
            env=clipflow_env.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log
    finally:
        # An idle worker can ignore the first SIGTERM for 30 s or more: signal its whole
        # group (it and the flow runs it started, all ours), then kill what is left.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@dataclass(frozen=True)
class Recording:
    video: Path
    transcript: Path
    sha256: str


@pytest.fixture(scope="session")
def recordings(tmp_path_factory) -> dict[int, Recording]:
    """Four different 30-s two-person recordings with WebVTT sidecars (seeds 11-14); they share
    the session's generator caches (tests/generated_media.py), so each takes about a second."""
    from tests.generated_media import sample_recording

    made = {}
    for seed in (11, 12, 13, 14):
        sample = sample_recording(tmp_path_factory, minutes=0.5, seed=seed)
        digest = hashlib.sha256(sample.video_path.read_bytes()).hexdigest()
        made[seed] = Recording(sample.video_path, sample.transcript_path, digest)
    assert len({r.sha256 for r in made.values()}) == 4, "the seeds must give different bytes"
    return made
