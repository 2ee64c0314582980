"""The whole path, slow: a job submitted through the API runs on a real process worker (the
process-video deployment from the real entrypoint), the client watches it go from queued to
running to succeeded, the clips download through their signed URLs, and the client's webhook
gets ``job.succeeded``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from clipflow.client import ClipflowClient
from deployments.service.webhooks import SIGNATURE_HEADER, verify_signature
from tests.deployments.support import wait_for
from tests.service.support import deploy_process_video, make_key

REPO = Path(__file__).resolve().parents[2]


class _Collect(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def own_deployment(prefect_server) -> tuple[str, str]:
    """A process-video deployment on a pool no other test queues runs on: (flow/name, pool)."""
    return deploy_process_video("serve-e2e", parameters={"max_clips": 1})


@pytest.mark.slow
def test_a_submitted_job_runs_on_a_worker_and_delivers_clips(
    start_server, own_deployment, tmp_path_factory, tmp_path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from tests.generated_media import sample_recording

    deployment, pool = own_deployment
    db = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    served = start_server(db, deployment=deployment, watch_interval_s=0.5)
    sample = sample_recording(tmp_path_factory, minutes=0.5, seed=11)
    source = served.inbox / "talk.mp4"
    shutil.copy(sample.video_path, source)
    shutil.copy(sample.transcript_path, served.inbox / "talk.vtt")

    hooks = ThreadingHTTPServer(("127.0.0.1", 0), _Collect)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PREFECT_WORKER_QUERY_SECONDS="1",
        CLIPFLOW_DATABASE_URL=db,
        CLIPFLOW_ALLOWED_ROOTS=json.dumps([str(served.inbox), str(served.out)]),
    )
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        with ClipflowClient(served.url, make_key(db, "acme", "submit")) as api:
            hook = api.add_webhook(f"http://127.0.0.1:{hooks.server_port}/")
            job = api.submit(str(source), transcript=str(served.inbox / "talk.vtt"), max_clips=1)
            seen = [job.state]
            deadline = time.monotonic() + 900
            while not job.final and time.monotonic() < deadline:
                time.sleep(1)
                job = api.get(job.id)
                if job.state != seen[-1]:
                    seen.append(job.state)
            final = job
        assert final.state == "succeeded", (final.error, (tmp_path / "worker.log").read_text())
        assert seen == ["queued", "running", "succeeded"]
        assert final.location == str(served.out / final.id)  # the flow's job id is the API's
        assert final.clips and final.qa_passed and final.cost_usd is not None
        assert {"ingest", "publish", "record"} <= {s.split("-")[0] for s in final.stages_done}
        clip = httpx.get(served.url + final.clips[0].url)
        assert clip.status_code == 200 and clip.content[4:8] == b"ftyp"
        wait_for(lambda: _Collect.received, 30, "the webhook")
        headers, body = _Collect.received[0]
        assert verify_signature(hook.secret, headers[SIGNATURE_HEADER], body)
        assert json.loads(body)["event"] == "job.succeeded"
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=60)
        hooks.shutdown()
