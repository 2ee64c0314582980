"""Transcript readers: WebVTT (Zoom style), SRT, word-level JSON, word-time estimation,
rejections. Fixtures are written here in the shapes the tools really produce."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from media.errors import InputError
from media.transcript.cues import Cue, estimate_words, parse_cues, parse_timestamp, resolve_overlaps
from media.transcript.reader import read_transcript
from media.transcript.records import Transcript, Word, from_words, ordered_words
from media.transcript.whisper_json import from_segments, parse_json, to_json

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


# === real-world-shaped files, read through read_transcript =======================================


def well_formed(t: Transcript) -> None:
    """Words in order, never overlapping; sentences partition the words; cue spans fit."""
    for w in t.words:
        assert w.start_s < w.end_s, w
        assert 0.0 <= w.confidence <= 1.0, w
    for a, b in zip(t.words, t.words[1:], strict=False):
        assert a.end_s <= b.start_s, (a, b)
    assert t.sentences[0].first_word == 0 and t.sentences[-1].last_word == len(t.words) - 1
    for s, nxt in zip(t.sentences, t.sentences[1:], strict=False):
        assert nxt.first_word == s.last_word + 1
    assert all(0 <= a <= b < len(t.words) for a, b in t.cue_spans)
    assert (t.timing == "cue") == bool(t.cue_spans)


# Zoom's VTT export: BOM, CRLF, numbered cues, a two-line cue, cue settings, and a cue without a
# name that continues the previous speaker.
ZOOM_MULTILINE = (
    "\ufeffWEBVTT\r\n\r\n"
    "1\r\n00:00:00.500 --> 00:00:03.200 align:start position:0%\r\n"
    "Alice Chen: Welcome back to the show.\r\nToday we talk about clips.\r\n\r\n"
    "2\r\n00:00:03.600 --> 00:00:05.000\r\nBob Okafor: Thanks for having me!\r\n\r\n"
    "3\r\n00:00:05.400 --> 00:00:07.000 line:90%\r\nIt is great to be here.\r\n"
)
SRT_BOM_CRLF = (
    "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nFirst subtitle line\r\nwraps here.\r\n\r\n"
    "2\r\n00:00:03,000 --> 00:00:04,000\r\n<b>Second</b> one.\r\n"
)
# yt-dlp's YouTube auto-captions: a line of one space, inline word times, and each caption
# shown again (a 10 ms cue) before the next rolls it up one line.
YOUTUBE_ROLLING = "\n".join([
    "WEBVTT", "Kind: captions", "Language: en", "",
    "00:00:00.000 --> 00:00:02.350 align:start position:0%", " ",
    "so<00:00:00.320><c> today</c><00:00:00.640><c> we</c><00:00:01.200><c> look</c>", "",
    "00:00:02.350 --> 00:00:02.360 align:start position:0%", "so today we look", " ", "",
    "00:00:02.360 --> 00:00:04.900 align:start position:0%", "so today we look",
    "at<00:00:02.900><c> how</c><00:00:03.300><c> captions</c><00:00:03.800><c> roll</c>", "",
    "00:00:04.900 --> 00:00:04.910 align:start position:0%", "at how captions roll", " ", "",
    "00:00:04.910 --> 00:00:07.000 align:start position:0%", "at how captions roll",
    "over<00:00:05.500><c> time.</c>", "",
])  # fmt: skip
OVERLAPPING = """WEBVTT

00:00:01.000 --> 00:00:04.000
Ann: We start here and talk.

00:00:03.000 --> 00:00:06.000
Ann: Then something else happens.
"""
EMPTY_CUES = """WEBVTT

00:00:01.000 --> 00:00:02.000

00:00:02.000 --> 00:00:03.000
Bob:

00:00:03.000 --> 00:00:04.000
<c> </c>

00:00:04.000 --> 00:00:05.000
Bob: Real words.
"""
NON_ASCII = """WEBVTT

00:00:01.000 --> 00:00:03.000
José Núñez: Ça va très bien, merci.

00:00:03.500 --> 00:00:05.000
李雷: 你好，世界。 很高兴见到你！

