"""Highlight selection: candidate windows on sentence boundaries, scored, then picked.

Pure logic over a :class:`Transcript`. Every clip starts at a sentence start and ends at a
sentence end, so no word and no sentence is ever cut. Windows are scored by
:mod:`media.selection.scoring` (salience, self-containedness, structure, topic cohesion, delivery,
length; the sub-scores stay on the plan so the report can explain the choice) over the topic
segments of :mod:`media.selection.topics`; the pick spreads the clips across topics.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from media.selection import scoring
from media.selection.prosody import SentenceProsody
from media.selection.titles import headline
from media.selection.topics import Topics, VectorKind, segment
from media.selection.topics import words as tokens
from media.transcript.records import Sentence, Transcript


@dataclass(frozen=True, slots=True)
class ClipPlan:
    """One chosen clip: source-time bounds, what is said, and why it was chosen."""

    index: int
    start_s: float
    end_s: float
    text: str
    score: float
    speaker: str  # who says most of it
    first_sentence: int
    last_sentence: int
    title: str = ""
    sub_scores: dict[str, float] = field(default_factory=dict, hash=False)
    speakers: tuple[str, ...] = ()  # everyone heard in it, in order of first words
    topic: int = -1  # topic id (media.selection.topics.Topics.topic) of most of its sentences

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class SelectionRules:
    max_clips: int = 5
    min_clip_s: float = 15.0
    max_clip_s: float = 60.0
    min_gap_s: float = 5.0
    lead_in_s: float = 0.25
    tail_out_s: float = 0.4
    min_score: float = 0.55  # the quality floor: fewer clips rather than weak ones


def clip_bounds(
    transcript: Transcript, first: Sentence, last: Sentence, rules: SelectionRules
) -> tuple[float, float]:
    """Start at the first word minus ≤ lead-in of silence, end at the last word plus ≤ tail."""
    words = transcript.words
    prev_end = words[first.first_word - 1].end_s if first.first_word > 0 else 0.0
    next_start = (
        words[last.last_word + 1].start_s
        if last.last_word + 1 < len(words)
        else last.end_s + rules.tail_out_s
    )
    start = first.start_s - min(rules.lead_in_s, max(0.0, first.start_s - prev_end))
    end = last.end_s + min(rules.tail_out_s, max(0.0, next_start - last.end_s))
    return round(max(0.0, start), 3), round(end, 3)


def candidates(
    transcript: Transcript,
    rules: SelectionRules,
    *,
    vectors: VectorKind = "auto",
    prosody: Sequence[SentenceProsody] | None = None,
    topics: Topics | None = None,
) -> list[ClipPlan]:
    """Every window of whole sentences whose bounds fit in [min_clip_s, max_clip_s], scored.

    ``topics`` defaults to :func:`media.selection.topics.segment` with ``vectors``; ``prosody`` (one
    per sentence, :func:`media.selection.prosody.sentence_prosody`) adds pitch and loudness to
    delivery.
    """
    sents = transcript.sentences
    if topics is None:
        topics = segment(transcript, vectors=vectors)
    rec = scoring.recording(transcript, topics, prosody)
    out: list[ClipPlan] = []
    for i, first in enumerate(sents):
        for j in range(i, len(sents)):
            start, end = clip_bounds(transcript, first, sents[j], rules)
            if end - start > rules.max_clip_s:
                break
            if end - start < rules.min_clip_s or rec.question[j]:
                continue  # too short, or a question whose answer is cut off: never a clip
            sub = scoring.score_window(rec, i, j, start, end)
            out.append(_plan(rec, transcript, i, j, start, end, sub))
    return out


def _plan(
    rec: scoring.Recording,
    transcript: Transcript,
    i: int,
    j: int,
    start: float,
    end: float,
    sub: dict[str, float],
) -> ClipPlan:
    window = transcript.sentences[i : j + 1]
    spoken: Counter[str] = Counter()
    topic_words: Counter[int] = Counter()
    for s in window:
        n = s.last_word - s.first_word + 1
        spoken[s.speaker] += n
        topic_words[rec.topics.topic[s.index]] += n
    return ClipPlan(
        index=0,
        start_s=start,
        end_s=end,
        text=" ".join(s.text for s in window),
        score=sub["total"],
        speaker=spoken.most_common(1)[0][0],
        first_sentence=i,
        last_sentence=j,
        title=headline(scoring.sentence_weights(rec, i, j)),
        sub_scores=sub,
        speakers=tuple(dict.fromkeys(s.speaker for s in window)),
        topic=topic_words.most_common(1)[0][0],
    )


def _shingles(text: str) -> set[tuple[str, ...]]:
    seq = tokens(text)
    return {tuple(seq[k : k + 3]) for k in range(max(1, len(seq) - 2))}


def _repeats(a: ClipPlan, b: ClipPlan) -> bool:
    """Mostly the same words (a speaker telling the same story twice, or the same passage
    again): overlap coefficient of word trigrams of at least one half, or a Jaccard index of
    the word sets of at least one half."""
    sa, sb = _shingles(a.text), _shingles(b.text)
    if sa and sb and len(sa & sb) / min(len(sa), len(sb)) >= 0.5:
        return True
    wa, wb = set(tokens(a.text)), set(tokens(b.text))
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= 0.5


def pick_apart(
    pool: list[ClipPlan], *, limit: int, min_gap_s: float, min_score: float = -math.inf
) -> list[ClipPlan]:
    """Greedy by score: at most ``limit`` windows, none overlapping, each ``min_gap_s`` from
    the others, none scoring below ``min_score`` and none repeating a chosen one's words
    (:func:`_repeats`); returned in time order.

    Topics first: one clip per topic until no topic has another candidate over the floor,
    then the best of the rest whatever their topic.
    """
    ranked = sorted((c for c in pool if c.score >= min_score), key=lambda c: (-c.score, c.start_s))
    chosen: list[ClipPlan] = []
    for one_per_topic in (True, False):
        for cand in ranked:
            if len(chosen) >= limit:
                break
            if one_per_topic and any(c.topic == cand.topic for c in chosen):
                continue
            clash = any(
                cand.start_s < c.end_s + min_gap_s and c.start_s < cand.end_s + min_gap_s
                for c in chosen
            )
            if not clash and not any(_repeats(cand, c) for c in chosen):
                chosen.append(cand)
    return sorted(chosen, key=lambda c: c.start_s)


def select(
    transcript: Transcript,
    rules: SelectionRules,
    *,
    vectors: VectorKind = "auto",
    prosody: Sequence[SentenceProsody] | None = None,
) -> list[ClipPlan]:
    """Up to ``max_clips`` clips over the ``min_score`` floor, spread across topics,
    non-overlapping and ``min_gap_s`` apart, numbered 1..n in time order."""
    return pick(candidates(transcript, rules, vectors=vectors, prosody=prosody), rules)


def pick(pool: list[ClipPlan], rules: SelectionRules) -> list[ClipPlan]:
    """:func:`select`'s choice among already scored candidates (``pool``)."""
    chosen = pick_apart(
        pool,
        limit=rules.max_clips,
        min_gap_s=rules.min_gap_s,
        min_score=rules.min_score,
    )
    return [replace(c, index=k) for k, c in enumerate(chosen, start=1)]


def boundary_clean(transcript: Transcript, start_s: float, end_s: float) -> bool:
    """True when no word straddles either bound and the clip starts at a sentence start."""
    for w in transcript.words:
        if w.start_s < start_s < w.end_s or w.start_s < end_s < w.end_s:
            return False
    inside = [w for w in transcript.words if w.start_s >= start_s and w.end_s <= end_s]
    if not inside:
        return False
    starts = {s.first_word for s in transcript.sentences}
    first_index = transcript.words.index(inside[0])
    return first_index in starts
