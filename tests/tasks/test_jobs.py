"""The job database on SQLite and PostgreSQL: schema, lifecycle, idempotent records, locking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tasks import jobs
from tasks.jobs import JobNotFoundError, JobStatus
from tasks.jobs.repository import _JOB_COLUMNS

REPO = Path(__file__).resolve().parents[2]
SHA = "ab" * 32

CLIPS = [
    {
        "index": 1,
        "path": "clips/clip-01.mp4",
        "start_s": 10.0,
        "end_s": 40.5,
        "text": "Hello.",
        "score": 0.9,
        "speaker": "A",
        "passed": True,
        "qa": {"ignored": "extra keys"},
    },
    {
        "index": 2,
        "path": Path("clips/clip-02.mp4"),
        "start_s": 100.0,
        "end_s": 130.0,
        "duration_s": 30.0,
        "passed": False,
    },
]
QA = [
    {"name": "lu_spread", "passed": True, "value": 0.3, "threshold": 1.5},
    {
        "name": "clip_duration",
        "passed": True,
        "value": 30.5,
        "threshold": [15, 60],
        "clip_index": 1,
    },
    {
        "name": "codec",
        "passed": False,
        "value": "Main@4.1",
        "threshold": "High@4.0",
        "clip_index": 2,
    },
]
COSTS = [
    {"stage": "render", "resource": "cpu", "quantity": 122.0, "unit": "s", "usd": 0.012},
    {"stage": "transcript", "resource": "llm", "quantity": 5100, "unit": "tokens", "usd": 0.02},
]


def _start(url: str, **kw: str) -> str:
    args = {"source_uri": "s3://inbox/ep1.mp4", "source_sha256": SHA, "settings_hash": "s1"}
    return jobs.start_job(url, **(args | kw))


def _row_counts(url: str, job_id: str) -> dict[str, int]:
    with jobs.get_engine(url).connect() as conn:
        return {
            table: conn.scalar(
                sa.text(f"SELECT count(*) FROM {table} WHERE job_id = :j"), {"j": job_id}
            )
            for table in ("clips", "qa_checks", "cost_items")
        }


def test_migrations_create_the_tables(job_db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    jobs.ensure_schema(job_db_url)
    jobs.ensure_schema(job_db_url)  # a second call is a no-op
    engine = jobs.get_engine(job_db_url)
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    assert {"jobs", "clips", "qa_checks", "cost_items", "alembic_version"} <= tables
    job_columns = {c["name"] for c in inspector.get_columns("jobs")}
    assert set(_JOB_COLUMNS) == job_columns
    assert {fk["referred_table"] for fk in inspector.get_foreign_keys("clips")} == {"jobs"}
    head = ScriptDirectory.from_config(jobs.alembic_config()).get_current_head()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert context.get_current_revision() == head
        # The models and the migrations describe the same schema.
        assert compare_metadata(context, jobs.Base.metadata) == []


def test_job_lifecycle(job_db_url: str) -> None:
    job_id = _start(job_db_url, job_dir="/out/x", flow_run_id="fr-1")
    job = jobs.get_job(job_db_url, job_id)
    assert job.status is JobStatus.RUNNING and job["status"] == "running"
    assert job.job_dir == "/out/x" and job.flow_run_id == "fr-1"
    assert job.created_at.tzinfo is not None and job.finished_at is None
    assert jobs.find_succeeded(job_db_url, SHA, "s1") is None

    jobs.record_clips(job_db_url, job_id, CLIPS)
    jobs.record_qa(job_db_url, job_id, QA)
    jobs.record_costs(job_db_url, job_id, COSTS)
    jobs.finish_job(job_db_url, job_id, JobStatus.SUCCEEDED, wall_s=200.5, total_usd=0.032)

    job = jobs.get_job(job_db_url, job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert job.finished_at is not None and job.finished_at >= job.created_at
    assert (job.wall_s, job.total_usd) == (200.5, 0.032)
    assert [c["index"] for c in job.clips] == [1, 2]
    assert job.clips[0]["duration_s"] == pytest.approx(30.5)  # derived from start and end
    assert job.clips[1]["path"] == "clips/clip-02.mp4" and job.clips[1]["passed"] is False
    assert [(q["name"], q["clip_index"], q["threshold"]) for q in job.qa_checks] == [
        ("lu_spread", None, 1.5),
        ("clip_duration", 1, [15, 60]),
        ("codec", 2, "High@4.0"),
    ]
    assert job.cost_items[1]["quantity"] == 5100
    json.dumps(job.as_dict())  # the record serialises as is

    found = jobs.find_succeeded(job_db_url, SHA, "s1")
    assert found is not None and found.id == job_id
    assert jobs.find_succeeded(job_db_url, SHA, "other-settings") is None


def test_find_succeeded_ignores_other_outcomes_and_prefers_the_newest(job_db_url: str) -> None:
    for status in ("failed", "qa_failed", "rejected"):
        jobs.finish_job(job_db_url, _start(job_db_url), status, reason=f"it {status}")
    assert jobs.find_succeeded(job_db_url, SHA, "s1") is None
    _start(job_db_url)  # still running
    older, newer = _start(job_db_url), _start(job_db_url)
    jobs.finish_job(job_db_url, older, "succeeded")
    jobs.finish_job(job_db_url, newer, "succeeded")
    found = jobs.find_succeeded(job_db_url, SHA, "s1")
    assert found is not None and found.id == newer


def test_failure_is_recorded_with_its_reason(job_db_url: str) -> None:
    job_id = _start(job_db_url)
    jobs.finish_job(job_db_url, job_id, "rejected", reason="ep1.mp4: no audio stream")
    job = jobs.get_job(job_db_url, job_id)
    assert (job.status, job.failure_reason) == (JobStatus.REJECTED, "ep1.mp4: no audio stream")


def test_record_functions_replace_a_jobs_rows(job_db_url: str) -> None:
    job_id, other = _start(job_db_url), _start(job_db_url)
    jobs.record_clips(job_db_url, other, CLIPS[:1])
    for _ in range(3):  # a retried task writes the same rows again
        jobs.record_clips(job_db_url, job_id, CLIPS)
        jobs.record_qa(job_db_url, job_id, QA)
        jobs.record_costs(job_db_url, job_id, COSTS)
    assert _row_counts(job_db_url, job_id) == {"clips": 2, "qa_checks": 3, "cost_items": 2}

    jobs.record_clips(job_db_url, job_id, CLIPS[1:])  # a re-run that kept fewer clips
    jobs.record_qa(job_db_url, job_id, [])
    assert _row_counts(job_db_url, job_id) == {"clips": 1, "qa_checks": 0, "cost_items": 2}
    assert _row_counts(job_db_url, other) == {"clips": 1, "qa_checks": 0, "cost_items": 0}


def test_starting_the_same_job_again_resets_it(job_db_url: str) -> None:
    job_id = _start(job_db_url, job_id="job-retry-1")
    created = jobs.get_job(job_db_url, job_id).created_at
    jobs.finish_job(job_db_url, job_id, "failed", reason="S3 timed out")
    assert _start(job_db_url, job_id="job-retry-1", flow_run_id="fr-2") == job_id
    job = jobs.get_job(job_db_url, job_id)
    assert (job.status, job.failure_reason, job.finished_at) == (JobStatus.RUNNING, None, None)
    assert job.created_at == created and job.flow_run_id == "fr-2"


def test_errors_name_the_problem(job_db_url: str) -> None:
    with pytest.raises(JobNotFoundError, match="'nope'"):
        jobs.get_job(job_db_url, "nope")
    with pytest.raises(JobNotFoundError, match="'nope'"):
        jobs.record_clips(job_db_url, "nope", CLIPS)
    with pytest.raises(JobNotFoundError, match="'nope'"):
        jobs.finish_job(job_db_url, "nope", "failed")
    job_id = _start(job_db_url)
    with pytest.raises(ValueError, match="must be final"):
        jobs.finish_job(job_db_url, job_id, "running")
    with pytest.raises(ValueError, match="'paused' is not a valid JobStatus"):
        jobs.finish_job(job_db_url, job_id, "paused")
    with pytest.raises(ValueError, match="clip row 0: missing path"):
        jobs.record_clips(job_db_url, job_id, [{"index": 1, "start_s": 0, "end_s": 20}])
    with pytest.raises(ValueError, match="cost row 0: missing usd"):
        jobs.record_costs(job_db_url, job_id, [COSTS[0] | {"usd": None}])


def _in_threads(work: Callable[[], None], n: int) -> list[BaseException]:
    """Run ``work`` in ``n`` threads at once; what any of them raised."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_concurrent_writers_all_land(job_db_url: str) -> None:
    jobs.ensure_schema(job_db_url)

    def work() -> None:
        for _ in range(5):
            job_id = _start(job_db_url)
            jobs.record_clips(job_db_url, job_id, CLIPS)
            jobs.finish_job(job_db_url, job_id, "succeeded")
            assert jobs.get_job(job_db_url, job_id).status is JobStatus.SUCCEEDED

    assert _in_threads(work, 4) == []
    with jobs.get_engine(job_db_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM jobs")) == 20


def test_concurrent_ensure_schema_from_two_threads(job_db_url: str) -> None:
    barrier = threading.Barrier(2)

    def migrate() -> None:
        barrier.wait(10)
        jobs.ensure_schema(job_db_url)

    assert _in_threads(migrate, 2) == []
    with jobs.get_engine(job_db_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1


_MIGRATE_AT = """
import sys, time
from tasks import jobs
url, start_at = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))
jobs.ensure_schema(url)
"""


@pytest.mark.timeout(120)
def test_concurrent_ensure_schema_from_two_processes(job_db_url: str) -> None:
    # Both processes import first, then start migrating at the same instant.
    start_at = f"{time.time() + 2.5:.3f}"
    env = os.environ | {"PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_AT, job_db_url, start_at],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(90), p.stderr.read() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0, 0], [err for _, err in results]
    with jobs.get_engine(job_db_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM jobs")) == 0


def test_sqlite_engine_uses_wal_and_waits_for_locks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'jobs.sqlite'}"  # the parent is created
    try:
        _start(url)
        with jobs.get_engine(url).connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert jobs.get_engine(url) is jobs.get_engine(url)
    finally:
        jobs.dispose_engine(url)


def test_job_ids_sort_by_creation_and_are_path_safe() -> None:
    ids = []
    for _ in range(3):
        ids.append(jobs.new_job_id())
        time.sleep(0.002)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(len(i) == 26 and i.isalnum() and i == i.lower() for i in ids)


def test_rows_may_be_dataclasses(job_db_url: str) -> None:
    @dataclass(frozen=True)
    class ClipRow:
        index: int
        path: str
        start_s: float
        end_s: float
        speaker: str | None = None

    job_id = _start(job_db_url)
    jobs.record_clips(job_db_url, job_id, [ClipRow(1, "clips/clip-01.mp4", 0.0, 20.0, "B")])
    clip = jobs.get_job(job_db_url, job_id).clips[0]
    assert (clip["speaker"], clip["duration_s"], clip["passed"]) == ("B", 20.0, None)
