"""Geometry of the layouts that are not one plain crop (pure numbers, source pixels).

- **Zoom** (``group`` when the crop already spans the source's width): a smaller window of
  the output's aspect around the speaker, at most ``max_zoom`` times smaller than the plain
  crop, sized so the speaker's face fills about a third of its width and every face it may
  follow can sit on its centre line.
- **Stacked screen share**: the shared screen scaled to the output's width at the top, the
  presenter's face below, cropped from its thumbnail to the shape of the space left. The
  screen is the frame without the presenter's column when the thumbnail sits at a side edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from media.framing.crop_path import even_side, parse_aspect

# The speaker's face fills this share of a zoomed window's width.
ZOOM_FACE_SHARE = 1 / 3
# A zoomed window's half-width reaches at most this far past a face's distance to the frame's
# edge, so the face stays within 4.5 % of the window's width from its centre (QA allows 10 %).
EDGE_REACH = 1.1
# Zooming in by less than this is not worth a different framing from the plain crop.
MIN_ZOOM = 1.2
# A stacked layout needs at least this share of the output's height for the presenter.
MIN_PRESENTER_SHARE = 0.3
# The presenter's window is this many face widths wide (head and shoulders of a thumbnail).
PRESENTER_FACES = 2.6
# A thumbnail whose face centre lies in the outer share of the width is a side column, as
# wide as this many face widths (a call tile: the face about a quarter of its width).
SIDE_EDGE = 0.3
TILE_FACES = 4.0


@dataclass(frozen=True, slots=True)
class Rect:
    """A region in source pixels (even sides)."""

    x: int
    y: int
    w: int
    h: int


def zoom_crop(
    base: tuple[int, int],
    face_w: float,
    max_zoom: float,
    *,
    src_w: int | None = None,
    face_cx: Sequence[float] = (),
) -> tuple[tuple[int, int], float, str]:
    """The zoomed window ``(w, h)``, the zoom applied and why (empty when zoomed as wanted).

    The zoom is the larger of two needs: the speaker's face filling :data:`ZOOM_FACE_SHARE`
    of the window, and a window narrow enough to centre each face in ``face_cx`` (source
    x of the faces it may follow) without running into the frame's edge: its half-width at
    most :data:`EDGE_REACH` × the face's distance to the nearer edge.
    """
    bw, bh = base
    wanted = bw * ZOOM_FACE_SHARE / face_w if face_w > 0 else 1.0
    if src_w and face_cx:
        edge = min(min(cx, src_w - cx) for cx in face_cx)
        if edge > 0:
            wanted = max(wanted, bw / (2 * EDGE_REACH * edge))
    if wanted < MIN_ZOOM:
        return base, 1.0, "faces already large: the full frame is kept"
    zoom = min(wanted, max_zoom)
    note = "" if zoom == wanted else f"zoom limited to {max_zoom:g}x (wanted {wanted:.1f}x)"
    return (even_side(bw / zoom, bw), even_side(bh / zoom, bh)), zoom, note


def presenter_aspect(aspect: str, screen: Rect) -> float | None:
    """Width/height of the presenter's panel under a screen of ``screen``'s shape, for an
    output of ``aspect``; None when the output has no room below the screen."""
    aw, ah = parse_aspect(aspect)
    below = ah / aw - screen.h / screen.w  # output height left, in output widths
    if below < MIN_PRESENTER_SHARE * ah / aw:
        return None
    return 1.0 / below


def screen_region(face_cx: Sequence[float], face_w: Sequence[float], src: tuple[int, int]) -> Rect:
    """The shared screen: the whole frame, or the frame without the presenter's column when
    the presenter's face sits at the left or right edge."""
    sw, sh = src
    whole = Rect(0, 0, even_side(sw, sw), even_side(sh, sh))
    if not face_cx:
        return whole
    cx, fw = sorted(face_cx)[len(face_cx) // 2], max(face_w)
    half = TILE_FACES * fw / 2
    if cx > (1 - SIDE_EDGE) * sw:
        w = even_side(cx - half, sw)
        return Rect(0, 0, w, whole.h) if w >= 0.6 * sw else whole
    if cx < SIDE_EDGE * sw:
        x0 = int(cx + half) // 2 * 2
        return Rect(x0, 0, even_side(sw - x0, sw), whole.h) if sw - x0 >= 0.6 * sw else whole
    return whole


def presenter_crop(face_w: float, ratio: float, src: tuple[int, int]) -> tuple[int, int]:
    """The presenter's window ``(w, h)`` of width/height ``ratio``, about
    :data:`PRESENTER_FACES` face widths wide, inside the source."""
    sw, sh = src
    w = PRESENTER_FACES * face_w
    h = w / ratio
    scale = min(1.0, sw / w, sh / h)
    return even_side(w * scale, sw), even_side(h * scale, sh)
