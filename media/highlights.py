"""Highlight selection: candidate windows on sentence boundaries, scored, then picked.

Pure logic over a :class:`Transcript`. Every clip starts at a sentence start and ends at a
sentence end, so no word and no sentence is ever cut; the scores that ranked it are kept so
the report can explain the choice.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from media.transcript import Sentence, Transcript

# Openings that lean on earlier context: a clip starting with them is not self-contained.
_DEPENDENT_OPENERS = {
    "and",
    "but",
    "so",
    "because",
    "or",
    "also",
    "then",
    "which",
    "that's",
    "thats",
    "it's",
    "its",
    "it",
    "this",
    "these",
    "those",
    "they",
    "them",
    "he",
    "she",
    "his",
    "her",
    "their",
    "there",
    "yeah",
    "yes",
    "no",
    "right",
    "exactly",
    "well",
    "anyway",
    "plus",
    "though",
}
_STOPWORDS = set(
    """a an the and or but if then so of to in on at by for with from as is are was
were be been being it its it's this that these those i you he she we they me him her us them my
your his our their what which who whom whose when where why how not no yes do does did done have
has had having can could would should will shall may might must just very really also too about
into over under again more most some any all each other such only own same than there here out up
down off am im i'm you're we're they're that's there's don't doesn't didn't isn't aren't wasn't
weren't can't won't one two get got like know think going go well yeah oh um uh okay ok right
thing things lot kind sort actually""".split()
)
_WORD = re.compile(r"[a-z][a-z'-]+")


@dataclass(frozen=True, slots=True)
class ClipPlan:
    """One chosen clip: source-time bounds, what is said, and why it was chosen."""

    index: int
    start_s: float
    end_s: float
    text: str
    score: float
    speaker: str
    first_sentence: int
    last_sentence: int
    title: str = ""
    sub_scores: dict[str, float] = field(default_factory=dict)

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
    min_score: float = 0.15


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 2]


def _idf(sentences: tuple[Sentence, ...]) -> dict[str, float]:
    docs = [set(_terms(s.text)) for s in sentences]
    df = Counter(t for d in docs for t in d)
    n = max(1, len(docs))
    return {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}


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


def _score(
    transcript: Transcript,
    sents: tuple[Sentence, ...],
    idf: dict[str, float],
    rules: SelectionRules,
) -> dict[str, float]:
    text = " ".join(s.text for s in sents)
    terms = _terms(text)
    # Salience: the mean IDF weight of the window's most distinctive terms (0..1).
    top = sorted((idf.get(t, 0.0) for t in set(terms)), reverse=True)[:12]
    max_idf = max(idf.values(), default=1.0)
    salience = (sum(top) / (len(top) * max_idf)) if top else 0.0
    # Cohesion: how much the window's sentences share vocabulary (one topic, not a medley).
    sets = [set(_terms(s.text)) for s in sents]
    pairs = [(a, b) for i, a in enumerate(sets) for b in sets[i + 1 : i + 3] if a and b]
    cohesion = (sum(len(a & b) / len(a | b) for a, b in pairs) / len(pairs)) if pairs else 0.0
    cohesion = min(1.0, cohesion * 4)
    # Self-containedness: no dependent opening; ends on a finished sentence.
    opener = (sents[0].text.split() or [""])[0].lower().strip(",.;:!?\"'")
    contained = 0.0 if opener in _DEPENDENT_OPENERS else 1.0
    if sents[-1].text.rstrip().endswith("?"):
        contained *= 0.5  # a question left unanswered
    # Structure: one speaker's complete point, or a question answered inside the clip.
    speakers = [s.speaker for s in sents]
    qa_pair = any(
        a.text.rstrip().endswith("?") and b.speaker != a.speaker
        for a, b in zip(sents, sents[1:], strict=False)
    )
    switches = sum(1 for a, b in zip(speakers, speakers[1:], strict=False) if a != b)
    structure = 1.0 if qa_pair or switches == 0 else max(0.0, 1.0 - 0.25 * switches)
    # Delivery: comfortable speech rate (words per second around 2.5).
    dur = sents[-1].end_s - sents[0].start_s
    n_words = sum(s.last_word - s.first_word + 1 for s in sents)
    rate = n_words / dur if dur > 0 else 0.0
    delivery = math.exp(-((rate - 2.6) ** 2) / 2.0)
    # Length: a preference for 25–50 s, the length people finish watching.
    length = 1.0 if 25 <= dur <= 50 else math.exp(-min(abs(dur - 25), abs(dur - 50)) / 15)
    total = (
        0.35 * salience
        + 0.2 * cohesion
        + 0.2 * contained
        + 0.1 * structure
        + 0.05 * delivery
        + 0.1 * length
    )
    return {
        "salience": round(salience, 3),
        "cohesion": round(cohesion, 3),
        "self_contained": contained,
        "structure": round(structure, 3),
        "delivery": round(delivery, 3),
        "length": round(length, 3),
        "total": round(total, 4),
    }


def candidates(transcript: Transcript, rules: SelectionRules) -> list[ClipPlan]:
    """Every window of whole sentences whose bounds fit in [min_clip_s, max_clip_s]."""
    sents = transcript.sentences
    idf = _idf(sents)
    out: list[ClipPlan] = []
    for i, first in enumerate(sents):
        for j in range(i, len(sents)):
            start, end = clip_bounds(transcript, first, sents[j], rules)
            if end - start > rules.max_clip_s:
                break
            if end - start < rules.min_clip_s:
                continue
            window = sents[i : j + 1]
            sub = _score(transcript, window, idf, rules)
            speaker = Counter(s.speaker for s in window).most_common(1)[0][0]
            out.append(
                ClipPlan(
                    0,
                    start,
                    end,
                    " ".join(s.text for s in window),
                    sub["total"],
                    speaker,
                    i,
                    j,
                    sub_scores=sub,
                )
            )
    return out


def _title(text: str, idf: dict[str, float]) -> str:
    terms = Counter(_terms(text))
    ranked = sorted(terms, key=lambda t: -terms[t] * idf.get(t, 1.0))[:3]
    return " · ".join(t.capitalize() for t in ranked) or text[:40]


def pick_apart(
    pool: list[ClipPlan], *, limit: int, min_gap_s: float, min_score: float = -math.inf
) -> list[ClipPlan]:
    """Greedy by score: at most ``limit`` windows, none overlapping, each ``min_gap_s`` from
    the others, none scoring below ``min_score``; returned in time order."""
    chosen: list[ClipPlan] = []
    for cand in sorted(pool, key=lambda c: (-c.score, c.start_s)):
        if len(chosen) >= limit or cand.score < min_score:
            break
        clash = any(
            cand.start_s < c.end_s + min_gap_s and c.start_s < cand.end_s + min_gap_s
            for c in chosen
        )
        if not clash:
            chosen.append(cand)
    return sorted(chosen, key=lambda c: c.start_s)


def select(transcript: Transcript, rules: SelectionRules) -> list[ClipPlan]:
    """Top-scoring, non-overlapping windows at least ``min_gap_s`` apart, in time order."""
    idf = _idf(transcript.sentences)
    chosen = pick_apart(
        candidates(transcript, rules),
        limit=rules.max_clips,
        min_gap_s=rules.min_gap_s,
        min_score=rules.min_score,
    )
    return [
        ClipPlan(
            k + 1,
            c.start_s,
            c.end_s,
            c.text,
            c.score,
            c.speaker,
            c.first_sentence,
            c.last_sentence,
            _title(c.text, idf),
            c.sub_scores,
        )
        for k, c in enumerate(chosen)
    ]


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
