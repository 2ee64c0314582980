"""qa.plots and qa.report: the SVG builders on edge-case series, the page on hand-made reports,
then a real job directory (two generated 9:16 clips) opened in headless Chromium."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from media.transcript.records import Transcript, Word, sentences_from_words
from qa import plots
from qa.page import Thumb, _transcript_line, loudness_band, source_name, to_html
from qa.report import thumbnail_argv, transcript_facts, write_report
from tests.helpers import ffmpeg
from tests.qa.factories import make_report

INF = float("inf")
NAN = float("nan")
EVIL = '<script>alert("x")</script> & "quotes"'

# --- the SVG builders -----------------------------------------------------------------------

_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


def _coordinates(svg: str) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """The viewBox size and every (x, y) the SVG draws (points, lines, rects, circles, text)."""
    root = ET.fromstring(svg)
    _, _, w, h = (float(v) for v in root.attrib["viewBox"].split())
    xy: list[tuple[float, float]] = []
    for el in root.iter():
        a = el.attrib
        if "points" in a:
            nums = [float(v) for v in _NUMBERS.findall(a["points"])]
            xy += list(zip(nums[::2], nums[1::2], strict=True))
        for kx, ky in (("x", "y"), ("x1", "y1"), ("x2", "y2"), ("cx", "cy")):
            if kx in a and ky in a:
                xy.append((float(a[kx]), float(a[ky])))
        if el.tag.endswith("rect"):
            xy.append((float(a["x"]) + float(a["width"]), float(a["y"]) + float(a["height"])))
    return (w, h), xy


def assert_inside(svg: str) -> ET.Element:
    (w, h), xy = _coordinates(svg)
    assert xy, "nothing drawn"
    outside = [(x, y) for x, y in xy if not (0 <= x <= w and 0 <= y <= h)]
    assert not outside, f"{len(outside)} points outside the {w}x{h} viewBox: {outside[:5]}"
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    return ET.fromstring(svg)


def _drawn(root: ET.Element, tag: str) -> list[ET.Element]:
    return [el for el in root.iter() if el.tag.endswith(tag)]


SERIES = {
    "empty": [],
    "all -inf": [(0.0, -INF), (0.1, -INF)],
    "one point": [(1.0, -14.2)],
    "speech with pauses": [
        (i / 10, -14 + 6 * math.sin(i / 3) if i % 40 > 5 else -INF) for i in range(300)
    ],
    "far out of range": [(0.0, -200.0), (1.0, 40.0), (2.0, NAN), (50.0, -14.0)],
}


@pytest.mark.parametrize("name", SERIES)
@pytest.mark.parametrize("band", [(-14.0, 0.5), (None, None)])
def test_loudness_plot_stays_in_its_box(name: str, band: tuple[float | None, float | None]) -> None:
    root = assert_inside(
        plots.loudness_plot(
            SERIES[name], duration_s=30.0, target_lufs=band[0], tolerance_lu=band[1]
        )
    )
    finite = plots.finite(SERIES[name])
    drawn = _drawn(root, "polyline") + _drawn(root, "circle")
    assert bool(drawn) == bool(finite), "a line exactly when there is a finite sample"
    assert bool(root.findall(".//{*}rect[@class='band']")) == (band[0] is not None and bool(finite))
    if not finite:
        assert "no loudness measured" in ET.tostring(root, encoding="unicode")


def test_loudness_plot_breaks_the_line_at_silence() -> None:
    root = ET.fromstring(plots.loudness_plot(SERIES["speech with pauses"], duration_s=30.0))
    assert len(_drawn(root, "polyline")) == 8  # 30 s, a 0.6 s pause every 4 s


@pytest.mark.parametrize(
    ("face", "keys"),
    [
        ([], []),
        ([(0.0, 960.0, 400.0)], []),
        ([], [(0.0, 656)]),
        ([(0.0, 960.0, 400.0)], [(0.0, 656)]),
        ([(t / 2, 300 + 40 * t, 400) for t in range(40)], [(0.0, 0), (5.0, 200), (12.0, 1312)]),
        ([(0.0, NAN, NAN), (1.0, -50.0, 0.0), (2.0, 5000.0, 0.0)], [(3.0, 9999)]),  # clamped
    ],
)
def test_crop_plot_stays_in_its_box(face: list[tuple[float, ...]], keys: list[tuple]) -> None:
    svg = plots.crop_plot(face, keys, duration_s=20.0, src_w=1920, crop_w=608)
    root = assert_inside(svg)
    assert bool(root.findall(".//{*}polyline[@class='crop-centre']")) == bool(keys)
    if not face and not keys:
        assert "no framing recorded" in svg


def test_crop_centre_is_a_step_path_half_a_crop_right_of_the_keys() -> None:
    svg = plots.crop_plot([], [(0.0, 0), (10.0, 1312)], duration_s=20.0, src_w=1920, crop_w=608)
    root = ET.fromstring(svg)
    line = root.find(".//{*}polyline[@class='crop-centre']")
    assert line is not None
    pts = [tuple(map(float, p.split(","))) for p in line.attrib["points"].split()]
    f = plots.Frame(0.0, 20.0, 0.0, 1920.0)
    assert pts == [
        (round(f.px(0), 1), round(f.py(304), 1)),
        (round(f.px(10), 1), round(f.py(304), 1)),  # held until the next key: a cut
        (round(f.px(10), 1), round(f.py(1616), 1)),
        (round(f.px(20), 1), round(f.py(1616), 1)),
    ]


@pytest.mark.parametrize(
    "values",
    [{}, {"salience": 0.5}, {"a": 0.0, "b": 1.0, "c": 1.7, "d": -0.3, "e": NAN}],
)
def test_bar_list(values: dict[str, float]) -> None:
    root = assert_inside(plots.bar_list(values))
    bars = [r for r in _drawn(root, "rect") if r.attrib["fill"] == plots.BLUE]
    assert len(bars) == sum(math.isfinite(v) for v in values.values())


def test_thin_keeps_first_finite_sample_per_bin() -> None:
    series = [(i / 10, -INF if i in (0, 1) else float(i)) for i in range(30)]  # 10 Hz, 3 s
    assert plots.thin(series, 2.0) == [(0.2, 2.0), (0.5, 5.0), (1.0, 10.0), (1.5, 15.0),
                                       (2.0, 20.0), (2.5, 25.0)]  # fmt: skip
    assert plots.thin([], 2.0) == []
    with pytest.raises(ValueError, match="positive"):
        plots.thin(series, 0)


# --- report.json and the page on hand-made records ---------------------------------------


def test_report_json_keeps_the_contract_and_adds_series() -> None:
    report = make_report(["one", "two"], [-14.1, -13.8])
    text = json.dumps(report, allow_nan=False)  # -inf never reaches the JSON
    assert json.loads(text) == report
    clip = report["clips"][0]
    assert set(clip) >= {"index", "path", "start_s", "end_s", "duration_s", "text", "score",
                         "speaker", "qa"}  # fmt: skip
    assert set(clip["qa"]) >= {"integrated_lufs", "true_peak_dbtp", "face_centered_ratio",
                               "decode_errors", "codec", "passed"}  # fmt: skip
    momentary = clip["qa"]["momentary_lufs"]
    assert momentary[0][0] == 0.4  # the leading -inf samples are skipped
    assert 38 <= len(momentary) <= 40 and all(len(p) == 2 for p in momentary)  # 2 Hz over 20 s
    assert len({math.floor(t * 2) for t, _ in momentary}) == len(momentary)  # one per 0.5 s
    framing = clip["framing"]
    assert framing["keys"] == 2 and framing["crop_keys"] == [[0.0, 656], [10.0, 700]]
    assert len(framing["face_track"]) == 40 and len(framing["face_track"][0]) == 3
    assert [s["layout"] for s in framing["segments"]] == ["single", "screen_share"]
    assert framing["segments"][1]["screen"] == [0, 0, 1600, 1080]
    assert framing["segments"][1]["keys"] == [[10.0, 1700, 40]] and framing["cuts"] == [10.0]
    assert framing["camera"]["source_cuts"] == 1 and framing["camera"]["speaker_share"] == 0.9
    assert framing["camera"]["empty_share"] == 0.0  # both shots hold a face by design
    assert set(report) == {"job_id", "source", "clips", "qa", "cost", "timings", "selection",
                           "transcript"}  # fmt: skip
    assert set(clip["qa"]["codec"]) >= {"codec", "profile", "level", "pix_fmt", "color_primaries",
                                        "color_transfer", "color_space", "width", "height",
                                        "fps"}  # fmt: skip
    assert set(report["qa"]) == {"lu_spread", "passed", "checks"}
    assert all(set(c) >= {"name", "passed", "value", "threshold"} for c in report["qa"]["checks"])
    assert report["selection"] == {"method": "offline", "reason": ""}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def test_page_escapes_everything_from_the_transcript() -> None:
    report = make_report([EVIL, "fine"], [-14.0, -14.2], uri=f"/in/{EVIL}.mp4", job_id=EVIL)
    report["clips"][0]["title"] = EVIL
    report["clips"][0]["speaker"] = EVIL
    page = to_html(report)
    tags = _tags(page)
    assert [t for t, _ in tags].count("script") == 0
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert not any(k.startswith("on") for _, attrs in tags for k in attrs)


def test_page_lists_every_check_and_marks_the_failed_clip() -> None:
    report = make_report(["in band", "too quiet"], [-14.1, -16.0])
    page = to_html(report)
    assert "QA failed" in page and "QA passed" not in page
    rows = re.findall(r'<tr class="(fail)?"><td>([a-z_]+)</td>', page)
    assert [name for _, name in rows] == [c["name"] for c in report["qa"]["checks"]]
    assert {name for cls, name in rows if cls} == {"integrated_lufs", "lu_spread"}
    sections = re.findall(r'<section class="(clip(?: failed)?)" id="clip-(\d+)"', page)
    assert sections == [("clip", "1"), ("clip failed", "2")]
    second = page[page.index('id="clip-2"') :]
    assert "Failed: integrated_lufs" in second[: second.index("</section>")]
    assert page.count('class="plot loudness"') == 2 and page.count('class="plot crop"') == 2


def test_page_of_a_passing_job() -> None:
    page = to_html(make_report(["a"], [-14.0]), {1: Thumb("data:image/jpeg;base64,AAAA")})
    assert "QA passed" in page and "badge fail" not in page
    assert 'src="data:image/jpeg;base64,AAAA"' in page and 'src="clips/clip-01.mp4"' in page
    assert re.search(r"cost<b>\$0\.0002</b>", page) and "interview.mp4" in page
    assert "Shots: single → screen_share · 1 source cuts · on the speaker 90 %" in page


def test_small_helpers() -> None:
    assert source_name("s3://bucket/a/b.mp4") == "b.mp4" and source_name("/x/y.mov") == "y.mov"
    band = {"name": "integrated_lufs", "threshold": "-16 +/- 1 LUFS", "lo": -17.0, "hi": -15.0}
    assert loudness_band([band]) == (-16, 1)
    assert loudness_band(make_report(["a"], [-14.0])["qa"]["checks"]) == (-14, 0.5)
    assert loudness_band([{**band, "hi": None}]) == (None, None)
    assert loudness_band([]) == (None, None)
    argv = thumbnail_argv("clip.mp4", 30.0)
    assert argv[0] == "ffmpeg" and "fps=0.200000,scale=120:-2,tile=6x1" in argv
    assert argv[-1] == "pipe:1" and argv[argv.index("-frames:v") + 1] == "1"


# --- a real job directory in headless Chromium -------------------------------------------

CHROMIUM_TIMEOUT_S = 60


def _make_clip(path: Path, seconds: float, hz: int, volume_db: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s=360x640:r=30:d={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency={hz}:sample_rate=48000:duration={seconds}",
        "-af", f"volume={volume_db}dB", "-c:v", "libx264", "-preset", "ultrafast",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path),
    )  # fmt: skip


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 4 s 9:16 clips, measured for real (momentary loudness), and their report."""
    from media.render import loudness

    job = tmp_path_factory.mktemp("job")
    paths = [job / "clips" / f"clip-{i:02d}.mp4" for i in (1, 2)]
    for path, hz, gain in zip(paths, (440, 660), (7.8, -3.0), strict=True):
        _make_clip(path, 4.0, hz, gain)
    meters = [loudness.measure(str(p), momentary=True) for p in paths]
    report = make_report(
        [f"First clip says {EVIL}.", "Second clip."],
        [m.integrated_lufs for m in meters],
        durations=[4.0, 4.0],
    )
    for clip, meter in zip(report["clips"], meters, strict=True):
        clip["qa"]["momentary_lufs"] = [[round(t, 3), round(v, 2)] for t, v in
                                        plots.thin(meter.momentary)]  # fmt: skip
    started = time.perf_counter()
    write_report(job, report)
    print(f"write_report: {time.perf_counter() - started:.2f} s for 2 clips")
    return job


