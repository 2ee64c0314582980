"""Bad and awkward inputs, generated from small good ones (tests/flows/test_bad_inputs.py).

Each maker writes one file (or text) and returns it. Containers are damaged the way real ones
are: cut short (a failed upload), the index never written (a recorder killed mid-file), a
header that claims a length its streams do not have.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from tests.helpers import ffmpeg

ENCODE = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"]


def make_av(
    out: Path,
    *,
    seconds: float = 16.0,
    size: str = "320x240",
    rate: str = "30",
    source: str = "testsrc2",
    faststart: bool = True,
    video: bool = True,
    audio: bool = True,
    pix_fmt: str = "yuv420p",
) -> Path:
    """A test pattern with a tone: ``seconds`` long, ``size`` pixels, ``rate`` fps."""
    args: list[str] = []
    if video:
        sep = ":" if "=" in source else "="  # "testsrc2" or "color=c=gray"
        args += ["-f", "lavfi", "-i", f"{source}{sep}s={size}:r={rate}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}"]
    codecs = ENCODE if video and audio else [a for a in ENCODE if a != "-shortest"]
    if video:
        codecs = [*codecs, "-pix_fmt", pix_fmt]
    if not video:
        codecs = ["-c:a", "aac"]
    flags = ["-movflags", "+faststart"] if faststart else []
    ffmpeg(*args, *codecs, *flags, str(out))
    return out


def truncate(src: Path, dest: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``src``'s bytes: an upload or copy that stopped early."""
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def _boxes(data: bytes) -> list[tuple[str, int, int]]:
    """Top-level ISO BMFF boxes as (type, offset, size)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        size = size or len(data) - pos
        out.append((kind.decode("latin-1"), pos, size))
        pos += size
    return out


def without_moov(src: Path, dest: Path) -> Path:
    """``src`` (moov at the end) with its moov box gone and every sample intact: what a
    recorder leaves when it is killed before writing the index."""
    data = src.read_bytes()
    kept = b"".join(data[o : o + s] for kind, o, s in _boxes(data) if kind != "moov")
    assert len(kept) < len(data), f"{src}: no moov box to drop"
    dest.write_bytes(kept)
    return dest


def claim_hours(src: Path, dest: Path, hours: float) -> Path:
    """``src`` with the movie header (mvhd, version 0) claiming ``hours``; the samples and
    their tables are untouched, so the streams still last what they really last."""
    data = bytearray(src.read_bytes())
    at = data.find(b"mvhd")
    assert at > 0 and data[at + 4] == 0, f"{src}: no version-0 mvhd box"
    timescale = struct.unpack(">I", data[at + 16 : at + 20])[0]
    struct.pack_into(">I", data, at + 20, int(hours * 3600 * timescale))
    dest.write_bytes(bytes(data))
    return dest


def reencode(src: Path, dest: Path, vf: str, *extra: str) -> Path:
    """``src`` with its picture passed through ``vf`` (audio copied)."""
    ffmpeg(
        "-i", str(src), "-vf", vf, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
        *extra, "-c:a", "copy", str(dest),
    )  # fmt: skip
    return dest


def rotated(src: Path, dest: Path) -> Path:
    """``src``'s picture stored turned 90° clockwise, tagged to be shown turned back: what a
    phone records in portrait. Displayed, it is ``src`` again, upright."""
    stored = dest.with_suffix(".stored.mp4")
    reencode(src, stored, "transpose=clock,format=yuv420p")
    # ffmpeg 5.1 has no -display_rotation; the mp4 muxer turns this tag into a display matrix.
    ffmpeg("-i", str(stored), "-map", "0", "-c", "copy", "-metadata:s:v:0", "rotate=90", str(dest))
    stored.unlink()
    return dest


def corrupt_timing(vtt: str, cue: int) -> str:
    """A hand edit gone wrong: cue number ``cue``'s timing line loses its first colon."""
    lines = vtt.split("\n")
    at = [i for i, line in enumerate(lines) if "-->" in line][cue - 1]
    lines[at] = lines[at].replace(":", "O", 1)
    return "\n".join(lines)


def overlapping(vtt: str, *, by_s: float) -> str:
    """``vtt`` with every cue held ``by_s`` longer, over the next one (rolling captions)."""
    from media.transcript.cues import format_timestamp, parse_cues

    cues = parse_cues(vtt, name="vtt")
    return "WEBVTT\n\n" + "\n".join(
        f"{format_timestamp(c.start_s)} --> {format_timestamp(c.end_s + by_s)}\n"
        f"{c.speaker}: {c.text}\n"
        for c in cues
    )


def grey_frame(path: Path, at_s: float, size: str = "90:160") -> np.ndarray:
    """One frame as displayed (rotation applied, as a player would), grey, scaled to ``size``."""
    from media import ffmpeg as ff

    argv = ff.ffmpeg_base() + ["-ss", f"{at_s}", "-i", str(path), "-frames:v", "1"]
    argv += ["-vf", f"scale={size}", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    return np.frombuffer(ff.run(argv).stdout, np.uint8).astype(float)
