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
from tests.agents.steps import post

HEADER = "Review the overview."
# The agent call a request belongs to, in the metadata the model never sees.
CALLER = {"user_id": "orchestrator:design-requirements:overview:1:review"}
LONG_SYSTEM = "You review design documents for gaps and contradictions. " * 80
TOOLS = [
    {"name": "read_file", "description": "read", "input_schema": {"type": "object"}},
    {"name": "submit_review", "description": "submit", "input_schema": {"type": "object"}},
]
REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_plain_requests_get_messages_with_tool_use_and_cached_usage() -> None:
    with MessagesStandIn() as api:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=api.url, max_retries=0)
        prompt = f"{HEADER}\n\nFocus files (read these first):\n- overview.md"
        kwargs = {
            "model": "sim-model-1",
            "max_tokens": 100,
            # Long enough to be cached: a prefix under 1024 tokens is not (see below).
            "system": [
                {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
            ],
            "tools": TOOLS,
            "metadata": CALLER,
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
        assert status == 400 and "without `tool_result` blocks" in error["error"]["message"]
        status, error = post(api.url, {"model": "m", "messages": []}, {"x-api-key": "k"})
        assert status == 400 and "max_tokens" in error["error"]["message"]


async def test_rate_limits_carry_retry_after_and_reach_the_client_as_such() -> None:
    scenario = {"rules": [{"faults": [{"type": 429, "retry_after": 7}]}]}
    with MessagesStandIn(scenario) as api:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=api.url, max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as info:
            await client.messages.create(
                model="m",
                max_tokens=5,
                messages=[{"role": "user", "content": HEADER}],
                metadata=CALLER,  # type: ignore[arg-type]
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
        body = {
            "model": "m",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": HEADER}],
            "metadata": CALLER,
        }
        status, message = post(url, body, {"x-api-key": "k"})
        assert status == 200 and message["content"][0]["input"]["score"] == 0.5
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _tool_use(tool_id: str) -> dict:
    return {"type": "tool_use", "id": tool_id, "name": "read_file", "input": {}}


def _result(tool_id: str) -> dict:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}


@pytest.mark.parametrize(
    ("messages", "said"),
    [
        (
            [{"role": "assistant", "content": "hi"}],
            "messages: first message must use the user role",
        ),
        (
            [{"role": "user", "content": HEADER}, {"role": "user", "content": "more"}],
            'roles must alternate between "user" and "assistant", but found multiple "user" '
            "roles in a row",
        ),
        (
            [
                {"role": "user", "content": HEADER},
                {"role": "assistant", "content": []},
                {"role": "user", "content": "go on"},
            ],
            "messages: all messages must have non-empty content except for the optional final "
            "assistant message",
        ),
        (
            [{"role": "user", "content": ""}],
            "messages: all messages must have non-empty content",
        ),
        (
            [
                {"role": "user", "content": HEADER},
                {"role": "assistant", "content": [{"type": "text", "text": " "}]},
                {"role": "user", "content": "go on"},
            ],
            "text content blocks must contain non-whitespace text",
        ),
        (
            [
                {"role": "user", "content": HEADER},
                {"role": "assistant", "content": [_tool_use("t1"), _tool_use("t2")]},
                {"role": "user", "content": [_result("t1")]},
            ],
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: t2. Each `tool_use` block must have a corresponding `tool_result` block in "
            "the next message.",
        ),
        (  # tool results must come first in their message
            [
                {"role": "user", "content": HEADER},
                {"role": "assistant", "content": [_tool_use("t1")]},
                {"role": "user", "content": [{"type": "text", "text": "note"}, _result("t1")]},
            ],
            "`tool_use` ids were found without `tool_result` blocks immediately after: t1",
        ),
        (
            [
                {"role": "user", "content": HEADER},
                {"role": "assistant", "content": [_tool_use("t1")]},
                {"role": "user", "content": [_result("t1"), _result("t9")]},
            ],
            "unexpected `tool_use_id` found in `tool_result` blocks: t9",
        ),
        (
            [
                {"role": "user", "content": HEADER},
                {"role": "assistant", "content": [{"type": "text", "text": "So far \n"}]},
            ],
            "final assistant content cannot end with trailing whitespace",
        ),
    ],
    ids=[
        "first-not-user",
        "not-alternating",
        "empty-assistant",
        "empty-user",
        "blank-text-block",
        "tool-use-unanswered",
        "tool-result-not-first",
        "stray-tool-result",
        "final-trailing-space",
    ],
)
def test_malformed_conversations_are_refused_with_the_apis_message(
    messages: list, said: str
) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": messages}
    with MessagesStandIn() as api:
        status, error = post(api.url, body, {"x-api-key": "k"})
    assert status == 400 and error["error"]["type"] == "invalid_request_error"
    assert said in error["error"]["message"]
    assert api.requests == []  # refused before the scripted model saw it


def test_what_the_api_accepts_is_accepted() -> None:
    """A final assistant message may be empty (or partial: the model continues it)."""
    with MessagesStandIn() as api:
        for final in ([], [{"type": "text", "text": "Working on it."}]):
            body = {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": HEADER},
                    {"role": "assistant", "content": [_tool_use("t1")]},
                    {"role": "user", "content": [_result("t1"), {"type": "text", "text": "go"}]},
                    {"role": "assistant", "content": final},
                ],
            }
            assert post(api.url, body, {"x-api-key": "k"})[0] == 200
        # A continued turn is the same turn.
        assert [r.turn for r in api.requests] == [2, 2]


def test_at_most_four_cache_breakpoints() -> None:
    marked = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": [marked, marked],
        "messages": [{"role": "user", "content": [{**marked, "text": HEADER}, marked, marked]}],
    }
    with MessagesStandIn() as api:
        status, error = post(api.url, body, {"x-api-key": "k"})
        assert status == 400
        assert error["error"]["message"] == (
            "A maximum of 4 blocks with cache_control may be provided. Found 5."
        )
        body["system"] = [marked]
        assert post(api.url, body, {"x-api-key": "k"})[0] == 200


