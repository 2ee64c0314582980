"""Reading and writing jobs: start, finish, record a job's rows, get one, find a finished one.

Functions take an :class:`~sqlalchemy.Engine` or a URL (see :mod:`tasks.jobs.engine`). Each
``record_*`` replaces the job's rows, so a retried task never duplicates them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tasks.jobs.engine import Database, migrated, reader
from tasks.jobs.models import Base, Clip, CostItem, Job, JobNotFoundError, JobStatus, QACheck


@dataclasses.dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as stored, with its child rows as plain dicts; ``rec["status"]`` works too."""

    id: str
    source_uri: str
    source_sha256: str
    settings_hash: str
    status: JobStatus
    failure_reason: str | None
    job_dir: str | None
    flow_run_id: str | None
    created_at: datetime
    finished_at: datetime | None
    wall_s: float | None
    total_usd: float | None
    clips: tuple[dict[str, Any], ...] = ()
    qa_checks: tuple[dict[str, Any], ...] = ()
    cost_items: tuple[dict[str, Any], ...] = ()

    def __getitem__(self, name: str) -> Any:
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (timestamps as ISO 8601 strings)."""
        out = dataclasses.asdict(self)
        for key in ("created_at", "finished_at"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        out["status"] = str(self.status)
        for key in ("clips", "qa_checks", "cost_items"):
            out[key] = list(out[key])
        return out


def _columns(model: type[Base], skip: tuple[str, ...] = ("id", "job_id")) -> tuple[str, ...]:
    return tuple(c.key for c in model.__table__.columns if c.key not in skip)


_JOB_COLUMNS = _columns(Job, skip=())
_CLIP_COLUMNS = _columns(Clip)
_QA_COLUMNS = _columns(QACheck)
_COST_COLUMNS = _columns(CostItem)


def _row_dict(obj: Any, columns: Iterable[str]) -> dict[str, Any]:
    return {c: getattr(obj, c) for c in columns}


def _to_record(job: Job) -> JobRecord:
    return JobRecord(
        **_row_dict(job, _JOB_COLUMNS),
        clips=tuple(_row_dict(c, _CLIP_COLUMNS) for c in job.clips),
        qa_checks=tuple(_row_dict(q, _QA_COLUMNS) for q in job.qa_checks),
        cost_items=tuple(_row_dict(c, _COST_COLUMNS) for c in job.cost_items),
    )


# --- job ids ----------------------------------------------------------------------------------

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _crockford(value: int) -> str:
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_job_id() -> str:
    """A ULID-like id: 26 lowercase Crockford base32 characters (48-bit ms time + 80 random
    bits), so ids sort by creation time and are safe in paths and Prefect artifact keys."""
    return _crockford((time.time_ns() // 1_000_000) << 80 | secrets.randbits(80))


def job_id_for_run(flow_run_id: str, created: datetime) -> str:
    """The job id of a flow run, in :func:`new_job_id`'s form (sorting by creation time), made
    from the run's id and creation time, so every attempt of the run is the same job: one job
    row and one job directory, not one per retry."""
    digest = int(uuid.UUID(str(flow_run_id)).hex, 16) & ((1 << 80) - 1)
    return _crockford((int(created.timestamp() * 1000) & ((1 << 48) - 1)) << 80 | digest)


# --- writing ----------------------------------------------------------------------------------


def start_job(
    db: Database,
    *,
    source_uri: str,
    source_sha256: str,
    settings_hash: str,
    job_dir: str | os.PathLike[str] | None = None,
    flow_run_id: str | None = None,
    job_id: str | None = None,
) -> str:
    """Record a running job and return its id. Starting an existing ``job_id`` again (a retried
    run) resets it to running and clears its outcome, keeping its creation time."""
    job_id = job_id or new_job_id()
    values: dict[str, Any] = {
        "source_uri": source_uri,
        "source_sha256": source_sha256,
        "settings_hash": settings_hash,
        "job_dir": os.fspath(job_dir) if job_dir is not None else None,
        "flow_run_id": flow_run_id,
        "status": JobStatus.RUNNING,
        "failure_reason": None,
        "finished_at": None,
        "wall_s": None,
        "total_usd": None,
    }
    with Session(migrated(db)) as session, session.begin():
        job = session.get(Job, job_id)
        if job is None:
            session.add(Job(id=job_id, created_at=datetime.now(UTC), **values))
        else:
            for key, value in values.items():
                setattr(job, key, value)
    return job_id


def finish_job(
    db: Database,
    job_id: str,
    status: JobStatus | str,
    *,
    reason: str | None = None,
    wall_s: float | None = None,
    total_usd: float | None = None,
) -> None:
    """Record a job's final status (anything but running) and when it ended."""
    final = JobStatus(status)
    if final is JobStatus.RUNNING:
        raise ValueError(f"finish_job({job_id!r}): status must be final, got 'running'")
    with Session(migrated(db)) as session, session.begin():
        job = _get(session, job_id)
        job.status = final
        job.failure_reason = reason
        job.finished_at = datetime.now(UTC)
        job.wall_s = wall_s
        job.total_usd = total_usd


