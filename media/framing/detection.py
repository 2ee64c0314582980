"""Face boxes, QA's face detector and mouth motion (pure: pixels in, numbers out; no I/O).

The detector here is dlib's HOG frontal-face detector, compiled into the dlib-bin wheel: no
model file, nothing downloaded at run time. QA grades framing with it (qa.measure); framing
itself decides with CenterFace (media.framing.centerface), which also finds side-on faces, so
that QA never grades a decision with the detector that made it.

HOG was chosen over Haar by measurement (tests/benchmarks/faces.py, numbers in its
docstring): on the 12 shared photos at 640 px wide it finds 57 of 59 faces with no false
box, and no false box in 208 frames of real video nor on textures. OpenCV's Haar cascade, used
before, found 56 and put a persistent false box beside the astronaut's face in 20 of 65
composed frames, which failed the face-centred QA of clips made from that photo; Haar boxes
verified by HOG lost those but still recalled only 56. HOG costs ~1.3× Haar's CPU.

HOG scans an 80×80 px window, so the image is first scaled so that the smallest face of interest
(``min_size_frac`` of the shorter side) is 80 px wide: the cost depends on the aspect ratio and
``min_size_frac``, not on the resolution. Video analysis runs the full detector about once a
second and, in between, only looks again around the faces it knows (:func:`detect_faces_near`,
about a tenth of the cost). dlib releases the GIL while it scans, so clips framed in parallel
threads use both cores.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Protocol

import numpy as np
import numpy.typing as npt

# An 8-bit image: BGR (height × width × 3) or grey (height × width).
Image = npt.NDArray[np.uint8]

# Share of the box height, from its bottom, that holds the mouth and chin.
MOUTH_FRACTION = 0.4
# Largest head shift (px, analysis frame) compensated before differencing a mouth patch.
MOUTH_SEARCH_PX = 2


# Five facial points (x, y): the eyes, the nose tip and the mouth corners, image-left first.
Landmarks = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in pixels of the image it was found in; ``landmarks`` where the detector
    gives them (CenterFace does, HOG does not)."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0
    landmarks: Landmarks | None = None

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def area(self) -> float:
        return self.w * self.h

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, fx: float, fy: float | None = None) -> Box:
        """The box (and its landmarks) in an image scaled by ``fx`` across, ``fy`` (or ``fx``)
        down."""
        fy = fx if fy is None else fy
        points = (
            None if self.landmarks is None else tuple((x * fx, y * fy) for x, y in self.landmarks)
        )
        return Box(self.x * fx, self.y * fy, self.w * fx, self.h * fy, self.score, points)


_IMPORT_LOCK = threading.Lock()
_LOCAL = threading.local()

# dlib's frontal detector finds faces whose box is at least this many pixels wide.
HOG_WINDOW_PX = 80
# Smallest face side, as a share of the image's shorter side (29 px on a 640×360 frame, as with
# the Haar cascade before; 0.11 costs ~40 % less and misses the small faces of a 4×4 gallery).
MIN_SIZE_FRAC = 0.08
# Faces at least this share of the shorter side are searched for once more, in a copy of the
# image widened by PAD_FRAC of the shorter side on every edge (edge pixels repeated), at that
# coarse and cheap scale (+17 % on a 16:9 frame). HOG needs its whole window inside the picture:
# without this a face that fills a close-up is missed, and one cut by the frame edge is placed
# up to a tenth of the frame off, which failed the face-centred QA of 9:16 close-ups.
BIG_FRAC = 0.4
PAD_FRAC = 0.5
# HOG places a box on its 8 px cells, a tenth of the face's width: too coarse to tell whether a
# face that fills a 9:16 close-up sits within 10 % of the centre line. Each face found is
# therefore scanned again at these sub-cell shifts (px, with the face ~96 px wide) and the boxes
# averaged, which also steadies the track between samples.
PHASES = ((0, 0), (5, 5), (2, 7), (7, 2))
# Lower margin for those re-scans: the face is known to be there, only its place is measured.
LOCATE_THRESHOLD = -0.3
# The SVM margin a window needs to count as a face (dlib's own default). Scores are that margin:
# true faces 0–3.
THRESHOLD = 0.0


class _Rect(Protocol):
    """What is read of a ``dlib.rectangle``."""

    def left(self) -> int: ...
    def top(self) -> int: ...
    def width(self) -> int: ...
    def height(self) -> int: ...


class _HogDetector(Protocol):
    """What is used of ``dlib.fhog_object_detector`` (dlib ships no type information)."""

    def run(
        self, image: Image, upsample_num_times: int, adjust_threshold: float
    ) -> tuple[Sequence[_Rect], Sequence[float], Sequence[int]]: ...


def import_native(name: str) -> ModuleType:
    """Import a native module once, under a lock: two threads importing cv2 at once can see a
    half-built module (``cv2`` without ``data``), which happens when clips are framed in
    parallel."""
    with _IMPORT_LOCK:
        return importlib.import_module(name)


def _cv2() -> ModuleType:
    return import_native("cv2")


def _detector() -> _HogDetector:
    """One detector per thread: a dlib object detector is not documented as safe to share."""
    detector: _HogDetector | None = getattr(_LOCAL, "hog", None)
    if detector is None:
        detector = _LOCAL.hog = import_native("dlib").get_frontal_face_detector()
    return detector


def to_grey(image: Image) -> Image:
    """A single-channel uint8 view of a BGR or grey image."""
    cv2 = _cv2()

    if image.ndim == 2:
        return image
    grey: Image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return grey


def _window(grey: Image, x0: int, y0: int, x1: int, y1: int) -> Image:
    """``grey[y0:y1, x0:x1]``, with the parts outside the image filled by repeating its edges."""
    cv2 = _cv2()

    h, w = grey.shape[:2]
    inner = grey[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    pads = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    if not any(pads):
        return inner
    padded: Image = cv2.copyMakeBorder(inner, *pads, cv2.BORDER_REPLICATE)
    return padded


def _scan(grey: Image, scale: float, threshold: float, x0: int = 0, y0: int = 0) -> list[Box]:
    """HOG over ``grey`` resized by ``scale``; boxes in ``grey``'s pixels, offset by (x0, y0)."""
    cv2 = _cv2()

    if abs(scale - 1.0) > 1e-3:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        grey = cv2.resize(grey, size, interpolation=shrink)
    rects, scores, _ = _detector().run(np.ascontiguousarray(grey), 0, threshold)
    boxes = [
        Box(r.left(), r.top(), r.width(), r.height(), float(s)).scaled(1 / scale)
        for r, s in zip(rects, scores, strict=True)
    ]
    return [replace(b, x=b.x + x0, y=b.y + y0) for b in boxes]


