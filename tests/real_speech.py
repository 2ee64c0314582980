"""The real speech in $CLIPFLOW_REAL_MEDIA with what is known of it: reference words, speakers.

Shared by the real-speech test tier (tests/media/transcript/test_real_speech.py) and the ASR
benchmark (tests/benchmarks/asr.py). Files are read in place, never copied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from media import ffmpeg
from media.render.audio import extract_speech_wav_argv

CONVERSATION = "speech/conversation"
SINGLE = "speech/single_speaker"


@dataclass(frozen=True, slots=True)
class Speech:
    """One recording for ASR: its file, which channel, and how its reference is read."""

    id: str
    path: str  # relative to the real-media folder
    channel: int | None = None  # one channel of a stereo file; None: the downmix
    reference: str | None = None  # how to read the reference (see reference()); None: none
    human: bool = True  # False: the reference was written by another ASR model

    def wav(self, media: Path, out: Path) -> Path:
        """The recording as the pipeline hears it (16 kHz mono), or one channel of it."""
        if self.channel is None:
            argv = extract_speech_wav_argv(str(media / self.path), str(out))
        else:
            argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(media / self.path)) + [
                "-map", "0:a:0", "-vn", "-af", f"pan=mono|c0=c{self.channel}", "-ar", "16000",
                "-c:a", "pcm_s16le", str(out)]  # fmt: skip
        ffmpeg.run(argv, timeout_s=120)
        return out


def _notld(stem: str) -> Speech:
    return Speech(
        f"notld_{stem.split('_')[0]}",
        f"{CONVERSATION}/qwenasr__notld_{stem}.wav",
        reference=f"text:{CONVERSATION}/qwenasr__notld_{stem}.txt",
        human=False,
    )


SPEECH = [
    Speech("jfk", f"{SINGLE}/whisper__jfk.flac", reference=f"text:{SINGLE}/whisper__jfk.txt"),
    Speech("stereo_left", f"{CONVERSATION}/fasterwhisper__stereo_diarization.wav", 0, "stereo:L"),
    Speech("stereo_right", f"{CONVERSATION}/fasterwhisper__stereo_diarization.wav", 1, "stereo:R"),
    # The manifest's reading of the digit string.
    Speech(
        "digits",
        f"{SINGLE}/vosk__test_digits.wav",
        reference="words:one zero zero zero one, nine oh two one oh, zero one eight zero three",
    ),
    Speech("pyannote", f"{CONVERSATION}/pyannote__sample.wav", reference="stm"),
    Speech("picovoice", f"{CONVERSATION}/picovoice__diarization_test.wav", reference="turns"),
    Speech(
        "mfa_acoustic",
        f"{SINGLE}/mfa__acoustic_corpus.wav",
        reference=f"text:{SINGLE}/mfa__acoustic_corpus.lab",
    ),
    Speech(
        "mfa_cold",
        f"{SINGLE}/mfa__cold_corpus.wav",
        reference=f"text:{SINGLE}/mfa__cold_corpus.lab",
    ),
    Speech(
        "mfa_cold3",
        f"{SINGLE}/mfa__cold_corpus3.wav",
        reference=f"text:{SINGLE}/mfa__cold_corpus3.lab",
    ),
    Speech("lucier", f"{SINGLE}/gentle__lucier.mp3", reference=f"text:{SINGLE}/gentle__lucier.txt"),
    _notld("21s_hey_thats_us_were_doing_all_right"),
    _notld("30s_i_wont_open_this_door_again"),
    _notld("31s_hes_wrong_you_know"),
    _notld("45s_right_through_the_billboard"),
    _notld("60s_i_dont_want_anyones_life_on_my_hands"),
    _notld("89s_ill_come_back_down_as_soon_as"),
    _notld("119s_theres_supposed_to_be_another_broadcast"),
    # No reference: word times and coverage only.
    Speech("ami_dev00", f"{CONVERSATION}/ami_debug__dev00.wav"),
    Speech("ami_dev01", f"{CONVERSATION}/ami_debug__dev01.wav"),
    Speech("libri2", f"{SINGLE}/librosa__libri2_3436-172162-0000.ogg"),
    Speech("libri3", f"{SINGLE}/librosa__libri3_198-209-0000.ogg"),
    Speech("dlib_libri", f"{SINGLE}/dlib__librispeech_116-288045-0000.flac"),
]
BY_ID = {s.id: s for s in SPEECH}
WITH_REFERENCE = [s for s in SPEECH if s.reference]
# Files with a reference diarization (RTTM): who speaks when.
RTTM = {
    "pyannote": f"{CONVERSATION}/pyannote__sample.rttm",
    "ami_dev00": f"{CONVERSATION}/ami_debug__dev00.rttm",
    "ami_dev01": f"{CONVERSATION}/ami_debug__dev01.rttm",
}


def reference(case: Speech, media: Path) -> str:
    """The words spoken in ``case``, as its published reference gives them."""
    kind, _, arg = (case.reference or "").partition(":")
    if kind == "words":
        return arg
    if kind == "text":
        return (media / arg).read_text()
    if kind == "stm":
        stm = (media / f"{CONVERSATION}/pyannote__sample.stm").read_text().splitlines()
        turns = sorted((float(line.split()[3]), line.split(maxsplit=5)[5]) for line in stm)
        return " ".join(text for _, text in turns)
    if kind == "turns":  # "S1: words" per line
        text = (media / Path(case.path).with_suffix(".txt")).read_text()
        return " ".join(re.sub(r"^\s*S\d+:\s*", "", line) for line in text.splitlines())
    if kind == "stereo":
        lines = (media / f"{CONVERSATION}/fasterwhisper__stereo_diarization.txt").read_text()
        return next(line[2:] for line in lines.splitlines() if line.startswith(f"{arg}:"))
    raise ValueError(f"{case.id}: no reference")
