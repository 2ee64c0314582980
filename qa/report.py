"""The job report: ``report.json`` (the contract in docs/ARCHITECTURE.md, "Output contract")
and its page, ``report.html`` (:mod:`qa.page`).

``build_report`` is pure (records in, dict out); the per-check parts come from the gate's
verdict and the declarations in :mod:`qa.checks`. ``write_report`` is the one side effect: it
reads the published clips once each (one ffmpeg call per clip for a thumbnail strip) and
writes both files atomically (temp file + rename), so a reader never sees half a report; the
caller writes the report after the clips it describes.
"""

from __future__ import annotations

import base64
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from media import ffmpeg
from media.errors import MediaError
from media.framing.summary import framing_record
from qa import plots
from qa.checks import described
from qa.page import Thumb, to_html
from qa.records import ClipMeasurements, JobQA

if TYPE_CHECKING:
    from dataclasses import Field

    from media.framing.framing_plan import FramingPlan
    from media.ingest import Source
    from media.selection.candidates import ClipPlan
    from media.transcript.records import Transcript

REPORT_HZ = 2.0  # series in report.json: at most this many points per second
THUMB_FRAMES, THUMB_WIDTH = 6, 120  # thumbnail strip: frames across the clip, px per frame
THUMB_TIMEOUT_S = 60.0


class Rendered(Protocol):
    """What the report reads of a rendered clip."""

    @property
    def encoder(self) -> str: ...

    @property
    def audio_renders(self) -> int: ...


class Cost(Protocol):
    """A ledger item (a dataclass: written as is): what the report reads of it."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def stage(self) -> str: ...

    @property
    def usd(self) -> float: ...


def write_atomic(path: Path, text: str) -> None:
    """Temp file + rename; world-readable like the clips (mkstemp would leave it 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _finite(value: object) -> object:
    """JSON has no infinities: a silent clip's −inf loudness is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def to_json(report: Mapping[str, Any]) -> str:
    """Strict JSON (no NaN/Infinity tokens), so every JSON reader can load the report."""
    return json.dumps(_finite(report), indent=2, allow_nan=False, default=str) + "\n"


# --- thumbnails: one ffmpeg call per clip, at write time -----------------------------------


def thumbnail_argv(
    path: str, duration_s: float, frames: int = THUMB_FRAMES, width: int = THUMB_WIDTH
) -> list[str]:
    """ffmpeg argv: ``frames`` evenly spaced frames, scaled and tiled into one JPEG on stdout."""
    rate = frames / max(duration_s, 0.1)
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(path)
        + [
            "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", f"fps={rate:.6f},scale={width}:-2,tile={frames}x1",
            "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "5", "-f", "image2pipe", "pipe:1",
        ]
    )  # fmt: skip


def thumbnail(path: Path, duration_s: float) -> Thumb:
    """The strip of one published clip; a missing or undecodable file gives a note instead."""
    if not path.is_file():
        return Thumb(None, f"no thumbnails: {path.name} is missing")
    try:
        jpeg = ffmpeg.run(thumbnail_argv(str(path), duration_s), timeout_s=THUMB_TIMEOUT_S).stdout
    except MediaError as exc:
        first = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        return Thumb(None, f"no thumbnails: ffmpeg could not decode {path.name} ({first})")
    if not jpeg:
        return Thumb(None, f"no thumbnails: {path.name} has no video frame")
    return Thumb("data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii"))


def write_report(job_dir: Path, report: dict[str, Any]) -> None:
    """``report.json`` then ``report.html`` (with thumbnails of the clips in ``job_dir``)."""
    thumbs = {
        c["index"]: thumbnail(job_dir / c["path"], float(c.get("duration_s") or 0.0))
        for c in report.get("clips", [])
    }
    write_atomic(job_dir / "report.json", to_json(report))
    write_atomic(job_dir / "report.html", to_html(report, thumbs))


# --- report.json ------------------------------------------------------------------------------


def _series(points: Sequence[Sequence[float]], digits: int = 2) -> list[list[float]]:
    """``[[t, v, …], …]`` at most :data:`REPORT_HZ` per second, non-finite samples skipped."""
    return [
        [round(t, 3), *(round(v, digits) for v in vs)] for t, *vs in plots.thin(points, REPORT_HZ)
    ]


def _stage_totals(costs: Sequence[Cost]) -> dict[str, float]:
    """USD per stage, in the order stages first appear in the ledger."""
    totals: dict[str, float] = {}
    for item in costs:
        totals[item.stage] = round(totals.get(item.stage, 0.0) + item.usd, 8)
    return totals


def clip_qa(m: ClipMeasurements, verdict: JobQA, i: int) -> dict[str, Any]:
    """A clip's ``qa`` block: its measurements (the contract's fields, codec nested), the
    verdict on it and each per-clip check with the clip's own value."""
    checks = verdict.clip_checks[i] if i < len(verdict.clip_checks) else ()
    measured = {k: v for k, v in asdict(m).items() if k != "momentary"}
    return {
        **measured,
        "passed": all(c.passed for c in checks),
        "failed_checks": [c.name for c in checks if not c.passed],
        "checks": [asdict(c) for c in checks],
        "momentary_lufs": _series(m.momentary),
    }


