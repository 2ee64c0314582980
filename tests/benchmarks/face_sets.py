"""Face sets made from the shared photos for the detector benchmark and the real-media tests:
side views, tilted heads and small faces, each with its true boxes (not a pytest module).

Every set is made at the size the pipeline analyses (640 px on the long side) from the photos'
eye-checked boxes (:data:`tests.benchmarks.faces.PHOTO_FACES`), moved with the image:

- ``profiles``: the three Emma panels (3/4 and side views) as they are and mirrored, and two-shot
  frames of 640×360 in which two panels face each other, as an interviewer and a guest do;
- ``tilted``: the photos with large faces, rotated by ±20° and ±35° about their centre;
- ``gallery``: 4×4 and 6×6 galleries of 640×360 (a video call's grid), one face a tile, faces
  about 45 and 30 px tall.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from media.framing.detection import Box

Item = tuple[str, np.ndarray, list[Box]]
EMMA = "3ddfa__emma.jpg"
# Emma's three panels at 640 px wide: (x0, x1) of each, and her face there (x, y, w, h).
EMMA_PANELS = ((0, 211), (212, 418), (419, 640))
TILTED_PHOTOS = (
    "deepface__couple.jpg", "facerec__two_people.jpg", "facerec__obama.jpg",
    "dlib__2009_004587.jpg", "skimage__astronaut.png", EMMA,
)  # fmt: skip
ANGLES = (-35, -20, 20, 35)
# Gallery tiles show a face's box enlarged this much (more shows parts of its neighbours).
CROP = 1.6


def load(media_dir: Path, name: str, faces: list[tuple[int, int, int, int]]) -> Item:
    """A shared photo scaled to 640 px wide, with its true boxes."""
    import cv2

    image = cv2.imread(str(media_dir / "faces" / name))
    h, w = image.shape[:2]
    image = cv2.resize(image, (640, round(h * 640 / w)), interpolation=cv2.INTER_AREA)
    return name, image, [Box(*b) for b in faces]


def mirrored(item: Item) -> Item:
    name, image, truth = item
    w = image.shape[1]
    return (
        f"{name}~mirror",
        image[:, ::-1].copy(),
        [Box(w - b.x - b.w, b.y, b.w, b.h) for b in truth],
    )


def rotated(item: Item, degrees: float) -> Item:
    """The image turned about its centre (same canvas, black corners); boxes keep their size
    and follow their centre; a face whose centre leaves the picture is dropped."""
    import cv2

    name, image, truth = item
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR)
    boxes = []
    for b in truth:
        cx, cy = m @ np.array([b.cx, b.cy, 1.0])
        if 0 <= cx < w and 0 <= cy < h:
            boxes.append(Box(cx - b.w / 2, cy - b.h / 2, b.w, b.h))
    return f"{name}@{degrees:+d}", out, boxes


def _panel(emma: Item, index: int) -> Item:
    name, image, truth = emma
    x0, x1 = EMMA_PANELS[index]
    face = truth[index]
    return f"panel{index}", image[:, x0:x1], [Box(face.x - x0, face.y, face.w, face.h)]


def _fit(item: Item, height: int) -> Item:
    import cv2

    name, image, truth = item
    k = height / image.shape[0]
    size = (round(image.shape[1] * k), height)
    out = cv2.resize(image, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    return name, out, [b.scaled(k) for b in truth]


def two_shot(left: Item, right: Item, size: tuple[int, int] = (640, 360)) -> Item:
    """Two panels side by side on a grey frame, each scaled to the frame's height."""
    w, h = size
    frame = np.full((h, w, 3), 90, np.uint8)
    a, b = _fit(left, h), _fit(right, h)
    boxes = []
    for x0, (_, image, truth) in (
        (w // 4 - a[1].shape[1] // 2, a),
        (3 * w // 4 - b[1].shape[1] // 2, b),
    ):
        x0 = max(0, min(w - image.shape[1], x0))
        frame[:, x0 : x0 + image.shape[1]] = image[:, : w - x0]
        boxes += [Box(t.x + x0, t.y, t.w, t.h) for t in truth]
    return f"{left[0]}|{right[0]}", frame, boxes


def profiles(media_dir: Path, faces: list[tuple[int, int, int, int]]) -> Iterator[Item]:
    emma = load(media_dir, EMMA, faces)
    yield emma
    yield mirrored(emma)
    panels = [_panel(emma, i) for i in range(3)]
    flipped = [mirrored(p) for p in panels]
    # Emma's faces look right in panels 0 and 1, left in panel 2: put them face to face.
    yield two_shot(panels[1], flipped[1])
    yield two_shot(panels[0], panels[2])
    yield two_shot(panels[1], panels[2])
    yield two_shot(flipped[2], flipped[0])


def tilted(
    media_dir: Path, photo_faces: dict[str, list[tuple[int, int, int, int]]]
) -> Iterator[Item]:
    for name in TILTED_PHOTOS:
        item = load(media_dir, name, photo_faces[name])
        for degrees in ANGLES:
            yield rotated(item, degrees)


def gallery(
    media_dir: Path, photo_faces: dict[str, list[tuple[int, int, int, int]]], n: int
) -> Item:
    """An n×n grid on 640×360: tile i shows the i-th face of the photos (in order), cropped
    at :data:`CROP` times its box and scaled to fill the tile's height."""
    import cv2

    w, h = 640, 360
    tw, th = w // n, h // n
    frame = np.full((h, w, 3), 40, np.uint8)
    crops = []
    for name, boxes in photo_faces.items():
        _, image, truth = load(media_dir, name, boxes)
        for b in truth:
            cw, ch = int(CROP * b.w), int(CROP * b.h)
            x0, y0 = int(b.cx - cw / 2), int(b.cy - ch / 2)
            if x0 >= 0 and y0 >= 0 and x0 + cw <= image.shape[1] and y0 + ch <= image.shape[0]:
                crops.append(image[y0 : y0 + ch, x0 : x0 + cw])
    boxes_out = []
    for i, crop in enumerate(crops[: n * n]):
        side = min(tw, th)
        tile = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        x0, y0 = (i % n) * tw + (tw - side) // 2, (i // n) * th + (th - side) // 2
        frame[y0 : y0 + side, x0 : x0 + side] = tile
        face = side / CROP
        boxes_out.append(Box(x0 + (side - face) / 2, y0 + (side - face) / 2, face, face))
    return f"gallery{n}x{n}", frame, boxes_out
