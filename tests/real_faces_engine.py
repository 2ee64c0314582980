"""The engine of the real-face layout tier (tests/real_faces.py): people loaded from the real
media, a timeline of turns and shots, frames drawn with numpy/OpenCV, the ground truth.

Every picture is a function of the output frame number, so the truth (who speaks when, where
each face is) follows from the same numbers that draw it. Each person's video is read once,
cropped to a square and scaled to :data:`SIDE` px at :data:`FPS`; its face box is the median of
HOG detections (media.framing.detection.detect_faces) on a few of those frames, and a shot
maps it through the placement's scale and offset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media import ffmpeg
from media.framing.detection import detect_faces

FPS = 25
AUDIO_HZ = 48000
SIDE = 512  # each person's square frames, px
LISTEN_SPEED = 0.25  # a speaker listening: their own footage at this speed, back and forth
Rect = tuple[int, int, int, int]  # x, y, w, h in composed pixels
Frames = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Cast:
    """One person: a video (its own audio is its voice) or a photo with a voice file."""

    name: str
    video: str  # relative to the real-media folder: a talking head, a silent video or a photo
    voice: str | None = None  # a speech file for a photo's person
    crop: Rect | None = None  # the photo region (photo px) or the source square (video px)
    listener: bool = False  # never speaks: its own footage plays at normal speed
    max_s: float = 10.0  # read at most this much of the video
    split: int = 1  # speaking turns cut from the voice: this many pieces, cut in pauses


@dataclass(frozen=True, slots=True)
class Place:
    """A person on screen: their square frames' region ``src`` (None: all) scaled into
    ``rect``; ``feather`` blends soft edges over the background (one scene, not tiles)."""

    person: str
    rect: Rect
    src: Rect | None = None
    feather: bool = False


@dataclass(frozen=True, slots=True)
class Shot:
    t0: float
    t1: float
    layout: str  # single, two_shot, gallery, speaker_view, group, screen_share, no_face
    places: tuple[Place, ...] = ()
    highlight: bool = False  # a green border round the tile of whoever is speaking


@dataclass(frozen=True, slots=True)
class Turn:
    t0: float
    t1: float
    person: str
    src_s: float  # where in the person's voice the turn starts


@dataclass(frozen=True, slots=True)
class Timeline:
    turns: list[Turn]
    shots: list[Shot]
    slides: list[tuple[float, float, int]]  # (t0, t1, slide number)


@dataclass
class Actor:
    """A person as loaded: square frames, face box in them, mono audio at AUDIO_HZ."""

    cast: Cast
    frames: Frames  # (n, SIDE, SIDE, 3) BGR
    face: tuple[float, float, float, float]  # x, y, w, h in SIDE px
    audio: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))

    def pieces(self) -> list[tuple[float, float]]:
        """(start, length) of each speaking turn this person's voice gives, cut in pauses."""
        total = len(self.audio) / AUDIO_HZ
        if not self.cast.voice:
            total = min(total, len(self.frames) / FPS)
        cuts = [0.0]
        for k in range(1, self.cast.split):
            cuts.append(quiet_point(self.audio, total * k / self.cast.split))
        cuts.append(total)
        return [(a, b - a) for a, b in zip(cuts, cuts[1:], strict=False)]


@dataclass(frozen=True, slots=True)
class Composition:
    """A shape: who is in it, and how their turns and shots are laid out once loaded."""

    name: str
    cast: tuple[Cast, ...]
    plan: Callable[[dict[str, Actor]], Timeline]
    size: tuple[int, int] = (1280, 720)
    screen: dict[str, Rect] | None = None  # screen shares: the slide and presenter rects
    backdrop: str = "studio"  # or "dark": a video call's background
    about: str = ""


