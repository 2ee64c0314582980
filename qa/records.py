"""QA records: what was measured on a produced clip and what the gate decided.

Frozen, slotted and picklable (they travel between Prefect tasks as results). Field names are
the ``report.json`` contract (docs/ARCHITECTURE.md, "Output contract"): extend, never rename.
Colour names are FFmpeg's (``av_color_*_name``, as ffprobe prints them): ``bt709``,
``smpte2084``, ``arib-std-b67``, ``unknown`` for "unspecified" or "not signalled".
"""

from __future__ import annotations

from dataclasses import dataclass

# A JSON-friendly observed value: what a check reports and the job database stores.
Value = str | float | int | bool | None


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
    # Share of sampled frames without a face by design (a slide, a shot of no one): left out
    # of face_centered_ratio, which is over the frames that should show a face (1.0 if none).
    no_face_share: float = 0.0


@dataclass(frozen=True, slots=True)
class Check:
    """One gate check's outcome, for the job or for one clip. ``value`` is what was observed
    (for a per-clip check judged over the job: the worst clip's value), ``threshold`` a
    readable statement of the rule, ``lo``/``hi`` its bounds when it is a range (None: open,
    or a set rule). All JSON-friendly; the check itself is declared in :mod:`qa.checks`."""

    name: str
    passed: bool
    value: Value
    threshold: str
    lo: float | None = None
    hi: float | None = None


@dataclass(frozen=True, slots=True)
class JobQA:
    """The gate's verdict on a job. ``checks``: every check over the whole job;
    ``clip_checks[i]``: the per-clip checks on clip ``i`` alone (in the order the rows were
    given), each with that clip's value."""

    lu_spread: float
    passed: bool
    checks: tuple[Check, ...]
    clip_checks: tuple[tuple[Check, ...], ...] = ()

    @property
    def failed_checks(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if not c.passed)

    @property
    def clip_failures(self) -> tuple[tuple[str, ...], ...]:
        """The checks each clip failed (job-level checks are not attributed to clips)."""
        return tuple(tuple(c.name for c in checks if not c.passed) for checks in self.clip_checks)

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
