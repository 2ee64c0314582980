"""Where a run may read and write: the settings' ``allowed_roots`` and ``allowed_s3``.

A run started through a deployment (the API, the Prefect UI, an event) reads and writes only
inside them, checked before anything is read; the CLI user's own runs may use any path
(docs/ARCHITECTURE.md, "Orchestration"). No file is opened: a local path is made absolute
(against the working folder), ``..`` folded and symlinks resolved, so neither ``../`` nor a link
leads outside; an S3 key with a ``..`` segment is refused.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from blocks.settings import PipelineSettings
from media.errors import InputError


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _s3_inside(uri: str, prefixes: Iterable[str]) -> bool:
    """Inside one of ``prefixes`` (``s3://bucket/key-prefix``; the bucket may be a glob,
    ``s3://clipflow-*/``). A key with a ``..`` segment is never inside."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    if ".." in key.split("/"):
        return False
    for prefix in prefixes:
        p_bucket, _, p_key = prefix[len("s3://") :].partition("/")
        if fnmatch.fnmatchcase(bucket, p_bucket) and key.startswith(p_key):
            return True
    return False


def location_problem(
    parameter: str, uri: str, roots: Iterable[Path], s3_prefixes: Iterable[str]
) -> str | None:
    """Why ``uri`` (the run's parameter ``parameter``) is not allowed, or None if it is."""
    roots, s3_prefixes = list(roots), list(s3_prefixes)
    allowed = [str(r) for r in roots] + list(s3_prefixes)
    where = f"allowed: {', '.join(allowed)}" if allowed else "no location is allowed"
    if uri.lower().startswith("s3://"):
        if _s3_inside(uri, s3_prefixes):
            return None
        return f"{parameter} {uri!r}: outside the allowed S3 locations ({where})"
    if "://" in uri:
        return f"{parameter} {uri!r}: only local paths and s3:// are accepted"
    resolved = Path(os.path.realpath(os.path.abspath(os.path.expanduser(uri))))
    if _inside(resolved, [Path(os.path.realpath(r)) for r in roots]):
        return None
    return f"{parameter} {uri!r}: outside the allowed folders ({where})"


def check_locations(locations: Mapping[str, str | None], settings: PipelineSettings) -> None:
    """Raise InputError naming the first parameter whose location is not allowed."""
    for parameter, uri in locations.items():
        if uri is None:
            continue
        problem = location_problem(parameter, uri, settings.allowed_roots, settings.allowed_s3)
        if problem:
            raise InputError(problem)


def check_deployment_run(locations: Mapping[str, str | None], settings: PipelineSettings) -> None:
    """:func:`check_locations` for a run started through a deployment; a no-op for a run the
    CLI started in its own process (its user may read and write their own paths)."""
    from prefect.runtime import deployment

    if deployment.id:
        check_locations(locations, settings)
