"""The sample-recording generator: pure planning and transcript logic, then one real 30 s sample
(espeak-ng + ffmpeg) checked by reopening it: streams, transcript, audio, faces, border."""

from __future__ import annotations

import random
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg
from media.errors import InputError, MediaError
from media.framing.detection import detect_faces
from media.probe import probe
from media.sample.generator import (
    BORDER_BGR,
    BORDER_PX,
    CHUNK_FRAMES,
    HEIGHT,
    TILE_H,
    TILE_W,
    TILE_X,
    TILE_Y,
    WIDTH,
    ScriptLine,
    ScriptTurn,
    aac_argv,
    build_turns,
    chunk_states,
    encode_argv,
    make_sample,
    mux_argv,
    shutil,
    to_webvtt,
)
from media.sample.script import GUEST, HOST, TOPICS, plan_turns
from tests.generated_media import generator_workdir

MINUTES = 0.5
CUE_RE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})")


def parse_vtt(text: str) -> list[tuple[float, float, str, str]]:
    """(start_s, end_s, speaker, text) per cue of a Zoom-style WebVTT file."""
    blocks = text.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = []
    for n, block in enumerate(blocks[1:], start=1):
        ident, span, line = block.split("\n")
        assert ident == str(n)
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, CUE_RE.fullmatch(span).groups())
        speaker, _, words = line.partition(": ")
        cues.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000,
                     speaker, words))  # fmt: skip
    return cues


def grab(path: Path, t: float, width: int = WIDTH, frames: int = 1, fps: int = 30):
    """Decoded BGR frames from ``t`` on, scaled to ``width``."""
    height = width * HEIGHT // WIDTH
    argv = [*ffmpeg.ffmpeg_base(), *ffmpeg.input_args(str(path), seek_s=t),
            "-vf", f"fps={fps},scale={width}:{height}", "-frames:v", str(frames),
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]  # fmt: skip
    data = np.frombuffer(ffmpeg.run(argv).stdout, np.uint8)
    return data.reshape(-1, height, width, 3)


# --- pure logic ---------------------------------------------------------------------------------


def test_script_has_enough_distinct_topics():
    topics = {k: v for k, v in TOPICS.items() if k != "intro"}
    assert len(topics) >= 6
    for name, blocks in topics.items():
        assert 8 <= sum(len(lines) for _, lines in blocks) <= 15, name
        assert any(line.endswith("?") for _, lines in blocks for line in lines), name


def test_plan_alternates_speakers_in_turns_of_one_to_four_sentences():
    turns = [t for t, _ in zip(plan_turns(random.Random(3)), range(400), strict=False)]
    assert turns[0][0] == HOST
    assert all(a[0] != b[0] for a, b in zip(turns, turns[1:], strict=False))
    assert all(1 <= len(sentences) <= 4 for _, sentences in turns)


def test_build_turns_gaps_and_bounds():
    turns = build_turns(120.0, 7, lambda speaker, text: len(text) * 1500)  # ~15 chars/s
    assert turns and turns[0].speaker == HOST
    for a, b in zip(turns, turns[1:], strict=False):
        assert a.speaker != b.speaker
        assert 0.3 - 1e-6 <= b.start_s - a.end_s <= 0.9 + 1e-6
    for turn in turns:
        assert 1 <= len(turn.sentences) <= 4
        assert (turn.start_s, turn.end_s) == (turn.sentences[0].start_s, turn.sentences[-1].end_s)
        for a, b in zip(turn.sentences, turn.sentences[1:], strict=False):
            assert 0.15 - 1e-6 <= b.start_s - a.end_s <= 0.35 + 1e-6
    assert turns[-1].end_s <= 120.0 - 0.3
    assert build_turns(120.0, 7, lambda s, t: len(t) * 1500) == turns


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], [0, 0, 0, 0]),
        ([(HOST, 0.0, 2.0)], [1, 1, 1, 1]),
        ([(HOST, 0.2, 0.7)], [1, 0, 0, 0]),  # 0.3 s of chunk 0 and 0.2 s of chunk 1
        ([(HOST, 0.3, 0.7)], [0, 0, 0, 0]),  # no chunk is half covered
        ([(HOST, 0.1, 0.9), (GUEST, 1.2, 2.0)], [1, 1, 2, 2]),
        ([(GUEST, 0.0, 0.6), (HOST, 0.8, 1.4)], [2, 0, 1, 0]),
    ],
)
def test_chunk_states(spans, expected):
    turns = [ScriptTurn(s, a, b, (ScriptLine(s, a, b, "x"),)) for s, a, b in spans]
    assert chunk_states(turns, 4) == expected


