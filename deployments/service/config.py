"""The settings of ``clipflow serve`` (environment variables ``CLIPFLOW_SERVE_*``, and
``CLIPFLOW_REDIS_URL``). Where jobs may read and write comes from the pipeline's own
``allowed_roots``/``allowed_s3`` (blocks/settings.py)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIPFLOW_SERVE_", extra="ignore")

    deployment: str = Field(
        "process-video/process-video",
        description="The deployment a submitted job runs as: flow name/deployment name.",
    )
    out: str | None = Field(
        None,
        description="Where API jobs write when the request names no `out` (a folder on the "
        "workers or an s3:// prefix); default: the deployment's own `out` parameter.",
    )
    rate_per_s: float = Field(5.0, gt=0, le=10_000, description="Requests a key may make per s.")
    burst: int = Field(30, ge=1, le=100_000, description="Requests a key may make at once.")
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("CLIPFLOW_REDIS_URL", "redis_url"),
        description="Redis for rate limits shared by several server processes; default: each "
        "process keeps its own buckets.",
    )
    url_ttl_s: int = Field(3600, ge=60, le=7 * 86400, description="Download URLs stay valid, s.")
    signing_secret: SecretStr | None = Field(
        None,
        description="Signs local download URLs; default: a random one per process (URLs then "
        "stop working when the server restarts).",
    )
    webhook_attempts: int = Field(5, ge=1, le=20, description="Tries per webhook delivery.")
    webhook_backoff_s: float = Field(
        2.0, ge=0.0, le=600.0, description="First retry delay; it doubles after each try."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, le=120, description="Per webhook request.")
    crash_reruns: int = Field(
        0,
        ge=0,
        le=10,
        description="How often the stack runs a crashed job again (`python -m "
        "deployments.recovery --max-reruns`, the same number): a crashed job within it shows "
        "as queued, not failed.",
    )
    watch_interval_s: float = Field(
        2.0, gt=0, le=600, description="How often finished jobs are looked for (webhooks)."
    )
