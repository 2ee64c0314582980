"""The sample's speech: every line of the script synthesised by espeak-ng in its speaker's voice
(cached on disk, silence trimmed), and the mono mix that puts each sentence at its cue's exact
sample, so the WebVTT sidecar's times are the audio's."""

from __future__ import annotations

import hashlib
import os
import subprocess
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media.errors import MediaError
from media.sample.script import GUEST, HOST, SPEECH_RATE, ScriptTurn, all_lines

SILENCE = 200  # |sample| at or below this (about -44 dBFS) is trimmed from each sentence's ends
VOICES = {
    HOST: ("-v", "en-us+f3", "-p", "62", "-s", "160"),
    GUEST: ("-v", "en-us+m3", "-p", "36", "-s", "148"),
}
# 16-bit mono samples at SPEECH_RATE.
Pcm = npt.NDArray[np.int16]


def espeak_argv(speaker: str, wav: Path) -> list[str]:
    """espeak-ng command that reads UTF-8 text from stdin into ``wav`` in ``speaker``'s voice."""
    return ["espeak-ng", *VOICES[speaker], "-z", "-b", "1", "-w", str(wav), "--stdin"]


class Speech:
    """Every line of the script, synthesised (two at a time) or read from the on-disk cache,
    keyed on voice and text, with leading and trailing silence trimmed."""

    def __init__(self, cache: Path) -> None:
        cache.mkdir(parents=True, exist_ok=True)
        self.cache = cache
        keys = sorted(all_lines())
        with ThreadPoolExecutor(max_workers=2) as pool:
            self.clips = dict(zip(keys, pool.map(lambda k: self._load(*k), keys), strict=True))

    def clip(self, speaker: str, text: str) -> Pcm:
        return self.clips[speaker, text]

    def _load(self, speaker: str, text: str) -> Pcm:
        digest = hashlib.sha256("\0".join([*VOICES[speaker], text]).encode()).hexdigest()
        wav = self.cache / f"{digest[:24]}.wav"
        if not wav.exists():
            part = wav.with_name(f"{wav.name}.{os.getpid()}.part")
            argv = espeak_argv(speaker, part)
            done = subprocess.run(argv, input=text.encode(), capture_output=True, check=False)
            if done.returncode != 0 or not part.exists():
                stderr = done.stderr.decode("utf-8", "replace").strip()
                raise MediaError(f"espeak-ng exited with {done.returncode} on {text!r}: {stderr}")
            os.replace(part, wav)
        with wave.open(str(wav), "rb") as w:
            found = (w.getframerate(), w.getnchannels(), w.getsampwidth())
            if found != (SPEECH_RATE, 1, 2):
                raise MediaError(f"{wav}: espeak-ng wrote (rate, channels, bytes) {found}, "
                                 f"expected ({SPEECH_RATE}, 1, 2)")  # fmt: skip
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > SILENCE)
        if loud.size == 0:
            raise MediaError(f"{wav}: espeak-ng produced only silence for {text!r}")
        return pcm[loud[0] : loud[-1] + 1]


def write_mix(
    path: Path, turns: Iterable[ScriptTurn], clip: Callable[[str, str], Pcm], n_samples: int
) -> None:
    """Stream the mono 16-bit mix to a WAV: silence, then each sentence at its cue's sample."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE)
        pos = 0
        for cue in (cue for turn in turns for cue in turn.sentences):
            start = round(cue.start_s * SPEECH_RATE)
            pcm = clip(cue.speaker, cue.text)
            w.writeframes(bytes(2 * (start - pos)) + pcm.tobytes())
            pos = start + len(pcm)
        w.writeframes(bytes(2 * max(0, n_samples - pos)))
