"""``clipflow serve`` and ``clipflow keys create|list|revoke``: the job API's commands.

Keys live in the job database (``CLIPFLOW_DATABASE_URL``, default the SQLite file in clipflow's
home). ``keys create`` prints the key once, on stdout; nothing else ever shows it again.
"""

from __future__ import annotations

import argparse
import sys

ROLES = ("read", "submit", "admin")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` (:func:`cmd_serve`) and ``keys`` (:func:`cmd_keys`) to the CLI."""
    serve = sub.add_parser("serve", help="run the job API and dashboard (FastAPI + uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    keys = sub.add_parser("keys", help="create, list and revoke API keys of `clipflow serve`")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="a new key for a client; printed once")
    create.add_argument("--client", required=True, help="who the key is for (e.g. acme)")
    create.add_argument("--role", required=True, help="read, submit or admin")
    listing = keys_sub.add_parser("list", help="every key (ids, never the secrets)")
    listing.add_argument("--client", help="only this client's keys")
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", help="the key's id, as `keys list` shows it")


def _fail(message: str) -> int:
    print(f"clipflow: {message}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        return _fail(f"--port {args.port}: must be between 1 and 65535")
    from deployments.service.app import serve

    serve(args.host, args.port)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from blocks.settings import PipelineSettings
    from tasks.jobs.api_keys import KeyNotFoundError, create_key, list_keys, revoke_key

    db = PipelineSettings().job_database_url
    if args.keys_command == "create":
        if args.role not in ROLES:
            return _fail(f"--role {args.role!r}: must be one of {', '.join(ROLES)}")
        try:
            record, key = create_key(db, args.client, args.role)
        except ValueError as exc:
            return _fail(f"--client: {exc}")
        print(f"key {record.id} for {record.client} ({record.role}); shown once:", file=sys.stderr)
        print(key)
        return 0
    if args.keys_command == "list":
        for k in list_keys(db, args.client):
            revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
            print(f"{k.id}  {k.client:<20} {k.role:<7} {k.created_at:%Y-%m-%d %H:%M}  {revoked}")
        return 0
    try:
        record = revoke_key(db, args.key_id)
    except KeyNotFoundError as exc:
        return _fail(str(exc))
    print(f"revoked key {record.id} of {record.client}")
    return 0
