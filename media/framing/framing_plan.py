"""Framing of one clip: from the analysis of its window, decide whom to keep centred and plan
the crop.

Pure: the stage's only side effect is the analysis decode
(:func:`media.framing.analysis.analyse_window`); ``plan_framing`` and ``sendcmd_script`` take its
record, so the whole decision chain is tested on synthetic detections.

The layout (:class:`media.framing.layout.Layout`) decides whom the crop may follow: the one
face, the large one, or among gallery tiles the person speaking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from media.framing.crop_path import (
    CropKey,
    PathParams,
    Shot,
    crop_size,
    keys_from_shots,
    sendcmd_lines,
    shot_path,
)
from media.framing.layout import Layout, classify_layout
from media.framing.speakers import (
    MIN_HOLD_S,
    Focus,
    map_speakers,
    turns_from_motion,
    turns_from_speech,
)
from media.framing.tracks import Analysis, Track, TrackParams, build_tracks


@dataclass(frozen=True, slots=True)
class FramingPlan:
    """Where the crop window sits over one clip, and why (records for the render and QA)."""

    layout: Layout
    crop_w: int  # crop size in source pixels (even), aspect = target aspect
    crop_h: int
    keys: tuple[CropKey, ...]  # clip-relative, sorted, first at t=0, only where it moves
    face_track: tuple[tuple[float, float, float], ...]  # (t, cx, cy) of the followed face
    speaker_faces: dict[str, int]  # transcript speaker label -> track id


def _turns(
    layout: Layout,
    candidates: Sequence[Track],
    times: npt.NDArray[np.float64],
    fps: float,
    speech: Sequence[tuple[float, float, str]],
) -> tuple[list[Focus], dict[str, int]]:
    """Active-track timeline and the label mapping for the candidates of a layout."""
    labelled = [s for s in speech if s[2]]
    mapping = map_speakers(candidates, times, labelled) if labelled else {}
    if layout != Layout.GALLERY:
        return [Focus(0.0, candidates[0].id)], mapping
    turns = turns_from_speech(labelled, mapping) if mapping else []
    if not turns:
        turns = turns_from_motion(candidates, times, fps)
    return turns, mapping


def cover_absences(
    turns: Sequence[Focus],
    tracks: Sequence[Track],
    times: npt.NDArray[np.float64],
    *,
    fps: float,
    end: float,
    min_hold_s: float = MIN_HOLD_S,
) -> list[Focus]:
    """Where the followed face is gone for ≥ ``min_hold_s``, follow the largest face present.

    Covers camera cuts in edited recordings and people who leave the frame; shorter absences
    keep the window where it is (the track's last position is held).
    """
    by_id = {t.id: t for t in tracks}
    out: list[Focus] = []
    for k, turn in enumerate(turns):
        stop = turns[k + 1].start if k + 1 < len(turns) else end
        out.append(turn)
        idx = np.flatnonzero((times >= turn.start) & (times < stop))
        gone = idx[~by_id[turn.track].present[idx]]
        for run in np.split(gone, np.flatnonzero(np.diff(gone) > 1) + 1):
            if len(run) == 0:
                continue
            here = [t for t in tracks if t.id != turn.track and t.present[run].mean() >= 0.5]
            t1 = float(times[run[-1]]) + 1.0 / fps
            if not here or t1 - float(times[run[0]]) < min_hold_s:
                continue
            other = max(here, key=lambda t: t.median_w)
            # Cut when the other face is there and the followed one was last actually seen,
            # not when its held position runs out (a camera cut is instant).
            seen = idx[(idx < run[0]) & by_id[turn.track].observed[idx]]
            i0 = seen[-1] + 1 if len(seen) else run[0]
            while i0 < run[0] and not other.present[i0]:
                i0 += 1
            out.append(Focus(max(float(times[i0]), turn.start), other.id))
            if t1 < stop:
                out.append(Focus(t1, turn.track))
    merged: list[Focus] = []
    for turn in sorted(out, key=lambda t: t.start):  # stable: a cover replaces its turn
        if merged and merged[-1].start == turn.start:
            merged.pop()
        if not merged or merged[-1].track != turn.track:
            merged.append(turn)
    return merged


# --- the plan ------------------------------------------------------------------------------


def plan_framing(
    analysis: Analysis,
    *,
    src_w: int,
    src_h: int,
    aspect: str,
    speech: Sequence[tuple[float, float, str]] | None = None,
    params: PathParams | None = None,
    track_params: TrackParams | None = None,
) -> FramingPlan:
    """Layout, active speaker over time and a smoothed crop path for one analysed clip.

    ``speech`` holds clip-relative ``(start, end, speaker label)`` segments of the transcript.
    """
    p = params or PathParams()
    crop = crop_size(src_w, src_h, aspect)
    src = (src_w, src_h)
    times = analysis.times
    tracks = build_tracks(analysis, track_params)
    layout, candidates = classify_layout(tracks)
    if layout == Layout.NO_FACE:
        centre = CropKey(0.0, (src_w - crop[0]) // 2, (src_h - crop[1]) // 2)
        return FramingPlan(Layout.NO_FACE, crop[0], crop[1], (centre,), (), {})
    turns, mapping = _turns(layout, candidates, times, analysis.fps, speech or [])
    by_id = {t.id: t for t in tracks}
    end = max(analysis.duration_s, float(times[-1]) + 1.0 / analysis.fps)
    turns = [turn for turn in turns if turn.start < end]
    turns = cover_absences(turns, tracks, times, fps=analysis.fps, end=end)
    shots: list[Shot] = []
    face_track: list[tuple[float, float, float]] = []
    for k, turn in enumerate(turns):
        stop = turns[k + 1].start if k + 1 < len(turns) else end
        inside = (times >= turn.start) & (times < stop)
        track = by_id[turn.track]
        tx, fx, fy = times[inside], track.cx[inside], track.cy[inside]
        shots.append(
            shot_path(turn.start, stop, tx, fx, fy, fps=analysis.fps, crop=crop, src=src, params=p)
        )
        face_track += [
            (round(float(t), 3), round(float(x), 1), round(float(y), 1))
            for t, x, y in zip(tx, fx, fy, strict=True)
            if np.isfinite(x)
        ]
    keys = keys_from_shots(shots, crop=crop, src=src, key_fps=p.key_fps)
    return FramingPlan(layout, crop[0], crop[1], keys, tuple(face_track), mapping)


def sendcmd_script(plan: FramingPlan, *, filter_name: str = "crop") -> str:
    """Text for ffmpeg's ``sendcmd`` filter that moves the crop along ``plan.keys``.

    Use it as ``sendcmd=f=FILE,crop=w=W:h=H:x=X0:y=Y0`` with X0/Y0 from ``plan.keys[0]``;
    the graph must see clip-relative timestamps (seek with ``-ss`` before ``-i``).
    """
    return sendcmd_lines(plan.keys, filter_name=filter_name)
