"""Object storage: parse source URIs, read sources, publish outputs (local directories or S3).

Local sources are only ever read: :func:`download` hands back their resolved path and never
copies or touches them. S3 objects are written to a temporary file in the destination directory
and renamed into place, under a name derived from the key's last segment and sanitised so that
no key (``../../etc/x``, ``/abs``, control characters) can write outside that directory.

Errors: a missing object or bucket is the input's fault (:class:`InputError`, never retried);
everything else from botocore becomes :class:`StorageError` naming the URI, chained to the
botocore error so the retry rule (:func:`tasks.retries.is_transient`) can tell a 503 from an
access denial.
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from media.errors import InputError, StorageError

if TYPE_CHECKING:
    from blocks.settings import PipelineSettings

# Codes that mean "the thing named is not there": deterministic, the job is rejected.
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET = {"NoSuchBucket"}
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
MAX_NAME_BYTES = 200


@dataclass(frozen=True, slots=True)
class S3Location:
    """``s3://bucket/key``; the key is taken literally (S3 keys are not URL-encoded)."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, name: str) -> S3Location:
        """The object ``name`` under this location taken as a prefix."""
        prefix = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Location(self.bucket, prefix + name.lstrip("/"))


@dataclass(frozen=True, slots=True)
class ObjectHead:
    """What identifies one S3 object version: ETag (quotes stripped), version id, size."""

    etag: str
    version_id: str | None
    size: int


def parse_uri(uri: str | os.PathLike[str]) -> S3Location | Path:
    """``s3://bucket/key`` → :class:`S3Location`; a path or ``file://`` URI → absolute Path
    (not resolved). Other schemes are an :class:`InputError`."""
    text = os.fspath(uri)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        bucket, _, key = text[len("s3://") :].partition("/")
        if not _BUCKET_RE.match(bucket):
            raise InputError(f"{text}: invalid bucket name {bucket!r}")
        return S3Location(bucket, key)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InputError(f"{text}: file URIs on another host are not supported")
        return Path(unquote(parts.path))
    if scheme and len(scheme) > 1:  # one letter: a Windows drive, not a scheme
        raise InputError(f"{text}: unsupported scheme {scheme!r} (expected a path or s3://)")
    return Path(text).expanduser().absolute()


def parse_source(uri: str | os.PathLike[str]) -> S3Location | Path:
    """A source to read: an S3 object (key required) or an existing regular local file, with
    symlinks resolved."""
    loc = parse_uri(uri)
    if isinstance(loc, S3Location):
        if not loc.key or loc.key.endswith("/"):
            raise InputError(f"{uri}: names a prefix, expected an object key")
        return loc
    try:
        path = loc.resolve(strict=True)
    except FileNotFoundError:
        raise InputError(f"{uri}: no such file") from None
    except (OSError, RuntimeError) as exc:  # symlink loops raise RuntimeError or OSError
        raise InputError(f"{uri}: cannot resolve ({exc})") from None
    if not path.is_file():
        raise InputError(f"{uri}: not a regular file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{uri}: not readable")
    return path


