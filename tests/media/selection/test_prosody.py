"""Delivery features from generated signals: known pitch, pitch sweeps, loudness, blocks."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest

from media.errors import InputError
from media.selection import prosody
from media.selection.prosody import frame_features, sentence_prosody, syllables
from media.transcript.records import Word, from_words

RATE = 16_000


def _wav(path: Path, samples: np.ndarray, *, channels: int = 1, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _t(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * RATE)) / RATE


def _tone(f0: float, seconds: float, amplitude: float = 0.5, harmonics: int = 1) -> np.ndarray:
    """A voiced-like tone: the fundamental plus weaker harmonics (1/k)."""
    t = _t(seconds)
    return amplitude * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, harmonics + 1))


def _sweep(f_from: float, f_to: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """A tone gliding exponentially (evenly in semitones) from ``f_from`` to ``f_to``."""
    t = _t(seconds)
    f = f_from * (f_to / f_from) ** (t / seconds)
    return amplitude * np.sin(2 * np.pi * np.cumsum(f) / RATE)


def _transcript(spans: list[tuple[float, float, str]]):
    words = []
    for start, end, text in spans:
        tokens = text.split()
        step = (end - start) / len(tokens)
        for k, tok in enumerate(tokens):
            words.append(Word(tok, start + k * step, start + (k + 1) * step - 0.01, "A"))
    return from_words(words, source="test")


@pytest.mark.parametrize(
    ("f0", "harmonics"),
    [(80.0, 1), (120.0, 6), (150.0, 1), (220.0, 4), (330.0, 1)],
)
def test_known_pitch_is_measured_within_one_percent(tmp_path, f0, harmonics) -> None:
    path = _wav(tmp_path / "tone.wav", _tone(f0, 1.5, amplitude=0.3, harmonics=harmonics))
    (got,) = sentence_prosody(path, _transcript([(0.1, 1.4, "one two three four.")]))
    assert got.pitch_hz == pytest.approx(f0, rel=0.01)
    assert got.voiced_ratio > 0.9
    assert got.pitch_var_st < 0.1


def test_a_pitch_sweep_varies_more_than_a_flat_tone(tmp_path) -> None:
    signal = np.concatenate([_tone(150, 2.0), _sweep(120, 240, 2.0)])
    path = _wav(tmp_path / "two.wav", signal)
    flat, sweep = sentence_prosody(
        path, _transcript([(0.1, 1.9, "flat tone here."), (2.1, 3.9, "a sweep up.")])
    )
    assert flat.pitch_var_st < 0.1
    # An octave covered evenly in semitones (of it, 1.8 s of the 2 s): a std of 12/sqrt(12)*0.9.
    assert sweep.pitch_var_st == pytest.approx(12 / math.sqrt(12) * 0.9, rel=0.1)
    assert 150 < sweep.pitch_hz < 190  # the median of 128-226 Hz is about 170


def test_loudness_level_and_variation(tmp_path) -> None:
    steady = _tone(200, 2.0, amplitude=0.5)
    t = _t(2.0)
    swelling = _tone(200, 2.0, amplitude=0.5) * (0.55 + 0.45 * np.sin(2 * np.pi * 1.5 * t))
    path = _wav(tmp_path / "loud.wav", np.concatenate([steady, swelling]))
    a, b = sentence_prosody(path, _transcript([(0.1, 1.9, "steady."), (2.1, 3.9, "swelling.")]))
    # A sine of amplitude 0.5 has an RMS of 0.5/sqrt(2): -9.03 dBFS.
    assert a.loudness_db == pytest.approx(-9.03, abs=0.1)
    assert a.loudness_var_db < 0.2
    assert b.loudness_var_db > 3.0


def test_silence_has_no_pitch_and_no_level(tmp_path) -> None:
    path = _wav(tmp_path / "quiet.wav", np.zeros(RATE * 2))
    (got,) = sentence_prosody(path, _transcript([(0.2, 1.8, "nothing at all.")]))
    assert got.loudness_db == -math.inf
    assert math.isnan(got.pitch_hz) and math.isnan(got.pitch_var_st)
    assert got.voiced_ratio == 0.0


def test_reading_in_blocks_matches_reading_at_once(tmp_path, monkeypatch) -> None:
    path = _wav(tmp_path / "long.wav", np.concatenate([_sweep(100, 300, 3.0), _tone(180, 2.0)]))
    whole = frame_features(path)
    monkeypatch.setattr(prosody, "BLOCK_S", 0.37)  # blocks that end mid-frame
    pieces = frame_features(path)
    np.testing.assert_allclose(pieces.level_db, whole.level_db, atol=1e-9)
    np.testing.assert_allclose(pieces.f0_hz, whole.f0_hz, atol=1e-9)
    assert len(whole.level_db) == (5 * RATE - 640) // 160 + 1


@pytest.mark.parametrize(
    ("text", "count"),
    [("Hello.", 2), ("Compost microbes breathe.", 6), ("The table is stable.", 6), ("I.", 1)],
)
def test_syllable_counts(text: str, count: int) -> None:
    assert syllables(text) == count


def test_speech_rate_is_syllables_per_second(tmp_path) -> None:
    path = _wav(tmp_path / "x.wav", _tone(150, 3.0))
    (got,) = sentence_prosody(path, _transcript([(0.0, 2.0, "Compost microbes breathe.")]))
    span = 2.0 - 0.01  # the last word ends 10 ms before the span's end
    assert got.speech_rate == pytest.approx(6 / span, rel=1e-6)


def test_one_result_per_sentence_in_order(tmp_path) -> None:
    path = _wav(tmp_path / "x.wav", _tone(150, 3.0))
    spans = [(0.1, 0.9, "One."), (1.0, 1.9, "Two."), (2.0, 2.9, "Three.")]
    got = sentence_prosody(path, _transcript(spans))
    assert [p.index for p in got] == [0, 1, 2]


def test_rejects_a_wav_that_is_not_mono_16_bit(tmp_path) -> None:
    stereo = _wav(tmp_path / "stereo.wav", np.zeros(RATE * 2), channels=2)
    with pytest.raises(InputError, match="expected 16-bit mono PCM, got 2 channel"):
        frame_features(stereo)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(InputError, match="not a PCM WAV file"):
        frame_features(junk)
