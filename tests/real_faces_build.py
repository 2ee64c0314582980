"""Building a real-face composition (tests/real_faces.py): drawing every frame, the audio,
the H.264 + AAC file and its truth, cached by content in the target folder.

Frames are drawn in Python and encoded :data:`CHUNK` frames per ffmpeg call (raw YUV on stdin,
Annex B H.264 out, the parts joined), so memory stays bounded; the audio is a WAV muxed in.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from media import ffmpeg
from tests.real_faces_engine import (
    AUDIO_HZ,
    FPS,
    Actor,
    Composition,
    Timeline,
    border,
    draw,
    face_in,
    frame_indices,
    load_actor,
    merge_intervals,
    mix,
    speaking,
    studio,
)

# Bump when a change here or in tests/real_faces_engine.py alters an output: cache keys are
# this, the cast and the content of the files read, not the code (an edit to a docstring
# should not rebuild every composition).
VERSION = 3
CHUNK = 100  # frames per encoder call


# --- slides --------------------------------------------------------------------------------------


def slide(k: int, size: tuple[int, int]) -> np.ndarray:
    """Slide ``k``: a title bar, four bullet lines and a page number, drawn with OpenCV."""
    import cv2

    w, h = size
    img = np.full((h, w, 3), 248, np.uint8)
    hue = [(150, 80, 30), (40, 120, 200), (60, 140, 60), (130, 60, 130)][k % 4]
    cv2.rectangle(img, (0, 0), (w, h // 6), hue, -1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, f"Part {k + 1}: results and next steps", (40, h // 9), font, 1.4,
                (255, 255, 255), 3, cv2.LINE_AA)  # fmt: skip
    for i in range(4):
        text = f"- point {k + 1}.{i + 1}: measured {(k * 7 + i * 13) % 90 + 10} % better"
        y = h // 6 + 80 + i * 70
        cv2.putText(img, text, (60, y), font, 1.0, (40, 40, 40), 2, cv2.LINE_AA)
    cv2.rectangle(img, (w - 420, h - 230), (w - 60, h - 250 + 10), hue, -1)
    cv2.putText(img, f"{k + 1}", (w - 60, h - 20), font, 0.8, (90, 90, 90), 2, cv2.LINE_AA)
    return img


# --- build ---------------------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(comp: Composition, media: Path) -> str:
    files = sorted({f for c in comp.cast for f in (c.video, c.voice) if f})
    spec = {
        "version": VERSION,
        "cast": [asdict(c) for c in comp.cast],
        "files": {f: _sha(media / f) for f in files},
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


def truth(comp: Composition, actors: dict[str, Actor], tl: Timeline, key: str) -> dict:
    faces: dict[str, list[list[float]]] = {p: [] for p in actors}
    for s in tl.shots:
        for pl in s.places:
            faces[pl.person].append([s.t0, s.t1, *face_in(actors[pl.person], pl)])
    people = {
        p: {
            "video": a.cast.video,
            "voice": a.cast.voice or a.cast.video,
            "listener": a.cast.listener,
        }
        for p, a in actors.items()
    }
    out = {
        "name": comp.name,
        "key": key,
        "about": comp.about,
        "size": list(comp.size),
        "fps": FPS,
        "duration_s": tl.shots[-1].t1,
        "people": people,
        "turns": [[u.t0, u.t1, u.person] for u in tl.turns],
        "faces": {p: merge_intervals(rows) for p, rows in faces.items() if rows},
        "cuts": [s.t0 for s in tl.shots[1:]],
        "shots": [[s.t0, s.t1, s.layout] for s in tl.shots],
        "slides": [list(s) for s in tl.slides],
    }
    if comp.screen:
        out["screen"] = {k: list(v) for k, v in comp.screen.items()}
    return out


class Renderer:
    """Draws any frame of a composition (for the build, and for tests that look at frames)."""

    def __init__(self, comp: Composition, media: Path) -> None:
        self.comp = comp
        self.actors = {c.name: load_actor(c, media) for c in comp.cast}
        self.tl = comp.plan(self.actors)
        self.n_frames = int(round(self.tl.shots[-1].t1 * FPS))
        self.idx = {
            p: frame_indices(a, self.tl.turns, self.n_frames) for p, a in self.actors.items()
        }
        self.backdrop = studio(*comp.size, seed=len(comp.name))
        if comp.backdrop == "dark":
            self.backdrop[:] = 28
        self.slides = {k: slide(k, comp.size) for _, _, k in self.tl.slides}

    def frame(self, n: int) -> np.ndarray:
        t = n / FPS + 1e-6  # a cut at t shows from frame round(t * FPS) on
        shot = next((s for s in self.tl.shots if s.t0 <= t < s.t1), self.tl.shots[-1])
        slide_k = next((k for t0, t1, k in self.tl.slides if t0 <= t < t1), None)
        canvas = (self.slides[slide_k] if slide_k is not None else self.backdrop).copy()
        if self.comp.screen and "presenter" in self.comp.screen:
            x, y, w, h = self.comp.screen["presenter"]
            canvas[y : y + h, x : x + w] = 28
        for pl in shot.places:
            draw(canvas, self.actors[pl.person].frames[self.idx[pl.person][n]], pl)
        if shot.highlight and (who := speaking(self.tl.turns, t)):
            for pl in shot.places:
                if pl.person == who:
                    border(canvas, pl.rect)
        return canvas


def _encode_argv(size: tuple[int, int], out: Path) -> list[str]:
    w, h = size
    return ffmpeg.ffmpeg_base() + [
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", str(FPS), "-i", "pipe:0",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-g", str(2 * FPS),
        "-threads", "2", "-f", "h264", str(out),
    ]  # fmt: skip


def _mux_argv(video: Path, audio: Path, out: Path) -> list[str]:
    return (
        ffmpeg.ffmpeg_base()
        + ["-f", "h264", "-framerate", str(FPS)]
        + ffmpeg.input_args(str(video))
        + ffmpeg.input_args(str(audio))
        + ["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
           "-ac", "2", "-shortest", "-movflags", "+faststart", str(out)]
    )  # fmt: skip


def _write_wav(path: Path, audio: np.ndarray) -> None:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(AUDIO_HZ)
        f.writeframes(pcm.tobytes())


def build_composition(comp: Composition, media: Path, out: Path) -> tuple[Path, dict]:
    """``out/NAME.mp4`` and its truth; served from ``out`` when the inputs are unchanged."""
    import cv2

    name = comp.name
    out.mkdir(parents=True, exist_ok=True)
    video, truth_path = out / f"{name}.mp4", out / f"{name}.truth.json"
    key = cache_key(comp, media)
    if video.is_file() and truth_path.is_file():
        cached = json.loads(truth_path.read_text())
        if cached.get("key") == key:
            return video, cached
    r = Renderer(comp, media)
    with tempfile.TemporaryDirectory(dir=out, prefix=f".{name}-") as tmp:
        work = Path(tmp)
        _write_wav(work / "audio.wav", mix(r.actors, r.tl.turns, r.n_frames / FPS))
        parts: list[Path] = []
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = []
            for c0 in range(0, r.n_frames, CHUNK):
                frames = [r.frame(n) for n in range(c0, min(r.n_frames, c0 + CHUNK))]
                yuv = b"".join(cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420).tobytes() for f in frames)
                parts.append(work / f"part{c0:06d}.h264")
                argv = _encode_argv(comp.size, parts[-1])
                pending.append(pool.submit(ffmpeg.run, argv, stdin=yuv, timeout_s=300))
            for job in pending:
                job.result()
        with open(work / "video.h264", "wb") as f:
            for part in parts:
                f.write(part.read_bytes())
        ffmpeg.run(_mux_argv(work / "video.h264", work / "audio.wav", work / "out.mp4"))
        (work / "out.mp4").replace(video)
    data = truth(comp, r.actors, r.tl, key)
    rows = (f" {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items())
    truth_path.write_text("{\n" + ",\n".join(rows) + "\n}\n")
    return video, data
