"""Small helpers shared by the test packages."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from typing import Any

from qa.records import CodecRecord, ColrBox, SpsColour

# ``clipflow run``'s progress when stderr is not a terminal (flows/progress_view.py), as a
# script would parse it.
PROGRESS_LINE = re.compile(
    r"^clipflow: progress t=(?P<t>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) "
    r"elapsed=(?P<elapsed>\d+\.\d) stage=(?P<stage>[a-z]+) clip=(?P<clip>-|\d+/\d+) "
    r"left=(?P<left>-|\d+) \| (?P<summary>.+)$"
)


def progress_lines(stderr: str) -> list[re.Match[str]]:
    """The progress lines among ``stderr``'s, parsed (a line that starts like one must parse)."""
    lines = [line for line in stderr.splitlines() if line.startswith("clipflow: progress")]
    parsed = [PROGRESS_LINE.match(line) for line in lines]
    bad = [line for line, m in zip(lines, parsed, strict=True) if m is None]
    assert not bad, f"progress lines out of format: {bad}"
    return [m for m in parsed if m is not None]


def run_log(flow_run_id: Any) -> list[str]:
    """A flow run's log lines (its task runs' included) as the Prefect UI's Logs tab shows
    them, oldest first, read through the API."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the run's last lines may still be on their way
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(str(flow_run_id))])),
            limit=200,
        )
    return [log.message for log in logs]


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly to make test media; fail the test with its stderr if it fails."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True
    )


def compliant_codec(**overrides: Any) -> CodecRecord:
    """A codec record that passes every delivery check (1080×1920 H.264 High@4.0, BT.709 in
    the SPS and the colr box); ``overrides`` change single fields."""
    record = CodecRecord(
        codec="h264", profile="High", level=40, pix_fmt="yuv420p", color_primaries="bt709",
        color_transfer="bt709", color_space="bt709", color_range="tv", width=1080, height=1920,
        fps=30.0, cfr=True, bit_rate=6_000_000,
        sps_colour=SpsColour("bt709", "bt709", "bt709", False),
        colr_box=ColrBox("nclx", "bt709", "bt709", "bt709", False), hdr_side_data=False,
    )  # fmt: skip
    return dataclasses.replace(record, **overrides)


def sample_job_args(sample: Any, out: Any) -> list[str]:
    """``clipflow run`` arguments for a generated sample: its video, its sidecar, ``--out``."""
    return [str(sample.video_path), "--transcript", str(sample.transcript_path), "--out", str(out)]


def moto_s3(endpoint: str, monkeypatch: Any) -> Any:
    """A boto3 S3 client on the moto server at ``endpoint``, with clipflow's own S3 settings
    pointed at it for the test (``monkeypatch`` undoes them)."""
    import boto3

    monkeypatch.setenv("CLIPFLOW_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("CLIPFLOW_AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("CLIPFLOW_AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
