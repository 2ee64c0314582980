"""``process-video``: one recording in, at most N checked highlight clips out.

The flow only wires stages together; each stage is a task in ``tasks/`` over logic in
``media/`` and ``qa/``. Per-clip framing, render and QA run in parallel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.settings import PipelineSettings
from media import highlights
from media.errors import InputError, QAError
from tasks import jobdb
from tasks.common import CostItem, stable_digest
from tasks.stages import (
    frame_clip,
    ingest_source,
    ingest_transcript,
    load_transcript,
    publish_clip,
    qa_clip,
    render_clip,
    select_highlights,
)


@dataclass(frozen=True, slots=True)
class JobResult:
    job_id: str
    job_dir: str
    status: str  # succeeded | qa_failed
    failed_checks: tuple[str, ...]


def _new_job_dir(out: Path, job_id: str) -> Path:
    job_dir = out / job_id
    job_dir.mkdir(parents=True, exist_ok=False)  # never reuse, never overwrite
    return job_dir


def _costs_of(state_results: list[tuple[Any, list[CostItem]]], states: list[Any]):
    """Cost items of the stages that ran in this job (a cached stage cost nothing now)."""
    items: list[CostItem] = []
    for (_, costs), state in zip(state_results, states, strict=True):
        if getattr(state, "name", "") != "Cached":
            items.extend(costs)
    return items


def _run(source: str, transcript: str | None, out: Path, max_clips: int,
         settings: PipelineSettings, job_id: str, db: str, timings: dict[str, float]):
    from qa.gate import clip_row, evaluate
    from qa.report import write_report
    from tasks.artifacts import publish_job_artifacts

    t0 = time.perf_counter()

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - start, 3)
        return now

    t = t0
    ingest_state = ingest_source(source, settings, return_state=True)
    src, ingest_costs = ingest_state.result()
    t = lap("ingest", t)
    settings_hash = stable_digest(settings)[:16]
    jobdb.start_job(db, job_id=job_id, source_uri=source, source_sha256=src.sha256,
                    settings_hash=settings_hash, job_dir=str(out / job_id))

    sidecar = ingest_transcript(transcript, settings) if transcript else None
    text_state = load_transcript(src, sidecar, transcript, settings, return_state=True)
    text, text_costs = text_state.result()
    t = lap("transcript", t)
    plans = select_highlights(src, text, max_clips, settings)
    t = lap("highlights", t)

    framed = [frame_clip.submit(src, p, text, settings) for p in plans]
    rendered = [render_clip.submit(src, p, f, settings) for p, f in zip(plans, framed,
                                                                          strict=True)]
    measured = [qa_clip.submit(r, settings) for r in rendered]
    frame_results = [f.result() for f in framed]
    t = lap("frame", t)
    render_results = [r.result() for r in rendered]
    t = lap("render", t)
    qa_results = [m.result() for m in measured]
    t = lap("qa_clips", t)

    costs = _costs_of([(None, ingest_costs), (None, text_costs)], [ingest_state, text_state])
    costs += _costs_of(frame_results, [f.state for f in framed])
    costs += _costs_of(render_results, [r.state for r in rendered])
    costs += _costs_of(qa_results, [m.state for m in measured])

    job_dir = _new_job_dir(out, job_id)
    rows = []
    for plan, (clip, _), (m, _) in zip(plans, render_results, qa_results, strict=True):
        clean = highlights.boundary_clean(text, plan.start_s, plan.end_s)
        rows.append(clip_row(m, boundary_clean=clean, clip=f"clip-{plan.index:02d}"))
        publish_clip(clip, job_dir / "clips")
    verdict = evaluate(rows, settings)
    t = lap("qa_job", t)

    report = build_report(job_id, src, plans, render_results, qa_results, frame_results,
                          verdict, costs, timings, time.perf_counter() - t0)
    write_report(job_dir, report)  # last: a report always describes complete files
    publish_job_artifacts(report, str(job_dir))
    status = jobdb.JobStatus.SUCCEEDED if verdict.passed else jobdb.JobStatus.QA_FAILED
    _record(db, job_id, report)
    failed = tuple(c.name for c in verdict.checks if not c.passed)
    jobdb.finish_job(db, job_id, status, reason="QA failed: " + ", ".join(failed) if failed
                     else None, wall_s=report["timings"]["wall_s"],
                     total_usd=report["cost"]["total_usd"])
    lap("publish", t)
    return JobResult(job_id, str(job_dir), str(status), failed)


def build_report(job_id, src, plans, render_results, qa_results, frame_results, verdict, costs,
                 timings, wall_s) -> dict[str, Any]:
    """The ``report.json`` contract (ARCHITECTURE.md), extended with titles and sub-scores."""
    clips = []
    for i, (plan, (clip, _), (m, _), (fr, _)) in enumerate(
            zip(plans, render_results, qa_results, frame_results, strict=True)):
        codec = asdict(m.codec)
        failed = list(verdict.clip_failures[i]) if i < len(verdict.clip_failures) else []
        clips.append({
            "index": plan.index, "path": f"clips/clip-{plan.index:02d}.mp4",
            "start_s": plan.start_s, "end_s": plan.end_s,
            "duration_s": round(plan.duration_s, 3), "text": plan.text, "score": plan.score,
            "speaker": plan.speaker, "title": plan.title, "sub_scores": plan.sub_scores,
            "framing": {"layout": fr.layout, "crop_w": fr.crop_w, "crop_h": fr.crop_h,
                        "keys": len(fr.keys)},
            "encoder": clip.encoder,
            "qa": {"integrated_lufs": m.integrated_lufs, "true_peak_dbtp": m.true_peak_dbtp,
                   "face_centered_ratio": m.face_centered_ratio,
                   "decode_errors": m.decode_errors, "duration_s": m.duration_s,
                   "codec": codec, "passed": not failed, "failed_checks": failed},
        })
    total = round(sum(c.usd for c in costs), 6)
    return {
        "job_id": job_id,
        "source": {"uri": src.uri, "sha256": src.sha256, "duration_s": src.info.duration_s,
                   "width": src.info.video[0].width, "height": src.info.video[0].height,
                   "fps": src.info.video[0].fps},
        "clips": clips,
        "qa": {"lu_spread": verdict.lu_spread, "passed": verdict.passed,
               "checks": [asdict(c) for c in verdict.checks]},
        "cost": {"total_usd": total, "items": [asdict(c) for c in costs]},
        "timings": {"wall_s": round(wall_s, 3), "stages": dict(timings)},
    }


def _record(db: str, job_id: str, report: dict[str, Any]) -> None:
    jobdb.record_clips(db, job_id, [
        {"index": c["index"], "path": c["path"], "start_s": c["start_s"], "end_s": c["end_s"],
         "duration_s": c["duration_s"], "text": c["text"], "score": c["score"],
         "speaker": c["speaker"], "passed": c["qa"]["passed"]} for c in report["clips"]])
    jobdb.record_qa(db, job_id, [{"clip_index": None, **c} for c in report["qa"]["checks"]])
    jobdb.record_costs(db, job_id, report["cost"]["items"])


@flow(name="process-video", task_runner=ThreadPoolTaskRunner(max_workers=2),
      validate_parameters=True)
def process_video(source: str, transcript: str | None = None, out: str = "out",
                  max_clips: int = 5, aspect: str = "9:16", job_id: str | None = None) -> JobResult:
    """Turn one recording (local path or s3:// URI) into at most ``max_clips`` checked clips."""
    logger = get_run_logger()
    settings = PipelineSettings(aspect=aspect, max_clips=max_clips)  # validates both
    db = settings.job_database_url
    jobdb.ensure_schema(db)
    job_id = job_id or jobdb.new_job_id()
    out_dir = Path(out).expanduser().resolve()
    jobdb.start_job(db, job_id=job_id, source_uri=source, source_sha256="",
                    settings_hash=stable_digest(settings)[:16], job_dir=str(out_dir / job_id))
    timings: dict[str, float] = {}
    try:
        result = _run(source, transcript, out_dir, max_clips, settings, job_id, db, timings)
    except InputError as exc:
        jobdb.finish_job(db, job_id, jobdb.JobStatus.REJECTED, reason=str(exc))
        logger.error("rejected: %s", exc)
        raise
    except Exception as exc:
        jobdb.finish_job(db, job_id, jobdb.JobStatus.FAILED, reason=f"{type(exc).__name__}: {exc}")
        raise
    if result.status == jobdb.JobStatus.QA_FAILED:
        raise QAError(f"job {job_id}: QA failed ({', '.join(result.failed_checks)}); "
                      f"clips and report in {result.job_dir}")
    logger.info("job %s succeeded: %s", job_id, result.job_dir)
    return result
