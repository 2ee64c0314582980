"""Every QA check, declared once (docs/ARCHITECTURE.md, "QA thresholds").

A :class:`CheckSpec` is all there is to know about one check: the column of the gate's table
it reads (a clip's measurement, or a job-level figure), its rule under the settings (a range
or a set of allowed values, judged per clip or once per job) with the readable threshold, and
how the report labels and formats its value. Everything else is derived from :data:`CHECKS`:
the great-expectations suites (:mod:`qa.gate`), the check table and the clip cards of the
report (:mod:`qa.report`, :mod:`qa.page`) and the job database's QA rows
(:func:`database_rows`). Adding a check is adding one entry here; the tests in
``tests/qa/test_checks.py`` then try its boundary and find it in the report and the rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from blocks.settings import PipelineSettings
from qa.records import JobQA, Value

Scope = Literal["clip", "job"]

# Clip durations are allowed this far outside [min_clip_s, max_clip_s]: the render cuts on
# frame and AAC-packet (21 ms) boundaries and the container's duration is the longer stream's,
# so a clip planned at exactly 15.000 s can read 14.98 s or 15.04 s. 0.5 s covers that with
# margin and still catches a clip that is really too short or too long.
DURATION_TOLERANCE_S = 0.5
# H.264 Annex A, Table A-1, level 4.0 (level_idc 40).
MAX_LEVEL_IDC = 40
LEVEL_40_MAX_FS = 8_192  # macroblocks per frame
LEVEL_40_MAX_MBPS = 245_760  # macroblocks per second
# MaxBR 20 000 × cpbBrVclFactor 1 250 bit/s for High (Table A-1, A.3.1 item j): 25 Mbit/s VCL.
# The container's average video bitrate is compared against it (a bound, not an HRD check).
LEVEL_40_HIGH_MAX_BITRATE = 25_000_000
# The colour checks read "SPS/colr" pairs (qa.gate builds them): both must say BT.709.
BT709_BOTH = "bt709/bt709"
_BOTH = "in the SPS VUI and the MP4 colr box (value: SPS/colr)"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The settings the rules depend on (hashable: the gate caches its suites by it)."""

    max_clips: int
    min_clip_s: float
    max_clip_s: float
    target_lufs: float
    lufs_tolerance: float
    max_lu_spread: float
    max_true_peak_dbtp: float
    min_face_centered_ratio: float
    max_fps: float
    max_job_usd: float

    @classmethod
    def of(cls, settings: PipelineSettings) -> Thresholds:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Rule:
    """A check's rule under one set of thresholds: ``lo <= value <= hi`` (None: that end is
    open) or, when ``values`` is given, ``value in values``; ``threshold`` states it."""

    threshold: str
    lo: float | None = None
    hi: float | None = None
    values: tuple[Value, ...] = ()


def between(lo: float | None, hi: float | None, threshold: str) -> Rule:
    """A range rule, both ends inclusive."""
    return Rule(threshold, lo=lo, hi=hi)


