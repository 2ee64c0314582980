"""The QA gate: a great-expectations suite over the per-clip table and the job-level row.

One expectation per check, thresholds from :class:`PipelineSettings` (ARCHITECTURE.md,
"QA thresholds"). great-expectations has no max - min expectation for pandas, so the LU spread
is validated on a one-row frame of job-level metrics (clip count, spread).

The context is EPHEMERAL (nothing on disk); it and the suites for a set of thresholds are built
once per process and reused, so a later :func:`evaluate` costs two validations (~0.1-0.2 s
on an idle 2-core machine, most of it great-expectations' own bookkeeping).
``import great_expectations`` takes ~3 s: it happens on the first call, not at import.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, is_dataclass
from functools import lru_cache
from typing import Any, Literal

import pandas as pd

from blocks.settings import PipelineSettings
from qa.records import Check, ClipMeasurements, JobQA

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

# Columns of the per-clip table; the last six are derived (macroblock load, "SPS/colr" pairs).
CODEC_FIELDS = tuple(
    "codec profile level pix_fmt color_primaries color_transfer color_space color_range width "
    "height fps cfr bit_rate hdr_side_data".split()
)
MEASURED_FIELDS = tuple(
    "integrated_lufs true_peak_dbtp face_centered_ratio decode_errors duration_s".split()
)
CLIP_COLUMNS = (
    "clip",
    *MEASURED_FIELDS,
    "boundary_clean",
    *CODEC_FIELDS,
    *"sps_primaries sps_transfer sps_matrix sps_range colr_type colr_primaries colr_transfer "
    "colr_matrix colr_range mb_per_frame mb_per_s primaries_tags transfer_tags matrix_tags "
    "range_tags".split(),
)
ABSENT = "absent"  # colr_* columns when the file has no colr box
BT709_BOTH = "bt709/bt709"


@dataclass(frozen=True, slots=True)
class Rule:
    """One check = one expectation on one column of the clip table or the job row."""

    name: str
    column: str
    threshold: str  # readable, for the report
    lo: float | None = None  # between lo and hi (either may be open) ...
    hi: float | None = None
    values: tuple[Any, ...] = ()  # ... or, when given, one of these values
    scope: Literal["clip", "job"] = "clip"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The settings the suites depend on (hashable: the suite cache key)."""

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


def rules(t: Thresholds) -> tuple[Rule, ...]:
    """Every check, in report order (the ARCHITECTURE.md table, then codec details)."""
    tol, lufs, lu = DURATION_TOLERANCE_S, t.target_lufs, t.lufs_tolerance
    both = "in the SPS VUI and the MP4 colr box (value: SPS/colr)"
    return (
        Rule("clip_count", "clip_count", f"1..{t.max_clips} clips", 1, t.max_clips, scope="job"),
        Rule("duration", "duration_s",
             f"{t.min_clip_s:g}..{t.max_clip_s:g} s (+/- {tol:g} s for frame rounding)",
             t.min_clip_s - tol, t.max_clip_s + tol),
        Rule("boundary_clean", "boundary_clean", "true: no word cut, starts at a sentence start",
             values=(True,)),
        Rule("integrated_lufs", "integrated_lufs", f"{lufs:g} +/- {lu:g} LUFS", lufs - lu,
             lufs + lu),
        Rule("lu_spread", "lu_spread", f"<= {t.max_lu_spread:g} LU (max - min integrated)",
             hi=t.max_lu_spread, scope="job"),
        Rule("true_peak", "true_peak_dbtp", f"<= {t.max_true_peak_dbtp:g} dBTP",
             hi=t.max_true_peak_dbtp),
        Rule("face_centered", "face_centered_ratio",
             f">= {t.min_face_centered_ratio:g} of sampled frames", t.min_face_centered_ratio),
        Rule("decode_errors", "decode_errors", "0 (strict full decode)", 0, 0),
        Rule("codec", "codec", "h264", values=("h264",)),
        Rule("profile", "profile", "High", values=("High",)),
        Rule("level", "level", f"<= {MAX_LEVEL_IDC} (level 4.0)", 1, MAX_LEVEL_IDC),
        Rule("level_frame_size", "mb_per_frame",
             f"<= {LEVEL_40_MAX_FS} macroblocks per frame (level 4.0 MaxFS)",
             hi=LEVEL_40_MAX_FS),
        Rule("level_mb_rate", "mb_per_s",
             f"<= {LEVEL_40_MAX_MBPS} macroblocks/s (level 4.0 MaxMBPS)", hi=LEVEL_40_MAX_MBPS),
        Rule("pix_fmt", "pix_fmt", "yuv420p", values=("yuv420p",)),
        Rule("color_primaries", "primaries_tags", f"bt709 {both}", values=(BT709_BOTH,)),
        Rule("color_transfer", "transfer_tags", f"bt709 {both}", values=(BT709_BOTH,)),
        Rule("color_space", "matrix_tags", f"bt709 matrix {both}", values=(BT709_BOTH,)),
        Rule("color_range", "range_tags", f"tv (limited) {both}", values=("tv/tv",)),
        Rule("hdr_metadata", "hdr_side_data",
             "none: no mastering-display / content-light / alt-transfer SEI or side data",
             values=(False,)),
        Rule("cfr", "cfr", "constant frame rate", values=(True,)),
        Rule("fps", "fps", f"<= {t.max_fps:g} fps", 0, t.max_fps),
        Rule("bitrate", "bit_rate", f"<= {LEVEL_40_HIGH_MAX_BITRATE} bit/s (High@4.0 MaxBR, VCL)",
             hi=LEVEL_40_HIGH_MAX_BITRATE),
        Rule("cost", "total_usd", f"< ${t.max_job_usd:g} per job (ledger total)", 0,
             t.max_job_usd, scope="job"),
    )  # fmt: skip