def _locate(grey: Image, box: Box, margin: float) -> Box | None:
    """The face at about ``box``'s place and size, measured below HOG's cell size: the region
    within ``margin`` face widths of the box, scaled so the face is 96 px wide (one pyramid step
    above the smallest HOG finds, so 0.83× to (1 + 2 margin)× the size is found), is scanned at
    each of :data:`PHASES`; the detections nearest the box are averaged. None: no face there."""
    cv2 = _cv2()

    scale = 1.2 * HOG_WINDOW_PX / box.w
    pad = margin * box.w
    x0, y0 = int(box.x - pad), int(box.y - pad)
    region = _window(grey, x0, y0, int(box.x + box.w + pad) + 1, int(box.y + box.h + pad) + 1)
    size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    region = cv2.resize(region, size, interpolation=shrink)
    tx, ty = (box.cx - x0) * scale, (box.cy - y0) * scale  # the box's centre in ``region``
    hits = []
    for dx, dy in PHASES:
        found = _scan(region[dy:, dx:], 1.0, LOCATE_THRESHOLD, dx, dy)
        if found:
            hits.append(min(found, key=lambda b: abs(b.cx - tx) + abs(b.cy - ty)))
    if not hits:
        return None
    cx = float(np.mean([b.cx for b in hits])) / scale + x0
    cy = float(np.mean([b.cy for b in hits])) / scale + y0
    w = float(np.exp(np.mean(np.log([b.w for b in hits])))) / scale  # sizes step by 6/5
    h = float(np.exp(np.mean(np.log([b.h for b in hits])))) / scale
    return Box(cx - w / 2, cy - h / 2, w, h, max(b.score for b in hits))


