"""The cpu and gpu Dockerfiles, checked offline (no Docker engine, no hadolint here).

A small parser reads each Dockerfile the way Docker does (continuation lines joined, comments
dropped) and a checker lists its problems; the checker is shown to catch each problem on a bad
Dockerfile, so an empty list on ours means something. The per-Dockerfile ignore files are
checked with a matcher that follows Docker's rules (last match wins, a match on a parent
directory counts).
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "infra" / "docker"
STAGES = ("cpu", "gpu")
UID = 10001  # the clipflow user; infra/k8s templates and the bridge run as this uid


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: continuations joined, comments and blanks dropped."""
    out: list[tuple[str, str]] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not buffer):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, rest = buffer.strip().partition(" ")
        out.append((keyword.upper(), " ".join(rest.split())))
        buffer = ""
    if buffer.strip():
        raise ValueError(f"dangling continuation at the end: {buffer[:80]!r}")
    return out


def dev_uv_version() -> str:
    found = re.search(r"^UV_VERSION=(\S+)$", (ROOT / "dev").read_text(), re.MULTILINE)
    assert found, "dev no longer sets UV_VERSION"
    return found.group(1)


def dockerfile_problems(text: str, uv_version: str) -> list[str]:
    """What is wrong with a Dockerfile by this project's rules (empty when nothing is)."""
    steps = instructions(text)
    problems: list[str] = []
    # ARGs before the first FROM are the only instructions Docker allows there (the base image)
    pre = list(itertools.takewhile(lambda s: s[0] == "ARG", steps))
    if len(steps) == len(pre) or steps[len(pre)][0] != "FROM":
        first = steps[len(pre)][0] if len(steps) > len(pre) else "nothing"
        problems.append(f"first instruction is {first}, not FROM")
    base_args = dict(a.split("=", 1) for _, a in pre if "=" in a)
    for keyword, args in steps:
        if keyword == "FROM":
            image = re.sub(
                r"\$\{?(\w+)\}?", lambda m: base_args.get(m.group(1), ""), args.split()[0]
            )
            name, _, tag = image.rpartition("/")[2].partition(":")
            if "@sha256:" not in image and (not tag or tag == "latest"):
                problems.append(f"FROM {image}: pin a tag other than latest")
        if keyword == "ADD":
            if re.search(r"\b(https?|git)://", args):
                problems.append(f"ADD of a URL ({args}): download in a RUN with a checksum")
            problems.append(f"ADD {args}: use COPY for local files")
    args_by_name = dict(a.split("=", 1) for k, a in steps if k == "ARG" and "=" in a)
    if args_by_name.get("UV_VERSION") != uv_version:
        problems.append(f"ARG UV_VERSION={args_by_name.get('UV_VERSION')}, dev has {uv_version}")
    if not any(k == "RUN" and "uv==${UV_VERSION}" in a for k, a in steps):
        problems.append("uv is not installed as uv==${UV_VERSION}")
    syncs = [a for k, a in steps if k == "RUN" and "uv sync" in a]
    if not syncs or not all("--frozen" in a and "--no-dev" in a for a in syncs):
        problems.append("every uv sync must be --frozen --no-dev (the lock, no dev tools)")
    users = [a for k, a in steps if k == "USER"]
    user = users[-1].split(":")[0] if users else "root"
    if not user.isdigit() or int(user) == 0:
        problems.append(f"final USER {user!r}: a numeric non-root uid (runAsNonRoot checks it)")
    envs = " ".join(a for k, a in steps if k == "ENV")
    code_dir = re.search(r"CLIPFLOW_CODE_DIR=(\S+)", envs)
    workdirs = [a for k, a in steps if k == "WORKDIR"]
    if not code_dir or code_dir.group(1) not in workdirs:
        problems.append("CLIPFLOW_CODE_DIR must be set to the WORKDIR the code is copied to")
    cmds = [a for k, a in steps if k == "CMD"]
    try:
        cmd = json.loads(cmds[-1]) if cmds else []
    except json.JSONDecodeError:
        cmd = None
    if not isinstance(cmd, list) or cmd[:3] != ["prefect", "worker", "start"]:
        problems.append(f"CMD must be exec form prefect worker start ... (got {cmds[-1:]})")
    return problems


def parse(stage: str) -> list[tuple[str, str]]:
    return instructions((DOCKER / f"{stage}.Dockerfile").read_text())


