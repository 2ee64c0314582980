"""Stage tasks called through ``.fn()``: the logic they wire, without a Prefect run."""

from __future__ import annotations

from itertools import pairwise

import pytest

from blocks.settings import PipelineSettings
from media import ingest
from media.selection.candidates import boundary_clean
from tasks.caching import content_cache_key, stable_digest
from tasks.records import SelectionMethod, Sidecar
from tasks.retries import is_transient
from tasks.selection import select_highlights, selection_rules
from tasks.transcript import load_transcript
from tests.generated_media import sample_fixture

# 30 s: speech recognition (pocketsphinx, ~0.3-0.6x real time here) is most of this module's
# time, and half a minute holds one clip's worth of talk as well as a whole minute did.
sample = sample_fixture(minutes=0.5, seed=5)


def test_without_a_transcript_speech_recognition_feeds_selection(sample, tmp_path) -> None:
    settings = PipelineSettings(home=tmp_path)
    src = ingest.accept(
        sample.video_path,
        tmp_path / "sources",
        uri=str(sample.video_path),
        min_duration_s=settings.min_clip_s,
    )
    transcribed = load_transcript.fn(src, None, None, settings)
    text, costs = transcribed.transcript, transcribed.costs
    assert text.source == "asr:pocketsphinx"
    assert len(text.words) > 30  # ~2.5 words/s of speech for 30 s, recognised roughly
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in pairwise(text.words))
    assert text.words[-1].end_s <= src.info.duration_s
    assert sorted(c.resource for c in costs) == ["asr", "cpu"]
    selection = select_highlights.fn(src, text, 5, settings)
    assert selection.method is SelectionMethod.OFFLINE and selection.costs == ()
    assert 1 <= len(selection.clips) <= 5
    for p in selection.clips:
        assert settings.min_clip_s <= p.duration_s <= settings.max_clip_s
        assert boundary_clean(text, p.start_s, p.end_s)


def test_sidecar_and_selection_share_rules(sample, tmp_path) -> None:
    settings = PipelineSettings(home=tmp_path, max_clips=2, min_gap_s=3)
    src = ingest.accept(
        sample.video_path, tmp_path / "sources", uri="talk.mp4", min_duration_s=settings.min_clip_s
    )
    sha, local = ingest.copy_hashed(sample.transcript_path, tmp_path / "t", label="talk.vtt")
    text = load_transcript.fn(src, Sidecar(sha, str(local)), "talk.vtt", settings).transcript
    assert text.source == "vtt" and set(text.speakers) == {"Alice Chen", "Bob Okafor"}
    clips = select_highlights.fn(src, text, 2, settings).clips
    assert len(clips) <= 2
    rules = selection_rules(settings, 2)
    assert (rules.max_clips, rules.min_gap_s) == (2, 3)


class _Task:
    def __init__(self, name, fn):
        self.name, self.fn = name, fn


class _Ctx:
    def __init__(self, task):
        self.task = task


def _stage(x):
    return x


def test_cache_keys_depend_on_stage_content_and_settings_not_on_home(tmp_path) -> None:
    a, b = PipelineSettings(home=tmp_path / "a"), PipelineSettings(home=tmp_path / "b")
    key = content_cache_key(_Ctx(_Task("render-clip", _stage)), {"sha": "1", "s": a})
    assert key.startswith("render-clip-")
    assert key == content_cache_key(_Ctx(_Task("render-clip", _stage)), {"sha": "1", "s": b})
    assert key != content_cache_key(_Ctx(_Task("frame-clip", _stage)), {"sha": "1", "s": a})
    assert key != content_cache_key(_Ctx(_Task("render-clip", _stage)), {"sha": "2", "s": a})
    louder = PipelineSettings(home=tmp_path / "a", target_lufs=-16)
    assert key != content_cache_key(_Ctx(_Task("render-clip", _stage)), {"sha": "1", "s": louder})
    assert stable_digest({"b": 1, "a": 2}) == stable_digest({"a": 2, "b": 1})
    # The same content under another name (an S3 URI, a local path) is the same work.
    named = content_cache_key(
        _Ctx(_Task("render-clip", _stage)), {"sha": "1", "s": a, "uri": "s3://b/k.mp4"}
    )
    assert named == key


def test_only_transient_failures_retry() -> None:
    from media.errors import FFmpegError, InputError, QAError, StorageError

    assert is_transient(StorageError("s3://b/k: 503"))
    assert is_transient(ConnectionResetError())
    assert not is_transient(InputError("x.mp4: no audio stream"))
    assert not is_transient(QAError("loudness"))
    assert not is_transient(FFmpegError(["ffmpeg"], 1, "Invalid data"))


def test_a_change_to_the_logic_a_stage_calls_changes_its_keys(tmp_path, monkeypatch) -> None:
    """Editing media/ (not only the task's own body) must not reuse stale results."""
    from tasks import caching

    ctx = _Ctx(_Task("render-clip", _stage))
    before = content_cache_key(ctx, {"sha": "1"})
    monkeypatch.setattr(caching, "code_digest", lambda: "another version of media/render.py")
    assert content_cache_key(ctx, {"sha": "1"}) != before


def test_the_ledger_is_priced_from_rates_after_the_fact() -> None:
    from blocks.settings import CostRates
    from tasks.costs import CostItem, price

    items = [
        CostItem("render", "cpu", 3600.0, "vcpu_s", 0.0),
        CostItem("render", "gpu", 1800.0, "gpu_s", 0.0),
        CostItem("ingest", "s3", 3, "requests", 0.0),
        CostItem("highlights", "llm", 1200, "tokens", 0.0123),  # an API's own bill
    ]
    rates = CostRates(cpu_vcpu_hour_usd=0.05, gpu_hour_usd=2.0, s3_request_usd=0.001)
    usd = [i.usd for i in price(items, rates)]
    assert usd == pytest.approx([0.05, 1.0, 0.003, 0.0123])


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("qa", "01M7YC"), "qa-01m7yc"),
        (("job", "Ab_C d"), "job-ab-c-d"),
        (("cost", "x--y"), "cost-x-y"),
    ],
)
def test_artifact_keys_are_made_valid(parts, key) -> None:
    from tasks.artifacts import artifact_key

    assert artifact_key(*parts) == key


def test_an_artifact_key_with_nothing_valid_is_refused() -> None:
    from tasks.artifacts import artifact_key

    with pytest.raises(ValueError, match="artifact key"):
        artifact_key("__", "!!")
