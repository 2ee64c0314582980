"""Render plans and argv for one clip: trim, moving crop, scale, H.264 High@4.0 BT.709 SDR.

Pure: builds argv; :mod:`media.ffmpeg` runs it. Delivery rules (../shared/NOTES.md): libx264's
ultrafast preset silently yields Constrained Baseline, and ``-level 4.0`` is not enforced by
x264, so fps is capped at 30 and the VBV bounded here (High@4.0: 25 Mbit/s max, H.264 Annex A).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from media import ffmpeg

# (aspect) -> (large size, fallback size) as width, height.
OUTPUT_SIZES = {
    "9:16": ((1080, 1920), (720, 1280)),
    "1:1": ((1080, 1080), (720, 720)),
    "16:9": ((1920, 1080), (1280, 720)),
}
MAX_UPSCALE = 1.5
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
) -> str:
    """Crop (moved by sendcmd), convert to BT.709 tv range, scale, constant frame rate."""
    parts = []
    if sendcmd_path:
        parts.append(f"sendcmd=f='{_escape(sendcmd_path)}'")
    parts += [
        f"crop=w={crop_w}:h={crop_h}:x={x0}:y={y0}:exact=1",
        f"scale={out_w}:{out_h}:flags=lanczos:out_color_matrix=bt709:out_range=tv",
        f"fps={fps:g}",
        "format=yuv420p",
        "setsar=1",
    ]
    return ",".join(parts)


def _escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")


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
    """One ffmpeg run: accurate trim (seek before -i), the filter chain, encode, mux audio as is."""
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
