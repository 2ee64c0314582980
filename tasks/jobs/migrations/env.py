"""Alembic environment for the job database, driven from code by
``tasks.jobs.engine.ensure_schema``.

The caller hands over an open connection in ``config.attributes["connection"]`` (already in a
transaction that holds the schema lock). Without one, ``sqlalchemy.url`` from the config is used,
so ``alembic.command`` calls with ``tasks.jobs.engine.alembic_config(url)`` work too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from tasks.jobs.models import Base
from tasks.jobs.service_tables import ApiKey  # noqa: F401 - its tables join Base.metadata

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: later migrations use batch mode (copy and move).
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("tasks/jobs/migrations: pass a connection or set sqlalchemy.url")
    with create_engine(url).connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
