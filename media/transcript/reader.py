"""Read a transcript file of any supported kind, detected by its content (WebVTT, SRT,
word-level JSON), checked against the recording's duration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from media.errors import InputError
from media.transcript.cues import Cue, from_cues, parse_cues
from media.transcript.records import Transcript, sentences_from_words


def _decode(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise InputError(
            f"{name}: transcript is not UTF-8 text (byte {exc.start} is 0x{bad}); save it as UTF-8"
        ) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _fit_cues(cues: list[Cue], duration_s: float, name: str) -> list[Cue]:
    late = [c for c in cues if c.start_s >= duration_s]
    if late:
        raise InputError(
            f"{name}: {len(late)} cue(s) start after the recording ends "
            f"(first at {late[0].start_s:.3f} s, recording is {duration_s:.3f} s)"
        )
    return [Cue(c.start_s, min(c.end_s, duration_s), c.text, c.speaker) for c in cues]


def _fit_words(transcript: Transcript, duration_s: float, name: str) -> Transcript:
    late = [w for w in transcript.words if w.start_s >= duration_s]
    if late:
        raise InputError(
            f"{name}: {len(late)} word(s) start after the recording ends "
            f"(first {late[0].text!r} at {late[0].start_s:.3f} s, "
            f"recording is {duration_s:.3f} s)"
        )
    if transcript.end_s <= duration_s:
        return transcript
    words = [replace(w, end_s=min(w.end_s, duration_s)) for w in transcript.words]
    return replace(transcript, words=tuple(words), sentences=tuple(sentences_from_words(words)))


def read_transcript(
    path: str | Path, *, duration_s: float | None = None, label: str | None = None
) -> Transcript:
    """Read a WebVTT/SRT sidecar or word-level JSON, detected by content.

    Rejects non-text, text without timings, and cues or words past the media end.
    """
    path = Path(path)
    name = label or str(path)
    if not path.is_file():
        raise InputError(f"{name}: transcript not found")
    return parse_transcript(path.read_bytes(), name, duration_s=duration_s)


def parse_transcript(data: bytes, name: str, *, duration_s: float | None = None) -> Transcript:
    """:func:`read_transcript` of a file's bytes; ``name`` labels the errors."""
    text = _decode(data, name)
    if not text.strip():
        raise InputError(f"{name}: transcript is empty")
    if text.lstrip()[:1] in ("{", "[") and "-->" not in text:
        # The JSON readers build on this module's model, so they are imported here.
        from media.transcript.whisper_json import parse_json

        got = parse_json(text, name=name)
        return got if duration_s is None else _fit_words(got, duration_s, name)
    if "-->" not in text:
        raise InputError(
            f"{name}: text without timings (expected WebVTT or SRT cues, or word-level JSON)"
        )
    is_vtt = text.lstrip().startswith("WEBVTT")
    cues = parse_cues(text, name=name)
    if duration_s is not None:
        cues = _fit_cues(cues, duration_s, name)
    return from_cues(cues, source="vtt" if is_vtt else "srt")


def transcript_problem(data: bytes, name: str) -> str | None:
    """Why ``data`` is not a transcript :func:`parse_transcript` takes (its error), else None.
    A ``.json`` found beside a recording may be a recording tool's metadata, not its words."""
    try:
        parse_transcript(data, name)
    except InputError as exc:
        return str(exc)
    return None
