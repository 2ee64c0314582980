"""qa.checks: every declared check tried at its boundary through the real gate (table-driven
from the declarations: a new check is tried without a new test), then the report and the job
database's rows, derived from the same declarations."""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from blocks.settings import PipelineSettings
from qa import checks, gate
from qa.checks import CHECKS, DB_FIELDS, CheckSpec, Rule, Thresholds, between, database_rows
from qa.page import to_html
from qa.records import ClipMeasurements, JobQA, Value
from tests.qa.factories import GOOD, judge, make_report

SETTINGS = {
    "defaults": PipelineSettings(),
    "tightened": PipelineSettings(
        max_clips=3, min_clip_s=20.0, max_clip_s=45.0, target_lufs=-16.0, lufs_tolerance=1.0,
        max_lu_spread=0.5, max_true_peak_dbtp=-2.0, min_face_centered_ratio=0.8, max_fps=24.0,
        max_job_usd=1.5,
    ),
}  # fmt: skip


def compliant(t: Thresholds) -> ClipMeasurements:
    """A clip that passes every check under ``t`` (the base each boundary case changes)."""
    return replace(
        GOOD,
        integrated_lufs=t.target_lufs,
        true_peak_dbtp=t.max_true_peak_dbtp - 1.0,
        duration_s=(t.min_clip_s + t.max_clip_s) / 2,
        face_centered_ratio=1.0,
        codec=replace(GOOD.codec, fps=min(GOOD.codec.fps, t.max_fps)),
    )


def outside(values: tuple[Value, ...]) -> Value:
    """A value the set rule of ``values`` does not admit."""
    if all(isinstance(v, bool) for v in values):
        return not values[0]
    return "not-" + "/".join(map(str, values))


def edges(rule: Rule) -> list[tuple[Value, bool]]:
    """Each bound and the nearest float past it, or each allowed value and one that is not;
    with whether the check must pass."""
    if rule.values:
        other = outside(rule.values)
        assert other not in rule.values, f"a set rule that admits everything: {rule}"
        return [*((v, True) for v in rule.values), (other, False)]
    cases: list[tuple[Value, bool]] = []
    for bound, outward in ((rule.lo, -math.inf), (rule.hi, math.inf)):
        if bound is not None:
            cases += [(bound, True), (math.nextafter(bound, outward), False)]
    return cases


def _tables(t: Thresholds) -> tuple[dict[str, Any], dict[str, Any]]:
    """The compliant clip row and job row, as the gate's columns."""
    clip = gate.flatten_row(gate.clip_row(compliant(t), boundary_clean=True, clip="base"))
    job = gate.job_frame(pd.DataFrame([clip]), total_usd=t.max_job_usd / 2)
    return clip, job.iloc[0].to_dict()


Case = tuple[CheckSpec, Value, bool]


@functools.cache
def clip_cases(settings: str) -> tuple[list[Case], JobQA]:
    """Every boundary case of every per-clip check, one clip each after the compliant base
    clip, judged together (one validation: the gate reports each clip's own failures)."""
    t = Thresholds.of(SETTINGS[settings])
    clip, job = _tables(t)
    cases = [(c, v, ok) for c in CHECKS if c.scope == "clip" for v, ok in edges(c.rule(t))]
    frame = pd.DataFrame([clip, *({**clip, c.column: v} for c, v, _ in cases)])
    return cases, gate.judge(frame, pd.DataFrame([job]), t)


