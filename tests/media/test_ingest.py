"""Accepting a source, on real ffmpeg output: what is accepted, what is rejected and why."""

from __future__ import annotations

import hashlib
import os
import re
import struct

import pytest

from media.errors import FFmpegError, InputError
from media.ffmpeg import run
from media.ingest import accept, changed_while_read, check_rules, mp4_problem
from media.probe import probe
from tests.bad_media import claim_hours, without_moov
from tests.helpers import ffmpeg


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ingest")
    av = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=30:d={d}",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d={d}",
    ]
    enc = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    ffmpeg(*[a.format(d=20) for a in av], *enc, str(d / "good.mp4"))
    ffmpeg(*[a.format(d=20) for a in av], *enc, "-movflags", "+faststart", str(d / "faststart.mp4"))
    ffmpeg(*[a.format(d=5) for a in av], *enc, str(d / "short.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=d=20", "-c:a", "aac", str(d / "audio_only.m4a"))
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:d=20",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(d / "video_only.mp4"),
    )
    return d


def test_accepts_and_copies_by_content_hash(media_dir, tmp_path) -> None:
    src = media_dir / "good.mp4"
    before = src.stat().st_mtime_ns, hashlib.sha256(src.read_bytes()).hexdigest()
    got = accept(src, tmp_path / "sources", uri=str(src), min_duration_s=15)
    assert got.sha256 == before[1]
    assert os.path.basename(got.local_path) == f"{got.sha256}.mp4"
    assert got.info.video[0].width == 320 and got.info.audio
    assert abs(got.info.duration_s - 20) < 0.2
    # The source is only read: untouched bytes and mtime.
    assert (src.stat().st_mtime_ns, hashlib.sha256(src.read_bytes()).hexdigest()) == before
    again = accept(src, tmp_path / "sources", uri=str(src), min_duration_s=15)
    assert again.local_path == got.local_path
    assert not list((tmp_path / "sources").glob(".incoming-*"))


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _truncate(src, dest, fraction: float):
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d, t: t / "missing.mp4", "no such file"),
        (lambda d, t: _write(t / "empty.mp4", b""), "empty"),
        (lambda d, t: _write(t / "noise.mp4", os.urandom(50_000)), "not a readable media file"),
        (lambda d, t: d / "audio_only.m4a", "no video stream"),
        (lambda d, t: d / "video_only.mp4", "no audio stream"),
        (lambda d, t: d / "short.mp4", "shorter than the shortest clip"),
        (
            lambda d, t: _truncate(d / "good.mp4", t / "cut.mp4", 0.5),
            r"truncated: .*\(\d+ %\) and its index \(moov atom\) is missing",
        ),
        (
            # The mdat box ends the file: half of it is 50 % (49 % when the size is odd).
            lambda d, t: _truncate(d / "faststart.mp4", t / "cut_fs.mp4", 0.5),
            r"truncated: the 'mdat' box needs \d+ bytes, the file ends at \d+ \((?:49|50) %\)$",
        ),
        (
            lambda d, t: _truncate(d / "faststart.mp4", t / "cut_fs90.mp4", 0.9),
            # the floor of 100 x cut / size: 90 when the size is a multiple of 10, else 89
            r"truncated: the 'mdat' box needs \d+ bytes, the file ends at \d+ \((89|90) %\)$",
        ),
        (
            lambda d, t: without_moov(d / "good.mp4", t / "unfinished.mp4"),
            r"the MP4 index \(moov atom\) is missing \(boxes: ftyp, free, mdat\)",
        ),
        (
            lambda d, t: claim_hours(d / "good.mp4", t / "liar.mp4", 5),
            "header claims 5.0 h but its streams end at 20.0 s",
        ),
        (lambda d, t: _write(t / "list.m3u8", b"#EXTM3U\n"), "an HLS playlist"),
        (lambda d, t: t, "not a regular file"),
    ],
    ids=[
        "missing",
        "zero-bytes",
        "random-bytes",
        "audio-only",
        "video-only",
        "too-short",
        "truncated-moov-at-end",
        "truncated-50",
        "truncated-90",
        "moov-missing",
        "header-longer-than-streams",
        "hls-playlist",
        "directory",
    ],
)
def test_rejections_name_the_input_and_the_problem(media_dir, tmp_path, make, reason) -> None:
    src = make(media_dir, tmp_path)
    with pytest.raises(InputError, match=reason) as err:
        accept(src, tmp_path / "sources", uri=f"user/{src.name}", min_duration_s=15)
    assert f"user/{src.name}" in str(err.value)
    # The user's name for the file, never our private copy's path.
    assert str(tmp_path / "sources") not in str(err.value)
    assert not list((tmp_path / "sources").glob(".incoming-*"))


