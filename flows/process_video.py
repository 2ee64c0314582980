"""``process-video``: one recording in, at most N checked highlight clips out.

The flow only wires stages together; each stage is a task in ``tasks/`` over logic in
``media/`` and ``qa/``. Per-clip framing, render and QA run in parallel.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.loading import load_cost_rates, load_settings
from blocks.settings import CostRates, PipelineSettings
from media import highlights
from media.errors import InputError, QAError
from media.plans import plan_document
from tasks import disk, jobdb
from tasks.artifacts import ClipProgress
from tasks.common import CostItem, price, quiet_explained_failures, stable_digest
from tasks.publish import new_job_dir, publish_job, publish_to_s3, record_job, s3_write_costs
from tasks.stages import (
    frame_clip,
    ingest_source,
    ingest_transcript,
    load_plan,
    load_transcript,
    qa_clip,
    rank_highlights,
    render_clip,
    select_highlights,
)

# Failures that explain themselves (bad input, S3, a full disk) are logged as one line, in the
# CLI and in the UI alike: no traceback through Prefect's engine.
quiet_explained_failures()


@dataclass(frozen=True, slots=True)
class JobResult:
    job_id: str
    job_dir: str
    status: str  # succeeded | qa_failed
    failed_checks: tuple[str, ...]


class _Stopwatch:
    """Wall seconds per stage, for the report's ``timings``."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.stages: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(self.stages.get(name, 0.0) + now - self.last, 3)
        self.last = now

    @property
    def total(self) -> float:
        return time.perf_counter() - self.start


def _fresh_costs(outcomes: list[tuple[Any, list[CostItem]]], states: list[Any]) -> list[CostItem]:
    """Cost items of the stages that ran in this job; a stage served from cache cost nothing."""
    items: list[CostItem] = []
    for (_, costs), state in zip(outcomes, states, strict=True):
        if not state.is_completed() or state.name != "Cached":
            items.extend(costs)
    return items


def job_location(out: str, job_id: str, settings: PipelineSettings) -> tuple[Path, str | None]:
    """Where a job's files go: (the local folder its directory is made in, the S3 prefix it is
    then published to, or None for a local output folder)."""
    if out.startswith("s3://"):
        return settings.work_dir / "outbox", f"{out.rstrip('/')}/{job_id}"
    return Path(out).expanduser().resolve(), None


