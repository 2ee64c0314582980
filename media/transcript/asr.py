"""Offline speech recognition behind one call, :func:`transcribe`.

pocketsphinx is the default (its English model ships in the wheel). Audio is split at pauses
by pocketsphinx's own VAD segmenter; utterances are decoded in a process pool (one per core),
so memory stays bounded to a batch of utterances and both cores work. Each utterance becomes a
sentence: pocketsphinx gives no punctuation.

faster-whisper (the optional ``whisper`` extra) runs when chosen and given a local CTranslate2
model directory; it is never pointed at a model hub, so nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import wave
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, TypeVar

from media import cpu
from media.errors import InputError, MediaError
from media.transcript.records import Sentence, Transcript, Word
from media.transcript.whisper_json import from_segments

if TYPE_CHECKING:  # neither ships type information: these name what is passed around
    from faster_whisper.transcribe import Segment
    from pocketsphinx import Decoder, Segmenter

Engine = Literal["pocketsphinx", "faster-whisper"]
ENGINES = ("auto", "pocketsphinx", "faster-whisper")
# faster-whisper falls back to fetching a tokenizer from the hub when tokenizer.json is missing.
WHISPER_MODEL_FILES = ("config.json", "model.bin", "tokenizer.json")
WHISPER_INSTALL = "pip install 'clipflow[whisper]' (or uv sync --extra whisper)"

SAMPLE_RATE = 16_000
_FRAME_S = 0.01  # pocketsphinx reports word times in 10 ms frames
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[LAUGH]", "[BREATH]"}


def _decode_utterance(job: tuple[float, bytes]) -> list[tuple[str, float, float, float]]:
    offset, pcm = job
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    out = []
    for seg in decoder.seg():
        word = seg.word.split("(")[0]
        if word in _FILLERS or word.startswith("++"):
            continue
        # pocketsphinx 5 gives the posterior as a probability already (not a log value).
        out.append(
            (
                word,
                offset + seg.start_frame * _FRAME_S,
                offset + (seg.end_frame + 1) * _FRAME_S,
                float(min(1.0, max(0.0, seg.prob))),
            )
        )
    return out


_DECODER: Decoder | None = None


def _decoder() -> Decoder:
    global _DECODER
    if _DECODER is None:
        from pocketsphinx import Decoder

        # ds=2 scores the acoustic model on every other 10 ms frame: 25 % less CPU for the same
        # word errors on the shared real speech (32/140 words wrong either way, one word apart
        # on pyannote's sample); word times stay in 10 ms frames.
        _DECODER = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", ds=2)
    return _DECODER


def utterances(wav_path: Path, *, max_utt_s: float = 20.0) -> Iterator[tuple[float, bytes]]:
    """Yield (start_s, pcm) for each speech stretch found by the VAD, split at ``max_utt_s``."""
    from pocketsphinx import Segmenter

    with wave.open(str(wav_path), "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise MediaError(f"{wav_path}: ASR needs 16 kHz mono s16 WAV")
        segmenter = Segmenter(sample_rate=SAMPLE_RATE, vad_mode=2, window=0.3, ratio=0.9)
        step = int(max_utt_s * SAMPLE_RATE) * 2
        stream = w.getfp()
        assert stream is not None  # open for reading
        for start_s, pcm in _speech_segments(segmenter, stream):
            for k in range(0, len(pcm), step):
                yield start_s + k / 2 / SAMPLE_RATE, pcm[k : k + step]


def _speech_segments(segmenter: Segmenter, stream: IO[bytes]) -> Iterator[tuple[float, bytes]]:
    """Like ``Segmenter.segment`` but always closes the stream: pocketsphinx's own loop ends on
    an empty read without ``end_stream``, dropping speech that runs to the end of a file whose
    length is a multiple of the 30 ms frame."""
    frames: list[bytes] = []
    while True:
        frame = stream.read(segmenter.frame_bytes)
        last = len(frame) < segmenter.frame_bytes
        speech = segmenter.end_stream(frame or b"\0\0") if last else segmenter.process(frame)
        if speech is not None:
            frames.append(speech)
            if not segmenter.in_speech:
                yield segmenter.speech_start, b"".join(frames)
                frames.clear()
        if last:
            if frames:  # speech still open at the end of the stream
                yield segmenter.speech_start, b"".join(frames)
            return


_T = TypeVar("_T")
_R = TypeVar("_R")


def _bounded_map(
    pool: Executor, fn: Callable[[_T], _R], items: Iterable[_T], window: int
) -> Iterator[_R]:
    """``pool.map`` that keeps at most ``window`` items in flight (bounded memory), in order."""
    pending: deque[Future[_R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def whisper_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def choose_engine(engine: str, whisper_model: str | Path | None, *, installed: bool) -> Engine:
    """The recogniser to run: auto picks faster-whisper when it is installed and has a model."""
    if engine not in ENGINES:
        raise InputError(f"ASR engine {engine!r} (expected one of {', '.join(ENGINES)})")
    if engine == "pocketsphinx" or (engine == "auto" and not (installed and whisper_model)):
        return "pocketsphinx"
    if not installed:
        raise MediaError(f"ASR engine faster-whisper is not installed: {WHISPER_INSTALL}")
    check_whisper_model(whisper_model)
    return "faster-whisper"


def check_whisper_model(whisper_model: str | Path | None) -> Path:
    """The model must be a local CTranslate2 directory: names of hub models are refused."""
    if not whisper_model:
        raise InputError("faster-whisper needs whisper_model: a local CTranslate2 model directory")
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


def whisper_options(device: str, compute_type: str, *, cuda_devices: int) -> tuple[str, str]:
    """(device, compute_type): auto = CUDA when a GPU is visible; float16 on CUDA, int8 on CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"whisper device {device!r} (expected auto, cpu or cuda)")
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def from_whisper_segments(segments: Iterable[Segment], *, name: str) -> Transcript:
    """Words of faster-whisper ``Segment``s (each with ``words``), as a transcript."""
    segments = list(segments)
    if not any((s.words or s.text.strip()) for s in segments):
        raise InputError(f"{name}: no speech recognised (silent or non-speech audio)")
    return from_segments(segments, source="asr:faster-whisper", name=name)


