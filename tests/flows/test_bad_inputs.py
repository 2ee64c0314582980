"""Bad inputs through the real command line (issue 7, item 3): each one is rejected with a
clear message or turned into a correct result, and nothing that existed before is touched.

Every case runs ``clipflow run`` in-process under the session's Prefect test server, into one
``--out`` folder that already holds an earlier job, and checks: the exit code (2 rejected, 0 a
correct result), that stderr names the input and the reason, the job database's row, the
earlier job's files byte for byte, and the source's own bytes. Media is generated and tiny;
only the correct results that need a fresh render are full jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from media.probe import probe
from media.transcript.cues import parse_cues
from tests import bad_media as bad

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server", "_any_score")]


@dataclass(frozen=True)
class Media:
    sample: Path  # 18 s, two faces, speech, 1920×1080 30 fps
    vtt: Path
    tiny: Path  # 16 s test pattern + tone, 320×240, moov first
    tiny_plain: Path  # the same, moov last


@dataclass(frozen=True)
class Inputs:
    source: str
    transcript: str | None = None
    named: str = ""  # the input the message must name (default: the source)
    files: tuple[Path, ...] = ()  # local inputs that must stay byte-identical


@pytest.fixture(scope="module")
def _any_score():
    """An 18 s recording holds one short clip; the quality floor is not under test here."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPFLOW_MIN_CLIP_SCORE", "0")
        yield


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Media:
    from tests.generated_media import sample_recording

    root = tmp_path_factory.mktemp("bad-inputs")
    rec = sample_recording(tmp_path_factory, minutes=0.3, seed=3)
    tiny = bad.make_av(root / "tiny.mp4")
    plain = bad.make_av(root / "tiny-plain.mp4", faststart=False)
    return Media(rec.video_path, rec.transcript_path, tiny, plain)


@pytest.fixture(scope="module")
def earlier(media, tmp_path_factory) -> Path:
    """An earlier job's directory, in the --out folder every case writes to."""
    out = tmp_path_factory.mktemp("out")
    code = main(["run", str(media.sample), "--transcript", str(media.vtt), "--out", str(out),
                 "--max-clips", "1"])  # fmt: skip
    assert code == 0
    (job,) = [p for p in out.iterdir() if p.is_dir()]
    return job


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _sha(p) for p in root.rglob("*") if p.is_file()}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _job_rows(source_uri: str) -> dict[str, tuple[str, str | None]]:
    import sqlalchemy as sa

    from blocks.settings import PipelineSettings
    from tasks import jobs

    url = PipelineSettings().job_database_url
    jobs.ensure_schema(url)
    with jobs.get_engine(url).connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, status, failure_reason FROM jobs WHERE source_uri = :u"),
            {"u": source_uri},
        ).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def run_case(inputs: Inputs, reason: str | None, earlier: Path, capsys) -> Path | None:
    """Run one case and check what every case must hold; the new job dir for a result."""
    out = earlier.parent
    job_files, before_dirs = _tree(earlier), set(out.iterdir())
    sources = {p: _sha(p) for p in inputs.files}
    rows_before = _job_rows(inputs.source)
    argv = ["run", inputs.source, "--out", str(out), "--max-clips", "1"]
    if inputs.transcript:
        argv += ["--transcript", inputs.transcript]
    capsys.readouterr()
    code = main(argv)
    stdout, stderr = capsys.readouterr()

    assert _tree(earlier) == job_files, "an earlier job's output changed"
    assert {p: _sha(p) for p in inputs.files} == sources, "the input itself changed"
    new_rows = {k: v for k, v in _job_rows(inputs.source).items() if k not in rows_before}
    assert len(new_rows) == 1, new_rows
    (status, failure), new_dirs = new_rows.popitem()[1], set(out.iterdir()) - before_dirs
    assert (inputs.named or inputs.source) in stderr, stderr
    if reason is not None:
        assert code == 2, stderr
        assert reason in stderr, stderr
        assert status == "rejected" and reason in (failure or "")
        assert not new_dirs, "a rejected job left files in --out"
        return None
    assert code == 0, stderr
    assert status == "succeeded"
    (job,) = new_dirs
    assert Path(stdout.strip().splitlines()[-1]) == job
    assert json.loads((job / "report.json").read_text())["source"]["uri"] == inputs.source
    return job


# --- rejections ---------------------------------------------------------------------------


def _local(path: Path, data: bytes | None = None) -> Inputs:
    if data is not None:
        path.write_bytes(data)
    return Inputs(str(path), files=(path,))


