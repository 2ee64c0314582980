"""Re-run jobs whose worker died mid-run (``python -m deployments.recovery``).

A worker that is killed with its flow run (a container killed, a node lost, a pod evicted)
reports nothing: Prefect keeps the run ``Running`` for ever. Two automations, evaluated by the
server's triggers and actions services (inside ``prefect server start``), turn that into a
resumed job:

* ``clipflow-crash-silent-runs``: a run of a clipflow deployment that sent flow-run heartbeats
  and then none for ``silence_s`` seconds, without finishing, is marked ``Crashed`` (Prefect's
  own recipe for "zombie" flow runs). The heartbeats come from the flow-run process when its
  worker has ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` set (30 s in the compose stack; Prefect's
  minimum is 30 s, so ``silence_s`` is at least two heartbeats).
* ``clipflow-rerun-crashed-jobs``: a ``process-video`` run that crashed, from any cause, is
  scheduled again (``AwaitingRetry``, as the UI's Retry does), at most ``max_reruns`` times
  (matched on the run count the event carries). A worker picks it up; the run keeps its id, so
  the job keeps its id, row and folder, and every finished stage comes back from Prefect's result
  cache (tasks/caching.py) instead of being computed again. Results and work folders must be on
  storage the next worker reads: the compose stack's ``clipflow-home`` volume, or an S3 result
  storage block (``deployments/storage.py``).

Set the job API's ``CLIPFLOW_SERVE_CRASH_RERUNS`` to the same ``max_reruns``, so that a crashed
job that will run again shows as queued, not failed. Running the command again updates both
automations in place; ``--max-reruns 0`` deletes the re-run automation.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from deployments.automations import FLOW_NAME, upsert_automation
from deployments.pools import configured_api_url
from media.errors import ClipflowError

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

CRASH_AUTOMATION = "clipflow-crash-silent-runs"
RERUN_AUTOMATION = "clipflow-rerun-crashed-jobs"
TAG = "clipflow"  # prefect.yaml tags every clipflow deployment, and so their runs
MIN_HEARTBEAT_S = 30  # Prefect sends flow-run heartbeats at most this often
# Events that show a run is alive or done; only their absence for silence_s means a dead run.
ALIVE_OR_DONE = ("heartbeat", "Completed", "Failed", "Cancelled", "Crashed", "TimedOut")


@dataclass(frozen=True, slots=True)
class RecoverySpec:
    """How long a run may stay silent, and how often a crashed job runs again."""

    silence_s: int = 90
    max_reruns: int = 2
    flow_name: str = FLOW_NAME

    def __post_init__(self) -> None:
        if not 2 * MIN_HEARTBEAT_S <= self.silence_s <= 86_400:
            raise ValueError(
                f"silence {self.silence_s} s: expected 60-86400 s (at least two heartbeats of "
                f"Prefect's minimum {MIN_HEARTBEAT_S} s)"
            )
        if not 0 <= self.max_reruns <= 10:
            raise ValueError(f"max reruns {self.max_reruns}: expected 0-10")


def crash_automation(spec: RecoverySpec) -> AutomationCore:
    """Heartbeats seen, then silence for ``silence_s`` without an end: mark the run Crashed."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=CRASH_AUTOMATION,
        description=f"Mark a clipflow flow run Crashed after {spec.silence_s} s without a "
        "heartbeat (its worker died with it).",
        tags=[TAG],
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={f"prefect.flow-run.{event}" for event in ALIVE_OR_DONE},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.id": f"prefect.tag.{TAG}"},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=spec.silence_s),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {spec.silence_s} s: the flow run's process is gone "
                "(its worker or machine died)",
            )
        ],
    )


def rerun_automation(spec: RecoverySpec) -> AutomationCore:
    """A crashed ``flow_name`` run with run count 1..max_reruns: schedule it again."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=RERUN_AUTOMATION,
        description=f"Run a crashed {spec.flow_name} job again, at most {spec.max_reruns} "
        "times; its finished stages come from the result cache.",
        tags=[TAG],
        trigger=EventTrigger(
            expect={"prefect.flow-run.Crashed"},
            match={
                "prefect.resource.id": "prefect.flow-run.*",
                # the run count when it crashed; a run that never started (0) is not re-run
                "prefect.run-count": [str(n) for n in range(1, spec.max_reruns + 1)],
            },
            match_related={
                "prefect.resource.role": "flow",
                "prefect.resource.name": spec.flow_name,
            },
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.SCHEDULED,
                name="AwaitingRetry",
                message="crashed: scheduled again by the clipflow-rerun-crashed-jobs automation",
            )
        ],
    )


async def ensure_recovery(spec: RecoverySpec) -> dict[str, UUID | None]:
    """Create or update both automations; the re-run one is deleted when ``max_reruns`` is 0."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        ids: dict[str, UUID | None] = {
            CRASH_AUTOMATION: await upsert_automation(client, crash_automation(spec))
        }
        if spec.max_reruns:
            ids[RERUN_AUTOMATION] = await upsert_automation(client, rerun_automation(spec))
        else:
            for old in await client.read_automations_by_name(RERUN_AUTOMATION):
                await client.delete_automation(old.id)
            ids[RERUN_AUTOMATION] = None
        return ids


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.recovery",
        description="Create or update the automations that mark silent clipflow runs Crashed "
        "and run crashed jobs again, on the Prefect API in PREFECT_API_URL (idempotent).",
    )
    parser.add_argument(
        "--silence-s", type=int, default=90, help="seconds without a heartbeat (default: 90)"
    )
    parser.add_argument(
        "--max-reruns", type=int, default=2, help="re-runs of a crashed job (default: 2; 0: none)"
    )
    parser.add_argument("--flow-name", default=FLOW_NAME, help=f"default: {FLOW_NAME}")
    args = parser.parse_args(argv)
    try:
        configured_api_url()
        spec = RecoverySpec(args.silence_s, args.max_reruns, args.flow_name)
    except (ValueError, ClipflowError) as exc:
        parser.error(str(exc))
    for name, automation_id in asyncio.run(ensure_recovery(spec)).items():
        print(f"automation {name}: {automation_id or 'deleted'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
