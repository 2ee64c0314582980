"""One tile at a time: the window over a 2×2 call gallery holds the speaker's tile alone, cuts
from tile to tile with the speaker, and zooms no more than the limit allows.

Synthetic galleries (tests.generated_media.gallery): the tiles, faces and outlines are exact,
so every sample's window can be checked against them.
"""

from __future__ import annotations

import numpy as np
import pytest

from media.framing.crop_path import crop_size
from media.framing.framing_plan import Segment, plan_framing
from media.framing.layout import Layout
from media.framing.tiles import PANEL_SLACK, Panel, tile_window
from media.framing.tracks import build_tracks
from tests.generated_media import analysis, gallery

ORDER = [0, 1, 3, 2]  # top left, top right, bottom right, bottom left: every kind of move
TURN_S = 4.0


def _window(seg: Segment, t: float) -> tuple[int, int, int, int]:
    key = [k for k in seg.keys if k.t <= t + 1e-9][-1]
    return key.x, key.y, seg.crop_w, seg.crop_h


def _plan(
    size: tuple[int, int],
    *,
    gap: int = 0,
    outlined: bool = True,
    max_zoom: float = 2.0,
    face_share: float = 0.2,
):
    a, tiles, centres = gallery(
        ORDER, size=size, gap=gap, turn_s=TURN_S, outlined=outlined, face_share=face_share
    )
    speech = [(0.0, a.duration_s, "S1")]  # one label: the diarization merged the voices
    plan = plan_framing(
        a, src_w=size[0], src_h=size[1], aspect="9:16", speech=speech, max_zoom=max_zoom
    )
    assert len(plan.segments) == 1
    return plan.segments[0], tiles, centres


