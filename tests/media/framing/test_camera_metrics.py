"""Camera-stability metrics, then the framing chain judged by them on synthetic face tracks.

The scenario tests build detections with jitter, misses, gaps and outliers, plan the crop
exactly as the pipeline does (:func:`media.framing.framing_plan.plan_framing`), and print what they
measure
(``pytest -s`` shows it). They assert only what a viewer would notice: a camera that moves for
a still speaker, reverses, pans faster than the bound, jumps, or loses the face.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from media.framing.camera_metrics import (
    CameraMetrics,
    count_reversals,
    frame_positions,
    measure_keys,
    measure_plan,
    measure_positions,
)
from media.framing.crop_path import CropKey, PathParams
from media.framing.framing_plan import FramingPlan, plan_framing
from tests.generated_media import analysis, talking

# --- the metric itself ------------------------------------------------------------------------


def test_keys_hold_until_the_next_one_on_the_frame_grid():
    keys = (CropKey(0.0, 10, 0), CropKey(0.1, 20, 5), CropKey(0.133, 30, 5))
    xy = frame_positions(keys, 0.2, 30.0)
    # Frames at 0, 1/30, … 5/30: the 0.1 key lands on frame 3, the 0.133 key on frame 4.
    assert xy[:, 0].tolist() == [10, 10, 10, 20, 30, 30]
    assert xy[:, 1].tolist() == [0, 0, 0, 5, 5, 5]


def test_still_camera_measures_zero():
    m = measure_keys((CropKey(0.0, 656, 0),), 10.0, 30.0, crop_w=608)
    assert m == CameraMetrics(10.0, 30.0, 300, 0, 0, 0.0, 0.0, 0.0, 0.0)


def test_a_steady_pan_has_its_speed_and_no_reversal():
    xy = np.stack([100 + 3.0 * np.arange(90), np.zeros(90)], axis=1)
    m = measure_positions(xy, 30.0, crop_w=608)
    assert (m.p99_speed_px, m.max_speed_px, m.reversals, m.cuts) == (3.0, 3.0, 0, 0)
    assert m.moving_share == 1.0


def test_back_and_forth_counts_reversals_per_second():
    x = 300 + 20 * np.sin(2 * np.pi * np.arange(300) / 60)  # ±20 px, one cycle per 2 s
    m = measure_positions(np.stack([x, np.zeros(300)], axis=1), 30.0, crop_w=608)
    assert m.reversals == 10  # 5 cycles: a turn at every crest and every trough
    assert m.reversals_per_s == pytest.approx(1.0)


def test_rounding_wobble_inside_the_dead_band_is_not_a_reversal():
    x = np.array([100, 101, 100, 101, 102, 101, 100, 101] * 10, dtype=float)
    assert count_reversals(x, np.zeros(len(x) - 1, bool), dead_band_px=2.0) == 0
    assert count_reversals(x, np.zeros(len(x) - 1, bool), dead_band_px=0.5) > 10


def test_a_cut_is_counted_apart_and_does_not_reverse_or_speed_up_the_pan():
    x = np.concatenate([100 + 2.0 * np.arange(30), 900 - 2.0 * np.arange(30)])  # right, cut, left
    m = measure_positions(np.stack([x, np.zeros(60)], axis=1), 30.0, crop_w=608)
    assert (m.cuts, m.reversals, m.max_speed_px) == (1, 0, 2.0)


def test_the_frame_grid_is_what_ffmpeg_plays(tmp_path):
    """Render a planned pan with the pipeline's sendcmd + crop from a lossless noise source and
    find each frame's window: it is exactly where :func:`frame_positions` says."""
    import cv2

    from media import ffmpeg
    from media.framing.crop_path import Shot, keys_from_shots, sendcmd_lines

    rng = np.random.default_rng(0)
    noise = cv2.resize(rng.integers(16, 235, (90, 160), dtype=np.uint8), (1280, 720))
    cv2.imwrite(str(tmp_path / "noise.png"), noise)
    src = tmp_path / "noise.mp4"
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-loop", "1", "-framerate", "30", "-t", "2", "-i", str(tmp_path / "noise.png"),
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
        str(src)])  # fmt: skip
    (first,) = ffmpeg.stream(ffmpeg.ffmpeg_base() + ["-i", str(src), "-frames:v", "1",
                             "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"],
                             frame_bytes=1280 * 720)  # fmt: skip
    picture = np.frombuffer(first, np.uint8).reshape(720, 1280)
    times = np.arange(0, 2.0, 0.2)
    shot = Shot(0.0, 2.0, times, 100 + 140 * times, np.zeros(len(times)))
    keys = keys_from_shots([shot], crop=(400, 400), src=(1280, 720))
    (tmp_path / "cmd.txt").write_text(sendcmd_lines(keys))
    vf = f"sendcmd=f={tmp_path / 'cmd.txt'},crop=w=400:h=400:x={keys[0].x}:y=0:exact=1"
    argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(src), seek_s=0.0) + [
        "-vf", vf, "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"]  # fmt: skip
    expected = frame_positions(keys, 2.0, 30.0)[:, 0].astype(int).tolist()
    played = []
    for i, buf in enumerate(ffmpeg.stream(argv, frame_bytes=400 * 400)):
        frame = np.frombuffer(buf, np.uint8).reshape(400, 400)
        near = range(max(0, expected[i] - 12), min(880, expected[i] + 12) + 1)
        found = [x for x in near if np.array_equal(picture[:400, x : x + 400], frame)]
        assert len(found) == 1, f"frame {i}: window not within 12 px of x={expected[i]}"
        played.append(found[0])
    assert played == expected
    # 140 px/s is 4.67 px per frame until the path's last sample (1.8 s), then it holds.
    assert set(np.diff(played[:55]).tolist()) <= {4, 5}


