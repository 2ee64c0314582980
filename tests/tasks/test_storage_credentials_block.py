"""S3 credentials from a saved prefect-aws ``AwsCredentials`` block, against moto's S3 server on
loopback and the session's Prefect test server: the block alone (no endpoint, no keys in the
settings) is enough to download and upload, our retry policy survives the block's own config,
and a wrong block name is refused with a message naming it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from blocks.settings import PipelineSettings
from media.errors import InputError
from tasks import storage
from tasks.retries import is_transient

pytestmark = pytest.mark.usefixtures("prefect_server")

BLOCK_KEY_ID = "AKIDBLOCKONLY0001"  # not in the settings nor the environment: only the block


def _save_credentials(endpoint: str, **client_parameters: Any) -> str:
    from prefect_aws import AwsCredentials

    name = f"s3-test-{uuid.uuid4().hex[:8]}"
    AwsCredentials(
        aws_access_key_id=BLOCK_KEY_ID,
        aws_secret_access_key="block-secret",
        region_name="eu-west-1",
        aws_client_parameters={"endpoint_url": endpoint, **client_parameters},
    ).save(name)
    return name


def _signing_key_ids(client: Any) -> list[str]:
    """Access key ids of the requests this client signs from now on (SigV4 headers)."""
    seen: list[str] = []

    def record(request: Any, **_: object) -> None:
        auth = request.headers.get("Authorization", b"")
        auth = auth.decode() if isinstance(auth, bytes) else auth
        seen.append(auth.partition("Credential=")[2].partition("/")[0])

    client.meta.events.register("before-send.s3", record)
    return seen


def test_a_credentials_block_alone_reaches_s3_for_downloads_and_uploads(
    s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _save_credentials(s3_server)
    monkeypatch.setenv("CLIPFLOW_AWS_CREDENTIALS_BLOCK", name)
    settings = PipelineSettings()  # no endpoint, no keys: everything comes from the block
    assert (settings.aws_credentials_block, settings.s3_endpoint_url) == (name, None)

    client = storage.s3_client(settings)
    key_ids = _signing_key_ids(client)
    bucket = f"blk-{uuid.uuid4().hex[:10]}"
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    client.put_object(Bucket=bucket, Key="in/talk.mp4", Body=b"recording")

    local = storage.download(f"s3://{bucket}/in/talk.mp4", tmp_path / "work", settings)
    assert local.read_bytes() == b"recording"
    (tmp_path / "clip-01.mp4").write_bytes(b"clip")
    uri = storage.upload_file(tmp_path / "clip-01.mp4", f"s3://{bucket}/out/clip-01.mp4", settings)
    assert uri == f"s3://{bucket}/out/clip-01.mp4"
    assert client.get_object(Bucket=bucket, Key="out/clip-01.mp4")["Body"].read() == b"clip"

    assert key_ids and set(key_ids) == {BLOCK_KEY_ID}  # signed with the block's key
    assert client.meta.region_name == "eu-west-1"  # the block's region beats s3_region
    assert client.meta.config.s3 == {"addressing_style": "path"}  # a custom endpoint


def test_our_retries_and_timeouts_win_over_the_blocks_botocore_config(s3_server: str) -> None:
    name = _save_credentials(
        s3_server,
        config={"retries": {"mode": "legacy", "max_attempts": 1}, "user_agent_extra": "site-x"},
    )
    client = storage.s3_client(PipelineSettings(aws_credentials_block=name), max_attempts=4)
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (10.0, 60.0)
    assert config.user_agent_extra == "site-x"  # the block's other options still apply


def test_the_block_is_read_once_per_process(s3_server: str) -> None:
    from prefect_aws import AwsCredentials

    from blocks.aws import load_aws_credentials

    name = _save_credentials(s3_server)
    first = load_aws_credentials(name)
    AwsCredentials(aws_access_key_id="AKIDCHANGEDLATER").save(name, overwrite=True)
    assert load_aws_credentials(name) is first
    assert first.aws_access_key_id == BLOCK_KEY_ID


def test_a_missing_credentials_block_is_an_input_error_naming_it(tmp_path: Path) -> None:
    settings = PipelineSettings(aws_credentials_block="no-such-creds")
    with pytest.raises(InputError) as info:
        storage.download("s3://inbox/talk.mp4", tmp_path, settings)
    message = str(info.value)
    assert message.startswith("aws-credentials/no-such-creds: no such AwsCredentials block")
    assert "CLIPFLOW_AWS_CREDENTIALS_BLOCK" in message
    assert not is_transient(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
