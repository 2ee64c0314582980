"""``dispatch="pools"``: framing and render run as ``frame-and-render-clip`` deployments on a
gpu work pool (a process worker here), each behind a cached dispatch task.

Measures the dispatch overhead per GPU stage (the dispatch task's wall time minus the time the
same stages took inside the child run) and checks that a parent killed mid-job and retried
resumes from cached stages without duplicate outputs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deployments.conftest import REPO, ClipflowEnv, prefect_deploy_args
from tests.deployments.support import flow_runs, read_flow_run, task_runs, wait_for
from tests.helpers import run_log

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

GPU_FLOW = "frame-and-render-clip"


def start_worker(env: dict[str, str], pool: str, name: str, log: Path) -> subprocess.Popen:
    """``prefect worker start`` on ``pool`` in its own process group, logging to ``log``."""
    with log.open("a") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
             "--type", "process", "--name", name],
            cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop_worker(proc: subprocess.Popen, *, kill: bool = False) -> None:
    """Stop a worker and the flow runs it started (its process group: all ours)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class GpuPool:
    name: str
    deployment_id: str
    log: Path


@pytest.fixture(scope="module")
def gpu_pool(clipflow_env: ClipflowEnv, tmp_path_factory) -> Iterator[GpuPool]:
    """prefect.yaml's ``frame-and-render-clip`` on a private gpu pool, with a process worker."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"gpu-test-{uuid.uuid4().hex[:6]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    prefect_deploy_args(clipflow_env, "-n", GPU_FLOW, "--pool", pool)
    with get_client(sync_client=True) as client:
        deployment_id = str(client.read_deployment_by_name(f"{GPU_FLOW}/{GPU_FLOW}").id)
    log = tmp_path_factory.mktemp("gpu-worker") / "worker.log"
    proc = start_worker(clipflow_env.env, pool, "clipflow-test-gpu", log)
    try:
        yield GpuPool(pool, deployment_id, log)
    finally:
        stop_worker(proc)


@pytest.fixture
def s3_out(s3_server: str, monkeypatch) -> str:
    """An S3 output prefix on the session's moto server, reachable from this process."""
    monkeypatch.setenv("CLIPFLOW_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("CLIPFLOW_AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("CLIPFLOW_AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"out-{uuid.uuid4().hex[:8]}"
    _s3(s3_server).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/jobs"


def _s3(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def _newest_task_runs(flow_run_id: Any) -> list[Any]:
    return task_runs(flow_run_id, newest_first=True)


def _wall(run: Any) -> float:
    return (run.end_time - run.start_time).total_seconds()


def dispatch_overheads(parent_run_id: Any, gpu_deployment_id: str) -> list[dict[str, float]]:
    """Per dispatched clip: the dispatch task's wall seconds, the same stages' wall seconds
    inside the child run, and the difference (the cost of going through a pool).

    run_deployment links the child to a tracking task run of the parent, not to the dispatch
    task itself: dispatch tasks and children are paired in start order."""
    parent_tasks = _newest_task_runs(parent_run_id)
    dispatched = sorted(
        (t for t in parent_tasks if t.name.startswith("dispatch-frame-render")),
        key=lambda t: t.start_time,
    )
    tracking = {t.id for t in parent_tasks}
    children = sorted(
        (c for c in flow_runs(gpu_deployment_id) if c.parent_task_run_id in tracking),
        key=lambda c: c.start_time,
    )
    figures = []
    for task_run, child in zip(dispatched, children, strict=True):
        stages = [
            t for t in _newest_task_runs(child.id) if t.name.startswith(("frame-clip", "render"))
        ]
        in_process = sum(_wall(t) for t in stages)
        total = _wall(task_run)
        figures.append(
            {"dispatch_s": round(total, 2), "stages_s": round(in_process, 2),
             "child_run_s": round(_wall(child), 2), "overhead_s": round(total - in_process, 2)}
        )  # fmt: skip
    return figures


def test_pools_dispatch_renders_through_the_gpu_pool_and_a_rerun_reuses_it(
    gpu_pool: GpuPool, recordings, s3_out: str, s3_server: str
) -> None:
    from flows.process_video import process_video

    rec = recordings[12]
    t0 = time.perf_counter()
    state = process_video(
        source=str(rec.video),
        transcript=str(rec.transcript),
        out=s3_out,
        max_clips=2,
        dispatch="pools",
        return_state=True,
    )
    wall = time.perf_counter() - t0
    result = state.result()
    assert result.status == "succeeded", result
    children = flow_runs(gpu_pool.deployment_id)
    parent_id = state.state_details.flow_run_id
    mine = [c for c in children if read_flow_run(c.id).parent_task_run_id]
    assert mine and all(c.state.is_completed() for c in mine)

    # The clips travelled through object storage, under the output's _stages/ prefix.
    bucket, _, prefix = s3_out.removeprefix("s3://").partition("/")
    s3 = _s3(s3_server)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    staged = [k for k in keys if "/_stages/" in k and k.endswith(".mp4")]
    job_key = result.job_dir.removeprefix(f"s3://{bucket}/")
    report = json.loads(s3.get_object(Bucket=bucket, Key=f"{job_key}/report.json")["Body"].read())
    assert len(staged) == len(report["clips"]) >= 1
    assert "frame_render" in report["timings"]["stages"]

    figures = dispatch_overheads(parent_id, gpu_pool.deployment_id)
    assert len(figures) == len(report["clips"])
    # The parent's log tells each clip's framing and render as it comes back from the pool.
    told = run_log(parent_id)
    n = len(report["clips"])
    for clip in report["clips"]:
        layout = clip["framing"]["layout"]
        assert any(
            line.startswith(f"framing clip {clip['index']}/{n}: layout {layout}") for line in told
        )
        assert any(line.startswith(f"render clip {clip['index']}/{n}: ") for line in told)
    print(f"\npools job wall {wall:.1f} s; per dispatched clip: {figures}")

    # A re-run of the same content: every dispatch is served from cache, no new gpu run.
    before = len(flow_runs(gpu_pool.deployment_id))
    again = process_video(
        source=str(rec.video), transcript=str(rec.transcript), out=s3_out, max_clips=2,
        dispatch="pools",
    )  # fmt: skip
    assert again.status == "succeeded"
    assert len(flow_runs(gpu_pool.deployment_id)) == before


def _make_parent_deployment(pool: str, out: Path) -> str:
    """A process-video deployment of our own on ``pool`` (not the session's shared one)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("process-video")
        return str(
            client.create_deployment(
                flow_id=flow_id,
                name=f"killed-{uuid.uuid4().hex[:6]}",
                work_pool_name=pool,
                entrypoint="flows/process_video.py:process_video",
                pull_steps=[
                    {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
                ],
                parameters={"out": str(out), "dispatch": "pools", "max_clips": 2},
            )
        )


@pytest.mark.slow
def test_a_killed_worker_then_a_retried_run_resumes_from_cached_stages(
    gpu_pool: GpuPool, clipflow_env: ClipflowEnv, recordings, tmp_path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments import run_deployment
    from prefect.states import Scheduled

    pool = f"cpu-kill-{uuid.uuid4().hex[:6]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    deployment_id = _make_parent_deployment(pool, tmp_path / "out")
    rec = recordings[13]
    run = run_deployment(
        deployment_id,
        parameters={"source": str(rec.video), "transcript": str(rec.transcript)},
        timeout=0,
        as_subflow=False,
    )
    log = tmp_path / "cpu-worker.log"
    worker = start_worker(clipflow_env.env, pool, "clipflow-test-cpu-a", log)
    try:
        # Kill the worker, and the job with it, while a clip's GPU stages are running.
        wait_for(
            lambda: [c for c in _children_of(run.id, gpu_pool.deployment_id)
                     if c.state.is_running()],
            400, "a frame-and-render-clip run of the job to start", 1,
        )  # fmt: skip
    finally:
        _kill_flow_run_process(run.id)
        stop_worker(worker, kill=True)
    killed = read_flow_run(run.id)
    assert not killed.state.is_final(), killed.state  # the job was really cut off
    # The gpu run is not the parent's process: it finishes on its own.
    wait_for(
        lambda: all(c.state.is_final() for c in _children_of(run.id, gpu_pool.deployment_id)),
        300, "the orphaned gpu run to finish", 1,
    )  # fmt: skip
    first = _children_of(run.id, gpu_pool.deployment_id)

    # "Retry": the run back to Scheduled (what the UI's Retry does), a fresh worker takes it.
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Scheduled(), force=True)
    worker = start_worker(clipflow_env.env, pool, "clipflow-test-cpu-b", log)
    try:
        done = wait_for(
            lambda: (r := read_flow_run(run.id)).state.is_final() and r, 400, "the retried run", 1
        )
    finally:
        stop_worker(worker)
    assert done.state.is_completed(), (done.state, log.read_text()[-3000:])
    later = [c for c in _children_of(run.id, gpu_pool.deployment_id) if c.id not in {
        f.id for f in first}]  # fmt: skip
    # Clips whose GPU stages finished before the kill were not framed or rendered again.
    finished = {c.parameters["clip"]["index"] for c in first if c.state.is_completed()}
    assert finished
    for child in later:
        if child.parameters["clip"]["index"] in finished:
            states = {t.name.split("-")[0] + "-" + t.name.split("-")[1]: t.state.name
                      for t in _newest_task_runs(child.id)}  # fmt: skip
            assert states.get("render-clip") == "Cached", states
            assert states.get("frame-clip") == "Cached", states
    # One job, one file per clip: nothing duplicated by the retry.
    job_dirs = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert len(job_dirs) == 1, job_dirs
    report = json.loads((job_dirs[0] / "report.json").read_text())
    clips = sorted(p.name for p in (job_dirs[0] / "clips").glob("*.mp4"))
    assert clips == sorted(Path(c["path"]).name for c in report["clips"])
    assert len(set(clips)) == len(clips) >= 1
    print(f"\nkilled-and-retried: first gpu runs {len(first)}, after retry {len(later)}")


def _kill_flow_run_process(flow_run_id: Any) -> None:
    """SIGKILL the process a worker started for a flow run (its infrastructure pid, ours):
    the process worker gives it a session of its own, so killing the worker spares it."""
    infra = read_flow_run(flow_run_id).infrastructure_pid
    assert infra, "the worker recorded no process for the run"
    pid = int(str(infra).rpartition(":")[2])
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _parent_flow_run(child: Any) -> Any:
    from prefect.client.orchestration import get_client

    task_run_id = read_flow_run(child.id).parent_task_run_id
    with get_client(sync_client=True) as client:
        return client.read_task_run(task_run_id).flow_run_id


def _children_of(parent_id: Any, gpu_deployment_id: str) -> list[Any]:
    return [
        c for c in flow_runs(gpu_deployment_id)
        if c.parent_task_run_id and _parent_flow_run(c) == parent_id
    ]  # fmt: skip


def test_a_rendered_clip_travels_through_object_storage(s3_out: str, tmp_path) -> None:
    """The gpu side uploads the clip and its captions and hands back URIs; the parent side
    downloads them; nothing local to the gpu machine is referenced."""
    from blocks.settings import PipelineSettings
    from tasks.dispatch import export_rendered, import_rendered
    from tasks.records import RenderedClip

    made = tmp_path / "gpu"
    made.mkdir()
    (made / "clip-02.mp4").write_bytes(b"video")
    (made / "clip-02.srt").write_text("1\n")
    clip = RenderedClip(
        2, str(made / "clip-02.mp4"), 1080, 1920, "libx264", -14.0, 2,
        {"srt": str(made / "clip-02.srt")},
    )  # fmt: skip
    settings = PipelineSettings()
    shipped = export_rendered(clip, f"{s3_out}/_stages", "ab" * 32, settings)
    assert shipped.path == f"{s3_out}/_stages/{'ab' * 8}/clip-02/clip-02.mp4"
    assert shipped.captions["srt"].startswith("s3://")
    back = import_rendered(shipped, tmp_path / "cpu", settings)
    assert Path(back.path).read_bytes() == b"video"
    assert Path(back.captions["srt"]).read_text() == "1\n"
    assert Path(back.path).parent == (tmp_path / "cpu").resolve()

    params = settings.portable()
    assert not {"home", "database_url", "aws_access_key_id", "aws_secret_access_key"} & set(params)
    assert PipelineSettings(**params).aspect == settings.aspect
