"""The production stack on one host, from the cpu image, on the host network (loopback only).

A Prefect server container with basic authentication on the machine's own PostgreSQL; the
one-shot set-up exactly as compose runs it (work pools, block types, ``prefect deploy --all``,
the recovery automations); S3 served by moto; the job API (``clipflow serve``) in a container of
the same image; a cpu worker container whose home is a volume, as compose's ``clipflow-home``.
One job is submitted with the typed client, read back through the API and its clip downloaded
through the presigned URL. Mid-job, once a clip is rendered, the worker container is killed:
its flow run falls silent, the stack's automations mark it Crashed and schedule it again, a new
worker container resumes it, and the finished stages come from Prefect's result cache. Slow:
about 5 minutes, most of it the job and the 90 s of silence that prove a run dead.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from clipflow.client import ClipflowClient
from clipflow.schemas import JobView
from media.sample.generator import make_sample
from tests.deployments.test_postgres_server import pg_databases
from tests.infra.test_images import (
    ROOT,
    _free_port,
    _wait_for_url,
    _why_not,
    build_sh,
    buildkit_docker,
    containers,
    docker,
)

pytestmark = pytest.mark.slow
__all__ = ["containers", "pg_databases"]  # fixtures used here

AUTH = f"clipflow:{secrets.token_hex(8)}"  # the server's basic auth, as compose sets it
BUCKET = "clipflow"
CRASH_RERUNS = "2"
COMPOSE = yaml.safe_load((ROOT / "infra" / "compose.yaml").read_text())


def _api(url: str, body: dict[str, Any] | None = None, *, auth: str | None = AUTH) -> Any:
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    method = "GET" if body is None else "POST"
    answer = httpx.request(method, url, json=body, headers=headers, timeout=30)
    answer.raise_for_status()
    return answer.json()


def _env(**values: str) -> list[str]:
    return [arg for key, value in values.items() for arg in ("-e", f"{key}={value}")]


def _setup_script() -> str:
    """compose's one-shot set-up, as the container's shell gets it (compose turns $$ into $)."""
    return str(COMPOSE["services"]["setup"]["command"][-1]).replace("$$", "$")


@pytest.fixture
def home_volume(containers: list[str]) -> Iterator[str]:
    """A named volume for the workers' clipflow home (work folders, persisted results)."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    name = f"clipflow-stack-home-{secrets.token_hex(4)}"
    docker("volume", "create", name)
    yield name
    for container in containers:  # a volume in use cannot be removed
        subprocess.run([buildkit_docker() or "docker", "rm", "-f", container], capture_output=True)
    containers.clear()
    docker("volume", "rm", name)


def _wait_up(url: str, container: str, within_s: float) -> None:
    """Wait for ``url`` to answer; failing, say what the container logged."""
    try:
        _wait_for_url(url, within_s=within_s)
    except OSError as exc:
        logs = subprocess.run([buildkit_docker() or "docker", "logs", "--tail", "30", container],
                              capture_output=True, text=True)  # fmt: skip
        pytest.fail(f"{container} did not answer {url} in {within_s} s ({exc}):\n{logs.stderr}")


def _job_states(api: ClipflowClient, job_id: str, until: Any, within_s: float) -> list[JobView]:
    """The job as the API shows it, once a second, until ``until(job)`` or a final state."""
    seen = [api.get(job_id)]
    deadline = time.monotonic() + within_s
    while not (until(seen[-1]) or seen[-1].final):
        assert time.monotonic() < deadline, f"job still {seen[-1].state} after {within_s} s"
        time.sleep(1)
        seen.append(api.get(job_id))
    return seen


def _attempts(api_url: str, flow_run_id: str) -> dict[int, dict[str, list[str]]]:
    """The flow run's task runs per attempt (its run count): task name -> state names."""
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    runs = _api(f"{api_url}/task_runs/filter", {**body, "limit": 200, "offset": 0})
    attempts: dict[int, dict[str, list[str]]] = {}
    for run in runs:
        name = run["name"].rsplit("-", 1)[0]  # "frame-clip-1a2" -> "frame-clip"
        by_name = attempts.setdefault(run["flow_run_run_count"], {})
        by_name.setdefault(name, []).append(run["state"]["name"])
    return attempts


