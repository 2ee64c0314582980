"""The one place ffmpeg and ffprobe run.

Everything else builds argv as pure data (``list[str]``) and hands it here, so most of the code
can be tested without ffmpeg and every failure carries its command and stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from media import cpu
from media.errors import FFmpegError, MediaError

# Inputs are read only from local files (and pipes we open ourselves): a crafted playlist or
# concat list can then not make ffmpeg read the network or other protocols.
INPUT_PROTOCOLS = "file,pipe"
# Demuxers accepted for a source recording. Playlists (hls, concat, …) and image sequences are
# not: they would make ffmpeg open other files.
SOURCE_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,wav,mp3,aac,ogg,flac,"
    "mxf,asf,mpeg,h264,hevc,m4v"
)
DEFAULT_TIMEOUT_S = 3600.0


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished ffmpeg/ffprobe run."""

    argv: tuple[str, ...]
    stdout: bytes
    stderr: str


def require_binaries() -> None:
    """Fail early, naming what to install, when ffmpeg or ffprobe are not on PATH."""
    missing = [b for b in ("ffmpeg", "ffprobe") if shutil.which(b) is None]
    if missing:
        raise MediaError(
            f"{' and '.join(missing)} not found on PATH: install ffmpeg "
            "(Debian/Ubuntu: apt-get install ffmpeg)"
        )


def run(
    argv: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    stdin: bytes | None = None,
    capture_stdout: bool = True,
) -> Completed:
    """Run one ffmpeg/ffprobe command; raise :class:`FFmpegError` with stderr on failure.

    The child's CPU time is charged to the calling thread (:mod:`media.cpu`).
    """
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        require_binaries()
        raise
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [threading.Thread(target=_read_into, args=(proc.stderr, err_chunks))]
    if capture_stdout:
        readers.append(threading.Thread(target=_read_into, args=(proc.stdout, out_chunks)))
    for reader in readers:
        reader.daemon = True
        reader.start()
    if stdin is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
        except BrokenPipeError:
            pass
        proc.stdin.close()
    returncode = _reap(proc, timeout_s)
    for reader in readers:
        reader.join()
    stderr = b"".join(err_chunks).decode("utf-8", "replace")
    if returncode is None:
        raise FFmpegError(argv, -9, f"timed out after {timeout_s:.0f} s\n{stderr}")
    if returncode != 0:
        raise FFmpegError(argv, returncode, stderr)
    return Completed(tuple(argv), b"".join(out_chunks), stderr)


def _read_into(pipe: IO[bytes] | None, chunks: list[bytes]) -> None:
    """Read a child's pipe to its end (run in a thread, so neither pipe can fill and block)."""
    assert pipe is not None
    chunks.append(pipe.read())


def _reap(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """Wait for the child (killing it after ``timeout_s``) with ``os.wait4``, so its own CPU
    time can be charged; returns its exit code, or None when it was killed for time."""
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timed_out = not timer.is_alive()
        timer.cancel()
    cpu.add_child_seconds(cpu.rusage_seconds(usage))
    proc.returncode = os.waitstatus_to_exitcode(status)
    return None if timed_out else proc.returncode


def stream(
    argv: Sequence[str], *, frame_bytes: int, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Iterator[bytes]:
    """Yield fixed-size raw frames from an ffmpeg command that writes them to stdout.

    Memory stays bounded to one frame; the process is reaped and its failure raised.
    """
    argv = [str(a) for a in argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=_read_into, args=(proc.stderr, err_chunks), daemon=True)
    reader.start()
    try:
        while True:
            buf = proc.stdout.read(frame_bytes)
            if len(buf) < frame_bytes:
                break
            yield buf
    finally:
        proc.stdout.close()
        returncode = _reap(proc, timeout_s)
        reader.join(timeout=5)
    stderr = b"".join(err_chunks).decode("utf-8", "replace")
    if returncode is None:
        raise FFmpegError(argv, -9, f"timed out after {timeout_s:.0f} s\n{stderr}")
    if returncode != 0:
        raise FFmpegError(argv, returncode, stderr)


def input_args(
    path: str, *, seek_s: float | None = None, duration_s: float | None = None, source: bool = True
) -> list[str]:
    """The argv that opens one input safely: local protocols only, known demuxers only.

    ``seek_s`` goes before ``-i`` (fast, keyframe-then-decode accurate seeking).
    """
    args = ["-protocol_whitelist", INPUT_PROTOCOLS]
    if source:
        args += ["-format_whitelist", SOURCE_DEMUXERS]
    if seek_s is not None:
        args += ["-ss", f"{seek_s:.3f}"]
    if duration_s is not None:
        args += ["-t", f"{duration_s:.3f}"]
    return args + ["-i", path]


def ffmpeg_base() -> list[str]:
    """Common head of every ffmpeg command: quiet, no stdin, never prompt."""
    return ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
