"""Sidecar transcripts beside an S3 recording: the pure choice and deadline, then the search
against moto's S3 server on loopback (already there, arriving during the wait, never coming,
an old recording, a word-level JSON, a JSON that is not a transcript), and agreement with the
nightly sweep's inbox."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from blocks.settings import PipelineSettings
from tasks import inbox, sidecars, storage
from tasks.sidecars import SIDECAR_SUFFIXES, find_sidecar, pick_sidecar, stem_of, wait_left_s

T0 = datetime(2026, 12, 7, 14, 0, 0, tzinfo=UTC)
WORDS_JSON = b'{"segments": [{"start": 0.0, "end": 1.5, "text": " Hello there."}]}'
METADATA_JSON = b'{"meeting": "Weekly sync", "host": "Ada", "duration_s": 2712}'  # Zoom-like


# --- pure logic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "present", "expected"),
    [
        ("zoom/a.mp4", {"zoom/a.mp4"}, None),
        ("zoom/a.mp4", {"zoom/a.vtt"}, "zoom/a.vtt"),
        ("zoom/a.mp4", {"zoom/a.json", "zoom/a.srt", "zoom/a.vtt"}, "zoom/a.vtt"),  # VTT first
        ("zoom/a.mp4", {"zoom/a.json", "zoom/a.srt"}, "zoom/a.srt"),
        ("zoom/a.mp4", {"zoom/a.json"}, "zoom/a.json"),
        ("zoom/a.b.mp4", {"zoom/a.vtt", "zoom/a.b.srt"}, "zoom/a.b.srt"),  # the last suffix only
        ("zoom/a.mp4", {"zoom/ab.vtt", "a.vtt", "zoom/a.VTT", "zoom/a.mp4.vtt"}, None),
        ("zoom/café talk.mov", {"zoom/café talk.json"}, "zoom/café talk.json"),
    ],
)
def test_pick_sidecar(key: str, present: set[str], expected: str | None) -> None:
    assert pick_sidecar(key, present) == expected


def test_stem_of() -> None:
    assert stem_of("zoom/a.b.mp4") == "zoom/a.b"
    assert stem_of("zoom.d/a") == "zoom.d/a"


@pytest.mark.parametrize(
    ("age_s", "wait_s", "left"),
    [
        (0, 60, 60),  # just uploaded: the whole wait
        (15, 60, 45),
        (60, 60, 0),
        (86_400, 60, 0),  # uploaded yesterday: no wait
        (-30, 60, 60),  # upload time ahead of "now" (skew): never more than the wait
        (0, 0, 0),  # waiting switched off
    ],
)
def test_wait_left_s(age_s: float, wait_s: float, left: float) -> None:
    assert wait_left_s(T0, T0 + timedelta(seconds=age_s), wait_s) == left


def test_server_time_reads_the_date_header_else_this_clock() -> None:
    got = sidecars.server_time({"date": "Mon, 07 Dec 2026 14:00:00 GMT"})
    assert got == T0
    assert abs((sidecars.server_time({}) - datetime.now(UTC)).total_seconds()) < 5


def test_the_inbox_and_find_sidecar_agree_on_suffixes(tmp_path: Path) -> None:
    assert inbox.SIDECAR_SUFFIXES is SIDECAR_SUFFIXES
    assert set(SIDECAR_SUFFIXES) == {".vtt", ".srt", ".json"}
    for suffix in SIDECAR_SUFFIXES:
        folder = tmp_path / suffix.strip(".")
        folder.mkdir()
        (folder / "talk.mp4").write_bytes(b"x")
        (folder / f"talk{suffix}").write_bytes(WORDS_JSON)
        [item] = inbox.list_local(folder, inbox.DEFAULT_SUFFIXES)
        assert item.transcript == str(folder / f"talk{suffix}")


def test_the_local_inbox_passes_over_a_json_that_is_not_a_transcript(tmp_path: Path) -> None:
    for name, body in [("a.mp4", b"x"), ("a.json", METADATA_JSON), ("b.mp4", b"x")]:
        (tmp_path / name).write_bytes(body)
    (tmp_path / "b.json").write_bytes(WORDS_JSON)
    found = {Path(i.uri).name: i.transcript for i in inbox.list_local(tmp_path, [".mp4"])}
    assert found == {"a.mp4": None, "b.mp4": str(tmp_path / "b.json")}


def test_local_sources_never_wait(tmp_path: Path) -> None:
    (tmp_path / "talk.mp4").write_bytes(b"x")
    (tmp_path / "talk.vtt").write_text("WEBVTT\n")
    settings = PipelineSettings(home=tmp_path, sidecar_wait_s=3600)
    assert find_sidecar.fn(str(tmp_path / "talk.mp4"), settings) is None


# --- against moto's S3 server --------------------------------------------------------------


def _settings(endpoint: str, wait_s: float) -> PipelineSettings:
    return PipelineSettings(
        s3_endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        sidecar_wait_s=wait_s,
    )


@pytest.fixture
def bucket(s3_server: str) -> str:
    """A fresh bucket per test, so tests never see each other's objects."""
    name = f"sidecars-{uuid.uuid4().hex[:12]}"
    storage.s3_client(_settings(s3_server, 0)).create_bucket(Bucket=name)
    return name


def _put(s3_server: str, bucket: str, key: str, body: bytes = b"x") -> None:
    storage.s3_client(_settings(s3_server, 0)).put_object(Bucket=bucket, Key=key, Body=body)