def test_measure_plan_reads_a_framing_plan():
    plan = FramingPlan("single", 608, 1080, (CropKey(0.0, 0, 0), CropKey(1.0, 30, 0)), (), {})
    m = measure_plan(plan, 2.0, fps=25.0)
    assert (m.frames, m.max_speed_px, m.cuts) == (50, 30.0, 0)  # 30 px < 10 % of 608: a pan
    assert measure_plan(plan, 2.0, fps=25.0).as_dict()["frames"] == 50


@pytest.mark.parametrize(
    ("keys", "duration", "fps", "message"),
    [
        ((), 1.0, 30.0, "empty crop path"),
        ((CropKey(0.0, 0, 0),), 0.0, 30.0, "duration_s=0"),
        ((CropKey(0.0, 0, 0),), 1.0, 0.0, "fps=0"),
        ((CropKey(0.0, 0, 0), CropKey(1.0, 1, 0), CropKey(0.5, 2, 0)), 2.0, 30.0, "out of time"),
    ],
)
def test_bad_paths_are_refused_by_name(keys, duration, fps, message):
    with pytest.raises(ValueError, match=message):
        measure_keys(keys, duration, fps, crop_w=608)


# --- the framing chain on synthetic tracks --------------------------------------------------

SRC = (1920, 1080)
CROP_W = 608  # 9:16 out of 1920×1080
DURATION = 60.0
OUT_FPS = 30.0
# The pan bound (0.2 crop widths/s) per output frame, plus one pixel of rounding.
PAN_LIMIT_PX = PathParams().max_pan * CROP_W / OUT_FPS + 1.0
TOLERANCE = 0.10  # QA: the face centre within 10 % of the frame width of the centre line
MAX_REVERSALS_PER_S = 0.2  # about one change of direction in five seconds, at most

Position = Callable[[float], float]  # true face centre x at time t


def _noisy(
    true_x: Position, *, jitter: float, seed: int, miss=0.0, gaps=(), outliers=0.0, width=200
):
    """Per-sample detections of one ``width`` px face at ``true_x(t)``: Gaussian jitter (px), random
    misses (share), ``gaps`` [(start, end)] without a detection, single-sample ``outliers``
    (share) thrown 0.5–2 face widths sideways."""
    rng = np.random.default_rng(seed)
    n = int(DURATION * 5)
    noise = rng.normal(0.0, jitter, size=(n, 2))
    missed = rng.random(n) < miss
    thrown = (rng.random(n) < outliers) * rng.choice([-1, 1], n) * rng.uniform(100, 400, n)

    def faces(t: float, i: int):
        if missed[i] or any(a <= t < b for a, b in gaps):
            return []
        return [(true_x(t) + noise[i, 0] + thrown[i], 400 + noise[i, 1], width, 0.0)]

    return faces


