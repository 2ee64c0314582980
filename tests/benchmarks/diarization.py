"""Speaker-diarization benchmark: DER per real conversation, speakers found, CPU (not a test).

Run: ``.venv/bin/python -m tests.benchmarks.diarization [--media DIR] [--long MINUTES]`` (DIR
defaults to $CLIPFLOW_REAL_MEDIA). For every ``speech/conversation/*.rttm`` it diarizes the WAV
beside it (:func:`media.transcript.diarization.diarize`, defaults) and prints DER without a
collar and with a 0.25 s collar (missed, false alarm and confusion seconds with no collar),
speakers found against the reference, and CPU seconds per audio second (decode excluded). It
then lists the speakers found on each single-speaker file, and with ``--long`` on that many
minutes of one speaker looped (the over-splitting check).

Measured December 2026 on the 2-core machine (numbers in the branch's closing note):

    file               DER     DER@.25  miss  FA   conf  spk/ref  CPU/s
    pyannote__sample   17.3 %   3.8 %    2.1  0.6   1.5   2/2     ~0.005
    ami_debug__dev00   48.5 %  43.3 %    7.5  0.5   5.8   1/2     ~0.001
    ami_debug__dev01   57.2 %  57.8 %    3.1  2.5   4.1   2/2     ~0.001
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from media.transcript.der import diarization_error, read_rttm
from media.transcript.diarization import diarize
from media.transcript.speaker_features import RATE, read_samples

AUDIO = ("wav", "flac", "ogg")


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
    single_speakers(args.media, args.long)


if __name__ == "__main__":
    main()
