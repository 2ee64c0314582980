"""QA records: what was measured on a produced clip and what the gate decided.

Frozen, slotted and picklable (they travel between Prefect tasks as results). Field names are
the ``report.json`` contract (ARCHITECTURE.md, "Output contract"): extend, never rename.
Colour names are FFmpeg's (``av_color_*_name``, as ffprobe prints them): ``bt709``,
``smpte2084``, ``arib-std-b67``, ``unknown`` for "unspecified" or "not signalled".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpsColour:
    """Colour description in the H.264 SPS VUI (ITU-T H.264 Annex E.1.1).

    ``full_range`` is None when the VUI carries no video signal type (range not signalled).
    """

    primaries: str
    transfer: str
    matrix: str
    full_range: bool | None

    @property
    def range(self) -> str:
        """``tv``, ``pc`` or ``unknown``, as ffprobe names ranges."""
        return _range_name(self.full_range)


@dataclass(frozen=True, slots=True)
class ColrBox:
    """The ISO/IEC 14496-12 ``colr`` box of the video sample entry.

    ``colour_type`` is ``nclx`` (MP4), ``nclc`` (QuickTime, no range flag) or an ICC type
    (``prof``/``rICC``, no code points: primaries etc. are then ``unknown``).
    """

    colour_type: str
    primaries: str
    transfer: str
    matrix: str
    full_range: bool | None

    @property
    def range(self) -> str:
        return _range_name(self.full_range)


@dataclass(frozen=True, slots=True)
class CodecRecord:
    """Codec and bitstream facts of a produced clip's video stream."""

    codec: str
    profile: str
    level: int  # level_idc as ffprobe gives it: 40 = 4.0
    pix_fmt: str
    color_primaries: str  # ffprobe's view (the SPS VUI); see sps_colour / colr_box
    color_transfer: str
    color_space: str
    color_range: str
    width: int
    height: int
    fps: float  # r_frame_rate
    cfr: bool  # every video packet lasts the same (presentation timestamps' deltas)
    bit_rate: int | None  # video stream, bit/s
    sps_colour: SpsColour
    colr_box: ColrBox | None  # None: the file has no colr box
    hdr_side_data: bool  # mastering display / content light level / alt. transfer present


@dataclass(frozen=True, slots=True)
class ClipMeasurements:
    """Everything QA measured on one produced clip (read from the file only)."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float
    face_centered_ratio: float
    decode_errors: int
    duration_s: float
    codec: CodecRecord
    momentary: tuple[tuple[float, float], ...] = ()  # (t s, momentary LUFS) at 10 Hz


@dataclass(frozen=True, slots=True)
class Check:
    """One gate check: ``value`` is what was observed (the worst clip's value for per-clip
    checks), ``threshold`` a readable statement of the rule. Both are JSON-friendly."""

    name: str
    passed: bool
    value: str | float | int | bool | None
    threshold: str


@dataclass(frozen=True, slots=True)
class JobQA:
    """The gate's verdict on a job; ``clip_failures[i]`` names the checks clip ``i`` failed
    (in the order the rows were given; job-level checks are not attributed to clips)."""

    lu_spread: float
    passed: bool
    checks: tuple[Check, ...]
    clip_failures: tuple[tuple[str, ...], ...]

    @property
    def failed_checks(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if not c.passed)

    def check(self, name: str) -> Check:
        """The check called ``name``; KeyError naming the known checks otherwise."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check {name!r} (checks: {', '.join(c.name for c in self.checks)})")


def _range_name(full_range: bool | None) -> str:
    if full_range is None:
        return "unknown"
    return "pc" if full_range else "tv"