def detect_faces(
    image: Image,
    *,
    min_size_frac: float = MIN_SIZE_FRAC,
    threshold: float = THRESHOLD,
) -> list[Box]:
    """Detect frontal faces in a BGR or grey image; boxes sorted left to right.

    ``min_size_frac`` is the smallest face side as a share of the image's shorter side:
    smaller faces are background people, not speakers, and each halving of it costs about 4×.
    ``threshold`` shifts dlib's decision margin (lower finds more, and more false faces).
    Large faces are looked for in a padded copy as well (:data:`BIG_FRAC`), so a box may reach
    past the image border when its face does; its centre is always inside the image. Each box
    is then placed more finely than HOG's cells (:data:`PHASES`).
    """
    if not 0 < min_size_frac <= 1:
        raise ValueError(f"min_size_frac={min_size_frac}: expected a share in (0, 1]")
    grey = to_grey(image)
    h, w = grey.shape[:2]
    short = min(h, w)
    pad = int(PAD_FRAC * short)
    padded = _window(grey, -pad, -pad, w + pad, h + pad)
    big_scale = HOG_WINDOW_PX / (short * max(BIG_FRAC, min_size_frac))
    found = [
        b
        for b in _scan(padded, big_scale, threshold, -pad, -pad)
        if 0 <= b.cx < w and 0 <= b.cy < h
    ]
    if min_size_frac < BIG_FRAC:
        small = _scan(grey, HOG_WINDOW_PX / (short * min_size_frac), threshold)
        found += [b for b in small if all(b.iou(f) < 0.3 for f in found)]
    placed = [replace(_locate(grey, b, 0.25) or b, score=b.score) for b in found]
    return sorted(placed, key=lambda b: b.x)


def detect_faces_near(
    image: Image,
    known: list[Box],
    *,
    margin: float = 0.5,
    threshold: float = THRESHOLD,
) -> list[Box]:
    """Look for the ``known`` faces again, each only around where it was and at about its size.

    Between full-frame passes this costs under a tenth of :func:`detect_faces`: the region
    within ``margin`` face widths of each known box is scanned at about the face's size
    (0.83× to twice it), placed as finely as by :func:`detect_faces`. Faces that newly appear
    are left to the next full pass. A face counts as found when its best score over the
    sub-cell scans reaches ``threshold``.
    """
    grey = to_grey(image)
    h, w = grey.shape[:2]
    found: list[Box] = []
    for box in known:
        if box.w <= 0 or not (0 <= box.cx < w and 0 <= box.cy < h):
            continue
        b = _locate(grey, box, margin)
        if b is None or b.score < threshold or not (0 <= b.cx < w and 0 <= b.cy < h):
            continue
        if all(b.iou(f) < 0.3 for f in found):
            found.append(b)
    return sorted(found, key=lambda b: b.x)


def apart(boxes: list[Box], others: list[Box]) -> list[Box]:
    """The ``boxes`` that overlap none of ``others`` (IoU < 0.3): other faces."""
    return [b for b in boxes if all(b.iou(o) < 0.3 for o in others)]


