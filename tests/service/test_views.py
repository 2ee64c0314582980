"""A job's state as the API shows it, from its submission, its job row and its flow run's
state (table-driven; pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deployments.service.views import awaiting_rerun, job_state, job_view
from tasks.jobs import JobRecord, JobStatus
from tasks.jobs.submissions import SubmissionRecord

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _sub(cancelled: bool = False) -> SubmissionRecord:
    return SubmissionRecord(
        "j1", "acme", "run-1", None, {"source": "/in/a.mp4"}, NOW, NOW if cancelled else None, None
    )


def _row(status: str, reason: str | None = None, **extra: object) -> JobRecord:
    fields = dict(
        id="j1", source_uri="/in/a.mp4", source_sha256="", settings_hash="", flow_run_id="run-1",
        status=JobStatus(status), failure_reason=reason, job_dir="/out/j1", created_at=NOW,
        finished_at=None, wall_s=None, total_usd=None,
    )  # fmt: skip
    return JobRecord(**{**fields, **extra})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cancelled", "row", "run_state", "message", "expected"),
    [
        (False, None, None, None, ("queued", None)),
        (False, None, "SCHEDULED", None, ("queued", None)),
        (False, None, "PENDING", None, ("queued", None)),
        (False, None, "RUNNING", None, ("running", None)),
        (False, _row("running"), "RUNNING", None, ("running", None)),
        (False, None, "COMPLETED", None, ("running", None)),  # its row is not written yet
        (False, _row("succeeded"), "COMPLETED", None, ("succeeded", None)),
        (False, _row("qa_failed", "QA failed"), "FAILED", "x", ("qa_failed", "QA failed")),
        (False, _row("rejected", "source: bad"), "FAILED", "x", ("rejected", "source: bad")),
        (False, None, "CRASHED", "worker died", ("failed", "worker died")),
        (False, _row("running"), "FAILED", "OOM", ("failed", "OOM")),
        (False, None, "CANCELLED", None, ("cancelled", "flow run cancelled")),
        (True, None, "SCHEDULED", None, ("cancelled", "cancelled by its client")),
        (True, _row("succeeded"), "COMPLETED", None, ("cancelled", "cancelled by its client")),
    ],
)
def test_job_state(cancelled, row, run_state, message, expected) -> None:
    assert job_state(_sub(cancelled), row, run_state, message) == expected


@pytest.mark.parametrize(
    ("run_state", "run_count", "crash_reruns", "expected"),
    [
        ("CRASHED", 1, 2, True),  # the re-run automation schedules it again
        ("CRASHED", 2, 2, True),
        ("CRASHED", 3, 2, False),  # its re-runs are used up: failed
        ("CRASHED", 0, 2, False),  # never started: not re-run
        ("CRASHED", 1, 0, False),  # no re-runs configured
        ("FAILED", 1, 2, False),  # a failure is final, whatever the re-runs
        ("RUNNING", 1, 2, False),
    ],
)
def test_a_crashed_run_awaits_a_rerun_within_the_configured_count(
    run_state, run_count, crash_reruns, expected
) -> None:
    assert awaiting_rerun(run_state, run_count, crash_reruns) is expected


def test_checks_go_to_their_clip_and_the_job() -> None:
    row = _row(
        "succeeded",
        total_usd=0.5,
        clips=(
            {"index": 1, "path": "clips/clip-01.mp4", "start_s": 1.0, "end_s": 20.0,
             "duration_s": 19.0, "text": "So, pricing is the product.", "score": 0.8,
             "speaker": "A", "passed": True},
        ),
        qa_checks=(
            {"clip_index": None, "name": "lu_spread", "passed": True, "value": 0.2,
             "threshold": 1.5},
            {"clip_index": 1, "name": "true_peak", "passed": False, "value": -0.5,
             "threshold": -1.0},
        ),
    )  # fmt: skip
    view = job_view(_sub(), row, "COMPLETED", None, url_of=lambda name: f"/files/j1/{name}")
    assert [c.name for c in view.qa_checks] == ["lu_spread"]
    assert [(c.name, c.passed) for c in view.clips[0].checks] == [("true_peak", False)]
    assert view.qa_passed is False
    assert view.clips[0].url == "/files/j1/clips/clip-01.mp4"
    assert view.clips[0].title == "Pricing is the product"
    assert (view.cost_usd, view.location) == (0.5, "/out/j1")
