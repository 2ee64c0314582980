"""Kubernetes pieces, offline: the work pools' base job templates, the Helm values of Prefect's
worker chart (against the chart's own values schema, vendored in infra/helm/), and the
kustomization (rendered by ``kubectl kustomize`` when kubectl is installed)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
HELM = ROOT / "infra" / "helm"
STAGES = ("cpu", "gpu")


def template(stage: str) -> dict[str, Any]:
    return json.loads((K8S / f"base-job-template-{stage}.json").read_text())


def prefect_default_kubernetes_template() -> dict[str, Any]:
    """What `prefect work-pool get-default-base-job-template --type kubernetes` prints: Prefect
    ships every integration's worker metadata, so this needs neither prefect-kubernetes nor a
    network."""
    import prefect

    views = Path(prefect.__file__).parent / "server" / "api" / "collections_data" / "views"
    path = views / "aggregate-worker-metadata.json"
    workers = json.loads(path.read_text())["prefect-kubernetes"]
    return workers["kubernetes"]["default_base_job_configuration"]


def rendered(spec: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job configuration a worker would submit: variable defaults, then ``values``, applied
    to the template the way BaseJobConfiguration.from_template_and_values does."""
    from prefect.utilities.templating import apply_values

    properties = spec["variables"]["properties"]
    variables = {k: v["default"] for k, v in properties.items() if v.get("default") is not None}
    variables.update(values or {})
    return apply_values(copy.deepcopy(spec["job_configuration"]), variables)


