"""Face tracks over a clip's samples, and who among them is speaking when.

Pure logic on small records: per-sample detections (from :func:`media.framing.analyse_window`)
in, tracks on the common sample grid and an active-speaker timeline out. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from media.faces import MIN_TRACK_SCORE, Box

# A speaker must hold the floor this long before the crop cuts to them.
MIN_HOLD_S = 1.5
# Speech segments shorter than this are backchannels ("yeah", "mm-hm"): they never switch.
BACKCHANNEL_S = 0.7


@dataclass(frozen=True, slots=True)
class FaceObs:
    """One detected face in one sample: box in source pixels, mouth motion vs the last sample."""

    box: Box
    motion: float


@dataclass(frozen=True, slots=True)
class Sample:
    """The faces found in one analysed frame at clip-relative time ``t`` (s)."""

    t: float
    faces: tuple[FaceObs, ...]


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one pass over a clip's window saw: small enough to cache and pass between tasks."""

    src_w: int
    src_h: int
    fps: float
    duration_s: float
    samples: tuple[Sample, ...]

    @property
    def times(self) -> np.ndarray:
        return np.array([s.t for s in self.samples], dtype=float)


@dataclass(slots=True)
class Track:
    """One face followed across the sample grid; arrays are NaN where the face is not known.

    ``observed`` marks samples with an accepted detection; the positions in between are
    interpolated (gaps up to ``fill_gap_s``) or held (``hold_s`` past either end).
    """

    id: int
    cx: np.ndarray
    cy: np.ndarray
    w: np.ndarray
    h: np.ndarray
    motion: np.ndarray
    observed: np.ndarray

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.cx)

    @property
    def median_w(self) -> float:
        return float(np.nanmedian(self.w[self.observed])) if self.observed.any() else 0.0


@dataclass(frozen=True, slots=True)
class TrackParams:
    """Tunables of :func:`build_tracks` (times in seconds, sizes relative to the face width)."""

    max_miss_s: float = 1.0  # a track not matched for longer ends (it may be merged back)
    min_iou: float = 0.2  # either enough overlap …
    max_centre_dist: float = 0.6  # … or centres within this many face widths
    min_hits: int = 3  # fewer accepted detections: a false positive
    min_duration_s: float = 0.5
    min_width_frac: float = 0.02  # faces narrower than this share of the frame are dropped
    # Median detector score below which a track is a false positive. The detector owns the
    # scale (dlib HOG's SVM margin now; Haar level weights, 2–12 for true faces, used 1.5).
    min_score: float = MIN_TRACK_SCORE
    outlier_dist: float = 0.35  # centre jump vs the running median, in face widths
    median_window: int = 5  # samples in the outlier median filter
    fill_gap_s: float = 2.0  # interpolate misses up to this long
    hold_s: float = 1.0  # hold the first/last position this long beyond a track's ends


def _close(a: Box, b: Box, p: TrackParams) -> float:
    """Match score of two boxes (higher is better), or -1 when they cannot be the same face."""
    ratio = a.w / b.w if b.w > 0 else np.inf
    if not 0.6 <= ratio <= 1.67:
        return -1.0
    dist = np.hypot(a.cx - b.cx, a.cy - b.cy) / max(a.w, b.w)
    iou = a.iou(b)
    if iou < p.min_iou and dist > p.max_centre_dist:
        return -1.0
    return iou + (1.0 - dist)


def _associate(samples: Sequence[Sample], fps: float, p: TrackParams) -> list[list]:
    """Greedy frame-to-frame association: a list of hits ``(sample index, box, motion)``.

    Tracks seen last choose first (DeepSORT's matching cascade), so a stray box's fresh track
    cannot take the face from its own when the face moves toward it (a cut, not a pan).
    """
    max_miss = max(1, int(round(p.max_miss_s * fps)))
    tracks: list[list[tuple[int, Box, float]]] = []
    for i, sample in enumerate(samples):
        live = [k for k, tr in enumerate(tracks) if i - tr[-1][0] <= max_miss]
        pairs = []
        for k in live:
            for j, obs in enumerate(sample.faces):
                score = _close(tracks[k][-1][1], obs.box, p)
                if score >= 0:
                    pairs.append((i - tracks[k][-1][0], -score, k, j))
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, _, k, j in sorted(pairs):
            if k in used_t or j in used_d:
                continue
            used_t.add(k)
            used_d.add(j)
            tracks[k].append((i, sample.faces[j].box, sample.faces[j].motion))
        for j, obs in enumerate(sample.faces):
            if j not in used_d:
                tracks.append([(i, obs.box, obs.motion)])
    return tracks


