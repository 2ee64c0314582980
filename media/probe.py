"""One probe boundary: ffprobe JSON in, frozen records out. Nothing downstream reads raw JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from media import ffmpeg
from media.errors import FFmpegError, InputError


@dataclass(frozen=True, slots=True)
class VideoStream:
    index: int
    codec: str
    width: int
    height: int
    fps: float
    pix_fmt: str
    profile: str
    level: int
    color_primaries: str
    color_transfer: str
    color_space: str
    color_range: str
    rotation: int
    avg_fps: float
    nb_frames: int | None
    bit_rate: int | None
    side_data: tuple[str, ...] = ()
    duration_s: float = 0.0  # the stream's own duration (0.0 when the container gives none)

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as displayed, after rotation metadata."""
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True, slots=True)
class AudioStream:
    index: int
    codec: str
    sample_rate: int
    channels: int
    bit_rate: int | None
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class MediaInfo:
    path: str
    format_name: str
    duration_s: float
    size_bytes: int
    bit_rate: int | None
    video: tuple[VideoStream, ...]
    audio: tuple[AudioStream, ...]

    @property
    def primary_video(self) -> VideoStream | None:
        return self.video[0] if self.video else None

    @property
    def primary_audio(self) -> AudioStream | None:
        return self.audio[0] if self.audio else None

    @property
    def streams_duration_s(self) -> float:
        """The longest stream's own duration (0.0 when no stream states one)."""
        streams: tuple[VideoStream | AudioStream, ...] = (*self.video, *self.audio)
        return max((s.duration_s for s in streams), default=0.0)

    def describe_streams(self) -> str:
        parts = [f"{v.codec} video" for v in self.video] + [f"{a.codec} audio" for a in self.audio]
        return ", ".join(parts) or "none"


def probe_argv(path: str, *, source: bool = True) -> list[str]:
    argv = [
        "ffprobe",
        "-hide_banner",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]
    argv += ffmpeg.input_args(path, source=source)[:-2]
    return argv + [path]


def _rate(text: str | None) -> float:
    if not text or text in ("0/0", "N/A"):
        return 0.0
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return 0.0


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate else 0


def parse_probe(path: str, data: dict[str, Any]) -> MediaInfo:
    """Turn ffprobe's JSON into a :class:`MediaInfo` (pure; tested without ffprobe)."""
    fmt = data.get("format") or {}
    videos: list[VideoStream] = []
    audios: list[AudioStream] = []
    for s in data.get("streams") or []:
        kind = s.get("codec_type")
        disposition = s.get("disposition") or {}
        if kind == "video" and not disposition.get("attached_pic"):
            videos.append(
                VideoStream(
                    index=int(s.get("index", 0)),
                    codec=str(s.get("codec_name", "unknown")),
                    width=int(s.get("width") or 0),
                    height=int(s.get("height") or 0),
                    fps=_rate(s.get("r_frame_rate")),
                    avg_fps=_rate(s.get("avg_frame_rate")),
                    pix_fmt=str(s.get("pix_fmt", "")),
                    profile=str(s.get("profile", "")),
                    level=int(s.get("level") or 0),
                    color_primaries=str(s.get("color_primaries", "unknown")),
                    color_transfer=str(s.get("color_transfer", "unknown")),
                    color_space=str(s.get("color_space", "unknown")),
                    color_range=str(s.get("color_range", "unknown")),
                    rotation=_rotation(s),
                    nb_frames=_int(s.get("nb_frames")),
                    bit_rate=_int(s.get("bit_rate")),
                    side_data=tuple(
                        str(d.get("side_data_type", "")) for d in s.get("side_data_list") or []
                    ),
                    duration_s=_rate(s.get("duration")),
                )
            )
        elif kind == "audio":
            audios.append(
                AudioStream(
                    index=int(s.get("index", 0)),
                    codec=str(s.get("codec_name", "unknown")),
                    sample_rate=int(s.get("sample_rate") or 0),
                    channels=int(s.get("channels") or 0),
                    bit_rate=_int(s.get("bit_rate")),
                    duration_s=_rate(s.get("duration")),
                )
            )
    duration = _rate(fmt.get("duration"))
    return MediaInfo(
        path=path,
        format_name=str(fmt.get("format_name", "")),
        duration_s=duration,
        size_bytes=int(fmt.get("size") or 0),
        bit_rate=_int(fmt.get("bit_rate")),
        video=tuple(videos),
        audio=tuple(audios),
    )


def probe(path: str | Path, *, source: bool = True, label: str | None = None) -> MediaInfo:
    """Probe a local file. Unreadable input raises :class:`InputError` naming it.

    ``source=True`` restricts demuxers to real containers (no playlists); ``label`` is the name
    used in messages (the user's URI rather than a cache path).
    """
    path = str(path)
    name = label or path
    if not Path(path).is_file():
        raise InputError(f"{name}: no such file")
    if Path(path).stat().st_size == 0:
        raise InputError(f"{name}: file is empty (0 bytes)")
    try:
        done = ffmpeg.run(probe_argv(path, source=source), timeout_s=120)
    except FFmpegError as exc:
        lines = [line for line in exc.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1].replace(path, name) if lines else "unreadable"
        raise InputError(f"{name}: not a readable media file ({reason})") from exc
    return parse_probe(path, json.loads(done.stdout or b"{}"))
