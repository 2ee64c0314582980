"""S3 "object created" notifications → clipflow's Prefect event ``s3.object.created``.

Pure: no AWS client, no Prefect import. Three envelopes reach the bridge's SQS queue:

* S3's own notification: ``{"Records": [{"eventName": "ObjectCreated:Put", "s3": {...}}]}``;
* the same wrapped by SNS (``{"Type": "Notification", "Message": "<json>"}``) when the bucket
  notifies a topic that the queue subscribes to without raw delivery;
* EventBridge's ``{"detail-type": "Object Created", "detail": {"bucket": ..., "object": ...}}``.

Object keys arrive URL-encoded in the S3 and EventBridge shapes alike (``red flower.jpg`` as
``red+flower.jpg``; AWS Lambda Powertools decodes both with ``unquote_plus``), so they are
decoded here: an encoded key names an object that does not exist.

The event id is a UUIDv5 over (bucket, key, ETag): every copy of one upload (S3's duplicate
deliveries, SQS redeliveries after a crash, SNS fan-in) maps to one event id, and Prefect stores
an event id once. A re-upload of identical bytes under the same key (same ETag) is the same
event too; new bytes get a new ETag and so a new event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

from media.errors import ClipflowError

EVENT_NAME = "s3.object.created"
# Fixed namespace of clipflow's S3 event ids (uuid5(NAMESPACE_URL, "clipflow:s3.object.created")).
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "clipflow:s3.object.created")


class NotificationError(ClipflowError, ValueError):
    """A queue message that is none of the notification shapes the bridge understands."""


@dataclass(frozen=True, slots=True)
class ObjectCreated:
    """One created S3 object, as a notification described it (key decoded, ETag unquoted)."""

    bucket: str
    key: str
    etag: str
    size: int
    version_id: str | None
    occurred: datetime  # when S3 says the object was created (UTC)
    via: str  # "s3", "sns" or "eventbridge": which envelope carried it

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def suffix(self) -> str:
        """The key's extension, lower-cased (``.mp4``), for triggers that match on it."""
        return PurePosixPath(self.key).suffix.lower()

    @property
    def event_id(self) -> uuid.UUID:
        """Deterministic: uuid5 over bucket, key and ETag, each length-prefixed (a key may hold
        any character, so no separator alone keeps two triples apart)."""
        name = "\n".join(f"{len(part)}:{part}" for part in (self.bucket, self.key, self.etag))
        return uuid.uuid5(EVENT_ID_NAMESPACE, name)


def parse_message(body: str) -> list[ObjectCreated]:
    """The created objects in one SQS message body, in order.

    ``[]`` for messages that are understood but start nothing: ``s3:TestEvent`` (S3 sends one
    when a notification is configured), other event kinds (removals, restores). Raises
    :class:`NotificationError` for anything else, so the caller can leave it to the queue's
    redrive policy instead of silently dropping it.
    """
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"message body is not JSON: {body[:200]!r}") from exc
    return _parse(doc, via=None, depth=0)


def _parse(doc: Any, via: str | None, depth: int) -> list[ObjectCreated]:
    if not isinstance(doc, Mapping):
        raise NotificationError(f"expected a JSON object, got {type(doc).__name__}: {doc!r:.200}")
    if doc.get("Event") == "s3:TestEvent":
        return []
    if doc.get("Type") == "Notification" and "Message" in doc and depth == 0:
        inner = doc["Message"]
        try:
            inner_doc = json.loads(inner) if isinstance(inner, str) else inner
        except ValueError as exc:
            raise NotificationError(f"SNS message is not JSON: {str(inner)[:200]!r}") from exc
        return _parse(inner_doc, via="sns", depth=depth + 1)
    if "Records" in doc:
        records = doc["Records"]
        if not isinstance(records, list):
            raise NotificationError(f"'Records' is not a list: {records!r:.200}")
        return [obj for r in records if (obj := _from_record(r, via or "s3")) is not None]
    if "detail-type" in doc and doc.get("source") == "aws.s3":
        obj = _from_eventbridge(doc, via or "eventbridge")
        return [obj] if obj is not None else []
    raise NotificationError(
        f"not an S3 notification, SNS envelope or EventBridge event (keys: {sorted(doc)[:12]})"
    )


