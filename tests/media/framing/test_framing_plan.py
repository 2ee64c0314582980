"""Layouts, the analysis argv, and the whole chain on real ffmpeg: analyse, plan, render, check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg
from media.errors import MediaError
from media.framing.analysis import analyse_window, analysis_argv, analysis_size
from media.framing.crop_path import CropKey
from media.framing.detection import detect_faces
from media.framing.framing_plan import FramingPlan, Segment, plan_framing, sendcmd_script
from media.framing.layout import Layout, classify_layout
from media.framing.tracks import build_tracks
from tests.generated_media import analysis, face_image

# --- pure parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "width", "size"),
    [((1920, 1080), 640, (640, 360)), ((1280, 720), 640, (640, 360)),
     ((720, 1280), 640, (360, 640)), ((1080, 1920), 640, (360, 640)),  # the long side is capped
     ((512, 512), 640, (512, 512)), ((480, 640), 640, (480, 640)), ((512, 480), 640, (512, 480)),
     ((1366, 768), 640, (640, 360)), ((1920, 1080), 501, (500, 282)),
     ((1080, 1920), 501, (282, 500)), ((100, 3000), 640, (22, 640))],
)  # fmt: skip
def test_analysis_size_caps_the_long_side_and_keeps_aspect_with_even_sides(src, width, size):
    assert analysis_size(*src, width) == size


def test_analysis_argv_seeks_before_input_and_samples_before_scaling():
    argv = analysis_argv("in.mp4", 30.0, 12.5, (640, 360), 5.0)
    assert argv.index("-ss") < argv.index("-i") and argv[argv.index("-ss") + 1] == "30.000"
    assert argv[argv.index("-t") + 1] == "12.500" and argv.index("-t") < argv.index("-i")
    assert argv[argv.index("-vf") + 1] == "fps=5:round=up,scale=640:360:flags=area"
    assert argv[-5:] == ["-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1"]


def test_the_sample_at_t_is_the_frame_at_t(tmp_path):
    """fps's default rounding hands sample i the last frame before (i + 0.5) / fps (at 25 fps
    and 5 Hz, 0.08 s late): the crop then follows a fast face 2 frames early. ``round=up``
    gives the frame at i / fps itself."""
    src = tmp_path / "count.mp4"
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-f", "lavfi", "-i", "color=c=black:s=64x64:r=25:d=2", "-vf",
        "geq=lum='16+4*N':cb=128:cr=128", "-c:v", "libx264", "-qp", "0", "-pix_fmt",
        "yuv420p", str(src)])  # fmt: skip
    argv = analysis_argv(str(src), 0.0, 2.0, (64, 64), 5.0)
    frames = [np.frombuffer(b, np.uint8) for b in ffmpeg.stream(argv, frame_bytes=64 * 64 * 3)]
    shown = [round(float(f.mean()) * 219 / 255 / 4) for f in frames]  # limited range to RGB
    assert shown == [5 * i for i in range(10)]


def _layout(faces):
    return classify_layout(build_tracks(analysis(lambda t, i: faces, duration=4.0)))


@pytest.mark.parametrize(
    ("faces", "layout", "followed"),
    [
        ([], "no_face", 0),
        ([(960, 400, 300, 0.0)], "single", 1),
        ([(480, 400, 220, 0.0), (1440, 420, 200, 0.0)], "two_shot", 2),  # two tiles
        ([(400, 300, 140, 0.0), (960, 300, 150, 0.0), (1520, 300, 140, 0.0),
          (400, 800, 140, 0.0)], "gallery", 4),  # a 3+1 grid
        ([(960, 450, 420, 0.0), (1700, 900, 120, 0.0)], "speaker", 1),  # big face + thumbnail
    ],
)  # fmt: skip
def test_layout_heuristic(faces, layout, followed):
    name, candidates = _layout(faces)
    assert (name, len(candidates)) == (layout, followed)


def test_no_face_keeps_a_centred_crop():
    plan = plan_framing(analysis(lambda t, i: []), src_w=1920, src_h=1080, aspect="9:16")
    centre = (CropKey(0.0, 656, 0),)
    shot = Segment(0.0, 10.0, Layout.NO_FACE, 608, 1080, centre)
    assert plan == FramingPlan("no_face", 608, 1080, centre, (), {}, (shot,))
    assert plan.one_window and not shot.holds_face
    assert sendcmd_script(plan) == "0.000 crop x 656, crop y 0;\n"


def test_speaker_layout_follows_the_big_face_whoever_talks():
    faces = lambda t, i: [(960, 450, 420, 0.002), (1700, 900, 120, 0.05 if t > 3 else 0.002)]  # noqa: E731
    plan = plan_framing(analysis(faces), src_w=1920, src_h=1080, aspect="9:16",
                        speech=[(0, 3, "A"), (3, 10, "B")])  # fmt: skip
    assert plan.layout == "speaker"
    assert plan.keys == (CropKey(0.0, 960 - 304, 0),)


def test_a_camera_cut_to_another_face_is_followed_at_the_cut():
    # An edited recording: A's camera for 7 s, then B's (B is on screen too briefly to count
    # for the layout, which is "single"); the crop cuts with the camera.
    faces = lambda t, i: [(500, 400, 200, 0.0)] if t < 7 else [(1400, 400, 200, 0.0)]  # noqa: E731
    plan = plan_framing(analysis(faces), src_w=1920, src_h=1080, aspect="9:16")
    assert plan.layout == "single"
    assert plan.keys == (CropKey(0.0, 500 - 304, 0), CropKey(7.0, 1400 - 304, 0))


# --- real ffmpeg -----------------------------------------------------------------------------


def _esc(path: Path) -> str:
    """A path as a quoted filter option value (ffmpeg-filters, "Notes on filtergraph escaping")."""
    return str(path).replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")


def compose(out: Path, face_png: Path, *, size: int, x: str, y: int, seconds: float) -> None:
    """A 1920×1080 25 fps video: the face image over a flat background at ``x`` (an expression)."""
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-f", "lavfi", "-i", f"color=c=0x506070:s=1920x1080:r=25:d={seconds}",
        "-loop", "1", "-i", str(face_png),
        "-filter_complex", f"[1]scale={size}:{size}[f];[0][f]overlay=x='{x}':y={y}:shortest=1,"
        "format=yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(out)])  # fmt: skip


def render_grey(src: Path, plan: FramingPlan, cmd: Path, start: float, dur: float):
    """Render the plan's moving crop as the pipeline does (seek before -i, sendcmd + crop)."""
    cmd.write_text(sendcmd_script(plan))
    k = plan.keys[0]
    vf = (f"sendcmd=f='{_esc(cmd)}',crop=w={plan.crop_w}:h={plan.crop_h}:x={k.x}:y={k.y}:exact=1,"
          "format=yuv420p")  # fmt: skip
    argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(src), seek_s=start, duration_s=dur) + [
        "-vf", vf, "-f", "rawvideo", "pipe:1"]  # fmt: skip
    luma = plan.crop_w * plan.crop_h
    for buf in ffmpeg.stream(argv, frame_bytes=luma * 3 // 2):
        yield np.frombuffer(buf, np.uint8)[:luma].reshape(plan.crop_h, plan.crop_w)


@pytest.fixture(scope="module")
def face_png(tmp_path_factory) -> Path:
    import cv2

    path = tmp_path_factory.mktemp("face") / "face.png"
    cv2.imwrite(str(path), face_image())
    return path


def face_offset(face_png: Path, size: int) -> tuple[float, float]:
    """Where the face's centre is inside the overlay scaled to ``size`` (detected once)."""
    import cv2

    img = cv2.resize(cv2.imread(str(face_png)), (size, size), interpolation=cv2.INTER_AREA)
    (box,) = detect_faces(img)
    return box.cx, box.cy


def test_sendcmd_moves_the_crop_at_the_key_times(tmp_path):
    """Pixel-exact check of the sendcmd + crop mechanics after an input seek."""
    import cv2

    rng = np.random.default_rng(0)
    noise = cv2.resize(rng.integers(16, 235, (90, 160), dtype=np.uint8), (1280, 720))
    cv2.imwrite(str(tmp_path / "noise.png"), noise)
    src = tmp_path / "noise.mp4"
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-loop", "1", "-framerate", "25", "-t", "4", "-i", str(tmp_path / "noise.png"),
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
        str(src)])  # fmt: skip
    keys = (CropKey(0.0, 100, 0), CropKey(0.6, 500, 200), CropKey(1.0, 501, 200),
            CropKey(1.6, 880, 320))  # fmt: skip
    plan = FramingPlan("single", 400, 400, keys, (), {})
    with_space = tmp_path / "crop cmds.txt"
    frames = list(render_grey(src, plan, with_space, start=1.0, dur=2.0))
    assert len(frames) == 50
    (reference,) = ffmpeg.stream(ffmpeg.ffmpeg_base() + ["-i", str(src), "-frames:v", "1",
                                 "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"],
                                 frame_bytes=1280 * 720 * 3 // 2)  # fmt: skip
    reference = np.frombuffer(reference, np.uint8)[: 1280 * 720].reshape(720, 1280)
    for i, frame in enumerate(frames):
        # Luma is lossless: each frame must be exactly the source at the key in force.
        k = [k for k in keys if k.t <= i / 25 + 1e-6][-1]
        window = reference[k.y : k.y + 400, k.x : k.x + 400]
        assert np.array_equal(frame, window), f"frame {i} (t={i / 25:.2f} s) is not at {k}"
    assert not np.array_equal(frames[14], frames[15]), "the move lands on frame 15 (0.6 s)"


def _centred_share(frames, tolerance=0.10) -> float:
    """Share of frames (every 5th) whose most confident face is within 10 % of the centre line."""
    import cv2

    hits = 0
    sampled = frames[::5]
    for frame in sampled:
        half = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2))
        boxes = detect_faces(half)
        if boxes:
            box = max(boxes, key=lambda b: b.score)
            hits += abs(box.cx - half.shape[1] / 2) <= tolerance * half.shape[1]
    return hits / len(sampled)


