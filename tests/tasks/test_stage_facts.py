"""The run log's lines for the cases a passing sample job does not show: a plan file's clips
(no candidates), an LLM's fallback reason, a failed verdict, nothing charged.
tests/flows/test_process_video.py reads a real job's lines back through the API."""

from __future__ import annotations

from media.selection.candidates import ClipPlan
from qa.records import Check, JobQA
from tasks.costs import CostItem
from tasks.records import Selection, SelectionMethod
from tasks.stage_facts import cost_summary, selection_summary, verdict_summary


def _clip(index: int, start: float, score: float, speaker: str = "Ann") -> ClipPlan:
    return ClipPlan(index, start, start + 20.0, "Words.", score, speaker, 0, 1)


CLIPS = (_clip(1, 3.0, 0.8125), _clip(2, 40.5, 0.61, speaker=""))


def test_selection_names_each_pick_and_the_candidates_weighed() -> None:
    offline = Selection(CLIPS, SelectionMethod.OFFLINE, candidate_scores=(0.2, 0.8125, 0.61))
    assert selection_summary(offline) == (
        "offline: 2 clips of 3 candidates (scores 0.200–0.812): "
        "clip 1 3.00–23.00 s score 0.812 speaker Ann; "
        "clip 2 40.50–60.50 s score 0.610 speaker unknown"
    )
    planned = Selection(CLIPS[:1], SelectionMethod.PLAN, "clips from the plan file p.json")
    assert selection_summary(planned) == (
        "plan (clips from the plan file p.json): 1 clip: "
        "clip 1 3.00–23.00 s score 0.812 speaker Ann"
    )


def test_a_failed_verdict_names_the_checks_and_the_clips() -> None:
    ok = Check("duration", True, 20.0, "15–60 s")
    centred = Check("face_centered", False, 0.42, "≥ 0.9")
    verdict = JobQA(
        lu_spread=0.314,
        passed=False,
        checks=(ok, Check("face_centered", False, 0.42, "≥ 0.9")),
        clip_checks=((ok,), (ok, centred)),
    )
    assert verdict_summary(verdict, CLIPS) == (
        "FAILED face_centered (0.42 vs ≥ 0.9), LU spread 0.31; "
        "clip 1 passed, clip 2 FAILED (face_centered)"
    )


def test_cost_per_stage_in_ledger_order() -> None:
    items = [
        CostItem("ingest", "cpu", 1.0, "vcpu_s", 0.0000125),
        CostItem("render", "cpu", 9.0, "vcpu_s", 0.0003),
        CostItem("ingest", "s3", 2, "requests", 0.0000008),
    ]
    assert cost_summary(items) == "$0.000313 (ingest $0.000013, render $0.000300)"
    assert cost_summary([]) == "$0.000000 (nothing charged)"
