"""Delivery features per sentence from the 16 kHz mono speech WAV: loudness, pitch, rate.

Frames of 40 ms every 10 ms. Level is each frame's RMS in dBFS. Pitch (F0) comes from the
normalised square difference function of McLeod & Wyvill ("A smarter way to find pitch",
ICMC 2005): nsdf(t) = 2 r(t) / m(t) over lags of 60-400 Hz; the first local maximum within
0.9 of the frame's highest one is the period (which avoids octave errors), refined by a
parabola through its neighbours; frames whose highest peak ("clarity") is under 0.7, or that
are quieter than -50 dBFS, count as unvoiced. The WAV is read in bounded blocks, so a
45-minute recording never sits in memory as samples; the per-frame features (a few MB) do.
"""

from __future__ import annotations

import math
import re
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media.errors import InputError
from media.transcript.records import Transcript

FRAME_S = 0.040
HOP_S = 0.010
F0_MIN_HZ, F0_MAX_HZ = 60.0, 400.0
SILENCE_DBFS = -50.0  # frames below this are pauses: no pitch, not part of the level
CLARITY = 0.7  # the least NSDF peak for a voiced frame
KEY_MAX = 0.9  # McLeod's k: the first peak within this share of the highest is the period
BLOCK_S = 30.0  # samples read per block
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


@dataclass(frozen=True, slots=True)
class SentenceProsody:
    """How one sentence was said. NaN where there is too little voiced audio to tell."""

    index: int  # the sentence's index in the transcript
    loudness_db: float  # energetic mean level of its non-silent frames, dBFS
    loudness_var_db: float  # standard deviation of those frames' levels, dB
    pitch_hz: float  # median F0 of its voiced frames
    pitch_var_st: float  # standard deviation of F0 around that median, semitones
    voiced_ratio: float  # share of its frames with a clear pitch
    speech_rate: float  # syllables per second, from the text and the sentence's span


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """Per-frame level (dBFS) and F0 (Hz, NaN when unvoiced); frame k starts at k * hop_s."""

    hop_s: float
    frame_s: float
    level_db: npt.NDArray[np.float64]
    f0_hz: npt.NDArray[np.float64]


def frame_level_and_f0(
    frames: npt.NDArray[np.float64], rate: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Level (dBFS) and F0 (Hz or NaN) of each row of ``frames`` (samples in [-1, 1])."""
    power = np.mean(frames**2, axis=1)
    level = 10 * np.log10(np.maximum(power, 1e-12))
    f0 = np.full(len(frames), np.nan)
    loud = np.flatnonzero(level > SILENCE_DBFS)
    if len(loud):
        f0[loud] = _nsdf_pitch(frames[loud], rate)
    return level, f0


def _nsdf_pitch(frames: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """McLeod's NSDF pitch per row; NaN where no peak reaches :data:`CLARITY`."""
    width = frames.shape[1]
    lo = max(2, int(rate / F0_MAX_HZ))
    hi = min(width - 2, int(math.ceil(rate / F0_MIN_HZ)))
    x = frames - frames.mean(axis=1, keepdims=True)
    n_fft = 1 << int(math.ceil(math.log2(2 * width)))
    spectrum = np.fft.rfft(x, n_fft, axis=1)
    r = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n_fft, axis=1)[:, : hi + 2]
    sq = np.cumsum(x**2, axis=1)
    total = sq[:, -1:]
    lags = np.arange(hi + 2)
    # m(t) = sum_{j < W-t} x_j^2 + sum_{j >= t} x_j^2
    head = np.where(lags < width, sq[:, np.clip(width - 1 - lags, 0, width - 1)], 0.0)
    tail = total - np.where(lags > 0, sq[:, np.clip(lags - 1, 0, width - 1)], 0.0)
    nsdf = 2 * r / np.maximum(head + tail, 1e-12)
    band = nsdf[:, lo - 1 : hi + 2]  # one lag of margin either side for the peak test
    mid = band[:, 1:-1]
    peaks = (mid >= band[:, :-2]) & (mid > band[:, 2:])
    best = np.where(peaks, mid, -np.inf).max(axis=1)
    chosen = peaks & (mid >= KEY_MAX * best[:, None])
    first = np.argmax(chosen, axis=1)
    ok = chosen[np.arange(len(first)), first] & (best >= CLARITY)
    rows = np.arange(len(first))
    y0, y1, y2 = band[rows, first], band[rows, first + 1], band[rows, first + 2]
    denom = y0 - 2 * y1 + y2
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / np.where(denom == 0, 1, denom), 0)
    period = lo + first + np.clip(shift, -0.5, 0.5)
    return np.where(ok, rate / period, np.nan)


