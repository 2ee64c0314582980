"""Discourse cues in spoken sentences: what leans on text outside a clip, what leaves it open.

A clip should open without leaning on what came before (no "And", "So that's why", no "It"
pointing back, no continuation of a sentence begun earlier) and close on a finished thought
(not on a question, a back-channel such as "Okay." or "Interesting.", or a trailing "and").
Pure text logic over one sentence's text; :mod:`media.selection.scoring` combines the cues.
"""

from __future__ import annotations

import re

from media.selection.disfluency import FILLER_WORDS, norm
from media.selection.topics import is_shift_cue

# Openers that lean on what came before. Phrases are matched on the first words.
DEPENDENT_OPENERS = (
    "and",
    "but",
    "so",
    "because",
    "or",
    "also",
    "then",
    "which",
    "plus",
    "though",
    "anyway",
    "otherwise",
    "however",
    "still",
    "besides",
    "instead",
    "meanwhile",
    "whereas",
    "cause",
    "like",
    "that's why",
    "that is why",
    "this is why",
    "okay so",
    "alright so",
    "all right so",
    "ok so",
    "as i said",
    "like i said",
    "that said",
    "on top of that",
    "other than that",
    "in that case",
    "after that",
    "even so",
    # Replies: they answer or acknowledge something said before the clip.
    "yeah",
    "yes",
    "no",
    "right",
    "exactly",
    "okay",
    "ok",
    "sure",
    "well",
    "oh",
)
# Pronouns that need an antecedent; a clip that opens with one points outside itself.
DANGLING_PRONOUNS = frozenset(
    "it it's its they they're them their he he's him his she she's her this that that's "
    "these those".split()
)
# "This book ..." is a determiner with its noun; "This is ..." points back.
_DEMONSTRATIVES = frozenset("this that these those".split())
_AFTER_PRONOUN = frozenset(
    "is was are were 's will would can could does did do has had have means meant makes made "
    "sounds seems seemed works worked one ones kind part".split()
)
# Short replies that carry no point of their own ("Right.", "That makes sense.").
BACKCHANNEL_WORDS = frozenset(
    "right okay ok yeah yes yep sure exactly interesting really hmm mm mm-hm mhm uh-huh ha "
    "haha oh i see go on that that's makes sense true wow cool great absolutely totally got "
    "it nice no well indeed of course fair enough good point agreed definitely".split()
)
_LEADING_FILLER = frozenset("well now look i mean you know like".split()) | FILLER_WORDS
# A sentence that stops on one of these was cut off ("Yeah, but.", "and we went to the").
# ("I think so." ends whole; "Yeah, so." does not.)
TRAILING = frozenset("and but or because cause the a an of my your our their".split())
_CASED = re.compile(r"[^\W\d_]")


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text`` without edge punctuation, single letters kept ("I")."""
    return [w for w in (norm(t) for t in text.replace("’", "'").split()) if w]


def is_backchannel(text: str) -> bool:
    """A reply of at most four words, all of them listening noises ("Ha, yes.", "Okay.")."""
    found = tokens(text)
    return bool(found) and len(found) <= 4 and all(t in BACKCHANNEL_WORDS for t in found)


def is_question(text: str) -> bool:
    """Ends on a question mark (quotes and brackets after it looked through)."""
    return text.rstrip().rstrip("\"')]").endswith("?")


def dependent_opener(text: str) -> str:
    """The dependent opener ``text`` starts with ("" if none); a back-channel is one whole.
    A sentence announcing a new subject has none: "Okay, let's talk about money." opens well.
    """
    if is_backchannel(text):
        return text.strip()
    if is_shift_cue(text):
        return ""
    found = tokens(text)
    at = 0
    while at < len(found) - 1 and found[at] in FILLER_WORDS:
        at += 1  # "Um, and so ..."
    for phrase in DEPENDENT_OPENERS:
        parts = phrase.split()
        if found[at : at + len(parts)] == parts:
            return phrase
    return ""


def dangling_pronoun(text: str) -> str:
    """The pronoun that opens ``text`` before any noun could introduce its referent ("" if
    none). Leading fillers and dependent openers are skipped: "And it was..." -> "it"."""
    found = tokens(text)
    at = 0
    while at < len(found) and (found[at] in _LEADING_FILLER or found[at] in DEPENDENT_OPENERS):
        at += 1
    if at >= len(found) or found[at] not in DANGLING_PRONOUNS:
        return ""
    word = found[at]
    following = found[at + 1] if at + 1 < len(found) else ""
    if word in _DEMONSTRATIVES and following and following not in _AFTER_PRONOUN:
        return ""  # a determiner: "This book changed my life."
    return word


def starts_lowercase(text: str) -> bool:
    """The first letter is lower case: in a cased transcript, the rest of a sentence begun
    before (Whisper segments often split one there)."""
    first = _CASED.search(text)
    return first is not None and first.group().islower()


def is_cased(texts: list[str]) -> bool:
    """Most sentences start with a capital: a lower-case start then means a continuation."""
    starts = [_CASED.search(t) for t in texts]
    letters = [m.group() for m in starts if m]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.6 * len(letters)


def open_ending(text: str) -> str:
    """The word a sentence breaks off on ("Yeah, but." -> "but"), "" when it ends whole."""
    found = tokens(text)
    if not found or is_backchannel(text):
        return ""
    if found[-1] in TRAILING:
        return found[-1]
    raw = text.split()
    cut_so = found[-1] == "so" and (len(raw) == 1 or raw[-2].endswith(","))
    return "so" if cut_so else ""
