"""``clipflow``: the command line. Prefect is imported only by the commands that run flows.

Exit codes (docs/ARCHITECTURE.md): 0 clips delivered and QA passed; 1 clips delivered, QA failed;
2 input rejected (stderr names the input and the reason); 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flows.service_cli import add_commands, cmd_keys, cmd_serve

EXIT_OK, EXIT_QA_FAILED, EXIT_REJECTED, EXIT_INTERNAL = 0, 1, 2, 3


def embedded_prefect_defaults() -> None:
    """Ephemeral Prefect on SQLite inside clipflow's home, unless the user configured one."""
    from blocks.settings import default_home

    home = default_home()
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "true")
    # Starting the ephemeral server imports every installed Prefect collection (prefect-aws
    # included): 13-25 s on a busy 2-core laptop, past Prefect's 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clipflow", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="make highlight clips from one recording")
    run_cmd.add_argument("source", help="local path or s3://bucket/key")
    run_cmd.add_argument(
        "--transcript", help="WebVTT/SRT sidecar (Zoom `Name: text` cues accepted)"
    )
    run_cmd.add_argument("--out", default="out", help="output directory (default: ./out)")
    run_cmd.add_argument("--max-clips", type=int, default=5, help="at most this many clips (1–20)")
    run_cmd.add_argument("--aspect", default="9:16", choices=["9:16", "1:1", "16:9"])
    run_cmd.add_argument("--settings-block", help="saved clipflow-settings block to start from")
    run_cmd.add_argument("--llm-block", help="saved clipflow-llm-credentials block: LLM ranking")
    run_cmd.add_argument("--plan", help="plan file from `clipflow plan` (edited or not): its clips")
    run_cmd.add_argument(
        "--quiet", action="store_true", help="no progress on stderr (errors are still printed)"
    )
    plan_cmd = sub.add_parser("plan", help="choose the clips and print them, rendering nothing")
    plan_cmd.add_argument("source", help="local path or s3://bucket/key")
    plan_cmd.add_argument("--transcript", help="WebVTT/SRT/JSON transcript (else offline ASR)")
    plan_cmd.add_argument("--max-clips", type=int, default=5, help="at most this many clips (1–20)")
    plan_cmd.add_argument(
        "--out", help="plan file to write (default: ./out/<source name>.plan.json)"
    )
    plan_cmd.add_argument("--json", action="store_true", help="print the plan as JSON on stdout")
    tr_cmd = sub.add_parser("transcribe", help="write the recording's transcript, with speakers")
    tr_cmd.add_argument("source", help="local path or s3://bucket/key")
    tr_cmd.add_argument("--out", help="FILE.vtt, FILE.srt or FILE.json (default: WebVTT on stdout)")
    tr_cmd.add_argument("--language", help="spoken language, ISO 639-1 (default: detected)")
    tr_cmd.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    sample_cmd = sub.add_parser("sample", help="generate a two-person Zoom-style sample recording")
    sample_cmd.add_argument("--minutes", type=float, default=2.0)
    sample_cmd.add_argument("--out", default="out/sample.mp4", help="the .mp4 to write (+ .vtt)")
    sample_cmd.add_argument("--seed", type=int, default=0)
    add_commands(sub)  # serve, keys
    return p


def _fail(code: int, message: str) -> int:
    print(f"clipflow: {message}", file=sys.stderr)
    return code


def _bad_max_clips(args: argparse.Namespace) -> str | None:
    if not 1 <= args.max_clips <= 20:
        return f"--max-clips {args.max_clips}: must be between 1 and 20"
    return None


