"""Benchmark: whole jobs, per stage, against the source's duration and against the floor.

    .venv/bin/python -m tests.benchmarks.pipeline [--minutes 5 20 45 120]
        [--asr-minutes 5 20 45 120] [--sidecar-minutes ...] [--concurrency 1 2 4]
        [--concurrency-minutes 5] [--results DIR] [--work DIR]

For each length it generates the two-person sample (kept under ``--work``), then runs
``clipflow run`` on it as a user would, in a subprocess with a fresh clipflow home (nothing
cached), against one Prefect server started here (as in production, the server is not part of
the job). Each job is run with the sample's WebVTT sidecar and, for ``--asr-minutes``, with
offline speech recognition (``--sidecar-minutes`` limits the sidecar runs to some lengths).
For each job it records:

- wall seconds, CPU seconds and peak memory (PSS of the job's whole process tree);
- wall seconds per stage (``report.json`` → ``timings``) and CPU seconds per stage (the cost
  ledger), and the job's cost at the configured rates (CPU-pool rates by default);
- the ratio of wall time to the source's duration, and to the floor (``tests.benchmarks.floor``:
  the decoding and encoding no pipeline can avoid for the same clips, measured right after).

Then it runs 1, 2 and 4 jobs at once on the ``--concurrency-minutes`` sample. Results go to
``DIR/pipeline.json``, ``DIR/pipeline.md`` (the tables, printed too) and ``DIR/pipeline.svg``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from tests.benchmarks.floor import measure_floor
from tests.benchmarks.proctree import Measured, run_measured

CLIPFLOW = Path(sys.executable).with_name("clipflow")
GB = 1 << 30


def sample(minutes: float, work: Path) -> tuple[Path, Path]:
    """The ``minutes``-long sample and its sidecar, generated once per ``work`` folder."""
    from media.sample.generator import make_sample

    video = work / f"sample-{minutes:g}min.mp4"
    if not (video.is_file() and video.with_suffix(".vtt").is_file()):
        t0 = time.perf_counter()
        make_sample(video, minutes=minutes, seed=0, workdir=work / "sample-cache")
        print(f"generated {video.name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return video, video.with_suffix(".vtt")


def run_job(video: Path, sidecar: Path | None, work: Path, name: str, api_url: str) -> dict:
    """One cold job in a subprocess, measured; its report's figures and its floor."""
    home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work / "homes"))
    env = {**os.environ, "CLIPFLOW_HOME": str(home), "PREFECT_API_URL": api_url}
    argv = [CLIPFLOW, "run", video, "--out", home / "out"]
    argv += ["--transcript", sidecar] if sidecar else []
    m = run_measured(argv, env=env, log_dir=work / "logs", name=name)
    if m.returncode not in (0, 1):  # 1: delivered, QA failed; still a measured job
        raise RuntimeError(f"{name}: clipflow exited {m.returncode}:\n{m.stderr[-3000:]}")
    job_dir = Path(m.stdout.strip().splitlines()[-1])
    return job_row(m, job_dir, sidecar is not None)


def job_row(m: Measured, job_dir: Path, sidecar: bool) -> dict:
    report = json.loads((job_dir / "report.json").read_text())
    source_s = report["source"]["duration_s"]
    cpu_by_stage: dict[str, float] = {}
    for item in report["cost"]["items"]:
        if item["unit"] == "vcpu_s":
            cpu_by_stage[item["stage"]] = round(
                cpu_by_stage.get(item["stage"], 0) + item["quantity"], 2
            )
    return {
        "source_min": round(source_s / 60, 2),
        "transcript": "sidecar" if sidecar else "asr",
        "exit": m.returncode,
        "clips": len(report["clips"]),
        "wall_s": m.wall_s,
        "flow_wall_s": report["timings"]["wall_s"],
        "cpu_s": m.cpu_s,
        "peak_gb": round(m.peak_pss_bytes / GB, 3),
        "ratio_to_source": round(m.wall_s / source_s, 4),
        "cpu_ratio_to_source": round(m.cpu_s / source_s, 4),
        "stage_wall_s": report["timings"]["stages"],
        "stage_cpu_s": cpu_by_stage,
        "cost_usd": report["cost"]["total_usd"],
        "audio_renders": [c.get("audio_renders") for c in report["clips"]],
        "job_dir": str(job_dir),
    }


