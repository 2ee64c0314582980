"""Crop geometry (table-driven), dead zone, pan-speed bound, hard cuts and the sendcmd text."""

from __future__ import annotations

import numpy as np
import pytest

from media.framing.camera_metrics import frame_positions
from media.framing.crop_path import (
    CropKey,
    PathParams,
    Shot,
    crop_size,
    dead_zone_pan,
    keys_from_shots,
    moving_average,
    sendcmd_lines,
    shot_path,
    window_origin,
)
from media.framing.framing_plan import plan_framing
from tests.generated_media import analysis, talking

ASPECT = {"9:16": 9 / 16, "1:1": 1.0, "16:9": 16 / 9}


@pytest.mark.parametrize(
    ("src", "aspect", "crop"),
    [
        ((1920, 1080), "9:16", (608, 1080)),
        ((1920, 1080), "1:1", (1080, 1080)),
        ((1920, 1080), "16:9", (1920, 1080)),
        ((1280, 720), "9:16", (404, 720)),
        ((1280, 720), "1:1", (720, 720)),
        ((1280, 720), "16:9", (1280, 720)),
        ((720, 1280), "16:9", (720, 404)),  # phone footage to landscape
        ((720, 1280), "9:16", (720, 1280)),
        ((1366, 768), "9:16", (432, 768)),
        ((512, 512), "9:16", (288, 512)),
        ((1080, 1920), "9:16", (1080, 1920)),  # portrait phone video: the whole frame
        ((1080, 1920), "1:1", (1080, 1080)),
        ((1080, 1920), "16:9", (1080, 608)),
        ((1080, 1080), "9:16", (608, 1080)),
        ((1080, 1080), "16:9", (1080, 608)),
        ((1281, 721), "9:16", (406, 720)),  # odd sides: even, never larger than the source
        ((1281, 721), "16:9", (1280, 720)),
        ((3840, 2160), "9:16", (1216, 2160)),
        ((640, 480), "16:9", (640, 360)),  # 4:3 webcam
        ((480, 640), "9:16", (360, 640)),
    ],
)
def test_crop_size_is_the_largest_even_window_of_the_aspect(src, aspect, crop):
    w, h = crop_size(*src, aspect)
    assert (w, h) == crop
    assert w % 2 == 0 and h % 2 == 0 and w <= src[0] and h <= src[1]
    assert abs(w / h - ASPECT[aspect]) / ASPECT[aspect] < 0.005


def test_unknown_aspect_is_refused_by_name():
    with pytest.raises(ValueError, match="4:3"):
        crop_size(1920, 1080, "4:3")


@pytest.mark.parametrize("src", [(0, 1080), (1920, -2)])
def test_empty_source_size_is_refused_by_value(src):
    with pytest.raises(ValueError, match=f"{src[0]}x{src[1]}"):
        crop_size(*src, "9:16")


@pytest.mark.parametrize(
    ("src", "aspect", "face", "origin"),
    [
        ((1920, 1080), "9:16", (960, 400), (656, 0)),  # centred
        ((1920, 1080), "9:16", (60, 400), (0, 0)),  # at the left edge: clamped
        ((1920, 1080), "9:16", (1890, 400), (1312, 0)),  # at the right edge: clamped
        ((1920, 1080), "1:1", (300, 500), (0, 0)),
        ((1920, 1080), "1:1", (1700, 500), (840, 0)),
        ((1920, 1080), "16:9", (1700, 500), (0, 0)),  # the whole frame: nothing to move
        ((1280, 720), "9:16", (1250, 300), (876, 0)),
        ((1280, 720), "9:16", (500, 300), (298, 0)),
        ((720, 1280), "1:1", (360, 400), (0, 112)),  # vertical room: face at 40 % height
        ((720, 1280), "1:1", (360, 100), (0, 0)),  # near the top: clamped
        ((720, 1280), "16:9", (200, 1250), (0, 876)),  # near the bottom: clamped
    ],
)
def test_window_origin_centres_and_clamps(src, aspect, face, origin):
    crop = crop_size(*src, aspect)
    assert window_origin(*face, crop, src) == pytest.approx(origin)


