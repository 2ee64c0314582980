"""Settings and cost rates from a Prefect block, the environment and explicit overrides.

Precedence, lowest to highest::

    field default  <  saved block  <  environment variable  <  explicit override

So a site stores its tunables once in a block, one machine or one run can still change a value
with ``CLIPFLOW_TARGET_LUFS=-16`` (or ``CLIPFLOW_COST_GPU_HOUR_USD=2.5``), and a caller's own
arguments win over both. Without a block name nothing talks to a Prefect server and Prefect is
not even imported, so the CLI and plain-Python callers stay fast.
"""

from __future__ import annotations

from typing import Any

from blocks.settings import CostRates, PipelineSettings, env_values, reject_unknown_fields


def load_settings(block_name: str | None = None, **overrides: Any) -> PipelineSettings:
    """Pipeline settings: the ``ClipflowSettings`` block ``block_name`` if given, then the
    ``CLIPFLOW_*`` environment, then ``overrides`` (see the module docstring for the order).

    Raises ``TypeError`` for an override that is not a ``PipelineSettings`` field, pydantic's
    ``ValidationError`` for an out-of-bounds value, and ``ValueError`` from Prefect when no block
    of that name exists.
    """
    reject_unknown_fields(PipelineSettings, overrides)
    if block_name is None:
        return PipelineSettings(**overrides)  # pydantic-settings: init kwargs beat the env

    from blocks.prefect_blocks import ClipflowSettings, load_block  # Prefect: only on this path

    block = load_block(ClipflowSettings, block_name)
    return block.to_settings(**{**env_values(PipelineSettings), **overrides})


def load_cost_rates(block_name: str | None = None) -> CostRates:
    """Cost rates: the ``CostRatesBlock`` ``block_name`` if given, then ``CLIPFLOW_COST_*``."""
    if block_name is None:
        return CostRates()

    from blocks.prefect_blocks import CostRatesBlock, load_block  # Prefect: only on this path

    block = load_block(CostRatesBlock, block_name)
    return block.to_rates(**env_values(CostRates))
