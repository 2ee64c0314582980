"""Who among the face tracks is speaking when: transcript speakers mapped to faces by mouth
motion, and the timeline of whom the crop follows (:class:`Focus`), with the hold and
backchannel rules. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations

import numpy as np
import numpy.typing as npt

from media.framing.tracks import Track
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript

# A speaker must hold the floor this long before the crop cuts to them.
MIN_HOLD_S = 1.5
# Speech segments shorter than this are backchannels ("yeah", "mm-hm"): they never switch.
BACKCHANNEL_S = 0.7


# --- who is speaking ---------------------------------------------------------------------------


# A face's own motion baseline needs this much footage (s) to include the pauses of someone
# who talks throughout; a shorter shot (an edit cuts to whoever talks) shares one baseline.
OWN_BASELINE_S = 8.0


def motion_score(track: Track, base: float | None = None) -> npt.NDArray[np.float64]:
    """Mouth motion relative to a baseline: log(m / base); NaN if unseen. ``base`` defaults to
    the face's own 10th percentile.

    A face's resting noise (compression, lighting, size) sets its baseline, so faces compare.
    The 10th percentile is the mouth at rest even for someone who talks most of the clip:
    at 5 samples/s, the pauses between words and sentences supply the low end.
    """
    m = track.motion
    ok = np.isfinite(m)
    if not ok.any():
        return np.full(len(m), np.nan)
    eps = 0.002  # half a grey level
    if base is None:
        base = float(np.percentile(m[ok], 10))
    return np.where(ok, np.log((np.nan_to_num(m) + eps) / (base + eps)), np.nan)


def motion_scores(
    tracks: Sequence[Track], times: npt.NDArray[np.float64]
) -> list[npt.NDArray[np.float64]]:
    """Each track's :func:`motion_score`: against its own baseline over footage of at least
    :data:`OWN_BASELINE_S`, else against the 10th percentile of all the faces' motion (a
    three-second two-shot of someone talking throughout has no pause of theirs to rest on:
    measured on a real edit, the own baseline ranked the listener above the speaker)."""
    span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if span >= OWN_BASELINE_S or len(tracks) < 2:
        return [motion_score(t) for t in tracks]
    pooled = np.concatenate([t.motion[np.isfinite(t.motion)] for t in tracks])
    base = float(np.percentile(pooled, 10)) if len(pooled) else None
    return [motion_score(t, base) for t in tracks]


def speaking_mask(
    times: npt.NDArray[np.float64], speech: Sequence[tuple[float, float, str]], label: str
) -> npt.NDArray[np.bool_]:
    """Samples inside any segment of ``label``."""
    mask = np.zeros(len(times), dtype=bool)
    for start, end, who in speech:
        if who == label:
            mask |= (times >= start) & (times < end)
    return mask


def label_evidence(
    tracks: Sequence[Track],
    times: npt.NDArray[np.float64],
    speech: Sequence[tuple[float, float, str]],
) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The labels (sorted) and, per label and track, how much more the track's mouth moves
    while that label talks than otherwise (mean baseline-relative motion; -inf: too few
    samples)."""
    labels = sorted({who for _, _, who in speech if who})
    ev = np.full((len(labels), len(tracks)), -np.inf)
    scores = motion_scores(tracks, times) if tracks else []
    for li, label in enumerate(labels):
        talk = speaking_mask(times, speech, label)
        for k, s in enumerate(scores):
            ok = np.isfinite(s)
            on, off = s[ok & talk], s[ok & ~talk]
            if len(on) >= 2:
                ev[li, k] = on.mean() - (off.mean() if len(off) >= 2 else 0.0)
    return labels, ev


