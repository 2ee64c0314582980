"""Generated media shared by the test packages: the sample recordings, composed face frames and
synthetic face detections. One place, so every test builds its inputs the same way.

Sample recordings are made once per (minutes, seed) for the whole test session, and all of them
share one generator work folder: its speech (espeak-ng) and video-chunk caches are keyed by
content, so only the session's first sample pays for them (~15-20 s here); every later one, any
length or seed, takes about a second. Modules that render and measure their own clips use their
own seed, so their renders never fill the cache that another module measures.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media.framing.detection import Box
from media.framing.tracks import Analysis, FaceObs, Sample
from media.sample.generator import FACE_PHOTO, SampleRecording, make_sample

# --- sample recordings --------------------------------------------------------------------------

_SAMPLES: dict[tuple[float, int], SampleRecording] = {}
_WORKDIR: list[Path] = []  # the session's generator work folder, made on first use


def generator_workdir(factory: pytest.TempPathFactory) -> Path:
    """The generator's work folder (speech and video-chunk caches) shared by the session."""
    if not _WORKDIR:
        _WORKDIR.append(factory.mktemp("sample-generator-cache"))
    return _WORKDIR[0]


def sample_recording(
    factory: pytest.TempPathFactory, *, minutes: float, seed: int
) -> SampleRecording:
    """The generated two-person recording with its WebVTT sidecar, made once per session."""
    key = (minutes, seed)
    if key not in _SAMPLES:
        folder = factory.mktemp(f"sample-{minutes:g}min-seed{seed}")
        _SAMPLES[key] = make_sample(
            folder / "talk.mp4", minutes=minutes, seed=seed, workdir=generator_workdir(factory)
        )
    return _SAMPLES[key]


def sample_fixture(*, minutes: float, seed: int) -> Callable[..., SampleRecording]:
    """A module-scoped ``sample`` fixture for a test module: ``sample = sample_fixture(...)``."""

    @pytest.fixture(scope="module")
    def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleRecording:
        return sample_recording(tmp_path_factory, minutes=minutes, seed=seed)

    return sample


# --- composed face frames -----------------------------------------------------------------------

# Where the face sits in the photo, as shares of its side (centre x, centre y, width).
FACE_IN_PHOTO = (0.495, 0.38, 0.26)
BLUE = (0xC0, 0x50, 0x20)  # BGR of the render tests' background


def face_image() -> np.ndarray:
    """The public-domain astronaut portrait (repo asset), else the shared copy, else skip."""
    import cv2

    if FACE_PHOTO.exists():
        return cv2.imread(str(FACE_PHOTO))
    real = os.environ.get("CLIPFLOW_REAL_MEDIA")
    if real and Path(real, "faces", "skimage__astronaut.png").exists():
        return cv2.imread(str(Path(real, "faces", "skimage__astronaut.png")))[4:324, 63:383]
    pytest.skip(f"no face image: {FACE_PHOTO} missing and $CLIPFLOW_REAL_MEDIA unset")


def compose(w: int, h: int, photo: int, x: int, y: int) -> tuple[np.ndarray, Box]:
    """A ``w``×``h`` blue frame with the photo (``photo`` px square) at (x, y); the true box."""
    import cv2

    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = BLUE
    small = cv2.resize(face_image(), (photo, photo), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + photo), min(h, y + photo)
    frame[y0:y1, x0:x1] = small[y0 - y : y1 - y, x0 - x : x1 - x]
    fx, fy, fw = FACE_IN_PHOTO
    return frame, Box(x + (fx - fw / 2) * photo, y + (fy - fw / 2) * photo, fw * photo, fw * photo)


# --- synthetic detections -----------------------------------------------------------------------

FPS = 5.0

# (cx, cy, width, mouth motion) of each face at time t; None: not detected then.
FacesAt = Callable[[float, int], list[tuple[float, float, float, float] | None]]


def analysis(
    faces_at: FacesAt,
    duration: float = 10.0,
    fps: float = FPS,
    size: tuple[int, int] = (1920, 1080),
) -> Analysis:
    """A clip's analysis (``size``, 1920×1080) with the faces ``faces_at`` puts in each sample."""
    samples = []
    for i in range(int(round(duration * fps))):
        t = i / fps
        obs = tuple(
            FaceObs(Box(cx - w / 2, cy - w / 2, w, w, 5.0), m)
            for face in faces_at(t, i)
            if face is not None
            for cx, cy, w, m in [face]
        )
        samples.append(Sample(t, obs))
    return Analysis(size[0], size[1], fps, duration, tuple(samples))


def talking(
    active: Callable[[float], bool], *, quiet: float, loud: float, seed: int
) -> Callable[[float], float]:
    """Mouth motion: a noise floor at rest; while talking anywhere from closed to wide open."""
    rng = np.random.default_rng(seed)
    return lambda t: loud * rng.uniform(0.1, 1.6) if active(t) else quiet * rng.uniform(0.8, 1.2)


# (x, y, w, h) of a call tile in source pixels.
Tile = tuple[int, int, int, int]


def gallery_tiles(size: tuple[int, int], gap: int = 0) -> list[Tile]:
    """The four tiles of a 2×2 call gallery filling ``size``, ``gap`` px between them (and
    half of it at the frame's edges), left to right, top to bottom."""
    w, h = size[0] // 2, size[1] // 2
    return [(k % 2 * w + gap // 2, k // 2 * h + gap // 2, w - gap, h - gap) for k in range(4)]


def gallery(
    order: list[int],
    *,
    size: tuple[int, int] = (1920, 1080),
    gap: int = 0,
    turn_s: float = 4.0,
    outlined: bool = True,
    face_share: float = 0.2,
) -> tuple[Analysis, list[Tile], list[tuple[float, float]]]:
    """A 2×2 call gallery's analysis: one face per tile (``face_share`` of its width,
    centred, in its upper half), tile ``order[k]`` speaking during ``[k, k + 1) × turn_s`` with its
    mouth moving and, with ``outlined``, the call app's outline round it.

    Returns the analysis, the tiles and the face centres.
    """
    tiles = gallery_tiles(size, gap)
    centres = [(x + w / 2, y + 0.45 * h) for x, y, w, h in tiles]
    face_w = tiles[0][2] * face_share

    def speaker(t: float) -> int:
        return order[min(int(t // turn_s), len(order) - 1)]

    mouths = [
        talking(lambda t, k=k: speaker(t) == k, quiet=0.002, loud=0.03, seed=k) for k in range(4)
    ]

    def faces(t: float, i: int) -> list[tuple[float, float, float, float] | None]:
        return [(cx, cy, face_w, mouths[k](t)) for k, (cx, cy) in enumerate(centres)]

    a = analysis(faces, duration=turn_s * len(order), size=size)
    if outlined:
        outlines = tuple(tuple(map(float, tiles[speaker(s.t)])) for s in a.samples)
        a = replace(a, outlines=outlines)  # type: ignore[arg-type]
    return a, tiles, centres
