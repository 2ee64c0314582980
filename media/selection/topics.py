"""Topic segmentation of a transcript: TextTiling over sentence vectors.

Hearst's TextTiling (Computational Linguistics 23(1), 1997) with sentences as the token
sequences: compare the vectors of the k sentences before and after every gap (cosine), smooth
the similarity curve, score each valley by its depth (how far it sits below the peaks on either
side) and cut where the depth exceeds mean - std/2. Cuts keep a minimum topic length and move to
a nearby sentence that announces a new subject ("Let's talk about ..."), else to a nearby change
of speaker. Sentence vectors are all-MiniLM-L6-v2 embeddings (:mod:`media.selection.embeddings`)
or, without the model, TF-IDF over the transcript's own sentences. Segments that come back to an
earlier subject share its topic id. Pure and deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from media.transcript.records import Transcript

VectorKind = Literal["auto", "minilm", "tfidf"]

STOPWORDS = frozenset(
    """a an the and or but if then so of to in on at by for with from as is are was
were be been being it its it's this that these those i you he she we they me him her us them my
your his our their what which who whom whose when where why how not no yes do does did done have
has had having can could would should will shall may might must just very really also too about
into over under again more most some any all each other such only own same than there here out up
down off am im i'm you're we're they're that's there's don't doesn't didn't isn't aren't wasn't
weren't can't won't one two get got like know think going go well yeah oh um uh okay ok right
thing things lot kind sort actually let's let us say said much many way want make made""".split()
)
# Centroid cosine at which a segment rejoins an earlier topic. Measured on the sample's
# 45-minute scripts: different topics' segments reach 0.58 (MiniLM) / 0.42 (TF-IDF) at the
# 99th percentile; the same topic's, 0.89 / 0.39 at the 5th (0.97 / 0.76 at the 25th).
SAME_TOPIC = {"minilm": 0.85, "tfidf": 0.5}
_WORD = re.compile(r"[a-z][a-z'-]+")
# Valleys shallower than this (in cosine) are noise, whatever Hearst's relative cutoff says:
# with one real change in a recording, the cutoff falls below zero. True changes in the
# sample measure 0.024 and up with TF-IDF, 0.08 and up with MiniLM.
MIN_DEPTH = 0.02
# Phrases that announce a new subject, a strong boundary cue in spoken discourse (Passonneau &
# Litman, Computational Linguistics 23(1), 1997), matched at the start of a sentence.
SHIFT_CUE = re.compile(
    r"^(?:(?:so|okay|ok|alright|all right|well|and|now)\b,?\s+)*"
    r"(?:let's (?:talk|move|switch|turn|start|get|change|go)\b|let us (?:talk|move|turn)\b|"
    r"moving on\b|switch(?:ing)? gears\b|on (?:a|another) (?:different )?(?:note|topic)\b|"
    r"changing the subject\b|(?:next|another) (?:question|topic|thing)\b|"
    r"(?:can|may) i ask you (?:something|about)\b|here(?: is|'s) (?:one|another|something)\b|"
    r"speaking of\b|now,)",
    re.I,
)


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A light plural/possessive stemmer, enough to match 'seeds' with 'seed'."""
    word = word.removesuffix("'s")
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def content_terms(text: str) -> list[str]:
    """The words that can carry a topic: stop words and short words dropped, stemmed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 2]