def map_speakers(
    tracks: Sequence[Track],
    times: npt.NDArray[np.float64],
    speech: Sequence[tuple[float, float, str]],
) -> dict[str, int]:
    """Transcript speaker label -> track id whose mouth moves most while that label talks.

    Evidence is the mean baseline-relative motion of a track while the label speaks minus its
    mean otherwise. With at least as many tracks as labels the assignment is one-to-one and
    maximises total evidence; a label with no positive evidence (an off-screen voice) is left
    out, so the crop stays where it is while that voice talks.
    """
    labels, ev = label_evidence(tracks, times, speech)
    if not tracks or not labels:
        return {}
    choice: dict[int, int] = {}
    if len(labels) <= len(tracks) and len(tracks) <= 7:
        best, best_sum = None, -np.inf
        for perm in permutations(range(len(tracks)), len(labels)):
            total = sum(max(ev[li, k], 0.0) for li, k in enumerate(perm))
            if total > best_sum:
                best, best_sum = perm, total
        choice = dict(enumerate(best or ()))
    else:
        choice = {li: int(np.argmax(ev[li])) for li in range(len(labels))}
    return {labels[li]: tracks[k].id for li, k in choice.items() if ev[li, k] > 0}


@dataclass(frozen=True, slots=True)
class Focus:
    """From ``start`` (s) on, the crop follows ``track`` (until the next turn)."""

    start: float
    track: int


def runs_to_turns(runs: list[tuple[float, float, int]], min_hold_s: float) -> list[Focus]:
    """Merge consecutive runs of one track; only runs of ≥ ``min_hold_s`` may take the floor."""
    merged: list[tuple[float, float, int]] = []
    for start, end, track in sorted(runs):
        if merged and merged[-1][2] == track:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end), track)
        else:
            merged.append((start, end, track))
    turns: list[Focus] = []
    for start, end, track in merged:
        if end - start < min_hold_s:
            continue
        if not turns:
            turns.append(Focus(0.0, track))
        elif turns[-1].track != track:
            turns.append(Focus(start, track))
    return turns


def turns_from_speech(
    speech: Sequence[tuple[float, float, str]],
    speaker_faces: dict[str, int],
    *,
    min_hold_s: float = MIN_HOLD_S,
    backchannel_s: float = BACKCHANNEL_S,
) -> list[Focus]:
    """Active-track timeline from labelled speech: backchannels dropped, short turns ignored."""
    runs = [
        (start, end, speaker_faces[who])
        for start, end, who in speech
        if who in speaker_faces and end - start >= backchannel_s
    ]
    # Two short segments of one speaker separated only by dropped backchannels form one run.
    return runs_to_turns(runs, min_hold_s)


# Inside a label's speech, a face no label was mapped to takes the floor when its mouth leads
# the label's face by this many standard deviations (each face's smoothed motion against its
# own over the shot). Measured on the real-face group (two of three voices merged into one
# label): 0.3-0.8 split the merged label right (on-speaker 0.69 -> 0.93-0.98), 1.0 never did.
MERGED_LEAD = 0.5
# …and only a face whose mouth moves more while the label talks than otherwise, by at least
# this share of the label's own face's evidence (:func:`label_evidence`): on the real group,
# the merged second voice's face 0.25 of 0.40, a listener's expressions 0.11.
JOIN_SHARE = 0.5


