"""Download URLs for a job's files: presigned GETs for S3, and for local job folders URLs of
this server signed with HMAC-SHA256 (path and expiry), so a ``<video src>`` plays without a
key and a link cannot be bent to another file or used after it expires."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from blocks.settings import PipelineSettings
from tasks.storage import S3Location, parse_uri, s3_client


class Downloads:
    def __init__(self, secret: bytes, ttl_s: int, settings: PipelineSettings) -> None:
        self._secret, self.ttl_s, self.settings = secret, ttl_s, settings

    def _signature(self, job_id: str, name: str, expires: int) -> str:
        message = f"{job_id}/{name}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, job_id: str, job_dir: str, name: str) -> str:
        """A URL that downloads ``name`` (relative to the job folder) until it expires."""
        location = parse_uri(job_dir)
        if isinstance(location, S3Location):
            obj = location.join(name)
            return str(
                s3_client(self.settings).generate_presigned_url(
                    "get_object",
                    Params={"Bucket": obj.bucket, "Key": obj.key},
                    ExpiresIn=self.ttl_s,
                )
            )
        expires = int(time.time()) + self.ttl_s
        query = urlencode({"expires": expires, "sig": self._signature(job_id, name, expires)})
        return f"/files/{job_id}/{name}?{query}"

    def verify(self, job_id: str, name: str, expires: int, signature: str) -> bool:
        if expires < time.time():
            return False
        return hmac.compare_digest(self._signature(job_id, name, expires), signature)


def local_file(job_dir: str, name: str) -> Path | None:
    """The file ``name`` inside a local job folder, or None (absent, or outside the folder)."""
    root = Path(job_dir).resolve()
    path = (root / name).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def clip_titles(job_dir: str | None) -> dict[int, str]:
    """Clip titles from a local job folder's plan.json (an S3 job's are not fetched)."""
    if not job_dir or job_dir.startswith("s3://"):
        return {}
    plan = Path(job_dir) / "plan.json"
    try:
        doc: dict[str, Any] = json.loads(plan.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {int(c["index"]): str(c.get("title") or "") for c in doc.get("clips", [])}