def _transcribe_whisper(
    wav_path: Path, model_dir: Path, device: str, compute_type: str, workers: int | None
) -> Transcript:
    import ctranslate2
    from faster_whisper import WhisperModel

    device, compute_type = whisper_options(
        device, compute_type, cuda_devices=ctranslate2.get_cuda_device_count()
    )
    model = WhisperModel(
        str(model_dir),
        device=device,
        compute_type=compute_type,
        cpu_threads=workers or 0,
        local_files_only=True,
    )
    segments, _info = model.transcribe(str(wav_path), word_timestamps=True, vad_filter=True)
    return from_whisper_segments(segments, name=str(wav_path))  # decoding runs while iterating


def transcribe(
    wav_path: str | Path,
    *,
    engine: str = "auto",
    whisper_model: str | Path | None = None,
    device: str = "auto",
    compute_type: str = "auto",
    workers: int | None = None,
) -> Transcript:
    """Recognise speech in a 16 kHz mono WAV with the chosen engine; words with times.

    ``engine``: auto (faster-whisper when installed and ``whisper_model`` is set, else
    pocketsphinx), pocketsphinx or faster-whisper. ``whisper_model`` is a local CTranslate2
    model directory. ``workers``: decoder processes for pocketsphinx (default: up to 2), CPU
    threads for faster-whisper (default: its own choice).
    """
    wav_path = Path(wav_path)
    if choose_engine(engine, whisper_model, installed=whisper_installed()) == "faster-whisper":
        model_dir = check_whisper_model(whisper_model)
        return _transcribe_whisper(wav_path, model_dir, device, compute_type, workers)
    return transcribe_pocketsphinx(wav_path, workers=workers)


def transcribe_pocketsphinx(wav_path: Path, *, workers: int | None = None) -> Transcript:
    """pocketsphinx over VAD-split utterances; one sentence per utterance."""
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    words: list[Word] = []
    sentences: list[Sentence] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for utt in _bounded_map(pool, _decode_utterance, utterances(wav_path), 4 * workers):
            if not utt:
                continue
            first = len(words)
            words.extend(Word(w, round(s, 3), round(e, 3), "", p) for w, s, e, p in utt)
            span = words[first:]
            sentences.append(
                Sentence(
                    len(sentences),
                    span[0].start_s,
                    span[-1].end_s,
                    "",
                    " ".join(w.text for w in span),
                    first,
                    len(words) - 1,
                )
            )
    # The decoder processes are reaped by now: charge their CPU to this thread's stage.
    cpu.add_child_seconds(
        cpu.rusage_seconds(resource.getrusage(resource.RUSAGE_CHILDREN))
        - cpu.rusage_seconds(before)
    )
    if not words:
        raise InputError(f"{wav_path}: no speech recognised (silent or non-speech audio)")
    return Transcript(tuple(words), tuple(sentences), "asr:pocketsphinx")
