"""The logic behind the fault tests, without a job: full-disk errors recognised and named,
scratch folders that a killed process leaves swept while a live one's are not, and one job id
for every attempt of a flow run."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from media.errors import FFmpegError, InputError
from tasks import disk
from tests.faults.support import REPO


@pytest.mark.parametrize(
    ("exc", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (FFmpegError(["ffmpeg", "-i", "a.mp4", "/w/clip.mp4"], 1,
                     "av_interleaved_write_frame(): No space left on device"), True),
        (FFmpegError(["ffmpeg", "-i", "a.mp4", "/w/clip.mp4"], 1, "Invalid data found"), False),
        (InputError("talk.mp4: no audio stream"), False),
    ],
)  # fmt: skip
def test_full_disks_are_recognised(exc: BaseException, full: bool, tmp_path: Path) -> None:
    found = disk.as_disk_full(exc, tmp_path)
    assert (found is not None) is full and disk.is_disk_full(exc) is full
    if found:
        assert str(found).startswith(f"no space left on the disk mounted at {found.mount} ")
        assert found.mount == str(disk.mount_point(tmp_path))
        assert " free of " in str(found)


def test_a_full_disk_inside_a_chain_is_found_and_names_the_file() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/tmp/x/clip.mp4")
        except OSError as inner:
            raise RuntimeError("task failed") from inner
    except RuntimeError as outer:
        found = disk.as_disk_full(outer, "/elsewhere")
    assert found is not None and " while writing /tmp/x/clip.mp4 " in str(found)


def test_a_full_disk_during_a_copy_names_the_destination(tmp_path: Path) -> None:
    err = OSError(errno.ENOSPC, "No space left on device")
    err.filename, err.filename2 = "/work/clip-01.mp4", str(tmp_path / "out" / "clip-01.mp4")
    found = disk.as_disk_full(err, "/elsewhere")
    assert found is not None and f" while writing {err.filename2} " in str(found)
    assert found.mount == str(disk.mount_point(tmp_path))


def test_a_step_that_cannot_fit_is_refused_before_it_starts(tmp_path: Path) -> None:
    free = disk.free_bytes(tmp_path)
    disk.require_free(tmp_path, 1)
    with pytest.raises(disk.DiskFullError, match="needs at least") as info:
        disk.require_free(tmp_path / "not-yet" / "made", free + (1 << 40))
    assert info.value.mount == str(disk.mount_point(tmp_path))


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 << 20, "3.0 MiB")]
)
def test_sizes_read_in_binary_units(n: int, text: str) -> None:
    assert disk.human_bytes(n) == text


_HOLDER = """
import sys, time
from tasks import disk
with disk.scratch_dir(sys.argv[1], ".render-") as d:
    (d / "audio.m4a").write_bytes(b"partial")
    print(d, flush=True)
    time.sleep(120)
"""


def test_a_killed_owners_scratch_is_swept_a_live_ones_is_not(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        scratch = Path(holder.stdout.readline().strip())
        assert (scratch / "audio.m4a").is_file()
        with disk.scratch_dir(tmp_path, ".render-") as mine:
            assert disk.sweep_stale(tmp_path, ".render-") == []  # both owners are alive
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=10)
            assert disk.sweep_stale(tmp_path, ".render-") == [scratch]
            assert mine.is_dir() and not scratch.exists()
        assert sorted(tmp_path.iterdir()) == []  # ours is gone too, lock file included
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


def test_a_retried_run_keeps_its_job_id() -> None:
    """The job id comes from the flow run, so every attempt of a run is the same job; ids
    keep new_job_id's form (26 Crockford base32 characters, sorting by creation time)."""
    from datetime import UTC, datetime, timedelta

    from tasks import jobs

    run, other = str(uuid.uuid4()), str(uuid.uuid4())
    created = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    first = jobs.job_id_for_run(run, created)
    assert first == jobs.job_id_for_run(run, created)
    assert first != jobs.job_id_for_run(other, created)
    assert first < jobs.job_id_for_run(other, created + timedelta(milliseconds=1))
    fresh = jobs.new_job_id()
    assert len(first) == len(fresh) == 26 and set(first) <= set("0123456789abcdefghjkmnpqrstvwxyz")
