"""Render: carry out one clip's render plan (:mod:`media.render.plan` makes every decision).

Two jobs on the same content (a re-upload, a copy under another key) can render the same clip
at the same moment: each works in a private scratch folder, and the finished files replace the
shared ones atomically (same content either way). A killed render's folder is swept.
"""

from __future__ import annotations

from prefect import task

from blocks.settings import PipelineSettings
from media import ffmpeg
from media.ingest import Source
from media.render import audio
from media.render.encode import EncodeSpec, choose_encoder
from media.render.plan import DELIVERED_CAPTIONS, RenderOptions, plan_render
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from tasks import disk
from tasks.caching import CACHED
from tasks.costs import CostItem, metered
from tasks.records import FramedClip, RenderedClip
from tasks.workdir import clip_work_dir


def render_options(settings: PipelineSettings, encoder: str) -> RenderOptions:
    """The settings a render plan reads, with the encoder this machine resolved."""
    return RenderOptions(
        aspect=settings.aspect,
        max_fps=settings.max_fps,
        no_face_fill=settings.no_face_fill,
        burn_captions=settings.burn_captions,
        encode=EncodeSpec(encoder, settings.x264_preset, settings.crf),
    )


@task(name="render-clip", tags=["gpu"], **CACHED)
def render_clip(
    source: Source,
    clip: ClipPlan,
    framed: FramedClip,
    text: Transcript,
    settings: PipelineSettings,
) -> RenderedClip:
    """Normalise the clip's audio on the encoded AAC, write its captions, then one video
    encode muxing the audio as is (captions burnt in when the settings ask for it)."""
    from media.render import captions

    costs: list[CostItem] = []
    work = clip_work_dir(source, clip.index, settings)
    encoder = choose_encoder(settings.encoder)
    disk.sweep_stale(work, ".render-")
    with (
        metered("render", costs, pool="gpu" if encoder == "h264_nvenc" else "cpu"),
        disk.scratch_dir(work, ".render-") as scratch,
    ):
        render_plan = plan_render(
            clip,
            framed.framing,
            source.info.video[0],
            source_path=source.local_path,
            folder=scratch,
            options=render_options(settings, encoder),
        )
        sound = audio.normalise_clip_audio(
            source.local_path,
            render_plan.audio_path,
            start_s=clip.start_s,
            duration_s=clip.duration_s,
            target_lufs=settings.target_lufs,
            ceiling_dbtp=settings.max_true_peak_dbtp,
        )
        files = captions.write_clip_captions(
            text,
            clip.start_s,
            clip.end_s,
            scratch,
            render_plan.stem,
            burn_in_size=render_plan.caption_size,
        )
        if render_plan.sendcmd_path and render_plan.sendcmd is not None:
            render_plan.sendcmd_path.write_text(render_plan.sendcmd)
        ffmpeg.run(render_plan.argv)
        kept = {kind: work / files[kind].name for kind in DELIVERED_CAPTIONS}
        for kind, dest in kept.items():
            files[kind].replace(dest)
        out = work / render_plan.encoded_path.name
        render_plan.encoded_path.replace(out)
    return RenderedClip(
        clip.index,
        str(out),
        render_plan.width,
        render_plan.height,
        encoder,
        sound.integrated_lufs,
        sound.renders,
        {kind: str(path) for kind, path in kept.items()},
        tuple(costs),
        render_plan.face_regions,
    )
