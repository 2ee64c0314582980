"""Clip titles: a headline made of the clip's own words, never a cut-off fragment.

The title is the clip's key claim or the question it answers: its best sentence (weighted by
:func:`media.selection.scoring.sentence_weights`) as the speaker meant it (fillers and false
starts dropped, :mod:`media.selection.disfluency`), without the "So," or "And" that leaned on
what came before, sentence-cased. A sentence too long for :data:`TITLE_CHARS` gives its main
clause, cut at a clause or phrase boundary; no title ever ends with an ellipsis. Pure text logic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from media.selection.disfluency import fluent_text, norm

TITLE_CHARS = 60
MIN_WORDS = 4  # fewer words rarely say anything ("It's on")

# Discourse markers and replies that open a sentence but are no part of its point.
_LEAD = re.compile(
    r"^(?:(?:(?:and|but|so|well|okay|ok|alright|all right|yeah|because|cause|also|then|plus|"
    r"oh|hey|anyway|actually|honestly|basically|however|um|uh|and then|after that|that said)"
    r"\b[,.!]?|"
    # Only with a comma: "No one knows", "Right now", "Like a river" start real sentences.
    r"(?:no|yes|right|now|look|listen|still|like|you know|i mean)[,.!])\s+)+",
    re.I,
)
_ELLIPSIS = re.compile(r"\s*(?:…|\.{2,})\s*")
# Words a clause or phrase may start with: a cut before them leaves a whole phrase behind.
_CLAUSE_WORDS = frozenset(
    "and but or so because cause which who whom whose where when while although though if "
    "unless until since whereas".split()
)
_PHRASE_WORDS = frozenset(
    "in on at for with from to of by about into over through under after before during "
    "without within across around against between".split()
)
# Where a new clause often starts in unpunctuated speech ("this is the sick corpus | hopefully
# the levels are okay"): cut there only when no punctuation or conjunction allows a cut.
_SOFT_STARTS = frozenset("i we you they he she there hopefully maybe probably actually".split())
# A subordinate clause first ("When it heats up, microbes ..."): the main clause follows.
_SUBORDINATORS = frozenset(
    "when if because although though while since after before once unless until as".split()
)
# Words no headline ends on ("... brass band music and the").
_OPEN_END = _CLAUSE_WORDS | _PHRASE_WORDS | frozenset("a an the my your our their its".split())
_BOUNDARY_PUNCT = re.compile(r"[,;:]$")
_DASH = frozenset("- – —".split())


def headline(sentences: Sequence[tuple[str, float]], limit: int = TITLE_CHARS) -> str:
    """The clip's title from its sentences and how well each could name it (higher is
    better): the best sentence that reads whole within ``limit``, else the best one's main
    clause; a sentence of four words or more beats a shorter one, a whole one a shortened one.
    """
    options: list[tuple[float, int, str]] = []
    for order, (text, weight) in enumerate(sentences):
        phrase, whole = title_phrase(text, limit)
        if not phrase:
            continue
        score = weight if weight >= 0 else weight - 1
        if score > 0:  # a sentence that says more makes the better headline
            score *= min(1.0, len(phrase.split()) / 8) ** 0.5
        if len(phrase.split()) < MIN_WORDS:
            score -= 10  # a fragment only if nothing else says anything
        if not whole:
            score *= 0.75 if score > 0 else 1.25
        options.append((score, -order, phrase))
    if not options:
        return ""
    return max(options)[2]


def clip_title(sentence: str, limit: int = TITLE_CHARS) -> str:
    """The title one sentence gives (a clip whose sentences carry no weights)."""
    return headline([(sentence, 1.0)], limit)


def shorten(title: str, limit: int = TITLE_CHARS) -> str:
    """``title`` within ``limit`` cut at a clause or phrase boundary, never with an ellipsis
    (for titles written elsewhere, such as a language model's)."""
    text = " ".join(title.split())
    return text if len(text) <= limit else _main_clause(text.rstrip(" .…"), limit)


def title_phrase(sentence: str, limit: int = TITLE_CHARS) -> tuple[str, bool]:
    """``sentence`` as a title, and whether it is whole (not cut to its main clause)."""
    text = _ELLIPSIS.sub(", ", fluent_text(" ".join(sentence.split()))).strip(" ,")
    text = _LEAD.sub("", text) or text
    question = text.rstrip().endswith("?")
    text = text.rstrip(" .,;:!?-–—")
    if not text:
        return "", True
    whole = len(text) + question <= limit
    if not whole:
        text = _main_clause(text, limit - question)
    text = _sentence_case(text)
    return (text + "?" if question and whole else text), whole


def _main_clause(text: str, limit: int) -> str:
    """The longest start of ``text`` within ``limit`` that ends at a clause or phrase
    boundary (after a comma, before "and", "because", "in" ...); the main clause instead when
    a subordinate one comes first. A word-boundary cut only when no boundary exists."""
    tokens = text.split()
    if norm(tokens[0]) in _SUBORDINATORS:
        for k, token in enumerate(tokens[:-MIN_WORDS]):
            if token.endswith(","):
                rest = " ".join(tokens[k + 1 :])
                return rest if len(rest) <= limit else _main_clause(rest, limit)
    best = ""
    for k in range(1, len(tokens)):
        at_boundary = (
            _BOUNDARY_PUNCT.search(tokens[k - 1])
            or norm(tokens[k]) in _CLAUSE_WORDS | _PHRASE_WORDS
            or tokens[k] in _DASH
        )
        prefix = _trim_end(tokens[:k])
        if at_boundary and len(prefix) <= limit and len(prefix.split()) > len(best.split()):
            best = prefix
    if len(best.split()) >= MIN_WORDS or best and len(tokens) < MIN_WORDS:
        return best
    for k in range(len(tokens) - 1, MIN_WORDS - 1, -1):
        prefix = _trim_end(tokens[:k])
        if norm(tokens[k]) in _SOFT_STARTS and len(prefix) <= limit:
            return prefix
    cut: list[str] = []
    for token in tokens:
        if len(" ".join([*cut, token])) > limit:
            break
        cut.append(token)
    # One word longer than a title ("state-of-the-art-..."): up to a hyphen inside it.
    return _trim_end(cut) or best or text[:limit].rsplit("-", 1)[0]


def _trim_end(tokens: list[str]) -> str:
    """The words joined, without trailing punctuation or words that leave a phrase open."""
    out = list(tokens)
    while out and (norm(out[-1]) in _OPEN_END or out[-1] in _DASH):
        out.pop()
    return " ".join(out).rstrip(" ,;:-–—")


def _sentence_case(text: str) -> str:
    """First letter up, and the pronoun "I" (unpunctuated ASR writes "i")."""
    text = re.sub(r"\bi(?=\b|')", "I", text)
    return text[:1].upper() + text[1:]