def safe_filename(key: str, default: str = "object") -> str:
    """A file name for an object key: its last segment, NFC-normalised, with separators and
    control characters replaced, no leading dots, at most MAX_NAME_BYTES bytes of UTF-8
    (extension kept). Never a path: the result contains no separator and is never ``..``."""
    name = unicodedata.normalize("NFC", key.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE_CHARS.sub("_", name).strip().lstrip(".").strip()
    if not name:
        return default
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, ext = name, ""
    ext = f".{ext}" if ext else ""
    budget = MAX_NAME_BYTES - len(ext.encode())
    stem = stem.encode()[:budget].decode(errors="ignore").rstrip() or default
    return stem + ext


# --- client -------------------------------------------------------------------------------

_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def s3_client(
    settings: PipelineSettings,
    *,
    retry_mode: Literal["standard", "adaptive"] = "standard",
    max_attempts: int | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
) -> Any:
    """A boto3 S3 client for these settings (cached; boto3 clients are thread-safe).

    Credentials: the prefect-aws ``AwsCredentials`` block that ``aws_credentials_block`` names
    (its keys, profile or role, and its endpoint and region where it sets them, else
    ``s3_endpoint_url``/``s3_region``); without one, ``aws_access_key_id``/``…secret…`` or
    boto3's own chain. Retries: botocore's ``standard`` (or ``adaptive``) mode,
    ``max_attempts`` (``s3_max_attempts``) tries in all, after ``s3_connect_timeout_s`` and
    ``s3_read_timeout_s`` of silence, with exponential backoff and jitter on 5xx, throttling and
    connection errors, whatever the block's own botocore config says. A custom endpoint (MinIO,
    moto) gets path-style addressing and checksums only where required, which S3-compatible
    stores accept.
    """
    key_id = settings.aws_access_key_id
    secret = settings.aws_secret_access_key
    max_attempts = max_attempts or settings.s3_max_attempts  # the settings unless told here
    connect_timeout = connect_timeout or settings.s3_connect_timeout_s
    read_timeout = read_timeout or settings.s3_read_timeout_s
    cache_key = (
        settings.aws_credentials_block,
        settings.s3_endpoint_url,
        settings.s3_region,
        key_id.get_secret_value() if key_id else None,
        secret.get_secret_value() if secret else None,
        retry_mode,
        max_attempts,
        connect_timeout,
        read_timeout,
    )
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(cache_key)
        if client is None:
            client = _CLIENTS[cache_key] = _make_client(*cache_key)
        return client


def _make_client(
    block: str | None,
    endpoint: str | None,
    region: str,
    key_id: str | None,
    secret: str | None,
    retry_mode: str,
    max_attempts: int,
    connect_timeout: float,
    read_timeout: float,
) -> Any:
    import boto3
    from botocore.config import Config

    block_config = None
    if block:
        from blocks.aws import s3_session_args  # imports prefect-aws: only on this path

        session, params, block_region = s3_session_args(block)
        endpoint = params.pop("endpoint_url", None) or endpoint
        region = block_region or region
        block_config = params.pop("config", None)
    else:
        session = boto3.session.Session()  # sessions are not thread-safe: one per client
        params = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    extra: dict[str, Any] = {}
    if endpoint:
        extra = {
            "s3": {"addressing_style": "path"},
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
    config = Config(
        region_name=region,
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        **extra,
    )
    if block_config is not None:  # the block's options, with our retries and timeouts on top
        config = block_config.merge(config)
    return session.client("s3", endpoint_url=endpoint, config=config, **params)


# --- errors -------------------------------------------------------------------------------


def error_code(exc: BaseException) -> tuple[str, int | None]:
    """A botocore error's code and HTTP status ("", None when it carries no response)."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, status


def _unwrap(exc: BaseException) -> BaseException:
    """The botocore error inside boto3/s3transfer wrappers (retries exceeded, upload failed)."""
    for _ in range(4):
        inner = getattr(exc, "last_exception", None)
        if inner is None and type(exc).__name__ == "S3UploadFailedError":
            inner = exc.__cause__ or exc.__context__
        if not isinstance(inner, BaseException):
            return exc
        exc = inner
    return exc


@contextmanager
def _s3_errors(loc: S3Location) -> Iterator[None]:
    """Turn botocore/boto3 failures into InputError (missing object or bucket) or StorageError
    (everything else), naming the URI and chained to the botocore error."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError
    from s3transfer.exceptions import RetriesExceededError

    try:
        yield
    except (ClientError, BotoCoreError, Boto3Error, RetriesExceededError) as exc:
        inner = _unwrap(exc)
        if isinstance(inner, ClientError):
            code, status = error_code(inner)
            if code in _NO_BUCKET:
                raise InputError(f"{loc}: bucket not found") from inner
            if code in _NOT_FOUND:
                raise InputError(f"{loc}: object not found") from inner
            raise StorageError(f"{loc}: {code or status}: {inner}") from inner
        raise StorageError(f"{loc}: {type(inner).__name__}: {inner}") from inner


# --- read ---------------------------------------------------------------------------------


def _s3(uri: str | S3Location) -> S3Location:
    loc = uri if isinstance(uri, S3Location) else parse_uri(uri)
    if not isinstance(loc, S3Location):
        raise InputError(f"{uri}: expected an s3:// URI")
    return loc


def head_object(uri: str | S3Location, settings: PipelineSettings) -> ObjectHead:
    """ETag, version id and size of an S3 object (the content identity used in cache keys)."""
    loc = _s3(uri)
    with _s3_errors(loc):
        response = s3_client(settings).head_object(Bucket=loc.bucket, Key=loc.key)
    return ObjectHead(
        etag=str(response.get("ETag", "")).strip('"'),
        version_id=response.get("VersionId"),
        size=int(response.get("ContentLength", 0)),
    )


def download(
    uri: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    settings: PipelineSettings,
    *,
    name: str | None = None,
    version_id: str | None = None,
) -> Path:
    """A local path holding the source. Local sources: their resolved path (never copied).
    S3 objects: ``dest_dir/<safe name>``, written to a temp file and renamed, so a crash never
    leaves a partial file under the final name. ``name`` overrides the derived file name (it is
    sanitised the same way); ``version_id`` pins the object version."""
    source = parse_source(uri)
    if isinstance(source, Path):
        return source
    dest_root = Path(dest_dir).resolve()
    dest_root.mkdir(parents=True, exist_ok=True)
    dest = dest_root / safe_filename(name if name is not None else source.key)
    if dest.parent != dest_root:  # belt and braces: safe_filename never yields a separator
        raise InputError(f"{source}: file name {dest.name!r} escapes {dest_root}")
    extra = {"VersionId": version_id} if version_id else None
    fd, tmp_name = tempfile.mkstemp(dir=dest_root, prefix=".part-", suffix=dest.suffix)
    try:
        with os.fdopen(fd, "wb") as tmp, _s3_errors(source):
            s3_client(settings).download_fileobj(source.bucket, source.key, tmp, ExtraArgs=extra)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


# --- write --------------------------------------------------------------------------------


def upload_file(
    path: str | os.PathLike[str], uri: str | os.PathLike[str], settings: PipelineSettings
) -> str:
    """Publish one file to ``uri`` (``s3://bucket/key`` or a local path) and return the URI.
    Local destinations are written through a temp file and a rename, like downloads."""
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file to upload")
    dest = parse_uri(uri)
    if isinstance(dest, Path):
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-", suffix=dest.suffix)
        os.close(fd)
        try:
            shutil.copyfile(src, tmp_name)
            os.replace(tmp_name, dest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return str(dest)
    if not dest.key or dest.key.endswith("/"):
        raise InputError(f"{uri}: names a prefix, expected an object key")
    content_type = mimetypes.guess_type(src.name)[0] or "application/octet-stream"
    with _s3_errors(dest):
        s3_client(settings).upload_file(
            str(src), dest.bucket, dest.key, ExtraArgs={"ContentType": content_type}
        )
    return str(dest)


def upload_dir(
    local_dir: str | os.PathLike[str],
    prefix_uri: str | os.PathLike[str],
    settings: PipelineSettings,
    *,
    last: Sequence[str] = (),
) -> list[str]:
    """Publish every file under ``local_dir`` (recursively, sorted) below ``prefix_uri``, one
    after another; the relative paths in ``last`` go after all others, in the order given
    (e.g. ``["report.json", "report.html"]``, so a report only ever describes complete files).
    Returns the destination URIs in upload order."""
    root = Path(local_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such directory to upload")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    if missing := [name for name in last if name not in files]:
        raise FileNotFoundError(f"{root}: files named in last= not found: {missing}")
    late = list(dict.fromkeys(last))
    order = [name for name in files if name not in late] + late
    dest = parse_uri(prefix_uri)
    uploaded = []
    for name in order:
        target = dest.join(name) if isinstance(dest, S3Location) else dest / name
        uploaded.append(upload_file(root / name, str(target), settings))
    return uploaded
