"""A deterministic two-person "Zoom gallery view" sample recording, for tests and benchmarks.

Speech (:mod:`media.sample.speech`): espeak-ng reads a seeded plan of :mod:`media.sample.script`
in two voices; the mix is written sample-exactly, so the WebVTT sidecar's cue times are the
audio's. Picture (here): three 4 s seamless loops (nobody, host or guest speaking) are rendered
once as 0.5 s chunks that each start on a keyframe; the timeline is those chunks' bytes in order,
stream-copied into the mp4 with the audio. A 45-minute sample costs one audio encode, not 45
minutes of video encoding.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from media import ffmpeg
from media.errors import InputError, MediaError
from media.sample.script import (
    GUEST,
    HOST,
    SPEECH_RATE,
    ScriptLine,
    ScriptTurn,
    build_turns,
    to_webvtt,
)
from media.sample.speech import Speech, write_mix

if TYPE_CHECKING:
    from cv2.typing import MatLike

__all__ = ["ScriptLine", "SampleRecording", "ScriptTurn", "make_sample"]
Floats = npt.NDArray[np.floating[Any]]  # float32 pictures, float64 timing

WIDTH, HEIGHT, FPS = 1920, 1080, 30
CHUNK_FRAMES = 15  # 0.5 s: one closed GOP per chunk, the grid the video timeline snaps to
CHUNK_S = CHUNK_FRAMES / FPS
LOOP_CHUNKS = 8  # every motion is periodic in LOOP_S, so any chunk can follow any other
LOOP_S = LOOP_CHUNKS * CHUNK_S
TILE_W, TILE_H, TILE_GAP = 944, 531, 8  # Zoom's gallery view: two 16:9 tiles side by side
TILE_Y = (HEIGHT - TILE_H) // 2
TILE_X = {HOST: (WIDTH - 2 * TILE_W - TILE_GAP) // 2, GUEST: (WIDTH + TILE_GAP) // 2}
BACKGROUND_BGR = (26, 26, 26)
BORDER_BGR = (50, 205, 154)  # CSS yellowgreen, the colour of Zoom's active-speaker frame
BORDER_PX = 4
STATES = (None, HOST, GUEST)  # who speaks in each rendered loop
FACE_PHOTO = Path(__file__).with_name("assets") / "astronaut_face.jpg"
MOUTH_XY, CHIN_Y = (160.0, 141.0), 174.0  # landmarks in the 320x320 asset, measured once


@dataclass(frozen=True, slots=True)
class SampleRecording:
    """What :func:`make_sample` wrote: the mp4, its WebVTT sidecar and the ground truth."""

    video_path: Path
    transcript_path: Path
    duration_s: float
    turns: tuple[ScriptTurn, ...]


def make_sample(
    out: Path, *, minutes: float, seed: int = 0, workdir: Path | None = None
) -> SampleRecording:
    """Write a ``minutes``-long two-person gallery-view recording to ``out`` (+ ``.vtt``).

    ``workdir`` keeps the speech and video-chunk caches between calls (default: a temp dir).
    """
    if not 0.25 <= minutes <= 600:
        raise InputError(f"minutes={minutes!r}: expected a length from 0.25 to 600 minutes")
    if shutil.which("espeak-ng") is None:
        raise MediaError("espeak-ng not found on PATH: install it (apt-get install espeak-ng)")
    ffmpeg.require_binaries()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="clipflow-sample-") as tmp:
            return _make(Path(out), minutes * 60.0, seed, Path(tmp))
    return _make(Path(out), minutes * 60.0, seed, Path(workdir))


def _make(out: Path, duration_s: float, seed: int, workdir: Path) -> SampleRecording:
    out.parent.mkdir(parents=True, exist_ok=True)
    speech = Speech(workdir / "speech")
    turns = build_turns(duration_s, seed, lambda speaker, text: len(speech.clip(speaker, text)))
    job = Path(tempfile.mkdtemp(prefix="job-", dir=workdir))
    # Muxed beside ``out`` and renamed: the work folder may be on another filesystem (a
    # container's /tmp and a mounted output folder), where a rename cannot reach.
    part = out.with_name(f".{out.name}.part")
    try:
        mix, audio, video = job / "speech.wav", job / "speech.m4a", job / "video.h264"
        write_mix(mix, turns, speech.clip, round(duration_s * SPEECH_RATE))
        with ThreadPoolExecutor(max_workers=1) as pool:  # AAC is single-threaded: overlap it
            encoding = pool.submit(ffmpeg.run, aac_argv(mix, audio))
            chunks = render_chunks(workdir / "video")
            write_video(video, chunk_states(turns, math.ceil(duration_s / CHUNK_S - 1e-9)), chunks)
            encoding.result()
        ffmpeg.run(mux_argv(video, audio, part, duration_s))
        os.replace(part, out)
    finally:
        shutil.rmtree(job, ignore_errors=True)
        part.unlink(missing_ok=True)
    vtt = out.with_suffix(".vtt")
    vtt.write_text(to_webvtt(turns), encoding="utf-8", newline="\n")
    return SampleRecording(out, vtt, duration_s, turns)


# --- timeline -----------------------------------------------------------------------------------


def chunk_states(turns: Iterable[ScriptTurn], n_chunks: int) -> list[int]:
    """Per 0.5 s chunk, the index in :data:`STATES` of whoever speaks at least half of it."""
    cover = np.zeros((len(STATES), n_chunks))
    for turn in turns:
        row = STATES.index(turn.speaker)
        a, b = turn.start_s / CHUNK_S, turn.end_s / CHUNK_S
        for k in range(int(a), min(math.ceil(b), n_chunks)):
            cover[row, k] += min(b, k + 1) - max(a, k)
    best = cover.argmax(axis=0)
    return [int(s) if cover[s, k] >= 0.5 else 0 for k, s in enumerate(best)]


def chunk_name(state: int, index: int) -> str:
    return f"s{state}_{index:02d}.h264"


def write_video(path: Path, states: list[int], chunks: Path) -> None:
    """Timeline chunk k is loop chunk k mod LOOP_CHUNKS of its state, byte for byte.

    Each chunk is a whole Annex B GOP (SPS, PPS, IDR, P frames), so the concatenated bytes are a
    valid stream. Not the concat demuxer: it opens and probes every entry, about 7.5 ms each,
    40 s for the 5,400 chunks of 45 minutes; this takes 0.5 s.
    """
    names = {(s, i) for s in set(states) for i in range(LOOP_CHUNKS)}
    data = {key: (chunks / chunk_name(*key)).read_bytes() for key in names}
    with path.open("wb") as f:
        for k, state in enumerate(states):
            f.write(data[state, k % LOOP_CHUNKS])


def aac_argv(mix: Path, out: Path) -> list[str]:
    """The mix → AAC-LC 48 kHz mono. The fast coder: 2.4x quicker than the default two-loop
    one (16 s instead of 39 s of CPU for 45 minutes), and transparent enough for TTS speech."""
    return [*ffmpeg.ffmpeg_base(), *ffmpeg.input_args(str(mix), source=False),
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k", "-ar", "48000", "-ac", "1",
            "-f", "mp4", str(out)]  # fmt: skip


def mux_argv(video: Path, audio: Path, out: Path, duration_s: float) -> list[str]:
    """Stream-copy the H.264 timeline (at exactly 30 fps) and the AAC into one mp4."""
    return [
        *ffmpeg.ffmpeg_base(),
        # Raw H.264 has no timestamps: -r makes them N/30; there are no B-frames, so pts = dts.
        "-f", "h264", "-r", str(FPS), *ffmpeg.input_args(str(video), source=False),
        *ffmpeg.input_args(str(audio), source=False),
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-bsf:v", "setts=pts=DTS",
        "-t", f"{duration_s:.3f}", "-movflags", "+faststart", "-f", "mp4", str(out),
    ]  # fmt: skip


def encode_argv(out: Path) -> list[str]:
    """Raw BGR frames on stdin → one chunk: H.264 High, BT.709, keyframe first, no B-frames.

    veryfast, not ultrafast: ultrafast silently writes Constrained Baseline.
    """
    return [
        *ffmpeg.ffmpeg_base(),
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{WIDTH}x{HEIGHT}", "-framerate", str(FPS),
        *ffmpeg.input_args("pipe:0", source=False),
        "-vf", "scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd,format=yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "24",
        "-g", str(CHUNK_FRAMES), "-bf", "0",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
        "-color_range", "tv", "-an", "-f", "h264", str(out),
    ]  # fmt: skip


def render_chunks(cache: Path) -> Path:
    """Render and encode every (state, loop chunk) once, in a folder named after this module's
    and the image's content, so a change to either renders afresh."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + FACE_PHOTO.read_bytes()).hexdigest()
    folder = cache / digest[:16]
    todo = [(s, i) for s in range(len(STATES)) for i in range(LOOP_CHUNKS)
            if not (folder / chunk_name(s, i)).exists()]  # fmt: skip
    if not todo:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    scene = _Scene(FACE_PHOTO)

    def encode(job: tuple[int, int]) -> None:
        state, index = job
        frames = range(index * CHUNK_FRAMES, (index + 1) * CHUNK_FRAMES)
        part = folder / f"{chunk_name(state, index)}.{os.getpid()}.part"
        ffmpeg.run(encode_argv(part), stdin=scene.frames(STATES[state], frames).tobytes())
        os.replace(part, folder / chunk_name(state, index))

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(encode, todo))
    return folder


