"""Real-media tier: the project's media code on real recordings, photos and signals.

Everything is read from $CLIPFLOW_REAL_MEDIA through the ``real_media`` fixture (its
MANIFEST.md says where each file comes from) and nothing is copied into the repository:
outputs go to pytest's temporary directories. Bounds are measured values plus a margin; the
measurements (pocketsphinx 5, opencv-python-headless 4.x, Debian ffmpeg, 2 cores) are in the
comments next to each bound.
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from blocks.settings import PipelineSettings
from media import ffmpeg
from media.errors import InputError
from media.framing.analysis import analyse_window
from media.framing.detection import detect_faces
from media.framing.framing_plan import plan_framing
from media.ingest import accept
from media.probe import probe
from media.render.audio import extract_speech_wav_argv
from media.transcript.asr import transcribe
from media.transcript.reader import read_transcript
from media.transcript.records import Transcript

pytestmark = pytest.mark.real_media

# === speech recognition ==========================================================================


@dataclass(frozen=True, slots=True)
class Speech:
    """One recording for ASR: its file, which channel, and a reference transcript if known."""

    id: str
    path: str  # relative to the real-media folder
    channel: int | None = None  # one channel of a stereo file; None: the downmix
    reference: str | None = None  # the words spoken, when a published transcript exists
    max_wer: float | None = None  # bound: the measured WER plus a margin


# The librosa .txt files beside the LibriSpeech excerpts hold licence metadata, not transcripts,
# and the dlib excerpt has none: those files check word times and coverage only. libri1 (one
# unbroken 14.5 s utterance, decoded on one core in ~4 s) is left out to keep the tier short;
# it passed the same checks when measured.
STEREO_TXT = "speech/conversation/fasterwhisper__stereo_diarization.txt"
SPEECH = [
    # Measured WER 0.32 (7/22: "and so" -> "and all", "americans" -> "america", both "ask" ->
    # "and", "for your country" -> "the lovely").
    Speech("jfk", "speech/single_speaker/whisper__jfk.flac", max_wer=0.45),
    # Measured 0.24 (4/17): "he" clipped at the utterance start, "who had vanished" -> "would
    # vanish".
    Speech(
        "stereo_left", "speech/conversation/fasterwhisper__stereo_diarization.wav", 0, max_wer=0.40
    ),
    # Measured 0.80 (4/5: "the rice it seems extremely pissed at"). Five words are too few to
    # bound one file more tightly; the pooled bound below counts them.
    Speech(
        "stereo_right", "speech/conversation/fasterwhisper__stereo_diarization.wav", 1, max_wer=1.0
    ),
    # Measured 0.20 (3/15: "one" -> "what", "nine oh" -> "i know"). The reference is the
    # manifest's reading of the digit string.
    Speech(
        "digits",
        "speech/single_speaker/vosk__test_digits.wav",
        reference="one zero zero zero one, nine oh two one oh, zero one eight zero three",
        max_wer=0.35,
    ),
    # Measured 0.89 (72/81): two people on a narrow-band line, talking over each other; the
    # reference is the text of pyannote's STM. pocketsphinx's limit, left out of the pooled
    # figure below; faster-whisper is the engine for such audio.
    Speech("pyannote", "speech/conversation/pyannote__sample.wav", max_wer=0.95),
    Speech("ami_dev00", "speech/conversation/ami_debug__dev00.wav"),
    Speech("ami_dev01", "speech/conversation/ami_debug__dev01.wav"),
    Speech("libri2", "speech/single_speaker/librosa__libri2_3436-172162-0000.ogg"),
    Speech("libri3", "speech/single_speaker/librosa__libri3_198-209-0000.ogg"),
    Speech("dlib_libri", "speech/single_speaker/dlib__librispeech_116-288045-0000.flac"),
]
# Measured 0.31 over the four clean references (18 errors / 59 words).
POOLED = ("jfk", "stereo_left", "stereo_right", "digits")
MAX_POOLED_WER = 0.40
# Speech louder than this (RMS over 50 ms) counts as speech when finding where it ends.
SPEECH_DBFS = -40.0


@dataclass(frozen=True, slots=True)
class Recognised:
    wav: Path
    duration_s: float
    pcm: np.ndarray  # float samples in [-1, 1]
    transcript: Transcript


def _reference(case: Speech, media: Path) -> str | None:
    if case.reference is not None:
        return case.reference
    if case.id == "jfk":
        return (media / "speech/single_speaker/whisper__jfk.txt").read_text()
    if case.id == "pyannote":
        stm = (media / "speech/conversation/pyannote__sample.stm").read_text().splitlines()
        turns = sorted((float(line.split()[3]), line.split(maxsplit=5)[5]) for line in stm)
        return " ".join(text for _, text in turns)
    if case.channel is not None:
        side = "LR"[case.channel]
        lines = (media / STEREO_TXT).read_text().splitlines()
        return next(line[2:] for line in lines if line.startswith(f"{side}:"))
    return None


def _speech_wav_argv(src: Path, out: Path, channel: int | None) -> list[str]:
    """The project's ASR extract, or the same with one channel picked instead of a downmix."""
    if channel is None:
        return extract_speech_wav_argv(str(src), str(out))
    return ffmpeg.ffmpeg_base() + ffmpeg.input_args(str(src)) + [
        "-map", "0:a:0", "-vn", "-af", f"pan=mono|c0=c{channel}", "-ar", "16000",
        "-c:a", "pcm_s16le", str(out)]  # fmt: skip


