"""Who may do what: 401 without a valid key, 403 for the wrong role or another client's job,
a client sees only its own jobs (an admin all), pages that lose nothing, and an audit row for
every call that never holds the key."""

from __future__ import annotations

import uuid

import httpx
import pytest

from clipflow.client import ApiError, ClipflowClient
from tests.service.support import make_key


def _source(served) -> str:
    path = served.inbox / f"talk-{uuid.uuid4().hex[:6]}.mp4"
    path.write_bytes(b"x")
    return str(path)


@pytest.fixture
def served(start_server, job_db_url: str):
    """The app on a job database of its own: SQLite, and PostgreSQL when configured."""
    return start_server(job_db_url)


def _status(call) -> int:
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value.status_code


def test_calls_without_a_valid_key_get_401(served) -> None:
    from tasks.jobs.api_keys import create_key, revoke_key

    record, key = create_key(served.db, "acme", "read")
    for presented in (None, "", "cfk_000000000000_" + "A" * 43, key[:-1] + "!", "Bearer"):
        with ClipflowClient(served.url, presented) as api:
            assert _status(api.list_jobs) == 401, presented
    answer = httpx.get(f"{served.url}/api/v1/jobs", headers={"X-API-Key": key})
    assert answer.status_code == 200
    revoke_key(served.db, record.id)
    with ClipflowClient(served.url, key) as api:
        assert _status(api.list_jobs) == 401
    assert answer.headers.get("www-authenticate") is None
    unauthorized = httpx.get(f"{served.url}/api/v1/jobs")
    assert unauthorized.headers["www-authenticate"] == "Bearer"
    assert "API key is required" in unauthorized.json()["detail"]


def test_roles_and_clients_limit_what_a_key_may_do(served) -> None:
    acme = ClipflowClient(served.url, make_key(served.db, "acme", "submit"))
    acme_reader = ClipflowClient(served.url, make_key(served.db, "acme", "read"))
    globex = ClipflowClient(served.url, make_key(served.db, "globex", "submit"))
    admin = ClipflowClient(served.url, make_key(served.db, "ops", "admin"))

    job = acme.submit(_source(served))
    theirs = globex.submit(_source(served))

    assert _status(lambda: acme_reader.submit(_source(served))) == 403
    assert _status(lambda: acme_reader.cancel(job.id)) == 403
    assert acme_reader.get(job.id).id == job.id
    assert _status(lambda: globex.get(job.id)) == 403
    assert _status(lambda: globex.cancel(job.id)) == 403
    assert _status(lambda: globex.list_jobs(client="acme")) == 403
    assert _status(lambda: acme.get("no-such-job")) == 404
    assert [j.id for j in acme.list_jobs().jobs] == [job.id]
    assert [j.id for j in globex.list_jobs().jobs] == [theirs.id]
    assert {j.id for j in admin.list_jobs().jobs} == {job.id, theirs.id}
    assert [j.id for j in admin.list_jobs(client="globex").jobs] == [theirs.id]
    assert admin.cancel(theirs.id).state == "cancelled"


def test_pages_cover_every_job_once_newest_first(served) -> None:
    with ClipflowClient(served.url, make_key(served.db, "acme", "submit")) as api:
        made = [api.submit(_source(served)).id for _ in range(5)]
        api.cancel(made[1])
        first = api.list_jobs(limit=2)
        assert len(first.jobs) == 2 and first.next_cursor == first.jobs[-1].id
        assert [j.id for j in api.iter_jobs(limit=2)] == made[::-1]
        assert [j.id for j in api.iter_jobs(state="queued", limit=2)] == [
            made[4],
            made[3],
            made[2],
            made[0],
        ]
        assert [j.id for j in api.list_jobs(state="cancelled").jobs] == [made[1]]
        later = api.get(made[3]).created_at
        assert [j.id for j in api.list_jobs(created_after=later).jobs] == made[:2:-1]
        bad = httpx.get(
            f"{served.url}/api/v1/jobs?state=lost&limit=0",
            headers={"Authorization": f"Bearer {make_key(served.db, 'acme', 'read')}"},
        )
        assert bad.status_code == 422
        assert {e["loc"][-1] for e in bad.json()["detail"]} == {"state", "limit"}


def test_every_call_is_audited_without_the_key(served) -> None:
    from tasks.jobs.api_keys import create_key, read_audit

    record, key = create_key(served.db, "acme", "submit")
    with ClipflowClient(served.url, key) as api:
        job = api.submit(_source(served))
        api.get(job.id)
    httpx.get(f"{served.url}/api/v1/jobs", headers={"Authorization": "Bearer wrong"})
    rows = read_audit(served.db, limit=3)[::-1]
    assert [(r.method, r.path, r.status_code, r.key_id, r.client) for r in rows] == [
        ("POST", "/api/v1/jobs", 201, record.id, "acme"),
        ("GET", f"/api/v1/jobs/{job.id}", 200, record.id, "acme"),
        ("GET", "/api/v1/jobs", 401, None, None),
    ]
    assert all(r.remote == "127.0.0.1" for r in rows)
    secret = key.rsplit("_", 1)[1]
    import sqlalchemy as sa

    from tasks.jobs import get_engine

    with get_engine(served.db).connect() as conn:
        for table in ("audit_log", "api_keys", "submissions"):
            dump = repr(conn.execute(sa.text(f"SELECT * FROM {table}")).all())
            assert secret not in dump, table
