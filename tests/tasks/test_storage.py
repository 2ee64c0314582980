"""Storage against moto's S3 server on loopback: URIs, safe names, downloads, uploads, retries."""

from __future__ import annotations

import http.client
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from blocks.settings import PipelineSettings
from media.errors import InputError, StorageError
from tasks import storage
from tasks.retries import is_transient
from tasks.storage import S3Location


def _settings(endpoint: str) -> PipelineSettings:
    return PipelineSettings(
        s3_endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def s3_settings(s3_server: str) -> PipelineSettings:
    return _settings(s3_server)


@pytest.fixture
def bucket(s3_settings: PipelineSettings) -> str:
    """A fresh bucket per test, so tests never see each other's objects."""
    name = f"clipflow-{uuid.uuid4().hex[:12]}"
    storage.s3_client(s3_settings).create_bucket(Bucket=name)
    return name


def _put(settings: PipelineSettings, bucket: str, key: str, body: bytes) -> None:
    storage.s3_client(settings).put_object(Bucket=bucket, Key=key, Body=body)


# --- URIs and names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://inbox/podcasts/ep 1.mp4", S3Location("inbox", "podcasts/ep 1.mp4")),
        ("s3://inbox/a%20b.mp4", S3Location("inbox", "a%20b.mp4")),  # keys are literal
        ("s3://inbox/", S3Location("inbox", "")),
        ("s3://my.bucket-1", S3Location("my.bucket-1", "")),
        ("file:///data/ep%201.mp4", Path("/data/ep 1.mp4")),
        ("/data/ep1.mp4", Path("/data/ep1.mp4")),
    ],
)
def test_parse_uri(uri: str, expected: S3Location | Path) -> None:
    assert storage.parse_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://example.com/ep1.mp4", "unsupported scheme 'https'"),
        ("s3://Bad_Bucket!/k.mp4", "invalid bucket name 'Bad_Bucket!'"),
        ("s3:///k.mp4", "invalid bucket name ''"),
        ("file://elsewhere/ep1.mp4", "another host"),
    ],
)
def test_parse_uri_rejects(uri: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        storage.parse_uri(uri)
    assert str(info.value).startswith(uri)


def test_parse_source_resolves_local_symlinks_and_rejects_the_rest(tmp_path: Path) -> None:
    real = tmp_path / "real.mp4"
    real.write_bytes(b"x")
    (tmp_path / "link.mp4").symlink_to(real)
    assert storage.parse_source(tmp_path / "link.mp4") == real.resolve()
    for bad, message in [
        (tmp_path / "missing.mp4", "no such file"),
        (tmp_path, "not a regular file"),
        ("s3://inbox/podcasts/", "names a prefix"),
    ]:
        with pytest.raises(InputError, match=message):
            storage.parse_source(bad)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("podcasts/ep 1 – café.mp4", "ep 1 – café.mp4"),
        ("../../etc/evil.mp4", "evil.mp4"),
        ("/etc/passwd", "passwd"),
        ("a/../b.mp4", "b.mp4"),
        ("x/..", "object"),
        ("..", "object"),
        ("", "object"),
        ("dir/", "object"),
        ("..\\..\\win.mp4", "win.mp4"),
        (".hidden.mp4", "hidden.mp4"),
        ("tab\there\x00nul.mp4", "tab_here_nul.mp4"),
        ("cafe\u0301.mp4", "caf\u00e9.mp4"),  # NFC
        ("a" * 300 + ".mp4", "a" * 196 + ".mp4"),
        ("é" * 150 + ".mp4", "é" * 98 + ".mp4"),  # cut on a character, not a byte
    ],
)
def test_safe_filename(key: str, name: str) -> None:
    assert storage.safe_filename(key) == name
    assert len(name.encode()) <= storage.MAX_NAME_BYTES


# --- downloads ----------------------------------------------------------------------------


