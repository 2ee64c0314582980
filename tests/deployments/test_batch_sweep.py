"""``batch-sweep`` (flows/batch_sweep.py, tasks/inbox.py): listing, content identity,
selection, dispatch.

Fast tests check listing and hashing on real files and on moto's S3, and the selection against
a real job database. The end-to-end tests sweep a local inbox and an ``s3://`` inbox (moto's
server on loopback) through the deployed ``process-video`` on a real process worker, three
times each, and read the outcome back from the job database and the Prefect API.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest

from blocks.loading import load_settings
from blocks.settings import PipelineSettings
from flows.batch_sweep import select
from media.errors import StorageError
from tasks import jobs, storage
from tasks.caching import settings_hash
from tasks.inbox import InboxItem, content_sha256, list_local, list_s3
from tests.deployments.support import flow_runs, read_flow_run

SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".webm")


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_list_local_keeps_recordings_and_finds_sidecars(tmp_path: Path) -> None:
    keep = [_touch(tmp_path / "a.mp4"), _touch(tmp_path / "B.MOV"), _touch(tmp_path / "sub/c.mkv")]
    _touch(tmp_path / "a.vtt")
    _touch(tmp_path / "sub/c.srt")
    for name in [
        ".hidden.mp4",
        "d.mp4.part",
        ".part-x1.mp4",
        "e.mp4.crdownload",
        "notes.txt",
        "f.mp4~",
        ".cache/g.mp4",
        "h.wav",
    ]:
        _touch(tmp_path / name)
    items = list_local(tmp_path, SUFFIXES)
    assert [i.uri for i in items] == [str(p) for p in sorted(keep)]
    sidecars = {Path(i.uri).name: i.transcript for i in items}
    assert sidecars == {
        "a.mp4": str(tmp_path / "a.vtt"),
        "B.MOV": None,
        "c.mkv": str(tmp_path / "sub/c.srt"),
    }
    assert all(i.fingerprint.startswith("stat:1:") for i in items)


@pytest.fixture
def s3_settings(s3_server: str) -> PipelineSettings:
    return PipelineSettings(
        s3_endpoint_url=s3_server, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_s3_listing_and_streamed_sha256(s3_settings: PipelineSettings) -> None:
    client = storage.s3_client(s3_settings)
    bucket = f"clipflow-sweep-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    body = bytes(range(256)) * 9000  # 2.3 MB: several 1 MiB chunks
    for key, data in [
        ("in/talk one.mp4", body),
        ("in/talk one.vtt", b"WEBVTT"),
        ("in/.x.mp4", b"h"),
        ("in/b.webm", b"b"),
        ("out/c.mp4", b"c"),
        ("in/d.mp4.part", b"p"),
    ]:
        client.put_object(Bucket=bucket, Key=key, Body=data)
    items = list_s3(storage.S3Location(bucket, "in/"), SUFFIXES, client)
    assert [(i.uri, i.size, i.transcript) for i in items] == [
        (f"s3://{bucket}/in/b.webm", 1, None),
        (f"s3://{bucket}/in/talk one.mp4", len(body), f"s3://{bucket}/in/talk one.vtt"),
    ]
    talk = items[1]
    assert talk.fingerprint == f"etag:{hashlib.md5(body).hexdigest()}"
    assert content_sha256.fn(talk, s3_settings) == hashlib.sha256(body).hexdigest()
    # The digest belongs to the listed version: an object replaced since is not misread.
    client.put_object(Bucket=bucket, Key="in/talk one.mp4", Body=b"new bytes")
    with pytest.raises(StorageError, match="PreconditionFailed|412"):
        content_sha256.fn(talk, s3_settings)


def test_selection_against_the_job_database(tmp_path: Path, job_db_url: str) -> None:
    """Real files, real hashing, real job rows: only content without a succeeded job for
    these settings is started, once, and nothing already in flight."""
    settings = load_settings(None, aspect="9:16", max_clips=5)
    key = settings_hash(settings)
    files = {n: _touch(tmp_path / f"{n}.mp4", n.encode() * 1000) for n in "abcde"}
    shutil.copyfile(files["b"], tmp_path / "b-copy.mp4")
    items = list_local(tmp_path, SUFFIXES)
    hashed = [(i, content_sha256.fn(i, settings)) for i in items]
    sha = {Path(i.uri).stem: s for i, s in hashed}
    assert sha["a"] == hashlib.sha256(b"a" * 1000).hexdigest()

    def record(name: str, status: jobs.JobStatus, settings_key: str = key) -> str:
        job = jobs.start_job(
            job_db_url,
            source_uri=str(files[name]),
            source_sha256=sha[name],
            settings_hash=settings_key,
        )
        jobs.finish_job(job_db_url, job, status)
        return job

    done_a = record("a", jobs.JobStatus.SUCCEEDED)
    record("c", jobs.JobStatus.QA_FAILED)  # not a success: c is started again
    record("d", jobs.JobStatus.SUCCEEDED, settings_key="0" * 16)  # other settings: started

    def done(digest: str) -> str | None:
        found = jobs.find_succeeded(job_db_url, digest, key)
        return found.id if found else None

    todo, skipped = select(hashed, done, in_flight={str(files["e"])})
    assert [Path(i.uri).name for i, _ in todo] == ["b-copy.mp4", "c.mp4", "d.mp4"]
    assert {Path(s.source).name: s.reason for s in skipped} == {
        "a.mp4": f"succeeded: job {done_a}",
        "b.mp4": f"same content as {tmp_path / 'b-copy.mp4'}",
        "e.mp4": "in flight: a process-video run is active",
    }


@pytest.mark.usefixtures("prefect_server")
def test_sha256_is_cached_on_the_fingerprint(tmp_path: Path) -> None:
    """A second sweep reuses the digest; a changed file (new mtime/size) is hashed again."""
    from prefect import flow

    settings = PipelineSettings()
    path = _touch(tmp_path / "a.mp4", b"first")

    @flow
    def twice(item: InboxItem) -> list[tuple[str, str]]:
        states = [content_sha256(item, settings, return_state=True) for _ in range(2)]
        return [(s.name, s.result()) for s in states]

    first = list_local(tmp_path, SUFFIXES)[0]
    assert twice(first) == [
        ("Completed", hashlib.sha256(b"first").hexdigest()),
        ("Cached", hashlib.sha256(b"first").hexdigest()),
    ]
    path.write_bytes(b"second, longer")
    changed = list_local(tmp_path, SUFFIXES)[0]
    assert changed.fingerprint != first.fingerprint
    assert twice(changed)[0] == ("Completed", hashlib.sha256(b"second, longer").hexdigest())


# --- end to end ----------------------------------------------------------------------------


def _copy(recording, folder: Path, stem: str) -> Path:
    video = folder / f"{stem}.mp4"
    shutil.copyfile(recording.video, video)
    shutil.copyfile(recording.transcript, folder / f"{stem}.vtt")
    return video


@pytest.mark.slow  # minutes of real jobs on a worker: outside the default run
@pytest.mark.e2e
@pytest.mark.timeout(1200)
def test_sweeps_start_each_new_recording_once(
    recordings, deployed, worker, clipflow_env, tmp_path, monkeypatch
) -> None:
    """Sweep 1 starts both recordings through the deployed process-video, one at a time
    (max_concurrent=1); sweep 2 starts nothing; after a new recording and a renamed copy of a
    done one arrive, sweep 3 (run through its own deployment on the worker) starts only the
    new one."""
    from flows.batch_sweep import batch_sweep

    monkeypatch.setenv("CLIPFLOW_DATABASE_URL", clipflow_env.database_url)
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    first = [_copy(recordings[s], inbox, f"talk-{s}") for s in (11, 12)]
    params = {"inbox": str(inbox), "out": str(out), "poll_s": 1.0}

    report = batch_sweep(**params, max_concurrent=1)
    assert sorted(s.source for s in report.started) == [str(p) for p in first]
    states = [s.state for s in report.started]
    assert states == ["Completed", "Completed"], worker.read_text()[-3000:]
    assert report.skipped == ()
    runs = [read_flow_run(s.flow_run_id) for s in report.started]
    runs.sort(key=lambda r: r.start_time)
    assert runs[0].end_time <= runs[1].start_time  # max_concurrent=1: never two at once
    assert {r.parameters["transcript"] for r in runs} == {str(p.with_suffix(".vtt")) for p in first}
    for started in report.started:
        job = jobs.find_succeeded(clipflow_env.database_url, started.sha256, report.settings_hash)
        assert job is not None and job.source_uri == started.source  # the hashes agree

    again = batch_sweep(**params)
    assert again.started == ()
    assert sorted(s.source for s in again.skipped) == sorted(str(p) for p in first)
    assert all(s.reason.startswith("succeeded: job ") for s in again.skipped)

    third = _copy(recordings[13], inbox, "talk-13")
    _copy(recordings[11], inbox, "renamed-11")  # same bytes as a done job: skipped
    _copy(recordings[14], inbox, ".upload-in-progress")  # hidden: not even listed
    before = {str(r.id) for r in flow_runs(deployed["process-video"])}
    from prefect.deployments import run_deployment

    sweep_run = run_deployment(
        "batch-sweep/batch-sweep", parameters=params, timeout=900, poll_interval=2, as_subflow=False
    )
    assert sweep_run.state.is_completed(), worker.read_text()[-3000:]
    new = [r for r in flow_runs(deployed["process-video"]) if str(r.id) not in before]
    assert [(r.parameters["source"], r.state.name) for r in new] == [(str(third), "Completed")]
    assert new[0].parent_task_run_id is not None  # shown as a subflow of the sweep in the UI
    assert (
        jobs.find_succeeded(clipflow_env.database_url, recordings[13].sha256, report.settings_hash)
        is not None
    )
    rows = sweep_table(sweep_run.id)
    assert {Path(r["source"]).name: r["action"] for r in rows} == {
        "talk-11.mp4": "skipped",
        "talk-12.mp4": "skipped",
        "renamed-11.mp4": "skipped",
        "talk-13.mp4": "started",
    }
    assert all("succeeded: job" in r["detail"] for r in rows if r["action"] == "skipped")


@pytest.mark.slow  # minutes of real jobs on a worker: outside the default run
@pytest.mark.e2e
@pytest.mark.timeout(1200)
def test_s3_inbox_sweeps_start_only_new_content(
    recordings, deployed, worker, clipflow_env, monkeypatch
) -> None:
    """An ``s3://`` inbox on moto's S3 server (loopback) and an ``s3://`` output. Sweep 1
    starts the one recording, whose job on the worker downloads it and its .vtt with the
    worker's ``CLIPFLOW_S3_*`` settings; sweep 2 starts nothing; after a new recording and a
    copy of the first under another key arrive, sweep 3 (through its deployment on the worker,
    listing S3 with the worker's settings) starts only the new content. ``max_clips=3`` gives
    these jobs settings of their own: jobs of other tests on the same bytes do not count."""
    from prefect.deployments import run_deployment

    from flows.batch_sweep import batch_sweep

    env = clipflow_env.env
    monkeypatch.setenv("CLIPFLOW_DATABASE_URL", clipflow_env.database_url)
    for name in ("S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(f"CLIPFLOW_{name}", env[f"CLIPFLOW_{name}"])  # as the worker has
    s3 = storage.s3_client(load_settings(None))
    bucket = f"clipflow-sweep-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)

    def upload(seed: int, stem: str, sidecar: bool = True) -> str:
        s3.upload_file(str(recordings[seed].video), bucket, f"inbox/{stem}.mp4")
        if sidecar:
            s3.upload_file(str(recordings[seed].transcript), bucket, f"inbox/{stem}.vtt")
        return f"s3://{bucket}/inbox/{stem}.mp4"

    first = upload(12, "talk-12")
    params = {"inbox": f"s3://{bucket}/inbox/", "out": f"s3://{bucket}/out", "max_clips": 3}
    report = batch_sweep(**params, poll_s=1.0)
    assert [(s.source, s.state) for s in report.started] == [(first, "Completed")], (
        worker.read_text()[-3000:]
    )
    assert report.skipped == ()
    run = read_flow_run(report.started[0].flow_run_id)
    assert run.parameters["transcript"] == f"s3://{bucket}/inbox/talk-12.vtt"
    job = jobs.find_succeeded(
        clipflow_env.database_url, recordings[12].sha256, report.settings_hash
    )  # the sweep's digest of the object is the job's digest of the downloaded file
    assert job is not None and job.source_uri == first
    assert job.job_dir.startswith(f"s3://{bucket}/out/")
    assert storage.head_object(f"{job.job_dir}/report.json", load_settings(None)).size > 0

    again = batch_sweep(**params, poll_s=1.0)
    assert again.started == ()
    assert [(s.source, s.reason) for s in again.skipped] == [(first, f"succeeded: job {job.id}")]

    new = upload(13, "talk-13")
    upload(12, "copies/same-bytes-12", sidecar=False)  # done content under another key
    before = {str(r.id) for r in flow_runs(deployed["process-video"])}
    sweep_run = run_deployment(
        "batch-sweep/batch-sweep",
        parameters={**params, "poll_s": 1.0},
        timeout=900,
        poll_interval=2,
        as_subflow=False,
    )
    assert sweep_run.state.is_completed(), worker.read_text()[-3000:]
    started = [r for r in flow_runs(deployed["process-video"]) if str(r.id) not in before]
    assert [(r.parameters["source"], r.state.name) for r in started] == [(new, "Completed")]
    rows = {r["source"]: (r["action"], r["detail"]) for r in sweep_table(sweep_run.id)}
    assert rows.keys() == {first, new, f"s3://{bucket}/inbox/copies/same-bytes-12.mp4"}
    assert rows[new][0] == "started"
    assert rows[first] == ("skipped", f"succeeded: job {job.id}")
    assert rows[f"s3://{bucket}/inbox/copies/same-bytes-12.mp4"] == rows[first]
    assert jobs.find_succeeded(
        clipflow_env.database_url, recordings[13].sha256, report.settings_hash
    )


def sweep_table(flow_run_id) -> list[dict]:
    """The ``batch-sweep`` table artifact that one sweep run published."""
    import json

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        answer = client.request(
            "POST",
            "/artifacts/filter",
            json={
                "artifacts": {
                    "key": {"any_": ["batch-sweep"]},
                    "flow_run_id": {"any_": [str(flow_run_id)]},
                },
                "sort": "CREATED_DESC",
                "limit": 5,
                "offset": 0,
            },
        )
        answer.raise_for_status()
    [artifact] = answer.json()
    return json.loads(artifact["data"]) if isinstance(artifact["data"], str) else artifact["data"]


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.usefixtures("prefect_server")
def test_local_dispatch_runs_the_jobs_as_subflows(recordings, tmp_path, monkeypatch) -> None:
    """One machine, no worker: dispatch="local" runs the jobs in this process, two at a time,
    as subflows of the sweep; a second sweep finds them done. (With the end-to-end test above
    in the same session the stages come from the cache, as they would on a re-run.)"""
    from flows.batch_sweep import batch_sweep

    database_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    monkeypatch.setenv("CLIPFLOW_DATABASE_URL", database_url)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    videos = [_copy(recordings[s], inbox, f"talk-{s}") for s in (11, 12)]
    params = {"inbox": str(inbox), "out": str(tmp_path / "out"), "dispatch": "local"}
    report = batch_sweep(**params, max_concurrent=2)
    assert sorted((s.source, s.state) for s in report.started) == [
        (str(v), "Completed") for v in videos
    ]
    for started in report.started:
        assert read_flow_run(started.flow_run_id).parent_task_run_id is not None  # a subflow
        assert jobs.find_succeeded(database_url, started.sha256, report.settings_hash)
    assert batch_sweep(**params).started == ()
