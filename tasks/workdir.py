"""Where a job's files live on this machine: its work folder, fetched inputs, the speech WAV.

Folders are named by content (the source's sha256, the settings' hash), so two jobs never share
a file and a re-run finds what an earlier run made. Scratch folders are private to one writer
and swept when a killed run left them (:mod:`tasks.disk`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blocks.settings import PipelineSettings
from media import ffmpeg
from media.ingest import Source
from media.render import audio
from tasks import disk, storage
from tasks.caching import settings_hash


def job_work_dir(source: Source, settings: PipelineSettings) -> Path:
    """Per-source, per-settings work directory: two jobs never share a file."""
    d = settings.work_dir / source.sha256[:16] / settings_hash(settings)[:12]
    d.mkdir(parents=True, exist_ok=True)
    return d


def clip_work_dir(source: Source, clip_index: int, settings: PipelineSettings) -> Path:
    """One clip's folder inside the job's work directory."""
    d = job_work_dir(source, settings) / f"clip-{clip_index:02d}"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def fetched(uri: str, folder: Path, settings: PipelineSettings) -> Iterator[Path]:
    """A local path for ``uri``: the file itself, or an S3 object in a private scratch folder
    (what a killed run left in such folders is swept first)."""
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
