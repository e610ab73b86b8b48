"""Retry decisions follow the server; costs follow the price table."""

from __future__ import annotations

import time
from datetime import timedelta
from email.utils import formatdate

import anthropic
import pytest

from activities.agents.errors import classify, retry_after
from activities.agents.pricing import cost_usd, price_for
from contracts.agents import Usage
from simulators.messages_api import MessagesStandIn

HEADER = "Review x."
CALLER = {"user_id": "orchestrator:code-correctness:x:1:review"}


def test_retry_after_in_seconds_milliseconds_or_http_date() -> None:
    assert retry_after({"retry-after": "3"}) == timedelta(seconds=3)
    assert retry_after({"retry-after-ms": "250", "retry-after": "3"}) == timedelta(milliseconds=250)
    later = retry_after({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert later is not None and 28 <= later.total_seconds() <= 30
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_prices_match_model_families_and_settings_override_them() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_input_tokens=1_000_000)
    sonnet = price_for("claude-sonnet-4-5-20250929")
    assert cost_usd(usage, sonnet) == 3.0 + 1.5 + 0.3
    assert price_for("claude-haiku-4-5")["input"] == 1.0
    assert price_for("unknown-model") == price_for("default")
    custom = price_for("sim-model-1", {"sim-model-1": {"input": 1.0, "output": 2.0}})
    assert custom == {"input": 1.0, "output": 2.0, "cache_write": 1.25, "cache_read": 0.1}


@pytest.mark.parametrize(
    ("fault", "retryable", "status"),
    [
        ({"type": "sse_error"}, True, 200),
        ({"type": "sse_error", "error_type": "api_error"}, True, 200),
        ({"type": "sse_error", "error_type": "invalid_request_error"}, False, 200),
        ({"type": "429", "retry_after": 2}, True, 429),
        ({"type": "409"}, True, 409),
        ({"type": "403"}, False, 403),
        # The server's x-should-retry overrides the status, as in the SDK's own retries.
        ({"type": "400", "headers": {"x-should-retry": "true"}, "retry_after": 3}, True, 400),
        ({"type": "503", "headers": {"x-should-retry": "false"}}, False, 503),
        ({"type": "429", "headers": {"x-should-retry": "false"}, "retry_after": 9}, False, 429),
        ({"type": "404", "headers": {"x-should-retry": "maybe"}}, False, 404),
    ],
)
async def test_real_client_errors_are_classified(fault: dict, retryable: bool, status: int) -> None:
    """Errors as the real SDK raises them, from real HTTP (stream errors arrive with 200)."""
    with MessagesStandIn({"rules": [{"faults": [fault]}]}) as api:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=api.url, max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as info:
            async with client.messages.stream(
                model="sim-model-1",
                max_tokens=5,
                messages=[{"role": "user", "content": HEADER}],
                metadata=CALLER,  # type: ignore[arg-type]
            ) as stream:
                await stream.get_final_message()
        await client.close()
    assert info.value.status_code == status
    error = classify(info.value, "sim-model-1")
    assert error.non_retryable is not retryable
    if retryable and fault.get("retry_after"):
        assert error.next_retry_delay == timedelta(seconds=fault["retry_after"])
    if not retryable:
        assert error.next_retry_delay is None
        if status != 200:
            assert "Fix: " in error.message
    if fault.get("headers", {}).get("x-should-retry") == "false":
        assert "the server said not to retry" in error.message
    if status == 429 and not retryable:
        assert "rate or spend limit" in error.message