00:00:05.500 --> 00:00:06.500
José Núñez: Great 🎉 naïve café.
"""


@pytest.mark.parametrize(
    ("body", "source", "words", "speakers", "sentences"),
    [
        (
            ZOOM_MULTILINE,
            "vtt",
            "Welcome back to the show. Today we talk about clips. Thanks for having me! "
            "It is great to be here.",
            ("Alice Chen", "Bob Okafor"),
            4,
        ),
        (SRT_BOM_CRLF, "srt", "First subtitle line wraps here. Second one.", (), 2),
        (YOUTUBE_ROLLING, "vtt", "so today we look at how captions roll over time.", (), 1),
        (OVERLAPPING, "vtt", "We start here and talk. Then something else happens.", ("Ann",), 2),
        (EMPTY_CUES, "vtt", "Real words.", ("Bob",), 1),
        (
            NON_ASCII,
            "vtt",
            "Ça va très bien, merci. 你好，世界。 很高兴见到你！ Great 🎉 naïve café.",
            ("José Núñez", "李雷"),
            4,
        ),
    ],
    ids=["zoom", "srt-bom-crlf", "youtube-rolling", "overlapping", "empty-cues", "non-ascii"],
)
def test_cue_files(tmp_path, body, source, words, speakers, sentences) -> None:
    path = tmp_path / "sidecar.txt"  # the extension is not trusted: the content decides
    path.write_bytes(body.encode("utf-8"))
    t = read_transcript(path)
    well_formed(t)
    assert (t.source, t.timing) == (source, "cue")
    assert " ".join(w.text for w in t.words) == words
    assert t.speakers == speakers
    assert len(t.sentences) == sentences


def test_overlapping_cue_is_cut_where_the_next_begins(tmp_path) -> None:
    path = tmp_path / "o.vtt"
    path.write_text(OVERLAPPING)
    t = read_transcript(path)
    first, second = (t.words[a : b + 1] for a, b in t.cue_spans)
    assert first[0].start_s == 1.0 and first[-1].end_s <= 3.0
    assert second[0].start_s == 3.0 and second[-1].end_s <= 6.0


def test_rolling_captions_keep_each_word_once_at_its_own_time(tmp_path) -> None:
    path = tmp_path / "yt.vtt"
    path.write_text(YOUTUBE_ROLLING)
    t = read_transcript(path)
    starts = {w.text: w.start_s for w in t.words}
    assert starts["so"] == 0.0 and starts["look"] < 2.35
    assert 2.36 <= starts["at"] < starts["roll"] < 4.9 <= starts["over"]


@pytest.mark.parametrize(
    ("cues", "expected"),
    [
        # Plain overlap: the earlier cue ends where the later one starts.
        ([(1, 4, "a b"), (3, 6, "c d")], [(1, 3, "a b"), (3, 6, "c d")]),
        # The same caption shown again, then rolled up: only new words, after the shown ones.
        (
            [(0, 2, "a b c"), (2, 2.01, "a b c"), (2.01, 4, "a b c d e")],
            [(0, 2, "a b c"), (2.01, 4, "d e")],
        ),
        # An overlapping cue that repeats the previous text as its prefix.
        (
            [(0, 3, "we said hello"), (2, 5, "we said hello and more")],
            [(0, 3, "we said hello"), (3, 5, "and more")],
        ),  # fmt: skip
        # A real repeat of one word (not the whole previous cue) is speech, not a duplicate.
        (
            [(0, 1, "Well no."), (1, 2, "No, I mean it")],
            [(0, 1, "Well no."), (1, 2, "No, I mean it")],
        ),
        # Two cues starting together share the time up to the shorter one's end.
        ([(1, 3, "a"), (1, 2, "b")], [(1, 1.5, "b"), (1.5, 3, "a")]),
    ],
    ids=["overlap", "rolling", "repeated-prefix", "real-repeat", "same-start"],
)
def test_resolve_overlaps(cues, expected) -> None:
    got = resolve_overlaps([Cue(a, b, text) for a, b, text in cues])
    assert [(c.start_s, c.end_s, c.text) for c in got] == expected


def test_two_speakers_saying_the_same_thing_are_both_kept() -> None:
    got = resolve_overlaps([Cue(0, 1, "Yes.", "A"), Cue(1, 2, "Yes.", "B")])
    assert [(c.text, c.speaker) for c in got] == [("Yes.", "A"), ("Yes.", "B")]


def test_turns_are_runs_of_sentences_by_one_speaker(tmp_path) -> None:
    path = tmp_path / "zoom.vtt"
    path.write_text(ZOOM_MULTILINE)
    turns = read_transcript(path).turns
    assert [(t.speaker, t.first_sentence, t.last_sentence) for t in turns] == [
        ("Alice Chen", 0, 1),
        ("Bob Okafor", 2, 3),
    ]
    assert (turns[0].start_s, turns[1].end_s) == (0.5, read_transcript(path).end_s)


# === word-level JSON ==============================================================================

# openai-whisper's result dict (``whisper ... --word_timestamps True --output_format json``):
# words carry a leading space; a word can have zero length, and a segment's first word can start
# before the previous segment's last word ends.
WHISPER = {
    "text": " And so my fellow Americans, ask not what your country can do for you.",
    "segments": [
        {
            "id": 0, "seek": 0, "start": 0.0, "end": 2.1, "text": " And so my fellow Americans,",
            "tokens": [50364, 400, 370, 452, 7177, 6280, 11], "temperature": 0.0,
            "avg_logprob": -0.27, "compression_ratio": 1.3, "no_speech_prob": 0.01,
            "words": [
                {"word": " And", "start": 0.0, "end": 0.3, "probability": 0.52},
                {"word": " so", "start": 0.3, "end": 0.6, "probability": 0.98},
                {"word": " my", "start": 0.6, "end": 0.96, "probability": 0.99},
                {"word": " fellow", "start": 0.96, "end": 1.4, "probability": 0.99},
                {"word": " Americans,", "start": 1.4, "end": 2.1, "probability": 0.93},
            ],
        },
        {
            "id": 1, "seek": 0, "start": 2.0, "end": 5.2,
            "text": " ask not what your country can do for you.",
            "tokens": [50464, 1029, 406], "temperature": 0.0, "avg_logprob": -0.2,
            "compression_ratio": 1.3, "no_speech_prob": 0.01,
            "words": [
                {"word": " ask", "start": 2.05, "end": 2.5, "probability": 0.89},
                {"word": " not", "start": 2.5, "end": 2.5, "probability": 0.97},
                {"word": " what", "start": 2.5, "end": 2.9, "probability": 0.99},
                {"word": " your", "start": 2.9, "end": 3.2, "probability": 0.99},
                {"word": " country", "start": 3.2, "end": 3.7, "probability": 0.99},
                {"word": " can", "start": 3.7, "end": 4.0, "probability": 0.99},
                {"word": " do", "start": 4.0, "end": 4.2, "probability": 0.99},
                {"word": " for", "start": 4.2, "end": 4.5, "probability": 0.99},
                {"word": " you.", "start": 4.5, "end": 5.2, "probability": 0.99},
            ],
        },
    ],
    "language": "en",
}  # fmt: skip
WHISPER_WORDS = "And so my fellow Americans, ask not what your country can do for you."


def _fw_segment(seg: dict) -> dict:
    """faster-whisper's Segment as ``dataclasses.asdict`` writes it (1.1+: no ``text`` top)."""
    keys = ("id", "seek", "start", "end", "text", "tokens", "avg_logprob",
            "compression_ratio", "no_speech_prob", "words", "temperature")  # fmt: skip
    out = {k: seg[k] for k in keys}
    out["words"] = [{"start": w["start"], "end": w["end"], "word": w["word"],
                     "probability": w["probability"]} for w in seg["words"]]  # fmt: skip
    return out