async def test_misbehaviours_reach_the_real_client_as_the_api_sends_them() -> None:
    """Streamed, as the agents ask: a cut-off tool call keeps what its input had so far."""
    scenario = {
        "rules": [
            {
                "steps": [{"tool": "read_file", "input": {"path": "overview.md"}}],
                "faults": [{"type": "max_tokens"}, {"type": "refusal"}],
            }
        ]
    }
    with MessagesStandIn(scenario) as api:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=api.url, max_retries=0)
        ask = {"model": "m", "max_tokens": 50, "tools": TOOLS, "metadata": CALLER}
        messages = [{"role": "user", "content": HEADER}]
        async with client.messages.stream(messages=messages, **ask) as stream:
            cut = await stream.get_final_message()
        assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 50
        (call,) = cut.content
        assert call.name == "read_file" and call.input == {}  # `{"path": "ove` parses to {}
        refused = await client.messages.create(messages=messages, **ask)
        assert refused.stop_reason == "refusal" and refused.content == []
        await client.close()


def test_a_prompt_over_the_window_gets_the_apis_400() -> None:
    """As the API answers it: invalid_request_error, "prompt is too long: N tokens > M maximum"."""
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x" * 4000}],
        "metadata": CALLER,
    }
    with MessagesStandIn({"context_window": 500}) as api:
        status, error = post(api.url, body, {"x-api-key": "k"})
        assert status == 400 and error["error"]["type"] == "invalid_request_error"
        assert error["error"]["message"] == "prompt is too long: 1011 tokens > 500 maximum"
        assert api.refused == [error["error"]["message"]] and api.requests == []
        body["messages"] = [{"role": "user", "content": "x" * 1000}]
        assert post(api.url, body, {"x-api-key": "k"})[0] == 200


def test_metadata_holds_only_a_user_id() -> None:
    """Messages API reference: `metadata` has one field, `user_id`, a string."""
    with MessagesStandIn() as api:
        for metadata, said in (
            ({"role": "x"}, "metadata.role: Extra inputs are not permitted"),
            ({"user_id": 7}, "metadata.user_id: Input should be a valid string"),
        ):
            body = {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
                "metadata": metadata,
            }
            status, error = post(api.url, body, {"x-api-key": "k"})
            assert status == 400 and error["error"]["message"] == said


def test_a_breakpoint_under_the_minimum_cacheable_length_caches_nothing() -> None:
    """Prompt-caching guide: a shorter prefix is processed uncached, without an error."""
    marked = {"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": [marked],
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": CALLER,
    }
    with MessagesStandIn() as api:
        for _ in range(2):
            status, message = post(api.url, body, {"x-api-key": "k"})
            assert status == 200
            assert message["usage"]["cache_creation_input_tokens"] == 0
            assert message["usage"]["cache_read_input_tokens"] == 0


def test_chaos_misbehaves_on_about_one_answer_in_n_the_same_way_every_run() -> None:
    """Seeded by each request's place in its conversation, not by arrival order."""
    scenario = {"chaos": {"every": 4, "seed": 3}}

    def faults() -> list[str | None]:
        with MessagesStandIn(scenario) as api:
            for n in range(40):  # 40 conversations, each asked its first turn once
                body = {
                    "model": "m",
                    "max_tokens": 50,
                    "messages": [{"role": "user", "content": f"task {n}"}],
                    "metadata": CALLER,
                }
                req = urllib.request.Request(
                    f"{api.url}/v1/messages",
                    json.dumps(body).encode(),
                    {"content-type": "application/json", "x-api-key": "k"},
                )
                try:  # answered as the fault has it: JSON, an HTML page, an error status
                    urllib.request.urlopen(req, timeout=10).read()
                except urllib.error.HTTPError as exc:
                    exc.read()
            return [r.fault for r in api.requests]

    first = faults()
    assert first == faults()  # same seed, same mix
    assert 4 <= sum(f is not None for f in first) <= 20  # about one in four
    assert len({f for f in first if f}) >= 3  # of several kinds
    assert "refusal" not in first and "plain_json" not in first  # final by design: not mixed in
