"""Speaker-diarization benchmark: DER per real conversation, speakers found, CPU (not a test).

Run: ``.venv/bin/python -m tests.benchmarks.diarization [--media DIR] [--long MINUTES]`` (DIR
defaults to $CLIPFLOW_REAL_MEDIA). For every ``speech/conversation/*.rttm`` it diarizes the WAV
beside it (:func:`media.transcript.diarization.diarize`, defaults) and prints DER without a
collar and with a 0.25 s collar (missed, false alarm and confusion seconds with no collar),
speakers found against the reference, and CPU seconds per audio second (decode excluded).

Labelled checks beyond the three RTTMs (:func:`concatenated`): two recordings of different
people joined with a 0.3 s pause (each at most 20 s) are a 2-speaker file with a known turn;
the reference is each part's WebRTC VAD speech labelled by part. The Azure enrollment pair
(Katie, Steve) is the honest one (same microphone, same session); the others pair single-speaker
files of different people (they also differ in channel, so they are easier). The three mfa__
files are one person: joined, they should stay one speaker. Then the speakers found on the
multi-speaker files without an RTTM (film dialogue: several speakers, with music), on each
single-speaker file, and with ``--long`` on that many minutes of one speaker looped.

Measured December 2026 on the 2-core machine (ΔBIC merge on c1..c12, λ = 2.55, clustering
stopped at 1.1; before it, with the fixed-scale centroid distance and 1.2: pyannote the same,
AMI dev00 48.5 % / 43.3 % with 1 of 2 speakers, dev01 the same, film dialogue 1 speaker in
7 of 7 files, picovoice 1 of 3, librosa__libri3 and mfa__cold_corpus3 split in 2,
mfa__acoustic+vosk joined 1):

    file               DER     DER@.25  miss  FA   conf  spk/ref  CPU/s
    pyannote__sample   17.3 %   3.8 %    2.1  0.6   1.5   2/2     ~0.004
    ami_debug__dev00   44.8 %  39.8 %    7.5  0.5   4.7   2/2     ~0.002
    ami_debug__dev01   57.2 %  57.8 %    3.1  2.5   4.1   2/2     ~0.002
    katie+steve         1.0 %   0.1 %                      2/2
    other joined pairs: 2 speakers in 7 of 7 (jfk+musetalk 33.6 %, mfa+vosk 32.4 % @.25)
    film dialogue: 2 speakers in 6 of 7 (45s: 1); picovoice 3 (of 3)
    single-speaker files: 12 of 12 one speaker; musetalk__eng looped to 10 min: 1;
    mfa__ joined: 2 (one person in three recording sessions, split)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from media.transcript.der import diarization_error, read_rttm
from media.transcript.diarization import diarize
from media.transcript.records import SpeakerSegment
from media.transcript.speaker_features import RATE, Floats, read_samples
from media.transcript.vad import pcm_speech_regions

AUDIO = ("wav", "flac", "ogg", "mp3")
# Recordings of different people, joined into 2-speaker checks (the first is one session).
PAIRS = (
    ("azure__enrollment_katie.wav", "azure__enrollment_steve.wav"),
    ("librosa__libri1_5703-47212-0000.ogg", "librosa__libri2_3436-172162-0000.ogg"),
    ("librosa__libri3_198-209-0000.ogg", "dlib__librispeech_116-288045-0000.flac"),
    ("whisper__jfk.flac", "musetalk__eng.wav"),
    ("autoeditor__example-cut-s16le.wav", "mfa__cold_corpus.wav"),
    ("gentle__lucier.mp3", "librosa__libri3_198-209-0000.ogg"),
    ("librosa__libri2_3436-172162-0000.ogg", "whisper__jfk.flac"),
    ("mfa__acoustic_corpus.wav", "vosk__test_digits.wav"),
)
ONE_PERSON = ("mfa__acoustic_corpus.wav", "mfa__cold_corpus.wav", "mfa__cold_corpus3.wav")


def speech_file(media: Path, name: str) -> Path:
    """A file of the real-media speech folders by name (azure__ files are conversations)."""
    return (
        media
        / "speech"
        / ("conversation" if name.startswith("azure__") else "single_speaker")
        / name
    )


def concatenated(
    parts: list[Floats], *, max_s: float = 20.0, gap_s: float = 0.3
) -> tuple[Floats, tuple[SpeakerSegment, ...]]:
    """``parts`` (16 kHz mono, each cut to ``max_s``) joined with ``gap_s`` of silence, and the
    reference: each part's WebRTC VAD speech (aggressiveness 2) labelled "P0", "P1", …"""
    pieces: list[Floats] = []
    reference: list[SpeakerSegment] = []
    t = 0.0
    for i, part in enumerate(parts):
        x = part[: int(max_s * RATE)]
        pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        for a, b in pcm_speech_regions(pcm, RATE, aggressiveness=2):
            reference.append(SpeakerSegment(round(t + a, 3), round(t + b, 3), f"P{i}"))
        pieces += [x, np.zeros(int(gap_s * RATE), dtype=np.float32)]
        t += len(x) / RATE + gap_s
    return np.concatenate(pieces).astype(np.float32), tuple(reference)


