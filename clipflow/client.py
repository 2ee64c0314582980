"""A small typed client for ``clipflow serve``.

    from clipflow.client import ClipflowClient

    with ClipflowClient("http://127.0.0.1:8000", api_key="cfk_…") as api:
        job = api.submit("s3://inbox/talk.mp4", max_clips=3, idempotency_key="talk-1")
        job = api.wait(job.id, timeout=1800)
        for clip in job.clips:
            print(clip.index, clip.url)

Every call raises :class:`ApiError` on an error answer (:class:`RateLimited` for 429, with the
server's ``Retry-After``), carrying the status and the server's explanation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from clipflow.schemas import (
    DeliveryView,
    Health,
    JobCreate,
    JobPage,
    JobView,
    WebhookView,
)


class ApiError(Exception):
    """An error answer: its HTTP status and the server's explanation."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class RateLimited(ApiError):
    """429: this key's request budget is spent; try again after ``retry_after`` seconds."""

    def __init__(self, status_code: int, detail: Any, retry_after: float) -> None:
        super().__init__(status_code, detail)
        self.retry_after = retry_after


class ClipflowClient:
    """The job API of ``clipflow serve`` at ``base_url``, as the key ``api_key``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._http.headers.update(headers)

    def __enter__(self) -> ClipflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self._http.request(method, path, **kwargs)
        if answer.is_success:
            return answer.json() if answer.content else None
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        if answer.status_code == 429:
            retry_after = float(answer.headers.get("Retry-After", "1"))
            raise RateLimited(answer.status_code, detail, retry_after)
        raise ApiError(answer.status_code, detail)

    # --- jobs ---------------------------------------------------------------------------------

    def submit(
        self,
        source: str,
        *,
        transcript: str | None = None,
        out: str | None = None,
        max_clips: int = 5,
        aspect: str = "9:16",
        settings_block: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobView:
        """Start a job. With ``idempotency_key``, a retried call returns the same job."""
        body = JobCreate.model_validate(
            {
                "source": source,
                "transcript": transcript,
                "out": out,
                "max_clips": max_clips,
                "aspect": aspect,
                "settings_block": settings_block,
            }
        )
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        data = self._call(
            "POST", "/api/v1/jobs", json=body.model_dump(exclude_none=True), headers=headers
        )
        return JobView.model_validate(data)

    def get(self, job_id: str) -> JobView:
        return JobView.model_validate(self._call("GET", f"/api/v1/jobs/{job_id}"))

    def list_jobs(
        self,
        *,
        state: str | None = None,
        client: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """One page of jobs, newest first; ``page.next_cursor`` continues."""
        params = {
            "state": state,
            "client": client,
            "created_after": created_after.isoformat() if created_after else None,
            "created_before": created_before.isoformat() if created_before else None,
            "limit": limit,
            "cursor": cursor,
        }
        query = {k: v for k, v in params.items() if v is not None}
        return JobPage.model_validate(self._call("GET", "/api/v1/jobs", params=query))

    def iter_jobs(self, **filters: Any) -> Iterator[JobView]:
        """Every job that matches, page after page."""
        cursor = None
        while True:
            page = self.list_jobs(cursor=cursor, **filters)
            yield from page.jobs
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def cancel(self, job_id: str) -> JobView:
        """Cancel the job's flow run; the job is recorded ``cancelled``."""
        return JobView.model_validate(self._call("DELETE", f"/api/v1/jobs/{job_id}"))

    def wait(self, job_id: str, *, timeout: float = 3600.0, interval: float = 2.0) -> JobView:
        """Poll until the job is final (waiting out a 429); TimeoutError naming its last state."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                job = self.get(job_id)
            except RateLimited as exc:  # over this key's budget: wait as the server asks
                time.sleep(exc.retry_after)
                continue
            if job.final:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id}: still {job.state} after {timeout} s")
            time.sleep(interval)

    # --- service --------------------------------------------------------------------------------

    def health(self) -> Health:
        """The server's health; an unhealthy server answers 503 with the same body."""
        answer = self._http.get("/api/v1/health")
        return Health.model_validate(answer.json())

    def add_webhook(self, url: str) -> WebhookView:
        """Register ``url`` for this client's job events; keep the returned secret."""
        return WebhookView.model_validate(self._call("POST", "/api/v1/webhooks", json={"url": url}))

    def deliveries(self) -> list[DeliveryView]:
        """The delivery log of this client's webhooks, oldest first."""
        data = self._call("GET", "/api/v1/webhooks/deliveries")
        return [DeliveryView.model_validate(d) for d in data]
