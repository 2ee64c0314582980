"""Who is calling: the API key (``Authorization: Bearer cfk_…`` or ``X-API-Key``), its role,
and its rate limit. The key itself is never stored, logged or echoed: requests are audited by
the key's public id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from deployments.service.ratelimit import retry_after_header
from deployments.service.state import ServiceState
from tasks.jobs import Role
from tasks.jobs.api_keys import authenticate


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    client: str
    role: Role

    def may_see(self, client: str) -> bool:
        return self.role is Role.ADMIN or self.client == client


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_caller(request: Request) -> Caller:
    """The authenticated caller, within its rate limit; 401 or 429 otherwise."""
    state: ServiceState = request.app.state.service
    key = presented_key(request)
    if not key:
        raise _unauthorized("an API key is required: Authorization: Bearer <key>")
    record = await run_in_threadpool(authenticate, state.db, key)
    if record is None:
        raise _unauthorized("the API key is unknown, malformed or revoked")
    caller = Caller(record.id, record.client, record.role)
    request.state.caller = caller  # for the audit log
    wait_s = await run_in_threadpool(state.limiter.take, record.id)
    if wait_s > 0:
        raise HTTPException(
            429,
            f"rate limit: {state.serve.rate_per_s:g} requests/s, bursts of {state.serve.burst}",
            headers={"Retry-After": retry_after_header(wait_s)},
        )
    return caller


def require(role: Role) -> Callable[..., object]:
    """A dependency: the caller, if its role allows ``role``; 403 otherwise."""

    async def check(caller: Caller = Depends(current_caller)) -> Caller:  # noqa: B008
        if not caller.role.allows(role):
            raise HTTPException(
                403, f"this key's role is {caller.role.value!r}; this needs {role.value!r}"
            )
        return caller

    return check
