"""Accepting a source: content-addressed copy, probe, and the rules a recording must meet."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from media import ffmpeg
from media.errors import FFmpegError, InputError
from media.probe import MediaInfo, probe

MAX_DURATION_S = 6 * 3600.0
MIN_SIDE_PX = 64
MAX_PIXELS = 7680 * 4320
_CHUNK = 4 << 20


@dataclass(frozen=True, slots=True)
class Source:
    """An accepted recording: where it came from, what it is, and our private copy of it."""

    uri: str
    sha256: str
    local_path: str
    info: MediaInfo

    @property
    def name(self) -> str:
        return Path(self.uri.rstrip("/")).name or self.uri


def copy_hashed(src: Path, sources_dir: Path, *, label: str) -> tuple[str, Path]:
    """Copy ``src`` into ``sources_dir/<sha256><ext>`` hashing as it goes; the source is only read.

    A private copy means a source that changes or disappears mid-job cannot change the job.
    """
    if not src.exists():
        raise InputError(f"{label}: no such file")
    if not src.is_file():
        raise InputError(f"{label}: not a regular file")
    sources_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=sources_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            while chunk := inp.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        final = sources_dir / f"{sha}{src.suffix.lower()[:8]}"
        if final.exists():
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, final)
        return sha, final
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def check_rules(info: MediaInfo, *, label: str, min_duration_s: float) -> None:
    """Reject what cannot make clips: no video, no audio, too short, absurd claims."""
    streams = info.describe_streams()
    if not info.video:
        raise InputError(f"{label}: no video stream (streams: {streams})")
    if not info.audio:
        raise InputError(f"{label}: no audio stream (streams: {streams})")
    v = info.video[0]
    if v.width < MIN_SIDE_PX or v.height < MIN_SIDE_PX:
        raise InputError(
            f"{label}: video is {v.width}×{v.height}, smaller than {MIN_SIDE_PX} px on a side"
        )
    if v.width * v.height > MAX_PIXELS:
        raise InputError(f"{label}: video is {v.width}×{v.height}, larger than 8K")
    if info.duration_s <= 0:
        raise InputError(f"{label}: duration unknown (not a finished recording?)")
    if info.duration_s < min_duration_s:
        raise InputError(
            f"{label}: {info.duration_s:.2f} s long, shorter than the shortest "
            f"clip ({min_duration_s:g} s)"
        )
    if info.duration_s > MAX_DURATION_S:
        raise InputError(
            f"{label}: claims {info.duration_s / 3600:.1f} h, longer than the "
            f"{MAX_DURATION_S / 3600:.0f} h limit"
        )


def spot_decode_argv(path: str, at_s: float) -> list[str]:
    return (
        ffmpeg.ffmpeg_base()
        + ["-xerror"]
        + ffmpeg.input_args(path, seek_s=at_s, duration_s=1.0)
        + ["-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-"]
    )


def spot_decode(info: MediaInfo, *, label: str) -> None:
    """Decode one second at the start, middle and end: a truncated file fails here, cheaply."""
    points = sorted({0.0, info.duration_s / 2, max(0.0, info.duration_s - 1.5)})
    for at in points:
        try:
            done = ffmpeg.run(spot_decode_argv(info.path, at), timeout_s=120)
        except FFmpegError as exc:
            last = exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else "error"
            raise InputError(
                f"{label}: undecodable at {at:.1f} s (truncated or corrupt: {last})"
            ) from exc
        if "error" in done.stderr.lower():
            raise InputError(f"{label}: decode errors at {at:.1f} s (truncated or corrupt)")


def accept(src: Path, sources_dir: Path, *, uri: str, min_duration_s: float) -> Source:
    """Copy, probe and validate a local file; raise :class:`InputError` naming ``uri``."""
    sha, local = copy_hashed(src, sources_dir, label=uri)
    info = probe(local, label=uri)
    check_rules(info, label=uri, min_duration_s=min_duration_s)
    spot_decode(info, label=uri)
    return Source(uri=uri, sha256=sha, local_path=str(local), info=info)


def cleanup_incoming(sources_dir: Path) -> None:
    for stale in sources_dir.glob(".incoming-*"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(True)
