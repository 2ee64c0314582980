"""Crop geometry and a calm crop path: where the window sits, second by second.

Pure numbers: a target (the followed face's centre per analysis sample) in, a sparse list of
crop positions out. The path is smoothed offline, because the whole clip is known: a running
median rejects detector outliers, a centred ~1 s moving average removes jitter, a dead zone
keeps the window still for small offsets, and a pan-speed bound keeps moves calm. Only where
the face, barely smoothed, would otherwise drift towards the edge of QA's centring tolerance
(a child swinging, someone dashing across) does a catch-up shift the window faster, by just
the excess. A change of speaker is a hard cut, never a pan across the room.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from media.framing.tracks import running_median

ASPECTS = {"9:16": (9, 16), "1:1": (1, 1), "16:9": (16, 9)}


@dataclass(frozen=True, slots=True)
class CropKey:
    """The crop window's top-left in source pixels from clip-relative time ``t`` (s) on."""

    t: float
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class PathParams:
    """Tunables of the crop path; sizes are shares of the crop window, times in seconds."""

    median_s: float = 1.0  # running median (outlier rejection) window
    average_s: float = 1.0  # centred moving average window
    dead_zone: float = 0.05  # don't move while the face is within this share of the crop width
    # Vertically (only when the crop is shorter than the frame) heads bob as people talk and
    # QA checks the horizontal centre only: a wider dead zone keeps the frame still.
    dead_zone_y: float = 0.1
    settle: float = 0.25  # once moving, chase until within settle × dead_zone
    max_pan: float = 0.2  # crop widths per second
    # Catch-up (horizontal only, as QA checks): where the barely smoothed face would sit further
    # than ``catch_up_zone`` crop widths from the window's centre (half QA's 10 % tolerance),
    # the window is shifted by that excess, ramping in and out at up to ``catch_up_pan`` crop
    # widths/s (0: off). Set on liveportrait__d11, a child swinging ±50 px in a 288 px window
    # (0.06 left QA's HOG, whose boxes swing wider than CenterFace's, 3 misses in 18).
    catch_up_zone: float = 0.05
    catch_up_pan: float = 1.0
    # Running median of the face it looks at: 0.2 s is none at 5 Hz (the tracks already drop
    # outliers); 0.4 s would cut d11's one-sample swings (8.2 s, 8.6 s) that QA then misses.
    catch_up_median_s: float = 0.2
    ease_s: float = 0.4  # final moving average that rounds off starts and stops
    # Grid the path is sampled on while the window moves (a key is kept only where the rounded
    # position changes, so keys ≈ pixels moved, not key_fps per second). 150 = lcm(25, 30):
    # every frame of a 25, 30 or 50 fps output lands on a key, so each frame moves by the
    # path's own step; a 30 Hz grid read at 25 fps alternates 1 and 2 steps (judder).
    key_fps: float = 150.0
    face_y: float = 0.4  # where the face centre sits vertically, share of crop height from top


def parse_aspect(aspect: str) -> tuple[int, int]:
    """``"9:16"`` -> ``(9, 16)``; only the aspects clipflow renders are accepted."""
    try:
        return ASPECTS[aspect]
    except KeyError:
        raise ValueError(f"aspect {aspect!r}: expected one of {', '.join(ASPECTS)}") from None


def even_side(value: float, limit: int) -> int:
    """Nearest even integer to ``value``, at most ``limit`` (rounded down to even), at least 2.

    Frame and crop sides are even because 4:2:0 video (yuv420p) halves the chroma planes.
    """
    return max(2, min(int(round(value / 2)) * 2, limit - limit % 2))


def crop_size(src_w: int, src_h: int, aspect: str) -> tuple[int, int]:
    """The largest window of ``aspect`` that fits in the source, with even sides."""
    aw, ah = parse_aspect(aspect)
    if src_w <= 0 or src_h <= 0:
        raise ValueError(f"source size {src_w}x{src_h}: expected positive width and height")
    if src_w * ah >= src_h * aw:  # source wider than the target: full height
        return even_side(src_h * aw / ah, src_w), even_side(src_h, src_h)
    return even_side(src_w, src_w), even_side(src_w * ah / aw, src_h)


def window_origin(
    face_cx: float,
    face_cy: float,
    crop: tuple[int, int],
    src: tuple[int, int],
    *,
    face_y: float = 0.4,
) -> tuple[float, float]:
    """Top-left that centres the face horizontally and puts it at ``face_y`` of the height.

    A face centre at 40 % of the height from the top puts the eyes near the upper third line
    (the usual headroom rule). Both coordinates are clamped so the window stays in the frame.
    """
    (cw, ch), (sw, sh) = crop, src
    x = min(max(face_cx - cw / 2, 0.0), float(sw - cw))
    y = min(max(face_cy - ch * face_y, 0.0), float(sh - ch))
    return x, y


