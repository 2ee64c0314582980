"""LLM-assisted highlight ranking, the pure half: shortlist, prompt, answer checking, plans.

The model only *chooses* among numbered candidates that :mod:`media.selection.candidates` built on
sentence boundaries, and writes their titles. It never supplies times, so every clip's bounds
still come from word timings, and an answer that names no usable candidate is an error the
caller turns into the offline selection. No network here: :mod:`tasks.llm` sends the request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from media.errors import ClipflowError
from media.selection.candidates import ClipPlan, SelectionRules, candidates, pick_apart
from media.selection.prosody import SentenceProsody
from media.selection.titles import shorten
from media.selection.topics import VectorKind
from media.transcript.records import Transcript

MAX_TITLE_CHARS = 60
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


class LlmAnswerError(ClipflowError):
    """The model's answer holds no usable pick (not JSON, unknown ids, overlaps, no titles)."""


def shortlist(
    transcript: Transcript,
    rules: SelectionRules,
    k: int = 20,
    *,
    vectors: VectorKind = "auto",
    prosody: Sequence[SentenceProsody] | None = None,
) -> list[ClipPlan]:
    """The best ``k`` candidates by offline score, non-overlapping and ``min_gap_s`` apart.

    Picked like :func:`media.selection.candidates.select` (spread across topics first), but with no
    ``min_score`` floor (the model judges), in time order and numbered 1..n: the number is
    the id the model sees. ``vectors`` and ``prosody`` as for ``select``.
    """
    if k < 1:
        raise ValueError(f"shortlist size k must be >= 1, got {k}")
    pool = candidates(transcript, rules, vectors=vectors, prosody=prosody)
    chosen = pick_apart(pool, limit=k, min_gap_s=rules.min_gap_s)
    return [replace(c, index=n) for n, c in enumerate(chosen, start=1)]


