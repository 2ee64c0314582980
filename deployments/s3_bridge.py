"""``clipflow-bridge``: S3 notifications on an SQS queue → Prefect events ``s3.object.created``.

The open-source Prefect server has no webhooks, so uploads reach it through this small poller:

    S3 (or EventBridge, or SNS) ──notification──> SQS ──long poll──> bridge ──POST /api/events──>
    Prefect ──deployment trigger ``s3-ingest``──> a ``process-video`` flow run

At-least-once in, exactly-once out:

* A message is deleted only after ``POST /api/events`` answered 2xx: the server has accepted the
  events into its event bus. A crash before that leaves the message in SQS; it comes back after
  the visibility timeout and yields the same events, with the same ids (``deployments.events``).
  The bridge keeps no state of its own and survives restarts.
* Prefect drops a repeated event id, but only for a while and only in memory: its event
  publisher for 5 minutes (the default in-memory messaging), its trigger service for 30
  (``prefect.server.events.ordering``), and neither survives a server restart. The stored
  events table, though, holds each id once for the retention period (7 days by default). So
  before emitting, the bridge asks the server which of the batch's ids it already stores
  (``POST /api/events/filter``) and emits only the others: a redelivery hours later, or after
  a restart, starts nothing. Two copies emitted within the few seconds before the first is
  stored are caught by the server's in-memory dedupe.
* Messages that are no known notification shape are left alone, for the queue's redrive policy
  (a dead-letter queue) to collect; test events and other event kinds are deleted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from deployments.events import NotificationError, parse_message, prefect_event

log = logging.getLogger("clipflow.bridge")

SQS_MAX_MESSAGES = 10  # ReceiveMessage's own limit
SQS_MAX_WAIT_S = 20  # long polling's own limit
PREFECT_PAGE_LIMIT = 50  # POST /events/filter answers at most this many events per page


class EventSink(Protocol):
    """Where events go: Prefect's API in production, a list in unit tests."""

    def stored(self, event_ids: Sequence[str]) -> set[str]:
        """The ids among ``event_ids`` that the server already holds."""

    def emit(self, events: Sequence[dict[str, Any]]) -> None:
        """Send ``events``; return only once the server accepted them, raise otherwise."""


