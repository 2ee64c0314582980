"""Scorer cases written the way real conversation comes out of Whisper or a human
transcriber: dependent openers, fillers, false starts, a question and its answer, endings
that leave the thought open, the same passage twice, sentences continued from the one before."""

from __future__ import annotations

import pytest

from media.selection import scoring
from media.selection.candidates import ClipPlan, SelectionRules, candidates, clip_bounds, pick_apart
from media.selection.discourse import dependent_opener, open_ending
from media.selection.disfluency import disfluent_count, fluent_text
from media.selection.topics import segment
from media.transcript.records import Transcript, Word, from_words

POINT = [
    "The diner sits right where the highway meets the old county road.",
    "Every truck heading north stops there for fuel before the long climb.",
    "The owner keeps the only working gas pump for thirty miles around.",
    "Drivers plan their whole night around reaching that pump before it closes.",
]


def _transcript(lines: list[tuple[str, str]], pause_s: float = 0.6) -> Transcript:
    words, t = [], 0.5
    for speaker, text in lines:
        for token in text.split():
            words.append(Word(token, round(t, 3), round(t + 0.3, 3), speaker))
            t += 0.4
        t += pause_s
    return from_words(words, source="test")


def _score(
    lines: list[tuple[str, str]], first: int, last: int, pause_s: float = 0.6
) -> dict[str, float]:
    t = _transcript(lines, pause_s)
    rec = scoring.recording(t, segment(t, vectors="tfidf"))
    start, end = clip_bounds(t, t.sentences[first], t.sentences[last], SelectionRules())
    return scoring.score_window(rec, first, last, start, end)


def _by(speaker: str, texts: list[str]) -> list[tuple[str, str]]:
    return [(speaker, x) for x in texts]


# --- fillers and false starts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "disfluent", "fluent"),
    [
        ("Um, the pump, uh, is closed.", 2, "the pump, is closed."),
        ("He's wrong, you know.", 2, "He's wrong."),
        ("I thought you know, I heard a beep.", 2, "I thought I heard a beep."),
        ("I mean, is it far?", 2, "is it far?"),
        ("It was, like, a thing.", 1, "It was, a thing."),
        ("We were, we were going home.", 2, "we were going home."),
        ("burned and and and buried", 2, "burned and buried"),
        # Words that only look like fillers.
        ("You know the way.", 0, "You know the way."),
        ("I mean it.", 0, "I mean it."),
        ("You know what I mean.", 0, "You know what I mean."),
        ("It's like meditating.", 0, "It's like meditating."),
    ],
)
def test_fillers_and_false_starts_are_found(text: str, disfluent: int, fluent: str) -> None:
    assert disfluent_count(text) == disfluent
    assert fluent_text(text) == fluent


def test_a_window_dense_in_fillers_scores_lower_than_the_same_point_said_cleanly() -> None:
    stumbling = [
        "Um, the diner, uh, sits right where the, the highway meets the old county road.",
        "Every truck, you know, heading north, um, stops there for, for fuel.",
        "The owner, uh, keeps the only, the only working gas pump, you know.",
        "Drivers, um, they plan their whole night around, uh, reaching that pump.",
    ]
    clean = _score(_by("A", POINT), 0, 3)
    messy = _score(_by("A", stumbling), 0, 3)
    assert clean["fluency"] == 1.0 and messy["fluency"] < 0.5
    assert messy["total"] < clean["total"] * 0.85


# --- openers and continuations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "opener"),
    [
        ("Um, and so the pump closed.", "and"),
        ("Because nobody else had fuel.", "because"),
        ("Which is why they stopped.", "which"),
        ("However, the reports persisted.", "however"),
        ("Still, you're the man.", "still"),
        ("That's why it matters.", "that's why"),
        ("Drivers plan their night.", ""),
    ],
)
def test_dependent_openers_look_through_fillers(text: str, opener: str) -> None:
    assert dependent_opener(text) == opener


@pytest.mark.parametrize(
    "lead", ["And the owner is proud of it.", "It changed everything for them.", "Which is odd."]
)
def test_a_dependent_opener_costs_but_stays_possible(lead: str) -> None:
    clean = _score(_by("A", POINT), 0, 3)
    leaning = _score(_by("A", [lead, *POINT]), 0, 4)
    assert 0 < leaning["self_contained"] < clean["self_contained"] == 1.0
    assert leaning["total"] < clean["total"]


