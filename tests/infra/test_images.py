"""The cpu image, built for real and run: on a local Debian base (no image registry here).

infra/docker/build.sh makes the base (debootstrap + docker import; its tarball kept in
``CLIPFLOW_IMAGE_CACHE``, default ``~/.cache/clipflow-images``, and reused), builds the image
with the Dockerfile's ``BASE_IMAGE`` argument pointing at it, and runs containers on the host
network. Then: the image's user, ``clipflow --help``, a whole job on a generated sample inside
the container with the embedded defaults, its files checked against the output contract on the
host, and the worker's health check. Slow: minutes on a cold cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from media.probe import probe
from media.render import loudness

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "infra" / "docker" / "build.sh"
CACHE = Path(os.environ.get("CLIPFLOW_IMAGE_CACHE") or Path.home() / ".cache" / "clipflow-images")
TAG = "images-test"
UID = 10001

pytestmark = pytest.mark.slow


def buildkit_docker() -> str | None:
    """The first docker client on PATH that builds with BuildKit: one with buildx, or a classic
    client older than 23 (newer ones refuse DOCKER_BUILDKIT=1 without buildx)."""
    for folder in os.get_exec_path():
        client = Path(folder) / "docker"
        if not os.access(client, os.X_OK):
            continue
        if subprocess.run([client, "buildx", "version"], capture_output=True).returncode == 0:
            return str(client)
        version = subprocess.run(
            [client, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
        ).stdout
        if re.match(r"(1\d|2[0-2])\.", version):
            return str(client)
    return None


def _why_not() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "building the base with debootstrap needs root"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (apt-get install debootstrap)"
    docker = buildkit_docker()
    if docker is None:
        return "no docker client that builds with BuildKit (docker buildx, or docker.io 20.10)"
    if subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        return "no Docker engine answers (start one: dockerd --bridge=none --iptables=false)"
    return None


def build_sh(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER": buildkit_docker() or "docker"}
    env["CLIPFLOW_IMAGE_CACHE"] = str(CACHE)
    result = subprocess.run(
        [str(BUILD), *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert result.returncode == 0, f"build.sh {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


def docker(*args: str) -> str:
    client = buildkit_docker() or "docker"
    result = subprocess.run([client, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def cpu_image() -> str:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    base = build_sh("base").stdout.strip().splitlines()[-1]
    built = build_sh("images", "--base-cpu", base, "--tag", TAG, "cpu")
    return built.stdout.strip().splitlines()[-1]


def test_image_is_tagged_with_a_reported_size(cpu_image: str, capsys) -> None:
    assert cpu_image == f"clipflow-cpu:{TAG}"
    size = int(docker("image", "inspect", "--format", "{{.Size}}", cpu_image))
    with capsys.disabled():
        print(f"\n{cpu_image}: {size / 1e6:.0f} MB")
    # 2.5 GB on the Debian base (December 2026): the locked environment 1.5 GB, Debian's ffmpeg
    # and its libraries 0.8 GB. A CUDA torch pulled in by a dependency would add 4 GB.
    assert size < 3.2e9


def test_image_runs_as_the_non_root_clipflow_user(cpu_image: str) -> None:
    assert docker("image", "inspect", "--format", "{{.Config.User}}", cpu_image) == "10001:10001"
    who = build_sh("run", cpu_image, "sh", "-c", "id -u; id -g; touch /opt/clipflow/x || true")
    assert who.stdout.split()[:2] == [str(UID), str(UID)]
    assert "Permission denied" in who.stderr  # the code is not writable by the running user


def test_cli_answers_help_and_has_both_whisper_models(cpu_image: str) -> None:
    helped = build_sh("run", cpu_image, "clipflow", "--help").stdout
    assert "run" in helped and "sample" in helped
    check = (
        "from media.transcript import whisper_models as w; "
        "print([m.name for m in (w.TINY_EN, w.BASE) if w.installed(m)])"
    )
    shipped = build_sh("run", cpu_image, "python", "-c", check).stdout.strip()
    assert shipped == "['tiny.en', 'base']"


@pytest.fixture(scope="module")
def job_in_container(cpu_image: str, tmp_path_factory) -> tuple[Path, str]:
    """A two-minute sample made and processed inside the container; the host's folder shared."""
    data = tmp_path_factory.mktemp("container-data")
    data.chmod(0o777)  # the container's user (10001) writes here
    mount = ("-v", f"{data}:/data", "--")
    build_sh("run", *mount, cpu_image, "clipflow", "sample", "--minutes", "2", "--out",
             "/data/sample.mp4")  # fmt: skip
    ran = build_sh("run", *mount, cpu_image, "clipflow", "run", "/data/sample.mp4",
                   "--transcript", "/data/sample.vtt", "--out", "/data/out")  # fmt: skip
    return data, ran.stdout


