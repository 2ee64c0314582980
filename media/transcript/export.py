"""A transcript written out for people and players: WebVTT, SRT, or clipflow's word-level JSON.

Pure: a :class:`~media.transcript.records.Transcript` in, text out. Cues follow the sentences
(a sentence never spans two speakers), and a long sentence is cut between words into cues of at
most two lines of :data:`LINE_CHARS` and :data:`MAX_CUE_S` seconds, the usual caption limits.
Speakers, when known, are WebVTT voice spans (``<v S1>``, W3C WebVTT §4.2.2) and an ``S1: ``
prefix in SRT, the forms :mod:`media.transcript.cues` reads back. JSON is
:func:`media.transcript.whisper_json.to_json`, which keeps word times, language and model.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable

from media.errors import InputError
from media.transcript.cues import Cue, format_timestamp
from media.transcript.records import Transcript, Word
from media.transcript.whisper_json import to_json

LINE_CHARS = 42  # characters per caption line (the common broadcast and platform limit)
MAX_LINES = 2
MAX_CUE_S = 7.0
# Cues of one speaker closer than this are read as rolling captions (cues._TOUCH_S = 0.02).
_APART_S = 0.03
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


def _lines(text: str) -> list[str]:
    # Never split inside a word: the reader joins lines with a space.
    return textwrap.wrap(text, LINE_CHARS, break_long_words=False, break_on_hyphens=False)


def _chunks(words: list[Word]) -> list[list[Word]]:
    """Cut one sentence between words so each piece fits MAX_LINES lines and MAX_CUE_S."""
    out: list[list[Word]] = [[]]
    for w in words:
        piece = [*out[-1], w]
        fits = (
            len(_lines(" ".join(x.text for x in piece))) <= MAX_LINES
            and piece[-1].end_s - piece[0].start_s <= MAX_CUE_S
        )
        if out[-1] and not fits:
            out.append([w])
        else:
            out[-1] = piece
    return [c for c in out if c]


def _norm(text: str) -> list[str]:
    return [_EDGE_PUNCT.sub("", t.casefold()) for t in text.split()]


def _looks_rolled(prev: Cue, cue: Cue) -> bool:
    """Whether ``cue`` begins with words that end ``prev``, which a reader of rolling
    captions (:func:`media.transcript.cues.resolve_overlaps`) would drop as shown twice."""
    a, b = _norm(prev.text), _norm(cue.text)
    return any(a[-k:] == b[:k] for k in range(1, min(len(a), len(b)) + 1))


def _keep_apart(prev: Cue, cue: Cue) -> Cue:
    """``prev`` ended a little earlier when ``cue`` would otherwise read as its repeat."""
    if prev.speaker != cue.speaker or cue.start_s - prev.end_s > _APART_S:
        return prev
    if not _looks_rolled(prev, cue):
        return prev
    end = max(cue.start_s - _APART_S, prev.start_s + 0.001)
    return Cue(prev.start_s, min(prev.end_s, end), prev.text, prev.speaker)


def cues(transcript: Transcript) -> list[Cue]:
    """The transcript as caption cues: per sentence, long sentences cut between words."""
    out: list[Cue] = []
    for sentence in transcript.sentences:
        words = list(transcript.words[sentence.first_word : sentence.last_word + 1])
        for piece in _chunks(words):
            start = piece[0].start_s
            end = max(piece[-1].end_s, start + 0.001)  # a cue must end after it starts
            text = " ".join(" ".join(w.text.split()) for w in piece if w.text.strip())
            if not text:
                continue
            cue = Cue(round(start, 3), round(end, 3), text, sentence.speaker)
            if out:
                out[-1] = _keep_apart(out[-1], cue)
            out.append(cue)
    return out


def _vtt_text(cue: Cue) -> str:
    # Cue text escapes &, < and > (WebVTT §4.2.2); a voice annotation cannot hold ">".
    lines = [html.escape(line, quote=False) for line in _lines(cue.text)]
    if cue.speaker:
        who = html.escape(" ".join(cue.speaker.split()), quote=False)
        lines[0] = f"<v {who}>{lines[0]}"
    return "\n".join(lines)


def to_vtt(transcript: Transcript) -> str:
    """WebVTT: one cue per sentence (or piece of a long one), voice spans when speakers are
    known; a NOTE header says where the words came from."""
    blocks = ["WEBVTT\n"]
    about = ", ".join(x for x in (transcript.source, transcript.model, transcript.language) if x)
    if about:
        blocks.append(f"NOTE transcript: {about.replace('-->', '->')}\n")
    blocks += [
        f"{format_timestamp(c.start_s)} --> {format_timestamp(c.end_s)}\n{_vtt_text(c)}\n"
        for c in cues(transcript)
    ]
    return "\n".join(blocks)


def to_srt(transcript: Transcript) -> str:
    """SubRip: numbered cues, ``Speaker: `` before the text when speakers are known."""
    blocks = []
    for n, c in enumerate(cues(transcript), 1):
        lines = _lines(c.text)
        if c.speaker:
            lines[0] = f"{c.speaker}: {lines[0]}"
        span = f"{format_timestamp(c.start_s, srt=True)} --> {format_timestamp(c.end_s, srt=True)}"
        blocks.append(f"{n}\n{span}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


FORMATS: dict[str, Callable[[Transcript], str]] = {
    ".vtt": to_vtt,
    ".srt": to_srt,
    ".json": lambda t: to_json(t) + "\n",
}


def export(transcript: Transcript, suffix: str) -> str:
    """The transcript in the format named by a file suffix (.vtt, .srt, .json)."""
    write = FORMATS.get(suffix.lower())
    if write is None:
        raise InputError(f"transcript format {suffix!r} (expected one of {', '.join(FORMATS)})")
    return write(transcript)
