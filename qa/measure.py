"""Measurements of one produced clip, read from the encoded file only (never from the plan).

Loudness: ffmpeg's ebur128 via :mod:`media.render.loudness` (EBU R128 / ITU-R BS.1770-4, true peak).
Framing: the share of sampled frames whose subject face sits on the vertical centre line.
Decode: a full decode with FFmpeg's strictest error detection (docs/ARCHITECTURE.md,
"Measured facts", corrupt H.264).
Codec: :func:`qa.codec.inspect_codec`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from blocks.settings import PipelineSettings
from media import ffmpeg
from media.errors import FFmpegError, MediaError
from media.framing.detection import Box, track_faces
from media.probe import MediaInfo
from media.render import loudness
from media.render.layouts import FaceRegion
from qa.codec import inspect_codec, probe_output
from qa.records import ClipMeasurements

# QA samples at least this often, whatever the settings say: fewer samples make the ratio
# too coarse to tell 90 % from 85 % on a 15 s clip.
MIN_SAMPLE_FPS = 2.0
# The whole frame is searched for faces every FULL_PASS_S, and whenever the faces known so far
# are lost; in between only around them (a tenth of the cost, media.framing.detection.track_faces).
# A cut to another person is therefore seen at once, and a face that joins one later within 2 s.
FULL_PASS_S = 2.0
# Frames are scaled to at most this width before detection. The detector scales each frame to
# its smallest face (a share of the shorter side) itself, so more pixels would only cost decode.
MAX_SAMPLE_WIDTH = 640
# The strictest decode FFmpeg offers; -xerror stops at the first error. It catches every
# NAL-length corruption and truncation, about half of the single byte flips in slice data
# (docs/ARCHITECTURE.md, "Measured facts").
ERR_DETECT = "crccheck+bitstream+buffer+careful+explode"


def sample_size(width: int, height: int, max_width: int = MAX_SAMPLE_WIDTH) -> tuple[int, int]:
    """Even frame size for face sampling: the display size, scaled down to ``max_width``."""
    if width <= 0 or height <= 0:
        raise MediaError(f"cannot sample faces from a {width}x{height} picture")
    w = min(width, max_width)
    h = height * w / width
    return max(2, int(w) // 2 * 2), max(2, int(round(h / 2)) * 2)


def face_sample_argv(path: str, *, fps: float, width: int, height: int) -> list[str]:
    """One decode of the whole clip: ``fps`` frames per second, scaled, raw BGR on stdout."""
    vf = f"fps={fps:g},scale={width}:{height}:flags=area"
    return [
        *ffmpeg.ffmpeg_base(),
        *ffmpeg.input_args(path, source=False),
        *"-map 0:v:0 -an -sn -dn -vf".split(),
        vf,
        *"-pix_fmt bgr24 -f rawvideo -".split(),
    ]


def decode_check_argv(path: str) -> list[str]:
    """Decode every video and audio frame with full error detection, output discarded."""
    return [
        *"ffmpeg -hide_banner -nostdin -nostats -v error -xerror -err_detect".split(),
        ERR_DETECT,  # a decoder option: before -i
        *ffmpeg.input_args(path, source=False),
        *"-map 0:v? -map 0:a? -f null -".split(),
    ]


def subject_face(boxes: Sequence[Box]) -> Box | None:
    """The framed subject: the largest face.

    Largest rather than nearest-to-centre, so a small false detection (or a background person)
    near the middle cannot make an off-centre speaker count as centred.
    """
    return max(boxes, key=lambda b: b.area, default=None)


def is_centred(boxes: Sequence[Box], width: int, tolerance: float) -> bool:
    """The subject face's centre lies within ``tolerance × width`` of the vertical centre line."""
    face = subject_face(boxes)
    return face is not None and abs(face.cx - width / 2) <= tolerance * width


def _persistence(box: Box, frames: Sequence[Sequence[Box]]) -> int:
    """In how many sampled frames a face of about this size sits about here."""

    def near(other: Box) -> bool:
        close = abs(other.cx - box.cx) <= box.w / 2 and abs(other.cy - box.cy) <= box.h / 2
        return close and 0.6 <= other.w / box.w <= 1.67

    return sum(any(near(o) for o in boxes) for boxes in frames)


def subject_faces(frames: Sequence[Sequence[Box]]) -> list[Box | None]:
    """The framed subject in each sampled frame: the largest of the faces that persist.

    Face detectors flicker: a box that appears beside the real face in a few frames (the Haar
    cascade used before did this at some scales) is not the subject even when it is larger, so
    each box is first scored by how many frames show a face at its place; among the boxes within
    80 % of the frame's most persistent one, the largest wins (a background person does not beat
    the speaker).
    """
    subjects: list[Box | None] = []
    for boxes in frames:
        scored = [(_persistence(b, frames), b) for b in boxes]
        if not scored:
            subjects.append(None)
            continue
        best = max(p for p, _ in scored)
        subjects.append(max((b for p, b in scored if p >= 0.8 * best), key=lambda b: b.area))
    return subjects


