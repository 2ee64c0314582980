"""Framing + render benchmark: time, CPU and camera calm per second of output (not a pytest test).

Run: ``.venv/bin/python -m tests.benchmarks.framing_render [--minutes M] [--clips N]
[--source FILE --transcript FILE] [--json FILE]``. The file name does not match pytest's
``test_*.py``, so it is never collected.

Without ``--source`` it generates a two-person gallery sample
(:func:`media.sample.generator.make_sample`)
and uses its WebVTT sidecar. The clips are chosen as the pipeline does (``select``
with the default settings). Each clip is framed once (``analyse_window`` + ``plan_framing``, as
``tasks.framing.frame_clip``), its audio normalised once (as ``tasks.render.render_clip``), and
its video encoded from the pipeline's render plan (``media.render.plan``) at each output size of
the aspect (9:16: 720×1280 and 1080×1920; the pipeline picks one by upscale factor, here both
are forced), then measured: QA's face-centred ratio
(``qa.measure``) and the camera's reversals/s and p99 pan speed (``media.framing.camera_metrics``,
in
source px per output frame).

Per size it prints a markdown table and a JSON document (stdout, or ``--json FILE``):
wall and CPU seconds of framing + audio + encode per second of output (the table splits the
wall time by step, the JSON the CPU time too), the analysis rate (analysed frames per wall and
per CPU second), camera metrics and the face-centred ratio. CPU is this
thread's plus its ffmpeg children's (:mod:`media.cpu`). The machine's load average is recorded:
on a shared machine the wall figures are only as good as it was idle.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from blocks.settings import PipelineSettings
from media import cpu, ffmpeg
from media.framing.analysis import analyse_window
from media.framing.camera_metrics import measure_plan
from media.framing.framing_plan import plan_framing
from media.framing.speakers import clip_speech
from media.probe import probe
from media.render import audio
from media.render.encode import OUTPUT_SIZES, EncodeSpec, choose_encoder
from media.render.plan import RenderOptions, plan_render
from media.selection.candidates import SelectionRules, select
from media.transcript.reader import read_transcript


@dataclass
class Meter:
    """Wall and CPU seconds of one step."""

    wall_s: float = 0.0
    cpu_s: float = 0.0


@contextmanager
def metered() -> Iterator[Meter]:
    m = Meter()
    wall, used = time.perf_counter(), cpu.thread_seconds()
    try:
        yield m
    finally:
        m.wall_s = round(time.perf_counter() - wall, 3)
        m.cpu_s = round(cpu.thread_seconds() - used, 3)


@dataclass
class ClipRun:
    """One clip at one output size."""

    index: int
    start_s: float
    duration_s: float
    size: str
    layout: str
    keys: int
    analysed_frames: int
    framing: Meter
    audio: Meter
    encode: Meter
    face_centered_ratio: float
    cuts: int
    reversals_per_s: float
    p99_speed_px: float
    max_speed_px: float


def choose_clips(video: Path, vtt: Path, n: int, settings: PipelineSettings):
    info = probe(video)
    text = read_transcript(vtt, duration_s=info.duration_s)
    rules = SelectionRules(
        max_clips=n, min_clip_s=settings.min_clip_s, max_clip_s=settings.max_clip_s,
        min_gap_s=settings.min_gap_s, lead_in_s=settings.lead_in_s,
        tail_out_s=settings.tail_out_s,
    )  # fmt: skip
    plans = select(text, rules)
    if not plans:
        raise SystemExit(f"{vtt}: no clip of {settings.min_clip_s}-{settings.max_clip_s} s found")
    return info, text, plans


def run_clip(
    src: str, info, text, plan, sizes, settings: PipelineSettings, work: Path, encoder: str
) -> list[ClipRun]:
    """Frame once, normalise the audio once, encode and measure at each size."""
    from qa.codec import probe_output
    from qa.measure import face_centered_ratio

    width, height = info.video[0].display_size
    speech = clip_speech(text, plan)
    with metered() as framing_m:
        analysis = analyse_window(
            src, plan.start_s, plan.duration_s, width, height,
            fps=settings.analysis_fps, width=settings.analysis_width,
        )  # fmt: skip
        framed = plan_framing(
            analysis, src_w=width, src_h=height, aspect=settings.aspect, speech=speech
        )
    work.mkdir(parents=True, exist_ok=True)
    options = RenderOptions(
        aspect=settings.aspect, max_fps=settings.max_fps, no_face_fill=settings.no_face_fill,
        burn_captions=False, encode=EncodeSpec(encoder, settings.x264_preset, settings.crf),
    )  # fmt: skip
    renders = [
        plan_render(plan, framed, info.video[0], source_path=src, folder=work,
                    options=dataclasses.replace(options, size=size))
        for size in sizes
    ]  # fmt: skip
    with metered() as audio_m:
        audio.normalise_clip_audio(
            src, renders[0].audio_path, start_s=plan.start_s, duration_s=plan.duration_s,
            target_lufs=settings.target_lufs, ceiling_dbtp=settings.max_true_peak_dbtp,
        )  # fmt: skip
    camera = measure_plan(framed, plan.duration_s, renders[0].fps)
    runs = []
    for render in renders:
        out_w, out_h = render.width, render.height
        if render.sendcmd_path and render.sendcmd is not None:
            render.sendcmd_path.write_text(render.sendcmd)
        with metered() as encode_m:
            ffmpeg.run(render.argv)
        out = render.encoded_path.replace(work / f"clip-{out_w}x{out_h}.mp4")
        ratio, _ = face_centered_ratio(str(out), probe_output(str(out)), settings)
        runs.append(
            ClipRun(
                plan.index,
                round(plan.start_s, 3),
                round(plan.duration_s, 3),
                f"{out_w}x{out_h}",
                framed.layout,
                len(framed.keys),
                len(analysis.samples),
                framing_m,
                audio_m,
                encode_m,
                round(ratio, 4),
                camera.cuts,
                camera.reversals_per_s,
                camera.p99_speed_px,
                camera.max_speed_px,
            )  # fmt: skip
        )
    return runs


def summarise(runs: list[ClipRun]) -> dict[str, Any]:
    """Per output size: totals per second of output, and the worst clip's camera figures."""
    out: dict[str, Any] = {}
    for size in sorted({r.size for r in runs}, key=lambda s: int(s.split("x")[0])):
        rs = [r for r in runs if r.size == size]
        seconds = sum(r.duration_s for r in rs)

        def total(pick: Callable[[ClipRun], float], rs: list[ClipRun] = rs) -> float:
            return sum(pick(r) for r in rs)

        wall = total(lambda r: r.framing.wall_s + r.audio.wall_s + r.encode.wall_s)
        used = total(lambda r: r.framing.cpu_s + r.audio.cpu_s + r.encode.cpu_s)
        out[size] = {
            "clips": len(rs),
            "output_s": round(seconds, 2),
            "wall_per_output_s": round(wall / seconds, 3),
            "cpu_per_output_s": round(used / seconds, 3),
            "framing_wall_per_output_s": round(total(lambda r: r.framing.wall_s) / seconds, 3),
            "audio_wall_per_output_s": round(total(lambda r: r.audio.wall_s) / seconds, 3),
            "encode_wall_per_output_s": round(total(lambda r: r.encode.wall_s) / seconds, 3),
            "framing_cpu_per_output_s": round(total(lambda r: r.framing.cpu_s) / seconds, 3),
            "audio_cpu_per_output_s": round(total(lambda r: r.audio.cpu_s) / seconds, 3),
            "encode_cpu_per_output_s": round(total(lambda r: r.encode.cpu_s) / seconds, 3),
            "analysis_fps": round(
                total(lambda r: r.analysed_frames) / total(lambda r: r.framing.wall_s), 1
            ),
            "analysis_fps_per_cpu": round(
                total(lambda r: r.analysed_frames) / total(lambda r: r.framing.cpu_s), 1
            ),
            "max_reversals_per_s": max(r.reversals_per_s for r in rs),
            "max_p99_speed_px": max(r.p99_speed_px for r in rs),
            "max_speed_px": max(r.max_speed_px for r in rs),
            "cuts": sum(r.cuts for r in rs),
            "min_face_centered_ratio": min(r.face_centered_ratio for r in rs),
        }
    return out