def plan_json(plans: list[highlights.ClipPlan], source: str, sha256: str, transcript: str) -> str:
    """The job's clips as a plan file (``clipflow run --plan`` renders it again, edited or not)."""
    doc = plan_document(plans, source=source, source_sha256=sha256, transcript_source=transcript)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _run(
    source: str,
    transcript: str | None,
    out: str,
    max_clips: int,
    settings: PipelineSettings,
    rates: CostRates,
    job_id: str,
    db: str,
    llm_block: str | None = None,
    plan: str | None = None,
    dispatch: str = "local",
) -> JobResult:
    from qa.gate import clip_row, evaluate
    from qa.report import build_report

    watch = _Stopwatch()
    local_root, remote = job_location(out, job_id, settings)
    location = remote or str(local_root / job_id)
    ingested = ingest_source(source, settings, return_state=True)
    src, _ = ingested.result()
    jobdb.start_job(
        db,
        job_id=job_id,
        source_uri=source,
        source_sha256=src.sha256,
        settings_hash=stable_digest(settings)[:16],
        job_dir=location,
        flow_run_id=_flow_run_id(),
    )
    watch.lap("ingest")
    # Before the first write that scales with the recording: its speech WAV must fit.
    disk.require_free(settings.work_dir, disk.job_floor_bytes(src.info.duration_s))

    sidecar = ingest_transcript(transcript, settings) if transcript else None
    transcribed = load_transcript(src, sidecar, transcript, settings, return_state=True)
    text, _ = transcribed.result()
    watch.lap("transcript")
    if plan:
        plans = load_plan(plan, src, text, max_clips, settings)
    else:
        plans = select_highlights(src, text, max_clips, settings)
    early = _fresh_costs([ingested.result(), transcribed.result()], [ingested, transcribed])
    selection = {"method": "offline", "reason": ""}
    llm_costs: list[CostItem] = []
    if plan:
        selection = {"method": "plan", "reason": f"clips from the plan file {plan}"}
    elif llm_block:
        spent = sum(c.usd for c in price(early, rates))
        ranked = rank_highlights(text, max_clips, llm_block, settings.max_job_usd - spent, settings)
        selection = {"method": ranked.method, "reason": ranked.reason}
        llm_costs = ranked.costs
        plans = ranked.plans if ranked.method == "llm" and ranked.plans else plans
    watch.lap("highlights")

    if dispatch == "pools":
        framed, rendered, checks, gpu_costs = _gpu_on_pools(src, plans, text, settings, out, watch)
    else:
        framing = [frame_clip.submit(src, p, text, settings) for p in plans]
        renders = [
            render_clip.submit(src, p, f, text, settings)
            for p, f in zip(plans, framing, strict=True)
        ]
        checks = [qa_clip.submit(r, settings) for r in renders]
    progress = ClipProgress(job_id, len(plans))
    if dispatch != "pools":
        framed = [f.result() for f in framing]
        watch.lap("frame")
        rendered = [r.result() for r in renders]
        watch.lap("render")
    measured = [progress.done(c.result()) for c in checks]
    watch.lap("qa_clips")

    rows = [
        clip_row(
            m,
            boundary_clean=highlights.boundary_clean(text, p.start_s, p.end_s),
            clip=f"clip-{p.index:02d}",
        )
        for p, (m, _) in zip(plans, measured, strict=True)
    ]
    costs = early + llm_costs
    if dispatch == "pools":
        costs += gpu_costs + _fresh_costs(measured, [f.state for f in checks])
    else:
        for futures, outcomes in ((framing, framed), (renders, rendered), (checks, measured)):
            costs += _fresh_costs(outcomes, [f.state for f in futures])
    if remote:
        costs += s3_write_costs([Path(r.path).stat().st_size for r, _ in rendered])
    costs = price(costs, rates)
    verdict = evaluate(rows, settings, total_usd=sum(c.usd for c in costs))
    watch.lap("qa_job")
    report = build_report(
        job_id=job_id,
        source=src,
        plans=plans,
        rendered=[r for r, _ in rendered],
        measured=[m for m, _ in measured],
        framed=[f for f, _ in framed],
        verdict=verdict,
        costs=costs,
        timings=watch.stages,
        wall_s=watch.total,
        selection=selection,
    )
    job_dir = str(new_job_dir(local_root, job_id))
    clips = {p.index: r.path for p, (r, _) in zip(plans, rendered, strict=True)}
    sidecars = {"plan.json": plan_json(plans, source, src.sha256, text.source)}
    for r, _ in rendered:
        for kind, path in r.captions.items():
            sidecars[f"clips/clip-{r.index:02d}.{kind}"] = Path(path).read_text(encoding="utf-8")
    publish_job(job_dir, clips, report, location, sidecars)
    if remote:
        publish_to_s3(job_dir, remote, settings)
    status = record_job(db, job_id, report)
    failed = tuple(c.name for c in verdict.checks if not c.passed)
    return JobResult(job_id, location, status, failed)


