"""Layouts that are not one plain crop: the group zoom, the stacked screen share, and the per-shot
layout decisions that lead to them (pure: synthetic detections)."""

from __future__ import annotations

import numpy as np
import pytest

from media.framing.framing_plan import plan_framing
from media.framing.layout import Layout, classify_layout
from media.framing.panels import (
    Rect,
    presenter_aspect,
    presenter_crop,
    screen_region,
    zoom_crop,
)
from media.framing.tracks import build_tracks
from tests.generated_media import analysis, talking


def test_zoom_grows_until_the_faces_at_the_edge_can_be_centred():
    # a 720×1280 source, 9:16: the plain crop is the whole frame
    (w, h), zoom, note = zoom_crop((720, 1280), 190, 2.0, src_w=720, face_cx=[166, 537])
    assert note == "" and 1.9 < zoom <= 2.0
    assert w / 2 <= 1.1 * 166 + 1  # the window can put its centre on the face nearest an edge
    assert abs(w / h - 720 / 1280) < 0.01


def test_zoom_is_capped_and_says_so():
    (w, _), zoom, note = zoom_crop((720, 1280), 60, 2.0, src_w=720, face_cx=[360])
    assert zoom == 2.0 and w == 360 and "limited to 2x" in note


def test_large_faces_in_the_middle_keep_the_whole_frame():
    size, zoom, note = zoom_crop((720, 1280), 300, 2.0, src_w=720, face_cx=[300, 420])
    assert size == (720, 1280) and zoom == 1.0 and "kept" in note


def test_the_screen_leaves_out_a_presenter_column_on_either_side():
    assert screen_region([1170], [54], (1280, 720)) == Rect(0, 0, 1062, 720)
    assert screen_region([110], [54], (1280, 720)) == Rect(218, 0, 1062, 720)
    assert screen_region([640], [54], (1280, 720)) == Rect(0, 0, 1280, 720)  # not a column
    assert screen_region([], [], (1280, 720)) == Rect(0, 0, 1280, 720)


def test_the_presenter_panel_fills_what_the_screen_leaves_of_the_output():
    ratio = presenter_aspect("9:16", Rect(0, 0, 1280, 720))
    assert ratio is not None and abs(1 / ratio - (16 / 9 - 9 / 16)) < 1e-9
    assert presenter_aspect("16:9", Rect(0, 0, 1280, 720)) is None  # no room below
    w, h = presenter_crop(54, ratio, (1280, 720))
    assert abs(w / h - ratio) < 0.03 and w % 2 == 0 and h % 2 == 0


def _tracks(faces, flat=0.0, sharp=0.0, duration=4.0):
    a = analysis(lambda t, i: faces, duration=duration)
    n = len(a.samples)
    return build_tracks(a), (flat,) * n, (sharp,) * n


@pytest.mark.parametrize(
    ("faces", "flat", "sharp", "layout"),
    [
        ([(1170, 640, 60, 0.0)], 0.85, 0.03, "screen_share"),  # a slide, presenter in a corner
        ([(1170, 640, 60, 0.0)], 0.85, 0.0, "single"),  # flat but no text: a plain wall
        ([(640, 360, 60, 0.0)], 0.85, 0.03, "single"),  # a small face mid-frame: not a tile
        ([(1170, 640, 60, 0.0)], 0.5, 0.03, "single"),  # camera footage is not flat
        ([], 0.9, 0.05, "screen_share"),  # a slide, no presenter
        ([], 0.97, 0.0, "no_face"),  # a plain card
    ],
)  # fmt: skip
def test_a_screen_needs_flat_picture_text_and_at_most_a_corner_face(faces, flat, sharp, layout):
    tracks, flats, sharps = _tracks(faces, flat, sharp)
    got, _ = classify_layout(tracks, src=(1280, 720), flat=flats, sharp=sharps)
    assert got == layout


def test_faces_close_together_or_in_a_narrow_frame_are_a_group():
    close = [(500, 400, 200, 0.0), (720, 420, 200, 0.0)]  # shoulder to shoulder
    tracks, _, _ = _tracks(close)
    assert classify_layout(tracks, src=(1920, 1080))[0] == Layout.GROUP
    apart = [(300, 400, 200, 0.0), (1500, 420, 200, 0.0)]
    tracks, _, _ = _tracks(apart)
    assert classify_layout(tracks, src=(1920, 1080))[0] == Layout.TWO_SHOT
    assert classify_layout(tracks, src=(1920, 1080), fills_width=True)[0] == Layout.GROUP


def test_a_vertical_group_is_zoomed_onto_whoever_speaks():
    speech = [(0.0, 5.0, "A"), (5.0, 10.0, "C")]

    def moving(t, i):  # mouth motion says who: A while A's label talks, C while C's does
        return [
            (166, 837, 178, talking(lambda t: t < 5, quiet=0.002, loud=0.03, seed=1)(t)),
            (537, 504, 152, 0.002),
            (526, 880, 210, talking(lambda t: t >= 5, quiet=0.002, loud=0.03, seed=2)(t)),
        ]

    a = analysis(moving, duration=10.0)
    plan = plan_framing(a, src_w=720, src_h=1280, aspect="9:16", speech=speech)
    (shot,) = plan.segments
    assert shot.layout == Layout.GROUP and shot.crop_w < 720 and not plan.one_window
    for t, cx in ((2.0, 166), (7.0, 526)):
        key = [k for k in shot.keys if k.t <= t][-1]
        assert abs(key.x + shot.crop_w / 2 - cx) <= 0.1 * shot.crop_w, (t, key)
    assert np.isclose(plan.speaker_share or 0, 1.0, atol=0.1)


def test_one_label_over_two_faces_lets_mouth_motion_decide():
    # the diarization merged two voices into "S1": the face whose mouth moves is followed
    def faces(t, i):
        return [
            (480, 400, 220, talking(lambda t: t < 5, quiet=0.002, loud=0.03, seed=3)(t)),
            (1440, 400, 220, talking(lambda t: t >= 5, quiet=0.002, loud=0.03, seed=4)(t)),
        ]

    a = analysis(faces, duration=10.0)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16", speech=[(0.0, 10.0, "S1")])
    assert plan.layout == Layout.TWO_SHOT
    at = {t: [k for k in plan.keys if k.t <= t][-1] for t in (2.0, 8.0)}
    assert abs(at[2.0].x + plan.crop_w / 2 - 480) <= 0.1 * plan.crop_w
    assert abs(at[8.0].x + plan.crop_w / 2 - 1440) <= 0.1 * plan.crop_w
