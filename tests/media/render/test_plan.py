"""The render plan: every decision of one clip's render, checked without running ffmpeg."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from media.framing.crop_path import CropKey
from media.framing.framing_plan import FramingPlan
from media.framing.layout import Layout
from media.probe import VideoStream
from media.render.encode import EncodeSpec, filter_value
from media.render.plan import RenderOptions, RenderPlan, plan_render
from media.selection.candidates import ClipPlan

FOLDER = Path("/work/clip-03/.render-abc")
CLIP = ClipPlan(3, 12.5, 42.5, "Some words.", 0.8, "A", 0, 2)
MOVING = FramingPlan(Layout.SINGLE, 608, 1080, (CropKey(0.0, 100, 0), CropKey(2.0, 140, 0)), (), {})
NO_FACE = FramingPlan(Layout.NO_FACE, 608, 1080, (CropKey(0.0, 656, 0),), (), {})
X264 = EncodeSpec("libx264", "veryfast", 20)


def _video(fps: float = 30.0, width: int = 1920, height: int = 1080, rotation: int = 0):
    return VideoStream(
        index=0, codec="h264", width=width, height=height, fps=fps, pix_fmt="yuv420p",
        profile="High", level=40, color_primaries="bt709", color_transfer="bt709",
        color_space="bt709", color_range="tv", rotation=rotation, avg_fps=fps,
        nb_frames=None, bit_rate=None,
    )  # fmt: skip


def _options(**changes: object) -> RenderOptions:
    base = RenderOptions(
        aspect="9:16", max_fps=30.0, no_face_fill="center", burn_captions=False, encode=X264
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _plan(framing: FramingPlan = MOVING, video: VideoStream | None = None, **options: object):
    return plan_render(
        CLIP, framing, video or _video(), source_path="/src/talk.mp4", folder=FOLDER,
        options=_options(**options),
    )  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    framing: FramingPlan
    options: dict[str, object]
    blur_fill: bool
    burnt: bool


BLUR: dict[str, object] = {"no_face_fill": "blur"}
BURN: dict[str, object] = {"burn_captions": True}
CASES = [
    Case("moving crop", MOVING, {}, blur_fill=False, burnt=False),
    Case("moving crop, captions burnt", MOVING, BURN, blur_fill=False, burnt=True),
    Case("no face, centred crop", NO_FACE, {}, blur_fill=False, burnt=False),
    Case("no face, blurred fill", NO_FACE, BLUR, blur_fill=True, burnt=False),
    Case("blurred fill, captions burnt", NO_FACE, BLUR | BURN, blur_fill=True, burnt=True),
    Case("a face, though blur is asked", MOVING, BLUR, blur_fill=False, burnt=False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_filter_follows_the_framing_or_fills_with_blur(case: Case) -> None:
    plan = _plan(case.framing, **case.options)
    assert plan.blur_fill is case.blur_fill
    vf = plan.video_filter
    if case.blur_fill:
        assert plan.sendcmd is None and plan.sendcmd_path is None
        assert "gblur" in vf and "overlay" in vf and "sendcmd" not in vf
    else:
        assert plan.sendcmd_path == FOLDER / "crop.cmd"
        assert vf.startswith(f"sendcmd=f={filter_value(str(FOLDER / 'crop.cmd'))},")
        first = case.framing.keys[0]
        assert f"crop=w={case.framing.crop_w}:h=1080:x={first.x}:y={first.y}:exact=1" in vf
        assert plan.sendcmd is not None and plan.sendcmd.strip()
    ass = FOLDER / "clip-03.ass"
    assert (f"ass=filename={filter_value(str(ass))}" in vf) is case.burnt
    assert plan.burn_in == (ass if case.burnt else None)
    assert plan.caption_size == ((plan.width, plan.height) if case.burnt else None)


def test_the_crop_moves_at_the_framings_key_times() -> None:
    plan = _plan()
    times = [line.split()[0] for line in (plan.sendcmd or "").strip().splitlines()]
    assert [float(t) for t in times] == [k.t for k in MOVING.keys]


@pytest.mark.parametrize(
    ("src_fps", "cap", "fps"),
    [(25, 30, 25), (29.97, 30, 29.97), (60, 30, 30), (59.94, 30, 29.97), (30, 24, 15)],
)
def test_the_frame_rate_is_capped(src_fps: float, cap: float, fps: float) -> None:
    plan = _plan(video=_video(fps=src_fps), max_fps=cap)
    assert plan.fps == pytest.approx(fps, abs=0.001)
    assert f"fps={plan.fps:g}:start_time=0" in plan.video_filter


@pytest.mark.parametrize(
    ("aspect", "framing", "forced", "size"),
    [
        ("9:16", MOVING, None, (720, 1280)),  # 1080p source: 1.78× up to 1920 → the fallback
        ("9:16", replace(MOVING, crop_w=1216, crop_h=2160), None, (1080, 1920)),  # 4K: large
        ("16:9", replace(MOVING, crop_w=1920, crop_h=1080), None, (1920, 1080)),
        ("9:16", MOVING, (1080, 1920), (1080, 1920)),  # forced (the benchmark renders both)
    ],
)
def test_the_output_size(aspect, framing, forced, size) -> None:
    plan = _plan(framing, aspect=aspect, size=forced)
    assert (plan.width, plan.height) == size
    assert f"scale={size[0]}:{size[1]}:flags=lanczos" in plan.video_filter


def test_the_blurred_fill_fits_the_displayed_frame() -> None:
    """A portrait phone recording stored landscape with rotation: fitted as displayed."""
    plan = _plan(NO_FACE, video=_video(width=1920, height=1080, rotation=90), no_face_fill="blur")
    assert "[fg]scale=720:1280:flags=lanczos" in plan.video_filter


def test_the_argv_trims_encodes_and_muxes_the_normalised_audio() -> None:
    plan = _plan()
    argv = list(plan.argv)
    assert plan.audio_path == FOLDER / "audio.m4a"
    assert plan.encoded_path == FOLDER / "clip-03.mp4" and argv[-1] == str(plan.encoded_path)
    assert argv[argv.index("-ss") + 1] == "12.500" and argv.index("-ss") < argv.index("-i")
    assert str(plan.audio_path) in argv and "/src/talk.mp4" in argv
    assert argv[argv.index("-filter:v") + 1] == plan.video_filter
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[argv.index("-crf") + 1] == "20"
    assert argv[argv.index("-c:a") + 1] == "copy"
    assert argv[argv.index("-t") + 1] == "30.000"


def test_a_plan_is_a_frozen_record() -> None:
    plan = _plan()
    assert isinstance(plan, RenderPlan) and plan.stem == "clip-03" and plan.encode == X264
    with pytest.raises(AttributeError):
        plan.width = 1  # type: ignore[misc]


def test_an_encode_that_cannot_be_delivered_is_refused_when_planned() -> None:
    with pytest.raises(ValueError, match="ultrafast"):
        _plan(encode=EncodeSpec("libx264", "ultrafast", 20))