class PrefectEventSink:
    """Prefect's REST API through its own client (auth, retries on 429/5xx come with it)."""

    def __init__(self) -> None:
        from prefect.client.orchestration import get_client

        self._client = get_client(sync_client=True)
        self._client.__enter__()

    def close(self) -> None:
        self._client.__exit__(None, None, None)

    def stored(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        until = (datetime.now(UTC) + timedelta(days=1)).isoformat()  # tolerate clock skew
        for start in range(0, len(event_ids), PREFECT_PAGE_LIMIT):
            chunk = list(event_ids[start : start + PREFECT_PAGE_LIMIT])
            response = self._client.request(
                "POST",
                "/events/filter",
                json={
                    "filter": {"id": {"id": chunk}, "occurred": {"until": until}},
                    "limit": PREFECT_PAGE_LIMIT,
                },
            )
            response.raise_for_status()
            found |= {str(e["id"]) for e in response.json().get("events", [])}
        return found

    def emit(self, events: Sequence[dict[str, Any]]) -> None:
        # 204 once the server has published the batch to its event bus; errors raise.
        self._client.request("POST", "/events", json=list(events)).raise_for_status()


@dataclass
class BridgeStats:
    """What one bridge run did, message by message and event by event."""

    received: int = 0
    deleted: int = 0
    ignored: int = 0  # understood, nothing to start (test events, removals): deleted
    malformed: int = 0  # left for the redrive policy
    emitted: int = 0
    duplicates: int = 0  # already stored in Prefect, or repeated within a batch
    failed_batches: int = 0
    emitted_ids: list[str] = field(default_factory=list)


def sqs_client(endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 SQS client (credentials from boto3's chain; standard retry mode)."""
    import boto3
    from botocore.config import Config

    env = os.environ.get
    config = Config(
        region_name=region or env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1",
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=10,
        read_timeout=SQS_MAX_WAIT_S + 10,  # longer than a long poll
    )
    return boto3.session.Session().client("sqs", endpoint_url=endpoint_url, config=config)


def handle_batch(
    raw: Sequence[dict[str, Any]], sink: EventSink, sqs: Any, queue_url: str, stats: BridgeStats
) -> None:
    """Turn one ReceiveMessage batch into events; delete what was delivered or ignorable.

    Raises what the sink raises, having deleted nothing that carries an event: SQS redelivers
    those messages after the visibility timeout.
    """
    stats.received += len(raw)
    done: list[str] = []  # receipt handles of messages that may be deleted
    carrying: list[str] = []
    events: dict[str, dict[str, Any]] = {}
    for m in raw:
        try:
            objects = parse_message(m.get("Body", ""))
        except NotificationError as exc:
            stats.malformed += 1
            log.error("message %s left for the redrive policy: %s", m.get("MessageId"), exc)
            continue
        if not objects:
            stats.ignored += 1
            done.append(m["ReceiptHandle"])
            continue
        carrying.append(m["ReceiptHandle"])
        for obj in objects:
            event = prefect_event(obj)
            if event["id"] in events:
                stats.duplicates += 1
            events.setdefault(event["id"], event)

    if events:
        known = sink.stored(list(events))
        fresh = [e for i, e in events.items() if i not in known]
        stats.duplicates += len(events) - len(fresh)
        if fresh:
            sink.emit(fresh)
            stats.emitted += len(fresh)
            stats.emitted_ids += [e["id"] for e in fresh]
            for e in fresh:
                uri = e["resource"]["prefect.resource.id"]
                log.info("emitted %s %s (id %s)", e["event"], uri, e["id"])
        done += carrying
    _delete(sqs, queue_url, done, stats)


def _delete(sqs: Any, queue_url: str, handles: list[str], stats: BridgeStats) -> None:
    for start in range(0, len(handles), SQS_MAX_MESSAGES):
        chunk = handles[start : start + SQS_MAX_MESSAGES]
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
        answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        stats.deleted += len(answer.get("Successful", []))
        for failure in answer.get("Failed", []):
            # The events went out; a redelivery is found stored in Prefect and deleted then.
            log.warning("delete failed for entry %s: %s", failure.get("Id"), failure.get("Message"))


def run(
    queue_url: str,
    sink: EventSink,
    sqs: Any,
    *,
    once: bool = False,
    max_messages: int = SQS_MAX_MESSAGES,
    wait_s: int = SQS_MAX_WAIT_S,
    visibility_timeout_s: int = 120,
    stop: threading.Event | None = None,
) -> BridgeStats:
    """Poll ``queue_url`` until ``stop`` is set (or, with ``once``, until a receive comes back
    empty: the queue is drained of what is visible now).

    A failed emission is logged and retried through SQS's redelivery, with a backoff here so a
    Prefect outage is not hammered.
    """
    stop = stop or threading.Event()
    stats = BridgeStats()
    backoff = 1.0
    while not stop.is_set():
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=min(wait_s, 1) if once and stats.received else wait_s,
            VisibilityTimeout=visibility_timeout_s,
        )
        messages = answer.get("Messages", [])
        if not messages:
            if once:
                break
            continue
        try:
            handle_batch(messages, sink, sqs, queue_url, stats)
            backoff = 1.0
        except Exception:  # noqa: BLE001 - any sink failure: leave the batch to SQS, go on
            stats.failed_batches += 1
            log.exception("could not emit %d message(s); SQS will redeliver them", len(messages))
            if once:
                break
            stop.wait(backoff)
            backoff = min(backoff * 2, 60.0)
    return stats


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="clipflow-bridge", description="S3 notifications on SQS -> Prefect events."
    )
    env = os.environ.get
    p.add_argument(
        "--queue-url",
        default=env("CLIPFLOW_BRIDGE_QUEUE_URL"),
        help="SQS queue receiving the bucket's notifications ($CLIPFLOW_BRIDGE_QUEUE_URL)",
    )
    p.add_argument(
        "--endpoint-url",
        default=env("CLIPFLOW_BRIDGE_SQS_ENDPOINT_URL"),
        help="SQS endpoint: LocalStack, moto ($CLIPFLOW_BRIDGE_SQS_ENDPOINT_URL; default AWS)",
    )
    p.add_argument("--region", help="AWS region (default: $AWS_REGION, else us-east-1)")
    p.add_argument("--once", action="store_true", help="drain what the queue holds now, then exit")
    p.add_argument(
        "--max-messages", type=int, default=SQS_MAX_MESSAGES, help="per receive, 1-10 (10)"
    )
    p.add_argument(
        "--wait-seconds", type=int, default=SQS_MAX_WAIT_S, help="long-poll wait, 0-20 s (20)"
    )
    p.add_argument(
        "--visibility-timeout",
        type=int,
        default=120,
        help="seconds a received message stays hidden before SQS redelivers it (120)",
    )
    return p


def _bad_arguments(args: argparse.Namespace) -> str | None:
    if not args.queue_url:
        return "--queue-url (or $CLIPFLOW_BRIDGE_QUEUE_URL) is required"
    if not 1 <= args.max_messages <= SQS_MAX_MESSAGES:
        return f"--max-messages {args.max_messages}: expected 1 to {SQS_MAX_MESSAGES}"
    if not 0 <= args.wait_seconds <= SQS_MAX_WAIT_S:
        return f"--wait-seconds {args.wait_seconds}: expected 0 to {SQS_MAX_WAIT_S}"
    if not 1 <= args.visibility_timeout <= 43_200:
        return f"--visibility-timeout {args.visibility_timeout}: expected 1 to 43200 s"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point. Exit 0 when stopped by SIGTERM/SIGINT (after finishing the batch in
    hand) or, with ``--once``, when drained; 1 when ``--once`` met a batch it could not emit;
    2 on bad arguments."""
    args = _parser().parse_args(argv)
    if problem := _bad_arguments(args):
        print(f"clipflow-bridge: {problem}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    sink = PrefectEventSink()
    try:
        stats = run(
            args.queue_url,
            sink,
            sqs_client(args.endpoint_url, args.region),
            once=args.once,
            max_messages=args.max_messages,
            wait_s=args.wait_seconds,
            visibility_timeout_s=args.visibility_timeout,
            stop=stop,
        )
    finally:
        sink.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info(
        "received %d, emitted %d, duplicates %d, ignored %d, malformed %d, deleted %d",
        *(stats.received, stats.emitted, stats.duplicates, stats.ignored),
        *(stats.malformed, stats.deleted),
    )
    return 1 if args.once and stats.failed_batches else 0


if __name__ == "__main__":
    sys.exit(main())
