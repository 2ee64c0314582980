"""The job's stages as Prefect tasks: each one a few lines over ``media/`` logic.

Expensive stages cache on content (source sha256 + parameters + task source, never a run id)
with persisted results, so a re-run or a retried run resumes where it stopped. Only transient
failures retry; bad input, media and QA failures do not.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prefect import task
from prefect.cache_policies import CacheKeyFnPolicy

from blocks.settings import PipelineSettings
from media import asr, audio, ffmpeg, highlights, ingest, render, transcript
from media.errors import InputError
from media.ingest import Source
from tasks import disk
from tasks.common import TRANSIENT_RETRIES, CostItem, content_cache_key, metered, stable_digest

CONTENT = CacheKeyFnPolicy(cache_key_fn=content_cache_key)
CACHED = dict(cache_policy=CONTENT, persist_result=True)


def job_work_dir(source: Source, settings: PipelineSettings) -> Path:
    """Per-source, per-settings work directory: two jobs never share a file."""
    d = settings.work_dir / source.sha256[:16] / stable_digest(settings)[:12]
    d.mkdir(parents=True, exist_ok=True)
    return d


@task(name="ingest", **TRANSIENT_RETRIES)
def ingest_source(uri: str, settings: PipelineSettings) -> tuple[Source, list[CostItem]]:
    """Fetch (S3) or read (local) the source into a content-addressed copy; probe; validate."""
    costs: list[CostItem] = []
    with metered("ingest", costs):
        ffmpeg.require_binaries()
        sources = settings.work_dir / "sources"
        with _fetched(uri, sources, settings) as local:
            if uri.startswith("s3://"):
                costs += s3_read_costs("ingest", local.stat().st_size)
            src = ingest.accept(local, sources, uri=uri, min_duration_s=settings.min_clip_s)
    return src, costs


def s3_read_costs(stage: str, size_bytes: int) -> list[CostItem]:
    """An S3 download: one HEAD plus one GET per 8 MiB part (boto3's multipart reads), and the
    bytes read."""
    requests = 1 + max(1, math.ceil(size_bytes / (8 << 20)))
    return [
        CostItem(stage, "s3", requests, "requests", 0.0),
        CostItem(stage, "s3", round(size_bytes / 1e9, 6), "gb_read", 0.0),
    ]


@task(name="ingest-transcript", **TRANSIENT_RETRIES)
def ingest_transcript(uri: str, settings: PipelineSettings) -> tuple[str, str]:
    """Copy a sidecar transcript (local or S3) by content hash: (sha256, local path)."""
    folder = settings.work_dir / "transcripts"
    with _fetched(uri, folder, settings) as local:
        sha, path = ingest.copy_hashed(local, folder, label=uri)
    return sha, str(path)


@contextmanager
def _fetched(uri: str, folder: Path, settings: PipelineSettings) -> Iterator[Path]:
    """A local path for ``uri``: the file itself, or an S3 object in a private scratch folder
    (what a killed run left in such folders is swept first)."""
    from tasks import storage

    folder.mkdir(parents=True, exist_ok=True)
    if not uri.startswith("s3://"):
        yield storage.download(uri, folder, settings)  # resolves and checks a local path
        return
    disk.sweep_stale(folder, ".download-")
    with disk.scratch_dir(folder, ".download-") as tmp:
        yield storage.download(uri, tmp, settings)


def speech_wav(source: Source, settings: PipelineSettings) -> Path:
    """The source's audio as 16 kHz mono WAV (for ASR, speech activity and prosody), made
    once per source and settings."""
    work = job_work_dir(source, settings)
    wav = work / "speech-16k.wav"
    if not wav.is_file():
        # A folder of its own: another job on the same content may be writing one too.
        disk.sweep_stale(work, ".speech-")
        with disk.scratch_dir(work, ".speech-") as scratch:
            part = scratch / wav.name
            ffmpeg.run(audio.extract_speech_wav_argv(source.local_path, str(part)))
            part.replace(wav)
    return wav


@task(name="load-transcript", **CACHED)
def load_transcript(
    source: Source, sidecar: tuple[str, str] | None, label: str | None, settings: PipelineSettings
) -> tuple[transcript.Transcript, list[CostItem]]:
    """A sidecar (WebVTT/SRT/word-level JSON: its sha256 and local copy) when given, its
    estimated word times moved onto speech-activity edges; else speech recognition."""
    from media import vad

    costs: list[CostItem] = []
    with metered("transcript", costs):
        if sidecar:
            got = transcript.read_transcript(
                sidecar[1], duration_s=source.info.duration_s, label=label
            )
            if settings.refine_word_times and got.timing == "cue":
                got = vad.refine_cue_times(got, vad.speech_regions(speech_wav(source, settings)))
        else:
            got = asr.transcribe(
                speech_wav(source, settings),
                engine=settings.asr_engine,
                whisper_model=settings.whisper_model,
                device=settings.whisper_device,
                compute_type=settings.whisper_compute_type,
            )
            minutes = source.info.duration_s / 60
            costs.append(CostItem("transcript", "asr", round(minutes, 3), "audio_min", 0.0))
    if not got.sentences:
        raise InputError(f"{label or source.uri}: transcript holds no sentences")
    return got, costs


def selection_rules(settings: PipelineSettings, max_clips: int) -> highlights.SelectionRules:
    return highlights.SelectionRules(
        max_clips=max_clips,
        min_clip_s=settings.min_clip_s,
        max_clip_s=settings.max_clip_s,
        min_gap_s=settings.min_gap_s,
        lead_in_s=settings.lead_in_s,
        tail_out_s=settings.tail_out_s,
        min_score=settings.min_clip_score,
    )


@task(name="select-highlights", **CACHED)
def select_highlights(
    source: Source, text: transcript.Transcript, max_clips: int, settings: PipelineSettings
) -> list[highlights.ClipPlan]:
    """At most ``max_clips`` windows of whole sentences, 15–60 s, on distinct topics, ranked on
    what is said and how (prosody from the audio) and non-overlapping."""
    from media.prosody import sentence_prosody

    prosody = sentence_prosody(speech_wav(source, settings), text)
    plans = highlights.select(
        text, selection_rules(settings, max_clips), vectors=settings.topic_vectors, prosody=prosody
    )
    if not plans:
        raise InputError(
            f"{source.uri}: no stretch of {settings.min_clip_s:.0f}–{settings.max_clip_s:.0f} s "
            f"of whole sentences scoring over {settings.min_clip_score:.2f} found in the "
            f"transcript ({len(text.sentences)} sentences)"
        )
    return plans


@task(name="load-plan", **TRANSIENT_RETRIES)
def load_plan(
    uri: str,
    source: Source,
    text: transcript.Transcript,
    max_clips: int,
    settings: PipelineSettings,
) -> list[highlights.ClipPlan]:
    """The clips of a plan file (``clipflow plan``'s output, perhaps edited), snapped to the
    transcript's sentence bounds. A plan made for another recording is refused."""
    from media import plans

    with _fetched(uri, settings.work_dir / "plans", settings) as local:
        data = local.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{uri}: plan file is not UTF-8 text (byte {exc.start})") from exc
    made_for = plans.plan_source_sha256(raw)
    if made_for and made_for != source.sha256:
        raise InputError(
            f"{uri}: plan was made for another recording (sha256 {made_for[:12]}…, "
            f"this one is {source.sha256[:12]}…)"
        )
    edited = plans.parse_plan(raw, name=uri)
    return plans.plans_from_edits(text, edited, selection_rules(settings, max_clips), name=uri)


@task(name="rank-highlights")
def rank_highlights(
    text: transcript.Transcript,
    max_clips: int,
    llm_block: str,
    budget_usd: float,
    settings: PipelineSettings,
):
    """Let an LLM choose among the offline shortlist and title the picks (boundaries always
    come from word times). Falls back to the offline choice, saying why, on a timeout, an
    unusable answer, or a budget that the call could exceed. Not cached: it is a paid call
    whose failures may be transient."""
    from blocks.prefect_blocks import LlmCredentials
    from media.llm_ranking import shortlist
    from tasks.llm import rank_with_llm

    credentials = LlmCredentials.load(llm_block, _sync=True)
    candidates = shortlist(
        text, selection_rules(settings, max_clips), vectors=settings.topic_vectors
    )
    return rank_with_llm(candidates, max_clips, credentials, budget_usd=budget_usd)


def speech_segments(text: transcript.Transcript, plan: highlights.ClipPlan):
    """Clip-relative (start, end, speaker) of each sentence inside the clip."""
    return [
        (s.start_s - plan.start_s, s.end_s - plan.start_s, s.speaker)
        for s in text.sentences[plan.first_sentence : plan.last_sentence + 1]
    ]


@task(name="frame-clip", tags=["gpu"], **CACHED)
def frame_clip(
    source: Source,
    plan: highlights.ClipPlan,
    text: transcript.Transcript,
    settings: PipelineSettings,
):
    """Find the faces in the clip's window and plan a calm crop that follows the speaker."""
    from media import framing

    costs: list[CostItem] = []
    # ffmpeg applies rotation metadata while decoding: plan in displayed pixels.
    width, height = source.info.video[0].display_size
    with metered("frame", costs):
        analysis = framing.analyse_window(
            source.local_path,
            plan.start_s,
            plan.duration_s,
            width,
            height,
            fps=settings.analysis_fps,
            width=settings.analysis_width,
        )
        framed = framing.plan_framing(
            analysis,
            src_w=width,
            src_h=height,
            aspect=settings.aspect,
            speech=speech_segments(text, plan),
        )
    return framed, costs


@dataclass(frozen=True, slots=True)
class RenderedClip:
    index: int
    path: str
    width: int
    height: int
    encoder: str
    integrated_lufs: float
    audio_renders: int
    captions: dict[str, str] = field(default_factory=dict)  # "srt"/"vtt" → clip-relative file


@task(name="render-clip", tags=["gpu"], **CACHED)
def render_clip(
    source: Source,
    plan: highlights.ClipPlan,
    framing_outcome: tuple,
    text: transcript.Transcript,
    settings: PipelineSettings,
):
    """Normalise the clip's audio on the encoded AAC, write its captions, then one video
    encode muxing the audio as is (captions burned in when the settings ask for it).

    ``framing_outcome`` is what :func:`frame_clip` returned: (FramingPlan, cost items).
    """
    from media import captions, framing

    framed = framing_outcome[0]
    costs: list[CostItem] = []
    work = job_work_dir(source, settings) / f"clip-{plan.index:02d}"
    work.mkdir(parents=True, exist_ok=True)
    encoder = render.choose_encoder(settings.encoder)
    video = source.info.video[0]
    stem = f"clip-{plan.index:02d}"
    # Two jobs on the same content (a re-upload, a copy under another key) can render this clip
    # at the same moment: each works in its own folder, and the finished files replace the
    # shared ones atomically (same content either way). A killed render's folder is swept.
    disk.sweep_stale(work, ".render-")
    with (
        metered("render", costs, pool="gpu" if encoder == "h264_nvenc" else "cpu"),
        disk.scratch_dir(work, ".render-") as scratch,
    ):
        private = Path(scratch)
        sound = audio.normalise_clip_audio(
            source.local_path,
            private / "audio.m4a",
            start_s=plan.start_s,
            duration_s=plan.duration_s,
            target_lufs=settings.target_lufs,
            ceiling_dbtp=settings.max_true_peak_dbtp,
        )
        out_w, out_h = render.output_size(settings.aspect, framed.crop_w, framed.crop_h)
        files = captions.write_clip_captions(
            text,
            plan.start_s,
            plan.end_s,
            private,
            stem,
            burn_in_size=(out_w, out_h) if settings.burn_captions else None,
        )
        burn = str(files["ass"]) if settings.burn_captions else None
        fps = render.output_fps(video.fps, settings.max_fps)
        if framed.layout == "no_face" and settings.no_face_fill == "blur":
            src_w, src_h = video.display_size
            vf = render.fit_filter(
                src_w=src_w, src_h=src_h, out_w=out_w, out_h=out_h, fps=fps, captions_path=burn
            )
        else:
            cmds = private / "crop.cmd"
            cmds.write_text(framing.sendcmd_script(framed))
            first = framed.keys[0]
            vf = render.video_filter(
                crop_w=framed.crop_w,
                crop_h=framed.crop_h,
                x0=first.x,
                y0=first.y,
                out_w=out_w,
                out_h=out_h,
                fps=fps,
                sendcmd_path=str(cmds),
                captions_path=burn,
            )
        spec = render.EncodeSpec(encoder, settings.x264_preset, settings.crf)
        encoded = private / f"{stem}.mp4"
        ffmpeg.run(
            render.render_argv(
                source.local_path,
                sound.path,
                str(encoded),
                start_s=plan.start_s,
                duration_s=plan.duration_s,
                vf=vf,
                spec=spec,
            )
        )
        out = work / f"{stem}.mp4"
        kept = {kind: work / files[kind].name for kind in ("srt", "vtt")}
        for kind, dest in kept.items():
            files[kind].replace(dest)
        encoded.replace(out)
    return RenderedClip(
        plan.index,
        str(out),
        out_w,
        out_h,
        encoder,
        sound.integrated_lufs,
        sound.renders,
        {kind: str(path) for kind, path in kept.items()},
    ), costs


@task(name="qa-clip", **CACHED)
def qa_clip(render_outcome: tuple, settings: PipelineSettings):
    """Measure the produced file only: loudness, framing, codec, decode errors.

    ``render_outcome`` is what :func:`render_clip` returned: (RenderedClip, cost items).
    """
    from qa.measure import measure_clip

    rendered = render_outcome[0]
    costs: list[CostItem] = []
    with metered("qa", costs):
        measured = measure_clip(rendered.path, settings)
    return measured, costs
