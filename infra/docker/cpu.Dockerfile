# clipflow cpu image: the cpu work pool's worker and flow runs, and the Prefect server, the S3
# event bridge and the MinIO relay of infra/compose.yaml.
#
# Build context: the repository root. BuildKit then reads cpu.Dockerfile.dockerignore (beside
# this file) instead of a root .dockerignore:
#   docker build -f infra/docker/cpu.Dockerfile -t clipflow-cpu:0.1.0 .
FROM python:3.11-slim-bookworm

# The uv release that ./dev installs (UV_VERSION there); tests/infra checks they agree.
ARG UV_VERSION=0.13.8

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir "uv==${UV_VERSION}"

# One numeric, non-root user in both images (Kubernetes runAsNonRoot can only verify a number).
RUN groupadd --gid 10001 clipflow \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin clipflow \
    && install -d -o 10001 -g 10001 /var/lib/clipflow

WORKDIR /opt/clipflow
ENV UV_PROJECT_ENVIRONMENT=/opt/clipflow/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# Dependencies first (a layer that survives code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
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
CMD ["prefect", "worker", "start", "--pool", "cpu", "--type", "process", "--with-healthcheck"]