# --- picture ------------------------------------------------------------------------------------


class _Scene:
    """Both tiles, precomputed once, drawn into full gallery-view frames."""

    def __init__(self, asset: Path) -> None:
        import cv2

        face = cv2.imread(str(asset), cv2.IMREAD_COLOR)
        if face is None:
            raise MediaError(f"{asset}: cannot read the face image")
        self.tiles = {  # the guest: mirrored, closer to the camera, cooler room and light
            HOST: _Tile(face, HOST, flip=False, scale=1.62, shift=-30, tint=(120, 150, 185)),
            GUEST: _Tile(face, GUEST, flip=True, scale=1.75, shift=40, tint=(175, 140, 100)),
        }

    def frames(self, speaker: str | None, indices: range) -> npt.NDArray[np.uint8]:
        """BGR frames ``indices`` of the loop in which ``speaker`` talks (None: nobody)."""
        out = np.empty((len(indices), HEIGHT, WIDTH, 3), np.uint8)
        out[:] = BACKGROUND_BGR
        for f, i in enumerate(indices):
            for name, tile in self.tiles.items():
                view = out[f, TILE_Y : TILE_Y + TILE_H, TILE_X[name] : TILE_X[name] + TILE_W]
                tile.draw(view, i, talking=name == speaker)
        return out


