"""Loudness normalisation on real speech, measured on the encoded AAC (EBU R128)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from blocks.settings import PipelineSettings
from media.render import audio, loudness
from media.render.audio import normalise_clip_audio
from tests.helpers import ffmpeg

needs_espeak = pytest.mark.skipif(
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


@needs_espeak
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
        # Within one step of the meter (0.1 LU; the readings are decimals in binary floats).
        assert round(abs(measured.integrated_lufs - target), 6) <= 0.1
        assert measured.true_peak_dbtp <= -1.0
        assert got.renders <= 6
        results.append(measured.integrated_lufs)
    # Spread between a source 20 dB apart, after normalisation.
    assert max(results) - min(results) <= 0.2


# A speech-like tone (170 Hz voice + 510 Hz overtone, syllable-rate modulation): -17.3 LUFS as is.
VOICE = "0.3*sin(2*PI*170*t)*(0.55+0.45*sin(2*PI*3.7*t))+0.1*sin(2*PI*510*t)"


@pytest.mark.parametrize("source_lufs", [-35.0, -23.0, -8.0])
def test_quiet_normal_and_loud_sources_land_within_the_configured_tolerance(
    tmp_path, source_lufs
) -> None:
    settings = PipelineSettings()
    raw = tmp_path / "raw.wav"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc='{VOICE}':s=48000:d=6", "-c:a", "pcm_f32le", str(raw))
    gain = source_lufs - loudness.measure(str(raw)).integrated_lufs
    src = tmp_path / "src.wav"
    ffmpeg("-i", str(raw), "-af", f"volume={gain:.3f}dB", "-c:a", "pcm_s16le", str(src))
    assert loudness.measure(str(src)).integrated_lufs == pytest.approx(source_lufs, abs=0.2)

    got = normalise_clip_audio(
        str(src),
        tmp_path / "clip.m4a",
        start_s=0.5,
        duration_s=5.0,
        target_lufs=settings.target_lufs,
        ceiling_dbtp=settings.max_true_peak_dbtp,
    )
    measured = loudness.measure(got.path)
    assert abs(measured.integrated_lufs - settings.target_lufs) <= settings.lufs_tolerance
    assert measured.true_peak_dbtp <= settings.max_true_peak_dbtp


# Real recordings whose encoded AAC overshot the −1 dBTP ceiling by up to 0.1 dB after the
# limiter (the limiter holds the PCM 0.5 dB under it): each must be rendered again, lower.
OVERSHOOTING = ["video/talking_head/videoretalking__face1.mp4",
                "speech/conversation/fasterwhisper__stereo_diarization.wav"]  # fmt: skip


@pytest.mark.parametrize("name", OVERSHOOTING)
def test_real_clips_whose_encode_overshoots_are_rendered_again_under_the_ceiling(
    name, tmp_path
) -> None:
    import os
    from pathlib import Path

    root = os.environ.get("CLIPFLOW_REAL_MEDIA")
    if not root:
        pytest.skip("CLIPFLOW_REAL_MEDIA is not set: real-media tier skipped")
    got = normalise_clip_audio(
        str(Path(root, name)), tmp_path / "clip.m4a", start_s=0.0, duration_s=5.0,
        target_lufs=-14.0, ceiling_dbtp=-1.0,
    )  # fmt: skip
    measured = loudness.measure(got.path)
    assert measured.true_peak_dbtp <= -1.0
    assert abs(measured.integrated_lufs + 14.0) <= 0.5  # the QA gate's loudness tolerance


# Speech-like tones whose peaks the limiter must hold at −14 LUFS, so the limiter takes loudness
# off and a gain from the window's own loudness misses the target (it took 2 and 3 renders).
LIMITED = {
    "voice with clicks": "0.2*sin(2*PI*170*t)*(0.55+0.45*sin(2*PI*3.7*t))"
    "+0.05*sin(2*PI*510*t)+0.7*sin(2*PI*900*t)*lt(mod(t,0.37),0.015)",
    "bursts": "0.1*sin(2*PI*170*t)+0.8*sin(2*PI*300*t)*lt(mod(t,1.3),0.08)",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    d = tmp_path_factory.mktemp("limited")
    out = {}
    for name, expr in LIMITED.items():
        out[name] = d / f"{name.replace(' ', '-')}.wav"
        ffmpeg("-f", "lavfi", "-i", f"aevalsrc='{expr}':s=48000:d=8", "-c:a", "pcm_f32le",
               str(out[name]))  # fmt: skip
    return out


@pytest.mark.parametrize("name", sorted(LIMITED))
def test_the_gain_found_before_the_encode_lands_in_one_render(limited, tmp_path, name) -> None:
    settings = PipelineSettings()
    got = normalise_clip_audio(
        str(limited[name]), tmp_path / "clip.m4a", start_s=0.5, duration_s=6.0,
        target_lufs=settings.target_lufs, ceiling_dbtp=settings.max_true_peak_dbtp,
    )  # fmt: skip
    assert got.renders == 1, got
    assert 1 <= got.previews <= 2, got
    measured = loudness.measure(got.path)  # the shipped file, measured independently
    assert round(abs(measured.integrated_lufs - settings.target_lufs), 6) <= 0.1
    assert measured.true_peak_dbtp <= settings.max_true_peak_dbtp


def test_a_first_render_that_misses_the_target_is_corrected(limited, tmp_path, monkeypatch) -> None:
    """The encoded file is still verified: a first render 0.5 dB off (as if the encoder had
    moved it) is measured, and the second render, stepped by the previewed slope, lands."""
    found = audio.preview_gain

    def off_by_half_a_db(*args, **kwargs):
        p = found(*args, **kwargs)
        return audio.GainPreview(p.gain_db + 0.5, p.slope, p.previews)

    monkeypatch.setattr(audio, "preview_gain", off_by_half_a_db)
    got = normalise_clip_audio(
        str(limited["voice with clicks"]), tmp_path / "clip.m4a", start_s=0.5, duration_s=6.0,
        target_lufs=-14.0, ceiling_dbtp=-1.0,
    )  # fmt: skip
    assert got.renders == 2, got
    measured = loudness.measure(got.path)
    assert round(abs(measured.integrated_lufs + 14.0), 6) <= 0.1
    assert measured.true_peak_dbtp <= -1.0


@pytest.mark.parametrize(
    ("gain", "measured", "previous", "slope", "expected"),
    [
        (6.0, -14.6, None, 1.0, (6.6, 1.0)),  # first step: the slope given
        (6.6, -14.3, (6.0, -14.6), 1.0, (7.2, 0.5)),  # 0.6 dB bought 0.3 LU: slope 0.5
        (6.6, -14.55, (6.0, -14.6), 0.5, (7.7, 0.5)),  # moved under two meter steps: kept
        (6.6, -14.58, (6.0, -14.7), 1.0, (6.6 + 0.58, 1.0)),  # bounded above by 1
        (9.0, -14.5, (6.0, -14.8), 1.0, (11.0, 0.25)),  # bounded below by 0.25
    ],
)
def test_secant_step(gain, measured, previous, slope, expected) -> None:
    step, learnt = audio.secant_step(gain, measured, previous, slope, -14.0)
    assert (step, learnt) == pytest.approx(expected)


def test_the_preview_meters_the_render_chain_without_the_encoder() -> None:
    chain = audio.clip_audio_chain(duration_s=6.0, gain_db=3.0, ceiling_dbtp=-1.0)
    argv = loudness.ebur128_argv("in.wav", seek_s=0.5, duration_s=6.0, pre_filter=chain,
                                 true_peak=False)  # fmt: skip
    assert argv[argv.index("-filter:a") + 1] == f"{chain},ebur128=peak=none"
    assert argv[-3:] == ["-f", "null", "-"] and "aac" not in argv
    render = audio.clip_audio_argv("in.wav", "o.m4a", start_s=0.5, duration_s=6.0, gain_db=3.0,
                                   ceiling_dbtp=-1.0)  # fmt: skip
    assert render[render.index("-filter:a") + 1] == chain
