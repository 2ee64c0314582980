"""Small helpers shared by the test packages."""

from __future__ import annotations

import subprocess


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly to make test media; fail the test with its stderr if it fails."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True
    )
