"""Sidecar transcripts beside an S3 recording: a same-stem ``.vtt``/``.srt``/``.json``.

A job started by an upload event runs as soon as the recording lands, while its transcript
(a Zoom VTT, a word-level JSON) is often uploaded a moment later. So for an S3 source given no
transcript, :func:`find_sidecar` looks beside the recording and, while the recording is young,
keeps looking: until its upload time (``LastModified``) plus ``sidecar_wait_s``. A job for a
recording uploaded long ago (the nightly sweep, a re-run) looks once and does not wait. The
deadline is reckoned on the server's clock (its ``Date`` header), so a skewed worker clock
neither stretches nor skips the wait. The nightly sweep pairs recordings with sidecars by the
same rule (:func:`pick_sidecar`, :data:`SIDECAR_SUFFIXES`), so both paths agree.

A same-stem ``.json`` may be a recording tool's metadata rather than a transcript, so its
content decides (:func:`is_transcript_object`, :func:`is_transcript_file`): one that is not a
transcript is passed over with a warning, as if it were not there, instead of rejecting the
job. ``.vtt`` and ``.srt`` are transcripts by name (a broken one is rejected, naming it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import PipelineSettings
from media.errors import InputError, StorageError
from media.transcript.reader import transcript_problem
from tasks import storage
from tasks.retries import TRANSIENT_RETRIES

# In order of preference when more than one is there: cues with speakers first.
SIDECAR_SUFFIXES = (".vtt", ".srt", ".json")
READ_TO_DECIDE = (".json",)  # suffixes whose content says whether they are a transcript
POLL_S = 1.0  # one LIST request per poll: ~$0.0003 for a whole minute's wait

log = logging.getLogger(__name__)


# --- pure logic ----------------------------------------------------------------------------


def stem_of(key: str) -> str:
    """The key without its last suffix: ``zoom/a.b.mp4`` → ``zoom/a.b``."""
    return key[: len(key) - len(PurePosixPath(key).suffix)]


def pick_sidecar(
    key: str, present: Collection[str], accept: Callable[[str], bool] = lambda _name: True
) -> str | None:
    """The sidecar of the recording ``key`` among the names ``present`` (keys or paths): the
    same stem with the first of :data:`SIDECAR_SUFFIXES` that is there and that ``accept``
    takes (it is asked about no other), else None."""
    stem = stem_of(key)
    return next(
        (stem + s for s in SIDECAR_SUFFIXES if stem + s in present and accept(stem + s)), None
    )


def decided_by_name(name: str) -> bool:
    """Whether a found sidecar is a transcript by its name alone (not a :data:`READ_TO_DECIDE`)."""
    return PurePosixPath(name).suffix.lower() not in READ_TO_DECIDE


def is_transcript(data: bytes, name: str) -> bool:
    """Whether a found sidecar named ``name`` holding ``data`` is a transcript; says why not."""
    if decided_by_name(name):
        return True
    problem = transcript_problem(data, name)
    if problem:
        log.warning("%s beside the recording is not a transcript, so not used: %s", name, problem)
    return problem is None


def is_transcript_file(path: Path) -> bool:
    """:func:`is_transcript` of a local file (read only when its suffix needs it)."""
    if decided_by_name(path.name):
        return True
    try:
        return is_transcript(path.read_bytes(), str(path))
    except OSError:  # gone or unreadable since it was listed
        return False


def wait_left_s(uploaded: datetime, now: datetime, wait_s: float) -> float:
    """Seconds still to wait for a sidecar of a recording uploaded at ``uploaded``: until
    ``uploaded + wait_s``, never less than 0 and never more than ``wait_s`` (an upload time
    ahead of ``now`` does not stretch the wait)."""
    left = wait_s - (now - uploaded).total_seconds()
    return min(max(left, 0.0), wait_s)


def server_time(headers: dict[str, str]) -> datetime:
    """The time an HTTP response was made (its ``Date`` header), else this machine's."""
    try:
        return parsedate_to_datetime(headers["date"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


# --- S3 calls ------------------------------------------------------------------------------


@contextmanager
def _s3_errors(loc: storage.S3Location) -> Iterator[None]:
    """A missing object or bucket is the input's fault; the rest a (maybe transient)
    :class:`StorageError`, as in :mod:`tasks.storage`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        code, status = storage.error_code(exc)
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
            raise InputError(f"{loc}: object not found") from exc
        raise StorageError(f"{loc}: {code or status or type(exc).__name__}: {exc}") from exc


def uploaded_and_now(client: Any, loc: storage.S3Location) -> tuple[datetime, datetime]:
    """When the recording was uploaded, and the time now, both by the server's clock."""
    with _s3_errors(loc):
        head = client.head_object(Bucket=loc.bucket, Key=loc.key)
    headers = head.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return head["LastModified"], server_time(headers)


def listed_beside(client: Any, loc: storage.S3Location) -> set[str]:
    """The keys ``<stem>.*`` beside the recording (one LIST request: a stem has few)."""
    with _s3_errors(loc):
        page = client.list_objects_v2(Bucket=loc.bucket, Prefix=stem_of(loc.key) + ".")
    return {obj["Key"] for obj in page.get("Contents", [])}


def is_transcript_object(client: Any, loc: storage.S3Location) -> bool:
    """:func:`is_transcript` of an S3 object (read only when its suffix needs it)."""
    if decided_by_name(loc.key):
        return True
    try:
        with _s3_errors(loc):
            data = client.get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read()
    except InputError:  # deleted since it was listed
        return False
    return is_transcript(data, str(loc))


def await_sidecar(
    client: Any,
    loc: storage.S3Location,
    wait_s: float,
    *,
    poll_s: float = POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str | None:
    """The key of the recording's sidecar: looked for at once, then every ``poll_s`` until
    the recording's upload time plus ``wait_s``; None when none came by then."""
    uploaded, now = uploaded_and_now(client, loc)
    deadline = clock() + wait_left_s(uploaded, now, wait_s)
    verdicts: dict[str, bool] = {}  # each candidate read once, however long the wait

    def accept(key: str) -> bool:
        if key not in verdicts:
            verdicts[key] = is_transcript_object(client, storage.S3Location(loc.bucket, key))
        return verdicts[key]

    while True:
        if found := pick_sidecar(loc.key, listed_beside(client, loc), accept):
            return found
        left = deadline - clock()
        if left <= 0:
            return None
        sleep(min(poll_s, left))


# --- task ----------------------------------------------------------------------------------


@task(name="find-sidecar", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def find_sidecar(source: str, settings: PipelineSettings) -> str | None:
    """The URI of an S3 recording's sidecar transcript (see module docstring), to be read like
    a transcript given with the job; None for local sources and when none arrived in time."""
    loc = storage.parse_uri(source)
    if not isinstance(loc, storage.S3Location):
        return None
    key = await_sidecar(storage.s3_client(settings), loc, settings.sidecar_wait_s)
    if key is None:
        log.info("%s: no sidecar transcript beside it; speech recognition", loc)
        return None
    found = str(storage.S3Location(loc.bucket, key))
    log.info("%s: using the sidecar transcript %s", loc, found)
    return found
