"""Transcript readers: WebVTT (Zoom style), SRT, word-time estimation, rejections."""

from __future__ import annotations

import pytest

from media.errors import InputError
from media.transcript import Cue, estimate_words, parse_cues, parse_timestamp, read_transcript

ZOOM_VTT = (
    "\ufeffWEBVTT\r\n\r\n1\r\n00:00:01.000 --> 00:00:04.000\r\nAlice Chen: Hello there. "
    "How are\r\n\r\n2\r\n00:00:04.500 --> 00:00:06.000 align:start position:10%\r\n"
    "you today?\r\n\r\n3\r\n00:00:06.500 --> 00:00:09.000\r\nBob Okafor: I am well.\r\n"
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:01.500", 1.5), ("01:02:03.004", 3723.004), ("02:03.5", 123.5), ("00:00:01,250", 1.25)],
)
def test_timestamps(text: str, seconds: float) -> None:
    assert parse_timestamp(text, where="t") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1.5", "00:61:00.000", "aa:bb:cc.ddd", ""])
def test_bad_timestamps_name_the_value(text: str) -> None:
    with pytest.raises(InputError, match="bad timestamp"):
        parse_timestamp(text, where="x.vtt cue 1")


def test_zoom_vtt_with_bom_crlf_settings_and_speaker_carryover(tmp_path) -> None:
    path = tmp_path / "zoom.vtt"
    path.write_bytes(ZOOM_VTT.encode("utf-8"))
    t = read_transcript(path)
    assert t.source == "vtt"
    assert t.speakers == ("Alice Chen", "Bob Okafor")
    assert [s.text for s in t.sentences] == ["Hello there.", "How are you today?", "I am well."]
    # The continuation cue without a name keeps the previous speaker.
    assert t.sentences[1].speaker == "Alice Chen"
    assert t.sentences[2].speaker == "Bob Okafor"
    # Word times stay inside their cues and never overlap.
    for a, b in zip(t.words, t.words[1:], strict=False):
        assert a.start_s < a.end_s <= b.start_s
    assert t.words[0].start_s == 1.0 and t.words[-1].end_s <= 9.0


def test_srt(tmp_path) -> None:
    path = tmp_path / "x.srt"
    path.write_text(
        "1\n00:00:00,500 --> 00:00:02,000\nFirst line.\n\n"
        "2\n00:00:02,500 --> 00:00:04,000\n<i>Second</i> line!\n"
    )
    t = read_transcript(path)
    assert t.source == "srt"
    assert [s.text for s in t.sentences] == ["First line.", "Second line!"]


def test_word_estimates_are_proportional_to_length() -> None:
    words = estimate_words(Cue(0.0, 10.0, "a abcdefghi", "S"))
    short, long = (w.end_s - w.start_s for w in words)
    assert long > 4 * short


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "empty"),
        (b"just some words with no timing at all", "without timings"),
        (b"WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nbackwards\n", "not after its start"),
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xff\xfe bad bytes\n", "not UTF-8"),
        (b"WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nbroken arrow\n", "without timings"),
    ],
)
def test_malformed_transcripts_are_rejected(tmp_path, body: bytes, match: str) -> None:
    path = tmp_path / "bad.vtt"
    path.write_bytes(body)
    with pytest.raises(InputError, match=match) as err:
        read_transcript(path)
    assert str(path) in str(err.value)


def test_cues_past_the_recording_are_rejected(tmp_path) -> None:
    path = tmp_path / "late.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA: hi.\n\n"
        "00:10:00.000 --> 00:10:02.000\nA: late.\n"
    )
    with pytest.raises(InputError, match="after the recording ends"):
        read_transcript(path, duration_s=60.0)


def test_missing_transcript(tmp_path) -> None:
    with pytest.raises(InputError, match="transcript not found"):
        read_transcript(tmp_path / "nope.vtt")


def test_voice_tags() -> None:
    cues = parse_cues(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Roger Bingham>Hi there.</v>\n", name="v"
    )
    assert cues[0].speaker == "Roger Bingham" and cues[0].text == "Hi there."
