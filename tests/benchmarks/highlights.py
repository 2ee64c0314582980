"""Benchmark: transcript + selection time as a ratio of the audio's duration.

    .venv/bin/python -m tests.benchmarks.highlights [--minutes 10 45] [--no-asr] [--json F]

For each length it generates the two-person sample (cached under ``--work``), then runs the
stages ``clipflow plan`` runs (ingest, transcript, selection; nothing rendered) twice: with
the sample's WebVTT sidecar, and with offline ASR on the audio. It prints wall seconds per
stage, the ratio of transcript + selection to the audio's duration, and the clips chosen.
Timed in this process, cold: each case gets a fresh clipflow home, so nothing is cached.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


def _sample(minutes: float, work: Path):
    from media.sample.generator import make_sample

    video = work / f"sample-{minutes:g}min.mp4"
    if video.is_file() and video.with_suffix(".vtt").is_file():
        return video, video.with_suffix(".vtt")
    t0 = time.perf_counter()
    rec = make_sample(video, minutes=minutes, seed=0)
    print(
        f"generated {minutes:g}-minute sample in {time.perf_counter() - t0:.1f} s", file=sys.stderr
    )
    return rec.video_path, rec.transcript_path


def _case(video: Path, sidecar: Path | None, minutes: float) -> dict:
    from blocks.settings import PipelineSettings
    from flows.plan_mode import plan_clips

    with tempfile.TemporaryDirectory(prefix="clipflow-bench-") as home:
        settings = PipelineSettings(home=Path(home))
        job = plan_clips(str(video), str(sidecar) if sidecar else None, 5, settings)
    audio_s = job.source.info.duration_s
    work_s = job.timings["transcript"] + job.timings["selection"]
    return {
        "minutes": minutes,
        "transcript": "sidecar" if sidecar else f"asr ({job.transcript.source})",
        "audio_s": round(audio_s, 1),
        "ingest_s": job.timings["ingest"],
        "transcript_s": job.timings["transcript"],
        "selection_s": job.timings["selection"],
        "ratio": round(work_s / audio_s, 4),
        "sentences": len(job.transcript.sentences),
        "clips": [
            {"start_s": p.start_s, "end_s": p.end_s, "title": p.title, "score": p.score}
            for p in job.clips
        ],
    }


def _table(rows: list[dict]) -> str:
    lines = [
        "| audio | transcript | ingest s | transcript s | selection s "
        "| (transcript + selection) / audio | clips |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['minutes']:g} min | {r['transcript']} | {r['ingest_s']:.2f} | "
            f"{r['transcript_s']:.2f} | {r['selection_s']:.2f} | {r['ratio']:.4f}× | "
            f"{len(r['clips'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0, 45.0])
    p.add_argument("--no-asr", action="store_true", help="sidecar transcripts only")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "clipflow-bench")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in args.minutes:
        video, vtt = _sample(minutes, args.work)
        for sidecar in [vtt] if args.no_asr else [vtt, None]:
            rows.append(_case(video, sidecar, minutes))
            print(json.dumps(rows[-1]), file=sys.stderr)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"machine: {machine}; python {platform.python_version()}")
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
