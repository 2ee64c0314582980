"""What the running service holds: its settings, the job database, Prefect, the rate limiter
and the download signer (one per app, on ``app.state.service``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from blocks.settings import PipelineSettings
from deployments.service.config import ServeSettings
from deployments.service.downloads import Downloads
from deployments.service.prefect_runs import PrefectRuns
from deployments.service.ratelimit import RateLimiter, make_limiter


@dataclass
class ServiceState:
    serve: ServeSettings
    pipeline: PipelineSettings
    limiter: RateLimiter
    downloads: Downloads
    runs: PrefectRuns | None = None  # set when the app starts (it needs the Prefect client)

    @property
    def db(self) -> str:
        return self.pipeline.job_database_url

    @property
    def prefect(self) -> PrefectRuns:
        if self.runs is None:
            raise RuntimeError("the service has not started: no Prefect client yet")
        return self.runs

    @classmethod
    def from_settings(cls, serve: ServeSettings, pipeline: PipelineSettings) -> ServiceState:
        secret = (
            serve.signing_secret.get_secret_value().encode()
            if serve.signing_secret
            else secrets.token_bytes(32)
        )
        return cls(
            serve=serve,
            pipeline=pipeline,
            limiter=make_limiter(serve.redis_url, serve.rate_per_s, serve.burst),
            downloads=Downloads(secret, serve.url_ttl_s, pipeline),
        )