def test_webvtt_format():
    cue = ScriptLine(GUEST, 3661.0005, 3662.25, "Hello there.")
    text = to_webvtt([ScriptTurn(GUEST, cue.start_s, cue.end_s, (cue,))])
    assert text == "WEBVTT\n\n1\n01:01:01.000 --> 01:01:02.250\nBob Okafor: Hello there.\n"


def test_encode_argv_asks_for_high_profile_and_bt709():
    argv = encode_argv(Path("x.h264"))
    assert "ultrafast" not in argv  # ultrafast writes Constrained Baseline
    for flag, value in [("-profile:v", "high"), ("-colorspace", "bt709"), ("-bf", "0"),
                        ("-g", str(CHUNK_FRAMES))]:  # fmt: skip
        assert argv[argv.index(flag) + 1] == value
    mux = mux_argv(Path("v.h264"), Path("a.m4a"), Path("o.mp4"), 60.0)
    assert mux[mux.index("-movflags") + 1] == "+faststart"
    aac = aac_argv(Path("a.wav"), Path("a.m4a"))
    assert aac[aac.index("-ar") + 1] == "48000"


def test_bad_minutes_are_rejected(tmp_path):
    with pytest.raises(InputError, match="minutes=0"):
        make_sample(tmp_path / "x.mp4", minutes=0)


def test_missing_espeak_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MediaError, match="apt-get install espeak-ng"):
        make_sample(tmp_path / "x.mp4", minutes=1)