def test_job_in_the_container_keeps_the_output_contract(job_in_container) -> None:
    data, stdout = job_in_container
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("/data/out/")
    job = data / last.removeprefix("/data/")
    assert job.stat().st_uid == UID  # written by the image's user, not root
    report = json.loads((job / "report.json").read_text())
    assert (job / "report.html").is_file()
    assert report["job_id"] == job.name
    assert set(report) >= {"source", "clips", "qa", "cost", "timings", "transcript"}
    assert report["transcript"]["source"] == "vtt"
    assert report["qa"]["passed"] is True
    clips = report["clips"]
    assert 1 <= len(clips) <= 5
    assert sorted(p.name for p in (job / "clips").glob("*.mp4")) == [
        f"clip-{c['index']:02d}.mp4" for c in clips
    ]
    for clip in clips:
        # measured here, on the host, independently of the job's own QA
        path = job / clip["path"]
        info = probe(path, source=False)
        video = info.video[0]
        assert (video.codec, video.profile, video.pix_fmt) == ("h264", "High", "yuv420p")
        assert video.level <= 40
        assert (video.color_primaries, video.color_transfer, video.color_space) == ("bt709",) * 3
        assert 15.0 - 0.5 <= info.duration_s <= 60.0 + 0.5
        assert info.duration_s == pytest.approx(clip["duration_s"], abs=0.15)
        level = loudness.measure(str(path))
        assert level.integrated_lufs == pytest.approx(-14.0, abs=0.5)
        assert level.true_peak_dbtp <= -1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def containers() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run([buildkit_docker() or "docker", "rm", "-f", name], capture_output=True)


def _health(name: str) -> str:
    return docker("inspect", "--format", "{{.State.Health.Status}}", name)


def test_worker_container_turns_healthy_and_unhealthy_with_its_worker(
    cpu_image: str, containers: list[str]
) -> None:
    """The image's HEALTHCHECK asks the worker's health server: healthy while it polls a
    Prefect server (the image's own, in a second container), unhealthy once it is stopped."""
    api, health = _free_port(), _free_port()
    server, worker = f"clipflow-test-server-{api}", f"clipflow-test-worker-{api}"
    containers += [worker, server]
    docker("run", "-d", "--name", server, "--network", "host", "--no-healthcheck", cpu_image,
           "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(api))  # fmt: skip
    _wait_for_url(f"http://127.0.0.1:{api}/api/health", within_s=180)
    docker("run", "-d", "--name", worker, "--network", "host", "--health-interval", "2s",
           "-e", f"PREFECT_API_URL=http://127.0.0.1:{api}/api",
           "-e", f"PREFECT_WORKER_WEBSERVER_PORT={health}", cpu_image)  # fmt: skip
    states = _wait_for_health(worker, until={"healthy", "unhealthy"}, within_s=300)
    assert states[-1] == "healthy", (states, docker("logs", "--tail", "30", worker))
    # a worker that hangs (stopped from the host: the container's PID 1) answers no more
    docker("kill", "--signal", "SIGSTOP", worker)
    states = _wait_for_health(worker, until={"unhealthy"}, within_s=120)
    assert states[-1] == "unhealthy", states


def _wait_for_url(url: str, *, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _wait_for_health(name: str, *, until: set[str], within_s: float) -> list[str]:
    """Health states seen until one in ``until`` (or the time is up); the last is the answer."""
    seen = [_health(name)]
    deadline = time.monotonic() + within_s
    while seen[-1] not in until and time.monotonic() < deadline:
        time.sleep(2)
        seen.append(_health(name))
    return seen


def test_gpu_image_builds_to_the_end_on_a_plain_base() -> None:
    """Every step of gpu.Dockerfile on the Debian base (NVIDIA's base is out of reach here):
    Debian's ffmpeg has h264_nvenc too (the build checks it), the user, both Whisper models.
    What only NVIDIA's base adds, the CUDA and cuDNN libraries, needs a GPU machine."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    base = build_sh("base").stdout.strip().splitlines()[-1]
    image = build_sh("images", "--base-gpu", base, "--tag", TAG, "gpu").stdout.split()[-1]
    assert image == f"clipflow-gpu:{TAG}"
    check = (
        "import os; from media.transcript import whisper_models as w; "
        "print(os.getuid(), [m.name for m in (w.TINY_EN, w.BASE) if w.installed(m)])"
    )
    assert build_sh("run", image, "python", "-c", check).stdout.strip() == (
        f"{UID} ['tiny.en', 'base']"
    )
    encoders = build_sh("run", image, "ffmpeg", "-hide_banner", "-encoders").stdout
    assert "h264_nvenc" in encoders and "libx264" in encoders