@pytest.mark.parametrize("settings", list(SETTINGS))
@pytest.mark.parametrize("spec", CHECKS, ids=[c.name for c in CHECKS])
def test_each_check_flips_exactly_at_its_boundary(spec: CheckSpec, settings: str) -> None:
    t = Thresholds.of(SETTINGS[settings])
    cases = edges(spec.rule(t))
    assert cases and not all(ok for _, ok in cases)
    every_clip_case, qa = clip_cases(settings)
    assert qa.clip_failures[0] == (), "the compliant base clip fails: adjust compliant()"
    assert not set(qa.failed_checks) - {c.name for c, _, _ in every_clip_case}
    if spec.scope == "clip":
        mine = [(i, v, ok) for i, (c, v, ok) in enumerate(every_clip_case, 1) if c is spec]
        assert [(v, ok) for _, v, ok in mine] == cases
        for i, value, ok in mine:
            assert qa.clip_failures[i] == (() if ok else (spec.name,)), f"{spec.column}={value!r}"
            (own,) = [c for c in qa.clip_checks[i] if c.name == spec.name]
            assert own.passed is ok
        assert spec.name in qa.failed_checks
    else:
        clip, job = _tables(t)
        for value, ok in cases:
            qa = gate.judge(pd.DataFrame([clip]), pd.DataFrame([{**job, spec.column: value}]), t)
            assert qa.failed_checks == (() if ok else (spec.name,)), f"{spec.column}={value!r}"
            assert qa.clip_failures == ((),)


def test_declarations_are_well_formed() -> None:
    names = [c.name for c in CHECKS]
    assert len(set(names)) == len(names), "two checks share a name"
    assert len({c.label for c in CHECKS}) == len(CHECKS), "two checks share a label"
    t = Thresholds.of(PipelineSettings())
    for c in CHECKS:
        columns = gate.CLIP_COLUMNS if c.scope == "clip" else gate.JOB_COLUMNS
        assert c.column in columns, f"{c.name}: no {c.scope} column {c.column!r}"
        rule = c.rule(t)
        assert bool(rule.values) != (rule.lo is not None or rule.hi is not None), c.name
        assert c.label and rule.threshold
        assert checks.find(c.name) is c
    assert checks.find("no-such-check") is None


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("integrated_lufs", -14.1, "-14.10 LUFS"),
        ("true_peak", -1.5, "-1.50 dBTP"),
        ("face_centered", 0.97, "97%"),
        ("decode_errors", 0, "0"),
        ("duration", 20.0, "20.00 s"),
        ("lu_spread", 0.3, "0.30 LU"),
        ("bitrate", 600_000, "600,000 bit/s"),
        ("fps", 30.0, "30 fps"),
        ("cfr", True, "true"),
        ("profile", "High", "High"),
        ("integrated_lufs", "-inf", "-inf"),  # the gate reports a silent clip's -inf as text
        ("integrated_lufs", float("nan"), "nan"),
        ("true_peak", None, "—"),
    ],
)
def test_values_are_shown_as_declared(name: str, value: Value, shown: str) -> None:
    spec = checks.find(name)
    assert spec is not None and spec.display(value) == shown


# --- the report and the database rows follow the declarations -------------------------------


def test_report_labels_and_per_clip_checks_come_from_the_declarations() -> None:
    report = make_report(["in band", "too quiet"], [-14.1, -16.0])
    assert [c["name"] for c in report["qa"]["checks"]] == [c.name for c in CHECKS]
    for entry, spec in zip(report["qa"]["checks"], CHECKS, strict=True):
        assert (entry["label"], entry["unit"], entry["scope"]) == (
            spec.label,
            spec.unit,
            spec.scope,
        )
    per_clip = [c.name for c in CHECKS if c.scope == "clip"]
    for clip in report["clips"]:
        assert [c["name"] for c in clip["qa"]["checks"]] == per_clip
        failed = [c["name"] for c in clip["qa"]["checks"] if not c["passed"]]
        assert failed == clip["qa"]["failed_checks"]
    assert report["clips"][1]["qa"]["failed_checks"] == ["integrated_lufs"]
    page = to_html(report)
    rows = re.findall(r'<tr class="(?:fail)?"><td>([a-z_]+)</td><td>([^<]*)</td>', page)
    assert rows == [(c.name, c.label) for c in CHECKS]
    cards = re.findall(r'<ul class="metrics">(.*?)</ul>', page)
    headline = [c.label for c in CHECKS if c.headline]
    assert len(cards) == 2
    for card in cards:
        assert re.findall(r"<span>([^<]*)</span>", card) == headline
    assert '<li class="bad"><span>Loudness</span> -16.00 LUFS</li>' in cards[1]
    assert '<li class=""><span>Loudness</span> -14.10 LUFS</li>' in cards[0]


