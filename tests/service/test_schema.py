"""Migration 0002 on SQLite and PostgreSQL: a job database at 0001 with jobs in it upgrades
(its rows kept, ``cancelled`` accepted, the service's tables made) and downgrades again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tasks import jobs


def test_upgrade_from_0001_keeps_jobs_and_allows_cancelled(job_db_url: str) -> None:
    from alembic import command

    engine = sa.create_engine(job_db_url)
    cfg = jobs.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            sa.text(
                "INSERT INTO jobs (id, source_uri, source_sha256, settings_hash, status, "
                "created_at) VALUES ('old', 's', '', 'h', 'succeeded', CURRENT_TIMESTAMP)"
            )
        )
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(sa.text("UPDATE jobs SET status = 'cancelled'"))
        command.upgrade(cfg, "head")
        assert conn.scalar(sa.text("SELECT status FROM jobs WHERE id = 'old'")) == "succeeded"
        conn.execute(sa.text("UPDATE jobs SET status = 'cancelled'"))
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(sa.text("UPDATE jobs SET status = 'lost'"))
        tables = set(sa.inspect(conn).get_table_names())
        assert {"api_keys", "submissions", "audit_log", "webhooks", "webhook_deliveries"} <= tables
        conn.execute(sa.text("UPDATE jobs SET status = 'failed'"))
        command.downgrade(cfg, "0001")
        assert "api_keys" not in set(sa.inspect(conn).get_table_names())
        assert conn.scalar(sa.text("SELECT status FROM jobs WHERE id = 'old'")) == "failed"
    engine.dispose()
