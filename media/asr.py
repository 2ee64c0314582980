"""Offline speech recognition: pocketsphinx (its English model ships in the wheel).

Audio is split at pauses by pocketsphinx's own VAD segmenter; utterances are decoded in a
process pool (one per core), so memory stays bounded to a batch of utterances and both cores work.
Each utterance becomes a sentence: pocketsphinx gives no punctuation.
"""

from __future__ import annotations

import os
import resource
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from media import cpu
from media.errors import InputError, MediaError
from media.transcript import Sentence, Transcript, Word

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


_DECODER = None


def _decoder():
    global _DECODER
    if _DECODER is None:
        from pocketsphinx import Decoder

        _DECODER = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    return _DECODER


def utterances(wav_path: Path, *, max_utt_s: float = 20.0):
    """Yield (start_s, pcm) for each speech stretch found by the VAD, split at ``max_utt_s``."""
    from pocketsphinx import Segmenter

    with wave.open(str(wav_path), "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise MediaError(f"{wav_path}: ASR needs 16 kHz mono s16 WAV")
        segmenter = Segmenter(sample_rate=SAMPLE_RATE, vad_mode=2, window=0.3, ratio=0.9)
        step = int(max_utt_s * SAMPLE_RATE) * 2
        for start_s, pcm in _speech_segments(segmenter, w.getfp()):
            for k in range(0, len(pcm), step):
                yield start_s + k / 2 / SAMPLE_RATE, pcm[k : k + step]


def _speech_segments(segmenter, stream):
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


def _bounded_map(pool, fn, items, window: int):
    """``pool.map`` that keeps at most ``window`` items in flight (bounded memory), in order."""
    from collections import deque

    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def transcribe(wav_path: str | Path, *, workers: int | None = None) -> Transcript:
    """Recognise speech in a 16 kHz mono WAV; words with times, one sentence per utterance."""
    wav_path = Path(wav_path)
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
