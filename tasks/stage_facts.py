"""What each stage found, in one line for the flow run's log (:mod:`tasks.stage_log`).

Pure formatting of the stages' records. Numbers are written as ``report.json`` holds them
(seconds to 0.1 or 0.01, loudness to 0.01, scores to 0.001, dollars to 6 places), so a log
line and the report can be read side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

from media.framing.framing_plan import FramingPlan
from media.ingest import Source
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from qa.records import ClipMeasurements, JobQA
from tasks.costs import CostItem
from tasks.records import RenderedClip, Selection


def source_summary(src: Source) -> str:
    """``talk.mp4: 90.0 s, 1920×1080 at 30.00 fps, audio aac 48000 Hz 2 ch``."""
    info = src.info
    video = info.video[0]
    audio = info.audio[0] if info.audio else None
    heard = (
        f"audio {audio.codec} {audio.sample_rate} Hz {audio.channels} ch" if audio else "no audio"
    )
    return (
        f"{src.name}: {info.duration_s:.1f} s, {video.width}×{video.height} at "
        f"{video.fps:.2f} fps, {heard}"
    )


def transcript_summary(text: Transcript) -> str:
    """``vtt: 245 words in 21 sentences, speakers Alice, Bob`` (ASR: with its model and
    language)."""
    about = ", ".join(x for x in (text.model, text.language) if x)
    engine = f"{text.source} ({about})" if about else text.source
    speakers = ", ".join(text.speakers) or "none named"
    return (
        f"{engine}: {len(text.words)} words in {len(text.sentences)} sentences, speakers {speakers}"
    )


def selection_summary(selection: Selection) -> str:
    """How the clips were chosen, among how many candidates, and each pick with its score."""
    scores = selection.candidate_scores
    weighed = (
        f" of {len(scores)} candidates (scores {min(scores):.3f}–{max(scores):.3f})"
        if scores
        else ""
    )
    why = f" ({selection.reason})" if selection.reason else ""
    picks = "; ".join(_pick(c) for c in selection.clips)
    n = len(selection.clips)
    return f"{selection.method.value}{why}: {n} clip{'s' if n != 1 else ''}{weighed}: {picks}"


def _pick(clip: ClipPlan) -> str:
    return (
        f"clip {clip.index} {clip.start_s:.2f}–{clip.end_s:.2f} s score {clip.score:.3f} "
        f"speaker {clip.speaker or 'unknown'}"
    )


def framing_summary(clip: ClipPlan, framing: FramingPlan) -> str:
    """``layout two_shot, speaker Alice, window on the speaker 96 % of speech``."""
    shots = sorted({str(s.layout) for s in framing.segments} - {str(framing.layout)})
    also = f" (also {', '.join(shots)})" if shots else ""
    on = (
        f", window on the speaker {100 * framing.speaker_share:.0f} % of speech"
        if framing.speaker_share is not None
        else ""
    )
    return f"layout {framing.layout}{also}, speaker {clip.speaker or 'unknown'}{on}"


def render_summary(rendered: RenderedClip) -> str:
    """``720×1280 libx264, -14.02 LUFS after 1 audio render``."""
    renders = f"{rendered.audio_renders} audio render{'s' if rendered.audio_renders != 1 else ''}"
    return (
        f"{rendered.width}×{rendered.height} {rendered.encoder}, "
        f"{rendered.integrated_lufs:.2f} LUFS after {renders}"
    )


def measured_summary(m: ClipMeasurements) -> str:
    """What QA measured on the delivered file."""
    return (
        f"{m.integrated_lufs:.2f} LUFS, true peak {m.true_peak_dbtp:.2f} dBTP, "
        f"face centred {100 * m.face_centered_ratio:.0f} %, {m.decode_errors} decode errors, "
        f"{m.duration_s:.2f} s"
    )


def verdict_summary(verdict: JobQA, clips: Sequence[ClipPlan]) -> str:
    """``passed (14 checks), LU spread 0.11; clip 1 passed, clip 2 FAILED (face_centered)``."""
    failed = [c for c in verdict.checks if not c.passed]
    overall = (
        f"passed ({len(verdict.checks)} checks)"
        if verdict.passed
        else "FAILED " + ", ".join(f"{c.name} ({c.value} vs {c.threshold})" for c in failed)
    )
    per_clip = ", ".join(
        f"clip {clip.index} " + (f"FAILED ({', '.join(names)})" if names else "passed")
        for clip, names in zip(clips, verdict.clip_failures, strict=False)
    )
    return f"{overall}, LU spread {verdict.lu_spread:.2f}; {per_clip}"


def cost_summary(items: Sequence[CostItem]) -> str:
    """``$0.004213 (ingest $0.000010, render $0.003100, …)``: priced items, per stage."""
    stages: dict[str, float] = {}
    for item in items:
        stages[item.stage] = stages.get(item.stage, 0.0) + item.usd
    each = ", ".join(f"{stage} ${usd:.6f}" for stage, usd in stages.items())
    return f"${sum(i.usd for i in items):.6f} ({each or 'nothing charged'})"