def _paths(node: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by JSON path ("/spec/template/..."), lists indexed."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return {prefix: node}
    leaves: dict[str, Any] = {}
    for key, value in items:
        leaves.update(_paths(value, f"{prefix}/{key}"))
    return leaves


# --- base job templates ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_template_is_one_prefect_accepts(stage: str) -> None:
    from prefect.server.schemas.actions import validate_base_job_template

    validate_base_job_template(template(stage))  # every placeholder is a declared variable


@pytest.mark.parametrize("stage", STAGES)
def test_template_extends_prefects_default_without_dropping_anything(stage: str) -> None:
    default, ours = prefect_default_kubernetes_template(), template(stage)
    assert set(default["job_configuration"]) == set(ours["job_configuration"])
    default_leaves = _paths(default["job_configuration"])
    our_leaves = _paths(ours["job_configuration"])
    changed = {
        path: (value, our_leaves.get(path))
        for path, value in default_leaves.items()
        if our_leaves.get(path) != value
    }
    assert changed == {}, "default template entries changed or removed"
    for name, schema in default["variables"]["properties"].items():
        mine = ours["variables"]["properties"][name]
        assert mine.get("type") == schema.get("type"), name
    assert ours["variables"]["definitions"] == default["variables"]["definitions"]


def test_gpu_pods_get_a_gpu_and_gpu_nodes_only_in_the_gpu_pool() -> None:
    gpu = rendered(template("gpu"))["job_manifest"]["spec"]["template"]["spec"]
    container = gpu["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"] == "clipflow-gpu:0.1.0"
    assert gpu["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu[
        "tolerations"
    ]
    cpu = rendered(template("cpu"))["job_manifest"]["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in json.dumps(cpu)
    assert "nodeSelector" not in cpu and "tolerations" not in cpu


def test_job_variables_override_the_defaults() -> None:
    job = rendered(
        template("gpu"),
        {"gpu_count": 2, "node_selector": {"pool": "a100"}, "namespace": "media", "image": "r/g:1"},
    )
    pod = job["job_manifest"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert pod["nodeSelector"] == {"pool": "a100"} and job["namespace"] == "media"
    assert pod["containers"][0]["image"] == "r/g:1"


@pytest.mark.parametrize("stage", STAGES)
def test_rendered_job_is_complete(stage: str) -> None:
    job = rendered(template(stage), {"name": "run-1", "env": {"A": "b"}, "command": "x"})
    text = json.dumps(job)
    assert "{{" not in text, "a placeholder survived rendering"
    manifest = job["job_manifest"]
    pod = manifest["spec"]["template"]["spec"]
    assert manifest["metadata"]["namespace"] == "clipflow"
    assert pod["serviceAccountName"] == "clipflow-flow-runs"
    assert pod["securityContext"]["runAsNonRoot"] is True
    refs = [next(iter(r.values()))["name"] for r in pod["containers"][0]["envFrom"]]
    assert refs == ["clipflow-env", "clipflow-secrets"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts == {"work": "/var/lib/clipflow"} and pod["volumes"][0]["name"] == "work"
    assert pod["restartPolicy"] == "Never" and manifest["spec"]["backoffLimit"] == 0


# --- Helm values ------------------------------------------------------------------------------


def helm_values(stage: str) -> dict[str, Any]:
    return yaml.safe_load((HELM / f"values-{stage}.yaml").read_text())


def schema_errors(values: dict[str, Any]) -> list[str]:
    from jsonschema import Draft7Validator

    schema = json.loads((HELM / "prefect-worker.values.schema.json").read_text())
    validator = Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(values)]


@pytest.mark.parametrize("stage", STAGES)
def test_helm_values_match_the_chart_schema(stage: str) -> None:
    assert schema_errors(helm_values(stage)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("worker.config.workpool", "cpu"),  # misspelt key
        ("worker.resources.limits.gpu", "1"),  # not a key of the chart
        ("worker.replicaCount", "1"),  # wrong type
        ("worker.config.limit", "4"),
    ],
)
def test_the_schema_catches_mistakes(path: str, value: Any) -> None:
    values = helm_values("gpu")
    *parents, last = path.split(".")
    node = values
    for part in parents:
        node = node[part]
    node[last] = value
    assert schema_errors(values)


def test_helm_releases_poll_their_pools_on_the_locked_prefect() -> None:
    locked = re.search(r'"prefect==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert locked
    names = set()
    for stage in STAGES:
        values = helm_values(stage)
        worker = values["worker"]
        assert worker["config"]["workPool"] == stage
        assert worker["config"]["type"] == "kubernetes"
        assert worker["image"]["prefectTag"] == f"{locked.group(1)}-python3.11-kubernetes"
        assert worker["apiConfig"] == "server"
        assert worker["serverApiConfig"]["apiUrl"].endswith(":4200/api")
        # the worker pod never takes a GPU node: GPUs are for flow-run pods
        assert not worker["tolerations"] and "gpu" not in json.dumps(worker["nodeSelector"])
        names.add(values["fullnameOverride"])
    assert len(names) == len(STAGES), "releases in one namespace need distinct fullnameOverride"
    server = yaml.safe_load((HELM / "values-server.yaml").read_text())
    assert server["global"]["prefect"]["image"]["prefectTag"] == f"{locked.group(1)}-python3.11"
    assert server["postgresql"]["enabled"] is False


# --- kustomize --------------------------------------------------------------------------------


def kustomize_build() -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize infra/k8s` not run")
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_kustomization_renders_the_objects_the_templates_refer_to() -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in kustomize_build()}
    assert ("Namespace", "clipflow") in objects
    for (kind, _), obj in objects.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == "clipflow"
    for stage in STAGES:
        variables = template(stage)["variables"]["properties"]
        assert ("ServiceAccount", variables["service_account_name"]["default"]) in objects
        assert variables["namespace"]["default"] == "clipflow"
    assert ("ConfigMap", "clipflow-env") in objects  # envFrom of every flow-run pod
    bridge = objects[("Deployment", "clipflow-bridge")]["spec"]["template"]["spec"]
    assert bridge["serviceAccountName"] == "clipflow-bridge"
    assert bridge["securityContext"]["runAsNonRoot"] is True
    container = bridge["containers"][0]
    assert container["image"] == "clipflow-cpu:0.1.0"
    assert container["command"] == ["python", "-m", "deployments.s3_bridge"]
    settings = objects[("ConfigMap", "clipflow-bridge")]["data"]
    assert settings["PREFECT_API_URL"].endswith(":4200/api")  # where the bridge emits
    for ref in re.findall(r"\$\((\w+)\)", " ".join(container["args"])):
        assert ref in settings, f"args use $({ref}), which the bridge's ConfigMap lacks"
