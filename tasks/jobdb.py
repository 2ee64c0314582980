"""The job database: one row per job, with its clips, QA checks and cost items.

SQLite (the embedded default) or PostgreSQL (production), versioned by Alembic. The schema lives
in ``tasks/migrations`` and is applied programmatically by :func:`ensure_schema`; no alembic.ini
is needed. To write a new migration after changing the models::

    from alembic import command
    from tasks.jobdb import alembic_config
    command.revision(alembic_config("sqlite:///scratch.sqlite"), "add x", autogenerate=True)

Repository functions take an :class:`~sqlalchemy.Engine` or a URL. A URL maps to one cached
engine per process, migrated to head on first use. Each ``record_*`` replaces the job's rows,
so a retried task never duplicates them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from media.errors import ClipflowError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key serialising schema upgrades: b"clipflow" read as a big-endian int64.
_PG_SCHEMA_LOCK_KEY = int.from_bytes(b"clipflow", "big")


class JobStatus(StrEnum):
    """Where a job stands; every status but ``running`` is final."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    QA_FAILED = "qa_failed"
    REJECTED = "rejected"
    FAILED = "failed"


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


# --- engines and schema -----------------------------------------------------------------------

Database = sa.Engine | str  # an engine, or a URL whose cached engine is migrated on first use
_ENGINES: dict[str, sa.Engine] = {}
_MIGRATED: set[str] = set()
_ENGINES_LOCK = threading.Lock()
_UPGRADE_LOCK = threading.Lock()


def get_engine(url: str) -> sa.Engine:
    """The process's engine for ``url`` (created once). SQLite gets WAL, a busy timeout,
    foreign keys and ``BEGIN IMMEDIATE`` transactions, so writers queue instead of failing."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _create_engine(url)
        return engine


def _create_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 emits no BEGIN; we emit our own
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that upgrades from read
        # to write gets SQLITE_BUSY at once, without waiting on the busy timeout. Readers
        # (execution option sqlite_begin="DEFERRED") never block under WAL.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def dispose_engine(url: str) -> None:
    """Close and forget the cached engine for ``url`` (tests, forked workers)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.pop(url, None)
        _MIGRATED.discard(url)
    if engine is not None:
        engine.dispose()


def alembic_config(url: str | None = None) -> Any:
    """An Alembic ``Config`` for tasks/migrations, built in code (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def ensure_schema(db: Database) -> None:
    """Upgrade the job database to the newest migration; a no-op when it is there already.

    Safe from many threads and processes at once: the upgrade runs in one transaction that
    first takes ``pg_advisory_xact_lock`` (PostgreSQL) or the write lock (SQLite
    ``BEGIN IMMEDIATE``), so a second caller waits and then finds the schema at head.
    """
    from alembic import command

    engine = get_engine(db) if isinstance(db, str) else db
    cfg = alembic_config()
    with _UPGRADE_LOCK, engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SCHEMA_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _engine(db: Database) -> sa.Engine:
    if not isinstance(db, str):
        return db
    engine = get_engine(db)
    if db not in _MIGRATED:
        ensure_schema(engine)
        with _ENGINES_LOCK:
            _MIGRATED.add(db)
    return engine


# --- records ------------------------------------------------------------------------------


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


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_job_id() -> str:
    """A ULID-like id: 26 lowercase Crockford base32 characters (48-bit ms time + 80 random
    bits), so ids sort by creation time and are safe in paths and Prefect artifact keys."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def job_id_for_run(flow_run_id: str, created: datetime) -> str:
    """The job id of a flow run, in :func:`new_job_id`'s form (sorting by creation time), made
    from the run's id and creation time, so every attempt of the run is the same job: one job
    row and one job directory, not one per retry."""
    digest = int(uuid.UUID(str(flow_run_id)).hex, 16) & ((1 << 80) - 1)
    value = (int(created.timestamp() * 1000) & ((1 << 48) - 1)) << 80 | digest
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


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
    with Session(_engine(db)) as session, session.begin():
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
    with Session(_engine(db)) as session, session.begin():
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


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf to None (JSON has no NaN)."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
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


def _replace_rows(db: Database, job_id: str, model: type[Base], rows: list[Base]) -> None:
    with Session(_engine(db)) as session, session.begin():
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
        clips.append(Clip(job_id=job_id, **{k: _jsonable(v) for k, v in f.items()}))
    _replace_rows(db, job_id, Clip, clips)


def record_qa(db: Database, job_id: str, checks: Iterable[Mapping[str, Any] | Any]) -> None:
    """Replace the job's QA checks: name, passed, and optional value, threshold (any JSON
    value, stored as given) and clip_index (absent or None for a job-level check)."""
    rows = []
    for i, row in enumerate(checks):
        f = _fields("qa", i, row, ("name", "passed"), ("clip_index", "value", "threshold"))
        rows.append(QACheck(job_id=job_id, **{k: _jsonable(v) for k, v in f.items()}))
    _replace_rows(db, job_id, QACheck, rows)


def record_costs(db: Database, job_id: str, items: Iterable[Mapping[str, Any] | Any]) -> None:
    """Replace the job's cost items: stage, resource, quantity, unit, usd."""
    rows = []
    for i, row in enumerate(items):
        f = _fields("cost", i, row, _COST_COLUMNS, ())
        rows.append(CostItem(job_id=job_id, **{k: _jsonable(v) for k, v in f.items()}))
    _replace_rows(db, job_id, CostItem, rows)


def _reader(db: Database) -> sa.Engine:
    return _engine(db).execution_options(sqlite_begin="DEFERRED")


def get_job(db: Database, job_id: str) -> JobRecord:
    """The job with its clips, QA checks and cost items; JobNotFoundError if unknown."""
    with Session(_reader(db)) as session:
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
    with Session(_reader(db)) as session:
        job = session.scalars(query).first()
        return _to_record(job) if job is not None else None
