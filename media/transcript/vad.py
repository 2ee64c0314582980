"""Speech activity (WebRTC VAD) and the refinement of cue-estimated word times against it.

:func:`speech_regions` streams a 16 kHz mono s16 WAV (as made by
:func:`media.render.audio.extract_speech_wav_argv`) through webrtcvad in blocks, so hours of audio
use a few hundred kilobytes. :func:`refine_cue_times` is pure: it moves each cue's edges onto
nearby speech-activity edges, which cue files get wrong by a few hundred milliseconds.
"""

from __future__ import annotations

import bisect
import wave
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from media.errors import InputError, MediaError
from media.transcript.records import Transcript, sentences_from_words

if TYPE_CHECKING:  # webrtcvad ships no type information
    from webrtcvad import Vad

VAD_RATES = (8_000, 16_000, 32_000, 48_000)  # the rates webrtcvad accepts
BLOCK_S = 30.0  # audio read per step
# webrtcvad keeps saying "speech" for a fixed number of frames after speech stops (its
# hangover, kOverHangMax2 in vad_core.c: per mode, for 10/20/30 ms frames); region ends are
# moved back by it so they sit where speech ends.
_OVERHANG_FRAMES = {0: (14, 7, 5), 1: (14, 7, 5), 2: (9, 5, 3), 3: (9, 5, 3)}
Region = tuple[float, float]


def smooth_regions(
    flags: Iterable[bool],
    *,
    frame_s: float,
    overhang_s: float = 0.0,
    min_gap_s: float = 0.3,
    min_speech_s: float = 0.1,
) -> Iterator[Region]:
    """Speech regions from per-frame VAD decisions, streamed.

    Hangover smoothing: pauses up to ``min_gap_s`` inside speech are bridged, so a region is a
    stretch of talk rather than a syllable. Each region's end is moved back by the detector's
    own ``overhang_s``; regions shorter than ``min_speech_s`` (clicks) are dropped.
    """

    def region(start: float, end: float) -> Region | None:
        end = max(start + frame_s, end - overhang_s)
        return (round(start, 3), round(end, 3)) if end - start >= min_speech_s - 1e-9 else None

    start = end = -1.0
    for i, voiced in enumerate(flags):
        if not voiced:
            continue
        t = i * frame_s
        if start >= 0 and t - end <= min_gap_s + 1e-9:
            end = t + frame_s
            continue
        if start >= 0 and (done := region(start, end)):
            yield done
        start, end = t, t + frame_s
    if start >= 0 and (done := region(start, end)):
        yield done


