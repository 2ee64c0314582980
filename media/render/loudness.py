"""Loudness measurement with ffmpeg's ebur128 filter (EBU R128 / ITU-R BS.1770-4).

ebur128 is the reference meter here: it reads EBU Tech 3341 cases exactly, where pyloudnorm
0.2.0 reads 0.035 LU low and loudnorm's own meter is off by up to 0.15 LU (docs/ARCHITECTURE.md,
"Measured facts": loudness meter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from media import ffmpeg
from media.errors import MediaError

_SUMMARY_I = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf)\s*LUFS")
_SUMMARY_LRA = re.compile(r"Loudness range:\s*\n\s*LRA:\s*(-?[\d.]+)\s*LU")
_SUMMARY_TP = re.compile(r"True peak:\s*\n\s*Peak:\s*(-?[\d.]+|-inf)\s*dBFS")
_MOMENTARY = re.compile(r"t:\s*([\d.]+)\s+TARGET:.*?M:\s*(-?[\d.]+|-inf|nan)")


@dataclass(frozen=True, slots=True)
class Loudness:
    """Integrated loudness (LUFS), loudness range (LU) and true peak (dBTP) of one signal."""

    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    momentary: tuple[tuple[float, float], ...] = ()


def ebur128_argv(
    path: str,
    *,
    stream: str = "a:0",
    seek_s: float | None = None,
    duration_s: float | None = None,
    momentary: bool = False,
    pre_filter: str = "",
    true_peak: bool = True,
) -> list[str]:
    """Meter one audio stream. The summary is logged at info level; ``momentary`` adds the
    10 Hz per-block lines (``framelog=info`` logs them at that level too). ``pre_filter``: a
    filter chain the stream passes through before the meter (a render's chain, previewed);
    ``true_peak=False`` skips the 4× oversampled peak meter where only loudness is wanted."""
    head = ffmpeg.ffmpeg_base()
    head[head.index("-loglevel") + 1] = "info"
    framelog = ":framelog=info" if momentary else ""
    chain = f"{pre_filter}," if pre_filter else ""
    meter = [
        "-map",
        f"0:{stream}",
        "-vn",
        "-sn",
        "-dn",
        "-filter:a",
        f"{chain}ebur128=peak={'true' if true_peak else 'none'}{framelog}",
    ]
    inputs = ffmpeg.input_args(path, seek_s=seek_s, duration_s=duration_s, source=False)
    return head + inputs + meter + ["-f", "null", "-"]


def _num(text: str) -> float:
    return float("-inf") if text in ("-inf", "nan") else float(text)


def parse_ebur128(stderr: str) -> Loudness:
    """Read the summary block (the last one) and the momentary series from ebur128's log."""
    summary_at = stderr.rfind("Summary:")
    if summary_at < 0:
        raise MediaError("ebur128 printed no summary (no audio decoded?)")
    summary = stderr[summary_at:]
    i = _SUMMARY_I.search(summary)
    lra = _SUMMARY_LRA.search(summary)
    tp = _SUMMARY_TP.search(summary)
    if not i:
        raise MediaError(f"ebur128 summary unreadable: {summary[:300]!r}")
    momentary = tuple((float(t), _num(m)) for t, m in _MOMENTARY.findall(stderr[:summary_at]))
    return Loudness(
        integrated_lufs=_num(i.group(1)),
        lra_lu=float(lra.group(1)) if lra else 0.0,
        true_peak_dbtp=_num(tp.group(1)) if tp else float("-inf"),
        momentary=momentary,
    )


def measure(
    path: str,
    *,
    stream: str = "a:0",
    seek_s: float | None = None,
    duration_s: float | None = None,
    momentary: bool = False,
    pre_filter: str = "",
    true_peak: bool = True,
) -> Loudness:
    """Measure a file's (or a window's) loudness with ebur128, after ``pre_filter`` if given."""
    argv = ebur128_argv(
        path,
        stream=stream,
        seek_s=seek_s,
        duration_s=duration_s,
        momentary=momentary,
        pre_filter=pre_filter,
        true_peak=true_peak,
    )
    done = ffmpeg.run(argv, capture_stdout=False)
    return parse_ebur128(done.stderr)
