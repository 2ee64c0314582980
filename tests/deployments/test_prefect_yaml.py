"""prefect.yaml, deployed with Prefect's own CLI, says what the server then holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_gpu_stage_deployments_have_their_marked_place() -> None:
    text = (REPO / "prefect.yaml").read_text()
    assert "=== GPU stage deployments (gpu pool)" in text
    names = [d["name"] for d in yaml.safe_load(text)["deployments"]]
    assert names == ["process-video", "batch-sweep", "frame-and-render-clip"]


@pytest.mark.e2e
def test_deployed_configuration(deployed, clipflow_env) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        video = client.read_deployment(deployed["process-video"])
        sweep = client.read_deployment(deployed["batch-sweep"])
        answer = client.request("POST", "/automations/filter", json={"limit": 50, "offset": 0})
        answer.raise_for_status()
    assert video.work_pool_name == sweep.work_pool_name == clipflow_env.pool
    assert video.parameters == {"out": str(clipflow_env.out), "max_clips": 5, "aspect": "9:16"}
    assert video.enforce_parameter_schema is not False
    assert set(video.parameter_openapi_schema["required"]) == {"source"}

    assert sweep.parameters == {"inbox": "s3://clipflow-inbox/", "out": "out", "max_concurrent": 2}
    assert sweep.global_concurrency_limit is not None
    assert sweep.global_concurrency_limit.limit == 1  # one sweep at a time
    [schedule] = sweep.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "30 2 * * *",
        "UTC",
        True,
    )

    [ingest] = [a for a in answer.json() if a["name"] == "s3-ingest"]
    trigger = ingest["trigger"]
    assert trigger["expect"] == ["s3.object.created"] and trigger["posture"] == "Reactive"
    assert trigger["match"] == {
        "prefect.resource.id": "s3://*",
        "s3.bucket": ["clipflow-inbox"],
        "s3.key": ["*"],
        "s3.suffix": [".mp4", ".mov", ".mkv", ".m4v", ".webm"],
    }
    [action] = ingest["actions"]
    assert action["type"] == "run-deployment" and action["deployment_id"] == str(video.id)
    assert action["parameters"] == {"source": "{{ event.resource.id }}"}


@pytest.mark.e2e
def test_deploy_all_puts_every_deployment_on_its_pool(deployed, clipflow_env) -> None:
    """`prefect deploy --all` (the README's command) deploys prefect.yaml as written."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from tests.deployments.conftest import prefect_deploy_args

    with get_client(sync_client=True) as client:
        for pool in ("cpu", "gpu"):
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            except ObjectAlreadyExists:
                pass
    try:
        prefect_deploy_args(clipflow_env, "--all")
        with get_client(sync_client=True) as client:
            video = client.read_deployment(deployed["process-video"])
            sweep = client.read_deployment(deployed["batch-sweep"])
        # Updated in place (same ids), on the pool prefect.yaml names, with its defaults.
        assert video.work_pool_name == sweep.work_pool_name == "cpu"
        assert video.parameters["out"] == "out"
    finally:
        # Back to the test pool for the other tests' worker.
        prefect_deploy_args(
            clipflow_env, "-n", "process-video", "--pool", clipflow_env.pool,
            "--param", f"out={clipflow_env.out}",
        )  # fmt: skip
        prefect_deploy_args(clipflow_env, "-n", "batch-sweep", "--pool", clipflow_env.pool)


@pytest.mark.e2e
def test_a_run_started_through_the_rest_api_is_validated(deployed) -> None:
    """The API way in: POST /deployments/{id}/create_flow_run, parameters checked against the
    flow's signature before a run exists."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL
    from prefect.states import Cancelled

    url = f"{PREFECT_API_URL.value()}/deployments/{deployed['process-video']}/create_flow_run"

    def post(parameters: dict) -> httpx.Response:
        return httpx.post(url, json={"parameters": parameters}, timeout=30)

    good = post({"source": "s3://inbox/talk.mp4", "max_clips": 3})
    no_source = post({"max_clips": 3})
    wrong_type = post({"source": "a.mp4", "max_clips": "many"})
    assert good.status_code == 201, good.text
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(good.json()["id"])
        # Cancelled at once: no worker of these tests is to run it.
        client.set_flow_run_state(run.id, Cancelled(), force=True)
    assert run.parameters["source"] == "s3://inbox/talk.mp4"
    assert run.parameters["max_clips"] == 3
    assert str(run.deployment_id) == deployed["process-video"]
    assert no_source.status_code == 409 and "'source' is a required property" in no_source.text
    assert wrong_type.status_code == 409 and "many" in wrong_type.text
