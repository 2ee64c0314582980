"""S3 credentials from a saved prefect-aws ``AwsCredentials`` block.

``PipelineSettings.aws_credentials_block`` names the block; :func:`s3_session_args` turns it
into what ``tasks.storage`` needs to build its S3 client: a fresh boto3 session (its keys,
profile, region or assumed role) and the block's client parameters (endpoint, TLS, botocore
config). Each block is read from the Prefect server once per process, so an edited block takes
effect in new processes (each flow run a worker starts is one). A block that assumes a role gets
that role's temporary credentials when a client is made, and clients are cached per process:
a process that outlives the role session (an hour by default) must be restarted. Importing this
module imports prefect-aws (~4 s): callers import it only when a block is named.
"""

from __future__ import annotations

import threading
from typing import Any

from prefect_aws import AwsCredentials

from blocks.prefect_blocks import load_block
from media.errors import InputError

BLOCK_TYPE_SLUG = "aws-credentials"

_LOADED: dict[str, AwsCredentials] = {}
_LOCK = threading.Lock()


SETTING_NAMES = "CLIPFLOW_AWS_CREDENTIALS_BLOCK / aws_credentials_block"


def load_aws_credentials(name: str, *, named_by: str = SETTING_NAMES) -> AwsCredentials:
    """The ``AwsCredentials`` block ``name``, read from the Prefect server on first use and then
    kept for the life of the process. A missing block is an :class:`InputError` naming it and
    where the name came from (``named_by``)."""
    with _LOCK:
        block = _LOADED.get(name)
        if block is None:
            try:
                block = load_block(AwsCredentials, name)
            except ValueError as exc:  # Prefect's "Unable to find block document named …"
                raise InputError(
                    f"{BLOCK_TYPE_SLUG}/{name}: no such AwsCredentials block on the Prefect "
                    f"server (named by {named_by}); save one with "
                    f"AwsCredentials(...).save({name!r}) or in the UI"
                ) from exc
            _LOADED[name] = block
        return block


def s3_session_args(name: str) -> tuple[Any, dict[str, Any], str | None]:
    """``(boto3 session, client keyword arguments, region)`` for S3 clients of block ``name``.

    The keyword arguments are the block's non-empty ``aws_client_parameters``
    (``endpoint_url``, ``verify``, ``use_ssl``, ``api_version``, ``config`` as a botocore
    ``Config``); the region is the block's ``region_name`` (``None`` when it sets none). The
    session is new on every call: boto3 sessions are not thread-safe.
    """
    block = load_aws_credentials(name)
    return (
        block.get_boto3_session(),
        block.aws_client_parameters.get_params_override(),
        block.region_name,
    )
