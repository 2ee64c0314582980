"""Download URLs of a job's files: presigned GETs for S3 (against moto on loopback, which does
not check signatures: that the URL downloads is checked, not that a bent one fails), signed
URLs of the server for local job folders, refused when bent, expired or pointed outside."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from blocks.settings import PipelineSettings
from deployments.service.downloads import Downloads, local_file
from tests.faults.support import s3 as moto_s3


def test_an_s3_clip_gets_a_presigned_url_that_downloads_it(s3_server: str) -> None:
    settings = PipelineSettings(
        s3_endpoint_url=s3_server, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    s3 = moto_s3(s3_server)
    s3.create_bucket(Bucket="clipflow-out")
    s3.put_object(Bucket="clipflow-out", Key="jobs/j1/clips/clip-01.mp4", Body=b"\0\0\0\x18ftyp")
    url = Downloads(b"k", 600, settings).url("j1", "s3://clipflow-out/jobs/j1", "clips/clip-01.mp4")
    assert "Signature=" in url and "Expires=" in url
    assert httpx.get(url).content == b"\0\0\0\x18ftyp"


def test_local_urls_are_signed_for_one_file_until_they_expire() -> None:
    signer = Downloads(b"secret", 60, PipelineSettings())
    url = signer.url("j1", "/srv/out/j1", "clips/clip-01.mp4")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    expires, sig = int(query["expires"]), query["sig"]
    assert urlsplit(url).path == "/files/j1/clips/clip-01.mp4"
    assert signer.verify("j1", "clips/clip-01.mp4", expires, sig)
    assert not signer.verify("j1", "clips/clip-02.mp4", expires, sig)
    assert not signer.verify("j2", "clips/clip-01.mp4", expires, sig)
    assert not signer.verify("j1", "clips/clip-01.mp4", expires + 60, sig)
    assert not Downloads(b"other", 60, PipelineSettings()).verify(
        "j1", "clips/clip-01.mp4", expires, sig
    )
    past = int(time.time()) - 1
    assert not signer.verify("j1", "clips/clip-01.mp4", past, signer._signature("j1", "x", past))


def test_a_name_outside_the_job_folder_is_not_served(tmp_path: Path) -> None:
    job = tmp_path / "j1"
    (job / "clips").mkdir(parents=True)
    (job / "clips" / "clip-01.mp4").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("no")
    assert local_file(str(job), "clips/clip-01.mp4") == job / "clips" / "clip-01.mp4"
    assert local_file(str(job), "../secret.txt") is None
    assert local_file(str(job), "clips") is None
    assert local_file(str(job), "clips/none.mp4") is None


def test_the_server_refuses_a_bent_link(start_server, tmp_path: Path) -> None:
    served = start_server(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    answer = httpx.get(f"{served.url}/files/j1/clips/clip-01.mp4?expires=9999999999&sig=00")
    assert answer.status_code == 403 and "invalid or has expired" in answer.json()["detail"]