def joined_checks(media: Path) -> None:
    print("\njoined recordings of different people (expected 2 speakers)")
    for pair in PAIRS:
        samples, reference = concatenated([read_samples(speech_file(media, p)) for p in pair])
        hyp = diarize(samples)
        plain = diarization_error(reference, hyp)
        collar = diarization_error(reference, hyp, collar_s=0.25)
        name = "+".join(Path(p).stem[:20] for p in pair)
        found = len({s.speaker for s in hyp})
        print(f"  {name:42} {plain.der:6.1%} {collar.der:7.1%}  {found}", flush=True)
    samples, _ = concatenated([read_samples(speech_file(media, p)) for p in ONE_PERSON])
    found = len({s.speaker for s in diarize(samples)})
    print(f"  the three mfa__ files (one person) joined: {found} speaker(s) (expected 1)")


def unscored(media: Path) -> None:
    print("\nmulti-speaker files without an RTTM: speakers found (expected more than 1)")
    for wav in sorted((media / "speech" / "conversation").glob("*.wav")):
        if wav.with_suffix(".rttm").exists() or "enrollment" in wav.name:
            continue
        found = len({s.speaker for s in diarize(wav)})
        print(f"  {wav.stem[:48]:48} {found}", flush=True)


def conversations(media: Path) -> None:
    print(f"{'file':22} {'DER':>6} {'DER@.25':>8} {'miss':>5} {'FA':>5} {'conf':>5} "
          f"{'spk/ref':>8} {'CPU/s':>7}")  # fmt: skip
    for rttm in sorted((media / "speech" / "conversation").glob("*.rttm")):
        wav = rttm.with_suffix(".wav")
        refs = read_rttm(rttm)
        if not wav.exists() or len(refs) != 1:
            continue
        (reference,) = refs.values()
        samples = read_samples(wav)
        t = time.process_time()
        hyp = diarize(samples)
        cpu = (time.process_time() - t) / (len(samples) / RATE)
        plain = diarization_error(reference, hyp)
        collar = diarization_error(reference, hyp, collar_s=0.25)
        found = len({s.speaker for s in hyp})
        ref_n = len({s.speaker for s in reference})
        print(f"{rttm.stem:22} {plain.der:6.1%} {collar.der:8.1%} {plain.missed_s:5.1f} "
              f"{plain.false_alarm_s:5.1f} {plain.confusion_s:5.1f} {f'{found}/{ref_n}':>8} "
              f"{cpu:7.4f}", flush=True)  # fmt: skip


def single_speakers(media: Path, long_min: float) -> None:
    print("\nsingle-speaker files: speakers found (expected 1)")
    for path in sorted((media / "speech" / "single_speaker").iterdir()):
        if path.suffix.lstrip(".") in AUDIO:
            found = len({s.speaker for s in diarize(path)})
            print(f"  {path.name:48} {found}", flush=True)
    if long_min > 0:
        one = read_samples(media / "speech" / "single_speaker" / "musetalk__eng.wav")
        looped = np.tile(one, int(np.ceil(long_min * 60 * RATE / len(one))))[
            : int(long_min * 60 * RATE)
        ]
        t = time.process_time()
        found = len({s.speaker for s in diarize(looped)})
        cpu = (time.process_time() - t) / (len(looped) / RATE)
        print(f"  musetalk__eng looped to {long_min:g} min: {found} speaker(s), {cpu:.4f} CPU/s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=Path, default=os.environ.get("CLIPFLOW_REAL_MEDIA"))
    parser.add_argument("--long", type=float, default=0.0, help="minutes of one voice looped")
    args = parser.parse_args(argv)
    if args.media is None:
        parser.error("real media needed: pass --media or set CLIPFLOW_REAL_MEDIA")
    conversations(args.media)
    joined_checks(args.media)
    unscored(args.media)
    single_speakers(args.media, args.long)


if __name__ == "__main__":
    main()