@pytest.mark.timeout(30)
def test_a_sidecar_already_there_is_used_at_once(s3_server: str, bucket: str) -> None:
    _put(s3_server, bucket, "zoom/talk.mp4")
    _put(s3_server, bucket, "zoom/talk.srt")
    _put(s3_server, bucket, "zoom/talk-2.vtt")  # another stem
    # Found at once: the test's timeout is shorter than the minute's wait.
    found = find_sidecar.fn(f"s3://{bucket}/zoom/talk.mp4", _settings(s3_server, 60))
    assert found == f"s3://{bucket}/zoom/talk.srt"


@pytest.mark.timeout(30)
def test_a_sidecar_uploaded_during_the_wait_is_picked_up(s3_server: str, bucket: str) -> None:
    _put(s3_server, bucket, "zoom/talk.mp4")
    later = threading.Timer(1.0, _put, (s3_server, bucket, "zoom/talk.vtt", b"WEBVTT\n"))
    later.start()
    try:
        found = find_sidecar.fn(f"s3://{bucket}/zoom/talk.mp4", _settings(s3_server, 4))
    finally:
        later.join()
    assert found == f"s3://{bucket}/zoom/talk.vtt"


@pytest.mark.timeout(30)
def test_none_within_the_wait_gives_none_after_the_deadline(s3_server: str, bucket: str) -> None:
    _put(s3_server, bucket, "zoom/talk.mp4")
    polls: list[float] = []
    client = storage.s3_client(_settings(s3_server, 0))
    loc = storage.S3Location(bucket, "zoom/talk.mp4")

    def sleep(s: float) -> None:
        polls.append(s)
        time.sleep(s)

    uploaded, _ = sidecars.uploaded_and_now(client, loc)
    assert sidecars.await_sidecar(client, loc, 2, poll_s=0.5, sleep=sleep) is None
    # It waited until the upload time plus the wait, by the server's (here: this) clock.
    assert datetime.now(UTC) >= uploaded + timedelta(seconds=2)
    assert len(polls) >= 2 and all(0 < s <= 0.5 for s in polls)


@pytest.mark.timeout(30)
def test_an_old_recording_does_not_wait(s3_server: str, bucket: str) -> None:
    _put(s3_server, bucket, "zoom/talk.mp4")
    time.sleep(2.1)  # now older than its sidecar wait of 1 s, by the server's clock too
    client = storage.s3_client(_settings(s3_server, 0))
    loc = storage.S3Location(bucket, "zoom/talk.mp4")
    slept: list[float] = []
    assert sidecars.await_sidecar(client, loc, 1, sleep=slept.append) is None
    assert slept == []  # looked once, never polled


@pytest.mark.timeout(30)
def test_a_word_level_json_beside_it_is_found(s3_server: str, bucket: str) -> None:
    _put(s3_server, bucket, "talk.mov")
    _put(s3_server, bucket, "talk.json", WORDS_JSON)
    found = find_sidecar.fn(f"s3://{bucket}/talk.mov", _settings(s3_server, 0))
    assert found == f"s3://{bucket}/talk.json"


@pytest.mark.timeout(30)
def test_a_json_that_is_not_a_transcript_is_passed_over(
    s3_server: str, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A recording tool's metadata beside the recording is not its words: the job goes on to
    speech recognition (None) instead of being rejected for an unreadable transcript."""
    _put(s3_server, bucket, "talk.mov")
    _put(s3_server, bucket, "talk.json", METADATA_JSON)
    with caplog.at_level("WARNING", logger="tasks.sidecars"):
        assert find_sidecar.fn(f"s3://{bucket}/talk.mov", _settings(s3_server, 0)) is None
    assert f"s3://{bucket}/talk.json beside the recording is not a transcript" in caplog.text


@pytest.mark.timeout(30)
def test_a_transcript_arriving_after_a_metadata_json_is_still_awaited(
    s3_server: str, bucket: str
) -> None:
    _put(s3_server, bucket, "zoom/talk.mp4")
    _put(s3_server, bucket, "zoom/talk.json", METADATA_JSON)
    later = threading.Timer(1.0, _put, (s3_server, bucket, "zoom/talk.srt", b"1\n"))
    later.start()
    try:
        found = find_sidecar.fn(f"s3://{bucket}/zoom/talk.mp4", _settings(s3_server, 4))
    finally:
        later.join()
    assert found == f"s3://{bucket}/zoom/talk.srt"


@pytest.mark.timeout(30)
def test_the_sweep_pairs_the_same_sidecar(s3_server: str, bucket: str) -> None:
    settings = _settings(s3_server, 0)
    for key in ("in/a.mp4", "in/b.mp4", "in/b.srt", "in/b.json", "in/c.mp4", "in/d.mp4"):
        _put(s3_server, bucket, key)
    _put(s3_server, bucket, "in/a.json", WORDS_JSON)
    _put(s3_server, bucket, "in/d.json", METADATA_JSON)
    client = storage.s3_client(settings)
    items = inbox.list_s3(storage.S3Location(bucket, "in/"), inbox.DEFAULT_SUFFIXES, client)
    swept = {item.uri: item.transcript for item in items}
    searched = {item.uri: find_sidecar.fn(item.uri, settings) for item in items}
    assert swept == searched
    assert searched == {
        f"s3://{bucket}/in/a.mp4": f"s3://{bucket}/in/a.json",
        f"s3://{bucket}/in/b.mp4": f"s3://{bucket}/in/b.srt",
        f"s3://{bucket}/in/c.mp4": None,
        f"s3://{bucket}/in/d.mp4": None,  # its JSON is not a transcript
    }


def test_a_missing_recording_is_an_input_error(s3_server: str, bucket: str) -> None:
    from media.errors import InputError

    with pytest.raises(InputError, match="object not found"):
        find_sidecar.fn(f"s3://{bucket}/nope.mp4", _settings(s3_server, 60))
