"""API keys of ``clipflow serve``: created, listed, revoked, checked; and the audit log.

A key reads ``cfk_<id>_<secret>``. Only the secret's SHA-256 is stored: the secret is 256
random bits, so a plain hash is as strong as a slow one and checks in microseconds. The id is
public (lists, audit rows); the whole key is shown once, when it is created, and never logged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from media.errors import ClipflowError
from tasks.jobs.engine import Database, migrated, reader
from tasks.jobs.service_tables import ApiKey, AuditEntry, Role

KEY_PREFIX = "cfk"
_CLIENT = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_KEY = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})")


class KeyNotFoundError(ClipflowError, LookupError):
    """A key id that the job database does not hold."""


@dataclasses.dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as stored: never its secret."""

    id: str
    client: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


def _record(row: ApiKey) -> KeyRecord:
    return KeyRecord(row.id, row.client, Role(row.role), row.created_at, row.revoked_at)


def check_client_name(client: str) -> str:
    """A client name: 1-64 of lowercase letters, digits, dots, dashes, underscores."""
    if not _CLIENT.fullmatch(client):
        raise ValueError(
            f"client {client!r}: use 1-64 lowercase letters, digits, '.', '-' or '_', "
            "starting with a letter or digit"
        )
    return client


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(db: Database, client: str, role: Role | str) -> tuple[KeyRecord, str]:
    """A new key for ``client`` with ``role``: its record and the key itself (shown once)."""
    role = Role(role)
    check_client_name(client)
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        client=client,
        role=role.value,
        secret_sha256=_digest(secret),
        created_at=datetime.now(UTC),
    )
    with Session(migrated(db)) as session, session.begin():
        session.add(row)
        record = _record(row)
    return record, f"{KEY_PREFIX}_{key_id}_{secret}"


def list_keys(db: Database, client: str | None = None) -> list[KeyRecord]:
    """Every key (or one client's), oldest first, revoked ones included."""
    query = sa.select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if client is not None:
        query = query.where(ApiKey.client == client)
    with Session(reader(db)) as session:
        return [_record(row) for row in session.scalars(query)]


def revoke_key(db: Database, key_id: str) -> KeyRecord:
    """Revoke a key (at once: the next call with it gets 401); revoking twice is a no-op."""
    with Session(migrated(db)) as session, session.begin():
        row = session.get(ApiKey, key_id)
        if row is None:
            raise KeyNotFoundError(f"key {key_id!r}: no such key (see `clipflow keys list`)")
        row.revoked_at = row.revoked_at or datetime.now(UTC)
        return _record(row)


def authenticate(db: Database, presented: str) -> KeyRecord | None:
    """The live key that ``presented`` is, or None (malformed, unknown, wrong or revoked)."""
    match = _KEY.fullmatch(presented.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    with Session(reader(db)) as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_sha256, _digest(secret)):
            return None
        return _record(row)


# --- the audit log ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    key_id: str | None
    client: str | None
    method: str
    path: str
    status_code: int
    remote: str | None


def record_call(
    db: Database,
    *,
    key_id: str | None,
    client: str | None,
    method: str,
    path: str,
    status_code: int,
    remote: str | None,
) -> None:
    """One audit row: who called (key id, client), what (method, path), the outcome."""
    with Session(migrated(db)) as session, session.begin():
        session.add(
            AuditEntry(
                at=datetime.now(UTC),
                key_id=key_id,
                client=client,
                method=method[:8],
                path=path[:512],
                status_code=status_code,
                remote=remote,
            )
        )


def read_audit(db: Database, limit: int = 100) -> list[AuditRecord]:
    """The newest ``limit`` audit rows, newest first."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    with Session(reader(db)) as session:
        return [
            AuditRecord(r.at, r.key_id, r.client, r.method, r.path, r.status_code, r.remote)
            for r in session.scalars(query)
        ]
