"""Real-text tier: selection and titles on real conversational transcripts.

The reference transcripts of real speech in $CLIPFLOW_REAL_MEDIA (pyannote's two-speaker
sample, the Picovoice turns, the Night of the Living Dead film dialogue, Lucier's text, the MFA
recordings with their fillers) become :class:`Transcript` records (see ``real_transcripts``
for where word times come from: measured, per utterance, or spread over the file) and go
through :func:`select`. The properties asserted are the ones a person posting the clips cares
about. About 1 s on 2 cores.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from media.selection import scoring
from media.selection.candidates import ClipPlan, SelectionRules, candidates, pick_apart
from media.selection.disfluency import FILLER_WORDS, disfluent_count
from media.selection.topics import segment
from media.transcript.records import Transcript
from tests.media.selection.real_transcripts import RealText, load_all

pytestmark = pytest.mark.real_media

RULES = SelectionRules()


@pytest.fixture(scope="module")
def picked(real_media: Path) -> list[tuple[RealText, list[ClipPlan], list[ClipPlan]]]:
    """Every real transcript with its picks and its whole candidate pool."""
    out = []
    for real in load_all(real_media):
        pool = candidates(real.transcript, RULES, vectors="tfidf")
        chosen = pick_apart(
            pool, limit=RULES.max_clips, min_gap_s=RULES.min_gap_s, min_score=RULES.min_score
        )
        out.append((real, chosen, pool))
    return out


def _rec(t: Transcript) -> scoring.Recording:
    return scoring.recording(t, segment(t, vectors="tfidf"))


def _leans(rec: scoring.Recording, i: int) -> bool:
    return bool(rec.opener[i] or rec.pronoun[i] or rec.continuation[i])


def test_the_real_transcripts_give_clips(picked) -> None:
    # 12 files, most of them 20-120 s: the tier is not vacuous (measured: 15 clips, 9 files).
    assert len(picked) >= 10
    assert sum(len(chosen) for _, chosen, _ in picked) >= 10


def test_no_clip_starts_leaning_on_what_came_before_when_another_start_exists(picked) -> None:
    for real, chosen, pool in picked:
        rec = _rec(real.transcript)
        for plan in chosen:
            if not _leans(rec, plan.first_sentence):
                continue
            rivals = [
                c
                for c in pool
                if c.score >= RULES.min_score
                and c.start_s < plan.end_s
                and plan.start_s < c.end_s
                and not _leans(rec, c.first_sentence)
            ]
            assert not rivals, (real.id, plan.text[:80], rivals[0].text[:80])


def test_no_clip_ends_on_a_question_a_bare_reply_or_a_trailing_word(picked) -> None:
    for real, chosen, _ in picked:
        rec = _rec(real.transcript)
        for plan in chosen:
            last = plan.last_sentence
            assert not rec.question[last], (real.id, plan.text[-80:])
            assert not rec.backchannel[last] or rec.question[last - 1], (real.id, plan.text[-80:])
            assert not rec.open_end[last], (real.id, plan.text[-80:])


def test_an_answer_keeps_the_question_another_speaker_asked(picked) -> None:
    for real, chosen, _ in picked:
        sents = real.transcript.sentences
        for plan in chosen:
            before = sents[plan.first_sentence - 1] if plan.first_sentence else None
            first = sents[plan.first_sentence]
            asked = before is not None and before.text.rstrip().endswith("?")
            cut_off = asked and before.speaker and before.speaker != first.speaker
            assert not cut_off, (real.id, before.text if before else "", first.text)


def test_no_two_clips_share_a_passage(picked) -> None:
    for real, chosen, _ in picked:
        for a, b in itertools.combinations(chosen, 2):
            assert a.end_s + RULES.min_gap_s <= b.start_s or b.end_s + RULES.min_gap_s <= a.start_s
            wa, wb = set(a.text.lower().split()), set(b.text.lower().split())
            assert len(wa & wb) / len(wa | wb) < 0.5, (real.id, a.text[:60], b.text[:60])


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower().replace("’", "'")))


def test_every_title_is_a_clean_headline_in_the_clip_s_own_words(picked) -> None:
    for real, chosen, _ in picked:
        for plan in chosen:
            title = plan.title
            assert title and len(title) <= 60, (real.id, title)
            assert "…" not in title and "..." not in title, (real.id, title)
            assert title[0].isupper(), (real.id, title)
            assert disfluent_count(title) == 0, (real.id, title)
            assert not _words(title) & FILLER_WORDS, (real.id, title)
            assert _words(title) <= _words(plan.text), (real.id, title, plan.text)
            assert len(title.split()) >= 4 or len(plan.text.split()) < 20, (real.id, title)
