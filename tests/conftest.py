"""Shared fixtures."""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# === test environment (owner: flows) =============================================================
# Prefect and clipflow keep state under their homes: point both at a private temp dir BEFORE
# anything imports prefect, so cached results never leak between test sessions
# (docs/ARCHITECTURE.md, "Measured facts").
_TEST_HOME = Path(tempfile.mkdtemp(prefix="clipflow-tests-"))
os.environ["PREFECT_HOME"] = str(_TEST_HOME / "prefect")
os.environ["CLIPFLOW_HOME"] = str(_TEST_HOME / "clipflow")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
for _var in [
    v
    for v in os.environ
    if v.startswith("CLIPFLOW_")
    and v not in ("CLIPFLOW_HOME", "CLIPFLOW_REAL_MEDIA", "CLIPFLOW_TEST_PG_URL")
]:
    del os.environ[_var]  # a developer's own settings must not change what tests see
atexit.register(shutil.rmtree, _TEST_HOME, ignore_errors=True)
# Deployment runs read and write only where the settings allow (tasks/allowlist.py): the tests'
# runs use temporary folders, the checkout (a relative `out`) and buckets of any name on moto.
os.environ["CLIPFLOW_ALLOWED_ROOTS"] = json.dumps(
    [tempfile.gettempdir(), str(Path(__file__).resolve().parents[1])]
)
os.environ["CLIPFLOW_ALLOWED_S3"] = json.dumps(["s3://*/"])

REAL_MEDIA_ENV = "CLIPFLOW_REAL_MEDIA"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with whole-job (e2e) tests first, each file's own order kept: the parallel workers
    take files in this order, so the minute-long ones do not end the run on one worker."""
    whole_job = {item.path for item in items if item.get_closest_marker("e2e")}
    items.sort(key=lambda item: item.path not in whole_job)


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Each test leaves os.environ as it found it: a command run in-process (``clipflow run``
    sets Prefect's embedded defaults) must not change what a later test, or the worker it
    starts, sees. Tests run in parallel workers in whatever order they are dealt."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def real_media() -> Path:
    """The real-media folder ($CLIPFLOW_REAL_MEDIA), or a visible skip when it is unset."""
    folder = os.environ.get(REAL_MEDIA_ENV)
    if not folder:
        pytest.skip(f"{REAL_MEDIA_ENV} is not set: real-media tier skipped")
    path = Path(folder)
    if not path.is_dir():
        pytest.skip(f"{REAL_MEDIA_ENV}={folder} is not a directory: real-media tier skipped")
    return path


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One Prefect test server for the whole session (entering one costs ~13 s)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


# === end of test environment =====================================================================

# === storage and job database fixtures (owner: tasks/jobs/, tasks/storage.py) ==================
# s3_server: a moto S3 server on loopback for the session. job_db_url: a fresh, migrated-on-use
# job database per test, on SQLite and on PostgreSQL (from $CLIPFLOW_TEST_PG_URL, else skipped).

if TYPE_CHECKING:
    import sqlalchemy as sa

PG_URL_ENV = "CLIPFLOW_TEST_PG_URL"
_PG_SCHEMA_PREFIX = f"clipflow_test_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Endpoint URL of a moto S3 server on 127.0.0.1 (an ephemeral port), for the session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def no_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore retries exactly as configured (same attempts, same retry decisions) but does not
    sleep between attempts; returns the back-off delays botocore chose, one per retry, so a test
    can still check that it retried. (Its jittered delays grow 2**n up to 20 s: ~2-8 s a test.)"""
    from botocore.retries.standard import ExponentialBackoff

    chosen: list[float] = []
    delay_amount = ExponentialBackoff.delay_amount

    def record_and_skip(self: ExponentialBackoff, context: object) -> float:
        chosen.append(delay_amount(self, context))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", record_and_skip)
    return chosen


@pytest.fixture(scope="session")
def _pg_admin() -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on $CLIPFLOW_TEST_PG_URL; drops this session's schemas at the end."""
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"{PG_URL_ENV} is not set: PostgreSQL job-database tests skipped")
    import sqlalchemy as sa

    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        with engine.connect() as conn:
            names = conn.scalars(
                sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                {"p": f"{_PG_SCHEMA_PREFIX}%"},
            ).all()
            for name in names:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def job_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty job database: a SQLite file, or a fresh PostgreSQL schema (named
    clipflow_test_<session>_<random>, reached through search_path) dropped after the test."""
    import sqlalchemy as sa

    from tasks import jobs

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
        yield url
        jobs.dispose_engine(url)
        return

    admin: sa.Engine = request.getfixturevalue("_pg_admin")
    schema = f"{_PG_SCHEMA_PREFIX}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = (
        sa.make_url(os.environ[PG_URL_ENV])
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    yield url
    jobs.dispose_engine(url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# === end of storage and job database fixtures ====================================================
