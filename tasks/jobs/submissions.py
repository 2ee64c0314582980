"""Jobs that clients submitted through ``clipflow serve``, and their webhooks.

A submission is the API's half of a job: who asked, with which idempotency key, for what, and
its flow run; the job's own row (:mod:`tasks.jobs.repository`) appears once the run starts.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tasks.jobs.engine import Database, migrated, reader
from tasks.jobs.models import Job, JobNotFoundError, JobStatus
from tasks.jobs.service_tables import Submission, Webhook, WebhookDelivery


@dataclasses.dataclass(frozen=True, slots=True)
class SubmissionRecord:
    job_id: str
    client: str
    flow_run_id: str
    idempotency_key: str | None
    request: dict[str, Any]
    created_at: datetime
    cancelled_at: datetime | None
    notified_state: str | None


def _record(row: Submission) -> SubmissionRecord:
    return SubmissionRecord(
        row.job_id,
        row.client,
        row.flow_run_id,
        row.idempotency_key,
        dict(row.request),
        row.created_at,
        row.cancelled_at,
        row.notified_state,
    )


def find_by_idempotency_key(db: Database, client: str, key: str) -> SubmissionRecord | None:
    query = sa.select(Submission).where(
        Submission.client == client, Submission.idempotency_key == key
    )
    with Session(reader(db)) as session:
        row = session.scalars(query).first()
        return _record(row) if row is not None else None


def add_submission(
    db: Database,
    *,
    job_id: str,
    client: str,
    flow_run_id: str,
    idempotency_key: str | None,
    request: dict[str, Any],
) -> tuple[SubmissionRecord, bool]:
    """Record a submission: (it, True); or, when the same job or the same client's
    idempotency key is there already (a concurrent retry), (that one, False)."""
    row = Submission(
        job_id=job_id,
        client=client,
        flow_run_id=flow_run_id,
        idempotency_key=idempotency_key,
        request=request,
        created_at=datetime.now(UTC),
    )
    try:
        with Session(migrated(db)) as session, session.begin():
            session.add(row)
            record = _record(row)
        return record, True
    except IntegrityError:
        existing = find_submission(db, job_id)
        if existing is None and idempotency_key is not None:
            existing = find_by_idempotency_key(db, client, idempotency_key)
        if existing is None:
            raise
        return existing, False


def find_submission(db: Database, job_id: str) -> SubmissionRecord | None:
    with Session(reader(db)) as session:
        row = session.get(Submission, job_id)
        return _record(row) if row is not None else None


def get_submission(db: Database, job_id: str) -> SubmissionRecord:
    """The submission of ``job_id``; JobNotFoundError if there is none."""
    found = find_submission(db, job_id)
    if found is None:
        raise JobNotFoundError(f"job {job_id!r}: no such job")
    return found


def list_submissions(
    db: Database,
    *,
    client: str | None,
    before_job_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: int = 50,
) -> list[SubmissionRecord]:
    """Newest first (job ids sort by creation), after the cursor ``before_job_id``."""
    query = sa.select(Submission).order_by(Submission.job_id.desc()).limit(limit)
    if client is not None:
        query = query.where(Submission.client == client)
    if before_job_id is not None:
        query = query.where(Submission.job_id < before_job_id)
    if created_after is not None:
        query = query.where(Submission.created_at >= created_after)
    if created_before is not None:
        query = query.where(Submission.created_at < created_before)
    with Session(reader(db)) as session:
        return [_record(row) for row in session.scalars(query)]


def mark_cancelled(db: Database, job_id: str) -> SubmissionRecord:
    """Record the job cancelled: its submission, and its job row (made if the run never
    started, so the job database holds every cancelled job); a finished job stays as it is."""
    now = datetime.now(UTC)
    with Session(migrated(db)) as session, session.begin():
        sub = session.get(Submission, job_id)
        if sub is None:
            raise JobNotFoundError(f"job {job_id!r}: no such job")
        sub.cancelled_at = sub.cancelled_at or now
        job = session.scalars(sa.select(Job).where(Job.flow_run_id == sub.flow_run_id)).first()
        if job is None:
            job = Job(
                id=job_id,
                source_uri=str(sub.request.get("source", "")),
                source_sha256="",
                settings_hash="",
                flow_run_id=sub.flow_run_id,
                created_at=sub.created_at,
                status=JobStatus.RUNNING,
            )
            session.add(job)
        if job.status is JobStatus.RUNNING:
            job.status = JobStatus.CANCELLED
            job.failure_reason = "cancelled by its client"
            job.finished_at = now
        return _record(sub)


def set_notified(db: Database, job_id: str, state: str) -> None:
    with Session(migrated(db)) as session, session.begin():
        sub = session.get(Submission, job_id)
        if sub is not None:
            sub.notified_state = state


def unnotified(
    db: Database, after_job_id: str | None = None, limit: int = 200
) -> list[SubmissionRecord]:
    """Submissions whose final state no webhook event has been sent for yet, oldest first,
    after the cursor ``after_job_id``."""
    query = (
        sa.select(Submission)
        .where(Submission.notified_state.is_(None))
        .order_by(Submission.job_id)
        .limit(limit)
    )
    if after_job_id is not None:
        query = query.where(Submission.job_id > after_job_id)
    with Session(reader(db)) as session:
        return [_record(row) for row in session.scalars(query)]


# --- webhooks -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookRecord:
    id: str
    client: str
    url: str
    secret: str
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryRecord:
    webhook_id: str
    job_id: str
    event: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None


def add_webhook(db: Database, client: str, url: str) -> WebhookRecord:
    """Register ``url`` for ``client``'s job events; its signing secret is made here."""
    row = Webhook(
        id=secrets.token_hex(8),
        client=client,
        url=url,
        secret=secrets.token_urlsafe(32),
        created_at=datetime.now(UTC),
    )
    with Session(migrated(db)) as session, session.begin():
        session.add(row)
        return WebhookRecord(row.id, row.client, row.url, row.secret, row.created_at)


def list_webhooks(db: Database, client: str) -> list[WebhookRecord]:
    query = sa.select(Webhook).where(Webhook.client == client).order_by(Webhook.created_at)
    with Session(reader(db)) as session:
        return [
            WebhookRecord(r.id, r.client, r.url, r.secret, r.created_at)
            for r in session.scalars(query)
        ]


def record_delivery(
    db: Database,
    *,
    webhook_id: str,
    job_id: str,
    event: str,
    attempt: int,
    status_code: int | None,
    error: str | None,
) -> None:
    with Session(migrated(db)) as session, session.begin():
        session.add(
            WebhookDelivery(
                webhook_id=webhook_id,
                job_id=job_id,
                event=event,
                attempt=attempt,
                at=datetime.now(UTC),
                status_code=status_code,
                error=error,
            )
        )


def list_deliveries(db: Database, webhook_ids: Iterable[str]) -> list[DeliveryRecord]:
    """The delivery log of these webhooks, oldest first."""
    query = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id.in_(list(webhook_ids)))
        .order_by(WebhookDelivery.id)
    )
    with Session(reader(db)) as session:
        return [
            DeliveryRecord(r.webhook_id, r.job_id, r.event, r.attempt, r.at, r.status_code, r.error)
            for r in session.scalars(query)
        ]