def test_a_sentence_continued_from_the_one_before_is_a_poor_start() -> None:
    # A long pause mid-sentence (Whisper ends a segment there); the rest starts lower-case.
    split = [
        "Drivers told us the diner sits right where",
        "the highway meets the county road.",
        *POINT[1:],
    ]
    first_half = _score(_by("A", split), 0, 4, pause_s=2.0)
    second_half = _score(_by("A", split), 1, 4, pause_s=2.0)
    assert second_half["self_contained"] < 0.5 < first_half["self_contained"]


# --- questions and answers ---------------------------------------------------------------------

QUESTION = "Where is the nearest working gas pump around here?"


def test_a_question_answered_by_another_speaker_is_the_strongest_structure() -> None:
    lines = [("Ben", QUESTION), *_by("Judy", POINT)]
    assert _score(lines, 0, 4)["structure"] == 1.0
    # Unknown speakers (no diarization): a question and the statements after it still pair.
    assert _score([("", QUESTION), *_by("", POINT)], 0, 4)["structure"] == 0.95


def test_an_answer_without_its_question_is_penalised() -> None:
    lines = [("Ben", QUESTION), *_by("Judy", POINT)]
    assert _score(lines, 1, 4)["self_contained"] < _score(lines, 0, 4)["self_contained"]


def test_no_candidate_ends_on_a_question() -> None:
    lines = [*_by("A", POINT * 2), ("B", QUESTION), *_by("A", POINT), ("B", "Is that so?")]
    t = _transcript(lines)
    pool = candidates(t, SelectionRules(min_clip_s=5.0), vectors="tfidf")
    assert pool
    assert not any(c.text.rstrip().endswith("?") for c in pool)
    # The question is only ever in a clip with (the start of) its answer.
    assert any(QUESTION in c.text for c in pool)


# --- endings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "open_word"),
    [
        ("Yeah, but.", "but"),
        ("and then we went to the", "the"),
        ("Yeah, so.", "so"),
        ("I think so.", ""),
        ("Okay.", ""),
        ("It's closer to the truck.", ""),
    ],
)
def test_endings_that_break_off(text: str, open_word: str) -> None:
    assert open_ending(text) == open_word


@pytest.mark.parametrize("tail", ["Interesting.", "Okay.", "Yeah.", "Yeah, but."])
def test_a_clip_ending_on_a_reply_or_a_trailing_conjunction_scores_lower(tail: str) -> None:
    lines = [*_by("A", POINT), ("A", tail)]
    whole = _score(lines, 0, 3)
    trailing = _score(lines, 0, 4)
    assert trailing["self_contained"] < whole["self_contained"]
    assert trailing["total"] < whole["total"]


def test_a_yes_that_answers_a_question_is_a_lesser_fault_than_a_bare_okay() -> None:
    answered = _score([*_by("A", POINT), ("A", "Is there a cellar?"), ("B", "Yes.")], 0, 5)
    bare = _score([*_by("A", POINT), ("A", "The cellar is dry."), ("B", "Okay.")], 0, 5)
    assert answered["self_contained"] > bare["self_contained"]


# --- the same passage twice ------------------------------------------------------------------


def _plan(start: float, text: str, score: float) -> ClipPlan:
    return ClipPlan(0, start, start + 20.0, text, score, "A", 0, 0, topic=int(start))


def test_a_passage_told_again_in_other_words_order_is_not_picked_twice() -> None:
    story = " ".join(POINT)
    # The same words reshuffled: no trigram in common, the same word set (Jaccard 1.0).
    retold = " ".join(reversed(story.split()))
    other = "Rocket engines burn liquid oxygen with kerosene at enormous chamber pressure."
    pool = [_plan(0.0, story, 0.9), _plan(300.0, retold, 0.85), _plan(600.0, other, 0.5)]
    assert [c.start_s for c in pick_apart(pool, limit=3, min_gap_s=5.0)] == [0.0, 600.0]


def test_overlapping_windows_are_never_both_picked() -> None:
    pool = [_plan(0.0, POINT[0], 0.9), _plan(10.0, POINT[1], 0.8), _plan(40.0, POINT[2], 0.7)]
    assert [c.start_s for c in pick_apart(pool, limit=3, min_gap_s=5.0)] == [0.0, 40.0]


# --- talk, not footage ---------------------------------------------------------------------


def test_a_window_that_is_mostly_silence_scores_below_the_floor() -> None:
    """Two short lines 14 s apart (music, or speech nobody could hear, between them) against
    the same lines said in conversation."""
    lines = [("A", "Where is it?"), ("A", "Good Lord.")]
    sparse = _score(lines, 0, 1, pause_s=14.0)
    dense = _score(_by("A", POINT), 0, 3)
    assert sparse["talk"] < 0.3 and dense["talk"] == 1.0
    assert sparse["total"] < SelectionRules().min_score < dense["total"]