def add_floor(row: dict) -> dict:
    floor = measure_floor(Path(row["job_dir"]))
    row["floor"] = asdict(floor)
    row["ratio_to_floor"] = round(row["wall_s"] / floor.wall_s, 2)
    row["cpu_ratio_to_floor"] = round(row["cpu_s"] / floor.cpu_s, 2)
    return row


def concurrent_jobs(video: Path, sidecar: Path, n: int, work: Path, api_url: str) -> dict:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        rows = list(
            pool.map(lambda k: run_job(video, sidecar, work, f"c{n}-{k}", api_url), range(n))
        )
    makespan = time.perf_counter() - t0
    source_s = rows[0]["source_min"] * 60
    return {
        "jobs": n,
        "source_min": rows[0]["source_min"],
        "makespan_s": round(makespan, 1),
        "makespan_per_source_s": round(makespan / (n * source_s), 4),
        "mean_job_ratio_to_source": round(sum(r["ratio_to_source"] for r in rows) / n, 4),
        "peak_gb_sum": round(sum(r["peak_gb"] for r in rows), 3),
        "peak_gb_max": max(r["peak_gb"] for r in rows),
    }


STAGES = ("ingest", "transcript", "highlights", "frame", "render", "qa_clips", "qa_job")


def markdown(result: dict) -> str:
    lines = [
        f"Machine: {result['machine']}. {result['when']}. Wall and CPU include Python start-up "
        "and the job's Prefect client, not the Prefect server.",
        "",
        "| source | transcript | clips | wall s | ÷ source | ÷ floor | CPU s | CPU ÷ floor "
        "| peak GB | cost $ | audio renders per clip |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["jobs"]:
        renders = [n for n in r.get("audio_renders", []) if n is not None]
        per_clip = f"{sum(renders) / len(renders):.1f}" if renders else "–"
        lines.append(
            f"| {r['source_min']:g} min | {r['transcript']} | {r['clips']} | {r['wall_s']:.0f} "
            f"| {r['ratio_to_source']:.3f}× | {r['ratio_to_floor']:.2f}× | {r['cpu_s']:.0f} "
            f"| {r['cpu_ratio_to_floor']:.2f}× | {r['peak_gb']:.2f} | {r['cost_usd']:.4f} "
            f"| {per_clip} |"
        )
    lines += ["", "Wall seconds per stage (CPU seconds in brackets where the ledger has them):", ""]
    lines += ["| source | transcript | " + " | ".join(STAGES) + " | floor |"]
    lines += ["|---|---|" + "---|" * (len(STAGES) + 1)]
    cpu_key = {"highlights": None, "qa_clips": "qa", "qa_job": None}
    for r in result["jobs"]:
        cells = []
        for stage in STAGES:
            wall = r["stage_wall_s"].get(stage)
            cpu = r["stage_cpu_s"].get(cpu_key.get(stage, stage) or "")
            cells.append("–" if wall is None else f"{wall:.1f}" + (f" ({cpu:.0f})" if cpu else ""))
        floor = r["floor"]
        cells.append(f"{floor['wall_s']:.1f} ({floor['cpu_s']:.0f})")
        lines.append(f"| {r['source_min']:g} min | {r['transcript']} | " + " | ".join(cells) + " |")
    if result["concurrency"]:
        lines += [
            "",
            "Jobs at once on one machine (each cold, same recording):",
            "",
            "| jobs | source | makespan s | makespan ÷ total source | mean job ÷ source "
            "| peak GB (sum of jobs) |",
            "|---|---|---|---|---|---|",
        ]
        for c in result["concurrency"]:
            lines.append(
                f"| {c['jobs']} | {c['source_min']:g} min | {c['makespan_s']:.0f} "
                f"| {c['makespan_per_source_s']:.3f}× | {c['mean_job_ratio_to_source']:.3f}× "
                f"| {c['peak_gb_sum']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def chart(result: dict) -> str:
    from qa.plots import line_chart

    series: dict[str, list[tuple[float, float]]] = {}
    for r in result["jobs"]:
        series.setdefault(f"job, {r['transcript']}", []).append(
            (r["source_min"], r["ratio_to_source"])
        )
        if r["transcript"] == "sidecar":
            floor_ratio = r["floor"]["wall_s"] / (r["source_min"] * 60)
            series.setdefault("floor", []).append((r["source_min"], floor_ratio))
    return line_chart(
        series, title="Job wall time ÷ source duration", x_unit="source min", y_unit="× source"
    )


def merged(earlier: dict, latest: dict) -> dict:
    """``latest`` plus the job rows and concurrency rows of ``earlier`` it did not measure."""
    done = {(r["source_min"], r["transcript"]) for r in latest["jobs"]}
    jobs = [r for r in earlier["jobs"] if (r["source_min"], r["transcript"]) not in done]
    runs = {c["jobs"] for c in latest["concurrency"]}
    conc = [c for c in earlier["concurrency"] if c["jobs"] not in runs]
    when = sorted({earlier["when"], latest["when"]})
    return {
        **latest,
        "when": " and ".join(when),
        "jobs": sorted(
            latest["jobs"] + jobs, key=lambda r: (r["source_min"], r["transcript"] == "asr")
        ),
        "concurrency": sorted(latest["concurrency"] + conc, key=lambda c: c["jobs"]),
    }


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {mem:.0f} GB, Python {python}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 20, 45, 120])
    p.add_argument("--asr-minutes", type=float, nargs="*", default=[5, 20, 45, 120])
    p.add_argument(
        "--sidecar-minutes", type=float, nargs="*", help="lengths run with the sidecar (all)"
    )
    p.add_argument("--concurrency", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--concurrency-minutes", type=float, default=5)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "clipflow-bench")
    p.add_argument("--results", type=Path, default=Path("out/bench"))
    p.add_argument(
        "--merge",
        type=Path,
        help="an earlier pipeline.json: its rows this run did not measure are kept",
    )
    args = p.parse_args(argv)
    (args.work / "homes").mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    result: dict = {
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d"),
        "jobs": [],
        "concurrency": [],
    }
    with prefect_test_harness(server_startup_timeout=180):
        api_url = PREFECT_API_URL.value()
        for minutes in args.minutes:
            video, vtt = sample(minutes, args.work)
            sidecars = (
                [vtt] if args.sidecar_minutes is None or minutes in args.sidecar_minutes else []
            )
            for sidecar in sidecars + ([None] if minutes in args.asr_minutes else []):
                name = f"{minutes:g}min-{'sidecar' if sidecar else 'asr'}"
                row = add_floor(run_job(video, sidecar, args.work, name, api_url))
                print(json.dumps({k: v for k, v in row.items() if k != "job_dir"}), file=sys.stderr)
                result["jobs"].append(row)
        if args.concurrency:
            video, vtt = sample(args.concurrency_minutes, args.work)
            for n in args.concurrency:
                result["concurrency"].append(concurrent_jobs(video, vtt, n, args.work, api_url))
                print(json.dumps(result["concurrency"][-1]), file=sys.stderr)
    if args.merge:
        result = merged(json.loads(args.merge.read_text()), result)
    (args.results / "pipeline.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "pipeline.md").write_text(markdown(result))
    (args.results / "pipeline.svg").write_text(chart(result))
    print(markdown(result))
    print(f"written: {args.results}/pipeline.{{json,md,svg}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
