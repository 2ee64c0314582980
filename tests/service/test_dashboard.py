"""The dashboard in a real browser (Debian's chromium through /usr/bin/chromedriver, phone-sized):
sign in with a key, see a validation message, submit, watch the job's state change, open a
finished job by keyboard and play its clip, see the cost chart and the failed jobs' reasons.

The finished and failed jobs are real submissions (flow runs on the test server) whose job
rows are written as the flow's record step writes them, with a real encoded clip; the whole
path through a worker is tests/service/test_end_to_end.py (slow)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from clipflow.client import ClipflowClient
from tests.deployments.support import wait_for
from tests.service.support import make_key

CHROMEDRIVER = Path("/usr/bin/chromedriver")
SAID = "The best ideas come from talking to customers."


@pytest.fixture
def browser(tmp_path):
    if not CHROMEDRIVER.exists() or shutil.which("chromium") is None:
        pytest.skip("chromium and chromium-driver are not installed (./dev test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    phone = {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0}}
    options.add_experimental_option("mobileEmulation", phone)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def _clip(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=180x320:r=15:d=2",
         "-f", "lavfi", "-i", "sine=f=440:d=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip


def _finish_as_the_flow_would(served, job, *, clip: bool) -> None:
    """The job rows a worker's run writes (flows/job.py, tasks/record.py), and its run's end."""
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Failed

    from tasks import jobs

    job_dir = served.out / job.id
    jobs.start_job(
        served.db,
        job_id=job.id,
        source_uri=job.source,
        source_sha256="ab" * 32,
        settings_hash="h",
        job_dir=job_dir,
        flow_run_id=job.flow_run_id,
    )
    if clip:
        _clip(job_dir / "clips" / "clip-01.mp4")
        jobs.record_clips(served.db, job.id, [
            {"index": 1, "path": "clips/clip-01.mp4", "start_s": 12.0, "end_s": 14.0,
             "text": SAID, "passed": True}])  # fmt: skip
        jobs.record_qa(served.db, job.id, [
            {"name": "lu_spread", "passed": True, "value": 0.1, "threshold": 1.5},
            {"name": "true_peak", "passed": True, "value": -1.6, "threshold": -1.0,
             "clip_index": 1}])  # fmt: skip
        jobs.record_costs(served.db, job.id, [
            {"stage": "render", "resource": "cpu", "quantity": 0.01, "unit": "vcpu_h",
             "usd": 0.12}])  # fmt: skip
        jobs.finish_job(served.db, job.id, "succeeded", wall_s=30.0, total_usd=0.12)
        state = Completed()
    else:
        reason = "FFmpegError: render of clip 1 failed (exit 1)"
        jobs.finish_job(served.db, job.id, "failed", reason=reason)
        state = Failed(message=reason)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(uuid.UUID(job.flow_run_id), state, force=True)


def test_sign_in_submit_watch_and_play(start_server, tmp_path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    served = start_server(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    key = make_key(served.db, "acme", "submit")
    recording = served.inbox / "talk.mp4"
    recording.write_bytes(b"x")
    with ClipflowClient(served.url, key) as api:
        done = api.submit(str(recording), idempotency_key="done")
        broken = api.submit(str(recording), idempotency_key="broken")
    _finish_as_the_flow_would(served, done, clip=True)
    _finish_as_the_flow_would(served, broken, clip=False)

    def find(css: str, timeout: float = 20):
        return wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, css), timeout, css)[0]

    def shows(css: str, text: str, timeout: float = 20) -> None:
        wait_for(lambda: text in find(css).text, timeout, f"{text!r} in {css}")

    browser.get(served.url)
    find("#api-key").send_keys("cfk_000000000000_" + "A" * 43, Keys.ENTER)
    shows("#sign-in-error", "That key was refused")
    find("#api-key").send_keys(key, Keys.ENTER)
    find(f'#jobs [data-job="{done.id}"][data-state="succeeded"]')
    shows(f'#failed [data-job="{broken.id}"]', "FFmpegError: render of clip 1 failed")
    shows("#cost-chart svg", "budget $4.00 a job")
    width = browser.execute_script("return [window.innerWidth, document.body.scrollWidth]")
    assert width == [390, 390], "the page must fit a phone's width, without sideways scrolling"

    find("#source").send_keys(Keys.ENTER)  # empty: the form says what is missing
    shows("#source-error", "Enter the recording")
    find("#source").send_keys("/etc/passwd", Keys.ENTER)  # the server refuses it
    shows("#source-error", "outside the allowed folders")
    find("#source").clear()
    find("#source").send_keys(str(recording), Keys.ENTER)
    queued = find('#jobs li[data-state="queued"]')
    new_id = queued.get_attribute("data-job")
    assert new_id not in (done.id, broken.id)
    assert browser.switch_to.active_element.get_attribute("href").endswith(f"#job/{new_id}")
    with ClipflowClient(served.url, key) as api:  # the list changes under the keyboard user
        another = api.submit(str(recording), idempotency_key="another")
    find(f'#jobs [data-job="{another.id}"]')
    focused = browser.switch_to.active_element.get_attribute("href")
    assert focused.endswith(f"#job/{new_id}"), "a poll that changes the list keeps the focus"

    browser.switch_to.active_element.send_keys(Keys.ENTER)  # open it with the keyboard
    find("#cancel").click()
    find("#job .state-cancelled")
    with ClipflowClient(served.url, key) as api:
        assert api.get(new_id).state == "cancelled"

    browser.get(f"{served.url}/#job/{done.id}")
    video = find('[data-clip="1"] video')
    shows('[data-clip="1"]', SAID)
    shows('[data-clip="1"] .chips', "✓ true_peak")
    shows("#job table", "$0.12")
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    wait_for(
        lambda: browser.execute_script("return arguments[0].currentTime > 0.5;", video),
        30,
        "the clip to play",
    )
    assert browser.execute_script("return arguments[0].videoWidth;", video) == 180
