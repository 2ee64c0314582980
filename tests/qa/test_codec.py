"""qa.codec: the trace and colr parsers on captured text/bytes, then real generated files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from media.errors import MediaError
from qa.codec import (
    find_colr,
    inspect_codec,
    is_cfr,
    iter_boxes,
    parse_colr,
    parse_framecrc,
    parse_trace,
    read_colr_box,
    sei_payload_types,
    settled_pts,
    sps_colour,
)
from qa.records import ColrBox, SpsColour
from tests.helpers import ffmpeg
from tests.qa.conftest import HDR10_PARAMS

P = "[trace_headers @ 0x558f8f8d33c0] "


def trace(text: str) -> str:
    """Captured trace_headers lines, given without their log prefix."""
    return "\n".join(P + line for line in text.strip().splitlines())


# Captured from `ffmpeg -i clip.mp4 -c copy -bsf:v trace_headers -f null -` (libx264, tagged
# bt709/tv), trimmed to the SPS lines around the VUI.
TRACE_SPS_BT709 = trace(
    """
Extradata
4 bytes left at end of AVCC header.
Sequence Parameter Set
8           profile_idc                                          01100100 = 100
24          level_idc                                            00101000 = 40
33          chroma_format_idc                                         010 = 1
82          vui_parameters_present_flag                                 1 = 1
93          video_signal_type_present_flag                              1 = 1
94          video_format                                              101 = 5
97          video_full_range_flag                                       0 = 0
98          colour_description_present_flag                             1 = 1
99          colour_primaries                                     00000001 = 1
107         transfer_characteristics                             00000001 = 1
115         matrix_coefficients                                  00000001 = 1
123         chroma_loc_info_present_flag                                0 = 0
Picture Parameter Set
8           pic_parameter_set_id                                        1 = 0
"""
)
# The same from an encode without colour flags: no video signal type at all.
TRACE_SPS_UNTAGGED = trace(
    """
Sequence Parameter Set
83          aspect_ratio_info_present_flag                              1 = 1
92          overscan_info_present_flag                                  0 = 0
93          video_signal_type_present_flag                              0 = 0
94          chroma_loc_info_present_flag                                0 = 0
"""
)
# The first packet of an x264 encode with mastering-display and cll parameters: x264's user
# data SEI (type 5, size 3 × 255 + 14), then SEI 137 and SEI 144.
TRACE_SEI_HDR = trace(
    """
Packet: 8133 bytes, key frame, pts 0, dts -1024, duration 512.
Supplemental Enhancement Information
3           nal_unit_type                                           00110 = 6
8           last_payload_type_byte                               00000101 = 5
16          ff_byte                                              11111111 = 255
24          ff_byte                                              11111111 = 255
32          ff_byte                                              11111111 = 255
40          last_payload_size_byte                               00001110 = 14
User Data Unregistered
176         user_data_payload_byte[0]                            01111000 = 120
Supplemental Enhancement Information
3           nal_unit_type                                           00110 = 6
8           last_payload_type_byte                               10001001 = 137
16          last_payload_size_byte                               00011000 = 24
Mastering Display Colour Volume
216         rbsp_stop_one_bit                                           1 = 1
Supplemental Enhancement Information
8           last_payload_type_byte                               10010000 = 144
16          last_payload_size_byte                               00000100 = 4
Content Light Level Information
24          max_content_light_level                      0000001111101000 = 1000
40          max_pic_average_light_level                  0000000110010000 = 400
"""
)
# `-f framecrc` of a stream copy (B-frames: decode order differs from presentation order).
FRAMECRC = """#extradata 0:       49, 0x95cd11ff
#tb 0: 1/15360
#media_type 0: video
0,      -1024,          0,      512,     7987, 0xcf60267a
0,       -512,        512,      512,     3536, 0x4ab1eb37, F=0x0
0,          0,       2560,      512,     4521, 0x84eebb7d, F=0x0
0,        512,       1536,      512,     2885, 0xd811c122, F=0x0
0,       1024,       1024,      512,     2174, 0xfc063d63, F=0x0
0,       1536,       2048,      512,     2174, 0xfc063d63, F=0x0
"""


def test_parse_trace_sections_and_fields() -> None:
    sections = parse_trace("Input #0, mov\n" + TRACE_SPS_BT709)
    assert [title for title, _ in sections] == [
        "Extradata",
        "4 bytes left at end of AVCC header.",
        "Sequence Parameter Set",
        "Picture Parameter Set",
    ]
    assert ("level_idc", 40) in sections[2][1]


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        (TRACE_SPS_BT709, SpsColour("bt709", "bt709", "bt709", False)),
        (TRACE_SPS_UNTAGGED, SpsColour("unknown", "unknown", "unknown", None)),
        ("", SpsColour("unknown", "unknown", "unknown", None)),
        (
            trace("""