def turns_from_speech_and_mouths(
    speech: Sequence[tuple[float, float, str]],
    speaker_faces: dict[str, int],
    tracks: Sequence[Track],
    times: npt.NDArray[np.float64],
    fps: float,
    *,
    min_hold_s: float = MIN_HOLD_S,
    backchannel_s: float = BACKCHANNEL_S,
    lead: float = MERGED_LEAD,
) -> list[Focus]:
    """:func:`turns_from_speech`, where more faces than labels could be speaking.

    The diarization merges similar voices (two of a real group's three speakers came back as
    one label), so a label's speech may be another face's: each sample of it goes to the face,
    among the label's own and the unmapped ones that move more while it talks
    (:data:`JOIN_SHARE`), whose mouth leads the others by ``lead``; else to the label's face.
    Without such a face this is :func:`turns_from_speech`.
    """
    labels, ev = label_evidence(tracks, times, speech)
    column = {t.id: k for k, t in enumerate(tracks)}
    mapped = set(speaker_faces.values())
    # who else may be speaking a label's words: an unmapped face whose mouth moves more while
    # that label talks, by at least JOIN_SHARE of the label's own face's evidence
    joins: dict[str, list[int]] = {}
    for li, label in enumerate(labels):
        if label not in speaker_faces:
            continue
        own = ev[li, column[speaker_faces[label]]]
        joins[label] = [
            t.id
            for t in tracks
            if t.id not in mapped and own > 0 and ev[li, column[t.id]] >= JOIN_SHARE * own
        ]
    if not any(joins.values()):
        return turns_from_speech(
            speech, speaker_faces, min_hold_s=min_hold_s, backchannel_s=backchannel_s
        )
    win = max(1, int(round(fps)))
    standard: dict[int, npt.NDArray[np.float64]] = {}
    for track, score in zip(tracks, motion_scores(tracks, times), strict=True):
        smooth = np.where(track.present, _nan_average(score, win), np.nan)
        ok = np.isfinite(smooth)
        spread = float(smooth[ok].std()) if ok.sum() >= 2 else 0.0
        mean = float(smooth[ok].mean()) if ok.any() else 0.0
        standard[track.id] = (smooth - mean) / spread if spread > 0 else np.full(len(times), np.nan)
    dt = 1.0 / fps
    runs: list[tuple[float, float, int]] = []
    for start, end, who in speech:
        if who not in speaker_faces or end - start < backchannel_s:
            continue
        own = speaker_faces[who]
        group = [own, *joins[who]]
        for i in np.flatnonzero((times >= start) & (times < end)):
            z = np.nan_to_num(np.array([standard[k][i] for k in group]), nan=-np.inf)
            order = np.argsort(z)
            with np.errstate(invalid="ignore"):
                leads = len(group) > 1 and z[order[-1]] - z[order[-2]] > lead
            best = group[int(order[-1])] if leads else own
            runs.append((float(times[i]), float(times[i]) + dt, best))
    return runs_to_turns(runs, min_hold_s)


def turns_from_motion(
    tracks: Sequence[Track],
    times: npt.NDArray[np.float64],
    fps: float,
    *,
    min_hold_s: float = MIN_HOLD_S,
    margin: float = 0.3,
) -> list[Focus]:
    """Active-track timeline without labels: the face with the most (smoothed) mouth motion.

    Scores are averaged over a centred ~1 s window; a face leads a sample when it beats every
    other by ``margin`` (log units), and a new speaker must lead for ≥ ``min_hold_s``.
    """
    if not tracks:
        return []
    if len(tracks) == 1:
        return [Focus(0.0, tracks[0].id)]
    win = max(1, int(round(fps)))
    smooth = np.stack([_nan_average(s, win) for s in motion_scores(tracks, times)])
    smooth = np.where(np.stack([t.present for t in tracks]), smooth, np.nan)
    smooth = np.nan_to_num(smooth, nan=-np.inf)
    # A sample is decided when one face leads the next by ``margin``; undecided samples
    # (everyone quiet, or two people at once) neither start nor extend anyone's turn.
    order = np.sort(smooth, axis=0)
    with np.errstate(invalid="ignore"):
        lead = order[-1] - order[-2]
    best = np.argmax(smooth, axis=0)
    decided = np.isfinite(order[-1]) & (lead > margin)
    dt = 1.0 / fps
    runs = [
        (float(t), float(t) + dt, tracks[k].id)
        for t, k, ok in zip(times, best, decided, strict=True)
        if ok
    ]
    turns = runs_to_turns(runs, min_hold_s)
    if not turns:  # nobody led long enough: the face seen most
        most_seen = max(tracks, key=lambda t: int(t.present.sum()))
        turns = [Focus(0.0, most_seen.id)]
    return turns


def _nan_average(values: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Centred moving average ignoring NaNs (NaN where the window holds none)."""
    ok = np.isfinite(values)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, values, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-9), np.nan)


def clip_speech(transcript: Transcript, clip: ClipPlan) -> list[tuple[float, float, str]]:
    """Clip-relative (start, end, speaker) of each sentence inside the clip: the speech that
    :func:`map_speakers` and :func:`turns_from_speech` read."""
    return [
        (s.start_s - clip.start_s, s.end_s - clip.start_s, s.speaker)
        for s in transcript.sentences[clip.first_sentence : clip.last_sentence + 1]
    ]
