"""faster-whisper: Whisper-class speech recognition offline, in bounded memory.

The audio is cut into chunks of at most :data:`MAX_CHUNK_S` between speech regions found by
the WebRTC VAD (:func:`speech_chunks`, pure), and each chunk is read from the WAV and decoded
on its own, so memory does not grow with the recording's length (a 2-hour file holds one
chunk of samples at a time). Recognition runs in a child interpreter: CTranslate2's threads
are then charged to the stage exactly (the child reports its own CPU time) and the model's
memory is returned when the job ends.

Models: a local CTranslate2 directory when ``whisper_model`` names one; otherwise the models
shipped from the registry (:mod:`media.transcript.whisper_models`): tiny.en for English and,
with the ``multilingual`` extra, base for other languages, which it also detects on the first
:data:`DETECT_S` seconds of speech. Captions stay in the spoken language.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import resource
import subprocess
import sys
import wave
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from media import cpu
from media.errors import InputError, MediaError
from media.transcript import whisper_models
from media.transcript.records import Transcript
from media.transcript.vad import Region, speech_regions
from media.transcript.whisper_json import from_segments
from media.transcript.whisper_models import BASE, TINY_EN, ShippedModel

if TYPE_CHECKING:  # faster-whisper ships no type information
    import numpy as np
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment

SAMPLE_RATE = 16_000
MAX_CHUNK_S = 300.0  # audio decoded at once
DETECT_S = 30.0  # speech heard before the language is decided (Whisper's own window)
SAMPLING_SEED = 0  # for the temperature fallback (run_job)
# faster-whisper falls back to fetching a tokenizer from the hub when tokenizer.json is missing.
WHISPER_MODEL_FILES = ("config.json", "model.bin", "tokenizer.json")


def installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def speech_chunks(
    regions: Iterable[Region], duration_s: float, *, max_s: float = MAX_CHUNK_S, pad_s: float = 1.0
) -> list[Region]:
    """Consecutive speech regions grouped into chunks of at most ``max_s`` seconds.

    A chunk is cut in a pause between regions (at its middle, or ``pad_s`` away from the
    speech on either side of a longer one), never inside a region unless one region alone is
    longer than ``max_s``. The pad keeps speech the VAD heard as silence (a quiet last word)
    inside a chunk: Whisper's own VAD (Silero) then decides within it.
    """
    groups: list[list[float]] = []  # [first start, last end] of the regions in each chunk
    for start, end in regions:
        if groups and end - groups[-1][0] <= max_s - 2 * pad_s:
            groups[-1][1] = end
            continue
        while end - start > max_s - 2 * pad_s:
            groups.append([start, start + max_s - 2 * pad_s])
            start += max_s - 2 * pad_s
        groups.append([start, end])
    chunks: list[Region] = []
    for i, (start, end) in enumerate(groups):
        before = (groups[i - 1][1] + start) / 2 if i else 0.0
        after = (end + groups[i + 1][0]) / 2 if i + 1 < len(groups) else duration_s
        chunks.append(
            (
                round(max(before, start - pad_s, 0.0), 3),
                round(min(after, end + pad_s, duration_s), 3),
            )
        )
    return chunks


def choose_model(language: str, *, multilingual: bool) -> ShippedModel | None:
    """The shipped model for ``language`` ("" = detect); None = detect first with base."""
    if language == "en" or (not language and not multilingual):
        return TINY_EN
    if not multilingual:
        raise InputError(
            f"asr_language {language!r}: languages other than English need the multilingual "
            f"Whisper model: {BASE.install}"
        )
    return BASE if language else None


def check_language(language: str) -> str:
    """A Whisper language code ("" = detect), lower-cased; unknown codes are refused."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES  # Whisper's 100 codes

    code = language.strip().lower()
    if code and code not in _LANGUAGE_CODES:
        raise InputError(
            f"asr_language {language!r} is not a language Whisper knows (ISO 639-1 codes such "
            "as en, de, fr, es, ja, zh; empty to detect it)"
        )
    return code


