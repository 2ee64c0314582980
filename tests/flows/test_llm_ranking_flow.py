"""LLM ranking inside a job, against an OpenAI-shaped chat server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flows.cli import main
from tests.generated_media import sample_fixture
from tests.helpers import sample_job_args

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]
TITLE = "Why written proposals save meetings"


class _ChatServer(ThreadingHTTPServer):
    requests: list[dict]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        # Pick the candidate with the highest id the prompt lists: not the offline favourite.
        listed = [
            int(line[1 : line.index("]")])
            for line in body["messages"][-1]["content"].splitlines()
            if line.startswith("[")
        ]
        answer = {"picks": [{"id": max(listed), "title": TITLE}]}
        payload = json.dumps(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": json.dumps(answer)},
                    }
                ],
                "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def chat_server():
    server = _ChatServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


sample = sample_fixture(minutes=1.5, seed=4)


def _save_block(name: str, server, price_per_1m: float) -> None:
    from blocks.prefect_blocks import LlmCredentials

    LlmCredentials(
        base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
        model="test-model",
        api_key="sk-test",
        timeout_s=10,
        prompt_usd_per_1m_tokens=price_per_1m,
        completion_usd_per_1m_tokens=price_per_1m,
    ).save(name, overwrite=True)


def _job(capsys, sample, out: Path, *extra: str) -> dict:
    code = main(
        [
            "run",
            *sample_job_args(sample, out),
            *extra,
        ]
    )
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    return json.loads((Path(stdout.strip().splitlines()[-1]) / "report.json").read_text())


def test_the_llm_chooses_among_candidates_and_its_tokens_are_paid(
    sample, chat_server, tmp_path, capsys
) -> None:
    _save_block("llm-test", chat_server, price_per_1m=2.0)
    report = _job(capsys, sample, tmp_path, "--llm-block", "llm-test", "--max-clips", "1")
    assert len(chat_server.requests) == 1
    sent = chat_server.requests[0]
    assert sent["model"] == "test-model" and sent["response_format"] == {"type": "json_object"}
    assert report["selection"] == {"method": "llm", "reason": ""}
    (clip,) = report["clips"]
    assert clip["title"] == TITLE and clip["sub_scores"]["llm_rank"] == 1
    # Boundaries still come from word times: the clip is one of the offered candidates.
    assert clip["text"] in sent["messages"][-1]["content"]
    llm = [i for i in report["cost"]["items"] if i["resource"] == "llm"]
    assert llm == [
        {
            "stage": "highlights",
            "resource": "llm",
            "quantity": 940,
            "unit": "tokens",
            "usd": pytest.approx(940 * 2.0 / 1e6),
        }
    ]


def test_a_call_that_could_exceed_the_budget_is_not_made(
    sample, chat_server, tmp_path, capsys
) -> None:
    _save_block("llm-pricey", chat_server, price_per_1m=1000.0)
    report = _job(capsys, sample, tmp_path, "--llm-block", "llm-pricey", "--max-clips", "1")
    assert chat_server.requests == []
    assert report["selection"]["method"] == "offline"
    assert "skipped" in report["selection"]["reason"]
    assert "budget" in report["selection"]["reason"]
    assert not [i for i in report["cost"]["items"] if i["resource"] == "llm"]


class _StallingHandler(BaseHTTPRequestHandler):
    """Reads the request, then answers nothing until the test ends (bounded: 30 s)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.server.release.wait(30)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def stalling_server():
    server = _ChatServer(("127.0.0.1", 0), _StallingHandler)
    server.requests = []
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.slow  # a whole job (~45 s); tests/tasks/test_llm.py unit-tests the fallback
def test_an_llm_that_stalls_past_its_timeout_leaves_the_offline_choice(
    sample, stalling_server, tmp_path, capsys
) -> None:
    from blocks.prefect_blocks import LlmCredentials

    LlmCredentials(
        base_url=f"http://127.0.0.1:{stalling_server.server_address[1]}/v1",
        model="test-model",
        api_key="sk-test",
        timeout_s=1,
        prompt_usd_per_1m_tokens=2.0,
        completion_usd_per_1m_tokens=2.0,
    ).save("llm-stalling", overwrite=True)
    report = _job(capsys, sample, tmp_path, "--llm-block", "llm-stalling", "--max-clips", "1")
    # Asked once; a read timeout is not retried (the request may be running and billed).
    assert len(stalling_server.requests) == 1
    assert report["selection"]["method"] == "offline"
    assert "timed out after 1 s" in report["selection"]["reason"]
    (clip,) = report["clips"]
    assert "llm_rank" not in (clip["sub_scores"] or {})  # the offline ranking's clip
    assert not [i for i in report["cost"]["items"] if i["resource"] == "llm"]
