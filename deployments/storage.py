"""Save the S3 result storage every machine of a deployment shares
(``python -m deployments.storage --bucket B --name NAME``).

Prefect keeps a task's or flow's return value in result storage: a local folder under
``$PREFECT_HOME`` by default, which another machine cannot read. With ``dispatch="pools"`` the
``frame-and-render-clip`` run on the gpu pool returns its records to ``process-video`` on the cpu
pool, and cached stages are reused by whichever machine retries a job, so both pools need one
store. This command saves a prefect-aws ``S3Bucket`` block (bucket and prefix) that refers to an
``AwsCredentials`` block, and prints the line to put in both pools' workers' environment::

    PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK=s3-bucket/NAME

Credentials: ``--credentials-block`` names a saved ``AwsCredentials`` block (keys, profile or
role, endpoint); without it an ``AwsCredentials`` block ``NAME`` is saved holding only the
endpoint and region, so each machine signs with its own boto3 chain (``AWS_ACCESS_KEY_ID``…,
an instance role, IRSA). Running the command again updates both blocks in place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from media.errors import ClipflowError

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials, S3Bucket

SETTING = "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"


def result_storage_block(
    bucket: str,
    prefix: str,
    credentials: AwsCredentials,
) -> S3Bucket:
    """An ``S3Bucket`` block for results under ``s3://bucket/prefix`` (not saved)."""
    from prefect_aws import S3Bucket

    from tasks.storage import parse_uri

    parse_uri(f"s3://{bucket}")  # an InputError naming a malformed bucket
    return S3Bucket(bucket_name=bucket, bucket_folder=prefix.strip("/"), credentials=credentials)


def credentials_for(
    name: str,
    *,
    credentials_block: str | None,
    endpoint_url: str | None,
    region: str | None,
) -> AwsCredentials:
    """The saved ``AwsCredentials`` block ``credentials_block``, or a new one saved as ``name``
    holding only ``endpoint_url`` and ``region`` (each machine's boto3 chain signs)."""
    from prefect_aws import AwsCredentials

    if credentials_block is not None:
        if endpoint_url is not None or region is not None:
            raise ClipflowError(
                f"--endpoint-url/--region describe new credentials; aws-credentials/"
                f"{credentials_block} already holds its own: edit that block instead"
            )
        from blocks.aws import load_aws_credentials

        return load_aws_credentials(credentials_block, named_by="--credentials-block")
    _refuse_to_overwrite_secrets(name)
    parameters = {"endpoint_url": endpoint_url} if endpoint_url else {}
    credentials = AwsCredentials(region_name=region, aws_client_parameters=parameters)
    credentials.save(name, overwrite=True)
    return credentials


def _refuse_to_overwrite_secrets(name: str) -> None:
    """A ClipflowError if ``aws-credentials/NAME`` exists and says who signs (keys, profile,
    role): replacing it with an endpoint-only block would silently drop them."""
    from prefect_aws import AwsCredentials

    try:
        existing = AwsCredentials.load(name, _sync=True)  # type: ignore[call-arg]
    except ValueError:
        return  # no such block yet
    identity = ("aws_access_key_id", "aws_secret_access_key", "profile_name", "assume_role_arn")
    if any(getattr(existing, field) for field in identity):
        raise ClipflowError(
            f"aws-credentials/{name} exists and holds credentials: pass --credentials-block "
            f"{name} to use it, or choose another --name"
        )


def save_result_storage(
    name: str,
    bucket: str,
    prefix: str = "results",
    *,
    credentials_block: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> str:
    """Save (or update) the ``S3Bucket`` block ``name`` and its credentials; the value for
    ``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`` (``s3-bucket/NAME``)."""
    credentials = credentials_for(
        name, credentials_block=credentials_block, endpoint_url=endpoint_url, region=region
    )
    block = result_storage_block(bucket, prefix, credentials)
    block.save(name, overwrite=True)  # the saved credentials are stored as a reference
    return f"{block.get_block_type_slug()}/{name}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.storage",
        description="Save an S3Bucket block for Prefect result storage shared by all pools, and "
        f"print the {SETTING} line to export on every worker.",
    )
    parser.add_argument("--bucket", required=True, help="S3 bucket for results.")
    parser.add_argument("--prefix", default="results", help="Key prefix (default: results).")
    parser.add_argument("--name", required=True, help="Name of the S3Bucket block to save.")
    parser.add_argument(
        "--credentials-block",
        help="A saved AwsCredentials block to use; default: save one named NAME that holds "
        "only the endpoint and region, so each machine signs with its own AWS credentials.",
    )
    parser.add_argument(
        "--endpoint-url", help="S3-compatible endpoint (MinIO, …) of new credentials."
    )
    parser.add_argument("--region", help="AWS region of new credentials.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from deployments.pools import configured_api_url

        api_url = configured_api_url()
        slug = save_result_storage(
            args.name,
            args.bucket,
            args.prefix,
            credentials_block=args.credentials_block,
            endpoint_url=args.endpoint_url,
            region=args.region,
        )
    except ClipflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = f"s3://{args.bucket}/{args.prefix.strip('/')}"
    print(f"saved {slug} ({target}) on {api_url}; set on every worker:", file=sys.stderr)
    print(f"{SETTING}={slug}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
