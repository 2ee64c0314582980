"""LLM ranking over HTTP against a scripted OpenAI-style server on 127.0.0.1.

The server answers each request with the next scripted reply and records what it received, so
tests check both the request the client sent and what the client made of the reply.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from blocks.prefect_blocks import LlmCredentials
from media.selection.candidates import ClipPlan
from tasks.costs import CostItem
from tasks.llm import rank_with_llm

API_KEY = "sk-test-9d2e71"  # made up; only its absence from reasons and logs matters


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; str → sent as is
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeApi:
    """A chat-completions endpoint that plays ``script`` (the last reply repeats)."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self.stop = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                api.seen.append(Seen(self.path, dict(self.headers), body))
                n = len(api.seen)
                reply = api.script[min(n, len(api.script)) - 1]
                if reply.delay_s:
                    api.stop.wait(reply.delay_s)  # cut short when the fixture ends
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                payload = data.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        host, port = self.server.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.stop.set()
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=5)


def _creds(base_url: str, **changes: Any) -> LlmCredentials:
    values: dict[str, Any] = dict(
        base_url=base_url,
        model="clip-picker-1",
        api_key=API_KEY,
        timeout_s=2.0,
        max_usd_per_job=1.0,
        prompt_usd_per_1m_tokens=0.15,
        completion_usd_per_1m_tokens=0.60,
    )
    return LlmCredentials(**{**values, **changes})


def _plan(index: int, start: float, end: float) -> ClipPlan:
    return ClipPlan(
        index, start, end, f"Clip {index} says something.", 0.3 + index / 100, "Alice",
        index, index, "", {"total": 0.3 + index / 100},
    )  # fmt: skip


SHORTLIST = [_plan(1, 1.0, 31.0), _plan(2, 40.0, 75.5), _plan(3, 90.25, 130.0), _plan(4, 140, 170)]


def _completion(content: Any, usage: dict[str, int] | None = None) -> dict[str, Any]:
    text = content if isinstance(content, str) else json.dumps(content)
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return body


USAGE = {"prompt_tokens": 1200, "completion_tokens": 80}
GOOD = {"picks": [{"id": 3, "title": "The best bit"}, {"id": 1, "title": "Where it starts"}]}


def _rank(api: FakeApi, **changes: Any):
    creds = _creds(**{"base_url": api.base_url, **changes})
    return rank_with_llm(SHORTLIST, 2, creds, budget_usd=0.5)


def test_good_answer_becomes_titled_picks_and_a_priced_cost(api: FakeApi) -> None:
    api.script = [Reply(body=_completion(GOOD, USAGE))]
    out = _rank(api)

    (seen,) = api.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.body["model"] == "clip-picker-1"
    assert seen.body["response_format"] == {"type": "json_object"}
    assert seen.body["temperature"] == 0 and seen.body["max_tokens"] == 800
    assert [m["role"] for m in seen.body["messages"]] == ["system", "user"]
    assert "[3] (39.8 s, Alice) Clip 3 says something." in seen.body["messages"][1]["content"]

    assert (out.method, out.reason) == ("llm", "")
    assert out.picks is not None
    assert [(p.index, p.title) for p in out.picks] == [(1, "Where it starts"), (2, "The best bit")]
    assert [(p.start_s, p.end_s) for p in out.picks] == [(1.0, 31.0), (90.25, 130.0)]
    assert [p.sub_scores["llm_rank"] for p in out.picks] == [2, 1]
    usd = (1200 * 0.15 + 80 * 0.60) / 1e6
    assert out.costs == (CostItem("highlights", "llm", 1280, "tokens", pytest.approx(usd)),)


def test_base_url_with_trailing_slash_is_joined_once(api: FakeApi) -> None:
    api.script = [Reply(body=_completion(GOOD, USAGE))]
    assert _rank(api, base_url=api.base_url + "/").method == "llm"
    assert api.seen[0].path == "/v1/chat/completions"


def test_missing_usage_is_estimated_and_said(api: FakeApi) -> None:
    api.script = [Reply(body=_completion(GOOD))]
    out = _rank(api)
    assert out.method == "llm"
    assert "no token usage" in out.reason
    (cost,) = out.costs
    assert cost.quantity > 0 and cost.usd > 0


def test_timeout_falls_back_quickly_without_retrying(api: FakeApi) -> None:
    api.script = [Reply(body=_completion(GOOD, USAGE), delay_s=5.0)]
    t0 = time.monotonic()
    out = _rank(api, timeout_s=0.5)
    elapsed = time.monotonic() - t0
    assert (out.method, out.picks, out.costs) == ("offline", None, ())
    assert out.reason == "LLM ranking failed: timed out after 0.5 s"
    assert elapsed < 1.5
    assert len(api.seen) == 1  # a slow model is not asked again


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("Clip 3 is great, then clip 1.", "answer is not JSON"),
        ({"picks": [{"id": 9, "title": "Nine"}, {"id": 0, "title": "Zero"}]}, "id 9 is not a"),
        ({"picks": [{"id": 2, "title": ""}]}, "id 2 has no title"),
        ({"picks": []}, "the picks list is empty"),
    ],
)
def test_unusable_answer_falls_back_but_still_charges(api: FakeApi, content, problem) -> None:
    api.script = [Reply(body=_completion(content, USAGE))]
    out = _rank(api)
    assert (out.method, out.picks) == ("offline", None)
    assert out.reason.startswith("LLM answer unusable: ") and problem in out.reason
    assert [c.quantity for c in out.costs] == [1280]
    assert len(api.seen) == 1


