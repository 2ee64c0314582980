"""qa.gate: every check on synthetic rows (fast, table-driven), then "check the checks" on real
generated files: each file breaks one rule and must fail exactly that rule's checks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from blocks.settings import PipelineSettings
from qa.checks import LEVEL_40_HIGH_MAX_BITRATE
from qa.gate import clip_row, evaluate, lu_spread
from qa.records import ClipMeasurements, SpsColour
from tests.helpers import compliant_codec
from tests.qa.conftest import FULL, HDR10_PARAMS, ClipFactory, Variant

SPS = compliant_codec().sps_colour
COLR = compliant_codec().colr_box
CODEC = compliant_codec()
GOOD = ClipMeasurements(
    integrated_lufs=-14.0,
    true_peak_dbtp=-1.6,
    lra_lu=3.0,
    face_centered_ratio=0.97,
    decode_errors=0,
    duration_s=32.0,
    codec=CODEC,
)


def row(m: ClipMeasurements = GOOD, boundary_clean: bool = True, **codec: Any) -> dict[str, Any]:
    return clip_row(
        replace(m, codec=replace(m.codec, **codec)),
        boundary_clean=boundary_clean,
        clip="clip-01.mp4",
    )


def failed(rows: list[dict[str, Any]], settings: PipelineSettings | None = None) -> set[str]:
    return set(evaluate(rows, settings or PipelineSettings()).failed_checks)


CHECKS = [
    "clip_count", "duration", "boundary_clean", "integrated_lufs", "lu_spread", "true_peak",
    "face_centered", "decode_errors", "codec", "profile", "level", "level_frame_size",
    "level_mb_rate", "pix_fmt", "color_primaries", "color_transfer", "color_space",
    "color_range", "hdr_metadata", "cfr", "fps", "bitrate", "cost",
]  # fmt: skip


def test_compliant_row_passes_every_check() -> None:
    qa = evaluate([row(), row()], PipelineSettings())
    assert qa.passed and qa.lu_spread == 0.0
    assert [c.name for c in qa.checks] == CHECKS
    assert qa.clip_failures == ((), ())
    json.dumps(asdict(qa), allow_nan=False)  # the report can carry it as is


# (what is broken, the row, the checks that must fail). One rule each; some rules are broken in
# two places at once by nature (4:4:4 cannot be High profile; an untagged stream has no tags).
BROKEN: list[tuple[str, Callable[[], dict[str, Any]], set[str]]] = [
    ("too short", lambda: row(replace(GOOD, duration_s=14.4)), {"duration"}),
    ("too long", lambda: row(replace(GOOD, duration_s=60.6)), {"duration"}),
    ("word cut", lambda: row(boundary_clean=False), {"boundary_clean"}),
    ("too quiet", lambda: row(replace(GOOD, integrated_lufs=-24.0)), {"integrated_lufs"}),
    ("too loud", lambda: row(replace(GOOD, integrated_lufs=-13.4)), {"integrated_lufs"}),
    ("peaks", lambda: row(replace(GOOD, true_peak_dbtp=-0.5)), {"true_peak"}),
    ("face off", lambda: row(replace(GOOD, face_centered_ratio=0.6)), {"face_centered"}),
    ("corrupt", lambda: row(replace(GOOD, decode_errors=3)), {"decode_errors"}),
    ("hevc", lambda: row(codec="hevc", profile="Main"), {"codec", "profile"}),
    ("main profile", lambda: row(profile="Main"), {"profile"}),
    ("level 5.1", lambda: row(level=51), {"level"}),
    ("frame too big", lambda: row(width=2160, height=3840), {"level_frame_size", "level_mb_rate"}),
    ("1080x1920@60", lambda: row(fps=60.0), {"fps", "level_mb_rate"}),
    (
        "4:4:4",
        lambda: row(pix_fmt="yuv444p", profile="High 4:4:4 Predictive"),
        {"pix_fmt", "profile"},
    ),
    ("10 bit", lambda: row(pix_fmt="yuv420p10le", profile="High 10"), {"pix_fmt", "profile"}),
    (
        "untagged",
        lambda: row(
            sps_colour=SpsColour("unknown", "unknown", "unknown", None),
            colr_box=None,
            color_primaries="unknown",
        ),
        {"color_primaries", "color_transfer", "color_space", "color_range"},
    ),
    (
        "colr missing",
        lambda: row(colr_box=None),
        {"color_primaries", "color_transfer", "color_space", "color_range"},
    ),
    (
        "SPS retagged",
        lambda: row(sps_colour=replace(SPS, primaries="bt470bg")),
        {"color_primaries"},
    ),
    ("colr says bt601", lambda: row(colr_box=replace(COLR, matrix="smpte170m")), {"color_space"}),
    (
        "PQ",
        lambda: row(
            sps_colour=replace(SPS, transfer="smpte2084"),
            colr_box=replace(COLR, transfer="smpte2084"),
        ),
        {"color_transfer"},
    ),
    ("full range", lambda: row(sps_colour=replace(SPS, full_range=True)), {"color_range"}),
    ("HDR10 SEI", lambda: row(hdr_side_data=True), {"hdr_metadata"}),
    ("VFR", lambda: row(cfr=False), {"cfr"}),
    ("60 fps", lambda: row(fps=60.0, width=360, height=640), {"fps"}),
    ("bitrate", lambda: row(bit_rate=LEVEL_40_HIGH_MAX_BITRATE + 1), {"bitrate"}),
    ("bitrate unknown", lambda: row(bit_rate=None), {"bitrate"}),  # null fails, not skipped
]


@pytest.mark.parametrize(
    ("make", "expected"), [(m, e) for _, m, e in BROKEN], ids=[name for name, _, _ in BROKEN]
)
def test_each_broken_rule_fails_exactly_its_checks(
    make: Callable[[], dict[str, Any]], expected: set[str]
) -> None:
    qa = evaluate([make()], PipelineSettings())
    assert set(qa.failed_checks) == expected
    assert set(qa.clip_failures[0]) == expected
    assert not qa.passed


@pytest.mark.parametrize(
    ("duration", "ok"), [(14.6, True), (14.4, False), (60.4, True), (60.6, False)]
)
def test_duration_tolerance(duration: float, ok: bool) -> None:
    assert ("duration" not in failed([row(replace(GOOD, duration_s=duration))])) is ok


def test_job_level_checks() -> None:
    qa = evaluate([], PipelineSettings())
    assert qa.failed_checks == ("clip_count",) and qa.check("clip_count").value == 0
    assert failed([row()] * 6) == {"clip_count"}
    assert failed([row()] * 2, PipelineSettings(max_clips=1)) == {"clip_count"}
    # each clip within -14 +/- 0.5, but 0.9 LU apart: only the spread (tightened to 0.5) fails
    rows = [row(replace(GOOD, integrated_lufs=v)) for v in (-14.45, -13.55, -14.0)]
    qa = evaluate(rows, PipelineSettings(max_lu_spread=0.5))
    assert qa.failed_checks == ("lu_spread",) and qa.clip_failures == ((), (), ())
    assert qa.lu_spread == pytest.approx(0.9) and qa.check("lu_spread").value == 0.9


def test_values_and_thresholds_are_readable() -> None:
    rows = [row(replace(GOOD, integrated_lufs=v)) for v in (-14.2, -15.1, -13.9)]
    qa = evaluate(rows + [row(level=51)], PipelineSettings())
    lufs = qa.check("integrated_lufs")
    assert (lufs.passed, lufs.value, lufs.threshold) == (False, -15.1, "-14 +/- 0.5 LUFS")
    assert qa.check("level").value == 51 and "4.0" in qa.check("level").threshold
    assert qa.check("color_primaries").value == "bt709/bt709"
    assert qa.clip_failures == ((), ("integrated_lufs",), (), ("level",))
    silent = evaluate([row(replace(GOOD, integrated_lufs=float("-inf")))], PipelineSettings())
    assert silent.check("integrated_lufs").value == "-inf"
    json.dumps(asdict(silent), allow_nan=True)
    json.dumps([asdict(c) for c in silent.checks], allow_nan=False)


def test_thresholds_come_from_settings() -> None:
    quiet = row(replace(GOOD, integrated_lufs=-16.1, true_peak_dbtp=-2.0))
    assert "integrated_lufs" in failed([quiet])
    assert failed([quiet], PipelineSettings(target_lufs=-16.0)) == set()
    assert failed([row(fps=25.0)], PipelineSettings(max_fps=24)) == {"fps"}


def test_row_forms() -> None:
    """Rows may nest the codec (asdict) or prefix it (codec_*), as a caller flattened it."""
    nested = row(level=51)
    prefixed = {k: v for k, v in nested.items() if k != "codec"}
    prefixed.update({f"codec_{k}": v for k, v in nested["codec"].items()})
    a, b = evaluate([nested], PipelineSettings()), evaluate([prefixed], PipelineSettings())
    assert a == b and a.failed_checks == ("level",)
    with pytest.raises(ValueError, match=r"row 0 \(clip-01.mp4\) lacks boundary_clean"):
        evaluate([{k: v for k, v in nested.items() if k != "boundary_clean"}], PipelineSettings())


def test_lu_spread() -> None:
    assert lu_spread([]) == 0.0
    assert lu_spread([-14.0, -14.5]) == pytest.approx(0.5)
    assert lu_spread([-14.0, float("-inf")]) == float("inf")
    assert lu_spread([float("-inf"), float("-inf")]) == float("inf")


def test_context_and_suites_are_built_once() -> None:
    from qa import gate

    evaluate([row()], PipelineSettings())  # builds (or reuses) the context and the suites
    built = gate._context.cache_info().currsize, gate._suites.cache_info().currsize
    hits = gate._suites.cache_info().hits
    start = time.perf_counter()
    evaluate([row(), row(level=51)], PipelineSettings())
    elapsed = time.perf_counter() - start
    assert (gate._context.cache_info().currsize, gate._suites.cache_info().currsize) == built
    assert gate._suites.cache_info().hits == hits + 1
    assert elapsed < 5.0  # ~0.1-0.2 s on an idle 2-core machine; the first call pays ~3 s


# --- check the checks on real files ----------------------------------------------------------


def test_real_compliant_clip_passes_every_check(
    clips: ClipFactory, settings: PipelineSettings
) -> None:
    """16 s, High@4.0, BT.709 everywhere, -14 LUFS, face centred: every check passes (with
    the default thresholds when a face photo is available; see conftest.settings)."""
    qa = evaluate(
        [clip_row(clips.measure(clips.clip("compliant", FULL)), boundary_clean=True)], settings
    )
    assert qa.passed, [c for c in qa.checks if not c.passed]


# 4 s files (judged with short_settings), each breaking one rule.
REAL: list[tuple[str, Callable[[ClipFactory], Path], set[str]]] = [
    ("short-compliant", lambda c: c.clip("short"), set()),
    ("flipped", lambda c: c.flipped(), {"decode_errors"}),
    ("truncated", lambda c: c.truncated(), {"decode_errors"}),
    ("level51", lambda c: c.clip("level51", Variant(level="5.1")), {"level"}),
    (
        "untagged",
        lambda c: c.clip("untagged", Variant(colour=None)),
        {"color_primaries", "color_transfer", "color_space", "color_range"},
    ),
    (
        "yuv444",
        lambda c: c.clip("yuv444", Variant(pix_fmt="yuv444p", profile="high444")),
        {"pix_fmt", "profile"},
    ),
    (
        "pq",
        lambda c: c.clip("pq", Variant(colour=("bt709", "smpte2084", "bt709", "tv"))),
        {"color_transfer"},
    ),
    (
        "hlg",
        lambda c: c.clip("hlg", Variant(colour=("bt709", "arib-std-b67", "bt709", "tv"))),
        {"color_transfer"},
    ),
    (
        "hdr10_sei",
        lambda c: c.clip("hdr10_sei", Variant(x264_params=HDR10_PARAMS)),
        {"hdr_metadata"},
    ),
    ("fps60", lambda c: c.clip("fps60", Variant(fps=60)), {"fps"}),
    ("quiet", lambda c: c.clip("quiet", Variant(gain_db=-10)), {"integrated_lufs"}),
]


@pytest.mark.parametrize(
    ("make", "expected"), [(m, e) for _, m, e in REAL], ids=[name for name, _, _ in REAL]
)
def test_real_files_fail_exactly_their_checks(
    clips: ClipFactory,
    short_settings: PipelineSettings,
    make: Callable[[ClipFactory], Path],
    expected: set[str],
) -> None:
    m = clips.measure(make(clips))
    qa = evaluate([clip_row(m, boundary_clean=True)], short_settings)
    assert set(qa.failed_checks) == expected, [c for c in qa.checks if not c.passed]


def test_real_face_off_centre_fails_only_framing(
    clips: ClipFactory, need_face: object, short_settings: PipelineSettings
) -> None:
    good = clips.measure(clips.clip("short"))
    off = clips.measure(clips.clip("offcentre", Variant(face_x=0.2)))
    qa = evaluate(
        [clip_row(good, boundary_clean=True), clip_row(off, boundary_clean=True)], short_settings
    )
    assert qa.failed_checks == ("face_centered",)
    assert qa.clip_failures == ((), ("face_centered",))


def test_real_job_spread(clips: ClipFactory, short_settings: PipelineSettings) -> None:
    """A compliant clip and one 10 dB down: the quiet one fails loudness, the job its spread."""
    rows = [
        clip_row(clips.measure(clips.clip("compliant", FULL)), boundary_clean=True),
        clip_row(clips.measure(clips.clip("quiet", Variant(gain_db=-10))), boundary_clean=True),
    ]
    qa = evaluate(rows, short_settings)
    assert set(qa.failed_checks) == {"integrated_lufs", "lu_spread"}
    assert qa.clip_failures == ((), ("integrated_lufs",))
    assert qa.lu_spread == pytest.approx(10.0, abs=0.3)


def test_cost_over_the_job_budget_fails_only_the_cost_check() -> None:
    settings = PipelineSettings(max_job_usd=4.0)
    assert evaluate([row()], settings, total_usd=3.99).passed
    qa = evaluate([row()], settings, total_usd=4.01)
    assert qa.failed_checks == ("cost",)
    assert qa.check("cost").value == pytest.approx(4.01)


def _at(**fields: Any) -> ClipMeasurements:
    return replace(GOOD, **fields)


@pytest.mark.parametrize(
    ("name", "measurements", "passes"),
    [
        # Each threshold exactly, then just past it: the verdict flips at the boundary.
        ("integrated_lufs", _at(integrated_lufs=-14.5), True),
        ("integrated_lufs", _at(integrated_lufs=-14.51), False),
        ("integrated_lufs", _at(integrated_lufs=-13.5), True),
        ("integrated_lufs", _at(integrated_lufs=-13.49), False),
        ("true_peak", _at(true_peak_dbtp=-1.0), True),
        ("true_peak", _at(true_peak_dbtp=-0.99), False),
        ("face_centered", _at(face_centered_ratio=0.90), True),
        ("face_centered", _at(face_centered_ratio=0.899), False),
    ],
)
def test_verdicts_at_the_threshold_values(name: str, measurements, passes: bool) -> None:
    qa = evaluate([clip_row(measurements, boundary_clean=True)], PipelineSettings())
    assert qa.check(name).passed is passes


@pytest.mark.parametrize(("spread", "passes"), [(1.5, True), (1.51, False)])
def test_lu_spread_at_its_threshold(spread: float, passes: bool) -> None:
    low = _at(integrated_lufs=-14.5)
    high = _at(integrated_lufs=-14.5 + spread)
    rows = [clip_row(low, boundary_clean=True), clip_row(high, boundary_clean=True)]
    settings = PipelineSettings(lufs_tolerance=3.0)
    assert evaluate(rows, settings).check("lu_spread").passed is passes
