"""Prefect result storage shared across machines through an S3Bucket block
(``python -m deployments.storage``), against moto's S3 on loopback and the session's Prefect
test server.

Each "machine" is a subprocess with a Prefect and clipflow home of its own, so nothing on local
disk is shared: only the Prefect API and the bucket. Machine A runs a flow whose task persists
its result; machine B reads A's flow result through the API and re-runs the flow, and the task
is served from the cache A left in the bucket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

from tests.deployments.conftest import REPO, ClipflowEnv

pytestmark = pytest.mark.usefixtures("prefect_server")

MACHINE_ENV = "CLIPFLOW_TEST_MACHINE"


# --- what runs on each machine -------------------------------------------------------------------


@task(name="result-storage-probe-stage", persist_result=True, cache_policy=INPUTS + TASK_SOURCE)
def expensive_stage(content: str) -> dict[str, str]:
    """Stands for a costly stage: which machine computed it, and a nonce no re-run repeats."""
    return {"content": content, "computed_on": os.environ[MACHINE_ENV], "nonce": uuid.uuid4().hex}


@flow(name="result-storage-probe", persist_result=True)
def probe_flow(content: str) -> dict[str, Any]:
    state = expensive_stage(content, return_state=True)
    return {"stage": state.result(), "stage_state": state.name}


def on_machine(action: str, content: str, flow_run_id: str = "") -> None:
    """Entry point of the subprocesses: ``run`` the flow, or ``read`` a flow run's result
    through the Prefect API; prints one JSON line."""
    if action == "run":
        state = probe_flow(content, return_state=True)
        print(json.dumps({"flow_run_id": str(state.state_details.flow_run_id), **state.result()}))
    else:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            state = client.read_flow_run(uuid.UUID(flow_run_id)).state
        print(json.dumps(state.result()))


# --- helpers -------------------------------------------------------------------------------------


def _s3(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def _keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    listing = _s3(endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def _machine(clipflow_env: ClipflowEnv, root: Path, name: str, slug: str) -> dict[str, str]:
    """The environment of one machine: its own homes, the shared API, bucket and setting."""
    return {
        **clipflow_env.env,
        "PREFECT_HOME": str(root / name / "prefect"),
        "CLIPFLOW_HOME": str(root / name / "clipflow"),
        "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": slug,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
        MACHINE_ENV: name,
    }


def _python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


def _on(env: dict[str, str], *args: str) -> dict[str, Any]:
    code = f"from {__name__} import on_machine; import sys; on_machine(*sys.argv[1:])"
    return json.loads(_python(env, "-c", code, *args).stdout.strip().splitlines()[-1])


def _local_results(root: Path) -> list[Path]:
    return [p for p in root.rglob("storage/*") if p.is_file()]


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.e2e  # three flow-running processes against the test server: ~18 s
def test_results_written_on_one_machine_are_read_and_reused_on_another(
    clipflow_env: ClipflowEnv, s3_server: str, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect_aws import S3Bucket

    bucket, name = f"results-{uuid.uuid4().hex[:8]}", f"results-{uuid.uuid4().hex[:6]}"
    _s3(s3_server).create_bucket(Bucket=bucket)
    setup = {**clipflow_env.env, "PREFECT_HOME": str(tmp_path / "admin"), "PYTHONPATH": str(REPO)}
    saved = _python(
        setup, "-m", "deployments.storage", "--bucket", bucket, "--prefix", "results",
        "--endpoint-url", s3_server, "--name", name,
    )  # fmt: skip
    slug = f"s3-bucket/{name}"
    assert saved.stdout.strip().splitlines()[-1] == f"PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK={slug}"

    content = f"talk-{uuid.uuid4().hex[:8]}"
    first = _on(_machine(clipflow_env, tmp_path, "a", slug), "run", content)
    assert first["stage_state"] == "Completed"

    machine_b = _machine(clipflow_env, tmp_path, "b", slug)
    read_back = _on(machine_b, "read", content, first["flow_run_id"])
    assert read_back == {"stage": first["stage"], "stage_state": "Completed"}
    again = _on(machine_b, "run", content)
    assert again["stage_state"] == "Cached"
    assert again["stage"] == first["stage"]  # A's nonce: computed once, on machine a

    # The results are objects in the bucket, and the flow run's state points at the block.
    with get_client(sync_client=True) as client:
        record = client.read_flow_run(uuid.UUID(first["flow_run_id"])).state.data
    block_id = S3Bucket.load(name)._block_document_id
    assert record.storage_block_id == block_id
    keys = _keys(s3_server, bucket)
    assert f"results/{record.storage_key}" in keys
    assert len(keys) >= 3  # A's task and flow results, B's flow result
    assert all(k.startswith("results/") for k in keys)
    assert _local_results(tmp_path) == []  # no machine kept a result on its own disk


def test_the_command_refers_to_a_saved_credentials_block(
    clipflow_env: ClipflowEnv, s3_server: str
) -> None:
    from prefect_aws import AwsCredentials, S3Bucket

    from deployments.storage import save_result_storage

    creds = f"creds-{uuid.uuid4().hex[:6]}"
    AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_client_parameters={"endpoint_url": s3_server},
    ).save(creds)
    bucket, name = f"results-{uuid.uuid4().hex[:8]}", f"results-{uuid.uuid4().hex[:6]}"
    _s3(s3_server).create_bucket(Bucket=bucket)

    assert save_result_storage(name, bucket, "/prefix/", credentials_block=creds) == (
        f"s3-bucket/{name}"
    )
    block = S3Bucket.load(name)
    block.write_path("probe.txt", b"ok")
    assert _keys(s3_server, bucket) == ["prefix/probe.txt"]
    # A reference, not a copy: rotating the credentials block's key reaches the bucket block.
    rotated = AwsCredentials.load(creds)
    rotated.aws_access_key_id = "rotated"
    rotated.save(creds, overwrite=True)
    assert S3Bucket.load(name).credentials.aws_access_key_id == "rotated"


def test_the_command_refuses_what_it_cannot_honour(
    clipflow_env: ClipflowEnv, s3_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect_aws import AwsCredentials

    from deployments.storage import main

    missing = f"no-such-{uuid.uuid4().hex[:6]}"
    assert main(["--bucket", "results", "--name", "x", "--credentials-block", missing]) == 2
    assert f"aws-credentials/{missing}: no such AwsCredentials block" in capsys.readouterr().err

    assert main(["--bucket", "Bad_Bucket!", "--name", f"bad-{uuid.uuid4().hex[:6]}"]) == 2
    assert "invalid bucket name 'Bad_Bucket!'" in capsys.readouterr().err

    keyed = f"keyed-{uuid.uuid4().hex[:6]}"
    AwsCredentials(aws_access_key_id="AKIDKEEPME", aws_secret_access_key="s").save(keyed)
    assert main(["--bucket", "results", "--name", keyed, "--endpoint-url", s3_server]) == 2
    assert f"aws-credentials/{keyed} exists and holds credentials" in capsys.readouterr().err
    assert AwsCredentials.load(keyed).aws_access_key_id == "AKIDKEEPME"  # untouched


# --- dispatch="pools": the gpu stage's return value travels through the bucket --------------------


@flow(name="result-storage-parent")
def one_clip_on_the_gpu_pool(
    video: str, vtt: str, settings: Any, deployment: str, stage_store: str
) -> Any:
    """process-video's path to a dispatched clip, cut down to one clip and no QA."""
    from tasks.dispatch import dispatch_frame_render
    from tasks.ingest import ingest_source, ingest_transcript
    from tasks.selection import select_highlights
    from tasks.transcript import load_transcript

    src = ingest_source(video, settings).source
    text = load_transcript(src, ingest_transcript(vtt, settings), vtt, settings).transcript
    clip = select_highlights(src, text, 1, settings).clips[0]
    return dispatch_frame_render(
        src, clip, text, settings, deployment=deployment, stage_store=stage_store
    )


