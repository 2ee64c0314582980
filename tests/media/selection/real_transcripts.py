"""Transcript records from the reference transcripts of real speech in $CLIPFLOW_REAL_MEDIA.

Read in place, never copied. Word times come from the reference where it has them: per word
(MFA TextGrid alignments), per utterance (pyannote STM: words spread inside each utterance).
Text-only references (the qwen-asr film transcripts, the Lucier text, the Picovoice turns) get
word times spread over the recording's duration (manifest.json) in proportion to each word's
length, with a pause after each sentence: plausible, not measured, enough for selection, whose
choices depend on sentence order and rough durations, not on exact times.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from media.transcript.records import Transcript, Word, from_words

CONVERSATION = "speech/conversation"
SINGLE = "speech/single_speaker"
_END = re.compile(r"[.?!…][\"')\]]*$")


@dataclass(frozen=True, slots=True)
class RealText:
    """One reference transcript: its id, how its word times were obtained, the transcript."""

    id: str
    timing: str  # "word" (aligned), "utterance" (spread in each), "spread" (over the file)
    transcript: Transcript


def _duration(root: Path, rel: str) -> float:
    entries = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return float(next(e["duration"] for e in entries if e["dest"] == rel))


def spread(lines: list[tuple[str, str]], start_s: float, end_s: float) -> list[Word]:
    """(speaker, text) lines laid over [start_s, end_s]: each word's share in proportion to its
    letters plus two, six more after a sentence's last word and at a change of line."""
    tokens: list[tuple[str, str, float]] = []
    for speaker, text in lines:
        words = text.split()
        for k, token in enumerate(words):
            pause = 6.0 if _END.search(token) or k == len(words) - 1 else 0.0
            tokens.append((speaker, token, pause))
    units = sum(len(t) + 2 + p for _, t, p in tokens)
    scale = (end_s - start_s) / units if units else 0.0
    out, t = [], start_s
    for speaker, token, pause in tokens:
        length = (len(token) + 2) * scale
        out.append(Word(token, round(t, 3), round(t + length * 0.9, 3), speaker))
        t += length + pause * scale
    return out


def stm(root: Path, rel: str) -> RealText:
    """A speaker-attributed STM (pyannote's sample): words spread inside each utterance."""
    words: list[Word] = []
    for line in (root / rel).read_text(encoding="utf-8").splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6:
            _, _, speaker, start, end, text = parts
            words += spread([(speaker, text)], float(start), float(end))
    return RealText(Path(rel).stem, "utterance", from_words(words, source="stm"))


def textgrid(root: Path, rel: str) -> RealText:
    """An MFA alignment (Praat short TextGrid): the "words" tier's non-empty intervals."""
    lines = [x.strip() for x in (root / rel).read_text(encoding="utf-8").splitlines()]
    at = lines.index('"words"') + 4  # name, xmin, xmax, count
    words = []
    while at + 2 < len(lines) and not lines[at].startswith('"'):
        start, end, text = float(lines[at]), float(lines[at + 1]), lines[at + 2].strip('"')
        if text:
            words.append(Word(text, start, end))
        at += 3
    return RealText(Path(rel).stem, "word", from_words(words, source="textgrid"))


def plain(root: Path, rel: str, audio: str, *, speakers: bool = False) -> RealText:
    """A text-only reference, one passage (or "S1: words" turns) over the audio's duration."""
    text = (root / rel).read_text(encoding="utf-8")
    if speakers:
        lines = [tuple(x.split(":", 1)) for x in text.splitlines() if ":" in x]
        turns = [(who.strip(), said.strip()) for who, said in lines]
    else:
        turns = [("", " ".join(text.split()))]
    words = spread(turns, 0.3, _duration(root, audio) - 0.3)
    return RealText(Path(rel).stem, "spread", from_words(words, source="reference"))


def load_all(root: Path) -> list[RealText]:
    """Every reference transcript of real speech in the folder that selection can use (the
    AMI excerpts have speaker times only, no words: they are left out)."""
    c, s = CONVERSATION, SINGLE
    films = sorted(p.name for p in (root / c).glob("qwenasr__notld_*.txt"))
    return [
        stm(root, f"{c}/pyannote__sample.stm"),
        plain(
            root,
            f"{c}/picovoice__diarization_test.txt",
            f"{c}/picovoice__diarization_test.wav",
            speakers=True,
        ),
        *(plain(root, f"{c}/{name}", f"{c}/{name[:-4]}.wav") for name in films),
        plain(root, f"{s}/gentle__lucier.txt", f"{s}/gentle__lucier.mp3"),
        *(
            textgrid(root, f"{s}/mfa__{n}.TextGrid")
            for n in ("acoustic_corpus", "cold_corpus", "cold_corpus3")
        ),
    ]
