"""S3 faults served by a proxy on loopback in front of moto: 5xx, throttling (``SlowDown``),
S3's ``RequestTimeout`` and a stalled connection are retried and the job completes; a
persistent failure ends the job with an error that names the object, and the job database
records it failed.

botocore retries each request (``standard`` mode, 5 attempts, tasks/storage.py); the ingest
and publish tasks retry transient storage errors on top (tasks/retries.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.faults.s3proxy import Fault, fault_proxy
from tests.faults.support import cli_env, hidden_leftovers, job_rows, run_cli, s3

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]
JOB_FILES = {
    "clips/clip-01.mp4", "clips/clip-01.srt", "clips/clip-01.vtt",
    "plan.json", "report.json", "report.html",
}  # fmt: skip


@pytest.fixture
def buckets(s3_server: str) -> tuple[str, str]:
    """A fresh inbox and output bucket on the session's moto server."""
    tag = uuid.uuid4().hex[:8]
    client = s3(s3_server)
    for name in (f"in-{tag}", f"out-{tag}"):
        client.create_bucket(Bucket=name)
    return f"in-{tag}", f"out-{tag}"


def _upload(s3_server: str, bucket: str, video: Path) -> str:
    s3(s3_server).upload_file(str(video), bucket, "inbox/talk.mp4")
    return f"s3://{bucket}/inbox/talk.mp4"


def _env(endpoint: str) -> dict[str, str]:
    return cli_env(
        CLIPFLOW_S3_ENDPOINT_URL=endpoint,
        CLIPFLOW_AWS_ACCESS_KEY_ID="testing",
        CLIPFLOW_AWS_SECRET_ACCESS_KEY="testing",
    )


def _recovered(log: list[Any], kind: str) -> None:
    """Every request of ``kind`` that got a fault was sent again and then answered by moto."""
    faulted = [
        i for i, s in enumerate(log) if s.kind == kind and s.outcome.startswith(("inj", "stall"))
    ]
    assert faulted, f"no {kind} fault was served"
    for i in faulted:
        again = [s for s in log[i + 1 :] if (s.method, s.path) == (log[i].method, log[i].path)]
        assert any(s.outcome.startswith("forwarded 2") for s in again), (log[i], again)


