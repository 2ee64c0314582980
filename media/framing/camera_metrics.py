"""How calm the virtual camera is: numbers an editor would judge a crop path by.

Pure: a crop path (the sparse :class:`media.framing.crop_path.CropKey` list of a framing plan)
in, a small record out. The path is first laid on the output frame grid the way the render
applies it (``sendcmd`` sets the window at each key's time and holds it until the next key),
then:

- **hard cuts**: frame-to-frame jumps wider than ``cut_frac`` of the crop width. A cut to
  another speaker is intended; it is counted, and left out of the pan statistics.
- **reversals**: changes of pan direction. A direction only counts once the window has moved
  more than ``dead_band_px`` that way (a dead band on the pan velocity integrated over the
  move), so the ±1 px rounding of a window at rest is not a reversal; a cut resets it.
- **pan speed**: source pixels per output frame between consecutive frames (cuts excluded);
  p99 and max. Multiply by ``out_w / crop_w`` for output pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from media.framing.crop_path import CropKey

# A pan this fast (10 % of the crop width in one frame, 3 crop widths/s at 30 fps) is a cut.
CUT_FRAC = 0.1
# Moves smaller than this (source px) do not establish a pan direction.
DEAD_BAND_PX = 2.0


class PlanLike(Protocol):
    """What :func:`measure_plan` reads of a :class:`media.framing.framing_plan.FramingPlan`."""

    @property
    def keys(self) -> Sequence[CropKey]: ...

    @property
    def crop_w(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CameraMetrics:
    """Stability of one crop path over ``duration_s`` at ``fps`` output frames per second."""

    duration_s: float
    fps: float
    frames: int
    cuts: int  # hard cuts (jumps wider than the cut threshold)
    reversals: int  # pan direction changes, cuts excluded
    reversals_per_s: float
    p99_speed_px: float  # source px per output frame, 99th percentile over frame steps
    max_speed_px: float  # source px per output frame, largest non-cut step
    moving_share: float  # share of frame steps in which the window moves (cuts excluded)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def frame_positions(
    keys: Sequence[CropKey], duration_s: float, fps: float
) -> npt.NDArray[np.float64]:
    """Window origin ``(x, y)`` at each output frame ``i / fps``: the last key at or before it."""
    if fps <= 0 or duration_s <= 0:
        raise ValueError(f"fps={fps}, duration_s={duration_s}: expected positive values")
    if not keys:
        raise ValueError("an empty crop path: expected at least the key at t=0")
    times = np.array([k.t for k in keys], dtype=float)
    if np.any(np.diff(times) < 0):
        raise ValueError(f"crop keys out of time order: {[k.t for k in keys][:8]} …")
    xy = np.array([(k.x, k.y) for k in keys], dtype=float)
    n = max(1, int(round(duration_s * fps)))
    frame_t = np.arange(n) / fps
    idx = np.searchsorted(times, frame_t + 1e-6, side="right") - 1
    return xy[np.clip(idx, 0, len(keys) - 1)]


def count_reversals(
    pos: npt.NDArray[np.float64], cut: npt.NDArray[np.bool_], dead_band_px: float
) -> int:
    """Direction changes of a 1-D path; a direction needs a move of > ``dead_band_px``.

    ``cut[i]`` marks the step from frame i to i+1 as a cut: it restarts the count there.
    """
    reversals = 0
    direction = 0  # -1 or +1 once a move has passed the dead band; 0 before
    anchor = float(pos[0]) if len(pos) else 0.0  # the start, then the extreme of the move
    for i in range(1, len(pos)):
        p = float(pos[i])
        if cut[i - 1]:
            direction, anchor = 0, p
        elif direction == 0:
            if abs(p - anchor) > dead_band_px:
                direction, anchor = (1 if p > anchor else -1), p
        elif (p - anchor) * direction > 0:  # further the same way
            anchor = p
        elif abs(p - anchor) > dead_band_px:  # back past the dead band: a reversal
            reversals += 1
            direction, anchor = -direction, p
    return reversals


def measure_positions(
    xy: npt.NDArray[np.float64],
    fps: float,
    *,
    crop_w: int,
    cut_frac: float = CUT_FRAC,
    dead_band_px: float = DEAD_BAND_PX,
) -> CameraMetrics:
    """Metrics of a per-frame path ``xy`` (N×2 window origins, source px) at ``fps``."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        raise ValueError("an empty path: expected at least one frame")
    step = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
    cut = step > cut_frac * crop_w
    pan = step[~cut]
    reversals = sum(count_reversals(xy[:, a], cut, dead_band_px) for a in (0, 1))
    duration = len(xy) / fps
    return CameraMetrics(
        duration_s=round(duration, 3),
        fps=float(fps),
        frames=len(xy),
        cuts=int(cut.sum()),
        reversals=int(reversals),
        reversals_per_s=round(reversals / duration, 4),
        p99_speed_px=round(float(np.percentile(pan, 99)), 3) if len(pan) else 0.0,
        max_speed_px=round(float(pan.max()), 3) if len(pan) else 0.0,
        moving_share=round(float(np.mean(pan > 0)), 4) if len(pan) else 0.0,
    )


def measure_keys(
    keys: Sequence[CropKey],
    duration_s: float,
    fps: float,
    *,
    crop_w: int,
    cut_frac: float = CUT_FRAC,
    dead_band_px: float = DEAD_BAND_PX,
) -> CameraMetrics:
    """Metrics of a sparse crop path as the render plays it at ``fps`` for ``duration_s``."""
    xy = frame_positions(keys, duration_s, fps)
    return measure_positions(xy, fps, crop_w=crop_w, cut_frac=cut_frac, dead_band_px=dead_band_px)


def measure_plan(plan: PlanLike, duration_s: float, fps: float = 30.0) -> CameraMetrics:
    """Metrics of a :class:`media.framing.framing_plan.FramingPlan` (anything with ``keys`` and
    ``crop_w``)."""
    return measure_keys(plan.keys, duration_s, fps, crop_w=plan.crop_w)