def test_download_local_source_is_never_copied(tmp_path: Path, s3_settings: PipelineSettings):
    src = tmp_path / "in" / "ep1.mp4"
    src.parent.mkdir()
    src.write_bytes(b"video")
    dest = tmp_path / "work"
    assert storage.download(str(src), dest, s3_settings) == src.resolve()
    assert not dest.exists() or not any(dest.iterdir())


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("podcasts/ep1.mp4", "ep1.mp4"),
        ("podcasts/ep 1 – café.mp4", "ep 1 – café.mp4"),
        ("../../etc/evil.mp4", "evil.mp4"),
        ("/abs/evil.mp4", "evil.mp4"),
        ("x/..", "object"),
    ],
)
def test_download_s3_object_stays_inside_dest(
    tmp_path: Path, s3_settings: PipelineSettings, bucket: str, key: str, name: str
) -> None:
    body = f"content of {key}".encode()
    _put(s3_settings, bucket, key, body)
    dest = tmp_path / "work" / "job"
    out = storage.download(f"s3://{bucket}/{key}", dest, s3_settings)
    assert out == dest.resolve() / name
    assert out.read_bytes() == body
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [name]  # no temp file left


def test_download_missing_object_is_an_input_error(
    tmp_path: Path, s3_settings: PipelineSettings, bucket: str
) -> None:
    uri = f"s3://{bucket}/nope/missing.mp4"
    with pytest.raises(InputError) as info:
        storage.download(uri, tmp_path, s3_settings)
    assert str(info.value) == f"{uri}: object not found"
    assert not is_transient(info.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="object not found"):
        storage.head_object(uri, s3_settings)


def test_head_object(s3_settings: PipelineSettings, bucket: str) -> None:
    import hashlib

    _put(s3_settings, bucket, "a/b c.mp4", b"12345")
    head = storage.head_object(f"s3://{bucket}/a/b c.mp4", s3_settings)
    assert head == storage.ObjectHead(hashlib.md5(b"12345").hexdigest(), None, 5)


# --- uploads ------------------------------------------------------------------------------


def _job_dir(root: Path) -> Path:
    for rel in ["report.json", "report.html", "clips/clip-02.mp4", "clips/clip-01.mp4", "a.txt"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def test_upload_dir_puts_last_names_last(
    tmp_path: Path, s3_settings: PipelineSettings, bucket: str
) -> None:
    root = _job_dir(tmp_path / "job")
    client = storage.s3_client(s3_settings)
    order: list[str] = []

    def record(params: dict, **_: object) -> None:
        if params.get("Bucket") == bucket:
            order.append(params["Key"])

    client.meta.events.register("provide-client-params.s3.PutObject", record)
    try:
        uris = storage.upload_dir(
            root, f"s3://{bucket}/out/job1", s3_settings, last=["report.json", "report.html"]
        )
    finally:
        client.meta.events.unregister("provide-client-params.s3.PutObject", record)
    expected = ["a.txt", "clips/clip-01.mp4", "clips/clip-02.mp4", "report.json", "report.html"]
    assert order == [f"out/job1/{name}" for name in expected]
    assert uris == [f"s3://{bucket}/out/job1/{name}" for name in expected]
    head = client.head_object(Bucket=bucket, Key="out/job1/report.html")
    assert head["ContentType"] == "text/html"
    body = client.get_object(Bucket=bucket, Key="out/job1/clips/clip-01.mp4")["Body"].read()
    assert body == b"clips/clip-01.mp4"


def test_upload_dir_to_a_local_directory(tmp_path: Path, s3_settings: PipelineSettings) -> None:
    root = _job_dir(tmp_path / "job")
    out = tmp_path / "published"
    uris = storage.upload_dir(root, out, s3_settings, last=["report.json"])
    assert uris[-1] == str(out / "report.json")
    assert (out / "clips" / "clip-02.mp4").read_text() == "clips/clip-02.mp4"
    assert not list(out.rglob(".part-*"))


def test_upload_dir_refuses_unknown_last_names(tmp_path: Path, s3_settings: PipelineSettings):
    root = _job_dir(tmp_path / "job")
    with pytest.raises(FileNotFoundError, match="report.pdf"):
        storage.upload_dir(root, tmp_path / "o", s3_settings, last=["report.pdf"])


def test_upload_file_to_a_prefix_is_refused(tmp_path: Path, s3_settings: PipelineSettings):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InputError, match="names a prefix"):
        storage.upload_file(tmp_path / "f.txt", "s3://bucket/out/", s3_settings)


# --- errors and retries -------------------------------------------------------------------


def _client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")  # type: ignore[arg-type]


