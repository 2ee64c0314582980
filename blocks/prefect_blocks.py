"""Prefect blocks that store clipflow's settings, cost rates and LLM credentials server-side.

Register them with ``prefect block register -m blocks.prefect_blocks``. ``ClipflowSettings``
takes its fields from ``PipelineSettings`` (same types, bounds, defaults and descriptions), so
the two cannot drift apart; ``CostRatesBlock`` does the same for ``CostRates``. Turning a block
into settings, with environment variables layered on top, is ``blocks.loading``'s job.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar, cast

from prefect.blocks.core import Block
from pydantic import BaseModel, Field, HttpUrl, SecretStr, create_model
from pydantic_settings import BaseSettings

from blocks.settings import CostRates, PipelineSettings, reject_unknown_fields

DOCUMENTATION_URL = "https://docs.prefect.io/v3/concepts/blocks"

B = TypeVar("B", bound=Block)


def load_block(kind: type[B], name: str) -> B:
    """The saved block ``name``, loaded synchronously. Prefect's ``load`` is sync or async by
    context; ``_sync=True`` forces sync, which its type hints do not show."""
    return cast(B, kind.load(name, _sync=True))  # type: ignore[call-arg]


# A shared server-side block never holds the LOCAL settings (flagged on their fields in
# blocks/settings.py): per-machine paths and URLs, and secrets (credentials belong in a
# credentials block). ``aws_credentials_block`` is shared: it names such a block, holds no secret.
LOCAL_ONLY_FIELDS = PipelineSettings.local_fields()


def _fields_of(model: type[BaseSettings], exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``create_model`` definitions copying each field's type, default, bounds and description."""
    unknown = exclude - model.model_fields.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no field(s) {sorted(unknown)} to exclude")
    return {
        name: (info.annotation, copy.deepcopy(info))
        for name, info in model.model_fields.items()
        if name not in exclude
    }


# Plain pydantic models holding the copied fields; the blocks below inherit them. They are not
# blocks themselves, so `prefect block register` skips them.
_PipelineTunables: type[BaseModel] = create_model(
    "_PipelineTunables", __module__=__name__, **_fields_of(PipelineSettings, LOCAL_ONLY_FIELDS)
)
_CostRateFields: type[BaseModel] = create_model(
    "_CostRateFields", __module__=__name__, **_fields_of(CostRates)
)


class ClipflowSettings(Block, _PipelineTunables):  # type: ignore[misc,valid-type]
    """Clipflow's pipeline tunables (clip bounds, framing, encode, loudness and QA limits, budget,
    S3 endpoint and the name of the AwsCredentials block to use), stored on the Prefect server
    and shared by every worker.

    Paths, the job database URL and S3 access keys stay local (environment variables).

    Example:
        ```python
        from blocks.prefect_blocks import ClipflowSettings

        clipflow_settings = ClipflowSettings.load("BLOCK_NAME")
        settings = clipflow_settings.to_settings(max_clips=3)
        ```
    """

    _block_type_name = "Clipflow Settings"
    _documentation_url = DOCUMENTATION_URL  # type: ignore[assignment]  # Prefect takes a str
    _description = (
        "Clipflow's pipeline tunables: clip bounds, framing, encoder, loudness targets, QA "
        "thresholds, the job budget, the S3 endpoint and AwsCredentials block name. Paths "
        "and secrets stay local."
    )

    def to_settings(self, **overrides: Any) -> PipelineSettings:
        """``PipelineSettings`` from this block's values, then ``overrides`` on top.

        Fields the block does not hold (home, database URL, S3 credentials) come from the
        environment as usual. For environment variables beating block values, use
        ``blocks.loading.load_settings``.
        """
        reject_unknown_fields(PipelineSettings, overrides)
        values = {name: getattr(self, name) for name in _PipelineTunables.model_fields}
        return PipelineSettings(**{**values, **overrides})


class CostRatesBlock(Block, _CostRateFields):  # type: ignore[misc,valid-type]
    """Prices for clipflow's cost ledger (CPU, GPU, ASR, S3), stored on the Prefect server.

    Example:
        ```python
        from blocks.prefect_blocks import CostRatesBlock

        cost_rates_block = CostRatesBlock.load("BLOCK_NAME")
        rates = cost_rates_block.to_rates()
        ```
    """

    _block_type_name = "Clipflow Cost Rates"
    _documentation_url = DOCUMENTATION_URL  # type: ignore[assignment]  # Prefect takes a str
    _description = "Prices for clipflow's cost ledger: per vCPU-hour, GPU-hour, ASR minute, S3."

    def to_rates(self, **overrides: Any) -> CostRates:
        """``CostRates`` from this block's values, then ``overrides`` on top."""
        reject_unknown_fields(CostRates, overrides)
        values = {name: getattr(self, name) for name in _CostRateFields.model_fields}
        return CostRates(**{**values, **overrides})


class LlmCredentials(Block):
    """Endpoint, key and prices of an OpenAI-compatible chat-completions API.

    The block makes no network calls; it carries what a client needs and prices its usage.

    Example:
        ```python
        from blocks.prefect_blocks import LlmCredentials

        llm_credentials = LlmCredentials.load("BLOCK_NAME")
        key = llm_credentials.api_key.get_secret_value()
        ```
    """

    _block_type_name = "Clipflow LLM Credentials"
    _documentation_url = DOCUMENTATION_URL  # type: ignore[assignment]  # Prefect takes a str
    _description = (
        "Base URL, model, API key and per-token prices of an OpenAI-compatible chat API, "
        "with a per-job spending cap."
    )

    base_url: HttpUrl = Field(
        HttpUrl("https://api.openai.com/v1"),
        description="Base URL of the OpenAI-compatible API (the part before /chat/completions).",
    )
    model: str = Field(
        min_length=1, description="Model name as the API expects it, e.g. gpt-4o-mini."
    )
    api_key: SecretStr = Field(description="API key, sent as a bearer token.")
    timeout_s: float = Field(
        60.0, gt=0.0, le=600.0, description="Timeout of one API request, seconds."
    )
    max_usd_per_job: float = Field(
        1.0, ge=0.0, le=100.0, description="Most a job may spend on this API, USD."
    )
    prompt_usd_per_1m_tokens: float = Field(
        ge=0.0, le=1000.0, description="Price of one million prompt (input) tokens, USD."
    )
    completion_usd_per_1m_tokens: float = Field(
        ge=0.0, le=1000.0, description="Price of one million completion (output) tokens, USD."
    )

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Price of one request's usage, from the token counts the API reports."""
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got prompt={prompt_tokens}, "
                f"completion={completion_tokens}"
            )
        return (
            prompt_tokens * self.prompt_usd_per_1m_tokens
            + completion_tokens * self.completion_usd_per_1m_tokens
        ) / 1_000_000
