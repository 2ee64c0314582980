"""Face tracks over a clip's samples: detections associated across samples, outliers
filtered, gaps interpolated onto the common sample grid.

Pure logic on small records: per-sample detections (from
:func:`media.framing.analysis.analyse_window`) in, :class:`Track` records out. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from media.framing.centerface import MIN_TRACK_SCORE
from media.framing.detection import Box

# One accepted detection of a track: (sample index, box, mouth motion).
Hit = tuple[int, Box, float]


# A box x, y, w, h in source pixels: where a call app outlines the tile of whoever speaks.
Outline = tuple[float, float, float, float]


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
    cuts: tuple[float, ...] = ()  # clip times where a new shot starts (media.framing.shots)
    flat: tuple[float, ...] = ()  # per sample: share of flat picture (screen content)
    sharp: tuple[float, ...] = ()  # per sample: share of hard edges away from faces (text)
    # per sample: a call app's active-speaker outline (media.framing.highlight), else None
    outlines: tuple[Outline | None, ...] = ()

    @property
    def times(self) -> npt.NDArray[np.float64]:
        return np.array([s.t for s in self.samples], dtype=float)

    def shot(self, i0: int, i1: int) -> Analysis:
        """The samples ``[i0, i1)`` as an analysis of their own (times stay clip times)."""
        return replace(
            self,
            samples=self.samples[i0:i1],
            cuts=(),
            flat=self.flat[i0:i1],
            sharp=self.sharp[i0:i1],
            outlines=self.outlines[i0:i1],
        )


@dataclass(slots=True)
class Track:
    """One face followed across the sample grid; arrays are NaN where the face is not known.

    ``observed`` marks samples with an accepted detection; the positions in between are
    interpolated (gaps up to ``fill_gap_s``) or held (``hold_s`` past either end).
    """

    id: int
    cx: npt.NDArray[np.float64]
    cy: npt.NDArray[np.float64]
    w: npt.NDArray[np.float64]
    h: npt.NDArray[np.float64]
    motion: npt.NDArray[np.float64]
    observed: npt.NDArray[np.bool_]

    @property
    def present(self) -> npt.NDArray[np.bool_]:
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
    # scale (CenterFace's heatmap peak now; dlib HOG's SVM margin and Haar's level weights,
    # 2–12 for true faces, before).
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
    dist = float(np.hypot(a.cx - b.cx, a.cy - b.cy)) / max(a.w, b.w)
    iou = a.iou(b)
    if iou < p.min_iou and dist > p.max_centre_dist:
        return -1.0
    return iou + (1.0 - dist)


def _associate(samples: Sequence[Sample], fps: float, p: TrackParams) -> list[list[Hit]]:
    """Greedy frame-to-frame association: a list of hits ``(sample index, box, motion)``.

    Tracks seen last choose first (DeepSORT's matching cascade), so a stray box's fresh track
    cannot take the face from its own when the face moves toward it (a cut, not a pan).
    """
    max_miss = max(1, int(round(p.max_miss_s * fps)))
    tracks: list[list[Hit]] = []
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


def _merge(tracks: list[list[Hit]], p: TrackParams) -> list[list[Hit]]:
    """Join tracks that never overlap in time and sit where the other one left off.

    Someone who looks away for a few seconds comes back as a new track at the same place;
    in the static framing of an interview that place identifies them. One pass in start
    order (single-hit flickers are left out first), so many false positives stay cheap.
    The track that left off there last takes it, not two stray boxes from seconds before.
    """
    merged: list[list[Hit]] = []
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
    x, y, w, h = (float(v) for v in np.median(arr, axis=0))
    return Box(x, y, w, h)


def running_median(values: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Centred running median; the window shrinks at the ends. NaNs are ignored."""
    half = window // 2
    out = np.empty(len(values))
    for i in range(len(values)):
        chunk = values[max(0, i - half) : i + half + 1]
        out[i] = np.nanmedian(chunk) if np.isfinite(chunk).any() else np.nan
    return out


def _fill(
    values: npt.NDArray[np.float64],
    known: npt.NDArray[np.bool_],
    times: npt.NDArray[np.float64],
    p: TrackParams,
) -> npt.NDArray[np.float64]:
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


def _to_track(tid: int, hits: list[Hit], times: npt.NDArray[np.float64], p: TrackParams) -> Track:
    n = len(times)
    raw = np.full((n, 5), np.nan)
    for i, box, mouth in hits:
        raw[i] = (box.cx, box.cy, box.w, box.h, mouth)
    seen = ~np.isnan(raw[:, 0])
    # Outliers: a centre far from the running median of its neighbours, or a size jump.
    idx = np.flatnonzero(seen)
    med = np.stack([running_median(raw[idx, c], p.median_window) for c in range(3)], axis=1)
    jump = np.hypot(raw[idx, 0] - med[:, 0], raw[idx, 1] - med[:, 1]) / med[:, 2]
    size = raw[idx, 2] / med[:, 2]
    bad = (jump > p.outlier_dist) | (size < 0.7) | (size > 1.43)
    observed = seen.copy()
    observed[idx[bad]] = False
    cx, cy, w, h = (_fill(raw[:, c], observed, times, p) for c in range(4))
    motion = np.where(observed, raw[:, 4], np.nan)
    return Track(tid, cx, cy, w, h, motion=motion, observed=observed)


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
