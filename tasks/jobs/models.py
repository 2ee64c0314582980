"""The job database's tables: one row per job, with its clips, QA checks and cost items.

The schema itself is versioned by the Alembic migrations beside this module
(``tasks/jobs/migrations``); a change here needs a new revision (see :mod:`tasks.jobs.engine`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from media.errors import ClipflowError


class JobStatus(StrEnum):
    """Where a job stands; every status but ``running`` is final."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    QA_FAILED = "qa_failed"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"  # by its client, through `clipflow serve` (DELETE /api/v1/jobs/{id})


class JobNotFoundError(ClipflowError, LookupError):
    """A job id that the job database does not hold."""


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite hands back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    source_uri: Mapped[str] = mapped_column(sa.Text)
    source_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    settings_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[JobStatus] = mapped_column(
        sa.Enum(
            JobStatus,
            native_enum=False,
            create_constraint=True,
            length=16,
            name="status",
            values_callable=lambda e: [m.value for m in e],
        )
    )
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    job_dir: Mapped[str | None] = mapped_column(sa.Text)
    flow_run_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    wall_s: Mapped[float | None] = mapped_column(sa.Float)
    total_usd: Mapped[float | None] = mapped_column(sa.Float)

    clips: Mapped[list[Clip]] = relationship(order_by="Clip.index", passive_deletes=True)
    qa_checks: Mapped[list[QACheck]] = relationship(order_by="QACheck.id", passive_deletes=True)
    cost_items: Mapped[list[CostItem]] = relationship(order_by="CostItem.id", passive_deletes=True)


class Clip(Base):
    __tablename__ = "clips"

    job_id: Mapped[str] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    path: Mapped[str] = mapped_column(sa.Text)
    start_s: Mapped[float] = mapped_column(sa.Float)
    end_s: Mapped[float] = mapped_column(sa.Float)
    duration_s: Mapped[float] = mapped_column(sa.Float)
    text: Mapped[str | None] = mapped_column(sa.Text)
    score: Mapped[float | None] = mapped_column(sa.Float)
    speaker: Mapped[str | None] = mapped_column(sa.String(128))
    passed: Mapped[bool | None] = mapped_column()


class QACheck(Base):
    __tablename__ = "qa_checks"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    clip_index: Mapped[int | None] = mapped_column(sa.Integer)  # None: a job-level check
    name: Mapped[str] = mapped_column(sa.String(128))
    passed: Mapped[bool] = mapped_column()
    value: Mapped[Any] = mapped_column(sa.JSON, nullable=True)  # number, string, list: as reported
    threshold: Mapped[Any] = mapped_column(sa.JSON, nullable=True)


class CostItem(Base):
    __tablename__ = "cost_items"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(64))
    resource: Mapped[str] = mapped_column(sa.String(64))
    quantity: Mapped[float] = mapped_column(sa.Float)
    unit: Mapped[str] = mapped_column(sa.String(32))
    usd: Mapped[float] = mapped_column(sa.Float)