def _sidecar(m: Media, path: Path, text: str, encoding: str = "utf-8") -> Inputs:
    path.write_bytes(text.encode(encoding))
    return Inputs(str(m.sample), str(path), named=str(path), files=(m.sample, path))


def _vtt(m: Media) -> str:
    return m.vtt.read_text(encoding="utf-8")


def _av(name: str, **kw) -> Callable[[Media, Path], Inputs]:
    return lambda m, t: _local(bad.make_av(t / name, **kw))


_CUT = "truncated: the 'mdat' box needs"
_LATE_CUE = "\n99\n00:05:00.000 --> 00:05:03.000\nAlice Chen: Said after the end.\n"
_GRAY = {"rate": "1/4", "source": "color=c=gray"}

# id: (make the inputs from the shared media and a temp dir, what stderr must say)
# fmt: off
REJECTIONS: dict[str, tuple[Callable[[Media, Path], Inputs], str]] = {
    "missing-file": (lambda m, t: Inputs(str(t / "missing.mp4")), "no such file"),
    "directory": (lambda m, t: Inputs(str(t)), "not a regular file"),
    "zero-bytes": (lambda m, t: _local(t / "empty.mp4", b""), "empty (0 bytes)"),
    "random-bytes": (lambda m, t: _local(t / "noise.mp4", np.random.default_rng(7).bytes(60_000)),
                     "not a readable media file"),
    "truncated-10": (lambda m, t: _local(bad.truncate(m.tiny, t / "c.mp4", 0.1)), _CUT),
    "truncated-50": (lambda m, t: _local(bad.truncate(m.tiny, t / "c.mp4", 0.5)), _CUT),
    "truncated-90": (lambda m, t: _local(bad.truncate(m.tiny, t / "c.mp4", 0.9)), _CUT),
    "moov-missing": (lambda m, t: _local(bad.without_moov(m.tiny_plain, t / "unfinished.mp4")),
                     "index (moov atom) is missing"),
    "audio-only": (_av("voice.m4a", video=False), "no video stream (streams: aac audio)"),
    "video-only": (_av("mute.mp4", audio=False), "no audio stream (streams: h264 video)"),
    "10-seconds": (_av("short.mp4", seconds=10), "10.00 s long, shorter than the shortest clip"),
    "header-claims-6h": (lambda m, t: _local(bad.claim_hours(m.tiny_plain, t / "liar.mp4", 6)),
                         "header claims 6.0 h but its streams end at 16.0 s"),
    "16x16-px": (_av("dot.mp4", size="16x16"), "16×16, smaller than 64 px"),
    "beyond-8k": (_av("huge.mp4", size="8192x4320", **_GRAY),
                  "8192×4320 (35.4 Mpx), larger than 8K UHD"),
    "ffconcat-list-named-mp4": (
        lambda m, t: _local(t / "list.mp4", f"ffconcat version 1.0\nfile '{m.tiny}'\n".encode()),
        "an ffmpeg concat list, not a recording"),
    "corrupt-vtt": (lambda m, t: _sidecar(m, t / "bad.vtt", bad.corrupt_timing(_vtt(m), 2)),
                    "cue 2: bad timestamp '00O00:"),
    "cues-beyond-duration": (lambda m, t: _sidecar(m, t / "long.vtt", _vtt(m) + _LATE_CUE),
                             "1 cue(s) start after the recording ends (first at 300.000 s"),
    "non-utf8-transcript": (
        lambda m, t: _sidecar(m, t / "cp1252.vtt", _vtt(m).replace("WEBVTT", "WEBVTT\n\nNOTE café"),
                              encoding="cp1252"),
        "transcript is not UTF-8 text"),
}
# fmt: on


@pytest.mark.parametrize("case", list(REJECTIONS), ids=list(REJECTIONS))
def test_rejected_with_the_input_and_reason_named(case, media, earlier, tmp_path, capsys) -> None:
    make, reason = REJECTIONS[case]
    run_case(make(media, tmp_path), reason, earlier, capsys)