def one_of(*values: Value, threshold: str) -> Rule:
    """A set rule: the value must be one of ``values``."""
    return Rule(threshold, values=values)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One QA check: its column, its rule, and how the report shows it.

    ``rule`` maps the thresholds to the bounds and the readable threshold. ``spec`` and
    ``unit`` format a numeric value (``format(value, spec)``, then the unit); other values show
    as text. ``headline`` checks are shown on each clip's card in report.html, next to the
    clip's own value.
    """

    name: str
    column: str
    rule: Callable[[Thresholds], Rule]
    label: str
    unit: str = ""
    spec: str = ""
    scope: Scope = "clip"
    headline: bool = False

    def display(self, value: object) -> str:
        """The value as the report shows it (unescaped): ``-14.10 LUFS``, ``97%``, ``High``."""
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float) and math.isfinite(value):
            text = format(value, self.spec)
            return f"{text} {self.unit}" if self.unit else text
        return str(value)


LOUDNESS = CheckSpec(
    "integrated_lufs",
    "integrated_lufs",
    lambda t: between(
        t.target_lufs - t.lufs_tolerance,
        t.target_lufs + t.lufs_tolerance,
        f"{t.target_lufs:g} +/- {t.lufs_tolerance:g} LUFS",
    ),
    "Loudness",
    unit="LUFS",
    spec=".2f",
    headline=True,
)
LU_SPREAD = CheckSpec(
    "lu_spread",
    "lu_spread",
    lambda t: between(None, t.max_lu_spread, f"<= {t.max_lu_spread:g} LU (max - min integrated)"),
    "LU spread",
    unit="LU",
    spec=".2f",
    scope="job",
)

# Report order: the docs/ARCHITECTURE.md table, then the codec details.
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        "clip_count",
        "clip_count",
        lambda t: between(1, t.max_clips, f"1..{t.max_clips} clips"),
        "Clips",
        scope="job",
    ),
    CheckSpec(
        "duration",
        "duration_s",
        lambda t: between(
            t.min_clip_s - DURATION_TOLERANCE_S,
            t.max_clip_s + DURATION_TOLERANCE_S,
            f"{t.min_clip_s:g}..{t.max_clip_s:g} s "
            f"(+/- {DURATION_TOLERANCE_S:g} s for frame rounding)",
        ),
        "Duration",
        unit="s",
        spec=".2f",
        headline=True,
    ),
    CheckSpec(
        "boundary_clean",
        "boundary_clean",
        lambda t: one_of(True, threshold="true: no word cut, starts at a sentence start"),
        "Clean cut",
    ),
    LOUDNESS,
    LU_SPREAD,
    CheckSpec(
        "true_peak",
        "true_peak_dbtp",
        lambda t: between(None, t.max_true_peak_dbtp, f"<= {t.max_true_peak_dbtp:g} dBTP"),
        "True peak",
        unit="dBTP",
        spec=".2f",
        headline=True,
    ),
    CheckSpec(
        "face_centered",
        "face_centered_ratio",
        lambda t: between(
            t.min_face_centered_ratio, None, f">= {t.min_face_centered_ratio:g} of sampled frames"
        ),
        "Face centred",
        spec=".0%",
        headline=True,
    ),
    CheckSpec(
        "decode_errors",
        "decode_errors",
        lambda t: between(0, 0, "0 (strict full decode)"),
        "Decode errors",
        headline=True,
    ),
    CheckSpec("codec", "codec", lambda t: one_of("h264", threshold="h264"), "Codec"),
    CheckSpec("profile", "profile", lambda t: one_of("High", threshold="High"), "Profile"),
    CheckSpec(
        "level",
        "level",
        lambda t: between(1, MAX_LEVEL_IDC, f"<= {MAX_LEVEL_IDC} (level 4.0)"),
        "Level (level_idc)",
    ),
    CheckSpec(
        "level_frame_size",
        "mb_per_frame",
        lambda t: between(
            None, LEVEL_40_MAX_FS, f"<= {LEVEL_40_MAX_FS} macroblocks per frame (level 4.0 MaxFS)"
        ),
        "Frame size",
        unit="macroblocks",
        spec=".0f",
    ),
    CheckSpec(
        "level_mb_rate",
        "mb_per_s",
        lambda t: between(
            None, LEVEL_40_MAX_MBPS, f"<= {LEVEL_40_MAX_MBPS} macroblocks/s (level 4.0 MaxMBPS)"
        ),
        "Macroblock rate",
        unit="macroblocks/s",
        spec=".0f",
    ),
    CheckSpec(
        "pix_fmt", "pix_fmt", lambda t: one_of("yuv420p", threshold="yuv420p"), "Pixel format"
    ),
    CheckSpec(
        "color_primaries",
        "primaries_tags",
        lambda t: one_of(BT709_BOTH, threshold=f"bt709 {_BOTH}"),
        "Colour primaries",
    ),
    CheckSpec(
        "color_transfer",
        "transfer_tags",
        lambda t: one_of(BT709_BOTH, threshold=f"bt709 {_BOTH}"),
        "Transfer",
    ),
    CheckSpec(
        "color_space",
        "matrix_tags",
        lambda t: one_of(BT709_BOTH, threshold=f"bt709 matrix {_BOTH}"),
        "Matrix",
    ),
    CheckSpec(
        "color_range",
        "range_tags",
        lambda t: one_of("tv/tv", threshold=f"tv (limited) {_BOTH}"),
        "Range",
    ),
    CheckSpec(
        "hdr_metadata",
        "hdr_side_data",
        lambda t: one_of(
            False,
            threshold="none: no mastering-display / content-light / alt-transfer SEI or side data",
        ),
        "HDR metadata",
    ),
    CheckSpec(
        "cfr", "cfr", lambda t: one_of(True, threshold="constant frame rate"), "Constant rate"
    ),
    CheckSpec(
        "fps",
        "fps",
        lambda t: between(0, t.max_fps, f"<= {t.max_fps:g} fps"),
        "Frame rate",
        unit="fps",
        spec="g",
    ),
    CheckSpec(
        "bitrate",
        "bit_rate",
        lambda t: between(
            None,
            LEVEL_40_HIGH_MAX_BITRATE,
            f"<= {LEVEL_40_HIGH_MAX_BITRATE} bit/s (High@4.0 MaxBR, VCL)",
        ),
        "Video bitrate",
        unit="bit/s",
        spec=",.0f",
    ),
    CheckSpec(
        "cost",
        "total_usd",
        lambda t: between(0, t.max_job_usd, f"< ${t.max_job_usd:g} per job (ledger total)"),
        "Cost",
        unit="USD",
        spec=".4f",
        scope="job",
    ),
)


def find(name: object) -> CheckSpec | None:
    """The declaration called ``name``; None when no check has that name."""
    return next((c for c in CHECKS if c.name == name), None)


def described(check: Mapping[str, Any]) -> dict[str, Any]:
    """A report's check entry with its declaration's label, unit and scope added."""
    spec = find(check.get("name"))
    if spec is None:
        return dict(check)
    return {**check, "label": spec.label, "unit": spec.unit, "scope": spec.scope}


# --- the job database ---------------------------------------------------------------------------

DB_FIELDS = ("clip_index", "name", "passed", "value", "threshold")


def _job_level(name: object) -> bool:
    """Job-level by declaration; a check no declaration knows is kept as a job-level row."""
    spec = find(name)
    return spec is None or spec.scope == "job"


def database_rows(qa: JobQA | Mapping[str, Any]) -> list[dict[str, Value]]:
    """The QA rows the job database stores (its ``record_qa``), from a report dict
    (:func:`qa.report.build_report`) or from the gate's verdict.

    One row per job-level check (``clip_index`` None), then, clip by clip, one per per-clip
    check, with that clip's own value (``clip_index``: the clip's ``index`` in the report; for
    a verdict, its 1-based position, which is the plan index). Each row has exactly the keys
    :data:`DB_FIELDS`.
    """
    job: list[Mapping[str, Any]]
    clips: list[tuple[int, list[Mapping[str, Any]]]]
    if isinstance(qa, JobQA):
        job = [asdict(c) for c in qa.checks]
        clips = [(i, [asdict(c) for c in cs]) for i, cs in enumerate(qa.clip_checks, start=1)]
    else:
        job = list(qa["qa"]["checks"])
        clips = [(int(c["index"]), list(c["qa"].get("checks", []))) for c in qa["clips"]]
    located: list[tuple[int | None, Mapping[str, Any]]]
    located = [(None, c) for c in job if _job_level(c["name"])]
    located += [(index, c) for index, checks in clips for c in checks]
    return [{"clip_index": index, **{f: c.get(f) for f in DB_FIELDS[1:]}} for index, c in located]
