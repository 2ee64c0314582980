"""``process-video``: one recording in, at most N checked highlight clips out.

The flow only wires stages together (docs/ARCHITECTURE.md, "One job, as data flows through
it"): each stage is a task in ``tasks/`` over logic in ``media/`` and ``qa/``, handing the next
a frozen record. Per-clip framing, render and QA run in parallel, in this process or with
framing and render on the gpu pool (:mod:`flows.per_clip`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.loading import load_cost_rates, load_settings
from blocks.settings import CostRates, PipelineSettings
from flows.job import JobResult, JobRun, job_id_of_this_run
from flows.per_clip import RUNNERS, ClipBatch, ClipResult, Dispatch
from flows.stopwatch import Stopwatch
from media.errors import QAError
from media.ingest import Source
from media.selection.candidates import ClipPlan, boundary_clean
from media.selection.plan_file import plan_document
from media.transcript.records import Transcript
from tasks import disk, stage_log
from tasks.allowlist import check_deployment_run
from tasks.artifacts import ClipProgress
from tasks.costs import Costed, CostLedger, s3_write_costs
from tasks.failures import quiet_explained_failures
from tasks.ingest import ingest_source, ingest_transcript
from tasks.jobs import JobStatus
from tasks.publish import job_texts, new_job_dir, publish_job, publish_to_s3
from tasks.record import record_job
from tasks.records import Selection
from tasks.selection import load_plan_file, rank_highlights, select_highlights
from tasks.sidecars import find_sidecar
from tasks.stage_facts import (
    cost_summary,
    selection_summary,
    source_summary,
    transcript_summary,
    verdict_summary,
)
from tasks.transcript import load_transcript

# Failures that explain themselves (bad input, S3, a full disk) are logged as one line, in the
# CLI and in the UI alike: no traceback through Prefect's engine.
quiet_explained_failures()

R = TypeVar("R", bound=Costed)


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What a run of ``process-video`` was asked for (its parameters, settings aside)."""

    source: str
    transcript: str | None
    out: str
    max_clips: int
    llm_block: str | None
    plan_file: str | None
    dispatch: Dispatch


def _run(
    job: JobRun, request: JobRequest, settings: PipelineSettings, rates: CostRates
) -> JobResult:
    """The job's stages, in order."""
    from qa.gate import evaluate
    from qa.report import build_report, transcript_facts

    watch, ledger = Stopwatch(), CostLedger()
    stage_log.started("ingest")
    src = _ran(ingest_source(request.source, settings, return_state=True), ledger).source
    job.start(source_sha256=src.sha256)
    watch.lap("ingest")
    stage_log.finished("ingest", source_summary(src))
    stage_log.started("transcript")
    # Before the first write that scales with the recording: its speech WAV must fit.
    disk.require_free(settings.work_dir, disk.job_floor_bytes(src.info.duration_s))
    # No transcript given with an S3 recording: one uploaded beside it is used if it comes.
    given = request.transcript or find_sidecar(request.source, settings)
    sidecar = ingest_transcript(given, settings) if given else None
    transcribed = load_transcript(src, sidecar, given, settings, return_state=True)
    text = _ran(transcribed, ledger).transcript
    watch.lap("transcript")
    stage_log.finished("transcript", transcript_summary(text))
    stage_log.started("selection")
    selection = _select(src, text, request, settings, ledger.priced(rates).total_usd)
    ledger.add(selection)
    watch.lap("highlights")
    stage_log.finished(
        "selection",
        selection_summary(selection),
        clips=len(selection.clips),
        durations=tuple(c.duration_s for c in selection.clips),
    )
    batch = ClipBatch(src, text, selection.clips, settings, request.out)
    progress = ClipProgress(job.id, len(selection.clips))
    results = RUNNERS[request.dispatch](batch, ledger, watch, progress)
    if job.remote:
        ledger.extend(s3_write_costs(Path(r.rendered.path).stat().st_size for r in results))
    costs = ledger.priced(rates)
    stage_log.started("verdict")
    verdict = evaluate(_qa_rows(results, text), settings, total_usd=costs.total_usd)
    watch.lap("qa_job")
    stage_log.finished("verdict", verdict_summary(verdict, [r.clip for r in results]))
    stage_log.finished("cost", cost_summary(costs.items))
    report = build_report(
        job_id=job.id,
        source=src,
        plans=[r.clip for r in results],
        rendered=[r.rendered for r in results],
        measured=[r.measurements for r in results],
        framed=[r.framing for r in results],
        verdict=verdict,
        costs=list(costs.items),
        timings=watch.stages,
        wall_s=watch.total,
        selection={"method": selection.method, "reason": selection.reason},
        # Where the words came from; "uri": the sidecar's (given or found beside the source).
        transcript={**transcript_facts(text), "uri": given},
    )
    stage_log.started("publish")
    _publish(job, request, src, text, results, report, settings)
    status = record_job(job.db, job.id, report)
    stage_log.finished("publish", job.location)
    failed = tuple(c.name for c in verdict.checks if not c.passed)
    return JobResult(job.id, job.location, status, failed)