def test_hls_playlist_is_refused_without_reading_what_it_points_at(
    media, earlier, tmp_path, capsys
) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(media.tiny.read_bytes())
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXTINF:16,\nfile://{secret}\n#EXT-X-ENDLIST\n")

    def age_atime() -> int:  # atime older than mtime: relatime then records the next read
        st = secret.stat()
        os.utime(secret, ns=(st.st_mtime_ns - 10**12, st.st_mtime_ns))
        return secret.stat().st_atime_ns

    before = age_atime()
    secret.read_bytes()
    assert secret.stat().st_atime_ns != before, "this filesystem records no reads (noatime)"
    before = age_atime()
    run_case(Inputs(str(playlist), files=(playlist,)), "an HLS playlist", earlier, capsys)
    assert secret.stat().st_atime_ns == before, "the playlist's target was read"


_ARMED: dict[str, Callable[[], None]] = {}


def _on_open(event: str, args: tuple) -> None:
    """Audit hook: the first time an armed file is opened for reading, change it then."""
    if event == "open" and isinstance(args[0], str | os.PathLike) and args[1] in ("r", "rb"):
        change = _ARMED.pop(os.fspath(args[0]), None)
        if change:
            change()


sys.addaudithook(_on_open)


@pytest.mark.parametrize("how", ["grows", "rewritten-in-place"])
def test_source_changing_while_it_is_read_is_refused(media, earlier, tmp_path, capsys, how):
    """A recording still being written (it grows) or replaced in place by a sync client (same
    size, new bytes) at the moment clipflow opens it."""
    src = tmp_path / "recording.mp4"
    src.write_bytes(media.tiny.read_bytes())

    def change() -> None:
        with open(src, "r+b") as f:  # noqa: PTH123 - "r+b" is not armed: no recursion
            data = b"\0" * 4096 if how == "grows" else f.read(4096)[::-1]
            f.seek(0, os.SEEK_END if how == "grows" else os.SEEK_SET)
            f.write(data)
            os.utime(f.fileno(), ns=(0, src.stat().st_mtime_ns + 10**9))

    _ARMED[str(src)] = change
    try:
        run_case(Inputs(str(src)), "changed while it was read", earlier, capsys)
    finally:
        _ARMED.pop(str(src), None)


# --- correct results ----------------------------------------------------------------------


def _clip(job: Path) -> tuple[dict, Path]:
    report = json.loads((job / "report.json").read_text())
    clip = report["clips"][0]
    assert clip["qa"]["passed"] and report["qa"]["passed"]
    return clip, job / clip["path"]


def test_symlink_source_gives_clips_of_its_target(media, earlier, tmp_path, capsys) -> None:
    link = tmp_path / "latest.mp4"
    link.symlink_to(media.sample)
    job = run_case(Inputs(str(link), str(media.vtt), files=(media.sample,)), None, earlier, capsys)
    report = json.loads((job / "report.json").read_text())
    assert report["source"]["sha256"] == _sha(media.sample)
    assert link.is_symlink() and link.resolve() == media.sample


def _upright(clip: dict, path: Path, earlier: Path) -> None:
    """The clip shows what the unrotated recording's clip shows, the right way up."""
    first, first_path = _clip(earlier)
    assert (clip["start_s"], clip["end_s"]) == (first["start_s"], first["end_s"])
    mid = clip["duration_s"] / 2
    a, b = bad.grey_frame(path, mid), bad.grey_frame(first_path, mid)
    assert np.abs(a - b).mean() < np.abs(a - b[::-1]).mean() / 3
    assert clip["qa"]["face_centered_ratio"] >= 0.9


def _cfr30(clip: dict, path: Path, earlier: Path) -> None:
    v = probe(path, source=False).video[0]
    assert (v.fps, v.avg_fps) == (pytest.approx(30.0), pytest.approx(30.0, abs=0.05))
    assert v.nb_frames == pytest.approx(clip["duration_s"] * 30, abs=2)
    assert clip["qa"]["codec"]["fps"] == pytest.approx(30.0)


def _even(clip: dict, path: Path, earlier: Path) -> None:
    v = probe(path, source=False).video[0]
    assert v.width % 2 == 0 and v.height % 2 == 0 and v.pix_fmt == "yuv420p"
    assert v.height == pytest.approx(v.width * 16 / 9, abs=2)


# id: (make the recording from the sample, check its clip against the earlier job's)
# fmt: off
REMADE: dict[str, tuple[Callable[[Path, Path], Path], Callable[[dict, Path, Path], None]]] = {
    "rotation-metadata": (bad.rotated, _upright),
    "240-fps": (lambda s, d: bad.reencode(s, d, "scale=640:360,fps=240", "-r", "240"), _cfr30),
    "odd-dimensions": (lambda s, d: bad.reencode(s, d, "scale=961:541", "-pix_fmt", "yuv444p"),
                       _even),
}
# fmt: on


