"""What report.json and report.html say about one clip's framing (pure: a plan in, JSON-ready
numbers out): the shots with their layouts and windows, and the camera figures an editor
judges a clip by.

- ``source_cuts``: the source's own cuts inside the clip (the window cuts with each).
- ``empty_share``: share of the clip's time in shots without a face by design (a slide, a
  shot of no one); QA measures the same on the file (``qa.no_face_share``).
- ``reversals_per_s``, ``p99_pan_px`` (source px per output frame), ``window_cuts``: from the
  crop path as the render plays it (:mod:`media.framing.camera_metrics`), cuts excluded from
  the pan figures.
- ``speaker_share``: share of the labelled speech time during which the window is on the
  face the transcript's speaker was matched to, where the speaker has one; the framing's own
  account: the real-footage benchmark measures it against composed ground truth.
"""

from __future__ import annotations

from typing import Any

from media.framing.camera_metrics import measure_keys
from media.framing.framing_plan import FramingPlan, Segment


def _segment(s: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start_s": round(s.start, 3),
        "end_s": round(s.end, 3),
        "layout": str(s.layout),
        "crop_w": s.crop_w,
        "crop_h": s.crop_h,
        "keys": [[round(k.t, 3), k.x, k.y] for k in s.keys],
        "fit": s.fit,
    }
    if s.screen is not None:
        out["screen"] = [s.screen.x, s.screen.y, s.screen.w, s.screen.h]
    if s.note:
        out["note"] = s.note
    if s.panels:  # the followed face's tile rows (window shares), where QA judges it
        out["panels"] = [[round(p.start, 3), round(p.top, 4), round(p.bottom, 4)] for p in s.panels]
    return out


def camera_figures(
    plan: FramingPlan, duration_s: float, fps: float
) -> dict[str, float | int | None]:
    """The clip's camera figures (see the module docstring)."""
    duration_s = max(duration_s, 1.0 / fps)
    m = measure_keys(plan.keys, duration_s, fps, crop_w=plan.crop_w)
    empty = sum(min(s.end, duration_s) - s.start for s in plan.segments if not s.holds_face)
    return {
        "source_cuts": len(plan.cuts),
        "empty_share": round(max(0.0, empty) / duration_s, 4),
        "reversals_per_s": m.reversals_per_s,
        "p99_pan_px": m.p99_speed_px,
        "window_cuts": m.cuts,
        "speaker_share": plan.speaker_share,
    }


def framing_record(plan: FramingPlan, duration_s: float, fps: float) -> dict[str, Any]:
    """The clip's ``framing`` block of report.json."""
    return {
        "layout": str(plan.layout),
        "layouts": sorted({str(s.layout) for s in plan.segments}) or [str(plan.layout)],
        "crop_w": plan.crop_w,
        "crop_h": plan.crop_h,
        "keys": len(plan.keys),
        "crop_keys": [[round(k.t, 3), k.x] for k in plan.keys],
        "segments": [_segment(s) for s in plan.segments],
        "cuts": [round(c, 3) for c in plan.cuts],
        "camera": camera_figures(plan, duration_s, fps),
    }