def _ran(state: State[R], ledger: CostLedger) -> R:
    """A finished stage's record, its costs added to the ledger unless it came from cache."""
    record: R = state.result()
    ledger.add(record, state)
    return record


def _select(
    src: Source,
    text: Transcript,
    request: JobRequest,
    settings: PipelineSettings,
    spent_usd: float,
) -> Selection:
    """The clips of the plan file when one is given; else the offline choice, handed to an LLM
    to choose among when a block names one (with what the job may still spend)."""
    if request.plan_file:
        return load_plan_file(request.plan_file, src, text, request.max_clips, settings)
    offline = select_highlights(src, text, request.max_clips, settings)
    if not request.llm_block:
        return offline
    budget = settings.max_job_usd - spent_usd
    return rank_highlights(text, offline, request.max_clips, request.llm_block, budget, settings)


def _qa_rows(results: list[ClipResult], text: Transcript) -> list[dict[str, Any]]:
    """The QA gate's rows: each clip's measurements, and whether it starts and ends on whole
    sentences of the transcript."""
    from qa.gate import clip_row

    return [
        clip_row(
            r.measurements,
            boundary_clean=boundary_clean(text, r.clip.start_s, r.clip.end_s),
            clip=f"clip-{r.clip.index:02d}",
        )
        for r in results
    ]


def plan_json(clips: list[ClipPlan], source: str, sha256: str, transcript: str) -> str:
    """The job's clips as a plan file (``clipflow run --plan`` renders it again, edited or not)."""
    doc = plan_document(clips, source=source, source_sha256=sha256, transcript_source=transcript)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _publish(
    job: JobRun,
    request: JobRequest,
    src: Source,
    text: Transcript,
    results: list[ClipResult],
    report: dict[str, Any],
    settings: PipelineSettings,
) -> None:
    """The job directory (clips, captions, the plan, the report last) in the output folder,
    or staged locally and uploaded below the output's S3 prefix."""
    rendered = [r.rendered for r in results]
    plan_text = plan_json([r.clip for r in results], request.source, src.sha256, text.source)
    job_dir = str(new_job_dir(job.local_root, job.id))
    clips = {r.index: r.path for r in rendered}
    publish_job(job_dir, clips, report, job.location, job_texts(plan_text, rendered))
    if job.remote:
        publish_to_s3(job_dir, job.remote, settings)


@flow(
    name="process-video",
    # Prefect's hint wants TaskRunner[PrefectFuture], which its own thread-pool runner is not.
    task_runner=ThreadPoolTaskRunner(max_workers=2),  # type: ignore[arg-type]
    validate_parameters=True,
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
    plan_file: str | None = None,
    dispatch: Dispatch = "local",
) -> JobResult:
    """Turn one recording (local path or s3:// URI) into at most ``max_clips`` checked clips.

    Settings come from the saved ``clipflow-settings`` block named ``settings_block`` (if
    any), then ``CLIPFLOW_*`` environment variables, then this run's parameters; cost rates
    likewise from a ``clipflow-cost-rates`` block, then ``CLIPFLOW_COST_*``. With
    ``llm_block`` (a saved ``clipflow-llm-credentials`` block), an LLM chooses among the
    offline shortlist within the job's remaining budget. With ``plan_file`` (from ``clipflow
    plan``, local or s3://, perhaps edited), its clips are rendered instead of a fresh
    selection, each snapped to whole sentences. ``dispatch="pools"`` runs framing and render
    as ``frame-and-render-clip`` deployments on the gpu work pool; ``"local"`` keeps every
    stage in this process. Raises :class:`InputError` when the input is rejected and
    :class:`QAError` when clips were delivered but failed QA; the job database records either.
    """
    stage_log.send_run_logs_to_api()
    settings = load_settings(settings_block, aspect=aspect, max_clips=max_clips)
    rates = load_cost_rates(cost_rates_block)
    job = JobRun.open(job_id or job_id_of_this_run(), source, out, settings)
    request = JobRequest(source, transcript, out, max_clips, llm_block, plan_file, dispatch)
    with job.recording_failures(settings.work_dir):
        # A deployment run (API, UI, events) reads and writes only where the settings allow.
        where = {"source": source, "transcript": transcript, "out": out, "plan_file": plan_file}
        check_deployment_run(where, settings)
        result = _run(job, request, settings, rates)
    if result.status == JobStatus.QA_FAILED:
        raise QAError(
            f"job {job.id}: QA failed ({', '.join(result.failed_checks)}); "
            f"clips and report in {result.job_dir}"
        )
    get_run_logger().info("job %s succeeded: %s", job.id, result.job_dir)
    return result