STILL = {"size": 420, "x": 250, "y": 300, "seconds": 4}


@pytest.fixture(scope="module")
def still_video(tmp_path_factory, face_png) -> Path:
    """4 s of the face standing still on the left half of a 1920×1080 frame."""
    src = tmp_path_factory.mktemp("still") / "left.mp4"
    compose(src, face_png, size=STILL["size"], x=str(STILL["x"]), y=STILL["y"],
            seconds=STILL["seconds"])  # fmt: skip
    return src


def test_still_face_on_the_left_is_centred_end_to_end(tmp_path, face_png, still_video):
    size, ox, src = STILL["size"], STILL["x"], still_video
    a = analyse_window(str(src), 1.0, 3.0, 1920, 1080, fps=5, width=640)
    assert len(a.samples) == 15 and all(len(s.faces) == 1 for s in a.samples)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16")
    fx, _ = face_offset(face_png, size)
    assert plan.layout == "single" and (plan.crop_w, plan.crop_h) == (608, 1080)
    assert len(plan.keys) == 1
    assert abs(plan.keys[0].x + plan.crop_w / 2 - (ox + fx)) <= 0.10 * plan.crop_w
    frames = list(render_grey(src, plan, tmp_path / "cmd.txt", 1.0, 3.0))
    assert _centred_share(frames) == 1.0


