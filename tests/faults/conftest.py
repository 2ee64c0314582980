"""Fixtures for the fault tests: one short generated recording, and copies of it whose bytes
differ (a metadata tag, stream-copied) so that each test starts with nothing cached.

Cache keys are content (the source's sha256), never paths: two tests on the same bytes would
share every finished stage, and a fault test must see its stages really run.
"""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Recording:
    video: Path
    transcript: Path
    sha256: str
    duration_s: float


@pytest.fixture(scope="session")
def fault_sample(tmp_path_factory) -> Recording:
    """A 30-s two-person recording with its WebVTT sidecar (one clip's worth of talk)."""
    from media.probe import probe
    from tests.generated_media import sample_recording

    made = sample_recording(tmp_path_factory, minutes=0.5, seed=21)
    digest = hashlib.sha256(made.video_path.read_bytes()).hexdigest()
    info = probe(made.video_path, source=False)
    return Recording(made.video_path, made.transcript_path, digest, info.duration_s)


@pytest.fixture
def fresh_recording(fault_sample: Recording, tmp_path: Path) -> Callable[[], Recording]:
    """Makes a copy of the sample with different bytes (same pictures and sound)."""

    def make() -> Recording:
        tag = uuid.uuid4().hex
        video = tmp_path / f"talk-{tag[:8]}.mp4"
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
             "-i", str(fault_sample.video), "-map", "0", "-c", "copy",
             "-metadata", f"comment=fault-test-{tag}", str(video)],
            check=True,
        )  # fmt: skip
        digest = hashlib.sha256(video.read_bytes()).hexdigest()
        assert digest != fault_sample.sha256
        return Recording(video, fault_sample.transcript, digest, fault_sample.duration_s)

    return make
