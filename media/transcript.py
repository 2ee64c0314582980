"""Transcript model and sidecar readers (WebVTT incl. Zoom's ``Name: text`` cues, SRT).

Readers are pure: text in, :class:`Transcript` out. When only cue times are known, word times
are estimated inside each cue in proportion to the words' character counts, and the transcript
says so (``timing == "cue"``) so the pipeline can refine them against the audio
(:func:`media.vad.refine_cue_times`). Word-level JSON (Whisper, faster-whisper, WhisperX,
clipflow's own) is read by :mod:`media.transcript_formats`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from media.errors import InputError

# How word times are known: measured per word (ASR, word-level JSON), or estimated in cues.
Timing = Literal["word", "cue"]
MIN_WORD_S = 0.01  # shortest word kept when times must be repaired (one ASR frame)
_TOUCH_S = 0.02  # cues this close count as adjacent (rolling captions abut exactly)


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
class Turn:
    """One speaker turn: a run of consecutive sentences by one speaker."""

    index: int
    start_s: float
    end_s: float
    speaker: str
    first_sentence: int  # index into Transcript.sentences
    last_sentence: int  # inclusive


@dataclass(frozen=True, slots=True)
class Transcript:
    words: tuple[Word, ...]
    sentences: tuple[Sentence, ...]
    source: str  # "vtt", "srt", "json:whisper", "asr:pocketsphinx", ...
    timing: Timing = "word"
    # Word index ranges (inclusive) whose times were estimated inside one cue or segment.
    cue_spans: tuple[tuple[int, int], ...] = ()

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w.speaker for w in self.words if w.speaker))

    @property
    def end_s(self) -> float:
        return self.words[-1].end_s if self.words else 0.0

    @property
    def turns(self) -> tuple[Turn, ...]:
        out: list[Turn] = []
        for s in self.sentences:
            if out and out[-1].speaker == s.speaker:
                out[-1] = replace(out[-1], end_s=s.end_s, last_sentence=s.index)
            else:
                out.append(Turn(len(out), s.start_s, s.end_s, s.speaker, s.index, s.index))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str
    speaker: str = ""


_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$")
_ARROW = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)(.*)$")
_SPEAKER = re.compile(r"^\s*([^:<>\n]{1,60}?):\s+(.+)$", re.S)
_SPEAKER_ONLY = re.compile(r"^[^:<>\n\d][^:<>\n]{0,59}:$")
_VOICE_TAG = re.compile(r"^<v(?:\.[\w.-]+)?\s+([^>]+)>(.*)$", re.S)
_TAGS = re.compile(r"<[^>]*>")
_TERMINAL = re.compile(r"[.!?…。！？]+[\"')\]”’」』]*$")
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


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
    if _SPEAKER_ONLY.match(clean):
        return clean[:-1].strip(), ""  # "Name:" with nothing said
    m = _SPEAKER.match(clean)
    if m and not m.group(1).strip().isdigit():
        return m.group(1).strip(), m.group(2).strip()
    return "", clean


def _decode(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise InputError(
            f"{name}: transcript is not UTF-8 text (byte {exc.start} is 0x{bad}); save it as UTF-8"
        ) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _blocks(text: str) -> list[list[str]]:
    """Cue blocks: split at empty lines, and again before each timing line.

    WebVTT ends a cue only at an empty line (YouTube cues hold a line of one space), while
    hand-edited SRT may separate cues by lines of spaces: a timing line (with the id line
    just before it) always starts a new block.
    """
    out: list[list[str]] = []
    for block in re.split(r"\n{2,}", text.strip("\n")):
        lines = block.split("\n")
        cuts = [0]
        for j, line in enumerate(lines):
            if "-->" in line and j > 0:
                has_id = lines[j - 1].strip() and (j == 1 or not lines[j - 2].strip())
                cut = j - 1 if has_id else j
                if cut > cuts[-1]:
                    cuts.append(cut)
        cuts.append(len(lines))
        out += [lines[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    return [[line for line in b if line.strip()] for b in out if any(x.strip() for x in b)]


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


def _norm(word: str) -> str:
    return _EDGE_PUNCT.sub("", word.casefold()) or word


def _repeated_words(shown: list[str], new: list[str]) -> int:
    """How many leading words of ``new`` repeat the end of ``shown`` (rolling captions).

    Counts only whole repeats of what was shown, or repeats of three words or more, so a
    speaker who really says "No. No, ..." across two cues keeps both words.
    """
    a, b = [_norm(w) for w in shown], [_norm(w) for w in new]
    for k in range(min(len(a), len(b)), 0, -1):
        if a[-k:] == b[:k]:
            return k if k == len(a) or k >= 3 else 0
    return 0


def resolve_overlaps(cues: Iterable[Cue]) -> list[Cue]:
    """Sort cues and make them disjoint in time, so estimated words never overlap.

    A cue that touches or overlaps the previous one and repeats its text (YouTube and Zoom
    rolling captions) keeps only its new words, placed after the previous cue. Any overlap
    left is cut at the later cue's start (or halfway, for cues that start together).
    """
    out: list[Cue] = []
    shown: list[str] = []  # the previous cue's words as displayed, before any repeat was dropped
    for cue in sorted(cues, key=lambda c: (c.start_s, c.end_s)):
        words = cue.text.split()
        if out and cue.start_s <= out[-1].end_s + _TOUCH_S:
            prev = out[-1]
            k = 0
            if cue.speaker == prev.speaker:
                k = _repeated_words(shown, words) or _repeated_words(prev.text.split(), words)
            shown = words
            if k:
                if k == len(words):
                    continue  # nothing new: the same caption shown again
                # The new words follow what was already shown, when there is room for them.
                room = cue.end_s - MIN_WORD_S * (len(words) - k)
                start = max(cue.start_s, prev.end_s) if prev.end_s < room else cue.start_s
                cue = Cue(start, cue.end_s, " ".join(words[k:]), cue.speaker)
            if cue.start_s < prev.end_s:
                if cue.start_s > prev.start_s + MIN_WORD_S:
                    cut = cue.start_s
                else:
                    cut = (prev.start_s + min(prev.end_s, cue.end_s)) / 2
                out[-1] = replace(prev, end_s=cut)
                cue = replace(cue, start_s=max(cue.start_s, cut))
        else:
            shown = words
        out.append(cue)
    return out


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


def from_cues(cues: list[Cue], *, source: str) -> Transcript:
    """Words estimated inside each cue, after rolling duplicates and overlaps are resolved."""
    words: list[Word] = []
    spans: list[tuple[int, int]] = []
    for cue in resolve_overlaps(cues):
        estimated = estimate_words(cue)
        spans.append((len(words), len(words) + len(estimated) - 1))
        words.extend(estimated)
    words = ordered_words(words)  # a cue cut very short could leave words without length
    return Transcript(tuple(words), tuple(sentences_from_words(words)), source, "cue", tuple(spans))


def from_words(words: list[Word], *, source: str) -> Transcript:
    words = sorted(words, key=lambda w: w.start_s)
    return Transcript(tuple(words), tuple(sentences_from_words(words)), source)


def _fit_cues(cues: list[Cue], duration_s: float, name: str) -> list[Cue]:
    late = [c for c in cues if c.start_s >= duration_s]
    if late:
        raise InputError(
            f"{name}: {len(late)} cue(s) start after the recording ends "
            f"(first at {late[0].start_s:.3f} s, recording is {duration_s:.3f} s)"
        )
    return [Cue(c.start_s, min(c.end_s, duration_s), c.text, c.speaker) for c in cues]


def _fit_words(transcript: Transcript, duration_s: float, name: str) -> Transcript:
    late = [w for w in transcript.words if w.start_s >= duration_s]
    if late:
        raise InputError(
            f"{name}: {len(late)} word(s) start after the recording ends "
            f"(first {late[0].text!r} at {late[0].start_s:.3f} s, "
            f"recording is {duration_s:.3f} s)"
        )
    if transcript.end_s <= duration_s:
        return transcript
    words = [replace(w, end_s=min(w.end_s, duration_s)) for w in transcript.words]
    return replace(transcript, words=tuple(words), sentences=tuple(sentences_from_words(words)))


def read_transcript(
    path: str | Path, *, duration_s: float | None = None, label: str | None = None
) -> Transcript:
    """Read a WebVTT/SRT sidecar or word-level JSON, detected by content.

    Rejects non-text, text without timings, and cues or words past the media end.
    """
    path = Path(path)
    name = label or str(path)
    if not path.is_file():
        raise InputError(f"{name}: transcript not found")
    text = _decode(path.read_bytes(), name)
    if not text.strip():
        raise InputError(f"{name}: transcript is empty")
    if text.lstrip()[:1] in ("{", "[") and "-->" not in text:
        # The JSON readers build on this module's model, so they are imported here.
        from media.transcript_formats import parse_json

        got = parse_json(text, name=name)
        return got if duration_s is None else _fit_words(got, duration_s, name)
    if "-->" not in text:
        raise InputError(
            f"{name}: text without timings (expected WebVTT or SRT cues, or word-level JSON)"
        )
    is_vtt = text.lstrip().startswith("WEBVTT")
    cues = parse_cues(text, name=name)
    if duration_s is not None:
        cues = _fit_cues(cues, duration_s, name)
    return from_cues(cues, source="vtt" if is_vtt else "srt")


def format_timestamp(seconds: float, *, srt: bool = False) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if srt else '.'}{ms:03d}"
