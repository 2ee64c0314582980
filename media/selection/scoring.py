"""Explainable scores for a highlight window of whole sentences: each sub-score is 0..1.

- ``salience``: how much of the window is spent on terms that matter in this recording
  (TF-IDF against the whole transcript's sentences).
- ``self_contained``: no dependent opener ("And", "So that's why", "Okay."), no pronoun
  without its antecedent at the start, no start in the middle of a sentence, no answer whose
  question is outside the window, no question left hanging at the end, ends on a finished
  thought (not "Okay." or "Interesting.", not on a trailing "but").
- ``structure``: one speaker's complete point, or a question and its answer, from the start
  of a turn to its end.
- ``delivery``: a comfortable speech rate; with prosody, livelier pitch and loudness than the
  recording's typical sentence.
- ``cohesion``: the window stays inside one topic segment, and nobody in it moves on to a
  new subject ("Let's switch gears ...").
- ``length``: 25-50 s, the length people finish watching.
- ``fluency``: few fillers and false starts (:mod:`media.selection.disfluency`).

``total`` is their weighted mean (:data:`WEIGHTS`) times sqrt(self_contained * cohesion) times
(1 + fluency) / 2: a window that is not one complete thought on one topic cannot win on salience
alone, and one dense in "um", "you know" and restarts plays badly however good its point.
Pure logic over a :class:`Transcript`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from media.selection.discourse import (
    dangling_pronoun,
    dependent_opener,
    is_backchannel,
    is_cased,
    is_question,
    open_ending,
    starts_lowercase,
)
from media.selection.disfluency import disfluent_count
from media.selection.prosody import SentenceProsody
from media.selection.topics import Topics, content_terms, idf_weights, is_shift_cue
from media.transcript.records import Sentence, Transcript

WEIGHTS = {
    "salience": 0.25,
    "self_contained": 0.25,
    "structure": 0.15,
    "cohesion": 0.15,
    "delivery": 0.1,
    "length": 0.1,
}

# Talk about the show rather than the subject: greetings, thanks, plugs, sign-offs.
HOUSEKEEPING = re.compile(
    r"\b(?:welcome (?:back|to)|thanks? (?:you )?for (?:having|joining|listening|watching)|"
    r"today (?:i am|i'm|we are|we're) (?:talking|joined|speaking)|subscribe|sponsor|"
    r"see you next (?:time|week)|that's all for today|let's get started)\b",
    re.I,
)
_TERMINAL = re.compile(r"[.!?…][\"')\]]*$")


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
    continuation: tuple[bool, ...]  # the rest of a sentence begun before (see _continuations)
    open_end: tuple[str, ...]  # the word it breaks off on ("Yeah, but."), "" if whole
    disfluent_words: npt.NDArray[np.int64]  # prefix sums of fillers and false starts
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
    punctuated = any(finished)
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
        continuation=_continuations(sents, finished if punctuated else None),
        open_end=tuple(open_ending(s.text) for s in sents),
        disfluent_words=np.concatenate([[0], np.cumsum([disfluent_count(s.text) for s in sents])]),
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


def _continuations(sents: Sequence[Sentence], finished: Sequence[bool] | None) -> tuple[bool, ...]:
    """Sentences that carry on one begun before: in a cased transcript, a lower-case start;
    in a punctuated one, the previous sentence (same speaker) stopped without a full stop, as
    where Whisper ends a segment mid-sentence."""
    cased = is_cased([s.text for s in sents])
    out = []
    for i, s in enumerate(sents):
        lower = cased and starts_lowercase(s.text)
        after_unfinished = (
            finished is not None
            and i > 0
            and not finished[i - 1]
            and sents[i - 1].speaker == s.speaker
        )
        out.append(lower or after_unfinished)
    return tuple(out)


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
    disfluent = int(rec.disfluent_words[last + 1] - rec.disfluent_words[first])
    # One word in ten a filler or a restart costs 0.3: chat has ~0.05, a stumbling take 0.2+.
    fluency = max(0.0, 1.0 - 3.0 * disfluent / n_words)
    out = {k: round(v, 3) for k, v in sub.items()}
    out["fluency"] = round(fluency, 3)
    # Talk, not footage: under ~1.2 words a second over the whole clip it is mostly silence,
    # music or speech the recogniser could not hear (a 16 s window holding "Where is it? Good
    # Lord." in a film), which nobody posts. Chat runs at 2-3 words a second.
    talk = min(1.0, n_words / max(dur, 1e-9) / 1.2)
    out["talk"] = round(talk, 3)
    mean = sum(WEIGHTS[k] * v for k, v in sub.items())
    gate = math.sqrt(sub["self_contained"] * sub["cohesion"]) * (1 + fluency) / 2 * talk
    out["total"] = round(mean * gate, 4)
    return out


def self_contained(rec: Recording, first: int, last: int) -> float:
    """1.0 for a window that needs nothing outside it; each missing piece multiplies it down."""
    sents = rec.sentences
    score = 1.0
    if rec.opener[first]:
        score *= 0.3
    if rec.pronoun[first]:
        score *= 0.4
    if rec.continuation[first]:
        score *= 0.4  # starts in the middle of a sentence
    before = _previous_main(rec, first)
    if before is not None and rec.question[before] and not rec.question[first]:
        # An answer whose question was cut off; with one voice (or none named) it may be the
        # speaker's own rhetorical question, still the setup the answer needs.
        score *= 0.5 if sents[before].speaker != sents[first].speaker else 0.6
    if rec.question[last]:
        score *= 0.5  # a question whose answer was cut off
    elif rec.open_end[last] or not rec.finished[last]:
        score *= 0.6  # the last sentence trails off
    elif rec.backchannel[last] and last > first:
        # Ends on "Okay." or "Interesting.": a reply to a question may close the pair.
        score *= 0.8 if rec.question[last - 1] else 0.35
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
    # With no speakers named, a question followed by a statement is most likely its answer.
    unnamed = not any(speakers) and any(
        rec.question[q] and any(not rec.question[b] for b in main[k + 1 :])
        for k, q in enumerate(main)
    )
    runs = 1 + sum(1 for a, b in zip(speakers, speakers[1:], strict=False) if a != b)
    if answered:
        score = 1.0
    elif unnamed:
        score = 0.95
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


def sentence_weights(rec: Recording, first: int, last: int) -> list[tuple[str, float]]:
    """Each sentence of the window with how well it could name the clip: density of this
    recording's salient terms, questions favoured (the question a clip answers is a good hook),
    sentences that lean on context or announce the subject instead of saying something
    disfavoured, back-channels and fragments under four words negative. For
    :func:`media.selection.titles.headline`."""

    def weight(i: int) -> float:
        n = int(rec.word_count[i + 1] - rec.word_count[i])
        fluent = n - int(rec.disfluent_words[i + 1] - rec.disfluent_words[i])
        if rec.backchannel[i] or fluent < 4:
            return -1.0
        w = float(rec.idf_mass[i + 1] - rec.idf_mass[i]) / n
        if rec.question[i]:
            w *= 1.3
        if rec.pronoun[i] or rec.opener[i] or rec.shift_cue[i] or rec.continuation[i]:
            w *= 0.6
        return w

    return [(rec.sentences[i].text, weight(i)) for i in range(first, last + 1)]
