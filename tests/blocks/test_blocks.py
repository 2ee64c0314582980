"""Prefect blocks: the standard block suite, bounds, secrets, round trips, registration and the
block < environment < override precedence of ``blocks.loading``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from prefect_aws import AwsCredentials, S3Bucket
from pydantic import SecretStr, ValidationError

from blocks.loading import load_cost_rates, load_settings
from blocks.prefect_blocks import (
    LOCAL_ONLY_FIELDS,
    ClipflowSettings,
    CostRatesBlock,
    LlmCredentials,
)
from blocks.settings import CostRates, PipelineSettings

ROOT = Path(__file__).resolve().parents[2]
ALL_BLOCKS = [ClipflowSettings, CostRatesBlock, LlmCredentials]
# prefect-aws's blocks that clipflow relies on: S3 credentials and result storage.
AWS_BLOCKS = [AwsCredentials, S3Bucket]
API_KEY = "sk-test-4f1c9a"  # a made-up key; only its absence from reprs and dumps matters
on_server = pytest.mark.usefixtures("prefect_server")


def _llm(**changes: Any) -> LlmCredentials:
    values: dict[str, Any] = dict(
        base_url="http://127.0.0.1:8000/v1",
        model="test-model",
        api_key=API_KEY,
        prompt_usd_per_1m_tokens=0.15,
        completion_usd_per_1m_tokens=0.60,
    )
    return LlmCredentials(**{**values, **changes})


def _name(prefix: str) -> str:
    """A block document name of its own per test: one server serves the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- Prefect's own standards ---------------------------------------------------------------------


class TestBlockStandards(BlockStandardTestSuite):
    @pytest.fixture(params=ALL_BLOCKS + AWS_BLOCKS, ids=lambda b: b.__name__)
    def block(self, request: pytest.FixtureRequest) -> type[Block]:
        return request.param

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pytest.skip("the suite's check downloads the logo (no network here); ours have none")


# --- fields copied from the settings models ------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "model", "excluded"),
    [
        (ClipflowSettings, PipelineSettings, LOCAL_ONLY_FIELDS),
        (CostRatesBlock, CostRates, frozenset()),
    ],
    ids=["ClipflowSettings", "CostRatesBlock"],
)
def test_block_fields_mirror_the_settings_model(
    block: type[Block], model: type[Any], excluded: frozenset[str]
) -> None:
    assert set(block.model_fields) == set(model.model_fields) - excluded
    for name, mine in block.model_fields.items():
        theirs = model.model_fields[name]
        assert (mine.annotation, mine.default, mine.description, mine.metadata) == (
            theirs.annotation,
            theirs.default,
            theirs.description,
            theirs.metadata,
        ), name


def test_settings_block_holds_no_secrets_or_local_paths() -> None:
    assert not LOCAL_ONLY_FIELDS & set(ClipflowSettings.model_fields)
    for name, field in ClipflowSettings.model_fields.items():
        assert "Secret" not in repr(field.annotation), name