def cmd_run(args: argparse.Namespace) -> int:
    if problem := _bad_max_clips(args):
        return _fail(EXIT_REJECTED, problem)
    embedded_prefect_defaults()
    from flows.process_video import process_video
    from flows.progress_view import progress_on_stderr
    from media.errors import ClipflowError, InputError, QAError
    from tasks.jobs import new_job_id

    job_id = new_job_id()
    if args.out.startswith("s3://"):
        job_dir = f"{args.out.rstrip('/')}/{job_id}"
    else:
        job_dir = str(Path(args.out).expanduser().resolve() / job_id)
    try:
        with progress_on_stderr(quiet=args.quiet):
            result = process_video(
                source=args.source,
                transcript=args.transcript,
                out=args.out,
                max_clips=args.max_clips,
                aspect=args.aspect,
                job_id=job_id,
                settings_block=args.settings_block,
                llm_block=args.llm_block,
                plan_file=args.plan,
            )
    except InputError as exc:
        return _fail(EXIT_REJECTED, f"rejected: {exc}")
    except QAError as exc:
        print(f"clipflow: {exc}", file=sys.stderr)
        print(job_dir)
        return EXIT_QA_FAILED
    except ClipflowError as exc:
        return _fail(EXIT_INTERNAL, f"job {job_id} failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - exit 1 means "QA failed"; a crash must not
        import traceback

        traceback.print_exc()
        return _fail(EXIT_INTERNAL, f"job {job_id} failed: {type(exc).__name__}: {exc}")
    if not args.quiet:
        print(f"clipflow: {args.source}: clips delivered, QA passed", file=sys.stderr)
        print(f"clips: {result.job_dir}/clips", file=sys.stderr)
        print(f"report: {result.job_dir}/report.html", file=sys.stderr)
    print(result.job_dir)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    if problem := _bad_max_clips(args):
        return _fail(EXIT_REJECTED, problem)
    import json

    from blocks.loading import load_settings
    from flows.plan_mode import plan_clips
    from media.errors import ClipflowError, InputError
    from media.selection.plan_file import plan_document
    from tasks.storage import safe_filename

    settings = load_settings(max_clips=args.max_clips)
    try:
        job = plan_clips(args.source, args.transcript, args.max_clips, settings)
    except InputError as exc:
        return _fail(EXIT_REJECTED, f"rejected: {exc}")
    except ClipflowError as exc:
        return _fail(EXIT_INTERNAL, f"plan failed: {exc}")
    doc = plan_document(
        list(job.clips),
        source=args.source,
        source_sha256=job.source.sha256,
        transcript_source=job.transcript.source,
    )
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    stem = safe_filename(Path(args.source.rstrip("/")).stem or "source")
    out = Path(args.out or Path("out") / f"{stem}.plan.json").expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    if args.json:
        sys.stdout.write(text)
        return EXIT_OK
    print(format_plan(doc))
    print(out.resolve())
    return EXIT_OK


def format_plan(doc: dict) -> str:
    """The chosen clips for a person: times, length, score, title, speakers, then the text."""
    import textwrap

    from media.transcript.cues import format_timestamp

    lines = []
    for clip in doc["clips"]:
        span = f"{format_timestamp(clip['start_s'])}–{format_timestamp(clip['end_s'])}"
        who = ", ".join(s for s in clip["speakers"] if s) or "unknown speaker"
        lines.append(
            f"clip {clip['index']}  {span}  {clip['duration_s']:.1f} s  "
            f"score {clip['score']:.2f}  {clip['title']!r}  ({who})"
        )
        lines += textwrap.wrap(clip["text"], 96, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from blocks.loading import load_settings
    from flows.transcribe_mode import (
        output_problem,
        summary,
        transcribe_recording,
        write_atomically,
    )
    from media.errors import ClipflowError, InputError
    from media.transcript.export import export

    if args.out and (problem := output_problem(args.out, force=args.force)):
        return _fail(EXIT_REJECTED, problem)
    overrides = {}
    if args.language is not None:
        from media.transcript.whisper_asr import check_language

        try:
            overrides["asr_language"] = check_language(args.language)
        except InputError as exc:
            return _fail(EXIT_REJECTED, f"--language: {exc}")
        except ImportError:  # no faster-whisper: the fallback recogniser judges the code
            overrides["asr_language"] = args.language.strip().lower()
    try:
        settings = load_settings(**overrides)
    except ValueError as exc:  # pydantic: a value out of its bounds
        where = f"--language {args.language!r}" if overrides else "settings"
        return _fail(EXIT_REJECTED, f"{where}: {exc}")
    try:
        job = transcribe_recording(args.source, settings)
    except InputError as exc:
        return _fail(EXIT_REJECTED, f"rejected: {exc}")
    except ClipflowError as exc:
        return _fail(EXIT_INTERNAL, f"transcribe failed: {exc}")
    out = Path(args.out).expanduser() if args.out else None
    text = export(job.transcript, out.suffix if out else ".vtt")
    print(f"clipflow: {summary(job)}", file=sys.stderr)
    if out is None:
        sys.stdout.write(text)
        return EXIT_OK
    if problem := output_problem(args.out, force=args.force):  # written meanwhile by another
        return _fail(EXIT_REJECTED, problem)
    write_atomically(out, text)
    print(out.resolve())
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from media.errors import ClipflowError
    from media.sample.generator import make_sample

    if not 0.25 <= args.minutes <= 180:
        return _fail(EXIT_REJECTED, f"--minutes {args.minutes}: must be between 0.25 and 180")
    try:
        rec = make_sample(Path(args.out), minutes=args.minutes, seed=args.seed)
    except ClipflowError as exc:
        return _fail(EXIT_INTERNAL, str(exc))
    print(f"transcript: {rec.transcript_path}", file=sys.stderr)
    print(rec.video_path)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {
        "run": cmd_run,
        "plan": cmd_plan,
        "transcribe": cmd_transcribe,
        "sample": cmd_sample,
        "serve": cmd_serve,
        "keys": cmd_keys,
    }[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
