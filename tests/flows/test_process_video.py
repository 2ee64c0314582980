"""End to end: ``clipflow run`` on a generated two-person recording, under one Prefect server.

Checks the report against the files it describes (re-measured here, independently of the job),
the job database, the cache on a re-run, rejections, and an S3 source served by moto.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from flows.cli import main
from media.probe import probe
from media.render import loudness
from media.transcript.cues import parse_cues
from tests.generated_media import sample_fixture
from tests.helpers import moto_s3, progress_lines, run_log, sample_job_args

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


sample = sample_fixture(minutes=1.5, seed=3)


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def first_job(sample, tmp_path_factory):
    """The job under test, run once for the module through the CLI entry point."""
    out = tmp_path_factory.mktemp("out")
    code = main(
        [
            "run",
            *sample_job_args(sample, out),
        ]
    )
    job_dirs = sorted(p for p in out.iterdir() if p.is_dir())
    return code, out, job_dirs


def test_job_succeeds_and_prints_the_job_dir(first_job) -> None:
    code, out, job_dirs = first_job
    assert code == 0
    assert len(job_dirs) == 1
    assert (job_dirs[0] / "report.json").is_file() and (job_dirs[0] / "report.html").is_file()


def test_report_matches_the_files(first_job, sample) -> None:
    _, _, job_dirs = first_job
    job = job_dirs[0]
    report = json.loads((job / "report.json").read_text())
    src = report["source"]
    assert src["sha256"] == hashlib.sha256(sample.video_path.read_bytes()).hexdigest()
    assert (src["width"], src["height"]) == (1920, 1080)
    clips = report["clips"]
    assert 1 <= len(clips) <= 5
    assert sorted(p.name for p in (job / "clips").iterdir()) == sorted(
        f"clip-{c['index']:02d}.{ext}" for c in clips for ext in ("mp4", "srt", "vtt")
    )
    measured = []
    for c in clips:
        path = job / c["path"]
        info = probe(path, source=False)
        v = info.video[0]
        assert 15.0 <= c["duration_s"] <= 60.0
        assert info.duration_s == pytest.approx(c["duration_s"], abs=0.15)
        assert (v.codec, v.profile, v.pix_fmt) == ("h264", "High", "yuv420p")
        assert v.level <= 40
        assert (v.color_primaries, v.color_transfer, v.color_space) == ("bt709",) * 3
        assert (v.width, v.height) == (720, 1280)  # 9:16 from 1080p: ≤ 1.5× upscale rule
        assert v.fps == pytest.approx(30.0)
        assert info.audio[0].sample_rate == 48000
        level = loudness.measure(str(path))
        assert level.integrated_lufs == pytest.approx(-14.0, abs=0.5)
        assert level.integrated_lufs == pytest.approx(c["qa"]["integrated_lufs"], abs=0.05)
        assert level.true_peak_dbtp <= -1.0
        measured.append(level.integrated_lufs)
        # Clips start and end on the transcript's sentence boundaries, as whole cues.
        assert c["text"] and c["text"][-1] in ".?!"
        # Its captions read back: clip-relative, in order, every word of the clip once.
        for kind in ("srt", "vtt"):
            cues = parse_cues((job / c["captions"][kind]).read_text(), name=kind)
            assert 0.0 <= cues[0].start_s and cues[-1].end_s <= c["duration_s"] + 0.05
            assert all(a.end_s <= b.start_s + 1e-3 for a, b in zip(cues, cues[1:], strict=False))
            said = " ".join(cue.text for cue in cues).split()
            assert [w.strip(".,?!") for w in said] == [w.strip(".,?!") for w in c["text"].split()]
    assert max(measured) - min(measured) <= 1.5
    assert report["qa"]["passed"] is True
    assert report["qa"]["lu_spread"] == pytest.approx(max(measured) - min(measured), abs=0.05)
    assert report["cost"]["total_usd"] > 0
    assert {i["stage"] for i in report["cost"]["items"]} >= {"ingest", "render", "qa"}


def test_job_database_records_the_job(first_job) -> None:
    from blocks.settings import PipelineSettings
    from tasks import jobs

    _, _, job_dirs = first_job
    record = jobs.get_job(PipelineSettings().job_database_url, job_dirs[0].name)
    assert record["status"] == "succeeded"
    assert record["job_dir"] == str(job_dirs[0])
    report = json.loads((job_dirs[0] / "report.json").read_text())
    assert record["total_usd"] == pytest.approx(report["cost"]["total_usd"])
    # QA rows: each per-clip check once per clip, with that clip's verdict; job checks once.
    stored = {(q["clip_index"], q["name"], q["passed"]) for q in record.qa_checks}
    per_clip = {
        (c["index"], k["name"], k["passed"]) for c in report["clips"] for k in c["qa"]["checks"]
    }
    job_level = {
        (None, c["name"], c["passed"]) for c in report["qa"]["checks"] if c["scope"] == "job"
    }
    assert stored == per_clip | job_level
    assert len(record.qa_checks) == len(per_clip) + len(job_level)


def test_rerun_finishes_from_cache_without_touching_the_first_job(
    first_job, sample, capsys
) -> None:
    _, out, job_dirs = first_job
    before = {p: p.stat().st_mtime_ns for p in job_dirs[0].rglob("*")}
    code, stdout, stderr = _run(
        capsys,
        *sample_job_args(sample, out),
    )
    assert code == 0
    second = Path(stdout.strip().splitlines()[-1])
    assert second != job_dirs[0] and second.parent == out
    # stderr is not a terminal here: the plain progress lines, one per stage, the job last.
    told = [m["stage"] for m in progress_lines(stderr)]
    assert told[:3] == ["ingest", "transcript", "selection"]
    assert told[-3:] == ["verdict", "cost", "publish"]
    report = json.loads((second / "report.json").read_text())
    # Cached stages cost nothing now: no frame or render work was done again.
    stages = {i["stage"] for i in report["cost"]["items"]}
    assert "render" not in stages and "frame" not in stages
    first = json.loads((job_dirs[0] / "report.json").read_text())
    assert [c["start_s"] for c in report["clips"]] == [c["start_s"] for c in first["clips"]]
    assert {p: p.stat().st_mtime_ns for p in job_dirs[0].rglob("*")} == before


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (lambda s, t: [str(t / "missing.mp4")], "no such file"),
        (
            lambda s, t: [str(s.video_path), "--transcript", str(_write(t / "bad.vtt", b"hello"))],
            "without timings",
        ),
        (lambda s, t: [str(_write(t / "junk.mp4", os.urandom(4096)))], "not a readable media"),
    ],
    ids=["missing-file", "untimed-transcript", "not-media"],
)
def test_bad_input_exits_2_names_it_and_records_rejection(
    sample, tmp_path, capsys, args, reason
) -> None:
    from blocks.settings import PipelineSettings
    from tasks import jobs

    argv = args(sample, tmp_path)
    code, stdout, stderr = _run(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2
    assert reason in stderr
    named = argv[-1] if "--transcript" in argv else argv[0]
    assert named in stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    engine = jobs.get_engine(PipelineSettings().job_database_url)
    with engine.connect() as conn:
        import sqlalchemy as sa

        row = conn.execute(
            sa.text(
                "SELECT status, failure_reason FROM jobs WHERE source_uri = "
                ":u ORDER BY created_at DESC"
            ),
            {"u": argv[0]},
        ).first()
    assert row is not None and row[0] == "rejected" and reason in row[1]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_s3_source(sample, s3_server, tmp_path, capsys, monkeypatch) -> None:
    s3 = moto_s3(s3_server, monkeypatch)
    s3.create_bucket(Bucket="inbox")
    key = "zoom/2026-11 interview – café.mp4"
    s3.upload_file(str(sample.video_path), "inbox", key)
    s3.upload_file(str(sample.transcript_path), "inbox", "zoom/interview.vtt")
    code, stdout, stderr = _run(
        capsys,
        f"s3://inbox/{key}",
        "--transcript",
        "s3://inbox/zoom/interview.vtt",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, stderr
    report = json.loads((Path(stdout.strip().splitlines()[-1]) / "report.json").read_text())
    assert report["source"]["uri"] == f"s3://inbox/{key}"
    assert report["source"]["sha256"] == hashlib.sha256(sample.video_path.read_bytes()).hexdigest()
    assert 1 <= len(report["clips"]) <= 5
    # Cached on content, not on names: the same bytes from S3 reuse the local run's renders.
    assert "render" not in {i["stage"] for i in report["cost"]["items"]}

    # Outputs to S3: the job directory is uploaded below the prefix, the report last.
    s3.create_bucket(Bucket="outbox")
    code, stdout, stderr = _run(
        capsys,
        f"s3://inbox/{key}",
        "--transcript",
        "s3://inbox/zoom/interview.vtt",
        "--out",
        "s3://outbox/jobs",
    )
    assert code == 0, stderr
    location = stdout.strip().splitlines()[-1]
    assert location.startswith("s3://outbox/jobs/")
    prefix = location.removeprefix("s3://outbox/")
    listed = s3.list_objects_v2(Bucket="outbox", Prefix=prefix)["Contents"]
    names = {o["Key"].removeprefix(prefix + "/") for o in listed}
    remote = json.loads(s3.get_object(Bucket="outbox", Key=f"{prefix}/report.json")["Body"].read())
    assert names == {
        "report.json",
        "report.html",
        "plan.json",
        *(c["path"] for c in remote["clips"]),
        *(path for c in remote["clips"] for path in c["captions"].values()),
    }
    units = {i["unit"] for i in remote["cost"]["items"] if i["stage"] == "publish"}
    assert units == {"put_requests", "gb_month"}

    code, _, stderr = _run(capsys, "s3://inbox/zoom/nope.mp4", "--out", str(tmp_path / "o2"))
    assert code == 2 and "s3://inbox/zoom/nope.mp4" in stderr and "not found" in stderr


def test_an_s3_upload_uses_the_vtt_uploaded_beside_it(
    first_job, sample, s3_server, tmp_path, monkeypatch
) -> None:
    """The run the s3-ingest trigger starts (a source, no transcript): the VTT that lands
    beside the recording a second later is the job's transcript, not speech recognition.
    Same bytes as ``first_job``, so its cached stages make this quick."""
    import threading
    import uuid

    from flows.process_video import process_video

    s3 = moto_s3(s3_server, monkeypatch)
    bucket = f"uploads-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(sample.video_path), bucket, "zoom/talk.mp4")
    vtt = (str(sample.transcript_path), bucket, "zoom/talk.vtt")
    later = threading.Timer(1.0, s3.upload_file, vtt)
    later.start()
    try:
        result = process_video(source=f"s3://{bucket}/zoom/talk.mp4", out=str(tmp_path / "out"))
    finally:
        later.join()
    report = json.loads((Path(result.job_dir) / "report.json").read_text())
    heard = report["transcript"]
    assert (heard["source"], heard["uri"]) == ("vtt", f"s3://{bucket}/zoom/talk.vtt")
    assert "asr" not in {i["resource"] for i in report["cost"]["items"]}
    plan = json.loads((Path(result.job_dir) / "plan.json").read_text())
    assert plan["transcript"] == "vtt"


def test_job_database_on_each_backend(sample, job_db_url, tmp_path, capsys, monkeypatch) -> None:
    """The same job recorded on SQLite and on PostgreSQL (stages come from the cache)."""
    from tasks import jobs

    monkeypatch.setenv("CLIPFLOW_DATABASE_URL", job_db_url)
    code, stdout, _ = _run(
        capsys,
        *sample_job_args(sample, tmp_path),
    )
    assert code == 0
    job_id = Path(stdout.strip().splitlines()[-1]).name
    record = jobs.get_job(job_db_url, job_id)
    assert record["status"] == "succeeded"


def test_cli_end_to_end_in_a_subprocess(first_job, sample, tmp_path) -> None:
    """The installed console script as a user runs it: its own ephemeral Prefect server, the
    session's clipflow home (so the stages come from the cache the first job filled)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("clipflow")),
            "run",
            *sample_job_args(sample, tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    job_dir = Path(done.stdout.strip().splitlines()[-1])
    assert job_dir.parent == tmp_path / "out"
    report = json.loads((job_dir / "report.json").read_text())
    first = json.loads((first_job[2][0] / "report.json").read_text())
    assert [c["path"] for c in report["clips"]] == [c["path"] for c in first["clips"]]
    assert "render" not in {i["stage"] for i in report["cost"]["items"]}
    _check_plain_progress(done.stderr, report, job_dir)


def _check_plain_progress(stderr: str, report: dict, job_dir: Path) -> None:
    """The progress of a real run whose stderr is a pipe: one parseable line per stage and per
    clip of each per-clip stage, in the order they ran, the time only going forward, and an
    estimate of what is left while clip work remains."""
    lines = progress_lines(stderr)
    n = len(report["clips"])
    expected = (
        [("ingest", "-"), ("transcript", "-"), ("selection", "-")]
        + [(stage, f"{i}/{n}") for stage in ("framing", "render", "qa") for i in range(1, n + 1)]
        + [("verdict", "-"), ("cost", "-"), ("publish", "-")]
    )
    assert [(m["stage"], m["clip"]) for m in lines] == expected
    elapsed = [float(m["elapsed"]) for m in lines]
    assert elapsed == sorted(elapsed)
    stamps = [m["t"] for m in lines]
    assert stamps == sorted(stamps)
    clip_lines = [m for m in lines if m["clip"] != "-"]
    assert all(m["left"].isdigit() for m in clip_lines[:-1])
    assert clip_lines[-1]["left"] == "-"  # the last clip's QA: no clip work left to estimate
    assert all(m["left"] == "-" for m in lines if m["clip"] == "-")
    src = report["source"]
    ingest = lines[0]["summary"]
    assert f"{src['duration_s']:.1f} s, {src['width']}×{src['height']}" in ingest
    assert lines[-1]["summary"] == str(job_dir)


def test_artifacts_with_the_expected_keys_exist(first_job) -> None:
    import httpx
    from prefect.settings import PREFECT_API_URL

    _, _, job_dirs = first_job
    job_id = job_dirs[0].name
    keys = [f"job-{job_id}", f"qa-{job_id}", f"cost-{job_id}", f"clips-{job_id}"]
    answer = httpx.post(
        f"{PREFECT_API_URL.value()}/artifacts/filter",
        timeout=30,
        json={"artifacts": {"key": {"any_": keys}}, "limit": 50},
    )
    answer.raise_for_status()
    by_key = {a["key"]: SimpleNamespace(**a) for a in answer.json()}
    assert set(by_key) == set(keys)
    assert by_key[f"clips-{job_id}"].data == pytest.approx(100.0)  # every clip finished
    report = json.loads((job_dirs[0] / "report.json").read_text())
    assert str(job_dirs[0] / "report.html") in by_key[f"job-{job_id}"].data
    qa_rows = json.loads(by_key[f"qa-{job_id}"].data)
    assert [r["check"] for r in qa_rows] == [c["name"] for c in report["qa"]["checks"]]


def test_the_flow_run_logs_what_each_stage_found(first_job) -> None:
    """Each stage's findings are in the flow run's log (INFO, sent to the API although the CLI
    keeps the console at WARNING), and they agree with the report."""
    from blocks.settings import PipelineSettings
    from tasks import jobs

    _, _, job_dirs = first_job
    report = json.loads((job_dirs[0] / "report.json").read_text())
    flow_run_id = jobs.get_job(PipelineSettings().job_database_url, job_dirs[0].name).flow_run_id
    assert flow_run_id
    lines = run_log(flow_run_id)

    def said(label: str) -> str:
        found = [
            line for line in lines if line.startswith(f"{label}: ") and line != f"{label}: started"
        ]
        assert len(found) == 1, (label, lines)
        return found[0]

    src = report["source"]
    assert said("ingest") == (
        f"ingest: {Path(src['uri']).name}: {src['duration_s']:.1f} s, {src['width']}×"
        f"{src['height']} at {src['fps']:.2f} fps, audio aac 48000 Hz 1 ch"
    )
    heard = report["transcript"]
    assert said("transcript").startswith(f"transcript: vtt: {heard['words']} words in ") and said(
        "transcript"
    ).endswith(f"speakers {', '.join(heard['speakers'])}")
    picked = said("selection")
    n = len(report["clips"])
    assert picked.startswith(f"selection: offline: {n} clip") and " candidates (scores " in picked
    for clip in report["clips"]:
        i = clip["index"]
        assert (
            f"clip {i} {clip['start_s']:.2f}–{clip['end_s']:.2f} s score {clip['score']:.3f} "
            f"speaker {clip['speaker']}"
        ) in picked
        assert said(f"framing clip {i}/{n}").startswith(
            f"framing clip {i}/{n}: layout {clip['framing']['layout']}"
        )
        assert f"speaker {clip['speaker']}" in said(f"framing clip {i}/{n}")
        assert " LUFS after " in said(f"render clip {i}/{n}")
        qa = clip["qa"]
        assert said(f"qa clip {i}/{n}").startswith(
            f"qa clip {i}/{n}: {qa['integrated_lufs']:.2f} LUFS, true peak "
            f"{qa['true_peak_dbtp']:.2f} dBTP, face centred {100 * qa['face_centered_ratio']:.0f} %"
        )
    checks = report["qa"]["checks"]
    assert said("verdict") == (
        f"verdict: passed ({len(checks)} checks), LU spread {report['qa']['lu_spread']:.2f}; "
        + ", ".join(f"clip {c['index']} passed" for c in report["clips"])
    )
    assert said("cost").startswith(f"cost: ${report['cost']['total_usd']:.6f} (ingest $")
    assert said("publish") == f"publish: {job_dirs[0]}"
    # Each job-level stage said when it started, before what it found.
    for stage in ("ingest", "transcript", "selection", "verdict", "publish"):
        assert lines.index(f"{stage}: started") < lines.index(said(stage))


def test_the_cost_ledger_adds_up_and_is_checked(first_job) -> None:
    _, _, job_dirs = first_job
    report = json.loads((job_dirs[0] / "report.json").read_text())
    items = report["cost"]["items"]
    assert report["cost"]["total_usd"] == pytest.approx(sum(i["usd"] for i in items), abs=1e-6)
    stages = report["cost"]["stages"]
    assert set(stages) == {i["stage"] for i in items}
    assert sum(stages.values()) == pytest.approx(report["cost"]["total_usd"], abs=1e-6)
    cpu = [i for i in items if i["resource"] == "cpu"]
    assert all(i["unit"] == "vcpu_s" and i["quantity"] >= 0 for i in cpu)
    # The media stages did real work (a VTT read may round to 0 ms; an encode never does).
    assert all(i["quantity"] > 0 for i in cpu if i["stage"] in ("frame", "render", "qa"))
    # CPU is charged per stage, never more than the two cores could give in the job's time.
    assert sum(i["quantity"] for i in cpu) <= 2 * report["timings"]["wall_s"] + 5
    cost_check = next(c for c in report["qa"]["checks"] if c["name"] == "cost")
    assert cost_check["passed"] and cost_check["value"] <= 4.0


def test_qa_failure_exits_1_keeps_the_clips_and_records_qa_failed(
    sample, tmp_path, capsys, monkeypatch
) -> None:
    """A job over its budget fails exactly the cost check: exit 1, clips and report kept."""
    from blocks.settings import PipelineSettings
    from tasks import jobs

    monkeypatch.setenv("CLIPFLOW_MAX_JOB_USD", "0.0000001")
    code, stdout, stderr = _run(
        capsys,
        str(sample.video_path),
        "--transcript",
        str(sample.transcript_path),
        "--max-clips",
        "1",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert code == 1, stderr
    # --quiet: no progress, but the failure is still said.
    assert "QA failed" in stderr and "cost" in stderr
    assert "clipflow: progress" not in stderr
    job_dir = Path(stdout.strip().splitlines()[-1])
    report = json.loads((job_dir / "report.json").read_text())
    assert report["qa"]["passed"] is False
    assert [c["name"] for c in report["qa"]["checks"] if not c["passed"]] == ["cost"]
    assert all((job_dir / c["path"]).is_file() for c in report["clips"])
    record = jobs.get_job(PipelineSettings().job_database_url, job_dir.name)
    assert record["status"] == "qa_failed" and "cost" in record["failure_reason"]