def test_playlists_cannot_make_ffmpeg_read_other_files(media_dir, tmp_path) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes((media_dir / "good.mp4").read_bytes())
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:20\n#EXTINF:20,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    )
    concat = tmp_path / "evil.ffconcat"
    concat.write_text(f"ffconcat version 1.0\nfile '{secret}'\n")
    for src, kind in ((playlist, "an HLS playlist"), (concat, "an ffmpeg concat list")):
        with pytest.raises(InputError, match=kind):
            accept(src, tmp_path / "sources", uri=str(src), min_duration_s=15)
    # Named .mp4, the same lists are still refused; only the media demuxers are allowed.
    for src in (playlist, concat):
        disguised = src.with_suffix(".mp4")
        disguised.write_bytes(src.read_bytes())
        with pytest.raises(InputError, match="not a recording"):
            accept(disguised, tmp_path / "sources", uri=str(disguised), min_duration_s=15)
        with pytest.raises(InputError, match="not a readable media file"):
            probe(disguised)


def _stat(size: int, mtime_ns: int = 1, ino: int = 7) -> os.stat_result:
    """A stat record: mode, ino, dev, nlink, uid, gid, size, 3 × s, 3 × float s, 3 × ns."""
    return os.stat_result((0o100644, ino, 1, 1, 0, 0, size, 0, 0, 0, 0.0, 0.0, 0.0, 0, mtime_ns, 0))


@pytest.mark.parametrize(
    ("before", "after", "copied", "reason"),
    [
        (_stat(100), _stat(100), 100, None),
        (_stat(100), _stat(200, 2), 200, "100 bytes when the copy began, 200 copied, 200 now"),
        (_stat(100), _stat(100, 2), 100, "modified during the copy"),
        (_stat(100), _stat(100, ino=8), 100, "replaced by another file"),
        (_stat(100), _stat(50), 50, "100 bytes when the copy began, 50 copied, 50 now"),
    ],
    ids=["unchanged", "grew", "rewritten", "replaced", "shrank"],
)
def test_changed_while_read(before, after, copied, reason) -> None:
    got = changed_while_read(before, after, copied)
    assert got is None if reason is None else reason in (got or "")


def test_header_longer_than_streams_is_read_from_the_probe() -> None:
    from media.probe import parse_probe

    data = {
        "format": {"duration": "21600.0", "format_name": "mov,mp4"},
        "streams": [
            {"codec_type": "video", "codec_name": "h264", "width": 320, "height": 240,
             "duration": "16.0"},
            {"codec_type": "audio", "codec_name": "aac", "duration": "15.9"},
        ],
    }  # fmt: skip
    info = parse_probe("x.mp4", data)
    assert info.streams_duration_s == 16.0 and info.duration_s == 21600.0
    with pytest.raises(InputError, match="x.mp4: header claims 6.0 h but its streams end at 16"):
        check_rules(info, label="x.mp4", min_duration_s=15)
    # A container a little longer than its streams (edit lists, padding) is fine.
    data["format"]["duration"] = "16.5"
    check_rules(parse_probe("x.mp4", data), label="x.mp4", min_duration_s=15)


def test_runner_error_carries_command_and_stderr(tmp_path) -> None:
    with pytest.raises(FFmpegError) as err:
        run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "nope.mp4"), "-f", "null", "-"])
    assert "nope.mp4" in str(err.value) and err.value.returncode != 0
    assert "No such file" in err.value.stderr


def _box(kind: bytes, body: bytes = b"", *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(body)) + body
    return struct.pack(">I4s", 8 + len(body), kind) + body


_FTYP = _box(b"ftyp", b"isom")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_FTYP + _box(b"moov", b"x" * 10) + _box(b"mdat", b"y" * 100), None),
        (_FTYP + _box(b"moov") + _box(b"mdat", b"y" * 50, large=True), None),
        (_FTYP + _box(b"moov") + struct.pack(">I4s", 0, b"mdat") + b"z" * 30, None),
        (b"\x1a\x45\xdf\xa3" + bytes(100), None),  # Matroska: ffprobe decides
        (_FTYP + _box(b"moov") + _box(b"mdat", b"y" * 100)[:60], r"'mdat' box needs .* \(\d+ %\)$"),
        (_FTYP + _box(b"mdat", b"y" * 100)[:60], r"\(\d+ %\) and its index \(moov atom\) is miss"),
        (_FTYP + _box(b"mdat", b"y" * 10), r"moov atom\) is missing \(boxes: ftyp, mdat\)"),
        (_FTYP + _box(b"moov") + struct.pack(">I4s", 1, b"mdat") + b"\0\0", "inside the 'mdat'"),
        (_FTYP + struct.pack(">I4s", 3, b"junk") + bytes(10), "box 'junk' at byte 12 has size 3"),
    ],
    ids=["ok", "largesize", "to-eof", "not-mp4", "cut", "cut-no-moov", "no-moov", "cut-header",
         "bad-size"],
)  # fmt: skip
def test_mp4_structure_problems(tmp_path, data, problem) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(data)
    got = mp4_problem(path)
    assert got is None if problem is None else re.search(problem, got or "")
