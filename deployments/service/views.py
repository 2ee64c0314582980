"""A job as the API shows it, assembled from its submission, its job row (once the flow run
has started) and its flow run. Pure: the callers read the three and the download URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clipflow.schemas import ClipView, CostItemView, JobState, JobView, QACheckView
from media.selection.titles import clip_title
from tasks.jobs import JobRecord
from tasks.jobs.submissions import SubmissionRecord

_RUN_STATES: dict[str, JobState] = {
    "SCHEDULED": "queued",
    "PENDING": "queued",
    "PAUSED": "queued",
    "RUNNING": "running",
    "CANCELLING": "running",
    "COMPLETED": "succeeded",
    "FAILED": "failed",
    "CRASHED": "failed",
    "CANCELLED": "cancelled",
}


def awaiting_rerun(run_state: str | None, run_count: int, crash_reruns: int) -> bool:
    """A crashed run that the stack's re-run automation schedules again (deployments/recovery.py,
    at most ``crash_reruns`` times): the job is queued for another attempt, not failed."""
    return run_state == "CRASHED" and 1 <= run_count <= crash_reruns


def job_state(
    sub: SubmissionRecord, job: JobRecord | None, run_state: str | None, run_message: str | None
) -> tuple[JobState, str | None]:
    """The job's state and, for one that did not succeed, why."""
    if sub.cancelled_at is not None:
        return "cancelled", "cancelled by its client"
    if job is not None and str(job.status) != "running":
        status: JobState = str(job.status)  # type: ignore[assignment]
        return status, job.failure_reason
    state = _RUN_STATES.get(run_state or "SCHEDULED", "queued")
    if state == "succeeded" and job is None:
        state = "running"  # the run ended but its job row is not written yet: look again
    if state in ("failed", "cancelled"):
        return state, run_message or f"flow run {run_state.lower() if run_state else ''}"
    return state, None


def job_view(
    sub: SubmissionRecord,
    job: JobRecord | None,
    run_state: str | None,
    run_message: str | None,
    *,
    url_of: Callable[[str], str | None],
    titles: dict[int, str] | None = None,
    stages_done: list[str] | None = None,
) -> JobView:
    """The API's view of one job; ``url_of(name)`` makes a download URL for a job file."""
    state, error = job_state(sub, job, run_state, run_message)
    request: dict[str, Any] = sub.request
    view = JobView(
        id=sub.job_id,
        client=sub.client,
        state=state,
        source=request["source"],
        transcript=request.get("transcript"),
        max_clips=request.get("max_clips", 5),
        aspect=request.get("aspect", "9:16"),
        flow_run_id=sub.flow_run_id,
        created_at=sub.created_at,
        error=error,
        stages_done=stages_done or [],
    )
    if job is None:
        return view
    titles = titles or {}
    checks = [QACheckView(**_check(q)) for q in job.qa_checks]
    view.finished_at = job.finished_at
    view.location = job.job_dir
    view.clips = [
        ClipView(
            index=c["index"],
            url=url_of(c["path"]) if job.job_dir else None,
            title=titles.get(c["index"]) or (clip_title(c["text"]) if c["text"] else None),
            text=c["text"],
            start_s=c["start_s"],
            end_s=c["end_s"],
            duration_s=c["duration_s"],
            score=c["score"],
            speaker=c["speaker"],
            passed=c["passed"],
            checks=[q for q, row in zip(checks, job.qa_checks, strict=True) if _of(row, c)],
        )
        for c in job.clips
    ]
    job_checks = [
        q for q, row in zip(checks, job.qa_checks, strict=True) if row["clip_index"] is None
    ]
    view.qa_checks = job_checks
    view.qa_passed = all(q.passed for q in checks) if checks else None
    view.cost_usd = job.total_usd
    view.cost_items = [CostItemView(**item) for item in job.cost_items]
    return view


def _check(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("name", "passed", "value", "threshold")}


def _of(row: dict[str, Any], clip: dict[str, Any]) -> bool:
    return bool(row["clip_index"] == clip["index"])