def whisper_options(device: str, compute_type: str, *, cuda_devices: int) -> tuple[str, str]:
    """(device, compute_type): auto = CUDA when a GPU is visible; float16 on CUDA, int8 on CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"whisper device {device!r} (expected auto, cpu or cuda)")
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def check_whisper_model(whisper_model: str | Path) -> Path:
    """A model of one's own must be a local CTranslate2 directory: hub names are refused."""
    path = Path(whisper_model).expanduser()
    if not path.is_dir():
        raise InputError(
            f"whisper_model {str(whisper_model)!r} is not a directory (expected a local "
            "CTranslate2 model directory; models are never downloaded)"
        )
    missing = [f for f in WHISPER_MODEL_FILES if not (path / f).is_file()]
    if missing:
        raise InputError(f"whisper_model {str(path)!r} lacks {', '.join(missing)}")
    return path


def from_whisper_segments(segments: Iterable[Segment | dict[str, Any]], *, name: str) -> Transcript:
    """Words of faster-whisper segments (each with ``words``), as a transcript."""
    segments = list(segments)
    if not any((_get(s, "words") or str(_get(s, "text") or "").strip()) for s in segments):
        raise InputError(f"{name}: no speech recognised (silent or non-speech audio)")
    return from_segments(segments, source="asr:faster-whisper", name=name)


def _get(segment: object, key: str) -> Any:
    return segment.get(key) if isinstance(segment, dict) else getattr(segment, key, None)


@dataclass(frozen=True, slots=True)
class WhisperJob:
    wav_path: Path
    chunks: tuple[Region, ...]
    model_dir: Path  # transcribes (English, the given language, or one's own model)
    model_name: str
    language: str  # "" = detect it with model_dir's (multilingual) model first
    english_dir: Path | None  # tiny.en, used instead when detection says English
    device: str
    compute_type: str
    threads: int


@dataclass(frozen=True, slots=True)
class WhisperRun:
    segments: tuple[dict[str, Any], ...]
    language: str
    model_name: str
    cpu_s: float  # the child process's own CPU, all its threads
    peak_rss_mb: float  # the child process's peak resident memory (its own program only)


def transcribe_whisper(
    wav_path: Path,
    *,
    language: str = "",
    whisper_model: str | Path | None = None,
    device: str = "auto",
    compute_type: str = "auto",
    threads: int | None = None,
) -> Transcript:
    """Recognise the speech in a 16 kHz mono WAV; words with times, language and model named."""
    job = plan_job(
        wav_path,
        language=language,
        whisper_model=whisper_model,
        device=device,
        compute_type=compute_type,
        threads=threads,
    )
    if not job.chunks:
        raise InputError(f"{wav_path}: no speech recognised (silent or non-speech audio)")
    run = run_in_child(job)
    cpu.add_child_seconds(run.cpu_s)
    got = from_whisper_segments(run.segments, name=str(wav_path))
    return replace(got, language=run.language, model=f"whisper-{run.model_name}")


def plan_job(
    wav_path: Path,
    *,
    language: str,
    whisper_model: str | Path | None,
    device: str,
    compute_type: str,
    threads: int | None,
) -> WhisperJob:
    """Resolve and verify the models and cut the audio into chunks (this process)."""
    language = check_language(language)
    with wave.open(str(wav_path), "rb") as w:
        duration_s = w.getnframes() / (w.getframerate() or SAMPLE_RATE)
    chunks = tuple(speech_chunks(speech_regions(wav_path), duration_s))
    english_dir = None
    if whisper_model:
        model_dir, name = check_whisper_model(whisper_model), Path(whisper_model).name
    else:
        model = choose_model(language, multilingual=whisper_models.installed(BASE))
        if model is None:  # detect: base hears the language, tiny.en transcribes English
            model_dir = whisper_models.model_dir(BASE)
            english_dir, name = whisper_models.model_dir(TINY_EN), BASE.name
        else:
            model_dir, name = whisper_models.model_dir(model), model.name
            language = language or "en"  # tiny.en alone: English is all it hears
    return WhisperJob(
        Path(wav_path),
        chunks,
        model_dir,
        name,
        language,
        english_dir,
        device,
        compute_type,
        threads or max(1, min(4, os.cpu_count() or 1)),
    )


def run_in_child(job: WhisperJob) -> WhisperRun:
    """:func:`run_job` in a new interpreter (``python -m media.transcript.whisper_asr``): never
    a fork of a threaded parent, and nothing of the caller's ``__main__`` is run again."""
    done = subprocess.run(
        [sys.executable, "-m", __name__], input=pickle.dumps(job), capture_output=True, check=False
    )
    try:
        answer = pickle.loads(done.stdout) if done.returncode == 0 else None
    except pickle.UnpicklingError:
        answer = None
    if isinstance(answer, WhisperRun):
        return answer
    if isinstance(answer, Exception):
        raise answer
    tail = done.stderr.decode(errors="replace").strip()[-2000:]
    raise MediaError(
        f"{job.wav_path}: the speech recogniser's process exited with {done.returncode}: {tail}"
    )


