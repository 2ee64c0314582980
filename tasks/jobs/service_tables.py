"""The job database's tables for ``clipflow serve``: API keys, the jobs clients submitted,
the audit log of every call, webhooks and their delivery log.

Versioned by migration 0002 (``tasks/jobs/migrations``); a change here needs a new revision.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tasks.jobs.models import Base, UTCDateTime


class Role(StrEnum):
    """What a key may do: ``read`` its client's jobs; ``submit`` them too (and cancel them);
    ``admin`` everything, for every client."""

    READ = "read"
    SUBMIT = "submit"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = (Role.READ, Role.SUBMIT, Role.ADMIN)
        return order.index(self) >= order.index(needed)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # public part of the key
    client: Mapped[str] = mapped_column(sa.String(64), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    secret_sha256: Mapped[str] = mapped_column(sa.String(64))  # the secret itself is never kept
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Submission(Base):
    """A job a client submitted through the API: its flow run and what it asked for."""

    __tablename__ = "submissions"
    __table_args__ = (sa.UniqueConstraint("client", "idempotency_key", name="uq_submissions_key"),)

    job_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    client: Mapped[str] = mapped_column(sa.String(64), index=True)
    flow_run_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(128))
    request: Mapped[Any] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_state: Mapped[str | None] = mapped_column(sa.String(16))  # last webhook event sent


class AuditEntry(Base):
    """One API call: who (key id and client, never the key), what, when, and the outcome."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    key_id: Mapped[str | None] = mapped_column(sa.String(32))
    client: Mapped[str | None] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(512))
    status_code: Mapped[int] = mapped_column(sa.Integer)
    remote: Mapped[str | None] = mapped_column(sa.String(64))


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    client: Mapped[str] = mapped_column(sa.String(64), index=True)
    url: Mapped[str] = mapped_column(sa.Text)
    secret: Mapped[str] = mapped_column(sa.String(128))  # signs deliveries: must be kept
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One attempt to deliver one event to one webhook."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[str] = mapped_column(sa.String(36))
    event: Mapped[str] = mapped_column(sa.String(32))
    attempt: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
