"""Ask an OpenAI-compatible chat API to choose and title highlight clips, within a budget.

One request to ``{base_url}/chat/completions``, guarded by a worst-case cost estimate before it
is sent, retried only when nothing was answered (connect errors, 429, 5xx), and bounded in
time. Any failure becomes an :class:`LlmOutcome` that says why, so the caller falls back to
the offline selection; tokens that were paid for are always in the outcome's costs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

from media.selection.candidates import ClipPlan
from media.selection.llm_ranking import LlmAnswerError, apply_picks, build_messages, read_answer
from tasks.costs import CostItem
from tasks.records import SelectionMethod

log = logging.getLogger(__name__)

ATTEMPTS = 3  # the first request and at most two retries
BACKOFF_S = 0.25  # first retry delay; doubled for each further retry
STAGE = "highlights"


@dataclass(frozen=True, slots=True)
class LlmOutcome:
    """What the ranking produced: the model's picks, or ``None`` and why the caller should use
    the offline selection. ``reason`` is "" when the answer was used as is."""

    picks: tuple[ClipPlan, ...] | None
    costs: tuple[CostItem, ...]
    method: SelectionMethod  # LLM, or OFFLINE when the caller should fall back
    reason: str


class _Failed(Exception):
    """A request that produced no usable response; the message is the fallback reason."""


def _estimate_tokens(text: str) -> int:
    """≈ 4 characters per token for English text: the usual rule of thumb for GPT tokenisers."""
    return math.ceil(len(text) / 4)


def _secret(creds: Any) -> str:
    key = creds.api_key
    return key.get_secret_value() if hasattr(key, "get_secret_value") else str(key)


def _redact(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


def _retry_after_s(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "0")))
    except ValueError:  # an HTTP date: use our own backoff
        return 0.0


def _post(
    client: httpx.Client, url: str, body: dict[str, Any], key: str, timeout_s: float
) -> dict[str, Any]:
    """POST with retries; the decoded JSON body of the first 2xx response.

    Each attempt gets ``timeout_s`` and all attempts with their backoff ``ATTEMPTS ×
    timeout_s``. httpx's timeouts are per operation, so the body is streamed and the deadline
    checked between chunks: a stalled read overruns it by at most one read timeout. A read
    timeout is not retried: the request may be running and billed, and a slow model is likely
    to be slow again.
    """
    started = time.monotonic()
    deadline = started + ATTEMPTS * timeout_s
    headers = {"Authorization": f"Bearer {key}"}
    last, tried, retry_after = "", 0, 0.0
    for attempt in range(ATTEMPTS):
        if attempt:
            delay = max(BACKOFF_S * 2 ** (attempt - 1), retry_after)
            if time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
        tried, retry_after = attempt + 1, 0.0
        attempt_end = min(time.monotonic() + timeout_s, deadline)
        try:
            with client.stream(
                "POST",
                url,
                json=body,
                headers=headers,
                timeout=max(0.01, attempt_end - time.monotonic()),
            ) as response:
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > attempt_end:
                        raise httpx.ReadTimeout("response body too slow")
                data = b"".join(chunks)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            last = f"cannot connect to {url} ({type(exc).__name__})"
            continue
        except httpx.TimeoutException as exc:
            raise _Failed(f"timed out after {timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise _Failed(f"{type(exc).__name__} from {url}: {_redact(str(exc), key)}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            last, retry_after = f"HTTP {status} from {url}", _retry_after_s(response)
            continue
        if status >= 400:
            snippet = _redact(data.decode("utf-8", "replace"), key)[:200]
            raise _Failed(f"HTTP {status} from {url}: {snippet}")
        try:
            decoded = json.loads(data)
        except ValueError as exc:
            raise _Failed(f"response is not JSON: {data[:80]!r}") from exc
        if not isinstance(decoded, dict):
            raise _Failed(f"response is not a JSON object: {data[:80]!r}")
        return decoded
    raise _Failed(f"{last} after {tried} attempt{'s' if tried > 1 else ''}")


def _content(response: dict[str, Any]) -> str:
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LlmAnswerError(f"response has no choices[0].message.content ({exc!r})") from exc
    if not isinstance(content, str):
        raise LlmAnswerError(f"message content is not text: {content!r:.80}")
    return content


def _usage_cost(
    response: dict[str, Any], prompt_est: int, completion_text: str, creds: Any
) -> tuple[CostItem, str]:
    """The request's cost item from the API's ``usage``; estimated (and said so) without it."""
    usage = response.get("usage")
    try:
        prompt = int(usage["prompt_tokens"])  # type: ignore[index]
        completion = int(usage["completion_tokens"])  # type: ignore[index]
        if prompt < 0 or completion < 0:
            raise ValueError(f"negative token counts {usage!r}")
        note = ""
    except (KeyError, TypeError, ValueError):
        prompt, completion = prompt_est, _estimate_tokens(completion_text)
        note = "the API reported no token usage; cost estimated from the text length"
    usd = round(creds.cost_usd(prompt, completion), 8)
    return CostItem(STAGE, "llm", prompt + completion, "tokens", usd), note


def _offline(reason: str, costs: list[CostItem]) -> LlmOutcome:
    log.warning("%s; using the offline selection", reason)
    return LlmOutcome(None, tuple(costs), SelectionMethod.OFFLINE, reason)


def rank_with_llm(
    shortlist: list[ClipPlan],
    max_clips: int,
    creds: Any,
    *,
    budget_usd: float,
    max_completion_tokens: int = 800,
) -> LlmOutcome:
    """Have the model choose and title up to ``max_clips`` of ``shortlist``.

    ``creds`` is an :class:`~blocks.prefect_blocks.LlmCredentials` block or any object with its
    attributes. ``budget_usd`` is what the job may still spend; the request is not sent when
    its worst case (prompt estimate + ``max_completion_tokens``) would exceed that or the
    block's ``max_usd_per_job``.
    """
    if not shortlist:
        return _offline("LLM ranking skipped: no candidate clips to rank", [])
    messages = build_messages(shortlist, max_clips)
    prompt_est = _estimate_tokens("".join(m["content"] for m in messages))
    worst_usd = creds.cost_usd(prompt_est, max_completion_tokens)
    cap_usd = min(budget_usd, creds.max_usd_per_job)
    if worst_usd > cap_usd:
        return _offline(
            f"LLM ranking skipped: estimated ${worst_usd:.4f} would exceed the remaining "
            f"budget ${cap_usd:.4f}",
            [],
        )
    url = f"{str(creds.base_url).rstrip('/')}/chat/completions"
    body = {
        "model": creds.model,
        "messages": messages,
        "temperature": 0,
        "max_tokens": max_completion_tokens,
        "response_format": {"type": "json_object"},
    }
    timeout_s = float(creds.timeout_s)
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            response = _post(client, url, body, _secret(creds), timeout_s)
    except _Failed as exc:
        return _offline(f"LLM ranking failed: {exc}", [])
    try:
        content = _content(response)
    except LlmAnswerError as exc:
        cost, _ = _usage_cost(response, prompt_est, "", creds)
        return _offline(f"LLM answer unusable: {exc}", [cost])
    cost, usage_note = _usage_cost(response, prompt_est, content, creds)
    try:
        picks, dropped = read_answer(content, shortlist, max_clips)
    except LlmAnswerError as exc:
        return _offline(f"LLM answer unusable: {exc}", [cost])
    notes = [usage_note] if usage_note else []
    if dropped:
        notes.append("dropped from the answer: " + "; ".join(dropped))
    chosen = tuple(apply_picks(picks, shortlist))
    return LlmOutcome(chosen, (cost,), SelectionMethod.LLM, "; ".join(notes))