Sequence Parameter Set
93          video_signal_type_present_flag                              1 = 1
97          video_full_range_flag                                       1 = 1
98          colour_description_present_flag                             1 = 1
99          colour_primaries                                     00001001 = 9
107         transfer_characteristics                             00010000 = 16
115         matrix_coefficients                                  00000001 = 1
"""),
            SpsColour("bt2020", "smpte2084", "bt709", True),
        ),
    ],
)
def test_sps_colour(trace: str, expected: SpsColour) -> None:
    assert sps_colour(parse_trace(trace)) == expected


def test_sps_range_names() -> None:
    assert SpsColour("bt709", "bt709", "bt709", False).range == "tv"
    assert SpsColour("bt709", "bt709", "bt709", None).range == "unknown"


def test_sei_payload_types_count_ff_bytes() -> None:
    assert sei_payload_types(parse_trace(TRACE_SEI_HDR)) == [5, 137, 144]
    two_byte_type = trace("""
Supplemental Enhancement Information
8           ff_byte                                              11111111 = 255
16          last_payload_type_byte                               00000010 = 2
24          last_payload_size_byte                               00000001 = 1
""")
    assert sei_payload_types(parse_trace(two_byte_type)) == [257]


def test_framecrc_and_settled_pts() -> None:
    stamps = parse_framecrc(FRAMECRC)
    assert stamps[:2] == [(-1024, 0), (-512, 512)]
    # The last dts read is 1536: frames shown later (2048, 2560) are left out even if read.
    assert settled_pts(stamps) == [0, 512, 1024, 1536]
    # Cut after three packets (last dts 0): 2560 was read, 1024 never will be; only 0 counts.
    assert settled_pts(stamps[:3]) == [0]


@pytest.mark.parametrize(
    ("pts", "cfr"),
    [
        ([0, 512, 1024, 1536, 2048], True),
        ([0, 1024, 512, 2048, 1536], True),  # order does not matter
        ([0, 1001, 2002, 3004, 4004], True),  # one tick of rounding
        ([0, 990, 1980, 3000, 4001, 5005], False),  # 1.1 % jitter
        ([0, 33, 100, 133, 200, 233], False),  # 33/67 ms cadence (variable frame rate)
        ([0, 512, 512, 1024], False),  # repeated timestamp
        ([0], True),
        ([], True),
    ],
)
def test_is_cfr(pts: list[int], cfr: bool) -> None:
    assert is_cfr(pts) is cfr


# --- colr ------------------------------------------------------------------------------------

# The colr box libx264 + the mp4 muxer wrote for -color_primaries/-color_trc/-colorspace bt709
# -color_range tv, and for bt2020 / arib-std-b67 / bt2020nc (captured from the file bytes).
COLR_BT709 = bytes.fromhex("00000013636f6c726e636c7800010001000100")
COLR_HLG = bytes.fromhex("00000013636f6c726e636c7800090012000900")


def box(kind: bytes, payload: bytes = b"", *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def trak(handler: bytes, entry: bytes) -> bytes:
    hdlr = box(b"hdlr", bytes(8) + handler + bytes(12))
    stsd = box(b"stsd", struct.pack(">II", 0, 1) + entry)
    return box(b"trak", box(b"mdia", hdlr + box(b"minf", box(b"stbl", stsd))))


def avc1(*children: bytes) -> bytes:
    return box(b"avc1", bytes(78) + box(b"avcC", b"\x01\x64") + b"".join(children))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (COLR_BT709[8:], ColrBox("nclx", "bt709", "bt709", "bt709", False)),
        (COLR_HLG[8:], ColrBox("nclx", "bt2020", "arib-std-b67", "bt2020nc", False)),
        (
            b"nclx" + struct.pack(">HHHB", 1, 16, 1, 0x80),
            ColrBox("nclx", "bt709", "smpte2084", "bt709", True),
        ),
        (
            b"nclc" + struct.pack(">HHH", 6, 1, 6),
            ColrBox("nclc", "smpte170m", "bt709", "smpte170m", None),
        ),
        (
            b"nclx" + struct.pack(">HHHB", 2, 2, 2, 0),
            ColrBox("nclx", "unknown", "unknown", "unknown", False),
        ),
        (
            b"nclx" + struct.pack(">HHHB", 3, 99, 3, 0),
            ColrBox("nclx", "reserved-3", "reserved-99", "reserved-3", False),
        ),
        (b"prof" + b"ICC...", ColrBox("prof", "unknown", "unknown", "unknown", None)),
    ],
)
def test_parse_colr(payload: bytes, expected: ColrBox) -> None:
    assert parse_colr(payload) == expected


def test_find_colr_in_the_video_track() -> None:
    sound = trak(b"soun", box(b"mp4a", bytes(28)))
    moov = box(b"mvhd", bytes(100)) + sound + trak(b"vide", avc1(COLR_HLG, box(b"pasp", bytes(8))))
    assert find_colr(moov) == ColrBox("nclx", "bt2020", "arib-std-b67", "bt2020nc", False)
    assert find_colr(box(b"mvhd", bytes(100)) + trak(b"vide", avc1())) is None
    assert find_colr(sound) is None


def test_iter_boxes_largesize_and_malformed() -> None:
    data = box(b"free", b"xx", large=True) + box(b"moov", b"abc")
    assert [(k, e - s) for k, s, e in iter_boxes(data)] == [(b"free", 2), (b"moov", 3)]
    with pytest.raises(ValueError, match="outside its parent"):
        list(iter_boxes(struct.pack(">I4s", 4000, b"moov") + bytes(10)))


def test_read_colr_box_seeks_past_mdat(tmp_path: Path) -> None:
    moov = box(b"moov", trak(b"vide", avc1(COLR_BT709)))
    path = tmp_path / "late-moov.mp4"
    path.write_bytes(box(b"ftyp", b"isom") + box(b"mdat", bytes(1 << 20), large=True) + moov)
    assert read_colr_box(path) == ColrBox("nclx", "bt709", "bt709", "bt709", False)
    (tmp_path / "no-moov.mp4").write_bytes(box(b"ftyp", b"isom"))
    assert read_colr_box(tmp_path / "no-moov.mp4") is None
    (tmp_path / "bad.mp4").write_bytes(box(b"ftyp", b"isom") + struct.pack(">I4s", 3, b"moov"))
    with pytest.raises(MediaError, match="malformed"):
        read_colr_box(tmp_path / "bad.mp4")


# --- real files --------------------------------------------------------------------------------


def tags(trc: str = "bt709") -> list[str]:
    return [
        "-color_primaries",
        "bt709",
        "-color_trc",
        trc,
        "-colorspace",
        "bt709",
        "-color_range",
        "tv",
    ]


TAGS = tags()


def encode(out: Path, *args: str, fps: int = 30) -> Path:
    """A 2 s, 360×640 libx264 clip (no audio: inspect_codec reads video only)."""
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s=360x640:r={fps}:d=2",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        *args,
        "-movflags",
        "+faststart",
        str(out),
    )
    return out


def high(*extra: str, level: str = "4.0", pix_fmt: str = "yuv420p") -> list[str]:
    return [
        "-profile:v",
        "high444" if pix_fmt == "yuv444p" else "high",
        "-level:v",
        level,
        "-pix_fmt",
        pix_fmt,
        *extra,
    ]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("codec")
    out = {
        "compliant": encode(d / "compliant.mp4", *high(*TAGS)),
        "level51": encode(d / "level51.mp4", *high(*TAGS, level="5.1")),
        "yuv444": encode(d / "yuv444.mp4", *high(*TAGS, pix_fmt="yuv444p")),
        "fps60": encode(d / "fps60.mp4", *high(*TAGS), fps=60),
        "untagged": encode(d / "untagged.mp4", *high()),
        "pq": encode(d / "pq.mp4", *high(*tags(trc="smpte2084"))),
        "hdr10_sei": encode(d / "hdr10_sei.mp4", *high(*TAGS, "-x264-params", HDR10_PARAMS)),
        "vfr": encode(
            d / "vfr.mp4", *high(*TAGS, "-vf", "select='lt(mod(n,5),3)'", "-fps_mode", "vfr")
        ),
    }
    # A stream-copy retag of the SPS alone: the colr box keeps saying bt709.
    out["retag"] = d / "retag.mp4"
    ffmpeg(
        "-i",
        str(out["compliant"]),
        "-c",
        "copy",
        "-bsf:v",
        "h264_metadata=colour_primaries=5",
        str(out["retag"]),
    )
    return out


BT709_SPS = SpsColour("bt709", "bt709", "bt709", False)
BT709_COLR = ColrBox("nclx", "bt709", "bt709", "bt709", False)


def test_compliant_record(files: dict[str, Path]) -> None:
    r = inspect_codec(files["compliant"])
    assert (r.codec, r.profile, r.level, r.pix_fmt) == ("h264", "High", 40, "yuv420p")
    assert (r.color_primaries, r.color_transfer, r.color_space, r.color_range) == (
        "bt709",
        "bt709",
        "bt709",
        "tv",
    )
    assert (r.width, r.height, r.fps, r.cfr, r.hdr_side_data) == (360, 640, 30.0, True, False)
    assert r.sps_colour == BT709_SPS and r.colr_box == BT709_COLR
    assert r.bit_rate is not None and 0 < r.bit_rate < 25_000_000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("level51", {"level": 51}),
        ("yuv444", {"profile": "High 4:4:4 Predictive", "pix_fmt": "yuv444p"}),
        ("fps60", {"fps": 60.0, "cfr": True}),
        ("vfr", {"cfr": False}),
        (
            "untagged",
            {
                "color_primaries": "unknown",
                "color_range": "unknown",
                "colr_box": None,
                "sps_colour": SpsColour("unknown", "unknown", "unknown", None),
            },
        ),
        (
            "pq",
            {
                "color_transfer": "smpte2084",
                "hdr_side_data": False,
                "sps_colour": SpsColour("bt709", "smpte2084", "bt709", False),
                "colr_box": ColrBox("nclx", "bt709", "smpte2084", "bt709", False),
            },
        ),
        ("hdr10_sei", {"hdr_side_data": True, "color_transfer": "bt709"}),
        (
            "retag",
            {
                "color_primaries": "bt470bg",
                "colr_box": BT709_COLR,
                "sps_colour": SpsColour("bt470bg", "bt709", "bt709", False),
            },
        ),
    ],
)
def test_violations_show_in_the_record(
    files: dict[str, Path], name: str, expected: dict[str, object]
) -> None:
    r = inspect_codec(files[name])
    assert {k: getattr(r, k) for k in expected} == expected


def test_not_h264_is_recorded_not_traced(tmp_path: Path) -> None:
    """trace_headers cannot parse MPEG-4 Part 2: the record still comes back, untraced."""
    path = tmp_path / "mpeg4.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1", "-c:v", "mpeg4", str(path))
    r = inspect_codec(path)
    assert (r.codec, r.sps_colour.primaries, r.colr_box, r.cfr) == ("mpeg4", "unknown", None, True)


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "aac", str(path))
    with pytest.raises(MediaError, match="no video stream"):
        inspect_codec(path)