def _frame_flags(w: wave.Wave_read, vad: Vad, rate: int, frame_ms: int) -> Iterator[bool]:
    frame_bytes = rate * frame_ms // 1000 * 2
    frames_per_block = max(1, int(BLOCK_S * 1000 / frame_ms))
    while True:
        block = w.readframes(frames_per_block * frame_bytes // 2)
        if not block:
            return
        # A last partial frame (under frame_ms) is left out: webrtcvad takes whole frames only.
        for at in range(0, len(block) - frame_bytes + 1, frame_bytes):
            yield vad.is_speech(block[at : at + frame_bytes], rate)


def _check_settings(aggressiveness: int, frame_ms: int) -> None:
    if aggressiveness not in (0, 1, 2, 3):
        raise InputError(f"VAD aggressiveness {aggressiveness!r} (expected 0, 1, 2 or 3)")
    if frame_ms not in (10, 20, 30):
        raise InputError(f"VAD frame {frame_ms!r} ms (expected 10, 20 or 30)")


def speech_regions(
    wav_path: str | Path, *, aggressiveness: int = 2, frame_ms: int = 30
) -> list[Region]:
    """(start_s, end_s) of each stretch of speech in a mono 16-bit WAV, in order."""
    import webrtcvad

    _check_settings(aggressiveness, frame_ms)
    try:
        w = wave.open(str(wav_path), "rb")
    except (OSError, EOFError, wave.Error) as exc:
        raise MediaError(f"{wav_path}: cannot read as WAV ({exc})") from exc
    with w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        if channels != 1 or width != 2 or rate not in VAD_RATES:
            raise MediaError(
                f"{wav_path}: speech detection needs mono 16-bit WAV at 8/16/32/48 kHz "
                f"(got {channels} channel(s), {8 * width}-bit, {rate} Hz)"
            )
        vad = webrtcvad.Vad(aggressiveness)
        flags = _frame_flags(w, vad, rate, frame_ms)
        overhang = _OVERHANG_FRAMES[aggressiveness][frame_ms // 10 - 1] * frame_ms / 1000
        return list(smooth_regions(flags, frame_s=frame_ms / 1000, overhang_s=overhang))


def pcm_speech_regions(
    pcm: bytes, rate: int = 16_000, *, aggressiveness: int = 2, frame_ms: int = 30
) -> list[Region]:
    """:func:`speech_regions` of mono 16-bit little-endian samples already in memory."""
    import webrtcvad

    _check_settings(aggressiveness, frame_ms)
    if rate not in VAD_RATES:
        raise InputError(f"VAD rate {rate} Hz (expected one of {VAD_RATES})")
    vad = webrtcvad.Vad(aggressiveness)
    frame_bytes = rate * frame_ms // 1000 * 2
    flags = (
        vad.is_speech(pcm[at : at + frame_bytes], rate)
        for at in range(0, len(pcm) - frame_bytes + 1, frame_bytes)
    )
    overhang = _OVERHANG_FRAMES[aggressiveness][frame_ms // 10 - 1] * frame_ms / 1000
    return list(smooth_regions(flags, frame_s=frame_ms / 1000, overhang_s=overhang))


def _snap_start(t: float, starts: Sequence[float], ends: Sequence[float], window_s: float) -> float:
    i = bisect.bisect_right(starts, t) - 1  # last region starting at or before t
    if i >= 0 and t < ends[i]:  # inside speech: back to where it began
        return starts[i] if t - starts[i] <= window_s else t
    if i + 1 < len(starts) and starts[i + 1] - t <= window_s:  # in silence: on to the next onset
        return starts[i + 1]
    return t


def _snap_end(t: float, starts: Sequence[float], ends: Sequence[float], window_s: float) -> float:
    i = bisect.bisect_left(ends, t)  # first region ending at or after t
    if i < len(ends) and starts[i] < t:  # inside speech: on to where it ends
        return ends[i] if ends[i] - t <= window_s else t
    if i > 0 and t - ends[i - 1] <= window_s:  # in silence: back to the last offset
        return ends[i - 1]
    return t


def refine_cue_times(
    transcript: Transcript, regions: Sequence[Region], *, window_s: float = 0.5
) -> Transcript:
    """Move each cue's first word start and last word end onto speech edges within ``window_s``.

    A cue edge in silence moves to the nearest speech edge ahead of it (start) or behind it
    (end); an edge inside speech moves out to where that speech starts or ends. The cue's
    words are then re-spread over the new span in the same proportions. An edge that would
    cross a neighbouring cue stays put, so words stay in order and never overlap. Transcripts
    with measured word times are returned unchanged.
    """
    if transcript.timing != "cue" or not transcript.cue_spans or not regions:
        return transcript
    starts = [s for s, _ in regions]
    ends = [e for _, e in regions]
    words = list(transcript.words)
    for first, last in transcript.cue_spans:
        t0, t1 = words[first].start_s, words[last].end_s
        floor = words[first - 1].end_s if first > 0 else 0.0
        ceiling = words[last + 1].start_s if last + 1 < len(words) else float("inf")
        n0 = _snap_start(t0, starts, ends, window_s)
        n1 = _snap_end(t1, starts, ends, window_s)
        n0 = n0 if n0 >= floor else t0
        n1 = n1 if n1 <= ceiling else t1
        if (n0, n1) == (t0, t1) or n1 <= n0:
            continue
        scale = (n1 - n0) / (t1 - t0)
        moved = [
            replace(w, start_s=round(n0 + (w.start_s - t0) * scale, 3),
                    end_s=round(n0 + (w.end_s - t0) * scale, 3))
            for w in words[first : last + 1]
        ]  # fmt: skip
        if all(w.start_s < w.end_s for w in moved):
            words[first : last + 1] = moved
    return replace(transcript, words=tuple(words), sentences=tuple(sentences_from_words(words)))
