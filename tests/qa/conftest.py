"""Generated clips for the QA tests: compliant clips and files that break one rule each.

Media is small (360×640) and generated once per session: the compliant clip is 16 s (a valid
clip length under the default thresholds); the rule-breaking files are 4 s and are judged with
``short_settings`` (shortest clip 3 s) so the suite stays fast. The face is composed from
``media/sample/assets/astronaut_face.jpg`` (public domain); when that file is missing, from the
real-media folder if ``$CLIPFLOW_REAL_MEDIA`` is set; otherwise the clips show ``testsrc2``,
the face threshold is relaxed to 0 and the tests that need a face skip, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from blocks.settings import PipelineSettings
from media.sample.generator import FACE_PHOTO
from qa.records import ClipMeasurements
from tests.helpers import ffmpeg

REPO = Path(__file__).resolve().parents[2]
FACE_ASSET = FACE_PHOTO
REAL_MEDIA_ENV = "CLIPFLOW_REAL_MEDIA"
WIDTH, HEIGHT = 360, 640
FULL_S, SHORT_S = 16.0, 4.0
TARGET_LUFS = -14.0
BT709 = ("bt709", "bt709", "bt709", "tv")
# x264's HDR10 SEI: mastering display (P3 primaries, D65, 1000/0.0001 nits) + content light.
HDR10_PARAMS = (
    "mastering-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)"
    "L(10000000,1):cll=1000,400"
)


def real_media() -> Path | None:
    root = os.environ.get(REAL_MEDIA_ENV)
    return Path(root) if root and Path(root).is_dir() else None


@dataclass(frozen=True)
class Variant:
    """How a generated clip is encoded; the defaults make a compliant 4 s clip."""

    fps: int = 30
    pix_fmt: str = "yuv420p"
    profile: str = "high"
    level: str = "4.0"
    colour: tuple[str, str, str, str] | None = BT709  # primaries, transfer, matrix, range
    x264_params: str | None = None
    gain_db: float = 0.0  # relative to the loudness target
    face_x: float = 0.5  # face centre as a share of the width
    duration_s: float = SHORT_S


FULL = Variant(duration_s=FULL_S)


@dataclass(frozen=True)
class FacePhoto:
    path: Path
    scaled_w: int  # the photo's width in the clip
    face_cx: float  # face centre x in the scaled photo
    face_cy: float


class ClipFactory:
    """Builds (and caches, by name) the session's clips in ``root``."""

    def __init__(self, root: Path, face: FacePhoto | None) -> None:
        self.root = root
        self.face = face
        self._gain0: dict[float, float] = {}
        self._measured: dict[Path, ClipMeasurements] = {}

    def measure(self, path: Path) -> ClipMeasurements:
        """measure_clip with default settings, once per file per session."""
        from qa.measure import measure_clip

        if path not in self._measured:
            self._measured[path] = measure_clip(path, PipelineSettings())
        return self._measured[path]

    # -- audio: speech-like (voiced harmonics + band-limited noise, syllable-rate envelope) --
    def _source_wav(self) -> Path:
        wav = self.root / "speechlike.wav"
        if not wav.exists():
            voiced = (
                "aevalsrc='0.25*(sin(2*PI*140*t)+0.5*sin(2*PI*280*t)+0.3*sin(2*PI*420*t)"
                f"+0.2*sin(2*PI*700*t))':s=48000:d={FULL_S}"
            )
            ffmpeg(
                "-f",
                "lavfi",
                "-i",
                f"anoisesrc=color=pink:amplitude=0.3:duration={FULL_S}:sample_rate=48000:seed=7",
                "-f",
                "lavfi",
                "-i",
                voiced,
                "-filter_complex",
                "[0:a]bandpass=f=1200:w=2000:t=h[n];[n][1:a]amix=inputs=2:normalize=0,"
                "volume='0.1+0.9*pow(abs(sin(2*PI*2.1*t)),2)*gt(sin(2*PI*0.9*t),-0.8)'"
                ":eval=frame,aformat=channel_layouts=stereo",
                "-c:a",
                "pcm_f32le",
                str(wav),
            )
        return wav

    def _encode_audio(self, out: Path, gain_db: float, duration_s: float) -> None:
        ffmpeg(
            "-t",
            f"{duration_s}",
            "-i",
            str(self._source_wav()),
            "-af",
            f"volume={gain_db:.3f}dB",
            "-c:a",
            "aac",
            "-b:a",
            "160k",
            str(out),
        )

    def audio(self, gain_db: float, duration_s: float) -> Path:
        """AAC at the target loudness (+ ``gain_db``), measured on the encoded file."""
        from media.render.loudness import measure

        out = self.root / f"audio{gain_db:+.1f}-{duration_s:g}s.m4a"
        if out.exists():
            return out
        if duration_s not in self._gain0:  # correct the gain on the encode until < 0.05 LU
            trial = self.root / f"audio-trial-{duration_s:g}s.m4a"
            gain = 0.0
            for _ in range(4):
                self._encode_audio(trial, gain, duration_s)
                error = TARGET_LUFS - measure(str(trial)).integrated_lufs
                if abs(error) < 0.05:
                    break
                gain += error
            self._gain0[duration_s] = gain
        self._encode_audio(out, self._gain0[duration_s] + gain_db, duration_s)
        return out

    # -- video ---------------------------------------------------------------------------------
    def _picture_args(self, v: Variant) -> tuple[list[str], str]:
        """Inputs and the filter graph drawing the picture (a face on a plain background)."""
        size, dur = f"{WIDTH}x{HEIGHT}", f"{v.duration_s}"
        if self.face is None:
            return (
                ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={v.fps}:d={dur}"],
                f"[0:v]format={v.pix_fmt}[v]",
            )
        x = v.face_x * WIDTH - self.face.face_cx
        y = HEIGHT * 0.4 - self.face.face_cy
        return (
            [
                "-f",
                "lavfi",
                "-i",
                f"color=c=0x2c3e50:s={size}:r={v.fps}:d={dur}",
                "-loop",
                "1",
                "-framerate",
                str(v.fps),
                "-i",
                str(self.face.path),
            ],
            f"[1:v]scale={self.face.scaled_w}:-2[f];"
            f"[0:v][f]overlay=x={x:.1f}+3*sin(2*PI*t/4):y={y:.1f}:shortest=1,"
            f"format={v.pix_fmt}[v]",
        )

    def clip(self, name: str, v: Variant = Variant()) -> Path:
        out = self.root / f"{name}.mp4"
        if out.exists():
            return out
        inputs, graph = self._picture_args(v)
        audio_index = 2 if self.face is not None else 1
        colour: list[str] = []
        if v.colour:
            prim, trc, mat, rng = v.colour
            colour = [
                "-color_primaries",
                prim,
                "-color_trc",
                trc,
                "-colorspace",
                mat,
                "-color_range",
                rng,
            ]
        x264 = ["-x264-params", v.x264_params] if v.x264_params else []
        ffmpeg(
            *inputs,
            "-i",
            str(self.audio(v.gain_db, v.duration_s)),
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            f"{audio_index}:a",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            v.profile,
            "-level:v",
            v.level,
            "-g",
            str(2 * v.fps),
            *colour,
            *x264,
            "-c:a",
            "copy",
            "-shortest",
            "-movflags",
            "+faststart",
            str(out),
        )
        return out

    # -- damage ----------------------------------------------------------------------------------
    def flipped(self) -> Path:
        """A compliant 4 s clip with 16 bytes flipped in the last 15 % of every keyframe.

        The tail of a keyframe packet is IDR slice data (x264 writes one slice per frame), and
        it codes the bottom of the picture: the decoder must notice, the face stays intact.
        """
        out = self.root / "flipped.mp4"
        if not out.exists():
            src = self.clip("short", Variant())
            listing = subprocess.run(
                [
                    "ffprobe",
                    "-v",
                    "error",
                    "-select_streams",
                    "v:0",
                    "-show_entries",
                    "packet=pos,size,flags",
                    "-of",
                    "json",
                    str(src),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            data = bytearray(src.read_bytes())
            for packet in json.loads(listing)["packets"]:
                if packet["flags"].startswith("K"):
                    pos, size = int(packet["pos"]), int(packet["size"])
                    for k in range(16):
                        data[pos + int(size * (0.85 + 0.12 * k / 16))] ^= 0x5A
            out.write_bytes(bytes(data))
        return out

    def truncated(self, keep: float = 0.6) -> Path:
        """A compliant 4 s clip (moov up front) cut short: the tail of mdat is missing."""
        out = self.root / "truncated.mp4"
        if not out.exists():
            data = self.clip("short", Variant()).read_bytes()
            out.write_bytes(data[: int(len(data) * keep)])
        return out


def _face_photo() -> FacePhoto | None:
    if FACE_ASSET.is_file():
        path = FACE_ASSET
    elif (root := real_media()) and (root / "faces" / "skimage__astronaut.png").is_file():
        path = root / "faces" / "skimage__astronaut.png"
    else:
        return None
    import cv2

    from media.framing.detection import detect_faces

    image = cv2.imread(str(path))
    faces = detect_faces(image) if image is not None else []
    if not faces:
        return None
    scaled_w = int(WIDTH * 0.75) // 2 * 2
    face = max(faces, key=lambda b: b.area).scaled(scaled_w / image.shape[1])
    return FacePhoto(path, scaled_w, face.cx, face.cy)


@pytest.fixture(scope="session")
def face_photo() -> FacePhoto | None:
    return _face_photo()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, face_photo: FacePhoto | None) -> ClipFactory:
    return ClipFactory(tmp_path_factory.mktemp("qa-clips"), face_photo)


@pytest.fixture(scope="session")
def need_face(face_photo: FacePhoto | None) -> FacePhoto:
    if face_photo is None:
        pytest.skip(f"no face photo: {FACE_ASSET} is missing and ${REAL_MEDIA_ENV} is unset")
    return face_photo


@pytest.fixture(scope="session")
def settings(face_photo: FacePhoto | None) -> PipelineSettings:
    """Default thresholds; without a face photo the face check is relaxed to 0."""
    if face_photo is None:
        return PipelineSettings(min_face_centered_ratio=0.0)
    return PipelineSettings()


@pytest.fixture(scope="session")
def short_settings(settings: PipelineSettings) -> PipelineSettings:
    """``settings`` with clips from 3 s allowed, to judge the 4 s rule-breaking files."""
    return settings.model_copy(update={"min_clip_s": 3.0})


@pytest.fixture(scope="session")
def ebu_dir() -> Path:
    root = real_media()
    if root is None or not (root / "loudness").is_dir():
        pytest.skip(
            f"${REAL_MEDIA_ENV} is unset or has no loudness/ folder: EBU Tech 3341 reference "
            "signals not available"
        )
    return root / "loudness"
