"""Framing of one clip: analyse its window once, decide whom to keep centred, plan the crop.

``analyse_window`` is the only part with a side effect (one ffmpeg pipe); ``plan_framing`` and
``sendcmd_script`` are pure, so the whole decision chain is tested on synthetic detections.

Layouts (a simple heuristic over the faces detected in at least 40 % of the samples):

- ``no_face``: no track at all; the crop stays centred.
- ``single``: one such face; the crop follows it.
- ``speaker``: several faces but one is large (others narrower than 60 % of it), as in a
  video-call speaker view with thumbnails or a close-up with people behind; the crop follows
  the large face (the call software already switches it to whoever talks).
- ``gallery``: two or more faces of similar size in separate regions (side-by-side tiles, a
  two-shot); the crop follows the active speaker among them and cuts between speakers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from media import ffmpeg
from media.crop import (
    CropKey,
    PathParams,
    Shot,
    crop_size,
    keys_from_shots,
    sendcmd_lines,
    shot_path,
)
from media.errors import MediaError
from media.faces import Box, mouth_motion, track_faces
from media.tracking import (
    MIN_HOLD_S,
    Analysis,
    FaceObs,
    Sample,
    Track,
    TrackParams,
    Turn,
    build_tracks,
    map_speakers,
    turns_from_motion,
    turns_from_speech,
)

__all__ = [
    "Analysis",
    "CropKey",
    "FramingPlan",
    "analyse_window",
    "analysis_argv",
    "analysis_size",
    "classify_layout",
    "plan_framing",
    "sendcmd_script",
]

PERSISTENT = 0.4  # share of samples a face must be present in to count for the layout
BIG = 0.6  # faces at least this share of the largest face's width count as "large"


@dataclass(frozen=True, slots=True)
class FramingPlan:
    """Where the crop window sits over one clip, and why (records for the render and QA)."""

    layout: str  # "gallery" | "speaker" | "single" | "no_face"
    crop_w: int  # crop size in source pixels (even), aspect = target aspect
    crop_h: int
    keys: tuple[CropKey, ...]  # clip-relative, sorted, first at t=0, only where it moves
    face_track: tuple[tuple[float, float, float], ...]  # (t, cx, cy) of the followed face
    speaker_faces: dict[str, int]  # transcript speaker label -> track id


# --- analysis: one ffmpeg pipe per clip ----------------------------------------------------


def analysis_size(src_w: int, src_h: int, width: int) -> tuple[int, int]:
    """Analysis frame size: the longer side at most ``width`` (never upscaled), aspect kept,
    both sides even. A 1080×1920 portrait becomes 360×640, not 640×1138: detection scales to
    the shorter side anyway (:func:`media.faces.detect_faces`), so the extra pixels only cost."""
    long_src, short_src = max(src_w, src_h), min(src_w, src_h)
    long = max(2, min(width, long_src) // 2 * 2)
    short = max(2, int(round(long * short_src / long_src / 2)) * 2)
    return (long, short) if src_w >= src_h else (short, long)


def analysis_argv(
    path: str, start_s: float, duration_s: float, size: tuple[int, int], fps: float
) -> list[str]:
    """ffmpeg argv: seek before -i, sample at ``fps``, then scale, raw grey frames on stdout."""
    w, h = size
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(path, seek_s=start_s, duration_s=duration_s)
        + [
            "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", f"fps={fps:g},scale={w}:{h}:flags=area",
            "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1",
        ]
    )  # fmt: skip


def analyse_window(
    path: str,
    start_s: float,
    duration_s: float,
    src_w: int,
    src_h: int,
    *,
    fps: float,
    width: int,
    full_pass_s: float = 1.0,
) -> Analysis:
    """Detect faces and mouth motion at ``fps`` over one window of a recording.

    One ffmpeg pipe per clip; times in the result are clip-relative and boxes in source pixels.
    The whole frame is searched every ``full_pass_s``; the samples in between only look again
    around the faces already found (as does the full pass, for a face it missed), which costs
    under a tenth of a full pass. A window without faces costs one full pass per
    ``full_pass_s`` too (a full pass on every sample there took half a core). Raises
    :class:`MediaError` when the window yields no video frame.
    """
    if fps <= 0 or width < 16 or duration_s <= 0 or src_w <= 0 or src_h <= 0:
        raise ValueError(
            f"analyse_window({path!r}): fps={fps}, width={width}, duration_s={duration_s}, "
            f"source {src_w}x{src_h}: expected positive values and width >= 16"
        )
    w, h = analysis_size(src_w, src_h, width)
    sx, sy = src_w / w, src_h / h
    argv = analysis_argv(path, start_s, duration_s, (w, h), fps)
    full_every = max(1, int(round(full_pass_s * fps)))
    samples: list[Sample] = []
    prev: np.ndarray | None = None
    frames = (
        np.frombuffer(buf, dtype=np.uint8).reshape(h, w)
        for buf in ffmpeg.stream(argv, frame_bytes=w * h)
    )
    for i, (grey, boxes) in enumerate(track_faces(frames, full_every=full_every)):
        faces = []
        for box in boxes:
            motion = mouth_motion(prev, grey, box) if prev is not None else float("nan")
            src_box = Box(box.x * sx, box.y * sy, box.w * sx, box.h * sy, box.score)
            faces.append(FaceObs(src_box, motion))
        samples.append(Sample(round(i / fps, 4), tuple(faces)))
        prev = grey
    if not samples:
        raise MediaError(
            f"{path}: no video frame decoded between {start_s:.3f} s and "
            f"{start_s + duration_s:.3f} s"
        )
    return Analysis(src_w, src_h, float(fps), float(duration_s), tuple(samples))


# --- layout and whom to follow -------------------------------------------------------------


def _separated(a: Track, b: Track) -> bool:
    """Boxes at least half a face width apart (in x or in y): separate tiles or seats."""
    ax, ay, aw, ah = (float(np.nanmedian(v)) for v in (a.cx, a.cy, a.w, a.h))
    bx, by, bw, bh = (float(np.nanmedian(v)) for v in (b.cx, b.cy, b.w, b.h))
    gap_x = abs(ax - bx) - (aw + bw) / 2
    gap_y = abs(ay - by) - (ah + bh) / 2
    return max(gap_x, gap_y) >= 0.5 * min(aw, bw)


def classify_layout(tracks: Sequence[Track]) -> tuple[str, list[Track]]:
    """Layout name and the tracks the crop may follow (see the module docstring)."""
    if not tracks:
        return "no_face", []
    n = len(tracks[0].cx)
    steady = [t for t in tracks if t.observed.sum() >= PERSISTENT * n]
    if not steady:
        steady = [max(tracks, key=lambda t: int(t.observed.sum()))]
    if len(steady) == 1:
        return "single", steady
    largest = max(t.median_w for t in steady)
    big = [t for t in steady if t.median_w >= BIG * largest]
    if len(big) == 1:
        return "speaker", big
    if all(_separated(a, b) for i, a in enumerate(big) for b in big[i + 1 :]):
        return "gallery", big
    return "speaker", [max(big, key=lambda t: t.median_w)]


def _turns(
    layout: str,
    candidates: Sequence[Track],
    times: np.ndarray,
    fps: float,
    speech: Sequence[tuple[float, float, str]],
) -> tuple[list[Turn], dict[str, int]]:
    """Active-track timeline and the label mapping for the candidates of a layout."""
    labelled = [s for s in speech if s[2]]
    mapping = map_speakers(candidates, times, labelled) if labelled else {}
    if layout != "gallery":
        return [Turn(0.0, candidates[0].id)], mapping
    turns = turns_from_speech(labelled, mapping) if mapping else []
    if not turns:
        turns = turns_from_motion(candidates, times, fps)
    return turns, mapping


def cover_absences(
    turns: Sequence[Turn],
    tracks: Sequence[Track],
    times: np.ndarray,
    *,
    fps: float,
    end: float,
    min_hold_s: float = MIN_HOLD_S,
) -> list[Turn]:
    """Where the followed face is gone for ≥ ``min_hold_s``, follow the largest face present.

    Covers camera cuts in edited recordings and people who leave the frame; shorter absences
    keep the window where it is (the track's last position is held).
    """
    by_id = {t.id: t for t in tracks}
    out: list[Turn] = []
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
            out.append(Turn(max(float(times[i0]), turn.start), other.id))
            if t1 < stop:
                out.append(Turn(t1, turn.track))
    merged: list[Turn] = []
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
    if layout == "no_face":
        centre = CropKey(0.0, (src_w - crop[0]) // 2, (src_h - crop[1]) // 2)
        return FramingPlan("no_face", crop[0], crop[1], (centre,), (), {})
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
