"""The benchmark's own instruments: process-tree CPU and memory, the floor's commands, the chart.

A benchmark is only as honest as what it measures with: these check that a known allocation
and a known amount of CPU work, in a process and in its children, are seen as such.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from qa.plots import line_chart
from tests.benchmarks.floor import crop_size, measure_floor
from tests.benchmarks.proctree import run_measured
from tests.helpers import ffmpeg

MB = 1 << 20
# Touch every page (b"x" * n writes them), hold them a moment so the sampler sees them.
ALLOCATE = "import time; b = b'x' * ({mb} << 20); time.sleep(1.0)"
SPIN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass"


def test_peak_memory_counts_the_whole_process_tree(tmp_path: Path) -> None:
    one = f'{sys.executable} -c "{ALLOCATE.format(mb=150)}"'
    m = run_measured(["sh", "-c", f"{one} & {one}; wait"], log_dir=tmp_path, name="tree")
    assert m.returncode == 0, m.stderr
    # Two children of 150 MB each, alive at the same time: at least 300 MB at once.
    assert m.peak_pss_bytes >= 300 * MB, m.peak_pss_bytes / MB
    assert m.peak_pss_bytes < 600 * MB, m.peak_pss_bytes / MB


def test_cpu_seconds_include_grandchildren(tmp_path: Path) -> None:
    spin = f"{sys.executable} -c '{SPIN.format(s=0.4)}'"
    m = run_measured(["sh", "-c", f"{spin} & {spin}; wait"], log_dir=tmp_path, name="cpu")
    assert m.returncode == 0, m.stderr
    assert m.cpu_s >= 0.8, m.cpu_s


def test_exit_status_and_output_come_back(tmp_path: Path) -> None:
    m = run_measured(
        ["sh", "-c", "echo job-dir; echo oops >&2; exit 3"], log_dir=tmp_path, name="rc"
    )
    assert (m.returncode, m.stdout, m.stderr) == (3, "job-dir\n", "oops\n")


@pytest.mark.parametrize(
    ("framing", "src", "out", "want"),
    [
        ({"crop_w": 608, "crop_h": 1080}, (1920, 1080), (1080, 1920), (608, 1080)),
        ({}, (1920, 1080), (1080, 1920), (606, 1080)),  # 9:16 of a 16:9 frame, even sides
        ({}, (1080, 1920), (1080, 1080), (1080, 1080)),  # square out of a portrait
        ({}, (1280, 720), (1920, 1080), (1280, 720)),  # same aspect: the whole frame
    ],
)
def test_floor_crop_is_the_jobs_or_the_largest_of_the_output_aspect(framing, src, out, want):
    assert crop_size(framing, src, out) == want


def test_floor_runs_the_unavoidable_steps_for_a_job(tmp_path: Path) -> None:
    src, clip = tmp_path / "src.mp4", tmp_path / "job" / "clips" / "clip-01.mp4"
    clip.parent.mkdir(parents=True)
    ffmpeg(
        *"-f lavfi -i testsrc2=s=640x360:r=30:d=6 -f lavfi -i sine=d=6".split(),
        *"-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac".split(),
        str(src),
    )
    ffmpeg(
        *"-f lavfi -i testsrc2=s=202x360:r=30:d=3 -f lavfi -i sine=d=3".split(),
        *"-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac".split(),
        str(clip),
    )
    report = {
        "source": {"uri": str(src), "duration_s": 6.0},
        "clips": [{"index": 1, "path": "clips/clip-01.mp4", "start_s": 1.0, "duration_s": 3.0}],
    }
    (clip.parents[1] / "report.json").write_text(json.dumps(report))
    floor = measure_floor(clip.parents[1])
    assert set(floor.steps) == {"audio decode", "analysis decode", "encode"}
    assert floor.cpu_s > 0 and floor.wall_s > 0
    assert floor.cpu_s == pytest.approx(sum(floor.steps.values()), abs=0.01)


def test_line_chart_draws_each_series_with_its_legend() -> None:
    svg = line_chart(
        {"job, sidecar": [(5, 0.3), (20, 0.1), (45, 0.06)], "floor": [(5, 0.05), (45, 0.01)]},
        title="ratio",
        x_unit="source min",
        y_unit="× source",
    )
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    assert [len(p.get("points").split()) for p in lines] == [3, 2]
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "job, sidecar" in texts and "floor" in texts and "source min" in texts
    empty = ET.fromstring(line_chart({}, title="t", x_unit="min", y_unit="×"))
    assert "nothing measured" in [t.text for t in empty.iter(f"{ns}text")]


def test_merging_keeps_earlier_rows_that_were_not_measured_again() -> None:
    from tests.benchmarks.pipeline import merged

    def row(minutes: float, transcript: str, wall: float) -> dict:
        return {"source_min": minutes, "transcript": transcript, "wall_s": wall}

    earlier = {
        "when": "2026-11-20",
        "jobs": [row(5, "sidecar", 150), row(45, "sidecar", 113), row(45, "asr", 449)],
        "concurrency": [{"jobs": 1}, {"jobs": 2}],
    }
    latest = {"when": "2026-11-21", "jobs": [row(5, "sidecar", 84)], "concurrency": [{"jobs": 2}]}
    both = merged(earlier, latest)
    assert [(r["source_min"], r["transcript"], r["wall_s"]) for r in both["jobs"]] == [
        (5, "sidecar", 84),  # measured again: the latest figure wins
        (45, "sidecar", 113),
        (45, "asr", 449),
    ]
    assert [c["jobs"] for c in both["concurrency"]] == [1, 2]
    assert both["when"] == "2026-11-20 and 2026-11-21"
