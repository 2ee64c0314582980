"""Where runs may read and write: refused outside the allowed folders and buckets, naming the
parameter, before anything is read (a missing file outside is refused the same way as a real
one: it was not looked at)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from clipflow.client import ApiError, ClipflowClient
from tasks.allowlist import location_problem
from tests.service.support import make_key

ROOTS = [Path("/srv/clipflow/inbox"), Path("/srv/clipflow/out")]
BUCKETS = ["s3://clipflow-inbox/uploads/", "s3://team-*/clips/"]


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("/srv/clipflow/inbox/talk.mp4", True),
        ("/srv/clipflow/inbox/a/b/talk.mp4", True),
        ("/srv/clipflow/out", True),
        ("/etc/passwd", False),
        ("/srv/clipflow/inbox/../../../etc/passwd", False),
        ("/srv/clipflow/inbox-evil/talk.mp4", False),
        ("/srv/clipflow", False),
        ("relative/talk.mp4", False),
        ("s3://clipflow-inbox/uploads/talk.mp4", True),
        ("s3://clipflow-inbox/private/talk.mp4", False),
        ("s3://clipflow-inbox/uploads/../private/talk.mp4", False),
        ("s3://another-bucket/uploads/talk.mp4", False),
        ("s3://team-red/clips/a.mp4", True),
        ("s3://team-red/other/a.mp4", False),
        ("https://example.com/talk.mp4", False),
        ("file:///etc/passwd", False),
    ],
)
def test_locations_inside_and_outside(uri: str, allowed: bool) -> None:
    problem = location_problem("source", uri, ROOTS, BUCKETS)
    assert (problem is None) is allowed, problem
    if not allowed:
        assert problem.startswith(f"source {uri!r}: ")


def test_a_symlink_out_of_an_allowed_folder_is_refused(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "escape.mp4").symlink_to("/etc/passwd")
    problem = location_problem("transcript", str(inbox / "escape.mp4"), [inbox], [])
    assert problem is not None and "outside the allowed folders" in problem


def test_nothing_allowed_refuses_everything() -> None:
    problem = location_problem("out", "/tmp/x", [], [])
    assert problem == "out '/tmp/x': outside the allowed folders (no location is allowed)"


def test_the_api_refuses_runs_outside_naming_the_parameter(start_server, tmp_path) -> None:
    served = start_server(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    inside = served.inbox / "talk.mp4"
    inside.write_bytes(b"x")
    with ClipflowClient(served.url, make_key(served.db, "acme", "submit")) as api:
        refused = {
            "source": {"source": "/etc/passwd"},
            "source ": {"source": f"{served.inbox}/../../../../etc/passwd"},
            "source  ": {"source": "/nowhere/at/all.mp4"},
            "transcript": {"source": str(inside), "transcript": "s3://another-bucket/t.vtt"},
            "out": {"source": str(inside), "out": str(tmp_path / "elsewhere")},
        }
        for parameter, body in refused.items():
            with pytest.raises(ApiError) as no:
                api.submit(**body)
            assert no.value.status_code == 422
            assert str(no.value.detail).startswith(f"{parameter.strip()} "), no.value.detail
            assert "outside the allowed" in str(no.value.detail)
        assert api.list_jobs().jobs == []  # no flow run, no job
        assert api.submit(str(inside), out=str(served.out / "sub")).state == "queued"
    assert not os.path.exists("/nowhere")


def test_a_deployment_run_outside_is_rejected_before_reading(
    prefect_server, tmp_path, monkeypatch
) -> None:
    """The flow itself refuses (a run started through Prefect's own API, not this service):
    the job is recorded rejected, naming the parameter; a CLI run of the same path is not
    refused for where it is, it gets as far as reading it."""
    from flows.process_video import process_video
    from media.errors import InputError
    from tasks import jobs

    db = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    monkeypatch.setenv("CLIPFLOW_DATABASE_URL", db)
    monkeypatch.setenv("CLIPFLOW_ALLOWED_ROOTS", json.dumps([str(tmp_path / "inbox")]))
    outside = tmp_path / "elsewhere" / "talk.mp4"
    outside.parent.mkdir()
    outside.write_bytes(b"not a recording")

    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", str(uuid.uuid4()))
    with pytest.raises(InputError, match=r"^source '.*elsewhere/talk.mp4': outside the allowed"):
        process_video(source=str(outside), out=str(tmp_path / "inbox"), job_id="deployed")
    assert jobs.get_job(db, "deployed").status == "rejected"
    assert jobs.get_job(db, "deployed").failure_reason.startswith("source ")

    monkeypatch.delenv("PREFECT__RUNTIME__DEPLOYMENT__ID")
    with pytest.raises(InputError) as cli:
        process_video(source=str(outside), out=str(tmp_path / "out"), job_id="from-cli")
    assert "outside the allowed" not in str(cli.value)  # it was read: not a recording
