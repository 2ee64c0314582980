"""Disfluencies in spoken text: fillers ("um", "you know" as filler) and false starts ("we
were, we were going", "the the"), marked token by token.

Real conversational transcripts (human ones and Whisper-class ASR alike) keep them; the espeak
samples never had any. The scorer counts them (a window dense in them plays badly as a clip) and
titles drop them. Pure text logic: a token is one whitespace-separated word with its
punctuation, as in :attr:`media.transcript.records.Sentence.text`.
"""

from __future__ import annotations

import re

# Always fillers, whatever follows.
FILLER_WORDS = frozenset("um umm uh uhh uh-huh er erm ah eh hmm hm mm mhm mm-hm".split())
# Two-word fillers, only where punctuation or a neighbouring filler shows they are parentheses:
# "I heard, you know, a beep" but not "You know I won't open it"; "I mean, is it" but not "I
# mean it".
FILLER_PHRASES = (("you", "know"), ("i", "mean"), ("you", "see"))
# "like" is a filler between commas or beside another filler, not in "it's like meditating".
_HEDGES = frozenset({"like"})
# Transcriber markup: noise tags and partial words ("<VOCNOISE>", "[laughter]", "[adif]", "w-").
_MARKUP = re.compile(r"^(?:<[^>]*>|\[[^\]]*\]|\([^)]*\)|[a-z]{1,3}-)[,.?!]*$", re.I)
_EDGE = re.compile(r"^[\"'(\[“‘]+|[\"')\]”’.,;:!?…]+$")
_GOVERNORS = frozenset(
    "what how if whether that do does did don't doesn't didn't you i we they see".split()
)
MAX_REPEAT = 4  # longest false start looked for, in words


def norm(token: str) -> str:
    """A token without punctuation at its edges, lower case."""
    return _EDGE.sub("", token).lower()


def _bounded(tokens: list[str], at: int, size: int) -> bool:
    """Tokens ``at..at+size-1`` stand apart: commas or sentence edges around them."""
    before = at == 0 or tokens[at - 1].endswith((",", ";", ":", "—", "–"))
    last = tokens[at + size - 1]
    after = at + size == len(tokens) or bool(re.search(r"[,;:.?!…—–]$", last))
    inner_comma = any(t.endswith(",") for t in tokens[at : at + size - 1])
    # "I thought you know, I heard": set off on one side only, unless it is the object of a
    # verb or question word before it ("You know what I mean.").
    tail = at > 0 and after and last[-1] in ",.?!" and norm(tokens[at - 1]) not in _GOVERNORS
    return not inner_comma and ((before and after) or tail)


def filler_marks(tokens: list[str]) -> list[bool]:
    """True for every token that is part of a filler."""
    low = [norm(t) for t in tokens]
    marks = [w in FILLER_WORDS or bool(_MARKUP.match(t)) for w, t in zip(low, tokens, strict=True)]
    for k in range(len(tokens)):
        for phrase in FILLER_PHRASES:
            n = len(phrase)
            if tuple(low[k : k + n]) != phrase:
                continue
            beside_filler = (k > 0 and marks[k - 1]) or (k + n < len(low) and marks[k + n])
            if _bounded(tokens, k, n) or beside_filler:
                marks[k : k + n] = [True] * n
        if low[k] in _HEDGES:
            beside_filler = (k > 0 and marks[k - 1]) or (k + 1 < len(low) and marks[k + 1])
            between_commas = k > 0 and tokens[k - 1].endswith(",") and tokens[k].endswith(",")
            if beside_filler or between_commas:
                marks[k] = True
    return marks


def repeat_marks(tokens: list[str]) -> list[bool]:
    """True for the abandoned first try of every immediate repetition of one to
    :data:`MAX_REPEAT` words ("the the", "we were, we were going", "and and and"): the last
    copy stays, so what remains reads as the speaker meant it. Fillers are looked through."""
    fill = filler_marks(tokens)
    keep = [k for k in range(len(tokens)) if not fill[k] and norm(tokens[k])]
    low = [norm(tokens[k]) for k in keep]
    marks = [False] * len(tokens)
    i = 0
    while i < len(low):
        for n in range(MAX_REPEAT, 0, -1):
            if i + 2 * n <= len(low) and low[i : i + n] == low[i + n : i + 2 * n]:
                for k in keep[i : i + n]:
                    marks[k] = True
                i += n
                break
        else:
            i += 1
    return marks


def disfluent_marks(tokens: list[str]) -> list[bool]:
    """Fillers and abandoned false starts together."""
    return [a or b for a, b in zip(filler_marks(tokens), repeat_marks(tokens), strict=True)]


def disfluent_count(text: str) -> int:
    """How many of ``text``'s tokens are fillers or false starts."""
    return sum(disfluent_marks(text.split()))


def fluent_text(text: str) -> str:
    """``text`` as the speaker meant it: fillers and false starts dropped, with the commas that
    set them off ("Okay, then I thought you know, I heard a beep." -> "Okay, then I thought I
    heard a beep.")."""
    tokens = text.split()
    marks = disfluent_marks(tokens)
    out: list[str] = []
    for token, dropped in zip(tokens, marks, strict=True):
        if dropped:
            end = re.search(r"[.?!…]+$", token)
            if end and out:  # the sentence ended on the filler: move its full stop
                out[-1] = out[-1].rstrip(",;:") + end.group()
            continue
        out.append(token)
    return " ".join(out)
