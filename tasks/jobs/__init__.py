"""The job database: one row per job, with its clips, QA checks and cost items.

:mod:`~tasks.jobs.models` holds the tables, :mod:`~tasks.jobs.engine` the engines and the
Alembic-versioned schema, :mod:`~tasks.jobs.repository` what the pipeline reads and writes.
The names below are the package's API: ``from tasks import jobs; jobs.get_job(url, job_id)``.
"""

from __future__ import annotations

from tasks.jobs.engine import (
    MIGRATIONS_DIR,
    Database,
    alembic_config,
    dispose_engine,
    ensure_schema,
    get_engine,
)
from tasks.jobs.models import Base, JobNotFoundError, JobStatus
from tasks.jobs.repository import (
    JobRecord,
    find_succeeded,
    finish_job,
    get_job,
    job_id_for_run,
    jobs_of_flow_runs,
    jsonable,
    new_job_id,
    record_clips,
    record_costs,
    record_qa,
    start_job,
)
from tasks.jobs.service_tables import Role

__all__ = [
    "MIGRATIONS_DIR",
    "Base",
    "Database",
    "JobNotFoundError",
    "JobRecord",
    "JobStatus",
    "Role",
    "alembic_config",
    "dispose_engine",
    "ensure_schema",
    "find_succeeded",
    "finish_job",
    "get_engine",
    "get_job",
    "job_id_for_run",
    "jobs_of_flow_runs",
    "jsonable",
    "new_job_id",
    "record_clips",
    "record_costs",
    "record_qa",
    "start_job",
]
