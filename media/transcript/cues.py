"""Sidecar cues (WebVTT incl. Zoom's ``Name: text`` cues and voice tags, SRT) to words.

Pure: text in, :class:`Cue` list and :class:`~media.transcript.records.Transcript` out. Rolling
and overlapping cues are de-duplicated; word times are estimated inside each cue in proportion
to the words' character counts, and the transcript says so (``timing == "cue"``) so the
pipeline can refine them against the audio (:func:`media.transcript.vad.refine_cue_times`)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from media.errors import InputError
from media.transcript.records import (
    MIN_WORD_S,
    Transcript,
    Word,
    ordered_words,
    sentences_from_words,
)

_TOUCH_S = 0.02  # cues this close count as adjacent (rolling captions abut exactly)


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
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


def parse_timestamp(text: str, *, where: str) -> float:
    """Seconds of a WebVTT or SRT timestamp (``[HH:]MM:SS.mmm``, comma or dot); ``where``
    names the cue in the error."""
    m = _TIME.match(text.strip())
    if not m:
        raise InputError(f"{where}: bad timestamp {text!r} (expected HH:MM:SS.mmm)")
    hours, minutes, seconds, millis = m.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise InputError(f"{where}: bad timestamp {text!r} (minutes/seconds over 59)")
    fraction = int(millis.ljust(3, "0")) / 1000
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + fraction


def _plain(text: str) -> str:
    """Cue text without tags, its character references (``&amp;``, WebVTT §4.2.2) decoded."""
    return html.unescape(_TAGS.sub("", text)).strip()


def _split_speaker(text: str) -> tuple[str, str]:
    voice = _VOICE_TAG.match(text)
    if voice:
        return html.unescape(voice.group(1).strip()), _plain(voice.group(2))
    clean = _plain(text)
    if _SPEAKER_ONLY.match(clean):
        return clean[:-1].strip(), ""  # "Name:" with nothing said
    m = _SPEAKER.match(clean)
    if m and not m.group(1).strip().isdigit():
        return m.group(1).strip(), m.group(2).strip()
    return "", clean


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


def format_timestamp(seconds: float, *, srt: bool = False) -> str:
    """``HH:MM:SS.mmm``, the WebVTT timestamp (W3C WebVTT §4.2.2); with ``srt``, SubRip's
    ``HH:MM:SS,mmm``. The one formatter for both (ASS's centisecond ``H:MM:SS.cc`` stays in
    :mod:`media.render.captions`); :func:`parse_timestamp` reads either back."""
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if srt else '.'}{ms:03d}"