def _from_record(record: Any, via: str) -> ObjectCreated | None:
    """One ``Records[]`` entry (S3 notification schema 2.x); None unless ObjectCreated:*."""
    if not isinstance(record, Mapping):
        raise NotificationError(f"record is not an object: {record!r:.200}")
    name = str(record.get("eventName", ""))
    if not name.removeprefix("s3:").startswith("ObjectCreated:"):
        return None
    try:
        s3 = record["s3"]
        bucket, obj = s3["bucket"]["name"], s3["object"]
        key = obj["key"]
    except (KeyError, TypeError) as exc:
        raise NotificationError(f"{name} record without s3.bucket.name/object.key: {exc}") from exc
    return _created(
        bucket,
        unquote_plus(key),
        obj.get("eTag") or obj.get("etag"),
        obj.get("size"),
        obj.get("versionId"),
        record.get("eventTime"),
        via,
    )


def _from_eventbridge(doc: Mapping[str, Any], via: str) -> ObjectCreated | None:
    """An EventBridge S3 event; None unless ``detail-type`` is ``Object Created``."""
    if doc.get("detail-type") != "Object Created":
        return None
    try:
        detail = doc["detail"]
        bucket, obj = detail["bucket"]["name"], detail["object"]
        key = obj["key"]
    except (KeyError, TypeError) as exc:
        raise NotificationError(f"Object Created event without bucket/object key: {exc}") from exc
    return _created(
        bucket,
        unquote_plus(key),
        obj.get("etag") or obj.get("eTag"),  # AWS writes "etag"; moto 5 writes "eTag"
        obj.get("size"),
        obj.get("version-id"),
        doc.get("time"),
        via,
    )


def _created(
    bucket: Any,
    key: str,
    etag: Any,
    size: Any,
    version_id: Any,
    when: Any,
    via: str,
) -> ObjectCreated:
    if not isinstance(bucket, str) or not bucket:
        raise NotificationError(f"bucket name {bucket!r}: expected a non-empty string")
    if not key:
        raise NotificationError(f"s3://{bucket}: empty object key")
    if not etag:
        raise NotificationError(f"s3://{bucket}/{key}: no ETag (needed for the event id)")
    try:
        size_bytes = int(size) if size is not None else 0
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"s3://{bucket}/{key}: size {size!r} is not a number") from exc
    return ObjectCreated(
        bucket=bucket,
        key=key,
        etag=str(etag).strip('"').lower(),
        size=size_bytes,
        version_id=str(version_id) if version_id not in (None, "", "null") else None,
        occurred=_timestamp(when),
        via=via,
    )


def _timestamp(value: Any) -> datetime:
    """ISO 8601 (``2026-11-12T00:00:00.000Z``) or epoch seconds → aware UTC; now if absent."""
    if value is None or value == "":
        return datetime.now(UTC)
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotificationError(f"event time {value!r} is not ISO 8601 or epoch seconds") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def prefect_event(obj: ObjectCreated) -> dict[str, Any]:
    """The Prefect event for ``obj``, as the JSON that ``POST /api/events`` takes.

    Resource labels (all strings, as Prefect requires) are what a deployment trigger matches:
    ``prefect.resource.id`` (``s3://bucket/key``), ``s3.bucket``, ``s3.key``, ``s3.suffix``
    (lower case), ``s3.etag`` and ``s3.size``. They are namespaced ``s3.*`` like Prefect's own
    ``prefect.*`` labels, and so that Jinja's ``event.resource.key`` never meets a dict method.
    The payload repeats them with ``size`` as a number, for templates.
    """
    return {
        "id": str(obj.event_id),
        "event": EVENT_NAME,
        "occurred": obj.occurred.isoformat(),
        "resource": {
            "prefect.resource.id": obj.uri,
            "prefect.resource.name": PurePosixPath(obj.key).name or obj.key,
            "s3.bucket": obj.bucket,
            "s3.key": obj.key,
            "s3.suffix": obj.suffix,
            "s3.etag": obj.etag,
            "s3.size": str(obj.size),
        },
        "payload": {
            "bucket": obj.bucket,
            "key": obj.key,
            "etag": obj.etag,
            "size": obj.size,
            "version_id": obj.version_id,
            "via": obj.via,
        },
    }