def moving_average(values: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Centred moving average with edge padding (a constant stays constant at the ends)."""
    if window <= 1 or len(values) < 2:
        return values.astype(float).copy()
    half = window // 2
    padded = np.pad(values.astype(float), (half, window - 1 - half), mode="edge")
    return np.convolve(padded, np.ones(window) / window, mode="valid")


def dead_zone_pan(
    target: npt.NDArray[np.float64],
    times: npt.NDArray[np.float64],
    *,
    dead_zone: float,
    settle: float,
    max_speed: float,
    start_s: float = 1.5,
) -> npt.NDArray[np.float64]:
    """Follow ``target`` only when it leaves the dead zone, then chase it at bounded speed.

    Hysteresis: a move starts when the error exceeds ``dead_zone`` and stops once it is below
    ``settle * dead_zone``, so the window does not creep after every small drift.
    """
    out = np.empty(len(target))
    if len(target) == 0:
        return out
    # Start where the face sits over the first second or two, not where the first sample says.
    pos, moving = float(np.median(target[times <= times[0] + start_s])), False
    for i in range(len(target)):
        err = float(target[i]) - pos
        if not moving and abs(err) > dead_zone:
            moving = True
        if moving and i > 0:
            step = max_speed * float(times[i] - times[i - 1])
            pos += float(np.clip(err, -step, step))
            if abs(float(target[i]) - pos) <= settle * dead_zone:
                moving = False
        out[i] = pos
    return out


def slope_envelope(
    values: npt.NDArray[np.float64], times: npt.NDArray[np.float64], speed: float
) -> npt.NDArray[np.float64]:
    """The lowest curve over ``values`` whose slope is at most ``speed``:
    ``max_j values[j] - speed * |t_i - t_j|`` (one pass each way)."""
    out = values.astype(float).copy()
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] - speed * float(times[i] - times[i - 1]))
    for i in range(len(out) - 2, -1, -1):
        out[i] = max(out[i], out[i + 1] - speed * float(times[i + 1] - times[i]))
    return out


def catch_up_shift(
    path: npt.NDArray[np.float64],
    face: npt.NDArray[np.float64],
    times: npt.NDArray[np.float64],
    *,
    zone: float,
    max_speed: float,
) -> npt.NDArray[np.float64]:
    """``path`` shifted by the least that keeps ``face`` within ``zone`` of it.

    Each sample bounds the shift to ``[face - zone - path, face + zone - path]``; each bound is
    spread to its neighbours at ``max_speed`` (:func:`slope_envelope`), and the shift is the
    value nearest 0 between them. So the window moves only by the face's excess over the zone
    (the catch-up speed grows with how far the face is outside it), ramps in before and out
    after it at ``max_speed`` at most (offline, the whole clip is known: it starts before the
    face gets there), and a face inside the zone leaves the path as it was. Where swings to
    both sides come too fast to meet both bounds, the upper one wins.
    """
    lowest = slope_envelope(face - zone - path, times, max_speed)
    highest = -slope_envelope(path - face - zone, times, max_speed)
    return path + np.minimum(np.maximum(lowest, 0.0), highest)


def smooth_axis(
    target: npt.NDArray[np.float64],
    times: npt.NDArray[np.float64],
    fps: float,
    span: float,
    p: PathParams,
    *,
    dead_zone: float | None = None,
    catch_up: bool = False,
) -> npt.NDArray[np.float64]:
    """One axis of one shot: median, moving average, dead zone + speed bound, ease, and with
    ``catch_up`` the faster shift that keeps a fast face inside ``p.catch_up_zone``.

    ``span`` is the crop size along this axis (dead zone and speed scale with it;
    ``dead_zone`` overrides ``p.dead_zone``). Every
    stage after the median only averages or rate-limits, so the pan-speed bound holds at the
    end as well, except while the catch-up shifts the window (``p.catch_up_pan`` bounds that).
    NaNs (face not known) hold the nearest known position.
    """
    known = np.isfinite(target)
    if not known.any():
        return np.full(len(target), np.nan)
    idx = np.flatnonzero(known)
    filled = np.interp(np.arange(len(target)), idx, target[idx])
    n_med = max(1, int(round(p.median_s * fps)) | 1)
    n_avg = max(1, int(round(p.average_s * fps)) | 1)
    n_ease = max(1, int(round(p.ease_s * fps)) | 1)
    steady = moving_average(running_median(filled, n_med), n_avg)
    panned = dead_zone_pan(
        steady,
        times,
        dead_zone=(p.dead_zone if dead_zone is None else dead_zone) * span,
        settle=p.settle,
        max_speed=p.max_pan * span,
    )
    eased = moving_average(panned, n_ease)
    if not catch_up or p.catch_up_pan <= 0:
        return eased
    face = running_median(filled, max(1, int(round(p.catch_up_median_s * fps)) | 1))
    return catch_up_shift(
        eased, face, times, zone=p.catch_up_zone * span, max_speed=p.catch_up_pan * span
    )


@dataclass(frozen=True, slots=True)
class Shot:
    """A stretch between hard cuts: the window's origin at the analysis sample times in it."""

    start: float
    end: float
    times: npt.NDArray[np.float64]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]