def _gpu_on_pools(
    src: Any,
    plans: list[highlights.ClipPlan],
    text: Any,
    settings: PipelineSettings,
    out: str,
    watch: _Stopwatch,
) -> tuple[list[Any], list[Any], list[Any], list[CostItem]]:
    """Frame and render each clip as a ``frame-and-render-clip`` run on the gpu pool (cached
    dispatch tasks, in parallel), then submit QA here: (framed, rendered, QA futures, costs).
    With an ``s3://`` output the clip files travel through ``<out>/_stages/``."""
    from tasks.dispatch import dispatch_frame_render, localise

    store = f"{out.rstrip('/')}/_stages" if out.startswith("s3://") else None
    staged = [
        dispatch_frame_render.submit(src, p, text, settings, stage_store=store) for p in plans
    ]
    outcomes = [localise(s.result(), src, settings) for s in staged]
    watch.lap("frame_render")
    framed = [f for f, _ in outcomes]
    rendered = [r for _, r in outcomes]
    checks = [qa_clip.submit(r, settings) for r in rendered]
    costs: list[CostItem] = []
    for future, (f, r) in zip(staged, outcomes, strict=True):
        if future.state.name != "Cached":  # a cached dispatch cost nothing this time
            costs += list(f[1]) + list(r[1])
    return framed, rendered, checks, costs


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def _job_id_of_this_run() -> str:
    """One job per flow run: a retried run (after a crash, or the UI's Retry) keeps its job
    id, so it resumes the same job row and job directory instead of starting another."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx else None
    if run is None or run.created is None:
        return jobdb.new_job_id()
    return jobdb.job_id_for_run(str(run.id), run.created)


@flow(
    name="process-video", task_runner=ThreadPoolTaskRunner(max_workers=2), validate_parameters=True
)
def process_video(
    source: str,
    transcript: str | None = None,
    out: str = "out",
    max_clips: int = 5,
    aspect: str = "9:16",
    job_id: str | None = None,
    settings_block: str | None = None,
    cost_rates_block: str | None = None,
    llm_block: str | None = None,
    plan: str | None = None,
    dispatch: Literal["local", "pools"] = "local",
) -> JobResult:
    """Turn one recording (local path or s3:// URI) into at most ``max_clips`` checked clips.

    Settings come from the saved ``clipflow-settings`` block named ``settings_block`` (if
    any), then ``CLIPFLOW_*`` environment variables, then this run's parameters; cost rates
    likewise from a ``clipflow-cost-rates`` block, then ``CLIPFLOW_COST_*``. With
    ``llm_block`` (a saved ``clipflow-llm-credentials`` block), an LLM chooses among the
    offline shortlist within the job's remaining budget. With ``plan`` (a plan file from
    ``clipflow plan``, local or s3://, perhaps edited), its clips are rendered instead of a
    fresh selection, each snapped to whole sentences. ``dispatch="pools"`` runs framing and
    render as ``frame-and-render-clip`` deployments on the gpu work pool (see
    :mod:`tasks.dispatch`); ``"local"`` keeps every stage in this process.
    Raises :class:`InputError` when the input is rejected and :class:`QAError` when clips
    were delivered but failed QA; the job database records either outcome.
    """
    logger = get_run_logger()
    settings = load_settings(settings_block, aspect=aspect, max_clips=max_clips)
    rates = load_cost_rates(cost_rates_block)
    db = settings.job_database_url
    jobdb.ensure_schema(db)
    job_id = job_id or _job_id_of_this_run()
    local_root, remote = job_location(out, job_id, settings)
    jobdb.start_job(
        db,
        job_id=job_id,
        source_uri=source,
        source_sha256="",
        settings_hash=stable_digest(settings)[:16],
        job_dir=remote or str(local_root / job_id),
        flow_run_id=_flow_run_id(),
    )
    try:
        result = _run(
            source,
            transcript,
            out,
            max_clips,
            settings,
            rates,
            job_id,
            db,
            llm_block,
            plan,
            dispatch,
        )
    except InputError as exc:
        jobdb.finish_job(db, job_id, jobdb.JobStatus.REJECTED, reason=str(exc))
        logger.error("rejected: %s", exc)
        raise
    except Exception as exc:
        if full := disk.as_disk_full(exc, settings.work_dir):
            jobdb.finish_job(db, job_id, jobdb.JobStatus.FAILED, reason=str(full))
            logger.error("job %s failed: %s", job_id, full)
            if full is exc:
                raise
            raise full from exc
        jobdb.finish_job(db, job_id, jobdb.JobStatus.FAILED, reason=f"{type(exc).__name__}: {exc}")
        raise
    if result.status == jobdb.JobStatus.QA_FAILED:
        raise QAError(
            f"job {job_id}: QA failed ({', '.join(result.failed_checks)}); "
            f"clips and report in {result.job_dir}"
        )
    logger.info("job %s succeeded: %s", job_id, result.job_dir)
    return result