def _child_main() -> None:
    job = pickle.loads(sys.stdin.buffer.read())
    try:
        answer: WhisperRun | Exception = run_job(job)
    except (InputError, MediaError) as exc:
        answer = exc
    sys.stdout.buffer.write(pickle.dumps(answer))


def run_job(job: WhisperJob) -> WhisperRun:
    """Detect the language when asked, then decode chunk after chunk (in the child)."""
    import ctranslate2
    from faster_whisper import WhisperModel

    device, compute_type = whisper_options(
        job.device, job.compute_type, cuda_devices=ctranslate2.get_cuda_device_count()
    )

    def load(folder: Path) -> WhisperModel:
        return WhisperModel(
            str(folder),
            device=device,
            compute_type=compute_type,
            cpu_threads=job.threads,
            local_files_only=True,
        )

    model, language, name = load(job.model_dir), job.language, job.model_name
    if not language:
        language = _detect(model, job)
        if language == "en" and job.english_dir is not None:
            del model
            model, name = load(job.english_dir), TINY_EN.name
    segments: list[dict[str, Any]] = []
    for start, end in job.chunks:
        audio = _read(job.wav_path, start, end)
        # Whisper falls back to sampling at rising temperatures when a greedy decode looks
        # wrong (repeats, low log-probability): seeded, the same audio gives the same words.
        # Unseeded, three runs on a real-face call gallery gave 132, 121 and 70 words, so
        # the same recording's clips changed from run to run.
        ctranslate2.set_random_seed(SAMPLING_SEED)
        found, _info = model.transcribe(
            audio,
            language=language,
            word_timestamps=True,
            vad_filter=True,  # Silero VAD, shipped inside faster-whisper
        )
        segments.extend(_offset(seg, start) for seg in found)  # decodes while iterating
    own = resource.getrusage(resource.RUSAGE_SELF)
    return WhisperRun(
        tuple(segments),
        language,
        name,
        cpu.rusage_seconds(own) + cpu.rusage_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)),
        _peak_rss_mb(own),
    )


def _peak_rss_mb(own: resource.struct_rusage) -> float:
    """This process's peak resident memory since it started its program. ``ru_maxrss`` would
    also count the parent's memory at fork time (Linux keeps it across exec), so the kernel's
    per-address-space high-water mark is read where it exists."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return own.ru_maxrss / 1024


def _detect(model: WhisperModel, job: WhisperJob) -> str:
    """The language of the first :data:`DETECT_S` seconds of speech."""
    import numpy as np

    heard, total = [], 0.0
    for start, end in job.chunks:
        end = min(end, start + DETECT_S - total)
        heard.append(_read(job.wav_path, start, end))
        total += end - start
        if total >= DETECT_S - 1e-6:
            break
    language, _probability, _all = model.detect_language(np.concatenate(heard))
    return str(language)


def _read(wav_path: Path, start_s: float, end_s: float) -> np.ndarray:
    """Samples ``start_s``..``end_s`` of a 16 kHz mono s16 WAV as float32 in [-1, 1]."""
    import numpy as np

    with wave.open(str(wav_path), "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise MediaError(f"{wav_path}: ASR needs 16 kHz mono s16 WAV")
        first = max(0, int(start_s * SAMPLE_RATE))
        w.setpos(min(first, w.getnframes()))
        pcm = w.readframes(max(0, int(end_s * SAMPLE_RATE) - first))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def _offset(segment: Segment, offset_s: float) -> dict[str, Any]:
    def at(t: float) -> float:
        return round(float(t) + offset_s, 3)

    return {
        "start": at(segment.start),
        "end": at(segment.end),
        "text": segment.text,
        "words": [
            {
                "word": w.word,
                "start": at(w.start),
                "end": at(w.end),
                "probability": float(w.probability),
            }
            for w in segment.words or ()
        ],
    }


if __name__ == "__main__":  # the child: answer with the importable module's own records
    from media.transcript import whisper_asr

    whisper_asr._child_main()