def test_portrait_source_is_analysed_at_640_on_its_long_side(tmp_path, face_png, monkeypatch):
    """1080×1920 is analysed at 360×640 (not 640×1138); boxes come back in source pixels."""
    import media.framing.centerface

    src = tmp_path / "portrait.mp4"
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-f", "lavfi", "-i", "color=c=0x506070:s=1080x1920:r=25:d=2",
        "-loop", "1", "-i", str(face_png),
        "-filter_complex", "[1]scale=500:500[f];[0][f]overlay=x=290:y=500:shortest=1,"
        "format=yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(src)])  # fmt: skip
    shapes = []
    centerface_faces = media.framing.centerface.detect_faces

    def detect(image, **kw):
        shapes.append(image.shape[:2])
        return centerface_faces(image, **kw)

    monkeypatch.setattr(media.framing.centerface, "detect_faces", detect)  # analyse_window calls it
    a = analyse_window(str(src), 0.0, 2.0, 1080, 1920, fps=5, width=640)
    assert set(shapes) == {(640, 360)} and len(a.samples) == 10
    assert all(len(s.faces) == 1 for s in a.samples)
    fx, fy = face_offset(face_png, 500)
    box = a.samples[0].faces[0].box
    assert abs(box.cx - (290 + fx)) < 0.1 * box.w and abs(box.cy - (500 + fy)) < 0.1 * box.w
    plan = plan_framing(a, src_w=1080, src_h=1920, aspect="9:16")
    assert plan.layout == "single" and (plan.crop_w, plan.crop_h) == (1080, 1920)


