"""The automations that resume a job whose worker died (deployments/recovery.py).

The definitions are checked as data; the re-run automation end to end on the session's Prefect
test server, whose triggers and actions services evaluate it: a deployment's run that crashes
is scheduled again until its re-runs are used up. A flow name of its own keeps it away from the
other tests' runs. The heartbeat side (a killed worker container, its run marked Crashed) runs
in tests/infra/test_stack.py.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from deployments import recovery
from tests.deployments.support import read_flow_run, wait_for


def test_silent_runs_of_clipflow_deployments_are_marked_crashed() -> None:
    automation = recovery.crash_automation(recovery.RecoverySpec(silence_s=120))
    trigger = automation.trigger
    assert trigger.posture == "Proactive" and trigger.within.total_seconds() == 120
    assert trigger.after == {"prefect.flow-run.heartbeat"}
    # a run that ends (any final state) or keeps beating is never marked
    assert trigger.expect >= {
        "prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
        "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed",
    }  # fmt: skip
    assert trigger.for_each == {"prefect.resource.id"}  # each run on its own
    assert trigger.match_related.root == {"prefect.resource.id": "prefect.tag.clipflow"}
    (action,) = automation.actions
    assert (action.type, action.state.value) == ("change-flow-run-state", "CRASHED")


def test_crashed_jobs_are_rescheduled_a_bounded_number_of_times() -> None:
    automation = recovery.rerun_automation(recovery.RecoverySpec(max_reruns=3))
    trigger = automation.trigger
    assert trigger.expect == {"prefect.flow-run.Crashed"}
    assert trigger.match.root["prefect.run-count"] == ["1", "2", "3"]
    assert trigger.match_related.root["prefect.resource.name"] == "process-video"
    (action,) = automation.actions
    assert (action.state.value, action.name) == ("SCHEDULED", "AwaitingRetry")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"silence_s": 45}, "at least two heartbeats"),
        ({"max_reruns": -1}, "expected 0-10"),
        ({"max_reruns": 11}, "expected 0-10"),
    ],
)
def test_bad_recovery_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        recovery.RecoverySpec(**kwargs)


async def _deployment_of(flow_name: str) -> uuid.UUID:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        flow_id = await client.create_flow_from_name(flow_name)
        return await client.create_deployment(flow_id=flow_id, name="recovery-test")


def _set(run_id: uuid.UUID, state: Any) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, state, force=True)


def _new_run(deployment_id: uuid.UUID) -> uuid.UUID:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.create_flow_run_from_deployment(deployment_id).id


def _crash_when_running(run_id: uuid.UUID) -> None:
    """The run starts (its run count goes up) and then crashes, as a killed worker's would."""
    from prefect.states import Crashed, Running

    _set(run_id, Running())
    _set(run_id, Crashed(message="worker lost"))


def _rescheduled(run_id: uuid.UUID) -> Any:
    run = read_flow_run(run_id)
    return run if run.state.name == "AwaitingRetry" else None


@pytest.mark.usefixtures("prefect_server")
def test_a_crashed_run_is_scheduled_again_until_its_reruns_are_used_up() -> None:
    flow_name = f"recovery-{uuid.uuid4().hex[:8]}"
    spec = recovery.RecoverySpec(max_reruns=1, flow_name=flow_name)
    ids = asyncio.run(recovery.ensure_recovery(spec))
    assert asyncio.run(recovery.ensure_recovery(spec)) == ids  # idempotent: updated in place
    try:
        deployment_id = asyncio.run(_deployment_of(flow_name))
        first = _new_run(deployment_id)
        _crash_when_running(first)
        run = wait_for(lambda: _rescheduled(first), 30, "the crashed run to be scheduled again")
        assert run.state.type.value == "SCHEDULED" and run.run_count == 1
        assert "clipflow-rerun-crashed-jobs" in run.state.message
        # its second crash is final (max_reruns=1); a fresh run crashed after it is rescheduled,
        # so the automation has seen both events by then
        _crash_when_running(first)
        second = _new_run(deployment_id)
        _crash_when_running(second)
        wait_for(lambda: _rescheduled(second), 30, "the fresh run to be scheduled again")
        again = read_flow_run(first)
        assert (again.state.type.value, again.run_count) == ("CRASHED", 2)
    finally:
        asyncio.run(recovery.ensure_recovery(recovery.RecoverySpec(max_reruns=0)))
        asyncio.run(_delete(recovery.CRASH_AUTOMATION))


async def _delete(name: str) -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        for automation in await client.read_automations_by_name(name):
            await client.delete_automation(automation.id)