@pytest.fixture(scope="module")
def recognise(real_media: Path, tmp_path_factory: pytest.TempPathFactory):
    """Transcribe a case once per module (ASR is the slow part of this tier)."""
    folder = tmp_path_factory.mktemp("asr")
    done: dict[str, Recognised] = {}

    def get(case: Speech) -> Recognised:
        if case.id not in done:
            wav = folder / f"{case.id}.wav"
            ffmpeg.run(_speech_wav_argv(real_media / case.path, wav, case.channel), timeout_s=60)
            with wave.open(str(wav), "rb") as w:
                frames = w.readframes(w.getnframes())
                duration = w.getnframes() / w.getframerate()
            pcm = np.frombuffer(frames, dtype=np.int16).astype(float) / 32768
            done[case.id] = Recognised(wav, duration, pcm, transcribe(wav))
        return done[case.id]

    return get


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words): Levenshtein over words."""
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1], len(ref)


def test_word_errors_counts_edits() -> None:
    assert word_errors("Ask not, what", "ask not what") == (0, 3)
    assert word_errors("a b c d", "a x c") == (2, 4)  # one substitution, one deletion
    assert word_errors("a b", "a b c d") == (2, 2)  # insertions count against the reference


def _last_speech_s(pcm: np.ndarray, rate: int = 16_000, hop_s: float = 0.05) -> float:
    """End of the last 50 ms window louder than SPEECH_DBFS (an energy reading, not ASR)."""
    hop = int(rate * hop_s)
    frames = pcm[: len(pcm) // hop * hop].reshape(-1, hop)
    loud = np.flatnonzero(10 * np.log10(np.mean(frames**2, axis=1) + 1e-12) > SPEECH_DBFS)
    return (int(loud[-1]) + 1) * hop_s if len(loud) else 0.0


WITH_REFERENCE = [c for c in SPEECH if c.max_wer is not None]


def _errors(case: Speech, recognise, media: Path) -> tuple[int, int, str]:
    """(word errors, reference words, hypothesis) of one case."""
    reference = _reference(case, media)
    assert reference, case
    hypothesis = " ".join(w.text for w in recognise(case).transcript.words)
    return (*word_errors(reference, hypothesis), hypothesis)


@pytest.mark.parametrize("case", WITH_REFERENCE, ids=lambda c: c.id)
def test_asr_word_error_rate(case: Speech, recognise, real_media: Path) -> None:
    errors, n, hypothesis = _errors(case, recognise, real_media)
    print(f"WER {case.id}: {errors}/{n} = {errors / n:.2f}")  # shown by pytest -rP
    assert errors / n <= case.max_wer, f"WER {errors}/{n}: {hypothesis!r}"


def test_asr_pooled_word_error_rate(recognise, real_media: Path) -> None:
    counts = {c.id: _errors(c, recognise, real_media)[:2] for c in WITH_REFERENCE if c.id in POOLED}
    errors = sum(e for e, _ in counts.values())
    n = sum(n for _, n in counts.values())
    print(f"pooled WER: {errors}/{n} = {errors / n:.2f}")  # shown by pytest -rP
    assert errors / n <= MAX_POOLED_WER, f"pooled WER {errors}/{n} ({counts})"


@pytest.mark.parametrize("case", SPEECH, ids=lambda c: c.id)
def test_asr_word_times_are_ordered_and_inside_the_audio(case: Speech, recognise) -> None:
    got = recognise(case)
    info = probe(got.wav, source=False)
    assert (info.audio[0].codec, info.audio[0].sample_rate, info.audio[0].channels) == (
        "pcm_s16le", 16_000, 1)  # fmt: skip
    words = got.transcript.words
    assert words and got.transcript.source == "asr:pocketsphinx"
    # pocketsphinx reports 10 ms frames, so the last word may end up to one frame late.
    for w in words:
        assert 0.0 <= w.start_s < w.end_s <= got.duration_s + 0.01, w
        assert 0.0 <= w.confidence <= 1.0
    for a, b in zip(words, words[1:], strict=False):
        assert a.end_s <= b.start_s, (a, b)  # in order, never overlapping
    # Sentences partition the words in order, and span exactly their words.
    assert got.transcript.sentences[0].first_word == 0
    assert got.transcript.sentences[-1].last_word == len(words) - 1
    for s, nxt in zip(got.transcript.sentences, got.transcript.sentences[1:], strict=False):
        assert nxt.first_word == s.last_word + 1
    for s in got.transcript.sentences:
        assert (s.start_s, s.end_s) == (words[s.first_word].start_s, words[s.last_word].end_s)


@pytest.mark.parametrize("case", SPEECH, ids=[c.id for c in SPEECH])
def test_asr_transcribes_speech_up_to_its_end(case: Speech, recognise) -> None:
    """The last word ends near where the signal's energy says speech ends (within 1 s).

    Measured gaps (last loud window minus last word end): jfk 0.54 s (a loud tail after the
    last word), others -0.5 to 0.05 s. dlib_libri once lost 7.24 s here: its PCM length is a
    multiple of the VAD frame, and pocketsphinx's own segment loop never closed the final
    utterance.
    """
    got = recognise(case)
    last = _last_speech_s(got.pcm)
    assert got.transcript.end_s >= last - 1.0, (
        f"speech runs to {last:.2f} s, transcript ends at {got.transcript.end_s:.2f} s"
    )


RTTM = {
    "pyannote": "speech/conversation/pyannote__sample.rttm",
    "ami_dev00": "speech/conversation/ami_debug__dev00.rttm",
    "ami_dev01": "speech/conversation/ami_debug__dev01.rttm",
}


@pytest.mark.parametrize("case", [c for c in SPEECH if c.id in RTTM], ids=lambda c: c.id)
def test_asr_words_fall_in_the_annotated_speech(case: Speech, recognise, real_media) -> None:
    """Word times against the recordings' speaker annotations (RTTM): words sit where people
    speak, and most annotated speech gets words."""
    turns = [
        (float(f[3]), float(f[3]) + float(f[4]))
        for f in (line.split() for line in (real_media / RTTM[case.id]).read_text().splitlines())
        if f and f[0] == "SPEAKER"
    ]
    words = recognise(case).transcript.words
    assert words

    def in_speech(t: float, slack: float = 0.3) -> bool:
        return any(a - slack <= t <= b + slack for a, b in turns)

    inside = sum(in_speech((w.start_s + w.end_s) / 2) for w in words) / len(words)
    long_turns = [(a, b) for a, b in turns if b - a >= 1.0]
    heard = sum(any(a <= (w.start_s + w.end_s) / 2 <= b for w in words) for a, b in long_turns)
    print(f"{case.id}: {inside:.2f} of words in annotated speech; {heard}/{len(long_turns)} turns")
    assert inside >= 0.9
    assert heard >= 0.8 * len(long_turns)


def test_asr_confidences_are_word_posteriors(recognise) -> None:
    confidences = [w.confidence for c in WITH_REFERENCE for w in recognise(c).transcript.words]
    assert min(confidences) < 0.9, f"all {len(confidences)} confidences are >= 0.9"


def test_asr_rejects_a_silent_track(real_media: Path, tmp_path: Path) -> None:
    """A video whose audio stream is digitally silent: no transcript, and a message saying so."""
    src = real_media / "video/no_speech/liveportrait__d3_expressions.mp4"
    wav = tmp_path / "silent.wav"
    ffmpeg.run(extract_speech_wav_argv(str(src), str(wav)), timeout_s=60)
    with pytest.raises(InputError, match="no speech recognised"):
        transcribe(wav)


# === probe and ingest ============================================================================

# From MANIFEST.md: (file, video codec, width, height, r_frame_rate, audio rate or None, seconds).
VIDEOS = [
    ("talking_head/sadtalker__WDA_AlexandriaOcasioCortez_000.mp4", "mpeg4", 512, 512, 25, 16000,
     8.06),
    ("talking_head/sadtalker__WDA_KatieHill_000.mp4", "mpeg4", 512, 512, 25, 16000, 8.06),
    ("talking_head/videoretalking__face1.mp4", "h264", 700, 700, 30, 44100, 6.13),
    ("talking_head/videoretalking__face2.mp4", "h264", 844, 844, 25, 44100, 5.04),
    ("talking_head/videoretalking__face3.mp4", "h264", 590, 590, 25, 44100, 5.04),
    ("talking_head/videoretalking__face4.mp4", "h264", 700, 700, 30, 44100, 6.63),
    ("talking_head/videoretalking__face5.mp4", "h264", 524, 524, 25, 44100, 4.9),
    ("talking_head/liveportrait__d6.mp4", "h264", 480, 480, 30, 44100, 33.65),
    ("talking_head/liveportrait__d10.mp4", "h264", 512, 512, 30, 44100, 14.98),
    ("talking_head/liveportrait__d11.mp4", "h264", 512, 512, 25, 44100, 9.01),
    ("talking_head/liveportrait__d12.mp4", "h264", 512, 512, 25, 44100, 7.32),
    ("talking_head/liveportrait__d14.mp4", "h264", 512, 512, 30, 44100, 17.9),
    ("talking_head/liveportrait__d20.mp4", "h264", 480, 480, 25, 44100, 7.01),
    ("talking_head/liveportrait__s18.mp4", "h264", 1280, 720, 30, 44100, 9.43),
    ("talking_head/thinplate__driving_jackiechan.mp4", "h264", 410, 412, 25, 44100, 6.76),
    ("talking_head/real3dportrait__May_5s.mp4", "h264", 512, 512, 25, 48000, 5.02),
    ("no_speech/liveportrait__d9_webcam_room.mp4", "h264", 512, 480, 30, 44100, 19.6),
    ("no_speech/liveportrait__d13_webcam_selfie.mp4", "h264", 720, 1280, 30, None, 11.73),
    ("no_speech/liveportrait__d3_expressions.mp4", "h264", 512, 512, 30, 44100, 11.82),
    ("no_speech/liveportrait__d0_greenscreen.mp4", "h264", 512, 512, 25, None, 3.12),
    ("no_speech/autoeditor__example_timecode_voice.mp4", "h264", 1280, 720, 30, 48000, 42.45),
    ("no_speech/intel__asl_again.mkv", "h264", 640, 480, 30, None, 2.6),
    ("no_speech/intel__asl_sister.mkv", "h264", 640, 480, 30, None, 2.93),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "codec", "width", "height", "fps", "audio_hz", "seconds"), VIDEOS,
    ids=[v[0].split("/")[1] for v in VIDEOS])  # fmt: skip
def test_probe_reads_real_containers(
    real_media: Path, name, codec, width, height, fps, audio_hz, seconds
) -> None:
    info = probe(real_media / "video" / name)
    v = info.primary_video
    assert v is not None and len(info.video) == 1
    assert (v.codec, v.width, v.height, v.rotation) == (codec, width, height, 0)
    assert v.fps == pytest.approx(fps)
    assert info.duration_s == pytest.approx(seconds, abs=0.01)
    if audio_hz is None:
        assert info.audio == ()
    else:
        assert (info.audio[0].codec, info.audio[0].sample_rate) == ("aac", audio_hz)


def test_probe_reports_variable_frame_rate(real_media: Path) -> None:
    """face1.mp4 mixes 33 and 67 ms frames: nominal 30 fps, 22.1 fps on average."""
    v = probe(real_media / "video/talking_head/videoretalking__face1.mp4").video[0]
    assert v.fps == pytest.approx(30.0)
    assert v.avg_fps == pytest.approx(22.13, abs=0.05)


# The smallest min_clip_s the settings allow (ge=3.0): the demo clips are short, and the
# duration rule is not what these cases are about.
MIN_CLIP_S = 3.0
NO_AUDIO = "no audio stream (streams: h264 video)"
# What a user should get for each file: None = accepted, else the end of the rejection message.
# The silent d3 track is accepted on purpose: ingest checks streams; ASR then reports the
# silence (test_asr_rejects_a_silent_track). The voice over a face-less card is a valid source.
INGEST = [
    ("no_speech/autoeditor__example_timecode_voice.mp4", None),
    ("no_speech/intel__asl_again.mkv", NO_AUDIO),
    ("no_speech/intel__asl_sister.mkv", NO_AUDIO),
    ("no_speech/liveportrait__d0_greenscreen.mp4", NO_AUDIO),
    ("no_speech/liveportrait__d13_webcam_selfie.mp4", NO_AUDIO),
    ("no_speech/liveportrait__d3_expressions.mp4", None),
    ("no_speech/liveportrait__d9_webcam_room.mp4", None),
    ("talking_head/sadtalker__WDA_AlexandriaOcasioCortez_000.mp4", None),  # MPEG-4 part 2
    ("talking_head/videoretalking__face1.mp4", None),  # variable frame rate
    ("talking_head/liveportrait__s18.mp4", None),  # 1280x720
    ("talking_head/thinplate__driving_jackiechan.mp4", None),  # 410x412
    ("talking_head/real3dportrait__May_5s.mp4", None),  # 48 kHz audio
    ("talking_head/liveportrait__d10.mp4", None),
]


@pytest.mark.parametrize(("name", "rejection"), INGEST, ids=[n.split("/")[1] for n, _ in INGEST])
def test_accept_real_videos(
    real_media: Path, tmp_path: Path, name: str, rejection: str | None
) -> None:
    src = real_media / "video" / name
    uri = f"file://{src.name}"
    if rejection is not None:
        with pytest.raises(InputError) as err:
            accept(src, tmp_path / "sources", uri=uri, min_duration_s=MIN_CLIP_S)
        assert str(err.value) == f"{uri}: {rejection}"
        return
    got = accept(src, tmp_path / "sources", uri=uri, min_duration_s=MIN_CLIP_S)
    assert got.info.video and got.info.audio
    assert Path(got.local_path).parent == tmp_path / "sources"
    assert Path(got.local_path).read_bytes() == src.read_bytes()


def test_too_short_message_shows_the_shortfall(real_media: Path, tmp_path: Path) -> None:
    src = real_media / "video/talking_head/liveportrait__d10.mp4"  # 14.98 s
    with pytest.raises(InputError, match="shorter than the shortest clip") as err:
        accept(src, tmp_path / "sources", uri=src.name, min_duration_s=15.0)
    assert "15.0 s long" not in str(err.value), str(err.value)


# === transcripts =================================================================================


@pytest.mark.parametrize(
    "name", ["pyannote__sample.stm", "pyannote__sample.rttm", "ami_debug__dev00.rttm"]
)
def test_diarization_references_are_not_taken_for_transcripts(real_media: Path, name: str) -> None:
    """STM/RTTM sidecars (speaker turns) are refused with the formats that are expected."""
    with pytest.raises(InputError, match="expected WebVTT or SRT"):
        read_transcript(real_media / "speech/conversation" / name)


# === face detection ==============================================================================

# Faces per photo, counted by eye on the photos scaled to 640 px wide (MANIFEST.md notes are
# approximate). dlib's HOG detector (media/framing/detection.py) finds 57 of these 59 (recall 0.97)
# with no
# photo getting more boxes than faces; each box was checked by eye to sit on a face. Misses:
# the third (3/4-view) Emma panel and the tilted head at the top left of 2008_007676 (OpenCV's
# Haar cascade, used before, found 56). Not counted: the tiny crowd behind one bald_guys tile
# and the woman at the right edge of obama_and_biden, whose face is outside the frame.
FACES = {
    "3ddfa__emma.jpg": 3,  # three panels (the manifest says two)
    "deepface__couple.jpg": 2,
    "dlib__2007_007763.jpg": 7,
    "dlib__2008_002470.jpg": 6,
    "dlib__2008_007676.jpg": 7,
    "dlib__2009_004587.jpg": 2,
    "dlib__bald_guys.jpg": 24,  # 24 tiles with a face (the manifest says ~25)
    "facerec__biden.jpg": 1,
    "facerec__obama.jpg": 1,
    "facerec__obama_and_biden.jpg": 3,
    "facerec__two_people.jpg": 2,
    "skimage__astronaut.png": 1,
}
MIN_FACE_RECALL = 0.95  # measured 0.97 (57/59)
ANALYSIS_WIDTH = 640


@pytest.fixture(scope="module")
def face_counts(real_media: Path) -> dict[str, int]:
    """Boxes found per photo, each photo scaled to 640 px wide as analysis frames are."""
    import cv2

    found = {}
    for name in FACES:
        image = cv2.imread(str(real_media / "faces" / name))
        assert image is not None, name
        h, w = image.shape[:2]
        size = (ANALYSIS_WIDTH, round(h * ANALYSIS_WIDTH / w))
        found[name] = len(detect_faces(cv2.resize(image, size, interpolation=cv2.INTER_AREA)))
    return found


def test_face_recall_on_photos(face_counts: dict[str, int]) -> None:
    hits = sum(min(face_counts[n], expected) for n, expected in FACES.items())
    recall = hits / sum(FACES.values())
    assert recall >= MIN_FACE_RECALL, f"recall {recall:.2f}: found {face_counts}, want {FACES}"


def test_no_photo_gets_more_boxes_than_faces(face_counts: dict[str, int]) -> None:
    extra = {n: (face_counts[n], FACES[n]) for n in FACES if face_counts[n] > FACES[n]}
    assert not extra, f"(found, faces) where boxes outnumber faces: {extra}"


# === framing =====================================================================================

# (file, window start, window length or None for all of it, expected layout). Measured with the
# default settings (5 fps, 640 px): d10 75/75 samples with one face, worst offset 5.2 % of the
# crop width; s18 25/25, worst 6.3 %, the crop sits at x=569-585 (centred would be 438);
# the timecode card has no face in any sample.
FRAMING = [
    ("talking_head/liveportrait__d10.mp4", 0.0, None, "single"),
    ("talking_head/liveportrait__s18.mp4", 0.0, 5.0, "single"),
    ("no_speech/autoeditor__example_timecode_voice.mp4", 10.0, 5.0, "no_face"),
]


@pytest.mark.parametrize(
    ("name", "start_s", "length_s", "layout"), FRAMING, ids=[f[0].split("/")[1] for f in FRAMING]
)
def test_planned_crop_keeps_the_face_centred(
    real_media: Path, name: str, start_s: float, length_s: float | None, layout: str
) -> None:
    settings = PipelineSettings()
    path = real_media / "video" / name
    info = probe(path)
    v = info.video[0]
    duration = length_s if length_s is not None else info.duration_s
    analysis = analyse_window(
        str(path),
        start_s,
        duration,
        v.width,
        v.height,
        fps=settings.analysis_fps,
        width=settings.analysis_width,
    )
    plan = plan_framing(analysis, src_w=v.width, src_h=v.height, aspect=settings.aspect)
    assert plan.layout == layout
    assert plan.crop_w * 16 == pytest.approx(plan.crop_h * 9, abs=16)  # 9:16, even sides
    assert plan.crop_h == v.height - v.height % 2
    assert plan.keys[0].t == 0.0
    assert all(0 <= k.x <= v.width - plan.crop_w for k in plan.keys)
    if layout == "no_face":
        assert plan.keys == (plan.keys[0],) and plan.keys[0].x == (v.width - plan.crop_w) // 2
        return

    key_t = np.array([k.t for k in plan.keys])
    offsets = []
    for sample in analysis.samples:
        if not sample.faces:
            continue
        face = max(sample.faces, key=lambda f: f.box.area).box
        x = plan.keys[int(np.searchsorted(key_t, sample.t, side="right")) - 1].x
        offsets.append(abs(face.cx - (x + plan.crop_w / 2)) / plan.crop_w)
    assert len(offsets) >= 0.9 * len(analysis.samples), "the face was lost in many samples"
    centred = np.mean(np.array(offsets) <= settings.face_center_tolerance)
    assert centred >= settings.min_face_centered_ratio, (
        f"{centred:.0%} of samples centred; offsets {np.round(offsets, 3).tolist()}"
    )
