"""Accepting a source, on real ffmpeg output: what is accepted, what is rejected and why."""

from __future__ import annotations

import hashlib
import os

import pytest

from media.errors import FFmpegError, InputError
from media.ffmpeg import run
from media.ingest import accept
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
        (lambda d, t: _truncate(d / "good.mp4", t / "cut.mp4", 0.5), "not a readable"),
        (
            lambda d, t: _truncate(d / "faststart.mp4", t / "cut_fs.mp4", 0.5),
            "truncated or corrupt",
        ),
        (
            lambda d, t: _truncate(d / "faststart.mp4", t / "cut_fs90.mp4", 0.9),
            "truncated or corrupt",
        ),
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
        "directory",
    ],
)
def test_rejections_name_the_input_and_the_problem(media_dir, tmp_path, make, reason) -> None:
    src = make(media_dir, tmp_path)
    with pytest.raises(InputError, match=reason) as err:
        accept(src, tmp_path / "sources", uri=f"user/{src.name}", min_duration_s=15)
    assert f"user/{src.name}" in str(err.value)


def test_playlists_cannot_make_ffmpeg_read_other_files(media_dir, tmp_path) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes((media_dir / "good.mp4").read_bytes())
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:20\n#EXTINF:20,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    )
    concat = tmp_path / "evil.ffconcat"
    concat.write_text(f"ffconcat version 1.0\nfile '{secret}'\n")
    for src in (playlist, concat):
        with pytest.raises(InputError, match="not a readable media file"):
            accept(src, tmp_path / "sources", uri=str(src), min_duration_s=15)


def test_runner_error_carries_command_and_stderr(tmp_path) -> None:
    with pytest.raises(FFmpegError) as err:
        run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "nope.mp4"), "-f", "null", "-"])
    assert "nope.mp4" in str(err.value) and err.value.returncode != 0
    assert "No such file" in err.value.stderr
