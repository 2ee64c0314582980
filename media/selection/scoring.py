"""Explainable scores for a highlight window of whole sentences: each sub-score is 0..1.

- ``salience``: how much of the window is spent on terms that matter in this recording
  (TF-IDF against the whole transcript's sentences).
- ``self_contained``: no dependent opener ("And", "So that's why", "Okay."), no pronoun
  without its antecedent at the start, no answer whose question is outside the window, no
  question left hanging at the end, ends on a finished sentence.
- ``structure``: one speaker's complete point, or a question and its answer, from the start
  of a turn to its end.
- ``delivery``: a comfortable speech rate; with prosody, livelier pitch and loudness than the
  recording's typical sentence.
- ``cohesion``: the window stays inside one topic segment, and nobody in it moves on to a
  new subject ("Let's switch gears ...").
- ``length``: 25-50 s, the length people finish watching.

``total`` is their weighted mean (:data:`WEIGHTS`) times sqrt(self_contained * cohesion): a
window that is not one complete thought on one topic cannot win on salience alone. Pure logic
over a :class:`Transcript`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from media.selection.prosody import SentenceProsody
from media.selection.topics import Topics, content_terms, idf_weights, is_shift_cue, words
from media.transcript.records import Sentence, Transcript

WEIGHTS = {
    "salience": 0.25,
    "self_contained": 0.25,
    "structure": 0.15,
    "cohesion": 0.15,
    "delivery": 0.1,
    "length": 0.1,
}

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
    "that's why",
    "that is why",
    "this is why",
    "okay so",
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
# Talk about the show rather than the subject: greetings, thanks, plugs, sign-offs.
HOUSEKEEPING = re.compile(
    r"\b(?:welcome (?:back|to)|thanks? (?:you )?for (?:having|joining|listening|watching)|"
    r"today (?:i am|i'm|we are|we're) (?:talking|joined|speaking)|subscribe|sponsor|"
    r"see you next (?:time|week)|that's all for today|let's get started)\b",
    re.I,
)
_TERMINAL = re.compile(r"[.!?…][\"')\]]*$")
_LEADING_FILLER = frozenset("well now look i mean you know like um uh".split())


def is_backchannel(text: str) -> bool:
    """A reply of at most four words, all of them listening noises ("Ha, yes.", "Okay.")."""
    tokens = words(text)
    return bool(tokens) and len(tokens) <= 4 and all(t in BACKCHANNEL_WORDS for t in tokens)


def is_question(text: str) -> bool:
    return text.rstrip().rstrip("\"')]").endswith("?")


def dependent_opener(text: str) -> str:
    """The dependent opener ``text`` starts with ("" if none); a back-channel is one whole.
    A sentence announcing a new subject has none: "Okay, let's talk about money." opens well.
    """
    if is_backchannel(text):
        return text.strip()
    if is_shift_cue(text):
        return ""
    tokens = words(text)
    for phrase in DEPENDENT_OPENERS:
        parts = phrase.split()
        if tokens[: len(parts)] == parts:
            return phrase
    return ""


def dangling_pronoun(text: str) -> str:
    """The pronoun that opens ``text`` before any noun could introduce its referent ("" if
    none). Leading fillers and dependent openers are skipped: "And it was..." -> "it"."""
    tokens = words(text)
    at = 0
    while at < len(tokens) and (tokens[at] in _LEADING_FILLER or tokens[at] in DEPENDENT_OPENERS):
        at += 1
    if at >= len(tokens) or tokens[at] not in DANGLING_PRONOUNS:
        return ""
    word = tokens[at]
    following = tokens[at + 1] if at + 1 < len(tokens) else ""
    if word in _DEMONSTRATIVES and following and following not in _AFTER_PRONOUN:
        return ""  # a determiner: "This book changed my life."
    return word


@dataclass(frozen=True, slots=True)
class Recording:
    """Facts about the whole recording that every window's score reads."""

    sentences: tuple[Sentence, ...]
    idf_mass: npt.NDArray[np.float64]  # prefix sums of each sentence's summed term IDF
    word_count: npt.NDArray[np.int64]  # prefix sums of words per sentence
    housekeeping_words: npt.NDArray[np.int64]  # prefix sums of words in sentences about the show
    max_idf: float
    backchannel: tuple[bool, ...]
    question: tuple[bool, ...]
    finished: tuple[bool, ...]  # ends on terminal punctuation (all True when none does)
    opener: tuple[str, ...]  # its dependent opener, "" if none
    pronoun: tuple[str, ...]  # its dangling pronoun, "" if none
    shift_cue: tuple[bool, ...]  # the sentence announces a new subject ("Let's talk about")
    run_start: tuple[bool, ...]  # the sentence opens a speaker's run (back-channels ignored)
    run_end: tuple[bool, ...]
    topics: Topics
    liveliness: tuple[float, ...] | None  # per sentence 0..1, from prosody; None without it


