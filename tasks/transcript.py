"""Transcript: the recording's words with times, from a sidecar or from speech recognition."""

from __future__ import annotations

from prefect import task

from blocks.settings import PipelineSettings
from media.errors import InputError
from media.ingest import Source
from media.transcript import asr
from media.transcript.reader import read_transcript
from media.transcript.records import Transcript
from tasks.caching import CACHED
from tasks.costs import CostItem, metered
from tasks.records import Sidecar, Transcribed
from tasks.workdir import speech_wav


@task(name="load-transcript", **CACHED)
def load_transcript(
    source: Source, sidecar: Sidecar | None, label: str | None, settings: PipelineSettings
) -> Transcribed:
    """A sidecar (WebVTT/SRT/word-level JSON) when given, its estimated word times moved onto
    speech-activity edges; else speech recognition. ``label`` names the sidecar in errors."""
    costs: list[CostItem] = []
    with metered("transcript", costs):
        if sidecar:
            got = _read_sidecar(source, sidecar, label, settings)
        else:
            got = _recognise(source, settings)
            minutes = source.info.duration_s / 60
            costs.append(CostItem("transcript", "asr", round(minutes, 3), "audio_min", 0.0))
        if settings.diarize and not got.speakers:
            got = _diarize(source, got, settings)
    if not got.sentences:
        raise InputError(f"{label or source.uri}: transcript holds no sentences")
    return Transcribed(got, tuple(costs))


def _read_sidecar(
    source: Source, sidecar: Sidecar, label: str | None, settings: PipelineSettings
) -> Transcript:
    from media.transcript import vad

    got = read_transcript(sidecar.path, duration_s=source.info.duration_s, label=label)
    if settings.refine_word_times and got.timing == "cue":
        got = vad.refine_cue_times(got, vad.speech_regions(speech_wav(source, settings)))
    return got


def _recognise(source: Source, settings: PipelineSettings) -> Transcript:
    return asr.transcribe(
        speech_wav(source, settings),
        engine=settings.asr_engine,
        language=settings.asr_language,
        whisper_model=settings.whisper_model,
        device=settings.whisper_device,
        compute_type=settings.whisper_compute_type,
    )


def _diarize(source: Source, transcript: Transcript, settings: PipelineSettings) -> Transcript:
    """Speaker turns from the audio (a transcript without speaker names: ASR, plain SRT)."""
    from media.transcript import diarization

    segments = diarization.diarize(speech_wav(source, settings), max_speakers=settings.max_speakers)
    return diarization.assign_speakers(transcript, segments)
