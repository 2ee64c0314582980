"""`clipflow transcribe`: the transcript of a recording, with speakers, as WebVTT, SRT or JSON.

Runs the real command (``flows.cli.main``) on the generated two-person sample; like plan mode it
starts no Prefect server. Speech is recognised once: later formats come from the kept
transcript.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from pathlib import Path

import pytest

from flows.cli import main
from media.transcript.reader import read_transcript
from media.transcript.wer import normalise
from tests.generated_media import sample_fixture

sample = sample_fixture(minutes=0.5, seed=11)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["transcribe", *argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def vtt(sample, tmp_path_factory) -> tuple[Path, str]:
    """`clipflow transcribe SAMPLE --out talk.vtt` once: (the file, stderr)."""
    out = tmp_path_factory.mktemp("transcribe") / "talk.vtt"
    code, stdout, stderr = _run(str(sample.video_path), "--out", str(out))
    assert code == 0, stderr
    assert stdout.strip() == str(out.resolve())
    return out, stderr


def test_vtt_names_the_voices_and_holds_the_words(vtt, sample) -> None:
    path, _ = vtt
    text = path.read_text()
    assert text.startswith("WEBVTT\n")
    assert len(set(re.findall(r"<v ([^>]+)>", text))) >= 2
    truth = read_transcript(sample.transcript_path)
    heard = read_transcript(path)
    said = Counter(normalise(" ".join(w.text for w in truth.words)))
    got = Counter(normalise(" ".join(w.text for w in heard.words)))
    assert sum((said & got).values()) >= 0.8 * sum(said.values())
    # Diarized voices line up with the true speakers: the best one-to-one naming agrees on
    # most of the words (who speaks at each recognised word's middle).
    pairs = Counter()
    for w in heard.words:
        mid = (w.start_s + w.end_s) / 2
        near = min(truth.words, key=lambda t: abs((t.start_s + t.end_s) / 2 - mid))
        pairs[(w.speaker, near.speaker)] += 1
    best = {}
    for voice, person in (pair for pair, _ in pairs.most_common()):
        if voice not in best and person not in best.values():
            best[voice] = person
    agree = sum(n for (voice, person), n in pairs.items() if best.get(voice) == person)
    assert agree >= 0.8 * len(heard.words)


def test_stderr_says_what_ran_in_one_line(vtt) -> None:
    _, stderr = vtt
    (line,) = stderr.strip().splitlines()
    assert re.match(
        r"clipflow: talk\.mp4: faster-whisper \(whisper-[\w.]+\), language en, \d+ words, "
        r"[2-4] speakers \(S1, S2.*\), 30\.0 s of audio in [\d.]+ s$",
        line,
    ), line


@pytest.mark.parametrize("suffix", [".srt", ".json"])
def test_srt_and_json_read_back_to_the_same_words_and_speakers(vtt, sample, suffix) -> None:
    path, _ = vtt
    out = path.with_suffix(suffix)
    code, _, stderr = _run(str(sample.video_path), "--out", str(out))
    assert code == 0, stderr
    assert stderr.rstrip().endswith("(cached)")  # recognised once, for the .vtt
    as_vtt, back = read_transcript(path), read_transcript(out)
    assert [(w.text, w.speaker) for w in back.words] == [(w.text, w.speaker) for w in as_vtt.words]
    if suffix == ".json":
        assert back.language == "en" and back.model.startswith("whisper-")
        assert back.source == "asr:faster-whisper"


def test_without_out_webvtt_goes_to_stdout(vtt, sample) -> None:
    path, _ = vtt
    code, stdout, _ = _run(str(sample.video_path))
    assert code == 0
    assert stdout == path.read_text()


def test_an_existing_file_is_kept_unless_forced(vtt, sample) -> None:
    path, _ = vtt
    out = path.with_name("mine.vtt")
    out.write_text("my own edits\n")
    code, _, stderr = _run(str(sample.video_path), "--out", str(out))
    assert code == 2
    assert str(out) in stderr and "--force" in stderr
    assert out.read_text() == "my own edits\n"
    code, _, stderr = _run(str(sample.video_path), "--out", str(out), "--force")
    assert code == 0, stderr
    assert out.read_text() == path.read_text()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--out", "talk.txt"], ["--out", "talk.txt", ".vtt, .srt, .json"]),
        (["--out", "talk"], ["--out", "talk", ".vtt, .srt, .json"]),
        (["--language", "xx"], ["--language", "'xx'"]),
        (["--out", "s3://bucket/talk.vtt"], ["--out", "s3://bucket/talk.vtt", "local file"]),
    ],
)
def test_bad_options_exit_2_naming_them(argv, named, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = _run("talk.mp4", *argv)
    assert code == 2
    assert all(n in stderr for n in named), stderr
    assert stdout == "" and list(tmp_path.iterdir()) == []


def test_a_source_that_is_not_media_exits_2_naming_it(sample, tmp_path) -> None:
    missing = tmp_path / "nowhere.mp4"
    code, _, stderr = _run(str(missing))
    assert code == 2 and str(missing) in stderr
    code, _, stderr = _run(str(sample.transcript_path), "--out", str(tmp_path / "t.vtt"))
    assert code == 2 and str(sample.transcript_path) in stderr
    assert not (tmp_path / "t.vtt").exists()
