"""Stage events in the run log: their lines, and INFO run logs kept for the API while the
console shows only what ``PREFECT_LOGGING_LEVEL`` allows (tests/flows/test_process_video.py
reads a real job's lines back through the API)."""

from __future__ import annotations

import logging

import pytest
from prefect.logging.handlers import PrefectConsoleHandler

from tasks import stage_log
from tasks.stage_log import ConsoleAtConfiguredLevel, StageEvent, message


def test_message_names_the_stage_and_clip() -> None:
    assert message(StageEvent("transcript", "start")) == "transcript: started"
    done = StageEvent("render", "done", "-14.02 LUFS", clip=2, clips=3)
    assert message(done) == "render clip 2/3: -14.02 LUFS"


def _record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "m", None, None)


@pytest.fixture
def console():
    """Prefect's console handler on the root logger, as its logging.yml puts it outside
    pytest (which replaces the root's handlers while it captures); run-logger levels restored
    afterwards."""
    loggers = [logging.getLogger(n) for n in stage_log.RUN_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.NOTSET)  # as configured, before any flow run of this session
    handler = PrefectConsoleHandler()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


def test_info_run_logs_pass_while_the_console_stays_at_its_level(console) -> None:
    prefect_level = logging.getLogger("prefect").getEffectiveLevel()
    assert prefect_level == logging.WARNING  # tests/conftest.py, as `clipflow run` sets it
    assert not logging.getLogger("prefect.flow_runs").isEnabledFor(logging.INFO)
    stage_log.send_run_logs_to_api()
    stage_log.send_run_logs_to_api()  # idempotent: one filter per console handler
    for name in stage_log.RUN_LOGGERS:
        assert logging.getLogger(name).isEnabledFor(logging.INFO)  # the API handler gets them
    assert logging.getLogger("prefect").getEffectiveLevel() == prefect_level
    assert [type(f) for f in console.filters] == [ConsoleAtConfiguredLevel]
    assert not console.filter(_record("prefect.flow_runs", logging.INFO))
    assert not console.filter(_record("prefect.task_runs", logging.INFO))
    assert console.filter(_record("prefect.flow_runs", logging.WARNING))
    assert console.filter(_record("some.library", logging.INFO))  # not ours to judge
