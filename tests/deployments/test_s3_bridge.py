"""``clipflow-bridge`` (deployments/s3_bridge.py) on moto's SQS and S3 and the session's Prefect
server.

First the queue discipline with an in-memory sink (what is deleted, when, and what comes back),
then the whole path: an upload to a bucket that notifies SQS, the bridge, Prefect's event, the
``s3-ingest`` trigger deployed from prefect.yaml, and the ``process-video`` run it creates: one
run, even when the notification arrives twice, and the job it runs on a real worker.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import pytest

from deployments import s3_bridge
from deployments.events import parse_message, prefect_event
from deployments.s3_bridge import BridgeStats, PrefectEventSink, run, sqs_client
from tasks import jobs
from tests.deployments.support import flow_runs, read_flow_run, wait_for

BUCKET = "clipflow-inbox"  # the bucket prefect.yaml's s3-ingest trigger matches


class RecordingSink:
    """An EventSink that keeps what it is given; ``fail`` makes it refuse like a down server."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = fail

    def stored(self, event_ids) -> set[str]:
        return {e["id"] for e in self.events} & set(event_ids)

    def emit(self, events) -> None:
        if self.fail:
            raise ConnectionError("Prefect API unreachable")
        self.events += events


@pytest.fixture
def aws(s3_server: str, monkeypatch: pytest.MonkeyPatch):
    import boto3

    for name, value in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]:
        monkeypatch.setenv(name, value)
    return lambda service: boto3.client(service, endpoint_url=s3_server, region_name="us-east-1")


@pytest.fixture
def queue(aws) -> str:
    return aws("sqs").create_queue(QueueName=f"bridge-{uuid.uuid4().hex[:10]}")["QueueUrl"]


def notification(key: str, etag: str = "0" * 32, bucket: str = "other-bucket") -> str:
    """An S3 notification body with its key URL-encoded, as S3 sends it."""
    from urllib.parse import quote_plus

    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-11-12T08:30:00.000Z",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": quote_plus(key), "size": 10, "eTag": etag},
                    },
                }
            ]
        }
    )


def _visible(sqs, queue_url: str) -> list[str]:
    """Bodies now visible in the queue, read without hiding them (visibility timeout 0)."""
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [m["Body"] for m in got.get("Messages", [])]


def counts(stats: BridgeStats) -> dict[str, int]:
    return {k: v for k, v in dataclasses.asdict(stats).items() if k != "emitted_ids"}


def _run_once(queue_url: str, sink, s3_server: str, **kw: Any) -> BridgeStats:
    return run(queue_url, sink, sqs_client(s3_server, "us-east-1"), once=True, wait_s=1, **kw)


def test_duplicates_in_one_batch_emit_once_and_every_message_is_deleted(
    aws, queue, s3_server
) -> None:
    sqs = aws("sqs")
    body = notification("talks/ep 1.mp4")
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    for text in (test_event, body, body, body):
        sqs.send_message(QueueUrl=queue, MessageBody=text)
    sink = RecordingSink()
    stats = _run_once(queue, sink, s3_server)
    assert counts(stats) == {
        "received": 4,
        "emitted": 1,
        "duplicates": 2,
        "ignored": 1,
        "malformed": 0,
        "deleted": 4,
        "failed_batches": 0,
    }
    [event] = sink.events
    assert event["resource"]["prefect.resource.id"] == "s3://other-bucket/talks/ep 1.mp4"
    assert event["id"] == str(parse_message(body)[0].event_id)
    assert _visible(sqs, queue) == []


def test_failed_emission_deletes_nothing_and_the_redelivery_emits_the_same_event(
    aws, queue, s3_server
) -> None:
    sqs = aws("sqs")
    body = notification("talks/ep 2.mp4")
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    down = _run_once(queue, RecordingSink(fail=True), s3_server, visibility_timeout_s=1)
    assert (down.failed_batches, down.emitted, down.deleted) == (1, 0, 0)
    time.sleep(1.5)  # the visibility timeout passes: SQS redelivers, as after a crash
    assert _visible(sqs, queue) == [body]
    sink = RecordingSink()
    up = _run_once(queue, sink, s3_server)
    assert (up.emitted, up.deleted) == (1, 1)
    assert sink.events[0]["id"] == str(parse_message(body)[0].event_id)
    assert _visible(sqs, queue) == []


