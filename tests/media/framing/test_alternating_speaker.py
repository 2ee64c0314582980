"""Two people in a gallery-view call take turns; every rendered clip keeps whoever holds the
floor centred.

A generated one-minute sample (:func:`media.sample.generator.make_sample`: the host, Alice Chen, in
the
left tile, the guest, Bob Okafor, in the right one; speakers alternate every few seconds) goes
through the pipeline's own steps without Prefect: clip selection on the sidecar transcript,
framing (``analyse_window`` + ``plan_framing``, as ``tasks.framing.frame_clip``) and the render
plan (``media.render.plan``, as ``tasks.render.render_clip`` carries it out, audio by one
``media.render.audio`` pass). Each rendered clip is then sampled at 4 fps and its faces
detected; a sample passes when the face on the centre line (within the
QA tolerance) is the one of the person holding the floor.

Who holds the floor comes from the VTT: turns are runs of one speaker's cues, and a turn takes
the floor only if it lasts the 1.5 s switch hold (shorter ones are interjections the camera
rightly ignores). Samples within 1.5 s after the start of any turn are not counted: the hold
rule allows the camera that long to follow, and the render's frame timing is not exact to the
frame at a cut.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from blocks.settings import PipelineSettings
from media import ffmpeg
from media.framing.analysis import analyse_window
from media.framing.camera_metrics import measure_plan
from media.framing.detection import detect_faces
from media.framing.framing_plan import plan_framing
from media.framing.speakers import MIN_HOLD_S, clip_speech
from media.probe import probe
from media.render import audio
from media.render.encode import EncodeSpec
from media.render.plan import RenderOptions, RenderPlan, plan_render
from media.sample.generator import TILE_W, TILE_X
from media.selection.candidates import SelectionRules, select
from media.transcript.reader import read_transcript
from qa.measure import face_sample_argv, subject_faces
from tests.generated_media import sample_fixture

# Generating the sample costs ~35 s (espeak-ng reads every line of the script once, and the
# tiles' video loops are rendered): slower than a unit test.
pytestmark = pytest.mark.e2e

SAMPLE_FPS = 4.0  # output frames checked per second
CHECK_W, CHECK_H = 360, 640  # output frames are scaled to this for face detection
# The framed face fills about a third of the frame width: not searching for faces under 15 %
# of it (the detector's default is 11 %) roughly halves the detection cost, same boxes.
MIN_FACE = 0.15
MIN_RATIO = 0.95


@dataclass(frozen=True, slots=True)
class Floor:
    """A turn that held the floor: ``speaker`` from ``start`` (s, clip-relative) on."""

    start: float
    end: float
    speaker: str


def floors(sentences, offset: float) -> tuple[list[Floor], list[float]]:
    """Turns (runs of one speaker's sentences) long enough to take the floor, and the start of
    every turn, long or short, clip-relative."""
    runs: list[list] = []
    for s in sentences:
        if runs and runs[-1][2] == s.speaker:
            runs[-1][1] = s.end_s - offset
        else:
            runs.append([s.start_s - offset, s.end_s - offset, s.speaker])
    held = [Floor(a, b, who) for a, b, who in runs if b - a >= MIN_HOLD_S]
    return held, [a for a, _, _ in runs]


def holder(held: list[Floor], t: float) -> str | None:
    """Speaker of the last turn that took the floor at or before ``t``."""
    before = [f for f in held if f.start <= t]
    return before[-1].speaker if before else None


def person_at(source_x: float) -> str | None:
    """Whose tile a source x coordinate falls in."""
    for name, x0 in TILE_X.items():
        if x0 <= source_x < x0 + TILE_W:
            return name
    return None


sample = sample_fixture(minutes=1, seed=2)


def render_clip(src: str, clip, framed, info, work: Path, settings: PipelineSettings) -> RenderPlan:
    """The render stage's plan, carried out with the clip audio rendered once (no loudness
    loop)."""
    options = RenderOptions(
        aspect=settings.aspect, max_fps=settings.max_fps, no_face_fill=settings.no_face_fill,
        burn_captions=False,
        # superfast, not the default veryfast: the picture is all this test looks at.
        encode=EncodeSpec("libx264", "superfast", settings.crf),
    )  # fmt: skip
    plan = plan_render(clip, framed, info.video[0], source_path=src, folder=work, options=options)
    ffmpeg.run(
        audio.clip_audio_argv(
            src, str(plan.audio_path), start_s=clip.start_s, duration_s=clip.duration_s,
            gain_db=0.0, ceiling_dbtp=settings.max_true_peak_dbtp,
        )
    )  # fmt: skip
    assert plan.sendcmd_path is not None and plan.sendcmd is not None  # a gallery: a moving crop
    plan.sendcmd_path.write_text(plan.sendcmd)
    ffmpeg.run(plan.argv)
    return plan


def sampled_subjects(path: str):
    """(clip time, subject face box at CHECK_W×CHECK_H or None) at SAMPLE_FPS."""
    argv = face_sample_argv(path, fps=SAMPLE_FPS, width=CHECK_W, height=CHECK_H)
    frames = [
        detect_faces(
            np.frombuffer(buf, np.uint8).reshape(CHECK_H, CHECK_W, 3), min_size_frac=MIN_FACE
        )
        for buf in ffmpeg.stream(argv, frame_bytes=CHECK_W * CHECK_H * 3)
    ]
    return [(k / SAMPLE_FPS, box) for k, box in enumerate(subject_faces(frames))]


def test_the_speaking_face_is_centred_in_every_clip(sample, tmp_path):
    settings = PipelineSettings(home=tmp_path)
    src = str(sample.video_path)
    info = probe(sample.video_path)
    width, height = info.video[0].display_size
    text = read_transcript(sample.transcript_path, duration_s=info.duration_s)
    rules = SelectionRules(
        max_clips=settings.max_clips, min_clip_s=settings.min_clip_s,
        max_clip_s=settings.max_clip_s, min_gap_s=settings.min_gap_s,
        lead_in_s=settings.lead_in_s, tail_out_s=settings.tail_out_s,
    )  # fmt: skip
    plans = select(text, rules)
    assert plans, "the sample yields at least one clip"

    counted = passed = excluded = changes = 0
    failures = []
    for plan in plans:
        began = time.perf_counter()
        sentences = text.sentences[plan.first_sentence : plan.last_sentence + 1]
        speech = clip_speech(text, plan)
        analysis = analyse_window(
            src, plan.start_s, plan.duration_s, width, height,
            fps=settings.analysis_fps, width=settings.analysis_width,
        )  # fmt: skip
        framed = plan_framing(
            analysis, src_w=width, src_h=height, aspect=settings.aspect, speech=speech
        )
        assert framed.layout == "two_shot"
        work = tmp_path / f"clip-{plan.index:02d}"
        work.mkdir()
        rendered = render_clip(src, plan, framed, info, work, settings)
        out = str(rendered.encoded_path)
        out_w = probe(out).video[0].width

        held, starts = floors(sentences, plan.start_s)
        changes += len(starts) - 1
        key_t = np.array([k.t for k in framed.keys])
        for t, box in sampled_subjects(out):
            if t >= plan.duration_s or any(a <= t < a + MIN_HOLD_S for a in starts):
                excluded += 1
                continue
            expected = holder(held, t)
            if expected is None:  # before anyone in the clip has held the floor
                excluded += 1
                continue
            counted += 1
            if box is None:
                failures.append((plan.index, t, expected, "no face"))
                continue
            centred = abs(box.cx - CHECK_W / 2) <= settings.face_center_tolerance * CHECK_W
            key = framed.keys[int(np.searchsorted(key_t, t + 1e-6, side="right")) - 1]
            shown = person_at(key.x + box.cx / CHECK_W * framed.crop_w)
            if centred and shown == expected:
                passed += 1
            else:
                failures.append((plan.index, t, expected, f"{shown}, centred={centred}"))
        m = measure_plan(framed, plan.duration_s, rendered.fps)
        print(
            f"\nclip {plan.index}: {plan.start_s:.1f}-{plan.end_s:.1f} s, {len(starts)} turns, "
            f"{len(framed.keys)} keys, output {out_w} px wide; camera: {m.cuts} cuts, "
            f"{m.reversals_per_s:.3f} reversals/s, p99 {m.p99_speed_px:.1f} px/frame, "
            f"max {m.max_speed_px:.1f}; {time.perf_counter() - began:.1f} s"
        )

    ratio = passed / counted if counted else 0.0
    print(
        f"speaking face centred in {passed}/{counted} counted samples ({ratio:.1%}); "
        f"{excluded} excluded (within {MIN_HOLD_S} s of a turn start, or past the end); "
        f"{changes} speaker changes; failures: {failures}"
    )
    assert changes >= 3, "the clips must cover several speaker turns to test anything"
    assert counted >= 30
    assert ratio >= MIN_RATIO, failures
