"""The cost ledger: what a job paid for, stage by stage, priced after the fact."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from blocks.settings import CostRates
from tasks.costs import CostItem, CostLedger, fresh, s3_read_costs, s3_write_costs
from tasks.records import FramedAndRendered, FramedClip, RenderedClip


@dataclass(frozen=True)
class _State:
    """What the ledger reads of a Prefect task-run state."""

    name: str

    def is_completed(self) -> bool:
        return self.name in ("Completed", "Cached")


@dataclass(frozen=True)
class _Record:
    costs: tuple[CostItem, ...]


RAN, CACHED, FAILED = _State("Completed"), _State("Cached"), _State("Failed")
CPU = CostItem("render", "cpu", 3600.0, "vcpu_s", 0.0)
GPU = CostItem("render", "gpu", 1800.0, "gpu_s", 0.0)
LLM = CostItem("highlights", "llm", 1200, "tokens", 0.0123)  # an API's own bill


def test_a_stage_served_from_cache_adds_nothing() -> None:
    ledger = CostLedger()
    ledger.add(_Record((CPU,)), RAN)
    ledger.add(_Record((GPU,)), CACHED)
    ledger.add(_Record((LLM,)))  # no state: a call that is never cached
    ledger.add(_Record((GPU,)), FAILED)  # a failed attempt still used the machine
    assert ledger.items == (CPU, LLM, GPU)


def test_items_keep_the_order_the_stages_finished_in() -> None:
    ledger = CostLedger()
    ledger.add(_Record((LLM,)))
    ledger.extend(s3_write_costs([100]))
    ledger.add(_Record((CPU, GPU)), RAN)
    stages = [i.stage for i in ledger.items]
    assert stages == ["highlights", "publish", "publish", "render", "render"]


def test_priced_is_a_priced_copy_and_totals_add_up() -> None:
    ledger = CostLedger([CPU, GPU, LLM])
    rates = CostRates(cpu_vcpu_hour_usd=0.05, gpu_hour_usd=2.0)
    priced = ledger.priced(rates)
    assert [i.usd for i in priced.items] == pytest.approx([0.05, 1.0, 0.0123])
    assert priced.total_usd == pytest.approx(1.0623)
    assert ledger.items == (CPU, GPU, LLM)  # the ledger itself keeps quantities only
    assert ledger.total_usd == pytest.approx(0.0123)


def test_fresh_drops_the_costs_of_a_cached_record_only() -> None:
    framed = FramedClip(framing=None, costs=(CPU,))  # type: ignore[arg-type]
    assert fresh(framed, RAN) is framed
    assert fresh(framed, CACHED).costs == ()
    assert fresh(framed, CACHED).framing is None


def test_a_dispatched_clip_carries_both_stages_costs() -> None:
    framed = FramedClip(framing=None, costs=(CPU,))  # type: ignore[arg-type]
    rendered = RenderedClip(1, "clip-01.mp4", 720, 1280, "libx264", -14.0, 2, costs=(GPU,))
    both = FramedAndRendered(framed, rendered)
    assert both.costs == (CPU, GPU)
    ledger = CostLedger()
    ledger.add(both, CACHED)  # the whole dispatch came from the parent's cache
    ledger.add(FramedAndRendered(fresh(framed, CACHED), rendered), RAN)
    assert ledger.items == (GPU,)


@pytest.mark.parametrize(
    ("size", "requests"),
    [(0, 2), (1, 2), (8 << 20, 2), ((8 << 20) + 1, 3), (100 << 20, 14)],
)
def test_s3_reads_count_a_head_and_a_get_per_part(size: int, requests: int) -> None:
    count, gb = s3_read_costs("ingest", size)
    assert (count.unit, count.quantity) == ("requests", requests)
    assert gb.unit == "gb_read" and gb.quantity == pytest.approx(size / 1e9, abs=1e-6)


def test_s3_writes_go_multipart_above_8_mib() -> None:
    puts, stored = s3_write_costs([1 << 20, 20 << 20])
    assert puts.quantity == 1 + (2 + 3)
    assert stored.unit == "gb_month" and stored.quantity == round(21 * (1 << 20) / 1e9, 6)
