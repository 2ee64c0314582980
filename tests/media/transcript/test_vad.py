"""Speech activity on generated audio, and cue-time refinement measured against known edges.

The speech is espeak-ng's: each phrase is trimmed to where its energy starts and stops and
placed on a silent track at chosen offsets, so the true speech edges are known by construction,
independently of the detector under test.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg
from media.errors import InputError, MediaError
from media.render.audio import extract_speech_wav_argv
from media.transcript import vad
from media.transcript.cues import Cue, from_cues
from media.transcript.records import Word, from_words
from media.transcript.vad import refine_cue_times, smooth_regions, speech_regions
from media.transcript.whisper_json import from_segments
from tests.helpers import ffmpeg as make_media

PHRASES = [
    "The quick brown fox jumps over the lazy dog",
    "Highlights need accurate word times",
    "Every clip should start on a whole word",
]
GAPS_S = [1.0, 1.5, 1.2, 1.0]  # silence before each phrase, and after the last
EDGE_TOLERANCE_S = 0.05  # measured: detected edges within 10 ms of the true ones (30 ms frames)


def _trimmed_speech(text: str, folder: Path) -> tuple[np.ndarray, int]:
    """espeak-ng's reading of ``text``, cut to its first and last 10 ms louder than -50 dBFS."""
    out = folder / "phrase.wav"
    subprocess.run(["espeak-ng", "-w", str(out), text], check=True, capture_output=True)
    with wave.open(str(out), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    hop = rate // 100
    frames = pcm[: len(pcm) // hop * hop].reshape(-1, hop).astype(float) / 32768
    loud = np.flatnonzero(10 * np.log10(np.mean(frames**2, axis=1) + 1e-12) > -50)
    return pcm[loud[0] * hop : (loud[-1] + 1) * hop], rate


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> tuple[Path, list[tuple[float, float]]]:
    """A 16 kHz speech WAV of three phrases over faint noise, and each phrase's true span."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    folder = tmp_path_factory.mktemp("vad")
    parts, truth, at = [], [], 0
    rate = 22_050
    for gap, text in zip(GAPS_S, [*PHRASES, None], strict=True):
        parts.append(np.zeros(int(gap * rate), dtype=np.int16))
        at += len(parts[-1])
        if text is not None:
            pcm, rate = _trimmed_speech(text, folder)
            truth.append((at / rate, (at + len(pcm)) / rate))
            parts.append(pcm)
            at += len(pcm)
    track = np.concatenate(parts).astype(float)
    track += np.random.default_rng(0).normal(0, 30, len(track))  # a -60 dBFS noise floor
    mix = folder / "mix.wav"
    with wave.open(str(mix), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(track, -32768, 32767).astype(np.int16).tobytes())
    wav = folder / "speech-16k.wav"
    ffmpeg.run(extract_speech_wav_argv(str(mix), str(wav)), timeout_s=60)  # the pipeline's own
    return wav, truth


def _lavfi_wav(path: Path, source: str, *extra: str) -> Path:
    make_media("-f", "lavfi", "-i", source, *extra, "-ar", "16000", "-ac", "1",
               "-c:a", "pcm_s16le", str(path))  # fmt: skip
    return path


# === speech regions ===============================================================================


@pytest.mark.parametrize(
    ("flags", "kwargs", "expected"),
    [
        ("....", {}, []),
        (".####.", {}, [(0.1, 0.5)]),
        ("##..##", {}, [(0.0, 0.6)]),  # a 0.2 s pause is bridged (hangover)
        ("##....##", {}, [(0.0, 0.2), (0.6, 0.8)]),  # a 0.4 s pause separates
        ("#....", {}, []),  # one 0.1 s frame is a click, not speech
        ("#....", {"min_speech_s": 0.05}, [(0.0, 0.1)]),
        ("######...", {"overhang_s": 0.2}, [(0.0, 0.4)]),  # the detector's own tail removed
    ],
)
def test_smooth_regions(flags: str, kwargs: dict, expected: list) -> None:
    params = {"frame_s": 0.1, "min_speech_s": 0.11, **kwargs}
    assert list(smooth_regions((c == "#" for c in flags), **params)) == expected


def test_speech_regions_find_each_phrase(speech) -> None:
    wav, truth = speech
    got = speech_regions(wav)
    assert len(got) == len(truth), got
    for (start, end), (true_start, true_end) in zip(got, truth, strict=True):
        assert start == pytest.approx(true_start, abs=EDGE_TOLERANCE_S)
        assert end == pytest.approx(true_end, abs=EDGE_TOLERANCE_S)


def test_speech_regions_read_in_blocks_give_the_same_regions(speech, monkeypatch) -> None:
    wav, _ = speech
    whole = speech_regions(wav)
    monkeypatch.setattr(vad, "BLOCK_S", 0.1)  # not a whole number of 30 ms frames
    assert speech_regions(wav) == whole


def test_silence_and_faint_noise_have_no_speech(tmp_path) -> None:
    assert (
        speech_regions(_lavfi_wav(tmp_path / "s.wav", "anullsrc=r=16000:cl=mono", "-t", "3")) == []
    )
    noise = _lavfi_wav(tmp_path / "n.wav", "anoisesrc=a=0.001:r=16000:d=3")
    assert speech_regions(noise) == []


def test_a_tone_burst_is_covered(tmp_path) -> None:
    tone = _lavfi_wav(tmp_path / "t.wav", "sine=f=440:d=2:sample_rate=16000",
                      "-af", "adelay=1000,apad=pad_dur=1")  # fmt: skip
    [(start, end)] = speech_regions(tone)
    assert start == pytest.approx(1.0, abs=EDGE_TOLERANCE_S)
    assert end == pytest.approx(3.0, abs=EDGE_TOLERANCE_S)


def test_speech_regions_reject_what_the_detector_cannot_read(tmp_path) -> None:
    stereo = tmp_path / "stereo.wav"
    make_media("-f", "lavfi", "-i", "anullsrc=r=16000:cl=stereo", "-t", "1", str(stereo))
    with pytest.raises(MediaError, match="needs mono 16-bit WAV.*got 2 channel"):
        speech_regions(stereo)
    with pytest.raises(InputError, match="aggressiveness 5"):
        speech_regions(stereo, aggressiveness=5)
    with pytest.raises(MediaError, match="cannot read as WAV"):
        speech_regions(tmp_path / "missing.wav")


# === refinement ===================================================================================

# Cue edges off by 0.3-0.5 s both ways: early into silence, late into speech, short of the end.
LOOSE = [(-0.4, +0.45), (+0.3, -0.35), (-0.5, -0.3)]


def _cue_edges(transcript) -> list[float]:
    """Start and end of each cue, flattened: [start 1, end 1, start 2, ...]."""
    words = transcript.words
    return [t for a, b in transcript.cue_spans for t in (words[a].start_s, words[b].end_s)]


def _errors(edges: list[float], truth: list[tuple[float, float]]) -> list[float]:
    return [abs(e - t) for e, t in zip(edges, [t for pair in truth for t in pair], strict=True)]


def test_refinement_moves_loose_cues_onto_the_speech(speech) -> None:
    wav, truth = speech
    cues = [
        Cue(a + da, b + db, text, "S")
        for (a, b), (da, db), text in zip(truth, LOOSE, PHRASES, strict=True)
    ]
    loose = from_cues(cues, source="vtt")
    refined = refine_cue_times(loose, speech_regions(wav))
    before, after = _errors(_cue_edges(loose), truth), _errors(_cue_edges(refined), truth)
    # Measured: mean edge error 386 ms before, 6 ms after (worst 15 ms).
    assert max(after) <= EDGE_TOLERANCE_S, after
    assert sum(after) < sum(before) / 5
    assert [w.text for w in refined.words] == [w.text for w in loose.words]
    for a, b in zip(refined.words, refined.words[1:], strict=False):
        assert a.start_s < a.end_s <= b.start_s
    assert (refined.timing, refined.cue_spans) == ("cue", loose.cue_spans)


def test_refinement_leaves_measured_word_times_alone() -> None:
    words = from_words([Word("hi", 0.2, 0.5), Word("there", 0.6, 0.9)], source="asr:x")
    assert refine_cue_times(words, [(0.0, 1.0)]) is words


# Two cues; their words' estimated edges are 1.0-2.867 and 3.2-6.042.
@pytest.mark.parametrize(
    ("regions", "expected"),
    [
        ([], [1.0, 2.867, 3.2, 6.042]),  # nothing detected: unchanged
        ([(0.8, 6.0)], [0.8, 2.867, 3.2, 6.0]),  # outer edges snap; inner ones are too far
        # The second cue's start would move back into the first cue's words: it stays.
        ([(2.8, 6.0)], [1.0, 2.867, 3.2, 6.0]),
        # The first cue's end would move forward into the second cue: it stays.
        ([(0.5, 3.3)], [0.5, 2.867, 3.2, 6.042]),
        # Edges further than the window from any speech stay where they are.
        ([(1.6, 2.0), (4.0, 5.0)], [1.0, 2.867, 3.2, 6.042]),
    ],
    ids=["no-speech", "snap-outer", "floor", "ceiling", "too-far"],
)
def test_refinement_keeps_cues_apart(regions, expected) -> None:
    cues = [Cue(1.0, 3.0, "first cue here", "A"), Cue(3.2, 6.2, "and the second one", "A")]
    refined = refine_cue_times(from_cues(cues, source="vtt"), regions)
    assert _cue_edges(refined) == pytest.approx(expected, abs=0.001)
    for a, b in zip(refined.words, refined.words[1:], strict=False):
        assert a.start_s < a.end_s <= b.start_s


def test_refinement_moves_only_the_estimated_segments() -> None:
    """Whisper JSON where one segment has word times and one only segment times."""
    segments = [
        {"start": 0.0, "end": 1.0, "text": " Hi there.", "words": [
            {"word": " Hi", "start": 0.1, "end": 0.4},
            {"word": " there.", "start": 0.4, "end": 0.9}]},
        {"start": 2.0, "end": 4.0, "text": " No word times here."},
    ]  # fmt: skip
    mixed = from_segments(segments, source="json:whisper", name="mixed.json")
    assert (mixed.timing, mixed.cue_spans) == ("cue", ((2, 5),))
    refined = refine_cue_times(mixed, [(0.0, 1.0), (2.3, 3.7)])
    assert refined.words[:2] == mixed.words[:2]  # measured: untouched, though speech is near
    assert (refined.words[2].start_s, refined.words[5].end_s) == (2.3, 3.7)
