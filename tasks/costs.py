"""What a job costs: cost items recorded by the stages, priced afterwards, kept in one ledger.

Stages record quantities (CPU and GPU seconds, audio minutes, S3 requests and bytes) and leave
the price to :func:`price`, so a change of rates never invalidates a cached stage. Every
stage's record carries its items; the flow's :class:`CostLedger` adds those of the stages that
ran in this job (one served from cache cost nothing this time) and prices them
(docs/ARCHITECTURE.md, "One job, as data flows through it").
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from blocks.settings import CostRates

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State


@dataclass(frozen=True, slots=True)
class CostItem:
    stage: str
    resource: str  # "cpu" | "gpu" | "asr" | "llm" | "s3"
    quantity: float
    unit: str  # "vcpu_s", "gpu_s", "requests", ...
    usd: float


class Costed(Protocol):
    """A stage's record: whatever it holds, it carries the cost items of making it."""

    @property
    def costs(self) -> tuple[CostItem, ...]: ...


# What one unit of each ledger quantity costs, from the rates (per hour → per second, …).
_UNIT_PRICE: dict[str, Callable[[CostRates], float]] = {
    "vcpu_s": lambda r: r.cpu_vcpu_hour_usd / 3600,
    "gpu_s": lambda r: r.gpu_hour_usd / 3600,
    "audio_min": lambda r: r.asr_minute_usd,
    "requests": lambda r: r.s3_request_usd,
    "put_requests": lambda r: r.s3_put_request_usd,
    "gb_month": lambda r: r.s3_storage_gb_month_usd,
    "gb_read": lambda r: r.s3_transfer_gb_usd,
}


def price(items: Iterable[CostItem], rates: CostRates) -> list[CostItem]:
    """The items priced at ``rates``; items already priced (an API's own bill) keep theirs."""
    priced = []
    for item in items:
        unit_price = _UNIT_PRICE.get(item.unit)
        usd = round(item.quantity * unit_price(rates), 8) if unit_price else item.usd
        priced.append(dataclasses.replace(item, usd=usd))
    return priced


R = TypeVar("R")


def served_from_cache(state: State[Any] | None) -> bool:
    """Whether a task run's final state says its result came from the cache."""
    return state is not None and state.is_completed() and state.name == "Cached"


def fresh(record: R, state: State[Any] | None) -> R:
    """A stage's record as this job paid for it: without its cost items when ``state`` says
    it was served from the cache (for records handed on, e.g. by the gpu pool's flow)."""
    if not served_from_cache(state):
        return record
    return cast(R, dataclasses.replace(cast(Any, record), costs=()))


class CostLedger:
    """The job's cost items, in the order the stages finished: the one place the flow adds
    them up. Mutable on purpose: the flow carries one through the job."""

    def __init__(self, items: Iterable[CostItem] = ()) -> None:
        self._items = list(items)

    @property
    def items(self) -> tuple[CostItem, ...]:
        return tuple(self._items)

    def add(self, record: Costed, state: State[Any] | None = None) -> None:
        """Add a stage's items, unless ``state`` (its task run's, when known) says the record
        was served from the cache: that stage cost nothing in this job."""
        if not served_from_cache(state):
            self._items.extend(record.costs)

    def extend(self, items: Iterable[CostItem]) -> None:
        """Add items that belong to no stage record (publishing to S3)."""
        self._items.extend(items)

    def priced(self, rates: CostRates) -> CostLedger:
        """A copy with every item priced at ``rates``."""
        return CostLedger(price(self._items, rates))

    @property
    def total_usd(self) -> float:
        return sum(item.usd for item in self._items)


@contextmanager
def metered(stage: str, items: list[CostItem], *, pool: str = "cpu") -> Iterator[None]:
    """Record a stage's CPU seconds (and GPU seconds on the gpu pool): this thread's own CPU
    plus every ffmpeg it ran (:mod:`media.cpu`), so stages side by side are each charged
    their own. Priced later by :func:`price`."""
    from media import cpu

    t0, c0 = time.perf_counter(), cpu.thread_seconds()
    try:
        yield
    finally:
        wall = time.perf_counter() - t0
        if pool == "gpu":
            items.append(CostItem(stage, "gpu", round(wall, 3), "gpu_s", 0.0))
        used = round(max(0.0, cpu.thread_seconds() - c0), 3)
        items.append(CostItem(stage, "cpu", used, "vcpu_s", 0.0))


def s3_read_costs(stage: str, size_bytes: int) -> list[CostItem]:
    """An S3 download: one HEAD plus one GET per 8 MiB part (boto3's multipart reads), and the
    bytes read."""
    requests = 1 + max(1, math.ceil(size_bytes / (8 << 20)))
    return [
        CostItem(stage, "s3", requests, "requests", 0.0),
        CostItem(stage, "s3", round(size_bytes / 1e9, 6), "gb_read", 0.0),
    ]


def s3_write_costs(sizes_bytes: Iterable[int]) -> list[CostItem]:
    """Publishing to S3: PUTs (boto3 goes multipart above 8 MiB: initiate, parts, complete)
    and one month of storage for what was published."""
    sizes = list(sizes_bytes)
    part = 8 << 20
    puts = sum(1 if size <= part else 2 + math.ceil(size / part) for size in sizes)
    gb = sum(sizes) / 1e9
    return [
        CostItem("publish", "s3", puts, "put_requests", 0.0),
        CostItem("publish", "s3", round(gb, 6), "gb_month", 0.0),
    ]
