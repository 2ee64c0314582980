"""Webhooks: a client's URLs get its jobs' final events, signed, retried with backoff, logged.

Each delivery is a JSON POST with ``X-Clipflow-Signature: t=<unix time>,v1=<hex>``, where the
hex is HMAC-SHA256 under the webhook's secret of ``"<t>.<body>"`` (:func:`signature`), so a
receiver checks both who sent it and when. A watcher thread notices jobs that ended and sends
``job.succeeded``, ``job.qa_failed``, ``job.failed`` (rejected jobs too) or ``job.cancelled``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request

from clipflow.schemas import FINAL_STATES, DeliveryView, JobView, WebhookCreate, WebhookView
from deployments.service.auth import Caller, require
from deployments.service.state import ServiceState
from tasks.jobs import Role
from tasks.jobs.submissions import (
    WebhookRecord,
    add_webhook,
    list_deliveries,
    list_webhooks,
    record_delivery,
    set_notified,
    unnotified,
)

log = logging.getLogger("clipflow.serve.webhooks")
SIGNATURE_HEADER = "X-Clipflow-Signature"
EVENTS = {"succeeded": "job.succeeded", "qa_failed": "job.qa_failed", "cancelled": "job.cancelled"}

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, max_age_s: float = 300) -> bool:
    """What a receiver does: the signature matches and is at most ``max_age_s`` old."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > max_age_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def event_of(state: str) -> str:
    return EVENTS.get(state, "job.failed")


def deliver(
    db: str,
    hook: WebhookRecord,
    event: str,
    job: dict[str, Any],
    *,
    attempts: int,
    backoff_s: float,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST the event until a 2xx answer, at most ``attempts`` times, waiting ``backoff_s``,
    then twice that, …; every attempt goes to the delivery log. True once delivered."""
    body = json.dumps({"event": event, "job": job}, separators=(",", ":")).encode()
    for attempt in range(1, attempts + 1):
        status, error = None, None
        try:
            answer = httpx.post(
                hook.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signature(hook.secret, int(time.time()), body),
                },
                timeout=timeout_s,
            )
            status = answer.status_code
            if not answer.is_success:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        record_delivery(
            db,
            webhook_id=hook.id,
            job_id=str(job["id"]),
            event=event,
            attempt=attempt,
            status_code=status,
            error=error,
        )
        if error is None:
            return True
        if attempt < attempts:
            sleep(backoff_s * 2 ** (attempt - 1))
    log.warning("webhook %s: %s for job %s not delivered", hook.id, event, job["id"])
    return False


class Watcher:
    """Every ``interval`` seconds: the jobs that ended since, each event sent to its client's
    webhooks (on a small thread pool, so a slow receiver holds up no one)."""

    def __init__(self, state: ServiceState, views: Callable[..., list[JobView]]) -> None:
        self.state, self.views = state, views
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook")
        self._thread = threading.Thread(target=self._loop, name="webhook-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.state.serve.watch_interval_s):
            try:
                self.notify_ended()
            except Exception:  # noqa: BLE001 - the watcher outlives one bad pass; it is logged
                log.exception("webhook watcher: a pass failed; trying again")

    def notify_ended(self) -> None:
        """Send the events of every job that ended since the last pass (all of them, page by
        page: jobs still waiting never hold up those behind them)."""
        cursor = None
        while pending := unnotified(self.state.db, after_job_id=cursor):
            cursor = pending[-1].job_id
            for view in self.views(self.state, pending):
                if view.state in FINAL_STATES:
                    self._send(view)

    def _send(self, view: JobView) -> None:
        serve = self.state.serve
        for hook in list_webhooks(self.state.db, view.client):
            self._pool.submit(
                deliver,
                self.state.db,
                hook,
                event_of(view.state),
                view.model_dump(mode="json"),
                attempts=serve.webhook_attempts,
                backoff_s=serve.webhook_backoff_s,
                timeout_s=serve.webhook_timeout_s,
            )
        set_notified(self.state.db, view.id, view.state)


Submitter = Annotated[Caller, Depends(require(Role.SUBMIT))]
Reader = Annotated[Caller, Depends(require(Role.READ))]


@router.post("", status_code=201, response_model=WebhookView)
def register_webhook(body: WebhookCreate, request: Request, caller: Submitter) -> WebhookView:
    """Send this client's job events to ``url``; the answer holds the signing secret."""
    hook = add_webhook(request.app.state.service.db, caller.client, body.url)
    return WebhookView(id=hook.id, url=hook.url, secret=hook.secret, created_at=hook.created_at)


@router.get("/deliveries", response_model=list[DeliveryView])
def deliveries(request: Request, caller: Reader) -> list[DeliveryView]:
    """The delivery log of this client's webhooks, oldest first."""
    db = request.app.state.service.db
    hooks = [h.id for h in list_webhooks(db, caller.client)]
    return [
        DeliveryView.model_validate(d, from_attributes=True) for d in list_deliveries(db, hooks)
    ]
