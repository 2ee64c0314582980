"""The QA gate: the great-expectations suites of :data:`qa.checks.CHECKS`, validated over the
per-clip table and the job-level row (docs/ARCHITECTURE.md, "QA thresholds").

One expectation per declared check, its bounds from :class:`PipelineSettings`.
great-expectations has no max - min expectation for pandas, so the LU spread is validated on
a one-row frame of job-level figures (clip count, spread, cost).

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
from dataclasses import asdict, fields, is_dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from blocks.settings import PipelineSettings
from qa import checks as declared
from qa.checks import CheckSpec, Rule, Thresholds
from qa.records import Check, ClipMeasurements, CodecRecord, JobQA, Value

if TYPE_CHECKING:
    from types import ModuleType

    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

# The clip table's columns: every scalar measurement, boundary_clean (from the transcript),
# every scalar codec field, the SPS and colr colour flattened, then derived columns:
# macroblock load and "SPS/colr" pairs of each colour field.
MEASURED_FIELDS = tuple(
    f.name for f in fields(ClipMeasurements) if f.name not in ("codec", "momentary")
)
CODEC_FIELDS = tuple(
    f.name for f in fields(CodecRecord) if f.name not in ("sps_colour", "colr_box")
)
COLOUR_FIELDS = ("primaries", "transfer", "matrix", "range")
CLIP_COLUMNS = (
    "clip",
    *MEASURED_FIELDS,
    "boundary_clean",
    *CODEC_FIELDS,
    *(f"sps_{k}" for k in COLOUR_FIELDS),
    "colr_type",
    *(f"colr_{k}" for k in COLOUR_FIELDS),
    "mb_per_frame",
    "mb_per_s",
    *(f"{k}_tags" for k in COLOUR_FIELDS),
)
# The job row's columns.
JOB_COLUMNS = ("clip_count", "lu_spread", "total_usd")
ABSENT = "absent"  # colr_* columns when the file has no colr box


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
    for k in COLOUR_FIELDS:
        flat[f"{k}_tags"] = f"{flat[f'sps_{k}']}/{flat[f'colr_{k}']}"
    mbs = math.ceil(int(flat["width"] or 0) / 16) * math.ceil(int(flat["height"] or 0) / 16)
    flat["mb_per_frame"] = mbs
    flat["mb_per_s"] = mbs * float(flat["fps"] or 0.0)
    return flat


def clip_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The per-clip table (one row per clip, positional index = row order)."""
    return pd.DataFrame([flatten_row(r, i) for i, r in enumerate(rows)], columns=list(CLIP_COLUMNS))


def job_frame(clips: pd.DataFrame, total_usd: float) -> pd.DataFrame:
    """The one-row job table: clip count, LU spread, cost so far."""
    spread = lu_spread(clips["integrated_lufs"].tolist())
    row = dict(zip(JOB_COLUMNS, (len(clips), spread, total_usd), strict=True))
    return pd.DataFrame([row], columns=list(JOB_COLUMNS))


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
def _context() -> tuple[ModuleType, BatchDefinition[Any], BatchDefinition[Any]]:
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


def _expectation(gx: ModuleType, spec: CheckSpec, rule: Rule) -> Expectation:
    meta = {"check": spec.name, "threshold": rule.threshold}
    expectation: Expectation
    if rule.values:
        expectation = gx.expectations.ExpectColumnValuesToBeInSet(
            column=spec.column, value_set=list(rule.values), meta=meta
        )
    else:
        expectation = gx.expectations.ExpectColumnValuesToBeBetween(
            column=spec.column, min_value=rule.lo, max_value=rule.hi, meta=meta
        )
    return expectation


@lru_cache(maxsize=16)
def _suites(
    t: Thresholds, specs: tuple[CheckSpec, ...]
) -> tuple[ExpectationSuite, ExpectationSuite]:
    """(clip suite, job suite) of the declared checks under a set of thresholds: built once,
    validated many times."""
    gx, _, _ = _context()
    key = abs(hash((t, specs)))

    def suite(scope: str) -> ExpectationSuite:
        expectations = [_expectation(gx, c, c.rule(t)) for c in specs if c.scope == scope]
        built: ExpectationSuite = gx.ExpectationSuite(
            name=f"clipflow-{scope}-{key:x}", expectations=expectations
        )
        return built

    return suite("clip"), suite("job")


def _validate(
    batch_definition: BatchDefinition[Any], suite: ExpectationSuite, frame: pd.DataFrame
) -> dict[str, set[int]]:
    """Check name -> positions of failing rows; a check whose expectation raised fails all."""
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format="COMPLETE")
    failures: dict[str, set[int]] = {}
    for r in result.results:
        name = str(r.expectation_config.meta["check"]) if r.expectation_config else ""
        if r.exception_info and r.exception_info.get("raised_exception"):
            failures[name] = set(range(max(len(frame), 1)))
        elif not r.success:
            failures[name] = {int(i) for i in r.result.get("unexpected_index_list") or []}
    return failures


# --- values for the report ------------------------------------------------------------------


def _jsonable(value: object) -> Value:
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item):  # numpy scalar
        value = item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else str(value)
    return str(value)


def observed(rule: Rule, column: pd.Series[Any], failing: set[int]) -> Value:
    """The value a check reports over the job: the worst clip's value (least margin) for a
    bound; the offending values (else the observed ones) for a set."""
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
    clips = clip_frame(rows)
    return judge(clips, job_frame(clips, total_usd), Thresholds.of(settings))


def judge(clips: pd.DataFrame, job: pd.DataFrame, t: Thresholds) -> JobQA:
    """The verdict on a clip table (:func:`clip_frame`) and a job row (:func:`job_frame`)."""
    specs = declared.CHECKS
    with _GX_LOCK:
        _, clip_bd, job_bd = _context()
        clip_suite, job_suite = _suites(t, specs)
        failing = _validate(clip_bd, clip_suite, clips)
        failing.update(_validate(job_bd, job_suite, job))

    results: list[Check] = []
    per_clip: list[list[Check]] = [[] for _ in range(len(clips))]
    for spec in specs:
        rule = spec.rule(t)
        frame = clips if spec.scope == "clip" else job
        column = frame[spec.column]
        bad = failing.get(spec.name, set()) | set(frame.index[column.isna()].tolist())
        passed = not bad and spec.name not in failing
        bounds = (rule.threshold, rule.lo, rule.hi)
        results.append(Check(spec.name, passed, observed(rule, column, bad), *bounds))
        if spec.scope == "clip":
            for i, clip_checks in enumerate(per_clip):
                value = _jsonable(column.iloc[i])
                clip_checks.append(Check(spec.name, i not in bad, value, *bounds))
    return JobQA(
        lu_spread=float(job["lu_spread"].iloc[0]),
        passed=all(c.passed for c in results),
        checks=tuple(results),
        clip_checks=tuple(tuple(c) for c in per_clip),
    )
