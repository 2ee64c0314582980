"""Work pools and the job-finished webhook, against the session's real Prefect test server.

The webhook test is end to end: the automation is saved, a flow named ``process-video`` runs,
and the server's own triggers and actions services POST to an HTTP server inside the test.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from deployments import automations, pools

server = pytest.mark.usefixtures("prefect_server")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _read_pool(name: str) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_work_pool(name)


# --- pools: pure part ----------------------------------------------------------------------------


def test_process_specs_use_prefects_default_process_template() -> None:
    from prefect.workers.process import ProcessWorker

    cpu, gpu = pools.pool_specs("process", cpu_limit=4, gpu_limit=1)
    assert (cpu.name, gpu.name) == ("cpu", "gpu")
    assert cpu.type == gpu.type == "process"
    assert cpu.base_job_template == ProcessWorker.get_default_base_job_template()
    assert (cpu.concurrency_limit, gpu.concurrency_limit) == (4, 1)


def test_kubernetes_specs_take_the_infra_templates_and_overrides() -> None:
    cpu, gpu = pools.pool_specs(
        "kubernetes", cpu_image="reg.example/clipflow-cpu:1", gpu_image="reg.example/gpu:1",
        namespace="media",
    )  # fmt: skip
    cpu_vars = cpu.base_job_template["variables"]["properties"]
    gpu_vars = gpu.base_job_template["variables"]["properties"]
    assert cpu_vars["image"]["default"] == "reg.example/clipflow-cpu:1"
    assert gpu_vars["image"]["default"] == "reg.example/gpu:1"
    assert cpu_vars["namespace"]["default"] == gpu_vars["namespace"]["default"] == "media"
    assert "gpu_count" in gpu_vars and "gpu_count" not in cpu_vars
    # the files themselves are untouched: a second call without overrides gets their defaults
    again = pools.pool_specs("kubernetes")[1].base_job_template["variables"]["properties"]
    assert again["image"]["default"] == "clipflow-gpu:0.1.0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool_type": "docker"}, "expected one of"),
        ({"pool_type": "process", "cpu_limit": -1}, "expected >= 0"),
        ({"pool_type": "process", "gpu_image": "x:1"}, "kubernetes only"),
    ],
)
def test_bad_pool_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pools.pool_specs(**kwargs)


def test_missing_template_dir_names_the_file(tmp_path) -> None:
    with pytest.raises(pools.ClipflowError, match="base-job-template-cpu.json"):
        pools.pool_specs("kubernetes", template_dir=tmp_path)


# --- pools: against the server -------------------------------------------------------------------


@server
def test_process_pools_are_created_then_updated_in_place(capsys) -> None:
    cpu, gpu = _unique("cpu"), _unique("gpu")
    argv = ["--cpu-pool", cpu, "--gpu-pool", gpu, "--cpu-limit", "3", "--gpu-limit", "1"]
    assert pools.main(argv) == 0
    out = capsys.readouterr().out
    assert f"{cpu}: created (process, concurrency limit 3)" in out
    assert f"{gpu}: created (process, concurrency limit 1)" in out

    pool = asyncio.run(_read_pool(cpu))
    assert pool.type == "process" and pool.concurrency_limit == 3
    assert "working_dir" in pool.base_job_template["variables"]["properties"]

    # same command, new limits: updated, not duplicated; "none" clears a limit
    assert pools.main(["--cpu-pool", cpu, "--gpu-pool", gpu, "--cpu-limit", "none"]) == 0
    assert f"{cpu}: updated (process, concurrency limit none)" in capsys.readouterr().out
    assert asyncio.run(_read_pool(cpu)).concurrency_limit is None
    assert asyncio.run(_read_pool(gpu)).concurrency_limit is None


@server
def test_kubernetes_pools_are_accepted_by_the_server() -> None:
    specs = pools.pool_specs(
        "kubernetes", cpu_pool=_unique("k8s-cpu"), gpu_pool=_unique("k8s-gpu"),
        gpu_image="reg.example/clipflow-gpu:0.1.0", gpu_limit=2,
    )  # fmt: skip
    outcome = asyncio.run(pools.ensure_pools(specs))
    assert set(outcome.values()) == {"created"}
    gpu = asyncio.run(_read_pool(specs[1].name))
    assert gpu.type == "kubernetes" and gpu.concurrency_limit == 2
    variables = gpu.base_job_template["variables"]["properties"]
    assert variables["image"]["default"] == "reg.example/clipflow-gpu:0.1.0"
    container = gpu.base_job_template["job_configuration"]["job_manifest"]["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "{{ gpu_count }}"


@server
def test_a_pool_of_another_type_is_refused(capsys) -> None:
    name = _unique("taken")
    asyncio.run(pools.ensure_pools(pools.pool_specs("process", cpu_pool=name, gpu_pool=name)))
    specs = pools.pool_specs("kubernetes", cpu_pool=name, gpu_pool=_unique("gpu"))
    with pytest.raises(pools.PoolConflictError, match=rf"{name}.*'process'.*'kubernetes'"):
        asyncio.run(pools.ensure_pools(specs))
    assert pools.main(["--type", "kubernetes", "--cpu-pool", name, "--gpu-pool", "x"]) == 1
    assert "cannot change a pool's type" in capsys.readouterr().err


# --- automations: pure part ----------------------------------------------------------------------


def test_automation_matches_terminal_states_of_process_video_only() -> None:
    spec = automations.NotificationSpec(webhook_url="https://hooks.example/x")
    definition = automations.automation_definition(spec, uuid.uuid4())
    trigger = definition.trigger
    assert trigger.expect == {
        "prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Crashed",
        "prefect.flow-run.TimedOut",
    }  # fmt: skip
    assert trigger.match_related.root == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "process-video",
    }
    assert [a.type for a in definition.actions] == ["send-notification"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"webhook_url": "ftp://x/y"}, "expected http"),
        ({"webhook_url": "https://x/y", "states": ("Running",)}, "Running"),
        ({"webhook_url": "https://x/y", "states": ()}, "none"),
    ],
)
def test_bad_notification_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        automations.NotificationSpec(**kwargs)


def test_bearer_token_stays_in_the_blocks_secrets() -> None:
    spec = automations.NotificationSpec(webhook_url="https://x/y", bearer_token="s3cret")
    block = automations.webhook_block(spec)
    assert block.headers["Authorization"] == "Bearer {{token}}"
    assert "s3cret" not in json.dumps(block.model_dump(mode="json"))
    assert "s3cret" not in repr(spec)


# --- automations: end to end ---------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: queue.Queue[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length", 0))
        payload = json.loads(self.rfile.read(length) or b"{}")
        payload["_authorization"] = self.headers.get("Authorization")
        self.received.put(payload)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, queue.Queue[dict[str, Any]]]]:
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def _wait_for(received: queue.Queue[dict[str, Any]], run_ids: set[str], timeout: float):
    """Bodies received until every run id was seen (or the timeout passed)."""
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not all(any(r in b.get("body", "") for b in bodies) for r in run_ids):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            bodies.append(received.get(timeout=left))
        except queue.Empty:
            break
    return bodies


@server
def test_finished_runs_post_to_the_webhook(webhook, monkeypatch) -> None:
    from prefect import flow

    url, received = webhook
    monkeypatch.setenv("TEST_WEBHOOK_TOKEN", "tok-123")
    block_name, automation_name = _unique("test-hook"), _unique("test-finished")
    argv = ["--webhook-url", url, "--block-name", block_name, "--automation-name", automation_name,
            "--token-env", "TEST_WEBHOOK_TOKEN"]  # fmt: skip
    assert automations.main(argv) == 0
    assert automations.main(argv) == 0  # idempotent: still one automation

    from prefect.automations import Automation
    from prefect.client.orchestration import get_client

    async def _by_name() -> list[Any]:
        async with get_client() as client:
            return await client.read_automations_by_name(automation_name)

    assert len(asyncio.run(_by_name())) == 1

    @flow(name="process-video")
    def fake_job(fail: bool = False) -> str:
        if fail:
            raise RuntimeError("boom")
        return "ok"

    @flow(name="some-other-flow")
    def other() -> str:
        return "ok"

    try:
        time.sleep(1.0)  # let the triggers service load the new automation
        other_state = other(return_state=True)
        ok_state = fake_job(return_state=True)
        failed_state = fake_job(fail=True, return_state=True)
        assert ok_state.is_completed() and failed_state.is_failed()
        ok_id, failed_id = (
            str(ok_state.state_details.flow_run_id),
            str(failed_state.state_details.flow_run_id),
        )
        bodies = _wait_for(received, {ok_id, failed_id}, timeout=30)
        by_run = {r: [b for b in bodies if r in b["body"]] for r in (ok_id, failed_id)}
        assert by_run[ok_id], f"no webhook for the completed run within 30 s: {bodies}"
        assert by_run[failed_id], f"no webhook for the failed run within 30 s: {bodies}"
        assert "state: Completed" in by_run[ok_id][0]["body"]
        assert "state: Failed" in by_run[failed_id][0]["body"]
        assert by_run[ok_id][0]["subject"].startswith("clipflow: process-video run ")
        assert by_run[ok_id][0]["_authorization"] == "Bearer tok-123"
        other_id = str(other_state.state_details.flow_run_id)
        assert not any(other_id in b["body"] for b in bodies), "another flow's run notified"
    finally:
        Automation.read(name=automation_name).delete()
        from prefect.blocks.notifications import CustomWebhookNotificationBlock

        CustomWebhookNotificationBlock.delete(block_name)


@pytest.mark.parametrize(
    "command", [lambda: pools.main([]), lambda: automations.main(["--webhook-url", "http://x/"])]
)
def test_commands_refuse_to_run_against_a_temporary_server(command, capsys) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: None}):
        with pytest.raises(SystemExit):
            command()
    assert "PREFECT_API_URL is not set" in capsys.readouterr().err
