"""Content-addressed caching: what a stage's cache key is made of, and the policy that uses it.

A key is the stage's name, the pipeline's code and the content of the stage's inputs, never a
run id or a path name, so a re-run of the same recording with the same settings, or a retried
run, is served from the cache (docs/ARCHITECTURE.md, "Orchestration"). The other tasks (ingest,
sidecar lookups, publish, record) say ``cache_policy=NO_CACHE``: Prefect's default policy
(inputs and run id) would serve a retried run's side effects from the cache once results
persist, as the CLI makes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefect.cache_policies import CacheKeyFnPolicy
from pydantic import BaseModel, SecretStr

from blocks.settings import PipelineSettings

# Names that say where things live, what the user called them, or what a stage cost, not what
# it computes: the same bytes under another name (or another machine) reuse the same results.
# The settings flag their own (LOCAL and NOT_CONTENT fields); records add "uri" and "label"
# (the names of a source or sidecar) and "costs" (CPU seconds differ from run to run).
NOT_CONTENT = PipelineSettings.non_content_fields() | {"uri", "label", "costs"}


def _plain(obj: Any) -> Any:
    """A JSON-able, deterministic view of a task input (records, settings, paths)."""
    if isinstance(obj, BaseModel):
        return {k: _plain(v) for k, v in obj.model_dump().items() if k not in NOT_CONTENT}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.name not in NOT_CONTENT
        }
    if isinstance(obj, dict):
        return {
            str(k): _plain(v)
            for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))
            if k not in NOT_CONTENT
        }
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, SecretStr):
        return "<secret>"
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float):
        return round(obj, 6)
    return obj


def stable_digest(*objs: Any) -> str:
    """sha256 of the inputs' deterministic JSON form; equal content → equal digest."""
    text = json.dumps([_plain(o) for o in objs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def settings_hash(settings: PipelineSettings) -> str:
    """The settings' content in 16 hex digits: ``jobs.settings_hash`` in the job database (a
    sweep skips content that already has a succeeded job with it) and work-folder names."""
    return stable_digest(settings)[:16]


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the pipeline's code (``media/``, ``qa/``, ``tasks/``): a change to the logic a
    stage calls, not only to the task's own body, must invalidate its cached results."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in ("media", "qa", "tasks"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def content_cache_key(task_ctx: Any, inputs: dict[str, Any]) -> str:
    """Cache key = stage name + the pipeline's code + the inputs' content (never a run id).

    Inputs carry the source's sha256 (or S3 ETag/version), so a re-run of the same recording
    with the same settings reuses every finished stage. Keys are global across tasks in
    Prefect, hence the stage-name prefix.
    """
    task = task_ctx.task
    return f"{task.name}-{stable_digest(code_digest(), inputs)[:40]}"


# Task options for expensive, idempotent stages: cached on content, results persisted so that
# another process (a retried run, a re-run) can read them.
CACHED: dict[str, Any] = dict(
    cache_policy=CacheKeyFnPolicy(cache_key_fn=content_cache_key), persist_result=True
)
