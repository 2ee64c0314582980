"""Face-detector benchmark: recall, false positives and speed per detector (not a pytest test).

Run: ``.venv/bin/python -m tests.benchmarks.faces [--media DIR] [--rounds N] [--notes]``, or
``--qa`` for the face-centred QA of 9:16 crops of the real videos (DIR defaults to
$CLIPFLOW_REAL_MEDIA). The file name does not match pytest's ``test_*.py``: never collected.
Sets, each at the size the pipeline analyses:

- ``photos``: the 12 shared photos (59 faces) scaled to 640 px wide, against the boxes in
  :data:`PHOTO_FACES`. A detection is a hit when its centre lies inside an unmatched true box
  and its width is within 0.5–2× of it; every other detection is a false positive (FP).
- ``astronaut``: the repo's face photo over a flat blue background, 65 frames: 21–22 sizes in
  a 640×1138 frame (QA's sample of a 1080×1920 clip, where Haar put a persistent false box
  beside the face), in a 360×640 and in a 640×360 frame.
- ``texture``: 24 face-free frames (noise, blurred noise, stripes, checkerboards).
- ``profiles``, ``tilted``, ``gallery`` (:mod:`tests.benchmarks.face_sets`): Emma's 3/4 and
  side views as they are, mirrored and face to face in 640×360 two-shots (14 faces); photos
  with large faces turned ±20° and ±35° (42); 4×4 and 6×6 galleries of 640×360 (52 faces of
  56 and 37 px).
- ``videos``: one frame a second of the 23 shared videos (one face each, none on the timecode
  card), long side 640 px; a frame with a box is a hit, each further box an FP.
- speed: 640×360 BGR frames of liveportrait__s18.mp4 (1280×720): frames per CPU second on one
  thread (the detector's own threads count) and per wall-clock second over two threads.

Measured November 2026 on the 2-core machine, busy with other jobs (CPU-time figures hold up;
the two-thread column is noisy). ``clipflow`` is media.framing.detection.detect_faces (HOG, faces
from 8 %
of the shorter side, plus a padded pass for large faces and sub-cell placement):

    detector     photos          astronaut      texture  videos        fps/CPU  fps 2 thr
    haar         56/59 0.95 0FP  65/65 1.00 20FP  1FP    208/208 5FP   12.5     12–24
    hog0         30/59 0.51 0FP  48/65 0.74 0FP   0FP    208/208 0FP   91.6     167
    hog1         57/59 0.97 0FP  65/65 1.00 0FP   0FP    208/208 0FP   23.6     26–40
    haar>hog     56/59 0.95 0FP  65/65 1.00 0FP   1FP    208/208 2FP   12.0     12–13
    clipflow@.11 54/59 0.92 0FP  65/65 1.00 0FP   0FP    208/208 0FP   16.0     16–22
    clipflow     57/59 0.97 0FP  65/65 1.00 0FP   0FP    208/208 0FP   10.1     17–18

Video analysis as media.framing ran it with HOG (a full pass a second, near search between):
36.8 frames per CPU second (Haar's 46.5). ``--qa``: 19 of the 22 videos with a face read ≥ 0.90
face-centred (Haar: 15); the other three are close-ups whose crop lags a fast-moving head.

CenterFace (media.framing.centerface, framing's detector since; QA keeps HOG), measured
December 2026 on the same kind of machine with a load average of 5–7 from other jobs, so every
speed reads lower than above (the HOG row, run alongside, is the yardstick): ``cfN`` feeds the
network a colour image whose long side is N px, ``grey`` the same frame grey in three channels.

    detector  photos    astronaut texture profiles  tilted    gallery   videos      fps/CPU 2 thr
    cf320     59/59 0FP 65/65 0FP 0FP     14/14 0FP 41/42 0FP 50/52 0FP 208/208 0FP    92.3   54
    cf384     59/59 0FP 65/65 0FP 0FP     14/14 0FP 41/42 0FP 52/52 0FP 208/208 0FP    58.5   41
    cf416     59/59 1FP 65/65 0FP 0FP     14/14 2FP 42/42 1FP 52/52 0FP 208/208 0FP    46.2   18
    cf640     59/59 0FP 65/65 0FP 0FP     14/14 4FP 42/42 1FP 52/52 0FP 208/208 0FP    21.3   13
    cf320grey 59/59 0FP 64/65 0FP 0FP     14/14 0FP 40/42 0FP 48/52 0FP 208/208 0FP    84.3   42
    clipflow  57/59 0FP 65/65 0FP 0FP      9/14 0FP 34/42 3FP 47/52 0FP 208/208 0FP     6.2  2.6

HOG misses the third Emma panel (3/4 view looking back) wherever it appears, and heads turned
35°. CenterFace at 320 px misses one face turned 35° and two 37 px faces of the 6×6 gallery
(0.10 of the frame's height), and scores a presenter's 26 px face beside a slide 0.36
(tests/media/framing/test_layouts_render.py); 384 px finds those (0.56) with no false box
anywhere; 416 and 640 also put boxes on Emma's blurred background and cost more; grey input
loses faces. Framing therefore feeds colour at 384 px, one whole-frame pass a sample (17 ms of
CPU a frame, 320 px 11 ms, HOG's pattern 49 ms at 20.4 fps/CPU in the same run; the cf384 row's
speed is from a second run, beside cf320 at 85.6 and cf416 at 46.0).

media.framing.analysis.analyse_window over the first 12 s of five shared videos at 5 fps (225
samples, the timecode card among them), CPU a sample (detection, mouth motion, the model's
first load): HOG 41.5 ms, CenterFace at 320 px 17.2 ms, at 384 px 23.4 ms; ffmpeg's decode
~15 ms in every case (bgr24 instead of gray costs nothing measurable). Two threads sharing one
onnxruntime session ran 60 frames/s, one session per thread 47, a shared session behind a lock
57: one session is shared, without a lock.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from media import ffmpeg
from media.framing import centerface
from media.framing.detection import Box, detect_faces, detect_faces_near, to_grey
from media.sample.generator import FACE_PHOTO
from tests.benchmarks import face_sets

Detector = Callable[[np.ndarray], list[Box]]
ASSET = FACE_PHOTO
# The astronaut's face in the 320×320 asset (x, y, w, h), checked by eye.
ASSET_FACE = (112, 66, 96, 96)

# True face boxes (x, y, w, h) on each photo scaled to 640 px wide, checked by eye: the union of
# Haar and dlib HOG (at 640 px and at up to 2000 px) boxes, plus the 3/4-view third Emma panel,
# which no detector here finds. Not counted: the tiny crowd behind one bald_guys tile and the
# woman at the right edge of obama_and_biden, whose face is outside the frame.
PHOTO_FACES: dict[str, list[tuple[int, int, int, int]]] = {
    "3ddfa__emma.jpg": [(36, 83, 86, 86), (262, 58, 60, 60), (480, 55, 82, 85)],
    "deepface__couple.jpg": [(114, 193, 178, 178), (410, 134, 178, 178)],
    "dlib__2007_007763.jpg": [
        (118, 247, 50, 49), (205, 152, 41, 41), (230, 276, 41, 41), (246, 114, 49, 49),
        (372, 109, 50, 49), (400, 303, 53, 53), (485, 104, 70, 70),
    ],
    "dlib__2008_002470.jpg": [
        (73, 201, 58, 59), (191, 214, 41, 41), (230, 113, 41, 41), (296, 86, 59, 59),
        (353, 233, 58, 58), (416, 67, 59, 59),
    ],
    "dlib__2008_007676.jpg": [
        (133, 173, 70, 69), (174, 105, 59, 59), (244, 143, 59, 59), (288, 77, 49, 49),
        (335, 166, 50, 50), (399, 151, 49, 49), (468, 173, 49, 49),
    ],
    "dlib__2009_004587.jpg": [(242, 77, 125, 126), (434, 454, 88, 88)],
    "dlib__bald_guys.jpg": [
        (11, 411, 60, 60), (18, 25, 60, 60), (21, 126, 50, 50), (21, 226, 50, 50),
        (22, 322, 42, 42), (100, 73, 42, 42), (104, 142, 50, 50), (110, 397, 72, 72),
        (110, 18, 35, 35), (126, 261, 72, 72), (171, 32, 60, 60), (178, 138, 60, 60),
        (251, 264, 60, 60), (253, 403, 50, 50), (277, 131, 60, 60), (281, 37, 50, 50),
        (337, 244, 60, 60), (344, 417, 60, 60), (359, 342, 50, 50), (457, 32, 104, 104),
        (470, 433, 42, 42), (534, 227, 29, 29), (580, 420, 50, 50), (587, 141, 35, 35),
    ],
    "facerec__biden.jpg": [(287, 141, 220, 220)],
    "facerec__obama.jpg": [(266, 104, 163, 163)],
    "facerec__obama_and_biden.jpg": [(236, 144, 60, 60), (368, 124, 60, 60), (510, 340, 50, 50)],
    "facerec__two_people.jpg": [(134, 27, 88, 89), (442, 32, 106, 106)],
    "skimage__astronaut.png": [(214, 99, 118, 118)],
}  # fmt: skip
SPEED_VIDEO = "video/talking_head/liveportrait__s18.mp4"
NO_FACE_VIDEOS = {"autoeditor__example_timecode_voice.mp4"}


# --- detectors under comparison ------------------------------------------------------------------

_LOCAL = threading.local()


def _haar_cascade():
    import cv2

    if getattr(_LOCAL, "haar", None) is None:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        _LOCAL.haar = cv2.CascadeClassifier(path)
    return _LOCAL.haar


def _hog():
    import dlib

    if getattr(_LOCAL, "hog", None) is None:
        _LOCAL.hog = dlib.get_frontal_face_detector()
    return _LOCAL.hog


def haar_candidates(image: np.ndarray, min_neighbors: int = 5) -> list[Box]:
    """OpenCV's frontal Haar cascade as clipflow used it (faces ≥ 8 % of the short side)."""
    grey = to_grey(image)
    side = max(20, int(min(grey.shape[:2]) * 0.08))
    rects, _, weights = _haar_cascade().detectMultiScale3(
        grey, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(side, side),
        outputRejectLevels=True,
    )  # fmt: skip
    return [Box(*map(float, r), float(s)) for r, s in zip(rects, np.ravel(weights), strict=False)]


