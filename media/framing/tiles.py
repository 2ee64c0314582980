"""One tile at a time: the window zoomed to the speaker's panel when another face shares the
plain window's column (a call gallery's 2×2 tiles, people seated in rows). Pure numbers.

A 9:16 window over a 16:9 2×2 gallery holds two tiles, the speaker's and the one above or
below it; QA's independent detector then sees two faces. Here the window is made as tall as
one panel: the speaker's tile where the call app outlines it (:mod:`media.framing.highlight`,
its exact box), else the band up to the next face stacked in the column. It is placed over
the panel, so it cuts (never glides) from tile to tile with the speaker, and it zooms at most
``max_zoom`` and only while the face fits it whole (:data:`FACE_FIT`). Otherwise the plain
window is kept, the note says why, and the followed face's panel is recorded turn by turn
(:class:`PanelRows`): QA judges the face centred in that tile, not in the neighbour's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from media.framing.crop_path import CropKey, even_side, window_origin
from media.framing.highlight import outlined_track
from media.framing.speakers import Focus
from media.framing.tracks import Outline, Track

# A window may reach past its panel by this share of the panel's height (the gap between
# call tiles, the outline's width) and still hold one tile: a 2×2 gallery of 1280×720 has
# 356 px tiles at a 360 px pitch, so a 2× window (360 px) holds one tile and its border.
PANEL_SLACK = 0.05
# A one-tile window must hold the followed face whole with a margin: its box at most this
# share of the window's width. Over a 9:16 window a 16:9 tile is narrow (a 2x window over a
# 1280×720 2×2 gallery is 202 px wide); the real-face gallery's faces, 300-330 px wide,
# overflow it and QA's detector finds no face in such a close-up.
FACE_FIT = 0.8
# Two faces in one window are stacked (one above the other, a panel each) when their centres
# are at least this many face heights apart vertically; closer, they sit side by side. Tiles
# nearly touch: the real-face gallery's face boxes (340-380 px) at a 360 px pitch.
STACKED = 0.75


@dataclass(frozen=True, slots=True)
class Panel:
    """The rows ``[top, top + height)`` (source pixels) that hold one followed face."""

    top: float
    height: float


@dataclass(frozen=True, slots=True)
class TileWindow:
    """The window for a shot of faces stacked in columns.

    ``size`` is the window ``(w, h)`` (the plain crop when not zoomed); ``tops`` the window's
    fixed top (source y) while it follows each track id; ``note`` why it was or was not zoomed
    (empty when no face shares another's column).
    """

    size: tuple[int, int]
    zoom: float
    tops: dict[int, float]
    note: str = ""
    # kept the plain window over stacked panels: each followed face's panel (QA judges there)
    kept: dict[int, Panel] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PanelRows:
    """From clip time ``start`` on, the followed face's panel fills the window's rows
    ``[top, bottom)`` (shares of its height): the plain window was kept over stacked tiles."""

    start: float
    top: float
    bottom: float


def outlined_box(
    outlines: Sequence[Outline | None], tracks: Sequence[Track], track_id: int
) -> Outline | None:
    """The median of the call app's outlines drawn round ``track_id``'s face, or None."""
    boxes = [
        r
        for i, r in enumerate(outlines)
        if r is not None and outlined_track(r, tracks, i) == track_id
    ]
    if not boxes:
        return None
    x, y, w, h = (float(v) for v in np.median(np.array(boxes), axis=0))
    return (x, y, w, h)


def stacked_panel(
    face: Track,
    others: Sequence[Track],
    *,
    crop: tuple[int, int],
    src: tuple[int, int],
    face_y: float,
) -> Panel | None:
    """The band over ``face`` up to the nearest face stacked in its plain window's column
    (the window centred on ``face`` holds that face's centre), or None when there is none."""
    cx, cy, h = (float(np.nanmedian(v)) for v in (face.cx, face.cy, face.h))
    x0, y0 = window_origin(cx, cy, crop, src, face_y=face_y)
    pitch = np.inf
    for o in others:
        ox, oy = float(np.nanmedian(o.cx)), float(np.nanmedian(o.cy))
        inside = x0 <= ox < x0 + crop[0] and y0 <= oy < y0 + crop[1]
        if inside and abs(oy - cy) >= STACKED * h:
            pitch = min(pitch, abs(oy - cy))
    return None if not np.isfinite(pitch) else Panel(cy - face_y * pitch, float(pitch))


def tile_window(
    tracks: Sequence[Track],
    candidates: Sequence[Track],
    followed: Sequence[int],
    outlines: Sequence[Outline | None],
    *,
    crop: tuple[int, int],
    src: tuple[int, int],
    max_zoom: float,
    face_y: float,
) -> TileWindow:
    """The window that holds only the followed face's panel (see the module docstring).

    The panel is the outlined tile where the call app outlines the followed face, else the
    band up to the next stacked face. One window size serves the shot: as tall as its
    smallest panel, zoomed at most ``max_zoom`` and reaching at most :data:`PANEL_SLACK` past
    that panel; when that cannot be had the plain crop is kept and the note says why.
    """
    plain = TileWindow(crop, 1.0, {})
    by_id = {t.id: t for t in tracks}
    panels: dict[int, Panel] = {}
    for tid in dict.fromkeys(followed):
        face = by_id[tid]
        others = [c for c in candidates if c.id != tid]
        band = stacked_panel(face, others, crop=crop, src=src, face_y=face_y)
        if band is None:
            continue
        box = outlined_box(outlines, tracks, tid)
        panels[tid] = Panel(box[1], box[3]) if box is not None else band
    if not panels:
        return plain
    cw, ch = crop
    height = min(p.height for p in panels.values())
    wanted = ch / height
    if wanted <= 1.0:
        return plain
    zoom = min(wanted, max_zoom)
    if ch / zoom > (1 + PANEL_SLACK) * height:
        why = f"one tile needs {wanted:.2f}x, over the {max_zoom:g}x zoom limit: two tiles kept"
        return TileWindow(crop, 1.0, {}, why, panels)
    w, h = even_side(cw / zoom, cw), even_side(ch / zoom, ch)
    face_w = max(by_id[tid].median_w for tid in panels)
    if face_w > FACE_FIT * w:
        why = (
            f"the face ({face_w:.0f} px) fills {face_w / w:.0%} of a one-tile window "
            f"({w} px wide at {ch / h:.2f}x): two tiles kept"
        )
        return TileWindow(crop, 1.0, {}, why, panels)
    tops = {
        tid: min(max(p.top + (p.height - h) / 2, 0.0), float(src[1] - h))
        for tid, p in panels.items()
    }
    return TileWindow((w, h), round(ch / h, 3), tops, f"one tile: zoomed {ch / h:.2f}x")


def panel_rows(
    turns: Sequence[Focus], kept: dict[int, Panel], keys: Sequence[CropKey], window_h: int
) -> tuple[PanelRows, ...]:
    """Turn by turn, the rows of the window that the followed face's panel fills, where the
    plain window was kept over stacked panels (whole rows for a face without one); empty
    when none was kept. QA judges the face centred in that panel, not the neighbour's."""
    if not kept:
        return ()
    rows = []
    for turn in turns:
        panel = kept.get(turn.track)
        if panel is None:
            rows.append(PanelRows(turn.start, 0.0, 1.0))
            continue
        y = next((k.y for k in reversed(keys) if k.t <= turn.start + 1e-6), keys[0].y)
        top = (panel.top - y) / window_h
        bottom = (panel.top + panel.height - y) / window_h
        rows.append(PanelRows(turn.start, min(max(top, 0.0), 1.0), min(max(bottom, 0.0), 1.0)))
    return tuple(rows)
