"""Clip captions: cue rules, SRT/WebVTT read back by clipflow's own parser, ASS burn-in."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg
from media.render import audio, captions
from media.render.encode import EncodeSpec, render_argv, video_filter
from media.transcript.cues import parse_cues
from media.transcript.records import Word, from_words
from qa.codec import inspect_codec
from tests.helpers import compliant_codec
from tests.helpers import ffmpeg as make_media

TEXT = (
    "So here is the thing, when we started this company we had no idea what we were doing. "
    "Honestly none. We just, you know, built the thing that we wanted ourselves and hoped for "
    "the best! Then customers arrived, slowly at first and then all at once, and everything "
    "changed for us."
)


def timed_words(text: str = TEXT, *, t0: float = 10.0, step: float = 0.3) -> list[Word]:
    """Words ``step`` apart (0.8 of it spoken), a 0.6 s pause after each sentence, the speaker
    changing from Alice to Bob at "We just"."""
    words, t = [], t0
    for i, token in enumerate(text.split()):
        speaker = "Alice" if i < 20 else "Bob"
        words.append(Word(token, round(t, 3), round(t + 0.8 * step, 3), speaker))
        t += step + (0.6 if token.endswith((".", "!")) else 0.0)
    return words


TRANSCRIPT = from_words(timed_words(), source="test")
CLIP = (9.8, TRANSCRIPT.end_s + 0.4)


def test_cues_respect_line_length_line_count_duration_and_sentence_ends() -> None:
    cues = captions.clip_cues(TRANSCRIPT, *CLIP)
    assert [w.text for c in cues for w in c.words] == TEXT.split()
    for c in cues:
        assert 1 <= len(c.lines) <= 2
        assert all(len(" ".join(w.text for w in line)) <= 32 for line in c.lines)
        assert c.end_s - c.start_s <= captions.MAX_CUE_S
        # A sentence end or a speaker change only ever ends a cue.
        for w in c.words[:-1]:
            assert not w.text.endswith((".", "!")), c.text
        assert len({w.speaker for w in c.words}) == 1
    assert cues[0].start_s == pytest.approx(0.2)  # clip-relative
    assert "Honestly none." in [c.text for c in cues]  # a sentence of its own


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        # Two cues either way (7+5 or 6+6 words): the break goes after the comma.
        ("one two three four five six seven, eight nine ten eleven twelve.", [7, 5]),
        # Filling the first cue (8 words fit) would leave "iiii" alone.
        ("aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii", [4, 5]),
    ],
)
def test_full_runs_split_evenly_after_a_clause_without_orphans(text, sizes) -> None:
    words = timed_words(text)
    cues = captions.build_cues([(w, w is words[-1]) for w in words], max_chars=20)
    assert [len(c.words) for c in cues] == sizes
    assert " ".join(c.text.replace("\n", " ") for c in cues) == text


@pytest.mark.parametrize(
    ("bounds", "first", "last"),
    [
        ((9.8, 11.0), "So", "is"),  # "the" (10.9–11.14) crosses the end: left out
        ((10.05, 11.2), "here", "the"),  # "So" starts before the clip: left out
        ((10.3, 10.54), "here", "here"),  # exactly one word, bounds on its edges
    ],
)
def test_words_crossing_the_clip_bounds_are_left_out(bounds, first, last) -> None:
    words = [w for w, _ in captions.clip_words(TRANSCRIPT, *bounds)]
    assert (words[0].text, words[-1].text) == (first, last)
    assert all(0 <= w.start_s < w.end_s <= bounds[1] - bounds[0] + 1e-9 for w in words)


def test_an_overlong_word_gets_a_line_of_its_own_never_split() -> None:
    words = timed_words("a Pneumonoultramicroscopicsilicovolcanoconiosis b")
    cues = captions.build_cues([(w, False) for w in words])
    assert [w.text for c in cues for w in c.words] == [w.text for w in words]
    assert any(c.text == words[1].text for c in cues)


def _check_round_trip(text: str, name: str, duration: float) -> None:
    parsed = parse_cues(text, name=name)
    starts = [c.start_s for c in parsed]
    assert starts == sorted(starts)
    for a, b in zip(parsed, parsed[1:], strict=False):
        assert a.end_s <= b.start_s  # no overlap: one cue on screen at a time
    assert all(0 <= c.start_s < c.end_s <= duration for c in parsed)
    assert " ".join(c.text for c in parsed).split() == TEXT.split()


def test_srt_and_vtt_read_back_in_order_inside_the_clip(tmp_path: Path) -> None:
    paths = captions.write_clip_captions(TRANSCRIPT, *CLIP, tmp_path, "clip-01")
    assert set(paths) == {"srt", "vtt"}
    duration = CLIP[1] - CLIP[0]
    srt = paths["srt"].read_text(encoding="utf-8")
    vtt = paths["vtt"].read_text(encoding="utf-8")
    assert re.search(r"^00:00:00,200 --> 00:00:0\d,\d{3}$", srt, re.M)
    _check_round_trip(srt, "clip-01.srt", duration)
    _check_round_trip(vtt, "clip-01.vtt", duration)
    assert vtt.startswith("WEBVTT\n\n")
    assert [c.speaker for c in parse_cues(vtt, name="v")][-1] == "Bob"


def test_vtt_word_timestamps_rise_strictly_inside_each_cue() -> None:
    vtt = captions.to_vtt(captions.clip_cues(TRANSCRIPT, *CLIP))
    blocks = vtt.split("\n\n")[1:]
    tags = 0
    for block in blocks:
        timing, *payload = block.strip().split("\n")
        start, end = (_seconds(t) for t in timing.split(" --> "))
        inline = [_seconds(t) for t in re.findall(r"<(\d\d:\d\d:\d\d\.\d{3})>", "".join(payload))]
        tags += len(inline)
        assert all(start < t < end for t in inline)
        assert inline == sorted(set(inline))
        assert payload[0].startswith(("<v Alice>", "<v Bob>"))
    assert tags == len(TEXT.split()) - len(blocks)  # every word but each cue's first


def _seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_vtt_escapes_markup_and_omits_voice_without_speakers() -> None:
    words = [Word("a<b", 0.0, 0.2), Word("&", 0.3, 0.4), Word("c>d", 0.5, 0.7)]
    vtt = captions.to_vtt(captions.build_cues([(w, False) for w in words]))
    assert "a&lt;b <00:00:00.300>&amp; <00:00:00.500>c&gt;d" in vtt and "<v" not in vtt


def test_ass_sizes_text_for_the_frame_and_highlights_one_word_per_event() -> None:
    cues = captions.clip_cues(TRANSCRIPT, *CLIP, max_chars=captions.BURN_IN_LINE_CHARS)
    ass = captions.to_ass(cues, 1080, 1920)
    style = next(line for line in ass.splitlines() if line.startswith("Style:")).split(",")
    size, margin_v = int(style[2]), int(style[21])
    assert 60 <= size <= 0.06 * 1920 and margin_v >= 0.2 * 1920
    events = [line for line in ass.splitlines() if line.startswith("Dialogue:")]
    assert len(events) == len(TEXT.split())
    assert all(e.count(captions.HIGHLIGHT) == 1 for e in events)
    starts = [e.split(",")[1] for e in events]
    assert starts == sorted(starts)
    assert captions.ass_font_size(720, 1280, 24) < size  # scales with the output


def test_ass_swaps_override_braces_in_the_text() -> None:
    ass = captions.to_ass(captions.build_cues([(Word("{\\b1}x", 0.0, 0.5), False)]), 320, 240)
    assert "(\u29f5b1)x" in ass


# --- burn-in, rendered ----------------------------------------------------------------------------

W, H, FPS = 180, 320, 25


def _frame(path: Path, at_s: float) -> np.ndarray:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{at_s}", "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(H, W).astype(np.int16)


def _render(src: Path, out: Path, captions_path: str | None) -> None:
    sound = out.with_suffix(".m4a")
    ffmpeg.run(
        audio.clip_audio_argv(
            str(src), str(sound), start_s=0.0, duration_s=3.0, gain_db=0.0, ceiling_dbtp=-1.0
        )
    )
    vf = video_filter(
        crop_w=180, crop_h=320, x0=0, y0=0, out_w=W, out_h=H, fps=FPS,
        sendcmd_path=None, captions_path=captions_path,
    )  # fmt: skip
    spec = EncodeSpec("libx264", "veryfast", 20)
    ffmpeg.run(
        render_argv(str(src), str(sound), str(out), start_s=0.0, duration_s=3.0, vf=vf,
                           spec=spec)
    )  # fmt: skip


def test_burned_captions_show_in_the_bottom_band_only(tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    make_media(
        "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d=3",
        "-f", "lavfi", "-i", "sine=f=300:d=3",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(src),
    )  # fmt: skip
    text = from_words(
        [Word("Hello", 0.5, 0.9, "A"), Word("captioned", 1.0, 1.6, "A"), Word("world.", 1.7, 2.2)],
        source="test",
    )
    # A folder name that needs every kind of filtergraph escaping.
    folder = tmp_path / "it's: a, [dir];x"
    paths = captions.write_clip_captions(text, 0.0, 3.0, folder, "clip", burn_in_size=(W, H))
    plain, captioned = tmp_path / "plain.mp4", tmp_path / "captioned.mp4"
    _render(src, plain, None)
    _render(src, captioned, str(paths["ass"]))

    margin = captions.ass_margin_v(W, H)
    bottom = slice(H // 2, H - margin + 4)
    top = slice(0, H // 3)
    during = np.abs(_frame(captioned, 1.3) - _frame(plain, 1.3))
    assert (during[bottom] > 60).sum() > 150, "no caption drawn above the bottom margin"
    assert (during[top] > 60).sum() == 0
    after = np.abs(_frame(captioned, 2.9) - _frame(plain, 2.9))  # past the hold: no caption
    assert (after > 60).sum() == 0

    codec = inspect_codec(captioned)
    assert codec == compliant_codec(width=W, height=H, fps=float(FPS), bit_rate=codec.bit_rate)
