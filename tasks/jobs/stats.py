"""Totals over the job database for metrics and the dashboard: jobs by status, QA failures by
check, durations, cost (in all, and per day)."""

from __future__ import annotations

import dataclasses
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tasks.jobs.engine import Database, reader
from tasks.jobs.models import Job, QACheck


@dataclasses.dataclass(frozen=True, slots=True)
class JobTotals:
    by_status: dict[str, int]
    qa_failures_by_check: dict[str, int]
    finished: int  # jobs with a wall time
    wall_s_sum: float
    cost_usd_sum: float


def job_totals(db: Database) -> JobTotals:
    with Session(reader(db)) as session:
        by_status = {
            str(status): n
            for status, n in session.execute(
                sa.select(Job.status, sa.func.count()).group_by(Job.status)
            )
        }
        failures = dict(
            session.execute(
                sa.select(QACheck.name, sa.func.count())
                .where(QACheck.passed.is_(False))
                .group_by(QACheck.name)
            ).all()
        )
        finished, wall, cost = session.execute(
            sa.select(
                sa.func.count(Job.wall_s), sa.func.sum(Job.wall_s), sa.func.sum(Job.total_usd)
            )
        ).one()
    return JobTotals(by_status, failures, int(finished), float(wall or 0), float(cost or 0))


def daily_cost(db: Database, job_ids: list[str] | None = None) -> list[tuple[date, float]]:
    """USD per day that jobs finished (of ``job_ids`` only, when given), oldest first."""
    query = sa.select(Job.finished_at, Job.total_usd).where(Job.total_usd.is_not(None))
    if job_ids is not None:
        query = query.where(Job.id.in_(job_ids))
    per_day: dict[date, float] = {}
    with Session(reader(db)) as session:
        for finished_at, usd in session.execute(query):
            if finished_at is not None:
                day = finished_at.date()
                per_day[day] = per_day.get(day, 0.0) + float(usd or 0.0)
    return sorted(per_day.items())
