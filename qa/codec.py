"""Codec and bitstream compliance of a produced clip: what a player will actually see.

Three sources, because each one alone misses something (docs/ARCHITECTURE.md, "Measured facts",
H.264 delivery):

* ``media.probe`` (ffprobe): codec, profile, level, pix_fmt, size, rates, container side data.
* The SPS VUI and SEI messages, read with the ``trace_headers`` bitstream filter: ffprobe
  reports the VUI colour only, and FFmpeg 5.1's H.264 decoder does not export mastering-display
  or content-light-level SEI as frame side data, so HDR metadata is invisible to ffprobe.
* The MP4 ``colr`` box, parsed from the file's bytes: ffprobe does not show it separately, and
  a stream-copy retag can leave it disagreeing with the SPS.

One ffmpeg run (stream copy, no decode) yields the header trace of the first packet and the
timestamps of every video packet (``framecrc``), from which constant frame rate is judged.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from statistics import median

from media import ffmpeg
from media.errors import InputError, MediaError
from media.probe import MediaInfo, probe
from qa.records import CodecRecord, ColrBox, SpsColour

# ITU-T H.273 code points -> FFmpeg's names (libavutil/pixdesc.c); H.264 Annex E uses the same.
PRIMARIES = {1: "bt709", 2: "unknown", 4: "bt470m", 5: "bt470bg", 6: "smpte170m",
             7: "smpte240m", 8: "film", 9: "bt2020", 10: "smpte428", 11: "smpte431",
             12: "smpte432", 22: "ebu3213"}  # fmt: skip
TRANSFER = {1: "bt709", 2: "unknown", 4: "bt470m", 5: "bt470bg", 6: "smpte170m",
            7: "smpte240m", 8: "linear", 9: "log100", 10: "log316", 11: "iec61966-2-4",
            12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
            16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}  # fmt: skip
MATRIX = {0: "gbr", 1: "bt709", 2: "unknown", 4: "fcc", 5: "bt470bg", 6: "smpte170m",
          7: "smpte240m", 8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 11: "smpte2085",
          12: "chroma-derived-nc", 13: "chroma-derived-c", 14: "ictcp"}  # fmt: skip

# SEI payload types that carry HDR metadata (H.264 Annex D): mastering display colour volume,
# content light level, alternative transfer characteristics (how HLG is often signalled).
# Encoders (x264, NVENC) repeat them with every IDR, so the first packet is enough.
HDR_SEI_TYPES = frozenset({137, 144, 147})
# Container-level side data ffprobe lists on the stream for HDR / Dolby Vision.
HDR_SIDE_DATA = frozenset(
    {"Mastering display metadata", "Content light level metadata", "DOVI configuration record"}
)
NOPTS = -(2**63)

_TRACE_LINE = re.compile(r"^\[trace_headers @ [^\]]+\] (.*)$")
_TRACE_FIELD = re.compile(r"^\d+\s+(\S+)\s+[01]+ = (-?\d+)$")


def _code_name(table: dict[int, str], code: int | None) -> str:
    if code is None:
        return "unknown"
    return table.get(code, f"reserved-{code}")


# --- the trace ----------------------------------------------------------------------------------


def trace_argv(path: str, *, trace: bool = True) -> list[str]:
    """Stream-copy the first video stream twice: the first packet through ``trace_headers``
    (SPS/PPS from extradata + the first access unit's NAL headers, logged at info) and every
    packet into ``framecrc`` on stdout (dts, pts, duration, size per packet)."""
    head = ffmpeg.ffmpeg_base()
    head[head.index("error")] = "info"  # trace_headers logs at info level
    argv = head + ffmpeg.input_args(path, source=False)
    if trace:
        argv += "-map 0:v:0 -c copy -bsf:v trace_headers -frames:v 1 -f null -".split()
    return argv + "-map 0:v:0 -c copy -f framecrc -".split()


def parse_trace(stderr: str) -> list[tuple[str, list[tuple[str, int]]]]:
    """Split ``trace_headers`` output into (title, [(field, value), …]) sections, in order.

    Titles are the syntax structures cbs prints (``Sequence Parameter Set``,
    ``Supplemental Enhancement Information``, ``Packet: …``); other log lines are ignored.
    """
    sections: list[tuple[str, list[tuple[str, int]]]] = []
    for line in stderr.splitlines():
        m = _TRACE_LINE.match(line.strip())
        if not m:
            continue
        body = m.group(1).strip()
        field = _TRACE_FIELD.match(body)
        if field:
            if not sections:
                sections.append(("", []))
            sections[-1][1].append((field.group(1), int(field.group(2))))
        else:
            sections.append((body, []))
    return sections


def sps_colour(sections: Sequence[tuple[str, list[tuple[str, int]]]]) -> SpsColour:
    """Colour description of the first SPS (H.264 E.1.1 video_signal_type / colour_description).

    Absent signalling reads as ``unknown`` (decoders then guess), like ffprobe.
    """
    for title, fields in sections:
        if title == "Sequence Parameter Set":
            f: dict[str, int] = {}
            for name, value in fields:
                f.setdefault(name, value)
            signal = f.get("video_signal_type_present_flag") == 1
            described = signal and f.get("colour_description_present_flag") == 1
            return SpsColour(
                primaries=_code_name(PRIMARIES, f.get("colour_primaries") if described else None),
                transfer=_code_name(
                    TRANSFER, f.get("transfer_characteristics") if described else None
                ),
                matrix=_code_name(MATRIX, f.get("matrix_coefficients") if described else None),
                full_range=bool(f.get("video_full_range_flag", 0)) if signal else None,
            )
    return SpsColour("unknown", "unknown", "unknown", None)


def sei_payload_types(sections: Sequence[tuple[str, list[tuple[str, int]]]]) -> list[int]:
    """SEI payload types in order (H.264 7.3.2.3.1: each 0xFF byte adds 255 to the type)."""
    types: list[int] = []
    ff = 0
    for _, fields in sections:
        for name, value in fields:
            if name == "ff_byte":
                ff += 1
            elif name == "last_payload_type_byte":
                types.append(255 * ff + value)
                ff = 0
            elif name == "last_payload_size_byte":
                ff = 0
    return types


def parse_framecrc(text: str) -> list[tuple[int, int]]:
    """(dts, pts) in the stream time base of each packet ``framecrc`` lists, in file order."""
    stamps: list[tuple[int, int]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split(",")]
        try:
            dts, pts = int(cols[1]), int(cols[2])
        except (IndexError, ValueError):
            continue
        if pts != NOPTS:
            stamps.append((dts, pts))
    return stamps


def settled_pts(stamps: Sequence[tuple[int, int]]) -> list[int]:
    """Presentation times up to the last decode time read, in order.

    Every frame shown by then has been read whatever the B-frame reordering (its dts <= its
    pts), so this set has no reordering holes even when the file is cut short; the frames
    after it (the reorder delay, two frames for x264 defaults) are left out.
    """
    dts = [d for d, _ in stamps if d != NOPTS]
    if not dts:
        return sorted(p for _, p in stamps)
    last = max(dts)
    return sorted(p for _, p in stamps if p <= last)


def is_cfr(pts: Sequence[int], *, rel_tol: float = 0.002) -> bool:
    """True when consecutive presentation times are evenly spaced.

    Deltas may differ by one tick of the time base (rounding) or ``rel_tol`` of the median
    frame duration, whichever is larger; a repeated timestamp is never constant-rate.
    """
    ordered = sorted(pts)
    deltas = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    if len(deltas) < 2:
        return True
    if min(deltas) <= 0:
        return False
    return max(deltas) - min(deltas) <= max(1.0, rel_tol * median(deltas))


# --- the colr box -------------------------------------------------------------------------------

_VISUAL_SAMPLE_ENTRY = 8 + 70  # SampleEntry (reserved, data_reference_index) + VisualSampleEntry


def iter_boxes(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each ISO BMFF box in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise ValueError(f"box {kind!r} at {pos}: truncated largesize")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} at {pos}: size {size} outside its parent")
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in iter_boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def parse_colr(payload: bytes) -> ColrBox:
    """Decode a ``colr`` box payload (ISO/IEC 14496-12 12.1.5; QuickTime ``nclc``)."""
    kind = payload[:4].decode("latin-1")
    if kind in ("nclx", "nclc") and len(payload) >= 10:
        prim, trc, mat = struct.unpack_from(">HHH", payload, 4)
        full = bool(payload[10] >> 7) if kind == "nclx" and len(payload) >= 11 else None
        return ColrBox(
            kind,
            _code_name(PRIMARIES, prim),
            _code_name(TRANSFER, trc),
            _code_name(MATRIX, mat),
            full,
        )
    return ColrBox(kind, "unknown", "unknown", "unknown", None)


def find_colr(moov: bytes) -> ColrBox | None:
    """The ``colr`` box of the first video track's first sample entry in a ``moov`` payload."""
    for kind, ts, te in iter_boxes(moov):
        if kind != b"trak":
            continue
        mdia = _child(moov, ts, te, b"mdia")
        hdlr = mdia and _child(moov, *mdia, b"hdlr")
        if not hdlr or moov[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            continue
        box: tuple[int, int] | None = mdia
        for name in (b"minf", b"stbl", b"stsd"):
            box = box and _child(moov, *box, name)
        if not box:
            return None
        entries = iter_boxes(moov, box[0] + 8, box[1])  # skip version/flags + entry_count
        entry = next(entries, None)
        if entry is None:
            return None
        colr = _child(moov, entry[1] + _VISUAL_SAMPLE_ENTRY, entry[2], b"colr")
        return parse_colr(moov[colr[0] : colr[1]]) if colr else None
    return None


def read_colr_box(path: str | Path, *, max_moov_bytes: int = 256 << 20) -> ColrBox | None:
    """Find ``moov`` by walking the top-level boxes (seeking past ``mdat``) and parse its colr."""
    with open(path, "rb") as f:
        size_total = f.seek(0, 2)
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            size, kind = struct.unpack(">I4s", f.read(8))
            header = 8
            if size == 1:
                large = f.read(8)
                if len(large) < 8:
                    break
                size, header = struct.unpack(">Q", large)[0], 16
            elif size == 0:
                size = size_total - pos
            if size < header:
                raise MediaError(f"{path}: malformed MP4 box {kind!r} at byte {pos}")
            if kind == b"moov":
                if size > max_moov_bytes:
                    raise MediaError(f"{path}: moov box of {size} bytes is implausibly large")
                moov = f.read(size - header)
                try:
                    return find_colr(moov)
                except ValueError as exc:
                    raise MediaError(f"{path}: malformed moov box ({exc})") from exc
            pos += size
    return None


# --- the record ---------------------------------------------------------------------------------


def probe_output(path: str) -> MediaInfo:
    """Probe a clip clipflow produced: unreadable means a failed render (MediaError), not a
    rejected input (probe's InputError, which the CLI reports as exit 2)."""
    try:
        return probe(path)
    except InputError as exc:
        raise MediaError(f"produced clip unreadable: {exc}") from exc


def inspect_codec(path: str | Path, *, info: MediaInfo | None = None) -> CodecRecord:
    """Codec facts of a produced clip's first video stream (``info``: a probe already made)."""
    path = str(path)
    info = info or probe_output(path)
    v = info.primary_video
    if v is None:
        raise MediaError(f"{path}: no video stream (streams: {info.describe_streams()})")
    traceable = v.codec == "h264"  # trace_headers fails outright on codecs cbs cannot parse
    done = ffmpeg.run(trace_argv(path, trace=traceable), timeout_s=300)
    sections = parse_trace(done.stderr) if traceable else []
    sei = set(sei_payload_types(sections))
    hdr = bool(sei & HDR_SEI_TYPES) or any(s in HDR_SIDE_DATA for s in v.side_data)
    return CodecRecord(
        codec=v.codec,
        profile=v.profile,
        level=v.level,
        pix_fmt=v.pix_fmt,
        color_primaries=v.color_primaries,
        color_transfer=v.color_transfer,
        color_space=v.color_space,
        color_range=v.color_range,
        width=v.width,
        height=v.height,
        fps=v.fps or v.avg_fps,
        cfr=is_cfr(settled_pts(parse_framecrc(done.stdout.decode("utf-8", "replace")))),
        bit_rate=v.bit_rate if v.bit_rate is not None else info.bit_rate,
        sps_colour=sps_colour(sections),
        colr_box=read_colr_box(path),
        hdr_side_data=hdr,
    )