def recording(
    transcript: Transcript, topics: Topics, prosody: Sequence[SentenceProsody] | None = None
) -> Recording:
    """Per-sentence facts of ``transcript`` (one pass), so that each window scores in O(its
    length). ``topics`` and ``prosody`` must cover its sentences one to one."""
    sents = transcript.sentences
    if len(topics.topic) != len(sents):
        raise ValueError(f"topics cover {len(topics.topic)} sentences, transcript {len(sents)}")
    if prosody is not None and len(prosody) != len(sents):
        raise ValueError(f"prosody covers {len(prosody)} sentences, transcript {len(sents)}")
    docs = [content_terms(s.text) for s in sents]
    idf = idf_weights(docs)
    mass = [sum(idf[t] for t in d) for d in docs]
    counts = [max(1, s.last_word - s.first_word + 1) for s in sents]
    chores = [n if HOUSEKEEPING.search(s.text) else 0 for n, s in zip(counts, sents, strict=True)]
    back = tuple(is_backchannel(s.text) for s in sents)
    question = tuple(is_question(s.text) for s in sents)
    # Unpunctuated ASR text says nothing about where sentences finish: then none is judged.
    finished = tuple(bool(_TERMINAL.search(s.text.rstrip())) for s in sents)
    starts, ends = _runs(sents, back)
    return Recording(
        sentences=sents,
        idf_mass=np.concatenate([[0.0], np.cumsum(mass)]),
        word_count=np.concatenate([[0], np.cumsum(counts)]),
        housekeeping_words=np.concatenate([[0], np.cumsum(chores)]),
        max_idf=max(idf.values(), default=1.0),
        backchannel=back,
        question=question,
        finished=finished if any(finished) else (True,) * len(sents),
        opener=tuple(dependent_opener(s.text) for s in sents),
        pronoun=tuple(dangling_pronoun(s.text) for s in sents),
        shift_cue=tuple(is_shift_cue(s.text) for s in sents),
        run_start=starts,
        run_end=ends,
        topics=topics,
        liveliness=_liveliness(prosody) if prosody is not None else None,
    )


def _runs(sents: Sequence[Sentence], back: Sequence[bool]) -> tuple[tuple[bool, ...], ...]:
    """Where each speaker's run of sentences starts and ends, looking through back-channels:
    "G: ... [H: Right.] G: ..." is one run of G's. With one speaker (or none named) there
    are no turns to respect: every sentence may start and end one."""
    if len({s.speaker for s in sents}) <= 1:
        return (True,) * len(sents), (True,) * len(sents)
    main = [i for i, b in enumerate(back) if not b]
    start, end = [False] * len(sents), [False] * len(sents)
    for k, i in enumerate(main):
        before = sents[main[k - 1]] if k else None
        after = sents[main[k + 1]] if k + 1 < len(main) else None
        start[i] = before is None or before.speaker != sents[i].speaker
        end[i] = after is None or after.speaker != sents[i].speaker
    return tuple(start), tuple(end)


def _liveliness(prosody: Sequence[SentenceProsody]) -> tuple[float, ...]:
    """Per sentence: the mean percentile rank of its pitch and loudness variation within this
    recording (0.5 = typical). Sentences without voiced audio get 0.5."""

    def ranks(values: list[float]) -> list[float]:
        known = sorted(v for v in values if math.isfinite(v))
        if not known:
            return [0.5] * len(values)
        return [
            (bisect_left(known, v) + 0.5) / len(known) if math.isfinite(v) else 0.5 for v in values
        ]

    pitch = ranks([p.pitch_var_st for p in prosody])
    loud = ranks([p.loudness_var_db for p in prosody])
    return tuple((a + b) / 2 for a, b in zip(pitch, loud, strict=True))


