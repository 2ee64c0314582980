"""Shot boundaries in the analysis frames a clip's framing already decodes (pure: pixels and
numbers in, sample indices out; the one refinement decode lives in
:mod:`media.framing.analysis`).

Each analysed grey frame is reduced to a :class:`Signature`: a 32 px wide thumbnail and a
32-bin grey histogram. Between consecutive samples of one shot the thumbnail's mean absolute
difference stays small even with a face pulling expressions or a handheld camera; a cut moves
it by an order of magnitude. Measured on real talking heads composed into an edit at the
pipeline's 5 fps (tests/media/framing/test_shots.py builds the same kind of edit):

    within a shot       thumbnail 0.001–0.028   histogram 0.002–0.023
    hard cut            thumbnail 0.110–0.167   histogram 0.199–0.517
    1 s dissolve        thumbnail 0.017–0.047 per step, 0.15–0.21 across 0.8 s

and with the thumbnail compared under shifts of up to 2 px (motion compensated) the largest
step within the 21 real single-shot videos is 0.088, against 0.107 and 0.159 at the cuts. So a
**hard cut** is a large thumbnail step that also moves the histogram (or a very large one) and
stands out from the steps around it; a **dissolve** is a stretch whose ends, 0.8 s apart,
differ by :data:`GRADUAL_SPAN` and whose middle frame is their blend (residue 0.05–0.06 at the
dissolves, ≥ 0.28 for head motion); its cut is placed in the middle of the stretch. A shot
shorter than :data:`MIN_SHOT_S` is merged into its neighbour (a flash frame is not a shot).

The frames also say whether the picture looks like a **screen** (slides, a shared desktop):
large flat areas (:func:`flat_share`), which camera footage, with its sensor noise and
texture, has less of (0.14–0.62 on the shared real videos; a slide 0.97), and hard edges away
from any face (:func:`sharp_share`: text), which a generated face on a flat background lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from media.framing.detection import Box

THUMB_W = 32
HIST_BINS = 32
# Thumbnail shift (px of the 32 px thumbnail) tolerated between two samples of one shot.
SHIFT_PX = 2
# A hard cut: a thumbnail step (0..1, shift-tolerant) of at least HARD_STEP with a histogram
# step of at least HIST_STEP, or a thumbnail step of at least BIG_STEP alone (two people in
# one studio share the grey levels); either standing out STANDOUT× from the steps within ±1 s.
HARD_STEP = 0.06
HIST_STEP = 0.1
BIG_STEP = 0.1
STANDOUT = 3.0
# A gradual transition: frames GRADUAL_GAP_S apart differ by at least GRADUAL_SPAN and the
# frame between them is a blend of the two (residue at most BLEND_RESIDUE).
GRADUAL_GAP_S = 0.8
GRADUAL_SPAN = 0.09
BLEND_RESIDUE = 0.2
MIN_SHOT_S = 0.6
BLOCK = 8
# A block whose grey values vary less than this (std) is flat: screen content or padding…
FLAT_STD = 1.5
# …and one that varies this much holds a hard edge: text, a drawn line.
SHARP_STD = 40.0


@dataclass(frozen=True, slots=True)
class Signature:
    """A frame reduced for comparison: thumbnail (0..1 floats) and normalised histogram."""

    thumb: npt.NDArray[np.float32]
    hist: npt.NDArray[np.float32]


def signature(grey: npt.NDArray[np.uint8]) -> Signature:
    """The :class:`Signature` of one grey frame (any size)."""
    h, w = grey.shape[:2]
    th = max(2, round(THUMB_W * h / w))
    # Block means by reshaping (area interpolation) over the largest whole-block crop.
    bh, bw = max(1, h // th), max(1, w // THUMB_W)
    crop = grey[: bh * th, : bw * THUMB_W].astype(np.float32)
    thumb = crop.reshape(th, bh, THUMB_W, bw).mean(axis=(1, 3)) / 255.0
    hist = np.bincount((grey >> 3).reshape(-1), minlength=HIST_BINS).astype(np.float32)
    return Signature(thumb.astype(np.float32), hist / max(1.0, float(hist.sum())))


def thumb_distance(a: Signature, b: Signature, max_shift: int = SHIFT_PX) -> float:
    """Mean absolute difference of the thumbnails (0 = same picture, 1 = black vs white),
    the smallest over shifts of up to ``max_shift`` thumbnail pixels: a head or a camera that
    moves between two samples shifts the picture, a cut replaces it."""
    h, w = a.thumb.shape
    best = float("inf")
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            pa = a.thumb[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
            pb = b.thumb[max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)]
            best = min(best, float(np.abs(pa - pb).mean()))
    return best


def dissolve_residue(a: Signature, mid: Signature, b: Signature) -> float:
    """How far ``mid`` is from the mean of ``a`` and ``b``, relative to how far they are apart:
    near 0 in the middle of a dissolve (a blend of the two shots), about 0.5 or more for motion
    (the middle frame is a third picture, not a blend)."""
    apart = float(np.abs(a.thumb - b.thumb).mean())
    if apart <= 0:
        return float("inf")
    return float(np.abs(mid.thumb - (a.thumb + b.thumb) / 2).mean()) / apart


def hist_distance(a: Signature, b: Signature) -> float:
    """Half the L1 distance of the histograms (0 = same grey levels, 1 = disjoint)."""
    return 0.5 * float(np.abs(a.hist - b.hist).sum())


def block_std(grey: npt.NDArray[np.uint8], block: int = BLOCK) -> npt.NDArray[np.float32]:
    """Standard deviation of the grey values in each ``block``-pixel square (rows × cols)."""
    h, w = grey.shape[:2]
    rows, cols = h // block, w // block
    tiles = grey[: rows * block, : cols * block].astype(np.float32)
    stds: npt.NDArray[np.float32] = tiles.reshape(rows, block, cols, block).std(axis=(1, 3))
    return stds


def flat_share(stds: npt.NDArray[np.float32]) -> float:
    """Share of blocks whose grey values barely vary (std < FLAT_STD)."""
    return float((stds < FLAT_STD).mean()) if stds.size else 0.0


def sharp_share(stds: npt.NDArray[np.float32], faces: Sequence[Box], block: int = BLOCK) -> float:
    """Share of blocks outside the faces (boxes in pixels of the frame the blocks came from,
    widened by half) with hard contrast (std ≥ SHARP_STD): text and drawn lines."""
    if not stds.size:
        return 0.0
    sharp = stds >= SHARP_STD
    for f in faces:
        r0, r1 = int((f.y - f.h / 2) // block), int((f.y + 1.5 * f.h) // block) + 1
        c0, c1 = int((f.x - f.w / 2) // block), int((f.x + 1.5 * f.w) // block) + 1
        sharp[max(0, r0) : max(0, r1), max(0, c0) : max(0, c1)] = False
    return float(sharp.mean())


def _steps(signatures: Sequence[Signature]) -> tuple[npt.NDArray[np.float64], ...]:
    n = len(signatures)
    thumb = np.zeros(n)
    hist = np.zeros(n)
    for i in range(1, n):
        thumb[i] = thumb_distance(signatures[i - 1], signatures[i])
        hist[i] = hist_distance(signatures[i - 1], signatures[i])
    return thumb, hist


def hard_cuts(signatures: Sequence[Signature], fps: float) -> list[int]:
    """Indices ``i`` where sample ``i`` is the first of a new shot after a hard cut."""
    thumb, hist = _steps(signatures)
    around = max(2, round(fps))
    cuts = []
    for i in range(1, len(signatures)):
        window = np.concatenate([thumb[max(1, i - around) : i], thumb[i + 1 : i + 1 + around]])
        base = float(np.median(window)) if len(window) else 0.0
        big = thumb[i] >= BIG_STEP or (thumb[i] >= HARD_STEP and hist[i] >= HIST_STEP)
        if big and thumb[i] >= STANDOUT * base:
            cuts.append(i)
    return cuts


def gradual_cuts(signatures: Sequence[Signature], fps: float, hard: Sequence[int]) -> list[int]:
    """Indices of the middle sample of each gradual transition (dissolve, fade) not already
    cut hard: stretches where frames :data:`GRADUAL_GAP_S` apart differ by GRADUAL_SPAN and
    the frame half-way is a blend of them."""
    gap = max(2, round(GRADUAL_GAP_S * fps))
    n = len(signatures)
    span = np.zeros(n)
    for i in range(gap, n):
        a, mid, b = signatures[i - gap], signatures[i - gap // 2], signatures[i]
        if dissolve_residue(a, mid, b) <= BLEND_RESIDUE:
            span[i] = thumb_distance(a, b)
    above = span >= GRADUAL_SPAN
    cuts = []
    i = 0
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and above[j + 1]:
            j += 1
        # frames i-gap … j span the transition; its middle is where the new shot dominates
        first, last = i - gap, j
        if not any(first < h <= last for h in hard):
            peak = i + int(np.argmax(span[i : j + 1]))
            cuts.append(max(1, peak - gap // 2))
        i = j + 1
    return cuts


def detect_cuts(signatures: Sequence[Signature], fps: float) -> list[tuple[int, bool]]:
    """``(index, hard)`` of the first sample of each new shot, sorted, ``hard`` False for a
    dissolve; shots shorter than :data:`MIN_SHOT_S` are merged away."""
    if fps <= 0:
        raise ValueError(f"detect_cuts: fps={fps}, expected > 0")
    hard = hard_cuts(signatures, fps)
    cuts = sorted(
        {(i, True) for i in hard} | {(i, False) for i in gradual_cuts(signatures, fps, hard)}
    )
    min_gap = max(1, round(MIN_SHOT_S * fps))
    kept: list[tuple[int, bool]] = []
    for c, is_hard in cuts:
        if c < min_gap or len(signatures) - c < min_gap:
            continue  # a sliver at either end of the window
        if kept and c - kept[-1][0] < min_gap:
            continue
        kept.append((c, is_hard))
    return kept


def step_index(signatures: Sequence[Signature]) -> int:
    """Index of the frame after the largest change in a short run of consecutive frames."""
    steps = [thumb_distance(a, b) for a, b in zip(signatures, signatures[1:], strict=False)]
    return 1 + int(np.argmax(steps)) if steps else 0


def shot_bounds(
    times: Sequence[float] | npt.NDArray[np.float64], cuts: Sequence[float]
) -> list[tuple[int, int]]:
    """Sample index ranges ``[i0, i1)`` of each shot, given the cut times."""
    t = np.asarray(times, dtype=float)
    edges = [0] + [int(np.searchsorted(t, c, side="left")) for c in cuts] + [len(t)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]
