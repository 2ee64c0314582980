"""Transcript model and sidecar readers (WebVTT incl. Zoom's ``Name: text`` cues, SRT).

Readers are pure: text in, :class:`Transcript` out. When only cue times are known, word times
are estimated inside each cue in proportion to the words' character counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from media.errors import InputError


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
class Transcript:
    words: tuple[Word, ...]
    sentences: tuple[Sentence, ...]
    source: str  # "vtt", "srt", "asr:pocketsphinx", ...

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w.speaker for w in self.words if w.speaker))

    @property
    def end_s(self) -> float:
        return self.words[-1].end_s if self.words else 0.0


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str
    speaker: str = ""


_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$")
_ARROW = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)(.*)$")
_SPEAKER = re.compile(r"^\s*([^:<>\n]{1,60}?):\s+(.+)$", re.S)
_VOICE_TAG = re.compile(r"^<v(?:\.[\w.-]+)?\s+([^>]+)>(.*)$", re.S)
_TAGS = re.compile(r"<[^>]*>")
_TERMINAL = re.compile(r"[.!?…]+[\"')\]]*$")


def parse_timestamp(text: str, *, where: str) -> float:
    m = _TIME.match(text.strip())
    if not m:
        raise InputError(f"{where}: bad timestamp {text!r} (expected HH:MM:SS.mmm)")
    hours, minutes, seconds, millis = m.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise InputError(f"{where}: bad timestamp {text!r} (minutes/seconds over 59)")
    fraction = int(millis.ljust(3, "0")) / 1000
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + fraction


def _split_speaker(text: str) -> tuple[str, str]:
    voice = _VOICE_TAG.match(text)
    if voice:
        return voice.group(1).strip(), _TAGS.sub("", voice.group(2)).strip()
    clean = _TAGS.sub("", text).strip()
    m = _SPEAKER.match(clean)
    if m and not m.group(1).strip().isdigit():
        return m.group(1).strip(), m.group(2).strip()
    return "", clean


def _decode(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: transcript is not UTF-8 text (byte {exc.start})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _blocks(text: str) -> list[list[str]]:
    return [b.split("\n") for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]


def parse_cues(text: str, *, name: str) -> list[Cue]:
    """Parse WebVTT or SRT cue blocks (the arrow line finds the timing; ids and notes skipped)."""
    cues: list[Cue] = []
    last_speaker = ""
    for block in _blocks(text):
        head = block[0].strip()
        if head.startswith(("WEBVTT", "NOTE", "STYLE", "REGION")):
            continue
        at = next((i for i, line in enumerate(block) if "-->" in line), None)
        if at is None:
            raise InputError(f"{name}: cue without timing line: {head[:60]!r}")
        m = _ARROW.match(block[at])
        if not m:
            raise InputError(f"{name}: bad cue timing line {block[at]!r}")
        where = f"{name} cue {len(cues) + 1}"
        start = parse_timestamp(m.group(1), where=where)
        end = parse_timestamp(m.group(2), where=where)
        if end <= start:
            raise InputError(f"{where}: ends at {end:.3f} s, not after its start {start:.3f} s")
        body = " ".join(line.strip() for line in block[at + 1 :] if line.strip())
        speaker, words = _split_speaker(body)
        if not words:
            continue
        speaker = speaker or last_speaker
        last_speaker = speaker
        cues.append(Cue(start, end, words, speaker))
    if not cues:
        raise InputError(f"{name}: no timed cues found (a transcript needs cue times)")
    return cues


def estimate_words(cue: Cue) -> list[Word]:
    """Spread a cue's words over its span in proportion to their lengths (+1 for the gap)."""
    tokens = cue.text.split()
    weights = [len(t) + 1 for t in tokens]
    total = sum(weights)
    span = cue.end_s - cue.start_s
    words, t = [], cue.start_s
    for tok, w in zip(tokens, weights, strict=True):
        dur = span * w / total
        # The trailing gap share is silence between words, not part of the word.
        words.append(Word(tok, round(t, 3), round(t + dur * (len(tok) / w), 3), cue.speaker))
        t += dur
    return words


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


def from_cues(cues: list[Cue], *, source: str) -> Transcript:
    cues = sorted(cues, key=lambda c: c.start_s)
    words = [w for cue in cues for w in estimate_words(cue)]
    return Transcript(tuple(words), tuple(sentences_from_words(words)), source)


def from_words(words: list[Word], *, source: str) -> Transcript:
    words = sorted(words, key=lambda w: w.start_s)
    return Transcript(tuple(words), tuple(sentences_from_words(words)), source)


def read_transcript(
    path: str | Path, *, duration_s: float | None = None, label: str | None = None
) -> Transcript:
    """Read a WebVTT/SRT sidecar. Rejects non-text, untimed text, and cues past the media end."""
    path = Path(path)
    name = label or str(path)
    if not path.is_file():
        raise InputError(f"{name}: transcript not found")
    text = _decode(path.read_bytes(), name)
    if not text.strip():
        raise InputError(f"{name}: transcript is empty")
    is_vtt = text.lstrip().startswith("WEBVTT")
    if "-->" not in text:
        raise InputError(f"{name}: text without timings (expected WebVTT or SRT cues)")
    cues = parse_cues(text, name=name)
    if duration_s is not None:
        late = [c for c in cues if c.start_s >= duration_s]
        if late:
            raise InputError(
                f"{name}: {len(late)} cue(s) start after the recording ends "
                f"(first at {late[0].start_s:.3f} s, recording is {duration_s:.3f} s)"
            )
        cues = [Cue(c.start_s, min(c.end_s, duration_s), c.text, c.speaker) for c in cues]
    return from_cues(cues, source="vtt" if is_vtt else "srt")


def format_timestamp(seconds: float, *, srt: bool = False) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if srt else '.'}{ms:03d}"