def track_faces(
    images: Iterable[Image], *, full_every: int, full_when_lost: bool = False
) -> Iterator[tuple[Image, list[Box]]]:
    """(grey image, faces) for each image of a sequence, at a fraction of a full pass each.

    Every ``full_every``-th image gets :func:`detect_faces`; the ones in between only
    :func:`detect_faces_near` the faces known so far (a face missed by one pass is looked for
    again until the next full pass). With ``full_when_lost``, an image where the near search
    finds none of the known faces gets a full pass too, so a cut to another shot or person is
    seen at once: for checks that must not miss a face, at the cost of a full pass per image
    on footage without faces.
    """
    if full_every < 1:
        raise ValueError(f"full_every={full_every}: expected at least 1")
    known: list[Box] = []
    for i, image in enumerate(images):
        grey = to_grey(image)
        near = detect_faces_near(grey, known) if i % full_every else []
        if i % full_every == 0 or (full_when_lost and not near):
            boxes = detect_faces(grey)
            boxes += apart(detect_faces_near(grey, apart(known, boxes)), boxes)
            known = boxes
        else:  # keep looking for a face missed here until the next full pass
            boxes = near
            known = boxes + apart(known, boxes)
        yield grey, boxes


def _region(
    box: Box, shape: tuple[int, ...], top: float, bottom: float
) -> tuple[int, int, int, int]:
    """Rows/columns (y0, y1, x0, x1) of a horizontal band of a box, central 60 % of its width.

    The sides are trimmed so that background behind the cheeks does not count as motion.
    """
    h, w = shape[:2]
    y0 = int(round(box.y + box.h * top))
    y1 = int(round(box.y + box.h * bottom))
    x0 = int(round(box.x + box.w * 0.2))
    x1 = int(round(box.x + box.w * 0.8))
    return max(0, y0), min(h, y1), max(0, x0), min(w, x1)


def _head_shift(prev_grey: Image, grey: Image, box: Box) -> tuple[int, int]:
    """How far the face moved since the previous frame, from its rigid eyes-and-nose band."""
    cv2 = _cv2()

    y0, y1, x0, x1 = _region(box, grey.shape, 0.2, 1 - MOUTH_FRACTION)
    r = max(MOUTH_SEARCH_PX, int(round(box.w * 0.15)))
    h, w = grey.shape[:2]
    if y1 - y0 < 4 or x1 - x0 < 4:
        return 0, 0
    sy0, sy1, sx0, sx1 = max(0, y0 - r), min(h, y1 + r), max(0, x0 - r), min(w, x1 + r)
    scores = cv2.matchTemplate(prev_grey[sy0:sy1, sx0:sx1], grey[y0:y1, x0:x1], cv2.TM_SQDIFF)
    _, _, (bx, by), _ = cv2.minMaxLoc(scores)
    return sy0 + by - y0, sx0 + bx - x0


def mouth_motion(prev_grey: Image, grey: Image, box: Box) -> float:
    """Mean absolute difference (0–1) of the mouth region between two frames, per pixel.

    The lower 40 % of the box, normalised by its area so big and small faces compare. The
    head's own movement is taken out first: the previous frame is aligned on the rigid upper
    face (eyes, nose), and the mouth is compared at that shift (±2 px more for jitter), so a
    nod or a step sideways does not read as talking.
    """
    y0, y1, x0, x1 = _region(box, grey.shape, 1 - MOUTH_FRACTION, 1.0)
    if y1 - y0 < 4 or x1 - x0 < 4:
        return 0.0
    hy, hx = _head_shift(prev_grey, grey, box)
    cur = grey[y0:y1, x0:x1].astype(np.int16)
    h, w = grey.shape[:2]
    s = MOUTH_SEARCH_PX
    best = np.inf
    for dy in range(hy - s, hy + s + 1):
        for dx in range(hx - s, hx + s + 1):
            if y0 + dy < 0 or x0 + dx < 0 or y1 + dy > h or x1 + dx > w:
                continue
            ref = prev_grey[y0 + dy : y1 + dy, x0 + dx : x1 + dx].astype(np.int16)
            best = min(best, float(np.mean(np.abs(cur - ref))))
    return 0.0 if not np.isfinite(best) else best / 255.0
