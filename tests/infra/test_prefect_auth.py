"""The Prefect server refuses strangers: compose and Helm start it with basic auth, and every
process that calls it (workers, set-up, the bridge, clipflow serve) sends the same string; a
real ``prefect server start`` so configured answers 401 without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.test_compose import load_compose

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "infra" / "helm"


def test_compose_server_requires_auth_and_every_client_sends_it() -> None:
    services = load_compose()["services"]
    required = services["prefect-server"]["environment"]["PREFECT_SERVER_API_AUTH_STRING"]
    assert required.startswith("clipflow:${PREFECT_API_PASSWORD:?")
    clients = {n for n, s in services.items() if "PREFECT_API_URL" in s.get("environment", {})}
    assert {"setup", "bridge", "serve", "worker-cpu", "worker-gpu"} <= clients
    for name in clients:
        assert services[name]["environment"].get("PREFECT_API_AUTH_STRING") == required, name
    assert "PREFECT_API_PASSWORD=CHANGE-ME" in (ROOT / "infra/compose.env.example").read_text()


def _auth_from_secret(env: list[dict[str, Any]]) -> dict[str, Any]:
    entry = next(e for e in env if e["name"] == "PREFECT_API_AUTH_STRING")
    return entry["valueFrom"]["secretKeyRef"]


def test_helm_server_requires_auth_and_workers_and_the_bridge_send_it() -> None:
    server = yaml.safe_load((HELM / "values-server.yaml").read_text())["server"]["basicAuth"]
    assert server == {"enabled": True, "existingSecret": "prefect-basic-auth"}
    secret = {"name": "prefect-basic-auth", "key": "auth-string"}
    for stage in ("cpu", "gpu"):
        worker = yaml.safe_load((HELM / f"values-{stage}.yaml").read_text())["worker"]
        assert _auth_from_secret(worker["extraEnvVars"]) == secret, stage
    bridge = yaml.safe_load((ROOT / "infra/k8s/bridge-deployment.yaml").read_text())
    container = bridge["spec"]["template"]["spec"]["containers"][0]
    assert _auth_from_secret(container["env"]) == secret


@pytest.mark.slow
def test_a_server_with_an_auth_string_refuses_calls_without_it(tmp_path: Path) -> None:
    import httpx

    from tests.deployments.support import prefect_server_stack

    auth = ("clipflow", "s3cret-pass")
    with prefect_server_stack(
        tmp_path,
        job_db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        what="an authenticating Prefect server",
        server_env={"PREFECT_SERVER_API_AUTH_STRING": ":".join(auth)},
    ) as stack:
        url = f"{stack.api_url}/deployments/filter"
        assert httpx.post(url, json={"limit": 1}).status_code == 401
        assert httpx.post(url, json={"limit": 1}, auth=("clipflow", "wrong")).status_code == 401
        assert httpx.post(url, json={"limit": 1}, auth=auth).status_code == 200
        assert httpx.get(f"{stack.api_url}/health").status_code == 200  # the probes' route
