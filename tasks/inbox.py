"""The sweep's inbox: list recordings (local folder or ``s3://`` prefix) and hash their content.

Content identity. The job database keys jobs on the source's sha256 (``jobs.source_sha256``),
which an S3 listing does not give: an ETag is an MD5 only for single-part, unencrypted uploads.
So each object is streamed once through sha256, in a task cached on (URI, ETag, size): the
listing's ETag changes whenever the bytes do, so later sweeps reuse the digest without reading
the object again. Local files are cached the same way on (path, size, mtime, inode). The first
sweep over an inbox reads everything once; after that only new or changed files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import PipelineSettings
from media.errors import InputError, StorageError
from tasks import storage
from tasks.caching import stable_digest
from tasks.retries import TRANSIENT_RETRIES
from tasks.sidecars import SIDECAR_SUFFIXES, is_transcript_file, is_transcript_object, pick_sidecar

DEFAULT_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".webm")
# Names that a copy in progress wears: browsers, rsync, clipflow's own downloads (".part-…").
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart", "~")
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One recording in the inbox; ``fingerprint`` changes whenever its bytes may have."""

    uri: str
    size: int
    fingerprint: str  # "etag:<etag>" (S3) or "stat:<size>:<mtime_ns>:<inode>" (local)
    transcript: str | None  # a sidecar with the same stem (.vtt, .srt, .json), if any


# --- listing (pure but for the file system / one S3 client) ---------------------------------


def _hidden_or_partial(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES)


def list_local(folder: Path, suffixes: Iterable[str]) -> list[InboxItem]:
    """Recordings below ``folder`` (recursively), sorted, skipping hidden folders and files and
    copies in progress; each paired with a same-stem sidecar transcript when there is one."""
    wanted = {s.lower() for s in suffixes}
    items = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if _hidden_or_partial(name) or path.suffix.lower() not in wanted:
                continue
            try:
                st = path.stat()
            except OSError:  # a dangling link, or gone since the walk listed it
                continue
            if not path.is_file():
                continue
            sidecar = next(
                (
                    s
                    for s in (path.with_suffix(x) for x in SIDECAR_SUFFIXES)
                    if s.is_file() and is_transcript_file(s)
                ),
                None,
            )
            items.append(
                InboxItem(
                    uri=str(path),
                    size=st.st_size,
                    fingerprint=f"stat:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}",
                    transcript=str(sidecar) if sidecar else None,
                )
            )
    return items


def list_s3(prefix: storage.S3Location, suffixes: Iterable[str], client: Any) -> list[InboxItem]:
    """Recordings below an S3 prefix as listed (ETag, size), with same-stem sidecars."""
    wanted = {s.lower() for s in suffixes}
    objects: dict[str, dict[str, Any]] = {}
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=prefix.bucket, Prefix=prefix.key
    )
    for page in pages:
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = obj
    items = []
    for key in sorted(objects):
        name = PurePosixPath(key).name
        if not name or _hidden_or_partial(name) or PurePosixPath(key).suffix.lower() not in wanted:
            continue
        sidecar = pick_sidecar(
            key,
            objects.keys(),
            lambda k: is_transcript_object(client, storage.S3Location(prefix.bucket, k)),
        )
        obj = objects[key]
        etag = str(obj.get("ETag", "")).strip('"')
        items.append(
            InboxItem(
                uri=str(storage.S3Location(prefix.bucket, key)),
                size=int(obj.get("Size", 0)),
                fingerprint=f"etag:{etag}",
                transcript=str(storage.S3Location(prefix.bucket, sidecar)) if sidecar else None,
            )
        )
    return items


def sha256_stream(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


# --- S3 calls ------------------------------------------------------------------------------


def _s3_call(loc: storage.S3Location, call: Callable[[], Any]) -> Any:
    """Run one S3 call; a missing bucket is the user's ``InputError``, the rest ``StorageError``
    (which the tasks retry when :func:`tasks.retries.is_transient` says so)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            raise InputError(f"{loc}: bucket not found") from exc
        raise StorageError(f"{loc}: {code or type(exc).__name__}: {exc}") from exc


# --- tasks ---------------------------------------------------------------------------------


@task(name="list-inbox", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def list_inbox(
    inbox: str, suffixes: tuple[str, ...], settings: PipelineSettings
) -> list[InboxItem]:
    """The recordings in ``inbox``: an ``s3://bucket/prefix`` or an existing local folder."""
    loc = storage.parse_uri(inbox)
    if isinstance(loc, storage.S3Location):
        client = storage.s3_client(settings)
        return _s3_call(loc, lambda: list_s3(loc, suffixes, client))
    if not loc.is_dir():
        raise InputError(f"inbox {inbox}: not a folder or an s3:// prefix")
    return list_local(loc, suffixes)


def _sha256_key(context: Any, inputs: dict[str, Any]) -> str:
    item: InboxItem = inputs["item"]
    return "sweep-sha256-" + stable_digest(item.uri, item.fingerprint, item.size)[:40]


@task(
    name="content-sha256",
    cache_key_fn=_sha256_key,
    persist_result=True,
    **TRANSIENT_RETRIES,
)
def content_sha256(item: InboxItem, settings: PipelineSettings) -> str:
    """sha256 of the item's bytes, streamed; cached on its fingerprint (see module docstring).

    S3 reads use ``IfMatch`` on the listed ETag, so the digest belongs to the listed version.
    """
    loc = storage.parse_uri(item.uri)
    if not isinstance(loc, storage.S3Location):
        return sha256_stream(_file_chunks(item.uri))
    etag = item.fingerprint.removeprefix("etag:")
    client = storage.s3_client(settings)
    body = _s3_call(
        loc, lambda: client.get_object(Bucket=loc.bucket, Key=loc.key, IfMatch=f'"{etag}"')["Body"]
    )
    return _s3_call(loc, lambda: sha256_stream(body.iter_chunks(CHUNK)))