def test_moving_face_is_followed_by_a_pan_end_to_end(tmp_path, face_png):
    src = tmp_path / "moving.mp4"
    compose(src, face_png, size=360, x="200+70*t", y=300, seconds=5)
    a = analyse_window(str(src), 0.0, 5.0, 1920, 1080, fps=5, width=640)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16")
    assert len(plan.keys) > 20 and plan.keys[-1].x - plan.keys[0].x > 200
    frames = list(render_grey(src, plan, tmp_path / "cmd.txt", 0.0, 5.0))
    assert _centred_share(frames) >= 0.9


def test_every_sample_gets_a_whole_frame_pass_and_a_card_has_no_face(tmp_path, monkeypatch):
    """CenterFace costs ~17 ms a 640×360 frame: no near search between full passes, so a cut
    or a face that joins is seen at the next sample."""
    import media.framing.centerface

    src = tmp_path / "card.mp4"
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=3",
        "-c:v", "libx264", "-preset", "ultrafast", str(src)])  # fmt: skip
    calls = []
    centerface_faces = media.framing.centerface.detect_faces

    def detect(image, **kw):
        calls.append(image.shape)
        return centerface_faces(image, **kw)

    monkeypatch.setattr(media.framing.centerface, "detect_faces", detect)  # analyse_window calls it
    a = analyse_window(str(src), 0.0, 3.0, 640, 360, fps=5, width=640)
    assert len(a.samples) == 15 and not any(s.faces for s in a.samples)
    assert calls == [(360, 640, 3)] * 15


def test_a_window_past_the_end_is_an_error(still_video):
    src = still_video
    with pytest.raises(MediaError, match="no video frame"):
        analyse_window(str(src), 5.0, 2.0, 1920, 1080, fps=5, width=320)
    with pytest.raises(ValueError, match="fps=0"):
        analyse_window(str(src), 0.0, 1.0, 1920, 1080, fps=0, width=320)


@pytest.mark.real_media
def test_real_talking_face_beside_a_still_one_is_the_one_followed(real_media, tmp_path, face_png):
    """A real speaker (left) and a still portrait (right) of similar size, no transcript."""
    talker = real_media / "video" / "talking_head" / "sadtalker__WDA_AlexandriaOcasioCortez_000.mp4"
    src = tmp_path / "duo.mp4"
    ffmpeg.run(ffmpeg.ffmpeg_base() + [
        "-f", "lavfi", "-i", "color=c=0x506070:s=1920x1080:r=25:d=6",
        "-i", str(talker), "-loop", "1", "-i", str(face_png),
        "-filter_complex", "[1]scale=300:300[t];[2]scale=440:440[f];"
        "[0][t]overlay=x=250:y=350:shortest=1[a];[a][f]overlay=x=1250:y=300,format=yuv420p",
        "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(src)])  # fmt: skip
    a = analyse_window(str(src), 0.0, 6.0, 1920, 1080, fps=5, width=640)
    plan = plan_framing(a, src_w=1920, src_h=1080, aspect="9:16")
    assert plan.layout == "two_shot"
    talker_cx = 250 + 150
    assert all(abs(k.x + plan.crop_w / 2 - talker_cx) <= 0.1 * plan.crop_w for k in plan.keys)
