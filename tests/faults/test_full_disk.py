"""A full disk ends the job cleanly: exit 3 with one line naming the disk and saying it is
full (no traceback), the job recorded failed, and no partial file left looking finished.

The disks are real: small tmpfs mounts (we run as root; without permission to mount, the
tests skip and say why).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.support import cli_env, hidden_leftovers, job_rows, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]
PAGE = 4096


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str, int], Path]]:
    """Mounts a tmpfs of a given size (rounded up to whole pages) at ``tmp_path/<name>``."""
    mounted: list[Path] = []

    def mount(name: str, size: int) -> Path:
        where = tmp_path / name
        where.mkdir()
        pages = -(-size // PAGE)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={pages * PAGE}", "tmpfs", str(where)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): full-disk test")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], check=False)


def _job(rec, out: Path, home: Path, db: str) -> subprocess.CompletedProcess:
    env = cli_env(CLIPFLOW_HOME=str(home), CLIPFLOW_DATABASE_URL=db)
    return run_cli(
        "run", str(rec.video), "--transcript", str(rec.transcript), "--out", str(out),
        "--max-clips", "1", env=env,
    )  # fmt: skip


def _assert_clean_failure(done: subprocess.CompletedProcess, disk: Path, db: str, rec) -> None:
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("clipflow: job ") and " failed: no space left on the disk " in last
    assert f"mounted at {disk} while writing " in last and " free of " in last, last
    (row,) = job_rows(db, uri=str(rec.video))
    assert row["status"] == "failed" and f"mounted at {disk} " in row["failure_reason"]
    assert row["clips"] == 0


@pytest.mark.slow
def test_a_work_disk_too_small_for_the_source_fails_naming_it(
    small_disk, fresh_recording, tmp_path
) -> None:
    rec = fresh_recording()
    home = small_disk("home", 1 << 20)  # the source alone is ~3 MB
    db = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    done = _job(rec, tmp_path / "out", home, db)
    _assert_clean_failure(done, home, db, rec)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert hidden_leftovers(home) == [] and not list(home.rglob("*.mp4"))


def test_a_work_disk_that_fills_during_the_render_fails_naming_it(
    small_disk, fresh_recording, tmp_path
) -> None:
    rec = fresh_recording()
    # Room for the source's copy, the speech WAV and the clip's audio, not for its video.
    wav = int(rec.duration_s * 16_000 * 2) + PAGE
    home = small_disk("home", rec.video.stat().st_size + wav + (600 << 10))
    db = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    done = _job(rec, tmp_path / "out", home, db)
    _assert_clean_failure(done, home, db, rec)
    assert "ffmpeg" not in done.stderr.strip().splitlines()[-1]  # the disk, not the tool
    # It got as far as the render: the source and the speech WAV are there, no clip is.
    assert list(home.rglob("speech-16k.wav"))
    assert not list(home.rglob("clip-*.mp4")) and hidden_leftovers(home) == []
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_an_output_disk_too_small_for_the_clips_fails_naming_it(
    small_disk, fresh_recording, tmp_path
) -> None:
    rec = fresh_recording()
    out = small_disk("out", 256 << 10)  # a clip is ~1 MB; the report alone fits
    db = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    done = _job(rec, out, tmp_path / "home", db)
    _assert_clean_failure(done, out, db, rec)
    # Nothing published: no job directory, no half-assembled staging folder.
    assert list(out.iterdir()) == []
