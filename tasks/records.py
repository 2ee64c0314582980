"""The records the stages hand each other: small, frozen, typed, and never frame data.

Each stage's record carries the cost items of making it (:class:`tasks.costs.CostLedger` adds
those of the stages that ran). Records travel between processes (Prefect result storage, the
gpu pool's flow), so they hold paths, URIs and numbers only (docs/ARCHITECTURE.md, "One job,
as data flows through it").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from media.framing.framing_plan import FramingPlan
from media.ingest import Source
from media.render.layouts import FaceRegion
from media.selection.candidates import ClipPlan
from media.transcript.records import Transcript
from qa.records import ClipMeasurements
from tasks.costs import CostItem


@dataclass(frozen=True, slots=True)
class Ingested:
    """A recording accepted: our content-addressed copy of it, probed and validated."""

    source: Source
    costs: tuple[CostItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Sidecar:
    """A sidecar transcript copied by content: its sha256 and the local copy's path."""

    sha256: str
    path: str


@dataclass(frozen=True, slots=True)
class Transcribed:
    """The recording's words with times, from its sidecar or from speech recognition."""

    transcript: Transcript
    costs: tuple[CostItem, ...] = ()


class SelectionMethod(StrEnum):
    """How the clips were chosen; the value is what ``report.json`` says."""

    OFFLINE = "offline"  # scored on the transcript and the audio, here
    LLM = "llm"  # an LLM chose among the offline shortlist
    PLAN = "plan"  # a plan file named them (``clipflow run --plan``)


@dataclass(frozen=True, slots=True)
class Selection:
    """The clips a job makes, in order, how they were chosen and, when that is not the plain
    offline choice, why (an LLM's fallback reason, the plan file's name)."""

    clips: tuple[ClipPlan, ...]
    method: SelectionMethod
    reason: str = ""
    costs: tuple[CostItem, ...] = ()
    # The score of every candidate window the offline ranking weighed (none from a plan file).
    candidate_scores: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class FramedClip:
    """Where one clip's crop sits over time, and why."""

    framing: FramingPlan
    costs: tuple[CostItem, ...] = ()


@dataclass(frozen=True, slots=True)
class RenderedClip:
    """One encoded clip: its file (a local path, or an ``s3://`` URI while it travels from the
    gpu pool), what it is, and its caption files."""

    index: int
    path: str
    width: int
    height: int
    encoder: str
    integrated_lufs: float
    audio_renders: int
    captions: dict[str, str] = field(default_factory=dict)  # "srt"/"vtt" → clip-relative file
    costs: tuple[CostItem, ...] = ()
    # Where the picture holds a face by design (per shot); QA judges centring there only.
    face_regions: tuple[FaceRegion, ...] = ()


@dataclass(frozen=True, slots=True)
class ClipQA:
    """What QA measured on one produced clip (the file only)."""

    measurements: ClipMeasurements
    costs: tuple[CostItem, ...] = ()


@dataclass(frozen=True, slots=True)
class FramedAndRendered:
    """One clip's gpu stages as the gpu pool's ``frame-and-render-clip`` flow hands them back;
    each record without its costs when it came from that side's cache."""

    framed: FramedClip
    rendered: RenderedClip

    @property
    def costs(self) -> tuple[CostItem, ...]:
        return self.framed.costs + self.rendered.costs
