"""Load on ``clipflow serve``, on loopback: API latency under a burst, and how long a process
worker with a concurrency limit takes to drain the queued jobs. Reported, not asserted.

    .venv/bin/python -m tests.benchmarks.serve_load [--submissions 100] [--threads 10]
        [--jobs 50] [--concurrency 2] [--minutes 0.5]
        [--prefect-database postgresql+asyncpg://postgres@127.0.0.1:5432/prefect_load]
        [--job-database postgresql+psycopg://postgres@127.0.0.1:5432/test]

It starts its own Prefect server (Prefect's test harness on SQLite, or with
``--prefect-database`` a ``prefect server start`` on that database, as compose and Helm run it:
the database must exist and is used as it is), deploys ``process-video`` from the real
entrypoint on a process pool limited to ``--concurrency`` runs, serves the app under uvicorn
(the job database is a SQLite file unless ``--job-database`` names one), then:

1. submits ``--submissions`` jobs from ``--threads`` threads (each with its own idempotency
   key; the rate limit raised out of the way) and reads each back, timing every call; the
   recordings are not read (no worker yet), so this is the API, Prefect and the job database;
2. cancels those, submits ``--jobs`` real ones (generated ``--minutes`` recordings, distinct
   seeds so no job is served from another's cache), starts a worker and times the drain.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")  # never beyond the max
    return f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"


def _timed(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - started


@contextlib.contextmanager
def _prefect_server(root: Path, database_url: str | None) -> Iterator[None]:
    """Prefect's test harness (a SQLite server), or ``prefect server start`` on
    ``database_url`` with this process's client pointed at it."""
    if database_url is None:
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.deployments.support import prefect_server_stack

    with prefect_server_stack(
        root,
        job_db_url="unused",
        what="the Prefect server on its database",
        server_env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url},
    ) as stack:
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            yield


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the worker's process group; SIGKILL when it has not gone within a minute
    (a loaded machine can keep it longer, and the figures are printed already)."""
    os.killpg(worker.pid, 15)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, 9)
        worker.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=0.5)
    parser.add_argument("--prefect-database", help="the Prefect server's database URL")
    parser.add_argument("--job-database", help="the job database URL (default: a SQLite file)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="serve-load-"))
    os.environ.update(
        PREFECT_HOME=str(root / "prefect"),
        CLIPFLOW_HOME=str(root / "clipflow"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    import uvicorn
    from prefect.settings import PREFECT_API_URL

    from blocks.settings import PipelineSettings
    from clipflow.client import ClipflowClient
    from deployments.service.app import create_app
    from deployments.service.config import ServeSettings
    from media.sample.generator import make_sample
    from tasks.jobs.api_keys import create_key
    from tests.service.support import deploy_process_video

    inbox, out = root / "inbox", root / "out"
    inbox.mkdir()
    out.mkdir()
    db = args.job_database or f"sqlite:///{root / 'jobs.sqlite'}"
    os.environ.update(  # what the server stack hands its workers (tests/conftest.py sets them)
        CLIPFLOW_ALLOWED_ROOTS=f'["{inbox}", "{out}"]', CLIPFLOW_ALLOWED_S3="[]"
    )
    with _prefect_server(root, args.prefect_database):
        deployment, pool = deploy_process_video(
            "load", parameters={"max_clips": 1}, concurrency=args.concurrency
        )
        settings = PipelineSettings(database_url=db, allowed_roots=[inbox, out])
        serve = ServeSettings(deployment=deployment, out=str(out), rate_per_s=10_000, burst=100_000)
        server = uvicorn.Server(
            uvicorn.Config(create_app(serve, settings), host="127.0.0.1", port=0, log_level="error")
        )
        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(server.run,), daemon=True
        )
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        api = ClipflowClient(
            f"http://127.0.0.1:{port}", create_key(db, "load", "submit")[1], timeout=120
        )

        fake = inbox / "not-read.mp4"
        fake.write_bytes(b"x")
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as threads:
            posts = list(
                threads.map(
                    lambda i: _timed(
                        api.submit, str(fake), idempotency_key=f"burst-{root.name}-{i}"
                    ),
                    range(args.submissions),
                )
            )
            burst_s = time.perf_counter() - started
            gets = list(threads.map(lambda p: _timed(api.get, p[0].id), posts))
        print(f"{args.submissions} submissions from {args.threads} threads in {burst_s:.1f} s")
        print(f"POST /api/v1/jobs: {_percentiles([t for _, t in posts])}")
        print(f"GET /api/v1/jobs/{{id}}: {_percentiles([t for _, t in gets])}")
        _, list_s = _timed(api.list_jobs, limit=100)
        print(f"GET /api/v1/jobs?limit=100: {list_s * 1000:.0f} ms")
        for job, _ in posts:
            api.cancel(job.id)

        made = []
        voices = root / "generator"  # speech and video chunks synthesised once for all samples
        voices.mkdir()
        for seed in range(args.jobs):
            sample = make_sample(
                inbox / f"talk-{seed}.mp4", minutes=args.minutes, seed=seed, workdir=voices
            )
            made.append(api.submit(str(sample.video_path), transcript=str(sample.transcript_path)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
        env.update(
            PREFECT_API_URL=str(PREFECT_API_URL.value()),
            PREFECT_WORKER_QUERY_SECONDS="1",
            CLIPFLOW_DATABASE_URL=db,
            CLIPFLOW_ALLOWED_ROOTS=f'["{inbox}", "{out}"]',
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        started = time.perf_counter()
        try:
            finals = [api.wait(job.id, timeout=7200, interval=2) for job in made]
            drain_s = time.perf_counter() - started
        finally:
            _stop(worker)
        states = {s: sum(1 for f in finals if f.state == s) for s in {f.state for f in finals}}
        print(
            f"drained {args.jobs} jobs ({args.minutes:g}-min recordings, 1 clip each) with "
            f"concurrency {args.concurrency} in {drain_s:.0f} s "
            f"({drain_s / max(1, args.jobs):.1f} s a job): {states}"
        )
        server.should_exit = True
        thread.join(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