# --- bounds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field", "value"),
    [
        (ClipflowSettings, "crf", 33),
        (ClipflowSettings, "crf", 11),
        (ClipflowSettings, "target_lufs", -8.0),
        (ClipflowSettings, "max_clips", 0),
        (ClipflowSettings, "lufs_tolerance", 0.0),
        (ClipflowSettings, "analysis_width", 100),
        (ClipflowSettings, "max_job_usd", 0.0),
        (ClipflowSettings, "x264_preset", "ultrafast"),
        (ClipflowSettings, "aspect", "4:3"),
        (CostRatesBlock, "gpu_hour_usd", -0.01),
        (CostRatesBlock, "s3_request_usd", 0.02),
        (_llm, "timeout_s", 0.0),
        (_llm, "timeout_s", 601.0),
        (_llm, "max_usd_per_job", 101.0),
        (_llm, "prompt_usd_per_1m_tokens", -1.0),
        (_llm, "model", ""),
        (_llm, "base_url", "not a url"),
    ],
)
def test_out_of_range_value_raises_naming_the_field(make: Any, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        make(**{field: value})
    assert [e["loc"] for e in info.value.errors()] == [(field,)]
    assert field in str(info.value)


def test_llm_credentials_require_model_key_and_prices() -> None:
    with pytest.raises(ValidationError) as info:
        LlmCredentials()
    missing = {e["loc"][0] for e in info.value.errors() if e["type"] == "missing"}
    assert missing == {
        "model",
        "api_key",
        "prompt_usd_per_1m_tokens",
        "completion_usd_per_1m_tokens",
    }


# --- conversions ---------------------------------------------------------------------------------


def test_to_settings_equals_settings_built_from_the_same_values() -> None:
    values = dict(max_clips=3, crf=24, target_lufs=-16.0, aspect="1:1", s3_region="eu-west-1")
    assert ClipflowSettings(**values).to_settings() == PipelineSettings(**values)
    assert ClipflowSettings().to_settings() == PipelineSettings()


def test_to_settings_applies_overrides_and_refuses_unknown_names() -> None:
    block = ClipflowSettings(crf=24)
    assert block.to_settings(crf=26, database_url="sqlite:///x.db").crf == 26
    with pytest.raises(ValidationError, match="crf"):
        block.to_settings(crf=99)
    with pytest.raises(TypeError, match="target_luf"):
        block.to_settings(target_luf=-16)


def test_to_rates_equals_rates_built_from_the_same_values() -> None:
    values = dict(gpu_hour_usd=2.5, cpu_vcpu_hour_usd=0.05)
    assert CostRatesBlock(**values).to_rates() == CostRates(**values)
    assert CostRatesBlock(**values).to_rates(gpu_hour_usd=3.0).gpu_hour_usd == 3.0


def test_llm_cost_is_priced_per_million_tokens() -> None:
    creds = _llm()
    assert creds.cost_usd(1_000_000, 0) == pytest.approx(0.15)
    assert creds.cost_usd(2000, 500) == pytest.approx((2000 * 0.15 + 500 * 0.60) / 1e6)
    with pytest.raises(ValueError, match="prompt=-1"):
        creds.cost_usd(-1, 0)


# --- secrets -------------------------------------------------------------------------------------


def test_api_key_is_masked_in_repr_and_dumps() -> None:
    creds = _llm()
    assert isinstance(creds.api_key, SecretStr)
    for text in (
        repr(creds),
        str(creds),
        str(creds.model_dump()),
        json.dumps(creds.model_dump(mode="json")),
        creds.model_dump_json(),
    ):
        assert API_KEY not in text
        assert "**********" in text
    assert creds.api_key.get_secret_value() == API_KEY


@on_server
def test_api_key_survives_save_and_load_and_is_masked_by_the_api() -> None:
    name = _name("llm")
    _llm().save(name)

    loaded = LlmCredentials.load(name)
    assert loaded.api_key.get_secret_value() == API_KEY
    assert API_KEY not in repr(loaded)
    assert str(loaded.base_url) == "http://127.0.0.1:8000/v1"
    assert loaded.model == "test-model"
    assert loaded.cost_usd(1000, 1000) == _llm().cost_usd(1000, 1000)

    with get_client(sync_client=True) as client:
        doc = client.read_block_document_by_name(
            name, LlmCredentials.get_block_type_slug(), include_secrets=False
        )
    assert doc.data["api_key"] != API_KEY
    assert API_KEY not in json.dumps(doc.data)


# --- round trips under the test server -----------------------------------------------------------


@on_server
def test_settings_and_rates_blocks_round_trip() -> None:
    settings = ClipflowSettings(max_clips=2, target_lufs=-16.0, encoder="libx264", aspect="1:1")
    rates = CostRatesBlock(gpu_hour_usd=2.25, asr_minute_usd=0.006)
    names = _name("settings"), _name("rates")
    settings.save(names[0])
    rates.save(names[1])

    assert ClipflowSettings.load(names[0]).to_settings() == settings.to_settings()
    assert CostRatesBlock.load(names[1]).to_rates() == rates.to_rates()


@on_server
def test_loading_a_missing_block_raises() -> None:
    with pytest.raises(ValueError, match="no-such-block"):
        load_settings("no-such-block")


# --- precedence: block < environment < explicit override ---------------------------------------


@on_server
def test_load_settings_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name("precedence")
    ClipflowSettings(max_clips=3, crf=23, target_lufs=-16.0, s3_region="eu-west-1").save(name)
    monkeypatch.setenv("CLIPFLOW_TARGET_LUFS", "-18")
    monkeypatch.setenv("CLIPFLOW_CRF", "25")
    monkeypatch.setenv("CLIPFLOW_DATABASE_URL", "sqlite:///from-env.db")

    got = load_settings(name, crf=28)

    assert got.max_clips == 3  # block beats default
    assert got.s3_region == "eu-west-1"
    assert got.target_lufs == -18.0  # environment beats block
    assert got.crf == 28  # override beats environment
    assert got.database_url == "sqlite:///from-env.db"  # not in the block: environment
    assert got.min_clip_s == PipelineSettings.model_fields["min_clip_s"].default

    monkeypatch.delenv("CLIPFLOW_TARGET_LUFS")
    monkeypatch.delenv("CLIPFLOW_CRF")
    assert (load_settings(name).target_lufs, load_settings(name).crf) == (-16.0, 23)


@on_server
def test_load_settings_works_inside_a_running_event_loop() -> None:
    """Block.load returns a coroutine in async code unless told otherwise: loading forces sync."""
    name = _name("in-loop")
    ClipflowSettings(max_clips=4).save(name)

    async def in_loop() -> PipelineSettings:
        return load_settings(name)

    assert asyncio.run(in_loop()).max_clips == 4


def test_load_settings_without_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFLOW_CRF", "25")
    monkeypatch.setenv("CLIPFLOW_MAX_CLIPS", "4")
    got = load_settings(max_clips=2)
    assert (got.crf, got.max_clips, got.target_lufs) == (25, 2, -14.0)
    with pytest.raises(TypeError, match="max_clip\\b"):
        load_settings(max_clip=2)


def test_load_settings_rejects_an_invalid_environment_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLIPFLOW_CRF", "99")
    with pytest.raises(ValidationError, match="crf"):
        load_settings()


@on_server
def test_load_cost_rates_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name("rates")
    CostRatesBlock(gpu_hour_usd=2.0, cpu_vcpu_hour_usd=0.05).save(name)
    monkeypatch.setenv("CLIPFLOW_COST_GPU_HOUR_USD", "3.0")

    got = load_cost_rates(name)

    assert got.cpu_vcpu_hour_usd == 0.05  # block
    assert got.gpu_hour_usd == 3.0  # environment beats block
    assert load_cost_rates() == CostRates(gpu_hour_usd=3.0)  # no block: environment, defaults


def test_loading_without_a_block_never_imports_prefect() -> None:
    code = (
        "import sys\n"
        "from blocks.loading import load_cost_rates, load_settings\n"
        "load_settings(crf=22); load_cost_rates()\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'prefect')\n"
        "assert not leaked, leaked[:5]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


# --- registration --------------------------------------------------------------------------------


def _prefect_block_register(module: str) -> str:
    """``prefect block register -m MODULE`` against the session's server; its stdout."""
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@on_server
def test_prefect_block_register_cli_registers_all_blocks() -> None:
    stdout = _prefect_block_register("blocks.prefect_blocks")
    assert "registered 3 blocks" in stdout.lower(), stdout

    with get_client(sync_client=True) as client:
        for block in ALL_BLOCKS:
            block_type = client.read_block_type_by_slug(block.get_block_type_slug())
            assert block_type.description == block.get_description()
            assert str(block_type.documentation_url) == str(block._documentation_url)
            schema = client.get_most_recent_block_schema_for_block_type(block_type.id)
            assert schema is not None
            assert set(schema.fields["properties"]) == set(block.model_fields)
        settings_schema = client.get_most_recent_block_schema_for_block_type(
            client.read_block_type_by_slug("clipflow-settings").id
        )
        assert settings_schema is not None
        crf = settings_schema.fields["properties"]["crf"]
        assert (crf["minimum"], crf["maximum"]) == (12, 32)  # bounds reach the UI's form
        llm = client.get_most_recent_block_schema_for_block_type(
            client.read_block_type_by_slug("clipflow-llm-credentials").id
        )
        assert llm is not None
        assert llm.fields["secret_fields"] == ["api_key"]


@on_server
def test_prefect_aws_blocks_register_beside_ours_and_nest() -> None:
    """``prefect block register -m prefect_aws`` works beside ours (the server also registers
    installed collections itself at start-up), the installed prefect-aws's schemas are on the
    server, and an S3Bucket holding AwsCredentials round-trips through them, secret included."""
    stdout = _prefect_block_register("prefect_aws") + _prefect_block_register(
        "blocks.prefect_blocks"
    )
    for title in ("AWS Credentials", "S3 Bucket", "Clipflow Settings"):
        assert title in stdout, stdout

    with get_client(sync_client=True) as client:
        for block in AWS_BLOCKS + ALL_BLOCKS:
            block_type = client.read_block_type_by_slug(block.get_block_type_slug())
            schemas = client.read_block_schemas()
            checksums = {s.checksum for s in schemas if s.block_type_id == block_type.id}
            assert block._calculate_schema_checksum() in checksums, block.__name__
        aws = client.get_most_recent_block_schema_for_block_type(
            client.read_block_type_by_slug("aws-credentials").id
        )
        assert aws is not None
        assert "aws_secret_access_key" in aws.fields["secret_fields"]

    name = _name("results")
    S3Bucket(
        bucket_name="clipflow-results",
        bucket_folder="results",
        credentials=AwsCredentials(
            aws_secret_access_key="not-a-real-key",
            aws_client_parameters={"endpoint_url": "http://127.0.0.1:9000"},
        ),
    ).save(name)
    loaded = S3Bucket.load(name)
    assert isinstance(loaded.credentials, AwsCredentials)
    assert loaded.credentials.aws_client_parameters.endpoint_url == "http://127.0.0.1:9000"
    assert loaded.credentials.aws_secret_access_key.get_secret_value() == "not-a-real-key"
    assert (loaded.bucket_name, loaded.bucket_folder) == ("clipflow-results", "results")
