"""ASR benchmark: word error rate and CPU per audio second, per real speech file and engine.

    CLIPFLOW_REAL_MEDIA=<real-media folder> .venv/bin/python -m tests.benchmarks.asr [ENGINE ...]

ENGINE: faster-whisper (the default engine, the packaged models; the default) and/or
pocketsphinx (the fallback); ``--human``: only the files with human references. For every
speech file with a reference transcript it prints the word errors against the reference
(normalised: see media/transcript/wer.py), the CPU seconds per audio second (this process and
its children: model loading, language detection and the recogniser's process included), and
pooled figures. References marked "model" were written by another ASR model, not a person:
their WER measures agreement, not accuracy.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import wave
from pathlib import Path

from media.transcript.asr import transcribe
from media.transcript.wer import word_errors
from tests.real_speech import WITH_REFERENCE, reference


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str]) -> int:
    media = Path(os.environ.get("CLIPFLOW_REAL_MEDIA", ""))
    if not (media / "MANIFEST.md").is_file():
        print("set CLIPFLOW_REAL_MEDIA to the real-media folder (one with MANIFEST.md)")
        return 2
    human_only = "--human" in argv
    engines = [a for a in argv if a != "--human"] or ["faster-whisper"]
    cases = [c for c in WITH_REFERENCE if c.human or not human_only]
    print(f"{os.cpu_count()} cores; WER = errors/words after normalising; CPU per audio second")
    for engine in engines:
        print(f"\n{engine}\n{'file':<16}{'ref':<7}{'errors':>12}{'WER':>7}{'CPU/s':>8}  model")
        human = [0, 0]
        cpu_total = audio_total = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for case in cases:
                wav = case.wav(media, Path(tmp) / f"{case.id}.wav")
                with wave.open(str(wav), "rb") as w:
                    seconds = w.getnframes() / w.getframerate()
                before, wall = _cpu(), time.monotonic()
                got = transcribe(wav, engine=engine)
                cpu = _cpu() - before
                errors, words = word_errors(
                    reference(case, media), " ".join(x.text for x in got.words)
                )
                if case.human:
                    human[0] += errors
                    human[1] += words
                cpu_total += cpu
                audio_total += seconds
                print(
                    f"{case.id:<16}{'human' if case.human else 'model':<7}"
                    f"{f'{errors}/{words}':>12}{errors / words:>7.2f}{cpu / seconds:>8.3f}  "
                    f"{got.model} {got.language} ({time.monotonic() - wall:.1f} s wall)"
                )
        print(
            f"pooled over human references: {human[0]}/{human[1]} = {human[0] / human[1]:.2f}; "
            f"CPU {cpu_total:.1f} s for {audio_total:.0f} s of audio = "
            f"{cpu_total / audio_total:.3f} per audio second"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