def _fw_namedtuple_dump(seg: dict) -> list:
    """faster-whisper < 1.1: ``json.dump([s._asdict() ...])`` leaves words as arrays."""
    out = _fw_segment(seg)
    out["words"] = [[w["start"], w["end"], w["word"], w["probability"]] for w in seg["words"]]
    return out


# WhisperX after alignment and diarisation: words without a leading space, "score" for the
# confidence, numbers it could not align left without times, a word the diariser did not
# assign, and the flat "word_segments" list beside the segments.
WHISPERX = {
    "segments": [
        {
            "start": 0.031, "end": 3.9, "text": " In 1990, Alice moved to Paris.",
            "speaker": "SPEAKER_00",
            "words": [
                {"word": "In", "start": 0.031, "end": 0.151, "score": 0.862,
                 "speaker": "SPEAKER_00"},
                {"word": "1990,"},
                {"word": "Alice", "start": 1.2, "end": 1.55, "score": 0.91,
                 "speaker": "SPEAKER_00"},
                {"word": "moved", "start": 1.6, "end": 1.9, "score": 0.88},
                {"word": "to", "start": 1.95, "end": 2.05, "score": 0.99,
                 "speaker": "SPEAKER_00"},
                {"word": "Paris.", "start": 2.1, "end": 2.8, "score": 0.95,
                 "speaker": "SPEAKER_00"},
            ],
        },
        {
            "start": 4.2, "end": 6.0, "text": " About 2,000 people came.",
            "speaker": "SPEAKER_01",
            "words": [
                {"word": "About", "start": 4.2, "end": 4.5, "score": 0.8,
                 "speaker": "SPEAKER_01"},
                {"word": "2,000"},
                {"word": "people", "start": 5.0, "end": 5.4, "score": 0.9,
                 "speaker": "SPEAKER_01"},
                {"word": "came.", "start": 5.45, "end": 5.9, "score": 0.9,
                 "speaker": "SPEAKER_01"},
            ],
        },
    ],
    "word_segments": [{"word": "In", "start": 0.031, "end": 0.151, "score": 0.862}],
    "language": "en",
}  # fmt: skip


