"""The real-face layout tier: real talking heads and photos from $CLIPFLOW_REAL_MEDIA composed,
deterministically, into the shapes that fail (issue 17), each with its ground truth.

    build(name, media, out) -> out/NAME.mp4 + out/NAME.truth.json      (cached by content)
    .venv/bin/python -m tests.real_faces OUT [NAME ...]                 (all, or some)

Each composition is H.264 + AAC at 25 fps, 1280×720 unless its shape says otherwise. Its truth
holds ``size``, ``duration_s``, ``turns`` [[t0, t1, person]], ``faces`` {person: [[t0, t1, x, y,
w, h]]} in composed pixels, ``cuts`` [t], ``shots`` [[t0, t1, layout]], ``slides`` [[t0, t1, k]],
``screen`` {"slide": rect, "presenter": rect} for screen shares, and ``people`` (which file is
whom). Speech: each person's own audio during their turns only, 0.6 s of silence between.

Listeners: a speaker who is not speaking shows their own footage at quarter speed, played back
and forth (a listener's small movements, no lip-sync); people who never speak are the
no_speech videos (webcam room, expressions), at normal speed. The profile person is a still
(the side-view panel of 3ddfa__emma.jpg) with a LibriSpeech reader's voice.

Face boxes are the median HOG box of each person's frames (heads move, so a frame's face may
sit up to about a quarter of its width from it). Files are read in place, never copied.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.real_faces_build import Renderer, build_composition, truth
from tests.real_faces_engine import (
    Actor,
    Cast,
    Composition,
    Place,
    Rect,
    Shot,
    Timeline,
    Turn,
    alternate,
    band,
)

__all__ = ["COMPOSITIONS", "Renderer", "build", "truth"]
TH, NS = "video/talking_head", "video/no_speech"


def _end(turns: list[Turn]) -> float:
    return round(turns[-1].t1 + 0.6, 3)


# --- the shapes ---------------------------------------------------------------------------------


def _multicam(a: dict[str, Actor]) -> Timeline:
    """Hard cuts with who talks; every third turn opens on the wide two-shot for 3 s."""
    turns = alternate(a, ["A", "B"], target_s=62)
    close = {p: Place(p, (280, 0, 720, 720)) for p in a}
    wide = (Place("A", (120, 280, 440, 440), feather=True),)
    wide += (Place("B", (720, 280, 440, 440), feather=True),)
    shots, t = [], 0.0
    for i, u in enumerate(turns):
        stop = turns[i + 1].t0 if i + 1 < len(turns) else _end(turns)
        if i % 3 == 0:
            shots.append(Shot(t, u.t0 + 3.0, "two_shot", wide))
            t = u.t0 + 3.0
        shots.append(Shot(t, stop, "single", (close[u.person],)))
        t = stop
    return Timeline(turns, shots, [])


def _speaker_view(a: dict[str, Actor]) -> Timeline:
    """Zoom speaker view: the speaker's camera full height (pillarboxed, as Zoom shows a square
    camera), the others as 160×90 thumbnails at the top right."""
    turns = alternate(a, ["A", "B"], target_s=62)
    shots, t = [], 0.0
    for i, u in enumerate(turns):
        stop = turns[i + 1].t0 if i + 1 < len(turns) else _end(turns)
        others = [p for p in a if p != u.person]
        thumbs = tuple(
            Place(p, (1280 - 170 * (k + 1) + 10 + 35, 10, 90, 90)) for k, p in enumerate(others)
        )
        shots.append(Shot(t, stop, "speaker_view", (Place(u.person, (280, 0, 720, 720)), *thumbs)))
        t = stop
    return Timeline(turns, shots, [])


def _profile(a: dict[str, Actor]) -> Timeline:
    """One scene: a talking head facing the camera, and a woman in profile facing her."""
    turns = alternate(a, ["A", "E"], target_s=55)
    places = (Place("A", (110, 230, 490, 490), feather=True),)
    places += (Place("E", (690, 230, 490, 490), feather=True),)
    return Timeline(turns, [Shot(0.0, _end(turns), "two_shot", places)], [])


def _group(a: dict[str, Actor]) -> Timeline:
    """720×1280: a back row of two and a front row of two in one scene; three speak in turn."""
    turns = alternate(a, ["A", "B", "C"], target_s=62)
    places = (
        Place("D", (30, 300, 320, 320), feather=True),
        Place("B", (370, 300, 320, 320), feather=True),
        Place("A", (0, 640, 370, 370), feather=True),
        Place("C", (350, 640, 370, 370), feather=True),
    )
    return Timeline(turns, [Shot(0.0, _end(turns), "group", places)], [])


PRESENTER: Rect = (944, 484, 320, 220)


def _slides(duration: float, every: float = 9.0) -> list[tuple[float, float, int]]:
    n = int(np.ceil(duration / every))
    return [(round(k * every, 3), round(min(duration, (k + 1) * every), 3), k) for k in range(n)]


def _screen_presenter(a: dict[str, Actor]) -> Timeline:
    turns = alternate(a, ["P"], target_s=62)
    x, y, w, h = PRESENTER
    inner = (x + (w - h) // 2, y, h, h)  # a square camera, pillarboxed in its tile
    end = _end(turns)
    return Timeline(turns, [Shot(0.0, end, "screen_share", (Place("P", inner),))], _slides(end))


def _screen_voice(a: dict[str, Actor]) -> Timeline:
    turns = alternate(a, ["V"], target_s=55)
    end = _end(turns)
    return Timeline(turns, [Shot(0.0, end, "screen_share")], _slides(end))


def _tiles(n: int) -> list[Rect]:
    if n == 2:
        return [(0, 180, 636, 358), (644, 180, 636, 358)]
    return [(4 + 640 * (k % 2), 2 + 360 * (k // 2), 632, 356) for k in range(4)]


def _gallery(order: list[str]) -> Callable[[dict[str, Actor]], Timeline]:
    def plan(a: dict[str, Actor]) -> Timeline:
        turns = alternate(a, order, target_s=62)
        places = tuple(
            Place(p, rect, src=band(a[p], rect[2] / rect[3]))
            for p, rect in zip(sorted(a), _tiles(len(a)), strict=True)
        )
        return Timeline(turns, [Shot(0.0, _end(turns), "gallery", places, highlight=True)], [])

    return plan


COMPOSITIONS = {
    c.name: c
    for c in [
        Composition(
            "multicam",
            (Cast("A", f"{TH}/sadtalker__WDA_AlexandriaOcasioCortez_000.mp4"),
             Cast("B", f"{TH}/sadtalker__WDA_KatieHill_000.mp4")),
            _multicam,
            about="close-up A, close-up B (720 px square over a backdrop), wide two-shot of "
            "both; hard cuts with who talks",
        ),
        Composition(
            "zoom_speaker_view",
            (Cast("A", f"{TH}/videoretalking__face4.mp4"),
             Cast("B", f"{TH}/liveportrait__d20.mp4"),
             Cast("C", f"{NS}/liveportrait__d9_webcam_room.mp4", listener=True)),
            _speaker_view,
            backdrop="dark",
            about="the full frame switches to whoever talks; thumbnails of the others",
        ),
        Composition(
            "profile_two_shot",
            (Cast("A", f"{TH}/liveportrait__d10.mp4", max_s=15.0, split=2),
             Cast("E", "faces/3ddfa__emma.jpg", crop=(1300, 80, 1000, 1000),
                  voice="speech/single_speaker/librosa__libri3_198-209-0000.ogg", split=2)),
            _profile,
            about="a talking head facing the camera and a still woman in profile (photo), "
            "taking turns",
        ),
        Composition(
            "group_vertical",
            (Cast("A", f"{TH}/real3dportrait__May_5s.mp4"),
             Cast("B", f"{TH}/videoretalking__face5.mp4"),
             Cast("C", f"{TH}/thinplate__driving_jackiechan.mp4"),
             Cast("D", f"{NS}/liveportrait__d3_expressions.mp4", listener=True)),
            _group,
            size=(720, 1280),
            about="720×1280, four people in one scene (two rows), three speak in turn",
        ),
        Composition(
            "screen_share_presenter",
            (Cast("P", f"{TH}/videoretalking__face2.mp4"),),
            _screen_presenter,
            screen={"slide": (0, 0, 1280, 720), "presenter": PRESENTER},
            about="generated slides full frame, the presenter in a bottom-right tile",
        ),
        Composition(
            "screen_share_voice",
            (Cast("V", "faces/skimage__astronaut.png", listener=False,
                  voice="speech/single_speaker/musetalk__eng.wav", split=8),),
            _screen_voice,
            screen={"slide": (0, 0, 1280, 720)},
            about="generated slides and a voice, no face on screen",
        ),
        Composition(
            "gallery_2",
            (Cast("A", f"{TH}/videoretalking__face1.mp4"),
             Cast("B", f"{TH}/videoretalking__face2.mp4")),
            _gallery(["A", "B"]),
            backdrop="dark",
            about="two 16:9 tiles side by side, the speaker's tile outlined",
        ),
        Composition(
            "gallery_4",
            (Cast("A", f"{TH}/liveportrait__d11.mp4"),
             Cast("B", f"{TH}/liveportrait__d14.mp4", max_s=9.0),
             Cast("C", f"{TH}/liveportrait__d6.mp4", max_s=9.0),
             Cast("D", f"{NS}/liveportrait__d9_webcam_room.mp4", listener=True)),
            _gallery(["A", "B", "C"]),
            backdrop="dark",
            about="2×2 tiles, three speak in turn, one listens; the speaker's tile outlined",
        ),
    ]
}  # fmt: skip


def build(name: str, media: Path, out: Path) -> tuple[Path, dict]:
    """``out/NAME.mp4`` and ``out/NAME.truth.json`` (cached by content in ``out``)."""
    return build_composition(COMPOSITIONS[name], media, out)


def main(argv: list[str]) -> int:
    import os
    import time

    media = Path(os.environ["CLIPFLOW_REAL_MEDIA"])
    out = Path(argv[0])
    for name in argv[1:] or list(COMPOSITIONS):
        t0 = time.perf_counter()
        path, data = build(name, media, out)
        print(f"{path} {data['duration_s']:.1f} s in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
