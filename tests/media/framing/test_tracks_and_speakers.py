"""Tracks from synthetic detections, and who speaks when (labels and mouth motion)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from media.framing.framing_plan import plan_framing
from media.framing.speakers import (
    Focus,
    map_speakers,
    turns_from_motion,
    turns_from_speech,
    turns_from_speech_and_mouths,
)
from media.framing.tracks import FaceObs, Sample, TrackParams, build_tracks
from tests.generated_media import FPS, analysis, talking


def test_jitter_misses_and_an_outlier_make_one_clean_track():
    rng = np.random.default_rng(1)
    jitter = rng.normal(0, 3, size=(50, 2))

    def faces(t, i):
        if 10 <= i <= 13:  # 0.8 s without a detection
            return []
        dx = 0.45 * 200 if i == 30 else 0.0  # one detection displaced by 0.45 face widths
        return [(500 + jitter[i, 0] + dx, 400 + jitter[i, 1], 200, 0.01)]

    (track,) = build_tracks(analysis(faces))
    assert not track.observed[30], "the displaced detection is rejected as an outlier"
    assert abs(track.cx[30] - 500) < 10, "and its position interpolated from the neighbours"
    assert not track.observed[10:14].any()
    assert np.isfinite(track.cx[10:14]).all(), "short misses are interpolated"
    assert np.all(np.abs(track.cx[10:14] - 500) < 10)
    assert track.present.all()


def test_false_positives_tiny_faces_and_flickers_are_dropped():
    def faces(t, i):
        out = [(500, 400, 200, 0.0), (1500, 900, 25, 0.0)]  # a face and a tiny one
        if i in (7, 8):
            out.append((1200, 300, 150, 0.0))  # two-sample flicker
        return out

    tracks = build_tracks(analysis(faces))
    assert [round(float(np.nanmedian(t.cx))) for t in tracks] == [500]


def test_low_confidence_track_is_a_false_positive():
    floor = TrackParams().min_score

    def weak(sample: Sample) -> Sample:
        boxes = (FaceObs(replace(f.box, score=floor - 0.1), 0) for f in sample.faces)
        return Sample(sample.t, tuple(boxes))

    a = analysis(lambda t, i: [(500, 400, 200, 0.0)])
    a = replace(a, samples=tuple(weak(s) for s in a.samples))
    assert build_tracks(a) == []
    assert len(build_tracks(a, TrackParams(min_score=floor - 0.5))) == 1


def test_face_returning_after_a_long_gap_keeps_its_track():
    def faces(t, i):
        return [] if 2.0 <= t < 5.0 else [(800, 400, 180, 0.0)]

    (track,) = build_tracks(analysis(faces))
    times = np.arange(50) / FPS
    gap = (times >= 3.1) & (times < 3.9)  # beyond the 1 s hold on both sides
    assert np.isnan(track.cx[gap]).all(), "a long gap is not invented"
    assert track.present[(times >= 2.0) & (times <= 2.8)].all(), "the last position is held"


def test_two_faces_get_ids_left_to_right():
    a = analysis(lambda t, i: [(1400, 400, 200, 0.0), (400, 420, 200, 0.0)])
    tracks = build_tracks(a)
    assert [t.id for t in tracks] == [0, 1]
    assert tracks[0].cx[0] < tracks[1].cx[0]


# --- active speaker -----------------------------------------------------------------------


def two_faces(motion_left, motion_right, duration=10.0):
    return analysis(
        lambda t, i: [(480, 400, 200, motion_left(t)), (1440, 400, 200, motion_right(t))],
        duration,
    )


SPEECH = [(0.0, 4.0, "SPEAKER_A"), (4.2, 10.0, "SPEAKER_B")]


@pytest.mark.parametrize("left_is", ["SPEAKER_A", "SPEAKER_B"])
def test_labels_map_to_the_face_that_moves_while_they_talk(left_is):
    left_talks = (lambda t: t < 4.0) if left_is == "SPEAKER_A" else (lambda t: t >= 4.2)
    # The right face is noisier overall (compression, lighting): the baseline takes that out.
    a = two_faces(
        talking(left_talks, quiet=0.002, loud=0.02, seed=1),
        talking(lambda t: not left_talks(t), quiet=0.02, loud=0.2, seed=2),
    )
    tracks = build_tracks(a)
    mapping = map_speakers(tracks, a.times, SPEECH)
    other = "SPEAKER_B" if left_is == "SPEAKER_A" else "SPEAKER_A"
    assert mapping == {left_is: 0, other: 1}


def test_off_screen_voice_is_not_mapped_to_a_face():
    a = analysis(lambda t, i: [(960, 400, 200, 0.03 if t < 5 else 0.002)])
    speech = [(0.0, 5.0, "GUEST"), (5.0, 10.0, "HOST_OFF_CAMERA")]
    assert map_speakers(build_tracks(a), a.times, speech) == {"GUEST": 0}


FACES = {"A": 0, "B": 1}


@pytest.mark.parametrize(
    ("speech", "turns"),
    [
        # a 0.5 s backchannel never switches
        ([(0, 4, "A"), (4.0, 4.5, "B"), (4.6, 10, "A")], [Focus(0.0, 0)]),
        # 1.2 s is longer than a backchannel but shorter than the 1.5 s hold
        ([(0, 4, "A"), (4.0, 5.2, "B"), (5.3, 10, "A")], [Focus(0.0, 0)]),
        # 1.6 s holds the floor: cut at its start
        (
            [(0, 4, "A"), (4.0, 5.6, "B"), (5.7, 10, "A")],
            [Focus(0, 0), Focus(4.0, 1), Focus(5.7, 0)],
        ),
        # two short sentences of B in a row hold the floor together
        ([(0, 4, "A"), (4.0, 4.9, "B"), (5.0, 5.9, "B")], [Focus(0.0, 0), Focus(4.0, 1)]),
        # the clip opens on a backchannel: the first real speaker owns the start
        ([(0, 0.4, "B"), (0.5, 6, "A"), (6.5, 10, "B")], [Focus(0.0, 0), Focus(6.5, 1)]),
        # an unmapped label changes nothing
        ([(0, 4, "A"), (4, 8, "C"), (8, 10, "A")], [Focus(0.0, 0)]),
    ],
)
def test_turns_from_labelled_speech(speech, turns):
    assert turns_from_speech(speech, FACES) == turns


def test_turns_from_motion_switch_after_a_hold_only():
    # The right face talks for 1 s inside the left one's turn: no switch. Smoothing blurs
    # a burst by about half the 1 s window, so the motion-only rule is approximate near 1.5 s.
    def burst(t):
        return 4.0 <= t < 5.0

    a = two_faces(
        talking(lambda t: not burst(t), quiet=0.002, loud=0.03, seed=3),
        talking(burst, quiet=0.002, loud=0.03, seed=4),
    )
    assert turns_from_motion(build_tracks(a), a.times, FPS) == [Focus(0.0, 0)]

    b = two_faces(
        talking(lambda t: t < 5.0, quiet=0.002, loud=0.03, seed=5),
        talking(lambda t: t >= 5.0, quiet=0.002, loud=0.03, seed=6),
    )
    turns = turns_from_motion(build_tracks(b), b.times, FPS)
    assert [t.track for t in turns] == [0, 1]
    assert abs(turns[1].start - 5.0) <= 0.6


# Three people side by side; who talks when (s), and what the diarization heard: the first
# two voices merged into one label, as two of the real-face group's three speakers were.
ROW = [(320, 540), (960, 540), (1600, 540)]
FLOOR = [(0.0, 4.0, 0), (4.0, 8.0, 1), (8.0, 12.0, 2), (12.0, 16.0, 0)]
MERGED = [(0.0, 8.0, "S1"), (8.0, 12.0, "S2"), (12.0, 16.0, "S1")]


def _row(listener=None):
    """The row's analysis; face 1 the second speaker, or ``listener``'s motion instead."""

    def speaking(k):
        return lambda t: any(a <= t < b and k == who for a, b, who in FLOOR)

    # the second speaker's face is noisier overall (as the real one): the baseline takes it out
    levels = [(0.002, 0.03), (0.02, 0.2), (0.002, 0.03)]
    mouths = [
        talking(speaking(k), quiet=q, loud=lo, seed=10 + k) for k, (q, lo) in enumerate(levels)
    ]
    if listener is not None:
        mouths[1] = listener
    return analysis(lambda t, i: [(x, y, 200, mouths[k](t)) for k, (x, y) in enumerate(ROW)], 16.0)


def test_a_label_that_merged_two_voices_is_split_by_mouth_motion():
    a = _row()
    tracks = build_tracks(a)
    mapping = map_speakers(tracks, a.times, MERGED)
    assert mapping == {"S1": 0, "S2": 2}  # face 1 has no label of its own
    assert [t.track for t in turns_from_speech(MERGED, mapping)] == [0, 2, 0]
    turns = turns_from_speech_and_mouths(MERGED, mapping, tracks, a.times, FPS)
    assert [t.track for t in turns] == [0, 1, 2, 0]
    assert [t.start for t in turns] == pytest.approx([0.0, 4.0, 8.0, 12.0], abs=0.61)
    # and the plan follows it: the window on each speaker's face
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16", speech=MERGED)
    for a0, b0, who in FLOOR:
        for t in np.arange(a0 + 0.8, b0, 0.2):
            key = [k for k in plan.keys if k.t <= t][-1]
            assert abs(key.x + plan.crop_w / 2 - ROW[who][0]) <= 0.1 * plan.crop_w, (t, who)


def test_a_listeners_short_bursts_of_motion_do_not_take_a_labels_speech():
    # face 1 speaks not at all: it nods and smiles for 1 s in every 3 (shorter than the hold)
    floor = [(0.0, 8.0, "S1"), (8.0, 12.0, "S2"), (12.0, 16.0, "S1")]
    nods = talking(lambda t: t % 3.0 < 1.0, quiet=0.002, loud=0.03, seed=7)
    a = _row(listener=nods)
    tracks = build_tracks(a)
    mapping = {"S1": 0, "S2": 2}
    turns = turns_from_speech_and_mouths(floor, mapping, tracks, a.times, FPS)
    assert [t.track for t in turns] == [0, 2, 0]


def test_with_every_face_mapped_mouths_change_nothing():
    a = two_faces(talking(lambda t: t < 4.0, quiet=0.002, loud=0.03, seed=1),
                  talking(lambda t: t >= 4.2, quiet=0.002, loud=0.03, seed=2))  # fmt: skip
    faces = {"SPEAKER_A": 0, "SPEAKER_B": 1}
    assert turns_from_speech_and_mouths(
        SPEECH, faces, build_tracks(a), a.times, FPS
    ) == turns_from_speech(SPEECH, faces)


def test_turns_from_motion_with_nobody_talking_follow_the_face_seen_most():
    a = two_faces(lambda t: 0.002, lambda t: 0.002)
    assert turns_from_motion(build_tracks(a), a.times, FPS) == [Focus(0.0, 0)]


# --- jitter, misses and outliers, table-driven ----------------------------------------------


@pytest.mark.parametrize(
    ("dx", "dw"),
    [(0.4, 1.0), (0.5, 1.0), (-1.0, 1.0), (2.0, 1.0), (-4.0, 1.0), (0.0, 2.0), (0.0, 0.5),
     (0.3, 1.6)],
    ids=["0.4w", "0.5w", "-1w", "2w", "-4w", "twice as big", "half as big", "0.3w, 1.6x"],
)  # fmt: skip
def test_a_single_sample_outlier_is_rejected_and_bridged(dx, dw):
    """One detection thrown ``dx`` face widths sideways and/or resized ``dw`` times."""
    rng = np.random.default_rng(5)
    jitter = rng.normal(0, 3, size=50)

    def faces(t, i):
        if i == 25:
            return [(700 + dx * 200, 400, 200 * dw, 0.0)]
        return [(700 + jitter[i], 400, 200, 0.0)]

    tracks = build_tracks(analysis(faces))
    assert len(tracks) == 1, "the outlier neither splits the track nor survives on its own"
    (track,) = tracks
    assert not track.observed[25]
    assert abs(track.cx[25] - 700) < 10 and abs(track.w[25] - 200) < 10


@pytest.mark.parametrize("miss", [0.2, 0.4, 0.5])
def test_jitter_and_random_misses_leave_one_track_as_steady_as_the_detections(miss):
    """Half the samples missed at random still make one track; a lone hit between two misses
    of over a second each may go (a flicker), and the crop holds its place meanwhile."""
    rng = np.random.default_rng(8)
    n = 300
    noise = rng.normal(0, 4, size=n)
    missed = rng.random(n) < miss
    missed[0] = False
    a = analysis(lambda t, i: [] if missed[i] else [(700 + noise[i], 400, 200, 0.0)], 60.0)
    (track,) = build_tracks(a)
    assert track.present.mean() >= 0.99, "misses of a few samples are bridged"
    assert np.nanstd(track.cx) < 5.0, "interpolation adds no wobble of its own"
    assert np.nanmax(np.abs(track.cx - 700)) < 15


def test_a_stray_detection_just_before_a_move_does_not_take_the_face():
    """A stray box 0.7 face widths to the right, then the face leans that way: the face's own
    (recently seen) track keeps it. Picking the closest box first split the track and the
    crop cut to the stray box a second before the lean."""

    def faces(t, i):
        if i == 20:  # the face is missed; a stray box shows up 143 px to its right
            return [(843, 400, 200, 0.0)]
        x = 700 + 30 * min(max(i - 20, 0), 5)  # then it leans 150 px in 1 s
        return [(x, 400, 200, 0.0)]

    tracks = build_tracks(analysis(faces))
    assert len(tracks) == 1
    assert tracks[0].observed.sum() == 49


def test_a_face_back_after_a_miss_rejoins_its_own_track_not_an_older_flicker():
    """Two stray boxes seconds earlier sat near where the face reappears; the track that
    lost the face last must get it back, or the crop cuts between the two."""

    def faces(t, i):
        if i == 12:
            return [(1014, 400, 200, 0.0)]
        if i == 16:
            return [(942, 400, 200, 0.0)]
        if 29.0 <= t < 30.6:  # not detected for 1.6 s
            return []
        return [(400 + 20 * t, 400, 200, 0.0)]

    tracks = build_tracks(analysis(faces, duration=40.0))
    assert len(tracks) == 1
    (track,) = tracks
    assert not track.observed[12] and not track.observed[16]
    times = np.arange(200) / FPS
    assert np.all(np.abs(track.cx - (400 + 20 * times)) < 10)
