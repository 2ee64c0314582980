"""The floor: the media work no pipeline can avoid for a given job, measured on this machine.

    .venv/bin/python -m tests.benchmarks.floor JOB_DIR [--json]

For a finished job (its ``report.json`` and clips) it runs, with ffmpeg and nothing else:

- the source's audio decoded once (speech detection, recognition and loudness all need it);
- each clip's window decoded at the face-analysis size and rate;
- each clip's output seconds decoded, cropped, scaled and encoded at the job's encoder
  settings (the same x264 preset, CRF, profile, level and colour flags), audio as AAC.

Steps run on as many threads as the machine has CPUs, as a job's clips do. It prints wall
and CPU seconds; a job's time divided by its floor's says how much work is ours, not media's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from blocks.settings import PipelineSettings
from media import cpu, ffmpeg
from media.framing.analysis import analysis_argv, analysis_size
from media.probe import probe
from media.render.encode import EncodeSpec


@dataclass(frozen=True, slots=True)
class FloorStep:
    name: str
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Floor:
    wall_s: float
    cpu_s: float
    steps: dict[str, float]  # CPU seconds per kind of step


def audio_decode_step(source: str) -> FloorStep:
    argv = ffmpeg.ffmpeg_base() + ffmpeg.input_args(source) + ["-map", "0:a:0", "-f", "null", "-"]
    return FloorStep("audio decode", tuple(argv))


def encode_step(
    source: str,
    start_s: float,
    duration_s: float,
    crop: tuple[int, int],
    out_size: tuple[int, int],
    fps: float,
    spec: EncodeSpec,
    out: Path,
) -> FloorStep:
    """Decode the clip's seconds, crop a fixed window (the cheapest crop), scale, encode."""
    (cw, ch), (ow, oh) = crop, out_size
    argv = (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(source, seek_s=start_s, duration_s=duration_s)
        + ["-map", "0:v:0", "-map", "0:a:0"]
        + ["-vf", f"crop={cw}:{ch},scale={ow}:{oh},fps={fps:g}", *spec.video_args()]
        + ["-c:a", "aac", "-b:a", "160k", "-t", f"{duration_s:.3f}", "-f", "mp4", str(out)]
    )
    return FloorStep("encode", tuple(argv))


def crop_size(
    framing: dict, src_size: tuple[int, int], out_size: tuple[int, int]
) -> tuple[int, int]:
    """The job's own crop window, or the largest window of the output's aspect."""
    if framing.get("crop_w") and framing.get("crop_h"):
        return int(framing["crop_w"]), int(framing["crop_h"])
    (sw, sh), (ow, oh) = src_size, out_size
    if sw * oh > sh * ow:  # source wider than the output: full height
        return int(sh * ow / oh) // 2 * 2, sh
    return sw, int(sw * oh / ow) // 2 * 2


def floor_steps(job_dir: Path, settings: PipelineSettings, scratch: Path) -> list[FloorStep]:
    report = json.loads((job_dir / "report.json").read_text())
    source = report["source"]["uri"]
    src = probe(source).primary_video
    size = analysis_size(*src.display_size, settings.analysis_width)
    steps = [audio_decode_step(source)]
    for clip in report["clips"]:
        start, duration = clip["start_s"], clip["duration_s"]
        out = probe(str(job_dir / clip["path"]), source=False).primary_video
        analysis = analysis_argv(source, start, duration, size, settings.analysis_fps)
        steps.append(FloorStep("analysis decode", tuple(analysis)))
        crop = crop_size(clip.get("framing", {}), src.display_size, (out.width, out.height))
        spec = EncodeSpec(clip.get("encoder", "libx264"), settings.x264_preset, settings.crf)
        target = scratch / f"floor-{clip['index']:02d}.mp4"
        steps.append(
            encode_step(
                source, start, duration, crop, (out.width, out.height), out.fps, spec, target
            )
        )
    return steps


def _timed(step: FloorStep) -> tuple[str, float]:
    before = cpu.thread_seconds()
    ffmpeg.run(step.argv, capture_stdout=False)
    return step.name, cpu.thread_seconds() - before


def measure_floor(job_dir: Path, settings: PipelineSettings | None = None) -> Floor:
    settings = settings or PipelineSettings()
    with tempfile.TemporaryDirectory(prefix="clipflow-floor-") as scratch:
        steps = floor_steps(job_dir, settings, Path(scratch))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            done = list(pool.map(_timed, steps))
        wall = time.perf_counter() - t0
    by_kind: dict[str, float] = {}
    for name, seconds in done:
        by_kind[name] = round(by_kind.get(name, 0.0) + seconds, 3)
    return Floor(round(wall, 3), round(sum(s for _, s in done), 3), by_kind)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("job_dir", type=Path, help="a finished job's directory (report.json, clips/)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a line")
    args = p.parse_args(argv)
    floor = measure_floor(args.job_dir)
    if args.json:
        print(json.dumps(asdict(floor)))
    else:
        kinds = ", ".join(f"{k} {v:.1f}" for k, v in floor.steps.items())
        print(f"floor: {floor.wall_s:.1f} s wall, {floor.cpu_s:.1f} CPU-s ({kinds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
