"""Notify a webhook when a clipflow job ends (``python -m deployments.automations``).

Saves a Custom Webhook notification block pointing at ``--webhook-url`` and a Prefect automation
that sends it a notification each time a run of the ``process-video`` flow reaches Completed,
Failed, Crashed or TimedOut. The server's triggers and actions services evaluate the automation:
they run inside ``prefect server start`` (and in Prefect Cloud), so nothing else has to run.

The webhook receives a JSON POST::

    {"subject": "clipflow: process-video run <name> Completed",
     "body": "flow_run_id: <uuid>\\nflow_run: <name>\\n...",
     "text": "<subject>\\n<body>"}

``text`` makes it readable by Slack- and Teams-style incoming webhooks; ``body`` has one
``key: value`` per line for anything that parses it. Running the command again updates the block
and the automation in place (an automation is found by its name), so it never notifies twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from uuid import UUID

from deployments.pools import configured_api_url
from media.errors import ClipflowError

if TYPE_CHECKING:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import PrefectClient
    from prefect.events.schemas.automations import AutomationCore

FLOW_NAME = "process-video"
BLOCK_NAME = "clipflow-job-notifications"
AUTOMATION_NAME = "clipflow-job-finished"
# Terminal states worth a notification. TimedOut is a Failed-type state with its own event name.
TERMINAL_STATES = ("Completed", "Failed", "Crashed", "TimedOut")

# Jinja templates rendered by the server's actions service; flow_run and flow are looked up from
# the triggering event's resources. ui_url is None without PREFECT_UI_URL, hence the fallback.
SUBJECT_TEMPLATE = "clipflow: {{ flow.name }} run {{ flow_run.name }} {{ flow_run.state.name }}"
BODY_TEMPLATE = "\n".join(
    [
        "flow_run_id: {{ flow_run.id }}",
        "flow_run: {{ flow_run.name }}",
        "flow: {{ flow.name }}",
        "state: {{ flow_run.state.name }}",
        "message: {{ flow_run.state.message or '' }}",
        "source: {{ flow_run.parameters.get('source', '') }}",
        "url: {{ (flow_run | ui_url) or '' }}",
    ]
)


@dataclass(frozen=True, slots=True)
class NotificationSpec:
    """The webhook and the automation, as they should be on the server."""

    webhook_url: str
    flow_name: str = FLOW_NAME
    block_name: str = BLOCK_NAME
    automation_name: str = AUTOMATION_NAME
    states: tuple[str, ...] = TERMINAL_STATES
    bearer_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"webhook URL {self.webhook_url!r}: expected http(s)://host/...")
        unknown = set(self.states) - set(TERMINAL_STATES)
        if not self.states or unknown:
            raise ValueError(
                f"states {sorted(unknown) or '(none)'}: expected some of {TERMINAL_STATES}"
            )


def webhook_block(spec: NotificationSpec) -> CustomWebhookNotificationBlock:
    """The notification block; a bearer token is kept in the block's secrets (encrypted)."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    headers = {"Content-Type": "application/json"}
    secrets: dict[str, str] = {}
    if spec.bearer_token:
        headers["Authorization"] = "Bearer {{token}}"
        secrets["token"] = spec.bearer_token
    return CustomWebhookNotificationBlock(
        name=spec.block_name,
        url=spec.webhook_url,
        method="POST",
        headers=headers,
        json_data={"subject": "{{subject}}", "body": "{{body}}", "text": "{{subject}}\n{{body}}"},
        secrets=secrets,
    )


def automation_definition(spec: NotificationSpec, block_document_id: UUID) -> AutomationCore:
    """The automation: any terminal state of a run of ``spec.flow_name`` -> one notification."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=spec.automation_name,
        description=f"Notify {spec.block_name!r} when a {spec.flow_name} run ends.",
        tags=["clipflow"],
        trigger=EventTrigger(
            expect={f"prefect.flow-run.{state}" for state in spec.states},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={
                "prefect.resource.role": "flow",
                "prefect.resource.name": spec.flow_name,
            },
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            SendNotification(
                block_document_id=block_document_id,
                subject=SUBJECT_TEMPLATE,
                body=BODY_TEMPLATE,
            )
        ],
    )


async def ensure_notifications(spec: NotificationSpec) -> tuple[UUID, UUID]:
    """Save the block and create or update the automation; (block id, automation id).

    Automation names are not unique in Prefect: if earlier runs left duplicates, the first is
    updated and the others are deleted, so one job end sends one notification.
    """
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        block_id = await webhook_block(spec).asave(spec.block_name, overwrite=True, client=client)
        return block_id, await upsert_automation(client, automation_definition(spec, block_id))


async def upsert_automation(client: PrefectClient, wanted: AutomationCore) -> UUID:
    """Create ``wanted``, or update the automation of its name in place (names are not unique
    in Prefect: duplicates left by earlier runs are deleted, so it acts once)."""
    existing = await client.read_automations_by_name(wanted.name)
    if not existing:
        return await client.create_automation(wanted)
    keep, *extra = existing
    await client.update_automation(keep.id, wanted)
    for duplicate in extra:
        await client.delete_automation(duplicate.id)
    return keep.id


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.automations",
        description="Create or update the webhook notification of finished clipflow jobs on the "
        "Prefect API in PREFECT_API_URL (idempotent).",
    )
    parser.add_argument("--webhook-url", required=True, help="http(s) URL that receives a POST")
    parser.add_argument("--flow-name", default=FLOW_NAME, help=f"default: {FLOW_NAME}")
    parser.add_argument("--block-name", default=BLOCK_NAME, help=f"default: {BLOCK_NAME}")
    parser.add_argument(
        "--automation-name", default=AUTOMATION_NAME, help=f"default: {AUTOMATION_NAME}"
    )
    parser.add_argument(
        "--states",
        default=",".join(TERMINAL_STATES),
        help=f"comma-separated states to notify (default: {','.join(TERMINAL_STATES)})",
    )
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        help="name of an environment variable holding a bearer token for the webhook "
        "(read from the environment so that it never shows in a process list)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            parser.error(f"--token-env {args.token_env}: that variable is unset or empty")
    try:
        configured_api_url()
        spec = NotificationSpec(
            webhook_url=args.webhook_url,
            flow_name=args.flow_name,
            block_name=args.block_name,
            automation_name=args.automation_name,
            states=tuple(s.strip() for s in args.states.split(",") if s.strip()),
            bearer_token=token,
        )
    except (ValueError, ClipflowError) as exc:
        parser.error(str(exc))
    block_id, automation_id = asyncio.run(ensure_notifications(spec))
    print(f"block {spec.block_name}: {block_id}", file=sys.stderr)
    print(f"automation {spec.automation_name}: {automation_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
