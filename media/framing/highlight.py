"""The active-speaker outline a call app draws round the tile of whoever speaks (Zoom's gallery
view: a green frame; Teams and Meet draw one too), found in the analysis frames. Pure.

When a recording shows it, it is the call's own answer to "who is speaking", from each
participant's own microphone: better than the mixed audio's diarization, which merges similar
voices (four people of a real gallery came back as one label), and than mouth motion on small
tiles. :func:`outline_rect` finds it in one frame; :func:`turns_from_outline` turns the
samples' outlines into the crop's timeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from media.framing.speakers import MIN_HOLD_S, Focus, runs_to_turns
from media.framing.tracks import Outline, Track

# A vivid pixel: saturated and bright (HSV, OpenCV's 0-255 scale). Camera footage rarely has
# long straight runs of such pixels; an outline is one.
MIN_SATURATION = 100
MIN_VALUE = 110
# An outline spans at least this share of the frame in each direction (a tile of a 5×5 grid)…
MIN_SIDE = 0.15
# … runs along this share of each of its four sides …
MIN_SIDE_COVER = 0.9
# … round an inside of which at most this share is vivid (a filled patch is not an outline;
# vivid clothes inside a tile that touch the outline are).
MAX_INSIDE_FILL = 0.5
# A shot follows the outline when this share of its samples shows one round exactly one face.
MIN_OUTLINED_SHARE = 0.3


def outline_rect(image: npt.NDArray[np.uint8]) -> Outline | None:
    """The box (image pixels) of the largest vivid rectangular outline in a BGR frame, or None.

    Connected vivid pixels (8-connected) whose box is at least :data:`MIN_SIDE` of the frame
    each way but under the whole frame, that run along each of the box's four sides
    (:data:`MIN_SIDE_COVER` of its length) round an inside mostly not theirs: clothes, hair
    or a logo in a vivid colour are patches or curves, not a frame.
    """
    import cv2

    h, w = image.shape[:2]
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    vivid = ((hsv[..., 1] >= MIN_SATURATION) & (hsv[..., 2] >= MIN_VALUE)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(vivid, connectivity=8)
    best: Outline | None = None
    for k in range(1, n):
        x, y, bw, bh, _ = (int(v) for v in stats[k])
        if bw < MIN_SIDE * w or bh < MIN_SIDE * h or bw * bh >= 0.95 * w * h:
            continue
        if best is not None and bw * bh <= best[2] * best[3]:
            continue
        if _is_frame(labels[y : y + bh, x : x + bw] == k):
            best = (float(x), float(y), float(bw), float(bh))
    return best


def _is_frame(mask: npt.NDArray[np.bool_], band: int = 3) -> bool:
    """Whether a component's pixels (``mask``, its box) run along all four sides of the box
    (within ``band`` px) round an inside that is mostly not theirs."""
    sides = (
        mask[:band].any(axis=0),
        mask[-band:].any(axis=0),
        mask[:, :band].any(axis=1),
        mask[:, -band:].any(axis=1),
    )
    if min(float(side.mean()) for side in sides) < MIN_SIDE_COVER:
        return False
    inside = mask[band:-band, band:-band]
    return inside.size > 0 and float(inside.mean()) <= MAX_INSIDE_FILL


def scaled(rect: Outline | None, sx: float, sy: float) -> Outline | None:
    """``rect`` from analysis pixels to source pixels."""
    if rect is None:
        return None
    x, y, w, h = rect
    return (round(x * sx, 1), round(y * sy, 1), round(w * sx, 1), round(h * sy, 1))


def outlined_track(rect: Outline | None, tracks: Sequence[Track], i: int) -> int | None:
    """The id of the one track whose face centre lies inside ``rect`` at sample ``i``."""
    if rect is None:
        return None
    x, y, w, h = rect
    inside = [
        t.id for t in tracks if t.present[i] and x <= t.cx[i] <= x + w and y <= t.cy[i] <= y + h
    ]
    return inside[0] if len(inside) == 1 else None


def turns_from_outline(
    outlines: Sequence[Outline | None],
    tracks: Sequence[Track],
    times: npt.NDArray[np.float64],
    fps: float,
    *,
    min_hold_s: float = MIN_HOLD_S,
) -> list[Focus]:
    """Active-track timeline from the call's outline, or [] when the shot rarely shows one
    round exactly one face (under :data:`MIN_OUTLINED_SHARE` of its samples)."""
    if len(outlines) != len(times) or not len(times):
        return []
    who = [outlined_track(r, tracks, i) for i, r in enumerate(outlines)]
    if sum(k is not None for k in who) < MIN_OUTLINED_SHARE * len(times):
        return []
    dt = 1.0 / fps
    runs = [(float(t), float(t) + dt, k) for t, k in zip(times, who, strict=True) if k is not None]
    return runs_to_turns(runs, min_hold_s)
