"""Plan files: the chosen clips as JSON an editor can read, adjust and hand back to ``run``.

``clipflow plan`` writes one; ``clipflow run --plan FILE`` renders the clips it lists. An
edited clip's times are snapped to the nearest sentence bounds of the transcript, so an
edited plan keeps the guarantees of a chosen one: no word cut, no sentence cut, lead-in and
tail within the rules. Pure logic: text in, :class:`ClipPlan` out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from media.errors import InputError
from media.selection.candidates import ClipPlan, SelectionRules, clip_bounds
from media.selection.titles import headline
from media.transcript.records import Sentence, Transcript

FORMAT = "clipflow-plan"
VERSION = 1


@dataclass(frozen=True, slots=True)
class EditedClip:
    """One clip as the plan file gives it: the times an editor wants, and an optional title."""

    start_s: float
    end_s: float
    title: str = ""


def plan_document(
    plans: list[ClipPlan], *, source: str, source_sha256: str, transcript_source: str
) -> dict[str, Any]:
    """The plan file's content: what was chosen, from what, and why."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "source": source,
        "source_sha256": source_sha256,
        "transcript": transcript_source,
        "clips": [
            {
                "index": p.index,
                "start_s": p.start_s,
                "end_s": p.end_s,
                "duration_s": round(p.duration_s, 3),
                "title": p.title,
                "score": p.score,
                "speakers": list(p.speakers or (p.speaker,)),
                "text": p.text,
                "sub_scores": dict(p.sub_scores),
            }
            for p in plans
        ],
    }


def _number(value: object, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InputError(f"{where}: {field} must be a number of seconds, not {value!r}")
    return float(value)


def parse_plan(text: str, *, name: str) -> list[EditedClip]:
    """Read a plan file's clips. Rejects other JSON, missing or non-numeric times, reversed
    bounds, and clips that overlap one another."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not a plan file (invalid JSON at line {exc.lineno})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f'{name}: not a clipflow plan file (expected "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise InputError(f"{name}: plan version {doc.get('version')!r} (this clipflow reads 1)")
    clips = doc.get("clips")
    if not isinstance(clips, list) or not clips:
        raise InputError(f"{name}: the plan lists no clips")
    edited: list[EditedClip] = []
    for k, clip in enumerate(clips, start=1):
        where = f"{name} clip {k}"
        if not isinstance(clip, dict):
            raise InputError(f"{where}: expected an object with start_s and end_s")
        start = _number(clip.get("start_s"), where, "start_s")
        end = _number(clip.get("end_s"), where, "end_s")
        if start < 0 or end <= start:
            raise InputError(f"{where}: end_s {end:.3f} must be after start_s {start:.3f} ≥ 0")
        edited.append(EditedClip(start, end, str(clip.get("title") or "").strip()[:120]))
    edited.sort(key=lambda c: c.start_s)
    for a, b in zip(edited, edited[1:], strict=False):
        if b.start_s < a.end_s:
            raise InputError(
                f"{name}: clips at {a.start_s:.2f}–{a.end_s:.2f} s and "
                f"{b.start_s:.2f}–{b.end_s:.2f} s overlap"
            )
    return edited


def plan_source_sha256(text: str) -> str:
    """The sha256 of the recording a plan was made for ("" when unknown or unreadable)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return ""
    value = doc.get("source_sha256") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else ""


def _nearest(sentences: tuple[Sentence, ...], t: float, attr: str) -> Sentence:
    return min(sentences, key=lambda s: (abs(getattr(s, attr) - t), s.index))


def snap_clip(
    transcript: Transcript, clip: EditedClip, rules: SelectionRules, *, index: int, name: str
) -> ClipPlan:
    """The clip on the nearest sentence bounds, with the usual lead-in and tail; its length
    must stay within the rules' limits."""
    sents = transcript.sentences
    if not sents:
        raise InputError(f"{name}: the transcript holds no sentences to snap clips to")
    where = f"{name} clip {index}"
    if clip.start_s >= transcript.end_s:
        raise InputError(
            f"{where}: starts at {clip.start_s:.2f} s, after the last word "
            f"({transcript.end_s:.2f} s)"
        )
    first = _nearest(sents, clip.start_s, "start_s")
    last = _nearest(sents[first.index :], clip.end_s, "end_s")
    start, end = clip_bounds(transcript, first, last, rules)
    if not rules.min_clip_s <= end - start <= rules.max_clip_s:
        raise InputError(
            f"{where}: {clip.start_s:.2f}–{clip.end_s:.2f} s snaps to whole sentences at "
            f"{start:.2f}–{end:.2f} s ({end - start:.1f} s), outside "
            f"{rules.min_clip_s:.0f}–{rules.max_clip_s:.0f} s"
        )
    window = sents[first.index : last.index + 1]
    speakers = tuple(dict.fromkeys(s.speaker for s in window if s.speaker))
    return ClipPlan(
        index,
        start,
        end,
        " ".join(s.text for s in window),
        0.0,
        speakers[0] if speakers else "",
        first.index,
        last.index,
        clip.title or headline([(s.text, 1.0) for s in window]),
        {"edited": 1.0},
        speakers=speakers,
    )


def plans_from_edits(
    transcript: Transcript, edited: list[EditedClip], rules: SelectionRules, *, name: str
) -> list[ClipPlan]:
    """Snap every edited clip; two clips may not end up sharing a sentence."""
    if len(edited) > rules.max_clips:
        raise InputError(f"{name}: {len(edited)} clips, more than the {rules.max_clips} allowed")
    plans = [
        snap_clip(transcript, clip, rules, index=k, name=name)
        for k, clip in enumerate(edited, start=1)
    ]
    for a, b in zip(plans, plans[1:], strict=False):
        if b.first_sentence <= a.last_sentence:
            raise InputError(
                f"{name}: clips {a.index} and {b.index} snap onto the same sentences "
                f"({a.start_s:.2f}–{a.end_s:.2f} s and {b.start_s:.2f}–{b.end_s:.2f} s)"
            )
    return plans