def test_overlapping_pick_is_dropped_and_said(api: FakeApi) -> None:
    overlapping = [*SHORTLIST, _plan(5, 100.0, 125.0)]
    api.script = [
        Reply(body=_completion({"picks": [{"id": 3, "title": "A"}, {"id": 5, "title": "B"}]}))
    ]
    out = rank_with_llm(overlapping, 2, _creds(api.base_url), budget_usd=0.5)
    assert out.method == "llm" and out.picks is not None
    assert [p.title for p in out.picks] == ["A"]
    assert "id 5 (100.0–125.0 s) overlaps the better pick id 3" in out.reason


def test_response_without_choices_falls_back_and_charges(api: FakeApi) -> None:
    api.script = [Reply(body={"usage": USAGE})]
    out = _rank(api)
    assert out.method == "offline" and "no choices[0].message.content" in out.reason
    assert [c.quantity for c in out.costs] == [1280]


def test_rate_limit_then_success_is_retried(api: FakeApi) -> None:
    api.script = [
        Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"}),
        Reply(body=_completion(GOOD, USAGE)),
    ]
    out = _rank(api)
    assert out.method == "llm"
    assert len(api.seen) == 2
    assert api.seen[0].body == api.seen[1].body


def test_server_errors_are_retried_twice_then_fall_back(api: FakeApi) -> None:
    api.script = [Reply(503, {"error": {"message": "overloaded"}})]
    out = _rank(api)
    assert len(api.seen) == 3
    assert out.method == "offline" and out.costs == ()
    assert (
        out.reason
        == f"LLM ranking failed: HTTP 503 from {api.base_url}/chat/completions after 3 attempts"
    )


def test_client_error_is_not_retried_and_the_key_never_shows(
    api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {API_KEY}"}}
    api.script = [Reply(401, echo)]
    with caplog.at_level(logging.DEBUG):
        out = _rank(api)
    assert len(api.seen) == 1
    assert out.method == "offline" and "HTTP 401" in out.reason
    assert "Incorrect API key provided: ***" in out.reason
    assert API_KEY not in out.reason and API_KEY not in caplog.text


def test_unreachable_api_falls_back_after_bounded_retries() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = rank_with_llm(SHORTLIST, 2, _creds(f"http://127.0.0.1:{port}/v1"), budget_usd=0.5)
    assert out.method == "offline" and "cannot connect" in out.reason
    assert out.reason.endswith("after 3 attempts")


@pytest.mark.parametrize(
    ("budget_usd", "max_usd_per_job", "price"),
    [
        (0.01, 1.0, 1000.0),  # the job's remaining budget is the limit
        (1.0, 0.01, 1000.0),  # the block's per-job cap is the limit
        (0.0, 1.0, 0.15),  # nothing left to spend
    ],
)
def test_budget_overrun_sends_nothing(api: FakeApi, budget_usd, max_usd_per_job, price) -> None:
    api.script = [Reply(body=_completion(GOOD, USAGE))]
    creds = _creds(
        api.base_url,
        max_usd_per_job=max_usd_per_job,
        prompt_usd_per_1m_tokens=price,
        completion_usd_per_1m_tokens=price,
    )
    out = rank_with_llm(SHORTLIST, 2, creds, budget_usd=budget_usd)
    assert api.seen == []
    assert (out.method, out.picks, out.costs) == ("offline", None, ())
    assert out.reason.startswith("LLM ranking skipped: estimated $")
    assert (
        f"would exceed the remaining budget ${min(budget_usd, max_usd_per_job):.4f}" in out.reason
    )


def test_duck_typed_credentials_work(api: FakeApi) -> None:
    """Any object with the block's attributes will do (a plain string key included)."""

    class Creds:
        base_url = api.base_url
        model = "m"
        api_key = API_KEY
        timeout_s = 2.0
        max_usd_per_job = 1.0

        def cost_usd(self, prompt: int, completion: int) -> float:
            return (prompt + completion) / 1e6

    api.script = [Reply(body=_completion(GOOD, USAGE))]
    out = rank_with_llm(SHORTLIST, 2, Creds(), budget_usd=0.5)
    assert out.method == "llm"
    assert out.costs[0].usd == pytest.approx(1280 / 1e6)


def test_empty_shortlist_is_skipped(api: FakeApi) -> None:
    out = rank_with_llm([], 2, _creds(api.base_url), budget_usd=0.5)
    assert (out.method, out.picks, api.seen) == ("offline", None, [])
    assert "no candidate clips" in out.reason