def build_report(
    *,
    job_id: str,
    source: Source,
    plans: Sequence[ClipPlan],
    rendered: Sequence[Rendered],
    measured: Sequence[ClipMeasurements],
    framed: Sequence[FramingPlan],
    verdict: JobQA,
    costs: Sequence[Cost],
    timings: Mapping[str, float],
    wall_s: float,
    selection: Mapping[str, str] | None = None,
    transcript: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``report.json`` contract (docs/ARCHITECTURE.md), extended with titles, sub-scores,
    framing (crop keys, the followed face at ≤ 2 Hz), the momentary loudness at ≤ 2 Hz, the
    encoder and audio renders, each clip's own check results, and a label, unit and scope per
    check. Inputs are the stages' records, one per clip in plan order."""
    clips = []
    for i, (plan, clip, m, fr) in enumerate(zip(plans, rendered, measured, framed, strict=True)):
        clips.append(
            {
                "index": plan.index,
                "path": f"clips/clip-{plan.index:02d}.mp4",
                "start_s": plan.start_s,
                "end_s": plan.end_s,
                "duration_s": round(plan.duration_s, 3),
                "text": plan.text,
                "score": plan.score,
                "speaker": plan.speaker,
                "speakers": list(plan.speakers or [plan.speaker]),
                "topic": plan.topic,
                "title": plan.title,
                "sub_scores": plan.sub_scores,
                "captions": {
                    "srt": f"clips/clip-{plan.index:02d}.srt",
                    "vtt": f"clips/clip-{plan.index:02d}.vtt",
                },
                "framing": {
                    **framing_record(fr, plan.duration_s, m.codec.fps or 30.0),
                    "face_track": _series(fr.face_track, 1),
                },
                "encoder": clip.encoder,
                # Audio renders it took to land on the loudness target (1 unless the encoder
                # moved the loudness off the previewed gain, or past the true-peak ceiling).
                "audio_renders": clip.audio_renders,
                "qa": clip_qa(m, verdict, i),
            }
        )
    video = source.info.video[0]
    return {
        "job_id": job_id,
        "source": {
            "uri": source.uri,
            "sha256": source.sha256,
            "duration_s": source.info.duration_s,
            "width": video.width,
            "height": video.height,
            "fps": video.fps,
        },
        "clips": clips,
        "qa": {
            "lu_spread": verdict.lu_spread,
            "passed": verdict.passed,
            "checks": [described(asdict(c)) for c in verdict.checks],
        },
        "cost": {
            "stages": _stage_totals(costs),
            "total_usd": round(sum(c.usd for c in costs), 6),
            "items": [asdict(c) for c in costs],
        },
        "timings": {"wall_s": round(wall_s, 3), "stages": dict(timings)},
        # How the clips were chosen: "offline" (the scorer) or "llm", and why it fell back.
        "selection": dict(selection) if selection else {"method": "offline", "reason": ""},
        # Where the words came from: a sidecar's format or the recogniser that ran.
        "transcript": dict(transcript) if transcript else {},
    }


def transcript_facts(transcript: Transcript) -> dict[str, Any]:
    """The report's transcript section: source ("vtt", "asr:faster-whisper", ...), the ASR
    model and language when known, the word count and the speakers (named or diarized)."""
    return {
        "source": transcript.source,
        "model": transcript.model,
        "language": transcript.language,
        "words": len(transcript.words),
        "speakers": list(transcript.speakers),
    }
