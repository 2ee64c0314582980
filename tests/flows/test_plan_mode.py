"""`clipflow plan`: the clips without rendering; `clipflow run --plan`: an edited plan rendered."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from flows.cli import main
from media.selection.candidates import boundary_clean
from media.transcript.reader import read_transcript
from tests.generated_media import sample_fixture, sample_recording
from tests.helpers import moto_s3

sample = sample_fixture(minutes=1.5, seed=5)


@pytest.fixture(scope="module")
def planned(sample, tmp_path_factory):
    """`clipflow plan` once for the module: (exit code, stdout, the plan file)."""
    out = tmp_path_factory.mktemp("plans") / "talk.plan.json"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            ["plan", str(sample.video_path), "--transcript", str(sample.transcript_path),
             "--out", str(out)]
        )  # fmt: skip
    return code, buffer.getvalue(), out


def test_plan_prints_the_clips_and_writes_a_plan_file(planned, sample) -> None:
    code, stdout, out = planned
    assert code == 0
    assert stdout.strip().splitlines()[-1] == str(out.resolve())
    doc = json.loads(out.read_text())
    assert doc["format"] == "clipflow-plan"
    clips = doc["clips"]
    assert 1 <= len(clips) <= 5
    text = read_transcript(sample.transcript_path)
    for clip in clips:
        assert 15.0 <= clip["end_s"] - clip["start_s"] <= 60.0
        assert boundary_clean(text, clip["start_s"], clip["end_s"])
        # What a person reads: the times, the score, the title and the words of each clip.
        assert f"clip {clip['index']}  " in stdout
        assert repr(clip["title"]) in stdout
        assert clip["text"].split()[0] in stdout


def test_plan_of_an_unreadable_transcript_exits_2_naming_it(sample, tmp_path, capsys) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("We talked about compost and rockets.\n")
    code = main(
        [
            "plan",
            str(sample.video_path),
            "--transcript",
            str(bad),
            "--out",
            str(tmp_path / "p.json"),
        ]
    )
    assert code == 2
    assert str(bad) in capsys.readouterr().err


def test_plan_of_an_s3_recording_reads_the_transcript_beside_it(
    sample, s3_server, monkeypatch, tmp_path, capsys
) -> None:
    """As a job started by an upload does: the same-stem VTT beside the recording is its
    transcript (the sample's speakers are named only there; recognition would not name them)."""
    s3 = moto_s3(s3_server, monkeypatch)
    s3.create_bucket(Bucket="plans")
    s3.upload_file(str(sample.video_path), "plans", "in/talk.mp4")
    s3.upload_file(str(sample.transcript_path), "plans", "in/talk.vtt")
    monkeypatch.setenv("CLIPFLOW_SIDECAR_WAIT_S", "0")
    out = tmp_path / "talk.plan.json"
    assert main(["plan", "s3://plans/in/talk.mp4", "--out", str(out)]) == 0, capsys.readouterr()
    doc = json.loads(out.read_text())
    assert doc["transcript"] == "vtt"  # the sidecar was read, not speech recognised
    named = {t.speaker for t in read_transcript(sample.transcript_path).sentences}
    assert doc["clips"] and all(set(c["speakers"]) <= named for c in doc["clips"])


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_run_renders_an_edited_plan(planned, sample, tmp_path, capsys) -> None:
    _, _, plan_path = planned
    doc = json.loads(plan_path.read_text())
    first = doc["clips"][0]
    # The editor keeps one clip, starts it 1.3 s later (inside a word) and renames it.
    first.update(start_s=first["start_s"] + 1.3, title="Edited by hand")
    doc["clips"] = [first]
    edited = tmp_path / "edited.plan.json"
    edited.write_text(json.dumps(doc))
    out = tmp_path / "out"
    code = main(
        ["run", str(sample.video_path), "--transcript", str(sample.transcript_path),
         "--out", str(out), "--plan", str(edited)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    job = Path(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((job / "report.json").read_text())
    assert report["selection"]["method"] == "plan"
    (clip,) = report["clips"]
    assert clip["title"] == "Edited by hand"
    text = read_transcript(sample.transcript_path)
    assert boundary_clean(text, clip["start_s"], clip["end_s"])
    # Snapped to the nearest sentence start: at most a sentence away from what was asked.
    starts = [s.start_s for s in text.sentences]
    nearest = min(starts, key=lambda s: abs(s - first["start_s"]))
    assert clip["start_s"] == pytest.approx(nearest, abs=0.26)
    # The job directory carries the plan it rendered, ready to edit again.
    rendered_plan = json.loads((job / "plan.json").read_text())
    assert [(c["start_s"], c["end_s"]) for c in rendered_plan["clips"]] == [
        (clip["start_s"], clip["end_s"])
    ]


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_a_plan_for_another_recording_is_rejected(
    planned, tmp_path, tmp_path_factory, capsys
) -> None:
    _, _, plan_path = planned
    other = sample_recording(tmp_path_factory, minutes=0.5, seed=9)
    code = main(
        ["run", str(other.video_path), "--transcript", str(other.transcript_path),
         "--out", str(tmp_path / "out"), "--plan", str(plan_path)]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert str(plan_path) in err and "another recording" in err