def test_written_report_embeds_thumbnail_strips(job_dir: Path) -> None:
    page = (job_dir / "report.html").read_text()
    strips = re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(strips) == 2
    for strip in strips:
        jpeg = base64.b64decode(strip)
        assert jpeg[:2] == b"\xff\xd8" and 1_000 < len(jpeg) < 100_000
    report = json.loads((job_dir / "report.json").read_text())
    assert "data:" not in json.dumps(report)  # thumbnails live in the page only


def test_missing_clip_is_noted_on_the_page(tmp_path: Path) -> None:
    write_report(tmp_path, make_report(["gone"], [-14.0]))
    assert "no thumbnails: clip-01.mp4 is missing" in (tmp_path / "report.html").read_text()
    assert {(tmp_path / f).stat().st_mode & 0o777 for f in ("report.html", "report.json")} == {
        0o644
    }


def _chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not on PATH (Debian: apt-get install chromium)")
    argv = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
        *args, page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _page_errors(stderr: str) -> list[str]:
    """Page console lines: ``INFO:CONSOLE:1] "msg", source: …`` (Chromium 156), older
    releases write ``CONSOLE(1)``; uncaught exceptions also arrive there as "Uncaught …"."""
    return [line for line in stderr.splitlines() if re.search(r"CONSOLE[:(]|Uncaught", line)]


