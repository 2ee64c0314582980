"""A fault-injecting HTTP proxy on 127.0.0.1 in front of moto's S3 server.

Each request is classified by kind (``head``, ``get`` an object, ``put`` an object or a part
of a multipart upload, ``other``: buckets, listings). A script of :class:`Fault` rules answers
the first N requests of a kind with an S3 error (500 ``InternalError``, 503 ``SlowDown``,
400 ``RequestTimeout``, 403 ``AccessDenied``, with S3's XML error body) or stalls them
without an answer; everything else is forwarded to moto unchanged. Every request is logged, so
a test can check that the faults were served and that the client came back for more.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# status, S3 error code, message: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "408": (400, "RequestTimeout", "Your socket connection to the server was not read from "
            "or written to within the timeout period."),
    "403": (403, "AccessDenied", "Access Denied"),
}  # fmt: skip
_HOP = {"connection", "keep-alive", "expect", "transfer-encoding", "proxy-connection"}


@dataclass
class Fault:
    """Answer the first ``times`` requests of ``kind`` with ``action`` (an :data:`ERRORS` key
    or ``"stall"``); ``times=None``: every one of them."""

    kind: str
    action: str
    times: int | None = 1
    served: int = 0

    def take(self, kind: str) -> bool:
        if kind != self.kind or (self.times is not None and self.served >= self.times):
            return False
        self.served += 1
        return True


@dataclass(frozen=True)
class Seen:
    kind: str
    method: str
    path: str
    outcome: str  # "forwarded 200", "injected 503", "stalled"


@dataclass
class FaultProxy:
    url: str
    faults: list[Fault]
    log: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def seen(self, kind: str) -> list[str]:
        """Outcomes of the requests of ``kind``, in order."""
        return [s.outcome for s in self.log if s.kind == kind]


def request_kind(method: str, path: str) -> str:
    """``head`` / ``get`` / ``put`` of an object (path-style ``/bucket/key``), else ``other``."""
    parts = urlsplit(path)
    has_key = "/" in parts.path.lstrip("/")
    if not has_key:
        return "other"
    if method == "HEAD":
        return "head"
    if method == "GET" and "uploadId" not in parts.query:
        return "get"
    if method in ("PUT", "POST"):
        return "put"
    return "other"


def error_body(code: str, message: str, path: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{path}</Resource><RequestId>fault-proxy</RequestId></Error>"
    ).encode()


def _handler(proxy: FaultProxy, upstream: tuple[str, int], stall_s: float, lock: threading.Lock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            kind = request_kind(self.command, self.path)
            with lock:
                fault = next((f for f in proxy.faults if f.take(kind)), None)
            if fault is None:
                self._forward(kind, body)
            elif fault.action == "stall":
                proxy.log.append(Seen(kind, self.command, self.path, "stalled"))
                proxy.release.wait(stall_s)  # the client gives up first; then drop the line
                self.close_connection = True
            else:
                status, code, message = ERRORS[fault.action]
                proxy.log.append(Seen(kind, self.command, self.path, f"injected {status}"))
                payload = error_body(code, message, urlsplit(self.path).path)
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                if code == "SlowDown":
                    self.send_header("Retry-After", "1")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

        def _forward(self, kind: str, body: bytes) -> None:
            conn = http.client.HTTPConnection(*upstream, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            finally:
                conn.close()
            proxy.log.append(Seen(kind, self.command, self.path, f"forwarded {resp.status}"))
            self.send_response(resp.status)
            for name, value in resp.getheaders():
                if name.lower() not in _HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            size = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", size or str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle  # noqa: N815

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def fault_proxy(
    upstream_url: str, faults: list[Fault], *, stall_s: float = 90.0
) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` on an ephemeral loopback port in front of ``upstream_url``;
    stalled requests are released when the block ends (or after ``stall_s``)."""
    up = urlsplit(upstream_url)
    if up.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError(f"{upstream_url}: the fault proxy only forwards to loopback")
    proxy = FaultProxy("", faults)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), _handler(proxy, (up.hostname, up.port or 80), stall_s, threading.Lock())
    )
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
