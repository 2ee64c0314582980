"""The one rule for what is worth retrying, and the task options that apply it.

Transient: S3 5xx, throttling and timeouts (the botocore error chained to a
:class:`StorageError` decides, so an access denial fails at once), dropped connections and
timeouts. Not transient: bad input, media and QA failures, a full disk (retrying cannot help),
and bugs. LLM calls retry inside :mod:`tasks.llm` (an answered request is billed; it is never
sent twice). See docs/ARCHITECTURE.md, "Orchestration".
"""

from __future__ import annotations

from typing import Any

from media.errors import ClipflowError, StorageError
from tasks.storage import error_code

# 4xx codes worth retrying (S3 and botocore's own lists of throttling/timeouts); every 5xx is.
TRANSIENT_CODES = {
    "408", "429", "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
    "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "TooManyRequests",
    "TooManyRequestsException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "InternalError", "ServiceUnavailable", "OperationAborted",
}  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    """Whether retrying might help (see the module docstring)."""
    if isinstance(exc, StorageError):
        return exc.__cause__ is None or is_transient(exc.__cause__)
    if isinstance(exc, ClipflowError):
        return False
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if type(exc).__module__.startswith("botocore"):
        return _botocore_transient(exc)
    return False


def _botocore_transient(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        return code in TRANSIENT_CODES or (status is not None and status >= 500)
    # connect/read timeouts, endpoint unreachable, connection closed
    return isinstance(exc, HTTPClientError | BotoConnectionError)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` for Prefect tasks: retry only transient failures."""
    try:
        state.result()
    except BaseException as exc:  # noqa: BLE001 - we classify, not swallow
        return is_transient(exc)
    return False


def backoff(retries: int = 3, factor: float = 2.0) -> list[float]:
    """Exponential backoff delays in seconds: 2, 4, 8, …"""
    return [factor * 2**i for i in range(retries)]


# Task options for steps that may fail transiently (S3, network): exponential backoff with
# jitter, and only for errors that :func:`is_transient` accepts.
TRANSIENT_RETRIES: dict[str, Any] = dict(
    retries=3,
    retry_delay_seconds=backoff(),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient,
)
