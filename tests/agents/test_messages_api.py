"""The Messages API stand-in speaks the API's shape to the real anthropic client."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import anthropic
import pytest

from simulators.messages_api import MessagesStandIn

HEADER = "[orchestrator] role=design-requirements scope=overview round=1 kind=review"
TOOLS = [
    {"name": "read_file", "description": "read", "input_schema": {"type": "object"}},
    {"name": "submit_review", "description": "submit", "input_schema": {"type": "object"}},
]
REPO_ROOT = Path(__file__).resolve().parents[2]


def post(url: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{url}/v1/messages",
        json.dumps(body).encode(),
        {"content-type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_plain_requests_get_messages_with_tool_use_and_cached_usage() -> None:
    with MessagesStandIn() as api:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=api.url, max_retries=0)
        prompt = f"{HEADER}\n\nFocus files (read these first):\n- overview.md"
        kwargs = {
            "model": "sim-model-1",
            "max_tokens": 100,
            "system": [
                {"type": "text", "text": "You review.", "cache_control": {"type": "ephemeral"}}
            ],
            "tools": TOOLS,
        }
        first = await client.messages.create(
            messages=[{"role": "user", "content": prompt}], **kwargs
        )
        assert first.stop_reason == "tool_use"
        (call,) = first.content
        assert (call.type, call.name, call.input) == (
            "tool_use",
            "read_file",
            {"path": "overview.md"},
        )
        assert (
            first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
        )

        history = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": [c.model_dump() for c in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "# O"}],
            },
        ]
        second = await client.messages.create(messages=history, **kwargs)
        assert second.content[0].name == "submit_review"
        assert second.content[0].input["score"] == 0.85
        assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
        assert [(r.turn, r.action, r.stream) for r in api.requests] == [
            (1, "read_file", False),
            (2, "submit_review", False),
        ]
        assert api.requests[1].tool_results == [
            {"tool_use_id": call.id, "content": "# O", "is_error": False}
        ]
        await client.close()


def test_auth_by_header_or_bearer_and_401_without() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": HEADER}]}
    with MessagesStandIn() as api:
        assert post(api.url, body, {"x-api-key": "k"})[0] == 200
        assert post(api.url, body, {"authorization": "Bearer k"})[0] == 200
        status, error = post(api.url, body, {})
        assert status == 401 and error["error"]["type"] == "authentication_error"


def test_requests_the_real_api_would_refuse_are_refused() -> None:
    with MessagesStandIn() as api:
        missing_result = {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": HEADER},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
                },
                {"role": "user", "content": "go on"},
            ],
        }
        status, error = post(api.url, missing_result, {"x-api-key": "k"})
        assert status == 400 and "without tool_result" in error["error"]["message"]
        status, error = post(api.url, {"model": "m", "messages": []}, {"x-api-key": "k"})
        assert status == 400 and "max_tokens" in error["error"]["message"]


async def test_rate_limits_carry_retry_after_and_reach_the_client_as_such() -> None:
    scenario = {"rules": [{"faults": [{"type": 429, "retry_after": 7}]}]}
    with MessagesStandIn(scenario) as api:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=api.url, max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as info:
            await client.messages.create(
                model="m", max_tokens=5, messages=[{"role": "user", "content": HEADER}]
            )
        assert info.value.response.headers["retry-after"] == "7"
        assert info.value.type == "rate_limit_error"
        await client.close()


def test_the_command_line_serves_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "rules:\n  - match: {kind: review}\n    steps: []\n    submit: {score: 0.5}\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.messages_api",
            "--port",
            "0",
            "--scenario",
            str(scenario),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ")[1].split()[0]
        body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": HEADER}]}
        status, message = post(url, body, {"x-api-key": "k"})
        assert status == 200 and message["content"][0]["input"]["score"] == 0.5
    finally:
        proc.terminate()
        proc.wait(timeout=10)