def markdown(summary: dict[str, Any]) -> str:
    head = (
        "| output | clips | output s | wall/out s | cpu/out s | framing | audio | encode "
        "| analysis fps (wall, cpu) | reversals/s (max) | p99 px/frame (max) | cuts "
        "| face centred (min) |"
    )
    rows = [head, "|" + "---|" * 13]
    for size, s in summary.items():
        rows.append(
            f"| {size} | {s['clips']} | {s['output_s']:.1f} | {s['wall_per_output_s']:.3f} "
            f"| {s['cpu_per_output_s']:.3f} | {s['framing_wall_per_output_s']:.3f} "
            f"| {s['audio_wall_per_output_s']:.3f} | {s['encode_wall_per_output_s']:.3f} "
            f"| {s['analysis_fps']:.1f}, {s['analysis_fps_per_cpu']:.1f} "
            f"| {s['max_reversals_per_s']:.3f} "
            f"| {s['max_p99_speed_px']:.1f} | {s['cuts']} | {s['min_face_centered_ratio']:.1%} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, help="a recording (default: generate a sample)")
    ap.add_argument("--transcript", type=Path, help="its WebVTT/SRT sidecar (with --source)")
    ap.add_argument("--minutes", type=float, default=1.0, help="length of a generated sample")
    ap.add_argument("--seed", type=int, default=0, help="seed of a generated sample")
    ap.add_argument("--clips", type=int, default=2, help="clips to frame and render (at most)")
    ap.add_argument("--encoder", default="auto", choices=["auto", "libx264", "h264_nvenc"])
    ap.add_argument("--work", type=Path, help="keep work files here (default: a temp dir)")
    ap.add_argument("--json", type=Path, help="write the JSON here instead of stdout")
    args = ap.parse_args(argv)
    if (args.source is None) != (args.transcript is None):
        ap.error("--source and --transcript go together")

    work = args.work or Path(tempfile.mkdtemp(prefix="clipflow-bench-"))
    settings = PipelineSettings(home=work / "home")
    load_before = os.getloadavg()
    began = time.perf_counter()
    if args.source is None:
        from media.sample.generator import make_sample

        rec = make_sample(work / "sample.mp4", minutes=args.minutes, seed=args.seed,
                          workdir=work / "sample-cache")  # fmt: skip
        video, vtt = rec.video_path, rec.transcript_path
    else:
        video, vtt = args.source, args.transcript
    sample_s = time.perf_counter() - began
    info, text, plans = choose_clips(video, vtt, args.clips, settings)
    sizes = OUTPUT_SIZES[settings.aspect]
    encoder = choose_encoder(args.encoder)
    runs: list[ClipRun] = []
    for plan in plans:
        runs += run_clip(str(video), info, text, plan, sizes, settings,
                         work / f"clip-{plan.index:02d}", encoder)  # fmt: skip
        print(f"clip {plan.index} done ({plan.duration_s:.1f} s)", file=sys.stderr)
    summary = summarise(runs)
    doc = {
        "source": str(video),
        "source_duration_s": round(info.duration_s, 3),
        "sample_generation_s": round(sample_s, 2) if args.source is None else None,
        "aspect": settings.aspect,
        "encoder": encoder,
        "preset": settings.x264_preset,
        "analysis_fps_setting": settings.analysis_fps,
        "analysis_width": settings.analysis_width,
        "cpu_count": os.cpu_count(),
        "load_avg_before": [round(v, 2) for v in load_before],
        "load_avg_after": [round(v, 2) for v in os.getloadavg()],
        "summary": summary,
        "clips": [asdict(r) for r in runs],
    }
    print(markdown(summary))
    text_json = json.dumps(doc, indent=2)
    if args.json:
        args.json.write_text(text_json + "\n", encoding="utf-8")
        print(f"JSON: {args.json}")
    else:
        print(text_json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