def _job_keys(s3_server: str, bucket: str) -> list[str]:
    listed = s3(s3_server).list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def test_5xx_throttling_and_request_timeouts_are_retried_and_the_job_completes(
    s3_server, buckets, fresh_recording, tmp_path
) -> None:
    inbox, outbox = buckets
    rec = fresh_recording()
    source = _upload(s3_server, inbox, rec.video)
    faults = [
        Fault("get", "503", times=2),  # SlowDown twice ...
        Fault("get", "408"),  # ... then S3's own RequestTimeout
        Fault("put", "503"),
        Fault("put", "500"),
    ]
    with fault_proxy(s3_server, faults) as proxy:
        done = run_cli(
            "run", source, "--transcript", str(rec.transcript), "--out", f"s3://{outbox}/jobs",
            "--max-clips", "1", env=_env(proxy.url),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert [f.served for f in faults] == [2, 1, 1, 1]
    assert proxy.seen("get")[:3] == ["injected 503", "injected 503", "injected 400"]
    assert proxy.seen("put")[:2] == ["injected 503", "injected 500"]
    for kind in ("get", "put"):
        _recovered(proxy.log, kind)

    # One job directory with exactly the job's files, each uploaded once, report included.
    job_uri = done.stdout.strip().splitlines()[-1]
    job_prefix = job_uri.removeprefix(f"s3://{outbox}/")
    keys = _job_keys(s3_server, outbox)
    assert keys == sorted(f"{job_prefix}/{name}" for name in JOB_FILES)
    puts = [s.path for s in proxy.log if s.kind == "put" and s.outcome.startswith("forwarded 2")]
    assert len(puts) == len(set(puts)) == len(JOB_FILES)
    report = json.loads(
        s3(s3_server).get_object(Bucket=outbox, Key=f"{job_prefix}/report.json")["Body"].read()
    )
    assert report["source"]["uri"] == source and report["qa"]["passed"] is True
    from blocks.settings import PipelineSettings

    (row,) = job_rows(PipelineSettings().job_database_url, sha256=rec.sha256)
    assert (row["status"], row["clips"], row["job_dir"]) == ("succeeded", 1, job_uri)
    assert not hidden_leftovers(PipelineSettings().work_dir / "sources")


def test_a_head_request_answered_500_then_503_is_retried(
    s3_server, buckets, tmp_path, no_retry_backoff
) -> None:
    """HEAD (the object's ETag and size: batch sweeps and S3 events read it) has no body, so
    the client sees only the status; botocore retries it all the same."""
    from blocks.settings import PipelineSettings
    from tasks import storage

    inbox, _ = buckets
    s3(s3_server).put_object(Bucket=inbox, Key="inbox/a.mp4", Body=b"12345")
    faults = [Fault("head", "500"), Fault("head", "503")]
    with fault_proxy(s3_server, faults) as proxy:
        settings = PipelineSettings(
            s3_endpoint_url=proxy.url, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        head = storage.head_object(f"s3://{inbox}/inbox/a.mp4", settings)
    assert head.size == 5 and head.etag
    assert proxy.seen("head") == ["injected 500", "injected 503", "forwarded 200"]


def _job_on_failing_get(s3_server, buckets, fresh_recording, status: str):
    """A job on a fresh recording whose every S3 GET is answered ``status``:
    (source URI, the finished CLI process, the proxy)."""
    inbox, outbox = buckets
    rec = fresh_recording()
    source = _upload(s3_server, inbox, rec.video)
    with fault_proxy(s3_server, [Fault("get", status, times=None)]) as proxy:
        done = run_cli(
            "run", source, "--transcript", str(rec.transcript), "--out", f"s3://{outbox}/jobs",
            "--max-clips", "1", env=_env(proxy.url),
        )  # fmt: skip
    return source, done, proxy


def test_a_persistent_s3_error_fails_the_job_naming_the_object(
    s3_server, buckets, fresh_recording
) -> None:
    outbox = buckets[1]
    source, done, proxy = _job_on_failing_get(s3_server, buckets, fresh_recording, "403")
    assert done.returncode == 3, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("clipflow: job ") and f"{source}: AccessDenied" in last, last
    assert "Traceback" not in done.stderr
    # An access denial is not transient: asked once, not retried by botocore or the task.
    assert proxy.seen("get") == ["injected 403"]
    from blocks.settings import PipelineSettings

    (row,) = job_rows(PipelineSettings().job_database_url, uri=source)
    assert row["status"] == "failed" and source in row["failure_reason"]
    assert _job_keys(s3_server, outbox) == []


@pytest.mark.slow
def test_throttling_that_never_ends_exhausts_the_retries_and_fails_the_job(
    s3_server, buckets, fresh_recording
) -> None:
    source, done, proxy = _job_on_failing_get(s3_server, buckets, fresh_recording, "503")
    assert done.returncode == 3, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert f"{source}: SlowDown" in last and "Traceback" not in done.stderr, done.stderr[-3000:]
    # botocore's 5 attempts, for each of the ingest task's 4 tries (3 retries).
    assert proxy.seen("get") == ["injected 503"] * 20
    from blocks.settings import PipelineSettings

    (row,) = job_rows(PipelineSettings().job_database_url, uri=source)
    assert row["status"] == "failed" and "SlowDown" in row["failure_reason"]


@pytest.mark.slow
def test_a_stalled_read_times_out_and_is_retried(s3_server, buckets, fresh_recording) -> None:
    """The stall outlasts the client's read timeout (``CLIPFLOW_S3_READ_TIMEOUT_S``, here 3 s)."""
    inbox, outbox = buckets
    rec = fresh_recording()
    source = _upload(s3_server, inbox, rec.video)
    with fault_proxy(s3_server, [Fault("get", "stall")], stall_s=30) as proxy:
        env = {**_env(proxy.url), "CLIPFLOW_S3_READ_TIMEOUT_S": "3"}
        done = run_cli(
            "run", source, "--transcript", str(rec.transcript), "--out", f"s3://{outbox}/jobs",
            "--max-clips", "1", env=env, timeout=420,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    stalled, then = proxy.seen("get")[:2]
    assert stalled == "stalled" and then.startswith("forwarded 2"), proxy.seen("get")