def test_console_errors_are_caught(tmp_path: Path) -> None:
    """The check below is real: a page that logs an error makes it fail."""
    bad = tmp_path / "bad.html"
    bad.write_text("<title>x</title><script>console.error('boom');throw Error('kaboom')</script>")
    errors = _page_errors(_chromium(bad, tmp_path, "--dump-dom").stderr)
    assert any("boom" in line for line in errors) and any("Uncaught" in e for e in errors)


def test_report_opens_in_chromium(job_dir: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(
        job_dir / "report.html", tmp_path, f"--screenshot={shot}", "--window-size=1200,2400"
    )
    assert not _page_errors(done.stderr)
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = _chromium(job_dir / "report.html", tmp_path, "--dump-dom")
    assert not _page_errors(dom.stderr)
    tags = _tags(dom.stdout)
    ids = [a.get("id") for t, a in tags if t == "section"]
    assert ids == ["clip-1", "clip-2"]
    classes = [a.get("class") for t, a in tags if t == "svg"]
    assert classes.count("plot loudness") == 2 and classes.count("plot crop") == 2
    assert [t for t, _ in tags].count("script") == 0
    links = [a[k] or "" for _, a in tags for k in ("src", "href") if k in a]
    assert links and not [u for u in links if not u.startswith(("data:", "clips/"))]
    assert "QA failed" in dom.stdout or "QA passed" in dom.stdout


def test_report_json_is_strict_json_even_for_a_silent_clip() -> None:
    import json

    from qa.report import to_json

    text = to_json({"clips": [{"qa": {"integrated_lufs": float("-inf"), "lra": float("nan")}}]})
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text)["clips"][0]["qa"]["integrated_lufs"] is None


def test_the_transcript_section_says_where_the_words_came_from() -> None:
    words = tuple(
        Word(t, i * 0.5, i * 0.5 + 0.4, who) for i, (t, who) in enumerate(
            [("Hello.", "S1"), ("Hi", "S2"), ("there.", "S2")])
    )  # fmt: skip
    heard = Transcript(
        words, tuple(sentences_from_words(list(words))), "asr:faster-whisper",
        language="en", model="whisper-tiny.en",
    )  # fmt: skip
    facts = transcript_facts(heard)
    assert facts == {"source": "asr:faster-whisper", "model": "whisper-tiny.en",
                     "language": "en", "words": 3, "speakers": ["S1", "S2"]}  # fmt: skip
    line = _transcript_line(facts)
    assert "recognised by faster-whisper (whisper-tiny.en, language en)" in line
    assert "3 words, 2 speakers" in line
    assert "from the vtt transcript" in _transcript_line({"source": "vtt", "words": 9})


def test_each_clip_says_how_many_audio_renders_its_loudness_took() -> None:
    report = json.loads(json.dumps(make_report(["a", "b"], [-14.0, -14.0], audio_renders=[1, 2])))
    assert [c["audio_renders"] for c in report["clips"]] == [1, 2]