def hog(upsample: int, threshold: float = 0.0) -> Detector:
    """dlib's HOG frontal-face detector, ``upsample`` pyramid doublings first."""

    def detect(image: np.ndarray) -> list[Box]:
        rects, scores, _ = _hog().run(to_grey(image), upsample, threshold)
        return [
            Box(r.left(), r.top(), r.width(), r.height(), s)
            for r, s in zip(rects, scores, strict=True)
        ]

    return detect


def _hog_on_crop(grey: np.ndarray, box: Box, threshold: float) -> Box | None:
    """dlib HOG on the box's surroundings, scaled so the box is 100 px wide; its best face there."""
    import cv2

    h, w = grey.shape[:2]
    pad = 0.4 * box.w
    x0, y0 = max(0, int(box.x - pad)), max(0, int(box.y - pad))
    x1, y1 = min(w, int(box.x + box.w + pad)), min(h, int(box.y + box.h + pad))
    s = 100 / box.w
    crop = cv2.resize(grey[y0:y1, x0:x1], None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
    found = [
        Box(b.x / s + x0, b.y / s + y0, b.w / s, b.h / s, b.score) for b in hog(0, threshold)(crop)
    ]
    inside = [b for b in found if abs(b.cx - box.cx) < box.w / 2 and abs(b.cy - box.cy) < box.h / 2]
    return max(inside, key=lambda b: b.score, default=None)


def haar_verified(min_neighbors: int = 5, threshold: float = -0.5) -> Detector:
    """Haar candidates, each kept only when dlib HOG also finds a face there."""

    def detect(image: np.ndarray) -> list[Box]:
        grey = to_grey(image)
        out: list[Box] = []
        for cand in haar_candidates(grey, min_neighbors):
            b = _hog_on_crop(grey, cand, threshold)
            if b is not None and all(b.iou(o) < 0.3 for o in out):
                out.append(b)
        return out

    return detect


DETECTORS: dict[str, Detector] = {
    "haar": haar_candidates,
    "hog0": hog(0),
    "hog1": hog(1),
    "haar>hog": haar_verified(),
    "clipflow@.11": lambda image: detect_faces(image, min_size_frac=0.11),
    "clipflow": detect_faces,
    # CenterFace (media.framing.centerface, framing's detector; its default input is 384 px on
    # the long side) at other sizes, and fed grey frames (three equal channels) instead of colour.
    "cf320": lambda image: centerface.detect_faces(image, long_side=320),
    "cf384": lambda image: centerface.detect_faces(image, long_side=384),
    "cf416": lambda image: centerface.detect_faces(image, long_side=416),
    "cf640": lambda image: centerface.detect_faces(image, long_side=640),
    "cf320grey": lambda image: centerface.detect_faces(to_grey(image), long_side=320),
    "cf416grey": lambda image: centerface.detect_faces(to_grey(image), long_side=416),
}


# --- data sets -----------------------------------------------------------------------------------


def _resize_to(image: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    return cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def photos(media_dir: Path) -> Iterator[tuple[str, np.ndarray, list[Box]]]:
    import cv2

    for name, boxes in PHOTO_FACES.items():
        image = cv2.imread(str(media_dir / "faces" / name))
        yield name, _resize_to(image, 640), [Box(*b) for b in boxes]


def astronaut_frames() -> Iterator[tuple[str, np.ndarray, list[Box]]]:
    import cv2

    face = cv2.imread(str(ASSET))
    fx, fy, fw, fh = ASSET_FACE
    for w, h in ((640, 1138), (360, 640), (640, 360)):
        for size in range(int(0.3 * min(w, h)), int(0.9 * min(w, h)) + 1, int(0.03 * min(w, h))):
            frame = np.empty((h, w, 3), np.uint8)
            frame[:] = (0xC0, 0x50, 0x20)
            x0, y0 = (w - size) // 2, (h - size) // 2
            frame[y0 : y0 + size, x0 : x0 + size] = cv2.resize(
                face, (size, size), interpolation=cv2.INTER_AREA
            )
            k = size / face.shape[1]
            yield f"{w}x{h}@{size}", frame, [Box(x0 + fx * k, y0 + fy * k, fw * k, fh * k)]


def textures() -> Iterator[tuple[str, np.ndarray, list[Box]]]:
    import cv2

    rng = np.random.default_rng(0)
    for i in range(6):
        noise = rng.integers(0, 256, (360 // 2**i + 1, 640 // 2**i + 1), dtype=np.uint8)
        yield f"noise{i}", cv2.resize(noise, (640, 360)), []
        yield f"blur{i}", cv2.GaussianBlur(cv2.resize(noise, (640, 360)), (0, 0), 3), []
    yy, xx = np.mgrid[0:360, 0:640]
    for period in (8, 16, 32, 64, 96, 128):
        yield f"stripes{period}", (((xx + yy) // period) % 2 * 200 + 20).astype(np.uint8), []
        yield (
            f"checker{period}",
            (((xx // period) + (yy // period)) % 2 * 200 + 20).astype(np.uint8),
            [],
        )


def analysis_frames(path: Path, fps: float, long_side: int = 640) -> Iterator[np.ndarray]:
    """BGR frames at ``fps``, scaled so the long side is ``long_side`` (as framing does)."""
    from media.probe import probe

    w, h = probe(path).video[0].display_size
    s = long_side / max(w, h)
    w, h = max(2, round(w * s / 2) * 2), max(2, round(h * s / 2) * 2)
    argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(path), source=False) + [
        "-map", "0:v:0", "-an", "-vf", f"fps={fps:g},scale={w}:{h}:flags=area",
        "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    for buf in ffmpeg.stream(argv, frame_bytes=w * h * 3):
        yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)


def video_frames(media_dir: Path) -> Iterator[tuple[str, np.ndarray, int]]:
    for folder in ("talking_head", "no_speech"):
        for path in sorted((media_dir / "video" / folder).glob("*.m[pk][4v]")):
            faces = 0 if path.name in NO_FACE_VIDEOS else 1
            for i, frame in enumerate(analysis_frames(path, 1.0)):
                yield f"{path.stem}#{i}", frame, faces


# --- scoring -------------------------------------------------------------------------------------


def match(found: list[Box], truth: list[Box]) -> tuple[int, int]:
    """(hits, false positives): greedy, most confident detection first."""
    free = list(truth)
    hits = 0
    for b in sorted(found, key=lambda b: -b.score):
        for t in free:
            inside = abs(b.cx - t.cx) <= t.w / 2 and abs(b.cy - t.cy) <= t.h / 2
            if inside and 0.5 <= b.w / t.w <= 2.0:
                free.remove(t)
                hits += 1
                break
    return hits, len(found) - hits


def score_boxes(detect: Detector, items) -> tuple[int, int, int, list[str]]:
    """(hits, truths, false positives, notes on the items that went wrong)."""
    hits = total = fps_ = 0
    notes = []
    for name, image, truth in items:
        h, fp = match(detect(image), truth)
        hits, total, fps_ = hits + h, total + len(truth), fps_ + fp
        if h < len(truth) or fp:
            notes.append(f"{name}: {h}/{len(truth)}" + (f" +{fp} FP" if fp else ""))
    return hits, total, fps_, notes


def score_counts(detect: Detector, items) -> tuple[int, int, int]:
    hits = total = extra = 0
    for _, image, faces in items:
        n = len(detect(image))
        hits, total, extra = hits + min(n, faces), total + faces, extra + max(0, n - faces)
    return hits, total, extra


def speed(detect: Detector, frames: list[np.ndarray], rounds: int) -> tuple[float, float]:
    """Frames per CPU second on one thread (all of the process's CPU time, so a detector's own
    worker threads count), and frames per wall-clock second over two threads; best of
    ``rounds``. CPU time is the figure that survives a busy machine."""
    detect(frames[0])
    cpu = two = 0.0
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(detect, frames[:2]))  # a detector per thread, built outside the timing
        for _ in range(rounds):
            t = time.process_time()
            for f in frames:
                detect(f)
            cpu = max(cpu, len(frames) / (time.process_time() - t))
            t = time.perf_counter()
            list(pool.map(detect, frames))
            two = max(two, len(frames) / (time.perf_counter() - t))
    return cpu, two


def analysis_speed(frames: list[np.ndarray], rounds: int, full_every: int = 5) -> float:
    """Frames per CPU second of media.framing's pattern: a full pass on every ``full_every``-th
    frame (once a second at 5 samples/s), :func:`detect_faces_near` on the others."""
    best = 0.0
    for _ in range(rounds):
        t = time.process_time()
        known: list[Box] = []
        for i, frame in enumerate(frames):
            if i % full_every == 0 or not known:
                known = detect_faces(frame)
            else:
                boxes = detect_faces_near(frame, known)
                known = boxes + [k for k in known if all(k.iou(b) < 0.3 for b in boxes)]
        best = max(best, len(frames) / (time.process_time() - t))
    return best


def _crop_argv(src: Path, plan, cmd: Path, out: Path) -> list[str]:
    k = plan.keys[0]
    crop = f"crop=w={plan.crop_w}:h={plan.crop_h}:x={k.x}:y={k.y}:exact=1"
    vf = f"sendcmd=f={cmd},{crop},format=yuv420p"
    argv = ["-i", str(src), "-an", "-vf", vf, "-preset", "veryfast", str(out)]
    return ffmpeg.ffmpeg_base() + argv


def qa_ratios(media_dir: Path) -> None:
    """Plan a 9:16 crop of each real video (media.framing), render it, and print QA's
    face-centred ratio of the result (qa.measure), with the default settings."""
    import tempfile

    from blocks.settings import PipelineSettings
    from media.framing.analysis import analyse_window
    from media.framing.framing_plan import plan_framing, sendcmd_script
    from media.probe import probe
    from qa.measure import face_centered_ratio

    s = PipelineSettings()
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted((media_dir / "video").glob("*/*.m[pk][4v]")):
            info = probe(path)
            w, h = info.video[0].display_size
            t = time.process_time()
            a = analyse_window(str(path), 0.0, info.duration_s, w, h, fps=s.analysis_fps,
                               width=s.analysis_width)  # fmt: skip
            cpu = (time.process_time() - t) / info.duration_s
            plan = plan_framing(a, src_w=w, src_h=h, aspect="9:16")
            cmd, out = Path(tmp, f"{path.stem}.cmd"), Path(tmp, f"{path.stem}.mp4")
            cmd.write_text(sendcmd_script(plan))
            ffmpeg.run(_crop_argv(path, plan, cmd, out))
            ratio, _ = face_centered_ratio(str(out), probe(out), s)
            print(f"{path.name:48} {w}x{h:<5} {plan.layout:8} face-centred {ratio:.2f}  "
                  f"analysis {cpu:.0%} of a core", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=Path, default=os.environ.get("CLIPFLOW_REAL_MEDIA"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument("--notes", action="store_true", help="list the misses and false boxes")
    parser.add_argument("--no-speed", action="store_true", help="skip the timing")
    parser.add_argument("--qa", action="store_true", help="face-centred QA of 9:16 crops only")
    args = parser.parse_args(argv)
    if args.media is None:
        parser.error("real media needed: pass --media or set CLIPFLOW_REAL_MEDIA")
    if args.qa:
        return qa_ratios(args.media)

    sets = {
        "photos": list(photos(args.media)),
        "astronaut": list(astronaut_frames()),
        "texture": list(textures()),
        "profiles": list(face_sets.profiles(args.media, PHOTO_FACES[face_sets.EMMA])),
        "tilted": list(face_sets.tilted(args.media, PHOTO_FACES)),
        "gallery": [face_sets.gallery(args.media, PHOTO_FACES, n) for n in (4, 6)],
    }
    videos = list(video_frames(args.media))
    frames = list(analysis_frames(args.media / SPEED_VIDEO, 5.0))[:40]
    head = f"{'detector':12}" + "".join(f" {n:>{14 if n == 'photos' else 12}}" for n in sets)
    print(head + f" {'videos':>15} {'fps/CPU':>8} {'fps 2 thr':>10}")
    notes = []
    for name in args.only:
        detect = DETECTORS[name]
        row = f"{name:12}"
        for set_name, items in sets.items():
            hits, total, fp, why = score_boxes(detect, items)
            notes += [f"{name} {set_name} {n}" for n in why]
            cell = f"{hits}/{total} {hits / total:.2f}" if total else ""
            row += f" {cell + f' {fp}FP':>{14 if set_name == 'photos' else 12}}"
        hits, total, extra = score_counts(detect, videos)
        row += f" {f'{hits}/{total} {extra}FP':>15}"
        one, two = (0.0, 0.0) if args.no_speed else speed(detect, frames, args.rounds)
        print(row + f" {one:8.1f} {two:10.1f}", flush=True)
    if not args.no_speed:
        fps = analysis_speed(frames, args.rounds)
        print(f"HOG video analysis (full pass 1/s, near search between): {fps:.1f} fps/CPU")
    if args.notes:
        print("\n".join(notes))


if __name__ == "__main__":
    main()
