"""One clip's render as a plan: every decision made before anything runs.

Pure: from the clip's window, its framing, the source's video stream and the render options it
decides the output size, the frame rate, the filter graph (a crop that follows the framing,
moved by ``sendcmd``, or the whole frame over a blurred copy when there is no face to follow),
which caption file is burnt in, the encode and the ffmpeg argv, and names every file involved.
The render task only carries it out: it writes the files the plan names, normalises the audio
to ``audio_path`` and runs ``argv`` through :func:`media.ffmpeg.run`. So each branch is tested
without ffmpeg (docs/ARCHITECTURE.md, "Layers").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from media.framing.framing_plan import FramingPlan, sendcmd_script
from media.framing.layout import Layout
from media.probe import VideoStream
from media.render.encode import (
    EncodeSpec,
    fit_filter,
    output_fps,
    output_size,
    render_argv,
    video_filter,
)
from media.render.layouts import FaceRegion, face_regions, segments_filter, segments_sendcmd
from media.selection.candidates import ClipPlan

# The caption formats delivered beside each clip (the ASS file only feeds the burn-in).
DELIVERED_CAPTIONS = ("srt", "vtt")


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What a render is asked for: the pipeline's settings, as the pure core takes them."""

    aspect: str  # "9:16" | "1:1" | "16:9"
    max_fps: float
    no_face_fill: Literal["center", "blur"]
    burn_captions: bool
    encode: EncodeSpec
    size: tuple[int, int] | None = None  # force an output size (benchmarks); None: the rule


@dataclass(frozen=True, slots=True)
class RenderPlan:
    """Everything one clip's render does, decided; paths are inside the render's own folder."""

    stem: str  # "clip-01": the name of every file of the clip
    width: int
    height: int
    fps: float
    blur_fill: bool  # the whole frame over a blurred copy (no face to follow)
    video_filter: str
    sendcmd: str | None  # the crop's moves, for ffmpeg's sendcmd filter; None with blur_fill
    sendcmd_path: Path | None  # where ``sendcmd`` must be written before the encode
    burn_in: Path | None  # the ASS captions the filter burns in; None: no captions burnt
    audio_path: Path  # where the clip's normalised audio must be before the encode
    encoded_path: Path
    encode: EncodeSpec
    argv: tuple[str, ...]
    # Where the picture holds a face by design, per shot (QA judges centring there only).
    face_regions: tuple[FaceRegion, ...] = ()

    @property
    def caption_size(self) -> tuple[int, int] | None:
        """The frame size to lay burnt-in captions out for; None when none are burnt."""
        return (self.width, self.height) if self.burn_in else None


def plan_render(
    clip: ClipPlan,
    framing: FramingPlan,
    video: VideoStream,
    *,
    source_path: str,
    folder: Path,
    options: RenderOptions,
) -> RenderPlan:
    """The render of ``clip`` from the source at ``source_path`` (whose video is ``video``),
    framed by ``framing``, with its files in ``folder``."""
    stem = f"clip-{clip.index:02d}"
    width, height = options.size or output_size(options.aspect, framing.crop_w, framing.crop_h)
    fps = output_fps(video.fps, options.max_fps)
    burn_in = folder / f"{stem}.ass" if options.burn_captions else None
    captions_path = str(burn_in) if burn_in else None
    shots = framing.segments
    no_face = (
        all(s.layout == Layout.NO_FACE for s in shots)
        if shots
        else (framing.layout == Layout.NO_FACE)
    )
    blur_fill = no_face and options.no_face_fill == "blur"
    sendcmd: str | None = None
    sendcmd_path: Path | None = None
    src_w, src_h = video.display_size  # ffmpeg applies rotation while decoding
    regions: tuple[FaceRegion, ...] = (FaceRegion(0.0, clip.duration_s, None if no_face else 0.0),)
    if shots and not blur_fill:
        regions = face_regions(shots, width, height)
    if blur_fill:
        vf = fit_filter(
            src_w=src_w, src_h=src_h, out_w=width, out_h=height, fps=fps,
            captions_path=captions_path,
        )  # fmt: skip
    elif not framing.one_window:
        sendcmd, sendcmd_path = segments_sendcmd(shots), folder / "crop.cmd"
        vf = segments_filter(
            shots, src=(src_w, src_h), out=(width, height), fps=fps,
            sendcmd_path=str(sendcmd_path), captions_path=captions_path,
        )  # fmt: skip
    else:
        sendcmd, sendcmd_path = sendcmd_script(framing), folder / "crop.cmd"
        first = framing.keys[0]
        vf = video_filter(
            crop_w=framing.crop_w, crop_h=framing.crop_h, x0=first.x, y0=first.y,
            out_w=width, out_h=height, fps=fps, sendcmd_path=str(sendcmd_path),
            captions_path=captions_path,
        )  # fmt: skip
    audio_path, encoded_path = folder / "audio.m4a", folder / f"{stem}.mp4"
    argv = render_argv(
        source_path, str(audio_path), str(encoded_path),
        start_s=clip.start_s, duration_s=clip.duration_s, vf=vf, spec=options.encode,
    )  # fmt: skip
    return RenderPlan(
        stem=stem,
        width=width,
        height=height,
        fps=fps,
        blur_fill=blur_fill,
        video_filter=vf,
        sendcmd=sendcmd,
        sendcmd_path=sendcmd_path,
        burn_in=burn_in,
        audio_path=audio_path,
        encoded_path=encoded_path,
        encode=options.encode,
        argv=tuple(argv),
        face_regions=regions,
    )
