"""Per-key rate limits: a token bucket, kept in this process or in Redis (shared by several
server processes). ``take`` answers 0 when a request may go, else the seconds to wait."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` tokens at most, refilled at ``rate`` a second; a request takes one."""

    rate: float
    capacity: float
    tokens: float
    updated: float  # the clock reading at the last refill

    def take(self, now: float) -> float:
        """Take a token at time ``now``: 0.0 if there was one, else seconds until there is."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter(Protocol):
    def take(self, key: str) -> float: ...


class InProcessLimiter:
    """One bucket per key in this process's memory."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.burst, now)
            return bucket.take(now)


# The same refill-and-take as TokenBucket.take, atomically in Redis (one hash per key, expiring
# once a full bucket would have refilled). Redis's own clock, so every server agrees.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or capacity
local updated = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - updated) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return tostring(wait)
"""


class RedisLimiter:
    """Buckets in Redis at ``url``, under ``clipflow:ratelimit:<key>``."""

    def __init__(self, url: str, rate: float, burst: int, namespace: str = "clipflow") -> None:
        import redis

        self.rate, self.burst = rate, burst
        self._redis = redis.Redis.from_url(url, socket_timeout=5)
        self._take = self._redis.register_script(_TAKE)
        self._prefix = f"{namespace}:ratelimit:"

    def take(self, key: str) -> float:
        return float(self._take(keys=[self._prefix + key], args=[self.rate, self.burst]))


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` in whole seconds (RFC 9110), never 0 for a refused request."""
    return str(max(1, math.ceil(wait_s)))


def make_limiter(redis_url: str | None, rate: float, burst: int) -> RateLimiter:
    if redis_url:
        return RedisLimiter(redis_url, rate, burst)
    return InProcessLimiter(rate, burst)
