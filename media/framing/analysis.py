"""One decode of a clip's window at the analysis size and rate: faces and mouth motion per
sample (the framing stage's only side effect, one ffmpeg pipe)."""

from __future__ import annotations

import numpy as np

from media import ffmpeg
from media.errors import MediaError
from media.framing import centerface, highlight
from media.framing.detection import Image, mouth_motion, to_grey
from media.framing.shots import (
    Signature,
    block_std,
    detect_cuts,
    flat_share,
    sharp_share,
    signature,
    step_index,
)
from media.framing.tracks import Analysis, FaceObs, Outline, Sample

# --- analysis: one ffmpeg pipe per clip ----------------------------------------------------


def analysis_size(src_w: int, src_h: int, width: int) -> tuple[int, int]:
    """Analysis frame size: the longer side at most ``width`` (never upscaled), aspect kept,
    both sides even. A 1080×1920 portrait becomes 360×640, not 640×1138: detection scales to
    the shorter side anyway (:func:`media.framing.detection.detect_faces`), so the extra pixels
    only cost."""
    long_src, short_src = max(src_w, src_h), min(src_w, src_h)
    long = max(2, min(width, long_src) // 2 * 2)
    short = max(2, int(round(long * short_src / long_src / 2)) * 2)
    return (long, short) if src_w >= src_h else (short, long)


def analysis_argv(
    path: str, start_s: float, duration_s: float, size: tuple[int, int], fps: float
) -> list[str]:
    """ffmpeg argv: seek before -i, sample at ``fps``, then scale, raw BGR frames on stdout
    (CenterFace finds more faces in colour than in grey)."""
    w, h = size
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(path, seek_s=start_s, duration_s=duration_s)
        + [
            "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", f"fps={fps:g}:round=up,scale={w}:{h}:flags=area",
            "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1",
        ]
    )  # fmt: skip


def analyse_window(
    path: str,
    start_s: float,
    duration_s: float,
    src_w: int,
    src_h: int,
    *,
    fps: float,
    width: int,
) -> Analysis:
    """Detect faces and mouth motion at ``fps`` over one window of a recording.

    One ffmpeg pipe per clip; times in the result are clip-relative and boxes in source pixels.
    Every sample gets a whole-frame CenterFace pass (at ~17 ms a 640×360 frame, less than HOG's
    full-pass-plus-near-search, and a cut or a face that joins is seen at once) and a look for
    a call app's active-speaker outline (media.framing.highlight).
    Raises :class:`MediaError` when the window yields no video frame.
    """
    if fps <= 0 or width < 16 or duration_s <= 0 or src_w <= 0 or src_h <= 0:
        raise ValueError(
            f"analyse_window({path!r}): fps={fps}, width={width}, duration_s={duration_s}, "
            f"source {src_w}x{src_h}: expected positive values and width >= 16"
        )
    w, h = analysis_size(src_w, src_h, width)
    sx, sy = src_w / w, src_h / h
    argv = analysis_argv(path, start_s, duration_s, (w, h), fps)
    samples: list[Sample] = []
    signatures: list[Signature] = []
    flat: list[float] = []
    sharp: list[float] = []
    prev: Image | None = None
    frames = (
        np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
        for buf in ffmpeg.stream(argv, frame_bytes=w * h * 3)
    )
    outlines: list[Outline | None] = []
    for i, image in enumerate(frames):
        grey, boxes = to_grey(image), centerface.detect_faces(image)
        outlines.append(highlight.scaled(highlight.outline_rect(image), sx, sy))
        faces = []
        for box in boxes:
            motion = mouth_motion(prev, grey, box) if prev is not None else float("nan")
            faces.append(FaceObs(box.scaled(sx, sy), motion))
        samples.append(Sample(round(i / fps, 4), tuple(faces)))
        signatures.append(signature(grey))
        stds = block_std(grey)
        flat.append(round(flat_share(stds), 3))
        sharp.append(round(sharp_share(stds, boxes), 4))
        prev = grey
    if not samples:
        raise MediaError(
            f"{path}: no video frame decoded between {start_s:.3f} s and "
            f"{start_s + duration_s:.3f} s"
        )
    cuts = tuple(
        refine_cut(path, start_s, samples[i - 1].t, samples[i].t, hard)
        for i, hard in detect_cuts(signatures, fps)
    )
    return Analysis(
        src_w,
        src_h,
        float(fps),
        float(duration_s),
        tuple(samples),
        cuts=cuts,
        flat=tuple(flat),
        sharp=tuple(sharp),
        outlines=tuple(outlines),
    )


def refine_cut(path: str, start_s: float, t0: float, t1: float, hard: bool) -> float:
    """The clip time of a cut seen between the samples at ``t0`` and ``t1``: for a hard cut,
    the first frame of the new shot, from one small decode of that stretch at the source's
    own rate (a frame-accurate cut instead of one 1/analysis-fps late); a dissolve's cut stays
    at the sample in its middle."""
    if not hard:
        return t1
    argv = (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(path, seek_s=start_s + t0, duration_s=t1 - t0 + 1e-3)
        + ["-map", "0:v:0", "-an", "-sn", "-dn", "-vf", "scale=64:36:flags=area",
           "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"]
    )  # fmt: skip
    frames = [
        np.frombuffer(buf, dtype=np.uint8).reshape(36, 64)
        for buf in ffmpeg.stream(argv, frame_bytes=64 * 36)
    ]
    if len(frames) < 2:
        return t1
    step = step_index([signature(f) for f in frames])
    return round(t0 + (t1 - t0) * step / (len(frames) - 1), 4)
