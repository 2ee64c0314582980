"""Shot boundaries: pure tests on drawn frames, then real ffmpeg on generated and real footage
(an edit of the shared real talking heads with hard cuts and dissolves; none in the single-shot
videos)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg
from media.framing.detection import Box
from media.framing.shots import (
    block_std,
    detect_cuts,
    dissolve_residue,
    flat_share,
    sharp_share,
    shot_bounds,
    signature,
)

FPS = 5.0


def _scene(seed: int, shift: int = 0) -> np.ndarray:
    """A textured 360×640 picture; ``shift`` moves it sideways (a pan, a moving head)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (12, 20), dtype=np.uint8)
    big = np.kron(base, np.ones((30, 32), dtype=np.uint8))
    return np.roll(big, shift, axis=1)


def test_a_hard_cut_is_found_and_a_pan_is_not():
    frames = [_scene(1, 4 * i) for i in range(10)] + [_scene(2, 4 * i) for i in range(10)]
    assert detect_cuts([signature(f) for f in frames], FPS) == [(10, True)]


def test_a_dissolve_is_one_cut_in_its_middle():
    a, b = _scene(1).astype(float), _scene(2).astype(float)
    ramp = [0.0] * 10 + [k / 6 for k in range(1, 6)] + [1.0] * 10  # 1.2 s dissolve
    frames = [((1 - w) * a + w * b).astype(np.uint8) for w in ramp]
    cuts = detect_cuts([signature(f) for f in frames], FPS)
    assert len(cuts) == 1 and not cuts[0][1] and 11 <= cuts[0][0] <= 14, cuts


def test_a_blend_has_no_residue_and_motion_has_much():
    a, b = _scene(1), _scene(2)
    mid = ((a.astype(float) + b) / 2).astype(np.uint8)
    assert dissolve_residue(signature(a), signature(mid), signature(b)) < 0.05
    moved = [signature(_scene(3, s)) for s in (0, 48, 96)]
    assert dissolve_residue(*moved) > 0.3


def test_a_flash_shorter_than_a_shot_is_not_two_cuts():
    frames = [_scene(1)] * 10 + [_scene(2)] * 2 + [_scene(1)] * 10
    assert len(detect_cuts([signature(f) for f in frames], FPS)) <= 1


def test_shot_bounds_split_the_samples_at_the_cut_times():
    times = np.arange(20) / FPS
    assert shot_bounds(times, [1.0, 2.5]) == [(0, 5), (5, 13), (13, 20)]
    assert shot_bounds(times, []) == [(0, 20)]


def test_screen_figures_tell_a_slide_from_a_face_on_a_plain_wall():
    import cv2

    slide = np.full((360, 640), 250, np.uint8)
    for k in range(6):
        cv2.putText(slide, f"line {k} of the slide", (30, 60 + 45 * k),
                    cv2.FONT_HERSHEY_SIMPLEX, 1.0, 20, 2)  # fmt: skip
    stds = block_std(slide)
    assert flat_share(stds) > 0.7 and sharp_share(stds, []) > 0.01
    wall = np.full((360, 640), 120, np.uint8)
    wall[100:200, 270:370] = _scene(5)[:100, :100]  # a textured "face"
    stds = block_std(wall)
    face = Box(270, 100, 100, 100)
    assert flat_share(stds) > 0.7 and sharp_share(stds, [face]) == 0.0


# --- real ffmpeg ------------------------------------------------------------------------------


def _grey_frames(path: Path, fps: float = FPS) -> list[np.ndarray]:
    w, h = 640, 360
    argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(path), source=False) + [
        "-vf", f"fps={fps:g},scale={w}:{h}:flags=area", "-pix_fmt", "gray", "-f", "rawvideo",
        "pipe:1"]  # fmt: skip
    return [
        np.frombuffer(b, np.uint8).reshape(h, w) for b in ffmpeg.stream(argv, frame_bytes=w * h)
    ]


def _media() -> Path:
    root = os.environ.get("CLIPFLOW_REAL_MEDIA")
    if not root:
        pytest.skip("CLIPFLOW_REAL_MEDIA is not set: real-media tier skipped")
    return Path(root)


@pytest.fixture(scope="module")
def real_edit(tmp_path_factory) -> Path:
    """Five real talking heads edited together: hard cuts at 6 and 12 s, a 1 s dissolve from
    17 s and a 0.5 s one from 22 s (27 s, 1280×720)."""
    heads = _media() / "video" / "talking_head"
    names = ["liveportrait__d6", "liveportrait__d10", "liveportrait__s18", "liveportrait__d14",
             "videoretalking__face2"]  # fmt: skip
    out = tmp_path_factory.mktemp("edit") / "edit.mp4"
    norm = "settb=1/30,fps=30,format=yuv420p,setsar=1"
    box = "scale=720:720,pad=1280:720:280:0:gray"
    parts = [
        f"[{i}:v]trim=0:{6 if i < 4 else 5},setpts=PTS-STARTPTS,"
        f"{'scale=1280:720' if i == 2 else box},{norm}[v{i}]"
        for i in range(5)
    ]
    graph = ";".join(parts + [
        "[v0][v1][v2]concat=n=3,settb=1/30[abc]",
        "[abc][v3]xfade=transition=fade:duration=1:offset=17[abcd]",
        "[abcd][v4]xfade=transition=fade:duration=0.5:offset=22[v]"])  # fmt: skip
    argv = ffmpeg.ffmpeg_base()
    for n in names:
        argv += ffmpeg.input_args(str(heads / f"{n}.mp4"), source=False)
    ffmpeg.run(argv + ["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                       "-preset", "ultrafast", str(out)])  # fmt: skip
    return out


def test_real_edit_cuts_and_dissolves_are_found(real_edit):
    from media.framing.analysis import analyse_window

    a = analyse_window(str(real_edit), 0.0, 27.0, 1280, 720, fps=FPS, width=640)
    truth = [6.0, 12.0, 17.5, 22.25]
    assert len(a.cuts) == len(truth), a.cuts
    # hard cuts to the frame; dissolves within a sample of their middle
    assert all(
        abs(c - t) <= (0.04 if t in (6.0, 12.0) else 0.25)
        for c, t in zip(a.cuts, truth, strict=True)
    )


def test_no_cut_is_found_in_the_real_single_shot_videos():
    videos = sorted((_media() / "video").glob("*/*.mp4"))
    assert len(videos) >= 20
    false_cuts = {
        v.name: cuts
        for v in videos
        if (cuts := detect_cuts([signature(f) for f in _grey_frames(v)], FPS))
    }
    assert false_cuts == {}
