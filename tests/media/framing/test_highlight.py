"""The call app's active-speaker outline: found in a frame, and followed by the crop.

Generated frames (a 2×2 gallery drawn with OpenCV) for the exact cases; the real-face tier's
call galleries and the real videos for recall and false outlines on real footage.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media.framing.framing_plan import plan_framing
from media.framing.highlight import outline_rect
from tests.generated_media import analysis, talking

GREEN = (60, 200, 60)  # BGR, Zoom's active-speaker frame


def _gallery(outlined: int | None, *, vivid_shirts: bool = False) -> np.ndarray:
    """A 640×360 2×2 gallery on a dark backdrop; tile ``outlined`` gets a 2-px green frame."""
    import cv2

    rng = np.random.default_rng(7)
    frame = np.full((360, 640, 3), 30, np.uint8)
    for k in range(4):
        x, y = (k % 2) * 320, (k // 2) * 180
        tile = rng.integers(40, 120, (176, 316, 3), dtype=np.uint8)
        frame[y + 2 : y + 178, x + 2 : x + 318] = tile
        cv2.circle(frame, (x + 160, y + 80), 35, (90, 120, 170), -1)  # a face-ish disc
        if vivid_shirts:  # a saturated shirt that touches the tile's edge
            cv2.rectangle(frame, (x + 110, y + 120), (x + 210, y + 176), (20, 40, 230), -1)
    if outlined is not None:
        x, y = (outlined % 2) * 320, (outlined // 2) * 180
        cv2.rectangle(frame, (x + 1, y + 1), (x + 318, y + 178), GREEN, 2)
    return frame


@pytest.mark.parametrize("tile", range(4))
def test_the_outlined_tile_is_found(tile: int) -> None:
    for shirts in (False, True):
        rect = outline_rect(_gallery(tile, vivid_shirts=shirts))
        assert rect is not None, (tile, shirts)
        x, y, w, h = rect
        assert abs(x - (tile % 2) * 320) <= 3 and abs(y - (tile // 2) * 180) <= 3
        assert 310 <= w <= 320 and 172 <= h <= 180


def test_vivid_things_that_are_not_a_frame_are_not_outlines() -> None:
    import cv2

    assert outline_rect(_gallery(None, vivid_shirts=True)) is None
    filled = _gallery(None)
    cv2.rectangle(filled, (330, 190), (630, 350), GREEN, -1)  # a green slide, filled
    assert outline_rect(filled) is None
    three_sides = _gallery(None)
    cv2.polylines(three_sides, [np.array([(1, 1), (318, 1), (318, 178), (1, 178)])], False,
                  GREEN, 2)  # fmt: skip
    assert outline_rect(three_sides) is None


def test_the_crop_follows_the_outline_over_merged_voices_and_mouths() -> None:
    # four tiles, one voice label for all (diarization merged them), every mouth moving alike;
    # the outline goes A (0-4 s), B (4-8 s), D (8-12 s)
    centres = [(480, 270), (1440, 270), (480, 810), (1440, 810)]

    def faces(t, i):
        return [(cx, cy, 180, talking(lambda t: True, quiet=0.002, loud=0.03, seed=k)(t))
                for k, (cx, cy) in enumerate(centres)]  # fmt: skip

    a = analysis(faces, duration=12.0)
    tiles = {0: (0, 0), 1: (960, 0), 3: (960, 540)}
    order = [0] * 20 + [1] * 20 + [3] * 20
    outlines = tuple((*tiles[k], 960.0, 540.0) for k in order)
    a = replace(a, outlines=outlines)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16", speech=[(0.0, 12.0, "S1")])
    window_w = plan.segments[0].crop_w  # one tile's window (media.framing.tiles)
    for t, (cx, _) in ((2.0, centres[0]), (6.0, centres[1]), (10.0, centres[3])):
        key = [k for k in plan.keys if k.t <= t][-1]
        assert abs(key.x + window_w / 2 - cx) <= 0.1 * window_w, (t, key)


# --- real footage ---------------------------------------------------------------------------


@pytest.mark.real_media
def test_no_outline_in_real_videos(real_media: Path) -> None:
    import cv2

    videos = sorted((real_media / "video").glob("*/*.mp4"))
    assert len(videos) >= 10
    seen = 0
    for path in videos:
        cap = cv2.VideoCapture(str(path))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        for f in np.linspace(0, max(n - 1, 0), 4).astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(f))
            ok, frame = cap.read()
            if not ok:
                continue
            seen += 1
            k = 640 / max(frame.shape[:2])
            small = cv2.resize(frame, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            assert outline_rect(small) is None, f"{path.name} frame {f}"
        cap.release()
    assert seen >= 30