def build_messages(shortlist: list[ClipPlan], max_clips: int) -> list[dict[str, str]]:
    """OpenAI chat ``messages``: the rules (choose, never retime; titles; strict JSON), then
    the numbered candidates. Ids are positions in ``shortlist``, 1-based."""
    if max_clips < 1:
        raise ValueError(f"max_clips must be >= 1, got {max_clips}")
    system = (
        "You pick highlight clips from a long recording for short vertical videos. "
        "The user lists numbered candidate clips, each a run of whole sentences from the "
        "transcript. You only CHOOSE among these candidates by their id: never invent, merge, "
        "trim or retime a clip, and never give times. Prefer clips that stand on their own and "
        "hold a viewer's attention: a complete point, a story, a strong opinion, a surprising "
        "fact. Candidates that overlap in time cannot both be picked. For each pick write a "
        f"short title of at most {MAX_TITLE_CHARS} characters that is faithful to what is "
        "said. Answer with strict JSON only, no prose and no code fences: "
        '{"picks": [{"id": <candidate id>, "title": "<title>"}, ...]} '
        f"with at most {max_clips} picks, best first, each id at most once."
    )
    lines = [
        f"[{n}] ({c.duration_s:.1f} s, {c.speaker or 'unknown speaker'}) {c.text}"
        for n, c in enumerate(shortlist, start=1)
    ]
    user = (
        f"Candidates ({len(shortlist)}):\n"
        + "\n".join(lines)
        + f'\n\nChoose at most {max_clips}, best first. Reply with {{"picks": [...]}} only.'
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _json_object(content: str) -> dict[str, Any]:
    """The first JSON object in ``content`` holding ``picks``: fences and prose around it are
    ignored, because models add them even when asked not to."""
    fenced = _FENCE.search(content)
    texts = [fenced.group(1), content] if fenced else [content]
    decoder = json.JSONDecoder()
    for text in texts:
        first_error, found, resume = "", None, 0
        for m in re.finditer(r"\{", text):
            if m.start() < resume:
                continue  # inside an object already decoded
            try:
                obj, resume = decoder.raw_decode(text, m.start())
            except json.JSONDecodeError as exc:
                first_error = first_error or f"{exc.msg} at char {exc.pos}"
                continue
            if isinstance(obj, dict) and "picks" in obj:
                return obj
            if found is None and not first_error:
                found = obj
        if found is not None:
            raise LlmAnswerError(f'answer has no "picks" list (keys: {sorted(found)})')
    detail = f" ({first_error})" if first_error else ""
    raise LlmAnswerError(f"answer is not JSON{detail}: {content[:80]!r}")


def _as_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _short_title(title: str) -> str:
    """At most MAX_TITLE_CHARS, cut at a clause or phrase boundary (never with an ellipsis)."""
    return shorten(title, MAX_TITLE_CHARS)


def read_answer(
    content: str, shortlist: list[ClipPlan], max_clips: int
) -> tuple[list[tuple[int, str]], list[str]]:
    """The usable ``(id, title)`` picks, best first, and a note for each pick dropped.

    A pick is dropped when its id is not a candidate or repeats one, its title is empty, it
    overlaps a better pick in time, or it comes after ``max_clips`` picks. Raises
    :class:`LlmAnswerError` naming the problems when no pick remains.
    """
    picks_raw = _json_object(content).get("picks")
    if not isinstance(picks_raw, list):
        raise LlmAnswerError(f'"picks" is not a list: {picks_raw!r:.80}')
    picks: list[tuple[int, str]] = []
    notes: list[str] = []
    for n, raw in enumerate(picks_raw, start=1):
        if len(picks) >= max_clips:
            notes.append(f"{len(picks_raw) - n + 1} pick(s) beyond max_clips={max_clips} ignored")
            break
        if not isinstance(raw, dict):
            notes.append(f"pick {n} is not an object: {raw!r:.40}")
            continue
        cid = _as_id(raw.get("id"))
        if cid is None:
            notes.append(f"pick {n} has no integer id: {raw.get('id')!r:.40}")
            continue
        if not 1 <= cid <= len(shortlist):
            notes.append(f"id {cid} is not a candidate (ids are 1–{len(shortlist)})")
            continue
        if any(cid == p for p, _ in picks):
            notes.append(f"id {cid} picked twice")
            continue
        title = raw.get("title")
        title = _short_title(title) if isinstance(title, str) else ""
        if not title:
            notes.append(f"id {cid} has no title")
            continue
        cand = shortlist[cid - 1]
        other = next(
            (
                p
                for p, _ in picks
                if cand.start_s < shortlist[p - 1].end_s and shortlist[p - 1].start_s < cand.end_s
            ),
            None,
        )
        if other is not None:
            notes.append(
                f"id {cid} ({cand.start_s:.1f}–{cand.end_s:.1f} s) overlaps the better pick "
                f"id {other}"
            )
            continue
        picks.append((cid, title))
    if not picks:
        raise LlmAnswerError(
            "no usable pick in the answer: " + ("; ".join(notes) or "the picks list is empty")
        )
    return picks, notes


def parse_answer(content: str, shortlist: list[ClipPlan], max_clips: int) -> list[tuple[int, str]]:
    """The usable ``(id, title)`` picks of the model's answer, best first (see read_answer)."""
    return read_answer(content, shortlist, max_clips)[0]


def apply_picks(picks: list[tuple[int, str]], shortlist: list[ClipPlan]) -> list[ClipPlan]:
    """The picked candidates in time order, numbered 1..n, titled by the model.

    Bounds, text and score stay the shortlist's (word timings); ``sub_scores`` gains
    ``llm_rank`` (1 = the model's best).
    """
    chosen = []
    for rank, (cid, title) in enumerate(picks, start=1):
        if not 1 <= cid <= len(shortlist):
            raise LlmAnswerError(f"id {cid} is not a candidate (ids are 1–{len(shortlist)})")
        cand = shortlist[cid - 1]
        chosen.append(replace(cand, title=title, sub_scores={**cand.sub_scores, "llm_rank": rank}))
    chosen.sort(key=lambda c: c.start_s)
    return [replace(c, index=n) for n, c in enumerate(chosen, start=1)]