@pytest.mark.parametrize("stage", STAGES)
def test_dockerfile_follows_the_rules(stage: str) -> None:
    text = (DOCKER / f"{stage}.Dockerfile").read_text()
    assert dockerfile_problems(text, dev_uv_version()) == []


GOOD = """\
FROM python:3.11-slim-bookworm
ARG UV_VERSION=0.13.8
RUN pip install "uv==${UV_VERSION}"
WORKDIR /opt/clipflow
COPY . .
RUN uv sync --frozen --no-dev
ENV CLIPFLOW_CODE_DIR=/opt/clipflow
USER 10001:10001
CMD ["prefect", "worker", "start", "--pool", "cpu"]
"""


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("", ""), None),
        (("FROM python:3.11-slim-bookworm", "FROM python:latest"), "pin a tag"),
        (("FROM python:3.11-slim-bookworm", "FROM python"), "pin a tag"),
        (("FROM python:3.11-slim-bookworm\n", "ENV X=1\nFROM python:3.11\n"), "first instruction"),
        (("FROM python:3.11-slim-bookworm", "ARG B=python\nFROM ${B}"), "pin a tag"),
        (("FROM python:3.11-slim-bookworm", "ARG B\nFROM $B"), "pin a tag"),
        (("FROM python:3.11-slim-bookworm", "ARG B=python:3.11-slim\nFROM ${B}"), None),
        (("FROM python:3.11-slim-bookworm", "ARG B=python:3.11-slim"), "first instruction"),
        (("COPY . .", "ADD https://x.example/uv.tgz /opt/"), "ADD of a URL"),
        (("ARG UV_VERSION=0.13.8", "ARG UV_VERSION=0.9.0"), "dev has"),
        (("uv sync --frozen --no-dev", "uv sync"), "--frozen --no-dev"),
        (("USER 10001:10001", "USER root"), "non-root"),
        (("USER 10001:10001", "USER clipflow"), "non-root"),
        (("USER 10001:10001\n", ""), "non-root"),
        (("ENV CLIPFLOW_CODE_DIR=/opt/clipflow", "ENV A=b"), "CLIPFLOW_CODE_DIR"),
        (('CMD ["prefect", "worker", "start", "--pool", "cpu"]', "CMD prefect worker"), "CMD"),
    ],
)
def test_the_checker_catches_each_problem(change: tuple[str, str], problem: str | None) -> None:
    problems = dockerfile_problems(GOOD.replace(*change), "0.13.8")
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_continuations_and_comments_parse_like_docker() -> None:
    steps = instructions("FROM a:1\n# note\nRUN one \\\n  # inside\n  && two\nUSER 1\n")
    assert steps == [("FROM", "a:1"), ("RUN", "one && two"), ("USER", "1")]
    with pytest.raises(ValueError, match="dangling"):
        instructions("FROM a:1\nRUN x \\\n")


@pytest.mark.parametrize("stage", STAGES)
def test_worker_command_polls_its_own_pool(stage: str) -> None:
    cmd = json.loads([a for k, a in parse(stage) if k == "CMD"][-1])
    assert cmd[cmd.index("--pool") + 1] == stage
    assert cmd[cmd.index("--type") + 1] == "process"