def _smoothstep(u: Floats) -> Floats:
    u = np.clip(u, 0.0, 1.0)
    eased: Floats = u * u * (3 - 2 * u)
    return eased


class _Tile:
    """One participant: a sharp head and shoulders over a blurred, tinted copy of the photo
    (Zoom's background blur), with warp fields for body drift and the jaw."""

    def __init__(self, face: MatLike, name: str, *, flip: bool, scale: float, shift: int,
                 tint: tuple[int, int, int]) -> None:  # fmt: skip
        import cv2

        self.name, self.phase = name, 2.1 if flip else 0.0
        side = face.shape[0]
        body = np.zeros(face.shape[:2], np.float32)  # head and body ellipses, feathered
        cv2.ellipse(body, (162, 98), (76, 90), 0, 0, 360, 1.0, -1)
        cv2.ellipse(body, (160, 330), (185, 180), 0, 0, 360, 1.0, -1)
        edge = np.minimum(np.arange(side), side - 1 - np.arange(side)) / np.float32(30)
        mask = cv2.GaussianBlur(body, (0, 0), 6) * _smoothstep(edge).astype(np.float32)
        mouth_x = side - 1 - MOUTH_XY[0] if flip else MOUTH_XY[0]
        if flip:
            face, mask = face[:, ::-1], mask[:, ::-1]
        size = round(side * scale)
        x0, y0 = (TILE_W - size) // 2 + shift, TILE_H - size + round(12 * scale)
        fg = _place(cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC), x0, y0, True)
        alpha = _place(cv2.resize(mask, (size, size)), x0, y0, False)[..., None]
        bg = (
            cv2.GaussianBlur(fg, (0, 0), 24).astype(np.float32) * 0.6
            + np.array(tint, np.float32) * 0.4
        )
        grade = np.array((1.06, 1.0, 0.93) if flip else (1.0, 1.0, 1.0), np.float32)
        self.image = (bg * (1 - alpha) + fg * grade * alpha).clip(0, 255).astype(np.uint8)
        # The body drifts as one piece while the blurred room stays put; the jaw drops from
        # the upper lip down, and the neck below the chin absorbs it.
        self.weight = np.clip(cv2.GaussianBlur(alpha[..., 0], (0, 0), 30) * 1.4, 0, 1)
        self.yy, self.xx = np.mgrid[0:TILE_H, 0:TILE_W].astype(np.float32)
        self.mouth = (x0 + scale * mouth_x, y0 + scale * MOUTH_XY[1], 12 * scale)
        lip, chin = self.mouth[1] - scale, y0 + scale * CHIN_Y
        drop = np.where(self.yy < chin, _smoothstep((self.yy - lip) / (9 * scale)),
                        1 - _smoothstep((self.yy - chin) / (45 * scale)))  # fmt: skip
        across = np.exp(-(((self.xx - self.mouth[0]) / (30 * scale)) ** 2))
        self.jaw_px, self.jaw = 8.0 * scale, (across * drop).astype(np.float32)
        self.syllables = _syllables(np.random.default_rng(7 if flip else 3))

    def draw(self, view: npt.NDArray[np.uint8], frame: int, talking: bool) -> None:
        """Draw loop frame ``frame`` (any integer; it wraps) into ``view``."""
        import cv2

        w, p, t = 2 * math.pi / LOOP_S, self.phase, frame / FPS  # all terms repeat per loop
        dx = 2.0 * math.sin(w * t + p) + 0.5 * math.sin(2 * w * t + 2 * p)
        dy = 1.0 * math.sin(w * t + 1.7 * p) + 0.4 * math.sin(2 * w * t + p)
        opening = float(self.syllables[frame % len(self.syllables)]) if talking else 0.0
        map_x = self.xx - np.float32(dx) * self.weight
        map_y = (
            self.yy - np.float32(dy) * self.weight - np.float32(opening * self.jaw_px) * self.jaw
        )
        view[:] = cv2.remap(self.image, map_x, map_y, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        if opening > 0.05:
            self._mouth_gap(view, dx, dy, opening)
        font = cv2.FONT_HERSHEY_SIMPLEX  # Zoom's name tag: white on a dark box, bottom left
        (tw, th), _ = cv2.getTextSize(self.name, font, 0.7, 1)
        view[TILE_H - th - 24 : TILE_H - 8, 8 : tw + 24] //= 3
        cv2.putText(view, self.name, (16, TILE_H - 16), font, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
        if talking:
            view[:BORDER_PX] = view[-BORDER_PX:] = BORDER_BGR
            view[:, :BORDER_PX] = view[:, -BORDER_PX:] = BORDER_BGR

    def _mouth_gap(self, view: npt.NDArray[np.uint8], dx: float, dy: float, opening: float) -> None:
        """Darken the opening between the lips, as tall as the jaw has dropped."""
        rx, ry = self.mouth[2], max(1.0, 0.5 * opening * self.jaw_px)
        cx, cy = self.mouth[0] + dx, self.mouth[1] + dy + ry
        x1, x2, y1, y2 = int(cx - rx - 2), int(cx + rx + 3), int(cy - ry - 2), int(cy + ry + 3)
        yy, xx = np.mgrid[y1:y2, x1:x2].astype(np.float32)
        m = np.clip((1.0 - ((xx - cx) / rx) ** 2 - ((yy - cy) / ry) ** 2) / 0.5, 0, 1)[..., None]
        roi = view[y1:y2, x1:x2].astype(np.float32)
        view[y1:y2, x1:x2] = (
            roi * (1 - 0.85 * m) + np.array((45, 35, 80), np.float32) * 0.85 * m
        ).astype(np.uint8)


def _syllables(rng: np.random.Generator) -> Floats:
    """Mouth opening (0-1) per frame of one loop: irregular syllables of 0.14-0.26 s (about
    5 Hz), each a bump that closes again, so that no sampling rate sees a steady mouth."""
    lengths = rng.uniform(0.14, 0.26, size=40)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), LOOP_S)]
    edges = np.concatenate([[0.0], np.cumsum(lengths) * LOOP_S / lengths.sum()])
    t = np.arange(LOOP_CHUNKS * CHUNK_FRAMES) / FPS
    k = np.searchsorted(edges, t, side="right") - 1
    peaks = rng.uniform(0.35, 1.0, size=len(edges))
    opening: Floats = peaks[k] * np.sin(np.pi * (t - edges[k]) / (edges[k + 1] - edges[k]))
    return opening


def _place(image: MatLike, x0: int, y0: int, extend: bool) -> MatLike:
    """``image`` put at (x0, y0) of a tile-sized canvas; edges extended or zero outside it."""
    import cv2

    h, w = image.shape[:2]
    top, left = max(y0, 0), max(x0, 0)
    bottom, right = max(TILE_H - y0 - h, 0), max(TILE_W - x0 - w, 0)
    border = cv2.BORDER_REPLICATE if extend else cv2.BORDER_CONSTANT
    big = cv2.copyMakeBorder(image, top, bottom, left, right, border, value=0)
    return big[top - y0 : top - y0 + TILE_H, left - x0 : left - x0 + TILE_W]
