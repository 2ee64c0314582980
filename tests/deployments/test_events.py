"""S3 notification shapes → ObjectCreated records and Prefect events (deployments/events.py).

Table-driven over the three envelopes as AWS documents them, then over the bodies moto's own
S3, SNS and EventBridge put on a real (loopback) SQS queue.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from deployments.events import (
    EVENT_NAME,
    NotificationError,
    ObjectCreated,
    parse_message,
    prefect_event,
)

ETAG = "b1946ac92492d2347c6235b4d2611184"


def s3_record(key: str, event: str = "ObjectCreated:Put", etag: str = ETAG) -> dict:
    """One record as S3 writes it (notification-content-structure, schema 2.1)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": "2026-11-12T08:30:00.123Z",
        "eventName": event,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "clipflow",
            "bucket": {"name": "clipflow-inbox", "arn": "arn:aws:s3:::clipflow-inbox"},
            "object": {"key": key, "size": 1234, "eTag": etag, "sequencer": "0055AED6DCD90281E5"},
        },
    }


def eventbridge(key: str, detail_type: str = "Object Created") -> dict:
    """An EventBridge event as S3 sends it (ev-events.html, "Object created")."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2026-11-12T08:30:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:s3:::clipflow-inbox"],
        "detail": {
            "version": "0",
            "bucket": {"name": "clipflow-inbox"},
            "object": {"key": key, "size": 1234, "etag": ETAG, "version-id": "IYV3p45BT0ac"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def sns(message: dict) -> dict:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:clipflow-uploads",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(message),
        "Timestamp": "2026-11-12T08:30:00.500Z",
    }


ENCODED = "zoom/2026-11+interview+%E2%80%93+caf%C3%A9+%28take+2%29%2B.mp4"
DECODED = "zoom/2026-11 interview – café (take 2)+.mp4"


@pytest.mark.parametrize(
    ("body", "via"),
    [
        ({"Records": [s3_record(ENCODED)]}, "s3"),
        (sns({"Records": [s3_record(ENCODED)]}), "sns"),
        (eventbridge(ENCODED), "eventbridge"),
        (sns(eventbridge(ENCODED)), "sns"),
    ],
    ids=["s3", "sns-wrapped-s3", "eventbridge", "sns-wrapped-eventbridge"],
)
def test_every_envelope_gives_the_decoded_object(body: dict, via: str) -> None:
    [obj] = parse_message(json.dumps(body))
    assert (obj.bucket, obj.key, obj.etag, obj.size, obj.via) == (
        "clipflow-inbox",
        DECODED,
        ETAG,
        1234,
        via,
    )
    assert obj.uri == f"s3://clipflow-inbox/{DECODED}"
    assert obj.occurred.tzinfo is not None and obj.occurred.year == 2026


@pytest.mark.parametrize(
    "body",
    [
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-11-12T08:00:00.000Z",
            "Bucket": "clipflow-inbox",
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw",
        },
        sns({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "clipflow-inbox"}),
        {"Records": [s3_record("a.mp4", event="ObjectRemoved:Delete")]},
        {"Records": []},
        eventbridge("a.mp4", detail_type="Object Deleted"),
    ],
    ids=["test-event", "sns-test-event", "removal", "no-records", "eventbridge-deleted"],
)
def test_messages_that_start_nothing(body: dict) -> None:
    assert parse_message(json.dumps(body)) == []


def test_only_created_records_of_a_mixed_message_count() -> None:
    body = {
        "Records": [
            s3_record("a.mp4"),
            s3_record("b.mp4", event="ObjectRemoved:Delete"),
            s3_record(
                "c+d.mov",
                event="ObjectCreated:CompleteMultipartUpload",
                etag="9b2cf535f27731c974343645a3985328-3",
            ),
        ]
    }
    assert [(o.key, o.etag) for o in parse_message(json.dumps(body))] == [
        ("a.mp4", ETAG),
        ("c d.mov", "9b2cf535f27731c974343645a3985328-3"),
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"hello": "world"}), "not an S3 notification"),
        (json.dumps({"Records": "x"}), "'Records' is not a list"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "without s3.bucket"),
        (json.dumps({"Records": [s3_record("a.mp4", etag="")]}), "no ETag"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "SNS message is not JSON"),
    ],
    ids=["not-json", "array", "unknown", "records-not-list", "no-bucket", "no-etag", "bad-sns"],
)
def test_malformed_messages_are_named(body: str, problem: str) -> None:
    with pytest.raises(NotificationError, match=problem):
        parse_message(body)


def _obj(**changes: object) -> ObjectCreated:
    base = dict(
        bucket="b",
        key="k.mp4",
        etag=ETAG,
        size=1,
        version_id=None,
        occurred=datetime(2026, 11, 12, tzinfo=UTC),
        via="s3",
    )
    return ObjectCreated(**{**base, **changes})  # type: ignore[arg-type]


def test_event_id_is_deterministic_over_bucket_key_etag_only() -> None:
    first = _obj()
    assert first.event_id == _obj(occurred=datetime(2027, 1, 1, tzinfo=UTC), via="sns").event_id
    assert first.event_id == _obj(size=99, version_id="v2").event_id
    assert (
        len(
            {
                first.event_id,
                _obj(bucket="c").event_id,
                _obj(key="k2.mp4").event_id,
                _obj(etag="0" * 32).event_id,
            }
        )
        == 4
    )
    # Length-prefixed parts: moving characters between fields never collides.
    assert _obj(bucket="ab", key="c").event_id != _obj(bucket="a", key="bc").event_id
    assert first.event_id.version == 5


def test_prefect_event_shape() -> None:
    obj = parse_message(json.dumps({"Records": [s3_record("in/Talk One.MP4")]}))[0]
    event = prefect_event(obj)
    assert event["event"] == EVENT_NAME == "s3.object.created"
    assert uuid.UUID(event["id"]) == obj.event_id
    assert event["resource"] == {
        "prefect.resource.id": "s3://clipflow-inbox/in/Talk One.MP4",
        "prefect.resource.name": "Talk One.MP4",
        "s3.bucket": "clipflow-inbox",
        "s3.key": "in/Talk One.MP4",
        "s3.suffix": ".mp4",
        "s3.etag": ETAG,
        "s3.size": "1234",
    }
    assert event["payload"]["size"] == 1234 and event["payload"]["via"] == "s3"
    assert event["occurred"].startswith("2026-11-12T08:30:00.123")
    # Prefect's own client model accepts it unchanged.
    from prefect.events import Event

    assert str(Event.model_validate(event).id) == event["id"]


# --- bodies written by moto's S3, SNS and EventBridge onto a real SQS queue ------------------


@pytest.fixture
def aws(s3_server: str):
    import boto3

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=s3_server,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def _drain(sqs, queue_url: str) -> list[str]:
    bodies = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in batch]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return bodies


def test_moto_s3_sns_and_eventbridge_notifications_parse(aws) -> None:
    s3, sqs, sns_client, events = aws("s3"), aws("sqs"), aws("sns"), aws("events")
    name = f"clipflow-ev-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    queues = {k: sqs.create_queue(QueueName=f"{name}-{k}")["QueueUrl"] for k in ("s3", "sns", "eb")}
    arns = {k: queue_arn(sqs, url) for k, url in queues.items()}
    topic = sns_client.create_topic(Name=f"{name}-topic")["TopicArn"]
    sns_client.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arns["sns"])
    events.put_rule(Name=f"{name}-rule", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule=f"{name}-rule", Targets=[{"Id": "q", "Arn": arns["eb"]}])
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arns["s3"], "Events": ["s3:ObjectCreated:*"]}],
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}],
            "EventBridgeConfiguration": {},
        },
    )
    key = "uploads/ep 7 – café.mp4"  # EventBridge in moto writes keys unencoded: no '+' or '%'
    etag = s3.put_object(Bucket=name, Key=key, Body=b"\x00" * 2048)["ETag"].strip('"')

    seen = {}
    for kind, url in queues.items():
        objects = [o for body in _drain(sqs, url) for o in parse_message(body)]
        assert len(objects) == 1, (kind, objects)
        seen[kind] = objects[0]
    assert {k: (o.bucket, o.key, o.etag, o.size) for k, o in seen.items()} == {
        k: (name, key, etag, 2048) for k in queues
    }
    assert {o.via for o in seen.values()} == {"s3", "sns", "eventbridge"}
    # One upload, three envelopes, one event id.
    assert len({o.event_id for o in seen.values()}) == 1
