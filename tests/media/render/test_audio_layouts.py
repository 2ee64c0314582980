"""Audio layouts and A/V timing through the real render: mono, stereo and 5.1 sources, and
audio that starts after or before the video. Every clip must come out AAC 48 kHz stereo, on
the loudness target within the configured tolerance, under the true-peak ceiling, and in sync:
a beep and a white flash made at the same instant in the source stay together in the clip.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from blocks.settings import PipelineSettings
from media import ffmpeg
from media.probe import probe
from media.render import audio, loudness
from media.render.encode import EncodeSpec, render_argv, video_filter
from tests.helpers import ffmpeg as make_media

FPS = 30
FLASH_S = 2.4  # source time of the flash and the beep (a frame boundary at 30 fps)
CLIP = (0.4, 4.0)  # start (a frame boundary), duration
SOURCE_S = 5.0
SETTINGS = PipelineSettings()

# Speech-like: a 170 Hz voice with a 510 Hz overtone, amplitude-modulated at 3.7 Hz like
# syllables; silent for 0.6 s before the beep (1 kHz, 0.2 s) so the beep's onset is clear.
VOICE = "(0.3*sin(2*PI*170*t)*(0.55+0.45*sin(2*PI*3.7*t))+0.1*sin(2*PI*510*t))"


def _voice_and_beep(beep_s: float) -> str:
    quiet = f"between(t,{beep_s - 0.6:.3f},{beep_s + 0.5:.3f})"
    beep = f"between(t,{beep_s:.3f},{beep_s + 0.2:.3f})"
    return f"if({beep},0.5*sin(2*PI*1000*t),if({quiet},0,{VOICE}))"


@dataclass(frozen=True)
class Case:
    name: str
    layout: str  # aevalsrc channel layout
    channels: tuple[str, ...]  # per-channel expressions, with {s} for _voice_and_beep
    audio_delay_s: float = 0.0  # > 0: audio starts later than the video; < 0: earlier


MONO = ("{s}",)
STEREO = ("{s}", "0.8*{s}")
# Dialogue in the centre as in film mixes; a little in the fronts and surrounds, LFE silent.
SURROUND = ("0.3*{s}", "0.3*{s}", "{s}", "0", "0.15*{s}", "0.15*{s}")
CASES = [
    Case("mono", "mono", MONO),
    Case("stereo", "stereo", STEREO),
    Case("5.1", "5.1", SURROUND),
    Case("audio-0.5s-late", "stereo", STEREO, audio_delay_s=0.5),
    Case("audio-0.5s-early", "stereo", STEREO, audio_delay_s=-0.5),
]


def make_source(case: Case, out: Path) -> None:
    """A 160×90 grey video with a white flash at FLASH_S and the audio of ``case``, each
    stream shifted with -itsoffset so both events still happen at FLASH_S in the file."""
    video_shift, audio_shift = max(0.0, -case.audio_delay_s), max(0.0, case.audio_delay_s)
    flash = FLASH_S - video_shift
    video, sound = out.with_suffix(".v.mp4"), out.with_suffix(".a.mp4")
    make_media(
        "-f", "lavfi", "-i", f"color=0x404040:s=160x90:r={FPS}:d={SOURCE_S}",
        "-vf", f"drawbox=c=white:t=fill:enable='between(t,{flash},{flash + 0.19})',format=yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-g", str(FPS), str(video),
    )  # fmt: skip
    expr = _voice_and_beep(FLASH_S - audio_shift)
    channels = "|".join(c.format(s=expr) for c in case.channels)
    make_media(
        "-f", "lavfi", "-i", f"aevalsrc='{channels}':c={case.layout}:s=48000:d={SOURCE_S}",
        "-c:a", "aac", "-b:a", "256k", str(sound),
    )  # fmt: skip
    make_media(
        "-itsoffset", str(video_shift), "-i", str(video),
        "-itsoffset", str(audio_shift), "-i", str(sound),
        "-map", "0:v", "-map", "1:a", "-c", "copy", str(out),
    )  # fmt: skip


def render_clip(src: Path, work: Path) -> Path:
    """The render stage's own sequence: normalise the audio, then one encode muxing it."""
    start, duration = CLIP
    sound = audio.normalise_clip_audio(
        str(src),
        work / "audio.m4a",
        start_s=start,
        duration_s=duration,
        target_lufs=SETTINGS.target_lufs,
        ceiling_dbtp=SETTINGS.max_true_peak_dbtp,
    )
    assert sound.renders <= 4, sound
    vf = video_filter(
        crop_w=50, crop_h=90, x0=55, y0=0, out_w=90, out_h=160, fps=FPS, sendcmd_path=None
    )
    out = work / "clip.mp4"
    ffmpeg.run(
        render_argv(
            str(src), sound.path, str(out), start_s=start, duration_s=duration, vf=vf,
            spec=EncodeSpec("libx264", "veryfast", 20),
        )
    )  # fmt: skip
    return out


def flash_and_beep(path: Path) -> tuple[float, float]:
    """Presentation time of the first bright frame and of the end of the silence before the
    beep, both read in one pass over the file (so on the same timeline)."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path),
         "-map", "0:v", "-vf", "showinfo", "-map", "0:a",
         "-af", "silencedetect=n=-40dB:d=0.3", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    frames = re.findall(r"pts_time:([\d.]+).*?mean:\[(\d+)", done.stderr)
    flash = next(float(t) for t, y in frames if int(y) > 150)
    ends = [float(t) for t in re.findall(r"silence_end: ([\d.]+)", done.stderr)]
    return flash, min(ends, key=lambda t: abs(t - flash))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_layout_and_offset_render_stereo_on_target_and_in_sync(case: Case, tmp_path) -> None:
    src = tmp_path / "src.mp4"
    make_source(case, src)
    flash, beep = flash_and_beep(src)
    assert abs(flash - FLASH_S) < 1e-3 and abs(beep - FLASH_S) < 0.02, "bad test source"

    out = render_clip(src, tmp_path)

    info = probe(out, source=False)
    (a,) = info.audio
    assert (a.codec, a.sample_rate, a.channels) == ("aac", 48_000, 2)
    v = info.video[0]
    assert v.fps == FPS and abs(info.duration_s - CLIP[1]) < 0.05

    measured = loudness.measure(str(out))  # the shipped file, independently of the render
    assert abs(measured.integrated_lufs - SETTINGS.target_lufs) <= SETTINGS.lufs_tolerance
    assert measured.true_peak_dbtp <= SETTINGS.max_true_peak_dbtp

    flash, beep = flash_and_beep(out)
    expected = FLASH_S - CLIP[0]
    assert abs(flash - expected) < 0.5 / FPS, f"flash at {flash:.3f} s, expected {expected}"
    assert abs(beep - flash) <= 0.02, f"A/V off by {1000 * (beep - flash):.0f} ms"