LOUDNESS_RANGE = CheckSpec(
    "loudness_range",
    "lra_lu",
    lambda t: between(None, 15.0, "<= 15 LU (EBU R128 LRA)"),
    "Loudness range",
    unit="LU",
    spec=".1f",
    headline=True,
)


def test_a_new_declaration_reaches_the_gate_the_report_and_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks, "CHECKS", (*checks.CHECKS, LOUDNESS_RANGE))
    clips = [GOOD, replace(GOOD, lra_lu=18.3)]
    report = make_report(["calm", "wild"], [-14.0, -14.0], clips=clips)

    assert report["qa"]["checks"][-1] == {
        "name": "loudness_range", "passed": False, "value": 18.3,
        "threshold": "<= 15 LU (EBU R128 LRA)", "lo": None, "hi": 15.0,
        "label": "Loudness range", "unit": "LU", "scope": "clip",
    }  # fmt: skip
    assert [c["qa"]["failed_checks"] for c in report["clips"]] == [[], ["loudness_range"]]
    assert [c["qa"]["checks"][-1]["value"] for c in report["clips"]] == [3.0, 18.3]

    page = to_html(report)
    assert '<tr class="fail"><td>loudness_range</td><td>Loudness range</td>' in page
    assert "<td class='num'>18.3 LU</td><td>&lt;= 15 LU (EBU R128 LRA)</td>" in page
    assert '<li class=""><span>Loudness range</span> 3.0 LU</li>' in page
    assert '<li class="bad"><span>Loudness range</span> 18.3 LU</li>' in page

    rows = [r for r in database_rows(report) if r["name"] == "loudness_range"]
    assert [(r["clip_index"], r["passed"], r["value"]) for r in rows] == [
        (1, True, 3.0),
        (2, False, 18.3),
    ]


def test_database_rows_one_per_clip_per_check_and_one_per_job_check() -> None:
    clips = [replace(GOOD, integrated_lufs=v) for v in (-14.0, -16.0, float("-inf"))]
    verdict = judge(clips)
    report = make_report(["a", "b", "c"], [-14.0, -16.0, -14.0], clips=clips)
    rows = database_rows(report)
    job = [c.name for c in CHECKS if c.scope == "job"]
    per_clip = [c.name for c in CHECKS if c.scope == "clip"]
    assert len(rows) == len(job) + 3 * len(per_clip)
    assert [(r["clip_index"], r["name"]) for r in rows] == [(None, n) for n in job] + [
        (i, n) for i in (1, 2, 3) for n in per_clip
    ]
    assert all(tuple(r) == DB_FIELDS for r in rows)
    json.dumps(rows, allow_nan=False)  # the database stores JSON values
    failed = {(r["clip_index"], r["name"]) for r in rows if not r["passed"]}
    assert failed == {(None, "lu_spread"), (2, "integrated_lufs"), (3, "integrated_lufs")}
    assert [r["value"] for r in rows if r["name"] == "integrated_lufs"] == [-14.0, -16.0, "-inf"]
    summary = {c["name"]: c for c in report["qa"]["checks"]}
    for r in rows:
        assert r["threshold"] == summary[r["name"]]["threshold"]
        if r["clip_index"] is None:
            assert {k: r[k] for k in DB_FIELDS[1:]} == {
                k: summary[r["name"]][k] for k in DB_FIELDS[1:]
            }

    assert database_rows(verdict) == rows  # the verdict and its report give the same rows
    report["clips"][0]["index"] = 7  # rows name clips by the report's index
    assert {r["clip_index"] for r in database_rows(report)} == {None, 7, 2, 3}


def test_database_rows_of_a_job_without_clips() -> None:
    rows = database_rows(judge([]))
    assert [(r["clip_index"], r["name"], r["passed"]) for r in rows] == [
        (None, c.name, c.name != "clip_count") for c in CHECKS if c.scope == "job"
    ]
