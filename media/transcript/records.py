"""The transcript model: words with times and speakers, sentences, speaker turns.

Every reader (:mod:`media.transcript.cues`, :mod:`media.transcript.whisper_json`, ASR) builds
these records; sentences are grouped from words here, once."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

# How word times are known: measured per word (ASR, word-level JSON), or estimated in cues.
Timing = Literal["word", "cue"]
MIN_WORD_S = 0.01  # shortest word kept when times must be repaired (one ASR frame)


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start_s: float
    end_s: float
    speaker: str = ""
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: a run of words by one speaker ending in terminal punctuation."""

    index: int
    start_s: float
    end_s: float
    speaker: str
    text: str
    first_word: int  # index into Transcript.words
    last_word: int  # inclusive


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """One speaker turn: a run of consecutive sentences by one speaker."""

    index: int
    start_s: float
    end_s: float
    speaker: str
    first_sentence: int  # index into Transcript.sentences
    last_sentence: int  # inclusive


@dataclass(frozen=True, slots=True)
class SpeakerSegment:
    """Who speaks when, without words: a diarization or an RTTM reference line."""

    start_s: float
    end_s: float
    speaker: str


@dataclass(frozen=True, slots=True)
class Transcript:
    words: tuple[Word, ...]
    sentences: tuple[Sentence, ...]
    source: str  # "vtt", "srt", "json:whisper", "asr:pocketsphinx", ...
    timing: Timing = "word"
    # Word index ranges (inclusive) whose times were estimated inside one cue or segment.
    cue_spans: tuple[tuple[int, int], ...] = ()
    language: str = ""  # ISO 639-1 code when known ("en"); recognised or detected by ASR
    model: str = ""  # the recogniser's model, for ASR transcripts ("whisper-tiny.en")

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w.speaker for w in self.words if w.speaker))

    @property
    def end_s(self) -> float:
        return self.words[-1].end_s if self.words else 0.0

    @property
    def turns(self) -> tuple[SpeakerTurn, ...]:
        out: list[SpeakerTurn] = []
        for s in self.sentences:
            if out and out[-1].speaker == s.speaker:
                out[-1] = replace(out[-1], end_s=s.end_s, last_sentence=s.index)
            else:
                out.append(SpeakerTurn(len(out), s.start_s, s.end_s, s.speaker, s.index, s.index))
        return tuple(out)


_TERMINAL = re.compile(r"[.!?…。！？]+[\"')\]”’」』]*$")


def ends_sentence(text: str) -> bool:
    """Whether ``text`` (a word) ends in terminal punctuation: a punctuated sentence's end."""
    return bool(_TERMINAL.search(text))


def ordered_words(words: Iterable[Word]) -> list[Word]:
    """Repair measured word times, keeping the words' order: never overlapping, each at least
    MIN_WORD_S long.

    ASR output can repeat a time (zero-length words) or let a segment's first word start
    before the previous segment's last word ends; such words are trimmed or nudged forward.
    """
    src = list(words)
    out: list[Word] = []
    for i, w in enumerate(src):
        start = max(w.start_s, out[-1].end_s) if out else w.start_s
        nxt = src[i + 1].start_s if i + 1 < len(src) else math.inf
        # Trim at the next word's start, unless that word is out of place (it moves instead).
        end = min(w.end_s, nxt) if nxt >= start + MIN_WORD_S else w.end_s
        end = max(end, start + MIN_WORD_S)
        if (start, end) != (w.start_s, w.end_s):
            w = replace(w, start_s=round(start, 3), end_s=round(end, 3))
        out.append(w)
    return out


def sentences_from_words(words: list[Word]) -> list[Sentence]:
    """Group words into sentences: a sentence ends at terminal punctuation or a speaker change."""
    out: list[Sentence] = []
    first = 0
    for i, w in enumerate(words):
        last = i == len(words) - 1
        speaker_changes = not last and words[i + 1].speaker != w.speaker
        long_pause = not last and words[i + 1].start_s - w.end_s > 1.5
        if last or _TERMINAL.search(w.text) or speaker_changes or long_pause:
            span = words[first : i + 1]
            out.append(
                Sentence(
                    len(out),
                    span[0].start_s,
                    span[-1].end_s,
                    span[0].speaker,
                    " ".join(x.text for x in span),
                    first,
                    i,
                )
            )
            first = i + 1
    return out


def from_words(words: list[Word], *, source: str) -> Transcript:
    words = sorted(words, key=lambda w: w.start_s)
    return Transcript(tuple(words), tuple(sentences_from_words(words)), source)
