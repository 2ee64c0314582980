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
from tasks.ingest import ingest_source
from tasks.transcript import load_transcript

# A transcript needs no clip-length recording: accept sources down to min_clip_s's lower bound.
MIN_SOURCE_S = 3.0


@dataclass(frozen=True, slots=True)
class TranscribedRecording:
    source: Source
    transcript: Transcript
    wall_s: float


def transcribe_recording(source_uri: str, settings: PipelineSettings) -> TranscribedRecording:
    """Ingest the source and run the transcript stage on it (ASR, then diarization when the
    words name no speakers)."""
    watch = Stopwatch()
    short_ok = settings.model_copy(update={"min_clip_s": MIN_SOURCE_S})
    source = ingest_source.fn(source_uri, short_ok).source
    text = load_transcript.fn(source, None, None, settings).transcript
    return TranscribedRecording(source, text, round(watch.total, 3))


def output_problem(out: Path, *, force: bool) -> str | None:
    """Why ``--out`` cannot be written (suffix, an existing file), before any work is done."""
    if out.suffix.lower() not in FORMATS:
        allowed = ", ".join(FORMATS)
        return f"--out {out}: unknown transcript format {out.suffix or '(no suffix)'!r} " + (
            f"(the suffix chooses it: {allowed})"
        )
    if out.is_dir():
        return f"--out {out}: is a directory (expected a file ending in {', '.join(FORMATS)})"
    if out.exists() and not force:
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
        f"in {job.wall_s:.1f} s"
    )