@pytest.mark.parametrize(
    "size, gap, outlined, window",
    [
        ((1920, 1080), 0, True, (304, 540)),  # tiles of 960×540: exactly 2×
        ((1280, 720), 4, True, (202, 360)),  # 632×356 tiles at a 360 px pitch (Zoom's gaps)
        ((1920, 1080), 0, False, (304, 540)),  # no outline: the band up to the next face
    ],
)
def test_the_window_holds_the_speakers_tile_alone(size, gap, outlined, window):
    seg, tiles, centres = _plan(size, gap=gap, outlined=outlined)
    assert seg.layout == Layout.GALLERY
    assert (seg.crop_w, seg.crop_h) == window
    assert "zoomed 2.00x" in seg.note
    # from the first turn's second second on (mouth motion needs a moment to decide)
    for t in np.arange(1.0, TURN_S * len(ORDER), 0.1):
        speaker = ORDER[int(t // TURN_S)]
        if t % TURN_S < 0.6 and not outlined:
            continue
        x, y, w, h = _window(seg, t)
        inside = [k for k, (cx, cy) in enumerate(centres) if x <= cx < x + w and y <= cy < y + h]
        assert inside == [speaker], t
        tx, ty, tw, th = tiles[speaker]
        assert ty - PANEL_SLACK * th <= y and y + h <= ty + th + PANEL_SLACK * th, (t, y)
        assert tx <= x and x + w <= tx + tw, (t, x)
        assert abs(x + w / 2 - centres[speaker][0]) <= 0.1 * w, t


def test_the_window_cuts_from_tile_to_tile_with_the_speaker():
    seg, tiles, centres = _plan((1280, 720), gap=4)
    # still faces: one key per turn, each a jump from one tile to the next at the turn's start
    assert [k.t for k in seg.keys] == pytest.approx([0.0, 4.0, 8.0, 12.0], abs=0.21)
    for key, speaker in zip(seg.keys, ORDER, strict=True):
        tx, ty, tw, th = tiles[speaker]
        assert tx <= key.x < tx + tw and abs(key.y - (ty + (th - seg.crop_h) / 2)) <= 2


@pytest.mark.parametrize("max_zoom, zoomed", [(2.0, True), (1.9, False), (1.5, False)])
def test_the_zoom_limit_is_respected(max_zoom, zoomed):
    seg, _, _ = _plan((1920, 1080), max_zoom=max_zoom)
    if zoomed:
        assert (seg.crop_w, seg.crop_h) == (304, 540)
    else:  # today's window: two tiles, and the report says why
        assert (seg.crop_w, seg.crop_h) == crop_size(1920, 1080, "9:16")
        limit = f"over the {max_zoom:g}x zoom limit"
        assert seg.note == f"one tile needs 2.00x, {limit}: two tiles kept"
        assert all(k.y == 0 for k in seg.keys)
        # QA judges the speaker's tile: its rows of the window, turn by turn
        assert [(p.top, p.bottom) for p in seg.panels] == [
            (0.0, 0.5), (0.0, 0.5), (0.5, 1.0), (0.5, 1.0)
        ]  # fmt: skip
        assert [p.start for p in seg.panels] == pytest.approx([0.0, 4.0, 8.0, 12.0], abs=0.21)


def test_a_face_too_large_for_a_one_tile_window_keeps_two_tiles():
    # faces half a tile wide (480 px): a 2x window over one tile is 304 px wide
    seg, _, _ = _plan((1920, 1080), face_share=0.5)
    assert (seg.crop_w, seg.crop_h) == crop_size(1920, 1080, "9:16")
    why = "the face (480 px) fills 158% of a one-tile window (304 px wide at 2.00x)"
    assert seg.note == f"{why}: two tiles kept"
    assert len(seg.panels) == 4
    # 0.25 of the tile is still fine: 240 px in 304
    assert _plan((1920, 1080), face_share=0.25)[0].crop_w == 304


@pytest.mark.parametrize(
    "tile_h, max_zoom, window",
    [
        (540.0, 2.0, (304, 540)),  # exactly the limit
        (515.0, 2.0, (304, 540)),  # 2.10x wanted; the 2x window reaches 4.9 % past the tile
        (514.0, 2.0, None),  # 5.1 % past: more than a tile's border, two tiles kept
        (540.0, 1.99, (306, 542)),  # limited to 1.99x, 0.5 % past the tile: still one tile
        (540.0, 1.9, None),  # 5.3 % past
    ],
)
def test_the_slack_past_the_tile_flips_at_its_threshold(tile_h, max_zoom, window):
    a, _, _ = gallery([0, 2], size=(1920, 1080))
    tracks = build_tracks(a)
    top = min(tracks, key=lambda t: (np.nanmedian(t.cy), np.nanmedian(t.cx)))
    outlines = tuple((0.0, 0.0, 960.0, tile_h) for _ in a.samples)
    tw = tile_window(
        tracks, tracks, [top.id], outlines, crop=(608, 1080), src=(1920, 1080),
        max_zoom=max_zoom, face_y=0.4,
    )  # fmt: skip
    if window is None:
        assert (tw.size, tw.tops) == ((608, 1080), {})
        assert "over the" in tw.note
    else:
        assert tw.size == window
        # over the tile, clamped to the frame's top
        assert tw.tops[top.id] == pytest.approx(max((tile_h - window[1]) / 2, 0.0))


def test_faces_side_by_side_keep_the_plain_window():
    # gallery_2's shape: two tiles side by side, no face above or below another
    def faces(t, i):
        return [(480, 540, 200, 0.01), (1440, 540, 200, 0.01)]

    a = analysis(faces, duration=8.0)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16", speech=[])
    seg = plan.segments[0]
    assert (seg.crop_w, seg.crop_h, seg.note) == (608, 1080, "")


def test_panel_is_the_band_to_the_next_stacked_face():
    a, _, centres = gallery([0], size=(1920, 1080))
    tracks = build_tracks(a)
    top = min(tracks, key=lambda t: (np.nanmedian(t.cy), np.nanmedian(t.cx)))
    tw = tile_window(
        tracks, tracks, [top.id], (), crop=(608, 1080), src=(1920, 1080), max_zoom=2.0,
        face_y=0.4,
    )  # fmt: skip
    cy = centres[0][1]
    assert tw.size == (304, 540)
    assert tw.tops[top.id] == pytest.approx(Panel(cy - 0.4 * 540, 540).top, abs=1)


def test_the_report_says_why_two_tiles_were_kept_and_which_rows_qa_judges():
    from media.framing.summary import framing_record

    a, _, _ = gallery([0, 2], face_share=0.5)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16", speech=[(0.0, 8.0, "S1")])
    (seg,) = framing_record(plan, 8.0, 30.0)["segments"]
    assert seg["note"].endswith("two tiles kept")
    assert seg["panels"] == [[0.0, 0.0, 0.5], [4.0, 0.5, 1.0]]
    zoomed = plan_framing(*gallery([0, 2])[:1], src_w=1920, src_h=1080, aspect="9:16")
    (seg,) = framing_record(zoomed, 8.0, 30.0)["segments"]
    assert (seg["crop_w"], seg["crop_h"], seg["note"]) == (304, 540, "one tile: zoomed 2.00x")
    assert "panels" not in seg  # the window is the tile