def score_window(
    rec: Recording, first: int, last: int, start_s: float, end_s: float
) -> dict[str, float]:
    """Sub-scores and ``total`` for sentences ``first..last`` cut at [start_s, end_s]."""
    sents = rec.sentences[first : last + 1]
    n_words = int(rec.word_count[last + 1] - rec.word_count[first])
    density = (rec.idf_mass[last + 1] - rec.idf_mass[first]) / (n_words * rec.max_idf)
    # 1 - e^(-d/0.25): about 0.8 for the density of a focused answer (~0.4 of the words'
    # maximum IDF), about 0.55 for chat; talk about the show itself counts for nothing.
    housekeeping = int(rec.housekeeping_words[last + 1] - rec.housekeeping_words[first])
    salience = (1 - math.exp(-density / 0.25)) * (1 - housekeeping / n_words)
    spoken = sents[-1].end_s - sents[0].start_s
    rate = n_words / spoken if spoken > 0 else 0.0
    pace = math.exp(-((rate - 2.6) ** 2) / 2.0)  # ~2.6 words/s: conversational English
    if rec.liveliness is None:
        delivery = pace
    else:
        weights = [s.end_s - s.start_s for s in sents]
        lively = sum(w * v for w, v in zip(weights, rec.liveliness[first : last + 1], strict=True))
        delivery = 0.4 * pace + 0.6 * lively / max(sum(weights), 1e-9)
    dur = end_s - start_s
    length = 1.0 if 25 <= dur <= 50 else math.exp(-min(abs(dur - 25), abs(dur - 50)) / 15)
    sub = {
        "salience": salience,
        "self_contained": self_contained(rec, first, last),
        "structure": structure(rec, first, last),
        "cohesion": cohesion(rec, first, last),
        "delivery": delivery,
        "length": length,
    }
    out = {k: round(v, 3) for k, v in sub.items()}
    mean = sum(WEIGHTS[k] * v for k, v in sub.items())
    out["total"] = round(mean * math.sqrt(sub["self_contained"] * sub["cohesion"]), 4)
    return out


def self_contained(rec: Recording, first: int, last: int) -> float:
    """1.0 for a window that needs nothing outside it; each missing piece multiplies it down."""
    sents = rec.sentences
    score = 1.0
    if rec.opener[first]:
        score *= 0.3
    if rec.pronoun[first]:
        score *= 0.4
    before = _previous_main(rec, first)
    if before is not None and rec.question[before] and not rec.question[first]:
        if sents[before].speaker != sents[first].speaker:
            score *= 0.5  # an answer whose question was cut off
    if rec.question[last]:
        score *= 0.5  # a question whose answer was cut off
    elif not rec.finished[last]:
        score *= 0.6  # the last sentence trails off
    return score


def structure(rec: Recording, first: int, last: int) -> float:
    """A question and its answer (1.0) or one speaker's point (0.9 for two or more sentences),
    from the start of a turn to its end; less for a point cut at either end."""
    main = [i for i in range(first, last + 1) if not rec.backchannel[i]]
    if not main:
        return 0.0
    speakers = [rec.sentences[i].speaker for i in main]
    answered = any(
        rec.question[q] and any(b != a for b in speakers[k + 1 :])
        for k, (q, a) in enumerate(zip(main, speakers, strict=True))
    )
    runs = 1 + sum(1 for a, b in zip(speakers, speakers[1:], strict=False) if a != b)
    if answered:
        score = 1.0
    elif runs == 1:
        score = 0.9 if len(main) >= 2 else 0.6
    else:
        score = 0.5  # several speakers but no question answered: a medley
    if not rec.run_start[main[0]]:
        score *= 0.7
    if rec.question[main[-1]]:
        score *= 0.3
    elif not rec.run_end[main[-1]]:
        score *= 0.6
    return score * 0.8 ** max(0, runs - 4)


def cohesion(rec: Recording, first: int, last: int) -> float:
    """1.0 inside one topic segment; across a boundary, half the main segment's share of
    words; halved again when a sentence after the first announces a new subject."""
    seg = rec.topics.segment[first : last + 1]
    score = 1.0
    if seg[0] != seg[-1]:
        counts: dict[int, int] = {}
        for i, s in zip(range(first, last + 1), seg, strict=True):
            counts[s] = counts.get(s, 0) + int(rec.word_count[i + 1] - rec.word_count[i])
        score = 0.5 * max(counts.values()) / sum(counts.values())
    if any(rec.shift_cue[first + 1 : last + 1]):
        score *= 0.5
    return score


def _previous_main(rec: Recording, index: int) -> int | None:
    """The nearest sentence before ``index`` that is not a back-channel."""
    for i in range(index - 1, -1, -1):
        if not rec.backchannel[i]:
            return i
    return None


def salient_sentence(rec: Recording, first: int, last: int) -> Sentence:
    """The sentence that best names the window: densest in this recording's salient terms,
    questions favoured (they make good hooks), openers that lean on context and sentences
    too long for a title disfavoured, back-channels and fragments under four words last."""

    def weight(i: int) -> float:
        n = int(rec.word_count[i + 1] - rec.word_count[i])
        if rec.backchannel[i] or n < 4:
            return -1.0
        w = float(rec.idf_mass[i + 1] - rec.idf_mass[i]) / n
        if rec.question[i]:
            w *= 1.3
        if rec.pronoun[i] or rec.opener[i] or rec.shift_cue[i]:
            w *= 0.6  # leans on context, or announces the subject instead of saying something
        return w * (0.7 if len(rec.sentences[i].text) > 60 else 1.0)

    best = max(range(first, last + 1), key=lambda i: (weight(i), -i))
    return rec.sentences[best]
