"""What ``clipflow serve`` accepts and answers (``/api/v1``), shared by the server and
:mod:`clipflow.client`. Pure pydantic."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Aspect = Literal["9:16", "1:1", "16:9"]
Role = Literal["read", "submit", "admin"]
# queued: the flow run waits for a worker; every state but queued and running is final.
JobState = Literal["queued", "running", "succeeded", "qa_failed", "rejected", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset(
    {"succeeded", "qa_failed", "rejected", "failed", "cancelled"}
)
MAX_URI = 2048


def _location(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


class JobCreate(BaseModel):
    """A job to start: one recording (a path on the workers or ``s3://bucket/key``)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        max_length=MAX_URI, description="The recording: a path on the workers or s3://bucket/key."
    )
    transcript: str | None = Field(
        None, max_length=MAX_URI, description="Its transcript (WebVTT, SRT or JSON), optional."
    )
    out: str | None = Field(
        None,
        max_length=MAX_URI,
        description="Where the job folder goes (folder or s3:// prefix); default: the server's.",
    )
    max_clips: int = Field(5, ge=1, le=20, description="At most this many clips.")
    aspect: Aspect = Field("9:16", description="Output aspect ratio.")
    settings_block: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="A saved clipflow-settings block to start from.",
    )

    _locations = field_validator("source", "transcript", "out")(_location)


class QACheckView(BaseModel):
    name: str
    passed: bool
    value: Any = None
    threshold: Any = None


class ClipView(BaseModel):
    index: int
    url: str | None = Field(description="Download URL: presigned for S3, signed for local files.")
    title: str | None = None
    text: str | None = None
    start_s: float
    end_s: float
    duration_s: float
    score: float | None = None
    speaker: str | None = None
    passed: bool | None = None
    checks: list[QACheckView] = []


class CostItemView(BaseModel):
    stage: str
    resource: str
    quantity: float
    unit: str
    usd: float


class JobView(BaseModel):
    id: str
    client: str
    state: JobState
    source: str
    transcript: str | None = None
    max_clips: int
    aspect: str
    flow_run_id: str
    created_at: datetime
    finished_at: datetime | None = None
    error: str | None = Field(None, description="Why the job failed, was rejected or cancelled.")
    stages_done: list[str] = []
    clips: list[ClipView] = []
    qa_passed: bool | None = None
    qa_checks: list[QACheckView] = Field([], description="The job-level QA checks.")
    cost_usd: float | None = None
    cost_items: list[CostItemView] = []
    location: str | None = Field(None, description="Where the job folder is.")

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class JobPage(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class ComponentHealth(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: Literal["ok", "down"]
    checks: dict[str, ComponentHealth]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=MAX_URI,
        pattern=r"^https?://[^\s]+$",
        description="Where job events are POSTed (http or https).",
    )


class WebhookView(BaseModel):
    id: str
    url: str
    secret: str = Field(description="HMAC-SHA256 key of the X-Clipflow-Signature header.")
    created_at: datetime


class DeliveryView(BaseModel):
    webhook_id: str
    job_id: str
    event: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None


class CostDay(BaseModel):
    day: date
    usd: float


class CostSeries(BaseModel):
    days: list[CostDay]
    budget_usd: float = Field(description="The per-job cost ceiling (max_job_usd).")


class ApiError(BaseModel):
    detail: str | list[Any]
