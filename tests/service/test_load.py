"""A burst on loopback: 100 submissions from 10 threads, every one answered 201 or 429, each
accepted job recorded once with one flow run, none lost. (Latency and drain figures come from
tests/benchmarks/serve_load.py: reported, not asserted.)"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from clipflow.client import ClipflowClient, RateLimited
from tests.service.support import make_key

SUBMISSIONS, THREADS, BURST = 100, 10, 60


@pytest.mark.slow
def test_a_burst_of_submissions_loses_nothing(start_server, tmp_path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    served = start_server(f"sqlite:///{tmp_path / 'jobs.sqlite'}", rate_per_s=0.01, burst=BURST)
    client = f"burst-{uuid.uuid4().hex[:6]}"
    source = served.inbox / "talk.mp4"
    source.write_bytes(b"x")
    submitter = ClipflowClient(served.url, make_key(served.db, client, "submit"))

    def submit(i: int) -> str | None:
        try:
            return submitter.submit(str(source), idempotency_key=f"upload-{i}").id
        except RateLimited as exc:
            assert exc.retry_after >= 1
            return None

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(submit, range(SUBMISSIONS)))
    accepted = [a for a in answers if a is not None]
    assert len(accepted) == BURST and len(set(accepted)) == BURST

    with ClipflowClient(served.url, make_key(served.db, client, "read")) as reader:
        listed = [j.id for j in reader.iter_jobs(limit=200)]
    assert sorted(listed) == sorted(accepted)
    with get_client(sync_client=True) as prefect:
        runs = prefect.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"client:{client}"])),
            limit=SUBMISSIONS * 2,
        )
    assert len(runs) == BURST
