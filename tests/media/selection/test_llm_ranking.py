"""LLM ranking, pure half: shortlist, prompt, answer checking and the plans built from picks."""

from __future__ import annotations

import json

import pytest

from media.selection.candidates import ClipPlan, SelectionRules, candidates, select
from media.selection.llm_ranking import (
    MAX_TITLE_CHARS,
    LlmAnswerError,
    apply_picks,
    build_messages,
    parse_answer,
    read_answer,
    shortlist,
)
from media.transcript.records import Word, from_words

TOPICS = [
    ("Alice", "Compost needs nitrogen rich greens and carbon rich browns in balance."),
    ("Bob", "Rocket engines burn liquid oxygen with kerosene at enormous chamber pressure."),
    ("Carol", "Sourdough starters ferment flour with wild yeast and lactic bacteria slowly."),
    ("Dan", "Glaciers carve valleys as compacted snow slides downhill under its own weight."),
]


def _recording():
    """Four topics, each eight sentences by one speaker (~70 s per topic)."""
    words, t = [], 0.5
    for speaker, text in TOPICS:
        for _ in range(8):
            for tok in text.split():
                words.append(Word(tok, round(t, 3), round(t + 0.35, 3), speaker))
                t += 0.45
            t += 0.6
    return from_words(words, source="test")


def _plan(index: int, start: float, end: float, speaker: str = "A") -> ClipPlan:
    return ClipPlan(
        index, start, end, f"clip {index} text.", 0.5, speaker, index, index, "", {"total": 0.5}
    )


# Hand-made shortlist: 2 overlaps 1 (as a caller might pass); 3 and 4 stand apart.
PLANS = [_plan(1, 0.0, 30.0), _plan(2, 20.0, 50.0), _plan(3, 60.0, 90.0), _plan(4, 100.0, 130.0)]


# --- shortlist ------------------------------------------------------------------------------------


def test_shortlist_is_best_non_overlapping_candidates_in_time_order() -> None:
    t, rules = _recording(), SelectionRules()
    short = shortlist(t, rules, k=6)
    assert 2 <= len(short) <= 6
    assert [c.index for c in short] == list(range(1, len(short) + 1))
    for a, b in zip(short, short[1:], strict=False):
        assert b.start_s >= a.end_s + rules.min_gap_s
    pool = candidates(t, rules)
    bounds = {(c.start_s, c.end_s, c.score) for c in pool}
    assert all((c.start_s, c.end_s, c.score) in bounds for c in short)
    # k=1 is the single best candidate.
    best = max(pool, key=lambda c: (c.score, -c.start_s))
    (top,) = shortlist(t, rules, k=1)
    assert (top.start_s, top.end_s) == (best.start_s, best.end_s)


def test_shortlist_has_no_score_floor() -> None:
    t, rules = _recording(), SelectionRules(min_score=1.0)
    assert select(t, rules) == []
    assert shortlist(t, rules, k=3)


def test_shortlist_rejects_empty_size() -> None:
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        shortlist(_recording(), SelectionRules(), k=0)


# --- messages -------------------------------------------------------------------------------------


def test_messages_ask_to_choose_numbered_candidates_as_json() -> None:
    messages = build_messages(PLANS, max_clips=3)
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert "CHOOSE" in system and "never invent" in system
    assert f"at most {MAX_TITLE_CHARS} characters" in system
    assert '{"picks": [{"id":' in system and "at most 3 picks" in system
    assert "[1] (30.0 s, A) clip 1 text." in user
    assert "[4] (30.0 s, A) clip 4 text." in user
    assert "at most 3" in user


def test_messages_name_unknown_speakers() -> None:
    plan = ClipPlan(1, 0.0, 20.0, "Hello there.", 0.4, "", 0, 0)
    assert "[1] (20.0 s, unknown speaker) Hello there." in build_messages([plan], 1)[1]["content"]


# --- parse_answer ---------------------------------------------------------------------------------


def _answer(*picks: tuple[object, object]) -> str:
    return json.dumps({"picks": [{"id": i, "title": t} for i, t in picks]})


