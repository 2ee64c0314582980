"""The code style is part of the build: ruff's lint rules and formatter, and mypy's type checks
(pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = [sys.executable, "-m", "ruff"]


def test_ruff_lint_is_clean() -> None:
    done = subprocess.run(
        [*RUFF, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:]


def test_ruff_format_is_clean() -> None:
    done = subprocess.run(
        [*RUFF, "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]


def test_mypy_is_clean() -> None:
    """Types are checked: the whole project, and ``--strict`` on ``media/`` and ``qa/``
    (``[tool.mypy]`` in pyproject.toml)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy"],  # incremental: .mypy_cache makes re-runs take seconds
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
