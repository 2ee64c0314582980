"""Shots framed differently within one clip, on real ffmpeg: a screen share with the presenter
in a corner cut to a close-up, and a hard cut found to the frame; rendered through the
segmented graph and judged by QA's per-layout rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg
from media.framing.analysis import analyse_window
from media.framing.detection import track_faces
from media.framing.framing_plan import plan_framing
from media.framing.layout import Layout
from media.render.layouts import face_regions, segments_filter, segments_sendcmd
from qa.measure import face_sample_argv, judged_ratio, sample_size
from tests.generated_media import face_image

W, H = 1280, 720
CUT_S = 6.12  # between two 5 fps analysis samples: the refinement must find it


def _slide(path: Path) -> None:
    import cv2

    img = np.full((H, W, 3), 250, np.uint8)
    cv2.rectangle(img, (60, 40), (900, 130), (40, 60, 160), -1)
    cv2.putText(img, "Quarterly review", (80, 110), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255,) * 3, 4)
    for k in range(9):
        y = 200 + 52 * k
        cv2.putText(img, f"- point {k}: revenue up {k * 3} %", (90, y),
                    cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2)  # fmt: skip
    cv2.imwrite(str(path), img)


@pytest.fixture(scope="module")
def share_then_closeup(tmp_path_factory) -> Path:
    """0–6.12 s: a slide with the presenter (180 px) in the top-right corner; then the same
    face, 460 px, left of centre on a grey wall."""
    import cv2

    d = tmp_path_factory.mktemp("layouts")
    face, slide, out = d / "face.png", d / "slide.png", d / "share.mp4"
    cv2.imwrite(str(face), face_image())
    _slide(slide)
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-loop", "1", "-framerate", "25", "-t", f"{CUT_S}", "-i", str(slide),
        "-loop", "1", "-framerate", "25", "-t", "12", "-i", str(face),
        "-f", "lavfi", "-i", f"color=c=0x708090:s={W}x{H}:r=25:d={12 - CUT_S}",
        "-filter_complex",
        "[1]split=2[f1][f2];[f1]scale=180:180[small];[f2]scale=460:460[big];"
        "[0][small]overlay=x=1080:y=20:shortest=1,setsar=1[a];"
        "[2][big]overlay=x=200:y=120:shortest=1,setsar=1[b];"
        "[a][b]concat=n=2:v=1:a=0,format=yuv420p",
        "-r", "25", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(out)])  # fmt: skip
    return out


def test_a_screen_share_is_stacked_and_the_cut_to_a_close_up_is_framed_at_the_cut(
    share_then_closeup, tmp_path
):
    a = analyse_window(str(share_then_closeup), 0.0, 12.0, W, H, fps=5, width=640)
    assert len(a.cuts) == 1 and abs(a.cuts[0] - CUT_S) <= 0.045, a.cuts  # within a frame
    plan = plan_framing(a, src_w=W, src_h=H, aspect="9:16")
    share, close = plan.segments
    assert share.layout == Layout.SCREEN_SHARE and share.screen is not None
    assert share.screen.w < W, "the presenter's column is left out of the screen panel"
    assert close.layout == Layout.SINGLE and close.start == a.cuts[0]
    assert not plan.one_window
    # render the clip through the segmented graph, as the render stage does
    out_w, out_h = 608, 1080
    cmd = tmp_path / "crop.cmd"
    cmd.write_text(segments_sendcmd(plan.segments))
    vf = segments_filter(plan.segments, src=(W, H), out=(out_w, out_h), fps=25,
                         sendcmd_path=str(cmd))  # fmt: skip
    clip = tmp_path / "clip.mp4"
    ffmpeg.run(ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(share_then_closeup), source=False)
               + ["-filter:v", vf, "-c:v", "libx264", "-preset", "ultrafast", "-t", "12",
                  str(clip)])  # fmt: skip
    sw, sh = sample_size(out_w, out_h)
    frames_raw = ffmpeg.stream(face_sample_argv(str(clip), fps=2, width=sw, height=sh),
                               frame_bytes=sw * sh * 3)  # fmt: skip
    images = [np.frombuffer(b, np.uint8).reshape(sh, sw, 3) for b in frames_raw]
    assert len(images) == 24, "12 s at 2 fps: the concat kept the clip's length"
    boxes = [b for _, b in track_faces(images, full_every=1)]
    regions = face_regions(plan.segments, out_w, out_h)
    assert regions[0].top is not None and 0.25 < regions[0].top < 0.5  # the screen above
    centred, no_face = judged_ratio(boxes, regions, fps=2, width=sw, height=sh, tolerance=0.1)
    assert centred >= 0.9 and no_face == 0.0
    # in the stacked part the presenter is below the screen panel, never above it
    top_px = regions[0].top * sh
    for frame in boxes[1:12]:
        assert frame and all(b.cy >= top_px for b in frame)


def test_qa_counts_a_shot_without_a_face_by_design_as_such():
    from media.render.layouts import FaceRegion

    regions = (FaceRegion(0.0, 2.0, None), FaceRegion(2.0, 4.0, 0.0))
    no_boxes: list = []
    centred, no_face = judged_ratio([no_boxes] * 4 + [no_boxes] * 4, regions, fps=2, width=100,
                                    height=100, tolerance=0.1)  # fmt: skip
    assert no_face == 0.5 and centred == 0.0  # the face-holding half shows none: not centred


def test_the_panel_rule_flips_exactly_at_the_centring_tolerance():
    from media.framing.detection import Box
    from media.render.layouts import FaceRegion

    # a stacked shot: screen in the top 40 %, the presenter's panel below
    regions = (FaceRegion(0.0, 10.0, 0.4),)
    width, height, tol = 360, 640, 0.1

    def ratio(dx: float, in_screen_panel: bool = False) -> float:
        y = 100 if in_screen_panel else 450
        box = Box(width / 2 + dx - 40, y - 40, 80, 80)
        return judged_ratio([[box]] * 4, regions, fps=2, width=width, height=height,
                            tolerance=tol)[0]  # fmt: skip

    assert ratio(tol * width) == 1.0 and ratio(tol * width + 0.5) == 0.0
    assert ratio(-tol * width) == 1.0 and ratio(-tol * width - 0.5) == 0.0
    # a centred face in the screen panel (a face on a slide) is not the presenter
    assert ratio(0.0, in_screen_panel=True) == 0.0


def test_qa_judges_the_speakers_tile_where_the_window_holds_two():
    from media.framing.detection import Box
    from media.render.layouts import FaceRegion
    from tests.generated_media import gallery

    # a 2×2 gallery whose faces are too large for a one-tile window: the plain window holds
    # the speaker's tile and the one below or above it (top left, then bottom left speaks)
    a, _, _ = gallery([0, 2], face_share=0.5)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16", speech=[(0.0, 8.0, "S1")])
    (seg,) = plan.segments
    assert "two tiles kept" in seg.note
    regions = face_regions(plan.segments, 360, 640)
    assert [(r.start, r.top, r.bottom) for r in regions] == [(0.0, 0.0, 0.5), (4.0, 0.5, 1.0)]

    # what QA's detector sees: the speaker centred in its tile, the other tile's face larger
    # and off-centre (the real gallery's faces sit at different places in their tiles)
    def frame(t: float) -> list[Box]:
        speaker_y, other_y = (160, 480) if t < 4.0 else (480, 160)
        return [Box(180 - 50, speaker_y - 50, 100, 100), Box(250 - 60, other_y - 60, 120, 120)]

    boxes = [frame(i / 2) for i in range(16)]
    centred, _ = judged_ratio(boxes, regions, fps=2, width=360, height=640, tolerance=0.1)
    assert centred == 1.0
    whole = [FaceRegion(0.0, 8.0, 0.0)]  # the whole frame, as for a window of one tile
    assert judged_ratio(boxes, whole, fps=2, width=360, height=640, tolerance=0.1)[0] == 0.0