@pytest.mark.parametrize(
    ("content", "max_clips", "expected"),
    [
        (_answer((3, "Three"), (1, "One")), 5, [(3, "Three"), (1, "One")]),
        ("```json\n" + _answer((4, "Four")) + "\n```", 5, [(4, "Four")]),
        ("Sure! Here you go:\n" + _answer((4, "Four")) + "\nHope that helps {:}", 5, [(4, "Four")]),
        (_answer(("3", " Three  "), (4.0, "Four")), 5, [(3, "Three"), (4, "Four")]),
        (_answer((1, "One"), (3, "Three"), (4, "Four")), 2, [(1, "One"), (3, "Three")]),
        (_answer((9, "Nine"), (3, "Three")), 5, [(3, "Three")]),  # unknown id dropped
        (_answer((3, "Three"), (3, "Again")), 5, [(3, "Three")]),  # duplicate dropped
        (_answer((1, ""), (3, "Three")), 5, [(3, "Three")]),  # empty title dropped
        (_answer((True, "Bool"), (3, "Three")), 5, [(3, "Three")]),  # a bool is not an id
        (_answer((2, "Two"), (1, "One"), (3, "Three")), 5, [(2, "Two"), (3, "Three")]),  # overlap
    ],
)
def test_answer_keeps_usable_picks_best_first(content, max_clips, expected) -> None:
    assert parse_answer(content, PLANS, max_clips) == expected


def test_long_titles_are_cut_to_the_limit_at_a_phrase_boundary() -> None:
    long = "A remarkably long title about compost nitrogen and carbon that goes on and on"
    ((_, title),) = parse_answer(_answer((1, long)), PLANS, 5)
    # Cut where a phrase ends, never mid-phrase with an ellipsis.
    assert title == "A remarkably long title about compost nitrogen"
    assert len(title) <= MAX_TITLE_CHARS and long.startswith(title)


def test_dropped_picks_are_explained() -> None:
    picks, notes = read_answer(_answer((1, "One"), (2, "Two"), (7, "Seven"), (3, "x")), PLANS, 2)
    assert picks == [(1, "One"), (3, "x")]
    assert notes == [
        "id 2 (20.0–50.0 s) overlaps the better pick id 1",
        "id 7 is not a candidate (ids are 1–4)",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("I would pick the second one.", "answer is not JSON"),
        ('{"picks": [{"id": 1, "title": "x"}', "answer is not JSON"),
        ('{"choices": [1, 2]}', "no \"picks\" list \\(keys: \\['choices'\\]\\)"),
        ('{"picks": "1, 2"}', '"picks" is not a list'),
        ('{"picks": []}', "the picks list is empty"),
        (_answer((9, "Nine"), (0, "Zero")), "id 9 is not a candidate .*id 0 is not a candidate"),
        (_answer((1, "   "), (2, None)), "id 1 has no title; id 2 has no title"),
        ('{"picks": [3, 4]}', "pick 1 is not an object"),
    ],
)
def test_unusable_answers_raise_naming_the_problem(content, message) -> None:
    with pytest.raises(LlmAnswerError, match=message):
        parse_answer(content, PLANS, 5)


# --- apply_picks ----------------------------------------------------------------------------------


def test_picks_become_plans_in_time_order_with_shortlist_bounds() -> None:
    t = _recording()
    short = shortlist(t, SelectionRules(), k=6)
    picks = [(len(short), "Last but best"), (1, "First")]
    plans = apply_picks(picks, short)
    assert [p.index for p in plans] == [1, 2]
    assert [p.title for p in plans] == ["First", "Last but best"]
    assert [p.sub_scores["llm_rank"] for p in plans] == [2, 1]
    for plan, source in zip(plans, [short[0], short[-1]], strict=True):
        assert (plan.start_s, plan.end_s, plan.text, plan.score) == (
            source.start_s,
            source.end_s,
            source.text,
            source.score,
        )
        assert {k: v for k, v in plan.sub_scores.items() if k != "llm_rank"} == source.sub_scores
    assert "llm_rank" not in short[0].sub_scores  # the shortlist is left as it was


def test_apply_picks_rejects_unknown_ids() -> None:
    with pytest.raises(LlmAnswerError, match="id 5 is not a candidate"):
        apply_picks([(5, "Five")], PLANS)
