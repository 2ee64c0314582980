"""Transcript mode (``clipflow transcribe``): ingest and the transcript stage, nothing more.

Like plan mode it calls the stage functions the flow runs (``task.fn``, no Prefect run and no
server), so a local path or an S3 URI is fetched, checked and rejected exactly as ``clipflow
run`` would, and the words and speakers are the ones a job would choose its clips from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from blocks.settings import PipelineSettings
from flows.stopwatch import Stopwatch
from media.ingest import Source
from media.transcript.export import FORMATS
from media.transcript.records import Transcript
from media.transcript.whisper_json import parse_json, to_json

# A transcript needs no clip-length recording: accept sources down to min_clip_s's lower bound.
MIN_SOURCE_S = 3.0


@dataclass(frozen=True, slots=True)
class TranscribedRecording:
    source: Source
    transcript: Transcript
    wall_s: float
    cached: bool = False  # served from an earlier run's transcript of the same content


def transcribe_recording(source_uri: str, settings: PipelineSettings) -> TranscribedRecording:
    """Ingest the source and run the transcript stage on it (ASR, then diarization when the
    words name no speakers)."""
    # The stages import Prefect (seconds): not needed to refuse a bad --out.
    from tasks.ingest import ingest_source
    from tasks.transcript import load_transcript

    watch = Stopwatch()
    short_ok = settings.model_copy(update={"min_clip_s": MIN_SOURCE_S})
    source = ingest_source.fn(source_uri, short_ok).source
    kept = _cache_file(source, settings)
    if kept.is_file():
        text = parse_json(kept.read_text(encoding="utf-8"), name=str(kept))
        return TranscribedRecording(source, text, round(watch.total, 3), cached=True)
    text = load_transcript.fn(source, None, None, settings).transcript
    write_atomically(kept, to_json(text))
    return TranscribedRecording(source, text, round(watch.total, 3))


def _cache_file(source: Source, settings: PipelineSettings) -> Path:
    """Where the transcript of this content, these settings and this code is kept, so asking
    for another format of the same recording does not recognise the speech again (keyed like
    the flow's cached transcript stage: content, settings, code)."""
    from tasks.caching import code_digest, stable_digest
    from tasks.workdir import job_work_dir

    key = stable_digest("transcribe", code_digest(), source, settings)[:16]
    return job_work_dir(source, settings) / f"transcript-{key}.json"


def output_problem(out: str, *, force: bool) -> str | None:
    """Why ``--out`` cannot be written (S3, suffix, an existing file), before any work is done."""
    if out.startswith("s3://"):
        return f"--out {out}: write the transcript to a local file (S3 is not supported here)"
    path, allowed = Path(out).expanduser(), ", ".join(FORMATS)
    if path.suffix.lower() not in FORMATS:
        return f"--out {out}: unknown transcript format {path.suffix or '(no suffix)'!r} " + (
            f"(the suffix chooses it: {allowed})"
        )
    if path.is_dir():
        return f"--out {out}: is a directory (expected a file ending in {allowed})"
    if path.exists() and not force:
        return f"--out {out}: file exists (use --force to overwrite it)"
    return None


def write_atomically(out: Path, text: str) -> None:
    """Write ``out`` through a temporary file in its folder, renamed over it once complete, so
    a reader never sees half a transcript."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def summary(job: TranscribedRecording) -> str:
    """One line for stderr: engine and model, language, words, speakers, seconds."""
    t = job.transcript
    engine = t.source.removeprefix("asr:")
    if t.model:
        engine += f" ({t.model})"
    who = ", ".join(t.speakers)
    speakers = f"{len(t.speakers)} speakers ({who})" if who else "speakers unknown"
    return (
        f"{job.source.name}: {engine}, language {t.language or 'unknown'}, "
        f"{len(t.words)} words, {speakers}, {job.source.info.duration_s:.1f} s of audio "
        f"in {job.wall_s:.1f} s" + (" (cached)" if job.cached else "")
    )