# --- the table ------------------------------------------------------------------------------


def clip_row(m: ClipMeasurements, *, boundary_clean: bool, clip: str = "") -> dict[str, Any]:
    """The row :func:`evaluate` expects for one clip (``clip`` names it in messages)."""
    row = asdict(m)
    row.pop("momentary", None)
    return {"clip": clip, **row, "boundary_clean": bool(boundary_clean)}


def _as_dict(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return dict(value) if isinstance(value, Mapping) else None


def _codec_part(row: Mapping[str, Any]) -> dict[str, Any]:
    """Codec fields from a row: nested (``asdict(ClipMeasurements)``), ``codec_``-prefixed
    (flattened by a caller), or already at the top level."""
    nested = _as_dict(row.get("codec"))
    if nested is not None:
        return nested
    prefixed = {k[len("codec_") :]: v for k, v in row.items() if k.startswith("codec_")}
    return prefixed or dict(row)


def _range(full: Any) -> str:
    return "unknown" if full is None else ("pc" if full else "tv")


def flatten_row(row: Mapping[str, Any], i: int = 0) -> dict[str, Any]:
    """One clip's row as the gate's columns (:data:`CLIP_COLUMNS`)."""
    codec = _codec_part(row)
    missing = [k for k in (*MEASURED_FIELDS, "boundary_clean") if k not in row]
    missing += [f"codec.{k}" for k in CODEC_FIELDS if k not in codec]
    if missing:
        raise ValueError(
            f"QA row {i} ({row.get('clip') or row.get('index', '?')}) lacks {', '.join(missing)}"
        )
    flat: dict[str, Any] = {k: row[k] for k in CLIP_COLUMNS if k in row}
    flat["clip"] = str(row.get("clip") or row.get("path") or row.get("index") or f"clip {i + 1}")
    flat.update({k: codec[k] for k in CODEC_FIELDS})
    sps = _as_dict(codec.get("sps_colour")) or {}
    colr = _as_dict(codec.get("colr_box"))
    flat.update(
        sps_primaries=sps.get("primaries", "unknown"),
        sps_transfer=sps.get("transfer", "unknown"),
        sps_matrix=sps.get("matrix", "unknown"),
        sps_range=_range(sps.get("full_range")),
        colr_type=colr["colour_type"] if colr else ABSENT,
        colr_primaries=colr["primaries"] if colr else ABSENT,
        colr_transfer=colr["transfer"] if colr else ABSENT,
        colr_matrix=colr["matrix"] if colr else ABSENT,
        colr_range=_range(colr["full_range"]) if colr else ABSENT,
    )
    for tag, sps_col, colr_col in (
        ("primaries", "sps_primaries", "colr_primaries"),
        ("transfer", "sps_transfer", "colr_transfer"),
        ("matrix", "sps_matrix", "colr_matrix"),
        ("range", "sps_range", "colr_range"),
    ):
        flat[f"{tag}_tags"] = f"{flat[sps_col]}/{flat[colr_col]}"
    mbs = math.ceil(int(flat["width"] or 0) / 16) * math.ceil(int(flat["height"] or 0) / 16)
    flat["mb_per_frame"] = mbs
    flat["mb_per_s"] = mbs * float(flat["fps"] or 0.0)
    return flat


def clip_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The per-clip table (one row per clip, positional index = row order)."""
    return pd.DataFrame([flatten_row(r, i) for i, r in enumerate(rows)], columns=list(CLIP_COLUMNS))


def lu_spread(integrated: Sequence[float]) -> float:
    """max - min integrated loudness; 0 for no clips, inf when a clip is silent (-inf)."""
    values = [float(v) for v in integrated]
    if not values:
        return 0.0
    spread = max(values) - min(values)
    return round(spread, 6) if not math.isnan(spread) else math.inf


# --- great-expectations ----------------------------------------------------------------------

_GX_LOCK = threading.Lock()  # one context per process; GX does not claim thread safety


@lru_cache(maxsize=1)
def _context() -> tuple[Any, Any, Any]:
    """(gx module, clip batch definition, job batch definition) on an ephemeral context."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # An ephemeral context announces its temporary docs folder at INFO, from a module logger
    # that great-expectations pins to INFO itself: noise on the CLI.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("clipflow-qa")
    clips = source.add_dataframe_asset("clips").add_batch_definition_whole_dataframe("clips")
    job = source.add_dataframe_asset("job").add_batch_definition_whole_dataframe("job")
    return gx, clips, job


def _expectation(gx: Any, rule: Rule) -> Any:
    meta = {"check": rule.name, "threshold": rule.threshold}
    if rule.values:
        return gx.expectations.ExpectColumnValuesToBeInSet(
            column=rule.column, value_set=list(rule.values), meta=meta
        )
    return gx.expectations.ExpectColumnValuesToBeBetween(
        column=rule.column, min_value=rule.lo, max_value=rule.hi, meta=meta
    )


@lru_cache(maxsize=16)
def _suites(t: Thresholds) -> tuple[Any, Any]:
    """(clip suite, job suite) for a set of thresholds: built once, validated many times."""
    gx, _, _ = _context()
    key = abs(hash(t))

    def suite(scope: str) -> Any:
        expectations = [_expectation(gx, r) for r in rules(t) if r.scope == scope]
        return gx.ExpectationSuite(name=f"clipflow-{scope}-{key:x}", expectations=expectations)

    return suite("clip"), suite("job")


def _validate(batch_definition: Any, suite: Any, frame: pd.DataFrame) -> dict[str, set[int]]:
    """Check name -> positions of failing rows; a check whose expectation raised fails all."""
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format="COMPLETE")
    failures: dict[str, set[int]] = {}
    for r in result.results:
        name = r.expectation_config.meta["check"]
        if r.exception_info and r.exception_info.get("raised_exception"):
            failures[name] = set(range(max(len(frame), 1)))
        elif not r.success:
            failures[name] = {int(i) for i in r.result.get("unexpected_index_list") or []}
    return failures