@pytest.mark.parametrize(
    "doc",
    [
        WHISPER,
        [_fw_segment(s) for s in WHISPER["segments"]],
        {"segments": [_fw_segment(s) for s in WHISPER["segments"]]},
        [_fw_namedtuple_dump(s) for s in WHISPER["segments"]],
    ],
    ids=["openai-whisper", "faster-whisper-list", "faster-whisper-dict", "faster-whisper-<1.1"],
)
def test_whisper_json(tmp_path, doc) -> None:
    path = tmp_path / "words.json"
    path.write_text(json.dumps(doc))
    t = read_transcript(path)
    well_formed(t)
    assert (t.source, t.timing) == ("json:whisper", "word")
    assert " ".join(w.text for w in t.words) == WHISPER_WORDS
    assert [s.text for s in t.sentences] == [WHISPER_WORDS]
    # Measured times are kept where they were consistent...
    assert (t.words[3].start_s, t.words[3].end_s, t.words[3].confidence) == (0.96, 1.4, 0.99)
    # ...and repaired where they were not: "ask" no longer starts inside "Americans,", and
    # the zero-length "not" got a length without overlapping "what".
    americans, ask, no, what = t.words[4:8]
    assert americans.end_s == 2.05 and ask.start_s == 2.05
    assert no.start_s == 2.5 and no.end_s > 2.5 and what.start_s >= no.end_s


def test_whisperx_json_places_unaligned_numbers_between_their_neighbours(tmp_path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(WHISPERX))
    t = read_transcript(path)
    well_formed(t)
    assert (t.source, t.timing) == ("json:whisperx", "word")
    by_text = {w.text: w for w in t.words}
    year, number = by_text["1990,"], by_text["2,000"]
    assert 0.151 <= year.start_s < year.end_s <= 1.2
    assert 4.5 <= number.start_s < number.end_s <= 5.0
    assert year.confidence == 0.0 and by_text["Alice"].confidence == 0.91
    # A word the diariser left unassigned takes its segment's speaker.
    assert by_text["moved"].speaker == "SPEAKER_00"
    assert [(turn.speaker, turn.first_sentence, turn.last_sentence) for turn in t.turns] == [
        ("SPEAKER_00", 0, 0),
        ("SPEAKER_01", 1, 1),
    ]


def test_segments_without_words_are_estimated_like_cues(tmp_path) -> None:
    doc = {"text": " Hello there. How are you?", "segments": [
        {"id": 0, "start": 0.5, "end": 1.5, "text": " Hello there."},
        {"id": 1, "start": 2.0, "end": 3.0, "text": " How are you?"}]}  # fmt: skip
    path = tmp_path / "segments.json"
    path.write_text(json.dumps(doc))
    t = read_transcript(path)
    well_formed(t)
    assert t.timing == "cue" and t.cue_spans == ((0, 1), (2, 4))
    assert (t.words[0].start_s, t.words[2].start_s) == (0.5, 2.0)


