"""The service's side of Prefect: a job is a flow run of the ``process-video`` deployment.

One sync client for the server's life (its HTTP pool is thread-safe), called from FastAPI's
worker threads. Explicit ``limit`` and ``sort`` on every read: Prefect's client sends null for
omitted ones, which FastAPI ≥ 0.151 refuses (pyproject.toml).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort
from prefect.states import Cancelled, Cancelling

WAITING = (StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED)
_TASK_SUFFIX = re.compile(r"-[0-9a-z]{3}$")


class PrefectRuns:
    """Flow runs of one deployment (``flow/deployment``), created, read and cancelled."""

    def __init__(self, client: SyncPrefectClient, deployment: str) -> None:
        self.client, self.deployment = client, deployment
        self._deployment_id: uuid.UUID | None = None
        self._lock = threading.Lock()

    def deployment_id(self) -> uuid.UUID:
        with self._lock:
            if self._deployment_id is None:
                self._deployment_id = self.client.read_deployment_by_name(self.deployment).id
            return self._deployment_id

    def deployment_parameters(self) -> dict[str, Any]:
        return dict(self.client.read_deployment(self.deployment_id()).parameters)

    def create(
        self, parameters: dict[str, Any], *, idempotency_key: str | None, tags: Iterable[str]
    ) -> FlowRun:
        """A new flow run; Prefect hands back the same run for the same idempotency key."""
        return self.client.create_flow_run_from_deployment(
            self.deployment_id(),
            parameters=parameters,
            idempotency_key=idempotency_key,
            tags=list(tags),
        )

    def read_many(self, ids: Iterable[str]) -> dict[str, FlowRun]:
        wanted = [uuid.UUID(i) for i in ids]
        if not wanted:
            return {}
        runs = self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=wanted)),
            sort=FlowRunSort.ID_DESC,
            limit=len(wanted),
        )
        return {str(run.id): run for run in runs}

    def cancel(self, flow_run_id: str) -> None:
        """A run that waits is cancelled at once; a running one is asked to stop (its worker
        kills it); a finished one is left as it is."""
        run = self.client.read_flow_run(uuid.UUID(flow_run_id))
        state = run.state.type if run.state else None
        if state in WAITING:
            self.client.set_flow_run_state(run.id, Cancelled(message="cancelled by its client"))
        elif state in (StateType.RUNNING, None):
            self.client.set_flow_run_state(run.id, Cancelling(message="cancelled by its client"))

    def stages_done(self, flow_run_id: str) -> list[str]:
        """The task runs of the job that completed, by task name, in the order they ended."""
        runs = self.client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)])),
            sort=TaskRunSort.END_TIME_DESC,
            limit=200,
        )
        done = [r for r in runs if r.state is not None and r.state.type is StateType.COMPLETED]
        names: list[str] = []
        for run in reversed(done):
            name = _TASK_SUFFIX.sub("", run.name)
            if name not in names:
                names.append(name)
        return names

    def queue_depth(self) -> int:
        """Runs of the deployment waiting for a worker."""
        return self.client.count_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[self.deployment_id()])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(WAITING)))
            ),
        )

    def problem(self) -> str | None:
        """Why the Prefect API cannot serve jobs, or None."""
        failure = self.client.api_healthcheck()
        if failure is not None:
            return f"Prefect API: {type(failure).__name__}: {failure}"
        try:
            self.deployment_id()
        except Exception as exc:  # noqa: BLE001 - reported as the component's health
            return f"deployment {self.deployment!r}: {type(exc).__name__}: {exc}"
        return None