@pytest.mark.parametrize("stage", STAGES)
def test_user_is_the_uid_the_kubernetes_manifests_expect(stage: str) -> None:
    steps = parse(stage)
    assert [a for k, a in steps if k == "USER"][-1] == f"{UID}:{UID}"
    assert any(k == "RUN" and f"useradd --uid {UID}" in a for k, a in steps)
    for template in ("cpu", "gpu"):
        path = ROOT / "infra" / "k8s" / f"base-job-template-{template}.json"
        spec = json.loads(path.read_text())
        pod = spec["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == UID


def test_gpu_image_has_nvenc_and_the_multilingual_speech_models() -> None:
    steps = parse("gpu")
    assert base_image_default("gpu").startswith("nvidia/cuda:")
    assert "cudnn" in base_image_default("gpu")
    # the build itself fails unless Ubuntu's ffmpeg lists h264_nvenc
    assert any(k == "RUN" and "grep -q h264_nvenc" in a for k, a in steps)
    envs = " ".join(a for k, a in steps if k == "ENV")
    capabilities = re.search(r"NVIDIA_DRIVER_CAPABILITIES=(\S+)", envs)
    assert capabilities and {"video", "compute"} <= set(capabilities.group(1).split(","))
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "multilingual" in extras


@pytest.mark.parametrize("stage", STAGES)
def test_both_images_have_the_multilingual_speech_models(stage: str) -> None:
    syncs = [a for k, a in parse(stage) if k == "RUN" and "uv sync" in a]
    assert len(syncs) == 2 and all("--extra multilingual" in a for a in syncs)


def base_image_default(stage: str) -> str:
    steps = parse(stage)
    assert steps[1] == ("FROM", "${BASE_IMAGE}"), "the base image is not the BASE_IMAGE argument"
    name, _, default = steps[0][1].partition("=")
    assert steps[0][0] == "ARG" and name == "BASE_IMAGE"
    return default


def test_cpu_image_defaults_to_the_official_python_image() -> None:
    assert base_image_default("cpu") == "python:3.11-slim-bookworm"


@pytest.mark.parametrize("stage", STAGES)
def test_health_check_asks_the_workers_health_server(stage: str) -> None:
    steps = parse(stage)
    cmd = json.loads([a for k, a in steps if k == "CMD"][-1])
    assert "--with-healthcheck" in cmd
    checks = [a for k, a in steps if k == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, command = checks[0].partition(" CMD ")
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"] and "/health" in argv[2]
    # the worker serves on PREFECT_WORKER_WEBSERVER_PORT, 8080 unless set
    assert "PREFECT_WORKER_WEBSERVER_PORT" in argv[2] and "'8080'" in argv[2]
    assert re.search(r"--start-period=\d+s", options)


# --- build context ---------------------------------------------------------------------------


def _regex(pattern: str) -> re.Pattern[str]:
    """A dockerignore pattern as a regex (Go filepath.Match plus **, as moby/patternmatcher)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def sent_to_docker(path: str, ignore_text: str) -> bool:
    """Whether ``path`` (relative to the context) is part of the build context."""
    excluded = False
    lines = [line.strip() for line in ignore_text.splitlines()]
    for line in (line for line in lines if line and not line.startswith("#")):
        negate = line.startswith("!")
        regex = _regex(line.lstrip("!").strip("/"))
        parts = path.split("/")
        if any(regex.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negate
    return not excluded


@pytest.mark.parametrize("stage", STAGES)
def test_build_context_sends_the_project_and_nothing_else(stage: str) -> None:
    ignore = (DOCKER / f"{stage}.Dockerfile.dockerignore").read_text()
    for path in [
        "pyproject.toml", "uv.lock", "README.md", "prefect.yaml", "flows/process_video.py",
        "tasks/jobs/migrations/env.py", "media/errors.py", "qa/report.py", "blocks/settings.py",
        "deployments/pools.py", "infra/k8s/base-job-template-gpu.json",
    ]:  # fmt: skip
        assert sent_to_docker(path, ignore), f"{path} is not in the build context"
    # every package the wheel installs (the job API's client `clipflow` too)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
        assert sent_to_docker(f"{package}/__init__.py", ignore), f"{package} is not sent"
    for path in [
        ".venv/bin/python", ".git/HEAD", ".tools/bin/uv", "out/job/report.json", "noise30.mp4",
        "tests/conftest.py", "infra/.env", "infra/terraform/terraform.tfstate",
        "flows/__pycache__/x.pyc", ".clipflow/jobs.sqlite",
    ]:  # fmt: skip
        assert not sent_to_docker(path, ignore), f"{path} would be sent to the Docker daemon"


@pytest.mark.parametrize("stage", STAGES)
def test_copied_files_exist_and_are_in_the_context(stage: str) -> None:
    ignore = (DOCKER / f"{stage}.Dockerfile.dockerignore").read_text()
    copies = [a.split()[:-1] for k, a in parse(stage) if k == "COPY"]
    assert copies, "nothing is copied into the image"
    for sources in copies:
        for source in (s for s in sources if not s.startswith("--")):
            if source == ".":
                continue
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert sent_to_docker(source, ignore), f"COPY {source}: excluded by the ignore file"


def test_the_ignore_matcher_follows_dockers_rules() -> None:
    rules = "*\n!flows\n**/__pycache__\n!keep/**/x.txt\n"
    assert sent_to_docker("flows/a/b.py", rules)
    assert not sent_to_docker("flows/__pycache__/b.pyc", rules)
    assert not sent_to_docker("tests/a.py", rules) and not sent_to_docker("top.txt", rules)
    assert sent_to_docker("keep/x.txt", rules) and sent_to_docker("keep/a/b/x.txt", rules)
