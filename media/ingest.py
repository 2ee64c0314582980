"""Accepting a source: content-addressed copy, probe, and the rules a recording must meet."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from media import ffmpeg
from media.errors import FFmpegError, InputError
from media.probe import MediaInfo, probe

MAX_DURATION_S = 6 * 3600.0
MIN_SIDE_PX = 64
MAX_PIXELS = 7680 * 4320
# The container's duration may exceed its longest stream's by this factor (+10 s) before the
# header is taken to be lying (a recorder that crashed after writing a planned length).
HEADER_SLACK = 1.5
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

    A private copy means a source that changes or disappears mid-job cannot change the job; a
    source that changes *while* it is copied (a recording still being written, a sync client
    replacing it) is refused, like ``tar``'s "file changed as we read it".
    """
    if not src.exists():
        raise InputError(f"{label}: no such file")
    if not src.is_file():
        raise InputError(f"{label}: not a regular file")
    sources_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=sources_dir, prefix=".incoming-")
    try:
        before = src.stat()
        copied = 0
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            while chunk := inp.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                copied += len(chunk)
        if problem := changed_while_read(before, src.stat(), copied):
            raise InputError(f"{label}: changed while it was read ({problem}); {_RETRY_LATER}")
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


_RETRY_LATER = "try again once it is complete and no longer being written"


def changed_while_read(before: os.stat_result, after: os.stat_result, copied: int) -> str | None:
    """Why a file read from ``before`` to ``after`` (``copied`` bytes) is not one version of
    itself, or None when size, modification time and inode all stayed put."""
    if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino):
        return "it was replaced by another file"
    if copied != before.st_size or after.st_size != before.st_size:
        return f"{before.st_size} bytes when the copy began, {copied} copied, {after.st_size} now"
    if after.st_mtime_ns != before.st_mtime_ns:
        return "it was modified during the copy"
    return None


# First bytes of inputs that are lists of other files, never recordings. ffmpeg is already
# barred from opening them (``SOURCE_DEMUXERS``); naming them makes the rejection explain itself.
_POINTER_FORMATS = {
    b"#EXTM3U": "an HLS playlist (.m3u8)",
    b"ffconcat": "an ffmpeg concat list",
    b"<?xml": "an XML document (a DASH manifest?)",
}


def pointer_problem(head: bytes) -> str | None:
    """Say so when a file's first bytes show a playlist or file list rather than media."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    for magic, what in _POINTER_FORMATS.items():
        if start.startswith(magic):
            return (
                f"{what}, not a recording: playlists and file lists are refused without "
                "opening what they point at"
            )
    return None


_ISO_BMFF_BRANDS = (b"ftyp", b"styp")


def mp4_problem(path: Path) -> str | None:
    """Walk an MP4/MOV's top-level boxes (ISO/IEC 14496-12 §4.2) without decoding: a box that
    runs past the end of the file means the file was cut short; no ``moov`` box means the
    index a player needs was never written (a recorder that stopped before finishing)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8 or head[4:8] not in _ISO_BMFF_BRANDS:
            return None  # not ISO BMFF: ffprobe decides
        pos, boxes = 0, []
        while pos + 8 <= size:
            f.seek(pos)
            box_size, kind = struct.unpack(">I4s", f.read(8))
            name = kind.decode("latin-1")
            if box_size == 1:
                large = f.read(8)
                if len(large) < 8:
                    return f"truncated: the file ends inside the {name!r} box's header at {pos}"
                box_size = struct.unpack(">Q", large)[0]
            elif box_size == 0:
                box_size = size - pos  # "extends to the end of the file"
            if box_size < 8:
                return f"corrupt MP4 structure: box {name!r} at byte {pos} has size {box_size}"
            boxes.append(name)
            if pos + box_size > size:
                have = int(100 * size / (pos + box_size))  # floor: 99.9 % is not 100 %
                missing = "" if "moov" in boxes else " and its index (moov atom) is missing"
                return (
                    f"truncated: the {name!r} box needs {pos + box_size} bytes, the file ends "
                    f"at {size} ({have} %){missing}"
                )
            pos += box_size
    if "moov" not in boxes:
        return (
            f"the MP4 index (moov atom) is missing (boxes: {', '.join(boxes)}): "
            "the recording was not finalised"
        )
    return None


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
        raise InputError(
            f"{label}: video is {v.width}×{v.height} ({v.width * v.height / 1e6:.1f} Mpx), "
            f"larger than 8K UHD (7680×4320, {MAX_PIXELS / 1e6:.1f} Mpx)"
        )
    if info.duration_s <= 0:
        raise InputError(f"{label}: duration unknown (not a finished recording?)")
    if info.duration_s < min_duration_s:
        raise InputError(
            f"{label}: {info.duration_s:.2f} s long, shorter than the shortest "
            f"clip ({min_duration_s:g} s)"
        )
    streams_s = info.streams_duration_s
    if streams_s > 0 and info.duration_s > streams_s * HEADER_SLACK + 10.0:
        raise InputError(
            f"{label}: header claims {_span(info.duration_s)} but its streams end at "
            f"{_span(streams_s)} (a damaged or rewritten header)"
        )
    if info.duration_s > MAX_DURATION_S:
        raise InputError(
            f"{label}: claims {info.duration_s / 3600:.1f} h, longer than the "
            f"{MAX_DURATION_S / 3600:.0f} h limit"
        )


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.1f} s"


def _last_line(stderr: str, local: str, label: str, default: str) -> str:
    """ffmpeg's last stderr line, with our private copy's path replaced by the user's name."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1].replace(local, label) if lines else default


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
            last = _last_line(exc.stderr, info.path, label, "error")
            raise InputError(
                f"{label}: undecodable at {at:.1f} s (truncated or corrupt: {last})"
            ) from exc
        if "error" in done.stderr.lower():
            raise InputError(f"{label}: decode errors at {at:.1f} s (truncated or corrupt)")


def accept(src: Path, sources_dir: Path, *, uri: str, min_duration_s: float) -> Source:
    """Copy, probe and validate a local file; raise :class:`InputError` naming ``uri``."""
    sha, local = copy_hashed(src, sources_dir, label=uri)
    with local.open("rb") as f:
        head = f.read(64)
    if problem := pointer_problem(head):
        raise InputError(f"{uri}: {problem}")
    if head and (problem := mp4_problem(local)):
        raise InputError(f"{uri}: {problem}")
    info = probe(local, label=uri)
    check_rules(info, label=uri, min_duration_s=min_duration_s)
    spot_decode(info, label=uri)
    return Source(uri=uri, sha256=sha, local_path=str(local), info=info)


def cleanup_incoming(sources_dir: Path) -> None:
    for stale in sources_dir.glob(".incoming-*"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(True)