# --- values for the report ------------------------------------------------------------------


def _jsonable(value: Any) -> str | float | int | bool | None:
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else str(value)
    return str(value)


def observed(rule: Rule, column: pd.Series, failing: set[int]) -> str | float | int | bool | None:
    """The value a check reports: the worst clip's value (least margin) for a bound; the
    offending values (else the observed ones) for a set."""
    if column.empty:
        return None
    if rule.values:
        picked = column.iloc[sorted(failing)] if failing else column
        uniq = list(dict.fromkeys(picked.tolist()))
        return _jsonable(uniq[0]) if len(uniq) == 1 else ", ".join(map(str, uniq))
    if column.isna().any():
        return None
    lo = -math.inf if rule.lo is None else rule.lo
    hi = math.inf if rule.hi is None else rule.hi
    values = column.astype(float)
    margin = pd.concat([values - lo, hi - values], axis=1).min(axis=1)
    return _jsonable(column.iloc[int(margin.to_numpy().argmin())])


# --- the gate ---------------------------------------------------------------------------------


def evaluate(
    rows: Sequence[Mapping[str, Any]], settings: PipelineSettings, *, total_usd: float = 0.0
) -> JobQA:
    """Validate a job's clips (one row per clip, see :func:`clip_row`) and its cost so far
    (``total_usd``, the ledger's total) against the thresholds.

    Missing (null) values fail their check: great-expectations skips nulls on its own.
    """
    t = Thresholds.of(settings)
    clips = clip_frame(rows)
    spread = lu_spread(clips["integrated_lufs"].tolist())
    job = pd.DataFrame([{"clip_count": len(clips), "lu_spread": spread, "total_usd": total_usd}])
    with _GX_LOCK:
        _, clip_bd, job_bd = _context()
        clip_suite, job_suite = _suites(t)
        failing = _validate(clip_bd, clip_suite, clips)
        failing.update(_validate(job_bd, job_suite, job))

    checks: list[Check] = []
    per_clip: list[list[str]] = [[] for _ in range(len(clips))]
    for rule in rules(t):
        frame = clips if rule.scope == "clip" else job
        column = frame[rule.column]
        bad = failing.get(rule.name, set()) | set(frame.index[column.isna()].tolist())
        checks.append(
            Check(
                rule.name,
                not bad and rule.name not in failing,
                observed(rule, column, bad),
                rule.threshold,
            )
        )
        if rule.scope == "clip":
            for i in sorted(bad):
                per_clip[i].append(rule.name)
    return JobQA(
        lu_spread=spread,
        passed=all(c.passed for c in checks),
        checks=tuple(checks),
        clip_failures=tuple(tuple(f) for f in per_clip),
    )
