"""MinIO bucket notifications -> an SQS queue, for the compose stack.

MinIO publishes bucket notifications to webhooks, AMQP, Kafka, NATS, Redis and others, but not
to SQS, and the event bridge (``deployments.s3_bridge``) reads SQS, as it does on AWS. This relay
closes the gap: MinIO's webhook target POSTs each notification here, and the relay sends it to
the queue (ElasticMQ in the compose stack) as the message body S3 itself would send: a JSON
object with ``Records``, each ``eventName`` without MinIO's ``s3:`` prefix
(``ObjectCreated:Put``), keys still URL-encoded as S3 sends them.

It answers 200 only once SQS has accepted the message, so MinIO keeps a notification in its
queue directory and retries it until then (at least once; the bridge's deterministic event ids
make duplicates harmless).

    python minio_sqs_relay.py --queue-url URL [--listen 0.0.0.0:8080] [--endpoint-url URL]

``RELAY_AUTH_TOKEN``, when set, must match MinIO's ``auth_token`` (sent as a bearer token).
The SQS endpoint also follows boto3's ``AWS_ENDPOINT_URL_SQS``. ``GET /health`` is 200 when the
queue answers.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("minio-sqs-relay")
MAX_BODY_BYTES = 256 * 1024  # SQS's largest message


def sqs_body(notification: dict[str, Any]) -> str:
    """The SQS message body S3 would send for this MinIO notification.

    Raises ``ValueError`` naming the problem when the notification has no records.
    """
    records = notification.get("Records")
    if not isinstance(records, list) or not records:
        keys = sorted(notification) if isinstance(notification, dict) else type(notification)
        raise ValueError(f"notification without Records (keys: {keys})")
    converted = []
    for record in records:
        if not isinstance(record, dict) or "s3" not in record:
            raise ValueError(f"record without an s3 section: {str(record)[:200]}")
        record = dict(record)
        name = str(record.get("eventName", ""))
        record["eventName"] = name.removeprefix("s3:")
        converted.append(record)
    return json.dumps({"Records": converted}, separators=(",", ":"))


def make_handler(sqs: Any, queue_url: str, token: str | None) -> type[BaseHTTPRequestHandler]:
    """A request handler bound to one SQS client and queue."""

    class RelayHandler(BaseHTTPRequestHandler):
        server_version = "clipflow-minio-sqs-relay"

        def _reply(self, code: int, text: str) -> None:
            data = (text + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/health":
                self._reply(404, "not found")
                return
            try:
                sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
            except Exception as exc:  # the health answer is the error, not a crash
                self._reply(503, f"queue {queue_url} unavailable: {exc}")
                return
            self._reply(200, "ok")

        def do_POST(self) -> None:  # noqa: N802
            if token is not None:
                sent = self.headers.get("Authorization", "")
                if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                    self._reply(401, "bad or missing bearer token")
                    return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY_BYTES:
                self._reply(413 if length else 400, f"body of {length} bytes")
                return
            try:
                body = sqs_body(json.loads(self.rfile.read(length)))
            except ValueError as exc:  # JSONDecodeError is a ValueError
                self._reply(400, f"not a bucket notification: {exc}")
                return
            try:
                sent = sqs.send_message(QueueUrl=queue_url, MessageBody=body)
            except Exception as exc:  # MinIO retries a non-2xx answer from its queue dir
                log.warning("send to %s failed: %s", queue_url, exc)
                self._reply(503, f"queue {queue_url} refused the message: {exc}")
                return
            log.info("relayed %s", sent.get("MessageId"))
            self._reply(200, sent.get("MessageId", ""))

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return RelayHandler


def serve(queue_url: str, host: str, port: int, endpoint_url: str | None) -> ThreadingHTTPServer:
    """A relay server bound to ``host:port`` (port 0: any free port); not yet serving."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    token = os.environ.get("RELAY_AUTH_TOKEN") or None
    return ThreadingHTTPServer((host, port), make_handler(sqs, queue_url, token))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True, help="the SQS queue to send to")
    parser.add_argument("--listen", default="0.0.0.0:8080", help="host:port (default: %(default)s)")
    parser.add_argument("--endpoint-url", help="SQS endpoint (default: boto3's resolution)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = serve(args.queue_url, host or "0.0.0.0", int(port), args.endpoint_url)
    log.info("relaying http://%s:%s/ -> %s", host, port, args.queue_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
