"""infra/compose.yaml and the MinIO -> SQS relay it runs.

No package in the environment ships the compose-spec JSON schema, and the docker CLI here has
no compose plugin, so the file is checked by a structural checker (shown to catch each problem
on a broken copy) and, where ``docker compose`` exists, by ``docker compose config -q`` too.
The relay is tested for real against moto's SQS.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from threading import Thread
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE = INFRA / "compose.yaml"
ENV_EXAMPLE = INFRA / "compose.env.example"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolve here


def _named_volumes(service: dict[str, Any]) -> tuple[set[str], list[str]]:
    """(named volumes, bind-mount sources) of a service's short-syntax volumes."""
    named, binds = set(), []
    for entry in service.get("volumes", []):
        source = entry.split(":")[0]
        if source.startswith((".", "/")):
            binds.append(source)
        else:
            named.add(source)
    return named, binds


def compose_problems(doc: dict[str, Any], base: Path = INFRA) -> list[str]:
    """Structural problems of a compose document (empty when none)."""
    problems: list[str] = []
    services: dict[str, Any] = doc.get("services") or {}
    if not services:
        return ["no services"]
    declared = set(doc.get("volumes") or {})
    used: set[str] = set()
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            problems.append(f"{name}: neither image nor build")
        image = str(service.get("image", ""))
        tag = image.rpartition("/")[2].partition(":")[2]
        if image and "${" not in image and (not tag or tag == "latest"):
            problems.append(f"{name}: image {image!r} needs a pinned tag")
        if "build" in service:
            build = service["build"]
            context = base / build.get("context", ".")
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                problems.append(f"{name}: dockerfile {build.get('dockerfile')} not in {context}")
        for target, spec in (service.get("depends_on") or {}).items():
            if target not in services:
                problems.append(f"{name}: depends_on unknown service {target!r}")
                continue
            condition = spec.get("condition", "service_started")
            if condition not in CONDITIONS:
                problems.append(f"{name}: depends_on {target}: condition {condition!r}")
            if condition == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name}: waits for {target} to be healthy; it has no healthcheck")
        named, binds = _named_volumes(service)
        used |= named
        problems += [f"{name}: volume {v!r} is not declared" for v in sorted(named - declared)]
        problems += [f"{name}: bind source {b} missing" for b in binds if not (base / b).exists()]
        test = (service.get("healthcheck") or {}).get("test")
        if test is not None and (not isinstance(test, list) or test[0] not in ("CMD", "CMD-SHELL")):
            problems.append(f"{name}: healthcheck test must be [CMD, ...] or [CMD-SHELL, ...]")
    problems += [f"volume {v!r} is declared but unused" for v in sorted(declared - used)]
    return problems


def test_compose_file_is_structurally_sound() -> None:
    assert compose_problems(load_compose()) == []


def _broken(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(load_compose())
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("services.postgres.image", None, "neither image nor build"),
        ("services.postgres.image", "postgres", "pinned tag"),
        ("services.elasticmq.image", "softwaremill/elasticmq-native:latest", "pinned tag"),
        ("services.bridge.depends_on", {"prefect": {"condition": "service_healthy"}}, "unknown"),
        ("services.bridge.depends_on", {"elasticmq": {"condition": "service_healthy"}}, "health"),
        ("services.bridge.depends_on", {"postgres": {"condition": "healthy"}}, "condition"),
        ("services.worker-cpu.volumes", ["work:/var/lib/clipflow"], "not declared"),
        ("services.elasticmq.volumes", ["./compose/nope.conf:/x:ro"], "missing"),
        ("volumes.minio-queue", None, "not declared"),
        ("services.worker-cpu.build", {"context": "..", "dockerfile": "x.Dockerfile"}, "x.Dock"),
        ("services.minio.healthcheck", {"test": "mc ready local"}, "healthcheck test"),
    ],
)
def test_the_checker_catches_each_problem(path: str, value: Any, problem: str) -> None:
    problems = compose_problems(_broken(path, value))
    assert any(problem in p for p in problems), problems


