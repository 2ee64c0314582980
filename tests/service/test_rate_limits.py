"""Per-key token buckets: the arithmetic, then 429 with Retry-After from a real server, kept in
the process or shared through the real Redis on this machine."""

from __future__ import annotations

import os

import pytest

from clipflow.client import ClipflowClient, RateLimited
from deployments.service.ratelimit import TokenBucket, retry_after_header
from tests.service.support import make_key

REDIS_URL = os.environ.get("CLIPFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.mark.parametrize(
    ("takes_at", "waits"),
    [
        ([0, 0, 0], [0, 0, 0.5]),  # a burst of 2, then half a token short at 2/s
        ([0, 0, 0.5], [0, 0, 0]),  # half a second refilled one token
        ([0, 0, 0, 0.25], [0, 0, 0.5, 0.25]),  # a refused try takes nothing: the wait shrinks
        ([0, 10, 10, 10], [0, 0, 0, 0.5]),  # a long pause refills to the capacity, not past it
    ],
)
def test_token_bucket(takes_at: list[float], waits: list[float]) -> None:
    bucket = TokenBucket(rate=2.0, capacity=2.0, tokens=2.0, updated=0.0)
    assert [bucket.take(t) for t in takes_at] == pytest.approx(waits)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (30, "30")])
def test_retry_after_is_whole_seconds_and_never_zero(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


def _burst(api: ClipflowClient, n: int) -> list[float | None]:
    """For each of n calls: None if answered, else its Retry-After."""
    out: list[float | None] = []
    for _ in range(n):
        try:
            api.list_jobs()
            out.append(None)
        except RateLimited as exc:
            out.append(exc.retry_after)
    return out


def test_a_key_over_its_limit_gets_429_and_others_do_not(start_server, tmp_path) -> None:
    served = start_server(f"sqlite:///{tmp_path / 'jobs.sqlite'}", rate_per_s=0.01, burst=3)
    with ClipflowClient(served.url, make_key(served.db, "acme", "read")) as api:
        assert _burst(api, 5) == [None, None, None, 100.0, 100.0]
    with ClipflowClient(served.url, make_key(served.db, "acme", "read")) as other:
        assert _burst(other, 1) == [None]


def test_redis_shares_one_bucket_between_servers(start_server, tmp_path) -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    db = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    one = start_server(db, rate_per_s=0.01, burst=3, redis_url=REDIS_URL)
    two = start_server(db, rate_per_s=0.01, burst=3, redis_url=REDIS_URL)
    key = make_key(db, "acme", "read")
    with ClipflowClient(one.url, key) as api_one, ClipflowClient(two.url, key) as api_two:
        assert _burst(api_one, 2) == [None, None]
        assert _burst(api_two, 2) == [None, 100.0]
        assert _burst(api_one, 1) == [100.0]
