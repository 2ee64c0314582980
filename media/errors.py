"""The error hierarchy: every failure clipflow raises names the input and the problem."""

from __future__ import annotations


class ClipflowError(Exception):
    """Root of every error clipflow raises on purpose."""


class InputError(ClipflowError):
    """The input (a recording, a transcript, a URI, a parameter) is unusable; the job is rejected.

    Deterministic: retrying cannot help.
    """


class MediaError(ClipflowError):
    """A media operation failed on input that was accepted."""


class FFmpegError(MediaError):
    """ffmpeg or ffprobe exited non-zero; carries the command and the tail of stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-12:])
        super().__init__(f"{argv[0]} exited with {returncode}: {' '.join(argv)}\n{tail}".rstrip())


class QAError(ClipflowError):
    """The produced clips failed the QA gate."""


class StorageError(ClipflowError):
    """Reading or writing object storage failed (often transient)."""