def idf_weights(docs: Sequence[Sequence[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency, ln((1 + n) / (1 + df)) + 1, over term lists."""
    df = Counter(t for d in docs for t in set(d))
    n = len(docs)
    return {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}


def tfidf_vectors(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """One TF-IDF row per text over the texts' own vocabulary (dense, n x vocabulary)."""
    docs = [content_terms(t) for t in texts]
    idf = idf_weights(docs)
    vocab = {t: i for i, t in enumerate(sorted(idf))}
    out = np.zeros((len(texts), max(1, len(vocab))), dtype=np.float64)
    for row, doc in enumerate(docs):
        for term, count in Counter(doc).items():
            out[row, vocab[term]] = count * idf[term]
    return out


def sentence_vectors(
    texts: Sequence[str], kind: VectorKind = "auto"
) -> tuple[npt.NDArray[np.float64], str]:
    """Vectors for ``texts`` and the method used: "minilm" when asked for (or "auto" and the
    model is installed), else "tfidf". Asking for "minilm" without the model raises."""
    if kind not in ("auto", "minilm", "tfidf"):
        raise ValueError(f"vectors={kind!r}: expected 'auto', 'minilm' or 'tfidf'")
    if kind == "minilm" or kind == "auto":
        from media.selection import embeddings

        if kind == "minilm" or embeddings.available():
            return embeddings.embed(texts).astype(np.float64), "minilm"
    return tfidf_vectors(texts), "tfidf"


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic segmentation of a transcript's sentences."""

    topic: tuple[int, ...]  # topic id per sentence; a segment returning to a subject reuses its id
    segment: tuple[int, ...]  # segment number per sentence: 0, 0, ..., 1, 1, ...
    boundaries: tuple[int, ...]  # sentence indices that start a new segment (0 excluded)
    method: str  # "minilm" or "tfidf" ("none" for a transcript without sentences)

    def spans(self) -> list[tuple[int, int]]:
        """(first, last) sentence index of every segment, inclusive, in order."""
        starts = [0, *self.boundaries]
        ends = [b - 1 for b in self.boundaries] + [len(self.segment) - 1]
        return list(zip(starts, ends, strict=True)) if self.segment else []


def _unit(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def gap_similarity(
    vectors: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], window: int
) -> npt.NDArray[np.float64]:
    """Cosine between the weighted sums of the ``window`` sentences either side of each gap.

    Gap g lies before sentence g (g = 1 .. n-1); element g-1 of the result is its similarity.
    """
    weighted = vectors * weights[:, None]
    cum = np.vstack([np.zeros((1, vectors.shape[1])), np.cumsum(weighted, axis=0)])
    n = len(vectors)
    gaps = np.arange(1, n)
    left = cum[gaps] - cum[np.maximum(0, gaps - window)]
    right = cum[np.minimum(n, gaps + window)] - cum[gaps]
    similarity: npt.NDArray[np.float64] = np.sum(_unit(left) * _unit(right), axis=1)
    return similarity


def depth_scores(similarity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Hearst's depth per gap: (left peak - s) + (right peak - s), climbing while it rises."""
    n = len(similarity)
    depth = np.zeros(n)
    for g in range(n):
        left = g
        while left > 0 and similarity[left - 1] >= similarity[left]:
            left -= 1
        right = g
        while right < n - 1 and similarity[right + 1] >= similarity[right]:
            right += 1
        depth[g] = (similarity[left] - similarity[g]) + (similarity[right] - similarity[g])
    return depth


def texttiling(
    vectors: npt.NDArray[np.float64],
    *,
    weights: npt.NDArray[np.float64] | None = None,
    window: int = 10,
    min_sentences: int = 8,
    speakers: Sequence[str] | None = None,
    cues: Sequence[bool] | None = None,
    snap: int = 3,
) -> list[int]:
    """Sentence indices that start a new topic, in order (TextTiling; see the module doc).

    ``weights`` scale each sentence's vector in the block sums (short back-channel sentences
    carry little topic). A cut moves to the nearest sentence at most ``snap`` away that
    ``cues`` marks as announcing a new subject ("Let's talk about ..."); failing that, a cut
    inside one speaker's run moves to a change of ``speakers`` at most 2 away that lies in the
    bottom half of the same valley.
    """
    n = len(vectors)
    if n < 2 * min_sentences:
        return []
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    raw = gap_similarity(np.asarray(vectors, dtype=np.float64), w, window)
    smooth = np.convolve(np.pad(raw, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    depth = depth_scores(smooth)
    cutoff = depth.mean() - depth.std() / 2  # Hearst's liberal cutoff
    valleys = [
        g
        for g in range(len(depth))
        if depth[g] > cutoff
        and depth[g] >= MIN_DEPTH
        and (g == 0 or smooth[g] <= smooth[g - 1])
        and (g == len(depth) - 1 or smooth[g] <= smooth[g + 1])
    ]
    chosen: list[int] = []
    for g in sorted(valleys, key=lambda g: (-depth[g], g)):  # deepest first
        cut = g + 1  # gap g lies before sentence g + 1
        cued = _nearest_cue(cut, cues, snap) if cues is not None else None
        if cued is not None:
            cut = cued
        elif speakers is not None and speakers[cut - 1] == speakers[cut]:
            cut = _snap_to_turn(cut, speakers, smooth, depth, 2)
        if min(cut, n - cut) < min_sentences:
            continue
        if all(abs(cut - c) >= min_sentences for c in chosen):
            chosen.append(cut)
    return sorted(chosen)


def _nearest_cue(cut: int, cues: Sequence[bool], snap: int) -> int | None:
    for offset in sorted(range(-snap, snap + 1), key=lambda o: (abs(o), o)):
        if 0 < cut + offset < len(cues) and cues[cut + offset]:
            return cut + offset
    return None


def _snap_to_turn(
    cut: int,
    speakers: Sequence[str],
    smooth: npt.NDArray[np.float64],
    depth: npt.NDArray[np.float64],
    snap: int,
) -> int:
    """The nearest start of a speaker's turn within ``snap`` sentences of ``cut`` whose gap
    lies in the bottom half of the same valley; ``cut`` itself when there is none."""
    floor = smooth[cut - 1] + depth[cut - 1] / 4  # depth counts both sides of the valley
    for offset in sorted(range(-snap, snap + 1), key=lambda o: (abs(o), o)):
        c = cut + offset
        if 0 < c < len(speakers) and speakers[c - 1] != speakers[c] and smooth[c - 1] <= floor:
            return c
    return cut


def _link_returning(
    vectors: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    spans: list[tuple[int, int]],
    threshold: float,
) -> list[int]:
    """Topic id per segment: a segment whose centroid is within ``threshold`` cosine of an
    earlier, non-adjacent segment's takes that segment's id (a speaker coming back to it)."""
    centroids = _unit(
        np.array([(vectors[a : b + 1] * weights[a : b + 1, None]).sum(0) for a, b in spans])
    )
    ids: list[int] = []
    for i, c in enumerate(centroids):
        earlier = [(float(c @ centroids[j]), j) for j in range(i - 1)]
        best = max(earlier, default=(-1.0, -1))
        ids.append(ids[best[1]] if best[0] >= threshold else max(ids, default=-1) + 1)
    return ids


def is_shift_cue(text: str) -> bool:
    """True when ``text`` opens by announcing a new subject ("Let's switch gears ...")."""
    return bool(SHIFT_CUE.match(text.strip()))


def sentence_weights(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """How much each sentence says about the topic: full weight from 8 words, "Right." ~0.1."""
    return np.array([min(1.0, max(1, len(words(t))) / 8) for t in texts])


def segment(
    transcript: Transcript,
    *,
    vectors: VectorKind = "auto",
    window: int = 10,
    min_sentences: int = 8,
    same_topic: float | None = None,
) -> Topics:
    """Topic segmentation of ``transcript``'s sentences (TextTiling; see the module doc).

    ``vectors`` picks the sentence vectors ("auto": MiniLM when installed, else TF-IDF);
    ``same_topic`` is the centroid cosine at which a later segment rejoins an earlier topic
    (default per method, :data:`SAME_TOPIC`).
    """
    if window < 1 or min_sentences < 1:
        raise ValueError(f"window={window}, min_sentences={min_sentences}: both must be >= 1")
    texts = [s.text for s in transcript.sentences]
    if not texts:
        return Topics((), (), (), "none")
    matrix, method = sentence_vectors(texts, vectors)
    w = sentence_weights(texts)
    cuts = texttiling(
        matrix,
        weights=w,
        window=window,
        min_sentences=min_sentences,
        speakers=[s.speaker for s in transcript.sentences],
        cues=[is_shift_cue(t) for t in texts],
    )
    seg = np.zeros(len(texts), dtype=int)
    for c in cuts:
        seg[c:] += 1
    spans = list(zip([0, *cuts], [c - 1 for c in cuts] + [len(texts) - 1], strict=True))
    threshold = SAME_TOPIC[method] if same_topic is None else same_topic
    ids = _link_returning(matrix, w, spans, threshold)
    topic = tuple(ids[s] for s in seg)
    return Topics(topic, tuple(int(s) for s in seg), tuple(cuts), method)
