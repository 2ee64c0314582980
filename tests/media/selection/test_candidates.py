"""Clip selection: bounds, sentence boundaries, overlap, gap, count, scoring and topics."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest

from media.selection import discourse, embeddings, scoring
from media.selection.candidates import (
    ClipPlan,
    SelectionRules,
    boundary_clean,
    candidates,
    clip_bounds,
    pick_apart,
    select,
)
from media.selection.prosody import SentenceProsody
from media.selection.topics import segment
from media.transcript.records import Word, from_words
from tests.media.selection.sample_topics import sample_transcript

needs_minilm = pytest.mark.skipif(not embeddings.available(), reason="MiniLM not installed")


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


def test_chat_with_no_complete_thought_clears_no_floor() -> None:
    chat = [
        "And so yeah that was it really.",
        "Yeah I mean it was fine.",
        "So anyway we kind of did that.",
        "Right, and then they said okay.",
        "It was like, you know, a thing.",
    ]
    t = _transcript([("Bob" if i % 2 else "Alice", chat[i % 5]) for i in range(40)])
    assert candidates(t, SelectionRules(), vectors="tfidf")
    assert select(t, SelectionRules(), vectors="tfidf") == []


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


# --- the sample recording: one topic per clip, whole sentences ---------------------------------


def _check_clips_on_sample(minutes: float, seed: int, vectors: str) -> list[ClipPlan]:
    transcript, names = sample_transcript(minutes, seed)
    rules = SelectionRules()
    plans = select(transcript, rules, vectors=vectors)  # type: ignore[arg-type]
    assert 1 <= len(plans) <= rules.max_clips
    sentence_starts = {s.first_word for s in transcript.sentences}
    sentence_ends = {s.last_word for s in transcript.sentences}
    topics_seen = []
    for plan in plans:
        assert rules.min_clip_s <= plan.duration_s <= rules.max_clip_s
        assert boundary_clean(transcript, plan.start_s, plan.end_s)
        first = transcript.sentences[plan.first_sentence]
        last = transcript.sentences[plan.last_sentence]
        assert first.first_word in sentence_starts and last.last_word in sentence_ends
        assert plan.start_s <= first.start_s and plan.end_s >= last.end_s
        inside = [w for w in transcript.words if plan.start_s <= w.start_s < plan.end_s]
        assert inside[0] is transcript.words[first.first_word]  # nothing before its sentence
        assert inside[-1] is transcript.words[last.last_word]  # nothing after its sentence
        # Reactions ("Right.") belong to no topic; every other sentence to the clip's one topic.
        true = {names[i] for i in range(plan.first_sentence, plan.last_sentence + 1)} - {None}
        assert len(true) == 1, (plan.text, true)
        topics_seen.append(true.pop())
        assert plan.title and len(plan.title) <= 60 and "·" not in plan.title
        assert set(plan.sub_scores) >= set(scoring.WEIGHTS) | {"total"}
        assert plan.speakers and plan.speaker in plan.speakers
    assert len(set(topics_seen)) == len(topics_seen), topics_seen  # distinct topics
    assert [p.index for p in plans] == list(range(1, len(plans) + 1))
    return plans


@pytest.mark.parametrize("seed", [0, 4])
def test_sample_clips_each_hold_one_topic_tfidf(seed: int) -> None:
    _check_clips_on_sample(10, seed, "tfidf")


@needs_minilm
def test_sample_clips_each_hold_one_topic_minilm() -> None:
    _check_clips_on_sample(10, 5, "minilm")


@pytest.mark.parametrize("vectors", ["tfidf", pytest.param("minilm", marks=needs_minilm)])
def test_45_minute_script_gives_at_most_five_clips_on_distinct_topics(vectors: str) -> None:
    plans = _check_clips_on_sample(45, 1, vectors)
    assert len(plans) == 5  # nine topics, each with many good windows


# --- scores ------------------------------------------------------------------------------------

ANSWER = [
    ("Bob", "Compost piles get hot because billions of microbes eat and breathe inside them."),
    ("Bob", "A healthy compost pile reaches sixty degrees within a few days of turning."),
    ("Bob", "That heat kills weed seeds and most garden pathogens in the compost."),
    ("Bob", "Three parts brown material to one part green keeps compost microbes happy."),
]


def _scores(script, first: int, last: int, pause_s: float = 0.6) -> dict[str, float]:
    t = _transcript(script, pause_s=pause_s)
    rec = scoring.recording(t, segment(t, vectors="tfidf"))
    a, b = t.sentences[first], t.sentences[last]
    start, end = clip_bounds(t, a, b, SelectionRules())
    return scoring.score_window(rec, first, last, start, end)


def test_a_dangling_reference_scores_lower_than_the_same_content_alone() -> None:
    lead = [("Bob", "That's why it matters.")]
    dangling = _scores(lead + ANSWER, 0, len(ANSWER))
    alone = _scores(ANSWER, 0, len(ANSWER) - 1)
    assert dangling["self_contained"] < alone["self_contained"] == 1.0
    assert dangling["total"] < alone["total"]


def test_a_question_answered_inside_the_clip_beats_one_left_hanging() -> None:
    question = ("Alice", "Why does a compost pile get so hot in the middle?")
    answered = _scores([question, *ANSWER], 0, len(ANSWER))
    hanging = _scores([*ANSWER, question, ANSWER[0]], 0, len(ANSWER))
    assert answered["structure"] == 1.0
    assert hanging["structure"] < 0.5 and hanging["self_contained"] < 1.0
    assert answered["total"] > hanging["total"]


def test_a_trailing_sentence_costs_only_where_the_transcript_has_punctuation() -> None:
    trailing = [*ANSWER[:3], ("Bob", "and then the compost microbes")]
    assert _scores(trailing, 0, 3)["self_contained"] == pytest.approx(0.6)
    # Like raw ASR output: no punctuation, sentences cut at pauses.
    bare = [(who, text.rstrip(".").lower()) for who, text in trailing]
    assert _scores(bare, 0, 3, pause_s=2.0)["self_contained"] == 1.0


def test_a_point_cut_mid_turn_scores_lower_unless_nobody_takes_turns() -> None:
    dialogue = [("Alice", "Why does compost get hot?"), *ANSWER, ("Alice", "Fascinating stuff.")]
    assert _scores(dialogue, 1, 4)["structure"] == 0.9  # Bob's whole answer
    assert _scores(dialogue, 1, 3)["structure"] == pytest.approx(0.9 * 0.6)  # he goes on
    assert _scores(dialogue, 2, 4)["structure"] == pytest.approx(0.9 * 0.7)  # he had begun
    lecture = [("", text) for _, text in dialogue]  # one voice, no names: no turns to judge
    assert _scores(lecture, 1, 3)["structure"] == 0.9


def test_crossing_a_topic_boundary_costs_cohesion() -> None:
    rockets = [
        ("Bob", "Rocket engines burn liquid oxygen with kerosene at enormous chamber pressure."),
        ("Bob", "The rocket nozzle turns hot slow exhaust into a cold fast jet of gas."),
        ("Bob", "Upper stage rocket engines have enormous nozzle bells for the vacuum."),
        ("Bob", "Reusable rocket engines must survive brutal cycles of heat and stress."),
    ]
    script = ANSWER * 3 + rockets * 3
    t = _transcript(script)
    topics = segment(t, vectors="tfidf", window=4, min_sentences=4)
    assert topics.boundaries == (12,)
    rec = scoring.recording(t, topics)
    assert scoring.cohesion(rec, 4, 11) == 1.0
    # Half of the main segment's share of the words (about half of them).
    assert scoring.cohesion(rec, 8, 15) == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize(
    ("text", "opener", "pronoun"),
    [
        ("So that's why the nozzle matters.", "so", "that's"),
        ("That's why it matters.", "that's why", "that's"),
        ("And it works for almost everyone.", "and", "it"),
        ("Okay.", "Okay.", ""),
        ("Yeah.", "Yeah.", ""),
        ("Right.", "Right.", ""),
        ("Okay so the trick is a big pot.", "okay so", ""),
        ("Yeah I mean it was fine.", "yeah", "it"),
        ("Yes, a worm bin under the sink works.", "yes", ""),
        ("Okay, let's talk about money.", "", ""),  # announces its subject: a good start
        ("It sounds boring, but it works.", "", "it"),
        ("They paired every new person with a buddy.", "", "they"),
        ("This is the real trick.", "", "this"),
        ("This book changed my life.", "", ""),  # a determiner with its noun
        ("Well, he said no.", "well", "he"),
        ("Compost needs air.", "", ""),
        ("Why does a pile get hot?", "", ""),
    ],
)
def test_dependent_openers_and_dangling_pronouns(text: str, opener: str, pronoun: str) -> None:
    assert discourse.dependent_opener(text) == opener
    assert discourse.dangling_pronoun(text) == pronoun


def test_prosody_makes_livelier_delivery_score_higher() -> None:
    script = [("Bob", text) for _, text in ANSWER * 4]
    t = _transcript(script)
    topics = segment(t, vectors="tfidf")
    flat = SentenceProsody(0, -20.0, 1.0, 120.0, 0.5, 0.8, 4.0)
    lively = SentenceProsody(0, -20.0, 6.0, 120.0, 4.0, 0.8, 4.0)
    prosody = [lively if i >= 8 else flat for i in range(len(t.sentences))]
    rec = scoring.recording(t, topics, prosody)
    calm = scoring.score_window(rec, 0, 5, t.sentences[0].start_s, t.sentences[5].end_s)
    vivid = scoring.score_window(rec, 8, 13, t.sentences[8].start_s, t.sentences[13].end_s)
    assert vivid["delivery"] > calm["delivery"] + 0.2
    with pytest.raises(ValueError, match="prosody covers 3 sentences"):
        scoring.recording(t, topics, prosody[:3])


# --- picking -----------------------------------------------------------------------------------


_VOCABULARY = "compost rocket jazz sleep money garden language nozzle tomato salary".split()


def _clip(start: float, score: float, topic: int, text: str = "") -> ClipPlan:
    n = int(start) // 50 % len(_VOCABULARY)
    text = text or " ".join([_VOCABULARY[n]] * 4) + "."  # no trigram shared with another
    return ClipPlan(0, start, start + 20.0, text, score, "A", 0, 0, topic=topic)


@pytest.mark.parametrize(
    ("limit", "min_score", "expected"),
    [
        (2, 0.0, [0.0, 100.0]),  # one per topic first, though topic 0 has a better second
        (3, 0.0, [0.0, 50.0, 100.0]),  # then the best of the rest
        (2, 0.7, [0.0, 50.0]),  # topic 1 is under the floor: a second from topic 0
        (5, 0.95, []),  # nothing clears the floor
    ],
)
def test_picks_spread_across_topics_first(limit, min_score, expected) -> None:
    pool = [_clip(0.0, 0.9, 0), _clip(50.0, 0.8, 0), _clip(100.0, 0.6, 1)]
    got = pick_apart(pool, limit=limit, min_gap_s=5.0, min_score=min_score)
    assert [c.start_s for c in got] == expected


def test_the_same_words_are_never_picked_twice() -> None:
    story = "Last summer we picked about forty tomatoes from two plants on the balcony."
    pool = [_clip(0.0, 0.9, 0, story), _clip(300.0, 0.85, 1, story), _clip(600.0, 0.5, 2)]
    assert [c.start_s for c in pick_apart(pool, limit=3, min_gap_s=5.0)] == [0.0, 600.0]


def test_plans_pickle_and_hash() -> None:
    plan = ClipPlan(1, 0.0, 20.0, "x.", 0.5, "A", 0, 1, "T", {"total": 0.5}, ("A", "B"), 3)
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert hash(plan) == hash(ClipPlan(1, 0.0, 20.0, "x.", 0.5, "A", 0, 1, "T", {}, ("A", "B"), 3))


def test_speakers_are_listed_in_order_and_the_main_one_named() -> None:
    script = [("Alice", "Why does a compost pile get so hot in the middle?"), *ANSWER]
    t = _transcript(script * 2)
    plans = [c for c in candidates(t, SelectionRules(), vectors="tfidf") if c.first_sentence == 0]
    assert plans and all(c.speakers == ("Alice", "Bob") and c.speaker == "Bob" for c in plans)
    assert Counter(c.topic for c in plans)
