"""infra/docker/build.sh, dry-run: the docker calls it would make for each option.

``DRY_RUN=1`` prints every call (``+ argv``) and runs none, so these need no Docker engine;
tests/infra/test_images.py runs the same script for real.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "infra" / "docker" / "build.sh"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def dry_run(*args: str, **env: str) -> tuple[int, list[list[str]], str, str]:
    """(exit code, the calls it would make as argv, stdout, stderr)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"REGISTRY", "TAG", "PUSH"}}
    result = subprocess.run(
        ["bash", str(BUILD), *args],
        capture_output=True,
        text=True,
        env={**clean, "DRY_RUN": "1", "DOCKER": "docker", **env},
        timeout=30,
    )
    calls = [shlex.split(line[2:]) for line in result.stderr.splitlines() if line.startswith("+ ")]
    return result.returncode, calls, result.stdout, result.stderr


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]


def test_builds_both_images_tagged_with_the_project_version_and_pushes_nothing() -> None:
    code, calls, stdout, _ = dry_run("images")
    assert code == 0
    builds = [c for c in calls if "build" in c]
    assert [option(c, "-f") for c in builds] == [
        [str(ROOT / "infra/docker/cpu.Dockerfile")],
        [str(ROOT / "infra/docker/gpu.Dockerfile")],
    ]
    assert [option(c, "-t") for c in builds] == [
        [f"clipflow-cpu:{VERSION}"],
        [f"clipflow-gpu:{VERSION}"],
    ]
    assert all(c[-1] == str(ROOT) for c in builds)  # the repository is the build context
    assert all(option(c, "--build-arg") == [] for c in builds)  # each Dockerfile's own base
    assert not any("push" in c for c in calls)
    assert stdout.split() == [f"clipflow-cpu:{VERSION}", f"clipflow-gpu:{VERSION}"]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("images", "--registry", "registry.example/media/", "--tag", "1.2.3", "--push"), {}),
        (("images",), {"REGISTRY": "registry.example/media", "TAG": "1.2.3", "PUSH": "1"}),
    ],
)
def test_pushes_each_tag_to_the_registry_after_building_it(args, env) -> None:
    code, calls, stdout, _ = dry_run(*args, **env)
    assert code == 0
    refs = [f"registry.example/media/clipflow-{kind}:1.2.3" for kind in ("cpu", "gpu")]
    assert [(c[1], c[-1]) for c in calls if "push" in c] == [("push", r) for r in refs]
    order = [("push" if "push" in c else "build", option(c, "-t") or c[-1:]) for c in calls]
    assert order == [
        ("build", [refs[0]]), ("push", [refs[0]]), ("build", [refs[1]]), ("push", [refs[1]]),
    ]  # fmt: skip
    assert stdout.split() == refs


def test_push_without_a_registry_is_refused_before_anything_is_built() -> None:
    code, calls, _, stderr = dry_run("images", "--push")
    assert code == 2 and calls == []
    assert "--registry" in stderr


def test_one_kind_on_another_base() -> None:
    code, calls, _, _ = dry_run("images", "--base-cpu", "clipflow-base:bookworm-py311", "cpu")
    assert code == 0
    (build,) = calls
    assert option(build, "--build-arg") == ["BASE_IMAGE=clipflow-base:bookworm-py311"]
    assert option(build, "-t") == [f"clipflow-cpu:{VERSION}"]


def test_builds_and_runs_on_the_host_network() -> None:
    _, calls, _, _ = dry_run("images", "cpu")
    assert option(calls[0], "--network") == ["host"]
    code, calls, _, _ = dry_run("run", "-v", "/a:/data", "--", "clipflow-cpu:x", "clipflow", "-h")
    assert code == 0
    assert calls == [
        ["docker", "run", "--rm", "--network", "host", "-v", "/a:/data", "clipflow-cpu:x",
         "clipflow", "-h"],
    ]  # fmt: skip


def test_base_is_debootstrapped_once_into_the_cache_and_imported(tmp_path: Path) -> None:
    code, calls, stdout, _ = dry_run("base", "--cache", str(tmp_path))
    assert code == 0
    (boot,) = [c for c in calls if c[0] == "debootstrap"]
    assert boot[boot.index("bookworm") - 1].startswith("--include=python3")
    assert [c[:2] for c in calls if c[0] == "docker"] == [["docker", "import"]]
    assert stdout.strip() == "clipflow-base:bookworm-py311"
    (tmp_path / "bookworm-python3.tar").write_bytes(b"a tarball from an earlier run")
    _, calls, _, _ = dry_run("base", "--cache", str(tmp_path))
    assert [c[0] for c in calls] == ["docker"]  # the cached tarball is imported, no debootstrap


def test_unknown_arguments_show_the_usage() -> None:
    code, calls, _, stderr = dry_run("images", "--registy", "x")
    assert code == 2 and calls == []
    assert "unknown argument: --registy" in stderr and "build.sh images" in stderr