def test_segments_read_from_objects_like_faster_whispers() -> None:
    """The live recogniser yields objects, not dicts: the same conversion reads them."""
    from collections import namedtuple

    FwWord = namedtuple("FwWord", "start end word probability")
    FwSegment = namedtuple("FwSegment", "id seek start end text tokens words")
    segs = [FwSegment(0, 0, 0.0, 1.0, " Hi there.", [1], [FwWord(0.0, 0.4, " Hi", 0.9),
            FwWord(0.4, 0.9, " there.", 0.8)])]  # fmt: skip
    t = from_segments(segs, source="asr:test", name="live")
    assert [(w.text, w.start_s, w.end_s, w.confidence) for w in t.words] == [
        ("Hi", 0.0, 0.4, 0.9),
        ("there.", 0.4, 0.9, 0.8),
    ]


@pytest.mark.parametrize("fixture", [ZOOM_MULTILINE, NON_ASCII, json.dumps(WHISPERX)])
def test_own_format_round_trip_is_lossless(tmp_path, fixture) -> None:
    path = tmp_path / "in.vtt"
    path.write_text(fixture, encoding="utf-8")
    original = read_transcript(path)
    saved = tmp_path / "transcript.json"
    saved.write_text(to_json(original), encoding="utf-8")
    assert read_transcript(saved) == original
    assert json.loads(saved.read_text())["format"] == "clipflow-transcript"


def test_own_format_keeps_asr_words_exactly() -> None:
    words = [Word("hello", 0.123456789, 0.5, "", 0.3141), Word("world", 0.5, 0.9, "S1", 1.0)]
    original = replace(from_words(words, source="asr:pocketsphinx"))
    assert parse_json(to_json(original), name="x") == original


# === rejections ===================================================================================


@pytest.mark.parametrize(
    ("filename", "body", "match"),
    [
        ("notes.txt", "Alice: hello there.\nBob: hi.\n", "text without timings"),
        ("plain.json", json.dumps({"text": " Hello there.", "language": "en"}), "without timings"),
        ("untimed.json", json.dumps({"segments": [{"text": " Hello"}]}), "text without timings"),
        ("empty.json", "[]", "without timings"),
        ("broken.json", '{"segments": [', "not valid JSON"),
        ("v2.json", json.dumps({"format": "clipflow-transcript", "version": 2}), "version 2"),
        (
            "order.json",
            json.dumps(
                {
                    "format": "clipflow-transcript",
                    "version": 1,
                    "words": [
                        {"text": "b", "start": 2, "end": 3},
                        {"text": "a", "start": 1, "end": 2},
                    ],
                }
            ),
            "out of order",
        ),  # fmt: skip
        ("nan.json", '{"segments": [{"start": NaN, "end": 1, "text": "x"}]}', "expected a time"),
    ],
)
def test_untimed_and_broken_transcripts_are_rejected(tmp_path, filename, body, match) -> None:
    path = tmp_path / filename
    path.write_text(body)
    with pytest.raises(InputError, match=match) as err:
        read_transcript(path)
    assert str(err.value).startswith(str(path))


def test_words_past_the_recording_are_rejected(tmp_path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(WHISPER))
    assert read_transcript(path, duration_s=5.0).end_s == 5.0  # the last word is clipped
    with pytest.raises(InputError, match=r"1 word\(s\) start after the recording ends"):
        read_transcript(path, duration_s=4.4)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([(0.0, 0.5), (0.5, 1.0)], [(0.0, 0.5), (0.5, 1.0)]),  # already fine: unchanged
        ([(0.0, 0.6), (0.5, 1.0)], [(0.0, 0.5), (0.5, 1.0)]),  # overlap: the first is trimmed
        ([(0.0, 0.5), (0.5, 0.5), (0.5, 1.0)], [(0.0, 0.5), (0.5, 0.51), (0.51, 1.0)]),
        # Out of order: the spoken order is kept and the word moved after its predecessor.
        ([(1.0, 1.5), (0.2, 0.4)], [(1.0, 1.5), (1.5, 1.51)]),
    ],
)
def test_ordered_words(words, expected) -> None:
    got = ordered_words(Word(str(i), a, b) for i, (a, b) in enumerate(words))
    assert [(w.start_s, w.end_s) for w in got] == expected
