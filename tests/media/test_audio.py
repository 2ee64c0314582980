"""Loudness normalisation on real speech, measured on the encoded AAC (EBU R128)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from media import loudness
from media.audio import normalise_clip_audio

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (./dev installs it)"
)

TEXT = (
    "Loudness normalisation makes every clip sound equally loud. Speech has pauses, "
    "plosives and peaks that a limiter must catch without pumping. This sentence is here "
    "to make the clip long enough for a meaningful integrated measurement."
)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """One speech file, and copies 12 dB quieter and 8 dB louder than it."""
    d = tmp_path_factory.mktemp("speech")
    raw = d / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), TEXT], check=True)
    out = {}
    for name, gain in (("quiet", -12), ("loud", 8)):
        out[name] = d / f"{name}.m4a"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-i",
                str(raw),
                "-af",
                f"volume={gain}dB",
                "-ar",
                "48000",
                "-c:a",
                "aac",
                str(out[name]),
            ],
            check=True,
        )
    return out


@pytest.mark.parametrize("target", [-14.0, -16.0])
def test_clips_land_on_target_and_under_the_true_peak_ceiling(speech, tmp_path, target) -> None:
    results = []
    for name, path in speech.items():
        got = normalise_clip_audio(
            str(path),
            tmp_path / f"{name}.m4a",
            start_s=0.0,
            duration_s=12.0,
            target_lufs=target,
            ceiling_dbtp=-1.0,
        )
        measured = loudness.measure(got.path)  # re-measure the shipped file independently
        assert measured.integrated_lufs == pytest.approx(target, abs=0.1)
        assert measured.true_peak_dbtp <= -1.0
        assert got.renders <= 6
        results.append(measured.integrated_lufs)
    # Spread between a source 20 dB apart, after normalisation.
    assert max(results) - min(results) <= 0.2
