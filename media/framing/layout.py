"""The layout of a clip's picture, from the faces that persist across its samples.

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
from enum import StrEnum

import numpy as np

from media.framing.tracks import Track

PERSISTENT = 0.4  # share of samples a face must be present in to count for the layout
BIG = 0.6  # faces at least this share of the largest face's width count as "large"


class Layout(StrEnum):
    """What the picture shows; the value is the name the report and the database use."""

    NO_FACE = "no_face"
    SINGLE = "single"
    SPEAKER = "speaker"
    GALLERY = "gallery"


def _separated(a: Track, b: Track) -> bool:
    """Boxes at least half a face width apart (in x or in y): separate tiles or seats."""
    ax, ay, aw, ah = (float(np.nanmedian(v)) for v in (a.cx, a.cy, a.w, a.h))
    bx, by, bw, bh = (float(np.nanmedian(v)) for v in (b.cx, b.cy, b.w, b.h))
    gap_x = abs(ax - bx) - (aw + bw) / 2
    gap_y = abs(ay - by) - (ah + bh) / 2
    return max(gap_x, gap_y) >= 0.5 * min(aw, bw)


def classify_layout(tracks: Sequence[Track]) -> tuple[Layout, list[Track]]:
    """The layout and the tracks the crop may follow (see the module docstring)."""
    if not tracks:
        return Layout.NO_FACE, []
    n = len(tracks[0].cx)
    steady = [t for t in tracks if t.observed.sum() >= PERSISTENT * n]
    if not steady:
        steady = [max(tracks, key=lambda t: int(t.observed.sum()))]
    if len(steady) == 1:
        return Layout.SINGLE, steady
    largest = max(t.median_w for t in steady)
    big = [t for t in steady if t.median_w >= BIG * largest]
    if len(big) == 1:
        return Layout.SPEAKER, big
    if all(_separated(a, b) for i, a in enumerate(big) for b in big[i + 1 :]):
        return Layout.GALLERY, big
    return Layout.SPEAKER, [max(big, key=lambda t: t.median_w)]
