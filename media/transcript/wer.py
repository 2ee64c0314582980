"""Word error rate with a normaliser, so a transcript is judged on its words, not its spelling.

:func:`normalise` lower-cases, strips punctuation and annotation markup (``[laughter]``,
``<VOCNOISE>``), drops hesitation sounds ("um", "uh": Whisper leaves them out, human
transcripts write them), expands "yknow", and maps spoken numbers to numerals ("twenty one" and
"21" alike), which are then compared digit by digit ("one zero zero" and "100" alike, "nine oh
two" and "902" alike). :func:`word_errors` is Levenshtein distance over the normalised words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {w: n for n, w in enumerate(_UNITS)} | {w: 20 + 10 * n for n, w in enumerate(_TENS)}
HESITATIONS = frozenset("um umm uh uhh er erm ah hmm mm mhm hm".split())
_MARKUP = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)")
_SPELLINGS = {
    "yknow": "you know",
    "y'know": "you know",
    "ok": "okay",
    "alright": "all right",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "percent": "%",
}


def _tokens(text: str) -> list[str]:
    text = _MARKUP.sub(" ", text.lower()).replace("’", "'")
    text = re.sub(r"(?<=\d)[,.](?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"(\d)%", r"\1 %", text)
    words = re.sub(r"[^a-z0-9'% ]+", " ", text).split()
    out: list[str] = []
    for w in words:
        w = w.strip("'")
        out.extend(_SPELLINGS.get(w, w).split())
    return [w for w in out if w and w not in HESITATIONS]


def _numbers(words: list[str]) -> Iterator[str]:
    """Number words become numerals: "twenty one" -> "21", "two hundred" -> "200"; a lone
    "oh" between digits is a zero. Everything else passes through."""
    i = 0
    while i < len(words):
        w = words[i]
        if w not in NUMBER_WORDS and not (w == "oh" and _digit_near(words, i)):
            yield w
            i += 1
            continue
        value = NUMBER_WORDS.get(w, 0)
        i += 1
        if 20 <= value <= 90 and i < len(words) and NUMBER_WORDS.get(words[i], 99) < 10:
            value += NUMBER_WORDS[words[i]]
            i += 1
        if value and i < len(words) and words[i] == "hundred":
            value *= 100
            i += 1
            if i + 1 < len(words) and words[i] == "and" and words[i + 1] in NUMBER_WORDS:
                i += 1
            if i < len(words) and words[i] in NUMBER_WORDS:
                rest = NUMBER_WORDS[words[i]]
                i += 1
                if 20 <= rest <= 90 and i < len(words) and NUMBER_WORDS.get(words[i], 99) < 10:
                    rest += NUMBER_WORDS[words[i]]
                    i += 1
                value += rest
        if value and i < len(words) and words[i] == "thousand":
            value *= 1000
            i += 1
        yield str(value)


def _digit_near(words: list[str], i: int) -> bool:
    def digit(j: int) -> bool:
        return 0 <= j < len(words) and (words[j].isdigit() or words[j] in NUMBER_WORDS)

    return digit(i - 1) or digit(i + 1)


def normalise(text: str) -> list[str]:
    """The words of ``text`` as compared: numerals split into digits, see the module doc."""
    out: list[str] = []
    for w in _numbers(_tokens(text)):
        out.extend(list(w) if w.isdigit() else [w])
    return out


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words), after :func:`normalise`."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1], len(ref)