def test_malformed_messages_are_left_for_the_redrive_policy(aws, queue, s3_server) -> None:
    sqs = aws("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody="<not json>")
    sqs.send_message(QueueUrl=queue, MessageBody=notification("ok.mp4"))
    stats = _run_once(queue, RecordingSink(), s3_server, visibility_timeout_s=1)
    assert (stats.malformed, stats.emitted, stats.deleted) == (1, 1, 1)
    time.sleep(1.5)
    assert _visible(sqs, queue) == ["<not json>"]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        ([], "--queue-url"),
        (["--queue-url", "q", "--max-messages", "11"], "--max-messages 11"),
        (["--queue-url", "q", "--wait-seconds", "21"], "--wait-seconds 21"),
        (["--queue-url", "q", "--visibility-timeout", "0"], "--visibility-timeout 0"),
    ],
)
def test_bad_arguments_exit_2(argv, problem, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CLIPFLOW_BRIDGE_QUEUE_URL", raising=False)
    assert s3_bridge.main(argv) == 2
    assert problem in capsys.readouterr().err


@pytest.mark.usefixtures("prefect_server")
def test_the_console_command_runs_until_sigterm(aws, queue, s3_server) -> None:
    """Long-polling mode in its own process: it delivers to Prefect, then exits 0 on SIGTERM."""
    from prefect.settings import PREFECT_API_URL

    sqs = aws("sqs")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deployments.s3_bridge",
            "--queue-url",
            queue,
            "--endpoint-url",
            s3_server,
            "--wait-seconds",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = notification(f"sigterm/{uuid.uuid4().hex}.mp4")
        sqs.send_message(QueueUrl=queue, MessageBody=body)
        event_id = str(parse_message(body)[0].event_id)
        wait_for(lambda: _stored_event(event_id), 60, "the event in Prefect", interval=1)
        wait_for(lambda: not _visible(sqs, queue), 20, "the message deleted")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "emitted s3.object.created" in output and "received 1, emitted 1" in output


def _stored_event(event_id: str) -> dict[str, Any] | None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        query = {"filter": {"id": {"id": [event_id]}}, "limit": 5}
        answer = client.request("POST", "/events/filter", json=query)
        answer.raise_for_status()
    events = answer.json()["events"]
    return events[0] if events else None


# --- the whole path: upload → SQS → bridge → Prefect → s3-ingest trigger → process-video ----


@pytest.fixture(scope="module")
def ingest(recordings, deployed, worker, clipflow_env, s3_server) -> dict[str, Any]:
    """Upload a recording to a bucket that notifies SQS, run ``clipflow-bridge --once``, then
    deliver the same notification again twice: through the bridge (which finds the event
    stored and skips it) and straight to Prefect's API (which drops the repeated id)."""
    import boto3

    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            mp.setenv(name, clipflow_env.env[name])
        s3, sqs = (boto3.client(s, endpoint_url=s3_server) for s in ("s3", "sqs"))
        if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=BUCKET)
        queue_url = sqs.create_queue(QueueName=f"ingest-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
        key = f"zoom/{uuid.uuid4().hex[:6]} interview – café.mp4"
        s3.upload_file(str(recordings[14].video), BUCKET, key)
        bodies = _visible(sqs, queue_url)
        [body] = [b for b in bodies if "Records" in b]
        assert any("s3:TestEvent" in b for b in bodies)  # moto, like S3, sends one: ignored
        [obj] = parse_message(body)
        assert obj.key == key  # '+' and %-escapes decoded

        emitted_at = time.time()
        assert (
            s3_bridge.main(
                [
                    "--queue-url",
                    queue_url,
                    "--endpoint-url",
                    s3_server,
                    "--once",
                    "--wait-seconds",
                    "1",
                ]
            )
            == 0
        )
        stored = wait_for(lambda: _stored_event(str(obj.event_id)), 60, "the stored event")

        sqs.send_message(QueueUrl=queue_url, MessageBody=body)  # S3 delivered it twice
        sink = PrefectEventSink()
        try:
            again = run(queue_url, sink, sqs_client(s3_server, "us-east-1"), once=True, wait_s=1)
            sink.emit([prefect_event(obj)])  # no stored-check: Prefect's own dedupe alone
        finally:
            sink.close()
        repeated_at = time.time()

    def runs_of_object() -> list[Any]:
        return [
            r for r in flow_runs(deployed["process-video"]) if r.parameters.get("source") == obj.uri
        ]

    first = wait_for(runs_of_object, 60, "the triggered flow run")
    time.sleep(max(0.0, repeated_at + 10 - time.time()))  # room for a second run to appear
    return {
        "obj": obj,
        "stored": stored,
        "again": again,
        "runs": runs_of_object(),
        "first": first,
        "emitted_at": emitted_at,
    }


@pytest.mark.e2e
def test_one_upload_starts_exactly_one_run_with_the_event_parameters(ingest, clipflow_env) -> None:
    obj = ingest["obj"]
    # The redelivered notification: found stored in Prefect, not emitted, deleted.
    again = counts(ingest["again"])
    assert (again["emitted"], again["duplicates"], again["deleted"]) == (0, 1, 1)
    [flow_run] = ingest["runs"]
    assert flow_run.parameters == {
        "source": f"s3://{BUCKET}/{obj.key}",  # from {{ event.resource.id }}
        "out": str(clipflow_env.out),  # the rest: the deployment's defaults
        "max_clips": 5,
        "aspect": "9:16",
    }
    assert flow_run.created_by is not None and flow_run.created_by.type == "AUTOMATION"
    stored = ingest["stored"]
    assert stored["event"] == "s3.object.created"
    assert stored["resource"]["s3.etag"] == obj.etag
    received = datetime.fromisoformat(stored["received"])
    latency = (flow_run.created - received).total_seconds()
    overall = flow_run.created.timestamp() - ingest["emitted_at"]
    print(f"\nevent received -> run created: {latency:.2f} s; bridge start -> run: {overall:.2f} s")
    assert 0 <= latency < 30


@pytest.mark.slow  # minutes of real jobs on a worker: outside the default run
@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_the_triggered_run_makes_the_clips(ingest, worker, recordings, clipflow_env) -> None:
    """The worker runs the triggered job: downloaded from S3, transcribed offline (no sidecar
    comes with an event), clipped, checked, recorded."""
    [flow_run] = ingest["runs"]
    final = wait_for(
        lambda: (r := read_flow_run(flow_run.id)).state.is_final() and r,
        800,
        "the triggered job",
        interval=2,
    )
    assert final.state.is_completed(), worker.read_text()[-4000:]
    job = jobs.find_succeeded(clipflow_env.database_url, recordings[14].sha256, _settings_hash())
    assert job is not None and job.source_uri == ingest["obj"].uri
    assert os.path.isfile(os.path.join(job.job_dir, "report.json"))


def _settings_hash() -> str:
    from blocks.loading import load_settings
    from tasks.caching import settings_hash

    return settings_hash(load_settings(None, aspect="9:16", max_clips=5))


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_the_trigger_matches_new_bytes_and_configured_suffixes_only(
    ingest, deployed, worker, s3_server, clipflow_env
) -> None:
    """Same key with a new ETag: a new run. A key whose suffix is upper case: a run (the bridge
    lower-cases the label). A sidecar, and a recording in another bucket: none."""
    import boto3

    obj = ingest["obj"]
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    upper = f"{obj.key.rsplit('.', 1)[0]} copy.MP4"
    s3.copy_object(Bucket=BUCKET, Key=upper, CopySource={"Bucket": BUCKET, "Key": obj.key})
    variants = {
        "new-etag": dataclasses.replace(obj, etag="f" * 32),
        "upper-suffix": dataclasses.replace(obj, key=upper),
        "sidecar": dataclasses.replace(obj, key=obj.key.replace(".mp4", ".vtt")),
        "other-bucket": dataclasses.replace(obj, bucket="someone-else"),
    }
    before = {str(r.id) for r in flow_runs(deployed["process-video"])}
    sink = PrefectEventSink()
    try:
        sink.emit([prefect_event(v) for v in variants.values()])
    finally:
        sink.close()
    expected = {variants["new-etag"].uri, variants["upper-suffix"].uri}

    def new_runs() -> list[Any]:
        return [r for r in flow_runs(deployed["process-video"]) if str(r.id) not in before]

    wait_for(lambda: len(new_runs()) >= 2, 60, "two triggered runs")
    time.sleep(8)  # room for a wrong third run to appear
    runs = new_runs()
    assert sorted(r.parameters["source"] for r in runs) == sorted(expected)
    # Same bytes as the first job: both finish from the cache. Wait, so the worker is idle after.
    for r in runs:
        done = wait_for(
            lambda r=r: (x := read_flow_run(r.id)).state.is_final() and x,
            400,
            "a triggered job",
            interval=2,
        )
        assert done.state.is_completed(), worker.read_text()[-4000:]