def _chained(cause: BaseException) -> StorageError:
    try:
        raise StorageError("s3://b/k: failed") from cause
    except StorageError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_client_error("ServiceUnavailable", 503), True),
        (_client_error("InternalError", 500), True),
        (_client_error("SlowDown", 503), True),
        (_client_error("RequestTimeout", 400), True),
        (_client_error("AccessDenied", 403), False),
        (_client_error("NoSuchKey", 404), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
        (_chained(_client_error("ServiceUnavailable", 503)), True),
        (_chained(_client_error("AccessDenied", 403)), False),
        (StorageError("s3://b/k: unknown"), True),
        (InputError("s3://b/k: object not found"), False),
        (ValueError("bug"), False),
        (TimeoutError(), True),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


class FlakyS3Proxy(ThreadingHTTPServer):
    """Answers 503 to the first ``fail_first`` requests, then forwards to the real endpoint."""

    daemon_threads = True

    def __init__(self, upstream: str, fail_first: int) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = urlsplit(upstream)
        self.fail_first = fail_first
        self.requests: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FlakyS3Proxy
    _HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            fail = len(self.server.requests) < self.server.fail_first
            self.server.requests.append((self.command, 503 if fail else 0))
        if fail:
            payload = (
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
                b"<Message>Service is unable to handle request.</Message></Error>"
            )
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in self._HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in self._HOP:
                self.send_header(key, value)
        length = resp.getheader("Content-Length") if self.command == "HEAD" else len(data)
        self.send_header("Content-Length", str(length or 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle


@pytest.fixture
def flaky_proxy(s3_server: str, request: pytest.FixtureRequest) -> Iterator[FlakyS3Proxy]:
    proxy = FlakyS3Proxy(s3_server, fail_first=request.param)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    thread.join(5)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("flaky_proxy", [2], indirect=True)
def test_503s_are_retried_and_recovered(
    tmp_path: Path,
    s3_settings: PipelineSettings,
    bucket: str,
    flaky_proxy: FlakyS3Proxy,
    no_retry_backoff: list[float],
) -> None:
    _put(s3_settings, bucket, "in/ep1.mp4", b"x" * 1000)
    flaky = _settings(flaky_proxy.endpoint)
    uri = f"s3://{bucket}/in/ep1.mp4"
    assert storage.head_object(uri, flaky).size == 1000  # 503, 503, then 200
    out = storage.download(uri, tmp_path, flaky)
    assert out.read_bytes() == b"x" * 1000
    assert [status for _, status in flaky_proxy.requests] == [503, 503, 0, 0]
    assert len(no_retry_backoff) == 2  # botocore backed off before each retry


@pytest.mark.timeout(30)
@pytest.mark.parametrize("flaky_proxy", [1000], indirect=True)
def test_persistent_503s_give_up_with_a_transient_storage_error(
    tmp_path: Path,
    s3_settings: PipelineSettings,
    bucket: str,
    flaky_proxy: FlakyS3Proxy,
    no_retry_backoff: list[float],
) -> None:
    uri = f"s3://{bucket}/in/ep1.mp4"
    with pytest.raises(StorageError) as info:
        storage.download(uri, tmp_path / "work", _settings(flaky_proxy.endpoint))
    assert str(info.value).startswith(f"{uri}: ")
    assert is_transient(info.value)
    assert len(flaky_proxy.requests) == 5  # s3_client's max_attempts, then it stops
    assert len(no_retry_backoff) == 4
    assert list((tmp_path / "work").iterdir()) == []  # the temp file is gone


@pytest.mark.timeout(30)
def test_unreachable_endpoint_is_a_transient_storage_error(
    tmp_path: Path, no_retry_backoff: list[float]
) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = _settings(f"http://127.0.0.1:{port}")
    with pytest.raises(StorageError, match="s3://bucket/k.mp4: EndpointConnectionError") as info:
        storage.head_object("s3://bucket/k.mp4", settings)
    assert is_transient(info.value)
    assert len(no_retry_backoff) == 4  # retried up to max_attempts before giving up


def test_s3_client_is_cached_and_configured(s3_settings: PipelineSettings) -> None:
    client = storage.s3_client(s3_settings)
    assert storage.s3_client(s3_settings) is client
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (10.0, 60.0)
    assert config.s3 == {"addressing_style": "path"}
    adaptive = storage.s3_client(s3_settings, retry_mode="adaptive", max_attempts=3)
    assert adaptive is not client and adaptive.meta.config.retries["mode"] == "adaptive"
    assert "testing" not in repr(s3_settings)  # secrets stay masked