def shot_path(
    start: float,
    end: float,
    times: npt.NDArray[np.float64],
    face_cx: npt.NDArray[np.float64],
    face_cy: npt.NDArray[np.float64],
    *,
    fps: float,
    crop: tuple[int, int],
    src: tuple[int, int],
    params: PathParams,
) -> Shot:
    """Smoothed window origin for one shot from the followed face's centre (NaN = unknown)."""
    cw, ch = crop
    ox = np.full(len(times), np.nan)
    oy = np.full(len(times), np.nan)
    for i, (fx, fy) in enumerate(zip(face_cx, face_cy, strict=True)):
        if np.isfinite(fx) and np.isfinite(fy):
            ox[i], oy[i] = window_origin(fx, fy, crop, src, face_y=params.face_y)
    x = smooth_axis(ox, times, fps, cw, params, catch_up=True)
    y = smooth_axis(oy, times, fps, ch, params, dead_zone=params.dead_zone_y)
    return Shot(start, end, times, x, y)


def keys_from_shots(
    shots: Sequence[Shot],
    *,
    crop: tuple[int, int],
    src: tuple[int, int],
    key_fps: float = 150.0,
    start: float = 0.0,
) -> tuple[CropKey, ...]:
    """Sample each shot's path at ``key_fps`` and keep only the keys where the window moves;
    the first key is at ``start`` (the clip's or the source shot's first frame).

    A shot without a known face holds the previous shot's position (the centre for the first).
    Key times are floored to the millisecond: ``sendcmd`` applies a key to the first frame at
    or after its time, so a time rounded up (1/30 s → 0.034) would miss the frame it was
    computed for and land together with the next key, a visible 0-, 2-step stutter.
    """
    (cw, ch), (sw, sh) = crop, src
    centre = ((sw - cw) // 2, (sh - ch) // 2)
    keys: list[CropKey] = []
    last = centre
    for shot in shots:
        if len(shot.times) == 0 or not np.isfinite(shot.x).any():
            grid, xs, ys = np.array([shot.start]), np.array([last[0]]), np.array([last[1]])
        else:
            n = max(1, int(np.ceil((shot.end - shot.start) * key_fps - 1e-9)))
            grid = shot.start + np.arange(n) / key_fps
            xs = np.interp(grid, shot.times, shot.x)
            ys = np.interp(grid, shot.times, shot.y)
        for t, x, y in zip(grid, xs, ys, strict=True):
            xi = int(min(max(round(float(x)), 0), sw - cw))
            yi = int(min(max(round(float(y)), 0), sh - ch))
            if not keys or (xi, yi) != (keys[-1].x, keys[-1].y):
                keys.append(CropKey(_floor_ms(float(t)), xi, yi))
            last = (xi, yi)
    if not keys:
        keys.append(CropKey(start, *centre))
    if keys[0].t != start:
        keys[0] = CropKey(start, keys[0].x, keys[0].y)
    return tuple(keys)


def _floor_ms(t: float) -> float:
    """``t`` floored to the millisecond (a hair of slack so 2.0 - 1e-12 stays 2.000)."""
    return math.floor(t * 1000 + 1e-6) / 1000


def sendcmd_lines(keys: Sequence[CropKey], *, filter_name: str = "crop") -> str:
    """ffmpeg ``sendcmd`` script moving a crop filter: one line per key, only changed axes.

    Each line is ``TIME TARGET COMMAND ARG[, TARGET COMMAND ARG];`` (ffmpeg-filters, sendcmd).
    Times are seconds of the filter graph's timestamps, so the graph must see clip-relative
    timestamps: seek with ``-ss`` before ``-i`` (or ``setpts=PTS-STARTPTS`` before sendcmd).
    """
    lines = []
    prev: tuple[int, int] | None = None
    for key in keys:
        cmds = []
        if prev is None or key.x != prev[0]:
            cmds.append(f"{filter_name} x {key.x}")
        if prev is None or key.y != prev[1]:
            cmds.append(f"{filter_name} y {key.y}")
        if cmds:
            lines.append(f"{key.t:.3f} {', '.join(cmds)};")
        prev = (key.x, key.y)
    return "\n".join(lines) + "\n"