# Each is a full job (~40 s on 2 cores): rotation in the default run, the other two with -m slow.
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=[pytest.mark.slow] if c != "rotation-metadata" else []) for c in REMADE],
    ids=list(REMADE),
)
def test_awkward_recording_gives_a_correct_clip(case, media, earlier, tmp_path, capsys) -> None:
    make, check = REMADE[case]
    src = make(media.sample, tmp_path / f"{case}.mp4")
    job = run_case(Inputs(str(src), str(media.vtt), files=(src,)), None, earlier, capsys)
    check(*_clip(job), earlier)


S3_KEYS = {
    "space": "zoom/team call 2026-11-20.mp4",
    "unicode": "zoom/Интервью – café 🎙.mp4",
    "dot-dot": "uploads/../../../escape/talk.mp4",
}


@pytest.mark.parametrize("case", list(S3_KEYS), ids=list(S3_KEYS))
def test_s3_keys_that_need_care_give_clips(
    case, media, earlier, s3_server, tmp_path, capsys, monkeypatch
) -> None:
    """Same bytes as the earlier job, so its stages come from the cache: only the key differs."""
    import boto3

    from blocks.settings import PipelineSettings

    for name, value in [("S3_ENDPOINT_URL", s3_server), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing")]:  # fmt: skip
        monkeypatch.setenv(f"CLIPFLOW_{name}", value)
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    s3.create_bucket(Bucket="inbox")
    key = S3_KEYS[case]
    s3.upload_file(str(media.sample), "inbox", key)
    home = PipelineSettings().work_dir.parent.parent
    before = set(home.rglob("*"))

    job = run_case(Inputs(f"s3://inbox/{key}", str(media.vtt)), None, earlier, capsys)

    body = s3.get_object(Bucket="inbox", Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == _sha(media.sample)  # the object is unchanged
    made = set(home.rglob("*")) - before
    assert not any("escape" in p.parts for p in made), made  # no key wrote outside its folder
    assert json.loads((job / "report.json").read_text())["source"]["sha256"] == _sha(media.sample)


# --- results checked at the stage that decides them ---------------------------------------


def _plan(capsys, *args: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = main(["plan", *args, "--max-clips", "1", "--json"])
    stdout, stderr = capsys.readouterr()
    return code, json.loads(stdout) if code == 0 else {}, stderr


def test_8k_uhd_is_accepted_and_planned(media, tmp_path, capsys) -> None:
    """7680×4320 is the largest accepted frame; one second each at start, middle, end decodes."""
    src = bad.make_av(tmp_path / "8k.mp4", seconds=18, size="7680x4320", rate="1",
                      source="color=c=gray")  # fmt: skip
    before = _sha(src)
    code, plan, stderr = _plan(capsys, str(src), "--transcript", str(media.vtt),
                               "--out", str(tmp_path / "p.json"))  # fmt: skip
    assert code == 0, stderr
    assert plan["source_sha256"] == before == _sha(src)
    assert len(plan["clips"]) == 1 and 15 <= plan["clips"][0]["duration_s"] <= 18


def _said_once(text: str, media: Media) -> None:
    """The clip's words are a stretch of what was said, none repeated by the overlaps."""
    spoken = " ".join(c.text for c in parse_cues(_vtt(media), name="vtt"))
    assert text in spoken, (text, spoken)


def test_overlapping_cues_are_read_once_each(media, tmp_path, capsys) -> None:
    """Cues that overlap their neighbours by a second (rolling captions) give a clip whose text
    says every sentence once, in order (checked at selection: ``clipflow plan``)."""
    vtt = tmp_path / "overlap.vtt"
    vtt.write_text(bad.overlapping(_vtt(media), by_s=1.0), encoding="utf-8")
    code, plan, stderr = _plan(capsys, str(media.sample), "--transcript", str(vtt),
                               "--out", str(tmp_path / "p.json"))  # fmt: skip
    assert code == 0, stderr
    _said_once(plan["clips"][0]["text"], media)


@pytest.mark.slow
def test_overlapping_cues_full_job(media, earlier, tmp_path, capsys) -> None:
    vtt = tmp_path / "overlap.vtt"
    vtt.write_text(bad.overlapping(_vtt(media), by_s=1.0), encoding="utf-8")
    inputs = Inputs(str(media.sample), str(vtt), files=(media.sample, vtt))
    clip, _ = _clip(run_case(inputs, None, earlier, capsys))
    _said_once(clip["text"], media)
