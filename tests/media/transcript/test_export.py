"""Transcripts written as WebVTT, SRT and JSON, and read back by the one reader."""

from __future__ import annotations

import re

import pytest

from media.errors import InputError
from media.transcript.export import LINE_CHARS, MAX_CUE_S, cues, export, to_srt, to_vtt
from media.transcript.reader import read_transcript
from media.transcript.records import Transcript, Word, from_words


def _talk(text: str, speaker: str = "", *, at: float = 0.0, step: float = 0.4) -> list[Word]:
    """Words ``step`` seconds apart from ``at``, each lasting 0.3 s."""
    return [
        Word(w, round(at + i * step, 3), round(at + i * step + 0.3, 3), speaker)
        for i, w in enumerate(text.split())
    ]


def _interview() -> Transcript:
    words = (
        _talk("Welcome back to the show. Today we talk compost.", "Alice Chen", at=0.5)
        + _talk("Thanks, Alice. It is hot in the middle!", "Bob Okafor", at=5.0)
        + _talk("Why is that?", "Alice Chen", at=9.0)
    )
    got = from_words(words, source="asr:faster-whisper")
    return Transcript(got.words, got.sentences, got.source, language="en", model="whisper-tiny.en")


def _plain() -> Transcript:
    return from_words(_talk("No one said who speaks here. Just words.", at=61.25), source="asr")


def test_vtt_has_a_header_voice_spans_and_a_cue_per_sentence() -> None:
    vtt = to_vtt(_interview())
    assert vtt.startswith("WEBVTT\n\nNOTE transcript: asr:faster-whisper, whisper-tiny.en, en\n\n")
    blocks = vtt.strip().split("\n\n")[2:]
    assert len(blocks) == 5  # one per sentence
    assert blocks[0] == "00:00:00.500 --> 00:00:02.400\n<v Alice Chen>Welcome back to the show."
    assert blocks[2].splitlines()[1].startswith("<v Bob Okafor>Thanks, Alice.")
    assert vtt.endswith("<v Alice Chen>Why is that?\n")


def test_srt_numbers_cues_and_prefixes_the_speaker() -> None:
    srt = to_srt(_interview())
    first, *_, last = srt.strip().split("\n\n")
    assert first == "1\n00:00:00,500 --> 00:00:02,400\nAlice Chen: Welcome back to the show."
    assert last == "5\n00:00:09,000 --> 00:00:10,100\nAlice Chen: Why is that?"


@pytest.mark.parametrize(
    ("seconds", "vtt", "srt"),
    [
        (0.0, "00:00:00.000", "00:00:00,000"),
        (61.25, "00:01:01.250", "00:01:01,250"),
        (3723.4567, "01:02:03.457", "01:02:03,457"),
    ],
)
def test_timestamps_are_the_cue_formats(seconds, vtt, srt) -> None:
    words = [Word("Hello.", seconds, seconds + 1.0)]
    t = from_words(words, source="asr")
    assert to_vtt(t).split("\n\n")[-1].startswith(f"{vtt} --> ")
    assert to_srt(t).startswith(f"1\n{srt} --> ")


def test_without_speakers_there_are_no_voice_spans_or_prefixes() -> None:
    vtt, srt = to_vtt(_plain()), to_srt(_plain())
    assert "<v" not in vtt
    assert "00:01:01.250 --> 00:01:03.550\nNo one said who speaks here." in vtt
    assert "\nNo one said who speaks here.\n" in srt


def test_a_long_sentence_is_cut_into_cues_of_two_lines_and_seven_seconds() -> None:
    text = " ".join(f"word{i}" for i in range(60)) + "."
    t = from_words(_talk(text, "S1", step=0.5), source="asr")
    got = cues(t)
    assert len(got) > 1
    assert " ".join(c.text for c in got) == text
    for c in got:
        assert c.end_s - c.start_s <= MAX_CUE_S
    for block in to_vtt(t).strip().split("\n\n")[2:]:
        lines = block.splitlines()[1:]
        assert 1 <= len(lines) <= 2
        assert all(len(re.sub(r"^<v S1>", "", line)) <= LINE_CHARS for line in lines)


def _round_trip(t: Transcript, suffix: str, tmp_path) -> Transcript:
    path = tmp_path / f"t{suffix}"
    path.write_text(export(t, suffix), encoding="utf-8")
    return read_transcript(path)


@pytest.mark.parametrize("suffix", [".vtt", ".srt", ".json"])
@pytest.mark.parametrize("make", [_interview, _plain])
def test_the_reader_reads_each_format_back(make, suffix, tmp_path) -> None:
    t = make()
    back = _round_trip(t, suffix, tmp_path)
    assert [w.text for w in back.words] == [w.text for w in t.words]
    assert [w.speaker for w in back.words] == [w.speaker for w in t.words]
    assert [s.text for s in back.sentences] == [s.text for s in t.sentences]
    # Cue formats estimate word times inside each cue: never outside it.
    assert back.words[0].start_s == pytest.approx(t.words[0].start_s, abs=0.001)
    assert back.words[-1].end_s <= t.words[-1].end_s + 0.001


def test_json_keeps_times_language_model_and_speakers(tmp_path) -> None:
    t = _interview()
    back = _round_trip(t, ".json", tmp_path)
    assert back == t


@pytest.mark.parametrize("suffix", [".vtt", ".srt", ".json"])
def test_markup_characters_survive(suffix, tmp_path) -> None:
    t = from_words(_talk("AT&T said <maybe> 3 > 2.", "Q&A <host>"), source="asr")
    vtt = to_vtt(t)
    assert "AT&amp;T said &lt;maybe&gt; 3 &gt; 2." in vtt and "<v Q&amp;A &lt;host&gt;>" in vtt
    if suffix == ".srt":
        return  # SRT has no escapes: a "<...>" in the words reads as a tag
    back = _round_trip(t, suffix, tmp_path)
    assert [(w.text, w.speaker) for w in back.words] == [(w.text, w.speaker) for w in t.words]


def test_a_repeated_word_across_touching_cues_is_not_read_as_a_rolling_caption(tmp_path) -> None:
    # "No." then "No, I think so." by one speaker, touching: a rolling-caption reader would
    # drop the second "No" unless the cues are kept apart.
    words = [Word("No.", 1.0, 1.3, "S1"), *_talk("No, I think so.", "S1", at=1.3)]
    t = from_words(words, source="asr")
    for suffix in (".vtt", ".srt"):
        back = _round_trip(t, suffix, tmp_path)
        assert [w.text for w in back.words] == ["No.", "No,", "I", "think", "so."]


def test_an_unknown_suffix_is_refused() -> None:
    with pytest.raises(InputError, match=r"'\.txt'.*\.vtt, \.srt, \.json"):
        export(_plain(), ".txt")
