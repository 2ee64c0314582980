"""Engines for the job database, and its schema: migrated by Alembic, from code.

SQLite (the embedded default) or PostgreSQL (production). The schema lives in the migrations
beside this module (``tasks/jobs/migrations``) and is applied by :func:`ensure_schema`; no
alembic.ini is needed. To write a new migration after changing :mod:`tasks.jobs.models`::

    from alembic import command
    from tasks.jobs.engine import alembic_config
    command.revision(alembic_config("sqlite:///scratch.sqlite"), "add x", autogenerate=True)

A URL maps to one cached engine per process, migrated to head on first use.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key serialising schema upgrades: b"clipflow" read as a big-endian int64.
_PG_SCHEMA_LOCK_KEY = int.from_bytes(b"clipflow", "big")

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
    """An Alembic ``Config`` for tasks/jobs/migrations, built in code (no alembic.ini)."""
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


def migrated(db: Database) -> sa.Engine:
    """The engine for ``db``; a URL's schema is brought to head the first time it is used."""
    if not isinstance(db, str):
        return db
    engine = get_engine(db)
    if db not in _MIGRATED:
        ensure_schema(engine)
        with _ENGINES_LOCK:
            _MIGRATED.add(db)
    return engine


def reader(db: Database) -> sa.Engine:
    """:func:`migrated`, for reading only: on SQLite a deferred transaction, which under WAL
    never waits for a writer (writers take the write lock up front)."""
    return migrated(db).execution_options(sqlite_begin="DEFERRED")
