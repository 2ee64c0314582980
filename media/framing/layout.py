"""The layout of one shot's picture, from the faces that persist across its samples and from
how much of the picture is flat screen content.

- ``no_face``: no track at all; the crop stays centred (or the whole frame is fitted).
- ``single``: one such face; the crop follows it.
- ``speaker``: several faces but one is large (others narrower than 60 % of it), as in a
  video-call speaker view with thumbnails or a close-up with people behind; the crop follows
  the large face (the call software already switches it to whoever talks).
- ``two_shot``: two faces of similar size apart from each other (two people side by side, or
  two tiles); the crop follows the active speaker and cuts between them.
- ``gallery``: three or more faces of similar size in separate regions (call tiles); as
  ``two_shot``.
- ``group``: several faces of similar size close together (people at one table), or any
  several faces in a source no wider than the output (an already-vertical group): the crop
  follows the active speaker, zooming in when the frame leaves nothing to pan.
- ``screen_share``: a mostly flat picture (slides, a desktop) with at most one small face (the
  presenter's thumbnail) or none; rendered stacked: the screen above, the presenter below.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from media.framing.tracks import Track

PERSISTENT = 0.4  # share of samples a face must be present in to count for the layout
BIG = 0.6  # faces at least this share of the largest face's width count as "large"
# A picture this flat (share of flat 8×8 blocks, media.framing.shots.flat_share) is a screen:
# slides and desktops read 0.75–0.98; the 21 real camera videos in the shared media 0.14–0.62.
SCREEN_FLAT = 0.7
# …and has text: at least this share of hard-edged blocks away from the faces.
SCREEN_SHARP = 0.01
# A presenter thumbnail's face is at most this share of the frame width, and its centre lies
# within CORNER of the frame's width and of its height from a corner.
THUMB_FACE = 0.12
CORNER = 0.35


class Layout(StrEnum):
    """What the picture shows; the value is the name the report and the database use."""

    NO_FACE = "no_face"
    SINGLE = "single"
    SPEAKER = "speaker"
    TWO_SHOT = "two_shot"
    GALLERY = "gallery"
    GROUP = "group"
    SCREEN_SHARE = "screen_share"


# Layouts in which the crop follows whoever speaks among several faces.
FOLLOWS_SPEAKER = (Layout.TWO_SHOT, Layout.GALLERY, Layout.GROUP)


def _separated(a: Track, b: Track) -> bool:
    """Boxes at least half a face width apart (in x or in y): separate tiles or seats."""
    ax, ay, aw, ah = (float(np.nanmedian(v)) for v in (a.cx, a.cy, a.w, a.h))
    bx, by, bw, bh = (float(np.nanmedian(v)) for v in (b.cx, b.cy, b.w, b.h))
    gap_x = abs(ax - bx) - (aw + bw) / 2
    gap_y = abs(ay - by) - (ah + bh) / 2
    return max(gap_x, gap_y) >= 0.5 * min(aw, bw)


def _in_corner(t: Track, src: tuple[int, int]) -> bool:
    """The face sits in a corner of the frame, where call software puts a presenter's video."""
    fx, fy = float(np.nanmedian(t.cx)) / src[0], float(np.nanmedian(t.cy)) / src[1]
    return abs(fx - 0.5) >= 0.5 - CORNER and abs(fy - 0.5) >= 0.5 - CORNER


def is_screen(
    flat: Sequence[float], sharp: Sequence[float], steady: Sequence[Track], src: tuple[int, int]
) -> bool:
    """A flat picture with text and no face, or one small face in a corner: a screen share
    (or a slide)."""
    if not flat or float(np.median(flat)) < SCREEN_FLAT:
        return False
    if not sharp or float(np.median(sharp)) < SCREEN_SHARP:
        return False
    small = all(t.median_w <= THUMB_FACE * src[0] and _in_corner(t, src) for t in steady)
    return len(steady) <= 1 and small


def classify_layout(
    tracks: Sequence[Track],
    *,
    src: tuple[int, int] = (0, 0),
    fills_width: bool = False,
    flat: Sequence[float] = (),
    sharp: Sequence[float] = (),
) -> tuple[Layout, list[Track]]:
    """The layout and the tracks the crop may follow (see the module docstring).

    ``fills_width``: the output's crop already spans the source's width (a source as narrow
    as the output, or narrower), so several faces can only be framed by zooming in.
    """
    n = len(tracks[0].cx) if tracks else 0
    steady = [t for t in tracks if t.observed.sum() >= PERSISTENT * n]
    if tracks and not steady:
        steady = [max(tracks, key=lambda t: int(t.observed.sum()))]
    if src[0] and is_screen(flat, sharp, steady, src):
        return Layout.SCREEN_SHARE, steady
    if not tracks:
        return Layout.NO_FACE, []
    if len(steady) == 1:
        return Layout.SINGLE, steady
    largest = max(t.median_w for t in steady)
    big = [t for t in steady if t.median_w >= BIG * largest]
    if len(big) == 1:
        return Layout.SPEAKER, big
    if fills_width:
        return Layout.GROUP, big
    if all(_separated(a, b) for i, a in enumerate(big) for b in big[i + 1 :]):
        return (Layout.TWO_SHOT if len(big) == 2 else Layout.GALLERY), big
    return Layout.GROUP, big
