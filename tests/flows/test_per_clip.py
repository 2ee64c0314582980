"""Both dispatch modes hand ``process-video`` the same per-clip records and the same costs, so
the flow branches once. The stages are stand-ins here (no Prefect run): what is checked is the
wiring, the ledger and the timings; tests/flows/test_process_video.py and
tests/deployments/test_dispatch_pools.py run the real thing."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from blocks.settings import PipelineSettings
from flows import per_clip
from flows.per_clip import RUNNERS, ClipBatch, ClipResult, Dispatch
from flows.stopwatch import Stopwatch
from tasks.costs import CostItem, CostLedger
from tasks.records import ClipQA, FramedAndRendered, FramedClip, RenderedClip


@dataclass
class _Future:
    value: Any
    cached: bool = False

    def result(self) -> Any:
        return self.value

    @property
    def state(self) -> Any:
        name = "Cached" if self.cached else "Completed"
        return SimpleNamespace(name=name, is_completed=lambda: True)


def _resolved(arg: Any) -> Any:
    """What Prefect hands a task for an upstream future: its result."""
    return arg.result() if isinstance(arg, _Future) else arg


@dataclass
class _Task:
    """A task's ``submit``: calls ``fn`` on resolved arguments; ``cached`` names clip indexes
    whose run is served from the cache."""

    fn: Any
    cached: set[int] = field(default_factory=set)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def submit(self, *args: Any, **kwargs: Any) -> _Future:
        args = tuple(_resolved(a) for a in args)
        self.calls.append(kwargs)
        index = next(a.index for a in args if isinstance(a, SimpleNamespace | RenderedClip))
        return _Future(self.fn(*args, **kwargs), cached=index in self.cached)


def _cost(stage: str, index: int) -> tuple[CostItem, ...]:
    return (CostItem(stage, "cpu", float(index), "vcpu_s", 0.0),)


def _framed(index: int) -> FramedClip:
    return FramedClip(f"framing-{index}", _cost("frame", index))  # type: ignore[arg-type]


def _rendered(index: int) -> RenderedClip:
    return RenderedClip(index, f"/w/clip-{index:02d}.mp4", 720, 1280, "libx264", -14.0, 2,
                        costs=_cost("render", index))  # fmt: skip


def _qa(rendered: RenderedClip) -> ClipQA:
    return ClipQA(f"measured-{rendered.index}", _cost("qa", rendered.index))  # type: ignore[arg-type]


CLIPS = tuple(SimpleNamespace(index=i) for i in (1, 2, 3))


@pytest.fixture
def stages(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Stand-ins for the per-clip tasks; clip 2 was framed and rendered by an earlier run."""
    frame = _Task(lambda src, clip, text, settings: _framed(clip.index))
    render = _Task(lambda src, clip, framed, text, settings: _rendered(clip.index), cached={2})
    check = _Task(lambda rendered, settings: _qa(rendered))

    dispatch = _Task(
        lambda src, clip, text, settings, **_: FramedAndRendered(
            _framed(clip.index), _rendered(clip.index)
        )
    )
    for name, stand_in in (("frame_clip", frame), ("render_clip", render), ("qa_clip", check),
                           ("dispatch_frame_render", dispatch)):  # fmt: skip
        monkeypatch.setattr(per_clip, name, stand_in)
    monkeypatch.setattr(per_clip, "localise", lambda outcome, src, settings: outcome)
    told: list[tuple[str, str, int, int]] = []
    monkeypatch.setattr(
        per_clip,
        "finished",
        lambda stage, summary, *, clip, clips: told.append((stage, summary, clip, clips)),
    )
    monkeypatch.setattr(per_clip, "framing_summary", lambda clip, framing: f"framed {framing}")
    monkeypatch.setattr(per_clip, "render_summary", lambda rendered: f"rendered {rendered.index}")
    monkeypatch.setattr(per_clip, "measured_summary", lambda measured: f"checked {measured}")
    return SimpleNamespace(frame=frame, render=render, check=check, dispatch=dispatch, told=told)


class _Progress:
    def __init__(self) -> None:
        self.done_count = 0

    def done(self, outcome: Any) -> Any:
        self.done_count += 1
        return outcome


def _run(dispatch: Dispatch, out: str = "out") -> tuple[list[ClipResult], CostLedger, Any, Any]:
    batch = ClipBatch("src", "text", CLIPS, PipelineSettings(), out)  # type: ignore[arg-type]
    ledger, watch, progress = CostLedger(), Stopwatch(), _Progress()
    results = RUNNERS[dispatch](batch, ledger, watch, progress)  # type: ignore[arg-type]
    return results, ledger, watch, progress


def test_every_dispatch_value_has_a_runner() -> None:
    assert set(typing.get_args(Dispatch)) == set(RUNNERS)


def test_both_modes_return_the_same_records(stages: SimpleNamespace) -> None:
    here, _, _, progress = _run("local")
    pools, _, _, _ = _run("pools")
    assert here == pools
    assert [r.clip.index for r in here] == [1, 2, 3]
    assert [(r.framing, r.rendered.index, r.measurements) for r in here] == [
        (f"framing-{i}", i, f"measured-{i}") for i in (1, 2, 3)
    ]
    assert progress.done_count == 3


def test_here_a_cached_stage_costs_nothing(stages: SimpleNamespace) -> None:
    _, ledger, watch, _ = _run("local")
    charged = [(i.stage, i.quantity) for i in ledger.items]
    # frames first, then renders (clip 2's came from the cache), then QA: as they finish
    assert charged == [("frame", 1), ("frame", 2), ("frame", 3), ("render", 1), ("render", 3),
                       ("qa", 1), ("qa", 2), ("qa", 3)]  # fmt: skip
    assert list(watch.stages) == ["frame", "render", "qa_clips"]


def test_on_pools_a_cached_dispatch_costs_nothing(stages: SimpleNamespace) -> None:
    stages.dispatch.cached = {2}
    _, ledger, watch, _ = _run("pools")
    charged = [(i.stage, i.quantity) for i in ledger.items]
    assert charged == [("frame", 1), ("render", 1), ("frame", 3), ("render", 3),
                       ("qa", 1), ("qa", 2), ("qa", 3)]  # fmt: skip
    assert list(watch.stages) == ["frame_render", "qa_clips"]


@pytest.mark.parametrize(
    ("out", "store"), [("out", None), ("s3://bucket/jobs/", "s3://bucket/jobs/_stages")]
)
def test_clip_files_travel_through_an_s3_output(stages: SimpleNamespace, out, store) -> None:
    _run("pools", out)
    assert [c["stage_store"] for c in stages.dispatch.calls] == [store] * len(CLIPS)


def test_each_clip_stage_is_told_in_both_modes(stages: SimpleNamespace) -> None:
    """Framing, render and QA of clip i of n reach the run log (and the CLI's progress) as the
    records arrive, each with what its own record says; on the gpu pool framing and render are
    told when the clip comes back."""
    said = {"framing": "framed framing-{}", "render": "rendered {}", "qa": "checked measured-{}"}
    _run("local")
    assert stages.told == [
        (stage, said[stage].format(i), i, 3)
        for stage in ("framing", "render", "qa")
        for i in (1, 2, 3)
    ]
    stages.told.clear()
    _run("pools")
    gpu = [
        (stage, said[stage].format(i), i, 3) for i in (1, 2, 3) for stage in ("framing", "render")
    ]
    assert stages.told == gpu + [("qa", said["qa"].format(i), i, 3) for i in (1, 2, 3)]