def _frame(faces, speech=None) -> FramingPlan:
    a = analysis(faces, duration=DURATION)
    return plan_framing(a, src_w=SRC[0], src_h=SRC[1], aspect="9:16", speech=speech)


def _centred_share(plan: FramingPlan, true_x: Position) -> float:
    """Share of output frames whose window centre is within the tolerance of the true face."""
    xy = frame_positions(plan.keys, DURATION, OUT_FPS)
    t = np.arange(len(xy)) / OUT_FPS
    face = np.array([true_x(float(s)) for s in t])
    return float(np.mean(np.abs(face - (xy[:, 0] + plan.crop_w / 2)) <= TOLERANCE * plan.crop_w))


def _report(name: str, plan: FramingPlan, m: CameraMetrics, centred: float) -> None:
    print(
        f"\n{name}: {len(plan.keys)} keys, {m.reversals_per_s:.3f} reversals/s, "
        f"p99 {m.p99_speed_px:.1f} px/frame, max {m.max_speed_px:.1f}, cuts {m.cuts}, "
        f"moving {m.moving_share:.0%}, face centred {centred:.1%}"
    )


def still(t: float) -> float:
    return 700.0


def lean(t: float) -> float:  # leans 150 px to the right over one second at 20 s
    return 700.0 + 150.0 * min(max(t - 20.0, 0.0), 1.0)


def walk(t: float) -> float:  # walks across at 20 px/s
    return 400.0 + 20.0 * t


def back_after_a_miss(t: float) -> float:  # moved 80 px while not detected (29–30.5 s)
    return 700.0 if t < 30.0 else 780.0


STILL_CASES = {
    "jitter 3 px": dict(jitter=3.0),
    "jitter 6 px, 30 % misses": dict(jitter=6.0, miss=0.3),
    "gaps of 0.4–1.8 s": dict(jitter=3.0, gaps=[(5, 5.4), (14, 15), (31, 32.8), (50, 51.6)]),
    "5 % outliers of 0.5–2 face widths": dict(jitter=3.0, outliers=0.05),
    "all of it": dict(jitter=4.0, miss=0.2, gaps=[(12, 13.4), (40, 41.8)], outliers=0.05),
}


@pytest.mark.parametrize("case", list(STILL_CASES))
def test_a_still_speaker_gets_a_still_camera(case):
    plan = _frame(_noisy(still, seed=len(case), **STILL_CASES[case]))
    m = measure_plan(plan, DURATION, OUT_FPS)
    centred = _centred_share(plan, still)
    _report(case, plan, m, centred)
    # Jitter, misses, gaps and outliers do not move the camera at all.
    assert len(plan.keys) == 1 and m.reversals == 0 and m.cuts == 0
    assert centred == 1.0


MOVING_CASES = {
    "lean 150 px in 1 s": (lean, 0.97),
    "walk at 20 px/s": (walk, 0.99),
    "back 80 px away after a 1.5 s miss": (back_after_a_miss, 0.99),
}


@pytest.mark.parametrize("case", list(MOVING_CASES))
def test_a_moving_speaker_is_followed_by_calm_pans(case):
    true_x, min_centred = MOVING_CASES[case]
    plan = _frame(_noisy(true_x, jitter=4.0, seed=7, miss=0.1, gaps=[(29, 30.5)], outliers=0.03))
    m = measure_plan(plan, DURATION, OUT_FPS)
    centred = _centred_share(plan, true_x)
    _report(case, plan, m, centred)
    assert m.cuts == 0, "a move (or a reappearance after a miss) is panned, not jumped"
    assert m.reversals_per_s <= MAX_REVERSALS_PER_S
    assert m.p99_speed_px <= PAN_LIMIT_PX and m.max_speed_px <= PAN_LIMIT_PX
    assert centred >= min_centred


def dashes(t: float) -> float:  # runs 300 px across in 1 s every 10 s, then back
    leg = (t % 20.0) / 10.0  # 0..2: out, then home
    x = min(max((t % 10.0) - 5.0, 0.0), 1.0) * 300.0
    return 800.0 + (x if leg < 1.0 else 300.0 - x)


