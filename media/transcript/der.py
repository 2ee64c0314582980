"""Diarization error rate (DER) against RTTM references, as NIST md-eval scores it.

DER = (missed speech + false alarm + speaker confusion) / reference speech time, counted per
speaker (overlapped speech counts once per speaker). Hypothesis labels are mapped one-to-one
onto reference speakers so that their overlap is largest (Hungarian assignment; NIST md-eval
does the same), and an optional collar around every reference boundary is left unscored.
Time is scored on a grid of ``step_s`` (default 10 ms). Pure apart from :func:`read_rttm`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media.errors import InputError
from media.transcript.records import SpeakerSegment

STEP_S = 0.01


def parse_rttm(text: str) -> dict[str, tuple[SpeakerSegment, ...]]:
    """SPEAKER lines of an RTTM, per file id: ``SPEAKER file chan onset dur <NA> <NA> who …``."""
    out: dict[str, list[SpeakerSegment]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if len(fields) < 8:
            raise InputError(f"RTTM line {n}: expected at least 8 fields, got {len(fields)}")
        try:
            onset, duration = float(fields[3]), float(fields[4])
        except ValueError as exc:
            raise InputError(f"RTTM line {n}: onset/duration not numbers ({exc})") from exc
        if duration < 0:
            raise InputError(f"RTTM line {n}: negative duration {duration}")
        seg = SpeakerSegment(onset, round(onset + duration, 6), fields[7])
        out.setdefault(fields[1], []).append(seg)
    return {k: tuple(sorted(v, key=lambda s: s.start_s)) for k, v in out.items()}


def read_rttm(path: str | Path) -> dict[str, tuple[SpeakerSegment, ...]]:
    return parse_rttm(Path(path).read_text(encoding="utf-8"))


def format_rttm(file_id: str, segments: Iterable[SpeakerSegment]) -> str:
    return "".join(
        f"SPEAKER {file_id} 1 {s.start_s:.3f} {s.end_s - s.start_s:.3f} <NA> <NA> {s.speaker} "
        "<NA> <NA>\n"
        for s in segments
    )


@dataclass(frozen=True, slots=True)
class DerResult:
    """Seconds of scored reference speech and of each error kind; ``mapping`` hyp -> ref."""

    total_s: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    mapping: dict[str, str]

    @property
    def der(self) -> float:
        errors = self.missed_s + self.false_alarm_s + self.confusion_s
        return errors / self.total_s if self.total_s > 0 else 0.0


def _activity(
    segments: Sequence[SpeakerSegment], labels: Sequence[str], n: int, step_s: float
) -> npt.NDArray[np.bool_]:
    """(len(labels), n) speaking flags on the grid."""
    act = np.zeros((len(labels), n), dtype=bool)
    index = {label: i for i, label in enumerate(labels)}
    for s in segments:
        a, b = int(round(s.start_s / step_s)), int(round(s.end_s / step_s))
        act[index[s.speaker], max(0, a) : min(n, b)] = True
    return act


def best_mapping(overlap: npt.NDArray[np.float64]) -> list[tuple[int, int]]:
    """(hyp, ref) pairs, one-to-one, maximising the summed ``overlap[hyp, ref]``.

    Hungarian assignment from scipy when it is installed; otherwise an exact search over
    assignments of the smaller side, which is fine for the handful of speakers of a recording.
    """
    n_hyp, n_ref = overlap.shape
    if n_hyp == 0 or n_ref == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - scipy comes with the environment today
        return _exact_mapping(overlap)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


def _exact_mapping(overlap: npt.NDArray[np.float64]) -> list[tuple[int, int]]:
    n_hyp, n_ref = overlap.shape
    if n_hyp <= n_ref:
        best = max(permutations(range(n_ref), n_hyp),
                   key=lambda p: sum(overlap[h, r] for h, r in enumerate(p)))  # fmt: skip
        return list(enumerate(best))
    best = max(permutations(range(n_hyp), n_ref),
               key=lambda p: sum(overlap[h, r] for r, h in enumerate(p)))  # fmt: skip
    return [(h, r) for r, h in enumerate(best)]


def diarization_error(
    reference: Sequence[SpeakerSegment],
    hypothesis: Sequence[SpeakerSegment],
    *,
    collar_s: float = 0.0,
    step_s: float = STEP_S,
) -> DerResult:
    """Missed, false-alarm and confusion time of ``hypothesis`` against ``reference``.

    ``collar_s`` leaves ±collar around each reference segment's start and end unscored
    (md-eval's ``-c``; 0.25 s is the customary setting).
    """
    if step_s <= 0 or collar_s < 0:
        raise InputError(f"step {step_s} s and collar {collar_s} s must be > 0 and ≥ 0")
    end = max((s.end_s for s in [*reference, *hypothesis]), default=0.0)
    n = int(np.ceil(end / step_s)) + 1
    ref_labels = list(dict.fromkeys(s.speaker for s in reference))
    hyp_labels = list(dict.fromkeys(s.speaker for s in hypothesis))
    ref = _activity(reference, ref_labels, n, step_s)
    hyp = _activity(hypothesis, hyp_labels, n, step_s)
    scored = np.ones(n, dtype=bool)
    if collar_s > 0:
        c = int(round(collar_s / step_s))
        for s in reference:
            for edge in (int(round(s.start_s / step_s)), int(round(s.end_s / step_s))):
                scored[max(0, edge - c) : min(n, edge + c)] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    overlap = hyp.astype(np.float64) @ ref.T.astype(np.float64)
    pairs = best_mapping(overlap)
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    correct = np.zeros(ref.shape[1])
    for h, r in pairs:
        correct += hyp[h] & ref[r]
    missed = np.maximum(0, n_ref - n_hyp).sum()
    false_alarm = np.maximum(0, n_hyp - n_ref).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    return DerResult(
        total_s=float(n_ref.sum() * step_s),
        missed_s=float(missed * step_s),
        false_alarm_s=float(false_alarm * step_s),
        confusion_s=float(confusion * step_s),
        mapping={hyp_labels[h]: ref_labels[r] for h, r in pairs if overlap[h, r] > 0},
    )
