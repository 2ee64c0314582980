"""Face detection behind one interface (pure: an image in, boxes out; no Prefect, no I/O).

The default detector is OpenCV's frontal-face Haar cascade, which ships inside the
opencv-python-headless 4.x wheel, so nothing is downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in pixels of the image it was found in."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

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

    def scaled(self, factor: float) -> Box:
        return Box(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score)


@lru_cache(maxsize=1)
def _cascade():
    import cv2

    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV Haar cascade missing at {path}")
    return cascade


def detect_faces(image_bgr: np.ndarray, *, min_size_frac: float = 0.06) -> list[Box]:
    """Detect frontal faces in a BGR (or grey) image; boxes sorted left to right."""
    import cv2

    grey = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    grey = cv2.equalizeHist(grey)
    min_side = max(20, int(min(grey.shape[:2]) * min_size_frac))
    found = _cascade().detectMultiScale3(
        grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side),
        outputRejectLevels=True,
    )
    rects, _, weights = found
    boxes = [Box(float(x), float(y), float(w), float(h), float(s))
             for (x, y, w, h), s in zip(rects, np.ravel(weights), strict=False)]
    return sorted(boxes, key=lambda b: b.x)
