"""A ``process-video`` job's bookkeeping: its id, where its files go, and its row in the job
database (running, then its outcome)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from blocks.settings import PipelineSettings
from media.errors import InputError
from tasks import disk, jobs
from tasks.caching import settings_hash


@dataclass(frozen=True, slots=True)
class JobResult:
    job_id: str
    job_dir: str
    status: str  # succeeded | qa_failed
    failed_checks: tuple[str, ...]


def job_location(out: str, job_id: str, settings: PipelineSettings) -> tuple[Path, str | None]:
    """Where a job's files go: (the local folder its directory is made in, the S3 prefix it is
    then published to, or None for a local output folder)."""
    if out.startswith("s3://"):
        return settings.work_dir / "outbox", f"{out.rstrip('/')}/{job_id}"
    return Path(out).expanduser().resolve(), None


@dataclass(frozen=True, slots=True)
class JobRun:
    """One job in progress: who it is, where its files go, and where it is recorded."""

    id: str
    source_uri: str
    db: str
    settings_hash: str
    local_root: Path  # the folder its job directory is made in
    remote: str | None  # the S3 prefix the job directory is then published to

    @classmethod
    def open(cls, job_id: str, source_uri: str, out: str, settings: PipelineSettings) -> JobRun:
        """The job, recorded as running before anything can fail (its content not known yet)."""
        db = settings.job_database_url
        jobs.ensure_schema(db)
        local_root, remote = job_location(out, job_id, settings)
        run = cls(job_id, source_uri, db, settings_hash(settings), local_root, remote)
        run.start(source_sha256="")
        return run

    @property
    def location(self) -> str:
        """Where the job directory ends up (a local path or an ``s3://`` URI)."""
        return self.remote or str(self.local_root / self.id)

    def start(self, source_sha256: str) -> None:
        """(Re)record the job as running; once ingest knows it, with the content's sha256."""
        jobs.start_job(
            self.db,
            job_id=self.id,
            source_uri=self.source_uri,
            source_sha256=source_sha256,
            settings_hash=self.settings_hash,
            job_dir=self.location,
            flow_run_id=flow_run_id(),
        )

    @contextmanager
    def recording_failures(self, work_dir: Path) -> Iterator[None]:
        """Record a failure inside as the job's outcome and re-raise it: rejected (bad input),
        or failed (a full disk named as such, anything else with its type)."""
        from prefect import get_run_logger

        try:
            yield
        except InputError as exc:
            jobs.finish_job(self.db, self.id, jobs.JobStatus.REJECTED, reason=str(exc))
            get_run_logger().error("rejected: %s", exc)
            raise
        except Exception as exc:
            if full := disk.as_disk_full(exc, work_dir):
                jobs.finish_job(self.db, self.id, jobs.JobStatus.FAILED, reason=str(full))
                get_run_logger().error("job %s failed: %s", self.id, full)
                if full is exc:
                    raise
                raise full from exc
            reason = f"{type(exc).__name__}: {exc}"
            jobs.finish_job(self.db, self.id, jobs.JobStatus.FAILED, reason=reason)
            raise


def flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def job_id_of_this_run() -> str:
    """One job per flow run: a retried run (after a crash, or the UI's Retry) keeps its job
    id, so it resumes the same job row and job directory instead of starting another."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx else None
    if run is None or run.created is None:
        return jobs.new_job_id()
    return jobs.job_id_for_run(str(run.id), run.created)