def test_job_through_the_job_api_resumes_from_cache_after_its_worker_is_killed(
    pg_databases, containers: list[str], home_volume: str, s3_server: str, tmp_path: Path, capsys
) -> None:
    import boto3

    prefect_db, jobs_db = pg_databases
    base = build_sh("base").stdout.split()[-1]
    image = build_sh("images", "--base-cpu", base, "--tag", "images-test", "cpu").stdout.split()[-1]
    started = time.monotonic()
    port, serve_port = _free_port(), _free_port()
    api_url, serve_url = f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{serve_port}"
    server, serve = f"clipflow-stack-server-{port}", f"clipflow-stack-serve-{port}"
    containers += [server, serve]
    docker("run", "-d", "--name", server, "--network", "host", "--no-healthcheck",
           *_env(PREFECT_API_DATABASE_CONNECTION_URL=prefect_db,
                 PREFECT_SERVER_API_AUTH_STRING=AUTH),
           image, "prefect", "server", "start", "--host", "127.0.0.1",
           "--port", str(port))  # fmt: skip
    _wait_up(f"{api_url}/health", server, within_s=240)
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        _api(f"{api_url}/deployments/filter", {}, auth=None)

    # What every clipflow container gets: compose's x-clipflow-env, pointed at this host.
    clipflow_env = dict(
        PREFECT_API_URL=api_url,
        PREFECT_API_AUTH_STRING=AUTH,
        CLIPFLOW_ALLOWED_S3=json.dumps([f"s3://{BUCKET}/inbox/", f"s3://{BUCKET}/out/"]),
        CLIPFLOW_ALLOWED_ROOTS="[]",
        CLIPFLOW_DATABASE_URL=jobs_db,
        CLIPFLOW_S3_ENDPOINT_URL=s3_server,
        CLIPFLOW_S3_REGION="us-east-1",
        CLIPFLOW_AWS_ACCESS_KEY_ID="clipflow-worker",
        CLIPFLOW_AWS_SECRET_ACCESS_KEY="moto-accepts-any",
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30",
    )
    assert set(clipflow_env) == set(COMPOSE["x-clipflow-env"])
    env = _env(**clipflow_env)
    build_sh("run", *env, *_env(GPU_POOL_LIMIT="1", CRASH_RERUNS=CRASH_RERUNS,
             NOTIFY_WEBHOOK_URL=""), "--", image, "sh", "-ec", _setup_script())  # fmt: skip

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    sample = make_sample(tmp_path / "talk.mp4", minutes=1.5, seed=3)
    s3.upload_file(str(sample.video_path), BUCKET, "inbox/talk.mp4")
    s3.upload_file(str(sample.transcript_path), BUCKET, "inbox/talk.vtt")

    key = build_sh("run", *env, "--", image, "clipflow", "keys", "create", "--client", "acme",
                   "--role", "submit").stdout.strip()  # fmt: skip
    docker("run", "-d", "--name", serve, "--network", "host", "--no-healthcheck", *env,
           *_env(CLIPFLOW_SERVE_OUT=f"s3://{BUCKET}/out/", CLIPFLOW_SERVE_CRASH_RERUNS=CRASH_RERUNS,
                 CLIPFLOW_SERVE_SIGNING_SECRET=secrets.token_hex(16)),
           image, "clipflow", "serve", "--host", "127.0.0.1",
           "--port", str(serve_port))  # fmt: skip
    _wait_up(f"{serve_url}/api/v1/health", serve, within_s=120)

    def start_worker(n: int) -> str:
        name = f"clipflow-stack-worker{n}-{port}"
        containers.append(name)
        docker("run", "-d", "--name", name, "--network", "host", "--init",
               "-v", f"{home_volume}:/var/lib/clipflow", *env,
               *_env(PREFECT_WORKER_QUERY_SECONDS="2",
                     PREFECT_WORKER_WEBSERVER_PORT=str(_free_port())), image)  # fmt: skip
        return name

    first = start_worker(1)
    set_up_s = time.monotonic() - started
    with ClipflowClient(serve_url, api_key=key) as api:
        submitted = time.monotonic()
        job = api.submit(f"s3://{BUCKET}/inbox/talk.mp4",
                         transcript=f"s3://{BUCKET}/inbox/talk.vtt", max_clips=2)  # fmt: skip
        before = _job_states(api, job.id, lambda j: "render-clip" in j.stages_done, 600)
        assert not before[-1].final, (before[-1].state, before[-1].error)
        docker("kill", first)  # SIGKILL: the worker and its flow run die, reporting nothing
        killed, killed_at = time.monotonic(), datetime.now(UTC)
        start_worker(2)  # as compose's restart policy would
        after = _job_states(api, job.id, lambda j: False, 600)
        done = time.monotonic()
        final = after[-1]

        states = [j.state for j in before + after]
        assert final.state == "succeeded", (final.error, docker("logs", "--tail", "40", first))
        assert "failed" not in states  # a crash that is re-run is never shown as failed
        assert final.qa_passed and 1 <= len(final.clips) <= 2
        assert final.location == f"s3://{BUCKET}/out/{job.id}"
        clip = httpx.get(str(final.clips[0].url), timeout=30)  # presigned, no key needed
        assert clip.status_code == 200 and clip.content[4:8] == b"ftyp"

    # Prefect's side: the killed run was marked Crashed for its silence, scheduled again, and
    # the second attempt took every stage finished before the kill from the result cache.
    run = _api(f"{api_url}/flow_runs/{job.flow_run_id}")
    history = _api(f"{api_url}/flow_run_states/?flow_run_id={job.flow_run_id}")
    names = [s["name"] for s in sorted(history, key=lambda s: s["timestamp"])]
    assert run["run_count"] == 2 and names[-1] == "Completed", names
    crashed = next(s for s in history if s["name"] == "Crashed")
    assert "no heartbeat" in crashed["message"]
    assert names.index("Crashed") < names.index("AwaitingRetry")
    attempts = _attempts(api_url, job.flow_run_id)
    second = attempts[2]
    assert second["load-transcript"] == ["Cached"] and second["select-highlights"] == ["Cached"]
    for stage in ("frame-clip", "render-clip"):  # each clip's stage finished before the kill
        finished = attempts[1][stage].count("Completed")
        assert finished >= 1 and second[stage].count("Cached") == finished, (stage, attempts)
    assert second["ingest"] == ["Completed"]  # not cached: the content hash is taken each run
    report = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"out/{job.id}/report.json")["Body"].read()
    )
    assert report["job_id"] == job.id and report["qa"]["passed"] is True

    detected = (datetime.fromisoformat(crashed["timestamp"]) - killed_at).total_seconds()
    with capsys.disabled():
        print(
            f"\nstack set-up {set_up_s:.0f} s; job {done - submitted:.0f} s from submission to "
            f"succeeded (killed {killed - submitted:.0f} s in, resumed and done "
            f"{done - killed:.0f} s after the kill, marked Crashed {detected:.0f} s after it); "
            f"second attempt's flow {report['timings']['wall_s']:.0f} s"
        )
        for attempt, by_name in sorted(attempts.items()):  # 0: created, never started
            print(f"attempt {attempt}: " + ", ".join(f"{n} {s}" for n, s in by_name.items()))
