"""Framing of one clip: from the analysis of its window, decide whom to keep centred and plan
the crop, shot by shot.

Pure: the stage's only side effect is the analysis decode
(:func:`media.framing.analysis.analyse_window`); ``plan_framing`` and ``sendcmd_script`` take its
record, so the whole decision chain is tested on synthetic detections.

The clip is split at the source's own cuts (:mod:`media.framing.shots`): faces are tracked
within a shot only, each shot gets its layout (:class:`media.framing.layout.Layout`), and the
window cuts with the source and re-acquires the speaker on the new shot's first sample. The
layout decides whom the window follows (the one face, the large one, or among several the
person speaking), whether it zooms in (a group in a source as narrow as the output) and
whether the shot is stacked (a screen share: the screen above, the presenter below) or shown
whole (a slide without a presenter).
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
from media.framing.highlight import turns_from_outline
from media.framing.layout import FOLLOWS_SPEAKER, Layout, classify_layout
from media.framing.panels import (
    Rect,
    presenter_aspect,
    presenter_crop,
    screen_region,
    zoom_crop,
)
from media.framing.shots import shot_bounds
from media.framing.speakers import (
    MIN_HOLD_S,
    Focus,
    map_speakers,
    turns_from_motion,
    turns_from_speech_and_mouths,
)
from media.framing.tiles import PanelRows, panel_rows, tile_window
from media.framing.tracks import Analysis, Track, TrackParams, build_tracks

# The plain crop spans the source's width when it is at least this share of it.
FILLS_WIDTH = 0.9
DEFAULT_MAX_ZOOM = 2.0


@dataclass(frozen=True, slots=True)
class Segment:
    """One source shot of a clip (clip-relative ``[start, end)``) and how it is framed.

    ``keys`` move a ``crop_w``×``crop_h`` window (source pixels). With ``screen`` the shot is
    stacked: that region of the source above, the window (the presenter) below. With ``fit``
    the whole frame is shown (no window, no face by design).
    """

    start: float
    end: float
    layout: Layout
    crop_w: int
    crop_h: int
    keys: tuple[CropKey, ...]
    screen: Rect | None = None
    fit: bool = False
    note: str = ""  # why a layout was framed otherwise than usual (the report shows it)
    panels: tuple[PanelRows, ...] = ()  # the followed face's tile rows, over stacked tiles

    @property
    def holds_face(self) -> bool:
        """Whether the rendered shot shows a face by design (QA judges centring there)."""
        return not self.fit and self.layout != Layout.NO_FACE


@dataclass(frozen=True, slots=True)
class FramingPlan:
    """Where the crop window sits over one clip, and why (records for the render and QA).

    ``layout``, ``crop_w``/``crop_h`` and ``keys`` describe the clip as one moving window (the
    longest shot's layout, the plain crop of the output's aspect, every segment's keys);
    ``segments`` say how each source shot is framed, ``cuts`` where the source cuts.
    """

    layout: Layout
    crop_w: int  # crop size in source pixels (even), aspect = target aspect
    crop_h: int
    keys: tuple[CropKey, ...]  # clip-relative, sorted, first at t=0, only where it moves
    face_track: tuple[tuple[float, float, float], ...]  # (t, cx, cy) of the followed face
    speaker_faces: dict[str, int]  # transcript speaker label -> track id (the last shot's)
    segments: tuple[Segment, ...] = ()
    cuts: tuple[float, ...] = ()
    # Share of labelled speech samples with the window on the speaker's matched face (None:
    # no speaker was matched to a face); see media.framing.summary.
    speaker_share: float | None = None

    @property
    def one_window(self) -> bool:
        """True when every shot is a plain crop of the same size: one moving crop renders it."""
        return all(
            s.screen is None and not s.fit and (s.crop_w, s.crop_h) == (self.crop_w, self.crop_h)
            for s in self.segments
        )


def _turns(
    layout: Layout,
    candidates: Sequence[Track],
    shot: Analysis,
    speech: Sequence[tuple[float, float, str]],
) -> tuple[list[Focus], dict[str, int]]:
    """Active-track timeline and the label mapping for the candidates of a layout.

    A call app's active-speaker outline decides where the shot shows one (media.framing.
    highlight). Else the transcript's speakers decide when at least two are matched to faces
    (mouth motion splitting a label that merged two voices, media.framing.speakers);
    with one label over several faces (one speaker, or voices the diarization merged: three
    women in a real-face call gallery came back as one speaker) mouth motion decides.
    """
    times, fps = shot.times, shot.fps
    labelled = [s for s in speech if s[2]]
    mapping = map_speakers(candidates, times, labelled) if labelled else {}
    if layout not in FOLLOWS_SPEAKER:
        return [Focus(0.0, candidates[0].id)], mapping
    turns = turns_from_outline(shot.outlines, candidates, times, fps)
    if not turns and len(mapping) >= 2:
        turns = turns_from_speech_and_mouths(labelled, mapping, candidates, times, fps)
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


@dataclass(frozen=True, slots=True)
class _Frame:
    """What every shot of one clip is framed against."""

    src: tuple[int, int]
    crop: tuple[int, int]
    aspect: str
    speech: Sequence[tuple[float, float, str]]
    params: PathParams
    track_params: TrackParams | None
    max_zoom: float


def _follow(
    shot: Analysis, tracks: list[Track], cands: list[Track], turns: list[Focus], start: float,
    end: float, window: tuple[int, int], f: _Frame, tops: dict[int, float] | None = None,
) -> tuple[tuple[CropKey, ...], list[tuple[float, float, float]]]:  # fmt: skip
    """Keys that keep ``window`` on the followed face of each turn, and that face's path.

    ``tops`` holds the window's fixed top while it follows a track (its tile's panel).
    """
    times = shot.times
    tops = tops or {}
    by_id = {t.id: t for t in tracks}
    paths: list[Shot] = []
    face_track: list[tuple[float, float, float]] = []
    for k, turn in enumerate(turns):
        stop = turns[k + 1].start if k + 1 < len(turns) else end
        inside = (times >= turn.start) & (times < stop)
        track = by_id[turn.track]
        tx, fx, fy = times[inside], track.cx[inside], track.cy[inside]
        wy = fy  # the window's vertical target: a panel's window keeps its tile's top
        if turn.track in tops:
            wy = np.full(len(fy), tops[turn.track] + f.params.face_y * window[1])
        paths.append(
            shot_path(
                turn.start, stop, tx, fx, wy, fps=shot.fps, crop=window, src=f.src,
                params=f.params,
            )
        )  # fmt: skip
        face_track += [
            (round(float(t), 3), round(float(x), 1), round(float(y), 1))
            for t, x, y in zip(tx, fx, fy, strict=True)
            if np.isfinite(x)
        ]
    keys = keys_from_shots(paths, crop=window, src=f.src, key_fps=f.params.key_fps, start=start)
    return keys, face_track


def _on_speaker(
    turns: Sequence[Focus], times: npt.NDArray[np.float64], f: _Frame, mapping: dict[str, int]
) -> tuple[int, int]:
    """(samples on the speaker's face, samples of matched speech) within one shot."""
    starts = np.array([t.start for t in turns])
    followed = np.array([t.track for t in turns])[np.searchsorted(starts, times, "right") - 1]
    hits = total = 0
    for a, b, who in f.speech:
        if who in mapping:
            inside = (times >= a) & (times < b)
            total += int(inside.sum())
            hits += int((followed[inside] == mapping[who]).sum())
    return hits, total


def _centre(
    start: float, end: float, layout: Layout, f: _Frame, *, fit: bool = False, note: str = ""
) -> Segment:
    """A shot framed by the plain crop held in the middle (or, with ``fit``, shown whole)."""
    (sw, sh), (cw, ch) = f.src, f.crop
    key = CropKey(start, (sw - cw) // 2, (sh - ch) // 2)
    return Segment(start, end, layout, cw, ch, (key,), fit=fit, note=note)


def _screen_share(
    shot: Analysis, cands: list[Track], start: float, end: float, f: _Frame
) -> tuple[Segment, list[tuple[float, float, float]]]:
    """A screen share: stacked over the presenter when there is one and room below."""
    if not cands:
        return _centre(start, end, Layout.SCREEN_SHARE, f, fit=True, note="no presenter"), []
    face = cands[0]
    seen = face.observed
    screen = screen_region(list(face.cx[seen]), list(face.w[seen]), f.src)
    ratio = presenter_aspect(f.aspect, screen)
    if ratio is None:
        note = f"no room below the screen in {f.aspect}: the whole frame"
        return _centre(start, end, Layout.SCREEN_SHARE, f, fit=True, note=note), []
    window = presenter_crop(face.median_w, ratio, f.src)
    turns = [Focus(start, face.id)]
    keys, face_track = _follow(shot, cands, cands, turns, start, end, window, f)
    seg = Segment(start, end, Layout.SCREEN_SHARE, window[0], window[1], keys, screen=screen)
    return seg, face_track


def _plan_shot(
    shot: Analysis, start: float, end: float, f: _Frame
) -> tuple[Segment, list[tuple[float, float, float]], dict[str, int], tuple[int, int]]:
    """Layout, followed faces and window keys of one source shot."""
    tracks = build_tracks(shot, f.track_params)
    fills = f.crop[0] >= FILLS_WIDTH * f.src[0]
    layout, cands = classify_layout(
        tracks, src=f.src, fills_width=fills, flat=shot.flat, sharp=shot.sharp
    )
    if layout == Layout.SCREEN_SHARE:
        seg, face_track = _screen_share(shot, cands, start, end, f)
        return seg, face_track, {}, (0, 0)
    if layout == Layout.NO_FACE:
        return _centre(start, end, layout, f), [], {}, (0, 0)
    times = shot.times
    turns, mapping = _turns(layout, cands, shot, f.speech)
    turns = [Focus(max(t.start, start), t.track) for t in turns if t.start < end]
    turns = [t for k, t in enumerate(turns) if k + 1 == len(turns) or turns[k + 1].start > t.start]
    turns[0] = Focus(start, turns[0].track)
    turns = cover_absences(turns, tracks, times, fps=shot.fps, end=end)
    window, note, tops, kept = f.crop, "", {}, {}
    if layout == Layout.GROUP and fills:
        face_w = float(np.median([t.median_w for t in cands]))
        face_cx = [float(np.nanmedian(t.cx)) for t in cands]
        window, _, note = zoom_crop(f.crop, face_w, f.max_zoom, src_w=f.src[0], face_cx=face_cx)
    elif layout in FOLLOWS_SPEAKER:
        tile = tile_window(
            tracks, cands, [t.track for t in turns], shot.outlines, crop=f.crop, src=f.src,
            max_zoom=f.max_zoom, face_y=f.params.face_y,
        )  # fmt: skip
        window, note, tops, kept = tile.size, tile.note, tile.tops, tile.kept
    keys, face_track = _follow(shot, tracks, cands, turns, start, end, window, f, tops)
    rows = panel_rows(turns, kept, keys, window[1])
    seg = Segment(start, end, layout, window[0], window[1], keys, note=note, panels=rows)
    return seg, face_track, mapping, _on_speaker(turns, times, f, mapping)


def plan_framing(
    analysis: Analysis,
    *,
    src_w: int,
    src_h: int,
    aspect: str,
    speech: Sequence[tuple[float, float, str]] | None = None,
    params: PathParams | None = None,
    track_params: TrackParams | None = None,
    max_zoom: float = DEFAULT_MAX_ZOOM,
) -> FramingPlan:
    """Layout, active speaker over time and a smoothed crop path for each shot of one clip.

    ``speech`` holds clip-relative ``(start, end, speaker label)`` segments of the transcript.
    """
    f = _Frame(
        (src_w, src_h), crop_size(src_w, src_h, aspect), aspect, speech or [],
        params or PathParams(), track_params, max_zoom,
    )  # fmt: skip
    times = analysis.times
    end = max(analysis.duration_s, float(times[-1]) + 1.0 / analysis.fps) if len(times) else 0.0
    bounds = shot_bounds(times, analysis.cuts) or [(0, 0)]
    starts = [0.0] + [float(c) for c in analysis.cuts]
    segments: list[Segment] = []
    face_track: list[tuple[float, float, float]] = []
    mapping: dict[str, int] = {}
    hits = total = 0
    for k, (i0, i1) in enumerate(bounds):
        start = starts[k] if k < len(starts) else float(times[i0])
        stop = starts[k + 1] if k + 1 < len(starts) else end
        shot = analysis.shot(i0, i1)
        if i1 <= i0:
            segments.append(_centre(start, stop, Layout.NO_FACE, f))
            continue
        seg, track, shot_mapping, (on, of) = _plan_shot(shot, start, stop, f)
        hits, total = hits + on, total + of
        segments.append(seg)
        face_track += track
        mapping.update(shot_mapping)
    longest = max(segments, key=lambda s: s.end - s.start)
    keys = tuple(k for s in segments for k in s.keys)
    return FramingPlan(
        longest.layout, f.crop[0], f.crop[1], keys, tuple(face_track), mapping,
        tuple(segments), tuple(analysis.cuts), round(hits / total, 4) if total else None,
    )  # fmt: skip


def sendcmd_script(plan: FramingPlan | Segment, *, filter_name: str = "crop") -> str:
    """Text for ffmpeg's ``sendcmd`` filter that moves the crop along ``plan.keys``.

    Use it as ``sendcmd=f=FILE,crop=w=W:h=H:x=X0:y=Y0`` with X0/Y0 from ``plan.keys[0]``;
    the graph must see clip-relative timestamps (seek with ``-ss`` before ``-i``).
    """
    return sendcmd_lines(plan.keys, filter_name=filter_name)