# --- one real sample ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Three samples made in the session's generator work folder (tests/generated_media.py):
    the speech and video chunks are synthesised there once (by the session's first sample,
    which is this one when the module runs alone) and always read back from its files."""
    root = tmp_path_factory.mktemp("sample")
    work = generator_workdir(tmp_path_factory)
    first = make_sample(root / "a" / "talk.mp4", minutes=MINUTES, workdir=work)
    again = make_sample(root / "b" / "talk.mp4", minutes=MINUTES, workdir=work)
    other = make_sample(root / "c" / "talk.mp4", minutes=MINUTES, seed=1, workdir=work)
    return first, again, other


def test_sample_lands_on_another_filesystem_than_its_work_folder(tmp_path_factory):
    """As in a container whose output folder is a mounted volume and /tmp is not."""
    work = generator_workdir(tmp_path_factory)
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == work.stat().st_dev:
        pytest.skip("no second filesystem (/dev/shm) beside the work folder")
    out = Path(tempfile.mkdtemp(prefix="clipflow-sample-test-", dir=shm))
    try:
        rec = make_sample(out / "talk.mp4", minutes=MINUTES, workdir=work)
        assert probe(rec.video_path).duration_s == pytest.approx(MINUTES * 60, abs=1.0)
        assert sorted(p.name for p in out.iterdir()) == ["talk.mp4", "talk.vtt"]
    finally:
        shutil.rmtree(out)


def test_streams(made):
    rec = made[0]
    info = probe(rec.video_path)
    v, a = info.primary_video, info.primary_audio
    assert (v.codec, v.profile, v.pix_fmt, v.width, v.height) == (
        "h264", "High", "yuv420p", 1920, 1080)  # fmt: skip
    assert v.fps == pytest.approx(30) and v.avg_fps == pytest.approx(30)
    assert (v.color_primaries, v.color_transfer, v.color_space) == ("bt709",) * 3
    assert (a.codec, a.sample_rate) == ("aac", 48000)
    assert info.duration_s == pytest.approx(MINUTES * 60, abs=1.0)
    assert rec.duration_s == MINUTES * 60
    assert rec.video_path.read_bytes()[:64].find(b"moov") > 0  # faststart: moov before mdat


def test_transcript_matches_turns(made):
    rec = made[0]
    assert rec.transcript_path == rec.video_path.with_suffix(".vtt")
    cues = parse_vtt(rec.transcript_path.read_text(encoding="utf-8"))
    expected = [(c.speaker, c.text) for t in rec.turns for c in t.sentences]
    assert [(c[2], c[3]) for c in cues] == expected
    assert len(rec.turns) >= 4
    assert {c[2] for c in cues} == {HOST, GUEST}
    assert all(a.speaker != b.speaker for a, b in zip(rec.turns, rec.turns[1:], strict=False))
    times = [t for c in cues for t in c[:2]]
    assert times == sorted(times) and all(s < e for s, e, *_ in cues)
    assert 0 < times[0] and times[-1] <= rec.duration_s


def test_deterministic_transcript(made):
    first, again, other = made
    assert first.transcript_path.read_bytes() == again.transcript_path.read_bytes()
    assert first.turns == again.turns
    assert first.transcript_path.read_bytes() != other.transcript_path.read_bytes()


def test_cue_times_are_the_audio(made):
    """Speech starts at each turn's first cue (±2 ms), is loud inside every cue and silent in
    the gaps between turns."""
    rec = made[0]
    rate = 48_000
    argv = [*ffmpeg.ffmpeg_base(), *ffmpeg.input_args(str(rec.video_path)), "-map", "0:a",
            "-f", "s16le", "-"]  # fmt: skip
    pcm = np.frombuffer(ffmpeg.run(argv).stdout, "<i2").astype(np.float64)

    def rms(a: float, b: float) -> float:
        return float(np.sqrt(np.mean(pcm[int(a * rate) : int(b * rate)] ** 2)))

    for turn in rec.turns:
        window = int((turn.start_s - 0.1) * rate)
        onset = window + np.flatnonzero(np.abs(pcm[window : window + rate // 5]) > 150)[0]
        assert onset / rate == pytest.approx(turn.start_s, abs=0.002), turn
        for cue in turn.sentences:
            assert rms(cue.start_s, cue.end_s) > 300, cue
    for a, b in zip(rec.turns, rec.turns[1:], strict=False):
        assert rms(a.end_s + 0.03, b.start_s - 0.03) < 30, (a.end_s, b.start_s)


def test_both_faces_detected_at_640(made):
    rec = made[0]
    for t in (1.0, rec.turns[2].start_s + 0.7, rec.duration_s - 2):
        boxes = detect_faces(grab(rec.video_path, t, width=640)[0])
        assert len(boxes) == 2, (t, boxes)
        assert boxes[0].cx < 320 < boxes[1].cx


def _border_share(frame: np.ndarray, speaker: str) -> float:
    """Share of a tile's outline pixels that are the active-speaker yellow-green."""
    x, y = TILE_X[speaker], TILE_Y
    tile = frame[y : y + TILE_H, x : x + TILE_W].astype(int)
    b = BORDER_PX // 2  # the middle of the 4 px line, away from chroma bleed
    ring = np.concatenate([tile[b], tile[-1 - b], tile[:, b], tile[:, -1 - b]])
    return float(np.mean(np.all(np.abs(ring - BORDER_BGR) < 40, axis=1)))


def test_border_marks_the_speaker_mid_cue(made):
    rec = made[0]
    for speaker in (HOST, GUEST):
        cue = max((c for t in rec.turns for c in t.sentences if c.speaker == speaker),
                  key=lambda c: c.end_s - c.start_s)  # fmt: skip
        frame = grab(rec.video_path, (cue.start_s + cue.end_s) / 2)[0]
        listener = GUEST if speaker == HOST else HOST
        assert _border_share(frame, speaker) > 0.95, speaker
        assert _border_share(frame, listener) < 0.05, listener


def test_only_the_speaker_moves_their_mouth(made):
    """Lower-face change over 0.1 s, head drift taken out by aligning on the eyes."""
    rec = made[0]
    turn = max(rec.turns, key=lambda t: t.end_s - t.start_s)
    frames = grab(rec.video_path, turn.start_s + 0.6, width=640, frames=8, fps=10)
    boxes = detect_faces(frames[0])
    assert len(boxes) == 2
    grey = frames.mean(axis=3)
    motion = []
    for box in boxes:
        x0, x1 = int(box.x + box.w * 0.25), int(box.x + box.w * 0.75)
        mouth = slice(int(box.y + box.h * 0.7), int(box.y + box.h * 1.05))
        diffs = [np.abs(grey[i + 1, mouth, x0:x1] - grey[i, mouth, x0:x1]).mean()
                 for i in range(len(grey) - 1)]  # fmt: skip
        motion.append(float(np.mean(diffs)))
    talking, quiet = (motion[0], motion[1]) if turn.speaker == HOST else (motion[1], motion[0])
    assert talking > 2 * quiet, motion