def test_every_required_variable_is_in_the_example_env_file() -> None:
    text = COMPOSE.read_text()
    # ${VAR:?...} must be set, ${VAR:-x} has a default; $${VAR} is the shell's, not compose's
    required = set(re.findall(r"(?<!\$)\$\{(\w+):\?", text))
    optional = set(re.findall(r"(?<!\$)\$\{(\w+):-", text))
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required and required <= set(example), sorted(required - set(example))
    assert optional <= set(example), sorted(optional - set(example))
    assert not re.findall(r"(?<!\$)\$\{(\w+)\}", text), "variables without :? or :- default"


def test_the_upload_path_is_wired_end_to_end() -> None:
    """MinIO's webhook target -> relay -> ElasticMQ queue -> bridge: names agree everywhere."""
    services = load_compose()["services"]
    minio_env = services["minio"]["environment"]
    target = next(k for k in minio_env if k.startswith("MINIO_NOTIFY_WEBHOOK_ENABLE_"))
    target_id = target.removeprefix("MINIO_NOTIFY_WEBHOOK_ENABLE_")
    init = (INFRA / "compose" / "minio-init.sh").read_text()
    assert f"arn:minio:sqs::{target_id}:webhook" in init
    assert "--prefix inbox/" in init and "--event put" in init
    endpoint = minio_env[f"MINIO_NOTIFY_WEBHOOK_ENDPOINT_{target_id}"]
    assert endpoint.startswith("http://minio-relay:")
    assert (
        minio_env[f"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_{target_id}"]
        == (services["minio-relay"]["environment"]["RELAY_AUTH_TOKEN"])
    )
    elasticmq_conf = (INFRA / "compose" / "elasticmq.conf").read_text()
    queues = re.findall(r"^\s{2}([\w-]+) \{", elasticmq_conf, re.M)
    for consumer in ("minio-relay", "bridge"):
        command = services[consumer]["command"]
        queue_url = command[command.index("--queue-url") + 1]
        assert queue_url.startswith("http://elasticmq:9324/")
        assert queue_url.rsplit("/", 1)[1] in queues
        assert services[consumer]["environment"]["AWS_ENDPOINT_URL_SQS"] == "http://elasticmq:9324"
    bridge = services["bridge"]
    assert bridge["command"][:3] == ["python", "-m", "deployments.s3_bridge"]
    endpoint = bridge["command"][bridge["command"].index("--endpoint-url") + 1]
    assert endpoint == bridge["environment"]["AWS_ENDPOINT_URL_SQS"]
    assert bridge["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def test_bridge_accepts_the_arguments_compose_and_kubernetes_pass() -> None:
    from deployments import s3_bridge

    services = load_compose()["services"]
    args = s3_bridge._parser().parse_args(services["bridge"]["command"][3:])
    assert args.queue_url.endswith("/clipflow-uploads") and args.endpoint_url
    deployment = yaml.safe_load((INFRA / "k8s" / "bridge-deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert s3_bridge._parser().parse_args(container["args"]).queue_url == "$(QUEUE_URL)"


def test_workers_and_server() -> None:
    services = load_compose()["services"]
    server_env = services["prefect-server"]["environment"]
    assert server_env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://prefect:"
    )
    assert services["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    gpu = services["worker-gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and {"gpu", "video"} <= set(device["capabilities"])
    assert gpu["profiles"] == ["gpu"], "the gpu worker must not start on hosts without a GPU"
    for name in ("worker-cpu", "worker-gpu"):
        worker = services[name]
        assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert "clipflow-home:/var/lib/clipflow" in worker["volumes"]  # shared between pools
        assert worker["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    setup = "\n".join(services["setup"]["command"])
    assert "python -m deployments.pools" in setup and "prefect deploy --all --no-prompt" in setup


def test_minio_worker_policy_grants_what_terraform_grants() -> None:
    policy = json.loads((INFRA / "compose" / "minio-worker-policy.json").read_text())
    minio_actions = {a for s in policy["Statement"] for a in s["Action"]}
    main_tf = (INFRA / "terraform" / "main.tf").read_text()
    worker_doc = main_tf.split('data "aws_iam_policy_document" "worker"')[1].split("\nresource ")[0]
    terraform_actions = set(re.findall(r'"(s3:[A-Z]\w+)"', worker_doc))  # not s3:prefix
    assert minio_actions == terraform_actions
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and "*" not in "".join(statement["Action"])


def _docker_compose() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    command = _docker_compose()
    if command is None:
        pytest.skip("no `docker compose` plugin nor docker-compose here: compose config not run")
    done = subprocess.run(
        [*command, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "--profile", "gpu",
         "config", "-q"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


# --- the relay, against moto's SQS ------------------------------------------------------------


def _relay_module() -> ModuleType:
    path = INFRA / "compose" / "minio_sqs_relay.py"  # a script mounted into a container
    spec = importlib.util.spec_from_file_location("minio_sqs_relay", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


relay = _relay_module()

MINIO_EVENT = {
    "EventName": "s3:ObjectCreated:Put",
    "Key": "clipflow/inbox/My Talk.mp4",
    "Records": [
        {
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-11-21T07:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {"name": "clipflow", "arn": "arn:aws:s3:::clipflow"},
                "object": {
                    "key": "inbox%2FMy+Talk.mp4",
                    "size": 1234,
                    "eTag": "0123456789abcdef0123456789abcdef",
                    "sequencer": "1808A1B2C3D4E5F6",
                },
            },
        }
    ],
}


def test_sqs_body_has_the_shape_s3_sends() -> None:
    body = json.loads(relay.sqs_body(MINIO_EVENT))
    assert set(body) == {"Records"}
    (record,) = body["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "inbox%2FMy+Talk.mp4"  # still URL-encoded, as S3
    assert record["s3"]["bucket"]["name"] == "clipflow"
    with pytest.raises(ValueError, match="without Records"):
        relay.sqs_body({"EventName": "s3:ObjectCreated:Put"})
    with pytest.raises(ValueError, match="without an s3 section"):
        relay.sqs_body({"Records": [{"eventName": "x"}]})


def test_the_bridge_reads_what_the_relay_sends() -> None:
    from deployments.events import parse_message

    (created,) = parse_message(relay.sqs_body(MINIO_EVENT))
    assert created.uri == "s3://clipflow/inbox/My Talk.mp4"  # decoded once, by the bridge
    assert created.etag == "0123456789abcdef0123456789abcdef" and created.size == 1234


@pytest.fixture
def sqs(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return boto3.client("sqs", endpoint_url=s3_server, region_name="us-east-1")


@pytest.fixture
def relay_url(sqs: Any, s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("RELAY_AUTH_TOKEN", "tok")
    queue_url = sqs.create_queue(QueueName=f"relay-{id(sqs)}")["QueueUrl"]
    server = relay.serve(queue_url, "127.0.0.1", 0, s3_server)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", queue_url
    finally:
        server.shutdown()
        server.server_close()


def _post(url: str, body: bytes, token: str | None = "tok") -> int:
    request = urllib.request.Request(url + "/minio", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_relay_puts_minio_notifications_on_the_queue(relay_url, sqs) -> None:
    url, queue_url = relay_url
    with urllib.request.urlopen(url + "/health", timeout=10) as response:
        assert response.status == 200
    assert _post(url, json.dumps(MINIO_EVENT).encode()) == 200
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    (record,) = json.loads(messages[0]["Body"])["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["eTag"] == "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("body", "token", "status"),
    [
        (json.dumps(MINIO_EVENT).encode(), None, 401),
        (json.dumps(MINIO_EVENT).encode(), "wrong", 401),
        (b"not json", "tok", 400),
        (b'{"Records": []}', "tok", 400),
    ],
)
def test_relay_refuses_what_is_not_a_notification_from_minio(
    relay_url, sqs, body: bytes, token: str | None, status: int
) -> None:
    url, queue_url = relay_url
    assert _post(url, body, token) == status
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_relay_answers_503_while_the_queue_is_missing(relay_url, sqs) -> None:
    url, queue_url = relay_url
    sqs.delete_queue(QueueUrl=queue_url)
    assert _post(url, json.dumps(MINIO_EVENT).encode()) == 503  # MinIO keeps it and retries
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(url + "/health", timeout=10)
    assert failed.value.code == 503