def _merge(tracks: list[list], p: TrackParams) -> list[list]:
    """Join tracks that never overlap in time and sit where the other one left off.

    Someone who looks away for a few seconds comes back as a new track at the same place;
    in the static framing of an interview that place identifies them. One pass in start
    order (single-hit flickers are left out first), so many false positives stay cheap.
    The track that left off there last takes it, not two stray boxes from seconds before.
    """
    merged: list[list] = []
    for track in sorted((t for t in tracks if len(t) >= 2), key=lambda t: t[0][0]):
        start = _median_box([h[1] for h in track[:5]])
        best, best_key = None, (-1, -1.0)
        for m in merged:
            if m[-1][0] >= track[0][0]:
                continue
            score = _close(_median_box([h[1] for h in m[-5:]]), start, p)
            if score >= 0 and (m[-1][0], score) > best_key:
                best, best_key = m, (m[-1][0], score)
        if best is not None:
            best.extend(track)
        else:
            merged.append(list(track))
    return merged


def _median_box(boxes: Sequence[Box]) -> Box:
    arr = np.array([[b.x, b.y, b.w, b.h] for b in boxes])
    return Box(*map(float, np.median(arr, axis=0)))


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median; the window shrinks at the ends. NaNs are ignored."""
    half = window // 2
    out = np.empty(len(values))
    for i in range(len(values)):
        chunk = values[max(0, i - half) : i + half + 1]
        out[i] = np.nanmedian(chunk) if np.isfinite(chunk).any() else np.nan
    return out


def _fill(values: np.ndarray, known: np.ndarray, times: np.ndarray, p: TrackParams) -> np.ndarray:
    """Interpolate inside short gaps and hold beyond the ends; NaN elsewhere."""
    out = np.full(len(values), np.nan)
    idx = np.flatnonzero(known)
    if len(idx) == 0:
        return out
    out[idx] = values[idx]
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        if b - a <= 1:
            continue
        inner = times[a + 1 : b]
        if times[b] - times[a] <= p.fill_gap_s:
            out[a + 1 : b] = np.interp(inner, [times[a], times[b]], values[[a, b]])
        else:  # a long absence: hold each side briefly, leave the middle unknown
            out[a + 1 : b][inner <= times[a] + p.hold_s] = values[a]
            out[a + 1 : b][inner >= times[b] - p.hold_s] = values[b]
    first, last = idx[0], idx[-1]
    before = (times < times[first]) & (times >= times[first] - p.hold_s)
    after = (times > times[last]) & (times <= times[last] + p.hold_s)
    out[before] = values[first]
    out[after] = values[last]
    return out


def _to_track(tid: int, hits: list, times: np.ndarray, p: TrackParams) -> Track:
    n = len(times)
    raw = np.full((n, 5), np.nan)
    for i, box, motion in hits:
        raw[i] = (box.cx, box.cy, box.w, box.h, motion)
    seen = ~np.isnan(raw[:, 0])
    # Outliers: a centre far from the running median of its neighbours, or a size jump.
    idx = np.flatnonzero(seen)
    med = np.stack([running_median(raw[idx, c], p.median_window) for c in range(3)], axis=1)
    jump = np.hypot(raw[idx, 0] - med[:, 0], raw[idx, 1] - med[:, 1]) / med[:, 2]
    size = raw[idx, 2] / med[:, 2]
    bad = (jump > p.outlier_dist) | (size < 0.7) | (size > 1.43)
    observed = seen.copy()
    observed[idx[bad]] = False
    cols = [_fill(raw[:, c], observed, times, p) for c in range(4)]
    motion = np.where(observed, raw[:, 4], np.nan)
    return Track(tid, *cols, motion=motion, observed=observed)


def build_tracks(analysis: Analysis, params: TrackParams | None = None) -> list[Track]:
    """Join detections into tracks, reject outliers, fill short misses, drop tiny/brief tracks.

    Track ids are assigned left to right by median position, so they are stable for a scene.
    """
    p = params or TrackParams()
    times = analysis.times
    if len(times) == 0:
        return []
    fps = analysis.fps
    raw = _associate(analysis.samples, fps, p)
    raw = _merge(raw, p) + [hits for hits in raw if len(hits) < 2]
    min_hits = min(p.min_hits, len(times))  # a clip of a few samples still gets its face
    keep = []
    for hits in raw:
        span = times[hits[-1][0]] - times[hits[0][0]]
        width = float(np.median([h[1].w for h in hits]))
        if len(hits) < min_hits or span < min(p.min_duration_s, times[-1] - times[0]):
            continue
        if width < p.min_width_frac * analysis.src_w:
            continue
        if float(np.median([h[1].score for h in hits])) < p.min_score:
            continue
        keep.append(hits)
    keep.sort(key=lambda hits: float(np.median([h[1].cx for h in hits])))
    tracks = [_to_track(k, hits, times, p) for k, hits in enumerate(keep)]
    return [t for t in tracks if t.observed.sum() >= min_hits]


# --- who is speaking ---------------------------------------------------------------------------


def motion_score(track: Track) -> np.ndarray:
    """Mouth motion relative to the face's own baseline: log(m / 10th percentile); NaN if unseen.

    A face's resting noise (compression, lighting, size) sets its baseline, so faces compare.
    The 10th percentile is the mouth at rest even for someone who talks most of the clip:
    at 5 samples/s, the pauses between words and sentences supply the low end.
    """
    m = track.motion
    ok = np.isfinite(m)
    if not ok.any():
        return np.full(len(m), np.nan)
    eps = 0.002  # half a grey level
    base = float(np.percentile(m[ok], 10))
    return np.where(ok, np.log((np.nan_to_num(m) + eps) / (base + eps)), np.nan)


def speaking_mask(times: np.ndarray, speech: Sequence[tuple[float, float, str]], label: str):
    """Samples inside any segment of ``label``."""
    mask = np.zeros(len(times), dtype=bool)
    for start, end, who in speech:
        if who == label:
            mask |= (times >= start) & (times < end)
    return mask


def map_speakers(
    tracks: Sequence[Track], times: np.ndarray, speech: Sequence[tuple[float, float, str]]
) -> dict[str, int]:
    """Transcript speaker label -> track id whose mouth moves most while that label talks.

    Evidence is the mean baseline-relative motion of a track while the label speaks minus its
    mean otherwise. With at least as many tracks as labels the assignment is one-to-one and
    maximises total evidence; a label with no positive evidence (an off-screen voice) is left
    out, so the crop stays where it is while that voice talks.
    """
    labels = sorted({who for _, _, who in speech if who})
    if not tracks or not labels:
        return {}
    scores = [motion_score(t) for t in tracks]
    ev = np.full((len(labels), len(tracks)), -np.inf)
    for li, label in enumerate(labels):
        talk = speaking_mask(times, speech, label)
        for k, s in enumerate(scores):
            ok = np.isfinite(s)
            on, off = s[ok & talk], s[ok & ~talk]
            if len(on) >= 2:
                ev[li, k] = on.mean() - (off.mean() if len(off) >= 2 else 0.0)
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
class Turn:
    """From ``start`` (s) on, the crop follows ``track`` (until the next turn)."""

    start: float
    track: int


def _runs_to_turns(runs: list[tuple[float, float, int]], min_hold_s: float) -> list[Turn]:
    """Merge consecutive runs of one track; only runs of ≥ ``min_hold_s`` may take the floor."""
    merged: list[list] = []
    for start, end, track in sorted(runs):
        if merged and merged[-1][2] == track:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, track])
    turns: list[Turn] = []
    for start, end, track in merged:
        if end - start < min_hold_s:
            continue
        if not turns:
            turns.append(Turn(0.0, track))
        elif turns[-1].track != track:
            turns.append(Turn(start, track))
    return turns


def turns_from_speech(
    speech: Sequence[tuple[float, float, str]],
    speaker_faces: dict[str, int],
    *,
    min_hold_s: float = MIN_HOLD_S,
    backchannel_s: float = BACKCHANNEL_S,
) -> list[Turn]:
    """Active-track timeline from labelled speech: backchannels dropped, short turns ignored."""
    runs = [
        (start, end, speaker_faces[who])
        for start, end, who in speech
        if who in speaker_faces and end - start >= backchannel_s
    ]
    # Two short segments of one speaker separated only by dropped backchannels form one run.
    return _runs_to_turns(runs, min_hold_s)


def turns_from_motion(
    tracks: Sequence[Track],
    times: np.ndarray,
    fps: float,
    *,
    min_hold_s: float = MIN_HOLD_S,
    margin: float = 0.3,
) -> list[Turn]:
    """Active-track timeline without labels: the face with the most (smoothed) mouth motion.

    Scores are averaged over a centred ~1 s window; a face leads a sample when it beats every
    other by ``margin`` (log units), and a new speaker must lead for ≥ ``min_hold_s``.
    """
    if not tracks:
        return []
    if len(tracks) == 1:
        return [Turn(0.0, tracks[0].id)]
    win = max(1, int(round(fps)))
    smooth = np.stack([_nan_average(motion_score(t), win) for t in tracks])
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
    turns = _runs_to_turns(runs, min_hold_s)
    if not turns:  # nobody led long enough: the face seen most
        most_seen = max(tracks, key=lambda t: int(t.present.sum()))
        turns = [Turn(0.0, most_seen.id)]
    return turns


def _nan_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average ignoring NaNs (NaN where the window holds none)."""
    ok = np.isfinite(values)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, values, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-9), np.nan)
