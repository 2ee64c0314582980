"""How failures read in the logs: one line for those that explain themselves."""

from __future__ import annotations

import logging

from media.errors import ClipflowError
from tasks.disk import is_disk_full

_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class ExplainedFailures(logging.Filter):
    """Drops the traceback from Prefect's log records of failures that explain themselves
    (a :class:`ClipflowError`, a full disk): the one-line message says what and where; a
    traceback through Prefect's engine adds nothing for the user. Other errors (bugs) keep
    theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and (isinstance(exc, ClipflowError) or is_disk_full(exc)):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_explained_failures() -> None:
    """Install :class:`ExplainedFailures` on Prefect's run loggers (once per process)."""
    for name in _RUN_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, ExplainedFailures) for f in target.filters):
            target.addFilter(ExplainedFailures())