@pytest.mark.parametrize(
    ("src", "aspect", "face"),
    [
        ((1920, 1080), "9:16", (960, 400)),
        ((1920, 1080), "9:16", (60, 400)),
        ((1920, 1080), "1:1", (1700, 500)),
        ((1280, 720), "9:16", (1250, 300)),
        ((720, 1280), "1:1", (360, 400)),
    ],
)
def test_a_still_face_gives_one_key_at_its_window(src, aspect, face):
    a = analysis(lambda t, i: [(*face, 0.12 * min(src), 0.0)], duration=4.0)
    a = type(a)(src[0], src[1], a.fps, a.duration_s, a.samples)
    plan = plan_framing(a, src_w=src[0], src_h=src[1], aspect=aspect)
    crop = crop_size(*src, aspect)
    x, y = window_origin(*face, crop, src)
    assert plan.layout == "single"
    assert plan.keys == (CropKey(0.0, round(x), round(y)),)


SOURCES = [(1920, 1080), (1280, 720), (720, 1280), (1080, 1920), (1080, 1080), (1366, 768)]
# Face centres as shares of the source: centre, the four edges, corners, and off the frame.
FACE_SPOTS = [(0.5, 0.4), (0.0, 0.5), (1.0, 0.5), (0.5, 0.0), (0.5, 1.0), (0.02, 0.03),
              (0.98, 0.97), (-0.1, 0.5), (1.1, 1.2), (0.3, 0.6), (0.7, 0.2)]  # fmt: skip


@pytest.mark.parametrize("aspect", list(ASPECT))
@pytest.mark.parametrize("src", SOURCES, ids=[f"{w}x{h}" for w, h in SOURCES])
def test_window_stays_in_the_frame_and_centres_the_face_where_it_can(src, aspect):
    crop = crop_size(*src, aspect)
    (cw, ch), (sw, sh) = crop, src
    for fx, fy in FACE_SPOTS:
        face = (fx * sw, fy * sh)
        x, y = window_origin(*face, crop, src)
        assert 0 <= x <= sw - cw and 0 <= y <= sh - ch, (face, (x, y))
        # Horizontally centred unless that would leave the frame; then flush with the edge.
        want_x = face[0] - cw / 2
        assert x == pytest.approx(min(max(want_x, 0), sw - cw))
        # Vertically at 40 % of the crop height, same rule.
        want_y = face[1] - 0.4 * ch
        assert y == pytest.approx(min(max(want_y, 0), sh - ch))


@pytest.mark.parametrize("aspect", list(ASPECT))
@pytest.mark.parametrize("side", ["left", "right", "top", "bottom"])
def test_a_jittery_face_at_the_edge_gets_one_clamped_window(side, aspect):
    src = (1280, 720) if side in ("left", "right") else (720, 1280)
    sw, sh = src
    face = {"left": (30, 360), "right": (1250, 360), "top": (360, 30), "bottom": (360, 1250)}
    rng = np.random.default_rng(len(side))
    jitter = rng.normal(0, 4, size=(50, 2))
    fx, fy = face[side]
    a = analysis(lambda t, i: [(fx + jitter[i, 0], fy + jitter[i, 1], 120, 0.0)])
    a = type(a)(sw, sh, a.fps, a.duration_s, a.samples)
    plan = plan_framing(a, src_w=sw, src_h=sh, aspect=aspect)
    (key,) = plan.keys
    x, y = window_origin(fx, fy, (plan.crop_w, plan.crop_h), src)
    assert (key.x, key.y) == (round(x), round(y))
    assert 0 <= key.x <= sw - plan.crop_w and 0 <= key.y <= sh - plan.crop_h


def test_keys_land_on_the_frames_they_were_computed_for():
    """A steady 90 px/s pan read at 30 and 25 fps moves every frame by its own step.

    Key times rounded up to the millisecond (1/30 s -> 0.034) used to fall just after their
    frame, so ffmpeg's sendcmd applied two keys at once on every third frame (0, 3, 6 px
    steps at 30 fps), and a 30 Hz key grid read at 25 fps alternated 1 and 2 steps.
    """
    times = np.arange(0, 4.0, 0.2)
    shot = Shot(0.0, 4.0, times, 100 + 90 * times, np.zeros(len(times)))
    keys = keys_from_shots([shot], crop=(608, 1080), src=(1920, 1080))
    for fps, step in [(30.0, 3.0), (25.0, 3.6)]:
        xy = frame_positions(keys, 3.8, fps)  # the path ends (holds) at the last sample
        steps = np.diff(xy[:, 0])
        assert np.all(np.abs(steps - step) <= 1.0), f"{fps} fps: steps {sorted(set(steps))}"