def _blocks(path: Path, block: int) -> Iterator[tuple[npt.NDArray[np.float64], int]]:
    """The WAV's samples as float blocks in [-1, 1], and its sample rate (mono s16 only)."""
    try:
        w = wave.open(str(path), "rb")
    except (wave.Error, EOFError) as exc:
        raise InputError(f"{path}: not a PCM WAV file ({exc})") from exc
    with w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise InputError(
                f"{path}: expected 16-bit mono PCM, got {w.getnchannels()} channel(s) of "
                f"{8 * w.getsampwidth()}-bit samples (make it with audio.extract_speech_wav_argv)"
            )
        rate = w.getframerate()
        while data := w.readframes(block):
            yield np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0, rate


def frame_features(wav_path: str | Path) -> FrameFeatures:
    """Level and F0 of every 40 ms frame, 10 ms apart, read block by block."""
    levels: list[npt.NDArray[np.float64]] = []
    pitches: list[npt.NDArray[np.float64]] = []
    carry = np.zeros(0)
    frame = hop = 0
    for samples, rate in _blocks(Path(wav_path), int(BLOCK_S * 16_000)):
        frame, hop = round(FRAME_S * rate), round(HOP_S * rate)
        buf = np.concatenate([carry, samples])
        count = (len(buf) - frame) // hop + 1 if len(buf) >= frame else 0
        if count:
            index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
            level, f0 = frame_level_and_f0(buf[index], rate)
            levels.append(level)
            pitches.append(f0)
        carry = buf[count * hop :]
    if not levels:
        return FrameFeatures(HOP_S, FRAME_S, np.zeros(0), np.zeros(0))
    return FrameFeatures(HOP_S, FRAME_S, np.concatenate(levels), np.concatenate(pitches))


def syllables(text: str) -> int:
    """Vowel groups per word (at least one), a silent final 'e' dropped: close enough for rate."""
    total = 0
    for word in re.findall(r"[a-z]+", text.lower()):
        groups = len(_VOWEL_GROUPS.findall(word))
        if word.endswith("e") and not word.endswith(("le", "ee")) and groups > 1:
            groups -= 1
        total += max(1, groups)
    return total


def summarise(features: FrameFeatures, transcript: Transcript) -> list[SentenceProsody]:
    """One :class:`SentenceProsody` per sentence, from the frames centred inside it."""
    centres = np.arange(len(features.level_db)) * features.hop_s + features.frame_s / 2
    out = []
    for s in transcript.sentences:
        a, b = np.searchsorted(centres, [s.start_s, s.end_s])
        level, f0 = features.level_db[a:b], features.f0_hz[a:b]
        active = level[level > SILENCE_DBFS]
        voiced = f0[np.isfinite(f0)]
        span = s.end_s - s.start_s
        if len(active):
            mean_db = 10 * math.log10(float(np.mean(10 ** (active / 10))))
            var_db = float(np.std(active)) if len(active) > 1 else 0.0
        else:
            mean_db, var_db = -math.inf, math.nan
        median = float(np.median(voiced)) if len(voiced) else math.nan
        pitch_var = float(np.std(12 * np.log2(voiced / median))) if len(voiced) >= 5 else math.nan
        out.append(
            SentenceProsody(
                index=s.index,
                loudness_db=mean_db,
                loudness_var_db=var_db,
                pitch_hz=median,
                pitch_var_st=pitch_var,
                voiced_ratio=len(voiced) / len(level) if len(level) else 0.0,
                speech_rate=syllables(s.text) / span if span > 0 else math.nan,
            )
        )
    return out


def sentence_prosody(wav_path: str | Path, transcript: Transcript) -> list[SentenceProsody]:
    """Per-sentence delivery features of ``transcript`` read from a 16 kHz mono s16 WAV
    (:func:`media.render.audio.extract_speech_wav_argv` writes one); same order as its sentences."""
    return summarise(frame_features(wav_path), transcript)
