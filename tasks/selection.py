"""Selection: which windows of the recording become clips, and how they were chosen.

Three ways, one record (:class:`~tasks.records.Selection`): the offline ranking (cached on
content), a plan file (``clipflow run --plan``), or an LLM choosing among the offline
shortlist within the job's remaining budget, falling back to the offline choice.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import PipelineSettings
from media.errors import InputError
from media.ingest import Source
from media.selection.candidates import SelectionRules, candidates, pick
from media.selection.plan_file import parse_plan, plan_source_sha256, plans_from_edits
from media.transcript.records import Transcript
from tasks.caching import CACHED
from tasks.records import Selection, SelectionMethod
from tasks.retries import TRANSIENT_RETRIES
from tasks.workdir import fetched, speech_wav


def selection_rules(settings: PipelineSettings, max_clips: int) -> SelectionRules:
    """The settings' clip bounds as the selection core takes them."""
    return SelectionRules(
        max_clips=max_clips,
        min_clip_s=settings.min_clip_s,
        max_clip_s=settings.max_clip_s,
        min_gap_s=settings.min_gap_s,
        lead_in_s=settings.lead_in_s,
        tail_out_s=settings.tail_out_s,
        min_score=settings.min_clip_score,
    )


@task(name="select-highlights", **CACHED)
def select_highlights(
    source: Source, text: Transcript, max_clips: int, settings: PipelineSettings
) -> Selection:
    """At most ``max_clips`` windows of whole sentences, 15–60 s, on distinct topics, ranked on
    what is said and how (prosody from the audio) and non-overlapping."""
    from media.selection.prosody import sentence_prosody

    prosody = sentence_prosody(speech_wav(source, settings), text)
    rules = selection_rules(settings, max_clips)
    pool = candidates(text, rules, vectors=settings.topic_vectors, prosody=prosody)
    picks = pick(pool, rules)
    if not picks:
        raise InputError(
            f"{source.uri}: no stretch of {settings.min_clip_s:.0f}–{settings.max_clip_s:.0f} s "
            f"of whole sentences scoring over {settings.min_clip_score:.2f} found in the "
            f"transcript ({len(text.sentences)} sentences)"
        )
    scores = tuple(round(c.score, 4) for c in pool)
    return Selection(tuple(picks), SelectionMethod.OFFLINE, candidate_scores=scores)


@task(name="load-plan", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def load_plan_file(
    uri: str,
    source: Source,
    text: Transcript,
    max_clips: int,
    settings: PipelineSettings,
) -> Selection:
    """The clips of a plan file (``clipflow plan``'s output, perhaps edited), snapped to the
    transcript's sentence bounds. A plan made for another recording is refused."""
    with fetched(uri, settings.work_dir / "plans", settings) as local:
        data = local.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{uri}: plan file is not UTF-8 text (byte {exc.start})") from exc
    made_for = plan_source_sha256(raw)
    if made_for and made_for != source.sha256:
        raise InputError(
            f"{uri}: plan was made for another recording (sha256 {made_for[:12]}…, "
            f"this one is {source.sha256[:12]}…)"
        )
    edited = parse_plan(raw, name=uri)
    clips = plans_from_edits(text, edited, selection_rules(settings, max_clips), name=uri)
    return Selection(tuple(clips), SelectionMethod.PLAN, f"clips from the plan file {uri}")


@task(name="rank-highlights")
def rank_highlights(
    text: Transcript,
    offline: Selection,
    max_clips: int,
    llm_block: str,
    budget_usd: float,
    settings: PipelineSettings,
) -> Selection:
    """Let an LLM choose among the offline shortlist and title the picks (boundaries always
    come from word times). Falls back to ``offline``, saying why, on a timeout, an unusable
    answer, or a budget that the call could exceed. Not cached: it is a paid call whose
    failures may be transient."""
    from blocks.prefect_blocks import LlmCredentials, load_block
    from media.selection.llm_ranking import shortlist
    from tasks.llm import rank_with_llm

    credentials = load_block(LlmCredentials, llm_block)
    candidates = shortlist(
        text, selection_rules(settings, max_clips), vectors=settings.topic_vectors
    )
    ranked = rank_with_llm(candidates, max_clips, credentials, budget_usd=budget_usd)
    used = ranked.picks if ranked.method is SelectionMethod.LLM and ranked.picks else None
    return Selection(
        used or offline.clips,
        ranked.method,
        ranked.reason,
        ranked.costs,
        candidate_scores=offline.candidate_scores,
    )
