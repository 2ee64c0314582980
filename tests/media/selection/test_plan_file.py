"""Plan files: what `clipflow plan` writes reads back, and edited times snap to whole sentences."""

from __future__ import annotations

import json

import pytest

from media.errors import InputError
from media.selection.candidates import SelectionRules, boundary_clean, select
from media.selection.plan_file import (
    EditedClip,
    parse_plan,
    plan_document,
    plan_source_sha256,
    plans_from_edits,
    snap_clip,
)
from media.transcript.records import Word, from_words


def _transcript(n_sentences: int = 30, *, words_per: int = 9, word_s=0.4, gap_s=0.1, pause_s=0.8):
    """Sentences of ``words_per`` words (~5 s each) alternating between two speakers."""
    words, t = [], 1.0
    for k in range(n_sentences):
        speaker = "Alice" if (k // 3) % 2 == 0 else "Bob"
        for i in range(words_per):
            tok = f"w{k}x{i}" + ("." if i == words_per - 1 else "")
            words.append(Word(tok, round(t, 3), round(t + word_s, 3), speaker))
            t += word_s + gap_s
        t += pause_s
    return from_words(words, source="test")


RULES = SelectionRules(max_clips=5)


def _doc(transcript):
    plans = select(transcript, RULES)
    return plans, plan_document(
        plans, source="in.mp4", source_sha256="ab" * 32, transcript_source="vtt"
    )


def test_a_written_plan_reads_back_as_the_same_clips() -> None:
    t = _transcript()
    plans, doc = _doc(t)
    text = json.dumps(doc)
    edited = parse_plan(text, name="p.json")
    assert [(e.start_s, e.end_s, e.title) for e in edited] == [
        (p.start_s, p.end_s, p.title.strip()) for p in plans
    ]
    again = plans_from_edits(t, edited, RULES, name="p.json")
    assert [(p.start_s, p.end_s, p.first_sentence, p.last_sentence) for p in again] == [
        (p.start_s, p.end_s, p.first_sentence, p.last_sentence) for p in plans
    ]
    assert plan_source_sha256(text) == "ab" * 32


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (20.3, 45.1),  # both inside words
        (19.0, 44.0),  # inside pauses
        (0.0, 30.0),  # from the very start
        (21.7, 52.2),
    ],
)
def test_edited_times_snap_onto_whole_sentences(start: float, end: float) -> None:
    t = _transcript()
    plan = snap_clip(t, EditedClip(start, end, "Mine"), RULES, index=1, name="p.json")
    assert boundary_clean(t, plan.start_s, plan.end_s)
    first, last = t.sentences[plan.first_sentence], t.sentences[plan.last_sentence]
    # The nearest sentence bounds: no other sentence start/end is closer to what was asked.
    assert all(abs(first.start_s - start) <= abs(s.start_s - start) for s in t.sentences)
    assert plan.start_s <= first.start_s and first.start_s - plan.start_s <= RULES.lead_in_s
    assert plan.end_s >= last.end_s and plan.end_s - last.end_s <= RULES.tail_out_s
    assert plan.title == "Mine"
    assert plan.text.split()[0] == t.words[first.first_word].text


def test_a_clip_that_snaps_outside_the_length_rules_is_refused() -> None:
    t = _transcript()
    with pytest.raises(InputError, match=r"p\.json clip 2: .*outside 15–60 s"):
        plans_from_edits(t, [EditedClip(1.0, 30.0), EditedClip(40.0, 44.0)], RULES, name="p.json")


def test_clips_snapping_onto_the_same_sentences_are_refused() -> None:
    t = _transcript()
    with pytest.raises(InputError, match="same sentences"):
        plans_from_edits(t, [EditedClip(1.0, 30.0), EditedClip(28.0, 60.0)], RULES, name="p.json")


def test_a_clip_after_the_last_word_is_refused() -> None:
    t = _transcript(10)
    with pytest.raises(InputError, match="after the last word"):
        snap_clip(t, EditedClip(500.0, 530.0), RULES, index=1, name="p.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "invalid JSON"),
        ("[]", "not a clipflow plan file"),
        ('{"format": "clipflow-plan", "version": 2, "clips": []}', "plan version 2"),
        ('{"format": "clipflow-plan", "version": 1, "clips": []}', "lists no clips"),
        ('{"format": "clipflow-plan", "version": 1, "clips": [{"start_s": "1"}]}', "start_s"),
        (
            '{"format": "clipflow-plan", "version": 1, "clips": [{"start_s": 5, "end_s": 2}]}',
            "must be after",
        ),
        (
            '{"format": "clipflow-plan", "version": 1, "clips": '
            '[{"start_s": 0, "end_s": 20}, {"start_s": 10, "end_s": 40}]}',
            "overlap",
        ),
    ],
)
def test_bad_plan_files_are_rejected_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        parse_plan(text, name="edited.json")
    assert "edited.json" in str(err.value)


def test_too_many_clips_for_the_rules_are_refused() -> None:
    t = _transcript(60)
    edited = [EditedClip(1.0 + 40 * k, 30.0 + 40 * k) for k in range(6)]
    with pytest.raises(InputError, match="6 clips, more than the 5 allowed"):
        plans_from_edits(t, edited, RULES, name="p.json")
