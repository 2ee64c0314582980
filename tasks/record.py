"""Record: a finished job's clips, QA checks, cost items and final status in the job database."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from qa.checks import database_rows
from tasks import jobs
from tasks.retries import TRANSIENT_RETRIES


@task(name="record", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def record_job(db: str, job_id: str, report: dict[str, Any]) -> str:
    """Write what the report says (idempotent: a retried task replaces the rows); the job's
    status: succeeded, or qa_failed naming the failed checks."""
    jobs.record_clips(
        db,
        job_id,
        [
            {
                "index": c["index"],
                "path": c["path"],
                "start_s": c["start_s"],
                "end_s": c["end_s"],
                "duration_s": c["duration_s"],
                "text": c["text"],
                "score": c["score"],
                "speaker": c["speaker"],
                "passed": c["qa"]["passed"],
            }
            for c in report["clips"]
        ],
    )
    jobs.record_qa(db, job_id, database_rows(report))
    jobs.record_costs(db, job_id, report["cost"]["items"])
    failed = [c["name"] for c in report["qa"]["checks"] if not c["passed"]]
    status = jobs.JobStatus.SUCCEEDED if report["qa"]["passed"] else jobs.JobStatus.QA_FAILED
    jobs.finish_job(
        db,
        job_id,
        status,
        reason=f"QA failed: {', '.join(failed)}" if failed else None,
        wall_s=report["timings"]["wall_s"],
        total_usd=report["cost"]["total_usd"],
    )
    return str(status)
