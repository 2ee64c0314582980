"""Tracks from synthetic detections, and who speaks when (labels and mouth motion)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from media.faces import Box
from media.tracking import (
    Analysis,
    FaceObs,
    Sample,
    TrackParams,
    Turn,
    build_tracks,
    map_speakers,
    turns_from_motion,
    turns_from_speech,
)

FPS = 5.0

# (cx, cy, width, mouth motion) of each face at time t; None: not detected then.
FacesAt = Callable[[float, int], list[tuple[float, float, float, float] | None]]


def analysis(faces_at: FacesAt, duration: float = 10.0, fps: float = FPS) -> Analysis:
    samples = []
    for i in range(int(round(duration * fps))):
        t = i / fps
        obs = tuple(
            FaceObs(Box(cx - w / 2, cy - w / 2, w, w, 5.0), m)
            for face in faces_at(t, i)
            if face is not None
            for cx, cy, w, m in [face]
        )
        samples.append(Sample(t, obs))
    return Analysis(1920, 1080, fps, duration, tuple(samples))


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
    def weak(sample: Sample) -> Sample:
        return Sample(sample.t, tuple(FaceObs(replace(f.box, score=0.9), 0) for f in sample.faces))

    a = analysis(lambda t, i: [(500, 400, 200, 0.0)])
    a = replace(a, samples=tuple(weak(s) for s in a.samples))
    assert build_tracks(a) == []
    assert len(build_tracks(a, TrackParams(min_score=0.5))) == 1


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


def talking(active: Callable[[float], bool], *, quiet: float, loud: float, seed: int):
    """Mouth motion: a noise floor at rest; while talking anywhere from closed to wide open."""
    rng = np.random.default_rng(seed)
    return lambda t: loud * rng.uniform(0.1, 1.6) if active(t) else quiet * rng.uniform(0.8, 1.2)


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
        ([(0, 4, "A"), (4.0, 4.5, "B"), (4.6, 10, "A")], [Turn(0.0, 0)]),
        # 1.2 s is longer than a backchannel but shorter than the 1.5 s hold
        ([(0, 4, "A"), (4.0, 5.2, "B"), (5.3, 10, "A")], [Turn(0.0, 0)]),
        # 1.6 s holds the floor: cut at its start
        ([(0, 4, "A"), (4.0, 5.6, "B"), (5.7, 10, "A")], [Turn(0, 0), Turn(4.0, 1), Turn(5.7, 0)]),
        # two short sentences of B in a row hold the floor together
        ([(0, 4, "A"), (4.0, 4.9, "B"), (5.0, 5.9, "B")], [Turn(0.0, 0), Turn(4.0, 1)]),
        # the clip opens on a backchannel: the first real speaker owns the start
        ([(0, 0.4, "B"), (0.5, 6, "A"), (6.5, 10, "B")], [Turn(0.0, 0), Turn(6.5, 1)]),
        # an unmapped label changes nothing
        ([(0, 4, "A"), (4, 8, "C"), (8, 10, "A")], [Turn(0.0, 0)]),
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
    assert turns_from_motion(build_tracks(a), a.times, FPS) == [Turn(0.0, 0)]

    b = two_faces(
        talking(lambda t: t < 5.0, quiet=0.002, loud=0.03, seed=5),
        talking(lambda t: t >= 5.0, quiet=0.002, loud=0.03, seed=6),
    )
    turns = turns_from_motion(build_tracks(b), b.times, FPS)
    assert [t.track for t in turns] == [0, 1]
    assert abs(turns[1].start - 5.0) <= 0.6


def test_turns_from_motion_with_nobody_talking_follow_the_face_seen_most():
    a = two_faces(lambda t: 0.002, lambda t: 0.002)
    assert turns_from_motion(build_tracks(a), a.times, FPS) == [Turn(0.0, 0)]
