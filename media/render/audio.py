"""Audio: analysis extracts and per-clip loudness normalisation (EBU R128).

Normalisation is gain + a 4×-oversampled true-peak limiter, re-measured on the *encoded* AAC
and re-rendered (audio only) until within ``tolerance_lu`` of the target: one step of the
meter (0.1 LU) either side, so clips are at most 0.2 LU apart, where loudnorm's two-pass mode
leaves ~0.6 LU because it falls back to dynamic mode on speech (docs/ARCHITECTURE.md,
"Measured facts": loudness normalisation). Asking for the exact reading instead took 4 renders
of a typical clip where one step took 2; with the gain previewed (below), 1.

The gain is found before the first render, on the render's own filter chain metered without
the AAC encoder (a preview: decode, limiter and meter, a fifth of a render's CPU, the encoder
being the rest): the limiter's loss is what made the first render of nearly every clip miss.
The encoded file is still measured, and rendered again only when the encoder moved it off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from media import ffmpeg
from media.render import loudness

AAC_BITRATE = "192k"
SAMPLE_RATE = 48_000


def extract_speech_wav_argv(src: str, out: str) -> list[str]:
    """16 kHz mono s16 WAV of the whole first audio stream, for speech recognition."""
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(src, source=True)
        + ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", out]
    )


def clip_audio_chain(*, duration_s: float, gain_db: float, ceiling_dbtp: float) -> str:
    """One clip's audio filters: stereo, padded to ``duration_s``, gain, oversampled limiter,
    edge fades (see :func:`clip_audio_argv`)."""
    limit = 10 ** ((ceiling_dbtp - 0.5) / 20)
    fade_out_at = max(0.0, duration_s - 0.05)
    return ",".join(
        [
            f"aresample={SAMPLE_RATE}:async=1:first_pts=0",
            "aformat=channel_layouts=stereo",
            f"apad=whole_dur={duration_s:.3f}",
            f"volume={gain_db:.3f}dB",
            f"aresample={SAMPLE_RATE * 4}",
            f"alimiter=limit={limit:.5f}:attack=2:release=60:level=false:latency=true",
            f"aresample={SAMPLE_RATE}",
            "afade=t=in:d=0.02",
            f"afade=t=out:st={fade_out_at:.3f}:d=0.05",
        ]
    )


def clip_audio_argv(
    src: str, out: str, *, start_s: float, duration_s: float, gain_db: float, ceiling_dbtp: float
) -> list[str]:
    """One clip's audio: trim, stereo, gain, oversampled limiter, edge fades, AAC 48 kHz stereo.

    The output always spans exactly ``duration_s`` from clip time 0: a stream that starts after
    the seek point (its start_time later than the video's) is padded with silence at the front
    (``first_pts=0``), one that ends early at the back, so muxing it with the video cannot shift
    it. Every layout is mixed to stereo *before* the limiter (mono → both channels at −3 dB,
    which keeps BS.1770 loudness; 5.1 by libswresample's ITU downmix, LFE dropped), so the
    downmix cannot push peaks past the ceiling afterwards. The limiter runs at 4× the rate so it
    catches inter-sample (true) peaks (BS.1770 Annex 2); ``level=false`` because alimiter's
    default auto-level would change the loudness; ``latency=true`` takes out its 2 ms
    look-ahead delay (A/V sync) and flushes the look-ahead buffer at the end.
    """
    chain = clip_audio_chain(duration_s=duration_s, gain_db=gain_db, ceiling_dbtp=ceiling_dbtp)
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(src, seek_s=start_s, duration_s=duration_s, source=False)
        + [
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-filter:a",
            chain,
            "-c:a",
            "aac",
            "-b:a",
            AAC_BITRATE,
            "-ar",
            str(SAMPLE_RATE),
            "-ac",
            "2",
            "-t",
            f"{duration_s:.3f}",
            "-f",
            "mp4",
            out,
        ]
    )


@dataclass(frozen=True, slots=True)
class NormalisedAudio:
    path: str
    integrated_lufs: float
    true_peak_dbtp: float
    gain_db: float
    renders: int
    previews: int = 0  # limiter passes metered before the first render (:func:`preview_gain`)


@dataclass(frozen=True, slots=True)
class GainPreview:
    """The gain found on the unencoded chain, the LU-per-dB slope learnt on the way, and how
    many preview passes it took."""

    gain_db: float
    slope: float
    previews: int


def secant_step(
    gain: float, measured: float, previous: tuple[float, float] | None, slope: float, target: float
) -> tuple[float, float]:
    """The next gain and slope towards ``target`` after reading ``measured`` at ``gain``.

    Where the limiter works, 1 dB of gain buys less than 1 LU, so the slope is learnt from the
    last two readings (bounded, so a flat stretch cannot explode it). The meter reads in 0.1 LU
    steps: a change under two steps says nothing about the slope, so the last estimate is kept.
    """
    moved = previous is not None and abs(measured - previous[1]) >= 0.15
    if previous is not None and moved and abs(gain - previous[0]) > 1e-3:
        slope = (measured - previous[1]) / (gain - previous[0])
        slope = min(1.0, max(0.25, slope))
    return gain + (target - measured) / slope, slope


def preview_gain(
    src: str,
    *,
    start_s: float,
    duration_s: float,
    target_lufs: float,
    ceiling_dbtp: float,
    max_previews: int = 2,
) -> GainPreview:
    """The gain whose limited PCM reads ``target_lufs`` (EBU R128), found before any encode.

    Starts from the window's own loudness, then meters the render's chain (gain, limiter,
    fades: :func:`clip_audio_chain`) without the encoder, stepping the gain until the reading
    is the target (the meter's 0.1 LU step: |miss| ≤ 0.05). When ``max_previews`` passes have
    not read it, the last secant step is returned untried (the render is verified anyway):
    two readings give the limiter's slope, so the step lands within a step or two of the
    meter. A silent window gets 0 dB and no preview.
    """
    window = loudness.measure(src, seek_s=start_s, duration_s=duration_s)
    if not math.isfinite(window.integrated_lufs):
        return GainPreview(0.0, 1.0, 0)
    gain = target_lufs - window.integrated_lufs
    previous: tuple[float, float] | None = None
    slope = 1.0
    passes = 0
    while passes < max_previews:
        passes += 1
        chain = clip_audio_chain(duration_s=duration_s, gain_db=gain, ceiling_dbtp=ceiling_dbtp)
        got = loudness.measure(
            src, seek_s=start_s, duration_s=duration_s, pre_filter=chain, true_peak=False
        )
        if not math.isfinite(got.integrated_lufs) or abs(target_lufs - got.integrated_lufs) <= (
            0.05 + 1e-9
        ):
            break
        step, slope = secant_step(gain, got.integrated_lufs, previous, slope, target_lufs)
        previous, gain = (gain, got.integrated_lufs), step
    return GainPreview(gain, slope, passes)


def normalise_clip_audio(
    src: str,
    out: Path,
    *,
    start_s: float,
    duration_s: float,
    target_lufs: float,
    ceiling_dbtp: float,
    tolerance_lu: float = 0.1,
    max_renders: int = 6,
) -> NormalisedAudio:
    """Render the clip's audio until its encoded loudness is within ``tolerance_lu`` and its
    encoded true peak at most ``ceiling_dbtp``.

    The limiter holds the PCM 0.5 dB under the ceiling, but the AAC encode can overshoot by
    more (measured: −0.9 dBTP from a −1 dBTP ceiling on a real two-person edit); a render that
    overshoots is redone at the same gain with the limiter lowered by the overshoot + 0.2 dB.
    Of the renders, the best is the one within the ceiling closest to the target loudness.
    The first render uses the gain :func:`preview_gain` found (0 dB for silence: nothing to
    normalise; QA will report it), so one render usually suffices.
    """
    preview = preview_gain(
        src,
        start_s=start_s,
        duration_s=duration_s,
        target_lufs=target_lufs,
        ceiling_dbtp=ceiling_dbtp,
    )
    gain = preview.gain_db
    tmp = out.with_suffix(".part.m4a")
    best: NormalisedAudio | None = None
    previous: tuple[float, float] | None = None  # (gain, measured) of the last render
    slope = preview.slope  # LU per dB of gain
    headroom = 0.0  # dB the limiter is lowered below its usual ceiling after an overshoot

    def rank(a: NormalisedAudio) -> tuple[bool, float]:
        within = not a.true_peak_dbtp > ceiling_dbtp + 1e-9  # NaN/−inf (silence) is within
        miss = target_lufs - a.integrated_lufs if math.isfinite(a.integrated_lufs) else 0.0
        return within, -abs(miss)

    for render in range(1, max_renders + 1):
        ffmpeg.run(
            clip_audio_argv(
                src,
                str(tmp),
                start_s=start_s,
                duration_s=duration_s,
                gain_db=gain,
                ceiling_dbtp=ceiling_dbtp - headroom,
            )
        )
        got = loudness.measure(str(tmp))
        result = NormalisedAudio(
            str(out), got.integrated_lufs, got.true_peak_dbtp, gain, render, preview.previews
        )
        error = target_lufs - got.integrated_lufs if math.isfinite(got.integrated_lufs) else 0.0
        if best is None or rank(result) > rank(best):
            best = result
            tmp.replace(out)
        within = rank(result)[0]
        if within and abs(error) <= tolerance_lu + 1e-9:  # readings are 0.1 steps
            break
        if not within:  # same gain, a lower limit: the loudness barely moves
            headroom += got.true_peak_dbtp - ceiling_dbtp + 0.2
            continue
        # The encoder moved the loudness off: step the gain (slope learnt in the preview).
        step, slope = secant_step(gain, got.integrated_lufs, previous, slope, target_lufs)
        previous, gain = (gain, got.integrated_lufs), step
    tmp.unlink(missing_ok=True)
    assert best is not None
    return best