@pytest.mark.slow  # a real gpu-pool worker and a render: ~90 s on 2 cores
def test_the_gpu_runs_return_value_reaches_the_parent_through_the_bucket(
    clipflow_env: ClipflowEnv, s3_server: str, recordings, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect_aws import AwsCredentials, S3Bucket

    from blocks.settings import PipelineSettings
    from deployments.storage import save_result_storage
    from tests.deployments.support import flow_runs
    from tests.deployments.test_dispatch_pools import start_worker, stop_worker

    tag = uuid.uuid4().hex[:6]
    bucket = f"results-{tag}"
    _s3(s3_server).create_bucket(Bucket=bucket)
    AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_client_parameters={"endpoint_url": s3_server},
    ).save(f"creds-{tag}")
    slug = save_result_storage(f"results-{tag}", bucket, credentials_block=f"creds-{tag}")

    pool, name = f"gpu-results-{tag}", f"results-{tag}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        deployment_id = client.create_deployment(
            flow_id=client.create_flow_from_name("frame-and-render-clip"),
            name=name,
            work_pool_name=pool,
            entrypoint="flows/gpu_stages.py:frame_and_render_clip",
            pull_steps=[
                {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
            ],
        )
    gpu_env = _machine(clipflow_env, tmp_path, "gpu", slug)
    worker = start_worker(gpu_env, pool, f"gpu-results-{tag}", tmp_path / "gpu-worker.log")
    try:
        rec = recordings[14]
        # The parent signs with the credentials block only: no endpoint or keys of its own.
        settings = PipelineSettings(aws_credentials_block=f"creds-{tag}")
        outcome = one_clip_on_the_gpu_pool(
            str(rec.video), str(rec.transcript), settings,
            f"frame-and-render-clip/{name}", f"s3://{bucket}/stages",
        )  # fmt: skip
    finally:
        stop_worker(worker)

    clip = outcome.rendered
    assert clip.path.startswith(f"s3://{bucket}/stages/") and clip.path.endswith(".mp4")
    assert outcome.framed.framing is not None
    [child] = flow_runs(str(deployment_id))
    assert child.state.is_completed()
    record = child.state.data  # where the parent read the child's return value from
    assert record.storage_block_id == S3Bucket.load(f"results-{tag}")._block_document_id
    keys = _keys(s3_server, bucket)
    assert f"results/{record.storage_key}" in keys
    assert _local_results(tmp_path / "gpu") == []  # the gpu machine kept nothing on disk
