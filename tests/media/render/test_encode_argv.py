"""Render and audio argv builders: pure, checked without running ffmpeg."""

from __future__ import annotations

import pytest

from media.ffmpeg import INPUT_PROTOCOLS
from media.render import audio
from media.render.encode import (
    EncodeSpec,
    choose_encoder,
    filter_value,
    output_fps,
    output_size,
    render_argv,
    video_filter,
)


@pytest.mark.parametrize(
    ("aspect", "crop", "size"),
    [
        ("9:16", (608, 1080), (720, 1280)),  # 1080p gallery: 1.78× up to 1920 → fall back
        ("9:16", (1216, 2160), (1080, 1920)),  # 4K source: a downscale, the large size
        ("9:16", (1280, 2276), (1080, 1920)),
        ("1:1", (1080, 1080), (1080, 1080)),
        ("1:1", (600, 600), (720, 720)),
        ("16:9", (1920, 1080), (1920, 1080)),
        ("16:9", (1280, 720), (1920, 1080)),  # exactly 1.5×: allowed
        ("16:9", (1000, 562), (1280, 720)),
    ],
)
def test_output_size_caps_upscaling(aspect, crop, size) -> None:
    assert output_size(aspect, *crop) == size


@pytest.mark.parametrize(
    ("src", "out"),
    [
        (23.976, 23.976),  # film rates and PAL/NTSC rates at or under 30 are kept as they are
        (24, 24),
        (25, 25),
        (29.97, 29.97),
        (30, 30),
        (30.005, 30.005),  # within 0.01 of the cap: a rounding of 30, kept
        (47.952, 23.976),  # over 30: halved (every other frame), until at or under 30
        (50, 25),
        (59.94, 29.97),
        (60, 30),
        (120, 30),
        (240, 30),
        (0, 30),  # unknown rate: the cap
    ],
)
def test_output_fps_keeps_rates_up_to_30_and_halves_higher_ones(src, out) -> None:
    assert output_fps(src) == pytest.approx(out, abs=0.001)


@pytest.mark.parametrize(("src", "cap", "out"), [(30, 24, 15), (60, 24, 15), (25, 24, 12.5)])
def test_output_fps_halves_under_a_lower_cap(src, cap, out) -> None:
    assert output_fps(src, cap) == pytest.approx(out)


def test_x264_args_force_high_level_40_bt709_and_vbv() -> None:
    args = EncodeSpec("libx264", "veryfast", 20).video_args()
    joined = " ".join(args)
    assert "-c:v libx264" in joined and "-profile:v high" in joined
    assert "-level:v 4.0" in joined and "-pix_fmt yuv420p" in joined
    assert "-maxrate 20M -bufsize 25M" in joined
    for flag in (
        "-color_primaries bt709",
        "-color_trc bt709",
        "-colorspace bt709",
        "-color_range tv",
    ):
        assert flag in joined


def test_ultrafast_is_refused_because_it_yields_baseline() -> None:
    with pytest.raises(ValueError, match="Baseline"):
        EncodeSpec("libx264", "ultrafast", 20).video_args()


def test_nvenc_args_keep_the_same_contract() -> None:
    joined = " ".join(EncodeSpec("h264_nvenc", "veryfast", 20).video_args())
    assert "-c:v h264_nvenc" in joined and "-profile:v high" in joined
    assert "-level:v 4.0" in joined and "-colorspace bt709" in joined


def test_choose_encoder_honours_explicit_setting() -> None:
    assert choose_encoder("libx264") == "libx264"
    assert choose_encoder("h264_nvenc") == "h264_nvenc"


def test_render_argv_seeks_before_input_and_copies_normalised_audio() -> None:
    vf = video_filter(
        crop_w=608,
        crop_h=1080,
        x0=100,
        y0=0,
        out_w=720,
        out_h=1280,
        fps=30,
        sendcmd_path="/w/crop.cmd",
    )
    argv = render_argv(
        "/w/src.mp4",
        "/w/a.m4a",
        "/w/o.mp4",
        start_s=12.5,
        duration_s=30.0,
        vf=vf,
        spec=EncodeSpec("libx264", "veryfast", 20),
    )
    i = argv.index("/w/src.mp4")
    assert argv[argv.index("-ss") + 1] == "12.500" and argv.index("-ss") < i
    assert argv.count("-protocol_whitelist") == 2 and INPUT_PROTOCOLS in argv
    assert argv[argv.index("-c:a") + 1] == "copy"
    assert argv[argv.index("-t", argv.index("-filter:v")) + 1] == "30.000"  # see render_argv
    assert "sendcmd=f='/w/crop.cmd'" in vf and "crop=w=608:h=1080:x=100:y=0" in vf
    assert "out_color_matrix=bt709" in vf and vf.endswith("format=yuv420p,setsar=1")
    assert "fps=30:start_time=0" in vf and "ass=" not in vf
    assert argv[-1] == "/w/o.mp4"


def test_captions_are_burnt_in_after_scaling_to_the_output_size() -> None:
    vf = video_filter(
        crop_w=608, crop_h=1080, x0=0, y0=0, out_w=720, out_h=1280, fps=30,
        sendcmd_path=None, captions_path="/w/clip 01.ass",
    )  # fmt: skip
    parts = vf.split(",")
    at = parts.index("ass=filename='/w/clip 01.ass'")
    assert parts[at - 2].startswith("scale=720:1280") and parts[at - 1].startswith("fps=")
    assert parts[at + 1 :] == ["format=yuv420p", "setsar=1"]


@pytest.mark.parametrize(
    ("path", "quoted"),
    [
        ("/w/crop.cmd", "'/w/crop.cmd'"),
        ("/w/a b,c;[d]", "'/w/a b,c;[d]'"),  # graph-level specials are safe inside quotes
        ("C:/w/x.ass", "'C\\:/w/x.ass'"),
        ("/w/it's", "'/w/it\\'\\''s'"),
        ("/w/back\\slash", "'/w/back\\\\slash'"),
    ],
)
def test_filter_values_are_escaped_for_both_parsing_levels(path, quoted) -> None:
    assert filter_value(path) == quoted


def test_clip_audio_chain_limits_oversampled_without_autolevel() -> None:
    argv = audio.clip_audio_argv(
        "/s.mp4", "/a.m4a", start_s=1, duration_s=20, gain_db=3.5, ceiling_dbtp=-1.0
    )
    chain = argv[argv.index("-filter:a") + 1].split(",")
    # Clip time 0 first (a late stream padded), stereo before the gain and the limiter, the
    # whole duration padded, then the 4x-oversampled limiter without auto-level or delay.
    assert chain[:4] == [
        "aresample=48000:async=1:first_pts=0",
        "aformat=channel_layouts=stereo",
        "apad=whole_dur=20.000",
        "volume=3.500dB",
    ]
    assert chain[4] == "aresample=192000" and chain[5].startswith("alimiter=")
    assert "level=false" in chain[5] and "latency=true" in chain[5]
    assert chain[6] == "aresample=48000"
    assert argv[argv.index("-ar") + 1] == "48000" and argv[argv.index("-c:a") + 1] == "aac"
    assert argv[argv.index("-ac") + 1] == "2"
    assert argv[argv.index("-t", argv.index("-filter:a")) + 1] == "20.000"  # output duration
