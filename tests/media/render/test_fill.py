"""No-face clips with ``no_face_fill="blur"``: the whole frame over a blurred copy of itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg
from media.render import audio
from media.render.encode import EncodeSpec, fit_filter, fit_size, render_argv
from qa.codec import inspect_codec
from tests.helpers import compliant_codec
from tests.helpers import ffmpeg as make_media


@pytest.mark.parametrize(
    ("src", "out", "fitted"),
    [
        ((1920, 1080), (1080, 1920), (1080, 608)),  # landscape into portrait: full width
        ((1280, 720), (720, 1280), (720, 404)),  # 405 rounds to even
        ((1440, 1080), (1080, 1920), (1080, 810)),  # 4:3
        ((1920, 1080), (1080, 1080), (1080, 608)),
        ((1080, 1920), (1920, 1080), (608, 1080)),  # portrait into landscape: full height
        ((1080, 1920), (1080, 1920), (1080, 1920)),  # same aspect: fills, nothing blurred shows
        ((640, 360), (1080, 1920), (1080, 608)),  # small sources are scaled up to fit
    ],
)
def test_fit_size_keeps_the_aspect_inside_the_output(src, out, fitted) -> None:
    w, h = fit_size(*src, *out)
    assert (w, h) == fitted and w % 2 == 0 and h % 2 == 0
    assert abs(w / h - src[0] / src[1]) < 0.01


def test_fit_filter_is_one_chain_in_one_out_with_the_delivery_tail() -> None:
    vf = fit_filter(src_w=1920, src_h=1080, out_w=1080, out_h=1920, fps=30)
    assert vf.startswith("fps=30:start_time=0,split=2[bg][fg];")
    assert "gblur=sigma=" in vf and "overlay=x=0:y=656" in vf
    assert vf.count("out_color_matrix=bt709:out_range=tv") == 2  # both branches convert
    assert vf.endswith("format=yuv420p,setsar=1") and "ass=" not in vf
    with_captions = fit_filter(
        src_w=1920, src_h=1080, out_w=1080, out_h=1920, fps=30, captions_path="/w/c.ass"
    )
    assert with_captions.endswith("ass=filename='/w/c.ass',format=yuv420p,setsar=1")


SRC_W, SRC_H, OUT_W, OUT_H = 320, 180, 180, 320
EDGE = 24  # px of red (left) and green (right) at the source's edges


def _source(path: Path) -> None:
    """A fine grey checkerboard (plenty of detail) between a red and a green edge band; a
    centred 9:16 crop (x 110–210) shows neither band."""
    board = "geq=lum='if(mod(floor(X/4)+floor(Y/4),2),200,60)':cb=128:cr=128"
    bands = (
        f"drawbox=x=0:y=0:w={EDGE}:h=ih:color=red:t=fill,"
        f"drawbox=x=iw-{EDGE}:y=0:w={EDGE}:h=ih:color=lime:t=fill"
    )
    make_media(
        "-f", "lavfi", "-i", f"color=gray:s={SRC_W}x{SRC_H}:r=30:d=3",
        "-f", "lavfi", "-i", "sine=f=220:d=3",
        "-vf", f"format=yuv444p,{board},{bands},format=yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-colorspace", "bt709",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-c:a", "aac", str(path),
    )  # fmt: skip


def _rgb(path: Path, at_s: float) -> np.ndarray:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{at_s}", "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(OUT_H, OUT_W, 3).astype(float)


def _detail(rgb: np.ndarray) -> float:
    """Mean absolute horizontal + vertical luma difference: high-frequency energy."""
    luma = rgb.mean(axis=2)
    return float(np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean())


def test_blur_fill_shows_the_whole_frame_over_a_blurred_copy(tmp_path: Path) -> None:
    src, out, sound = tmp_path / "src.mp4", tmp_path / "out.mp4", tmp_path / "a.m4a"
    _source(src)
    ffmpeg.run(
        audio.clip_audio_argv(
            str(src), str(sound), start_s=0.5, duration_s=2.0, gain_db=0.0, ceiling_dbtp=-1.0
        )
    )
    vf = fit_filter(src_w=SRC_W, src_h=SRC_H, out_w=OUT_W, out_h=OUT_H, fps=30)
    spec = EncodeSpec("libx264", "veryfast", 20)
    ffmpeg.run(
        render_argv(str(src), str(sound), str(out), start_s=0.5, duration_s=2.0, vf=vf,
                           spec=spec)
    )  # fmt: skip

    frame = _rgb(out, 1.0)
    fg_w, fg_h = fit_size(SRC_W, SRC_H, OUT_W, OUT_H)
    y0 = (OUT_H - fg_h) // 2
    middle = frame[y0 + 4 : y0 + fg_h - 4]
    edge = EDGE * fg_w // SRC_W  # the bands' width after fitting
    red = middle[:, 1 : edge - 2].mean(axis=(0, 1))
    green = middle[:, -edge + 2 : -1].mean(axis=(0, 1))
    assert red[0] > 180 and red[1] < 60 and red[2] < 60, f"left edge band missing: {red}"
    assert green[1] > 180 and green[0] < 60 and green[2] < 60, f"right edge band missing: {green}"

    top, bottom = frame[8 : y0 - 8], frame[y0 + fg_h + 8 : -8]
    sharp = _detail(middle[:, edge + 2 : -edge - 2])
    assert _detail(top) < 0.05 * sharp and _detail(bottom) < 0.05 * sharp, "bands not blurred"
    # The background is the same picture: the checkerboard's mean grey, not black bars.
    assert 90 < top.mean() < 170 and 90 < bottom.mean() < 170

    codec = inspect_codec(out)
    assert codec == compliant_codec(width=OUT_W, height=OUT_H, fps=30.0, bit_rate=codec.bit_rate)
