"""Encoder choice, filter graphs and argv for one clip: trim, moving crop (or the whole frame
over a blurred fill), scale, H.264 High@4.0 BT.709 SDR.

Pure: builds argv; :mod:`media.ffmpeg` runs it. H.264 delivery rules (docs/ARCHITECTURE.md,
"Measured facts"): libx264's ultrafast preset silently yields Constrained Baseline, and
``-level 4.0`` is not enforced by x264, so fps is capped at 30 and the VBV bounded here
(High@4.0: 25 Mbit/s max, H.264 Annex A).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from media import ffmpeg
from media.framing.crop_path import even_side

# (aspect) -> (large size, fallback size) as width, height.
OUTPUT_SIZES = {
    "9:16": ((1080, 1920), (720, 1280)),
    "1:1": ((1080, 1080), (720, 720)),
    "16:9": ((1920, 1080), (1280, 720)),
}
MAX_UPSCALE = 1.5
TO_BT709 = "out_color_matrix=bt709:out_range=tv"
COLOUR_FLAGS = [
    "-color_primaries",
    "bt709",
    "-color_trc",
    "bt709",
    "-colorspace",
    "bt709",
    "-color_range",
    "tv",
]


def output_size(aspect: str, crop_w: int, crop_h: int) -> tuple[int, int]:
    """The large size when it upscales the crop by at most 1.5×, else the smaller one."""
    large, small = OUTPUT_SIZES[aspect]
    return large if large[1] / crop_h <= MAX_UPSCALE else small


def output_fps(src_fps: float, max_fps: float = 30.0) -> float:
    """Keep the source rate up to ``max_fps``; halve rates above it (60 → 30, 50 → 25)."""
    if src_fps <= 0:
        return max_fps
    fps = src_fps
    while fps > max_fps + 0.01:
        fps /= 2
    return round(fps, 3)


@dataclass(frozen=True, slots=True)
class EncodeSpec:
    encoder: str  # "libx264" | "h264_nvenc"
    preset: str
    crf: int

    def video_args(self) -> list[str]:
        common = [
            "-profile:v",
            "high",
            "-level:v",
            "4.0",
            "-maxrate",
            "20M",
            "-bufsize",
            "25M",
            "-pix_fmt",
            "yuv420p",
            *COLOUR_FLAGS,
        ]
        if self.encoder == "h264_nvenc":
            return [
                "-c:v",
                "h264_nvenc",
                "-preset",
                "p5",
                "-tune",
                "hq",
                "-rc",
                "vbr",
                "-cq",
                str(self.crf + 1),
                "-b:v",
                "0",
                *common,
            ]
        if self.preset == "ultrafast":
            raise ValueError("x264 preset ultrafast yields Constrained Baseline, not High")
        return [
            "-c:v",
            "libx264",
            "-preset",
            self.preset,
            "-crf",
            str(self.crf),
            "-x264-params",
            "nal-hrd=vbr",
            *common,
        ]


@lru_cache(maxsize=1)
def nvenc_available() -> bool:
    """True when ffmpeg can open h264_nvenc on this machine (a 0.1 s test encode)."""
    if shutil.which("ffmpeg") is None:
        return False
    argv = ffmpeg.ffmpeg_base() + [
        "-f",
        "lavfi",
        "-i",
        "color=black:s=256x256:d=0.1",
        "-c:v",
        "h264_nvenc",
        "-f",
        "null",
        "-",
    ]
    try:
        return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_encoder(setting: str) -> str:
    if setting == "auto":
        return "h264_nvenc" if nvenc_available() else "libx264"
    return setting


def video_filter(
    *,
    crop_w: int,
    crop_h: int,
    x0: int,
    y0: int,
    out_w: int,
    out_h: int,
    fps: float,
    sendcmd_path: str | None,
    captions_path: str | None = None,
) -> str:
    """Crop (moved by sendcmd), convert to BT.709 tv range, scale, constant frame rate, and
    burn in the ASS captions at ``captions_path`` when given."""
    parts = []
    if sendcmd_path:
        parts.append(f"sendcmd=f={filter_value(sendcmd_path)}")
    parts += [
        f"crop=w={crop_w}:h={crop_h}:x={x0}:y={y0}:exact=1",
        f"scale={out_w}:{out_h}:flags=lanczos:{TO_BT709}",
        *_tail(fps, captions_path),
    ]
    return ",".join(parts)


def fit_size(src_w: int, src_h: int, out_w: int, out_h: int) -> tuple[int, int]:
    """The whole source frame scaled to fit inside the output (aspect kept, sides even)."""
    if src_w <= 0 or src_h <= 0:
        raise ValueError(f"source size {src_w}x{src_h}: both sides must be positive")
    scale = min(out_w / src_w, out_h / src_h)
    return even_side(src_w * scale, out_w), even_side(src_h * scale, out_h)


def fit_filter(
    *,
    src_w: int,
    src_h: int,
    out_w: int,
    out_h: int,
    fps: float,
    captions_path: str | None = None,
) -> str:
    """The whole frame, fitted, over a blurred copy of itself that fills the output (for clips
    without a face to follow), then the same tail as :func:`video_filter`.

    ``src_w``×``src_h`` is the displayed size (after rotation). The background covers a
    quarter-size frame, is blurred there (16× fewer pixels) and scaled up. Both branches
    convert to BT.709 tv range themselves, so no scaler with a default matrix slips in.
    """
    tail = _tail(fps, captions_path)
    # fps first: a 60 fps source is split, blurred and overlaid at the output rate only.
    chains = fit_chains(src_w=src_w, src_h=src_h, out_w=out_w, out_h=out_h)
    return ";".join([f"{tail[0]},{chains[0]}", *chains[1:]]) + "," + ",".join(tail[1:])


def fit_chains(*, src_w: int, src_h: int, out_w: int, out_h: int, tag: str = "") -> list[str]:
    """The whole frame fitted over a blurred copy of itself, as graph chains: the first is the
    ``split`` (its input unlabelled, for the caller to prefix), the last ends with the overlay
    (for the caller to append to). ``tag`` makes the inner pad names unique when several shots
    are fitted in one graph. Used for a whole clip (:func:`fit_filter`) and for one shot of a
    segmented clip (media.render.layouts)."""
    fg_w, fg_h = fit_size(src_w, src_h, out_w, out_h)
    bg_w, bg_h = even_side(out_w / 4, out_w), even_side(out_h / 4, out_h)
    sigma = round(bg_w * 0.04, 1)
    background = [
        f"scale={bg_w}:{bg_h}:force_original_aspect_ratio=increase:flags=bilinear:{TO_BT709}",
        "format=yuv420p",
        f"crop={bg_w}:{bg_h}",
        f"gblur=sigma={sigma:g}",
        f"scale={out_w}:{out_h}:flags=bilinear",
    ]
    foreground = [f"scale={fg_w}:{fg_h}:flags=lanczos:{TO_BT709}", "format=yuv420p"]
    overlay = f"overlay=x={(out_w - fg_w) // 2}:y={(out_h - fg_h) // 2}:format=yuv420"
    return [
        f"split=2[bg{tag}][fg{tag}]",
        f"[bg{tag}]" + ",".join(background) + f"[blurred{tag}]",
        f"[fg{tag}]" + ",".join(foreground) + f"[fitted{tag}]",
        f"[blurred{tag}][fitted{tag}]{overlay}",
    ]


def _tail(fps: float, captions_path: str | None) -> list[str]:
    """Constant frame rate from clip time 0 (a stream starting late repeats its first frame
    rather than leaving a gap), captions burnt in at output size, yuv420p, square pixels."""
    parts = [f"fps={fps:g}:start_time=0"]
    if captions_path:
        parts.append(f"ass=filename={filter_value(captions_path)}")
    return parts + ["format=yuv420p", "setsar=1"]


def filter_value(text: str) -> str:
    """Quote ``text`` (a path) as one option value inside a ``-filter`` graph.

    FFmpeg unescapes it twice ("Notes on filtergraph escaping", ffmpeg-filters(1)): first the
    graph parser, for which the value is single-quoted (a quote inside is closed, escaped and
    reopened), so spaces, commas, semicolons and brackets pass; then the option parser, for
    which backslash, quote and colon carry a backslash.
    """
    option_level = re.sub(r"([\\':])", r"\\\1", text)
    return "'" + option_level.replace("'", "'\\''") + "'"


def render_argv(
    src: str,
    audio_m4a: str,
    out: str,
    *,
    start_s: float,
    duration_s: float,
    vf: str,
    spec: EncodeSpec,
) -> list[str]:
    """One ffmpeg run: accurate trim (seek before -i), the filter chain, encode, mux audio as is.

    ``-t`` on the output as well: a video stream that starts after the seek point is read for
    ``duration_s`` from its own first frame, so the input limit alone overshoots the clip.
    """
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(src, seek_s=start_s, duration_s=duration_s, source=False)
        + ffmpeg.input_args(audio_m4a, source=False)
        + [
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-filter:v",
            vf,
            *spec.video_args(),
            "-c:a",
            "copy",
            "-t",
            f"{duration_s:.3f}",
            "-shortest",
            "-movflags",
            "+faststart",
            "-metadata:s:v:0",
            "handler_name=clipflow",
            "-f",
            "mp4",
            out,
        ]
    )