def test_dead_zone_keeps_the_window_still_for_small_offsets():
    rng = np.random.default_rng(0)
    wobble = rng.uniform(-20, 20, size=100)  # a restless head, ±20 px
    drift = np.linspace(0, 10, 100)  # leaning slowly, well under the 30 px dead zone (5 % of 608)
    a = analysis(lambda t, i: [(900 + wobble[i] + drift[i], 400, 200, 0.0)], duration=20.0)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16")
    assert len(plan.keys) == 1
    restless = plan_framing(
        a, src_w=1920, src_h=1080, aspect="9:16", params=PathParams(dead_zone=0.0)
    )
    assert len(restless.keys) > 5, "without the dead zone the window would creep"


def test_pan_speed_is_bounded_and_catches_up():
    # The face slides 600 px in 1.5 s (400 px/s); the crop may pan at most 0.2 crop widths/s.
    def cx(t):
        return 500 + 400 * min(max(t - 2.0, 0.0), 1.5)

    a = analysis(lambda t, i: [(cx(t), 400, 200, 0.0)], duration=12.0)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16")
    limit = PathParams().max_pan * plan.crop_w
    t = np.array([k.t for k in plan.keys])
    x = np.array([k.x for k in plan.keys])
    assert len(plan.keys) > 10, "a pan, not a jump"
    # Keys come at most every 1/30 s while moving and are rounded to whole pixels.
    step = np.abs(np.diff(x)) - 1
    assert np.all(step <= limit * np.maximum(np.diff(t), 1 / 30) + 1e-6)
    assert abs(x[-1] - (1100 - plan.crop_w / 2)) <= 0.05 * plan.crop_w


def test_dead_zone_pan_holds_then_chases_then_settles():
    times = np.arange(0, 10, 0.2)
    target = np.where(times < 2, 100.0, 300.0)
    path = dead_zone_pan(target, times, dead_zone=30, settle=0.25, max_speed=100)
    assert np.all(path[times < 2] == 100)
    assert np.all(np.abs(np.diff(path)) <= 100 * 0.2 + 1e-9)
    assert abs(path[-1] - 300) <= 0.25 * 30


def test_moving_average_keeps_constants_at_the_edges():
    assert moving_average(np.full(7, 5.0), 5) == pytest.approx(np.full(7, 5.0))


def test_hard_cut_on_speaker_change_has_no_pan():
    speech = [(0.0, 5.0, "A"), (5.0, 10.0, "B")]
    a = analysis(
        lambda t, i: [
            (480, 400, 200, talking(lambda t: t < 5, quiet=0.002, loud=0.03, seed=i)(t)),
            (1440, 400, 200, talking(lambda t: t >= 5, quiet=0.002, loud=0.03, seed=99 + i)(t)),
        ]
    )
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16", speech=speech)
    assert plan.layout == "two_shot"
    assert plan.speaker_faces == {"A": 0, "B": 1}
    assert plan.keys == (CropKey(0.0, 480 - 304, 0), CropKey(5.0, 1440 - 304, 0))
    assert "5.000 crop x 1136;" in sendcmd_lines(plan.keys)


def test_keys_start_at_zero_are_sorted_and_only_mark_changes():
    times = np.arange(0, 4, 0.2)
    cx = np.where(times < 2, 500.0, 700.0)
    shot = shot_path(
        0.0, 4.0, times, cx, np.full(len(times), 400.0),
        fps=5, crop=(608, 1080), src=(1920, 1080), params=PathParams(),
    )  # fmt: skip
    keys = keys_from_shots([shot], crop=(608, 1080), src=(1920, 1080))
    assert keys[0].t == 0.0
    assert [k.t for k in keys] == sorted(k.t for k in keys)
    assert all((a.x, a.y) != (b.x, b.y) for a, b in zip(keys, keys[1:], strict=False))


def test_sendcmd_lines_emit_only_changed_axes():
    keys = (CropKey(0.0, 120, 0), CropKey(1.5, 130, 0), CropKey(2.0, 130, 40))
    assert sendcmd_lines(keys) == (
        "0.000 crop x 120, crop y 0;\n1.500 crop x 130;\n2.000 crop y 40;\n"
    )
    assert sendcmd_lines(keys[:1], filter_name="crop@face").startswith("0.000 crop@face x 120,")
