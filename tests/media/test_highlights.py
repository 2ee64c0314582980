"""Clip selection rules: bounds, sentence boundaries, overlap, gap, count, ranking."""

from __future__ import annotations

import pytest

from media.highlights import SelectionRules, boundary_clean, candidates, clip_bounds, select
from media.transcript import Word, from_words


def _transcript(sentences: list[tuple[str, str]], *, word_s=0.35, gap_s=0.1, pause_s=0.6):
    """Words laid out in time: (speaker, sentence) pairs, fixed word and pause lengths."""
    words, t = [], 0.5
    for speaker, text in sentences:
        for tok in text.split():
            words.append(Word(tok, round(t, 3), round(t + word_s, 3), speaker))
            t += word_s + gap_s
        t += pause_s
    return from_words(words, source="test")


TOPIC_A = "Compost needs nitrogen rich greens and carbon rich browns in balance."
TOPIC_B = "Rocket engines burn liquid oxygen with kerosene at enormous chamber pressure."
FILLER = "And so yeah that was it really."


def _long_recording():
    script = []
    for _ in range(6):
        script += [("Alice", TOPIC_A), ("Alice", TOPIC_A.replace("balance", "harmony"))]
    script += [("Bob", FILLER)] * 6
    for _ in range(6):
        script += [("Bob", TOPIC_B), ("Bob", TOPIC_B.replace("enormous", "huge"))]
    return _transcript(script)


def test_every_candidate_is_whole_sentences_within_bounds() -> None:
    t = _long_recording()
    rules = SelectionRules()
    cands = candidates(t, rules)
    assert cands
    starts = {s.start_s for s in t.sentences}
    for c in cands:
        assert rules.min_clip_s <= c.duration_s <= rules.max_clip_s
        assert boundary_clean(t, c.start_s, c.end_s)
        assert any(abs(c.start_s + rules.lead_in_s - s) < 0.26 or c.start_s == s for s in starts)


def test_selection_is_non_overlapping_gapped_ranked_and_capped() -> None:
    t = _long_recording()
    rules = SelectionRules(max_clips=3, min_gap_s=5.0)
    chosen = select(t, rules)
    assert 1 <= len(chosen) <= 3
    assert [c.index for c in chosen] == list(range(1, len(chosen) + 1))
    for a, b in zip(chosen, chosen[1:], strict=False):
        assert b.start_s >= a.end_s + rules.min_gap_s
    # Filler talk that opens with "And so yeah" never leads a clip.
    assert not any(c.text.startswith("And so") for c in chosen)
    assert all(c.sub_scores["total"] == pytest.approx(c.score) for c in chosen)


def test_too_short_recording_gives_no_clip() -> None:
    t = _transcript([("A", "Short and sweet.")])
    assert select(t, SelectionRules()) == []


@pytest.mark.parametrize(
    ("gap_before", "gap_after", "lead", "tail"),
    [
        (2.0, 2.0, 0.25, 0.4),  # room on both sides: full lead-in and tail
        (0.1, 0.2, 0.1, 0.2),
    ],  # tight: never reaches into the neighbouring words
)
def test_bounds_never_cut_a_neighbouring_word(gap_before, gap_after, lead, tail) -> None:
    words = [
        Word("before.", 0.0, 1.0, "A"),
        Word("Middle", 1.0 + gap_before, 1.5 + gap_before, "A"),
        Word("sentence.", 1.6 + gap_before, 2.0 + gap_before, "A"),
        Word("After.", 2.0 + gap_before + gap_after, 3.0 + gap_before + gap_after, "A"),
    ]
    t = from_words(words, source="test")
    start, end = clip_bounds(t, t.sentences[1], t.sentences[1], SelectionRules())
    assert start == pytest.approx(words[1].start_s - lead)
    assert end == pytest.approx(words[2].end_s + tail)
    assert boundary_clean(t, start, end)


def test_boundary_clean_detects_cut_words() -> None:
    t = _transcript([("A", "One two three."), ("A", "Four five six.")])
    w = t.words
    assert not boundary_clean(t, (w[0].start_s + w[0].end_s) / 2, w[2].end_s)
    assert not boundary_clean(t, w[0].start_s, (w[5].start_s + w[5].end_s) / 2)
    assert not boundary_clean(t, w[1].start_s, w[2].end_s)  # not at a sentence start
    assert boundary_clean(t, w[3].start_s, w[5].end_s)
