"""The filter graph of a clip whose shots are framed differently (pure: text out).

A clip that is one moving crop of one size renders with :func:`media.render.encode.video_filter`.
When its source shots need different treatments (a zoomed group, a stacked screen share, a
slide shown whole) the graph splits the decoded clip, trims each branch to its shot, frames it
at the output size, and concatenates the shots again: still one decode and one encode.

Each shot's crop is a named instance (``crop@s2``) moved by its own ``sendcmd`` reading the
clip's one command file, so a move meant for one shot never reaches another's crop; sendcmd
sits after the trim and sees clip times, as the keys are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from media.framing.crop_path import even_side, sendcmd_lines
from media.framing.framing_plan import Segment
from media.render.encode import TO_BT709, filter_value, fit_chains

CROP = "crop@s{}"


@dataclass(frozen=True, slots=True)
class FaceRegion:
    """Where a clip's picture holds a face by design, for QA: output rows ``[top, bottom)``
    as shares of the height from clip time ``start`` to ``end``; ``top`` None: no face by
    design (a slide, a shot without anyone)."""

    start: float
    end: float
    top: float | None
    bottom: float = 1.0


def stacked_split(segment: Segment, out_w: int, out_h: int) -> int:
    """Height of the screen panel (even) of a stacked shot at the output size."""
    assert segment.screen is not None
    screen = segment.screen
    return even_side(out_w * screen.h / screen.w, out_h - 2)


def face_regions(segments: Sequence[Segment], out_w: int, out_h: int) -> tuple[FaceRegion, ...]:
    """The per-shot face regions of a rendered clip (see :class:`FaceRegion`)."""
    regions = []
    for s in segments:
        if not s.holds_face:
            regions.append(FaceRegion(s.start, s.end, None))
        elif s.screen is not None:
            regions.append(FaceRegion(s.start, s.end, stacked_split(s, out_w, out_h) / out_h))
        elif s.panels:  # a window over stacked tiles: the followed face's tile, turn by turn
            ends = [p.start for p in s.panels[1:]] + [s.end]
            for p, end in zip(s.panels, ends, strict=True):
                regions.append(FaceRegion(max(p.start, s.start), end, p.top, p.bottom))
        else:
            regions.append(FaceRegion(s.start, s.end, 0.0))
    return tuple(regions)


def segments_sendcmd(segments: Sequence[Segment]) -> str:
    """One ``sendcmd`` file for every shot's crop (each line names its shot's instance)."""
    return "".join(
        sendcmd_lines(s.keys, filter_name=CROP.format(i))
        for i, s in enumerate(segments)
        if s.keys and not s.fit
    )


def _scaled(out_w: int, out_h: int) -> str:
    return f"scale={out_w}:{out_h}:flags=lanczos:{TO_BT709},format=yuv420p"


def _window(i: int, s: Segment, out_w: int, out_h: int, cmd: str) -> str:
    first = s.keys[0]
    return (
        f"sendcmd=f={cmd},{CROP.format(i)}=w={s.crop_w}:h={s.crop_h}:x={first.x}:y={first.y}"
        f":exact=1,{_scaled(out_w, out_h)}"
    )


def _branch(
    i: int, s: Segment, src: tuple[int, int], out: tuple[int, int], cmd: str, last: bool
) -> list[str]:
    """The chains of shot ``i``: from the split's output ``[s{i}]`` to ``[v{i}]``."""
    out_w, out_h = out
    trim = f"trim=start={s.start:.6f}" + ("" if last else f":end={s.end:.6f}")
    if s.fit:
        chains = fit_chains(src_w=src[0], src_h=src[1], out_w=out_w, out_h=out_h, tag=str(i))
        chains[0] = f"[s{i}]{trim},{chains[0]}"
        chains[-1] += f",setsar=1,setpts=PTS-STARTPTS[v{i}]"
        return chains
    if s.screen is None:
        return [
            f"[s{i}]{trim},{_window(i, s, out_w, out_h, cmd)},setsar=1,setpts=PTS-STARTPTS[v{i}]"
        ]
    top = stacked_split(s, out_w, out_h)
    r = s.screen
    return [
        f"[s{i}]{trim},split=2[t{i}][p{i}]",
        f"[t{i}]crop={r.w}:{r.h}:{r.x}:{r.y},{_scaled(out_w, top)}[tt{i}]",
        f"[p{i}]{_window(i, s, out_w, out_h - top, cmd)}[pp{i}]",
        f"[tt{i}][pp{i}]vstack,setsar=1,setpts=PTS-STARTPTS[v{i}]",
    ]


def segments_filter(
    segments: Sequence[Segment],
    *,
    src: tuple[int, int],
    out: tuple[int, int],
    fps: float,
    sendcmd_path: str,
    captions_path: str | None = None,
) -> str:
    """The clip's graph: split, one framed branch per shot, concat, then the usual tail
    (constant frame rate from clip time 0, captions, yuv420p, square pixels)."""
    n = len(segments)
    cmd = filter_value(sendcmd_path)
    chains = ["split=" + str(n) + "".join(f"[s{i}]" for i in range(n)) if n > 1 else "null[s0]"]
    for i, s in enumerate(segments):
        chains += _branch(i, s, src, out, cmd, last=i == n - 1)
    tail = [f"fps={fps:g}:start_time=0"]
    if captions_path:
        tail.append(f"ass=filename={filter_value(captions_path)}")
    tail += ["format=yuv420p", "setsar=1"]
    joined = "".join(f"[v{i}]" for i in range(n))
    chains.append(f"{joined}concat=n={n}:v=1:a=0," + ",".join(tail))
    return ";".join(chains)
