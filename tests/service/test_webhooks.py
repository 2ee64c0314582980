"""Webhooks: a signed POST per job that ends, retried with backoff until a 2xx, every attempt
in the delivery log; here against a receiver on loopback that fails twice first."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clipflow.client import ClipflowClient
from deployments.service.webhooks import SIGNATURE_HEADER, signature, verify_signature
from tests.deployments.support import wait_for
from tests.service.support import make_key


def test_a_signature_checks_sender_body_and_age() -> None:
    body = b'{"event":"job.succeeded"}'
    now = int(time.time())
    header = signature("s3cret", now, body)
    assert verify_signature("s3cret", header, body)
    assert not verify_signature("other", header, body)
    assert not verify_signature("s3cret", header, body + b" ")
    assert not verify_signature("s3cret", signature("s3cret", now - 3600, body), body)
    assert not verify_signature("s3cret", "v1=abc", body)


class Receiver(ThreadingHTTPServer):
    """Answers 500 to the first ``failures`` POSTs, then 204; keeps what it was sent."""

    def __init__(self, failures: int) -> None:
        self.failures, self.received = failures, []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        failing = len(self.server.received) <= self.server.failures
        self.send_response(500 if failing else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    server = Receiver(failures=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_an_ended_job_is_delivered_signed_after_retries(
    start_server, job_db_url: str, receiver
) -> None:
    served = start_server(job_db_url, watch_interval_s=0.2, webhook_backoff_s=0.05)
    source = served.inbox / "talk.mp4"
    source.write_bytes(b"x")
    with ClipflowClient(served.url, make_key(served.db, "acme", "submit")) as api:
        hook = api.add_webhook(f"http://127.0.0.1:{receiver.server_port}/hooks")
        job = api.submit(str(source))
        api.cancel(job.id)
        log = wait_for(lambda: len(api.deliveries()) >= 3 and api.deliveries(), 60, "3 tries")
    assert [(d.attempt, d.status_code, d.error, d.event) for d in log] == [
        (1, 500, "HTTP 500", "job.cancelled"),
        (2, 500, "HTTP 500", "job.cancelled"),
        (3, 204, None, "job.cancelled"),
    ]
    assert all(d.job_id == job.id and d.webhook_id == hook.id for d in log)
    assert len(receiver.received) == 3
    headers, body = receiver.received[-1]
    assert verify_signature(hook.secret, headers[SIGNATURE_HEADER], body)
    event = json.loads(body)
    assert event["event"] == "job.cancelled"
    assert (event["job"]["id"], event["job"]["state"]) == (job.id, "cancelled")
    time.sleep(0.5)  # a few more watcher passes: an event is sent once, not once per pass
    assert len(receiver.received) == 3


def test_a_webhook_url_must_be_http(start_server, tmp_path) -> None:
    from clipflow.client import ApiError

    served = start_server(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    with ClipflowClient(served.url, make_key(served.db, "acme", "submit")) as api:
        with pytest.raises(ApiError) as refused:
            api.add_webhook("file:///etc/passwd")
    assert refused.value.status_code == 422 and "url" in str(refused.value.detail)