def quiet_point(audio: npt.NDArray[np.float32], near_s: float, within_s: float = 1.5) -> float:
    """The quietest 50 ms within ``within_s`` of ``near_s`` (a pause between words)."""
    hop = AUDIO_HZ // 20
    lo = max(0, int((near_s - within_s) * AUDIO_HZ) // hop)
    hi = min(len(audio) // hop, int((near_s + within_s) * AUDIO_HZ) // hop)
    energy = [float(np.mean(audio[i * hop : (i + 1) * hop] ** 2)) for i in range(lo, hi)]
    return (lo + int(np.argmin(energy)) + 0.5) * hop / AUDIO_HZ if energy else near_s


# --- loading ----------------------------------------------------------------------------------


def _square(w: int, h: int, crop: Rect | None) -> Rect:
    if crop:
        return crop
    s = min(w, h)
    return ((w - s) // 2, (h - s) // 2, s, s)


def _video_frames(path: Path, max_s: float, crop: Rect | None) -> Frames:
    from media.probe import probe

    v = probe(path).video[0]
    x, y, s, _ = _square(v.width, v.height, crop)
    argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(path), duration_s=max_s) + [
        "-map", "0:v:0", "-an", "-sn",
        "-vf", f"fps={FPS},crop={s}:{s}:{x}:{y},scale={SIDE}:{SIDE}:flags=area",
        "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    out = ffmpeg.run(argv, timeout_s=120).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, SIDE, SIDE, 3)


def _audio(path: Path, max_s: float | None) -> npt.NDArray[np.float32]:
    argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(path), duration_s=max_s) + [
        "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(AUDIO_HZ), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    return np.frombuffer(ffmpeg.run(argv, timeout_s=120).stdout, np.float32).copy()


def _median_face(frames: Frames) -> tuple[float, float, float, float]:
    boxes = []
    for i in np.linspace(0, len(frames) - 1, min(len(frames), 7)).astype(int):
        found = detect_faces(frames[i])
        if found:
            b = max(found, key=lambda b: b.w)
            boxes.append((b.x, b.y, b.w, b.h))
    if not boxes:
        raise ValueError("no face found by HOG in any sampled frame")
    x, y, w, h = (round(float(v), 1) for v in np.median(np.array(boxes), axis=0))
    return x, y, w, h


def load_actor(cast: Cast, media: Path) -> Actor:
    """Read one person from the real media (see :class:`Cast`)."""
    import cv2

    path = media / cast.video
    if path.suffix.lower() in (".jpg", ".png"):
        photo = cv2.imread(str(path))
        x, y, w, h = cast.crop or (0, 0, photo.shape[1], photo.shape[0])
        still = cv2.resize(photo[y : y + h, x : x + w], (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        frames = still[None]
    else:
        frames = _video_frames(path, cast.max_s, cast.crop)
    try:
        face = _median_face(frames)
    except ValueError as exc:
        raise ValueError(f"{cast.video}: {exc}") from None
    if cast.voice:
        audio = _audio(media / cast.voice, None)
    elif cast.listener:
        audio = np.zeros(0, np.float32)
    else:
        audio = _audio(path, cast.max_s)
    return Actor(cast, frames, face, audio)


# --- the timeline -----------------------------------------------------------------------------


def alternate(
    actors: dict[str, Actor], order: Sequence[str], *, target_s: float, gap_s: float = 0.6
) -> list[Turn]:
    """Turns in ``order`` (cycled), each the person's next voice piece, ``gap_s`` of silence
    between, until ``target_s`` is reached."""
    turns: list[Turn] = []
    used = dict.fromkeys(order, 0)
    t = gap_s
    while t < target_s:
        person = order[len(turns) % len(order)]
        pieces = actors[person].pieces()
        src, length = pieces[used[person] % len(pieces)]
        used[person] += 1
        turns.append(Turn(round(t, 3), round(t + length, 3), person, round(src, 3)))
        t += length + gap_s
    return turns


def speaking(turns: Sequence[Turn], t: float) -> str | None:
    return next((u.person for u in turns if u.t0 <= t < u.t1), None)


def first_frame(t: float) -> int:
    """The first output frame at or after ``t`` (frame k shows from k / FPS)."""
    return math.ceil(t * FPS - 1e-6)


def frame_indices(actor: Actor, turns: Sequence[Turn], n_frames: int) -> npt.NDArray[np.int64]:
    """Which of the person's frames shows at each output frame: in sync with the voice while
    they speak; otherwise their own footage slowed (a listener's, at normal speed), going on
    from the last frame shown and turning back at either end, so it never jumps (a jump would
    read as a cut, the more so in a speaker view where the person fills the frame)."""
    n = len(actor.frames)
    said = np.full(n_frames, -1, np.int64)
    for u in turns:
        if u.person == actor.cast.name:
            k0, k1 = first_frame(u.t0), min(n_frames, first_frame(u.t1))
            said[k0:k1] = (int(round(u.src_s * FPS)) + np.arange(k1 - k0)) % n
    idx = np.zeros(n_frames, np.int64)
    pos, step = 0.0, 1.0 if actor.cast.listener else LISTEN_SPEED
    for k in range(n_frames):
        if said[k] >= 0:
            pos, step = float(said[k]), abs(step)
        elif n > 1:
            pos += step
            if not 0 <= pos <= n - 1:  # bounce off the first or last frame
                step = -step
                pos = min(max(pos, 0.0), n - 1.0)
        idx[k] = int(pos)
    return idx


def mix(actors: dict[str, Actor], turns: Sequence[Turn], duration_s: float) -> npt.NDArray:
    """Mono audio: each person's own voice during their turns only, silence elsewhere."""
    out = np.zeros(int(round(duration_s * AUDIO_HZ)), np.float32)
    fade = AUDIO_HZ // 200  # 5 ms, no clicks at the edges
    for u in turns:
        voice = actors[u.person].audio
        a, n = int(round(u.src_s * AUDIO_HZ)), int(round((u.t1 - u.t0) * AUDIO_HZ))
        piece = voice[a : a + n].copy()
        ramp = np.linspace(0, 1, min(fade, len(piece) // 2), dtype=np.float32)
        if len(ramp):
            piece[: len(ramp)] *= ramp
            piece[len(piece) - len(ramp) :] *= ramp[::-1]
        k = int(round(u.t0 * AUDIO_HZ))
        out[k : k + len(piece)] = piece[: len(out) - k]
    return out


# --- drawing ----------------------------------------------------------------------------------


def face_in(actor: Actor, place: Place) -> tuple[float, float, float, float]:
    """The person's face box mapped through ``place`` into composed pixels."""
    sx, sy, sw, sh = place.src or (0, 0, SIDE, SIDE)
    x, y, w, h = place.rect
    fx, fy, fw, fh = actor.face
    kx, ky = w / sw, h / sh
    return (
        round(x + (fx - sx) * kx, 1),
        round(y + (fy - sy) * ky, 1),
        round(fw * kx, 1),
        round(fh * ky, 1),
    )


def band(actor: Actor, aspect: float) -> Rect:
    """The widest region of the person's square with ``aspect`` (w/h), around their face."""
    fx, fy, fw, fh = actor.face
    h = int(round(SIDE / aspect))
    y = int(np.clip(fy + fh / 2 - h / 2, 0, SIDE - h))
    return (0, y, SIDE, h)


_MASKS: dict[tuple[int, int], npt.NDArray[np.float32]] = {}


def _feather_mask(w: int, h: int) -> npt.NDArray[np.float32]:
    import cv2

    if (w, h) not in _MASKS:
        m = np.zeros((h, w), np.float32)
        e = max(2, min(w, h) // 10)
        m[e:-e, e:-e] = 1.0
        k = 2 * e + 1
        _MASKS[(w, h)] = cv2.GaussianBlur(m, (k, k), e / 2)[..., None]
    return _MASKS[(w, h)]


def draw(canvas: Frames, image: Frames, place: Place) -> None:
    """Scale ``image``'s ``place.src`` region into ``place.rect`` of ``canvas`` (in place)."""
    import cv2

    sx, sy, sw, sh = place.src or (0, 0, SIDE, SIDE)
    x, y, w, h = place.rect
    inter = cv2.INTER_AREA if w < sw else cv2.INTER_LINEAR
    tile = cv2.resize(image[sy : sy + sh, sx : sx + sw], (w, h), interpolation=inter)
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    tile = tile[y0 - y : y1 - y, x0 - x : x1 - x]
    if place.feather:
        a = _feather_mask(w, h)[y0 - y : y1 - y, x0 - x : x1 - x]
        under = canvas[y0:y1, x0:x1].astype(np.float32)
        canvas[y0:y1, x0:x1] = (under + (tile.astype(np.float32) - under) * a).astype(np.uint8)
    else:
        canvas[y0:y1, x0:x1] = tile


def border(canvas: Frames, rect: Rect, colour: tuple[int, int, int] = (60, 200, 60)) -> None:
    import cv2

    x, y, w, h = rect
    cv2.rectangle(canvas, (x + 1, y + 1), (x + w - 2, y + h - 2), colour, 4)


def studio(w: int, h: int, seed: int) -> Frames:
    """A soft, dim backdrop: two-colour gradient with a few blurred blobs (no edges, no faces)."""
    import cv2

    rng = np.random.default_rng(seed)
    top, bottom = rng.uniform(30, 90, 3), rng.uniform(20, 60, 3)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = top * (1 - ramp) + bottom * ramp + np.zeros((h, w, 3), np.float32)
    blobs = np.zeros((h // 8, w // 8, 3), np.float32)
    for _ in range(6):
        cx, cy = int(rng.integers(0, w // 8)), int(rng.integers(0, h // 8))
        cv2.circle(blobs, (cx, cy), int(rng.integers(5, 20)), rng.uniform(10, 50, 3).tolist(), -1)
    img += cv2.resize(cv2.GaussianBlur(blobs, (0, 0), 6), (w, h))
    return np.clip(img, 0, 255).astype(np.uint8)


def merge_intervals(rows: list[list[float]]) -> list[list[float]]:
    """[[t0, t1, *value]] with consecutive rows of the same value joined."""
    out: list[list[float]] = []
    for row in rows:
        if out and out[-1][2:] == row[2:] and abs(out[-1][1] - row[0]) < 1e-6:
            out[-1][1] = row[1]
        else:
            out.append(list(row))
    return out
