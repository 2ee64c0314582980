"""``/api/v1/health`` names what is down (503), ``/api/v1/metrics`` counts jobs, failures,
cost and the queue in Prometheus's format, and ``/docs`` serves the OpenAPI description."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from clipflow.client import ClipflowClient
from tests.service.support import make_key


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_is_ok_when_everything_answers(start_server, job_db_url: str) -> None:
    served = start_server(job_db_url)
    with ClipflowClient(served.url, None) as api:
        health = api.health()
    assert health.status == "ok"
    assert {name: c.ok for name, c in health.checks.items()} == {
        "database": True,
        "prefect": True,
        "storage": True,
    }


def test_health_answers_503_naming_each_component_down(start_server, s3_server) -> None:
    served = start_server(
        "postgresql+psycopg://nobody@127.0.0.1:1/none",  # nothing listens on port 1
        deployment="process-video/no-such-deployment",
        out="s3://no-such-bucket/jobs",
        pipeline={
            "s3_endpoint_url": s3_server,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        },
    )
    answer = httpx.get(f"{served.url}/api/v1/health", timeout=60)
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "down"
    checks = body["checks"]
    assert not checks["database"]["ok"] and "OperationalError" in checks["database"]["detail"]
    assert not checks["prefect"]["ok"] and "no-such-deployment" in checks["prefect"]["detail"]
    assert not checks["storage"]["ok"] and "s3://no-such-bucket/jobs" in checks["storage"]["detail"]


def test_metrics_count_jobs_by_state_and_the_queue(start_server, job_db_url: str) -> None:
    from tasks import jobs

    served = start_server(job_db_url)
    source = served.inbox / "talk.mp4"
    source.write_bytes(b"x")
    with ClipflowClient(served.url, make_key(served.db, "acme", "submit")) as api:
        queued = [api.submit(str(source)) for _ in range(2)]
        api.cancel(api.submit(str(source)).id)
    done = jobs.start_job(served.db, source_uri="s", source_sha256="", settings_hash="h")
    jobs.record_qa(served.db, done, [{"name": "true_peak", "passed": False, "clip_index": 1}])
    jobs.finish_job(served.db, done, "qa_failed", wall_s=12.5, total_usd=0.25)

    text = httpx.get(f"{served.url}/api/v1/metrics").text
    samples = _samples(text)
    assert samples[("clipflow_jobs", (("status", "cancelled"),))] == 1
    assert samples[("clipflow_jobs", (("status", "qa_failed"),))] == 1
    assert samples[("clipflow_qa_failures_total", (("check", "true_peak"),))] == 1
    assert samples[("clipflow_cost_usd_total", ())] == 0.25
    assert samples[("clipflow_job_wall_seconds_total", ())] == 12.5
    assert samples[("clipflow_queue_depth", ())] >= len(queued)
    route = (("method", "POST"), ("route", "/api/v1/jobs"), ("status", "201"))
    assert samples[("clipflow_api_requests_total", route)] == 3


def test_openapi_describes_the_job_api(start_server, tmp_path) -> None:
    served = start_server(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    spec = httpx.get(f"{served.url}/openapi.json").json()
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/health"} <= set(spec["paths"])
    assert set(spec["paths"]["/api/v1/jobs"]) == {"get", "post"}
    assert "swagger-ui" in httpx.get(f"{served.url}/docs").text