def _get(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFoundError(f"job {job_id!r}: not in the job database")
    return job


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf to None (JSON has no NaN)."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _fields(
    kind: str, i: int, row: Any, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, Any]:
    """The known fields of one input row (a mapping, dataclass or pydantic model); extra keys
    are ignored, so report dicts can be passed as they are."""
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        data = dataclasses.asdict(row)
    else:
        data = row.model_dump() if hasattr(row, "model_dump") else dict(row)
    if missing := [name for name in required if data.get(name) is None]:
        raise ValueError(f"{kind} row {i}: missing {', '.join(missing)} (got {sorted(data)})")
    return {name: data.get(name) for name in required + optional}


def _replace_rows(db: Database, job_id: str, model: type[Base], rows: Sequence[Base]) -> None:
    with Session(migrated(db)) as session, session.begin():
        _get(session, job_id)
        session.execute(sa.delete(model).where(model.job_id == job_id))  # type: ignore[attr-defined]
        session.add_all(rows)


_CLIP_REQUIRED = ("index", "path", "start_s", "end_s")
_CLIP_OPTIONAL = ("duration_s", "text", "score", "speaker", "passed")


def record_clips(db: Database, job_id: str, rows: Iterable[Mapping[str, Any] | Any]) -> None:
    """Replace the job's clips. Rows need index, path, start_s, end_s; ``duration_s``
    defaults to end − start; text, score, speaker, passed are optional."""
    clips = []
    for i, row in enumerate(rows):
        f = _fields("clip", i, row, _CLIP_REQUIRED, _CLIP_OPTIONAL)
        if f["duration_s"] is None:
            f["duration_s"] = float(f["end_s"]) - float(f["start_s"])
        f["path"] = os.fspath(f["path"])
        clips.append(Clip(job_id=job_id, **{k: jsonable(v) for k, v in f.items()}))
    _replace_rows(db, job_id, Clip, clips)


def record_qa(db: Database, job_id: str, checks: Iterable[Mapping[str, Any] | Any]) -> None:
    """Replace the job's QA checks: name, passed, and optional value, threshold (any JSON
    value, stored as given) and clip_index (absent or None for a job-level check)."""
    rows = []
    for i, row in enumerate(checks):
        f = _fields("qa", i, row, ("name", "passed"), ("clip_index", "value", "threshold"))
        rows.append(QACheck(job_id=job_id, **{k: jsonable(v) for k, v in f.items()}))
    _replace_rows(db, job_id, QACheck, rows)


def record_costs(db: Database, job_id: str, items: Iterable[Mapping[str, Any] | Any]) -> None:
    """Replace the job's cost items: stage, resource, quantity, unit, usd."""
    rows = []
    for i, row in enumerate(items):
        f = _fields("cost", i, row, _COST_COLUMNS, ())
        rows.append(CostItem(job_id=job_id, **{k: jsonable(v) for k, v in f.items()}))
    _replace_rows(db, job_id, CostItem, rows)


# --- reading ----------------------------------------------------------------------------------


def get_job(db: Database, job_id: str) -> JobRecord:
    """The job with its clips, QA checks and cost items; JobNotFoundError if unknown."""
    with Session(reader(db)) as session:
        return _to_record(_get(session, job_id))


def find_succeeded(db: Database, source_sha256: str, settings_hash: str) -> JobRecord | None:
    """The newest succeeded job for this content and these settings, or None."""
    query = (
        sa.select(Job)
        .where(
            Job.source_sha256 == source_sha256,
            Job.settings_hash == settings_hash,
            Job.status == JobStatus.SUCCEEDED,
        )
        .order_by(Job.finished_at.desc(), Job.id.desc())
        .limit(1)
    )
    with Session(reader(db)) as session:
        job = session.scalars(query).first()
        return _to_record(job) if job is not None else None


def jobs_of_flow_runs(db: Database, flow_run_ids: Iterable[str]) -> dict[str, JobRecord]:
    """The job rows of these flow runs (those that have one), by flow run id."""
    ids = [str(i) for i in flow_run_ids]
    if not ids:
        return {}
    query = sa.select(Job).where(Job.flow_run_id.in_(ids))
    with Session(reader(db)) as session:
        return {str(job.flow_run_id): _to_record(job) for job in session.scalars(query)}
