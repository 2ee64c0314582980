"""infra/terraform, offline: ``terraform fmt -check`` (which also parses every file),
``terraform validate`` when a local provider mirror is present (no registry is reachable here),
and the policies' least privilege read from the source."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
# A filesystem mirror of registry.terraform.io/hashicorp/aws (this machine has one here).
PLUGIN_DIR = Path(os.environ.get("CLIPFLOW_TF_PLUGIN_DIR", "/opt/tf-plugins"))


def terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.skip("terraform is not installed: fmt and validate not run")
    return found


def _run(*args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    return subprocess.run(
        [terraform(), *args], cwd=cwd, capture_output=True, text=True, check=False,
        timeout=timeout, env=env,
    )  # fmt: skip


def test_terraform_is_formatted() -> None:
    done = _run("fmt", "-check", "-recursive", "-diff", str(TERRAFORM), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fmt_check_fails_on_unformatted_or_broken_files(tmp_path: Path) -> None:
    (tmp_path / "a.tf").write_text('variable "x" {\ntype=string\n}\n')
    assert _run("fmt", "-check", str(tmp_path), cwd=tmp_path).returncode != 0
    (tmp_path / "a.tf").write_text('variable "x" {\n  type = string\n')
    assert _run("fmt", "-check", str(tmp_path), cwd=tmp_path).returncode != 0


def test_terraform_validates_against_the_aws_provider(tmp_path: Path) -> None:
    terraform()
    if not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(
            f"no local mirror of hashicorp/aws in {PLUGIN_DIR} (set CLIPFLOW_TF_PLUGIN_DIR) and "
            "no registry reachable: terraform validate not run"
        )
    work = tmp_path / "tf"  # keep .terraform/ out of the repository
    work.mkdir()
    for source in TERRAFORM.glob("*.tf"):
        shutil.copy(source, work / source.name)
    init = _run("init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}", cwd=work)
    assert init.returncode == 0, init.stdout + init.stderr
    done = _run("validate", "-no-color", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr


def _block(kind: str, name: str) -> str:
    """The text of one top-level block of main.tf (up to the next top-level block)."""
    text = (TERRAFORM / "main.tf").read_text()
    start = text.index(f'{kind} "{name}" {{')
    end = re.compile(r"^(resource|data|locals|output|variable) ", re.M).search(text, start + 1)
    return text[start : end.start() if end else len(text)]


def test_worker_policy_is_least_privilege() -> None:
    text = _block("data", 'aws_iam_policy_document" "worker')
    actions = set(re.findall(r'"((?:s3|kms):[A-Za-z*]+)"', text)) - {"s3:prefix"}
    assert actions == {
        "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload",
        "s3:ListBucket", "kms:Decrypt", "kms:GenerateDataKey",
    }  # fmt: skip
    assert "Deny" not in text and '"*"' not in text
    read_inbox = text.split('sid       = "ReadInbox"')[1].split("statement")[0]
    assert "s3:PutObject" not in read_inbox, "flow runs must not write the inbox"
    listing = text.split('sid       = "ListOwnPrefixes"')[1]
    assert 'variable = "s3:prefix"' in listing and "local.list_prefixes" in listing


def test_bridge_policy_only_consumes_the_queue() -> None:
    text = _block("data", 'aws_iam_policy_document" "bridge')
    assert set(re.findall(r'"(\w+:\w+)"', text)) == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
    }  # fmt: skip
    assert "resources = [aws_sqs_queue.uploads.arn]" in text


def test_queue_accepts_only_this_bucket_and_has_a_dead_letter_queue() -> None:
    policy = _block("data", 'aws_iam_policy_document" "uploads_queue')
    assert '"sqs:SendMessage"' in policy and '"s3.amazonaws.com"' in policy
    assert 'variable = "aws:SourceArn"' in policy and "local.bucket_arn" in policy
    queue = _block("resource", 'aws_sqs_queue" "uploads')
    assert "deadLetterTargetArn = aws_sqs_queue.uploads_dlq.arn" in queue
    notification = _block("resource", 'aws_s3_bucket_notification" "uploads')
    assert '"s3:ObjectCreated:*"' in notification
    assert "filter_prefix = var.inbox_prefix" in notification
    assert "filter_suffix = queue.value" in notification


def test_bucket_is_private_versioned_and_encrypted() -> None:
    access = re.sub(r" +", " ", _block("resource", 'aws_s3_bucket_public_access_block" "media'))
    for flag in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets",
    ):  # fmt: skip
        assert f"{flag} = true" in access, flag
    assert 'status = "Enabled"' in _block("resource", 'aws_s3_bucket_versioning" "media')
    sse = _block("resource", 'aws_s3_bucket_server_side_encryption_configuration" "media')
    assert '"AES256"' in sse and '"aws:kms"' in sse
