"""What every clipflow task shares: content-addressed cache keys, retry rules, cost capture."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from blocks.settings import CostRates
from media.errors import ClipflowError, StorageError

# Fields and parameters that say where things live, what the user called them, or who they
# are, not what a stage computes: the same bytes under another name reuse the same results.
_NOT_CONTENT = {
    "home", "database_url", "s3_endpoint_url", "s3_region", "aws_access_key_id",
    "aws_secret_access_key", "aws_credentials_block", "uri", "label",
    # how patiently storage is reached, not what a stage computes
    "s3_connect_timeout_s", "s3_read_timeout_s", "s3_max_attempts",
}  # fmt: skip


def _plain(obj: Any) -> Any:
    """A JSON-able, deterministic view of a task input (records, settings, paths)."""
    if isinstance(obj, BaseModel):
        return {k: _plain(v) for k, v in obj.model_dump().items() if k not in _NOT_CONTENT}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.name not in _NOT_CONTENT
        }
    if isinstance(obj, dict):
        return {
            str(k): _plain(v)
            for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))
            if k not in _NOT_CONTENT
        }
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, SecretStr):
        return "<secret>"
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float):
        return round(obj, 6)
    return obj


def stable_digest(*objs: Any) -> str:
    """sha256 of the inputs' deterministic JSON form; equal content → equal digest."""
    text = json.dumps([_plain(o) for o in objs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the pipeline's code (``media/``, ``qa/``, ``tasks/``): a change to the logic a
    stage calls, not only to the task's own body, must invalidate its cached results."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in ("media", "qa", "tasks"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def content_cache_key(task_ctx: Any, inputs: dict[str, Any]) -> str:
    """Cache key = stage name + the pipeline's code + the inputs' content (never a run id).

    Inputs carry the source's sha256 (or S3 ETag/version), so a re-run of the same recording
    with the same settings reuses every finished stage. Keys are global across tasks in
    Prefect, hence the stage-name prefix.
    """
    task = task_ctx.task
    return f"{task.name}-{stable_digest(code_digest(), inputs)[:40]}"


def _backoff(retries: int = 3, factor: float = 2.0) -> list[float]:
    """Exponential backoff delays in seconds: 2, 4, 8, …"""
    return [factor * 2**i for i in range(retries)]


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: transient storage errors (5xx, throttling, timeouts: the chained
    botocore error decides, so an access denial fails at once) and network errors. Bad input,
    media, QA and full-disk errors are not."""
    if isinstance(exc, StorageError):
        from tasks import storage

        return storage.is_transient(exc)
    if isinstance(exc, ClipflowError):
        return False
    return isinstance(exc, ConnectionError | TimeoutError)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` for Prefect tasks: retry only transient failures."""
    try:
        state.result()
    except BaseException as exc:  # noqa: BLE001 - we classify, not swallow
        return is_transient(exc)
    return False


# Task options for steps that may fail transiently (S3, network, an API): exponential backoff
# with jitter, and only for errors that :func:`is_transient` accepts.
TRANSIENT_RETRIES: dict[str, Any] = dict(
    retries=3,
    retry_delay_seconds=_backoff(),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient,
)


class ExplainedFailures(logging.Filter):
    """Drops the traceback from Prefect's log records of failures that explain themselves
    (a :class:`ClipflowError`, a full disk): the one-line message says what and where; a
    traceback through Prefect's engine adds nothing for the user. Other errors (bugs) keep
    theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            from tasks.disk import is_disk_full

            if isinstance(exc, ClipflowError) or is_disk_full(exc):
                record.exc_info, record.exc_text = None, None
        return True


_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


def quiet_explained_failures() -> None:
    """Install :class:`ExplainedFailures` on Prefect's run loggers (once per process)."""
    for name in _RUN_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, ExplainedFailures) for f in target.filters):
            target.addFilter(ExplainedFailures())


@dataclass(frozen=True, slots=True)
class CostItem:
    stage: str
    resource: str  # "cpu" | "gpu" | "asr" | "llm" | "s3"
    quantity: float
    unit: str  # "vcpu_s", "gpu_s", "requests", ...
    usd: float


# What one unit of each ledger quantity costs, from the rates (per hour → per second, …).
_UNIT_PRICE = {
    "vcpu_s": lambda r: r.cpu_vcpu_hour_usd / 3600,
    "gpu_s": lambda r: r.gpu_hour_usd / 3600,
    "audio_min": lambda r: r.asr_minute_usd,
    "requests": lambda r: r.s3_request_usd,
    "put_requests": lambda r: r.s3_put_request_usd,
    "gb_month": lambda r: r.s3_storage_gb_month_usd,
    "gb_read": lambda r: r.s3_transfer_gb_usd,
}


def price(items: list[CostItem], rates: CostRates) -> list[CostItem]:
    """The ledger priced at ``rates``. Tasks record quantities only, so a change of rates
    never invalidates a cached stage; items already priced (an API's own bill) keep theirs."""
    priced = []
    for item in items:
        unit_price = _UNIT_PRICE.get(item.unit)
        usd = round(item.quantity * unit_price(rates), 8) if unit_price else item.usd
        priced.append(dataclasses.replace(item, usd=usd))
    return priced


@contextmanager
def metered(stage: str, items: list[CostItem], *, pool: str = "cpu"):
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