def swings(t: float) -> float:  # a close-up child swinging ±100 px every 2 s (d11's swing)
    return 960.0 + 100.0 * np.sin(2 * np.pi * t / 2.0)


# (true centre, face width): the close-up's face is as wide as most of the window (d11: 250 px
# in a 288 px window), so its swings are small next to it and the tracker keeps every sample.
FAST_CASES = {"dashes 300 px in 1 s": (dashes, 200), "swings ±100 px every 2 s": (swings, 480)}


@pytest.mark.parametrize("case", list(FAST_CASES))
def test_a_fast_mover_is_caught_up_before_leaving_the_tolerance(case):
    """A face about to leave QA's tolerance is caught up faster than the calm pan bound
    (0.2 crop widths/s would keep it out for seconds), but still panned, not jumped."""
    true_x, width = FAST_CASES[case]
    plan = _frame(_noisy(true_x, jitter=4.0, seed=5, miss=0.1, outliers=0.03, width=width))
    m = measure_plan(plan, DURATION, OUT_FPS)
    centred = _centred_share(plan, true_x)
    _report(case, plan, m, centred)
    assert centred >= 0.90  # QA's gate
    # The calm pan plus the catch-up's own ramp, plus a pixel of rounding.
    p = PathParams()
    catch_up_px = (p.max_pan + p.catch_up_pan) * CROP_W / OUT_FPS + 1.0
    assert m.cuts == 0 and m.max_speed_px <= catch_up_px


@pytest.mark.xfail(
    strict=True,
    reason="known limit: the dead-zone camera chases each swing past the 5 % dead zone to "
    "within 1.25 % and then reverses (~0.47 reversals/s here), though a still camera would "
    "keep this face within the 10 % tolerance; a minimal-motion (taut-string) path would not",
)
def test_a_rocking_speaker_does_not_make_the_camera_hunt():
    def rocking(t: float) -> float:  # ±40 px (under the 61 px tolerance), a 4 s period
        return 700.0 + 40.0 * np.sin(2 * np.pi * t / 4.0)

    plan = _frame(_noisy(rocking, jitter=3.0, seed=3))
    m = measure_plan(plan, DURATION, OUT_FPS)
    centred = _centred_share(plan, rocking)
    _report("rocking ±40 px / 4 s", plan, m, centred)
    assert centred == 1.0 and m.p99_speed_px <= PAN_LIMIT_PX  # holds today
    assert m.reversals_per_s <= MAX_REVERSALS_PER_S  # does not


def test_speaker_changes_are_hard_cuts_and_nothing_moves_in_between():
    speech = [(0.0, 9.6, "A"), (10.0, 24.5, "B"), (25.0, 31.0, "A"), (31.4, 47.0, "B"),
              (47.5, 60.0, "A")]  # fmt: skip

    def speaking(label: str) -> Callable[[float], bool]:
        return lambda t: any(a <= t < b for a, b, who in speech if who == label)

    rng = np.random.default_rng(11)
    noise = rng.normal(0.0, 4.0, size=(300, 4))
    missed = rng.random((300, 2)) < 0.15
    motion_a = talking(speaking("A"), quiet=0.002, loud=0.03, seed=1)
    motion_b = talking(speaking("B"), quiet=0.002, loud=0.03, seed=2)

    def faces(t: float, i: int):
        out = []
        if not missed[i, 0]:
            out.append((480 + noise[i, 0], 400 + noise[i, 1], 200, motion_a(t)))
        if not missed[i, 1]:
            out.append((1440 + noise[i, 2], 400 + noise[i, 3], 200, motion_b(t)))
        return out

    plan = _frame(faces, speech)

    def speaker_x(t: float) -> float:
        who = [w for a, _, w in speech if a <= t + 1e-9][-1]
        return 480.0 if who == "A" else 1440.0

    m = measure_plan(plan, DURATION, OUT_FPS)
    centred = _centred_share(plan, speaker_x)
    _report("two speakers, four changes", plan, m, centred)
    assert plan.layout == "two_shot"
    assert m.cuts == 4 and m.moving_share == 0.0 and m.reversals == 0
    assert [k.t for k in plan.keys] == [0.0, 10.0, 25.0, 31.4, 47.5], "cuts at the turns"
    assert centred == 1.0
