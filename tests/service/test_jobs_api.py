"""The job API end to end: a real uvicorn server, the real Prefect test server (a flow run of
the process-video deployment per job), on SQLite and PostgreSQL job databases, through the
typed client."""

from __future__ import annotations

import uuid

import pytest

from clipflow.client import ApiError, ClipflowClient
from tests.service.support import make_key


def _flow_run(flow_run_id: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(uuid.UUID(flow_run_id))


def _recording(folder) -> str:
    path = folder / f"talk-{uuid.uuid4().hex[:6]}.mp4"
    path.write_bytes(b"not read by the API")
    return str(path)


def test_submit_read_list_and_cancel_a_job(start_server, job_db_url: str) -> None:
    from tasks import jobs

    served = start_server(job_db_url)
    key = make_key(job_db_url, "acme", "submit")
    with ClipflowClient(served.url, key) as api:
        source = _recording(served.inbox)
        job = api.submit(source, max_clips=3, aspect="1:1")
        assert (job.state, job.client, job.source, job.max_clips) == ("queued", "acme", source, 3)

        run = _flow_run(job.flow_run_id)
        assert run.parameters["source"] == source
        assert run.parameters["out"] == str(served.out)
        assert (run.parameters["max_clips"], run.parameters["aspect"]) == (3, "1:1")
        assert run.state.type.value == "SCHEDULED"

        assert api.get(job.id).model_dump(exclude={"stages_done"}) == job.model_dump(
            exclude={"stages_done"}
        )
        assert [j.id for j in api.list_jobs(state="queued").jobs] == [job.id]
        assert api.list_jobs(state="running").jobs == []

        cancelled = api.cancel(job.id)
        assert (cancelled.state, cancelled.error) == ("cancelled", "cancelled by its client")
        assert _flow_run(job.flow_run_id).state.type.value == "CANCELLED"
        row = jobs.jobs_of_flow_runs(job_db_url, [job.flow_run_id])[job.flow_run_id]
        assert row.status == "cancelled"
        with pytest.raises(ApiError) as again:
            api.cancel(job.id)
        assert again.value.status_code == 409 and "already ended: cancelled" in str(again.value)


def test_an_idempotency_key_starts_one_job(start_server, job_db_url: str) -> None:
    served = start_server(job_db_url)
    with ClipflowClient(served.url, make_key(job_db_url, "acme", "submit")) as api:
        source = _recording(served.inbox)
        first = api.submit(source, idempotency_key="upload-7")
        second = api.submit(source, idempotency_key="upload-7")
        assert second.id == first.id and second.flow_run_id == first.flow_run_id
        assert [j.id for j in api.iter_jobs()] == [first.id]
        with pytest.raises(ApiError) as other:
            api.submit(source, max_clips=2, idempotency_key="upload-7")
        assert other.value.status_code == 409 and first.id in str(other.value)
        assert api.submit(source, idempotency_key="upload-8").id != first.id