def centred_ratio(frames: Iterable[Sequence[Box]], width: int, tolerance: float) -> float:
    """Centred frames / sampled frames; a frame without a face counts as not centred."""
    subjects = subject_faces([list(boxes) for boxes in frames])
    verdicts = [s is not None and abs(s.cx - width / 2) <= tolerance * width for s in subjects]
    return sum(verdicts) / len(verdicts) if verdicts else 0.0


def region_at(regions: Sequence[FaceRegion], t: float) -> FaceRegion | None:
    """The face region in force at clip time ``t`` (None: no regions were given)."""
    for r in regions:
        if r.start - 1e-6 <= t < r.end:
            return r
    return regions[-1] if regions and t >= regions[-1].start else None


def in_region(boxes: Sequence[Box], region: FaceRegion | None, height: int) -> list[Box]:
    """The faces whose centre lies in the region's rows (the panel that holds a face)."""
    if region is None or region.top is None:
        return list(boxes)
    top, bottom = region.top * height, region.bottom * height
    return [b for b in boxes if top <= b.cy < bottom]


def judged_ratio(
    frames: Sequence[Sequence[Box]],
    regions: Sequence[FaceRegion],
    *,
    fps: float,
    width: int,
    height: int,
    tolerance: float,
) -> tuple[float, float]:
    """(centred share of the frames that should show a face, share of frames that should
    not). Each layout by its own rule: in a stacked shot only the presenter's panel counts,
    and a shot without a face by design is counted as such, not as off-centre."""
    judged: list[list[Box]] = []
    skipped = 0
    for i, boxes in enumerate(frames):
        region = region_at(regions, i / fps)
        if region is not None and region.top is None:
            skipped += 1
            continue
        judged.append(in_region(boxes, region, height))
    no_face = skipped / len(frames) if frames else 0.0
    return (centred_ratio(judged, width, tolerance) if judged else 1.0), no_face


def face_centered_ratio(
    path: str, info: MediaInfo, settings: PipelineSettings, regions: Sequence[FaceRegion] = ()
) -> tuple[float, float]:
    """Sample the clip at ``max(qa_sample_fps, 2)`` fps through one ffmpeg pipe, detect faces;
    the centred share and the no-face-by-design share (:func:`judged_ratio`)."""
    v = info.primary_video
    if v is None:
        raise MediaError(f"{path}: no video stream (streams: {info.describe_streams()})")
    width, height = sample_size(*v.display_size)  # ffmpeg auto-rotates while decoding
    fps = max(settings.qa_sample_fps, MIN_SAMPLE_FPS)
    argv = face_sample_argv(path, fps=fps, width=width, height=height)
    images = (
        np.frombuffer(buf, np.uint8).reshape(height, width, 3)
        for buf in ffmpeg.stream(argv, frame_bytes=width * height * 3)
    )
    full_every = max(1, round(FULL_PASS_S * fps))
    tracked = track_faces(images, full_every=full_every, full_when_lost=True)
    frames = [boxes for _, boxes in tracked]
    return judged_ratio(
        frames, regions, fps=fps, width=width, height=height,
        tolerance=settings.face_center_tolerance,
    )  # fmt: skip


def count_decode_errors(path: str) -> int:
    """Error lines of a full strict decode; a failed decode counts at least one."""
    try:
        stderr, failed = ffmpeg.run(decode_check_argv(path), capture_stdout=False).stderr, False
    except FFmpegError as exc:
        stderr, failed = exc.stderr, True
    errors = sum(1 for line in stderr.splitlines() if line.strip())
    return max(errors, 1) if failed else errors


def measure_loudness(path: str) -> loudness.Loudness:
    """Integrated loudness, LRA, true peak and the 10 Hz momentary series (EBU R128)."""
    return loudness.measure(path, momentary=True)


def measure_clip(
    path: str | Path, settings: PipelineSettings, regions: Sequence[FaceRegion] = ()
) -> ClipMeasurements:
    """Measure one produced clip. A clip without video or audio is a render bug: MediaError."""
    path = str(path)
    info = probe_output(path)
    if info.primary_video is None or info.primary_audio is None:
        raise MediaError(
            f"{path}: a clip needs video and audio (streams: {info.describe_streams()})"
        )
    loud = measure_loudness(path)
    centred, no_face = face_centered_ratio(path, info, settings, regions)
    return ClipMeasurements(
        integrated_lufs=loud.integrated_lufs,
        true_peak_dbtp=loud.true_peak_dbtp,
        lra_lu=loud.lra_lu,
        face_centered_ratio=centred,
        decode_errors=count_decode_errors(path),
        duration_s=info.duration_s,
        codec=inspect_codec(path, info=info),
        momentary=loud.momentary,
        no_face_share=no_face,
    )
