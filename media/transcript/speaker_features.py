"""Voice features for telling speakers apart, from signal statistics alone (no learned model).

A recording is decoded once to 16 kHz mono (:func:`read_samples`, through the one ffmpeg
runner). :func:`cepstra` gives 10 ms frames of mel-frequency cepstral coefficients (MFCC, the
HTK recipe: pre-emphasis, 25 ms Hamming window, triangular mel filters, log, DCT-II); c0 (level)
is left out so that loudness does not separate speakers. :func:`window_embeddings` summarises
~1.5 s windows of speech as the mean and standard deviation of the cepstra and of their deltas:
the vocal tract's average shape and how much it moves, which differ more between speakers than
within one. Pure apart from :func:`read_samples`.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media import ffmpeg
from media.errors import InputError

RATE = 16_000
FRAME_S = 0.010  # hop between cepstral frames
WIN_SAMPLES = 400  # 25 ms analysis window
N_FFT = 512
N_MELS = 40
N_CEPS = 20  # c1..c20 kept
DELTA_SPAN = 2  # frames either side in the delta regression
PRE_EMPHASIS = 0.97
READ_BLOCK_S = 0.1  # decode granularity; a shorter tail than this is dropped

Floats = npt.NDArray[np.float32]


def decode_argv(src: str) -> list[str]:
    """ffmpeg command writing the first audio stream as 16 kHz mono float32 to stdout."""
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(src, source=True)
        + ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    )


def read_samples(path: str | Path) -> Floats:
    """The recording's audio as 16 kHz mono float32 in [-1, 1] (64 kB per second of audio).

    The pipeline's speech WAV (16 kHz mono s16) is read as it is; anything else is decoded by
    ffmpeg (the same s16 scaling, 1/32768)."""
    pcm = _speech_wav_pcm(Path(path))
    if pcm is not None:
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768.0)
    block = int(RATE * READ_BLOCK_S) * 4
    chunks = list(ffmpeg.stream(decode_argv(str(path)), frame_bytes=block))
    return np.frombuffer(b"".join(chunks), dtype="<f4").astype(np.float32)


def _speech_wav_pcm(path: Path) -> bytes | None:
    """The samples of a 16 kHz mono s16 WAV, or None for any other file."""
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
                return None
            return w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError):
        return None


def _mel_filters() -> npt.NDArray[np.float64]:
    """(N_MELS, N_FFT//2+1) triangular filters evenly spaced on the HTK mel scale, 20–7600 Hz."""

    def mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(20.0)), mel(np.array(7600.0)), N_MELS + 2))
    bins = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lo) / (mid - lo)
    down = (hi - bins[None, :]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def _dct_matrix() -> npt.NDArray[np.float64]:
    """Orthonormal DCT-II rows 1..N_CEPS over N_MELS log energies."""
    n = np.arange(N_MELS)
    k = np.arange(1, N_CEPS + 1)[:, None]
    basis: npt.NDArray[np.float64] = np.cos(np.pi * k * (2 * n + 1) / (2 * N_MELS))
    scaled: npt.NDArray[np.float64] = np.sqrt(2.0 / N_MELS) * basis
    return scaled


def cepstra(samples: Floats, *, block_frames: int = 6000) -> Floats:
    """(n_frames, N_CEPS) MFCC c1..c20 at 10 ms hops; frame i covers samples from i*160.

    Computed in blocks of ``block_frames`` so memory stays a few megabytes above the output.
    """
    if samples.ndim != 1:
        raise InputError(f"speaker features need mono samples (got shape {samples.shape})")
    hop = int(RATE * FRAME_S)
    n_frames = max(0, 1 + (len(samples) - WIN_SAMPLES) // hop)
    out = np.empty((n_frames, N_CEPS), dtype=np.float32)
    window = np.hamming(WIN_SAMPLES)
    fbank, dct = _mel_filters(), _dct_matrix()
    for first in range(0, n_frames, block_frames):
        last = min(n_frames, first + block_frames)
        seg = samples[first * hop : (last - 1) * hop + WIN_SAMPLES].astype(np.float64)
        seg = np.append(seg[:1], seg[1:] - PRE_EMPHASIS * seg[:-1])
        idx = np.arange(last - first)[:, None] * hop + np.arange(WIN_SAMPLES)[None, :]
        power = np.abs(np.fft.rfft(seg[idx] * window, N_FFT)) ** 2
        log_mel = np.log(power @ fbank.T + 1e-10)
        out[first:last] = (log_mel @ dct.T).astype(np.float32)
    return out


def deltas(features: Floats, span: int = DELTA_SPAN) -> Floats:
    """Regression deltas over ±``span`` frames (edges repeated), as in HTK's HCopy."""
    if len(features) == 0:
        return features.copy()
    padded = np.pad(features, ((span, span), (0, 0)), mode="edge")
    n = len(features)
    num = np.zeros_like(features, dtype=np.float64)
    for k in range(1, span + 1):
        num += k * (padded[span + k : span + k + n] - padded[span - k : span - k + n])
    return (num / (2 * sum(k * k for k in range(1, span + 1)))).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Windows:
    """Fixed-length windows of speech: ``spans[i]`` = (start_s, end_s), ``vectors[i]`` its
    statistics standardised within the recording (unit length; see :func:`window_embeddings`)."""

    spans: npt.NDArray[np.float64]
    vectors: Floats


def speech_frame_mask(
    n_frames: int, regions: Sequence[tuple[float, float]]
) -> npt.NDArray[np.bool_]:
    """Frames (10 ms) whose centre lies in a speech region."""
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in regions:
        a = max(0, int(np.ceil(start / FRAME_S - 0.5)))
        b = min(n_frames, int(np.floor(end / FRAME_S - 0.5)) + 1)
        mask[a:b] = True
    return mask


def window_spans(
    regions: Sequence[tuple[float, float]], *, win_s: float, hop_s: float, min_s: float
) -> list[tuple[float, float]]:
    """Windows of ``win_s`` every ``hop_s`` inside each region; a region shorter than a window
    is one window, a tail is covered by a last window ending at the region's end; regions
    shorter than ``min_s`` are skipped."""
    spans: list[tuple[float, float]] = []
    for start, end in regions:
        length = end - start
        if length < min_s:
            continue
        if length <= win_s:
            spans.append((start, end))
            continue
        n = int(np.floor((length - win_s) / hop_s + 1e-9)) + 1
        spans += [(start + i * hop_s, start + i * hop_s + win_s) for i in range(n)]
        if spans[-1][1] < end - 1e-6:
            spans.append((end - win_s, end))
    return spans


def window_embeddings(
    frames: Floats,
    regions: Sequence[tuple[float, float]],
    *,
    win_s: float = 1.5,
    hop_s: float = 0.75,
    min_s: float = 0.3,
) -> Windows:
    """Statistics of the speech frames of each window: mean and standard deviation of cepstra
    and deltas, standardised over the recording's windows and scaled to unit length (best at
    telling this recording's voices apart; whether two groups are two voices at all is decided
    on the frames themselves, :func:`media.transcript.diarization.merge_by_bic`).
    """
    spans = window_spans(regions, win_s=win_s, hop_s=hop_s, min_s=min_s)
    speech = speech_frame_mask(len(frames), regions)
    both = np.hstack([frames, deltas(frames)])
    stats = np.zeros((len(spans), 4 * N_CEPS), dtype=np.float64)
    keep = np.zeros(len(spans), dtype=bool)
    for i, (start, end) in enumerate(spans):
        a, b = int(round(start / FRAME_S)), min(len(frames), int(round(end / FRAME_S)))
        chunk = both[a:b][speech[a:b]]
        if len(chunk) < 10:
            continue
        stats[i] = np.concatenate([chunk.mean(axis=0), chunk.std(axis=0)])
        keep[i] = True
    stats = stats[keep]
    kept = np.array(spans, dtype=np.float64).reshape(-1, 2)[keep]
    vecs = stats
    if len(vecs) > 1:
        vecs = (vecs - vecs.mean(axis=0)) / (vecs.std(axis=0) + 1e-6)
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    return Windows(kept, vecs.astype(np.float32))
